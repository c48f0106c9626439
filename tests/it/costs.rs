//! Costs that follow the hardware, and the first-hour conveniences: prices per GPU type and
//! count, refused mismatches, TCO per server type, fixed token counts from `--set`, and
//! `trace-stats` text and JSON.

use std::path::PathBuf;

use assert_cmd::Command;
use predicates::str::contains;

use crate::support::{load, root};

fn fleetsim() -> Command {
    let mut c = Command::cargo_bin("fleetsim").unwrap();
    c.current_dir(root());
    c
}

fn traces() -> PathBuf {
    let dir = std::env::var_os("FLEETSIM_TRACES")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("../shared/traces"));
    assert!(
        dir.exists(),
        "the public traces are missing at {} (set FLEETSIM_TRACES); this test must not be skipped",
        dir.display()
    );
    dir
}

#[test]
fn one_a100_costs_an_eighth_of_eight_at_the_same_provider() {
    let one = load("llama7b-plan.toml", &[]);
    let eight = load(
        "llama7b-plan.toml",
        &["servers.gpus_per_server=8", "servers.tensor_parallel=1"],
    );
    assert_eq!(one.cost.cloud_preset, "gcp-a2-ultragpu");
    let ratio = eight.cost.cloud_usd_per_server_hour / one.cost.cloud_usd_per_server_hour;
    assert!((ratio - 8.0).abs() < 1e-9, "{ratio}");
    // The GCP 8-GPU VM's list price, and a 1-GPU server at 1/8 of it.
    assert!((eight.cost.cloud_usd_per_server_hour - 40.550383).abs() < 1e-6);
    // Self-built follows the GPU count too: 1/8 of a DGX A100.
    let tco = |s: &fleetsim::scenario::Scenario| s.cost.tco().tco_usd_per_server_hour();
    assert!((tco(&eight) / tco(&one) - 8.0).abs() < 1e-9);
    assert_eq!(one.cost.tco_preset, "dgx-a100");
}

#[test]
fn the_default_price_follows_the_gpu() {
    let a100 = load("llama70b-chat.toml", &[]);
    let h100 = load("llama70b-chat.toml", &["servers.hardware=\"h100-80gb\""]);
    let h200 = load("llama70b-chat.toml", &["servers.hardware=\"h200\""]);
    assert_eq!(h100.cost.cloud_preset, "gcp-a3-highgpu");
    assert_eq!(h200.cost.cloud_preset, "gcp-a3-ultragpu");
    assert_eq!(h100.cost.tco_preset, "dgx-h100");
    assert_eq!(h200.cost.tco_preset, "hgx-h200");
    let price = |s: &fleetsim::scenario::Scenario| s.cost.cloud_usd_per_server_hour;
    assert!(
        price(&h100) > 2.0 * price(&a100),
        "{} {}",
        price(&h100),
        price(&a100)
    );
    assert!(price(&h200) != price(&a100) && price(&h200) != price(&h100));
    let tco = |s: &fleetsim::scenario::Scenario| s.cost.tco().tco_usd_per_server_hour();
    assert!(tco(&a100) < tco(&h100) && tco(&h100) < tco(&h200));
    // A server type for another GPU is refused; one input changed by hand is taken.
    let o = |sets: &[&str]| fleetsim::scenario::Overrides {
        set: sets.iter().map(|s| s.to_string()).collect(),
    };
    let path = root().join("workloads/llama70b-chat.toml");
    let e = fleetsim::scenario::load(&path, &o(&["cost.tco_preset=\"dgx-h100\""]))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("cost.tco_preset") && e.contains("\"dgx-a100\""),
        "{e}"
    );
    let cheap = load("llama70b-chat.toml", &["cost.server_capex_usd=150000"]);
    assert_eq!(cheap.cost.server_capex_usd, 150_000.0);
    assert_eq!(cheap.cost.power_kw, a100.cost.power_kw);
}

#[test]
fn a_mismatched_preset_is_refused_unless_the_price_is_explicit() {
    // GPU count: the Azure VM has 8 GPUs, the plan's servers have 1.
    fleetsim()
        .args(["run", "workloads/llama7b-plan.toml", "--set"])
        .arg("cost.cloud_preset=\"azure-nd96amsr-a100-v4\"")
        .assert()
        .code(2)
        .stderr(contains("llama7b-plan.toml"))
        .stderr(contains("cost.cloud_preset"))
        .stderr(contains("8-GPU servers only"))
        .stderr(contains("gcp-a2-ultragpu"));
    // GPU type: an A100 price on an H100 fleet.
    fleetsim()
        .args(["run", "workloads/llama70b-chat.toml", "--set"])
        .arg("servers.hardware=\"h100-80gb\"")
        .args(["--set", "cost.cloud_preset=\"azure-nd96amsr-a100-v4\""])
        .assert()
        .code(2)
        .stderr(contains("not hardware = \"h100-80gb\""))
        .stderr(contains("aws-p5"));
    // Explicit prices are taken as given.
    let per_gpu = load(
        "llama7b-plan.toml",
        &[
            "cost.cloud_preset=\"azure-nd96amsr-a100-v4\"",
            "cost.cloud_usd_per_gpu_hour=4.0963",
            "servers.gpus_per_server=2",
            "servers.tensor_parallel=1",
        ],
    );
    assert!((per_gpu.cost.cloud_usd_per_server_hour - 8.1926).abs() < 1e-9);
    let per_server = load(
        "llama70b-chat.toml",
        &[
            "servers.hardware=\"h100-80gb\"",
            "cost.cloud_usd_per_server_hour=50.0",
        ],
    );
    assert_eq!(per_server.cost.cloud_usd_per_server_hour, 50.0);
    assert_eq!(per_server.cost.cloud_preset, "custom");
    // Both at once is ambiguous.
    fleetsim()
        .args(["run", "workloads/llama7b-plan.toml"])
        .args(["--set", "cost.cloud_usd_per_gpu_hour=4.0"])
        .args(["--set", "cost.cloud_usd_per_server_hour=4.0"])
        .assert()
        .code(2)
        .stderr(contains("not both"));
}

#[test]
fn a_resolved_scenario_keeps_its_price() {
    let s = load(
        "llama7b-plan.toml",
        &["cost.cloud_usd_per_gpu_hour=3.0", "servers.count=3"],
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("resolved.toml");
    std::fs::write(&path, s.to_resolved_toml()).unwrap();
    let back = fleetsim::scenario::load(&path, &Default::default()).unwrap();
    assert_eq!(back.cost, s.cost);
}

#[test]
fn a_plain_number_sets_a_fixed_token_count() {
    let s = load(
        "llama7b-plan.toml",
        &["request.input_tokens=1500", "request.output_tokens=100"],
    );
    let req = s.request.as_ref().unwrap();
    assert_eq!(
        req.input_tokens,
        fleetsim::scenario::DistSpec::Fixed { value: 1500.0 }
    );
    let out = fleetsim()
        .args(["run", "workloads/llama7b-plan.toml", "--json"])
        .args(["--set", "request.input_tokens=1500"])
        .args([
            "--set",
            "traffic.duration_s=60",
            "--set",
            "traffic.warmup_s=10",
        ])
        .args(["--servers", "10", "--replications", "1", "--out"])
        .arg(tempfile::tempdir().unwrap().path().join("r"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // Every prompt is 1,500 tokens: prompt tokens per second = 1500 x requests per second
    // (within the noise of requests in flight at the window's ends).
    let per_req = v["llm"]["prefill_tokens_per_s"].as_f64().unwrap()
        / v["throughput_per_s"].as_f64().unwrap();
    assert!((per_req - 1500.0).abs() / 1500.0 < 0.1, "{per_req}");
    // Without a terminal, no progress bar reaches stderr.
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    fleetsim()
        .args(["run", "workloads/llama7b-plan.toml"])
        .args(["--set", "request.input_tokens=\"many\""])
        .assert()
        .code(2)
        .stderr(contains("request.input_tokens"))
        .stderr(contains("{ dist = \"lognormal\", mean = 1155, cv = 0.8 }"));
}

#[test]
fn trace_stats_prints_text_by_default_and_json_on_request() {
    let conv = traces().join("azure_llm_2023/AzureLLMInferenceTrace_conv.csv");
    let text = fleetsim().arg("trace-stats").arg(&conv).output().unwrap();
    assert!(text.status.success());
    let text = String::from_utf8(text.stdout).unwrap();
    // traces/README.md: 19,366 requests, inter-arrival CV 1.09, input mean 1155.
    assert!(text.contains("requests            19366"), "{text}");
    assert!(text.contains("inter-arrival CV    1.09"), "{text}");
    assert!(serde_json::from_str::<serde_json::Value>(&text).is_err());
    let json = fleetsim()
        .arg("trace-stats")
        .arg(&conv)
        .arg("--json")
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v["requests"], 19366);
}

#[test]
fn trace_stats_reads_the_servegen_aggregate() {
    let file = traces().join("servegen_derived/servegen_aggregate_rate_10min.csv");
    let text = fleetsim().arg("trace-stats").arg(&file).output().unwrap();
    assert!(
        text.status.success(),
        "{}",
        String::from_utf8_lossy(&text.stderr)
    );
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(
        text.contains("m-large:") && text.contains("hourly weights"),
        "{text}"
    );
    let json = fleetsim()
        .arg("trace-stats")
        .arg(&file)
        .arg("--json")
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let models = v.as_array().unwrap();
    assert_eq!(
        models.len(),
        5,
        "three language, one reasoning, one multimodal model"
    );
    let large = &models[0];
    assert_eq!(large["model"], "m-large");
    // 14 days of 10-minute windows.
    assert!((large["span_days"].as_f64().unwrap() - 14.0).abs() < 0.01);
    // traces/README.md (gap windows excluded): mean 195.8 and 1868 rps, 10-min peak/mean
    // 2.98 and 1.84; m-mid has 84 gap windows.
    for (m, mean, peak) in [(0, 195.8, 2.98), (1, 1868.0, 1.84)] {
        let got = models[m]["rate_rps"]["mean"].as_f64().unwrap();
        assert!((got / mean - 1.0).abs() < 0.001, "{m}: {got}");
        let got = models[m]["peak_to_mean"].as_f64().unwrap();
        assert!((got - peak).abs() < 0.006, "{m}: {got}");
    }
    assert_eq!(models[1]["gap_windows"], 84);
    let w: Vec<f64> = large["hourly_weights"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect();
    assert_eq!(w.len(), 24);
    assert!((w.iter().sum::<f64>() / 24.0 - 1.0).abs() < 0.05);
}

#[test]
fn plan_report_marks_the_chosen_count_with_legends_off_the_data() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("plan");
    let status = fleetsim()
        .args(["plan", "workloads/validation/mmc.toml"])
        .args(["--set", "traffic.duration_s=20000.0"])
        .args(["--set", "traffic.warmup_s=2000.0", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    // Erlang C picks 9 servers; every plan plot marks it, in the HTML legend.
    assert!(
        html.matches("</span> chosen: 9 servers</li>").count() >= 2,
        "chosen-count marker missing"
    );
    // Server counts are labelled as whole numbers only; the percentile axis is in nines.
    let ticks: Vec<&str> = html.lines().map(str::trim).collect();
    assert!(ticks.contains(&"9") && !ticks.contains(&"8.5"));
    assert!(ticks.contains(&"p99") && ticks.contains(&"p99.9"));
}
