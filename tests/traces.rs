//! The public traces in `shared/traces` against the reference numbers in its README and
//! `SUMMARY_STATS.json`. The traces are never copied into the repository: set
//! `FLEETSIM_TRACES` to their folder (default `../shared/traces` next to the crate).

use std::path::PathBuf;

use fleetsim::cache::prefix::{DEFAULT_BLOCK_TOKENS, replay_hit_fraction, replay_prefix_cache};
use fleetsim::trace::{
    Percentiles, TraceFormat, TraceRecord, empirical_input_tokens, empirical_output_tokens,
    mean_rate_per_s, read_trace, spread_steps, spread_steps_evenly, trace_stats,
};
use serde_json::Value;

const AZURE_CODE: &str = "azure_llm_2023/AzureLLMInferenceTrace_code.csv";
const AZURE_CONV: &str = "azure_llm_2023/AzureLLMInferenceTrace_conv.csv";
const MOONCAKE_CONV: &str = "mooncake_fast25/conversation_trace.jsonl";
const MOONCAKE_SYNTH: &str = "mooncake_fast25/synthetic_trace.jsonl";

/// The traces folder; panics with instructions if it is missing (CI guarantees it).
fn traces_dir() -> PathBuf {
    let dir = std::env::var_os("FLEETSIM_TRACES")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/traces"));
    assert!(
        dir.join("SUMMARY_STATS.json").is_file(),
        "trace folder {} not found (no SUMMARY_STATS.json): set FLEETSIM_TRACES to the \
         shared/traces folder; these tests must not be skipped",
        dir.display()
    );
    dir
}

fn summary() -> Value {
    let path = traces_dir().join("SUMMARY_STATS.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).expect("SUMMARY_STATS.json is valid JSON")
}

fn load(rel: &str) -> Vec<TraceRecord> {
    let format = if rel.ends_with(".jsonl") {
        TraceFormat::Mooncake
    } else {
        TraceFormat::Azure2023
    };
    read_trace(traces_dir().join(rel), &format).unwrap_or_else(|e| panic!("{e}"))
}

fn num(v: &Value, path: &[&str]) -> f64 {
    let mut cur = v;
    for key in path {
        cur = &cur[*key];
    }
    cur.as_f64()
        .unwrap_or_else(|| panic!("SUMMARY_STATS.json has no number at {path:?}"))
}

/// `actual` equals the JSON value `expected`, which was rounded to at most 3 decimals.
fn close(what: &str, actual: f64, expected: f64) {
    let tol = 5e-4 + 1e-9 * expected.abs();
    assert!(
        (actual - expected).abs() <= tol,
        "{what}: measured {actual}, SUMMARY_STATS.json says {expected}"
    );
}

fn check_percentiles(file: &str, side: &str, p: &Percentiles, s: &Value) {
    let e = &s[file][side];
    close(&format!("{file} {side} mean"), p.mean, num(e, &["mean"]));
    close(&format!("{file} {side} median"), p.p50, num(e, &["median"]));
    close(&format!("{file} {side} p90"), p.p90, num(e, &["p90"]));
    close(&format!("{file} {side} p99"), p.p99, num(e, &["p99"]));
    close(&format!("{file} {side} max"), p.max, num(e, &["max"]));
}

/// Count, span, rate, inter-arrival CV, per-minute peak/mean and token percentiles.
fn check_stats(file: &str) {
    let s = summary();
    let recs = load(file);
    let st = trace_stats(&recs);
    println!("{file}: {}", serde_json::to_string(&st).unwrap());
    assert_eq!(st.requests as f64, num(&s, &[file, "rows"]), "{file} rows");
    assert!(
        (st.duration_s - num(&s, &[file, "span_s"])).abs() <= 0.05,
        "{file} span {}",
        st.duration_s
    );
    close(
        &format!("{file} mean rate"),
        st.mean_rate_per_s,
        num(&s, &[file, "mean_arrival_rate_rps"]),
    );
    close(
        &format!("{file} interarrival cv"),
        st.interarrival_cv,
        num(&s, &[file, "interarrival_cv"]),
    );
    close(
        &format!("{file} per-minute peak/mean"),
        st.peak_to_mean_per_minute,
        num(&s, &[file, "per_minute", "peak_to_mean"]),
    );
    check_percentiles(file, "input_tokens", &st.input_tokens, &s);
    check_percentiles(file, "output_tokens", &st.output_tokens, &s);
    assert_eq!(mean_rate_per_s(&recs), st.mean_rate_per_s);
}

#[test]
fn azure_code_matches_summary_stats() {
    check_stats(AZURE_CODE);
}

#[test]
fn azure_conv_matches_summary_stats() {
    check_stats(AZURE_CONV);
}

#[test]
fn mooncake_conversation_matches_summary_stats() {
    check_stats(MOONCAKE_CONV);
}

#[test]
fn mooncake_synthetic_matches_summary_stats() {
    check_stats(MOONCAKE_SYNTH);
}

#[test]
fn azure_arrivals_start_at_zero_and_are_sorted() {
    for file in [AZURE_CODE, AZURE_CONV] {
        let r = load(file);
        assert_eq!(r[0].arrival_s, 0.0);
        assert!(
            r.windows(2).all(|w| w[0].arrival_s <= w[1].arrival_s),
            "{file}"
        );
        assert!(r.iter().all(|x| x.hash_ids.is_empty()));
    }
    // README: code runs 18:17:03.9799600 -> 19:14:19.93.
    let code = load(AZURE_CODE);
    let last = code.last().unwrap().arrival_s;
    assert!((last - (57.0 * 60.0 + 15.95)).abs() < 0.01, "{last}");
}

#[test]
fn mooncake_blocks_match_input_lengths() {
    for file in [MOONCAKE_CONV, MOONCAKE_SYNTH] {
        for (i, r) in load(file).iter().enumerate() {
            assert_eq!(
                r.hash_ids.len(),
                r.input_tokens.div_ceil(512) as usize,
                "{file} record {i}"
            );
        }
    }
}

/// Hit fractions must match the README's (3-decimal) references within 0.1 percentage
/// point: the brief asks for 1 point, but the replay reproduces them to rounding, so a
/// tighter bound catches regressions in the counting.
const HIT_TOL: f64 = 0.001;

/// Reference LRU/infinite token hit fractions within [`HIT_TOL`], plus the exact
/// unique/total block counts of the infinite replay.
fn check_prefix(file: &str) {
    let s = summary();
    let recs = load(file);
    let inf = replay_prefix_cache(&recs, None, DEFAULT_BLOCK_TOKENS);
    assert_eq!(
        inf.unique_blocks as f64,
        num(&s, &[file, "prefix_cache_infinite", "unique_blocks"])
    );
    assert_eq!(
        inf.total_blocks as f64,
        num(&s, &[file, "prefix_cache_infinite", "total_blocks"])
    );
    let tok = num(
        &s,
        &[file, "prefix_cache_infinite", "prefix_token_hit_ratio"],
    );
    let blk = num(
        &s,
        &[file, "prefix_cache_infinite", "prefix_block_hit_ratio"],
    );
    println!("{file} infinite: {inf:?}");
    assert!(
        (inf.token_hit_fraction - tok).abs() < HIT_TOL,
        "{file} infinite token hit {} vs {tok}",
        inf.token_hit_fraction
    );
    assert!(
        (inf.block_hit_fraction - blk).abs() < HIT_TOL,
        "{file} infinite block hit {} vs {blk}",
        inf.block_hit_fraction
    );
    for cap in [1_000u64, 5_000, 10_000, 20_000, 50_000] {
        let want = num(&s, &[file, "prefix_cache_lru_token_hit", &cap.to_string()]);
        let got = replay_hit_fraction(&recs, Some(cap), DEFAULT_BLOCK_TOKENS);
        println!("{file} LRU {cap}: measured {got:.4}, reference {want}");
        assert!(
            (got - want).abs() < HIT_TOL,
            "{file} LRU {cap} blocks: measured {got:.4}, reference {want}"
        );
    }
}

#[test]
fn mooncake_conversation_prefix_hits_match_readme() {
    check_prefix(MOONCAKE_CONV);
}

#[test]
fn mooncake_synthetic_prefix_hits_match_readme() {
    check_prefix(MOONCAKE_SYNTH);
}

#[test]
fn spreading_mooncake_steps() {
    let recs = load(MOONCAKE_CONV);
    let a = spread_steps(&recs, 3.0, 7);
    assert_eq!(a, spread_steps(&recs, 3.0, 7), "same seed, same arrivals");
    assert_ne!(a, spread_steps(&recs, 3.0, 8));
    assert!(a.windows(2).all(|w| w[0].arrival_s <= w[1].arrival_s));
    assert_eq!(a.len(), recs.len());
    // Uniform spreading within near-Poisson steps looks Poisson-like (raw CV is 3.03).
    let cv = trace_stats(&a).interarrival_cv;
    assert!((0.85..1.15).contains(&cv), "spread cv {cv}");
    // README: spread evenly over each step, the inter-arrival CV is 0.36.
    let even = trace_stats(&spread_steps_evenly(&recs, 3.0)).interarrival_cv;
    assert!((even - 0.36).abs() < 0.01, "evenly spread cv {even}");
}

#[test]
fn empirical_tokens_reproduce_trace_means() {
    let recs = load(AZURE_CONV);
    let st = trace_stats(&recs);
    for ((values, weights), want) in [
        (empirical_input_tokens(&recs), st.input_tokens.mean),
        (empirical_output_tokens(&recs), st.output_tokens.mean),
    ] {
        assert_eq!(weights.iter().sum::<f64>(), recs.len() as f64);
        assert!(values.windows(2).all(|w| w[0] < w[1]));
        let mean = values.iter().zip(&weights).map(|(v, w)| v * w).sum::<f64>() / recs.len() as f64;
        assert!((mean - want).abs() < 1e-9);
        // The pair is a valid scenario distribution with the same mean.
        let spec = fleetsim::scenario::DistSpec::Empirical {
            values,
            weights: Some(weights),
        };
        let dist = spec.build().expect("valid empirical distribution");
        assert!((dist.mean() - want).abs() < 1e-6);
    }
}

#[test]
fn read_errors_name_file_and_line() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("broken.csv");
    std::fs::write(
        &path,
        "TIMESTAMP,ContextTokens,GeneratedTokens\r\n2023-11-16 18:17:03.9799600,4808,10\r\n2023-11-16 18:17:04,-3,8\r\n",
    )
    .expect("write temp trace");
    let e = read_trace(&path, &TraceFormat::Azure2023)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("broken.csv:3:") && e.contains("ContextTokens"),
        "{e}"
    );
    let missing = dir.path().join("absent.jsonl");
    let e = read_trace(&missing, &TraceFormat::Mooncake)
        .unwrap_err()
        .to_string();
    assert!(e.contains("absent.jsonl"), "{e}");
}
