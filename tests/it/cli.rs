//! The command line: bad input gives a clear message and exit code 2, results folders are
//! written whole and never overwritten.

use std::fs;
use std::path::Path;

use assert_cmd::Command;
use predicates::str::contains;

use crate::support::root;

const GOOD: &str = r#"
[run]
seed = 3
[traffic]
requests_per_s = 5.0
duration_s = 100.0
warmup_s = 10.0
[servers]
kind = "queue"
count = 2
service_time_s = { dist = "exponential", mean = 0.2 }
"#;

fn fleetsim(dir: &Path) -> Command {
    let mut c = Command::cargo_bin("fleetsim").unwrap();
    c.current_dir(dir);
    c
}

fn write(dir: &Path, name: &str, text: &str) {
    fs::write(dir.join(name), text).unwrap();
}

/// Runs `fleetsim run <file>` on `text` and expects exit code 2 and every fragment in stderr.
fn expect_bad(text: &str, fragments: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "bad.toml", text);
    let mut a = fleetsim(dir.path())
        .args(["run", "bad.toml"])
        .assert()
        .code(2);
    for f in fragments {
        a = a.stderr(contains(*f));
    }
    assert!(
        !dir.path().join("results").join("bad").exists(),
        "no results for a bad scenario"
    );
}

#[test]
fn unknown_key_names_file_key_and_line() {
    let text = GOOD.replace("count = 2", "count = 2\nspeed = 3");
    expect_bad(
        &text,
        &[
            "bad.toml",
            "unknown field `speed`",
            "line 11",
            "expected one of",
        ],
    );
}

#[test]
fn wrong_type_is_reported() {
    expect_bad(
        &GOOD.replace("count = 2", "count = \"two\""),
        &["bad.toml", "count", "line"],
    );
}

#[test]
fn missing_file_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    fleetsim(dir.path())
        .args(["run", "nope.toml"])
        .assert()
        .code(2)
        .stderr(contains("nope.toml: cannot read the scenario file"));
}

#[test]
fn zero_or_negative_rates_and_durations_are_refused() {
    expect_bad(
        &GOOD.replace("requests_per_s = 5.0", "requests_per_s = 0.0"),
        &[
            "bad.toml",
            "key `traffic.requests_per_s`",
            "must be a positive number",
        ],
    );
    expect_bad(
        &GOOD.replace("duration_s = 100.0", "duration_s = -5.0"),
        &["bad.toml", "key `traffic.duration_s`", "positive"],
    );
}

#[test]
fn hit_rate_outside_unit_interval_is_refused() {
    let text = format!("{GOOD}\n[cache]\nkind = \"bernoulli\"\nhit_rate = 1.5\n");
    expect_bad(&text, &["key `cache.hit_rate`", "between 0 and 1", "1.5"]);
}

#[test]
fn zero_servers_are_refused() {
    expect_bad(
        &GOOD.replace("count = 2", "count = 0"),
        &["key `servers.count`", "at least 1"],
    );
}

#[test]
fn warmup_longer_than_the_run_is_refused() {
    expect_bad(
        &GOOD.replace("warmup_s = 10.0", "warmup_s = 200.0"),
        &["key `traffic.warmup_s`", "shorter than the run"],
    );
}

#[test]
fn bad_override_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "s.toml", GOOD);
    fleetsim(dir.path())
        .args(["run", "s.toml", "--set", "nonsense"])
        .assert()
        .code(2)
        .stderr(contains("expected key=value"));
    fleetsim(dir.path())
        .args(["run", "s.toml", "--set", "traffic.speed=3"])
        .assert()
        .code(2)
        .stderr(contains("unknown field `speed`"));
}

#[test]
fn runs_write_new_folders_and_never_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "s.toml", GOOD);
    fleetsim(dir.path())
        .args(["run", "s.toml"])
        .assert()
        .success()
        .stdout(contains("results/s/run-0001"));
    fleetsim(dir.path())
        .args(["run", "s.toml"])
        .assert()
        .success()
        .stdout(contains("results/s/run-0002"));
    let a = fs::read(dir.path().join("results/s/run-0001/summary.json")).unwrap();
    let b = fs::read(dir.path().join("results/s/run-0002/summary.json")).unwrap();
    assert_eq!(a, b, "same scenario and seed, same bytes");
    for f in ["summary.json", "summary.csv", "scenario.resolved.toml"] {
        assert!(
            dir.path().join("results/s/run-0001").join(f).exists(),
            "{f}"
        );
    }
    // No temporary folders are left behind.
    let leftovers: Vec<_> = fs::read_dir(dir.path().join("results/s"))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with('.'))
        .collect();
    assert!(leftovers.is_empty());

    // --out into a non-empty folder is refused; into a fresh one it works.
    fleetsim(dir.path())
        .args(["run", "s.toml", "--out", "results/s/run-0001"])
        .assert()
        .code(2)
        .stderr(contains("not empty"));
    fleetsim(dir.path())
        .args(["run", "s.toml", "--out", "fresh"])
        .assert()
        .success();
    assert_eq!(fs::read(dir.path().join("fresh/summary.json")).unwrap(), a);
}

#[test]
fn resolved_scenario_reproduces_the_run() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "s.toml", GOOD);
    fleetsim(dir.path())
        .args(["run", "s.toml", "--out", "first", "--servers", "3"])
        .assert()
        .success();
    fleetsim(dir.path())
        .args(["run", "first/scenario.resolved.toml", "--out", "second"])
        .assert()
        .success();
    assert_eq!(
        fs::read(dir.path().join("first/summary.json")).unwrap(),
        fs::read(dir.path().join("second/summary.json")).unwrap()
    );
    let resolved = fs::read_to_string(dir.path().join("first/scenario.resolved.toml")).unwrap();
    assert!(
        resolved.contains("count = 3") && resolved.contains("replications = 1"),
        "{resolved}"
    );
}

#[test]
fn json_flag_prints_the_contract_keys() {
    let out = fleetsim(&root())
        .args([
            "run",
            "workloads/validation/mmc.toml",
            "--duration-s",
            "2000",
            "--set",
            "traffic.warmup_s=200",
            "--replications",
            "3",
            "--json",
            "--out",
        ])
        .arg(tempfile::tempdir().unwrap().path().join("o"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for key in [
        "scenario",
        "seed",
        "fleetsim_version",
        "servers",
        "replications",
        "stable",
        "requests",
        "latency_s",
        "idle_rate",
        "utilization",
        "throughput_per_s",
        "ci95",
    ] {
        assert!(v.get(key).is_some(), "summary.json lacks {key}");
    }
    for m in ["e2e", "queue_wait", "service"] {
        for s in ["mean", "p50", "p90", "p95", "p99", "p999", "max"] {
            assert!(v["latency_s"][m][s].is_number(), "latency_s.{m}.{s}");
        }
    }
    assert!(v["ci95"]["latency_s"]["e2e"]["p99"].is_number());
    for k in ["arrived", "completed", "cache_hits", "in_flight"] {
        assert!(v["requests"][k].is_number());
    }
    for k in ["achieved", "per_server_min", "per_server_max"] {
        assert!(v["idle_rate"][k].is_number());
    }
}

#[test]
fn trace_stats_prints_the_prefix_hit_fraction() {
    // Reference (traces/README.md): Mooncake conversation trace, block LRU of 10k blocks,
    // token hit fraction 0.215.
    let traces = std::env::var("FLEETSIM_TRACES")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| root().join("../shared/traces"));
    let file = traces.join("mooncake_fast25/conversation_trace.jsonl");
    assert!(
        file.exists(),
        "{} is missing: set FLEETSIM_TRACES to the shared traces folder (this test must not be skipped)",
        file.display()
    );
    let out = fleetsim(&root())
        .arg("trace-stats")
        .arg(&file)
        .args(["--prefix-cache-blocks", "10000", "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let f = v["prefix_hit_fraction"].as_f64().unwrap();
    assert!((f - 0.215).abs() < 0.01, "{f}");
    assert_eq!(v["requests"], 12031);
}
