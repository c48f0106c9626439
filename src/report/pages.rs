//! What `report.html` shows for a `run` and for a `plan`: the numbers as tables, and the
//! plots drawn from the same numbers beside them.

use serde_json::Value;

use super::html::{Plot, ReportData, Series, SeriesStyle, Table, XAxis};
use crate::drivers::plan::PlanOutcome;

/// Latency statistics shown, with their percentile (x of the percentile plot).
const PERCENTILES: [(&str, f64); 5] = [
    ("p50", 50.0),
    ("p90", 90.0),
    ("p95", 95.0),
    ("p99", 99.0),
    ("p999", 99.9),
];
/// Latency metrics, in the terminal table's order.
const METRICS: [&str; 5] = ["e2e", "queue_wait", "service", "ttft", "tpot"];

fn get<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(v, |v, k| v.get(k))
}

fn num(v: &Value, path: &str) -> Option<f64> {
    get(v, path).and_then(Value::as_f64)
}

fn fmt(x: Option<f64>, digits: usize) -> String {
    x.map(|x| format!("{x:.digits$}"))
        .unwrap_or_else(|| "n/a".into())
}

/// `mean ± half-width` for the summary value at `path`.
fn mean_ci(summary: &Value, path: &str, digits: usize) -> String {
    match (num(summary, path), num(&summary["ci95"], path)) {
        (Some(m), Some(h)) => format!("{m:.digits$} ± {h:.digits$}"),
        (Some(m), None) => format!("{m:.digits$}"),
        _ => "-".into(),
    }
}

fn series(name: &str, points: Vec<(f64, f64)>, style: SeriesStyle, dashed: bool) -> Series {
    Series::new(name, points, style, dashed)
}

fn subtitle(summary: &Value) -> String {
    let s = |k: &str| match &summary[k] {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        v => v.to_string(),
    };
    format!(
        "scenario {} · seed {} · {} servers · {} replications · stable {} · means ± 95% \
         half-widths over replications",
        s("scenario"),
        s("seed"),
        s("servers"),
        s("replications"),
        s("stable")
    )
}

/// The summary tables of one run: latency, fleet, idle rate and cost, cost bridge.
fn summary_tables(summary: &Value, prefix: &str) -> Vec<Table> {
    let mut tables = Vec::new();
    let mut headers = vec!["latency (s)".to_string(), "mean".to_string()];
    headers.extend(PERCENTILES.iter().map(|(s, _)| s.to_string()));
    headers.push("max".into());
    let rows = METRICS
        .iter()
        .filter(|m| get(summary, &format!("latency_s.{m}")).is_some())
        .map(|m| {
            let mut row = vec![m.to_string()];
            let stats = std::iter::once("mean")
                .chain(PERCENTILES.iter().map(|(s, _)| *s))
                .chain(std::iter::once("max"));
            row.extend(stats.map(|s| mean_ci(summary, &format!("latency_s.{m}.{s}"), 4)));
            row
        })
        .collect();
    tables.push(Table {
        title: format!("{prefix}Latency"),
        headers,
        rows,
    });

    let fleet: [(&str, &str, usize); 17] = [
        ("arrived (measured)", "requests.arrived", 1),
        ("completed", "requests.completed", 1),
        ("cache hits", "requests.cache_hits", 1),
        ("throughput (req/s)", "throughput_per_s", 3),
        ("utilization", "utilization", 4),
        ("P(wait > 0)", "wait_probability", 4),
        ("mean in system", "mean_in_system", 3),
        (
            "idle rate, least idle server",
            "idle_rate.per_server_min",
            4,
        ),
        ("idle rate, most idle server", "idle_rate.per_server_max", 4),
        ("mean batch (sequences/step)", "llm.mean_batch", 2),
        ("bandwidth use (MBU)", "llm.mbu", 3),
        ("compute use (MFU)", "llm.mfu", 3),
        ("KV occupancy", "llm.kv_occupancy", 3),
        ("preemptions", "llm.preemptions", 1),
        ("output tokens/s", "llm.output_tokens_per_s", 1),
        ("prompt tokens/s", "llm.prefill_tokens_per_s", 1),
        ("cache hit rate", "cache_hit_rate", 4),
    ];
    tables.push(Table {
        title: format!("{prefix}Fleet"),
        headers: vec!["figure".into(), "value".into()],
        rows: fleet
            .iter()
            .filter(|(_, p, _)| num(summary, p).is_some())
            .map(|(l, p, d)| vec![l.to_string(), mean_ci(summary, p, *d)])
            .collect(),
    });

    let cost: [(&str, &str, usize); 9] = [
        ("idle rate assumed (formula)", "idle_rate.assumed", 3),
        ("idle rate achieved (time idle)", "idle_rate.achieved", 4),
        (
            "idle rate equivalent (same cost in the formula)",
            "idle_rate.equivalent",
            3,
        ),
        ("cloud $/request", "cost.cloud.per_request_usd", 6),
        ("cloud $/1k tokens", "cost.cloud.per_1k_tokens_usd", 6),
        ("cloud $/day", "cost.cloud.per_day_usd", 0),
        ("self-built $/request", "cost.self_built.per_request_usd", 6),
        (
            "self-built $/request, reports' shortcut (cloud x 0.3)",
            "cost.self_built.reports_shortcut_per_request_usd",
            6,
        ),
        (
            "R1 formula $/request (assumed rates)",
            "cost.formula.per_request_usd",
            6,
        ),
    ];
    tables.push(Table {
        title: format!("{prefix}Idle rate and cost"),
        headers: vec!["figure".into(), "value".into()],
        rows: cost
            .iter()
            .map(|(l, p, d)| vec![l.to_string(), fmt(num(summary, p), *d)])
            .collect(),
    });
    if let Some(terms) = get(summary, "cost.bridge.terms").and_then(Value::as_array) {
        let mut rows = vec![vec![
            "R1 formula".to_string(),
            fmt(num(summary, "cost.bridge.formula_usd"), 6),
        ]];
        rows.extend(terms.iter().map(|t| {
            vec![
                t["term"].as_str().unwrap_or("").to_string(),
                t["usd"]
                    .as_f64()
                    .map(|x| format!("{x:+.6}"))
                    .unwrap_or_default(),
            ]
        }));
        rows.push(vec![
            "simulated".to_string(),
            fmt(num(summary, "cost.bridge.simulated_usd"), 6),
        ]);
        tables.push(Table {
            title: format!("{prefix}Cost bridge: formula to simulated, $/request"),
            headers: vec!["term".into(), "USD".into()],
            rows,
        });
    }
    tables
}

/// The plots of one run: latency percentiles per metric, and the cost bridge as a staircase.
fn summary_plots(summary: &Value) -> Vec<Plot> {
    let mut plots = Vec::new();
    let lat: Vec<Series> = METRICS
        .iter()
        .filter(|m| get(summary, &format!("latency_s.{m}")).is_some())
        .map(|m| {
            let pts = PERCENTILES
                .iter()
                .filter_map(|(s, x)| num(summary, &format!("latency_s.{m}.{s}")).map(|y| (*x, y)))
                .collect();
            series(m, pts, SeriesStyle::Line, false)
        })
        .collect();
    if !lat.is_empty() {
        plots.push(Plot {
            title: "Latency percentiles".into(),
            x_label: "percentile (in nines: p50, p90, p99, p99.9)".into(),
            y_label: "latency (s, log)".into(),
            series: lat,
            log_y: true,
            x_axis: XAxis::Nines,
        });
    }
    if let Some(terms) = get(summary, "cost.bridge.terms").and_then(Value::as_array)
        && let Some(formula) = num(summary, "cost.bridge.formula_usd")
    {
        // Cumulative: start at the formula, add each term; the last step is the simulation.
        let mut total = formula;
        let mut pts = vec![(0.0, total)];
        for (i, t) in terms.iter().enumerate() {
            total += t["usd"].as_f64().unwrap_or(0.0);
            pts.push(((i + 1) as f64, total));
        }
        let end = pts.len() as f64;
        pts.push((end, total));
        let mut s = vec![series(
            "cumulative $/request (x = 0: formula, then each term in the table's order)",
            pts,
            SeriesStyle::Step,
            false,
        )];
        if let Some(sim) = num(summary, "cost.bridge.simulated_usd") {
            s.push(series(
                "simulated",
                vec![(0.0, sim), (end, sim)],
                SeriesStyle::Line,
                true,
            ));
        }
        // Tick names: one word per term (the table beside the plot has the full names).
        let mut names = vec!["formula".to_string()];
        names.extend(terms.iter().map(|t| {
            let term = t["term"].as_str().unwrap_or("");
            [
                "idle",
                "decode",
                "batch",
                "cache",
                "compression",
                "residual",
            ]
            .into_iter()
            .find(|w| term.contains(w))
            .map(str::to_string)
            .unwrap_or_else(|| term.split_whitespace().next().unwrap_or("").to_string())
        }));
        plots.push(Plot {
            title: "Cost bridge: R1 formula to simulated".into(),
            x_label: "bridge term (each step adds the term named at its start)".into(),
            y_label: "USD per request".into(),
            series: s,
            log_y: false,
            x_axis: XAxis::Names(names),
        });
    }
    plots
}

/// `report.html` content for a `run`.
pub fn run_report(summary: &Value) -> ReportData {
    ReportData {
        title: format!(
            "fleetsim run: {}",
            summary["scenario"].as_str().unwrap_or("?")
        ),
        subtitle: subtitle(summary),
        tables: {
            let mut tables = summary_tables(summary, "");
            tables.extend(warnings_table(summary));
            tables
        },
        plots: {
            let mut plots = summary_plots(summary);
            plots.extend(day_plot(summary));
            plots
        },
    }
}

/// The steady-state warnings (`diagnostics.warnings`), when there are any.
fn warnings_table(summary: &Value) -> Option<Table> {
    let rows: Vec<Vec<String>> = summary["diagnostics"]["warnings"]
        .as_array()?
        .iter()
        .filter_map(|w| w.as_str().map(|w| vec![w.to_string()]))
        .collect();
    (!rows.is_empty()).then(|| Table {
        title: "Steady state: warnings".into(),
        headers: vec!["warning".into()],
        rows,
    })
}

/// For diurnal runs: arrivals, busy replicas and servers paid for, by hour of day.
fn day_plot(summary: &Value) -> Option<Plot> {
    let day = summary.get("day")?;
    let series = |key: &str, name: &str, dashed: bool| Series {
        name: name.into(),
        points: (0..24)
            .filter_map(|h| Some((h as f64, day.get(key)?.get(format!("h{h:02}"))?.as_f64()?)))
            .collect(),
        style: SeriesStyle::Step,
        dashed,
    };
    Some(Plot {
        title: "Through the day (hour of day, UTC from traffic.start_hour)".into(),
        x_label: "hour of day".into(),
        y_label: "per second / count".into(),
        series: vec![
            series("arrivals_per_s", "arrivals per second", false),
            series("busy_replicas", "busy replicas", false),
            series("servers_paid", "servers paid for", true),
        ],
        log_y: false,
        x_axis: XAxis::Integer,
    })
}

/// `report.html` content for a `plan`: the answer, the curve of counts tried, plots against
/// server count, and the chosen count's full summary tables.
pub fn plan_report(plan: &PlanOutcome) -> ReportData {
    let mut tables = Vec::new();
    let mut answer = vec![
        vec!["chosen servers".to_string(), plan.servers.to_string()],
        vec![
            "targets (upper end of the 95% CI must be ≤)".to_string(),
            plan.targets
                .iter()
                .map(|(k, v)| format!("{k} = {v} s"))
                .collect::<Vec<_>>()
                .join(", "),
        ],
    ];
    match &plan.below {
        Some(b) => answer.push(vec![
            format!("{} servers fail because", b.servers),
            b.why.join("; "),
        ]),
        None => answer.push(vec![
            "below".to_string(),
            "none: 1 server meets every target".to_string(),
        ]),
    }
    answer.extend([
        vec![
            "idle rate achieved".to_string(),
            fmt(plan.achieved_idle_rate, 4),
        ],
        vec![
            "idle rate equivalent (same cost in the formula)".to_string(),
            fmt(plan.equivalent_idle_rate, 3),
        ],
        vec![
            "idle rate assumed (formula)".to_string(),
            fmt(Some(plan.assumed_idle_rate), 3),
        ],
        vec![
            "cloud $/request".to_string(),
            fmt(plan.cost_per_request_usd, 6),
        ],
        vec![
            "R1 formula $/request".to_string(),
            fmt(plan.formula_cost_per_request_usd, 6),
        ],
        vec!["counts tried".to_string(), plan.curve.len().to_string()],
    ]);
    tables.push(Table {
        title: "Plan".into(),
        headers: vec!["".into(), "".into()],
        rows: answer,
    });

    let mut headers = vec!["servers".to_string(), "meets all".to_string()];
    if let Some(p) = plan.curve.first() {
        headers.extend(
            p.targets
                .iter()
                .map(|t| format!("{} (≤ {} s)", t.key, t.max_s)),
        );
    }
    headers.extend(
        [
            "idle achieved",
            "idle equivalent",
            "cloud $/request",
            "formula $/request",
        ]
        .map(String::from),
    );
    let rows = plan
        .curve
        .iter()
        .map(|p| {
            let mut row = vec![
                p.servers.to_string(),
                if p.pass {
                    "yes".into()
                } else if p.stable {
                    "no".into()
                } else {
                    "no (unstable)".into()
                },
            ];
            row.extend(p.targets.iter().map(|t| match (t.mean_s, t.ci95_s) {
                (Some(m), Some(h)) => format!("{m:.4} ± {h:.4}"),
                _ => "-".into(),
            }));
            row.extend([
                fmt(p.achieved_idle_rate, 4),
                fmt(p.equivalent_idle_rate, 3),
                fmt(p.cost_per_request_usd, 6),
                fmt(p.formula_cost_per_request_usd, 6),
            ]);
            row
        })
        .collect();
    tables.push(Table {
        title: "Counts tried (mean ± 95% half-width over replications)".into(),
        headers,
        rows,
    });

    let xs = |f: &dyn Fn(&crate::drivers::plan::CurvePoint) -> Option<f64>| -> Vec<(f64, f64)> {
        plan.curve
            .iter()
            .filter_map(|p| f(p).map(|y| (f64::from(p.servers), y)))
            .collect()
    };
    let (lo, hi) = match (plan.curve.first(), plan.curve.last()) {
        (Some(a), Some(b)) => (f64::from(a.servers), f64::from(b.servers)),
        _ => (f64::from(plan.servers), f64::from(plan.servers)),
    };
    let mut plots = Vec::new();
    let mut lat = Vec::new();
    let targets: Vec<(String, f64)> = plan
        .curve
        .first()
        .map(|p| p.targets.iter().map(|t| (t.key.clone(), t.max_s)).collect())
        .unwrap_or_default();
    for (i, (key, max_s)) in targets.iter().enumerate() {
        let value =
            move |p: &crate::drivers::plan::CurvePoint| p.targets.get(i).and_then(|t| t.mean_s);
        let upper =
            move |p: &crate::drivers::plan::CurvePoint| p.targets.get(i).and_then(|t| t.upper_s);
        lat.push(series(
            &format!("{key} mean"),
            xs(&value),
            SeriesStyle::Line,
            false,
        ));
        lat.push(series(
            &format!("{key} upper 95%"),
            xs(&upper),
            SeriesStyle::Points,
            false,
        ));
        lat.push(series(
            &format!("{key} target"),
            vec![(lo, *max_s), (hi, *max_s)],
            SeriesStyle::Line,
            true,
        ));
    }
    plots.push(Plot {
        title: "Latency targets against server count".into(),
        x_label: "servers".into(),
        y_label: "seconds (log)".into(),
        series: lat,
        log_y: true,
        x_axis: XAxis::Integer,
    });
    plots.push(Plot {
        title: "Idle rate against server count".into(),
        x_label: "servers".into(),
        y_label: "idle rate".into(),
        series: vec![
            series(
                "achieved (time idle)",
                xs(&|p| p.achieved_idle_rate),
                SeriesStyle::Line,
                false,
            ),
            series(
                "equivalent (same cost in the formula)",
                xs(&|p| p.equivalent_idle_rate),
                SeriesStyle::Line,
                false,
            ),
            series(
                "assumed by the formula",
                vec![(lo, plan.assumed_idle_rate), (hi, plan.assumed_idle_rate)],
                SeriesStyle::Line,
                true,
            ),
        ],
        log_y: false,
        x_axis: XAxis::Integer,
    });
    plots.push(Plot {
        title: "Cost per request against server count".into(),
        x_label: "servers".into(),
        y_label: "USD per request (cloud)".into(),
        series: vec![
            series(
                "simulated",
                xs(&|p| p.cost_per_request_usd),
                SeriesStyle::Line,
                false,
            ),
            series(
                "R1 formula estimate",
                xs(&|p| p.formula_cost_per_request_usd),
                SeriesStyle::Line,
                true,
            ),
        ],
        log_y: false,
        x_axis: XAxis::Integer,
    });

    // Queue fleets have no formula estimate or equivalent idle rate: leave those series out.
    for p in &mut plots {
        p.series.retain(|s| !s.points.is_empty());
    }
    // The chosen count, as a dashed vertical line across each plot's data.
    let chosen = f64::from(plan.servers);
    for p in &mut plots {
        let ys = || {
            p.series
                .iter()
                .flat_map(|s| s.points.iter().map(|q| q.1))
                .filter(|y| y.is_finite() && (!p.log_y || *y > 0.0))
        };
        let (y0, y1) = (
            ys().fold(f64::INFINITY, f64::min),
            ys().fold(f64::NEG_INFINITY, f64::max),
        );
        if y0 <= y1 {
            p.series.push(series(
                &format!("chosen: {} servers", plan.servers),
                vec![(chosen, y0), (chosen, y1)],
                SeriesStyle::Line,
                true,
            ));
        }
    }
    tables.extend(summary_tables(
        &plan.summary,
        &format!("At {} servers: ", plan.servers),
    ));
    plots.extend(summary_plots(&plan.summary));
    ReportData {
        title: format!("fleetsim plan: {}", plan.scenario),
        subtitle: format!(
            "{} servers meet every target · seed {} · {} replications per count · fleetsim {}",
            plan.servers, plan.seed, plan.replications, plan.fleetsim_version
        ),
        tables,
        plots,
    }
}

/// Whether the series' positive values span more than two decades: one unstable point (a
/// queue that grew for the whole run) would then flatten every other point on a linear axis,
/// so the plot uses a log axis instead.
fn spans_decades(series: &[Series]) -> bool {
    let ys = || {
        series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.1))
            .filter(|y| y.is_finite() && *y > 0.0)
    };
    let lo = ys().fold(f64::INFINITY, f64::min);
    let hi = ys().fold(f64::NEG_INFINITY, f64::max);
    lo.is_finite() && hi / lo > 100.0
}

/// The report of a sweep: the table of points, and against the first varied key (when it is
/// numeric) latency, idle rates and cost per request, one line per combination of the other
/// keys.
pub fn sweep_report(
    grid: &crate::drivers::sweep::Grid,
    rows: &[serde_json::Map<String, Value>],
) -> ReportData {
    let keys: Vec<String> = grid.axes.iter().map(|a| a.key.clone()).collect();
    let cols: Vec<&str> = crate::drivers::sweep::ROW_LEAVES
        .iter()
        .copied()
        .filter(|c| rows.iter().any(|r| r.contains_key(*c)))
        .collect();
    let cell = |v: Option<&Value>| match v {
        Some(Value::Number(n)) => n
            .as_f64()
            .map(|x| {
                format!("{x:.6}")
                    .trim_end_matches('0')
                    .trim_end_matches('.')
                    .to_string()
            })
            .unwrap_or_default(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Bool(b)) => b.to_string(),
        _ => String::new(),
    };
    let table = Table {
        title: "Points (means over replications)".into(),
        headers: keys
            .iter()
            .map(String::as_str)
            .chain(cols.iter().copied())
            .map(str::to_string)
            .collect(),
        rows: rows
            .iter()
            .map(|r| {
                keys.iter()
                    .map(|k| cell(r.get(k)))
                    .chain(cols.iter().map(|c| cell(r.get(*c))))
                    .collect()
            })
            .collect(),
    };
    let mut plots = Vec::new();
    if let Some(x_key) = keys.first()
        && rows
            .iter()
            .all(|r| r.get(x_key).is_some_and(Value::is_number))
    {
        // One series per combination of the other keys, in grid order.
        let mut groups: Vec<(String, Vec<&serde_json::Map<String, Value>>)> = Vec::new();
        for r in rows {
            let label = keys[1..]
                .iter()
                .map(|k| format!("{k}={}", cell(r.get(k))))
                .collect::<Vec<_>>()
                .join(", ");
            match groups.iter_mut().find(|(l, _)| *l == label) {
                Some((_, g)) => g.push(r),
                None => groups.push((label, vec![r])),
            }
        }
        let series_for = |metric: &str, suffix: &str| -> Vec<Series> {
            groups
                .iter()
                .map(|(label, g)| Series {
                    name: [label.as_str(), suffix]
                        .iter()
                        .filter(|s| !s.is_empty())
                        .copied()
                        .collect::<Vec<_>>()
                        .join(" "),
                    points: g
                        .iter()
                        .filter_map(|r| Some((r.get(x_key)?.as_f64()?, r.get(metric)?.as_f64()?)))
                        .collect(),
                    style: SeriesStyle::Line,
                    dashed: false,
                })
                .filter(|s| !s.points.is_empty())
                .collect()
        };
        let latency = ["latency_s.ttft.p99", "latency_s.e2e.p99"]
            .into_iter()
            .find(|m| rows.iter().any(|r| r.contains_key(*m)))
            .unwrap_or("latency_s.e2e.p99");
        let lat = series_for(latency, "");
        let log_y = spans_decades(&lat);
        plots.push(Plot {
            title: format!("{latency} against {x_key}"),
            x_label: x_key.clone(),
            y_label: if log_y { "seconds (log)" } else { "seconds" }.into(),
            series: lat,
            log_y,
            x_axis: XAxis::Linear,
        });
        let mut idle = series_for("idle_rate.achieved", "achieved");
        idle.extend(series_for("idle_rate.equivalent", "equivalent"));
        let xs: Vec<f64> = rows.iter().filter_map(|r| r.get(x_key)?.as_f64()).collect();
        let (lo, hi) = xs
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| {
                (a.min(x), b.max(x))
            });
        if lo.is_finite() {
            idle.push(Series {
                name: "assumed (R1)".into(),
                points: vec![(lo, 0.2), (hi, 0.2)],
                style: SeriesStyle::Line,
                dashed: true,
            });
        }
        plots.push(Plot {
            title: format!("Idle rate against {x_key}"),
            x_label: x_key.clone(),
            y_label: "fraction".into(),
            series: idle,
            log_y: false,
            x_axis: XAxis::Linear,
        });
        plots.push(Plot {
            title: format!("Cloud cost per request against {x_key}"),
            x_label: x_key.clone(),
            y_label: "USD".into(),
            series: series_for("cost.cloud.per_request_usd", ""),
            log_y: false,
            x_axis: XAxis::Linear,
        });
    }
    ReportData {
        title: format!("fleetsim sweep: {}", grid.scenario),
        subtitle: format!(
            "{} points · varied: {} · fleetsim {}",
            rows.len(),
            keys.join(", "),
            env!("CARGO_PKG_VERSION")
        ),
        tables: vec![table],
        plots,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_runaway_point_switches_to_a_log_axis() {
        let s = |ys: &[f64]| {
            vec![series(
                "x",
                ys.iter().enumerate().map(|(i, &y)| (i as f64, y)).collect(),
                SeriesStyle::Line,
                false,
            )]
        };
        assert!(!spans_decades(&s(&[0.5, 0.8, 1.2])));
        assert!(spans_decades(&s(&[0.5, 0.8, 300.0])));
        assert!(!spans_decades(&s(&[0.0, f64::NAN])));
    }
}
