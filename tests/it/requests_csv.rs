//! `fleetsim run --requests-csv`: one row per measured request, the same bytes whatever the
//! thread count, and rows that agree with the summary.

use assert_cmd::Command;

use crate::support::root;

fn run(args: &[&str], out: &std::path::Path) -> serde_json::Value {
    let o = Command::cargo_bin("fleetsim")
        .unwrap()
        .current_dir(root())
        .arg("run")
        .args(args)
        .args(["--requests-csv", "--json", "--out"])
        .arg(out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap()
}

#[test]
fn one_row_per_measured_request_whatever_the_threads() {
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "workloads/llama7b-plan.toml",
        "--servers",
        "6",
        "--set",
        "traffic.duration_s=120",
        "--set",
        "traffic.warmup_s=20",
    ];
    let one = dir.path().join("one");
    let v = run(&[&args[..], &["--threads", "1"]].concat(), &one);
    let two = dir.path().join("two");
    run(&[&args[..], &["--threads", "2"]].concat(), &two);
    let text = std::fs::read_to_string(one.join("requests.csv")).unwrap();
    assert_eq!(
        text,
        std::fs::read_to_string(two.join("requests.csv")).unwrap()
    );
    // No staging folder is left beside the results.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);

    let mut lines = text.lines();
    assert_eq!(
        lines.next().unwrap(),
        "replication,arrival_s,queue_wait_s,ttft_s,tpot_s,e2e_s,input_tokens,output_tokens,replica,cache_hit"
    );
    let rows: Vec<Vec<f64>> = lines
        .map(|l| {
            l.split(',')
                .map(|c| c.parse().unwrap_or(f64::NAN))
                .collect()
        })
        .collect();
    let num = |v: &serde_json::Value| v.as_f64().expect("a number");
    let reps = num(&v["replications"]);
    assert_eq!(rows.len() as f64, num(&v["requests"]["completed"]) * reps);
    let replicas = num(&v["llm"]["replicas"]);
    for r in &rows {
        let (arrival, wait, ttft, e2e) = (r[1], r[2], r[3], r[5]);
        assert!((20.0..=120.0).contains(&arrival), "{r:?}");
        assert!(0.0 <= wait && wait <= ttft && ttft <= e2e, "{r:?}");
        assert!(r[8] >= 0.0 && r[8] < replicas && r[9] == 0.0, "{r:?}");
    }
    // The rows' mean e2e is the summary's (hdrhistogram keeps 3 significant digits).
    let mean = rows.iter().map(|r| r[5]).sum::<f64>() / rows.len() as f64;
    let summary = num(&v["latency_s"]["e2e"]["mean"]);
    assert!((mean / summary - 1.0).abs() < 0.01, "{mean} vs {summary}");
}

#[test]
fn queue_servers_and_cache_hits_leave_llm_cells_empty() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r");
    let v = run(
        &[
            "workloads/validation/mmc.toml",
            "--set",
            "traffic.duration_s=2000.0",
            "--set",
            "traffic.warmup_s=200.0",
            "--replications",
            "2",
            "--set",
            "cache.kind=\"bernoulli\"",
            "--set",
            "cache.hit_rate=0.3",
        ],
        &out,
    );
    let text = std::fs::read_to_string(out.join("requests.csv")).unwrap();
    let rows: Vec<&str> = text.lines().skip(1).collect();
    let completed = v["requests"]["completed"].as_f64().expect("a number");
    assert_eq!(rows.len() as f64, completed * 2.0);
    let hits = rows.iter().filter(|r| r.ends_with(",1")).count() as f64;
    assert_eq!(hits, v["requests"]["cache_hits"].as_f64().unwrap() * 2.0);
    let hit = rows.iter().find(|r| r.ends_with(",1")).unwrap();
    assert_eq!(hit.split(',').filter(|c| c.is_empty()).count(), 6, "{hit}");
    let served = rows.iter().find(|r| r.ends_with(",0")).unwrap();
    let cells: Vec<&str> = served.split(',').collect();
    assert!(
        cells[3].is_empty() && cells[4].is_empty() && !cells[8].is_empty(),
        "{served}"
    );
    // Replication 0's rows come first.
    assert!(rows[0].starts_with("0,") && rows[rows.len() - 1].starts_with("1,"));
}
