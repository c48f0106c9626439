//! A replica's running batch, kept so that a decode step costs O(1) whatever the batch size.
//!
//! Continuous batching spends most of its time in decode runs where every sequence appends
//! the same number of tokens. The batch therefore keeps its decoding sequences apart from the
//! ones still prefilling and counts their progress with one shared *token clock*: a decoding
//! sequence stores the clock value at which it emits its last token (`finish`), so advancing
//! the whole batch by `k` tokens is `clock += k`, and the batch's total context is a running
//! sum. Decoding sequences are kept in `finish` order, so the ones that finish are at the
//! front. Only the (few) prefilling sequences are visited one by one.
//!
//! Every sequence carries its admission number, so the batch order of the scheduler
//! (admission order: steps serve it in that order, preemption takes its end, and leavers
//! leave in it) is kept exactly: prefilling sequences are in admission order, and decoding
//! ones that finish together are in admission order among themselves.

use std::collections::VecDeque;

/// What the scheduler reads and writes of a running sequence (its full record stays in the
/// replica's slab; see `Replica`).
#[derive(Clone, Copy, Debug)]
pub(super) struct Hot {
    pub(super) input_tokens: u32,
    pub(super) output_tokens: u32,
    /// Prompt (plus, after a preemption, regenerated) tokens whose KV is computed.
    pub(super) prefilled: u32,
    /// Output tokens generated so far.
    pub(super) generated: u32,
    /// Prompt tokens planned for the step in progress.
    pub(super) pending_chunk: u32,
    /// Prompt tokens found in the prefix cache at admission.
    pub(super) cached: u32,
    /// The sequence's index in the replica's slab of full records.
    pub(super) slot: u32,
    /// Whether it was ever admitted (its record's `admitted` is set).
    pub(super) admitted: bool,
    /// Whether its first token appeared (its record's `first_token` is set).
    pub(super) first_token: bool,
    /// Admission number in this batch (set by [`Batch::push`]): batch order.
    admit_no: u64,
}

impl Hot {
    /// Counters of a sequence not (yet) in a batch.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn new(
        input_tokens: u32,
        output_tokens: u32,
        prefilled: u32,
        generated: u32,
        pending_chunk: u32,
        cached: u32,
        slot: u32,
        admitted: bool,
        first_token: bool,
    ) -> Hot {
        Hot {
            input_tokens,
            output_tokens,
            prefilled,
            generated,
            pending_chunk,
            cached,
            slot,
            admitted,
            first_token,
            admit_no: 0,
        }
    }

    /// Tokens whose KV must be present before decoding continues.
    #[inline]
    pub(super) fn prompt_len(&self) -> u32 {
        self.input_tokens + self.generated
    }

    /// Whether the whole prompt's KV is computed (the sequence decodes).
    #[inline]
    pub(super) fn decoding(&self) -> bool {
        self.prefilled >= self.prompt_len()
    }
}

/// A decoding sequence: its token counters follow from the batch's clock. A decoding sequence
/// holds the KV of its whole context, so `prefilled = input + generated` always.
#[derive(Clone, Copy, Debug)]
struct Decoding {
    admit_no: u64,
    /// The clock value at which it has generated all its output tokens.
    finish: u64,
    input_tokens: u32,
    output_tokens: u32,
    cached: u32,
    slot: u32,
}

impl Decoding {
    /// The order decoding sequences are kept in: by finish, ties in admission order.
    #[inline]
    fn key(&self) -> (u64, u64) {
        (self.finish, self.admit_no)
    }
}

/// The running batch of a replica (see the module docs).
pub(super) struct Batch {
    /// Decoding sequences, by (finish, admission).
    decoding: VecDeque<Decoding>,
    /// The front's `finish` (`u64::MAX` when none decodes) and slot: checked at every step's
    /// end without touching the queue.
    first_finish: u64,
    first_slot: u32,
    /// Sequences still prefilling, in admission order.
    prefilling: Vec<Hot>,
    /// Tokens every decoding sequence has appended so far (see the module docs).
    clock: u64,
    /// Σ over decoding sequences of `input + output − finish` (wrapping): their total context
    /// is this plus `clock` per sequence.
    ctx_base: u64,
    next_admit_no: u64,
}

impl Default for Batch {
    fn default() -> Self {
        Batch {
            decoding: VecDeque::new(),
            first_finish: u64::MAX,
            first_slot: 0,
            prefilling: Vec::new(),
            clock: 0,
            ctx_base: 0,
            next_admit_no: 0,
        }
    }
}

impl Batch {
    /// Sequences in the batch.
    #[inline]
    pub(super) fn len(&self) -> usize {
        self.decoding.len() + self.prefilling.len()
    }

    #[inline]
    pub(super) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Sequences that decode.
    #[inline]
    pub(super) fn decoding_len(&self) -> usize {
        self.decoding.len()
    }

    /// Sequences still prefilling, in admission order.
    #[inline]
    pub(super) fn prefilling(&self) -> &[Hot] {
        &self.prefilling
    }

    /// Sequences still prefilling, to plan or apply a step.
    #[inline]
    pub(super) fn prefilling_mut(&mut self) -> &mut [Hot] {
        &mut self.prefilling
    }

    /// Σ of the decoding sequences' contexts (KV tokens each one attends to).
    #[inline]
    pub(super) fn decoding_ctx(&self) -> u64 {
        self.ctx_base
            .wrapping_add((self.decoding.len() as u64).wrapping_mul(self.clock))
    }

    /// The fewest output tokens a decoding sequence has left (`None` when none decodes).
    #[inline]
    pub(super) fn min_left_decoding(&self) -> Option<u32> {
        (self.first_finish != u64::MAX).then(|| (self.first_finish - self.clock) as u32)
    }

    /// The slot of the first decoding sequence to finish if it finishes within `k` more
    /// tokens.
    #[inline]
    pub(super) fn finishing_within(&self, k: u64) -> Option<u32> {
        (self.first_finish <= self.clock + k).then_some(self.first_slot)
    }

    /// The address of the first decoding sequence to finish (0 when none decodes), for
    /// memory hints.
    pub(super) fn first_addr(&self) -> usize {
        self.decoding
            .front()
            .map_or(0, |d| d as *const Decoding as usize)
    }

    /// Slots of the decoding sequences that will have generated all their output tokens
    /// after `k` more (`k = 0`: those [`Batch::pop_finished`] returns next), for memory
    /// hints.
    pub(super) fn finishing_slots_within(&self, k: u64) -> impl Iterator<Item = u32> + '_ {
        let by = self.clock + k;
        self.decoding
            .iter()
            .take_while(move |d| d.finish <= by)
            .map(|d| d.slot)
    }

    /// Every decoding sequence appends `k` tokens.
    #[inline]
    pub(super) fn advance(&mut self, k: u64) {
        self.clock += k;
        debug_assert!(self.first_finish >= self.clock);
    }

    /// Adds a newly admitted sequence at the end of the batch order.
    pub(super) fn push(&mut self, mut h: Hot) {
        h.admit_no = self.next_admit_no;
        self.next_admit_no += 1;
        if h.decoding() {
            self.insert_decoding(h);
        } else {
            self.prefilling.push(h);
        }
    }

    /// The prefilling sequence at `i` finished its prompt: it now decodes.
    pub(super) fn promote(&mut self, i: usize) {
        let h = if i + 1 == self.prefilling.len() {
            self.prefilling.pop().expect("index in range")
        } else {
            self.prefilling.remove(i)
        };
        debug_assert!(h.decoding());
        self.insert_decoding(h);
    }

    fn insert_decoding(&mut self, h: Hot) {
        debug_assert_eq!(h.prefilled, h.input_tokens + h.generated);
        debug_assert!(h.pending_chunk == 0 && h.generated <= h.output_tokens);
        let finish = self.clock + u64::from(h.output_tokens - h.generated);
        let d = Decoding {
            admit_no: h.admit_no,
            finish,
            input_tokens: h.input_tokens,
            output_tokens: h.output_tokens,
            cached: h.cached,
            slot: h.slot,
        };
        self.ctx_base = self
            .ctx_base
            .wrapping_add(u64::from(h.input_tokens) + u64::from(h.output_tokens))
            .wrapping_sub(finish);
        // A newcomer mostly finishes last (same output lengths): the back, without a search.
        let key = d.key();
        let at = if self.decoding.back().is_none_or(|b| b.key() < key) {
            self.decoding.push_back(d);
            self.decoding.len() - 1
        } else {
            // Inserting moves the entries on the shorter side of the place, so a scan from
            // that side touches only memory the move then reads (a binary search would miss
            // the cache at every probe). The middle entry tells the side. Keys are unique.
            let n = self.decoding.len();
            let at = if key < self.decoding[n / 2].key() {
                self.decoding.iter().position(|b| b.key() > key)
            } else {
                self.decoding
                    .iter()
                    .rposition(|b| b.key() < key)
                    .map(|j| j + 1)
            }
            .unwrap_or(0);
            debug_assert_eq!(at, self.decoding.partition_point(|b| b.key() < key));
            self.decoding.insert(at, d);
            at
        };
        if at == 0 {
            (self.first_finish, self.first_slot) = (finish, h.slot);
        }
    }

    /// The counters of a decoding sequence now.
    #[inline]
    fn hot_of(&self, d: &Decoding) -> Hot {
        let generated = d.output_tokens - (d.finish - self.clock) as u32;
        Hot {
            input_tokens: d.input_tokens,
            output_tokens: d.output_tokens,
            prefilled: d.input_tokens + generated,
            generated,
            pending_chunk: 0,
            cached: d.cached,
            slot: d.slot,
            admitted: true,
            first_token: true,
            admit_no: d.admit_no,
        }
    }

    /// Removes the decoding sequence at `i` and returns its counters.
    fn remove_decoding(&mut self, i: usize) -> Hot {
        let d = self.decoding.remove(i).expect("index in range");
        if i == 0 {
            (self.first_finish, self.first_slot) = self
                .decoding
                .front()
                .map_or((u64::MAX, 0), |d| (d.finish, d.slot));
        }
        self.ctx_base = self
            .ctx_base
            .wrapping_sub(u64::from(d.input_tokens) + u64::from(d.output_tokens))
            .wrapping_add(d.finish);
        self.hot_of(&d)
    }

    /// Removes a sequence that generated all its output tokens, the first in batch order,
    /// and returns its counters; `None` when no sequence has finished.
    ///
    /// Finished sequences are exactly those whose `finish` equals the clock (no step goes past
    /// the first finish): the front of the (finish, admission) order, in batch order.
    #[inline]
    pub(super) fn pop_finished(&mut self) -> Option<Hot> {
        if self.first_finish > self.clock {
            return None;
        }
        debug_assert_eq!(self.first_finish, self.clock);
        Some(self.remove_decoding(0))
    }

    /// Removes the most recently admitted sequence (to preempt it).
    pub(super) fn pop_latest(&mut self) -> Option<Hot> {
        let latest = (0..self.decoding.len()).max_by_key(|&i| self.decoding[i].admit_no);
        let pre = self.prefilling.last().map(|h| h.admit_no);
        match latest {
            Some(i) if pre.is_none_or(|p| self.decoding[i].admit_no > p) => {
                Some(self.remove_decoding(i))
            }
            _ => self.prefilling.pop(),
        }
    }

    /// Every sequence's counters (decoding ones first).
    pub(super) fn iter(&self) -> impl Iterator<Item = Hot> + '_ {
        self.decoding
            .iter()
            .map(|d| self.hot_of(d))
            .chain(self.prefilling.iter().copied())
    }

    /// Every sequence's counters in batch (admission) order (for debug checks: allocates).
    pub(super) fn in_order(&self) -> Vec<Hot> {
        let mut all: Vec<Hot> = self.iter().collect();
        all.sort_by_key(|h| h.admit_no);
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::ChaCha8Rng;
    use rand::{RngExt, SeedableRng};

    fn hot(input: u32, output: u32, prefilled: u32, generated: u32, slot: u32) -> Hot {
        Hot::new(
            input,
            output,
            prefilled,
            generated,
            0,
            0,
            slot,
            true,
            prefilled > 0,
        )
    }

    /// The batch against a plain vector in admission order, under random pushes, decode
    /// advances, prompt completions, finishes and preemptions.
    #[test]
    fn batch_matches_a_plain_vector() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        for _ in 0..200 {
            let mut b = Batch::default();
            let mut plain: Vec<Hot> = Vec::new();
            let mut slot = 0u32;
            for _ in 0..300 {
                match rng.random_range(0..10) {
                    0..=2 => {
                        let input = rng.random_range(1..50);
                        let output = rng.random_range(1..30);
                        // Some arrive with their KV (disaggregated decode), most prefill.
                        let h = if rng.random_bool(0.2) {
                            hot(input, output.max(2), input + 1, 1, slot)
                        } else {
                            hot(input, output, 0, 0, slot)
                        };
                        slot += 1;
                        b.push(h);
                        plain.push(h);
                    }
                    3..=5 => {
                        // A decode run of k steps, at most to the first finish.
                        if b.prefilling().is_empty()
                            && let Some(left) = b.min_left_decoding()
                            && left > 0
                        {
                            let k = rng.random_range(1..=left);
                            b.advance(u64::from(k));
                            for h in &mut plain {
                                h.generated += k;
                                h.prefilled += k;
                            }
                        }
                    }
                    6 => {
                        // A prompt completes.
                        if !b.prefilling().is_empty() {
                            let i = rng.random_range(0..b.prefilling().len());
                            let h = &mut b.prefilling_mut()[i];
                            h.prefilled = h.prompt_len() + 1;
                            h.generated += 1;
                            let id = h.slot;
                            b.promote(i);
                            let p = plain.iter_mut().find(|h| h.slot == id).unwrap();
                            p.prefilled = p.prompt_len() + 1;
                            p.generated += 1;
                        }
                    }
                    7 => {
                        let got = b.pop_latest().map(|h| h.slot);
                        assert_eq!(got, plain.pop().map(|h| h.slot));
                    }
                    _ => {
                        let mut out = Vec::new();
                        while let Some(h) = b.pop_finished() {
                            out.push(h);
                        }
                        let want: Vec<u32> = plain
                            .iter()
                            .filter(|h| h.decoding() && h.generated >= h.output_tokens)
                            .map(|h| h.slot)
                            .collect();
                        plain.retain(|h| !(h.decoding() && h.generated >= h.output_tokens));
                        assert_eq!(out.iter().map(|h| h.slot).collect::<Vec<_>>(), want);
                    }
                }
                // Same sequences, order and counters; same aggregates.
                let got: Vec<(u32, u32, u32)> = b
                    .in_order()
                    .iter()
                    .map(|h| (h.slot, h.generated, h.prefilled))
                    .collect();
                let want: Vec<(u32, u32, u32)> = plain
                    .iter()
                    .map(|h| (h.slot, h.generated, h.prefilled))
                    .collect();
                assert_eq!(got, want);
                let dec: Vec<&Hot> = plain.iter().filter(|h| h.decoding()).collect();
                assert_eq!(b.decoding_len(), dec.len());
                assert_eq!(
                    b.decoding_ctx(),
                    dec.iter().map(|h| u64::from(h.prefilled)).sum::<u64>()
                );
                assert_eq!(
                    b.min_left_decoding(),
                    dec.iter().map(|h| h.output_tokens - h.generated).min()
                );
            }
        }
    }
}
