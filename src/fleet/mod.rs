//! One replication of a scenario: a fleet of simulated servers that moves requests through
//! workload -> cache -> router -> servers -> metrics, driven by the engine's event loop
//! ([`crate::engine::event_loop`]).
//!
//! Each fleet kind handles its events in one struct ([`queue_server::QueueFleet`],
//! [`gpu::LlmFleet`], [`disagg::DisaggFleet`] for prefill and decode pools) that implements the engine's [`Model`] and this module's [`Fleet`].
//! The loop is single-threaded and deterministic: integer time, events in (time, insertion)
//! order, and every random draw from a named stream of the replication's seed. A replication
//! with `run.shards` > 1 runs several such loops in parallel and merges them ([`shard`]).

use crate::engine::event_loop;
use crate::engine::{Ending, EventQueue, Model, SimTime, StopRules};
use crate::fleet::queue_server::QueueFleet;
use crate::scenario::{Scenario, ServerKind};

pub mod autoscale;
mod batch;
pub mod control;
pub mod disagg;
pub mod gpu;
pub mod kv_link;
pub mod queue_server;
pub mod replica;
pub mod shard;
mod tally;
use crate::metrics::replication::ReplicationOutcome;
pub use control::RunControl;

/// The offered load ratio λ·(1 − h)·E\[S\] / (servers · slots) where it is known before running
/// (queue servers with no cache or a fixed hit rate); at or above 1 no finite fleet queue is
/// stable.
pub fn offered_load(s: &Scenario) -> Option<f64> {
    match &s.servers.kind {
        ServerKind::Queue {
            slots,
            service_time_s,
        } => {
            // An LRU cache's hit rate emerges from the run (and starts at zero while it
            // fills): no formula gives the load it leaves, so it is judged from the run.
            if matches!(s.cache, crate::scenario::CacheSpec::Lru { .. }) {
                return None;
            }
            let mean = service_time_s.build().ok()?.mean();
            let lambda = s.traffic.requests_per_s * (1.0 - s.cache.assumed_hit_rate());
            Some(lambda * mean / (f64::from(s.servers.count) * f64::from(*slots)))
        }
        // Batching makes an LLM server's capacity depend on the load itself; stability is
        // judged from the run (queue growth), not before it.
        ServerKind::Llm(_) => None,
    }
}

/// Runs replication `replication` of `scenario`.
pub fn run_replication(scenario: &Scenario, replication: u32) -> ReplicationOutcome {
    run_replication_with(scenario, replication, &control::UNCONTROLLED)
}

/// Runs replication `replication`, stopping early (as `overload`, with
/// [`crate::engine::event_loop::CANCELLED`]) if `ctl` is cancelled.
pub fn run_replication_with(
    scenario: &Scenario,
    replication: u32,
    ctl: &RunControl,
) -> ReplicationOutcome {
    match &scenario.servers.kind {
        ServerKind::Llm(spec) if scenario.run.shards > 1 => {
            shard::run_sharded_replication(scenario, spec, replication, ctl)
        }
        ServerKind::Queue { slots, .. } => {
            run_queue_replication(scenario, *slots, replication, ctl)
        }
        // Issue 17: a fleet split into prefill and decode pools.
        ServerKind::Llm(_) if scenario.servers.disagg.is_some() => {
            let split = scenario.servers.disagg.as_deref().expect("checked");
            disagg::run_disagg_replication(scenario, split, replication, ctl)
        }
        ServerKind::Llm(spec) => gpu::run_llm_replication(scenario, spec, replication, ctl),
    }
}

/// Runs replication `replication` of a scenario whose servers are queue servers with `slots`
/// slots each.
pub fn run_queue_replication(
    scenario: &Scenario,
    slots: u32,
    replication: u32,
    ctl: &RunControl,
) -> ReplicationOutcome {
    let (fleet, queue) = QueueFleet::new(scenario, slots, replication, ctl);
    replicate(fleet, queue, scenario, ctl)
}

/// A fleet kind: a [`Model`] for the engine's loop that, once the loop has ended, measures
/// what it saw.
pub trait Fleet: Model + Sized {
    /// Closes the replication the loop ended as `ending`: counts what `queue` and the fleet
    /// still hold, judges whether the queue kept growing, and assembles the metrics.
    fn finish(
        self,
        ending: Ending,
        queue: EventQueue<Self::Event>,
        ctl: &RunControl,
    ) -> ReplicationOutcome;
}

/// Runs `fleet` from `queue` under the scenario's stop rules and `ctl`'s cancel flag, then
/// finishes it.
fn replicate<F: Fleet>(
    mut fleet: F,
    mut queue: EventQueue<F::Event>,
    scenario: &Scenario,
    ctl: &RunControl,
) -> ReplicationOutcome {
    let stop = StopRules {
        end: SimTime::from_secs_f64(scenario.traffic.duration_s),
        drain: scenario.run.drain,
        max_queue: scenario.run.max_queue,
    };
    let ending = event_loop::run(&mut fleet, &mut queue, &stop, || ctl.is_cancelled());
    fleet.finish(ending, queue, ctl)
}
