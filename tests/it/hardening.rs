//! Hostile but fair input (issue 11): no file read outside what is allowed, no crash, no
//! hang, no lost or half-written result, and no exit 0 with a wrong answer.

use std::fs;
use std::path::Path;

use assert_cmd::Command;
use predicates::prelude::*;
use predicates::str::contains;

use crate::support::root;

/// `fleetsim` in `dir`.
fn fleetsim(dir: &Path) -> Command {
    let mut c = Command::cargo_bin("fleetsim").unwrap();
    c.current_dir(dir)
        .timeout(std::time::Duration::from_secs(60));
    c
}

/// A small M/M/1 scenario text (about 500 simulated requests).
const MM1: &str = r#"
name = "mm1-small"
[run]
seed = 3
[traffic]
requests_per_s = 0.5
duration_s = 1000.0
warmup_s = 100.0
[servers]
kind = "queue"
count = 1
service_time_s = { dist = "exponential", mean = 1.0 }
"#;

#[cfg(feature = "serve")]
mod serve {
    use std::sync::Arc;

    use axum::Router;
    use axum::body::Body;
    use axum::http::{Request, StatusCode, header};
    use fleetsim::http::{AppState, ServeConfig, router};
    use serde_json::{Value, json};
    use tower::ServiceExt;

    use super::*;

    pub fn config() -> ServeConfig {
        ServeConfig {
            workloads: root().join("workloads"),
            ..ServeConfig::default()
        }
    }

    pub fn app(config: ServeConfig) -> (Router, Arc<AppState>) {
        let state = AppState::new(config);
        (router(state.clone()), state)
    }

    /// POSTs `body` to `path`: (status, error text or body).
    pub async fn post(app: &Router, path: &str, body: Value) -> (StatusCode, String) {
        let req = Request::builder()
            .method("POST")
            .uri(path)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .expect("a valid request");
        let resp = app.clone().oneshot(req).await.expect("infallible");
        let status = resp.status();
        let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .expect("body");
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let err = serde_json::from_str::<Value>(&text)
            .ok()
            .and_then(|v| v["error"].as_str().map(str::to_string));
        (status, err.unwrap_or(text))
    }

    /// A file whose every line is a secret that must never come back in an answer.
    fn secret_file(dir: &Path, name: &str) -> std::path::PathBuf {
        let p = dir.join(name);
        fs::write(
            &p,
            "root:SECRET-LINE-ONE:0:0\nSECRET-LINE-TWO,xyz\nSECRET-LINE-THREE\n",
        )
        .unwrap();
        p
    }

    /// Defect 1: `traffic.rates_csv` (or any key that opens a file) outside the allowed folder
    /// is refused before it is opened, and no answer quotes a file.
    #[tokio::test]
    async fn serve_never_reads_or_quotes_files_outside_the_allowed_folder() {
        let outside = tempfile::tempdir().unwrap();
        let allowed = tempfile::tempdir().unwrap();
        let secret = secret_file(outside.path(), "shadow");
        let in_allowed = secret_file(allowed.path(), "bad-rates.csv");
        let link = allowed.path().join("link.csv");
        std::os::unix::fs::symlink(&secret, &link).unwrap();
        let s = secret.display().to_string();
        let cases: Vec<Vec<String>> = vec![
            vec![
                "traffic.arrival=\"diurnal\"".into(),
                format!("traffic.rates_csv={s:?}"),
            ],
            vec![
                "traffic.arrival=\"trace\"".into(),
                format!("traffic.path={s:?}"),
            ],
            vec![
                "traffic.arrival=\"trace-poisson\"".into(),
                format!("traffic.path={s:?}"),
                "traffic.format=\"mooncake\"".into(),
            ],
            vec![
                "traffic.arrival=\"diurnal\"".into(),
                format!("traffic.rates_csv={:?}", link.display().to_string()),
            ],
            vec![
                "traffic.arrival=\"diurnal\"".into(),
                format!(
                    "traffic.rates_csv={:?}",
                    format!("{}/../{}/shadow", allowed.path().display(), {
                        outside.path().file_name().unwrap().to_string_lossy()
                    })
                ),
            ],
            // Inside the allowed folder but not a rates file: refused without quoting it.
            vec![
                "traffic.arrival=\"diurnal\"".into(),
                format!("traffic.rates_csv={:?}", in_allowed.display().to_string()),
            ],
            vec![
                "traffic.arrival=\"trace\"".into(),
                format!("traffic.path={:?}", in_allowed.display().to_string()),
            ],
        ];
        for allowed_traces in [None, Some(allowed.path().to_path_buf())] {
            let (app, _) = app(ServeConfig {
                allowed_traces: allowed_traces.clone(),
                ..config()
            });
            for overrides in &cases {
                for route in ["/api/run", "/api/estimate", "/api/plan"] {
                    let body = json!({ "scenario_toml": MM1, "overrides": overrides });
                    let (status, err) = post(&app, route, body).await;
                    assert_eq!(
                        status,
                        StatusCode::BAD_REQUEST,
                        "{route} {overrides:?} {allowed_traces:?}: {err}"
                    );
                    assert!(!err.contains("SECRET"), "{route} {overrides:?}: {err}");
                    assert!(err.contains("traffic."), "names the key: {err}");
                }
            }
        }
    }

    /// Defect 1, the allowed case: a rates file inside the folder is read, and the validated
    /// scenario lists it in `files_read`.
    #[tokio::test]
    async fn serve_reads_an_allowed_rates_file() {
        let allowed = tempfile::tempdir().unwrap();
        let rates: String = (0..24).map(|h| format!("{h},{}\n", 1 + h % 3)).collect();
        let p = allowed.path().join("rates.csv");
        fs::write(&p, rates).unwrap();
        let (app, _) = app(ServeConfig {
            allowed_traces: Some(allowed.path().to_path_buf()),
            ..config()
        });
        let overrides = [
            "traffic.arrival=\"diurnal\"".to_string(),
            format!("traffic.rates_csv={:?}", p.display().to_string()),
        ];
        let body = json!({ "scenario_toml": MM1, "overrides": overrides });
        let (status, out) = post(&app, "/api/run", body).await;
        assert_eq!(status, StatusCode::OK, "{out}");

        let o = fleetsim::scenario::Overrides {
            set: overrides.to_vec(),
        };
        let s = fleetsim::scenario::parse(MM1, Path::new("x.toml"), &o).unwrap();
        let read = s.files_read();
        assert_eq!(read.len(), 1);
        assert_eq!(read[0].key, "traffic.rates_csv");
        assert_eq!(read[0].path, p);
    }
}

/// Defect 1 on the CLI side: a scenario cannot make validation read a device or a pipe
/// (which could block or never end): only regular files are read.
#[test]
fn rates_csv_must_be_a_regular_file() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("s.toml"), MM1).unwrap();
    fleetsim(dir.path())
        .args([
            "run",
            "s.toml",
            "--set",
            "traffic.arrival=\"diurnal\"",
            "--set",
            "traffic.rates_csv=\"/dev/zero\"",
        ])
        .assert()
        .code(2)
        .stderr(contains("traffic.rates_csv").and(contains("not a regular file")));
}

/// Writes `text` as `s.toml` in a fresh folder.
fn scenario_dir(text: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("s.toml"), text).unwrap();
    dir
}

/// Runs `fleetsim <args>` in `dir`, expects exit 2 and every fragment in stderr.
fn expect_usage(dir: &Path, args: &[&str], fragments: &[&str]) {
    let out = fleetsim(dir).args(args).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
    for f in fragments {
        assert!(err.contains(f), "{args:?}: {f:?} not in {err}");
    }
    assert!(!err.contains("panicked"), "{err}");
}

/// Defect 2: every size a user controls has an upper bound checked at validation: exit 2,
/// naming the key and the bound, instead of a failed allocation.
#[test]
fn sizes_have_bounds_checked_at_validation() {
    let dir = scenario_dir(MM1);
    let d = dir.path();
    let llm = root().join("workloads/chat-diurnal-autoscale.toml");
    let llm = llm.to_str().unwrap();
    let cases: &[(&[&str], &[&str])] = &[
        (
            &["run", "s.toml", "--replications", "1000000000"],
            &["run.replications", "10000"],
        ),
        (
            &["run", "s.toml", "--set", "run.replications=4294967295"],
            &["run.replications"],
        ),
        (
            &["run", "s.toml", "--servers", "4000000000"],
            &["servers.count", "1000000"],
        ),
        (
            &["run", "s.toml", "--set", "servers.slots=4000000000"],
            &["servers.slots", "100000"],
        ),
        (
            &[
                "run",
                "s.toml",
                "--set",
                "servers.count=100000",
                "--set",
                "servers.slots=1000",
            ],
            &["servers.slots", "10000000"],
        ),
        (
            &[
                "run",
                "s.toml",
                "--set",
                "run.max_queue=18446744073709551615",
            ],
            &["run.max_queue"],
        ),
        (
            &["run", llm, "--set", "autoscale.max_servers=4000000000"],
            &["autoscale.max_servers"],
        ),
        (
            &["run", llm, "--set", "servers.gpus_per_server=4000000000"],
            &["servers.gpus_per_server"],
        ),
        (
            &["run", llm, "--servers", "900000"],
            &["servers.count", "model replicas"],
        ),
        // Found by the fuzz test: a mean of 1e300 tokens overflowed the cost arithmetic.
        (
            &[
                "run",
                llm,
                "--set",
                "request.input_tokens={dist=\"fixed\",value=1e300}",
            ],
            &["request.input_tokens", "at most"],
        ),
        (
            &["run", llm, "--set", "autoscale.interval_s=1e-9"],
            &["autoscale.interval_s", "at least"],
        ),
        (
            &["plan", llm, "--servers-max", "0"],
            &["--servers-max 0", "between 1 and"],
        ),
        (
            &["plan", llm, "--servers-max", "4000000000"],
            &["--servers-max"],
        ),
        (
            &["run", "s.toml", "--threads", "5000"],
            &["--threads 5000", "1024"],
        ),
        (&["run", "s.toml", "--threads", "0"], &["--threads 0"]),
    ];
    for (args, fragments) in cases {
        expect_usage(d, args, fragments);
    }
    let lru = format!(
        "{MM1}[cache]\nkind = \"lru\"\ndistinct_queries = 1000\ncapacity = 1000000000000\n"
    );
    let dir = scenario_dir(&lru);
    expect_usage(
        dir.path(),
        &["run", "s.toml"],
        &["cache.capacity", "10000000"],
    );
}

/// Defect 9: `--threads` at the bound still finishes a small run promptly (the pool is no
/// larger than the work).
#[test]
fn many_threads_do_not_hang_a_small_run() {
    let dir = scenario_dir(MM1);
    let t0 = std::time::Instant::now();
    fleetsim(dir.path())
        .args(["run", "s.toml", "--threads", "1024", "--json", "--out", "o"])
        .assert()
        .success();
    assert!(
        t0.elapsed() < std::time::Duration::from_secs(30),
        "{:?}",
        t0.elapsed()
    );
}

/// Defect 3: a prompt larger than the KV memory is refused at validation (naming the key
/// and the KV capacity), for `run` and `plan`.
#[test]
fn a_request_that_never_fits_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let plan = root().join("workloads/llama7b-plan.toml");
    for cmd in ["run", "plan"] {
        expect_usage(
            dir.path(),
            &[
                cmd,
                plan.to_str().unwrap(),
                "--set",
                "request.input_tokens={dist=\"fixed\",value=1000000000}",
            ],
            &["request.input_tokens", "KV cache", "tokens"],
        );
    }
}

/// Defect 3, the run side: a replication in which no measured request completes is never
/// `stable` (its latencies are empty, not zero).
#[test]
fn nothing_completed_is_not_stable() {
    // One server busy for 1e6 s per request: nothing measured finishes in 1000 s (and too
    // few arrive for the queue-growth rule to speak first).
    let text = MM1
        .replace("requests_per_s = 0.5", "requests_per_s = 0.02")
        .replace("mean = 1.0", "mean = 1000000.0")
        .replace("exponential", "fixed")
        .replace("mean =", "value =");
    let s = fleetsim::scenario::parse(&text, Path::new("x.toml"), &Default::default()).unwrap();
    let out = fleetsim::drivers::run::run(&s, Some(1));
    assert_eq!(
        out.summary.means.requests.completed, 0.0,
        "{:?}",
        out.summary
    );
    assert!(!out.summary.stable, "{:?}", out.summary);
    let why = out.summary.overload.as_ref().map_or("", |o| o[0].as_str());
    assert!(why.contains("completed"), "{why}");
}

/// Defect 4: an LRU cache that holds every query, at 5 requests/s on one server of rate 1:
/// the queue grows (only hits complete) and the run says so, whatever the formula thinks.
#[test]
fn emergent_cache_overload_is_not_stable() {
    let text = MM1.replace("requests_per_s = 0.5", "requests_per_s = 5.0")
        + "[cache]\nkind = \"lru\"\ndistinct_queries = 100000\ncapacity = 100000\n\
           [cost]\nassumed_cache_hit_rate = 0.3\n";
    let s = fleetsim::scenario::parse(&text, Path::new("x.toml"), &Default::default()).unwrap();
    let out = fleetsim::drivers::run::run(&s, Some(1));
    assert!(!out.summary.stable, "{:?}", out.summary);
    assert!(
        out.summary.offered_load.is_none(),
        "no formula load for an emergent hit rate: {:?}",
        out.summary.offered_load
    );
    // A capacity holding every query without an assumed rate names the cache, not the cost.
    let text = text.replace("[cost]\nassumed_cache_hit_rate = 0.3\n", "");
    let e = fleetsim::scenario::parse(&text, Path::new("x.toml"), &Default::default())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("key `cache.capacity`") && e.contains("assumed_cache_hit_rate"),
        "{e}"
    );
}

/// Defect 2 on the service: the work limit counts replications x (requests + servers), so
/// a tiny duration with billions of replications or servers is refused, not run.
#[cfg(feature = "serve")]
#[tokio::test]
async fn serve_work_limit_counts_replications_and_servers() {
    use axum::http::StatusCode;
    use serde_json::json;
    let (app, _) = serve::app(serve::config());
    for overrides in [
        vec![
            "traffic.duration_s=0.001",
            "traffic.warmup_s=0.0",
            "servers.count=1000000",
            "run.replications=10",
        ],
        vec![
            "traffic.duration_s=0.001",
            "traffic.warmup_s=0.0",
            "run.replications=4294967295",
        ],
        vec!["servers.count=4000000000"],
    ] {
        let body = json!({ "scenario_toml": MM1, "overrides": overrides });
        for route in ["/api/run", "/api/plan"] {
            let (status, err) = serve::post(&app, route, body.clone()).await;
            assert_eq!(
                status,
                StatusCode::BAD_REQUEST,
                "{route} {overrides:?}: {err}"
            );
        }
    }
    // Still serving.
    let body = json!({ "scenario_toml": MM1 });
    let (status, err) = serve::post(&app, "/api/run", body).await;
    assert_eq!(status, StatusCode::OK, "{err}");
}

/// Defect 6: `trace-stats` on out-of-range timestamps is an error naming the line and the
/// value (exit 2), not a panic or an abort.
#[test]
fn trace_stats_refuses_out_of_range_timestamps() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mooncake = |t: &str| {
        format!(
            "{{\"timestamp\": 0, \"input_length\": 10, \"output_length\": 5, \"hash_ids\": [1]}}\n\
             {{\"timestamp\": {t}, \"input_length\": 10, \"output_length\": 5, \"hash_ids\": [1]}}\n"
        )
    };
    for (i, t) in ["1e30", "1e15", "1e300", "-1"].iter().enumerate() {
        let name = format!("m{i}.jsonl");
        fs::write(d.join(&name), mooncake(t)).unwrap();
        expect_usage(
            d,
            &["trace-stats", &name],
            &[&format!("{name}:2:"), "timestamp"],
        );
    }
    let azure = |ts: &str| {
        format!("TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:17:03.97,10,5\n{ts},10,5\n")
    };
    for (i, ts) in [
        "2263-01-01 00:00:00",
        "9999-12-31 23:59:59.9999999",
        "2100-01-01 00:00:00",
    ]
    .iter()
    .enumerate()
    {
        let name = format!("a{i}.csv");
        fs::write(d.join(&name), azure(ts)).unwrap();
        expect_usage(
            d,
            &["trace-stats", &name, "--format", "azure-2023"],
            &[&format!("{name}:3:")],
        );
    }
    // A scenario replaying such a trace says the same, naming the key.
    fs::write(
        d.join("m0.toml"),
        format!("{MM1}\n").replace(
            "requests_per_s = 0.5\n",
            "arrival = \"trace\"\npath = \"m0.jsonl\"\n",
        ),
    )
    .unwrap();
    expect_usage(d, &["run", "m0.toml"], &["traffic.path", "m0.jsonl:2:"]);
}

/// Defect 5: an `--out` that cannot be created is found before the simulation (exit 2,
/// naming the user's path, not a temporary folder).
#[test]
fn unwritable_out_is_refused_before_running() {
    let dir = scenario_dir(MM1);
    let d = dir.path();
    let ro = d.join("ro");
    fs::create_dir(&ro).unwrap();
    let mut perms = fs::metadata(&ro).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o555);
    fs::set_permissions(&ro, perms).unwrap();
    // Root ignores permissions: then only /proc is checked.
    let root_user = fs::create_dir(ro.join("probe")).is_ok();
    let mut outs = vec!["/proc/x".to_string(), "/proc/self/x/y".to_string()];
    if !root_user {
        outs.push(ro.join("out").display().to_string());
    }
    for out in &outs {
        for cmd in [
            vec!["run", "s.toml", "--out", out],
            vec![
                "sweep",
                "s.toml",
                "--vary",
                "servers.count=1,2",
                "--out",
                out,
            ],
        ] {
            let t0 = std::time::Instant::now();
            let o = fleetsim(d).args(&cmd).output().unwrap();
            let err = String::from_utf8_lossy(&o.stderr);
            assert_eq!(o.status.code(), Some(2), "{cmd:?}: {err}");
            assert!(err.contains(&format!("--out {out}")), "{err}");
            assert!(!err.contains(".tmp-fleetsim"), "{err}");
            assert!(t0.elapsed() < std::time::Duration::from_secs(20));
        }
    }
    let mut outs = vec![d.join("ro-results")];
    if !root_user {
        outs.push(ro.join("results"));
    }
    fs::write(d.join("ro-results"), "a file, not a folder").unwrap();
    for root in outs {
        let o = fleetsim(d)
            .args(["run", "s.toml", "--results-dir"])
            .arg(&root)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{err}");
        assert!(err.contains("--results-dir"), "{err}");
    }
}

/// Defect 5: when another run takes the same `--out` while this one runs, this one's
/// results go to a fresh sibling folder and stderr says where; nothing is overwritten.
#[test]
fn a_lost_out_race_keeps_both_results() {
    use fleetsim::report::results::{Destination, ResultFile, write_atomically};
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let first = write_atomically(
        Destination::Exact(&out),
        &[ResultFile::text("a.txt", "one")],
    )
    .unwrap();
    assert_eq!(first, out);
    // The second run checked before the first finished; it now finds the folder taken.
    let second = write_atomically(
        Destination::Exact(&out),
        &[ResultFile::text("a.txt", "two")],
    )
    .unwrap();
    assert_eq!(second, dir.path().join("out-2"));
    assert_eq!(fs::read_to_string(out.join("a.txt")).unwrap(), "one");
    assert_eq!(fs::read_to_string(second.join("a.txt")).unwrap(), "two");
}

/// Defect 10: a temporary folder left by a killed run is removed by the next run writing
/// to the same parent, but only when its process is gone.
#[test]
fn stale_temp_folders_of_dead_runs_are_removed() {
    let dir = scenario_dir(MM1);
    let d = dir.path();
    let base = d.join("results").join("mm1-small");
    fs::create_dir_all(&base).unwrap();
    // A process that has exited: its pid is free (until reused; then the folder is kept).
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let dead = child.id();
    child.wait().unwrap();
    let stale = base.join(format!(".tmp-fleetsim-{dead}"));
    fs::create_dir(&stale).unwrap();
    fs::write(stale.join("summary.json"), "{").unwrap();
    let live = base.join(format!(".tmp-fleetsim-{}", std::process::id()));
    fs::create_dir(&live).unwrap();
    let o = fleetsim(d).args(["run", "s.toml"]).output().unwrap();
    assert!(o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!stale.exists(), "stale temp folder kept: {err}");
    assert!(err.contains("removed"), "{err}");
    assert!(live.exists(), "a live process's temp folder was removed");
    assert!(base.join("run-0001").join("summary.json").exists());
}

/// Defect 7: a flood of slow clients (partial headers, or a body that never finishes) over
/// loopback does not take the server down: with a lowered connection cap and short
/// timeouts, `/healthz` keeps answering, and the slow connections are closed.
#[cfg(feature = "serve")]
#[test]
fn slow_client_flood_keeps_serve_responsive() {
    use std::io::{Read, Write};
    use std::net::TcpStream;
    use std::time::{Duration, Instant};
    const SLOW: usize = 300;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let cfg = fleetsim::http::ServeConfig {
        max_connections: 64,
        header_timeout: Duration::from_millis(500),
        body_timeout: Duration::from_millis(500),
        ..serve::config()
    };
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = rt.spawn(fleetsim::http::serve_on(listener, cfg, async {
        let _ = stop_rx.await;
    }));
    let healthz = || -> Option<Duration> {
        let t0 = Instant::now();
        let mut s = TcpStream::connect(addr).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(20))).ok()?;
        write!(
            s,
            "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        .ok()?;
        let mut out = String::new();
        s.read_to_string(&mut out).ok()?;
        out.starts_with("HTTP/1.1 200").then(|| t0.elapsed())
    };
    assert!(healthz().is_some());
    // Half send a partial header, half a header promising a body that never comes.
    let slow: Vec<TcpStream> = (0..SLOW)
        .filter_map(|i| {
            let mut s = TcpStream::connect(addr).ok()?;
            let _ = if i % 2 == 0 {
                s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            } else {
                s.write_all(b"POST /api/run HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n{")
            };
            Some(s)
        })
        .collect();
    assert!(
        slow.len() >= SLOW / 2,
        "only {} connections opened",
        slow.len()
    );
    let answered = healthz();
    assert!(
        answered.is_some_and(|t| t < Duration::from_secs(15)),
        "healthz during the flood: {answered:?}"
    );
    // The slow connections were closed by the server (read returns EOF or an answer).
    // Checked without blocking, so a server that never closes them fails in 10 s.
    let mut open: Vec<TcpStream> = slow;
    let total = open.len();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !open.is_empty() && Instant::now() < deadline {
        open.retain_mut(|s| {
            s.set_nonblocking(true).unwrap();
            let mut buf = [0u8; 4096];
            loop {
                match s.read(&mut buf) {
                    Ok(0) => return false,
                    Ok(_) => continue,
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return true,
                    Err(_) => return false,
                }
            }
        });
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        open.len() <= total / 10,
        "{} of {total} still open",
        open.len()
    );
    drop(open);
    assert!(healthz().is_some());
    let _ = stop_tx.send(());
    rt.block_on(server).unwrap().unwrap();
}

/// Defect 11: messages name the right key and say it once.
#[test]
fn messages_name_the_right_thing() {
    let dir = scenario_dir(MM1);
    let d = dir.path();
    let llm = root().join("workloads/llama7b-plan.toml");
    let llm = llm.to_str().unwrap();
    // mem_util out of range names mem_util, not tensor_parallel.
    for v in ["1.5", "0.0", "-1.0", "nan"] {
        let o = fleetsim(d)
            .args(["run", llm, "--set", &format!("servers.mem_util={v}")])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{err}");
        assert!(err.contains("key `servers.mem_util`"), "{v}: {err}");
    }
    // A read error prints the OS error once.
    let o = fleetsim(d).args(["run", "missing.toml"]).output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(err.matches("No such file").count(), 1, "{err}");
    // A scenario path that is a device or folder is refused, not read for ever.
    for p in ["/dev/zero", "."] {
        expect_usage(d, &["run", p], &["regular file"]);
    }
    // A seed beyond what TOML can hold: clap names the flag and the range; `--set` says the
    // number is too large rather than "invalid type: string".
    let o = fleetsim(d)
        .args(["run", "s.toml", "--seed", "18446744073709551616"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("--seed"), "{err}");
    for seed in ["18446744073709551616", "9223372036854775808"] {
        expect_usage(
            d,
            &["run", "s.toml", "--set", &format!("run.seed={seed}")],
            &["run.seed", "not a number a scenario can hold"],
        );
    }
    expect_usage(
        d,
        &["run", "s.toml", "--seed", "9223372036854775808"],
        &["--seed"],
    );
}

/// Defect 11: an inline scenario without `name` is named `inline`; a file whose name cannot
/// name a folder says so and asks for `name`.
#[test]
fn default_names_are_explained() {
    let text = MM1.replace("name = \"mm1-small\"\n", "");
    let s = fleetsim::scenario::parse(
        &text,
        &fleetsim::scenario::Scenario::inline_path(),
        &Default::default(),
    )
    .unwrap();
    assert_eq!(s.name, "inline");
    let e = fleetsim::scenario::parse(&text, Path::new("my scenario.toml"), &Default::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("key `name`") && e.contains("add name ="), "{e}");
}

/// Property: a results folder is complete or absent after a kill at any moment (a child
/// process killed after seeded random delays, for `run` and `sweep`).
#[test]
fn results_folder_is_complete_or_absent_after_a_kill() {
    use std::time::Duration;
    let text = MM1.replace("duration_s = 1000.0", "duration_s = 400000.0");
    let dir = scenario_dir(&text);
    let d = dir.path();
    let bin = assert_cmd::cargo::cargo_bin("fleetsim");
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15; // xorshift, fixed seed: the same delays every run
    let mut complete = 0;
    for i in 0..24 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let delay = Duration::from_millis(x % 400);
        let out = d.join(format!("out{i}"));
        let (args, files): (Vec<&str>, &[&str]) = if i % 2 == 0 {
            (
                vec!["run", "s.toml"],
                &[
                    "summary.json",
                    "summary.csv",
                    "scenario.resolved.toml",
                    "report.html",
                ],
            )
        } else {
            (
                vec!["sweep", "s.toml", "--vary", "servers.count=1..6"],
                &["sweep.csv", "sweep.json", "grid.json", "report.html"],
            )
        };
        let mut child = std::process::Command::new(&bin)
            .current_dir(d)
            .args(&args)
            .arg("--out")
            .arg(&out)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(delay);
        let _ = child.kill();
        let _ = child.wait();
        if out.exists() {
            complete += 1;
            let names: Vec<String> = fs::read_dir(&out)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            let mut want: Vec<String> = files.iter().map(|s| s.to_string()).collect();
            let mut got = names.clone();
            want.sort();
            got.sort();
            assert_eq!(got, want, "{args:?} killed after {delay:?}: {names:?}");
            let json = if i % 2 == 0 {
                "summary.json"
            } else {
                "sweep.json"
            };
            let text = fs::read_to_string(out.join(json)).unwrap();
            serde_json::from_str::<serde_json::Value>(&text)
                .unwrap_or_else(|e| panic!("{json} after a kill at {delay:?}: {e}"));
        }
    }
    // Temporary folders of the killed runs are cleaned by the next run beside them.
    fleetsim(d)
        .args(["run", "s.toml", "--out", "last"])
        .assert()
        .success();
    let left: Vec<_> = fs::read_dir(d)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with(".tmp-fleetsim-")
        })
        .collect();
    assert!(left.is_empty(), "{} temporary folders left", left.len());
    eprintln!("kill property: {complete} of 24 killed runs had finished their folder");
}

/// Beyond the list: inputs that would never advance simulated time (a hang) are refused: a
/// rate above one request per nanosecond (all absorbed by a cache, so the overload guard
/// never trips), and a looped or Poisson-twinned trace whose records share one timestamp.
#[test]
fn inputs_that_never_advance_time_are_refused() {
    let text = format!("{MM1}[cache]\nkind = \"bernoulli\"\nhit_rate = 1.0\n");
    let dir = scenario_dir(&text);
    let d = dir.path();
    expect_usage(
        d,
        &["run", "s.toml", "--set", "traffic.requests_per_s=1e300"],
        &["traffic.requests_per_s", "nanosecond"],
    );
    fs::write(
        d.join("flat.jsonl"),
        "{\"timestamp\": 5, \"input_length\": 10, \"output_length\": 5, \"hash_ids\": []}\n"
            .repeat(3),
    )
    .unwrap();
    fs::write(
        d.join("two.jsonl"),
        "{\"timestamp\": 0, \"input_length\": 10, \"output_length\": 5, \"hash_ids\": []}\n\
         {\"timestamp\": 1000, \"input_length\": 10, \"output_length\": 5, \"hash_ids\": []}\n",
    )
    .unwrap();
    let trace = |arrival: &str, file: &str, extra: &str| {
        vec![
            "run".to_string(),
            "s.toml".into(),
            "--set".into(),
            format!("traffic.arrival=\"{arrival}\""),
            "--set".into(),
            format!("traffic.path=\"{file}\""),
            "--set".into(),
            extra.into(),
        ]
    };
    for (args, key) in [
        (
            trace("trace", "flat.jsonl", "traffic.loop=true"),
            "traffic.loop",
        ),
        (
            trace("trace-poisson", "flat.jsonl", "traffic.format=\"mooncake\""),
            "traffic.path",
        ),
        (
            trace("trace", "two.jsonl", "traffic.rate_scale=1e300"),
            "traffic.rate_scale",
        ),
    ] {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        expect_usage(d, &args, &[key]);
    }
}
