//! The command line: clap parses flags into plain structs, each command turns them into a
//! validated scenario and calls the library.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};

use crate::report::export::{Csv, Exporter, Html, Json, SweepResult, Table};
use crate::report::results::{self, Destination, ResultFile};
use crate::report::sweep::SweepWriter;
use crate::scenario::{self, Overrides, Scenario};

/// fleetsim: size fleets of LLM inference servers by discrete-event simulation.
#[derive(Debug, Parser)]
#[command(name = "fleetsim", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Simulate a scenario, print a summary table and write a results folder.
    Run(RunArgs),
    /// Find the fewest servers meeting every `[slo]` target (bracketing, then bisection).
    Plan(PlanArgs),
    /// Reproduce the 2023 reports' estimates from their own inputs; with a scenario, apply
    /// the R1 formula to it.
    Estimate(EstimateArgs),
    /// Print the LLM timing model beside public A100 measurements.
    Calibrate(CalibrateArgs),
    /// Statistics of a request trace: count, rate, burstiness, token percentiles, and the
    /// prefix-cache hit fraction where the trace has block hashes.
    TraceStats(TraceStatsArgs),
    /// Serve a JSON API and a what-if page over HTTP (loopback by default).
    #[cfg(feature = "serve")]
    Serve(ServeArgs),
    /// Run a scenario over a grid of key values (`--vary`), in parallel or as one shard of a
    /// batch job; writes sweep.csv and sweep.json.
    Sweep(SweepArgs),
    /// Join sweep shard files into sweep.csv and sweep.json, byte-identical to an unsharded
    /// sweep.
    Merge(MergeArgs),
}

/// `fleetsim serve` flags.
#[cfg(feature = "serve")]
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on. Loopback by default; any other address is used only when given
    /// here, with a warning (the service has no authentication).
    #[arg(long, default_value = crate::http::DEFAULT_LISTEN)]
    pub listen: std::net::SocketAddr,
    /// Simulations running at once (default: the number of cores).
    #[arg(long)]
    pub max_concurrent: Option<usize>,
    /// Calls waiting for a free simulation slot before 429 (default: --max-concurrent).
    #[arg(long)]
    pub max_waiting: Option<usize>,
    /// Most simulated requests per call (rate x duration x replications).
    #[arg(long, default_value_t = crate::http::DEFAULT_MAX_REQUESTS)]
    pub max_requests: u64,
    /// Wall-time limit of one call in seconds (waiting included); 504 past it.
    #[arg(long, default_value_t = crate::http::DEFAULT_TIMEOUT_S)]
    pub timeout_s: f64,
    /// Folder trace files may be read from (default: scenarios may not name files).
    #[arg(long)]
    pub allowed_traces: Option<PathBuf>,
    /// Folder of named scenarios.
    #[arg(long, default_value = "workloads")]
    pub workloads: PathBuf,
    /// Largest request body in bytes; 413 beyond.
    #[arg(long, default_value_t = crate::http::DEFAULT_MAX_BODY_BYTES)]
    pub max_body_bytes: usize,
    /// Connections open at once (keep it under the file-descriptor limit).
    #[arg(long, default_value_t = crate::http::DEFAULT_MAX_CONNECTIONS)]
    pub max_connections: usize,
}

/// `fleetsim trace-stats` flags.
#[derive(Debug, Args)]
pub struct TraceStatsArgs {
    /// The trace file.
    pub trace: PathBuf,
    /// Its format: azure-2023, mooncake or servegen (default: guessed from the file name).
    #[arg(long)]
    pub format: Option<String>,
    /// Prefix-cache capacity in 512-token blocks (default: unlimited).
    #[arg(long)]
    pub prefix_cache_blocks: Option<u64>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// `fleetsim estimate` flags.
#[derive(Debug, Args)]
pub struct EstimateArgs {
    /// A scenario to price with the R1 formula (default: every report's estimates).
    pub scenario: Option<PathBuf>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// `fleetsim calibrate` flags.
#[derive(Debug, Args)]
pub struct CalibrateArgs {
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Also write every calibration point as CSV to this file.
    #[arg(long, value_name = "FILE")]
    pub csv: Option<PathBuf>,
    /// Run every point under this stack instead of its own engine's (what-if: e.g. `vllm`).
    #[arg(long, value_name = "PRESET")]
    pub stack: Option<String>,
}

/// Flags that change a scenario before it runs.
#[derive(Debug, Args, Clone)]
pub struct ScenarioArgs {
    /// The scenario file (TOML), e.g. workloads/validation/mmc.toml.
    pub scenario: PathBuf,
    /// Number of servers (sets servers.count).
    #[arg(long)]
    pub servers: Option<u32>,
    /// Master seed (sets run.seed), 0 to 2^63-1.
    #[arg(long, value_parser = clap::value_parser!(u64).range(..=scenario::limits::MAX_SEED))]
    pub seed: Option<u64>,
    /// Simulated seconds (sets traffic.duration_s).
    #[arg(long)]
    pub duration_s: Option<f64>,
    /// Independent replications (sets run.replications).
    #[arg(long)]
    pub replications: Option<u32>,
    /// Any key, as dotted.key=value (TOML value), e.g. --set cache.hit_rate=0.3; repeatable.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
}

impl ScenarioArgs {
    /// Loads the scenario with the flags applied (flags first, then `--set`s in order).
    pub fn load(&self) -> Result<Scenario, scenario::ScenarioError> {
        scenario::load(&self.scenario, &self.overrides())
    }
}

fn format_float(x: f64) -> String {
    // TOML needs a decimal point or exponent for a float.
    let s = format!("{x:?}");
    if s.contains(['.', 'e', 'E']) || !x.is_finite() {
        s
    } else {
        format!("{s}.0")
    }
}

/// Output flags shared by `run`, `plan` and `sweep`.
#[derive(Debug, Args)]
pub struct OutputArgs {
    /// Write results into exactly this folder (created; refused if it exists and is not empty).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Root of numbered results folders (`results/<scenario>/run-NNNN`, `sweep-NNNN`).
    #[arg(long, default_value = "results")]
    pub results_dir: PathBuf,
    /// Print the JSON document (summary.json, plan.json, sweep.json or the shard file) to
    /// stdout instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Worker threads (default: all cores). Results do not depend on it.
    #[arg(long)]
    pub threads: Option<usize>,
}

/// `fleetsim run` flags.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The scenario and overrides.
    #[command(flatten)]
    pub scenario: ScenarioArgs,
    /// Where results go, and how they print.
    #[command(flatten)]
    pub output: OutputArgs,
    /// Also write requests.csv: one row per measured request (arrival, queue wait, TTFT, TPOT,
    /// e2e, tokens, replica, cache hit), streamed to disk during the run; ~76 MB per million
    /// requests.
    #[arg(long)]
    pub requests_csv: bool,
}

/// `fleetsim plan` flags.
#[derive(Debug, Args)]
pub struct PlanArgs {
    /// The scenario and overrides (`--servers` sets where the search starts).
    #[command(flatten)]
    pub scenario: ScenarioArgs,
    /// Upper bound of the search; planning fails if this many servers miss a target.
    #[arg(long, default_value_t = crate::drivers::plan::DEFAULT_MAX_SERVERS)]
    pub servers_max: u32,
    /// Where results go, and how they print.
    #[command(flatten)]
    pub output: OutputArgs,
}

/// An error the user can fix by changing the command line (exit code 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// Runs the parsed command.
pub fn execute(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Run(args) => cmd_run(args),
        Command::Plan(args) => cmd_plan(args),
        Command::Estimate(args) => cmd_estimate(args),
        Command::Calibrate(args) => cmd_calibrate(args),
        Command::TraceStats(args) => cmd_trace_stats(args),
        #[cfg(feature = "serve")]
        Command::Serve(args) => cmd_serve(args),
        Command::Sweep(args) => cmd_sweep(args),
        Command::Merge(args) => cmd_merge(args),
    }
}

#[cfg(feature = "serve")]
fn cmd_serve(args: ServeArgs) -> Result<()> {
    let defaults = crate::http::ServeConfig::default();
    if !(args.timeout_s.is_finite() && args.timeout_s > 0.0) {
        return Err(UsageError(format!(
            "--timeout-s {}: must be a positive number of seconds",
            args.timeout_s
        ))
        .into());
    }
    if args.max_connections == 0 {
        return Err(UsageError("--max-connections 0: must be at least 1".into()).into());
    }
    if args.max_concurrent == Some(0) {
        return Err(UsageError("--max-concurrent 0: must be at least 1".into()).into());
    }
    let max_concurrent = args.max_concurrent.unwrap_or(defaults.max_concurrent);
    let config = crate::http::ServeConfig {
        max_concurrent,
        max_waiting: args.max_waiting.unwrap_or(max_concurrent),
        max_requests: args.max_requests,
        timeout: std::time::Duration::from_secs_f64(args.timeout_s),
        allowed_traces: args.allowed_traces,
        workloads: args.workloads,
        max_body_bytes: args.max_body_bytes,
        max_connections: args.max_connections,
        ..defaults
    };
    crate::http::serve(args.listen, config)
}

fn cmd_trace_stats(args: TraceStatsArgs) -> Result<()> {
    use crate::trace::{TraceFormat, read_trace, trace_stats};
    let name = args.trace.to_string_lossy().to_lowercase();
    let format = match args.format.as_deref() {
        Some("azure-2023") => Some(TraceFormat::Azure2023),
        Some("mooncake") => Some(TraceFormat::Mooncake),
        Some("servegen") => None,
        Some(other) => {
            return Err(UsageError(format!(
                "--format {other:?}: allowed values are azure-2023, mooncake, servegen"
            ))
            .into());
        }
        None if name.contains("servegen") => None,
        None if name.contains("mooncake") || name.ends_with(".jsonl") => {
            Some(TraceFormat::Mooncake)
        }
        None => Some(TraceFormat::Azure2023),
    };
    let mut stdout = std::io::stdout().lock();
    let Some(format) = format else {
        let stats = crate::trace::servegen_stats(&args.trace).map_err(UsageError)?;
        if args.json {
            writeln!(stdout, "{}", serde_json::to_string_pretty(&stats)?)?;
        } else {
            write!(stdout, "{}", crate::trace::render_servegen_text(&stats))?;
        }
        return Ok(());
    };
    let records = read_trace(&args.trace, &format).map_err(|e| UsageError(e.to_string()))?;
    let stats = trace_stats(&records);
    let mut v = serde_json::to_value(&stats)?;
    let mut hit = None;
    if records.iter().any(|r| !r.hash_ids.is_empty()) {
        let replay = crate::cache::prefix::replay_prefix_cache(
            &records,
            args.prefix_cache_blocks,
            crate::cache::prefix::DEFAULT_BLOCK_TOKENS,
        );
        hit = Some(replay.token_hit_fraction);
        if let serde_json::Value::Object(m) = &mut v {
            m.insert(
                "prefix_hit_fraction".into(),
                serde_json::json!(replay.token_hit_fraction),
            );
            m.insert(
                "prefix_cache_blocks".into(),
                serde_json::json!(args.prefix_cache_blocks),
            );
        }
    }
    if args.json {
        writeln!(stdout, "{}", serde_json::to_string_pretty(&v)?)?;
    } else {
        write!(
            stdout,
            "{}: {}",
            args.trace.display(),
            crate::trace::render_trace_stats_text(&stats, hit)
        )?;
    }
    Ok(())
}

fn cmd_estimate(args: EstimateArgs) -> Result<()> {
    use crate::cost;
    let estimates = match &args.scenario {
        None => cost::all_estimates(),
        Some(path) => {
            let s = scenario::load(path, &Overrides::default())?;
            let e = cost::estimate_for_scenario(&s)
                .ok_or_else(|| UsageError(cost::not_llm_message(&path.display().to_string())))?;
            vec![e]
        }
    };
    let mut stdout = std::io::stdout().lock();
    if args.json {
        writeln!(stdout, "{}", cost::render_estimates_json(&estimates))?;
    } else {
        writeln!(stdout, "{}", cost::render_estimates_text(&estimates))?;
    }
    Ok(())
}

fn cmd_calibrate(args: CalibrateArgs) -> Result<()> {
    let rows = match &args.stack {
        None => crate::timing::calibrate_default(),
        Some(name) => {
            let stack = crate::timing::stack_preset(name).ok_or_else(|| {
                UsageError(format!(
                    "--stack: unknown stack {name:?}; allowed: {}",
                    crate::timing::STACK_PRESETS.join(", ")
                ))
            })?;
            crate::timing::calibrate_table(&|p| {
                let mut d = crate::timing::calibration::default_deployment(p)?;
                d.stack = Some(stack.clone());
                Ok(d)
            })?
        }
    };
    if let Some(path) = &args.csv {
        let csv = crate::timing::calibration::calibration_csv(&rows)?;
        let tmp = path.with_extension("csv.tmp");
        std::fs::write(&tmp, csv)
            .and_then(|()| std::fs::rename(&tmp, path))
            .map_err(|e| UsageError(format!("--csv {}: cannot write it: {e}", path.display())))?;
    }
    let mut stdout = std::io::stdout().lock();
    if args.json {
        writeln!(stdout, "{}", serde_json::to_string_pretty(&rows)?)?;
    } else {
        writeln!(stdout, "{}", crate::timing::render_calibration_text(&rows))?;
    }
    Ok(())
}

/// A progress bar on stderr when stderr is a terminal, hidden otherwise (pipes, files, CI).
/// `len = None` gives a spinner with the elapsed time; `unit` names what is counted.
fn progress_bar(len: Option<u64>, unit: &str) -> indicatif::ProgressBar {
    use std::io::IsTerminal;
    if !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let (bar, template) = match len {
        Some(n) => (
            indicatif::ProgressBar::new(n),
            format!("{{elapsed_precise}} [{{bar:40}}] {{pos}}/{{len}} {unit} {{spinner}}"),
        ),
        None => (
            indicatif::ProgressBar::new_spinner(),
            format!("{{elapsed_precise}} {{spinner}} {unit}"),
        ),
    };
    if let Ok(style) = indicatif::ProgressStyle::with_template(&template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    bar
}

fn cmd_run(args: RunArgs) -> Result<()> {
    check_threads(args.output.threads)?;
    let scenario = args.scenario.load()?;
    let dest = destination(&args.output, &scenario.name, "run");
    results::check_writable(&dest).map_err(UsageError)?;
    let bar = progress_bar(Some(u64::from(scenario.run.replications)), "replications");
    // `--requests-csv`: replications stream their rows into a staging folder beside the
    // results, joined in replication order into the results folder after the run.
    let staging = if args.requests_csv {
        let base = match &args.output.out {
            Some(out) => match out.parent() {
                Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
                _ => PathBuf::from("."),
            },
            None => args.output.results_dir.join(&scenario.name),
        };
        let dir = base.join(format!(".requests-staging-{}", std::process::id()));
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("creating {} for --requests-csv", dir.display()))?;
        Some(dir)
    } else {
        None
    };
    let ctl = match &staging {
        Some(dir) => crate::fleet::RunControl::with_request_log(dir.clone()),
        None => crate::fleet::RunControl::new(),
    };
    let finished = std::sync::atomic::AtomicBool::new(false);
    let output = std::thread::scope(|scope| {
        if !bar.is_hidden() {
            scope.spawn(|| {
                while !finished.load(std::sync::atomic::Ordering::Relaxed) {
                    bar.set_position(u64::from(ctl.replications_done()));
                    std::thread::sleep(std::time::Duration::from_millis(100));
                }
            });
        }
        let out = crate::drivers::run::run_with(&scenario, args.output.threads, &ctl);
        finished.store(true, std::sync::atomic::Ordering::Relaxed);
        out
    });
    bar.finish_and_clear();
    let files = [
        file("summary.json", Json.serialize(&output)?),
        file("summary.csv", Csv.serialize(&output)?),
        ResultFile::text("scenario.resolved.toml", scenario.to_resolved_toml()),
        file("report.html", Html.serialize(&output)?),
    ];
    if let (Some(dir), Some(e)) = (&staging, ctl.request_log_error()) {
        let _ = std::fs::remove_dir_all(dir);
        anyhow::bail!("--requests-csv: {e}");
    }
    let folder = results::write_atomically(dest, &files)?;
    let mut notes = Vec::new();
    if let Some(dir) = &staging {
        let partial = folder.join(".requests.csv.partial");
        let bytes = crate::metrics::request_log::join_request_logs(
            dir,
            scenario.run.replications,
            &partial,
        )
        .with_context(|| format!("joining the request rows of {}", dir.display()))?;
        std::fs::rename(&partial, folder.join("requests.csv"))?;
        std::fs::remove_dir_all(dir)?;
        notes.push(format!("requests.csv: {:.1} MB", bytes as f64 / 1e6));
    }
    let table = Table.serialize(&output)?;
    print_result(args.output.json, &files[0].bytes, &table, &folder, &notes)
}

/// A results file from an exporter's bytes.
fn file(name: &str, bytes: Vec<u8>) -> ResultFile {
    ResultFile {
        name: name.into(),
        bytes,
    }
}

/// Prints what a command produced once its results are written: the JSON `document` with
/// `--json`; else the `table`, `results: <results_at>` and any `notes`, one per line.
fn print_result(
    json: bool,
    document: &[u8],
    table: &[u8],
    results_at: &std::path::Path,
    notes: &[String],
) -> Result<()> {
    let mut stdout = std::io::stdout().lock();
    if json {
        stdout.write_all(document)?;
    } else {
        stdout.write_all(table)?;
        writeln!(stdout, "results: {}", results_at.display())?;
        for n in notes {
            writeln!(stdout, "{n}")?;
        }
    }
    Ok(())
}

/// Refuses `--threads` outside 1..=[`scenario::limits::MAX_THREADS`] (thousands of threads
/// on a few cores only slow a run down, and can exhaust the process's threads).
fn check_threads(threads: Option<usize>) -> Result<(), UsageError> {
    let most = scenario::limits::MAX_THREADS;
    match threads {
        Some(n) if n == 0 || n > most => Err(UsageError(format!(
            "--threads {n}: must be between 1 and {most} (results do not depend on it; the \
             default is one per core)"
        ))),
        _ => Ok(()),
    }
}

/// Where `run` or `plan` writes: exactly `--out`, else a numbered `<prefix>-NNNN` folder.
fn destination<'a>(output: &'a OutputArgs, scenario: &'a str, prefix: &'a str) -> Destination<'a> {
    match &output.out {
        Some(out) => Destination::Exact(out),
        None => Destination::NumberedAs {
            root: &output.results_dir,
            scenario,
            prefix,
        },
    }
}

fn cmd_plan(args: PlanArgs) -> Result<()> {
    let most = scenario::limits::MAX_SERVERS;
    if args.servers_max == 0 || args.servers_max > most {
        return Err(UsageError(format!(
            "--servers-max {}: must be between 1 and {most}",
            args.servers_max
        ))
        .into());
    }
    check_threads(args.output.threads)?;
    let scenario = args.scenario.load()?;
    let dest = destination(&args.output, &scenario.name, "run");
    results::check_writable(&dest).map_err(UsageError)?;
    let bar = progress_bar(None, "planning: simulating server counts");
    let outcome =
        crate::drivers::plan::plan_bounded(&scenario, args.output.threads, args.servers_max);
    bar.finish_and_clear();
    let outcome =
        outcome.map_err(|e| UsageError(format!("{}: {e}", args.scenario.scenario.display())))?;
    let mut resolved = scenario.clone();
    resolved.servers.count = outcome.servers;
    if let Some(d) = &outcome.disaggregated {
        // Issue 17: the chosen pools.
        resolved.set_pool_counts(d.prefill_servers, d.decode_servers);
    }
    // Replications plan chose, so `fleetsim run` on the file reproduces the chosen summary.
    resolved.run.replications = outcome.replications;
    let files = [
        file("plan.json", Json.serialize(&outcome)?),
        file("report.html", Html.serialize(&outcome)?),
        ResultFile::text("scenario.resolved.toml", resolved.to_resolved_toml()),
    ];
    let folder = results::write_atomically(dest, &files)?;
    let table = Table.serialize(&outcome)?;
    print_result(args.output.json, &files[0].bytes, &table, &folder, &[])
}

/// The exit code for an error: 2 for anything the user can fix in the input, 1 otherwise.
pub fn exit_code(err: &anyhow::Error) -> i32 {
    if err.downcast_ref::<scenario::ScenarioError>().is_some()
        || err.downcast_ref::<UsageError>().is_some()
    {
        2
    } else {
        1
    }
}

/// `fleetsim sweep` flags.
#[derive(Debug, Args)]
pub struct SweepArgs {
    /// The base scenario and its overrides (applied before each point's values).
    #[command(flatten)]
    pub scenario: ScenarioArgs,
    /// One grid axis: KEY=a..b:step (inclusive range), or KEY=v1,v2,... (numbers, true/false
    /// or strings); repeatable, the first flag varies slowest.
    #[arg(long = "vary", value_name = "KEY=VALUES", required = true)]
    pub vary: Vec<String>,
    /// Run only shard i of n (1-based): grid points with index % n == i - 1. Default: from
    /// SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_COUNT in a Slurm job array, else the whole grid.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<String>,
    /// Where results go, and how they print.
    #[command(flatten)]
    pub output: OutputArgs,
}

/// `fleetsim merge` flags.
#[derive(Debug, Args)]
pub struct MergeArgs {
    /// Shard files, or folders holding shard-*.json files.
    #[arg(required = true)]
    pub shards: Vec<PathBuf>,
    /// Write the merged sweep into exactly this folder (created; refused if not empty).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Root of numbered results folders (`results/<scenario>/sweep-NNNN`).
    #[arg(long, default_value = "results")]
    pub results_dir: PathBuf,
    /// Print sweep.json to stdout instead of the table.
    #[arg(long)]
    pub json: bool,
}

impl ScenarioArgs {
    /// The flags as `key=value` overrides, in the order [`ScenarioArgs::load`] applies them.
    pub fn overrides(&self) -> Overrides {
        let mut o = Overrides::default();
        if let Some(n) = self.servers {
            o.push("servers.count", n);
        }
        if let Some(s) = self.seed {
            o.push("run.seed", s);
        }
        if let Some(d) = self.duration_s {
            o.push("traffic.duration_s", format_float(d));
        }
        if let Some(r) = self.replications {
            o.push("run.replications", r);
        }
        o.set.extend(self.set.iter().cloned());
        o
    }
}

fn usage(e: crate::drivers::sweep::SweepError) -> anyhow::Error {
    UsageError(e.to_string()).into()
}

/// Refuses `--out` when it exists and is not empty, before any long work.
fn check_out_free(out: Option<&PathBuf>) -> Result<()> {
    if let Some(out) = out
        && out.exists()
        && std::fs::read_dir(out)
            .map(|mut d| d.next().is_some())
            .unwrap_or(true)
    {
        return Err(UsageError(format!(
            "--out {}: the folder exists and is not empty; results are never overwritten",
            out.display()
        ))
        .into());
    }
    Ok(())
}

/// `grid.json`: the grid definition, pretty-printed.
fn grid_json(grid: &crate::report::outcome::Grid) -> Result<ResultFile> {
    let mut text = serde_json::to_string_pretty(grid)?;
    text.push('\n');
    Ok(ResultFile::text("grid.json", text))
}

/// Writes `sweep.csv`, `sweep.json`, `grid.json` and `report.html` for a whole grid, and
/// prints them.
fn write_sweep(
    grid: &crate::report::outcome::Grid,
    rows: &[serde_json::Map<String, serde_json::Value>],
    out: Option<&PathBuf>,
    results_dir: &std::path::Path,
    json: bool,
) -> Result<()> {
    let result = SweepResult { grid, rows };
    let files = [
        file("sweep.csv", Csv.serialize(&result)?),
        file("sweep.json", Json.serialize(&result)?),
        grid_json(grid)?,
        file("report.html", Html.serialize(&result)?),
    ];
    let dest = match out {
        Some(out) => Destination::Exact(out),
        None => Destination::NumberedAs {
            root: results_dir,
            scenario: &grid.scenario,
            prefix: "sweep",
        },
    };
    let folder = results::write_atomically(dest, &files)?;
    let table = Table.serialize(&result)?;
    print_result(json, &files[1].bytes, &table, &folder, &[])
}

fn cmd_sweep(args: SweepArgs) -> Result<()> {
    use crate::drivers::sweep::{self, Shard, ShardFile};
    use crate::report::outcome::Grid;
    use std::io::IsTerminal;
    let axes = args
        .vary
        .iter()
        .map(|v| sweep::parse_vary(v))
        .collect::<Result<Vec<_>, _>>()
        .map_err(usage)?;
    let shard = match &args.shard {
        Some(spec) => Some(Shard::parse(spec).map_err(usage)?),
        None => Shard::from_slurm(|k| std::env::var(k).ok()).map_err(usage)?,
    };
    check_out_free(args.output.out.as_ref())?;
    check_threads(args.output.threads)?;
    let grid =
        Grid::new(&args.scenario.scenario, args.scenario.overrides().set, axes).map_err(usage)?;
    results::check_writable(&destination(&args.output, &grid.scenario, "sweep"))
        .map_err(UsageError)?;
    let points: Vec<usize> = (0..grid.len())
        .filter(|&i| shard.is_none_or(|s| s.owns(i)))
        .collect();
    let bar = if std::io::stderr().is_terminal() {
        let bar = indicatif::ProgressBar::new(points.len() as u64);
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "{elapsed_precise} [{bar:40}] {pos}/{len} points, eta {eta}",
        ) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar
    } else {
        indicatif::ProgressBar::hidden()
    };
    // Every point validates before any runs.
    sweep::validate_points(&args.scenario.scenario, &grid, &points).map_err(usage)?;
    match shard {
        None | Some(Shard { count: 1, .. }) => {
            // Rows stream to disk as points finish: memory stays flat for any grid size.
            let dest = destination(&args.output, &grid.scenario, "sweep");
            let mut shown = Vec::new();
            let folder = results::write_atomically_with(dest, |dir| {
                let mut writer = SweepWriter::new(dir)?;
                sweep::run_points_streaming(
                    &args.scenario.scenario,
                    &grid,
                    &points,
                    args.output.threads,
                    &|| bar.inc(1),
                    &mut |r| writer.push(r),
                )?;
                bar.finish_and_clear();
                shown = writer.finish(&grid)?;
                let shown = SweepResult {
                    grid: &grid,
                    rows: &shown,
                };
                let files = [
                    grid_json(&grid)?,
                    file("report.html", Html.serialize(&shown)?),
                ];
                for f in files {
                    std::fs::write(dir.join(&f.name), f.bytes)
                        .with_context(|| format!("writing {}", f.name))?;
                }
                Ok(())
            })?;
            let document = if args.output.json {
                std::fs::read(folder.join("sweep.json"))?
            } else {
                Vec::new()
            };
            let mut table = Table.serialize(&SweepResult {
                grid: &grid,
                rows: &shown,
            })?;
            if shown.len() < points.len() {
                table.extend(
                    format!(
                        "(the first {} of {} points; sweep.csv has them all)\n",
                        shown.len(),
                        points.len()
                    )
                    .into_bytes(),
                );
            }
            print_result(args.output.json, &document, &table, &folder, &[])
        }
        Some(shard) => {
            let rows = sweep::run_points(
                &args.scenario.scenario,
                &grid,
                &points,
                args.output.threads,
                &|| bar.inc(1),
            )
            .map_err(usage)?;
            bar.finish_and_clear();
            let file = ShardFile {
                format: sweep::SHARD_FORMAT.into(),
                points: grid.len(),
                grid,
                shard,
                rows,
            };
            let text = file.to_json();
            let files = [ResultFile::text(&shard.file_name(), text.clone())];
            let dest = match &args.output.out {
                Some(out) => Destination::Exact(out),
                None => Destination::NumberedAs {
                    root: &args.output.results_dir,
                    scenario: &file.grid.scenario,
                    prefix: "sweep",
                },
            };
            let folder = results::write_atomically(dest, &files)?;
            let table = format!(
                "shard {}/{}: {} of {} points\n",
                shard.index,
                shard.count,
                file.rows.len(),
                file.points
            );
            let at = folder.join(shard.file_name());
            print_result(
                args.output.json,
                text.as_bytes(),
                table.as_bytes(),
                &at,
                &[],
            )
        }
    }
}

fn cmd_merge(args: MergeArgs) -> Result<()> {
    check_out_free(args.out.as_ref())?;
    let shards = crate::drivers::sweep::read_shards(&args.shards).map_err(usage)?;
    let (grid, rows) = crate::drivers::sweep::merge(&shards).map_err(usage)?;
    write_sweep(
        &grid,
        &rows,
        args.out.as_ref(),
        &args.results_dir,
        args.json,
    )
}
