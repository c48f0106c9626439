//! The request accounting both fleet kinds share: counts, the number in the system, the
//! latency recorders every kind fills, the steady-state series and the request log; and the
//! assembly of a replication's metrics from them.

use crate::engine::{Ending, SimTime};
use crate::fleet::RunControl;
use crate::fleet::replica::Replica;
use crate::metrics::replication::{
    IdleRates, Latencies, ReplicationMetrics, ReplicationOutcome, RequestCounts,
};
use crate::metrics::request_log::{RequestLog, RequestRow};
use crate::metrics::steady::{Metric, SteadyRecorder};
use crate::metrics::{LatencyRecorder, LevelMeter};

/// Measured figures of one replication, filled as requests arrive and leave.
pub(crate) struct Tally {
    /// Requests arriving from here on are measured.
    pub warmup: SimTime,
    /// Counts of measured requests.
    pub counts: RequestCounts,
    /// Requests in the system (all, measured or not), over the measured window.
    pub in_system: LevelMeter,
    /// Latency series for the steady-state diagnostics (every request).
    pub steady: SteadyRecorder,
    /// Arrival to completion, measured requests.
    pub e2e: LatencyRecorder,
    /// Arrival to start of service.
    pub wait: LatencyRecorder,
    /// Start of service to completion.
    pub service: LatencyRecorder,
    /// `--requests-csv`: one row per measured request.
    pub log: Option<RequestLog>,
}

/// What a fleet kind adds to the shared figures when its replication ends.
pub(crate) struct FleetFigures<'a> {
    /// Idle fraction over the whole fleet.
    pub idle_achieved: f64,
    /// Idle fraction of each server.
    pub per_server_idle: &'a [f64],
    /// Busy share of the fleet's capacity.
    pub utilization: f64,
    /// Length of the measured window, s.
    pub window_s: f64,
    /// LLM fleets: the time-to-first-token and time-per-output-token recorders.
    pub ttft_tpot: Option<(&'a LatencyRecorder, &'a LatencyRecorder)>,
}

impl Tally {
    /// Nothing measured yet; requests arriving in `[warmup, end)` are measured.
    pub fn new(warmup: SimTime, end: SimTime, log: Option<RequestLog>) -> Tally {
        Tally {
            warmup,
            counts: RequestCounts::default(),
            in_system: LevelMeter::new(warmup, end),
            steady: SteadyRecorder::new(warmup, end),
            e2e: LatencyRecorder::new(),
            wait: LatencyRecorder::new(),
            service: LatencyRecorder::new(),
            log,
        }
    }

    /// Whether a request that arrived at `arrival` is measured.
    #[inline]
    pub fn measured(&self, arrival: SimTime) -> bool {
        arrival >= self.warmup
    }

    /// A request that arrived at `arrival` entered the system at `now`.
    #[inline]
    pub fn arrived(&mut self, now: SimTime, arrival: SimTime) {
        self.counts.arrived += u64::from(self.measured(arrival));
        self.in_system.set(now, self.in_system.level() + 1);
    }

    /// A request left the system at `now`.
    #[inline]
    pub fn left(&mut self, now: SimTime) {
        self.in_system.set(now, self.in_system.level() - 1);
    }

    /// The response cache answered at `now` a request that arrived at `arrival`; `tokens`
    /// (prompt, output) go into the request log (LLM fleets).
    pub fn cache_done(&mut self, now: SimTime, arrival: SimTime, tokens: Option<(u32, u32)>) {
        self.left(now);
        if self.measured(arrival) {
            self.counts.completed += 1;
            self.counts.cache_hits += 1;
            self.e2e.record(now - arrival);
            if let Some(log) = &mut self.log {
                log.row(&RequestRow {
                    arrival,
                    done: now,
                    input_tokens: tokens.map(|t| t.0),
                    output_tokens: tokens.map(|t| t.1),
                    cache_hit: true,
                    ..RequestRow::default()
                });
            }
        }
        self.steady.record(Metric::E2e, arrival, now, now - arrival);
    }

    /// Adds `other`, the tally of another shard of the same replication (meters advanced to
    /// the shards' own ends, the merged window ending at `end`). Its request log must have
    /// been closed already.
    pub fn merge(&mut self, other: Tally, end: SimTime) {
        let (a, b) = (&mut self.counts, &other.counts);
        a.arrived += b.arrived;
        a.completed += b.completed;
        a.cache_hits += b.cache_hits;
        a.in_flight += b.in_flight;
        self.in_system.merge(&other.in_system, end);
        self.steady.merge(&other.steady);
        self.e2e.merge(&other.e2e);
        self.wait.merge(&other.wait);
        self.service.merge(&other.service);
        debug_assert!(other.log.is_none(), "a shard's request log is closed first");
    }

    /// Measured requests still at `replicas` (running or queued), for the in-flight count at
    /// the end of a run.
    pub fn measured_at<'a>(&self, replicas: impl Iterator<Item = &'a Replica>) -> u64 {
        replicas
            .map(|rep| rep.all_seqs().filter(|s| self.measured(s.arrival)).count() as u64)
            .sum()
    }

    /// The overload verdict at the end of an LLM fleet's run: a queue that grew through the
    /// measured window (from `waiting_at_warmup` to `waiting_at_end`) by more than 1% of the
    /// measured arrivals is not keeping up, even if it never reached run.max_queue.
    pub fn queue_growth_verdict(
        &self,
        waiting_at_warmup: u64,
        waiting_at_end: u64,
    ) -> Option<String> {
        let grew = waiting_at_end.saturating_sub(waiting_at_warmup);
        let arrived = self.counts.arrived;
        (grew > 50 && grew as f64 > 0.01 * arrived as f64).then(|| {
            format!(
                "the queue grew by {grew} requests over the measured window ({waiting_at_end} \
                 waiting at the end): the fleet cannot keep up with the offered load"
            )
        })
    }

    /// Takes the request log out (a shard closes its own).
    pub fn take_log(&mut self) -> Option<RequestLog> {
        self.log.take()
    }

    /// Closes the replication that ended at `ending.now` with the fleet's `figures`, and its
    /// request log (errors go to `ctl`).
    pub fn finish(
        mut self,
        ending: Ending,
        figures: FleetFigures<'_>,
        ctl: &RunControl,
    ) -> ReplicationOutcome {
        let now = ending.now;
        let (ttft, tpot) = figures.ttft_tpot.unzip();
        self.steady
            .finish([Some(&self.e2e), Some(&self.wait), ttft, tpot]);
        let (l_area, _, _) = self.in_system.finish(now);
        let idle = figures.per_server_idle;
        let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { 0.0 };
        let metrics = ReplicationMetrics {
            requests: self.counts.clone(),
            latency_s: Latencies {
                e2e: self.e2e.summary(),
                queue_wait: self.wait.summary(),
                service: self.service.summary(),
                ttft: ttft.map(LatencyRecorder::summary),
                tpot: tpot.map(LatencyRecorder::summary),
            },
            wait_probability: self.wait.positive_fraction(),
            idle_rate: IdleRates {
                achieved: figures.idle_achieved,
                per_server_min: idle.iter().copied().fold(f64::INFINITY, f64::min),
                per_server_mean: idle.iter().sum::<f64>() / idle.len() as f64,
                per_server_max: idle.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            },
            utilization: figures.utilization,
            throughput_per_s: ratio(self.e2e.count() as f64, figures.window_s),
            mean_in_system: ratio(l_area, figures.window_s),
            cache_hit_rate: if self.counts.arrived > 0 {
                self.counts.cache_hits as f64 / self.counts.arrived as f64
            } else {
                0.0
            },
            ended_at_s: now.as_secs_f64(),
            llm: None,
            sessions: None,
            day: None,
            disaggregated: None,
        };
        ctl.close_request_log(self.log);
        ReplicationOutcome {
            metrics,
            overload: ending.overload,
            events: ending.events,
            steady: self.steady,
        }
    }
}
