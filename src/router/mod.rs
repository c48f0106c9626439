//! Routing policies: which server a request goes to. `central-queue` makes no choice at
//! arrival (servers pull from one shared FIFO, [`CentralQueue`]); `prefix-affinity` looks at
//! the replicas' prefix caches ([`prefix_affinity`]).

use rand::RngExt;
use rand::rngs::ChaCha8Rng;

use crate::engine::rng::{Purpose, stream};
use crate::scenario::RouterPolicy;

pub mod central;
pub mod loads;
pub mod prefix;
pub use central::CentralQueue;
pub use loads::Loads;
pub use prefix::prefix_affinity;

/// The router of one replication.
pub struct Router {
    policy: RouterPolicy,
    next_rr: usize,
    rng: ChaCha8Rng,
}

impl Router {
    /// A router for `policy`, with its own random stream.
    pub fn new(policy: RouterPolicy, seed: u64) -> Self {
        Router {
            policy,
            next_rr: 0,
            rng: stream(seed, Purpose::Routing),
        }
    }

    /// The policy.
    pub fn policy(&self) -> RouterPolicy {
        self.policy
    }

    /// Picks a server given each server's outstanding requests (waiting + in service).
    /// Ties go to the lowest index, so the choice is deterministic.
    pub fn choose(&mut self, outstanding: &Loads) -> usize {
        let n = outstanding.len();
        match self.policy {
            RouterPolicy::RoundRobin | RouterPolicy::CentralQueue => {
                let i = self.next_rr % n;
                self.next_rr = (i + 1) % n;
                i
            }
            RouterPolicy::Random => self.rng.random_range(0..n),
            // Prefix affinity needs the caches ([`prefix_affinity`]); without them it falls
            // back to the least-loaded target.
            RouterPolicy::LeastOutstanding | RouterPolicy::PrefixAffinity => outstanding.argmin(),
            RouterPolicy::PowerOfTwo => {
                if n == 1 {
                    return 0;
                }
                let a = self.rng.random_range(0..n);
                let mut b = self.rng.random_range(0..n - 1);
                if b >= a {
                    b += 1;
                }
                let (lo, hi) = if a < b { (a, b) } else { (b, a) };
                if outstanding.get(hi) < outstanding.get(lo) {
                    hi
                } else {
                    lo
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_pick_as_documented() {
        let mut r = Router::new(RouterPolicy::RoundRobin, 1);
        let picks: Vec<usize> = (0..5)
            .map(|_| r.choose(&Loads::from_counts(&[0, 0, 0])))
            .collect();
        assert_eq!(picks, [0, 1, 2, 0, 1]);
        let mut r = Router::new(RouterPolicy::LeastOutstanding, 1);
        assert_eq!(r.choose(&Loads::from_counts(&[3, 1, 1, 2])), 1);
        let mut r = Router::new(RouterPolicy::PowerOfTwo, 1);
        for _ in 0..100 {
            assert!(r.choose(&Loads::from_counts(&[0, 9, 9])) < 3);
        }
        let mut r = Router::new(RouterPolicy::PowerOfTwo, 1);
        // With two servers both are always drawn, so the less loaded one always wins.
        for _ in 0..50 {
            assert_eq!(r.choose(&Loads::from_counts(&[5, 2])), 1);
        }
    }
}
