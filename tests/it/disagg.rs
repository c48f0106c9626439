//! Prefill/decode disaggregation (issue 17): latencies at low load against the timing model,
//! a split fleet against a colocated one of equal GPUs, the prefill pool against queueing
//! theory, the plan's JSON, determinism and the scenario keys.

use std::path::Path;

use fleetsim::drivers::run::run;
use fleetsim::metrics::LatencySummary;
use fleetsim::metrics::disagg::DisaggMeans;
use fleetsim::metrics::replication::{LatencyMetric, LlmMetrics};
use fleetsim::report::summary::RunSummary;
use fleetsim::scenario::{self, Overrides, Scenario};
use fleetsim::theory::{erlang_c, mg1_mean_wait_s};
use serde_json::Value;

/// The summary's means of latency metric `m`, which it must have.
fn lat(s: &RunSummary, m: LatencyMetric) -> &LatencySummary {
    s.latency(m)
        .unwrap_or_else(|| panic!("the summary has no {m:?}"))
}

/// The summary's `disaggregated` section, which it must have.
fn split_of(s: &RunSummary) -> &DisaggMeans {
    s.means
        .disaggregated
        .as_ref()
        .expect("the summary has a disaggregated section")
}

/// The summary's `llm` section, which it must have.
fn llm_of(s: &RunSummary) -> &LlmMetrics {
    s.means
        .llm
        .as_ref()
        .expect("the summary has an llm section")
}

/// The 95% half-width of the mean queue wait, which the summary must have.
fn queue_wait_ci(s: &RunSummary) -> f64 {
    s.latency_ci95(LatencyMetric::QueueWait)
        .and_then(|h| h.mean)
        .expect("a half-width of the mean queue wait")
}

/// A split Llama-3-70B fleet: one prefill and one decode server of 8 x A100-80GB at TP4
/// (two replicas each), fixed 2,048-token prompts and 64-token answers.
const LOW_LOAD: &str = r#"
name = "disagg-low"
[run]
seed = 3
replications = 2
[traffic]
requests_per_s = 0.05
duration_s = 4000
warmup_s = 100
[servers]
kind = "llm"
mode = "disaggregated"
hardware = "a100-80gb"
tensor_parallel = 4
[servers.prefill]
count = 1
[servers.decode]
count = 1
[servers.kv_transfer]
bandwidth_bytes_per_s = 10e9
latency_s = 0.002
overlap = false
[model]
preset = "llama-3-70b"
[request]
input_tokens = { dist = "fixed", value = 2048 }
output_tokens = { dist = "fixed", value = 64 }
"#;

fn parse(text: &str, sets: &[&str]) -> Scenario {
    let o = Overrides {
        set: sets.iter().map(|s| s.to_string()).collect(),
    };
    scenario::parse(text, Path::new("inline.toml"), &o).unwrap_or_else(|e| panic!("{e}"))
}

fn within(got: f64, want: f64, rel: f64, what: &str) {
    assert!(
        ((got - want) / want).abs() <= rel,
        "{what}: simulated {got}, expected {want} (tolerance {:.1}%)",
        rel * 100.0
    );
}

#[test]
fn at_low_load_ttft_is_prefill_plus_transfer_and_tpot_is_the_decode_step() {
    let s = parse(LOW_LOAD, &[]);
    let split = s.servers.disagg.as_deref().expect("disaggregated");
    let model = s.model.as_ref().unwrap();
    let pre = split.prefill.spec.deployment(model).unwrap();
    let dec = split.decode.spec.deployment(model).unwrap();
    let prefill_s = pre.prefill_time_s(2048);
    let wire_s = model.kv_bytes_per_token() * 2048.0 / 10e9;
    let summary = run(&s, None).summary;
    assert!(summary.stable, "{:?}", summary.overload);
    // The median request met no other: its TTFT is its prefill, the KV over the link and
    // the link's latency; its TPOT a batch-1 decode step over contexts 2,049..2,112.
    let ttft = lat(&summary, LatencyMetric::Ttft).p50;
    within(ttft, prefill_s + wire_s + 0.002, 0.02, "ttft p50");
    // The transfer is on the critical path: without it the TTFT would be > 2% off.
    assert!(
        wire_s > 0.05 * prefill_s,
        "wire {wire_s} vs prefill {prefill_s}"
    );
    within(
        split_of(&summary).transfer_s.p50,
        wire_s + 0.002,
        0.02,
        "transfer p50",
    );
    let tpot = lat(&summary, LatencyMetric::Tpot).p50;
    let (lo, hi) = (
        dec.decode_step_time_s(1, 2049),
        dec.decode_step_time_s(1, 2048 + 64),
    );
    assert!(
        tpot >= lo * 0.98 && tpot <= hi * 1.02,
        "tpot p50 {tpot} not within 2% of the decode step [{lo}, {hi}]"
    );
    // KV bytes per request: the model's KV per token times the prompt.
    within(
        split_of(&summary).kv_bytes_per_request,
        model.kv_bytes_per_token() * 2048.0,
        1e-9,
        "kv bytes",
    );

    // Streaming the KV under the prefill leaves only the last layer's share after it.
    let s = parse(LOW_LOAD, &["servers.kv_transfer.overlap=true"]);
    let summary = run(&s, None).summary;
    let last_layer = wire_s / f64::from(model.layers);
    within(
        lat(&summary, LatencyMetric::Ttft).p50,
        prefill_s + last_layer + 0.002,
        0.02,
        "ttft p50 with overlap",
    );
}

/// Llama-3-70B on 8 x A100-80GB at TP4, 4,000-token prompts: colocated on 2 servers, or
/// split 1 + 1 over an infinitely fast link.
const INTERFERENCE: &str = r#"
name = "disagg-vs-colocated"
[run]
seed = 5
replications = 2
[traffic]
requests_per_s = 1.0
duration_s = 900
warmup_s = 100
[servers]
kind = "llm"
count = 2
hardware = "a100-80gb"
tensor_parallel = 4
[model]
preset = "llama-3-70b"
[request]
input_tokens = { dist = "fixed", value = 4000 }
output_tokens = { dist = "fixed", value = 200 }
"#;

#[test]
fn with_an_ideal_link_and_equal_gpus_decode_steps_carry_no_prefill() {
    let colocated = run(&parse(INTERFERENCE, &[]), None).summary;
    let split_text = INTERFERENCE
        .replace("count = 2\n", "mode = \"disaggregated\"\n")
        .replace(
            "[model]",
            "[servers.prefill]\ncount = 1\n[servers.decode]\ncount = 1\n\
             [servers.kv_transfer]\nbandwidth_bytes_per_s = inf\nlatency_s = 0.0\n[model]",
        );
    let s = parse(&split_text, &[]);
    let split = run(&s, None).summary;
    for v in [&colocated, &split] {
        assert!(v.stable, "{:?}", v.overload);
    }
    // Same GPUs, same price, same work: the fleets carry the same tokens.
    assert_eq!(llm_of(&split).mean_servers, 2.0);
    within(
        llm_of(&split).output_tokens_per_s,
        llm_of(&colocated).output_tokens_per_s,
        0.02,
        "output tokens/s",
    );
    // Decode steps without prefill are shorter: TPOT falls, and its tail far more.
    let (c_mean, s_mean) = (
        lat(&colocated, LatencyMetric::Tpot).mean,
        lat(&split, LatencyMetric::Tpot).mean,
    );
    let (c_p99, s_p99) = (
        lat(&colocated, LatencyMetric::Tpot).p99,
        lat(&split, LatencyMetric::Tpot).p99,
    );
    assert!(
        s_mean < c_mean,
        "tpot mean: split {s_mean} vs colocated {c_mean}"
    );
    assert!(
        s_p99 < 0.8 * c_p99,
        "tpot p99: split {s_p99} vs colocated {c_p99}"
    );
    // The split's TPOT is a decode-only step at the decode pool's batch.
    let model = s.model.as_ref().unwrap();
    let dec = s
        .servers
        .disagg
        .as_deref()
        .unwrap()
        .decode
        .spec
        .deployment(model)
        .unwrap();
    let b = split_of(&split).decode.mean_batch;
    let step = dec.decode_step_time_s(
        b.round().max(1.0) as u64,
        (b.round().max(1.0) as u64) * 4100,
    );
    within(
        s_mean,
        step,
        0.15,
        "split tpot vs a decode-only step at the mean batch",
    );
    // An ideal link takes no time and is never busy.
    assert_eq!(split_of(&split).transfer_s.max, 0.0);
    assert_eq!(split_of(&split).link_utilization, 0.0);
}

/// Llama-2-7B prefill replicas that take one prompt at a time (`max_batch = 1`): the prefill
/// pool is an M/D/c queue of fixed 2,048-token prefills.
fn prefill_queue(c: u32, rho: f64, seed: u64) -> (Scenario, f64, f64) {
    let text = format!(
        r#"
name = "prefill-queue"
[run]
seed = {seed}
replications = 10
[traffic]
requests_per_s = 1.0
duration_s = 2500
warmup_s = 200
[servers]
kind = "llm"
mode = "disaggregated"
hardware = "a100-80gb"
tensor_parallel = 1
[servers.prefill]
count = 1
gpus_per_server = {c}
max_batch = 1
[servers.decode]
count = 1
[servers.kv_transfer]
bandwidth_bytes_per_s = inf
latency_s = 0.0
[model]
preset = "llama-2-7b"
[request]
input_tokens = {{ dist = "fixed", value = 2048 }}
output_tokens = {{ dist = "fixed", value = 4 }}
"#
    );
    let mut s = parse(&text, &[]);
    let model = s.model.clone().unwrap();
    let service_s = s
        .servers
        .disagg
        .as_deref()
        .unwrap()
        .prefill
        .spec
        .deployment(&model)
        .unwrap()
        .prefill_time_s(2048);
    let lambda = rho * f64::from(c) / service_s;
    s.traffic.requests_per_s = lambda;
    (s, lambda, service_s)
}

/// Whether `theory` lies in the 95% interval of the mean queue wait (mean ± ci95 over
/// replications).
fn wait_in_ci(summary: &RunSummary, theory: f64) -> bool {
    (lat(summary, LatencyMetric::QueueWait).mean - theory).abs() <= queue_wait_ci(summary)
}

#[test]
fn the_prefill_pool_queues_as_m_d_c() {
    // c = 1: Pollaczek-Khinchine is exact for M/D/1. A 95% interval misses by chance one
    // time in twenty, so a miss is retested once with an independent seed (support.rs).
    let (s, lambda, service_s) = prefill_queue(1, 0.6, 11);
    let pk = mg1_mean_wait_s(lambda, service_s, 0.0);
    let summary = run(&s, None).summary;
    within(
        lat(&summary, LatencyMetric::QueueWait).mean,
        pk,
        0.05,
        "M/D/1 wait",
    );
    within(
        split_of(&summary).prefill.utilization,
        0.6,
        0.02,
        "M/D/1 utilisation",
    );
    if !wait_in_ci(&summary, pk) {
        let (s, _, _) = prefill_queue(1, 0.6, 11 + 1_000_003);
        let again = run(&s, None).summary;
        assert!(
            wait_in_ci(&again, pk),
            "M/D/1 wait {} ± {} vs Pollaczek-Khinchine {pk} (seeds 11 and 1000014)",
            lat(&again, LatencyMetric::QueueWait).mean,
            queue_wait_ci(&again),
        );
    }
    // c = 2: Allen-Cunneen's approximation, Wq(M/M/c) x (1 + cs²)/2 with cs = 0. Requests
    // join the shorter queue (least-outstanding routing) instead of one central queue, and
    // a replica may idle while the other's queue waits, so the pool can only wait longer
    // than M/D/2: at most 12% longer here, never more than 3% shorter (the approximation's
    // own error).
    let (s, lambda, service_s) = prefill_queue(2, 0.7, 12);
    let mu = 1.0 / service_s;
    let ac = erlang_c(2, lambda / mu) / (2.0 * mu - lambda) * 0.5;
    let summary = run(&s, None).summary;
    let wait = lat(&summary, LatencyMetric::QueueWait).mean;
    assert!(
        wait >= 0.97 * ac && wait <= 1.12 * ac,
        "M/D/2 wait {wait} vs Allen-Cunneen {ac} (seed 12)"
    );
    within(
        split_of(&summary).prefill.utilization,
        0.7,
        0.02,
        "M/D/2 utilisation",
    );
}

/// A small split Llama-2-7B fleet with TTFT and TPOT targets, for `plan`.
const PLAN: &str = r#"
name = "disagg-plan"
[run]
seed = 9
replications = 2
[traffic]
requests_per_s = 12.0
duration_s = 150
warmup_s = 30
[servers]
kind = "llm"
mode = "disaggregated"
hardware = "a100-80gb"
gpus_per_server = 2
tensor_parallel = 1
[servers.prefill]
count = 1
[servers.decode]
count = 1
[model]
preset = "llama-2-7b"
[request]
input_tokens = { dist = "lognormal", mean = 3000, cv = 0.5 }
output_tokens = { dist = "lognormal", mean = 150, cv = 0.5 }
[slo]
ttft_p99_s = 1.5
tpot_p99_s = 0.03
"#;

#[test]
fn plan_finds_the_cheapest_pair_and_reports_the_colocated_plan() {
    let s = parse(PLAN, &[]);
    let p = fleetsim::drivers::plan::plan(&s, Some(2)).unwrap_or_else(|e| panic!("{e}"));
    let v = serde_json::to_value(&p).unwrap();
    let (np, nd) = (
        v["prefill_servers"].as_u64().expect("prefill_servers") as u32,
        v["decode_servers"].as_u64().expect("decode_servers") as u32,
    );
    assert_eq!(p.servers, np + nd);
    // The timing band: the pair search again with both pools' step times scaled by 1 ± the
    // model's error. Both pools cost the same here, so cost follows the total: faster steps
    // need no more servers, slower ones no fewer.
    let band = p
        .timing_band
        .as_ref()
        .expect("a split plan has a timing band");
    let total = |pair: Option<fleetsim::report::outcome::PoolCounts>| {
        pair.map(|c| c.prefill_servers + c.decode_servers)
    };
    assert_eq!(total(band.pair_low), band.servers_low, "{band:?}");
    assert_eq!(total(band.pair_high), band.servers_high, "{band:?}");
    let (low, high) = (
        band.servers_low.expect("low side"),
        band.servers_high.expect("high side"),
    );
    assert!(
        low <= p.servers && p.servers <= high,
        "{band:?} vs {}",
        p.servers
    );
    assert!(band.step_time_scale_low < 1.0 && band.step_time_scale_high > 1.0);
    assert!(p.timing_band_omitted.is_none());
    assert!(
        v["colocated"]["servers"].as_u64().is_some(),
        "{}",
        v["colocated"]
    );
    assert!(v["colocated"]["cost_per_request_usd"].as_f64().is_some());
    let cheaper = v["cheaper"].as_str().unwrap();
    assert!(["disaggregated", "colocated", "equal"].contains(&cheaper));
    let saving = v["saving_per_request_usd"].as_f64().unwrap();
    assert_eq!(saving > 0.0, cheaper == "disaggregated");
    // The split's cost per request is its two pools' shares.
    let parts = v["prefill_cost_per_request_usd"].as_f64().unwrap()
        + v["decode_cost_per_request_usd"].as_f64().unwrap();
    let total = v["cost_per_request_usd"].as_f64().unwrap();
    assert!((parts - total).abs() <= 1e-9 * total, "{parts} vs {total}");
    // Not a scan: far fewer pairs than the rectangle they span.
    let pairs = v["pairs"].as_array().unwrap();
    let (pmax, dmax) = pairs.iter().fold((0, 0), |(a, b), q| {
        (
            a.max(q["prefill_servers"].as_u64().unwrap()),
            b.max(q["decode_servers"].as_u64().unwrap()),
        )
    });
    assert!(
        (pairs.len() as u64) < pmax * dmax || pmax * dmax <= 4,
        "{} pairs",
        pairs.len()
    );
    // Checked by independent runs: the answer passes, one server fewer in either pool fails.
    let judge = |p: u32, d: u32| {
        let mut t = s.clone();
        t.set_pool_counts(p, d);
        let sum = run(&t, None).summary;
        sum.stable
            && t.slo.iter().all(|x| {
                let r = sum.reading(x);
                let (m, h) = (r.mean_s.expect("a mean"), r.ci95_s.expect("a half-width"));
                m + h <= x.max_s
            })
    };
    assert!(judge(np, nd), "({np}, {nd}) should pass");
    if nd > 1 {
        assert!(!judge(np, nd - 1), "({np}, {}) should fail", nd - 1);
    }
    if np > 1 {
        assert!(!judge(np - 1, nd), "({}, {nd}) should fail", np - 1);
    }
}

#[test]
fn cli_plan_json_reports_pools_and_the_colocated_comparison() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("s.toml"), PLAN).unwrap();
    let out = assert_cmd::Command::cargo_bin("fleetsim")
        .unwrap()
        .current_dir(dir.path())
        .args(["plan", "s.toml", "--json", "--threads", "2"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    for key in ["prefill_servers", "decode_servers"] {
        assert!(v[key].as_u64().is_some_and(|n| n >= 1), "{key}: {}", v[key]);
    }
    assert!(v["colocated"]["servers"].as_u64().is_some());
    assert!(v["colocated"]["cost_per_request_usd"].as_f64().is_some());
    for side in ["pair_low", "pair_high"] {
        let pair = &v["timing_band"][side];
        assert!(
            pair["prefill_servers"].as_u64().is_some_and(|n| n >= 1),
            "{side}: {pair}"
        );
        assert!(
            pair["decode_servers"].as_u64().is_some_and(|n| n >= 1),
            "{side}: {pair}"
        );
    }
    // The same plan on one thread, byte for byte.
    let one = assert_cmd::Command::cargo_bin("fleetsim")
        .unwrap()
        .current_dir(dir.path())
        .args(["plan", "s.toml", "--json", "--threads", "1"])
        .output()
        .unwrap();
    assert_eq!(one.stdout, out.stdout);
    // The terminal answer line gives the band as pairs, and no colocated-only line.
    let table = assert_cmd::Command::cargo_bin("fleetsim")
        .unwrap()
        .current_dir(dir.path())
        .args(["plan", "s.toml", "--threads", "2"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&table.stdout);
    let band = |side: &str| {
        let pair = &v["timing_band"][side];
        format!("{}+{}", pair["prefill_servers"], pair["decode_servers"])
    };
    let line = format!(
        "servers: {} ({} to {} if step times are",
        v["servers"],
        band("pair_low"),
        band("pair_high")
    );
    assert!(text.contains(&line), "{line:?} not in\n{text}");
    assert!(!text.contains("1 server meets every target"), "{text}");
    // The resolved scenario re-reads with the chosen pools.
    let folder = dir.path().join("results/disagg-plan/run-0001");
    let resolved = std::fs::read_to_string(folder.join("scenario.resolved.toml")).unwrap();
    let r = parse(&resolved, &[]);
    let split = r.servers.disagg.as_deref().expect("still disaggregated");
    assert_eq!(
        u64::from(split.prefill.count),
        v["prefill_servers"].as_u64().unwrap()
    );
    assert_eq!(
        u64::from(split.decode.count),
        v["decode_servers"].as_u64().unwrap()
    );
}

#[test]
fn same_seed_same_bytes_on_any_thread_count() {
    let s = parse(
        LOW_LOAD,
        &[
            "traffic.requests_per_s=1.5",
            "traffic.duration_s=300",
            "run.replications=3",
        ],
    );
    let one = serde_json::to_string(&run(&s, Some(1)).summary).unwrap();
    let three = serde_json::to_string(&run(&s, Some(3)).summary).unwrap();
    assert_eq!(one, three);
    assert!(one.contains("\"disaggregated\""));
}

#[test]
fn the_scenario_keys_are_checked_and_the_resolved_file_rereads() {
    let s = parse(LOW_LOAD, &[]);
    assert_eq!(s.servers.count, 2);
    let again = parse(&s.to_resolved_toml(), &[]);
    assert_eq!(again, s);
    let err = |sets: &[&str], text: &str| {
        let o = Overrides {
            set: sets.iter().map(|s| s.to_string()).collect(),
        };
        scenario::parse(text, Path::new("inline.toml"), &o)
            .expect_err("invalid")
            .to_string()
    };
    let e = err(&["servers.count=5"], LOW_LOAD);
    assert!(
        e.contains("servers.count") && e.contains("both pools"),
        "{e}"
    );
    let e = err(&["servers.kv_transfer.bandwidth_bytes_per_s=0"], LOW_LOAD);
    assert!(e.contains("bandwidth_bytes_per_s"), "{e}");
    let e = err(&["servers.prefill.tensor_parallel=3"], LOW_LOAD);
    assert!(e.contains("servers.prefill.tensor_parallel"), "{e}");
    let e = err(&["servers.mode=colocated", "servers.count=2"], LOW_LOAD);
    assert!(
        e.contains("servers.prefill") && e.contains("disaggregated"),
        "{e}"
    );
    // The split applies to llm servers only, and not yet with an autoscaler.
    let queue = r#"
[traffic]
requests_per_s = 0.5
duration_s = 100
[servers]
kind = "queue"
mode = "disaggregated"
service_time_s = { dist = "exponential", mean = 1.0 }
[servers.prefill]
count = 1
[servers.decode]
count = 1
"#;
    let e = err(&[], queue);
    assert!(e.contains("servers.mode") && e.contains("llm"), "{e}");
    let e = err(
        &["autoscale.min_servers=1", "autoscale.max_servers=4"],
        LOW_LOAD,
    );
    assert!(
        e.contains("autoscale") && e.contains("disaggregated"),
        "{e}"
    );
    // Sharding splits one pool of servers; a split fleet is refused, not half-sharded.
    let e = err(&["run.shards=2"], LOW_LOAD);
    assert!(
        e.contains("run.shards") && e.contains("disaggregated"),
        "{e}"
    );
    // Colocated scenarios are unchanged: no section, no pools.
    let c = parse(INTERFERENCE, &[]);
    assert!(c.servers.disagg.is_none());
    let resolved = c.to_resolved_toml();
    assert!(!resolved.contains("mode = ") && !resolved.contains("[servers.prefill]"));
}

#[test]
fn a_link_that_cannot_keep_up_makes_the_run_unstable() {
    // 671 MB per request over 0.1 GB/s: 6.7 s of wire time each, 0.5 requests a second.
    let s = parse(
        LOW_LOAD,
        &[
            "servers.kv_transfer.bandwidth_bytes_per_s=1e8",
            "traffic.requests_per_s=0.5",
            "traffic.duration_s=1000",
        ],
    );
    let summary = run(&s, None).summary;
    assert!(!summary.stable, "{:?}", summary.overload);
    assert!(split_of(&summary).link_utilization > 0.95);
}

#[test]
fn a_prefix_cached_prompt_still_fills_the_decode_replicas_kv() {
    // 1,536 of the 2,048 prompt tokens are a shared system prompt, cached on the prefill
    // pool. The decode pool keeps no prefix cache: the whole prompt's KV lands in its memory,
    // so its KV occupancy must match the run without a prefix cache (one request at a time:
    // the same tokens resident for the same decode time), not the uncached part alone.
    let sets = [
        "request.system_prompt_tokens=1536",
        "request.input_tokens=512",
    ];
    let plain = run(&parse(LOW_LOAD, &sets), None).summary;
    let mut cached_sets = sets.to_vec();
    cached_sets.push("servers.prefill.prefix_cache=true");
    let cached = run(&parse(LOW_LOAD, &cached_sets), None).summary;
    let (p, c) = (split_of(&plain), split_of(&cached));
    assert!(p.decode.kv_occupancy > 0.0, "{:?}", p.decode);
    within(
        c.decode.kv_occupancy,
        p.decode.kv_occupancy,
        0.05,
        "decode KV occupancy with a prefill-side prefix cache",
    );
}

/// A split fleet whose decode pool runs on other GPUs than `[servers]` pays each pool's own
/// price, cloud and self-built: not `servers.count` servers at `[servers]`'s price. With both
/// pools on `[servers]`'s GPUs the cost is that price times the servers, as before.
#[test]
fn pools_on_other_gpus_are_paid_at_their_own_prices() {
    let sets = ["run.replications=1", "traffic.duration_s=1500"];
    let same = run(&parse(LOW_LOAD, &sets), None).summary;
    let mixed_scenario = parse(
        LOW_LOAD,
        &[sets[0], sets[1], "servers.decode.hardware=\"h100-80gb\""],
    );
    let mixed = run(&mixed_scenario, None).summary;
    assert!(same.stable && mixed.stable);
    let day = |s: &RunSummary| s.cost.cloud.per_day_usd;
    // Same GPUs: 2 servers at the [servers] price.
    within(
        day(&same),
        2.0 * 24.0 * same.cost.cloud.usd_per_server_hour,
        1e-12,
        "colocated-priced split fleet, cloud per day",
    );
    // Mixed: the pools' own prices, as the disaggregated section reports them.
    let split = split_of(&mixed);
    let pools_usd_per_hour = split.prefill.usd_per_hour + split.decode.usd_per_hour;
    within(
        day(&mixed),
        24.0 * pools_usd_per_hour,
        1e-9,
        "pools' cloud per day",
    );
    let h100_server = mixed_scenario.pool_usd_per_server_hour(
        &mixed_scenario
            .servers
            .disagg
            .as_deref()
            .unwrap()
            .decode
            .spec,
    );
    let a100_server = mixed.cost.cloud.usd_per_server_hour;
    assert!(
        h100_server > 1.2 * a100_server,
        "an H100 server ({h100_server}/h) costs more than an A100 one ({a100_server}/h)"
    );
    within(
        day(&mixed),
        24.0 * (a100_server + h100_server),
        1e-9,
        "one A100 and one H100 server",
    );
    let per_request = mixed.cost.cloud.per_request_usd.unwrap();
    within(
        per_request,
        pools_usd_per_hour / 3600.0 / mixed.means.throughput_per_s,
        1e-9,
        "cloud per request",
    );
    // Self-built: the prefill server at [cost]'s DGX A100 figure, the decode server a DGX
    // H100 (the system built from its GPUs).
    let a100_tco = mixed.cost.self_built.usd_per_server_hour;
    let h100_tco = fleetsim::scenario::tco::tco_preset("dgx-h100")
        .expect("the dgx-h100 preset")
        .inputs_for(8)
        .tco_usd_per_server_hour();
    assert!(h100_tco > 1.2 * a100_tco, "{h100_tco} vs {a100_tco}");
    within(
        mixed.cost.self_built.per_day_usd,
        24.0 * (a100_tco + h100_tco),
        1e-9,
        "self-built per day",
    );
    within(
        same.cost.self_built.per_day_usd,
        24.0 * 2.0 * same.cost.self_built.usd_per_server_hour,
        1e-12,
        "colocated-priced split fleet, self-built per day",
    );
}
