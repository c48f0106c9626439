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

/// Marks a slot with no pending wake-up in [`SlotHeap::pos`].
const ABSENT: u32 = u32::MAX;

/// One pending slot wake-up in the [`SlotHeap`], its key stored inline.
#[derive(Clone, Copy)]
struct Node {
    time: u64,
    seq: u64,
    slot: u32,
}

impl Node {
    #[inline]
    fn key(&self) -> u128 {
        key(self.time, self.seq)
    }
}

/// An indexed binary min-heap of slots keyed by (time, seq): each slot is in the heap at most
/// once, and its key can be changed in place.
struct SlotHeap {
    /// Pending wake-ups in heap order.
    heap: Vec<Node>,
    /// Position of each slot in `heap`, or [`ABSENT`].
    pos: Vec<u32>,
}

impl SlotHeap {
    fn new(n: usize) -> Self {
        SlotHeap {
            heap: Vec::with_capacity(n),
            pos: vec![ABSENT; n],
        }
    }

    #[inline]
    fn min_key(&self) -> Option<u128> {
        self.heap.first().map(Node::key)
    }

    #[inline]
    fn place(&mut self, i: usize, node: Node) {
        self.pos[node.slot as usize] = i as u32;
        self.heap[i] = node;
    }

    /// Moves `node` up from position `i` to its place.
    fn sift_up(&mut self, mut i: usize, node: Node) {
        let k = node.key();
        while i > 0 {
            let parent = (i - 1) / 2;
            let p = self.heap[parent];
            if p.key() <= k {
                break;
            }
            self.place(i, p);
            i = parent;
        }
        self.place(i, node);
    }

    /// Moves `node` down from position `i` to its place.
    fn sift_down(&mut self, mut i: usize, node: Node) {
        let n = self.heap.len();
        let k = node.key();
        loop {
            let l = 2 * i + 1;
            if l >= n {
                break;
            }
            let mut c = l;
            let mut child = self.heap[l];
            if l + 1 < n && self.heap[l + 1].key() < child.key() {
                c = l + 1;
                child = self.heap[c];
            }
            if k <= child.key() {
                break;
            }
            self.place(i, child);
            i = c;
        }
        self.place(i, node);
    }

    /// Fills the hole at `i` with the smaller child all the way to a leaf, then puts `node`
    /// there and moves it up (fewer comparisons than `sift_down` when `node` is late, as the
    /// last node of a heap usually is).
    fn sift_down_to_bottom(&mut self, mut i: usize, node: Node) {
        let n = self.heap.len();
        loop {
            let l = 2 * i + 1;
            if l >= n {
                break;
            }
            let mut c = l;
            if l + 1 < n && self.heap[l + 1].key() < self.heap[l].key() {
                c = l + 1;
            }
            let child = self.heap[c];
            self.place(i, child);
            i = c;
        }
        self.sift_up(i, node);
    }

    fn set(&mut self, slot: u32, time: u64, seq: u64) {
        let node = Node { time, seq, slot };
        match self.pos[slot as usize] {
            ABSENT => {
                self.heap.push(node);
                let i = self.heap.len() - 1;
                self.sift_up(i, node);
            }
            p => {
                let p = p as usize;
                if node.key() < self.heap[p].key() {
                    self.sift_up(p, node);
                } else {
                    self.sift_down(p, node);
                }
            }
        }
    }

    /// Takes the node at position `p` out, filling the hole with the last node.
    fn take(&mut self, p: usize) -> Node {
        let out = self.heap[p];
        self.pos[out.slot as usize] = ABSENT;
        let last = self.heap.pop().expect("p is in the heap");
        if p < self.heap.len() {
            if p > 0 && last.key() < self.heap[(p - 1) / 2].key() {
                self.sift_up(p, last);
            } else {
                self.sift_down_to_bottom(p, last);
            }
        }
        out
    }

    fn remove(&mut self, slot: u32) {
        let p = self.pos[slot as usize];
        if p != ABSENT {
            self.take(p as usize);
        }
    }

    #[inline]
    fn pop(&mut self) -> Option<Node> {
        if self.heap.is_empty() {
            None
        } else {
            Some(self.take(0))
        }
    }
}

/// Pending events of one simulation run, earliest first, ties in insertion order.
pub struct EventQueue<E> {
    heap: BinaryHeap<Entry<E>>,
    slots: SlotHeap,
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
            slots: SlotHeap::new(n),
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
        let heap_key = self.heap.peek().map(Entry::key);
        match (heap_key, self.slots.min_key()) {
            (_, None) => self.heap.pop().map(|e| (SimTime(e.time), e.event)),
            (Some(h), Some(s)) if h < s => self.heap.pop().map(|e| (SimTime(e.time), e.event)),
            (_, Some(_)) => {
                let node = self.slots.pop().expect("a slot is pending");
                Some((SimTime(node.time), (self.slot_event)(node.slot)))
            }
        }
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
        self.heap.len() + self.slots.heap.len()
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
            ops in proptest::collection::vec((0u8..4, 0u32..6, 0u64..40), 0..300)
        ) {
            let mut q: EventQueue<Ev> = EventQueue::with_slots(6, Ev::Slot);
            // Reference: every wake-up pushed with a generation; stale ones skipped.
            let mut r: EventQueue<(Ev, u32)> = EventQueue::new();
            let mut generation = [0u32; 6];
            let mut now = 0u64;
            for (op, slot, dt) in ops {
                match op {
                    0 => {
                        q.push(SimTime(now + dt), Ev::Plain(slot));
                        r.push(SimTime(now + dt), (Ev::Plain(slot), 0));
                    }
                    1 => {
                        q.set_slot(slot, SimTime(now + dt));
                        generation[slot as usize] += 1;
                        r.push(SimTime(now + dt), (Ev::Slot(slot), generation[slot as usize]));
                    }
                    2 => {
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
                        let got = q.pop();
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
