//! Outstanding requests per server with an O(1) "least loaded" query: a segment tree of
//! (count, index) minima, so `least-outstanding` costs O(log n) per change instead of a scan
//! over every server (a fleet of 100 8-replica servers has 800 routing targets).

/// Outstanding requests per routing target.
#[derive(Clone, Debug)]
pub struct Loads {
    counts: Vec<usize>,
    /// Segment tree over targets (size `2 * width`, leaves from `width`); each node holds the
    /// least [`key`] of its subtree, i.e. its least-loaded target, lowest index on ties.
    tree: Vec<u64>,
    width: usize,
}

/// `count << 32 | index`: one integer comparison orders by count, then index. (Counts beyond
/// u32::MAX would saturate; a run stops as overloaded long before.)
#[inline]
fn key(count: usize, i: usize) -> u64 {
    ((count.min(u32::MAX as usize) as u64) << 32) | i as u64
}

impl Loads {
    /// `n` targets, all idle.
    pub fn new(n: usize) -> Loads {
        let width = n.max(1).next_power_of_two();
        // Padding leaves hold u64::MAX, which never wins.
        let mut tree = vec![u64::MAX; 2 * width];
        for i in 0..n {
            tree[width + i] = key(0, i);
        }
        for node in (1..width).rev() {
            tree[node] = tree[2 * node].min(tree[2 * node + 1]);
        }
        Loads {
            counts: vec![0; n],
            tree,
            width,
        }
    }

    /// Targets with the given counts (tests and one-off use).
    pub fn from_counts(counts: &[usize]) -> Loads {
        let mut l = Loads::new(counts.len());
        for (i, &c) in counts.iter().enumerate() {
            l.counts[i] = c;
            l.update(i);
        }
        l
    }

    #[inline]
    fn update(&mut self, i: usize) {
        let mut node = self.width + i;
        self.tree[node] = key(self.counts[i], i);
        while node > 1 {
            let sibling = self.tree[node ^ 1];
            let m = self.tree[node].min(sibling);
            node /= 2;
            if self.tree[node] == m {
                // Ancestors depend on this node's value only: nothing above changes.
                break;
            }
            self.tree[node] = m;
        }
    }

    /// Number of targets.
    pub fn len(&self) -> usize {
        self.counts.len()
    }

    /// Whether there are no targets.
    pub fn is_empty(&self) -> bool {
        self.counts.is_empty()
    }

    /// Outstanding requests at target `i`.
    #[inline]
    pub fn get(&self, i: usize) -> usize {
        self.counts[i]
    }

    /// One more request at target `i`.
    #[inline]
    pub fn inc(&mut self, i: usize) {
        self.counts[i] += 1;
        self.update(i);
    }

    /// One request fewer at target `i`.
    #[inline]
    pub fn dec(&mut self, i: usize) {
        self.counts[i] -= 1;
        self.update(i);
    }

    /// Adds `k` to target `i` (e.g. a large penalty that keeps a drained server out of
    /// least-loaded choices).
    pub fn add(&mut self, i: usize, k: usize) {
        self.counts[i] += k;
        self.update(i);
    }

    /// Removes `k` from target `i`.
    pub fn sub(&mut self, i: usize, k: usize) {
        self.counts[i] -= k;
        self.update(i);
    }

    /// The least-loaded target, lowest index on ties.
    #[inline]
    pub fn argmin(&self) -> usize {
        if self.width == 1 {
            0
        } else {
            (self.tree[1] & u64::from(u32::MAX)) as usize
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn argmin_matches_a_scan(n in 1usize..40, ops in proptest::collection::vec((0usize..40, any::<bool>()), 0..200)) {
            let mut l = Loads::new(n);
            for (i, up) in ops {
                let i = i % n;
                if up { l.inc(i) } else if l.get(i) > 0 { l.dec(i) }
                let scan = (0..n).min_by_key(|&j| (l.get(j), j)).unwrap();
                prop_assert_eq!(l.argmin(), scan);
            }
        }
    }
}
