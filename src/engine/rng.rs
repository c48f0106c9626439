//! Seeded random streams: one master seed, one independent stream per purpose and replication.
//!
//! Each purpose draws from its own ChaCha8 stream, so adding a server or changing the router
//! leaves the arrival and token streams untouched (common random numbers across compared
//! configurations). ChaCha8 is a named, portable algorithm: the same seed gives the same
//! numbers on every platform and rand release that keeps it.

use rand::SeedableRng;
use rand::rngs::ChaCha8Rng;

/// What a random stream is used for; each purpose has its own stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u64)]
pub enum Purpose {
    /// Inter-arrival times.
    Arrivals = 1,
    /// Service times of the generic queue server.
    Service = 2,
    /// Response-cache hits and query popularity.
    Cache = 3,
    /// Random choices of the router.
    Routing = 4,
    /// Input (prompt) token counts.
    InputTokens = 5,
    /// Output token counts.
    OutputTokens = 6,
    /// Session rounds and think times.
    Sessions = 7,
    /// Anything a trace replay needs (spreading coarse timestamps).
    Trace = 8,
}

/// SplitMix64 finaliser: spreads nearby integers (seed, replication) over the 64-bit space.
pub fn mix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The seed of replication `replication` of a run with master seed `master_seed`.
pub fn replication_seed(master_seed: u64, replication: u32) -> u64 {
    mix64(master_seed ^ mix64(u64::from(replication).wrapping_add(0x5EED)))
}

/// The stream id of shards: shard `i` of a replication seeded `seed` runs with seed
/// `mix64(seed ^ mix64(SHARD_STREAM + i))` (see [`shard_seed`]).
pub const SHARD_STREAM: u64 = 0x5A4D_0000;

/// The seed of shard `shard` of a sharded replication seeded with `replication_seed`: every
/// purpose's stream of every shard is then independent of the others'.
pub fn shard_seed(replication_seed: u64, shard: u32) -> u64 {
    mix64(replication_seed ^ mix64(SHARD_STREAM + u64::from(shard)))
}

/// The random stream for `purpose` in a replication seeded with `seed`.
pub fn stream(seed: u64, purpose: Purpose) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(purpose as u64);
    rng
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::RngExt;

    #[test]
    fn streams_differ_by_purpose_and_repeat_by_seed() {
        let a: u64 = stream(7, Purpose::Arrivals).random();
        let b: u64 = stream(7, Purpose::Service).random();
        let a2: u64 = stream(7, Purpose::Arrivals).random();
        assert_ne!(a, b);
        assert_eq!(a, a2);
        assert_ne!(replication_seed(1, 0), replication_seed(1, 1));
    }
}
