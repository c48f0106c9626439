//! A block-granular KV prefix cache with LRU eviction and pinning.
//!
//! A request's prompt is a chain of block ids (Mooncake `hash_ids`: one id per 512-token
//! block, each id standing for the block *and everything before it*). A request can reuse
//! the KV of the leading run of its chain that is cached ([`PrefixCache::lookup`]). After
//! prefill, all its blocks are stored or refreshed ([`PrefixCache::insert_or_refresh`]).
//! Blocks used by running requests can be pinned so eviction never takes them.
//!
//! Cost: a `HashMap` from id to a slot in a [`Recency`] slab (an intrusive doubly linked LRU
//! list, shared with the response cache), so lookup, insert, refresh, eviction, pin and
//! unpin are O(1) per block. Nothing iterates the hash map, so results are deterministic.

use std::collections::{HashMap, HashSet};

use serde::Serialize;

use super::recency::Recency;
use crate::trace::TraceRecord;

/// Tokens per KV block in the Mooncake traces.
pub const DEFAULT_BLOCK_TOKENS: u32 = 512;

#[derive(Clone, Debug)]
struct Block {
    id: u64,
    /// Number of outstanding pins. A pinned block is not on the LRU list.
    pins: u32,
}

/// What one [`PrefixCache::insert_or_refresh`] call did, in blocks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct InsertOutcome {
    /// Blocks that were absent and are now cached.
    pub inserted: usize,
    /// Blocks that were already cached and became most recently used.
    pub refreshed: usize,
    /// Other blocks evicted to make room.
    pub evicted: usize,
    /// Blocks that could not be stored because every cached block is pinned (or the
    /// capacity is 0).
    pub rejected: usize,
}

/// An LRU cache of KV blocks with optional capacity and pinning.
///
/// Invariants: the number of cached blocks never exceeds the capacity; a pinned block is
/// never evicted; eviction takes the least recently used unpinned block.
#[derive(Clone, Debug)]
pub struct PrefixCache {
    capacity_blocks: Option<u64>,
    index: HashMap<u64, usize>,
    /// Cached blocks; the unpinned ones on the recency list (its back: the next victim).
    blocks: Recency<Block>,
    pinned_blocks: usize,
    evictions: u64,
}

impl PrefixCache {
    /// An empty cache holding at most `capacity_blocks` blocks (`None`: unlimited).
    pub fn new(capacity_blocks: Option<u64>) -> Self {
        PrefixCache {
            capacity_blocks,
            index: HashMap::new(),
            blocks: Recency::with_capacity(0),
            pinned_blocks: 0,
            evictions: 0,
        }
    }

    /// The capacity in blocks (`None`: unlimited).
    pub fn capacity_blocks(&self) -> Option<u64> {
        self.capacity_blocks
    }

    /// Number of cached blocks.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// Whether no block is cached.
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// Number of cached blocks with at least one pin.
    pub fn pinned_blocks(&self) -> usize {
        self.pinned_blocks
    }

    /// Blocks evicted since creation.
    pub fn evictions(&self) -> u64 {
        self.evictions
    }

    /// Whether block `id` is cached.
    pub fn contains(&self, id: u64) -> bool {
        self.index.contains_key(&id)
    }

    /// How many pins block `id` holds (0 if absent or unpinned).
    pub fn pin_count(&self, id: u64) -> u32 {
        self.index.get(&id).map_or(0, |&i| self.blocks.get(i).pins)
    }

    /// Number of leading blocks of `chain` that are cached: the reusable prefix. Does not
    /// change recency.
    pub fn lookup(&self, chain: &[u64]) -> usize {
        chain
            .iter()
            .take_while(|id| self.index.contains_key(id))
            .count()
    }

    /// Stores every block of `chain`, in chain order: a cached block becomes most recently
    /// used (a pinned one stays pinned), an absent one is inserted, evicting the least
    /// recently used unpinned block when the cache is full. If every cached block is pinned
    /// the new block is not stored (counted as `rejected`). Because blocks are touched in
    /// order, the chain's last block ends up most recently used.
    pub fn insert_or_refresh(&mut self, chain: &[u64]) -> InsertOutcome {
        let mut out = InsertOutcome::default();
        for &id in chain {
            if let Some(&i) = self.index.get(&id) {
                if self.blocks.get(i).pins == 0 {
                    self.blocks.move_to_front(i);
                }
                out.refreshed += 1;
                continue;
            }
            if self
                .capacity_blocks
                .is_some_and(|c| self.index.len() as u64 >= c)
            {
                let victim = match self.blocks.least_recent() {
                    Some(victim) if self.capacity_blocks != Some(0) => victim,
                    _ => {
                        out.rejected += 1;
                        continue;
                    }
                };
                self.blocks.unlink(victim);
                self.index.remove(&self.blocks.get(victim).id);
                self.blocks.free(victim);
                self.evictions += 1;
                out.evicted += 1;
            }
            let i = self.blocks.alloc(Block { id, pins: 0 });
            self.index.insert(id, i);
            self.blocks.push_front(i);
            out.inserted += 1;
        }
        out
    }

    /// Pins the leading cached run of `chain` (the blocks [`lookup`](Self::lookup) counts)
    /// and returns its length `n`. Pins nest: each pin needs one unpin. Release with
    /// `unpin(&chain[..n])`; until then those blocks are never evicted.
    pub fn pin(&mut self, chain: &[u64]) -> usize {
        let n = self.lookup(chain);
        for id in &chain[..n] {
            let i = self.index[id];
            if self.blocks.get(i).pins == 0 {
                self.blocks.unlink(i);
                self.pinned_blocks += 1;
            }
            self.blocks.get_mut(i).pins += 1;
        }
        n
    }

    /// Removes one pin from every block of `chain`. A block whose last pin goes becomes the
    /// most recently used unpinned block.
    ///
    /// # Panics
    ///
    /// If a block of `chain` is not cached or not pinned: unbalanced pin/unpin is a bug in
    /// the caller (a pinned block cannot have been evicted).
    pub fn unpin(&mut self, chain: &[u64]) {
        for id in chain {
            let Some(&i) = self.index.get(id) else {
                panic!("PrefixCache::unpin: block {id} is not cached, so it was never pinned");
            };
            let block = self.blocks.get_mut(i);
            assert!(
                block.pins > 0,
                "PrefixCache::unpin: block {id} is not pinned"
            );
            block.pins -= 1;
            if block.pins == 0 {
                self.pinned_blocks -= 1;
                self.blocks.push_front(i);
            }
        }
    }

    /// Ids on the LRU list from least to most recently used (test helper, O(n)).
    #[cfg(test)]
    fn lru_order(&self) -> Vec<u64> {
        let mut v: Vec<u64> = self.blocks.by_recency().map(|b| b.id).collect();
        v.reverse();
        v
    }

    /// Panics unless the index, the LRU list and the pin counts agree (test helper, O(n)).
    #[cfg(test)]
    fn check_invariants(&self) {
        let listed = self.lru_order();
        for id in &listed {
            assert_eq!(self.pin_count(*id), 0, "pinned block {id} on the LRU list");
        }
        let pinned = self
            .index
            .values()
            .filter(|&&i| self.blocks.get(i).pins > 0)
            .count();
        assert_eq!(pinned, self.pinned_blocks);
        assert_eq!(listed.len() + pinned, self.index.len());
        for (&id, &i) in &self.index {
            assert_eq!(self.blocks.get(i).id, id);
        }
        if let Some(c) = self.capacity_blocks {
            assert!(self.index.len() as u64 <= c);
        }
    }
}

/// Totals of a prefix-cache replay of a trace.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct PrefixReplay {
    /// Requests replayed.
    pub requests: usize,
    /// Sum of chain lengths, in blocks.
    pub total_blocks: u64,
    /// Distinct block ids seen.
    pub unique_blocks: u64,
    /// Sum over requests of the cached leading run, in blocks.
    pub hit_blocks: u64,
    /// Sum of prompt lengths, in tokens.
    pub input_tokens: u64,
    /// Sum over requests of `min(hit_blocks * block_tokens, input_tokens)`.
    pub hit_tokens: u64,
    /// `hit_tokens / input_tokens` (0 if there are no input tokens).
    pub token_hit_fraction: f64,
    /// `hit_blocks / total_blocks` (0 if there are no blocks).
    pub block_hit_fraction: f64,
}

/// Replays `records` in the given order through an LRU [`PrefixCache`] of
/// `capacity_blocks` blocks (`None`: unlimited), counting as the traces README does: each
/// request first looks up its chain (hits = cached leading run), then every block of the
/// chain is inserted or refreshed. A request's token hit is
/// `min(hits * block_tokens, input_tokens)`, so a cached last partial block counts only
/// its real tokens.
pub fn replay_prefix_cache(
    records: &[TraceRecord],
    capacity_blocks: Option<u64>,
    block_tokens: u32,
) -> PrefixReplay {
    let mut cache = PrefixCache::new(capacity_blocks);
    let mut seen = HashSet::new();
    let (mut total_blocks, mut hit_blocks, mut input_tokens, mut hit_tokens) =
        (0u64, 0u64, 0u64, 0u64);
    for r in records {
        let hits = cache.lookup(&r.hash_ids) as u64;
        cache.insert_or_refresh(&r.hash_ids);
        seen.extend(r.hash_ids.iter().copied());
        total_blocks += r.hash_ids.len() as u64;
        hit_blocks += hits;
        input_tokens += u64::from(r.input_tokens);
        hit_tokens += (hits * u64::from(block_tokens)).min(u64::from(r.input_tokens));
    }
    let ratio = |a: u64, b: u64| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    PrefixReplay {
        requests: records.len(),
        total_blocks,
        unique_blocks: seen.len() as u64,
        hit_blocks,
        input_tokens,
        hit_tokens,
        token_hit_fraction: ratio(hit_tokens, input_tokens),
        block_hit_fraction: ratio(hit_blocks, total_blocks),
    }
}

/// The token hit fraction of [`replay_prefix_cache`]: the share of all prompt tokens whose
/// KV was found in the cache. Use [`DEFAULT_BLOCK_TOKENS`] for Mooncake traces.
pub fn replay_hit_fraction(
    records: &[TraceRecord],
    capacity_blocks: Option<u64>,
    block_tokens: u32,
) -> f64 {
    replay_prefix_cache(records, capacity_blocks, block_tokens).token_hit_fraction
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_counts_leading_run_only() {
        let mut c = PrefixCache::new(None);
        c.insert_or_refresh(&[1, 2, 3]);
        assert_eq!(c.lookup(&[1, 2, 3, 4]), 3);
        assert_eq!(c.lookup(&[1, 9, 3]), 1);
        assert_eq!(c.lookup(&[2, 3]), 2);
        assert_eq!(c.lookup(&[9, 1]), 0);
        assert_eq!(c.lookup(&[]), 0);
    }

    #[test]
    fn lru_eviction_order() {
        let mut c = PrefixCache::new(Some(3));
        c.insert_or_refresh(&[1, 2, 3]);
        c.insert_or_refresh(&[1]); // 2 is now least recent
        let o = c.insert_or_refresh(&[4]);
        assert_eq!(
            o,
            InsertOutcome {
                inserted: 1,
                evicted: 1,
                ..Default::default()
            }
        );
        assert!(!c.contains(2));
        assert_eq!(c.lru_order(), vec![3, 1, 4]);
        assert_eq!(c.evictions(), 1);
    }

    #[test]
    fn pinned_blocks_survive_and_unpin_makes_them_recent() {
        let mut c = PrefixCache::new(Some(2));
        c.insert_or_refresh(&[1, 2]);
        assert_eq!(c.pin(&[1, 2, 7]), 2);
        let o = c.insert_or_refresh(&[3]);
        assert_eq!(o.rejected, 1);
        assert!(c.contains(1) && c.contains(2) && !c.contains(3));
        assert_eq!(c.pinned_blocks(), 2);
        c.unpin(&[2]);
        c.insert_or_refresh(&[3]);
        assert!(c.contains(1) && !c.contains(2) && c.contains(3));
        c.unpin(&[1]);
        assert_eq!(c.pinned_blocks(), 0);
        assert_eq!(c.lru_order(), vec![3, 1]);
    }

    #[test]
    fn nested_pins_need_matching_unpins() {
        let mut c = PrefixCache::new(Some(1));
        c.insert_or_refresh(&[5]);
        c.pin(&[5]);
        c.pin(&[5]);
        c.unpin(&[5]);
        assert_eq!(c.insert_or_refresh(&[6]).rejected, 1);
        c.unpin(&[5]);
        assert_eq!(c.insert_or_refresh(&[6]).evicted, 1);
    }

    #[test]
    #[should_panic(expected = "not pinned")]
    fn unbalanced_unpin_panics() {
        let mut c = PrefixCache::new(None);
        c.insert_or_refresh(&[1]);
        c.unpin(&[1]);
    }

    #[test]
    fn zero_capacity_stores_nothing() {
        let mut c = PrefixCache::new(Some(0));
        assert_eq!(c.insert_or_refresh(&[1, 2]).rejected, 2);
        assert!(c.is_empty());
    }

    #[test]
    fn replay_counts_partial_last_block_by_real_tokens() {
        let r = |input: u32, ids: Vec<u64>| TraceRecord {
            arrival_s: 0.0,
            input_tokens: input,
            output_tokens: 1,
            hash_ids: ids,
        };
        // Second request repeats the first exactly: its 2 blocks hit, but only 600 tokens.
        let recs = [r(600, vec![0, 1]), r(600, vec![0, 1]), r(1024, vec![0, 2])];
        let p = replay_prefix_cache(&recs, None, 512);
        assert_eq!((p.hit_blocks, p.total_blocks, p.unique_blocks), (3, 6, 3));
        assert_eq!(p.hit_tokens, 600 + 512);
        assert_eq!(p.input_tokens, 2224);
        assert!((replay_hit_fraction(&recs, None, 512) - 1112.0 / 2224.0).abs() < 1e-15);
    }

    mod props {
        use proptest::prelude::*;

        use super::super::*;

        #[derive(Clone, Debug)]
        enum Op {
            Insert(Vec<u64>),
            Pin(Vec<u64>),
            /// Unpin the running request at this index (modulo the number running).
            Unpin(usize),
        }

        fn chain() -> impl Strategy<Value = Vec<u64>> {
            prop::collection::vec(0u64..24, 0..8)
        }

        fn op() -> impl Strategy<Value = Op> {
            prop_oneof![
                3 => chain().prop_map(Op::Insert),
                1 => chain().prop_map(Op::Pin),
                1 => any::<usize>().prop_map(Op::Unpin),
            ]
        }

        /// A naive model: unpinned blocks in recency order (front = least recent) and pin
        /// counts of pinned blocks.
        #[derive(Default)]
        struct Model {
            lru: Vec<u64>,
            pins: std::collections::BTreeMap<u64, u32>,
        }

        impl Model {
            fn cached(&self, id: u64) -> bool {
                self.lru.contains(&id) || self.pins.contains_key(&id)
            }
            fn insert(&mut self, cap: Option<u64>, chain: &[u64]) {
                for &id in chain {
                    if self.pins.contains_key(&id) {
                        continue;
                    }
                    if let Some(p) = self.lru.iter().position(|&x| x == id) {
                        self.lru.remove(p);
                        self.lru.push(id);
                        continue;
                    }
                    let len = (self.lru.len() + self.pins.len()) as u64;
                    if cap.is_some_and(|c| len >= c) {
                        if self.lru.is_empty() || cap == Some(0) {
                            continue;
                        }
                        self.lru.remove(0);
                    }
                    self.lru.push(id);
                }
            }
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]

            /// Matches the naive model after every operation; lookup never exceeds the
            /// chain; capacity is never exceeded; pinned blocks are never evicted.
            #[test]
            fn cache_matches_naive_model(
                cap in prop_oneof![Just(None), (0u64..12).prop_map(Some)],
                ops in prop::collection::vec(op(), 0..60),
                probe in chain(),
            ) {
                let mut c = PrefixCache::new(cap);
                let mut m = Model::default();
                let mut running: Vec<Vec<u64>> = Vec::new();
                for o in ops {
                    match o {
                        Op::Insert(ch) => {
                            c.insert_or_refresh(&ch);
                            m.insert(cap, &ch);
                        }
                        Op::Pin(ch) => {
                            let n = c.pin(&ch);
                            prop_assert_eq!(n, ch.iter().take_while(|&&id| m.cached(id)).count());
                            for &id in &ch[..n] {
                                if let Some(p) = m.lru.iter().position(|&x| x == id) {
                                    m.lru.remove(p);
                                }
                                *m.pins.entry(id).or_default() += 1;
                            }
                            running.push(ch[..n].to_vec());
                        }
                        Op::Unpin(k) => {
                            if !running.is_empty() {
                                let ch = running.swap_remove(k % running.len());
                                c.unpin(&ch);
                                for id in ch {
                                    let e = m.pins.get_mut(&id).unwrap();
                                    *e -= 1;
                                    if *e == 0 {
                                        m.pins.remove(&id);
                                        m.lru.push(id);
                                    }
                                }
                            }
                        }
                    }
                    c.check_invariants();
                    prop_assert_eq!(c.lru_order(), m.lru.clone());
                    for ch in &running {
                        for &id in ch {
                            prop_assert!(c.contains(id), "pinned block {} evicted", id);
                        }
                    }
                    if let Some(cap) = cap {
                        prop_assert!(c.len() as u64 <= cap);
                    }
                    let n = c.lookup(&probe);
                    prop_assert!(n <= probe.len());
                    prop_assert!(probe[..n].iter().all(|&id| c.contains(id)));
                    if n < probe.len() {
                        prop_assert!(!c.contains(probe[n]));
                    }
                }
            }
        }
    }
}
