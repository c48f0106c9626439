//! Trace replay through the workload: each Azure trace reproduces its request count, mean rate
//! and token percentiles from `SUMMARY_STATS.json`; the Poisson twin keeps the mean rate.

use std::path::{Path, PathBuf};

use fleetsim::scenario::{self, Overrides, Scenario};
use fleetsim::trace::percentile_linear;
use fleetsim::workload::Workload;
use serde_json::Value;

use crate::support::root;

fn traces() -> PathBuf {
    let dir = std::env::var_os("FLEETSIM_TRACES")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("../shared/traces"));
    assert!(
        dir.join("SUMMARY_STATS.json").exists(),
        "the public traces are missing at {} (set FLEETSIM_TRACES); these tests must not be skipped",
        dir.display()
    );
    dir
}

fn replay_scenario(file: &str, arrival: &str) -> Scenario {
    let path = traces().join(file);
    let text = format!(
        "name = \"replay\"\n[traffic]\narrival = \"{arrival}\"\npath = \"{}\"\n\
         duration_s = 4000\nwarmup_s = 0\n\
         [servers]\nkind = \"llm\"\ncount = 1\n[model]\npreset = \"llama-2-7b\"\n\
         [router]\npolicy = \"round-robin\"\n",
        path.display()
    );
    scenario::parse(&text, Path::new("replay.toml"), &Overrides::default())
        .unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn azure_traces_replay_with_their_published_statistics() {
    let stats: Value = serde_json::from_str(
        &std::fs::read_to_string(traces().join("SUMMARY_STATS.json")).unwrap(),
    )
    .unwrap();
    for file in [
        "azure_llm_2023/AzureLLMInferenceTrace_code.csv",
        "azure_llm_2023/AzureLLMInferenceTrace_conv.csv",
    ] {
        let want = &stats[file];
        let s = replay_scenario(file, "trace");
        let mut w = Workload::new(&s, 1);
        let (mut times, mut input, mut output) = (Vec::new(), Vec::new(), Vec::new());
        while let Some(r) = w.next_request() {
            times.push(r.arrival.as_secs_f64());
            input.push(f64::from(r.input_tokens));
            output.push(f64::from(r.output_tokens));
        }
        assert_eq!(times.len() as u64, want["rows"].as_u64().unwrap(), "{file}");
        let rate = (times.len() - 1) as f64 / (times.last().unwrap() - times[0]);
        let want_rate = want["mean_arrival_rate_rps"].as_f64().unwrap();
        assert!(
            (rate - want_rate).abs() < 1e-3 * want_rate,
            "{file}: rate {rate}"
        );
        input.sort_by(f64::total_cmp);
        output.sort_by(f64::total_cmp);
        for (side, sorted) in [("input_tokens", &input), ("output_tokens", &output)] {
            for (q, key) in [(50.0, "median"), (90.0, "p90"), (99.0, "p99")] {
                let got = percentile_linear(sorted, q);
                let exp = want[side][key].as_f64().unwrap();
                assert!(
                    (got - exp).abs() <= 1e-6 * exp.max(1.0),
                    "{file} {side} {key}: {got} vs {exp}"
                );
            }
        }
    }
}

#[test]
fn the_poisson_twin_keeps_the_mean_rate_and_loses_the_bursts() {
    let file = "azure_llm_2023/AzureLLMInferenceTrace_code.csv";
    let s = replay_scenario(file, "trace-poisson");
    let mut w = Workload::new(&s, 1);
    let mut times = Vec::new();
    while let Some(r) = w.next_request() {
        times.push(r.arrival.as_secs_f64());
    }
    let rate = times.len() as f64 / 4000.0;
    assert!((rate / 2.566 - 1.0).abs() < 0.05, "twin rate {rate}");
    let gaps: Vec<f64> = times.windows(2).map(|p| p[1] - p[0]).collect();
    let mean = gaps.iter().sum::<f64>() / gaps.len() as f64;
    let sd = (gaps.iter().map(|g| (g - mean).powi(2)).sum::<f64>() / gaps.len() as f64).sqrt();
    assert!((sd / mean - 1.0).abs() < 0.05, "Poisson CV {}", sd / mean);
}

#[test]
fn a_missing_trace_file_is_a_clear_error() {
    let err = scenario::parse(
        "[traffic]\narrival = \"trace\"\npath = \"nope.csv\"\nduration_s = 10\n\
         [servers]\nkind = \"queue\"\ncount = 1\nservice_time_s = { dist = \"fixed\", value = 1.0 }\n",
        Path::new("dir/t.toml"),
        &Overrides::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("t.toml") && err.contains("traffic.path") && err.contains("nope.csv"),
        "{err}"
    );
}

#[test]
fn a_generic_csv_trace_replays_and_bad_lines_name_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("mine.csv");
    std::fs::write(
        &csv,
        "ms,prompt,answer\r\n0,100,10\r\n500,200,20\r\n1500,300,30",
    )
    .unwrap();
    let scenario = |path: &Path| {
        format!(
            "[traffic]\narrival = \"trace\"\npath = \"{}\"\nformat = \"csv\"\n\
             timestamp_column = \"ms\"\ninput_column = \"prompt\"\noutput_column = \"answer\"\n\
             timestamp_unit_s = 0.001\nduration_s = 10\nwarmup_s = 0\n\
             [servers]\nkind = \"llm\"\ncount = 1\n[model]\npreset = \"llama-2-7b\"\n\
             [router]\npolicy = \"round-robin\"\n",
            path.display()
        )
    };
    let s = scenario::parse(
        &scenario(&csv),
        Path::new("csv.toml"),
        &Overrides::default(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let mut w = Workload::new(&s, 1);
    let mut got = Vec::new();
    while let Some(r) = w.next_request() {
        got.push((r.arrival.as_secs_f64(), r.input_tokens, r.output_tokens));
    }
    assert_eq!(got, vec![(0.0, 100, 10), (0.5, 200, 20), (1.5, 300, 30)]);
    assert!((s.traffic.requests_per_s - 2.0 / 1.5).abs() < 1e-9);

    std::fs::write(&csv, "ms,prompt,answer\n0,100,10\n500,lots,20\n").unwrap();
    let err = scenario::parse(
        &scenario(&csv),
        Path::new("csv.toml"),
        &Overrides::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("csv.toml") && err.contains("mine.csv") && err.contains('3'),
        "{err}"
    );
}
