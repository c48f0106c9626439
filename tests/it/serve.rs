//! `fleetsim serve`: the API in-process (tower's `oneshot` on the router), the limiter, and a
//! bounded load test over loopback.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use assert_cmd::Command;
use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use fleetsim::http::{AppState, Limiter, ServeConfig, router, serve_on};
use fleetsim::report::results::summary_json;
use fleetsim::scenario::{self, Overrides};
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::support::root;

/// A small M/M/1 run: about 2 x 0.5 x 2,000 = 2,000 simulated requests.
const SMALL: [&str; 3] = [
    "traffic.duration_s=2000.0",
    "traffic.warmup_s=100.0",
    "run.replications=2",
];

fn config() -> ServeConfig {
    ServeConfig {
        workloads: root().join("workloads"),
        ..ServeConfig::default()
    }
}

fn app(config: ServeConfig) -> (Router, Arc<AppState>) {
    let state = AppState::new(config);
    (router(state.clone()), state)
}

async fn call(
    app: &Router,
    method: &str,
    path: &str,
    body: String,
) -> (StatusCode, String, String) {
    let req = Request::builder()
        .method(method)
        .uri(path)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body))
        .expect("a valid request");
    let resp = app
        .clone()
        .oneshot(req)
        .await
        .expect("the router is infallible");
    let status = resp.status();
    let ctype = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .expect("body");
    (status, ctype, String::from_utf8_lossy(&bytes).into_owned())
}

fn error_of(body: &str) -> String {
    let v: Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"));
    v["error"].as_str().unwrap_or_default().to_string()
}

fn mm1_text() -> String {
    std::fs::read_to_string(root().join("workloads/validation/mm1-rho05.toml")).expect("mm1")
}

/// `fleetsim <args>` run in a temp dir; (exit ok, stdout, stderr).
fn cli(args: &[&str]) -> (bool, String, String) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = Command::cargo_bin("fleetsim")
        .expect("binary")
        .current_dir(tmp.path())
        .args(args)
        .output()
        .expect("runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn healthz_page_and_scenarios() {
    let (app, _) = app(config());
    let (s, ctype, body) = call(&app, "GET", "/healthz", String::new()).await;
    assert_eq!(s, StatusCode::OK);
    assert!(ctype.starts_with("application/json"));
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["status"],
        "ok"
    );

    let (s, ctype, body) = call(&app, "GET", "/", String::new()).await;
    assert_eq!(s, StatusCode::OK);
    assert!(ctype.starts_with("text/html"));
    assert!(
        body.contains("/api/run") && !body.contains("https://"),
        "self-contained page"
    );

    let (s, _, body) = call(&app, "GET", "/api/scenarios", String::new()).await;
    assert_eq!(s, StatusCode::OK);
    let list: Vec<Value> = serde_json::from_str(&body).unwrap();
    let bing = list
        .iter()
        .find(|v| v["name"] == "bing-search")
        .expect("bing-search listed");
    assert!(bing["description"].as_str().unwrap().contains("R1"));
    assert!(bing["toml"].as_str().unwrap().contains("[servers]"));
    assert!(list.iter().any(|v| v["name"] == "validation/mm1-rho05"));

    let (s, _, _) = call(&app, "GET", "/nope", String::new()).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn run_returns_the_cli_summary_bytes() {
    let (app, _) = app(config());
    // Inline TOML with overrides, against the library's serialisation.
    let body = json!({ "scenario_toml": mm1_text(), "overrides": SMALL }).to_string();
    let (s, ctype, api) = call(&app, "POST", "/api/run", body).await;
    assert_eq!(s, StatusCode::OK, "{api}");
    assert_eq!(ctype, "application/json");
    let o = Overrides {
        set: SMALL.iter().map(|s| s.to_string()).collect(),
    };
    let sc = scenario::parse(&mm1_text(), Path::new("x.toml"), &o).unwrap();
    let lib = summary_json(&fleetsim::drivers::run::run(&sc, Some(1)).summary);
    assert_eq!(api, lib);

    // By name, against the CLI's own stdout.
    let body = json!({ "scenario": "validation/mm1-rho05", "overrides": SMALL }).to_string();
    let (s, _, by_name) = call(&app, "POST", "/api/run", body).await;
    assert_eq!(s, StatusCode::OK, "{by_name}");
    let file = root().join("workloads/validation/mm1-rho05.toml");
    let mut args = vec!["run", file.to_str().unwrap(), "--json", "--out", "r"];
    for set in SMALL {
        args.extend(["--set", set]);
    }
    let (ok, stdout, stderr) = cli(&args);
    assert!(ok, "{stderr}");
    assert_eq!(by_name, stdout, "API and CLI summary.json differ");
}

#[tokio::test]
async fn scenario_as_json_structure_runs() {
    let (app, _) = app(config());
    let table: toml::Table = toml::from_str(&mm1_text()).unwrap();
    let body = json!({ "scenario": table, "overrides": SMALL }).to_string();
    let (s, _, out) = call(&app, "POST", "/api/run", body).await;
    assert_eq!(s, StatusCode::OK, "{out}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["scenario"], "mm1-rho05");
}

#[tokio::test]
async fn bad_scenario_is_400_with_the_cli_message() {
    let (app, _) = app(config());
    let file = root().join("workloads/validation/mm1-rho05.toml");
    for set in ["servers.count=0", "traffic.nonsense=1", "servers=3"] {
        let body = json!({ "scenario": "validation/mm1-rho05", "overrides": [set] }).to_string();
        let (s, _, out) = call(&app, "POST", "/api/run", body).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{set}: {out}");
        let (ok, _, stderr) = cli(&["run", file.to_str().unwrap(), "--set", set]);
        assert!(!ok);
        assert_eq!(
            format!("Error: {}\n", error_of(&out)),
            stderr,
            "{set}: API and CLI messages differ"
        );
    }
    // Inline text: the message names `<inline scenario>` and toml's line.
    let body = json!({ "scenario_toml": "name = \"x\"\n[traffic]\nrequests_per_s = \"fast\"\n" })
        .to_string();
    let (s, _, out) = call(&app, "POST", "/api/run", body).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(error_of(&out).starts_with("<inline scenario>: "), "{out}");

    // Not JSON, unknown field, unknown name, nothing at all.
    for body in [
        "scenario = 1".to_string(),
        json!({ "scenario_tomll": "" }).to_string(),
        json!({ "scenario": "../Cargo" }).to_string(),
        String::new(),
    ] {
        let (s, ctype, out) = call(&app, "POST", "/api/run", body.clone()).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{body}: {out}");
        assert!(ctype.starts_with("application/json"));
        assert!(!error_of(&out).is_empty());
    }
}

#[tokio::test]
async fn file_keys_are_refused() {
    let (app, _) = app(config());
    let text = format!("{}\n[trace]\npath = \"/etc/passwd\"\n", mm1_text());
    let (s, _, out) = call(
        &app,
        "POST",
        "/api/run",
        json!({ "scenario_toml": text }).to_string(),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(error_of(&out).contains("key `trace.path`"), "{out}");
    // Through an override as well.
    let body =
        json!({ "scenario": "validation/mm1-rho05", "overrides": ["traffic.path=\"/etc/passwd\""] })
            .to_string();
    let (s, _, out) = call(&app, "POST", "/api/run", body).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(error_of(&out).contains("may not read files"), "{out}");
}

#[tokio::test]
async fn request_cap_is_400() {
    let (app, _) = app(ServeConfig {
        max_requests: 1000,
        ..config()
    });
    let body = json!({ "scenario": "validation/mm1-rho05", "overrides": SMALL }).to_string();
    let (s, _, out) = call(&app, "POST", "/api/run", body).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(error_of(&out).contains("at most 1000"), "{out}");
}

#[tokio::test]
async fn oversized_body_is_413() {
    let (app, _) = app(ServeConfig {
        max_body_bytes: 1024,
        ..config()
    });
    let big = json!({ "scenario_toml": format!("# {}\n{}", "x".repeat(4096), mm1_text()) });
    for path in ["/api/run", "/api/estimate"] {
        let (s, _, out) = call(&app, "POST", path, big.to_string()).await;
        assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE, "{path}: {out}");
        assert!(error_of(&out).contains("too large"));
    }
}

#[tokio::test]
async fn full_limiter_is_429() {
    let (app, state) = app(ServeConfig {
        max_concurrent: 1,
        max_waiting: 0,
        ..config()
    });
    let body = json!({ "scenario": "validation/mm1-rho05", "overrides": SMALL }).to_string();
    // Hold the only permit, as a running simulation would.
    let held = state.limiter.acquire().await.expect("a free permit");
    let req = Request::builder()
        .method("POST")
        .uri("/api/run")
        .body(Body::from(body.clone()))
        .unwrap();
    let resp = app.clone().oneshot(req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(resp.headers()[header::RETRY_AFTER], "1");
    drop(held);
    let (s, _, out) = call(&app, "POST", "/api/run", body).await;
    assert_eq!(s, StatusCode::OK, "{out}");
}

#[tokio::test]
async fn limiter_queues_then_refuses() {
    let lim = Limiter::new(1, 1);
    let first = lim.acquire().await.expect("free");
    let waiter = {
        let lim = lim.clone();
        tokio::spawn(async move { lim.acquire().await.is_ok() })
    };
    // Let the waiter take its place in line.
    while lim.waiting() == 0 {
        tokio::task::yield_now().await;
    }
    assert!(lim.acquire().await.is_err(), "line full: refused at once");
    drop(first);
    assert!(waiter.await.unwrap(), "the waiter gets the permit");
    assert_eq!(lim.waiting(), 0);
    assert_eq!(lim.available(), 1);
}

#[tokio::test]
async fn slow_run_is_504() {
    let (app, state) = app(ServeConfig {
        timeout: Duration::from_millis(1),
        max_concurrent: 1,
        ..config()
    });
    let body = json!({
        "scenario": "validation/mm1-rho05",
        "overrides": ["traffic.duration_s=200000.0", "run.replications=4"],
    })
    .to_string();
    let (s, _, out) = call(&app, "POST", "/api/run", body).await;
    assert_eq!(s, StatusCode::GATEWAY_TIMEOUT, "{out}");
    assert!(error_of(&out).contains("was cancelled"));
    // The timed-out run is cancelled: it stops at its next check and gives its permit back
    // long before its 800,000 simulated seconds would have finished.
    let t0 = Instant::now();
    while state.limiter.available() == 0 {
        assert!(
            t0.elapsed() < Duration::from_secs(5),
            "permit not released soon after the cancellation"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn estimate_matches_the_cli() {
    let (app, _) = app(config());
    let (s, ctype, all) = call(&app, "POST", "/api/estimate", "{}".into()).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(ctype, "application/json");
    let (ok, stdout, _) = cli(&["estimate", "--json"]);
    assert!(ok);
    assert_eq!(all, stdout);
    // An empty body is `{}`.
    let (s, _, empty) = call(&app, "POST", "/api/estimate", String::new()).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(empty, all);

    let (s, _, bing) = call(
        &app,
        "POST",
        "/api/estimate",
        json!({ "scenario": "bing-search" }).to_string(),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{bing}");
    let file = root().join("workloads/bing-search.toml");
    let (ok, stdout, stderr) = cli(&["estimate", file.to_str().unwrap(), "--json"]);
    assert!(ok, "{stderr}");
    assert_eq!(bing, stdout);

    // A queue scenario has no tokens to price: the CLI's message.
    let (s, _, out) = call(
        &app,
        "POST",
        "/api/estimate",
        json!({ "scenario": "validation/mm1-rho05" }).to_string(),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let file = root().join("workloads/validation/mm1-rho05.toml");
    let (ok, _, stderr) = cli(&["estimate", file.to_str().unwrap(), "--json"]);
    assert!(!ok);
    assert_eq!(format!("Error: {}\n", error_of(&out)), stderr);
}

#[tokio::test]
async fn plan_returns_the_cli_plan_json() {
    let (app, _) = app(config());
    let body = serde_json::json!({
        "scenario": "validation/mmc",
        "overrides": ["traffic.duration_s=20000.0", "traffic.warmup_s=2000.0", "run.replications=4"],
    })
    .to_string();
    let (s, _, out) = call(&app, "POST", "/api/plan", body).await;
    assert_eq!(s, StatusCode::OK, "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    // Erlang C: 9 servers give a mean wait under the scenario's 0.5 s target, 8 do not.
    assert_eq!(v["servers"], 9);
    let (s, _, out) = call(&app, "POST", "/api/plan", "{}".into()).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{out}");
}

/// One HTTP/1.1 exchange over a fresh connection: (status, body).
fn http(addr: SocketAddr, method: &str, path: &str, body: &str) -> std::io::Result<(u16, String)> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(120)))?;
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut raw = String::new();
    s.read_to_string(&mut raw)?;
    let status = raw
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = raw.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    Ok((status, body.to_string()))
}

fn rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// 200 concurrent small runs over loopback: each is answered 200 or 429, the server stays
/// up, and its memory stays bounded. Figures go to stderr (`--nocapture` shows them).
#[test]
fn load_200_concurrent_runs() {
    const CLIENTS: usize = 200;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let cfg = config();
    let (permits, waiting) = (cfg.max_concurrent, cfg.max_waiting);
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = rt.spawn(serve_on(listener, cfg, async {
        let _ = stop_rx.await;
    }));

    let body = json!({
        "scenario_toml": mm1_text(),
        "overrides": ["traffic.duration_s=400.0", "traffic.warmup_s=20.0", "run.replications=2"],
    })
    .to_string();
    let rss_before = rss_kib();
    let barrier = Arc::new(std::sync::Barrier::new(CLIENTS));
    let t0 = Instant::now();
    let clients: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let (barrier, body) = (barrier.clone(), body.clone());
            std::thread::spawn(move || {
                barrier.wait();
                http(addr, "POST", "/api/run", &body)
            })
        })
        .collect();
    let mut counts = std::collections::BTreeMap::<u16, usize>::new();
    let mut oks = std::collections::BTreeSet::new();
    for c in clients {
        let (status, body) = c.join().unwrap().expect("every request is answered");
        *counts.entry(status).or_default() += 1;
        if status == 200 {
            oks.insert(body);
        }
    }
    let wall = t0.elapsed();
    let rss_after = rss_kib();
    let (hs, hbody) = http(addr, "GET", "/healthz", "").unwrap();
    eprintln!(
        "load test: {CLIENTS} concurrent runs, {permits} permits + {waiting} waiting: \
         {counts:?} in {:.2} s; RSS {rss_before:?} -> {rss_after:?} KiB; healthz {hs} {}",
        wall.as_secs_f64(),
        hbody.trim()
    );
    assert_eq!(hs, 200);
    assert!(
        counts.keys().all(|&s| s == 200 || s == 429),
        "only 200 or 429: {counts:?}"
    );
    assert!(counts.get(&200).copied().unwrap_or(0) >= 1, "{counts:?}");
    assert!(wall < Duration::from_secs(120), "took {wall:?}");
    if let (Some(a), Some(b)) = (rss_before, rss_after) {
        assert!(b < a + 512 * 1024, "RSS grew from {a} to {b} KiB");
    }
    // Every 200 is the same summary (same scenario, same seed).
    assert_eq!(oks.len(), 1, "different answers to the same run");
    let v: Value = serde_json::from_str(oks.first().unwrap()).unwrap();
    assert_eq!(v["scenario"], "mm1-rho05");

    let _ = stop_tx.send(());
    rt.block_on(server).unwrap().unwrap();
}

#[tokio::test]
async fn a_run_reports_progress_and_can_be_cancelled() {
    let (app, _) = app(ServeConfig {
        max_requests: u64::MAX,
        ..config()
    });
    let body = json!({
        "scenario": "validation/mm1-rho05",
        "overrides": ["traffic.duration_s=100000000.0", "traffic.warmup_s=1000.0", "run.replications=2"],
        "run_id": "test-cancel-1",
    })
    .to_string();
    let runner = {
        let app = app.clone();
        tokio::spawn(async move { call(&app, "POST", "/api/run", body).await })
    };
    // Wait until the run is registered, then read its progress and cancel it.
    let t0 = Instant::now();
    loop {
        let (s, _, out) = call(&app, "GET", "/api/progress/test-cancel-1", String::new()).await;
        if s == StatusCode::OK {
            let v: serde_json::Value = serde_json::from_str(&out).unwrap();
            assert_eq!(v["replications"], 2);
            assert_eq!(v["replications_done"], 0);
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "the run never showed up"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let (s, _, _) = call(&app, "POST", "/api/cancel/test-cancel-1", String::new()).await;
    assert_eq!(s, StatusCode::OK);
    let (s, _, out) = tokio::time::timeout(Duration::from_secs(20), runner)
        .await
        .expect("the cancelled run ends quickly")
        .unwrap();
    assert_eq!(s, StatusCode::OK, "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["stable"], false);
    assert!(
        v["overload"].to_string().contains("cancelled"),
        "{}",
        v["overload"]
    );
    let (s, _, _) = call(&app, "GET", "/api/progress/test-cancel-1", String::new()).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "a finished run is forgotten");
    let bad = json!({ "scenario": "validation/mm1-rho05", "run_id": "no spaces" }).to_string();
    let (s, _, _) = call(&app, "POST", "/api/run", bad).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
}
