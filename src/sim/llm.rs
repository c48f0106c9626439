//! One replication on a fleet of LLM servers: arrivals -> cache -> router -> model replicas.
//!
//! Each replica plans runs of batched steps ([`crate::server::llm::Replica`]); the loop holds
//! one wake-up per replica in a queue slot, which an interrupted run reschedules in place.

use serde::Serialize;

use super::{IdleRates, Latencies, ReplicationMetrics, ReplicationOutcome, RequestCounts};
use crate::cache::ResponseCache;
use crate::engine::rng::replication_seed;
use crate::engine::{EventQueue, SimDuration, SimTime};
use crate::llm::Deployment;
use crate::metrics::{LatencyRecorder, LevelMeter};
use crate::router::{Loads, Router};
use crate::scenario::{LlmServerSpec, Scenario};
use crate::server::llm::{BatchLimits, Finished, Replica, Seq};
use crate::workload::{Request, Workload};

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
}

enum Event {
    Arrival(Request),
    CacheDone(Request),
    Wake { replica: u32 },
}

/// The limits of one replica from the server spec and its deployment.
pub fn batch_limits(spec: &LlmServerSpec, dep: &Deployment) -> BatchLimits {
    BatchLimits {
        batching: spec.batching,
        max_batch: spec.max_batch,
        max_batch_tokens: spec.max_batch_tokens,
        chunked_prefill: spec.chunked_prefill,
        kv_capacity_tokens: dep.kv_capacity_tokens(),
    }
}

struct Recorders {
    e2e: LatencyRecorder,
    wait: LatencyRecorder,
    service: LatencyRecorder,
    ttft: LatencyRecorder,
    tpot: LatencyRecorder,
}

impl Recorders {
    fn record(&mut self, f: &Finished) {
        let s = &f.seq;
        let admitted = s.admitted.unwrap_or(f.at);
        let first = s.first_token.unwrap_or(f.at);
        self.e2e.record(f.at - s.arrival);
        self.wait.record(admitted - s.arrival);
        self.service.record(f.at - admitted);
        self.ttft.record(first - s.arrival);
        if s.output_tokens > 1 {
            let per = (f.at - first).as_secs_f64() / f64::from(s.output_tokens - 1);
            self.tpot.record(SimDuration::from_secs_f64(per));
        }
    }
}

/// Runs replication `replication` of an LLM scenario whose servers are `spec`.
pub fn run_llm_replication(
    scenario: &Scenario,
    spec: &LlmServerSpec,
    replication: u32,
) -> ReplicationOutcome {
    let model = scenario
        .model
        .as_ref()
        .expect("validation gives llm scenarios a model");
    // Validation built this deployment once already, so it cannot fail here.
    let dep = spec
        .deployment(model)
        .expect("validation checked the deployment");
    let seed = replication_seed(scenario.run.seed, replication);
    let warmup = SimTime::from_secs_f64(scenario.traffic.warmup_s);
    let end = SimTime::from_secs_f64(scenario.traffic.duration_s);
    let per_server = dep.replicas_per_server() as usize;
    let n_servers = scenario.servers.count as usize;
    let n = n_servers * per_server;
    let limits = batch_limits(spec, &dep);
    let costs = dep.step_costs();

    let mut workload = Workload::new(scenario, seed);
    let mut cache = ResponseCache::new(&scenario.cache, seed);
    let mut router = Router::new(scenario.router.policy, seed);
    let mut replicas: Vec<Replica> = (0..n).map(|_| Replica::new(limits, warmup, end)).collect();
    let mut outstanding = Loads::new(n);
    let mut waiting_total: u64 = 0;
    let mut waiting_at_warmup: Option<u64> = None;

    let mut rec = Recorders {
        e2e: LatencyRecorder::new(),
        wait: LatencyRecorder::new(),
        service: LatencyRecorder::new(),
        ttft: LatencyRecorder::new(),
        tpot: LatencyRecorder::new(),
    };
    let mut counts = RequestCounts::default();
    let mut in_system = LevelMeter::new(warmup, end);
    let mut overload = None;
    let mut now = SimTime::ZERO;
    let mut done: Vec<Finished> = Vec::new();
    let mut events = 0u64;

    let mut queue: EventQueue<Event> = EventQueue::with_slots(n, |replica| Event::Wake { replica });
    if let Some(r) = workload.next_request() {
        queue.push(r.arrival, Event::Arrival(r));
    }

    while let Some((t, ev)) = queue.pop() {
        events += 1;
        if t >= end {
            queue.push(t, ev);
            now = end;
            break;
        }
        now = t;
        if waiting_at_warmup.is_none() && now >= warmup {
            waiting_at_warmup = Some(waiting_total);
        }
        match ev {
            Event::Arrival(req) => {
                if let Some(next) = workload.next_request() {
                    queue.push(next.arrival, Event::Arrival(next));
                }
                counts.arrived += u64::from(req.arrival >= warmup);
                in_system.set(now, in_system.level() + 1);
                if let Some(latency) = cache.lookup(&req) {
                    queue.push(now + latency, Event::CacheDone(req));
                    continue;
                }
                let r = router.choose(&outstanding);
                outstanding.inc(r);
                let rep = &mut replicas[r];
                let before = rep.waiting_len() as u64;
                rep.enqueue(Seq::new(
                    req.id,
                    req.arrival,
                    req.input_tokens,
                    req.output_tokens,
                ));
                let wake = if rep.is_stepping() {
                    rep.interrupt(now)
                } else {
                    rep.plan(now, &costs)
                };
                waiting_total = waiting_total + rep.waiting_len() as u64 - before;
                if let Some(at) = wake {
                    queue.set_slot(r as u32, at);
                }
                if waiting_total > scenario.run.max_queue {
                    overload = Some(format!(
                        "{waiting_total} requests were waiting at t = {:.1} s (run.max_queue = \
                         {}): the fleet cannot keep up with the offered load",
                        now.as_secs_f64(),
                        scenario.run.max_queue
                    ));
                    break;
                }
            }
            Event::CacheDone(req) => {
                in_system.set(now, in_system.level() - 1);
                if req.arrival >= warmup {
                    counts.completed += 1;
                    counts.cache_hits += 1;
                    rec.e2e.record(now - req.arrival);
                }
            }
            Event::Wake { replica } => {
                let r = replica as usize;
                let rep = &mut replicas[r];
                let before = rep.waiting_len() as u64;
                rep.complete(now, &costs, &mut done);
                let wake = rep.plan(now, &costs);
                waiting_total = waiting_total + rep.waiting_len() as u64 - before;
                if let Some(at) = wake {
                    queue.set_slot(replica, at);
                }
                for f in done.drain(..) {
                    outstanding.dec(r);
                    in_system.set(now, in_system.level() - 1);
                    if f.seq.arrival >= warmup {
                        counts.completed += 1;
                        rec.record(&f);
                    }
                }
            }
        }
    }
    if overload.is_none() {
        now = end;
    }

    // Measured requests still in the system.
    let mut in_flight = 0u64;
    while let Some((_, ev)) = queue.pop() {
        if let Event::CacheDone(r) = ev {
            in_flight += u64::from(r.arrival >= warmup);
        }
    }
    for rep in &replicas {
        in_flight += rep.all_seqs().filter(|s| s.arrival >= warmup).count() as u64;
    }
    counts.in_flight = in_flight;
    if overload.is_none() {
        // A queue that grew through the measured window by more than 1% of the measured
        // arrivals is not keeping up, even if it never reached run.max_queue.
        let grew = waiting_total.saturating_sub(waiting_at_warmup.unwrap_or(0));
        if grew > 50 && grew as f64 > 0.01 * counts.arrived as f64 {
            overload = Some(format!(
                "the queue grew by {grew} requests over the measured window ({waiting_total} \
                 waiting at the end): the fleet cannot keep up with the offered load"
            ));
        }
    }

    let window = now.since(warmup).as_secs_f64().max(0.0);
    let gpus_per_replica = f64::from(dep.tensor_parallel);
    let (mut busy, mut batch_area, mut kv_area, mut bytes, mut flops) = (0.0, 0.0, 0.0, 0.0, 0.0);
    let (mut out_tokens, mut pre_tokens, mut steps, mut preemptions) = (0u64, 0u64, 0u64, 0u64);
    let mut server_idle = Vec::with_capacity(n_servers);
    for (i, rep) in replicas.iter().enumerate() {
        let t = &rep.totals;
        busy += t.busy_s;
        batch_area += t.batch_area;
        kv_area += t.kv_area;
        bytes += t.bytes;
        flops += t.flops;
        out_tokens += t.output_tokens;
        pre_tokens += t.prefill_tokens;
        steps += t.steps;
        preemptions += rep.preemptions;
        if i % per_server == per_server - 1 {
            let server_busy: f64 = replicas[i + 1 - per_server..=i]
                .iter()
                .map(|r| r.totals.busy_s)
                .sum();
            server_idle.push(if window > 0.0 {
                1.0 - server_busy / (window * per_server as f64)
            } else {
                0.0
            });
        }
    }
    let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { 0.0 };
    let idle = 1.0 - ratio(busy, window * n as f64);
    let (l_area, _, _) = in_system.finish(now);
    let llm = LlmMetrics {
        replicas: n as f64,
        kv_capacity_tokens: limits.kv_capacity_tokens as f64,
        mean_batch: ratio(batch_area, busy),
        mbu: ratio(bytes, busy * gpus_per_replica * dep.gpu.hbm_bw_bytes_per_s),
        mfu: ratio(flops, busy * gpus_per_replica * dep.gpu.peak_flops),
        kv_occupancy: ratio(kv_area, busy * limits.kv_capacity_tokens as f64),
        preemptions: preemptions as f64,
        output_tokens_per_s: ratio(out_tokens as f64, window),
        prefill_tokens_per_s: ratio(pre_tokens as f64, window),
        steps_per_busy_s: ratio(steps as f64, busy),
    };
    let metrics = ReplicationMetrics {
        requests: counts.clone(),
        latency_s: Latencies {
            e2e: rec.e2e.summary(),
            queue_wait: rec.wait.summary(),
            service: rec.service.summary(),
            ttft: Some(rec.ttft.summary()),
            tpot: Some(rec.tpot.summary()),
        },
        wait_probability: rec.wait.positive_fraction(),
        idle_rate: IdleRates {
            achieved: idle,
            per_server_min: server_idle.iter().copied().fold(f64::INFINITY, f64::min),
            per_server_mean: server_idle.iter().sum::<f64>() / n_servers as f64,
            per_server_max: server_idle
                .iter()
                .copied()
                .fold(f64::NEG_INFINITY, f64::max),
        },
        utilization: 1.0 - idle,
        throughput_per_s: ratio(rec.e2e.count() as f64, window),
        mean_in_system: ratio(l_area, window),
        cache_hit_rate: ratio(counts.cache_hits as f64, counts.arrived as f64),
        ended_at_s: now.as_secs_f64(),
        llm: Some(llm),
    };
    ReplicationOutcome {
        metrics,
        overload,
        events,
    }
}
