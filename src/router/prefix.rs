//! `prefix-affinity` routing: send a prompt to the replica whose prefix (KV block) cache
//! holds the longest part of it, unless that replica is far busier than the least loaded.

use crate::cache::prefix::PrefixCache;
use crate::router::Loads;

/// Requests above the least-loaded target's count beyond which a cache hit stops attracting
/// (together with [`OVERLOAD_RATIO`]).
const OVERLOAD_EXTRA: usize = 64;
/// Load ratio to the least-loaded target beyond which a cache hit stops attracting.
const OVERLOAD_RATIO: f64 = 1.5;

/// The target whose cache (`caches[i]` for target `i`, `None` if it keeps none) holds the
/// longest prefix of `chain` (the prompt's block ids), least loaded among equals; the
/// least-loaded target when no cache holds any of it, or when the best one is overloaded
/// (more than 64 requests and 1.5x above the least-loaded).
pub fn prefix_affinity<'a>(
    chain: &[u64],
    caches: impl IntoIterator<Item = Option<&'a PrefixCache>>,
    loads: &Loads,
) -> usize {
    let least = loads.argmin();
    let mut best = (0usize, least);
    for (r, cache) in caches.into_iter().enumerate() {
        let hit = cache.map_or(0, |c| c.lookup(chain));
        if hit > best.0 || (hit == best.0 && hit > 0 && loads.get(r) < loads.get(best.1)) {
            best = (hit, r);
        }
    }
    let (min_load, best_load) = (loads.get(least), loads.get(best.1));
    if best.0 == 0
        || (best_load > min_load + OVERLOAD_EXTRA
            && best_load as f64 > OVERLOAD_RATIO * min_load as f64)
    {
        least
    } else {
        best.1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_longest_cached_prefix_wins_unless_its_replica_is_overloaded() {
        let mut a = PrefixCache::new(Some(16));
        let mut b = PrefixCache::new(Some(16));
        a.insert_or_refresh(&[1, 2]);
        b.insert_or_refresh(&[1, 2, 3]);
        let caches = [None, Some(&a), Some(&b)];
        let pick = |loads: &[usize], chain: &[u64]| {
            prefix_affinity(chain, caches.iter().copied(), &Loads::from_counts(loads))
        };
        assert_eq!(pick(&[5, 0, 0], &[1, 2, 3, 4]), 2);
        // Equal hits: the less loaded of the two.
        assert_eq!(pick(&[0, 3, 4], &[1, 2]), 1);
        // No hit anywhere: the least loaded.
        assert_eq!(pick(&[2, 1, 0], &[9]), 2);
        // The best is more than 64 requests and 1.5x above the least loaded.
        assert_eq!(pick(&[500, 130, 196], &[1, 2, 3]), 1);
        // Not when only one of the two holds.
        assert_eq!(pick(&[500, 130, 194], &[1, 2, 3]), 2);
        assert_eq!(pick(&[500, 140, 205], &[1, 2, 3]), 2);
    }
}
