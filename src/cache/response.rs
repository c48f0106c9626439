//! The response cache in front of the fleet: a hit is answered without any server time.

use rand::RngExt;
use rand::rngs::ChaCha8Rng;

use super::lru;
use crate::engine::SimDuration;
use crate::engine::rng::{Purpose, stream};
use crate::scenario::CacheSpec;
use crate::workload::Request;

/// The response cache of one replication, drawing from its own random stream.
pub struct ResponseCache {
    policy: Policy,
    rng: ChaCha8Rng,
}

enum Policy {
    /// Every request goes to a server.
    None,
    /// Each request hits with probability `hit_rate`.
    Bernoulli {
        hit_rate: f64,
        hit_latency: SimDuration,
    },
    /// Each request asks a Zipf-popular query; an LRU cache of answers decides.
    Lru {
        queries: lru::ZipfQueries,
        cache: lru::LruCache,
        hit_latency: SimDuration,
    },
}

impl ResponseCache {
    /// The cache of one replication seeded with `seed`.
    ///
    /// # Panics
    ///
    /// On an LRU spec validation would have refused (a caller bug).
    pub fn new(spec: &CacheSpec, seed: u64) -> Self {
        let policy = match *spec {
            CacheSpec::Lru {
                zipf_s,
                distinct_queries,
                capacity,
                ttl_s,
                hit_latency_s,
            } => Policy::Lru {
                queries: lru::ZipfQueries::new(distinct_queries, zipf_s)
                    .expect("validation bounds distinct_queries and zipf_s"),
                cache: lru::LruCache::new(capacity, ttl_s)
                    .expect("validation bounds the capacity and the TTL"),
                hit_latency: SimDuration::from_secs_f64(hit_latency_s),
            },
            CacheSpec::None => Policy::None,
            CacheSpec::Bernoulli {
                hit_rate,
                hit_latency_s,
            } => Policy::Bernoulli {
                hit_rate,
                hit_latency: SimDuration::from_secs_f64(hit_latency_s),
            },
        };
        ResponseCache {
            policy,
            rng: stream(seed, Purpose::Cache),
        }
    }

    /// Looks the request up; `Some(latency)` on a hit.
    pub fn lookup(&mut self, req: &Request) -> Option<SimDuration> {
        match &mut self.policy {
            Policy::None => None,
            Policy::Bernoulli {
                hit_rate,
                hit_latency,
            } => (self.rng.random::<f64>() < *hit_rate).then_some(*hit_latency),
            Policy::Lru {
                queries,
                cache,
                hit_latency,
            } => {
                let q = queries.sample(&mut self.rng);
                cache
                    .lookup_insert(q, req.arrival.as_secs_f64())
                    .then_some(*hit_latency)
            }
        }
    }
}
