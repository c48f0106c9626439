//! Scenario files: the raw TOML a user writes, overrides from the command line, and the
//! validated [`Scenario`] with every default filled in.
//!
//! Flow: text -> [`raw::RawScenario`] (serde, `deny_unknown_fields`, so toml names the line of
//! an unknown key or a wrong type) -> overrides applied to the TOML table -> [`validate`] ->
//! [`Scenario`]. A `Scenario` serialises back to the same schema (`scenario.resolved.toml`), so
//! a run can be reproduced from its results folder alone.
//!
//! The scenario is the first stage of the pipeline: it owns every configuration type it
//! validates (the batching mode, the day profile, the autoscaler's settings, the price and
//! TCO presets) and imports nothing from the stages after it, only [`crate::timing`] (GPU
//! and model presets) and [`crate::trace`] (trace files).
//!
//! One module per section, each with its `validate_*`: [`traffic`] (`[traffic]`, with the
//! day [`profile`]), [`servers`] (`[servers]`), [`model`] (`[model]`, `[request]`),
//! [`cache`] (`[cache]`), [`cost`] (`[cost]`, with [`prices`] and [`tco`]), [`autoscale`]
//! (`[autoscale]`); `[run]`, `[router]` and `[slo]` are small and validated here. Every
//! error is made by one helper, [`check::Check`].

pub mod autoscale;
pub mod cache;
pub mod check;
pub mod cost;
pub mod disagg;
pub mod dist;
pub mod error;
pub mod files;
pub mod limits;
pub mod model;
pub mod prices;
pub mod profile;
pub mod raw;
pub mod servers;
pub mod shards;
pub mod slo;
pub mod tco;
pub mod traffic;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::timing::Model;
pub use autoscale::{AutoscaleSpec, AutoscalerConfig};
pub use cache::{CacheSpec, DEFAULT_HIT_LATENCY_S};
use check::Check;
pub use cost::{CostSpec, DEFAULT_CLOUD_PRESET};
pub use dist::{Dist, DistSpec};
pub use error::ScenarioError;
pub use files::{FileAccess, FileRead};
pub use model::RequestSpec;
pub use profile::DailyProfile;
use raw::RawScenario;
pub use servers::{Batching, LlmServerSpec, ServerKind, ServersSpec};
pub use slo::{LatencyStat, Metric, SLO_METRICS, SLO_STATS, SloTarget};
pub use tco::TcoInputs;
pub use traffic::{ArrivalKind, ArrivalProcess, DEFAULT_WARMUP_FRACTION, TraceSpec, TrafficSpec};

/// A validated scenario: every key present, every value in range.
/// Serialises to the input schema (`scenario.resolved.toml`); it is read back through
/// [`parse`], like any scenario file.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Scenario {
    /// Name used for the results folder and in every summary (defaults to the file stem).
    pub name: String,
    /// Free text shown in reports.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Seed, replications and safety limits.
    pub run: RunSpec,
    /// The request stream.
    pub traffic: TrafficSpec,
    /// The server pool.
    pub servers: ServersSpec,
    /// How requests are spread over servers.
    pub router: RouterSpec,
    /// The response cache in front of the fleet.
    pub cache: CacheSpec,
    /// The LLM served (`kind = "llm"` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<Model>,
    /// Token counts per request (`kind = "llm"` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<RequestSpec>,
    /// Prices and the formula's assumed rates.
    pub cost: CostSpec,
    /// Autoscaling of an LLM fleet (`servers.count` is then the starting size).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub autoscale: Option<AutoscaleSpec>,
    /// Latency targets (`fleetsim plan` finds the fewest servers meeting all of them).
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        serialize_with = "slo::slo_as_map"
    )]
    pub slo: Vec<SloTarget>,
}

/// Seed, replications and the overload guard.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunSpec {
    /// Master seed; every random stream of every replication derives from it.
    pub seed: u64,
    /// Independent replications (confidence intervals need at least 2).
    pub replications: u32,
    /// A run stops as overloaded once this many requests wait for a server at once.
    pub max_queue: u64,
    /// After `duration_s`, keep simulating without new arrivals until every request has
    /// completed (so measured `completed = arrived`); utilisation and rates still cover
    /// `[warmup_s, duration_s]`. Default false: the run stops at `duration_s` and the
    /// requests still in the system are reported as `in_flight`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub drain: bool,
    /// Independent sub-fleets each replication is split into, run in parallel and merged
    /// (see the fleet's `shard` module). 1 (the default) is one fleet and is left out of the
    /// resolved scenario, so unsharded results stay byte-identical.
    #[serde(default = "one_shard", skip_serializing_if = "is_one_shard")]
    pub shards: u32,
    /// Whether the scenario (or a flag) set `replications`; `plan` chooses its own count
    /// when it did not. Not part of the resolved scenario.
    #[serde(skip)]
    pub replications_set: bool,
}

fn one_shard() -> u32 {
    1
}

fn is_one_shard(n: &u32) -> bool {
    *n == 1
}

/// Routing policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RouterPolicy {
    /// One FIFO queue for the fleet; a server pulls from it when it has a free slot (M/M/c).
    CentralQueue,
    /// Servers in turn.
    RoundRobin,
    /// A server chosen uniformly at random.
    Random,
    /// The server with the fewest outstanding requests (lowest index on ties).
    LeastOutstanding,
    /// Two servers drawn at random; the one with fewer outstanding requests.
    PowerOfTwo,
    /// LLM replicas with a prefix cache: the replica holding the longest cached prefix of the
    /// prompt, unless its load exceeds the least-loaded replica's by more than 64 requests
    /// and 1.5x (then the least-loaded; the SGLang router's rule, reference §3).
    PrefixAffinity,
}

impl RouterPolicy {
    /// Every policy name as written in scenario files.
    pub const NAMES: &'static str =
        "central-queue, round-robin, random, least-outstanding, power-of-two, prefix-affinity";
}

/// How requests are spread over servers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouterSpec {
    /// The policy.
    pub policy: RouterPolicy,
}

/// Default overload guard: this many waiting requests means the queue is not going to drain.
pub const DEFAULT_MAX_QUEUE: u64 = 1_000_000;

/// Command-line changes applied to a scenario before validation.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    /// `key=value` pairs with dotted keys, applied in order.
    pub set: Vec<String>,
}

impl Overrides {
    /// Adds `key=value` (the value is TOML: `5`, `0.3`, `"text"`; bare words become strings).
    pub fn push(&mut self, key: &str, value: impl std::fmt::Display) {
        self.set.push(format!("{key}={value}"));
    }
}

/// Reads, overrides and validates a scenario file.
pub fn load(path: &Path, overrides: &Overrides) -> Result<Scenario, ScenarioError> {
    let read_err = |error| ScenarioError::Read {
        file: path.to_path_buf(),
        error,
    };
    // A regular file of bounded size: a pipe or device could block or never end.
    let meta = std::fs::metadata(path).map_err(read_err)?;
    if !meta.is_file() || meta.len() > limits::MAX_SCENARIO_BYTES {
        return Err(read_err(std::io::Error::other(format!(
            "a scenario must be a regular file of at most {} bytes",
            limits::MAX_SCENARIO_BYTES
        ))));
    }
    let text = std::fs::read_to_string(path).map_err(read_err)?;
    parse(&text, path, overrides)
}

/// Parses and validates scenario text; `file` names it in errors and gives the default name.
pub fn parse(text: &str, file: &Path, overrides: &Overrides) -> Result<Scenario, ScenarioError> {
    parse_with_access(text, file, overrides, &FileAccess::Any)
}

/// [`parse`], opening only the files `access` allows (the HTTP service's gate).
pub fn parse_with_access(
    text: &str,
    file: &Path,
    overrides: &Overrides,
    access: &FileAccess,
) -> Result<Scenario, ScenarioError> {
    let parse_err = |message: String| ScenarioError::Parse {
        file: file.to_path_buf(),
        message,
    };
    // Parse the text as written first, so errors carry toml's line and column.
    let raw: RawScenario = toml::from_str(text).map_err(|e| parse_err(e.to_string()))?;
    let raw = if overrides.set.is_empty() {
        raw
    } else {
        let mut table: toml::Table = toml::from_str(text).map_err(|e| parse_err(e.to_string()))?;
        for arg in &overrides.set {
            apply_override(&mut table, arg)?;
        }
        table
            .try_into()
            .map_err(|e: toml::de::Error| parse_err(format!("after overrides: {e}")))?
    };
    validate_with_access(raw, file, access)
}

/// The scenario text as a TOML table with `overrides` applied, before any validation: what
/// [`parse`] goes on to validate. The HTTP service inspects it for keys that name files.
pub fn table_with_overrides(
    text: &str,
    file: &Path,
    overrides: &Overrides,
) -> Result<toml::Table, ScenarioError> {
    let mut table: toml::Table = toml::from_str(text).map_err(|e| ScenarioError::Parse {
        file: file.to_path_buf(),
        message: e.to_string(),
    })?;
    for arg in &overrides.set {
        apply_override(&mut table, arg)?;
    }
    Ok(table)
}

/// Whether an override value was meant as a number: digits, with a sign, point, exponent or
/// `_` separators.
fn looks_numeric(value: &str) -> bool {
    let v = value.trim_start_matches(['+', '-']);
    v.starts_with(|c: char| c.is_ascii_digit() || c == '.')
        && v.chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '_' | '+' | '-'))
}

fn apply_override(table: &mut toml::Table, arg: &str) -> Result<(), ScenarioError> {
    let err = |message: &str| ScenarioError::Override {
        arg: arg.to_string(),
        message: message.to_string(),
    };
    let (key, value) = arg
        .split_once('=')
        .ok_or_else(|| err("expected key=value, e.g. traffic.requests_per_s=5"))?;
    let key = key.trim();
    let parts: Vec<&str> = key.split('.').collect();
    if parts.iter().any(|p| p.is_empty()) {
        return Err(err("the key must be dotted names, e.g. cache.hit_rate"));
    }
    let value = value.trim();
    let value: toml::Value = match toml::from_str::<toml::Table>(&format!("v = {value}")) {
        Ok(mut t) => t.remove("v").unwrap_or(toml::Value::String(value.into())),
        // A bare word is a string, but a number TOML cannot hold is a mistake.
        Err(_) if looks_numeric(value) => {
            return Err(err(&format!(
                "{value} is not a number a scenario can hold (integers are between {} and {}; \
                 decimals need digits on both sides of the point)",
                i64::MIN,
                i64::MAX
            )));
        }
        Err(_) => toml::Value::String(value.to_string()),
    };
    let mut cur = table;
    for part in &parts[..parts.len() - 1] {
        let entry = cur
            .entry(part.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        cur = entry
            .as_table_mut()
            .ok_or_else(|| err(&format!("`{part}` is a value, not a table")))?;
    }
    cur.insert(parts[parts.len() - 1].to_string(), value);
    Ok(())
}

/// Turns a raw scenario into a checked one, filling defaults; errors name the key.
pub fn validate(raw: RawScenario, file: &Path) -> Result<Scenario, ScenarioError> {
    validate_with_access(raw, file, &FileAccess::Any)
}

/// [`validate`], opening only the files `access` allows. The sections are checked in the
/// order of the file (`[run]`, `[traffic]`, `[servers]` with `[model]` and `[request]`,
/// `[router]`, `[cache]`, `[cost]`, `[slo]`, `[autoscale]`), so the first error reported is
/// the first in that order.
pub fn validate_with_access(
    mut raw: RawScenario,
    file: &Path,
    access: &FileAccess,
) -> Result<Scenario, ScenarioError> {
    let check = Check::new(file);
    let name = validate_name(raw.name, check)?;
    let run = validate_run(raw.run, check)?;
    // Issue 17: a disaggregated fleet's count is the sum of its pools.
    disagg::resolve_count(&mut raw.servers, check)?;
    // Sizes are checked before anything is built from them (a trace is read, a deployment
    // is sized): no input may allocate without bound.
    check.count(
        "servers.count",
        raw.servers.count.into(),
        limits::MAX_SERVERS.into(),
    )?;
    let traffic = traffic::validate_traffic(raw.traffic, check, access)?;
    let fleet = servers::validate_servers(
        raw.servers,
        raw.model,
        raw.request,
        raw.autoscale.as_ref(),
        traffic.records().map(|r| r.as_ref()),
        disagg::validate,
        check,
    )?;
    let servers = fleet.servers;
    let is_llm = matches!(servers.kind, ServerKind::Llm(_));
    let router = validate_router(raw.router, &servers, check)?;
    let cache = cache::validate_cache(raw.cache, check)?;
    let cost = cost::validate_cost(raw.cost, &cache, &servers, check)?;
    let slo = slo::validate_slo(raw.slo, is_llm, check)?;
    let autoscale = autoscale::validate_autoscale(raw.autoscale, &servers, check)?;
    shards::check_shards(
        run.shards, &traffic, &servers, &router, &cache, &autoscale, check,
    )?;
    Ok(Scenario {
        name,
        description: raw.description.unwrap_or_default(),
        run,
        traffic,
        servers,
        router,
        cache,
        model: fleet.model,
        request: fleet.request,
        cost,
        autoscale,
        slo,
    })
}

/// The scenario's name: `name`, else the file stem, which must be able to name a folder.
fn validate_name(name: Option<String>, check: Check) -> Result<String, ScenarioError> {
    let file = check.file();
    let named = name.is_some();
    let name = name.unwrap_or_else(|| {
        if file == Scenario::inline_path() {
            return "inline".into();
        }
        file.file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "scenario".into())
    });
    let valid_name = |n: &str| {
        !n.is_empty()
            && n.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
    };
    if !named && !valid_name(&name) {
        return Err(check.invalid(
            "name",
            format!(
                "missing, and the file name {name:?} cannot name a results folder (letters, \
                 digits, '-', '_' or '.'); add name = \"...\" to the scenario"
            ),
        ));
    }
    if !valid_name(&name) {
        return Err(check.invalid(
            "name",
            format!("must be letters, digits, '-', '_' or '.' (it names a folder), got {name:?}"),
        ));
    }
    Ok(name)
}

/// Validates `[run]`.
fn validate_run(raw: Option<raw::RawRun>, check: Check) -> Result<RunSpec, ScenarioError> {
    let r = raw.unwrap_or_default();
    let run = RunSpec {
        seed: r.seed.unwrap_or(1),
        replications: r.replications.unwrap_or(1),
        max_queue: r.max_queue.unwrap_or(DEFAULT_MAX_QUEUE),
        drain: r.drain.unwrap_or(false),
        shards: r.shards.unwrap_or(1),
        replications_set: r.replications.is_some(),
    };
    check.count(
        "run.replications",
        run.replications.into(),
        limits::MAX_REPLICATIONS.into(),
    )?;
    check.count("run.max_queue", run.max_queue, limits::MAX_QUEUE)?;
    check.count("run.shards", run.shards.into(), limits::MAX_SHARDS.into())?;
    Ok(run)
}

/// Validates `[router]`: the policy must suit the server kind.
fn validate_router(
    raw: Option<raw::RawRouter>,
    servers: &ServersSpec,
    check: Check,
) -> Result<RouterSpec, ScenarioError> {
    let is_llm = matches!(servers.kind, ServerKind::Llm(_));
    let router = RouterSpec {
        policy: raw.and_then(|r| r.policy).unwrap_or(if is_llm {
            RouterPolicy::LeastOutstanding
        } else {
            RouterPolicy::CentralQueue
        }),
    };
    if router.policy == RouterPolicy::PrefixAffinity
        && !matches!(&servers.kind, ServerKind::Llm(spec) if spec.prefix_cache)
    {
        return Err(check.invalid(
            "router.policy",
            "prefix-affinity routes on the replicas' prefix caches: it needs kind = \"llm\" \
             and servers.prefix_cache = true",
        ));
    }
    if is_llm && router.policy == RouterPolicy::CentralQueue {
        return Err(check.invalid(
            "router.policy",
            "central-queue models a pool of identical slots and does not apply to llm \
             servers, whose replicas batch; use round-robin, random, least-outstanding or \
             power-of-two",
        ));
    }
    Ok(router)
}

impl Scenario {
    /// The scenario as TOML in the input schema, with every default written out.
    pub fn to_resolved_toml(&self) -> String {
        // Serialising plain structs of numbers and strings cannot fail.
        toml::to_string(self).unwrap_or_else(|e| format!("# could not serialise: {e}\n"))
    }

    /// Every file this scenario read during validation, with the key that named it. Nothing
    /// else is opened by a run; `fleetsim serve` checks this list against its folder.
    pub fn files_read(&self) -> Vec<FileRead> {
        match &self.traffic.arrival {
            ArrivalProcess::Poisson => vec![],
            ArrivalProcess::Diurnal { rates_csv, .. } => rates_csv
                .iter()
                .map(|p| FileRead {
                    key: "traffic.rates_csv",
                    path: p.clone(),
                })
                .collect(),
            ArrivalProcess::Trace(t) | ArrivalProcess::TracePoisson(t) => vec![FileRead {
                key: "traffic.path",
                path: t.path.clone(),
            }],
        }
    }

    /// The largest fleet this scenario may have within the validation bounds
    /// ([`limits::MAX_SERVERS`], and [`limits::MAX_FLEET_REPLICAS`] for an LLM fleet); a
    /// plan's search stays below it.
    pub fn max_servers_allowed(&self) -> u32 {
        match &self.servers.kind {
            ServerKind::Llm(spec) => {
                let per_server = u64::from(spec.gpus_per_server / spec.tensor_parallel.max(1));
                let most = limits::MAX_FLEET_REPLICAS / per_server.max(1);
                u32::try_from(most).map_or(limits::MAX_SERVERS, |m| m.min(limits::MAX_SERVERS))
            }
            ServerKind::Queue { slots, .. } => {
                let most = limits::MAX_FLEET_SLOTS / u64::from((*slots).max(1));
                u32::try_from(most).map_or(limits::MAX_SERVERS, |m| m.min(limits::MAX_SERVERS))
            }
        }
    }

    /// The path-like label used in messages for a scenario that came from no file.
    pub fn inline_path() -> PathBuf {
        PathBuf::from("<inline scenario>")
    }
}

/// Disaggregated fleets (`servers.mode = "disaggregated"`, validated in [`disagg`]).
impl Scenario {
    /// Sets the pools' counts of a disaggregated scenario (and `servers.count`, their sum).
    pub fn set_pool_counts(&mut self, prefill: u32, decode: u32) {
        if let Some(d) = self.servers.disagg.as_deref_mut() {
            d.prefill.count = prefill;
            d.decode.count = decode;
            self.servers.count = d.total_servers();
        }
    }

    /// Cloud price of one server of `pool`, USD per hour: the scenario's `[servers]` price when
    /// the pool has the same GPUs, else the default preset's per-GPU price for its GPU type.
    pub fn pool_usd_per_server_hour(&self, pool: &LlmServerSpec) -> f64 {
        let c = &self.cost;
        if let ServerKind::Llm(top) = &self.servers.kind
            && top.hardware.eq_ignore_ascii_case(&pool.hardware)
        {
            if top.gpus_per_server == pool.gpus_per_server {
                return c.cloud_usd_per_server_hour;
            }
            return c.cloud_usd_per_server_hour / f64::from(top.gpus_per_server.max(1))
                * f64::from(pool.gpus_per_server);
        }
        let hw = pool.hardware.to_ascii_lowercase();
        prices::price_preset(prices::default_price_preset(Some(&hw)))
            .map_or(c.cloud_usd_per_server_hour, |p| {
                p.usd_per_gpu_hour() * f64::from(pool.gpus_per_server)
            })
    }
}
