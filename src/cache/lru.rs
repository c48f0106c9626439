//! An exact LRU response cache fed by Zipf-distributed queries, and Che's approximation
//! of its hit rate.
//!
//! - [`ZipfQueries`] draws query ids with popularity `P(k) ∝ 1/(k+1)^s` (rank 0 most
//!   popular) under the independent reference model (IRM): each request is an independent
//!   draw. Sampling uses rejection (`rand_distr::Zipf`), so no per-query table is built
//!   and `n` may be as large as 2^53.
//! - [`LruCache`] is an exact LRU over `u64` keys with an optional time to live. Cost: a
//!   `HashMap` from key to a slot in a [`Recency`] slab (an intrusive doubly linked
//!   recency list, shared with the prefix cache), so each lookup is O(1). Nothing iterates the hash map, so results
//!   depend only on the sequence of calls.
//! - [`che_hit_rate`](crate::scenario::cache::che_hit_rate) predicts the hit rate of an LRU cache of `C` entries under IRM Zipf
//!   traffic (Che, Tung and Wang 2002; Fricker, Robert and Roberts 2012), which the tests
//!   check against the simulated cache.

use std::collections::HashMap;

use rand::rngs::ChaCha8Rng;
use rand_distr::{Distribution, Zipf};

use super::recency::Recency;

/// Largest number of distinct queries [`ZipfQueries`] accepts: ids above 2^53 are not
/// exact in `f64`, which the sampler works in.
pub const MAX_DISTINCT_QUERIES: u64 = 1 << 53;

/// Zipf-distributed query ids: id `k` in `0..n` is drawn with probability proportional to
/// `1/(k+1)^s`, so id 0 is the most popular.
///
/// Sampling is by rejection (`rand_distr::Zipf`, Crease's method): O(1) memory and a small
/// expected number of uniform draws per sample, for any `n`. The sequence of ids depends
/// only on the generator's state.
#[derive(Clone, Debug)]
pub struct ZipfQueries {
    /// Number of distinct query ids.
    distinct_queries: u64,
    /// The underlying distribution over `1..=n`.
    dist: Zipf<f64>,
}

impl ZipfQueries {
    /// Queries over `distinct_queries` ids with Zipf exponent `zipf_s`.
    ///
    /// Errors if `distinct_queries` is 0 or above [`MAX_DISTINCT_QUERIES`], or if `zipf_s`
    /// is negative, NaN or infinite. `zipf_s = 0` is the uniform distribution.
    pub fn new(distinct_queries: u64, zipf_s: f64) -> Result<Self, String> {
        if distinct_queries == 0 || distinct_queries > MAX_DISTINCT_QUERIES {
            return Err(format!(
                "distinct_queries must be in 1..={MAX_DISTINCT_QUERIES}, got {distinct_queries}"
            ));
        }
        if !zipf_s.is_finite() || zipf_s < 0.0 {
            return Err(format!(
                "zipf_s must be finite and non-negative, got {zipf_s}"
            ));
        }
        // Exact: distinct_queries <= 2^53.
        let dist = Zipf::new(distinct_queries as f64, zipf_s).map_err(|e| e.to_string())?;
        Ok(ZipfQueries {
            distinct_queries,
            dist,
        })
    }

    /// Number of distinct query ids.
    pub fn distinct_queries(&self) -> u64 {
        self.distinct_queries
    }

    /// Draws one query id in `0..distinct_queries`.
    pub fn sample(&mut self, rng: &mut ChaCha8Rng) -> u64 {
        let x = self.dist.sample(rng);
        // `x` is an integer in 1..=n stored exactly in f64; the clamp only guards against
        // rounding at the top end.
        (x as u64).clamp(1, self.distinct_queries) - 1
    }
}

/// One cached entry (its place in the recency order is kept by [`Recency`]).
#[derive(Clone, Debug)]
struct Entry {
    /// The cached key.
    key: u64,
    /// Simulation time, in seconds, when the entry was (last) inserted.
    inserted_s: f64,
}

/// An exact least-recently-used cache of `u64` keys with an optional time to live.
///
/// [`LruCache::lookup_insert`] is the only operation: a hit makes the key most recently
/// used; a miss inserts it as most recently used, evicting the least recently used entry
/// when full. With a TTL, an entry older than `ttl_s` since it was inserted counts as a
/// miss and is re-inserted with a fresh insertion time (hits do not extend the TTL).
/// Expired entries are not swept: they stay until looked up or evicted, and they count
/// towards [`LruCache::len`]. A capacity of 0 caches nothing.
#[derive(Clone, Debug)]
pub struct LruCache {
    /// Most entries held at once.
    capacity: usize,
    /// Time to live since insertion, in seconds; `None` for no expiry.
    ttl_s: Option<f64>,
    /// Key to its slot in `entries`.
    index: HashMap<u64, usize>,
    /// The entries in recency order. Slots are never freed: once full, the least recently
    /// used entry's slot is reused.
    entries: Recency<Entry>,
}

impl LruCache {
    /// An empty cache holding at most `capacity` entries, whose entries expire `ttl_s`
    /// seconds after insertion if `ttl_s` is given.
    ///
    /// Errors if `capacity` does not fit in `usize` or `ttl_s` is not a positive finite
    /// number.
    pub fn new(capacity: u64, ttl_s: Option<f64>) -> Result<Self, String> {
        let capacity = usize::try_from(capacity)
            .map_err(|_| format!("capacity {capacity} does not fit in memory"))?;
        if let Some(ttl) = ttl_s
            && !(ttl.is_finite() && ttl > 0.0)
        {
            return Err(format!("ttl_s must be positive and finite, got {ttl}"));
        }
        // Reserve up front only for modest capacities; larger ones grow on demand.
        let reserve = capacity.min(1 << 16);
        Ok(LruCache {
            capacity,
            ttl_s,
            index: HashMap::with_capacity(reserve),
            entries: Recency::with_capacity(reserve),
        })
    }

    /// Most entries held at once.
    pub fn capacity(&self) -> u64 {
        self.capacity as u64
    }

    /// Entries held now, expired ones included.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// Whether the cache holds nothing.
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// Looks `key` up at time `now_s` (seconds) and returns whether it was a hit.
    ///
    /// Hit: the key is cached and, with a TTL, `now_s - inserted <= ttl_s`; it becomes
    /// most recently used. Miss: the key is inserted (or re-inserted, if expired) as most
    /// recently used with insertion time `now_s`, evicting the least recently used entry
    /// if the cache is full. `now_s` is expected not to decrease between calls.
    pub fn lookup_insert(&mut self, key: u64, now_s: f64) -> bool {
        if let Some(&slot) = self.index.get(&key) {
            self.entries.move_to_front(slot);
            let entry = self.entries.get_mut(slot);
            let expired = self.ttl_s.is_some_and(|ttl| now_s - entry.inserted_s > ttl);
            if expired {
                entry.inserted_s = now_s;
            }
            return !expired;
        }
        if self.capacity == 0 {
            return false;
        }
        let fresh = Entry {
            key,
            inserted_s: now_s,
        };
        let slot = if self.entries.slots() < self.capacity {
            self.entries.alloc(fresh)
        } else {
            // Full: reuse the least recently used slot.
            let slot = self
                .entries
                .least_recent()
                .expect("a full cache has entries");
            self.entries.unlink(slot);
            let entry = self.entries.get_mut(slot);
            self.index.remove(&entry.key);
            *entry = fresh;
            slot
        };
        self.index.insert(key, slot);
        self.entries.push_front(slot);
        false
    }

    /// Keys from most to least recently used (for tests).
    #[cfg(test)]
    fn keys_by_recency(&self) -> Vec<u64> {
        self.entries.by_recency().map(|e| e.key).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::cache::che_hit_rate;
    use proptest::prelude::*;
    use rand::SeedableRng;

    /// Simulates `requests` Zipf requests through an LRU cache of `capacity` after a
    /// warm-up that fills the cache and then runs `warmup` more requests; returns the hit
    /// rate over the measured requests.
    fn simulated_hit_rate(
        seed: u64,
        n: u64,
        s: f64,
        capacity: u64,
        warmup: u64,
        requests: u64,
    ) -> f64 {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut q = ZipfQueries::new(n, s).unwrap();
        let mut cache = LruCache::new(capacity, None).unwrap();
        while (cache.len() as u64) < capacity {
            cache.lookup_insert(q.sample(&mut rng), 0.0);
        }
        for _ in 0..warmup {
            cache.lookup_insert(q.sample(&mut rng), 0.0);
        }
        let hits = (0..requests)
            .filter(|_| cache.lookup_insert(q.sample(&mut rng), 0.0))
            .count();
        hits as f64 / requests as f64
    }

    fn check_against_che(seed: u64, n: u64, s: f64, capacity: u64) {
        let sim = simulated_hit_rate(seed, n, s, capacity, 200_000, 1_000_000);
        let che = che_hit_rate(n, s, capacity);
        eprintln!("n={n} s={s} C={capacity} seed={seed}: simulated {sim:.4}, Che {che:.4}");
        assert!(
            (sim - che).abs() <= 0.02,
            "n={n} s={s} C={capacity} seed={seed}: simulated {sim:.4} vs Che {che:.4}"
        );
    }

    #[test]
    fn lru_matches_che_small_cache() {
        check_against_che(1, 100_000, 0.8, 1_000);
    }

    #[test]
    fn lru_matches_che_large_cache() {
        check_against_che(2, 100_000, 0.8, 10_000);
    }

    #[test]
    fn lru_matches_che_s_one() {
        check_against_che(3, 100_000, 1.0, 1_000);
    }

    #[test]
    fn che_edge_cases() {
        assert_eq!(che_hit_rate(10, 0.8, 0), 0.0);
        assert_eq!(che_hit_rate(10, 0.8, 10), 1.0);
        assert_eq!(che_hit_rate(10, 0.8, 100), 1.0);
        // Uniform popularity: a cache of C out of n entries hits C/n of the time.
        let h = che_hit_rate(1_000, 0.0, 250);
        assert!((h - 0.25).abs() < 1e-9, "{h}");
        // More capacity never hurts.
        let mut last = 0.0;
        for c in [1, 10, 100, 1_000, 5_000] {
            let h = che_hit_rate(10_000, 0.9, c);
            assert!(h > last && h < 1.0, "C={c}: {h}");
            last = h;
        }
    }

    #[test]
    fn zipf_frequencies_match_popularity() {
        let (n, s) = (20_u64, 1.2);
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let mut q = ZipfQueries::new(n, s).unwrap();
        let draws = 400_000;
        let mut counts = vec![0_u64; n as usize];
        for _ in 0..draws {
            counts[q.sample(&mut rng) as usize] += 1;
        }
        let total: f64 = (1..=n).map(|k| (k as f64).powf(-s)).sum();
        for (k, &count) in counts.iter().enumerate() {
            let p = ((k + 1) as f64).powf(-s) / total;
            let got = count as f64 / draws as f64;
            assert!((got - p).abs() < 0.005, "rank {k}: {got} vs {p}");
        }
    }

    #[test]
    fn zipf_is_deterministic_and_in_range() {
        let draw = |seed| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let mut q = ZipfQueries::new(10_000_000, 0.9).unwrap();
            (0..1_000).map(|_| q.sample(&mut rng)).collect::<Vec<_>>()
        };
        let a = draw(11);
        assert_eq!(a, draw(11));
        assert_ne!(a, draw(12));
        assert!(a.iter().all(|&k| k < 10_000_000));
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let mut one = ZipfQueries::new(1, 2.0).unwrap();
        assert!((0..100).all(|_| one.sample(&mut rng) == 0));
    }

    #[test]
    fn zipf_rejects_bad_parameters() {
        assert!(ZipfQueries::new(0, 1.0).is_err());
        assert!(ZipfQueries::new(MAX_DISTINCT_QUERIES + 1, 1.0).is_err());
        assert!(ZipfQueries::new(10, -0.1).is_err());
        assert!(ZipfQueries::new(10, f64::NAN).is_err());
        assert!(ZipfQueries::new(10, f64::INFINITY).is_err());
        assert!(ZipfQueries::new(10, 0.0).is_ok());
    }

    #[test]
    fn lru_rejects_bad_ttl() {
        assert!(LruCache::new(4, Some(0.0)).is_err());
        assert!(LruCache::new(4, Some(-1.0)).is_err());
        assert!(LruCache::new(4, Some(f64::NAN)).is_err());
        assert!(LruCache::new(4, Some(f64::INFINITY)).is_err());
        assert!(LruCache::new(4, Some(1.0)).is_ok());
    }

    #[test]
    fn lru_evicts_least_recently_used() {
        let mut c = LruCache::new(2, None).unwrap();
        assert!(!c.lookup_insert(1, 0.0));
        assert!(!c.lookup_insert(2, 0.0));
        assert!(c.lookup_insert(1, 0.0)); // 1 is now most recent
        assert!(!c.lookup_insert(3, 0.0)); // evicts 2
        assert_eq!(c.keys_by_recency(), vec![3, 1]);
        assert!(!c.lookup_insert(2, 0.0)); // evicts 1
        assert!(c.lookup_insert(3, 0.0));
        assert_eq!(c.len(), 2);
        let mut empty = LruCache::new(0, None).unwrap();
        assert!(!empty.lookup_insert(5, 0.0));
        assert!(!empty.lookup_insert(5, 0.0));
        assert!(empty.is_empty());
    }

    #[test]
    fn ttl_expires_entries() {
        let mut c = LruCache::new(4, Some(10.0)).unwrap();
        assert!(!c.lookup_insert(1, 0.0));
        assert!(c.lookup_insert(1, 5.0));
        assert!(c.lookup_insert(1, 10.0)); // exactly ttl old: still fresh
        assert!(!c.lookup_insert(1, 10.5)); // older than ttl: miss, re-inserted at 10.5
        assert!(c.lookup_insert(1, 11.0));
        assert!(c.lookup_insert(1, 20.5));
        assert!(!c.lookup_insert(1, 21.0)); // hits did not extend the ttl
        assert_eq!(c.len(), 1);
    }

    /// The naive model: keys with insertion times, most recently used last.
    fn model_lookup(
        model: &mut Vec<(u64, f64)>,
        cap: usize,
        ttl: Option<f64>,
        key: u64,
        now: f64,
    ) -> bool {
        if let Some(pos) = model.iter().position(|&(k, _)| k == key) {
            let (_, inserted) = model.remove(pos);
            let expired = ttl.is_some_and(|t| now - inserted > t);
            model.push((key, if expired { now } else { inserted }));
            return !expired;
        }
        if cap == 0 {
            return false;
        }
        if model.len() == cap {
            model.remove(0);
        }
        model.push((key, now));
        false
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Matches a naive LRU after every call; never holds more than its capacity; a
        /// key just looked up is a hit immediately after when there is no TTL.
        #[test]
        fn lru_matches_naive_model(
            cap in 0usize..8,
            ttl in prop_oneof![Just(None), (1u32..5).prop_map(|t| Some(f64::from(t)))],
            ops in prop::collection::vec((0u64..12, 0u32..3), 0..200),
        ) {
            let mut c = LruCache::new(cap as u64, ttl).unwrap();
            let mut model = Vec::new();
            let mut now = 0.0;
            for (key, dt) in ops {
                now += f64::from(dt);
                let hit = c.lookup_insert(key, now);
                prop_assert_eq!(hit, model_lookup(&mut model, cap, ttl, key, now));
                prop_assert!(c.len() <= cap);
                let expect: Vec<u64> = model.iter().rev().map(|&(k, _)| k).collect();
                prop_assert_eq!(c.keys_by_recency(), expect);
                if ttl.is_none() && cap > 0 {
                    prop_assert!(c.lookup_insert(key, now));
                    prop_assert!(model_lookup(&mut model, cap, ttl, key, now));
                }
            }
        }
    }
}
