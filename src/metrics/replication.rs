//! What one replication measured: request counts, latency summaries, idle rates and the
//! LLM fleet's own figures, as the fleet hands them to the drivers.

use serde::Serialize;

use super::LatencySummary;
use super::steady::SteadyRecorder;

/// Counts of measured requests (those arriving after the warm-up).
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct RequestCounts {
    /// Arrived in the measured window.
    pub arrived: u64,
    /// Finished by the end of the run (cache hits included).
    pub completed: u64,
    /// Answered by the response cache.
    pub cache_hits: u64,
    /// Still waiting or in service when the run ended.
    pub in_flight: u64,
}

/// Latency of measured, completed requests, in seconds.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct Latencies {
    /// Arrival to completion (cache hits included).
    pub e2e: LatencySummary,
    /// Arrival to start of service (server-served requests only).
    pub queue_wait: LatencySummary,
    /// Start of service to completion (server-served requests only).
    pub service: LatencySummary,
    /// LLM servers: arrival to first output token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttft: Option<LatencySummary>,
    /// LLM servers: mean time per output token after the first, per request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tpot: Option<LatencySummary>,
}

/// Idle rates: the fraction of server-time with no request in service.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct IdleRates {
    /// Over the whole fleet.
    pub achieved: f64,
    /// The least idle server.
    pub per_server_min: f64,
    /// Mean over servers (equals `achieved`; kept for symmetry).
    pub per_server_mean: f64,
    /// The most idle server.
    pub per_server_max: f64,
}

/// Everything one replication measured. Every field is a number, so replications average
/// leaf by leaf into the run summary.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct ReplicationMetrics {
    /// Request counts.
    pub requests: RequestCounts,
    /// Latency percentiles.
    pub latency_s: Latencies,
    /// Fraction of server-served requests that waited at all (Erlang C's P(wait > 0)).
    pub wait_probability: f64,
    /// Idle rates.
    pub idle_rate: IdleRates,
    /// Busy slot-time over total slot-time.
    pub utilization: f64,
    /// Measured completions per second of measured time.
    pub throughput_per_s: f64,
    /// Time-average number of requests in the system (Little's L).
    pub mean_in_system: f64,
    /// Fraction of measured arrivals answered by the response cache.
    pub cache_hit_rate: f64,
    /// Simulated seconds at which the replication ended (earlier than the duration if it
    /// stopped as overloaded).
    pub ended_at_s: f64,
    /// LLM fleets: batching, bandwidth and KV figures.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub llm: Option<LlmMetrics>,
    /// Multi-round sessions: per session and per round.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sessions: Option<SessionMetrics>,
    /// Diurnal runs: the fleet through the day, by hour.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub day: Option<DayProfile>,
    /// Issue 17: disaggregated fleets' pools, KV transfers and pool costs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disaggregated: Option<super::disagg::DisaggMetrics>,
}

/// The outcome of one replication.
#[derive(Clone, Debug)]
pub struct ReplicationOutcome {
    /// What it measured.
    pub metrics: ReplicationMetrics,
    /// Why it stopped early, if it did (the queue outgrew `run.max_queue`).
    pub overload: Option<String>,
    /// Events the loop handled (for the engine benchmark's events per second).
    pub events: u64,
    /// The latency time series and halves behind the steady-state diagnostics.
    pub steady: SteadyRecorder,
}

/// Fleet-level figures of an LLM run (time-weighted over the measured window).
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct LlmMetrics {
    /// Model replicas in the fleet.
    pub replicas: f64,
    /// KV capacity of one replica, tokens.
    pub kv_capacity_tokens: f64,
    /// Mean sequences per step, over busy time.
    pub mean_batch: f64,
    /// Achieved HBM bandwidth over peak, over busy time (model bandwidth utilisation).
    pub mbu: f64,
    /// Achieved FLOP/s over peak, over busy time (model FLOP utilisation).
    pub mfu: f64,
    /// Mean fraction of KV memory held, over busy time.
    pub kv_occupancy: f64,
    /// Sequences preempted for lack of KV memory (and recomputed).
    pub preemptions: f64,
    /// Generated tokens per second, fleet-wide.
    pub output_tokens_per_s: f64,
    /// Prompt tokens processed per second (recomputation included).
    pub prefill_tokens_per_s: f64,
    /// Steps executed per replica per second of busy time.
    pub steps_per_busy_s: f64,
    /// Servers paid for, time-averaged over the measured window (active, being provisioned,
    /// or draining); equals the fleet size without autoscaling.
    pub mean_servers: f64,
    /// Fewest servers paid for at any time in the measured window.
    pub min_servers: f64,
    /// Most servers paid for at any time in the measured window.
    pub max_servers: f64,
    /// Fraction of measured prompt tokens found in a replica's prefix cache at admission
    /// (0 without a prefix cache).
    pub prefix_hit_fraction: f64,
}

/// Session figures (scenarios with `request.rounds > 1`): sessions whose first round arrived
/// after the warm-up.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct SessionMetrics {
    /// Rounds per session.
    pub rounds: f64,
    /// Sessions that answered every round before the run ended.
    pub completed: f64,
    /// First question to last answer, seconds.
    pub e2e_s: LatencySummary,
    /// Per round (`round_1`, `round_2`, ...): answered rounds and their mean latencies.
    pub per_round: std::collections::BTreeMap<String, RoundMetrics>,
}

/// One round position across sessions.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct RoundMetrics {
    /// Rounds answered.
    pub completed: f64,
    /// Mean arrival-to-last-token seconds.
    pub e2e_mean_s: f64,
    /// Mean time to first token (server-answered rounds), seconds.
    pub ttft_mean_s: f64,
}

/// The fleet through the day (diurnal runs), by hour of day (`h00` .. `h23`, the hour of the
/// day at which the sample was taken, counting from `traffic.start_hour`), measured window
/// only.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct DayProfile {
    /// Arrivals per second.
    pub arrivals_per_s: std::collections::BTreeMap<String, f64>,
    /// Replicas running a step, on average.
    pub busy_replicas: std::collections::BTreeMap<String, f64>,
    /// Servers paid for, on average.
    pub servers_paid: std::collections::BTreeMap<String, f64>,
}
