//! `run.shards`: which scenarios can be split into independent sub-fleets.
//!
//! A shard is a fleet of its own with its own arrival stream (see the fleet's `shard` module),
//! so only what needs no state shared across the whole fleet can be sharded: LLM servers,
//! Poisson or diurnal arrivals, routers that choose among their own shard's replicas
//! (random, round-robin, least-outstanding, power-of-two), and a response cache with no
//! memory (none, bernoulli). Central queues, prefix affinity, LRU caches, autoscaling and
//! trace replays are refused with a message saying so.

use super::check::Check;
use super::traffic::ArrivalProcess;
use super::{
    AutoscaleSpec, CacheSpec, RouterPolicy, RouterSpec, ScenarioError, ServerKind, ServersSpec,
    TrafficSpec,
};

/// Checks that a scenario with `shards` shards can be split (nothing to check for 1).
pub fn check_shards(
    shards: u32,
    traffic: &TrafficSpec,
    servers: &ServersSpec,
    router: &RouterSpec,
    cache: &CacheSpec,
    autoscale: &Option<AutoscaleSpec>,
    check: Check,
) -> Result<(), ScenarioError> {
    if shards <= 1 {
        return Ok(());
    }
    let refuse = |why: &str| {
        Err(check.invalid(
            "run.shards",
            format!("is {shards}, but {why}; set run.shards = 1 (one fleet)"),
        ))
    };
    if shards > servers.count {
        return refuse(&format!(
            "each shard needs a server of its own and servers.count is {}",
            servers.count
        ));
    }
    if !matches!(servers.kind, ServerKind::Llm(_)) {
        return refuse("only fleets of LLM servers can be sharded");
    }
    if servers.disagg.is_some() {
        return refuse(
            "a disaggregated fleet (servers.mode = \"disaggregated\") cannot be sharded yet",
        );
    }
    if !matches!(
        traffic.arrival,
        ArrivalProcess::Poisson | ArrivalProcess::Diurnal { .. }
    ) {
        return refuse(
            "only poisson and diurnal arrivals can be split into per-shard streams (a trace \
             is one stream)",
        );
    }
    match router.policy {
        RouterPolicy::Random
        | RouterPolicy::RoundRobin
        | RouterPolicy::LeastOutstanding
        | RouterPolicy::PowerOfTwo => {}
        RouterPolicy::CentralQueue | RouterPolicy::PrefixAffinity => {
            return refuse(
                "router.policy needs state of the whole fleet; sharding allows random, \
                 round-robin, least-outstanding and power-of-two",
            );
        }
    }
    if matches!(cache, CacheSpec::Lru { .. }) {
        return refuse(
            "an lru response cache keeps popularity state for the whole fleet; sharding \
             allows cache.kind none or bernoulli",
        );
    }
    if autoscale.is_some() {
        return refuse("[autoscale] sizes the whole fleet at once");
    }
    Ok(())
}
