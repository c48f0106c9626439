//! The LLM server in full simulations: the CITIC table, public A100 measurements, KV-memory
//! admission, and monotonicity.

use std::path::Path;

use fleetsim::drivers::run::run;
use fleetsim::engine::SimTime;
use fleetsim::fleet::replica::{BatchLimits, Replica, Seq};
use fleetsim::report::summary::RunSummary;
use fleetsim::scenario::Batching;
use fleetsim::scenario::{self, Overrides, Scenario};
use fleetsim::timing::{Deployment, Efficiency, gpu_preset, model_preset};
use proptest::prelude::*;

use fleetsim::metrics::replication::{LatencyMetric, LatencyStat};
use fleetsim::report::figures::latency;

use crate::support::load;

fn llm_scenario(model: &str, tp: u32, input: u32, output: u32, rate: f64, extra: &str) -> Scenario {
    let text = format!(
        "name = \"t\"\n[run]\nseed = 3\nreplications = 2\n\
         [traffic]\nrequests_per_s = {rate}\nduration_s = 4000\nwarmup_s = 400\n\
         [servers]\nkind = \"llm\"\ncount = 1\ngpus_per_server = {tp}\ntensor_parallel = {tp}\n{extra}\n\
         [model]\npreset = \"{model}\"\n\
         [request]\ninput_tokens = {{ dist = \"fixed\", value = {input} }}\n\
         output_tokens = {{ dist = \"fixed\", value = {output} }}\n\
         [router]\npolicy = \"round-robin\"\n"
    );
    scenario::parse(&text, Path::new("t.toml"), &Overrides::default())
        .unwrap_or_else(|e| panic!("{e}\n{text}"))
}

#[test]
fn citic_table_batch_one_gpt3() {
    // R2: 2.61e11 bytes / (4.8e12 B/s x 0.85) = 0.064 s per generated token; 200 tokens per
    // answer = 12.8 s; at $8 per server-hour that is 2.84 cents. The report prints 12.22 s
    // and 2.7 cents: 2.7 cents is 12.22 s x $8/h, and 12.22 s is not 200 x 0.064 s.
    let s = load("reports/citic-2023.toml", &[]);
    let out = run(&s, None);
    let sum = &out.summary;
    let tpot = sum.means.latency_s.tpot.as_ref().unwrap().mean;
    assert!(
        (tpot - 0.064).abs() / 0.064 < 0.01,
        "TPOT {tpot} s vs 0.064"
    );
    let answer_s = sum.means.latency_s.service.mean;
    assert!(
        (answer_s - 12.8).abs() / 12.8 < 0.01,
        "answer {answer_s} s vs 12.8"
    );
    let cents = answer_s * 8.0 / 3600.0 * 100.0;
    assert!((cents - 2.84).abs() < 0.02, "{cents} cents");
    // The printed 2.7 cents follows from the printed 12.22 s, 4.5% below the table's 12.8 s.
    assert!((12.22_f64 * 8.0 / 3600.0 * 100.0 - 2.7).abs() < 0.02);
    assert!((cents / 2.7 - 1.0).abs() < 0.06);
}

/// One request at a time on an idle server: (TTFT s, TPOT s) from the simulation.
fn alone(model: &str, tp: u32, input: u32, output: u32) -> (f64, f64) {
    let s = llm_scenario(model, tp, input, output, 0.01, "");
    let sum = run(&s, None).summary;
    (
        sum.means.latency_s.ttft.as_ref().unwrap().p50,
        sum.means.latency_s.tpot.as_ref().unwrap().mean,
    )
}

#[test]
fn public_a100_measurements_within_20_percent() {
    // lmdeploy docs/en/benchmark/a100_fp16.md (reference §4): batch 1, 2,048-token prompt.
    // (model, TP, measured TTFT s, measured TPOT s)
    let rows = [
        ("llama-2-7b", 1, 0.139, 0.010),
        ("llama-2-13b", 1, 0.242, 0.018),
        ("llama-2-70b", 4, 0.402, 0.030),
    ];
    let mut report = String::new();
    for (model, tp, ttft_m, tpot_m) in rows {
        let (ttft, tpot) = alone(model, tp, 2048, 128);
        report +=
            &format!("{model} TP{tp}: TTFT {ttft:.4} vs {ttft_m}, TPOT {tpot:.4} vs {tpot_m}\n");
        assert!((ttft / ttft_m - 1.0).abs() <= 0.20, "{report}");
        assert!((tpot / tpot_m - 1.0).abs() <= 0.20, "{report}");
    }
    // TensorRT-LLM v0.5 performance.md: first token at 128 and 2,048 tokens, batch 1.
    let trt = [
        ("llama-7b", 1, 128, 0.016),
        ("llama-7b", 1, 2048, 0.133),
        ("llama-2-70b", 4, 128, 0.047),
        ("llama-2-70b", 4, 2048, 0.377),
        ("falcon-180b", 8, 128, 0.061),
        ("falcon-180b", 8, 2048, 0.509),
    ];
    for (model, tp, input, ttft_m) in trt {
        let (ttft, _) = alone(model, tp, input, 16);
        report += &format!("{model} TP{tp} {input}: TTFT {ttft:.4} vs {ttft_m}\n");
        assert!((ttft / ttft_m - 1.0).abs() <= 0.20, "{report}");
    }
}

#[test]
fn batch_64_decode_throughput_matches_lmdeploy() {
    // lmdeploy: Llama-2-70B TP4, batch 64, 128 in / 2,048 out: 1,392 output tokens/s, TPOT
    // p50 43 ms. Keep 64 requests in the replica by arriving far faster than it serves,
    // with max_batch 64.
    let s = llm_scenario("llama-2-70b", 4, 128, 2048, 1.0, "max_batch = 64\n");
    let sum = run(&s, None).summary;
    let tpot = sum.means.latency_s.tpot.as_ref().unwrap().p50;
    assert!((tpot / 0.043 - 1.0).abs() <= 0.20, "TPOT p50 {tpot}");
    let tok_s = sum.means.llm.as_ref().unwrap().output_tokens_per_s;
    assert!((tok_s / 1392.0 - 1.0).abs() <= 0.20, "{tok_s} tokens/s");
}

#[test]
fn kv_memory_admits_the_hand_calculated_number_of_8k_requests() {
    // GPT-3 175B fp16 on 8 x A100-80GB (79.15 GiB each as the device shows it), TP8,
    // mem_util 0.9, the roofline model's 8 GB reserve per GPU: KV room = 8 x 84.99 GB x 0.9 -
    // 350 GB - 8 x 8 GB = 197.9 GB; KV per token = 2 x 96 layers x 12,288 x 2 bytes = 4.72
    // MB (4.5 MiB); 197.9e9 / 4,718,592 = 41,943 tokens, rounded down to 16-token blocks =
    // 41,936. An 8,192-token prompt needs 8,193 tokens with its first output token: 5 fit
    // (40,965), a sixth does not.
    let kv_per_token = 2.0 * 96.0 * 12288.0 * 2.0;
    let room = 8.0 * 79.15 * 1024.0 * 1024.0 * 1024.0 * 0.9 - 350e9 - 8.0 * 8e9;
    let capacity = ((room / kv_per_token) as u64) / 16 * 16;
    assert_eq!(capacity, 41_936);
    let dep = Deployment::new(
        gpu_preset("a100-80gb").unwrap(),
        8,
        8,
        model_preset("gpt3-175b").unwrap(),
        Efficiency::calibrated_default(8),
        0.9,
    )
    .unwrap();
    assert_eq!(dep.kv_capacity_tokens(), capacity);
    let limits = BatchLimits {
        batching: Batching::Continuous,
        max_batch: 256,
        max_batch_tokens: 1 << 20,
        chunked_prefill: false,
        prefill_stalls_decodes: false,
        kv_capacity_tokens: dep.kv_capacity_tokens(),
        prefix: None,
    };
    let mut rep = Replica::new(limits, SimTime::ZERO, SimTime::NEVER);
    for i in 0..10 {
        rep.enqueue(Seq::new(i, SimTime::ZERO, 8192, 100));
    }
    rep.plan(SimTime::ZERO, &dep);
    assert_eq!(rep.batch_len() as u64, capacity / 8193);
    assert_eq!(rep.batch_len(), 5);
}

#[test]
fn weights_that_do_not_fit_name_the_sizes() {
    let err = scenario::parse(
        "[traffic]\nrequests_per_s = 1\nduration_s = 10\n\
         [servers]\nkind = \"llm\"\ncount = 1\nhardware = \"a100-40gb\"\ntensor_parallel = 8\n\
         [model]\npreset = \"gpt3-175b\"\n\
         [request]\ninput_tokens = { dist = \"fixed\", value = 10 }\n\
         output_tokens = { dist = \"fixed\", value = 10 }\n[router]\npolicy = \"random\"\n",
        Path::new("big.toml"),
        &Overrides::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("big.toml"), "{err}");
    assert!(err.contains("350 GB") && err.contains("338.4 GB"), "{err}");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, .. ProptestConfig::default() })]

    #[test]
    fn more_load_never_lowers_latency(rate in 0.5f64..6.0, factor in 1.2f64..2.0) {
        // Same seed: arrival times are the same exponential draws scaled by 1/rate, so the
        // busier run sees the same requests closer together.
        let lo = run(&llm_scenario("llama-2-7b", 1, 512, 128, rate, ""), None).summary;
        let hi = run(&llm_scenario("llama-2-7b", 1, 512, 128, rate * factor, ""), None).summary;
        for metric in [LatencyMetric::E2e, LatencyMetric::Tpot] {
            let mean = |s| latency(s, metric, LatencyStat::Mean).and_then(|r| r.mean).unwrap();
            prop_assert!(mean(&hi) >= mean(&lo) * 0.995,
                "{metric:?}: {} at rate {} < {} at rate {}", mean(&hi), rate * factor, mean(&lo), rate);
        }
    }

    #[test]
    fn larger_batches_never_lower_decode_throughput_until_kv_binds(b in 1u64..300) {
        let dep = Deployment::new(
            gpu_preset("a100-80gb").unwrap(), 8, 1,
            model_preset("llama-2-7b").unwrap(), Efficiency::calibrated_default(1), 0.9,
        ).unwrap();
        let ctx = 1000;
        prop_assume!((b + 1) * ctx <= dep.kv_capacity_tokens());
        let tput = |b: u64| b as f64 / dep.decode_step_time_s(b, b * ctx);
        prop_assert!(tput(b + 1) >= tput(b));
    }
}

/// `servers.stack`: a preset name or a table of overrides; errors name the key and what is
/// allowed; the resolved scenario reproduces the run byte for byte.
#[test]
fn serving_stacks_in_scenarios() {
    let base = "[traffic]\nrequests_per_s = 2\nduration_s = 200\n\
         [servers]\nkind = \"llm\"\ncount = 1\n\
         [model]\npreset = \"llama-2-7b\"\n\
         [request]\ninput_tokens = 500\noutput_tokens = 100\n";
    let parse = |extra: &str| {
        scenario::parse(
            &format!("{base}{extra}"),
            Path::new("s.toml"),
            &Overrides::default(),
        )
    };
    let err = |extra: &str| parse(extra).unwrap_err().to_string();
    let e = err("[servers.stack]\npreset = \"tgi\"\n");
    assert!(
        e.contains("servers.stack") && e.contains("vllm, vllm-2023, trt-llm"),
        "{e}"
    );
    let e = err("[servers.stack]\nbogus = 1\n");
    assert!(e.contains("unknown field `bogus`"), "{e}");
    let e = err("[servers.stack]\ndecode_attn_bw_frac = 2.0\n");
    assert!(e.contains("decode_attn_bw_frac must be in (0, 1]"), "{e}");
    let e = err("[servers.stack]\npreset = \"vllm\"\n[servers.efficiency]\nmbu = 0.5\n");
    assert!(
        e.contains("servers.efficiency") && e.contains("roofline"),
        "{e}"
    );
    // Defaults: the `vllm` stack, chunked prefill on; `efficiency` alone selects the roofline.
    let s = parse("").unwrap();
    let spec = match &s.servers.kind {
        scenario::ServerKind::Llm(spec) => spec.clone(),
        _ => unreachable!(),
    };
    assert_eq!(spec.stack.as_ref().unwrap().preset, "vllm");
    assert!(spec.chunked_prefill);
    let roof = parse("[servers.efficiency]\nmbu = 0.5\n").unwrap();
    match &roof.servers.kind {
        scenario::ServerKind::Llm(spec) => assert!(spec.stack.is_none()),
        _ => unreachable!(),
    }
    // An override changes step times; the resolved file reproduces the run.
    let slow = parse(
        "[servers.stack]\npreset = \"vllm\"\nhost_per_step_s = 0.02\nhost_overlaps_gpu = false\n",
    )
    .unwrap();
    let (fast_sum, slow_sum) = (run(&s, Some(1)).summary, run(&slow, Some(1)).summary);
    let tpot = |v: &RunSummary| v.means.latency_s.tpot.as_ref().unwrap().mean;
    assert!(
        tpot(&slow_sum) > tpot(&fast_sum) + 0.015,
        "{} {}",
        tpot(&slow_sum),
        tpot(&fast_sum)
    );
    let again = scenario::parse(
        &slow.to_resolved_toml(),
        Path::new("resolved.toml"),
        &Overrides::default(),
    )
    .unwrap();
    assert_eq!(run(&again, Some(2)).summary, slow_sum);
}

/// Llama-2-70B on 2 x A100-80GB with default settings: TP2 (the only degree that fits), the
/// ~15k KV tokens it really has, and a run that completes requests.
#[test]
fn llama2_70b_on_two_a100s_runs_with_defaults() {
    let s = scenario::parse(
        "[traffic]\nrequests_per_s = 0.5\nduration_s = 300\n\
         [servers]\nkind = \"llm\"\ncount = 1\ngpus_per_server = 2\n\
         [model]\npreset = \"llama-2-70b\"\n\
         [request]\ninput_tokens = 1000\noutput_tokens = 100\n",
        Path::new("tp2.toml"),
        &Overrides::default(),
    )
    .unwrap();
    let scenario::ServerKind::Llm(spec) = &s.servers.kind else {
        unreachable!()
    };
    assert_eq!(spec.tensor_parallel, 2);
    let kv = spec
        .deployment(&s.model.clone().unwrap())
        .unwrap()
        .kv_capacity_tokens();
    assert!((10_000..20_000).contains(&kv), "{kv}");
    let summary = run(&s, Some(1)).summary;
    assert!(summary.stable, "{summary:?}");
    assert!(summary.means.requests.completed > 50.0);
}
