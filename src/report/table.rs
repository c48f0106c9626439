//! The terminal tables: a run's summary and a plan.

use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};

use super::figures::{self as fig, Figure, fixed};
use crate::metrics::replication::{LatencyMetric, LatencyStat};
use crate::report::outcome::PoolCounts;
use crate::report::summary::RunSummary;

fn table(header: Vec<String>) -> Table {
    let mut t = Table::new();
    t.load_style(UTF8_FULL_CONDENSED);
    t.set_header(header);
    t
}

/// The fleet figures of the terminal table, in order (always shown).
const FLEET: [Figure; 11] = [
    fig::ARRIVED,
    fig::COMPLETED,
    fig::CACHE_HITS,
    fig::IN_FLIGHT,
    fig::THROUGHPUT,
    fig::UTILIZATION,
    fig::IDLE_ACHIEVED,
    fig::IDLE_MIN,
    fig::IDLE_MAX,
    fig::WAIT_PROBABILITY,
    Figure {
        label: "mean in system (Little's L)",
        ..fig::MEAN_IN_SYSTEM
    },
];

/// Renders the run summary as a readable table (means ± 95% half-widths over replications).
pub fn render(summary: &RunSummary) -> String {
    let mut out = header(summary);
    let mut t = table(
        ["latency (s)", "mean", "p50", "p90", "p99", "p99.9", "max"]
            .map(String::from)
            .to_vec(),
    );
    let stats = [
        LatencyStat::Mean,
        LatencyStat::P50,
        LatencyStat::P90,
        LatencyStat::P99,
        LatencyStat::P999,
        LatencyStat::Max,
    ];
    for metric in LatencyMetric::ALL {
        if summary.latency(metric).is_none() {
            continue;
        }
        let mut row = vec![metric.name().to_string()];
        row.extend(stats.iter().map(|&stat| {
            fig::latency(summary, metric, stat).map_or_else(|| "-".into(), |r| r.mean_ci(4))
        }));
        t.add_row(row);
    }
    out.push_str(&t.to_string());
    out.push('\n');

    let mut t = table(vec!["fleet".into(), "value".into()]);
    for f in &FLEET {
        t.add_row([f.label.to_string(), f.mean_ci(summary)]);
    }
    for f in fig::LLM.iter().filter(|f| (f.read)(summary).is_some()) {
        t.add_row([f.label.to_string(), f.mean_ci(summary)]);
    }
    out.push_str(&t.to_string());
    out.push('\n');
    out.push_str(&cost_table(summary).to_string());
    out.push('\n');
    out
}

/// The first lines: what ran, the autoscaled fleet's size, and any overload.
fn header(summary: &RunSummary) -> String {
    let name = serde_json::to_string(&summary.scenario).unwrap_or_default();
    let mut out = format!(
        "scenario {name}  seed {}  servers {}  replications {}  stable {}  offered load {}\n",
        summary.seed,
        summary.servers,
        summary.replications,
        summary.stable,
        summary
            .offered_load
            .filter(|l| l.is_finite())
            .map(|l| format!("{l:.3}"))
            .unwrap_or_else(|| "n/a".into())
    );
    // An autoscaled fleet is paid for by the server-hour: show what it paid, not its start.
    if let Some(llm) = &summary.means.llm {
        let (mean, lo, hi) = (llm.mean_servers, llm.min_servers, llm.max_servers);
        if lo != hi || f64::from(summary.servers) != mean {
            out.push_str(&format!(
                "autoscaled: servers paid for mean {mean:.2}, min {lo}, max {hi}{} (the count \
                 above is the starting fleet); costs use the mean\n",
                if summary.replications > 1 {
                    " (min and max averaged over replications)"
                } else {
                    ""
                }
            ));
        }
    }
    for m in summary.overload.iter().flatten() {
        out.push_str(&format!("OVERLOADED: {m}\n"));
    }
    out
}

/// A bridge term: `+0.000123` (empty when not a number).
pub fn signed(usd: f64) -> String {
    Some(usd)
        .filter(|x| x.is_finite())
        .map(|x| format!("{x:+.6}"))
        .unwrap_or_default()
}

/// The idle-rate question and the cost.
fn cost_table(summary: &RunSummary) -> Table {
    let cloud = &summary.cost.cloud;
    let mut t = table(vec!["idle rate and cost".into(), "value".into()]);
    for f in [fig::IDLE_ASSUMED, fig::IDLE_TIME, fig::IDLE_EQUIVALENT] {
        t.add_row([f.label.to_string(), f.value(summary)]);
    }
    let equivalent = summary.means.idle_rate.formula.as_ref();
    if let Some(note) = equivalent
        .and_then(|f| f.equivalent)
        .filter(|x| x.is_finite())
        .and_then(equivalent_idle_note)
    {
        t.add_row(["  what that means".to_string(), note]);
    }
    let price = |x: f64| fixed(Some(x).filter(|x| x.is_finite()), 2);
    t.add_row([
        format!(
            "cloud $/request ({} at ${}/server-h)",
            cloud.preset,
            price(cloud.usd_per_server_hour)
        ),
        fig::CLOUD_PER_REQUEST.value(summary),
    ]);
    t.add_row([
        fig::CLOUD_PER_1K.label.to_string(),
        fig::CLOUD_PER_1K.value(summary),
    ]);
    t.add_row([
        fig::CLOUD_PER_DAY.label.to_string(),
        fig::CLOUD_PER_DAY.value(summary),
    ]);
    if let Some(provider) = cloud.provider {
        t.add_row([
            "  cloud price basis".to_string(),
            match cloud.gpus_per_server {
                Some(g) => format!(
                    "{provider}: ${}/GPU-h x {g} GPU{}",
                    fixed(cloud.usd_per_gpu_hour.filter(|x| x.is_finite()), 4),
                    if g == 1 { "" } else { "s" }
                ),
                None => format!("{provider}, per server"),
            },
        ]);
        t.add_row([
            "  cloud price as of".to_string(),
            cloud.as_of.unwrap_or("").to_string(),
        ]);
    }
    let built = &summary.cost.self_built;
    t.add_row([
        format!(
            "self-built $/request (TCO {} ${}/server-h)",
            built.tco_preset,
            price(built.usd_per_server_hour)
        ),
        fig::SELF_BUILT_PER_REQUEST.value(summary),
    ]);
    for f in [fig::SELF_BUILT_SHORTCUT, fig::FORMULA_PER_REQUEST] {
        t.add_row([f.label.to_string(), f.value(summary)]);
    }
    for term in summary.cost.bridge.iter().flat_map(|b| &b.terms) {
        t.add_row([format!("  bridge: {}", term.term), signed(term.usd)]);
    }
    t
}

/// What an equivalent idle rate below zero means, or `None` when it is zero or more.
///
/// The equivalent idle rate is the `idle` that makes the R1 formula give the simulated cost:
/// `formula(idle) = formula(0) / (1 - idle)`. When the simulated fleet costs less than the
/// formula at zero idle, no idle rate in `[0, 1)` can match and the value goes negative; the
/// JSON keeps the negative number as computed.
pub fn equivalent_idle_note(equivalent: f64) -> Option<String> {
    (equivalent < 0.0).then(|| {
        "below 0: the fleet costs less per request than the formula does even with no idle \
         time, so no idle rate reproduces it; the formula's per-token work (MFU, cache, \
         compression) is pessimistic here, usually because batching beats the assumed MFU \
         (see the bridge)"
            .to_string()
    })
}

/// Renders a plan: the chosen count, the count below and why it fails, idle rates and cost,
/// and the curve of counts tried.
pub fn render_plan(plan: &crate::report::outcome::PlanOutcome) -> String {
    let f = |x: Option<f64>, digits: usize| {
        x.map(|x| format!("{x:.digits$}"))
            .unwrap_or_else(|| "n/a".into())
    };
    let reps = if plan.replications_auto {
        format!(
            "replications chosen per count ({} to {})",
            crate::report::outcome::AUTO_REPLICATIONS_START,
            crate::report::outcome::AUTO_REPLICATIONS_MAX
        )
    } else {
        format!("replications {} per count", plan.replications)
    };
    let mut out = format!(
        "scenario {}  seed {}  {reps}  targets: {}\n",
        plan.scenario,
        plan.seed,
        plan.targets
            .iter()
            .map(|(k, v)| format!("{k} = {v} s"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let band = match &plan.timing_band {
        Some(b) => {
            // A split fleet's sides read `prefill+decode`.
            let side = |n: Option<u32>, pair: Option<PoolCounts>| match (n, pair) {
                (_, Some(p)) => format!("{}+{}", p.prefill_servers, p.decode_servers),
                (Some(n), None) => n.to_string(),
                (None, None) => "?".to_string(),
            };
            let to = if b.pair_low.or(b.pair_high).is_some() {
                " to "
            } else {
                "-"
            };
            format!(
                " ({}{to}{} if step times are {}% faster or slower, the model's calibration \
                 error)",
                side(b.servers_low, b.pair_low),
                side(b.servers_high, b.pair_high),
                format!("{:.1}", 100.0 * (b.step_time_scale_high - 1.0)).trim_end_matches(".0")
            )
        }
        None => String::new(),
    };
    out.push_str(&format!(
        "A count meets a target when the upper end of its 95% CI does.\n\nservers: {}{band}\n",
        plan.servers
    ));
    for f in &plan.flips {
        out.push_str(&format!("  note: {f}\n"));
    }
    match &plan.below {
        Some(b) => {
            out.push_str(&format!("{} servers fail:\n", b.servers));
            for w in &b.why {
                out.push_str(&format!("  {w}\n"));
            }
        }
        // A split plan reports its pools below; "one server" would not describe them.
        None if plan.disaggregated.is_none() => out.push_str("(1 server meets every target)\n"),
        None => {}
    }
    out.push_str(&format!(
        "idle rate achieved {}, equivalent {}, assumed {}; cloud $/request {} (R1 formula {})\n",
        f(plan.achieved_idle_rate, 4),
        f(plan.equivalent_idle_rate, 3),
        f(Some(plan.assumed_idle_rate), 3),
        f(plan.cost_per_request_usd, 6),
        f(plan.formula_cost_per_request_usd, 6),
    ));
    if let Some(note) = plan.equivalent_idle_rate.and_then(equivalent_idle_note) {
        out.push_str(&format!("equivalent idle rate {note}\n"));
    }

    let mut t = Table::new();
    t.load_style(UTF8_FULL_CONDENSED);
    let mut header = vec![
        "servers".to_string(),
        "reps".to_string(),
        "meets".to_string(),
    ];
    if let Some(p) = plan.curve.first() {
        header.extend(p.targets.iter().map(|t| format!("{} ≤ {}", t.key, t.max_s)));
    }
    header.extend(["idle achieved", "$/request"].map(String::from));
    t.set_header(header);
    for p in &plan.curve {
        let mut row = vec![
            p.servers.to_string(),
            p.replications.to_string(),
            match (p.pass, p.stable) {
                (true, _) => "yes".into(),
                (false, true) => "no".into(),
                (false, false) => "no (unstable)".into(),
            },
        ];
        row.extend(p.targets.iter().map(|t| match (t.mean_s, t.ci95_s) {
            (Some(m), Some(h)) => format!("{m:.4} ± {h:.4}"),
            _ => "-".into(),
        }));
        row.push(f(p.achieved_idle_rate, 4));
        row.push(f(p.cost_per_request_usd, 6));
        t.add_row(row);
    }
    out.push_str(&t.to_string());
    out.push('\n');
    if let Some(chosen) = plan.curve.iter().find(|p| p.servers == plan.servers) {
        for w in &chosen.warnings {
            out.push_str(&format!("warning ({} servers): {w}\n", chosen.servers));
        }
    }
    out
}

/// Issue 17: a disaggregated run's pools and KV link, three lines (none for a colocated
/// fleet).
pub fn render_disagg(summary: &RunSummary) -> Option<String> {
    let d = summary.means.disaggregated.as_ref()?;
    let pool = |name: &str, p: &crate::metrics::disagg::PoolMetrics| {
        format!(
            "{name} pool: {} servers ({} replicas), utilisation {:.3}, idle {:.3}, mean batch \
             {:.2}, KV occupancy {:.3}, wait {:.4} s, ${:.2}/h",
            p.servers,
            p.replicas,
            p.utilization,
            p.idle_rate,
            p.mean_batch,
            p.kv_occupancy,
            p.wait_mean_s,
            p.usd_per_hour,
        )
    };
    let t = &d.transfer_s;
    Some(format!(
        "{}\n{}\nKV link: transfer mean {:.4} s, p99 {:.4} s, link wait {:.4} s, link \
         utilisation {:.3}, {:.3} GB per request",
        pool("prefill", &d.prefill),
        pool("decode", &d.decode),
        t.mean,
        t.p99,
        d.link_wait_mean_s,
        d.link_utilization,
        d.kv_bytes_per_request / 1e9,
    ))
}

/// Issue 17: a disaggregated plan's pools, the colocated plan and which is cheaper, a few
/// lines.
pub fn render_disagg_plan(d: &crate::report::outcome::DisaggPlan) -> String {
    let usd = |x: Option<f64>| x.map_or("-".to_string(), |v| format!("${v:.6}"));
    let mut out = format!(
        "disaggregated: {} prefill + {} decode servers (${:.2}/h); colocated: {} servers, \
     {} per request; cheaper: {}",
        d.prefill_servers,
        d.decode_servers,
        d.disaggregated_usd_per_hour,
        d.colocated
            .servers
            .map_or("no plan".to_string(), |n| n.to_string()),
        usd(d.colocated.cost_per_request_usd),
        d.cheaper,
    );
    for w in &d.why {
        out.push_str("\n  ");
        out.push_str(w);
    }
    out
}
