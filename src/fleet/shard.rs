//! Sharded replications (`run.shards` > 1): one big fleet split into independent sub-fleets
//! that run in parallel and are merged exactly into one replication.
//!
//! **Partition.** With `N` shards and `S` servers, shard `i` gets `S / N` servers, and the
//! first `S mod N` shards one more; shard 0 holds the fleet's first servers, shard 1 the
//! next, and so on (so replica and server indices of the merged fleet run in shard order).
//!
//! **Arrivals.** Each shard draws its own arrival stream (Poisson, or diurnal with the same
//! day profile) at the fleet's rate times its share of the servers, so the shards' rates add
//! up to the fleet's. Every random stream of shard `i` derives from
//! [`shard_seed`]`(replication seed, i)` (stream id [`crate::engine::rng::SHARD_STREAM`]):
//! shards are independent of each other and of the unsharded run's streams. The router
//! (random, round-robin, least-outstanding, power-of-two) chooses among its own shard's
//! replicas; the overload guard `run.max_queue` applies per shard in proportion to its
//! share (rounded up).
//!
//! **Merge.** Every shard runs its own event loop to the end and closes its own figures
//! (what is in flight, its queue-growth verdict); the shards are then merged in shard order
//! before anything is summarised: latency recorders (hdrhistogram counts) and counts add,
//! time-weighted meters add their integrals, steady-state windows add, and the request log
//! holds shard 0's rows, then shard 1's (each in completion order). The result depends only
//! on the scenario and seed, never on the thread count. A shard that is overloaded makes the
//! replication overloaded, naming the shard; the merged window then ends where the earliest
//! stopped shard stopped.
//!
//! A sharded scenario is a different scenario from the unsharded one (its streams and
//! routing differ); `run.shards = 1` runs the one fleet exactly as before.

use rayon::prelude::*;

use crate::engine::rng::{replication_seed, shard_seed};
use crate::engine::{Ending, SimTime, StopRules, event_loop};
use crate::fleet::RunControl;
use crate::fleet::gpu::LlmFleet;
use crate::metrics::replication::ReplicationOutcome;
use crate::scenario::{LlmServerSpec, Scenario};

/// Servers of each shard: `count / shards` each, the first `count mod shards` shards one
/// more (`shards` ≥ 1).
pub fn shard_servers(count: u32, shards: u32) -> Vec<u32> {
    let (base, extra) = (count / shards, count % shards);
    (0..shards).map(|i| base + u32::from(i < extra)).collect()
}

/// The scenario shard `i` runs: `servers` of the fleet's servers, the fleet's arrival rate
/// and overload guard in proportion, one shard.
pub fn shard_scenario(scenario: &Scenario, servers: u32) -> Scenario {
    let mut s = scenario.clone();
    let share = f64::from(servers) / f64::from(scenario.servers.count);
    s.servers.count = servers;
    s.traffic.requests_per_s = scenario.traffic.requests_per_s * share;
    s.run.max_queue = ((scenario.run.max_queue as f64 * share).ceil() as u64).max(1);
    s.run.shards = 1;
    s
}

/// One shard, run to its end and closed: the fleet (log closed) and how its run ended.
fn run_shard(
    scenario: &Scenario,
    spec: &LlmServerSpec,
    replication: u32,
    shard: u32,
    first_replica: u32,
    ctl: &RunControl,
) -> (LlmFleet, Ending) {
    let seed = shard_seed(replication_seed(scenario.run.seed, replication), shard);
    let log = ctl.open_shard_log(replication, shard);
    let (mut fleet, mut queue) = LlmFleet::seeded(scenario, spec, seed, log);
    fleet.set_first_replica(first_replica);
    let stop = StopRules {
        end: SimTime::from_secs_f64(scenario.traffic.duration_s),
        drain: scenario.run.drain,
        max_queue: scenario.run.max_queue,
    };
    let mut ending = event_loop::run(&mut fleet, &mut queue, &stop, || ctl.is_cancelled());
    fleet.close(&mut ending, queue);
    ctl.close_request_log(fleet.take_log());
    (fleet, ending)
}

/// Runs replication `replication` of a scenario with `run.shards` > 1 on LLM servers
/// `spec`: the shards in parallel, then merged in shard order (see the module docs).
pub fn run_sharded_replication(
    scenario: &Scenario,
    spec: &LlmServerSpec,
    replication: u32,
    ctl: &RunControl,
) -> ReplicationOutcome {
    // Validation keeps shards <= servers; `plan` may try fewer servers than shards, and then
    // runs one shard per server.
    let shards = scenario.run.shards.min(scenario.servers.count).max(1);
    let servers = shard_servers(scenario.servers.count, shards);
    let scenarios: Vec<Scenario> = servers
        .iter()
        .map(|&n| shard_scenario(scenario, n))
        .collect();
    // Replica offsets: every server of a fleet has the same number of replicas.
    let per_server = spec
        .deployment(scenario.model.as_ref().expect("llm scenarios have a model"))
        .expect("validation checked the deployment")
        .replicas_per_server();
    let firsts: Vec<u32> = servers
        .iter()
        .scan(0u32, |acc, &n| {
            let first = *acc;
            *acc += n * per_server;
            Some(first)
        })
        .collect();
    let parts: Vec<(LlmFleet, Ending)> = (0..shards)
        .into_par_iter()
        .map(|i| {
            let k = i as usize;
            run_shard(&scenarios[k], spec, replication, i, firsts[k], ctl)
        })
        .collect();
    ctl.join_shard_logs(replication, shards);
    let ending = merged_ending(&parts, &servers);
    let mut parts = parts.into_iter();
    let (mut fleet, _) = parts.next().expect("at least one shard");
    for (other, _) in parts {
        fleet.merge(other, ending.now);
    }
    fleet.summarise(ending, ctl)
}

/// How the sharded replication ended: events summed; the first overloaded shard's verdict
/// (named), and the earliest end among the shards.
fn merged_ending(parts: &[(LlmFleet, Ending)], servers: &[u32]) -> Ending {
    let shards = parts.len();
    let events = parts.iter().map(|(_, e)| e.events).sum();
    let now = parts
        .iter()
        .map(|(_, e)| e.now)
        .min()
        .expect("at least one shard");
    let overload = parts.iter().enumerate().find_map(|(i, (fleet, e))| {
        let msg = e.overload.as_ref()?;
        if msg == event_loop::CANCELLED {
            return Some(msg.clone());
        }
        let first: u32 = servers[..i].iter().sum();
        Some(format!(
            "shard {i} of {shards} (servers {first}..{}, {} replicas): {msg}",
            first + servers[i],
            fleet.replica_count()
        ))
    });
    Ending {
        now,
        events,
        overload,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn servers_split_evenly_with_the_remainder_first() {
        assert_eq!(shard_servers(10, 4), [3, 3, 2, 2]);
        assert_eq!(shard_servers(8, 2), [4, 4]);
        assert_eq!(shard_servers(5, 5), [1; 5]);
        assert_eq!(shard_servers(1000, 3).iter().sum::<u32>(), 1000);
    }
}
