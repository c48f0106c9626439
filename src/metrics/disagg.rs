//! What a disaggregated fleet measured (issue 17): each pool's use of its GPUs, the KV
//! transfers between them, and what each pool costs. The run summary's optional
//! `disaggregated` section; every field is a number so replications average field by field
//! ([`DisaggMeans`], [`DisaggHalfWidths`]).

use serde::Serialize;

use super::LatencySummary;
use super::ci::replicated;

/// One pool (prefill or decode), time-weighted over the measured window.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct PoolMetrics {
    /// Servers in the pool.
    pub servers: f64,
    /// Model replicas in the pool.
    pub replicas: f64,
    /// Busy replica-time over replica-time.
    pub utilization: f64,
    /// `1 - utilization`.
    pub idle_rate: f64,
    /// Mean sequences per step, over busy time.
    pub mean_batch: f64,
    /// Mean fraction of KV memory held, over busy time.
    pub kv_occupancy: f64,
    /// KV capacity of one replica, tokens.
    pub kv_capacity_tokens: f64,
    /// Achieved HBM bandwidth over peak, over busy time.
    pub mbu: f64,
    /// Sequences preempted for lack of KV memory (and recomputed).
    pub preemptions: f64,
    /// Mean seconds a request waited for this pool: prefill, arrival to admission; decode,
    /// KV arrival to admission (a decode replica admits only when it has KV room).
    pub wait_mean_s: f64,
    /// Cloud price of the pool, USD per hour.
    pub usd_per_hour: f64,
}

/// The run summary's `disaggregated` section.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct DisaggMetrics {
    /// The prefill pool.
    pub prefill: PoolMetrics,
    /// The decode pool.
    pub decode: PoolMetrics,
    /// Prefill end to KV usable on the decode replica (link queue, wire time and latency),
    /// seconds, for measured requests that needed a transfer.
    pub transfer_s: LatencySummary,
    /// Of `transfer_s`, the mean wait for the link (another transfer holding it), seconds.
    pub link_wait_mean_s: f64,
    /// Busy link-time over link-time (one link per prefill server).
    pub link_utilization: f64,
    /// Mean KV bytes moved per transferred request.
    pub kv_bytes_per_request: f64,
}

replicated!(floats PoolMetrics => PoolHalfWidths {
    servers, replicas, utilization, idle_rate, mean_batch, kv_occupancy, kv_capacity_tokens,
    mbu, preemptions, wait_mean_s, usd_per_hour,
});

replicated!(nested DisaggMetrics => DisaggMeans, DisaggHalfWidths {
    prefill: PoolMetrics,
    decode: PoolMetrics,
    transfer_s: LatencySummary,
    link_wait_mean_s: f64,
    link_utilization: f64,
    kv_bytes_per_request: f64,
});
