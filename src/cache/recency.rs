//! A slab of entries threaded on an intrusive recency list, the most recently used at the
//! front: the O(1) bookkeeping both LRU caches share (the response cache's [`super::lru`]
//! and the KV [`super::prefix`] cache). Which entries a cache keeps, evicts or pins is the
//! cache's business; this keeps the order.
//!
//! Slots are stable: an entry stays at its slot until the cache frees it, and a freed slot
//! is the next one [`Recency::alloc`] reuses (last freed, first reused), so a cache's
//! behaviour is a pure function of its calls.

/// No slot: the end of the list.
const NIL: usize = usize::MAX;

#[derive(Clone, Debug)]
struct Linked<T> {
    value: T,
    /// More recently used neighbour, or `NIL` at the front (or when unlinked).
    prev: usize,
    /// Less recently used neighbour, or `NIL` at the back (or when unlinked).
    next: usize,
}

/// Entries in slots, some of them on a recency list (see the module docs).
#[derive(Clone, Debug)]
pub struct Recency<T> {
    slab: Vec<Linked<T>>,
    /// Freed slots, the last freed reused first.
    free: Vec<usize>,
    /// Most recently used linked slot, or `NIL`.
    head: usize,
    /// Least recently used linked slot, or `NIL`.
    tail: usize,
}

impl<T> Recency<T> {
    /// An empty slab with room for `slots` entries before it grows.
    pub fn with_capacity(slots: usize) -> Self {
        Recency {
            slab: Vec::with_capacity(slots),
            free: Vec::new(),
            head: NIL,
            tail: NIL,
        }
    }

    /// Stores `value` in the last freed slot, or a new one, not linked; returns the slot.
    pub fn alloc(&mut self, value: T) -> usize {
        let node = Linked {
            value,
            prev: NIL,
            next: NIL,
        };
        match self.free.pop() {
            Some(slot) => {
                self.slab[slot] = node;
                slot
            }
            None => {
                self.slab.push(node);
                self.slab.len() - 1
            }
        }
    }

    /// Gives back an unlinked slot for [`Recency::alloc`] to reuse.
    pub fn free(&mut self, slot: usize) {
        debug_assert!(self.slab[slot].prev == NIL && self.head != slot);
        self.free.push(slot);
    }

    /// Slots ever allocated (freed ones included).
    pub fn slots(&self) -> usize {
        self.slab.len()
    }

    /// The entry at `slot`.
    pub fn get(&self, slot: usize) -> &T {
        &self.slab[slot].value
    }

    /// The entry at `slot`, to update.
    pub fn get_mut(&mut self, slot: usize) -> &mut T {
        &mut self.slab[slot].value
    }

    /// The least recently used linked slot: the next victim.
    pub fn least_recent(&self) -> Option<usize> {
        (self.tail != NIL).then_some(self.tail)
    }

    /// Takes a linked `slot` off the list.
    pub fn unlink(&mut self, slot: usize) {
        let (prev, next) = (self.slab[slot].prev, self.slab[slot].next);
        match prev {
            NIL => self.head = next,
            p => self.slab[p].next = next,
        }
        match next {
            NIL => self.tail = prev,
            n => self.slab[n].prev = prev,
        }
        self.slab[slot].prev = NIL;
        self.slab[slot].next = NIL;
    }

    /// Links an unlinked `slot` in as the most recently used.
    pub fn push_front(&mut self, slot: usize) {
        let old_head = self.head;
        self.slab[slot].prev = NIL;
        self.slab[slot].next = old_head;
        match old_head {
            NIL => self.tail = slot,
            h => self.slab[h].prev = slot,
        }
        self.head = slot;
    }

    /// Makes a linked `slot` the most recently used.
    pub fn move_to_front(&mut self, slot: usize) {
        if self.head != slot {
            self.unlink(slot);
            self.push_front(slot);
        }
    }

    /// The linked entries from most to least recently used.
    pub fn by_recency(&self) -> impl Iterator<Item = &T> + '_ {
        let mut at = self.head;
        std::iter::from_fn(move || {
            (at != NIL).then(|| {
                let node = &self.slab[at];
                at = node.next;
                &node.value
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The list orders linked slots as a plain vector of them would (front: most
        /// recent), and freed slots are reused last freed first.
        #[test]
        fn matches_a_plain_vector(ops in proptest::collection::vec((0u8..4, 0usize..12), 0..200)) {
            let mut list = Recency::with_capacity(4);
            // Model: linked slots, most recent first; unlinked allocated slots; freed slots.
            let mut order: Vec<usize> = Vec::new();
            let mut unlinked: Vec<usize> = Vec::new();
            let mut freed: Vec<usize> = Vec::new();
            for (op, pick) in ops {
                match op {
                    0 => {
                        let slot = list.alloc(pick);
                        let want = freed.pop().unwrap_or(list.slots() - 1);
                        prop_assert_eq!(slot, want);
                        list.push_front(slot);
                        order.insert(0, slot);
                    }
                    1 if !order.is_empty() => {
                        let slot = order[pick % order.len()];
                        list.move_to_front(slot);
                        order.retain(|&s| s != slot);
                        order.insert(0, slot);
                    }
                    2 if !order.is_empty() => {
                        let slot = order[pick % order.len()];
                        list.unlink(slot);
                        order.retain(|&s| s != slot);
                        unlinked.push(slot);
                    }
                    3 if !unlinked.is_empty() => {
                        let slot = unlinked.swap_remove(pick % unlinked.len());
                        if pick % 2 == 0 {
                            list.push_front(slot);
                            order.insert(0, slot);
                        } else {
                            list.free(slot);
                            freed.push(slot);
                        }
                    }
                    _ => {}
                }
                let got: Vec<usize> = list.by_recency().copied().collect();
                let want: Vec<usize> = order.iter().map(|&s| *list.get(s)).collect();
                prop_assert_eq!(got, want);
                prop_assert_eq!(list.least_recent(), order.last().copied());
            }
        }
    }
}
