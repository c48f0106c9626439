//! The summary table printed in the terminal.

use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use serde_json::Value;

fn get<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(v, |v, k| v.get(k))
}

/// Formats `mean ± half-width` for the summary's value at `path`, scaled by `scale`.
fn cell(summary: &Value, path: &str, scale: f64, digits: usize) -> String {
    let Some(m) = get(summary, path).and_then(Value::as_f64) else {
        return "-".into();
    };
    let ci = get(&summary["ci95"], path).and_then(Value::as_f64);
    match ci {
        Some(h) => format!("{:.digits$} ± {:.digits$}", m * scale, h * scale),
        None => format!("{:.digits$}", m * scale),
    }
}

/// Renders the run summary as a readable table (means ± 95% half-widths over replications).
pub fn render(summary: &Value) -> String {
    let mut out = String::new();
    let s = |k: &str| summary.get(k).map(|v| v.to_string()).unwrap_or_default();
    out.push_str(&format!(
        "scenario {}  seed {}  servers {}  replications {}  stable {}  offered load {}\n",
        s("scenario"),
        s("seed"),
        s("servers"),
        s("replications"),
        s("stable"),
        summary["offered_load"]
            .as_f64()
            .map(|l| format!("{l:.3}"))
            .unwrap_or_else(|| "n/a".into())
    ));
    // An autoscaled fleet is paid for by the server-hour: show what it paid, not its start.
    if let (Some(mean), Some(lo), Some(hi)) = (
        get(summary, "llm.mean_servers").and_then(Value::as_f64),
        get(summary, "llm.min_servers").and_then(Value::as_f64),
        get(summary, "llm.max_servers").and_then(Value::as_f64),
    ) && (lo != hi || summary["servers"].as_f64() != Some(mean))
    {
        out.push_str(&format!(
            "autoscaled: servers paid for mean {mean:.2}, min {lo}, max {hi}{} (the count \
             above is the starting fleet); costs use the mean\n",
            if summary["replications"].as_u64().unwrap_or(1) > 1 {
                " (min and max averaged over replications)"
            } else {
                ""
            }
        ));
    }
    if let Some(list) = summary["overload"].as_array() {
        for m in list {
            out.push_str(&format!("OVERLOADED: {}\n", m.as_str().unwrap_or("")));
        }
    }

    let mut t = Table::new();
    t.load_style(UTF8_FULL_CONDENSED);
    t.set_header(["latency (s)", "mean", "p50", "p90", "p99", "p99.9", "max"]);
    for metric in ["e2e", "queue_wait", "service", "ttft", "tpot"] {
        if get(summary, &format!("latency_s.{metric}")).is_none() {
            continue;
        }
        let mut row = vec![metric.to_string()];
        for stat in ["mean", "p50", "p90", "p99", "p999", "max"] {
            row.push(cell(summary, &format!("latency_s.{metric}.{stat}"), 1.0, 4));
        }
        t.add_row(row);
    }
    out.push_str(&t.to_string());
    out.push('\n');

    let mut t = Table::new();
    t.load_style(UTF8_FULL_CONDENSED);
    t.set_header(["fleet", "value"]);
    let rows: [(&str, &str, f64, usize); 11] = [
        ("arrived (measured)", "requests.arrived", 1.0, 1),
        ("completed", "requests.completed", 1.0, 1),
        ("cache hits", "requests.cache_hits", 1.0, 1),
        ("in flight at end", "requests.in_flight", 1.0, 1),
        ("throughput (req/s)", "throughput_per_s", 1.0, 3),
        ("utilization", "utilization", 1.0, 4),
        ("idle rate, achieved", "idle_rate.achieved", 1.0, 4),
        (
            "idle rate, least idle server",
            "idle_rate.per_server_min",
            1.0,
            4,
        ),
        (
            "idle rate, most idle server",
            "idle_rate.per_server_max",
            1.0,
            4,
        ),
        ("P(wait > 0)", "wait_probability", 1.0, 4),
        ("mean in system (Little's L)", "mean_in_system", 1.0, 3),
    ];
    for (label, path, scale, digits) in rows {
        t.add_row([label.to_string(), cell(summary, path, scale, digits)]);
    }
    let llm_rows: [(&str, &str, f64, usize); 7] = [
        ("mean batch (sequences/step)", "llm.mean_batch", 1.0, 2),
        ("bandwidth use (MBU)", "llm.mbu", 1.0, 3),
        ("compute use (MFU)", "llm.mfu", 1.0, 3),
        ("KV occupancy", "llm.kv_occupancy", 1.0, 3),
        ("preemptions", "llm.preemptions", 1.0, 1),
        ("output tokens/s", "llm.output_tokens_per_s", 1.0, 1),
        ("prompt tokens/s", "llm.prefill_tokens_per_s", 1.0, 1),
    ];
    for (label, path, scale, digits) in llm_rows {
        if get(summary, path).is_some() {
            t.add_row([label.to_string(), cell(summary, path, scale, digits)]);
        }
    }
    out.push_str(&t.to_string());
    out.push('\n');

    // The idle-rate question and the cost, when the summary has them.
    if get(summary, "cost").is_some() {
        let f = |path: &str, digits: usize| {
            get(summary, path)
                .and_then(Value::as_f64)
                .map(|x| format!("{x:.digits$}"))
                .unwrap_or_else(|| "n/a".into())
        };
        let mut t = Table::new();
        t.load_style(UTF8_FULL_CONDENSED);
        t.set_header(["idle rate and cost", "value"]);
        t.add_row([
            "idle rate assumed (formula)".to_string(),
            f("idle_rate.assumed", 3),
        ]);
        t.add_row([
            "idle rate achieved (time idle)".to_string(),
            f("idle_rate.achieved", 4),
        ]);
        t.add_row([
            "idle rate equivalent (same cost in the formula)".to_string(),
            f("idle_rate.equivalent", 3),
        ]);
        if let Some(note) = get(summary, "idle_rate.equivalent")
            .and_then(Value::as_f64)
            .and_then(equivalent_idle_note)
        {
            t.add_row(["  what that means".to_string(), note]);
        }
        t.add_row([
            format!(
                "cloud $/request ({} at ${}/server-h)",
                get(summary, "cost.cloud.preset")
                    .and_then(Value::as_str)
                    .unwrap_or("?"),
                f("cost.cloud.usd_per_server_hour", 2)
            ),
            f("cost.cloud.per_request_usd", 6),
        ]);
        t.add_row([
            "cloud $/1k tokens".to_string(),
            f("cost.cloud.per_1k_tokens_usd", 6),
        ]);
        t.add_row(["cloud $/day".to_string(), f("cost.cloud.per_day_usd", 0)]);
        if let Some(provider) = get(summary, "cost.cloud.provider").and_then(Value::as_str) {
            let gpus = get(summary, "cost.cloud.gpus_per_server").and_then(Value::as_u64);
            t.add_row([
                "  cloud price basis".to_string(),
                match gpus {
                    Some(g) => format!(
                        "{provider}: ${}/GPU-h x {g} GPU{}",
                        f("cost.cloud.usd_per_gpu_hour", 4),
                        if g == 1 { "" } else { "s" }
                    ),
                    None => format!("{provider}, per server"),
                },
            ]);
            t.add_row([
                "  cloud price as of".to_string(),
                get(summary, "cost.cloud.as_of")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
            ]);
        }
        t.add_row([
            format!(
                "self-built $/request (TCO {} ${}/server-h)",
                get(summary, "cost.self_built.tco_preset")
                    .and_then(Value::as_str)
                    .unwrap_or("custom"),
                f("cost.self_built.usd_per_server_hour", 2)
            ),
            f("cost.self_built.per_request_usd", 6),
        ]);
        t.add_row([
            "self-built $/request, reports' shortcut (cloud x 0.3)".to_string(),
            f("cost.self_built.reports_shortcut_per_request_usd", 6),
        ]);
        t.add_row([
            "R1 formula $/request (assumed rates)".to_string(),
            f("cost.formula.per_request_usd", 6),
        ]);
        if let Some(terms) = get(summary, "cost.bridge.terms").and_then(Value::as_array) {
            for term in terms {
                t.add_row([
                    format!("  bridge: {}", term["term"].as_str().unwrap_or("")),
                    term["usd"]
                        .as_f64()
                        .map(|x| format!("{x:+.6}"))
                        .unwrap_or_default(),
                ]);
            }
        }
        out.push_str(&t.to_string());
        out.push('\n');
    }
    out
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
pub fn render_plan(plan: &crate::drivers::plan::PlanOutcome) -> String {
    let f = |x: Option<f64>, digits: usize| {
        x.map(|x| format!("{x:.digits$}"))
            .unwrap_or_else(|| "n/a".into())
    };
    let reps = if plan.replications_auto {
        format!(
            "replications chosen per count ({} to {})",
            crate::drivers::plan::AUTO_REPLICATIONS_START,
            crate::drivers::plan::AUTO_REPLICATIONS_MAX
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
            let side = |n: Option<u32>| n.map_or("?".to_string(), |n| n.to_string());
            format!(
                " ({}-{} if step times are {}% faster or slower, the model's calibration \
                 error)",
                side(b.servers_low),
                side(b.servers_high),
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
        None => out.push_str("(1 server meets every target)\n"),
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
