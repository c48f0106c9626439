//! What a disaggregated fleet measured (issue 17): each pool's use of its GPUs, the KV
//! transfers between them, and what each pool costs. The run summary's optional
//! `disaggregated` section; every field is a number so replications average leaf by leaf.

use serde::Serialize;

use super::LatencySummary;

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

/// Three lines for the terminal from a run summary's `disaggregated` section (none without
/// one): each pool, then the KV link.
pub fn render(summary: &serde_json::Value) -> Option<String> {
    let d = summary.get("disaggregated")?;
    let f = |v: &serde_json::Value, k: &str| v[k].as_f64().unwrap_or(f64::NAN);
    let pool = |name: &str| {
        let p = &d[name];
        format!(
            "{name} pool: {} servers ({} replicas), utilisation {:.3}, idle {:.3}, mean batch \
             {:.2}, KV occupancy {:.3}, wait {:.4} s, ${:.2}/h",
            f(p, "servers"),
            f(p, "replicas"),
            f(p, "utilization"),
            f(p, "idle_rate"),
            f(p, "mean_batch"),
            f(p, "kv_occupancy"),
            f(p, "wait_mean_s"),
            f(p, "usd_per_hour"),
        )
    };
    let t = &d["transfer_s"];
    Some(format!(
        "{}\n{}\nKV link: transfer mean {:.4} s, p99 {:.4} s, link wait {:.4} s, link \
         utilisation {:.3}, {:.3} GB per request",
        pool("prefill"),
        pool("decode"),
        f(t, "mean"),
        f(t, "p99"),
        f(d, "link_wait_mean_s"),
        f(d, "link_utilization"),
        f(d, "kv_bytes_per_request") / 1e9,
    ))
}
