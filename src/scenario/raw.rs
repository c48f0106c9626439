//! The scenario file exactly as written: optional keys, no defaults yet. serde rejects unknown
//! keys and wrong types here, with the line number; [`super::validate`] checks the values.

use serde::Deserialize;

use super::{ArrivalKind, DistSpec, RouterPolicy};

/// A scenario file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawScenario {
    /// Scenario name (default: the file stem).
    pub name: Option<String>,
    /// Free text.
    pub description: Option<String>,
    /// `[run]`: seed, replications, overload guard.
    pub run: Option<RawRun>,
    /// `[traffic]`: the request stream.
    pub traffic: RawTraffic,
    /// `[servers]`: the server pool.
    pub servers: RawServers,
    /// `[router]`: routing policy.
    pub router: Option<RawRouter>,
    /// `[cache]`: response cache.
    pub cache: Option<RawCache>,
}

/// `[run]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRun {
    /// Master seed (default 1).
    pub seed: Option<u64>,
    /// Independent replications (default 1).
    pub replications: Option<u32>,
    /// Overload guard: waiting requests at which the run stops (default 1,000,000).
    pub max_queue: Option<u64>,
}

/// `[traffic]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTraffic {
    /// Arrival process (default `poisson`).
    pub arrival: Option<ArrivalKind>,
    /// Mean rate per second.
    pub requests_per_s: Option<f64>,
    /// Mean rate per day (alternative to `requests_per_s`).
    pub requests_per_day: Option<f64>,
    /// Simulated duration in seconds.
    pub duration_s: f64,
    /// Warm-up in seconds (default 10% of the duration).
    pub warmup_s: Option<f64>,
}

/// `[servers]` as written. One flat table (not a tagged enum) so that serde reports unknown
/// keys and wrong types with their own line; `kind` decides which keys apply, in validation.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawServers {
    /// Server model (default `queue`).
    pub kind: Option<ServerKindName>,
    /// Number of servers.
    pub count: u32,
    /// `queue`: slots per server (default 1).
    pub slots: Option<u32>,
    /// `queue`: service time distribution in seconds.
    pub service_time_s: Option<DistSpec>,
}

/// The server models a scenario can name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ServerKindName {
    /// A generic multi-slot queueing server.
    Queue,
}

/// `[router]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRouter {
    /// Policy (default `central-queue`).
    pub policy: Option<RouterPolicy>,
}

/// `[cache]` as written; flat for the same reason as [`RawServers`].
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCache {
    /// Cache model (default `none`).
    pub kind: Option<CacheKindName>,
    /// `bernoulli`: hit probability in [0, 1].
    pub hit_rate: Option<f64>,
    /// Seconds to answer a hit (default 0.01).
    pub hit_latency_s: Option<f64>,
}

/// The cache models a scenario can name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CacheKindName {
    /// No cache.
    None,
    /// Fixed hit probability.
    Bernoulli,
}
