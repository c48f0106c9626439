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

/// `[servers]` as written; `kind` selects which keys are allowed.
#[derive(Debug, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum RawServers {
    /// `kind = "queue"`.
    Queue {
        /// Number of servers.
        count: u32,
        /// Slots per server (default 1).
        slots: Option<u32>,
        /// Service time distribution in seconds.
        service_time_s: DistSpec,
    },
}

/// `[router]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRouter {
    /// Policy (default `central-queue`).
    pub policy: Option<RouterPolicy>,
}

/// `[cache]` as written.
#[derive(Debug, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum RawCache {
    /// No cache.
    None,
    /// Fixed hit probability.
    Bernoulli {
        /// Hit probability in [0, 1].
        hit_rate: f64,
        /// Seconds to answer a hit (default 0.01).
        hit_latency_s: Option<f64>,
    },
}
