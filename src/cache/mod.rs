//! The response cache in front of the fleet: a hit is answered without any server time.

use rand::RngExt;
use rand::rngs::ChaCha8Rng;

use crate::engine::SimDuration;
use crate::engine::rng::{Purpose, stream};
use crate::scenario::CacheSpec;
use crate::workload::Request;

/// A response cache of one replication.
pub enum ResponseCache {
    /// Every request goes to a server.
    None,
    /// Each request hits with probability `hit_rate`, drawn from the cache's own stream.
    Bernoulli {
        /// Hit probability.
        hit_rate: f64,
        /// Time to answer a hit.
        hit_latency: SimDuration,
        /// The cache's random stream.
        rng: ChaCha8Rng,
    },
}

impl ResponseCache {
    /// The cache of one replication seeded with `seed`.
    pub fn new(spec: &CacheSpec, seed: u64) -> Self {
        match *spec {
            CacheSpec::None => ResponseCache::None,
            CacheSpec::Bernoulli {
                hit_rate,
                hit_latency_s,
            } => ResponseCache::Bernoulli {
                hit_rate,
                hit_latency: SimDuration::from_secs_f64(hit_latency_s),
                rng: stream(seed, Purpose::Cache),
            },
        }
    }

    /// Looks the request up; `Some(latency)` on a hit.
    pub fn lookup(&mut self, _req: &Request) -> Option<SimDuration> {
        match self {
            ResponseCache::None => None,
            ResponseCache::Bernoulli {
                hit_rate,
                hit_latency,
                rng,
            } => (rng.random::<f64>() < *hit_rate).then_some(*hit_latency),
        }
    }
}
