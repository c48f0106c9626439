//! The exporters over one run: each format shows the typed summary's figures, and the
//! terminal table and `report.html` format each figure the same way.

use fleetsim::drivers::run::run;
use fleetsim::report::export::{Csv, Exporter, Html, Json, Table};
use fleetsim::report::figures as fig;
use serde_json::Value;

use crate::support::load;

#[test]
fn every_exporter_shows_the_summarys_figures() {
    let s = load(
        "validation/mmc.toml",
        &[
            "traffic.duration_s=2000.0",
            "traffic.warmup_s=200.0",
            "run.replications=3",
        ],
    );
    let out = run(&s, Some(1));
    let text = |b: Vec<u8>| String::from_utf8(b).unwrap();
    let table = text(Table.serialize(&out).unwrap());
    let html = text(Html.serialize(&out).unwrap());
    let csv = text(Csv.serialize(&out).unwrap());
    let json: Value = serde_json::from_slice(&Json.serialize(&out).unwrap()).unwrap();

    // One cell text per figure, in the terminal and in the report alike.
    for f in [
        fig::THROUGHPUT,
        fig::UTILIZATION,
        fig::IDLE_MIN,
        fig::COMPLETED,
    ] {
        let cell = f.mean_ci(&out.summary);
        assert!(cell.contains(" ± "), "{}: {cell}", f.key);
        assert!(table.contains(&cell), "{}: {cell} not in\n{table}", f.key);
        assert!(html.contains(&cell), "{}: {cell} not in the report", f.key);
    }
    let e2e_p99 = fig::latency(
        &out.summary,
        fleetsim::metrics::replication::LatencyMetric::E2e,
        fleetsim::metrics::replication::LatencyStat::P99,
    )
    .unwrap()
    .mean_ci(4);
    assert!(
        table.contains(&e2e_p99) && html.contains(&e2e_p99),
        "{e2e_p99}"
    );

    // JSON holds the means, and their half-widths under ci95, at the figures' paths.
    let m = &out.summary.means;
    assert_eq!(json["throughput_per_s"].as_f64(), Some(m.throughput_per_s));
    assert_eq!(
        json["ci95"]["latency_s"]["e2e"]["p99"].as_f64(),
        out.summary.ci95.latency_s.e2e.p99
    );
    assert_eq!(json["replications"], 3);

    // CSV: a header and one row per replication, averaging to the summary's mean.
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 1 + 3, "{csv}");
    let col = lines[0]
        .split(',')
        .position(|c| c == "throughput_per_s")
        .expect("a throughput column");
    let mean = lines[1..]
        .iter()
        .map(|l| l.split(',').nth(col).unwrap().parse::<f64>().unwrap())
        .sum::<f64>()
        / 3.0;
    assert!(
        (mean - m.throughput_per_s).abs() <= 1e-9 * m.throughput_per_s,
        "{mean} vs {}",
        m.throughput_per_s
    );
}

/// A disaggregated run's report shows its pools and KV link (issue 17), with the figures the
/// terminal prints; a colocated run's report has no pools table.
#[test]
fn the_report_of_a_split_fleet_shows_its_pools_and_link() {
    let sets = [
        "traffic.duration_s=300.0",
        "traffic.warmup_s=30.0",
        "run.replications=1",
    ];
    let out = run(&load("disaggregated-chat.toml", &sets), Some(1));
    let text = |b: Vec<u8>| String::from_utf8(b).unwrap();
    let html = text(Html.serialize(&out).unwrap());
    let table = text(Table.serialize(&out).unwrap());
    let d = out
        .summary
        .means
        .disaggregated
        .as_ref()
        .expect("a disaggregated section");
    assert!(html.contains("Pools (disaggregated)") && html.contains("KV link"));
    for usd in [d.prefill.usd_per_hour, d.decode.usd_per_hour] {
        let cell = format!("{usd:.2}");
        assert!(
            html.contains(&cell) && table.contains(&format!("${cell}/h")),
            "{cell} in the report and the terminal"
        );
    }
    let cell = format!("{:.4}", d.transfer_s.p99);
    assert!(
        html.contains(&cell) && table.contains(&cell),
        "transfer p99 {cell}"
    );
    let colocated = run(&load("llama7b-plan.toml", &sets), Some(1));
    let html = text(Html.serialize(&colocated).unwrap());
    assert!(!html.contains("Pools (disaggregated)"));
}
