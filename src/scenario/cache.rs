//! The `[cache]` section: the response cache in front of the fleet, and the hit rate an LRU
//! cache is expected to reach (Che's approximation), which cost estimates assume.

use serde::{Deserialize, Serialize};

use super::ScenarioError;
use super::check::Check;
use super::limits;
use super::raw::{CacheKindName, RawCache};

/// Default hit latency of a response cache: a lookup in a nearby key-value store.
pub const DEFAULT_HIT_LATENCY_S: f64 = 0.01;

/// The response cache in front of the fleet.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum CacheSpec {
    /// No cache: every request reaches a server.
    None,
    /// Each request hits with a fixed probability (the reports' assumed hit rate).
    Bernoulli {
        /// Probability that a request is answered from the cache.
        hit_rate: f64,
        /// Time to answer a hit, in seconds; a hit uses no server time.
        hit_latency_s: f64,
    },
    /// An LRU cache of `capacity` answers in front of a stream of queries whose popularity
    /// is Zipf(`zipf_s`) over `distinct_queries`; the hit rate emerges.
    Lru {
        /// Zipf exponent.
        zipf_s: f64,
        /// Distinct queries.
        distinct_queries: u64,
        /// Entries held.
        capacity: u64,
        /// Seconds an entry stays valid after insertion.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ttl_s: Option<f64>,
        /// Time to answer a hit, in seconds.
        hit_latency_s: f64,
    },
}

impl CacheSpec {
    /// The hit rate assumed before the run (the Bernoulli rate; zero without a cache).
    pub fn assumed_hit_rate(&self) -> f64 {
        match self {
            CacheSpec::None => 0.0,
            CacheSpec::Bernoulli { hit_rate, .. } => *hit_rate,
            // Che's approximation: the hit rate LRU is expected to reach without TTL.
            CacheSpec::Lru {
                zipf_s,
                distinct_queries,
                capacity,
                ..
            } => che_hit_rate(*distinct_queries, *zipf_s, *capacity),
        }
    }
}

/// Validates `[cache]` (absent: no cache).
pub fn validate_cache(raw: Option<RawCache>, check: Check) -> Result<CacheSpec, ScenarioError> {
    let rc = raw.unwrap_or(RawCache {
        kind: None,
        hit_rate: None,
        hit_latency_s: None,
        zipf_s: None,
        distinct_queries: None,
        capacity: None,
        ttl_s: None,
    });
    let hit_latency_s = |rc: &RawCache| {
        check.non_negative_s(
            "cache.hit_latency_s",
            rc.hit_latency_s.unwrap_or(DEFAULT_HIT_LATENCY_S),
        )
    };
    match rc.kind.unwrap_or(CacheKindName::None) {
        CacheKindName::None => {
            check.absent(
                rc.hit_rate.is_some(),
                "cache.hit_rate",
                "only applies to kind = \"bernoulli\" (this cache has kind = \"none\")",
            )?;
            Ok(CacheSpec::None)
        }
        CacheKindName::Bernoulli => {
            let hit_rate = rc.hit_rate.ok_or_else(|| {
                check.invalid(
                    "cache.hit_rate",
                    "missing: kind = \"bernoulli\" needs a hit rate between 0 and 1",
                )
            })?;
            if !(0.0..=1.0).contains(&hit_rate) {
                return Err(check.invalid(
                    "cache.hit_rate",
                    format!("must be between 0 and 1 inclusive, got {hit_rate}"),
                ));
            }
            Ok(CacheSpec::Bernoulli {
                hit_rate,
                hit_latency_s: hit_latency_s(&rc)?,
            })
        }
        CacheKindName::Lru => {
            let (zipf_s, distinct_queries, capacity) = validate_lru(&rc, check)?;
            Ok(CacheSpec::Lru {
                zipf_s,
                distinct_queries,
                capacity,
                ttl_s: rc.ttl_s,
                hit_latency_s: hit_latency_s(&rc)?,
            })
        }
    }
}

/// `kind = "lru"`: its popularity model, `(zipf_s, distinct_queries, capacity)`, and TTL.
fn validate_lru(rc: &RawCache, check: Check) -> Result<(f64, u64, u64), ScenarioError> {
    let zipf_s = rc.zipf_s.unwrap_or(0.8);
    if !(zipf_s.is_finite() && zipf_s >= 0.0) {
        return Err(check.invalid(
            "cache.zipf_s",
            format!("must be zero or positive, got {zipf_s}"),
        ));
    }
    let distinct_queries = rc.distinct_queries.ok_or_else(|| {
        check.invalid(
            "cache.distinct_queries",
            "missing: kind = \"lru\" needs the number of distinct queries",
        )
    })?;
    if distinct_queries == 0 || distinct_queries > 10_000_000 {
        return Err(check.invalid(
            "cache.distinct_queries",
            format!("must be between 1 and 10,000,000, got {distinct_queries}"),
        ));
    }
    let capacity = rc.capacity.ok_or_else(|| {
        check.invalid(
            "cache.capacity",
            "missing: kind = \"lru\" needs a capacity in entries",
        )
    })?;
    if capacity > limits::MAX_CACHE_ENTRIES {
        return Err(check.invalid(
            "cache.capacity",
            format!(
                "must be at most {} entries, got {capacity}",
                limits::MAX_CACHE_ENTRIES
            ),
        ));
    }
    if let Some(t) = rc.ttl_s {
        check.positive_s("cache.ttl_s", t)?;
    }
    Ok((zipf_s, distinct_queries, capacity))
}

/// Che's approximation of the hit rate of an LRU cache of `capacity` entries under IRM
/// Zipf traffic over `distinct_queries` ids with exponent `zipf_s` (see `cache::lru::ZipfQueries`).
///
/// With popularities `p_k`, the characteristic time `T` solves
/// `Σ_k (1 − exp(−p_k T)) = C`, found by bisection; the hit rate is then
/// `Σ_k p_k (1 − exp(−p_k T))`. Returns 1 when the cache holds every query and 0 when
/// `capacity` is 0. Cost: O(n) memory and O(n) per bisection step, by direct summation,
/// so it is meant for `n` up to about 10^6 to 10^7.
///
/// # Panics
///
/// If `distinct_queries` is 0 or `zipf_s` is negative or not finite.
pub fn che_hit_rate(distinct_queries: u64, zipf_s: f64, capacity: u64) -> f64 {
    assert!(distinct_queries > 0, "distinct_queries must be positive");
    assert!(
        zipf_s.is_finite() && zipf_s >= 0.0,
        "zipf_s must be finite and non-negative, got {zipf_s}"
    );
    if capacity == 0 {
        return 0.0;
    }
    if capacity >= distinct_queries {
        return 1.0;
    }
    // Popularities, least popular first so the sums add small terms before large ones.
    let weights: Vec<f64> = (1..=distinct_queries)
        .rev()
        .map(|k| (k as f64).powf(-zipf_s))
        .collect();
    let total: f64 = weights.iter().sum();
    let p: Vec<f64> = weights.iter().map(|w| w / total).collect();
    // Expected number of cached entries after time `t`: increasing from 0 to n.
    let occupancy = |t: f64| -> f64 { p.iter().map(|&pk| -(-pk * t).exp_m1()).sum() };
    let c = capacity as f64;
    let mut lo = 0.0_f64;
    let mut hi = c;
    while occupancy(hi) < c {
        lo = hi;
        hi *= 2.0;
    }
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if mid <= lo || mid >= hi {
            break;
        }
        if occupancy(mid) < c {
            lo = mid;
        } else {
            hi = mid;
        }
        if hi - lo <= 1e-12 * hi {
            break;
        }
    }
    let t = 0.5 * (lo + hi);
    p.iter().map(|&pk| pk * -(-pk * t).exp_m1()).sum()
}
