//! Steady-state diagnostics and `run.drain`: a settled queue raises no warning, a transient
//! does (heavy-traffic M/M/1 started empty; fixed-length LLM cohorts under least-outstanding
//! routing), and draining completes every measured request.

use std::path::Path;

use fleetsim::drivers::run::run;
use fleetsim::metrics::steady::{Diagnostics, Drift};
use fleetsim::report::summary::RunSummary;
use fleetsim::scenario::{self, Overrides, Scenario};
use fleetsim::theory::mmc_mean_wait_s;

use crate::support::load;

fn warnings(summary: &RunSummary) -> Vec<String> {
    summary.warnings().to_vec()
}

fn diagnostics(summary: &RunSummary) -> &Diagnostics {
    summary.diagnostics.as_ref().expect("a run has diagnostics")
}

/// A metric's drift, which the run must have.
fn drift(d: Option<&Drift>) -> &Drift {
    d.expect("drift of a measured metric")
}

fn inline(text: &str, sets: &[&str]) -> Scenario {
    let o = Overrides {
        set: sets.iter().map(|s| s.to_string()).collect(),
    };
    scenario::parse(text, Path::new("inline.toml"), &o).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn a_settled_mmc_at_rho_08_has_no_warnings() {
    // M/M/8 at λ = 6.4/s, 1 s service: ρ = 0.8, Erlang C Wq = 0.2 s (relaxation time of a
    // few seconds), 10 replications of 20,000 s after a 1,000 s warm-up.
    let s = load(
        "validation/mmc.toml",
        &[
            "traffic.requests_per_s=6.4",
            "traffic.duration_s=20000.0",
            "traffic.warmup_s=1000.0",
        ],
    );
    let summary = run(&s, None).summary;
    let d = diagnostics(&summary);
    assert_eq!(
        warnings(&summary),
        Vec::<String>::new(),
        "seed {}",
        s.run.seed
    );
    // The run itself agrees with Erlang C, so "no warning" is said of a correct run.
    let wq = summary.means.latency_s.queue_wait.mean;
    let theory = mmc_mean_wait_s(8, 6.4, 1.0);
    assert!((wq / theory - 1.0).abs() < 0.05, "{wq} vs {theory}");
    for (m, drift) in [
        ("e2e", drift(d.drift.e2e.as_ref())),
        ("queue_wait", drift(d.drift.queue_wait.as_ref())),
    ] {
        for (stat, r) in [("mean", drift.mean), ("p99", drift.p99)] {
            let r = r.expect("a drift");
            assert!(r.abs() < 0.05, "drift {m}.{stat} = {r}");
        }
    }
    assert!(d.warmup_suggested_s <= 1000.0 + 2.0 * d.window_s);
    // Batch means: fewer independent samples than requests (waits are correlated), but
    // many thousands of them.
    let n_eff = d.effective_samples.e2e.expect("effective samples of e2e");
    let n = summary.means.requests.completed * 10.0;
    assert!(n_eff > 10_000.0 && n_eff < n, "{n_eff} of {n}");
}

#[test]
fn a_short_mm1_at_rho_099_warns() {
    // Started empty at ρ = 0.99 the queue needs ~1/(μ(1-√ρ)²) ≈ 40,000 s to relax; 2,000 s
    // is all transient.
    let s = load(
        "validation/mm1-rho09.toml",
        &[
            "traffic.requests_per_s=0.99",
            "traffic.duration_s=2000.0",
            "traffic.warmup_s=0.0",
        ],
    );
    let summary = run(&s, None).summary;
    let w = warnings(&summary);
    assert!(
        w.iter()
            .any(|w| w.starts_with("queue wait mean rose") && w.contains("run longer")),
        "seed {}: {w:?}",
        s.run.seed
    );
    assert!(
        drift(diagnostics(&summary).drift.queue_wait.as_ref())
            .mean
            .unwrap()
            > 0.2
    );
    assert!(diagnostics(&summary).warmup_suggested_s > 0.0);
}

/// Issue 13's fixed-token scenario: Llama-3-70B on 6 H100 servers (two TP4 replicas each),
/// Poisson 50/s, fixed 1,500 in / 300 out tokens, least-outstanding routing.
const FIXED: &str = r#"
name = "fixed-cohorts"
[run]
seed = 1
replications = 2
[traffic]
requests_per_s = 50.0
duration_s = 600.0
[servers]
kind = "llm"
count = 6
hardware = "h100-80gb"
[model]
preset = "llama-3-70b"
[request]
input_tokens = { dist = "fixed", value = 1500 }
output_tokens = { dist = "fixed", value = 300 }
"#;

#[test]
fn fixed_token_cohorts_drift_and_the_run_says_so() {
    // Least-outstanding routing sends the arrivals after a cohort finishes to the replica it
    // left; fixed lengths make those arrivals finish together again, so cohorts grow over
    // ~1,500 s and TTFT with them (README, "Fixed-length requests and least-outstanding
    // routing"). A 600 s run is inside that transient and must say so.
    let s = inline(FIXED, &[]);
    let summary = run(&s, None).summary;
    let w = warnings(&summary);
    assert!(
        w.iter().any(|w| w.starts_with("TTFT mean rose")),
        "seed {}: {w:?}",
        s.run.seed
    );
    assert!(
        drift(diagnostics(&summary).drift.ttft.as_ref())
            .p99
            .unwrap()
            > 0.3
    );
    // report.html shows the warnings too.
    let html =
        fleetsim::report::html::render_report(&fleetsim::report::pages::run_report(&summary));
    assert!(html.contains("Steady state: warnings") && html.contains("TTFT mean rose"));
    // Not a queue that grows: the number in system is steady (≈ λ · e2e ≈ 645).
    assert!(summary.stable);
    assert!(
        drift(diagnostics(&summary).drift.e2e.as_ref())
            .mean
            .unwrap()
            .abs()
            < 0.05
    );
    // Routing that ignores load does not synchronise: no drift.
    let rr = inline(FIXED, &["router.policy=\"round-robin\""]);
    let rr = run(&rr, None).summary;
    assert!(
        drift(diagnostics(&rr).drift.ttft.as_ref())
            .p99
            .unwrap()
            .abs()
            < 0.1
    );
    assert!(
        !warnings(&rr).iter().any(|w| w.starts_with("TTFT")),
        "{:?}",
        warnings(&rr)
    );
}

#[test]
fn drain_completes_every_measured_request() {
    for (rel, sets) in [
        (
            "validation/mmc.toml",
            vec!["traffic.duration_s=3000.0", "traffic.warmup_s=300.0"],
        ),
        ("llama7b-plan.toml", vec!["servers.count=6"]),
    ] {
        let mut sets = sets.clone();
        sets.push("run.replications=2");
        let plain = run(&load(rel, &sets), Some(2)).summary;
        sets.push("run.drain=true");
        let s = load(rel, &sets);
        let drained = run(&s, Some(2)).summary;
        let arrived = drained.means.requests.arrived;
        assert!(arrived > 0.0);
        assert_eq!(drained.means.requests.completed, arrived, "{rel}");
        assert_eq!(drained.means.requests.in_flight, 0.0, "{rel}");
        // The same arrivals, the same window: only the stragglers are added.
        assert_eq!(plain.means.requests.arrived, arrived, "{rel}");
        assert!(plain.means.requests.in_flight > 0.0, "{rel}");
        // Utilisation still covers [warmup_s, duration_s] (LLM steps straddling the end now
        // complete, and count their share inside the window).
        let (u0, u1) = (plain.means.utilization, drained.means.utilization);
        assert!((u0 - u1).abs() < 1e-3, "{rel}: {u0} vs {u1}");
        // Drained requests were the ones still in service at the end: the tail grows.
        assert!(
            drained.means.latency_s.e2e.max >= plain.means.latency_s.e2e.max,
            "{rel}"
        );
        // Deterministic whatever the threads.
        assert_eq!(run(&s, Some(1)).summary, drained, "{rel}");
        assert!(s.to_resolved_toml().contains("drain = true"));
    }
}

#[test]
fn a_plan_judged_on_unsettled_runs_says_its_answer_may_change() {
    // The fixed-token fleet at 600 s: TTFT p99 is still rising, so the count plan picks
    // (5 here; 8 with 3,600 s runs) carries a note next to the answer.
    let s = inline(FIXED, &["slo.ttft_p99_s=1.5"]);
    let p = fleetsim::drivers::plan::plan(&s, None)
        .unwrap_or_else(|e| panic!("seed {}: {e}", s.run.seed));
    assert!(
        p.flips.iter().any(|f| f.starts_with(&format!(
            "{} servers was judged on runs that had not settled",
            p.servers
        )) && f.contains("slo.ttft_p99_s rose")),
        "{:?}",
        p.flips
    );
    let chosen = p.curve.iter().find(|c| c.servers == p.servers).unwrap();
    assert!(chosen.targets[0].drift.is_some_and(|d| d > 0.15));
    assert!(!chosen.warnings.is_empty());
}
