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
    out.push_str(&t.to_string());
    out.push('\n');
    out
}
