//! Caches: the response cache in front of the fleet, and the per-replica prefix (KV) cache.

pub mod lru;
pub mod prefix;
pub mod recency;
pub mod response;

pub use response::ResponseCache;
