//! `fleetsim plan`: the fewest servers that meet every `[slo]` target. A colocated fleet is
//! a search over one server count ([`super::plan_colocated`], which documents the search,
//! the replications, the run-length flips and the timing band); a disaggregated fleet is a
//! search over both pools ([`super::plan_disagg`]) with the colocated plan beside it.

pub use super::plan_colocated::{DEFAULT_MAX_SERVERS, PlanError, plannable, replications_bound};
use crate::report::outcome::PlanOutcome;
use crate::scenario::Scenario;

/// Plans with the default upper bound ([`DEFAULT_MAX_SERVERS`]).
pub fn plan(scenario: &Scenario, threads: Option<usize>) -> Result<PlanOutcome, PlanError> {
    plan_bounded(scenario, threads, DEFAULT_MAX_SERVERS)
}

/// Finds the cheapest fleet meeting every target of `scenario.slo` with at most
/// `servers_max` servers, running replications on `threads` threads (results do not depend
/// on it): the smallest count of a colocated fleet, or the cheapest (prefill, decode) pair
/// of a disaggregated one.
pub fn plan_bounded(
    scenario: &Scenario,
    threads: Option<usize>,
    servers_max: u32,
) -> Result<PlanOutcome, PlanError> {
    let servers_max = plannable(scenario, servers_max)?;
    if scenario.servers.disagg.is_some() {
        super::plan_disagg::plan_disagg(scenario, threads, servers_max)
    } else {
        super::plan_colocated::plan_colocated(scenario, threads, servers_max)
    }
}
