//! Fuzzing the scenario loader and the `--set`/`--vary` parsers (issue 11): random TOML
//! documents and overrides built from the real key set, plus random bytes. No input may
//! panic or take long; every rejection is a [`ScenarioError`] (exit 2) with a message naming
//! the file or the override; every accepted scenario runs a short simulation without panic.
//!
//! `cargo test` runs a few hundred cases; `FLEETSIM_FUZZ_CASES=20000 cargo test --test it
//! fuzz` runs more.

use std::path::Path;
use std::time::{Duration, Instant};

use fleetsim::scenario::{self, Overrides, ScenarioError};
use proptest::prelude::*;
use proptest::test_runner::Config;

/// Every key a scenario may hold (from `scenario::raw`), dotted.
const KEYS: &[&str] = &[
    "name",
    "description",
    "run.seed",
    "run.replications",
    "run.max_queue",
    "traffic.arrival",
    "traffic.requests_per_s",
    "traffic.requests_per_day",
    "traffic.duration_s",
    "traffic.warmup_s",
    "traffic.profile",
    "traffic.hourly_weights",
    "traffic.rates_csv",
    "traffic.start_hour",
    "traffic.path",
    "traffic.format",
    "traffic.rate_scale",
    "traffic.timestamp_column",
    "traffic.input_column",
    "traffic.output_column",
    "traffic.timestamp_unit_s",
    "traffic.loop",
    "servers.kind",
    "servers.count",
    "servers.slots",
    "servers.service_time_s",
    "servers.hardware",
    "servers.gpus_per_server",
    "servers.tensor_parallel",
    "servers.batching",
    "servers.max_batch",
    "servers.max_batch_tokens",
    "servers.chunked_prefill",
    "servers.mem_util",
    "servers.activation_reserve_bytes",
    "servers.compute_memory_overlap",
    "servers.prefix_cache",
    "servers.prefix_cache_fraction",
    "servers.gpu.name",
    "servers.gpu.hbm_bytes",
    "servers.gpu.hbm_bw_bytes_per_s",
    "servers.gpu.peak_flops",
    "servers.gpu.nvlink_bw_bytes_per_s",
    "servers.gpu.tdp_w",
    "servers.efficiency.mbu",
    "servers.efficiency.mfu",
    "servers.efficiency.alpha",
    "servers.efficiency.beta_s",
    "servers.efficiency.allreduce_latency_s",
    "router.policy",
    "cache.kind",
    "cache.hit_rate",
    "cache.hit_latency_s",
    "cache.zipf_s",
    "cache.distinct_queries",
    "cache.capacity",
    "cache.ttl_s",
    "model.preset",
    "model.name",
    "model.params",
    "model.layers",
    "model.hidden",
    "model.heads",
    "model.kv_heads",
    "model.bytes_per_param",
    "model.weight_bytes",
    "model.compression",
    "request.input_tokens",
    "request.output_tokens",
    "request.rounds",
    "request.think_time_s",
    "request.system_prompt_tokens",
    "cost.cloud_preset",
    "cost.cloud_usd_per_server_hour",
    "cost.assumed_idle_rate",
    "cost.assumed_cache_hit_rate",
    "cost.assumed_mfu",
    "cost.server_capex_usd",
    "cost.years",
    "cost.power_kw",
    "cost.power_draw_fraction",
    "cost.pue",
    "cost.usd_per_kwh",
    "cost.hosting_usd_per_rack_month",
    "cost.servers_per_rack",
    "autoscale.min_servers",
    "autoscale.max_servers",
    "autoscale.target_utilization",
    "autoscale.sequences_per_replica",
    "autoscale.scale_out_delay_s",
    "autoscale.scale_in_cooldown_s",
    "autoscale.interval_s",
    "slo.ttft_p99_s",
    "slo.tpot_mean_s",
    "slo.e2e_p50_s",
    "slo.queue_wait_p90_s",
    "slo.bogus_s",
];

/// A small queue scenario and a small LLM scenario to start from.
const BASES: [&str; 2] = [
    r#"
[run]
seed = 5
[traffic]
requests_per_s = 2.0
duration_s = 200.0
[servers]
kind = "queue"
count = 2
service_time_s = { dist = "exponential", mean = 0.5 }
"#,
    r#"
[traffic]
requests_per_s = 2.0
duration_s = 60.0
[servers]
kind = "llm"
count = 1
gpus_per_server = 1
tensor_parallel = 1
[model]
preset = "llama-2-7b"
[request]
input_tokens = { dist = "fixed", value = 500 }
output_tokens = { dist = "fixed", value = 50 }
"#,
];

/// TOML values: ordinary, edge and hostile.
fn value() -> impl Strategy<Value = String> {
    let number = prop_oneof![
        (0i64..100).prop_map(|n| n.to_string()),
        Just("0".to_string()),
        Just("-1".to_string()),
        Just("4294967295".to_string()),
        Just("4294967296".to_string()),
        Just("9223372036854775807".to_string()),
        Just("18446744073709551616".to_string()),
        Just("1000000".to_string()),
        (-10.0f64..1e4).prop_map(|x| format!("{x:?}")),
        Just("0.0".to_string()),
        Just("1e12".to_string()),
        Just("1e300".to_string()),
        Just("-1.5".to_string()),
        Just("nan".to_string()),
        Just("inf".to_string()),
        Just("-inf".to_string()),
    ];
    let word = prop_oneof![
        Just("poisson"),
        Just("diurnal"),
        Just("trace"),
        Just("trace-poisson"),
        Just("llm"),
        Just("queue"),
        Just("lru"),
        Just("bernoulli"),
        Just("none"),
        Just("/etc/passwd"),
        Just("/dev/zero"),
        Just("/proc/self/environ"),
        Just("."),
        Just("../../etc/shadow"),
        Just("$FLEETSIM_TRACES/azure_llm_2023/AzureLLMInferenceTrace_code.csv"),
        Just("$FLEETSIM_TRACES/mooncake_fast25/conversation_trace.jsonl"),
        Just("csv"),
        Just("mooncake"),
        Just("azure-2023"),
        Just("a100-80gb"),
        Just("h100-80gb"),
        Just("llama-2-7b"),
        Just("llama-2-70b"),
        Just("gpt3-175b"),
        Just("static"),
        Just("continuous"),
        Just("round-robin"),
        Just("prefix-affinity"),
        Just("central-queue"),
        Just("human"),
        Just("flat"),
        Just(""),
    ]
    .prop_map(|w| format!("{w:?}"));
    let dist = (number.clone(), number.clone()).prop_flat_map(|(a, b)| {
        prop_oneof![
            Just(format!("{{ dist = \"fixed\", value = {a} }}")),
            Just(format!("{{ dist = \"exponential\", mean = {a} }}")),
            Just(format!("{{ dist = \"uniform\", low = {a}, high = {b} }}")),
            Just(format!("{{ dist = \"lognormal\", mean = {a}, cv = {b} }}")),
            Just(format!("{{ dist = \"gamma\", mean = {a}, cv = {b} }}")),
            Just(format!(
                "{{ dist = \"empirical\", values = [{a}, {b}], weights = [1, 0] }}"
            )),
            Just(format!(
                "{{ dist = \"empirical\", values = [], weights = [{a}] }}"
            )),
        ]
    });
    prop_oneof![
        4 => number,
        3 => word,
        2 => dist,
        1 => Just("true".to_string()),
        1 => Just("[1.0, 2.0]".to_string()),
        1 => Just(format!("[{}]", vec!["1.0"; 24].join(", "))),
        1 => Just("{}".to_string()),
        1 => "[a-z0-9_.-]{0,12}",
        1 => "\\PC{0,16}",
    ]
}

/// `key=value` overrides over the real keys, sometimes with a broken key.
fn override_arg() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => (prop::sample::select(KEYS), value()).prop_map(|(k, v)| format!("{k}={v}")),
        1 => "\\PC{0,30}",
        1 => (prop::sample::select(KEYS), value()).prop_map(|(k, v)| format!("{k}.x.={v}")),
    ]
}

fn cases(default: u32) -> u32 {
    std::env::var("FLEETSIM_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Loads `text` with `sets`; checks the outcome; runs a short simulation of an accepted
/// scenario when it is small.
fn check(text: &str, sets: &[String]) {
    let t0 = Instant::now();
    let o = Overrides { set: sets.to_vec() };
    match scenario::parse(text, Path::new("fuzz.toml"), &o) {
        Err(e) => {
            let m = e.to_string();
            let named = match &e {
                ScenarioError::Override { .. } => m.starts_with("override `"),
                _ => m.starts_with("fuzz.toml: "),
            };
            assert!(named && m.len() > 12, "a rejection names its source: {m:?}");
        }
        Ok(mut s) => {
            // The resolved file must load again (a run is reproducible from its folder).
            let resolved = s.to_resolved_toml();
            assert!(!resolved.starts_with("# could not"), "{resolved}");
            s.run.replications = 1;
            s.traffic.duration_s = s.traffic.duration_s.min(30.0);
            s.traffic.warmup_s = s.traffic.duration_s * 0.1;
            let rounds = s.request.as_ref().map_or(1, |r| r.rounds);
            let work = s.traffic.requests_per_s * s.traffic.duration_s * f64::from(rounds);
            if work <= 2_000.0 && s.servers.count <= 64 && s.traffic.records().is_none() {
                let out = fleetsim::drivers::run::run(&s, Some(1));
                assert_eq!(out.summary.replications, s.run.replications as usize);
            }
        }
    }
    assert!(
        t0.elapsed() < Duration::from_secs(20),
        "took {:?}: {text}\n{sets:?}",
        t0.elapsed()
    );
}

proptest! {
    #![proptest_config(Config { cases: cases(192), failure_persistence: None, ..Config::default() })]

    /// A valid base with random overrides (the `--set` path and validation).
    #[test]
    fn random_overrides_never_panic(base in 0usize..2, sets in prop::collection::vec(override_arg(), 1..6)) {
        check(BASES[base], &sets);
    }

    /// Random documents: keys of the real schema with random values, written as TOML.
    #[test]
    fn random_documents_never_panic(pairs in prop::collection::vec((prop::sample::select(KEYS), value()), 0..14)) {
        let mut text = String::new();
        let mut sections: std::collections::BTreeMap<&str, Vec<String>> = Default::default();
        for (k, v) in &pairs {
            let (table, key) = k.rsplit_once('.').unwrap_or(("", k));
            sections.entry(table).or_default().push(format!("{key} = {v}"));
        }
        for (table, lines) in &sections {
            if !table.is_empty() {
                text.push_str(&format!("[{table}]\n"));
            }
            for l in lines {
                text.push_str(l);
                text.push('\n');
            }
        }
        check(&text, &[]);
    }

    /// Random bytes, and a valid file with lines dropped or doubled.
    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..400), base in 0usize..2, drop in prop::collection::vec(any::<bool>(), 12)) {
        check(&String::from_utf8_lossy(&bytes), &[]);
        let mutated: String = BASES[base]
            .lines()
            .zip(drop.iter().cycle())
            .map(|(l, &d)| if d { String::new() } else { format!("{l}\n{l}\n") })
            .collect();
        check(&mutated, &[]);
    }

    /// `--vary` specifications: never a panic; an accepted axis has 1 to the bound values.
    #[test]
    fn random_vary_specs_never_panic(key in prop::sample::select(KEYS), spec in prop_oneof![
        value(),
        (value(), value(), value()).prop_map(|(a, b, c)| format!("{a}..{b}:{c}")),
        (value(), value()).prop_map(|(a, b)| format!("{a},{b}")),
        "\\PC{0,30}",
    ]) {
        if let Ok(axis) = fleetsim::drivers::sweep::parse_vary(&format!("{key}={spec}")) {
            prop_assert!(!axis.values.is_empty());
            prop_assert!(axis.values.len() <= fleetsim::drivers::sweep::MAX_AXIS_VALUES);
        }
    }
}
