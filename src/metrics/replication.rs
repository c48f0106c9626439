//! What one replication measured: request counts, latency summaries, idle rates and the
//! LLM fleet's own figures, as the fleet hands them to the drivers.

use serde::Serialize;

use super::LatencySummary;
use super::ci::{Replicated, mean_ci95, replicated};
use super::steady::SteadyRecorder;
pub use crate::scenario::slo::LatencyStat;

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

replicated!(nested RequestCounts => RequestMeans, RequestHalfWidths {
    arrived: u64,
    completed: u64,
    cache_hits: u64,
    in_flight: u64,
});

replicated!(floats LatencySummary => LatencyHalfWidths {
    mean, p50, p90, p95, p99, p999, max,
});

replicated!(nested Latencies => LatencyMeans, LatenciesHalfWidths {
    e2e: LatencySummary,
    queue_wait: LatencySummary,
    service: LatencySummary,
    #[serde(skip_serializing_if = "Option::is_none")]
    ttft: Option<LatencySummary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tpot: Option<LatencySummary>,
});

/// The idle rates averaged over replications, with the R1 formula's view beside them.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct IdleRateMeans {
    /// The measured idle rates, averaged.
    #[serde(flatten)]
    pub rates: IdleRates,
    /// The formula's assumed and equivalent idle rates; set by the cost step
    /// (the cost step) once the means are known.
    #[serde(flatten)]
    pub formula: Option<IdleComparison>,
}

/// The idle rate the R1 formula assumes, and the one that makes it give the simulated cost.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct IdleComparison {
    /// `cost.assumed_idle_rate`.
    pub assumed: f64,
    /// The idle rate at which the formula gives the simulated cloud cost (LLM fleets).
    pub equivalent: Option<f64>,
}

/// 95% half-widths of [`IdleRates`] over replications (null with one replication).
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct IdleHalfWidths {
    /// Half-width of `achieved`.
    pub achieved: Option<f64>,
    /// Half-width of `per_server_min`.
    pub per_server_min: Option<f64>,
    /// Half-width of `per_server_mean`.
    pub per_server_mean: Option<f64>,
    /// Half-width of `per_server_max`.
    pub per_server_max: Option<f64>,
}

impl Replicated for IdleRates {
    type Mean = IdleRateMeans;
    type HalfWidth = IdleHalfWidths;
    fn mean_ci(reps: &[&Self]) -> (IdleRateMeans, IdleHalfWidths) {
        // The struct literals below list every field: a new one fails to compile here.
        let field =
            |f: fn(&IdleRates) -> f64| mean_ci95(&reps.iter().map(|r| f(r)).collect::<Vec<_>>());
        let (a, b, c, d) = (
            field(|r| r.achieved),
            field(|r| r.per_server_min),
            field(|r| r.per_server_mean),
            field(|r| r.per_server_max),
        );
        let rates = IdleRates {
            achieved: a.0,
            per_server_min: b.0,
            per_server_mean: c.0,
            per_server_max: d.0,
        };
        let hw = IdleHalfWidths {
            achieved: a.1,
            per_server_min: b.1,
            per_server_mean: c.1,
            per_server_max: d.1,
        };
        (
            IdleRateMeans {
                rates,
                formula: None,
            },
            hw,
        )
    }
}

replicated!(floats LlmMetrics => LlmHalfWidths {
    replicas, kv_capacity_tokens, mean_batch, mbu, mfu, kv_occupancy, preemptions,
    output_tokens_per_s, prefill_tokens_per_s, steps_per_busy_s, mean_servers, min_servers,
    max_servers, prefix_hit_fraction,
});

replicated!(floats RoundMetrics => RoundHalfWidths {
    completed, e2e_mean_s, ttft_mean_s,
});

replicated!(nested SessionMetrics => SessionMeans, SessionHalfWidths {
    rounds: f64,
    completed: f64,
    e2e_s: LatencySummary,
    per_round: std::collections::BTreeMap<String, RoundMetrics>,
});

replicated!(nested DayProfile => DayMeans, DayHalfWidths {
    arrivals_per_s: std::collections::BTreeMap<String, f64>,
    busy_replicas: std::collections::BTreeMap<String, f64>,
    servers_paid: std::collections::BTreeMap<String, f64>,
});

replicated!(nested ReplicationMetrics => MetricMeans, MetricHalfWidths {
    requests: RequestCounts,
    latency_s: Latencies,
    wait_probability: f64,
    idle_rate: IdleRates,
    utilization: f64,
    throughput_per_s: f64,
    mean_in_system: f64,
    cache_hit_rate: f64,
    ended_at_s: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    llm: Option<LlmMetrics>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sessions: Option<SessionMetrics>,
    #[serde(skip_serializing_if = "Option::is_none")]
    day: Option<DayProfile>,
    #[serde(skip_serializing_if = "Option::is_none")]
    disaggregated: Option<super::disagg::DisaggMetrics>,
});

/// A latency metric of a run, in report order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LatencyMetric {
    /// Arrival to completion.
    E2e,
    /// Arrival to start of service.
    QueueWait,
    /// Start of service to completion.
    Service,
    /// Arrival to first token (LLM servers).
    Ttft,
    /// Time per output token after the first (LLM servers).
    Tpot,
}

impl LatencyMetric {
    /// Every metric, in report order.
    pub const ALL: [LatencyMetric; 5] = [
        LatencyMetric::E2e,
        LatencyMetric::QueueWait,
        LatencyMetric::Service,
        LatencyMetric::Ttft,
        LatencyMetric::Tpot,
    ];

    /// Its name in summaries, e.g. `queue_wait`.
    pub fn name(self) -> &'static str {
        match self {
            LatencyMetric::E2e => "e2e",
            LatencyMetric::QueueWait => "queue_wait",
            LatencyMetric::Service => "service",
            LatencyMetric::Ttft => "ttft",
            LatencyMetric::Tpot => "tpot",
        }
    }
}

impl From<super::steady::Metric> for LatencyMetric {
    fn from(m: super::steady::Metric) -> Self {
        use super::steady::Metric;
        match m {
            Metric::E2e => LatencyMetric::E2e,
            Metric::QueueWait => LatencyMetric::QueueWait,
            Metric::Ttft => LatencyMetric::Ttft,
            Metric::Tpot => LatencyMetric::Tpot,
        }
    }
}

impl LatencyStat {
    /// Its value in `s`.
    pub fn of(self, s: &LatencySummary) -> f64 {
        match self {
            LatencyStat::Mean => s.mean,
            LatencyStat::P50 => s.p50,
            LatencyStat::P90 => s.p90,
            LatencyStat::P95 => s.p95,
            LatencyStat::P99 => s.p99,
            LatencyStat::P999 => s.p999,
            LatencyStat::Max => s.max,
        }
    }

    /// Its half-width in `h`.
    pub fn half_width(self, h: &LatencyHalfWidths) -> Option<f64> {
        match self {
            LatencyStat::Mean => h.mean,
            LatencyStat::P50 => h.p50,
            LatencyStat::P90 => h.p90,
            LatencyStat::P95 => h.p95,
            LatencyStat::P99 => h.p99,
            LatencyStat::P999 => h.p999,
            LatencyStat::Max => h.max,
        }
    }
}

impl LatencyMeans {
    /// The means of metric `m` (none when the fleet does not measure it).
    pub fn get(&self, m: LatencyMetric) -> Option<&LatencySummary> {
        match m {
            LatencyMetric::E2e => Some(&self.e2e),
            LatencyMetric::QueueWait => Some(&self.queue_wait),
            LatencyMetric::Service => Some(&self.service),
            LatencyMetric::Ttft => self.ttft.as_ref(),
            LatencyMetric::Tpot => self.tpot.as_ref(),
        }
    }
}

impl LatenciesHalfWidths {
    /// The half-widths of metric `m` (none when the fleet does not measure it).
    pub fn get(&self, m: LatencyMetric) -> Option<&LatencyHalfWidths> {
        match m {
            LatencyMetric::E2e => Some(&self.e2e),
            LatencyMetric::QueueWait => Some(&self.queue_wait),
            LatencyMetric::Service => Some(&self.service),
            LatencyMetric::Ttft => self.ttft.as_ref(),
            LatencyMetric::Tpot => self.tpot.as_ref(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replications_average_field_by_field() {
        let mut a = ReplicationMetrics::default();
        a.requests.arrived = 3;
        a.utilization = 0.5;
        a.latency_s.ttft = Some(LatencySummary {
            mean: 1.0,
            ..LatencySummary::default()
        });
        let mut b = a.clone();
        b.requests.arrived = 4;
        b.utilization = 0.7;
        b.latency_s.ttft = Some(LatencySummary {
            mean: 3.0,
            ..LatencySummary::default()
        });
        let (m, h) = ReplicationMetrics::mean_ci(&[&a, &b]);
        assert_eq!(m.requests.arrived, 3.5);
        assert!((m.utilization - 0.6).abs() < 1e-12);
        assert_eq!(
            m.latency_s.get(LatencyMetric::Ttft).map(|s| s.mean),
            Some(2.0)
        );
        let hw = h.latency_s.get(LatencyMetric::Ttft).and_then(|h| h.mean);
        assert!((hw.unwrap() - 12.706).abs() < 1e-2, "{hw:?}");
        assert_eq!(h.requests.cache_hits, Some(0.0));
        assert!(m.llm.is_none() && h.llm.is_none() && m.idle_rate.formula.is_none());
        // Counts become fractional means; parts a fleet lacks are left out of the JSON.
        let v = serde_json::to_value(&m).unwrap();
        assert_eq!(v["requests"]["arrived"], 3.5);
        assert!(v.get("llm").is_none() && v["idle_rate"].get("assumed").is_none());
        let (_, one) = ReplicationMetrics::mean_ci(&[&a]);
        assert_eq!(one.utilization, None, "no half-width from one replication");
    }
}
