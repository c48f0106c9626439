//! A whole run: independent replications in parallel, averaged into one summary.
//!
//! Replications run on a rayon pool; results are collected in replication order and averaged
//! afterwards, so the summary is byte-identical whatever the number of threads.

use rayon::prelude::*;
use serde_json::{Map, Value, json};

use crate::fleet::{
    ReplicationMetrics, ReplicationOutcome, RunControl, offered_load, run_replication_with,
};
use crate::metrics::ci::aggregate;
use crate::scenario::Scenario;

/// The result of `fleetsim run`.
#[derive(Clone, Debug)]
pub struct RunOutput {
    /// The validated scenario that ran.
    pub scenario: Scenario,
    /// `summary.json`: means over replications plus `ci95` half-widths.
    pub summary: Value,
    /// Each replication's metrics, in replication order (`summary.csv` rows).
    pub replications: Vec<ReplicationMetrics>,
}

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
        // More threads than replications would only idle (results do not depend on it).
        Some(n) => match rayon::ThreadPoolBuilder::new()
            .num_threads(n.clamp(1, reps.len().max(1)))
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
pub fn summarize(scenario: &Scenario, outcomes: &[ReplicationOutcome]) -> Value {
    let docs: Vec<Value> = outcomes
        .iter()
        .map(|o| serde_json::to_value(&o.metrics).unwrap_or(Value::Null))
        .collect();
    let (means, cis) = aggregate(&docs);
    let overload: Vec<String> = outcomes
        .iter()
        .enumerate()
        .filter_map(|(i, o)| {
            let r = &o.metrics.requests;
            let why = o.overload.clone().or_else(|| {
                // Nothing measured finished: the latencies are empty, not zero, and no
                // target can be met (for example a prompt that never fits the KV cache).
                (r.arrived > 0 && r.completed == 0).then(|| {
                    format!(
                        "none of the {} requests that arrived in the measured window completed",
                        r.arrived
                    )
                })
            });
            why.map(|m| format!("replication {i}: {m}"))
        })
        .collect();
    let load = offered_load(scenario);
    let stable = overload.is_empty() && load.is_none_or(|l| l < 1.0);

    let mut summary = Map::new();
    summary.insert("scenario".into(), json!(scenario.name));
    summary.insert("seed".into(), json!(scenario.run.seed));
    summary.insert("fleetsim_version".into(), json!(env!("CARGO_PKG_VERSION")));
    summary.insert("servers".into(), json!(scenario.servers.count));
    summary.insert("replications".into(), json!(outcomes.len()));
    summary.insert("stable".into(), json!(stable));
    summary.insert("offered_load".into(), json!(load));
    summary.insert(
        "overload".into(),
        if overload.is_empty() {
            Value::Null
        } else {
            json!(overload)
        },
    );
    if let Value::Object(m) = means {
        summary.extend(m);
    }
    let mut summary = Value::Object(summary);
    crate::cost::add_costs(scenario, &mut summary);
    if let Value::Object(m) = &mut summary {
        m.insert("ci95".into(), cis);
        let recs: Vec<&crate::metrics::steady::SteadyRecorder> =
            outcomes.iter().map(|o| &o.steady).collect();
        let ended: Vec<f64> = outcomes.iter().map(|o| o.metrics.ended_at_s).collect();
        m.insert(
            "diagnostics".into(),
            crate::metrics::steady::diagnostics(&recs, &ended, scenario.traffic.duration_s),
        );
    }
    summary
}
