//! The event queue: a min-heap keyed by (time, insertion sequence), plus optional
//! re-schedulable *slots* (one pending wake-up each, e.g. one per server) kept in an indexed
//! heap beside it.
//!
//! Ordering guarantee: events pop in time order, and events scheduled for the same instant pop
//! in the order they were scheduled (slot wake-ups included: scheduling a slot takes a sequence
//! number from the same counter as [`EventQueue::push`]). This makes every run a pure function
//! of its inputs.
//!
//! A slot holds at most one wake-up: [`EventQueue::set_slot`] replaces the previous one, which
//! then never pops. This is equivalent to pushing a fresh event and skipping the superseded one
//! when it pops, without the superseded entries.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use super::time::SimTime;

/// `time << 64 | seq`: one integer comparison orders by time, then insertion.
#[inline]
fn key(time: u64, seq: u64) -> u128 {
    (u128::from(time) << 64) | u128::from(seq)
}

struct Entry<E> {
    // Two u64 rather than one u128 keep the entry 8-aligned (smaller heap entries).
    time: u64,
    seq: u64,
    event: E,
}

impl<E> Entry<E> {
    #[inline]
    fn key(&self) -> u128 {
        key(self.time, self.seq)
    }
}

impl<E> PartialEq for Entry<E> {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}
impl<E> Eq for Entry<E> {}
impl<E> PartialOrd for Entry<E> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<E> Ord for Entry<E> {
    /// Reversed so that `BinaryHeap` (a max-heap) pops the earliest (time, seq) first.
    #[inline]
    fn cmp(&self, other: &Self) -> Ordering {
        other.key().cmp(&self.key())
    }
}

/// Children per inner node of [`SlotTree`]: four 16-byte keys fill one 64-byte cache line, so
/// a 4-ary tree is half as deep as a binary one for about the same work per level.
const ARITY: usize = 4;

/// The keys of one inner node's [`ARITY`] children, on a cache line of their own: updating a
/// level of the tree reads and writes exactly one line.
#[derive(Clone, Copy)]
#[repr(align(64))]
struct Siblings([u128; ARITY]);

/// Where node `n` (≥ 1) of the implicit 4-ary tree lives: its parent's children group (which
/// is the parent's node number) and its lane in it.
#[inline(always)]
fn place(n: usize) -> (usize, usize) {
    ((n - 1) / ARITY, (n - 1) % ARITY)
}

/// The least of four keys.
#[inline(always)]
fn least(keys: &[u128; ARITY]) -> u128 {
    keys[0].min(keys[1]).min(keys[2].min(keys[3]))
}

/// A tournament (winner) tree over a fixed set of slots, each holding at most one pending
/// wake-up: leaf `slot` holds the slot's packed key (or `u128::MAX` when none is pending) and
/// every inner node the least key of its [`ARITY`] children, so the root is the earliest
/// wake-up. Setting or clearing a slot recomputes one leaf-to-root path.
///
/// The tree is implicit: node 0 is the root, the children of node `p` are nodes
/// `ARITY·p + 1 ..= ARITY·p + ARITY`, kept together in `groups[p]` (one cache line), and the
/// leaves are the last level.
///
/// A packed key is `time << 64 | seq << slot_bits | slot`: since sequence numbers are unique,
/// it orders exactly as `(time, seq)` and carries its slot along (so the tree's shape never
/// changes which key is least).
///
/// Popping leaves the popped key in its leaf (`popped`) until the next operation: the usual
/// next operation reschedules the same slot, which then costs one path update instead of two.
struct SlotTree {
    /// Children of every inner node, by the inner node's number.
    groups: Vec<Siblings>,
    /// The root's key: the least pending key.
    root: u128,
    /// The node number of slot 0's leaf (the number of inner nodes).
    leaf_base: usize,
    slot_bits: u32,
    /// Pending wake-ups (the popped one excluded).
    len: usize,
    /// The slot popped last whose leaf still holds its old key, or [`NO_SLOT`].
    popped: u32,
}

/// No slot (see [`SlotTree::popped`]).
const NO_SLOT: u32 = u32::MAX;

impl SlotTree {
    fn new(n: usize) -> Self {
        // At least one inner node (the root), so that every leaf has a parent.
        let mut width = ARITY;
        while width < n {
            width *= ARITY;
        }
        // A complete tree with `width` leaves has `(width − 1) / (ARITY − 1)` inner nodes.
        let inner = (width - 1) / (ARITY - 1);
        SlotTree {
            groups: vec![Siblings([u128::MAX; ARITY]); inner],
            root: u128::MAX,
            leaf_base: inner,
            slot_bits: width.trailing_zeros(),
            len: 0,
            popped: NO_SLOT,
        }
    }

    #[inline]
    fn unpack(&self, packed: u128) -> (u64, u64, u32) {
        let low = packed as u64;
        let slot = (low & ((1u64 << self.slot_bits) - 1)) as u32;
        ((packed >> 64) as u64, low >> self.slot_bits, slot)
    }

    /// The root's key.
    #[inline]
    fn top(&self) -> u128 {
        self.root
    }

    /// The key in `slot`'s leaf.
    #[inline]
    fn leaf(&self, slot: u32) -> u128 {
        let (g, lane) = place(self.leaf_base + slot as usize);
        self.groups[g].0[lane]
    }

    /// Clears the leaf of the slot popped last, if still there.
    #[inline]
    fn settle(&mut self) {
        if self.popped != NO_SLOT {
            let slot = self.popped;
            self.popped = NO_SLOT;
            self.write(slot, u128::MAX);
        }
    }

    /// The least packed key, the popped one excluded.
    fn least_pending(&self) -> u128 {
        if self.popped == NO_SLOT {
            return self.top();
        }
        // The popped key is the root: the least of the other children along its path is
        // the next.
        let mut n = self.leaf_base + self.popped as usize;
        let mut m = u128::MAX;
        while n > 0 {
            let (g, lane) = place(n);
            for (j, &k) in self.groups[g].0.iter().enumerate() {
                if j != lane {
                    m = m.min(k);
                }
            }
            n = g;
        }
        m
    }

    /// The (time, seq) key of the earliest wake-up.
    #[inline]
    fn min_key(&self) -> Option<u128> {
        let root = self.least_pending();
        if root == u128::MAX {
            return None;
        }
        let (time, seq, _) = self.unpack(root);
        Some(key(time, seq))
    }

    /// Puts `value` in `slot`'s leaf and recomputes the path above it.
    #[inline]
    fn write(&mut self, slot: u32, mut value: u128) {
        let (mut g, mut lane) = place(self.leaf_base + slot as usize);
        loop {
            let siblings = &mut self.groups[g].0;
            siblings[lane] = value;
            let m = least(siblings);
            // Node `g` is the parent: it now holds `m`.
            if g == 0 {
                self.root = m;
                return;
            }
            let (pg, plane) = place(g);
            if self.groups[pg].0[plane] == m {
                // Ancestors depend on this node's value only: nothing above changes.
                return;
            }
            (g, lane, value) = (pg, plane, m);
        }
    }

    #[inline]
    fn set(&mut self, slot: u32, time: u64, seq: u64) {
        assert!(
            (slot as usize) < 1 << self.slot_bits && seq < u64::MAX >> self.slot_bits,
            "slot {slot} or sequence number {seq} out of range"
        );
        if self.popped == slot {
            self.popped = NO_SLOT;
        } else {
            self.settle();
            if self.leaf(slot) != u128::MAX {
                self.len -= 1;
            }
        }
        self.len += 1;
        let packed =
            (u128::from(time) << 64) | u128::from((seq << self.slot_bits) | u64::from(slot));
        self.write(slot, packed);
    }

    fn remove(&mut self, slot: u32) {
        self.settle();
        if self.leaf(slot) != u128::MAX {
            self.len -= 1;
            self.write(slot, u128::MAX);
        }
    }

    /// Removes the earliest wake-up: (time, slot).
    #[inline]
    fn pop(&mut self) -> Option<(u64, u32)> {
        self.settle();
        let root = self.top();
        if root == u128::MAX {
            return None;
        }
        let (time, _, slot) = self.unpack(root);
        self.popped = slot;
        self.len -= 1;
        Some((time, slot))
    }
}

/// Pending events of one simulation run, earliest first, ties in insertion order.
pub struct EventQueue<E> {
    heap: BinaryHeap<Entry<E>>,
    slots: SlotTree,
    /// The event a slot's wake-up pops as.
    slot_event: fn(u32) -> E,
    next_seq: u64,
}

impl<E> Default for EventQueue<E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E> EventQueue<E> {
    /// An empty queue without slots.
    pub fn new() -> Self {
        Self::with_slots(0, |_| {
            unreachable!("a queue without slots has no slot events")
        })
    }

    /// An empty queue with `n` slots (0..n), whose wake-ups pop as `slot_event(slot)`.
    pub fn with_slots(n: usize, slot_event: fn(u32) -> E) -> Self {
        EventQueue {
            heap: BinaryHeap::with_capacity(1024),
            slots: SlotTree::new(n),
            slot_event,
            next_seq: 0,
        }
    }

    #[inline]
    fn take_seq(&mut self) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        seq
    }

    /// Schedules `event` at `time`.
    #[inline]
    pub fn push(&mut self, time: SimTime, event: E) {
        let seq = self.take_seq();
        self.heap.push(Entry {
            time: time.0,
            seq,
            event,
        });
    }

    /// Schedules the wake-up of `slot` at `time`, replacing its pending one if any. It orders
    /// exactly as a [`EventQueue::push`] made now would.
    #[inline]
    pub fn set_slot(&mut self, slot: u32, time: SimTime) {
        let seq = self.take_seq();
        self.slots.set(slot, time.0, seq);
    }

    /// Cancels the pending wake-up of `slot`, if any.
    pub fn clear_slot(&mut self, slot: u32) {
        self.slots.remove(slot);
    }

    /// Removes and returns the earliest event.
    #[inline]
    pub fn pop(&mut self) -> Option<(SimTime, E)> {
        self.slots.settle();
        let heap_key = self.heap.peek().map(Entry::key);
        match (heap_key, self.slots.min_key()) {
            (_, None) => self.heap.pop().map(|e| (SimTime(e.time), e.event)),
            (Some(h), Some(s)) if h < s => self.heap.pop().map(|e| (SimTime(e.time), e.event)),
            (_, Some(_)) => {
                let (time, slot) = self.slots.pop().expect("a slot is pending");
                Some((SimTime(time), (self.slot_event)(slot)))
            }
        }
    }

    /// The slot whose wake-up is the earliest of the slots' (other events may come first),
    /// if any; `None` also right after a slot's wake-up popped and before the next change: a
    /// cheap look, for hints.
    #[inline]
    pub fn peek_slot(&self) -> Option<u32> {
        if self.slots.popped != NO_SLOT {
            return None;
        }
        let root = self.slots.top();
        (root != u128::MAX).then(|| self.slots.unpack(root).2)
    }

    /// The time of the earliest event, if any.
    pub fn peek_time(&self) -> Option<SimTime> {
        let heap_key = self.heap.peek().map(Entry::key);
        let k = match (heap_key, self.slots.min_key()) {
            (Some(h), Some(s)) => h.min(s),
            (h, s) => h.or(s)?,
        };
        Some(SimTime((k >> 64) as u64))
    }

    /// Number of pending events (slot wake-ups included).
    pub fn len(&self) -> usize {
        self.heap.len() + self.slots.len
    }

    /// Whether no event is pending.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn equal_times_pop_in_insertion_order() {
        let mut q = EventQueue::new();
        q.push(SimTime(5), 'a');
        q.push(SimTime(1), 'b');
        q.push(SimTime(5), 'c');
        q.push(SimTime(1), 'd');
        q.push(SimTime(3), 'e');
        let order: String = std::iter::from_fn(|| q.pop().map(|(_, e)| e)).collect();
        assert_eq!(order, "bdeac");
    }

    #[derive(Clone, Copy, Debug, PartialEq)]
    enum Ev {
        Plain(u32),
        Slot(u32),
    }

    proptest! {
        /// Slots pop exactly as pushed events with superseded ones skipped (the generation
        /// scheme they replace).
        #[test]
        fn slots_match_push_and_skip_stale(
            n in prop_oneof![Just(1u32), Just(6u32), Just(70u32)],
            ops in proptest::collection::vec((0u8..4, 0u32..70, 0u64..40), 0..300)
        ) {
            let mut q: EventQueue<Ev> = EventQueue::with_slots(n as usize, Ev::Slot);
            // Reference: every wake-up pushed with a generation; stale ones skipped.
            let mut r: EventQueue<(Ev, u32)> = EventQueue::new();
            let mut generation = [0u32; 70];
            let mut now = 0u64;
            // Pending slot wake-ups: slot -> (time, sequence number), for the hint.
            let mut pending = std::collections::BTreeMap::new();
            for (seq, (op, slot, dt)) in ops.into_iter().enumerate() {
                // Every operation takes one sequence number at most; only order matters.
                let seq = seq as u64;
                let slot = slot % n;
                match op {
                    0 => {
                        q.push(SimTime(now + dt), Ev::Plain(slot));
                        r.push(SimTime(now + dt), (Ev::Plain(slot), 0));
                    }
                    1 => {
                        pending.insert(slot, (now + dt, seq));
                        q.set_slot(slot, SimTime(now + dt));
                        generation[slot as usize] += 1;
                        r.push(SimTime(now + dt), (Ev::Slot(slot), generation[slot as usize]));
                    }
                    2 => {
                        pending.remove(&slot);
                        q.clear_slot(slot);
                        generation[slot as usize] += 1;
                    }
                    _ => {
                        let want = loop {
                            match r.pop() {
                                Some((t, (Ev::Slot(s), g))) if g != generation[s as usize] => {
                                    let _ = t;
                                }
                                Some((t, (e, _))) => {
                                    if let Ev::Slot(s) = e {
                                        generation[s as usize] += 1;
                                    }
                                    break Some((t, e));
                                }
                                None => break None,
                            }
                        };
                        // A hint that names a slot names the earliest pending slot wake-up.
                        if let Some(s) = q.peek_slot() {
                            let earliest = pending.iter().min_by_key(|(_, k)| **k).map(|(s, _)| *s);
                            prop_assert_eq!(earliest, Some(s));
                        }
                        let got = q.pop();
                        if let Some((_, Ev::Slot(s))) = got {
                            pending.remove(&s);
                        }
                        prop_assert_eq!(got, want);
                        if let Some((t, _)) = got {
                            now = t.0;
                        }
                    }
                }
            }
        }
    }
}
