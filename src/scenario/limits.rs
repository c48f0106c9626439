//! Upper bounds on every size a user controls, checked at validation so that no input can
//! make fleetsim allocate without bound, abort or hang. Each bound is far above any real
//! fleet or study; the README's "Limits and guarantees" lists them.

/// Most replications of one run (`run.replications`, `--replications`).
pub const MAX_REPLICATIONS: u32 = 10_000;
/// Most servers in a fleet (`servers.count`, `--servers`, `autoscale.*_servers`,
/// `plan --servers-max`).
pub const MAX_SERVERS: u32 = 1_000_000;
/// Most service slots of one queue server (`servers.slots`).
pub const MAX_SLOTS: u32 = 100_000;
/// Most service slots of a whole queue fleet (servers x slots).
pub const MAX_FLEET_SLOTS: u64 = 10_000_000;
/// Most GPUs in one LLM server (`servers.gpus_per_server`): replicas per server follow.
pub const MAX_GPUS_PER_SERVER: u32 = 1_024;
/// Most model replicas of a whole LLM fleet (servers x GPUs per server / tensor parallel).
pub const MAX_FLEET_REPLICAS: u64 = 1_000_000;
/// Most entries of an LRU response cache (`cache.capacity`); `cache.distinct_queries` has
/// the same bound.
pub const MAX_CACHE_ENTRIES: u64 = 10_000_000;
/// Largest overload guard (`run.max_queue`): requests waiting at once.
pub const MAX_QUEUE: u64 = 10_000_000;
/// Most shards of one replication (`run.shards`); a shard also needs one server at least.
pub const MAX_SHARDS: u32 = 1_024;
/// Most rows of a trace file (`traffic.path`, `fleetsim trace-stats`); the trace reader owns it.
pub use crate::trace::MAX_TRACE_ROWS;
/// Most points of one sweep grid (the product of every `--vary` axis).
pub const MAX_SWEEP_POINTS: usize = 1_000_000;
/// Most worker threads (`--threads`).
pub const MAX_THREADS: usize = 1_024;
/// Largest scenario file, in bytes (a scenario is a few KiB; an empirical distribution
/// with many values is still far below this).
pub const MAX_SCENARIO_BYTES: u64 = 16 << 20;
/// Largest seed (`run.seed`, `--seed`): TOML integers are signed 64-bit, and the resolved
/// scenario must be writable as TOML.
pub const MAX_SEED: u64 = i64::MAX as u64;
/// Largest mean token count of a request's prompt or output (`request.*_tokens`): what a
/// drawn count can hold (drawn counts are clamped to it), far beyond any model's context,
/// and small enough that token arithmetic cannot overflow.
pub const MAX_TOKENS_PER_REQUEST: f64 = u32::MAX as f64;
/// Highest arrival rate (`traffic.requests_per_s`, a trace's rate after `rate_scale`):
/// one request per nanosecond, the resolution of simulated time.
pub const MAX_REQUESTS_PER_S: f64 = 1e9;
/// Shortest autoscaler evaluation interval (`autoscale.interval_s`), in seconds.
pub const MIN_AUTOSCALE_INTERVAL_S: f64 = 1.0;
