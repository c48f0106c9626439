//! What `report.html` shows for a `run` and for a `plan`: the numbers as tables, and the
//! plots drawn from the same numbers beside them.

use super::figures::{self as fig, Figure, fixed};
use super::html::{Plot, ReportData, Series, SeriesStyle, Table, XAxis};
use super::table::signed;
use crate::metrics::replication::{LatencyMetric, LatencyStat};
use crate::report::outcome::PlanOutcome;
use crate::report::summary::RunSummary;

fn fmt(x: Option<f64>, digits: usize) -> String {
    fixed(x, digits)
}

fn series(name: &str, points: Vec<(f64, f64)>, style: SeriesStyle, dashed: bool) -> Series {
    Series::new(name, points, style, dashed)
}

fn subtitle(summary: &RunSummary) -> String {
    format!(
        "scenario {} · seed {} · {} servers · {} replications · stable {} · means ± 95% \
         half-widths over replications",
        summary.scenario, summary.seed, summary.servers, summary.replications, summary.stable
    )
}

/// The fleet figures of the report, in order (shown when the summary has them).
const FLEET: [Figure; 17] = [
    fig::ARRIVED,
    fig::COMPLETED,
    fig::CACHE_HITS,
    fig::THROUGHPUT,
    fig::UTILIZATION,
    fig::WAIT_PROBABILITY,
    fig::MEAN_IN_SYSTEM,
    fig::IDLE_MIN,
    fig::IDLE_MAX,
    fig::LLM[0],
    fig::LLM[1],
    fig::LLM[2],
    fig::LLM[3],
    fig::LLM[4],
    fig::LLM[5],
    fig::LLM[6],
    fig::CACHE_HIT_RATE,
];

/// The idle-rate and cost figures of the report, in order.
const COST: [Figure; 9] = [
    fig::IDLE_ASSUMED,
    fig::IDLE_TIME,
    fig::IDLE_EQUIVALENT,
    fig::CLOUD_PER_REQUEST,
    fig::CLOUD_PER_1K,
    fig::CLOUD_PER_DAY,
    fig::SELF_BUILT_PER_REQUEST,
    fig::SELF_BUILT_SHORTCUT,
    fig::FORMULA_PER_REQUEST,
];

/// The summary tables of one run: latency, fleet, idle rate and cost, cost bridge.
fn summary_tables(summary: &RunSummary, prefix: &str) -> Vec<Table> {
    let mut tables = Vec::new();
    let mut headers = vec!["latency (s)".to_string()];
    headers.extend(LatencyStat::ALL.iter().map(|s| s.name().to_string()));
    let rows =
        LatencyMetric::ALL
            .into_iter()
            .filter(|&m| summary.latency(m).is_some())
            .map(|m| {
                let mut row = vec![m.name().to_string()];
                row.extend(LatencyStat::ALL.into_iter().map(|s| {
                    fig::latency(summary, m, s).map_or_else(|| "-".into(), |r| r.mean_ci(4))
                }));
                row
            })
            .collect();
    tables.push(Table {
        title: format!("{prefix}Latency"),
        headers,
        rows,
    });
    tables.push(Table {
        title: format!("{prefix}Fleet"),
        headers: vec!["figure".into(), "value".into()],
        rows: FLEET
            .iter()
            .filter(|f| (f.read)(summary).is_some_and(|r| r.mean.is_some()))
            .map(|f| vec![f.label.to_string(), f.mean_ci(summary)])
            .collect(),
    });
    if let Some(d) = &summary.means.disaggregated {
        tables.extend(disagg_tables(d, prefix));
    }
    tables.push(Table {
        title: format!("{prefix}Idle rate and cost"),
        headers: vec!["figure".into(), "value".into()],
        rows: COST
            .iter()
            .map(|f| vec![f.label.to_string(), f.value(summary)])
            .collect(),
    });
    if let Some(b) = &summary.cost.bridge {
        let finite = |x: f64| Some(x).filter(|x| x.is_finite());
        let mut rows = vec![vec![
            "R1 formula".to_string(),
            fmt(finite(b.formula_usd), 6),
        ]];
        rows.extend(b.terms.iter().map(|t| vec![t.term.clone(), signed(t.usd)]));
        rows.push(vec![
            "simulated".to_string(),
            fmt(finite(b.simulated_usd), 6),
        ]);
        tables.push(Table {
            title: format!("{prefix}Cost bridge: formula to simulated, $/request"),
            headers: vec!["term".into(), "USD".into()],
            rows,
        });
    }
    tables
}

/// Issue 17: a disaggregated run's pools side by side, and its KV link (means over
/// replications, as the terminal prints them).
fn disagg_tables(d: &crate::metrics::disagg::DisaggMeans, prefix: &str) -> [Table; 2] {
    type Pool = crate::metrics::disagg::PoolMetrics;
    /// Label, how the figure is read from a pool, digits.
    type PoolFigure = (&'static str, fn(&Pool) -> f64, usize);
    let figures: [PoolFigure; 9] = [
        ("servers", |p| p.servers, 0),
        ("replicas", |p| p.replicas, 0),
        ("utilisation", |p| p.utilization, 3),
        ("idle rate", |p| p.idle_rate, 3),
        ("mean batch", |p| p.mean_batch, 2),
        ("KV occupancy", |p| p.kv_occupancy, 3),
        ("mean wait (s)", |p| p.wait_mean_s, 4),
        ("preemptions", |p| p.preemptions, 0),
        ("USD per hour", |p| p.usd_per_hour, 2),
    ];
    let pools = Table {
        title: format!("{prefix}Pools (disaggregated)"),
        headers: vec!["figure".into(), "prefill".into(), "decode".into()],
        rows: figures
            .iter()
            .map(|(label, read, digits)| {
                vec![
                    label.to_string(),
                    fmt(Some(read(&d.prefill)), *digits),
                    fmt(Some(read(&d.decode)), *digits),
                ]
            })
            .collect(),
    };
    let t = &d.transfer_s;
    let link = Table {
        title: format!("{prefix}KV link (prefill to decode)"),
        headers: vec!["figure".into(), "value".into()],
        rows: [
            ("transfer mean (s)", t.mean, 4),
            ("transfer p99 (s)", t.p99, 4),
            ("link wait mean (s)", d.link_wait_mean_s, 4),
            ("link utilisation", d.link_utilization, 3),
            ("GB per request", d.kv_bytes_per_request / 1e9, 3),
        ]
        .into_iter()
        .map(|(label, v, digits)| vec![label.to_string(), fmt(Some(v), digits)])
        .collect(),
    };
    [pools, link]
}

/// The plots of one run: latency percentiles per metric, and the cost bridge as a staircase.
fn summary_plots(summary: &RunSummary) -> Vec<Plot> {
    let mut plots = Vec::new();
    let lat: Vec<Series> = LatencyMetric::ALL
        .into_iter()
        .filter_map(|m| {
            let means = summary.latency(m)?;
            let pts = LatencyStat::ALL
                .into_iter()
                .filter_map(|s| Some((s.percentile()?, s.of(means))))
                .filter(|(_, y)| y.is_finite())
                .collect();
            Some(series(m.name(), pts, SeriesStyle::Line, false))
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
    plots.extend(bridge_plot(summary));
    plots
}

/// The cost bridge as a staircase from the formula to the simulation.
fn bridge_plot(summary: &RunSummary) -> Option<Plot> {
    let b = summary.cost.bridge.as_ref()?;
    let formula = Some(b.formula_usd).filter(|x| x.is_finite())?;
    // Cumulative: start at the formula, add each term; the last step is the simulation.
    let mut total = formula;
    let mut pts = vec![(0.0, total)];
    for (i, t) in b.terms.iter().enumerate() {
        total += Some(t.usd).filter(|x| x.is_finite()).unwrap_or(0.0);
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
    if b.simulated_usd.is_finite() {
        s.push(series(
            "simulated",
            vec![(0.0, b.simulated_usd), (end, b.simulated_usd)],
            SeriesStyle::Line,
            true,
        ));
    }
    // Tick names: one word per term (the table beside the plot has the full names).
    let mut names = vec!["formula".to_string()];
    names.extend(b.terms.iter().map(|t| {
        let term = t.term.as_str();
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
    Some(Plot {
        title: "Cost bridge: R1 formula to simulated".into(),
        x_label: "bridge term (each step adds the term named at its start)".into(),
        y_label: "USD per request".into(),
        series: s,
        log_y: false,
        x_axis: XAxis::Names(names),
    })
}

/// `report.html` content for a `run`.
pub fn run_report(summary: &RunSummary) -> ReportData {
    ReportData {
        title: format!("fleetsim run: {}", summary.scenario),
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
fn warnings_table(summary: &RunSummary) -> Option<Table> {
    let rows: Vec<Vec<String>> = summary.warnings().iter().map(|w| vec![w.clone()]).collect();
    (!rows.is_empty()).then(|| Table {
        title: "Steady state: warnings".into(),
        headers: vec!["warning".into()],
        rows,
    })
}

/// For diurnal runs: arrivals, busy replicas and servers paid for, by hour of day.
fn day_plot(summary: &RunSummary) -> Option<Plot> {
    let day = summary.means.day.as_ref()?;
    let series = |by_hour: &std::collections::BTreeMap<String, f64>, name: &str, dashed| Series {
        name: name.into(),
        points: (0..24)
            .filter_map(|h| {
                let y = *by_hour.get(&format!("h{h:02}"))?;
                y.is_finite().then_some((h as f64, y))
            })
            .collect(),
        style: SeriesStyle::Step,
        dashed,
    };
    Some(Plot {
        title: "Through the day (hour of day, UTC from traffic.start_hour)".into(),
        x_label: "hour of day".into(),
        y_label: "per second / count".into(),
        series: vec![
            series(&day.arrivals_per_s, "arrivals per second", false),
            series(&day.busy_replicas, "busy replicas", false),
            series(&day.servers_paid, "servers paid for", true),
        ],
        log_y: false,
        x_axis: XAxis::Integer,
    })
}

/// `report.html` content for a `plan`: the answer, the curve of counts tried, plots against
/// server count, and the chosen count's full summary tables.
pub fn plan_report(plan: &PlanOutcome) -> ReportData {
    let mut tables = vec![plan_answer_table(plan), plan_curve_table(plan)];
    let mut plots = plan_plots(plan);
    mark_chosen(&mut plots, plan.servers);
    if let Some(summary) = &plan.summary {
        tables.extend(summary_tables(
            summary,
            &format!("At {} servers: ", plan.servers),
        ));
        plots.extend(summary_plots(summary));
    }
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

/// The plan's answer: the count, the targets, why one fewer fails, idle rates and costs.
fn plan_answer_table(plan: &PlanOutcome) -> Table {
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
    Table {
        title: "Plan".into(),
        headers: vec!["".into(), "".into()],
        rows: answer,
    }
}

/// One row per count tried: pass or fail, each target's interval, idle rates and costs.
fn plan_curve_table(plan: &PlanOutcome) -> Table {
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
    Table {
        title: "Counts tried (mean ± 95% half-width over replications)".into(),
        headers,
        rows,
    }
}

/// Latency targets, idle rates and cost per request against the counts tried.
fn plan_plots(plan: &PlanOutcome) -> Vec<Plot> {
    let xs = |f: &dyn Fn(&crate::report::outcome::CurvePoint) -> Option<f64>| -> Vec<(f64, f64)> {
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
            move |p: &crate::report::outcome::CurvePoint| p.targets.get(i).and_then(|t| t.mean_s);
        let upper =
            move |p: &crate::report::outcome::CurvePoint| p.targets.get(i).and_then(|t| t.upper_s);
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
    plots
}

/// Drops empty series and marks `servers` with a dashed vertical line across each plot.
fn mark_chosen(plots: &mut [Plot], servers: u32) {
    // Queue fleets have no formula estimate or equivalent idle rate: leave those series out.
    for p in plots.iter_mut() {
        p.series.retain(|s| !s.points.is_empty());
    }
    // The chosen count, as a dashed vertical line across each plot's data.
    let chosen = f64::from(servers);
    for p in plots.iter_mut() {
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
                &format!("chosen: {} servers", servers),
                vec![(chosen, y0), (chosen, y1)],
                SeriesStyle::Line,
                true,
            ));
        }
    }
}
