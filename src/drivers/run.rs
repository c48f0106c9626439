//! A whole run: independent replications in parallel, averaged into one summary.
//!
//! Replications run on a rayon pool; results are collected in replication order and averaged
//! afterwards, so the summary is byte-identical whatever the number of threads.

use rayon::prelude::*;

use crate::fleet::{RunControl, offered_load, run_replication_with};
use crate::metrics::ci::Replicated;
use crate::metrics::replication::{ReplicationMetrics, ReplicationOutcome};
use crate::report::summary::RunSummary;
use crate::scenario::Scenario;

use crate::report::outcome::RunOutput;

/// Runs every replication of `scenario` on `threads` worker threads (default: all cores).
pub fn run(scenario: &Scenario, threads: Option<usize>) -> RunOutput {
    run_with(scenario, threads, &crate::fleet::control::UNCONTROLLED)
}

/// [`run`], reporting finished replications to `ctl` and stopping early when it is cancelled
/// (the summary then says `stable: false` with the cancellation in `overload`).
pub fn run_with(scenario: &Scenario, threads: Option<usize>, ctl: &RunControl) -> RunOutput {
    let outcomes = run_replications(scenario, 0..scenario.run.replications, threads, ctl);
    let summary = summarize(scenario, &outcomes);
    RunOutput {
        scenario: scenario.clone(),
        summary,
        replications: outcomes.into_iter().map(|o| o.metrics).collect(),
    }
}

/// Runs replications `reps` of `scenario` on `threads` worker threads (default: all cores),
/// returned in replication order whatever the number of threads.
pub fn run_replications(
    scenario: &Scenario,
    reps: std::ops::Range<u32>,
    threads: Option<usize>,
    ctl: &RunControl,
) -> Vec<ReplicationOutcome> {
    let reps: Vec<u32> = reps.collect();
    let work = || {
        reps.par_iter()
            .map(|&r| {
                let out = run_replication_with(scenario, r, ctl);
                ctl.finish_one();
                out
            })
            .collect::<Vec<_>>()
    };
    match threads {
        // More threads than replications (times shards, which run in parallel too) would
        // only idle (results do not depend on it).
        Some(n) => match rayon::ThreadPoolBuilder::new()
            .num_threads(n.clamp(1, reps.len().max(1) * scenario.run.shards as usize))
            .build()
        {
            Ok(pool) => pool.install(work),
            Err(_) => work(),
        },
        None => work(),
    }
}

/// `summary.json` of `outcomes` (replications 0, 1, ... of `scenario`, in order): means over
/// replications, costs, `ci95` half-widths, then the steady-state `diagnostics`
/// ([`crate::metrics::steady`]). `replications` is the number of outcomes.
pub fn summarize(scenario: &Scenario, outcomes: &[ReplicationOutcome]) -> RunSummary {
    let metrics: Vec<&ReplicationMetrics> = outcomes.iter().map(|o| &o.metrics).collect();
    let (mut means, ci95) = ReplicationMetrics::mean_ci(&metrics);
    let overload: Vec<String> = outcomes
        .iter()
        .enumerate()
        .filter_map(|(i, o)| overload_reason(o).map(|m| format!("replication {i}: {m}")))
        .collect();
    let load = offered_load(scenario);
    let (cost, idle) = crate::cost::run_costs(scenario, &means);
    means.idle_rate.formula = Some(idle);
    let recs: Vec<&crate::metrics::steady::SteadyRecorder> =
        outcomes.iter().map(|o| &o.steady).collect();
    let ended: Vec<f64> = outcomes.iter().map(|o| o.metrics.ended_at_s).collect();
    RunSummary {
        scenario: scenario.name.clone(),
        seed: scenario.run.seed,
        fleetsim_version: env!("CARGO_PKG_VERSION").into(),
        servers: scenario.servers.count,
        replications: outcomes.len(),
        stable: overload.is_empty() && load.is_none_or(|l| l < 1.0),
        offered_load: load,
        overload: (!overload.is_empty()).then_some(overload),
        means,
        cost,
        ci95,
        diagnostics: crate::metrics::steady::diagnostics(
            &recs,
            &ended,
            scenario.traffic.duration_s,
        ),
    }
}

/// Why one replication's figures cannot be trusted: it stopped early, or nothing it measured
/// finished (its latencies are then empty, not zero, and no target can be met; for example a
/// prompt that never fits the KV cache).
fn overload_reason(o: &ReplicationOutcome) -> Option<String> {
    let r = &o.metrics.requests;
    o.overload.clone().or_else(|| {
        (r.arrived > 0 && r.completed == 0).then(|| {
            format!(
                "none of the {} requests that arrived in the measured window completed",
                r.arrived
            )
        })
    })
}
