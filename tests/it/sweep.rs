//! `fleetsim sweep` and `fleetsim merge`: `--vary` parsing, thread-count independence, and
//! shards run as separate processes merging to the unsharded sweep's bytes.

use std::fs;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use fleetsim::drivers::sweep::{SweepError, parse_vary};
use predicates::str::contains;
use serde_json::json;

use crate::support::root;

/// A small grid on the M/M/8 scenario: 2 x 2 points of 10 short replications.
const GRID: &[&str] = &[
    "--vary",
    "servers.count=8..9",
    "--vary",
    "traffic.requests_per_s=6,7.2",
    "--set",
    "traffic.duration_s=2000",
    "--set",
    "traffic.warmup_s=200",
];

fn fleetsim(dir: &Path) -> Command {
    let mut c = Command::cargo_bin("fleetsim").unwrap();
    c.current_dir(dir);
    // A test run inside a Slurm job array must not shard by accident.
    for v in [
        "SLURM_ARRAY_TASK_ID",
        "SLURM_ARRAY_TASK_COUNT",
        "SLURM_ARRAY_TASK_MIN",
        "SLURM_ARRAY_TASK_STEP",
    ] {
        c.env_remove(v);
    }
    c
}

fn mmc() -> PathBuf {
    root().join("workloads/validation/mmc.toml")
}

/// Runs `fleetsim sweep mmc.toml GRID extra... --out <dir>/<out>`; returns the folder.
fn sweep(dir: &Path, out: &str, extra: &[&str]) -> PathBuf {
    fleetsim(dir)
        .arg("sweep")
        .arg(mmc())
        .args(GRID)
        .args(extra)
        .args(["--out", out])
        .assert()
        .success();
    dir.join(out)
}

fn read(p: PathBuf) -> Vec<u8> {
    fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn vary_parses_ranges_lists_and_strings() {
    let v = |s: &str| parse_vary(s).unwrap_or_else(|e| panic!("{s}: {e}"));
    let a = v("servers.count=10..50:10");
    assert_eq!(a.key, "servers.count");
    assert_eq!(
        a.values,
        vec![json!(10), json!(20), json!(30), json!(40), json!(50)]
    );
    // The end is included only when a step lands on it; no step means 1.
    assert_eq!(v("k=1..10:4").values, vec![json!(1), json!(5), json!(9)]);
    assert_eq!(v("k=3..5").values, vec![json!(3), json!(4), json!(5)]);
    assert_eq!(v("k=5..1:-2").values, vec![json!(5), json!(3), json!(1)]);
    // Float ranges stay floats, rounded to the decimals written, end included despite rounding.
    assert_eq!(
        v("cache.hit_rate=0..1:0.1").values,
        (0..=10).map(|k| json!(k as f64 / 10.0)).collect::<Vec<_>>()
    );
    assert_eq!(
        v("k=0.5..2:0.5").values,
        vec![json!(0.5), json!(1.0), json!(1.5), json!(2.0)]
    );
    assert_eq!(
        v("k=0,0.3,0.6").values,
        vec![json!(0), json!(0.3), json!(0.6)]
    );
    assert_eq!(
        v("router.policy=round-robin, \"least-loaded\",true").values,
        vec![json!("round-robin"), json!("least-loaded"), json!(true)]
    );
    assert_eq!(v("k=7").values, vec![json!(7)]);
}

#[test]
fn vary_rejects_bad_specs() {
    let bad = |s: &str, fragment: &str| match parse_vary(s) {
        Err(e @ SweepError::Vary { .. }) => {
            let m = e.to_string();
            assert!(m.contains(fragment), "{s}: {m:?} lacks {fragment:?}");
        }
        other => panic!("{s}: expected a --vary error, got {other:?}"),
    };
    bad("servers.count", "expected key=values");
    bad("=1,2", "dotted names");
    bad("a..b=1", "dotted names");
    bad("k=", "no values");
    bad("k=1,,2", "value 2 of the list is empty");
    bad("k=1..10:0", "must not be 0");
    bad("k=10..1:2", "range is empty");
    bad("k=0..1.5", "needs a step");
    bad("k=0..x:1", "end `x` is not a number");
    bad("k=0..1e9:1", "more than");
}

#[test]
fn bad_vary_value_exits_2_naming_key_and_value() {
    let dir = tempfile::tempdir().unwrap();
    fleetsim(dir.path())
        .arg("sweep")
        .arg(mmc())
        .args(["--vary", "servers.count=8,0", "--out", "out"])
        .assert()
        .code(2)
        .stderr(contains("--vary servers.count: value 0"))
        .stderr(contains("must be at least 1"));
    fleetsim(dir.path())
        .arg("sweep")
        .arg(mmc())
        .args(["--vary", "servers.count=1..4:0", "--out", "out"])
        .assert()
        .code(2)
        .stderr(contains("must not be 0"));
    assert!(
        !dir.path().join("out").exists(),
        "no results for a bad sweep"
    );
}

#[test]
fn sweep_is_identical_with_1_and_2_threads() {
    let dir = tempfile::tempdir().unwrap();
    let one = sweep(dir.path(), "t1", &["--threads", "1"]);
    let two = sweep(dir.path(), "t2", &["--threads", "2"]);
    for f in ["sweep.csv", "sweep.json", "grid.json"] {
        assert!(
            read(one.join(f)) == read(two.join(f)),
            "{f} differs between 1 and 2 threads"
        );
    }
    let rows: serde_json::Value = serde_json::from_slice(&read(one.join("sweep.json"))).unwrap();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 4);
    // Grid order, first flag slowest.
    let keys: Vec<(i64, f64)> = rows
        .iter()
        .map(|r| {
            (
                r["servers.count"].as_i64().unwrap(),
                r["traffic.requests_per_s"].as_f64().unwrap(),
            )
        })
        .collect();
    assert_eq!(keys, vec![(8, 6.0), (8, 7.2), (9, 6.0), (9, 7.2)]);
    assert_eq!(rows[3]["servers"], json!(9));
    assert!(rows[0]["ci95.latency_s.e2e.p99"].as_f64().unwrap() > 0.0);
    let csv = String::from_utf8(read(one.join("sweep.csv"))).unwrap();
    assert!(csv.starts_with("point,servers.count,traffic.requests_per_s,stable,"));
    assert_eq!(csv.lines().count(), 5);
    // Never overwritten.
    fleetsim(dir.path())
        .arg("sweep")
        .arg(mmc())
        .args(GRID)
        .args(["--out", "t1"])
        .assert()
        .code(2)
        .stderr(contains("never overwritten"));
}

#[test]
fn shards_in_separate_processes_merge_to_the_unsharded_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let whole = sweep(dir.path(), "whole", &[]);
    // Shard 3 of 3 is given through Slurm's variables (a 1-based --array=1-3), the others by flag.
    sweep(dir.path(), "s1", &["--shard", "1/3"]);
    sweep(dir.path(), "s2", &["--shard", "2/3", "--threads", "1"]);
    fleetsim(dir.path())
        .arg("sweep")
        .arg(mmc())
        .args(GRID)
        .args(["--out", "s3"])
        .env("SLURM_ARRAY_TASK_ID", "3")
        .env("SLURM_ARRAY_TASK_COUNT", "3")
        .env("SLURM_ARRAY_TASK_MIN", "1")
        .assert()
        .success()
        .stdout(contains("shard 3/3: 1 of 4 points"));
    let shard3 = dir.path().join("s3/shard-0003-of-0003.json");
    assert!(shard3.exists());
    // Folders and files may be mixed.
    fleetsim(dir.path())
        .args(["merge", "s1", "s2"])
        .arg(&shard3)
        .args(["--out", "merged"])
        .assert()
        .success();
    let merged = dir.path().join("merged");
    for f in ["sweep.csv", "sweep.json", "grid.json"] {
        assert!(
            read(whole.join(f)) == read(merged.join(f)),
            "merged {f} differs from the unsharded sweep's"
        );
    }
}

#[test]
fn merge_refuses_missing_overlapping_or_foreign_shards() {
    let dir = tempfile::tempdir().unwrap();
    sweep(dir.path(), "a1", &["--shard", "1/2"]);
    sweep(dir.path(), "a2", &["--shard", "2/2"]);
    let merge = |args: &[&str], fragment: &str| {
        fleetsim(dir.path())
            .arg("merge")
            .args(args)
            .args(["--out", "m"])
            .assert()
            .code(2)
            .stderr(contains(fragment.to_string()));
        assert!(!dir.path().join("m").exists());
    };
    merge(
        &["a1"],
        "2 of 4 points are missing (points 1, 3); shards not given: 2/2",
    );
    merge(&["a1", "a2", "a2/shard-0002-of-0002.json"], "appears twice");
    // The same grid split another way overlaps shard 1/2.
    sweep(dir.path(), "b1", &["--shard", "1/4"]);
    merge(&["a1", "a2", "b1"], "point 0 appears twice");
    // A different grid (another seed) is refused.
    sweep(dir.path(), "c2", &["--shard", "2/2", "--seed", "7"]);
    merge(&["a1", "c2"], "come from different grids");
    merge(&["nope.json"], "nope.json");
}

/// Issue 17: a sweep over a split fleet's decode pool carries the pools' utilisation, the
/// decode batch and the KV link per point (with half-widths); a colocated sweep has none of
/// those columns.
#[test]
fn a_split_fleet_sweep_shows_the_pools_per_point() {
    let dir = tempfile::tempdir().unwrap();
    fleetsim(dir.path())
        .arg("sweep")
        .arg(root().join("workloads/disaggregated-chat.toml"))
        .args(["--vary", "servers.decode.count=1,2"])
        .args([
            "--set",
            "traffic.duration_s=300",
            "--set",
            "traffic.warmup_s=30",
        ])
        .args(["--set", "run.replications=2", "--out", "split"])
        .assert()
        .success();
    let rows: serde_json::Value =
        serde_json::from_slice(&read(dir.path().join("split/sweep.json"))).unwrap();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 2);
    let u = |r: &serde_json::Value, k: &str| {
        r[k].as_f64()
            .unwrap_or_else(|| panic!("{k} missing in {r}"))
    };
    for r in rows {
        for k in [
            "disaggregated.prefill.utilization",
            "disaggregated.decode.utilization",
            "disaggregated.link_utilization",
        ] {
            assert!((0.0..=1.0).contains(&u(r, k)), "{k} = {}", u(r, k));
        }
        assert!(u(r, "disaggregated.decode.mean_batch") >= 1.0);
        assert!(u(r, "disaggregated.transfer_s.p99") > 0.0);
        assert!(u(r, "ci95.disaggregated.decode.utilization") >= 0.0);
    }
    // A second decode server splits the decodes: smaller batches on each replica (its
    // replicas stay busy either way, so utilisation barely moves).
    let (one, two) = (
        u(&rows[0], "disaggregated.decode.mean_batch"),
        u(&rows[1], "disaggregated.decode.mean_batch"),
    );
    assert!(
        two < 0.75 * one,
        "decode batch {one} with 1 server, {two} with 2"
    );
    let csv = String::from_utf8(read(dir.path().join("split/sweep.csv"))).unwrap();
    assert!(
        csv.lines()
            .next()
            .unwrap()
            .contains("disaggregated.decode.utilization")
    );
    let colocated = sweep(dir.path(), "colocated", &["--threads", "1"]);
    let csv = String::from_utf8(read(colocated.join("sweep.csv"))).unwrap();
    assert!(!csv.contains("disaggregated"));
}
