//! One replication on a fleet of LLM servers: arrivals -> cache -> router -> model replicas.
//!
//! Each replica plans runs of batched steps ([`crate::fleet::replica::Replica`]); the loop holds
//! one wake-up per replica in a queue slot, which an interrupted run reschedules in place.

use crate::cache::ResponseCache;
use crate::engine::rng::replication_seed;
use crate::engine::{EventQueue, SimDuration, SimTime};
use crate::fleet::replica::{BatchLimits, Finished, PrefixConfig, Replica, Seq, chain_of};
use crate::metrics::replication::{
    DayProfile, IdleRates, Latencies, LlmMetrics, ReplicationMetrics, ReplicationOutcome,
    RequestCounts, RoundMetrics, SessionMetrics,
};
use crate::metrics::request_log::RequestRow;
use crate::metrics::steady::{Metric, SteadyRecorder};
use crate::metrics::{LatencyRecorder, LevelMeter};
use crate::router::{Loads, Router};
use crate::scenario::RouterPolicy;
use crate::scenario::{LlmServerSpec, Scenario};
use crate::timing::Deployment;
use crate::workload::{Request, Workload};

/// Per-session and per-round figures (shared with `super::disagg`).
pub(crate) struct SessionRecorder {
    rounds: u32,
    e2e: LatencyRecorder,
    /// Per round: (count, Σ e2e s, ttft count, Σ ttft s).
    per_round: Vec<(u64, f64, u64, f64)>,
}

impl SessionRecorder {
    pub(crate) fn new(rounds: u32) -> Self {
        SessionRecorder {
            rounds,
            e2e: LatencyRecorder::new(),
            per_round: vec![(0, 0.0, 0, 0.0); rounds as usize],
        }
    }

    pub(crate) fn round_done(
        &mut self,
        req: &Request,
        at: SimTime,
        warmup: SimTime,
        ttft: Option<SimDuration>,
    ) {
        if self.rounds <= 1 || req.session_start < warmup {
            return;
        }
        let last = self.per_round.len() - 1;
        let slot = &mut self.per_round[(req.round as usize - 1).min(last)];
        slot.0 += 1;
        slot.1 += (at - req.arrival).as_secs_f64();
        if let Some(t) = ttft {
            slot.2 += 1;
            slot.3 += t.as_secs_f64();
        }
        if req.round == self.rounds {
            self.e2e.record(at - req.session_start);
        }
    }

    pub(crate) fn summary(&self) -> SessionMetrics {
        let ratio = |a: f64, b: u64| if b > 0 { a / b as f64 } else { 0.0 };
        SessionMetrics {
            rounds: f64::from(self.rounds),
            completed: self.e2e.count() as f64,
            e2e_s: self.e2e.summary(),
            per_round: self
                .per_round
                .iter()
                .enumerate()
                .map(|(i, &(n, e, tn, t))| {
                    (
                        format!("round_{}", i + 1),
                        RoundMetrics {
                            completed: n as f64,
                            e2e_mean_s: ratio(e, n),
                            ttft_mean_s: ratio(t, tn),
                        },
                    )
                })
                .collect(),
        }
    }
}

enum Event {
    Arrival(Request),
    CacheDone(Request),
    Wake {
        replica: u32,
    },
    /// An autoscaler evaluation.
    Tick,
    /// A sample of the fleet for the time-of-day profile (diurnal runs).
    Sample,
}

/// Seconds between samples of the time-of-day profile.
const SAMPLE_EVERY_S: f64 = 60.0;

/// Load added to every replica of a server that is not taking new requests, so that
/// least-loaded routing never picks it.
const OFF: usize = 1 << 40;

/// The replica with the longest cached prefix of `seq`'s prompt, least loaded among equals;
/// the least-loaded replica when no cache holds any of it, or when the best one is
/// overloaded (more than 64 requests and 1.5x above the least-loaded).
pub(crate) fn prefix_affinity(
    seq: &Seq,
    cfg: &PrefixConfig,
    replicas: &[Replica],
    loads: &Loads,
) -> usize {
    let chain = chain_of(seq, cfg);
    let least = loads.argmin();
    let mut best = (0usize, least);
    for (r, rep) in replicas.iter().enumerate() {
        let hit = rep.cache.as_ref().map_or(0, |c| c.lookup(&chain));
        if hit > best.0 || (hit == best.0 && hit > 0 && loads.get(r) < loads.get(best.1)) {
            best = (hit, r);
        }
    }
    let (min_load, best_load) = (loads.get(least), loads.get(best.1));
    if best.0 == 0 || (best_load > min_load + 64 && best_load as f64 > 1.5 * min_load as f64) {
        least
    } else {
        best.1
    }
}

/// The limits of one replica from the server spec and its deployment.
pub fn batch_limits(
    spec: &LlmServerSpec,
    dep: &Deployment,
    system_prompt_tokens: u32,
) -> BatchLimits {
    BatchLimits {
        batching: spec.batching,
        max_batch: spec.max_batch,
        max_batch_tokens: spec.max_batch_tokens,
        chunked_prefill: spec.chunked_prefill,
        prefill_stalls_decodes: spec
            .stack
            .as_ref()
            .is_some_and(|s| s.prefill_stalls_decodes),
        kv_capacity_tokens: if spec.prefix_cache {
            (dep.kv_capacity_tokens() as f64 * (1.0 - spec.prefix_cache_fraction)) as u64
        } else {
            dep.kv_capacity_tokens()
        },
        prefix: spec.prefix_cache.then(|| PrefixConfig {
            block_tokens: crate::cache::prefix::DEFAULT_BLOCK_TOKENS,
            capacity_blocks: (dep.kv_capacity_tokens() as f64 * spec.prefix_cache_fraction
                / f64::from(crate::cache::prefix::DEFAULT_BLOCK_TOKENS))
                as u64,
            system_prompt_tokens,
        }),
    }
}

/// The per-request latency recorders (shared with `super::disagg`).
pub(crate) struct Recorders {
    pub(crate) e2e: LatencyRecorder,
    pub(crate) wait: LatencyRecorder,
    pub(crate) service: LatencyRecorder,
    pub(crate) ttft: LatencyRecorder,
    pub(crate) tpot: LatencyRecorder,
}

impl Recorders {
    pub(crate) fn record(&mut self, f: &Finished) {
        let s = &f.seq;
        let admitted = s.admitted.unwrap_or(f.at);
        let first = s.first_token.unwrap_or(f.at);
        self.e2e.record(f.at - s.arrival);
        self.wait.record(admitted - s.arrival);
        self.service.record(f.at - admitted);
        self.ttft.record(first - s.arrival);
        if let Some(per) = tpot(s, first, f.at) {
            self.tpot.record(per);
        }
    }
}

/// Mean time per output token after the first (none for a single-token answer).
fn tpot(s: &Seq, first: SimTime, at: SimTime) -> Option<SimDuration> {
    (s.output_tokens > 1).then(|| {
        SimDuration::from_secs_f64((at - first).as_secs_f64() / f64::from(s.output_tokens - 1))
    })
}

/// Adds a finished request (measured or not) to the steady-state series.
pub(crate) fn record_steady(steady: &mut SteadyRecorder, f: &Finished) {
    let s = &f.seq;
    let admitted = s.admitted.unwrap_or(f.at);
    let first = s.first_token.unwrap_or(f.at);
    steady.record(Metric::E2e, s.arrival, f.at, f.at - s.arrival);
    steady.record(Metric::QueueWait, s.arrival, f.at, admitted - s.arrival);
    steady.record(Metric::Ttft, s.arrival, f.at, first - s.arrival);
    if let Some(per) = tpot(s, first, f.at) {
        steady.record(Metric::Tpot, s.arrival, f.at, per);
    }
}

/// Runs replication `replication` of an LLM scenario whose servers are `spec`.
pub fn run_llm_replication(
    scenario: &Scenario,
    spec: &LlmServerSpec,
    replication: u32,
    ctl: &super::RunControl,
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
    // With autoscaling, replicas exist for the largest fleet; servers at or above `active`
    // take no new requests.
    let n_servers = scenario
        .autoscale
        .as_ref()
        .map_or(scenario.servers.count, |a| a.max_servers) as usize;
    let n = n_servers * per_server;
    let mut active = scenario.servers.count as usize;
    let mut scaler = scenario.autoscale.as_ref().map(|a| {
        (
            crate::workload::diurnal::Autoscaler::new(a.config())
                .expect("validation built this autoscaler"),
            a.sequences_per_replica,
            SimDuration::from_secs_f64(a.interval_s),
        )
    });
    let limits = batch_limits(
        spec,
        &dep,
        scenario
            .request
            .as_ref()
            .map_or(0, |r| r.system_prompt_tokens),
    );

    let mut workload = Workload::new(scenario, seed);
    let mut cache = ResponseCache::new(&scenario.cache, seed);
    let mut router = Router::new(scenario.router.policy, seed);
    let mut replicas: Vec<Replica> = (0..n)
        .map(|_| Replica::new(limits, warmup, end).with_step_time_scale(spec.step_time_scale))
        .collect();
    let mut outstanding = Loads::new(n);
    for r in active * per_server..n {
        outstanding.add(r, OFF);
    }
    let mut paid = LevelMeter::new(warmup, end);
    paid.set(SimTime::ZERO, active as u64);
    let mut paid_range = PaidRange::new(warmup, end, active as u64);
    let mut waiting_total: u64 = 0;
    let mut waiting_at_warmup: Option<u64> = None;

    let mut request_log = ctl.open_request_log(replication);
    let mut rec = Recorders {
        e2e: LatencyRecorder::new(),
        wait: LatencyRecorder::new(),
        service: LatencyRecorder::new(),
        ttft: LatencyRecorder::new(),
        tpot: LatencyRecorder::new(),
    };
    let mut counts = RequestCounts::default();
    let mut in_system = LevelMeter::new(warmup, end);
    let mut steady = SteadyRecorder::new(warmup, end);
    // Requests waiting when the run reached its end (before any drain).
    let mut waiting_at_end: Option<u64> = None;
    let mut overload = None;
    let mut now = SimTime::ZERO;
    let mut done: Vec<Finished> = Vec::new();
    let rounds = scenario.request.as_ref().map_or(1, |r| r.rounds);
    let mut sessions = SessionRecorder::new(rounds);
    let (mut prefix_hits, mut prompt_tokens) = (0u64, 0u64);
    let mut events = 0u64;

    // The step model with its mixed-step memo (this replication's thread only).
    let costs = crate::timing::CachedStepCosts::new(dep.step_costs());
    let mut queue: EventQueue<Event> = EventQueue::with_slots(n, |replica| Event::Wake { replica });
    if let Some(r) = workload.next_request() {
        queue.push(r.arrival, Event::Arrival(r));
    }
    if let Some((_, _, interval)) = &scaler {
        queue.push(SimTime::ZERO + *interval, Event::Tick);
    }
    let diurnal = scenario.traffic.arrival == crate::scenario::ArrivalKind::Diurnal;
    let start_hour = scenario.traffic.start_hour.unwrap_or(0.0);
    // Per hour of day: (samples, Σ busy replicas, Σ servers paid, arrivals).
    let mut day = [(0u64, 0u64, 0u64, 0u64); 24];
    let hour_of = |t: SimTime| ((t.as_secs_f64() / 3600.0 + start_hour) % 24.0) as usize % 24;
    if diurnal {
        queue.push(SimTime::from_secs_f64(SAMPLE_EVERY_S), Event::Sample);
    }

    while let Some((t, ev)) = queue.pop() {
        events += 1;
        if events & (super::control::CHECK_EVERY_EVENTS - 1) == 0 && ctl.is_cancelled() {
            queue.push(t, ev);
            overload = Some(super::control::CANCELLED.to_string());
            break;
        }
        if t >= end {
            if !scenario.run.drain {
                queue.push(t, ev);
                now = end;
                break;
            }
            // Draining: no new arrivals (follow-up rounds included), no more samples or
            // autoscaler ticks; steps and cache answers go on until the system is empty.
            waiting_at_end.get_or_insert(waiting_total);
            if matches!(ev, Event::Arrival(_) | Event::Sample | Event::Tick) {
                continue;
            }
        }
        now = t;
        if waiting_at_warmup.is_none() && now >= warmup {
            waiting_at_warmup = Some(waiting_total);
        }
        match ev {
            Event::Arrival(req) => {
                if !req.is_follow_up()
                    && let Some(next) = workload.next_request()
                {
                    queue.push(next.arrival, Event::Arrival(next));
                }
                counts.arrived += u64::from(req.arrival >= warmup);
                if diurnal && req.arrival >= warmup {
                    day[hour_of(now)].3 += 1;
                }
                in_system.set(now, in_system.level() + 1);
                if let Some(latency) = cache.lookup(&req) {
                    queue.push(now + latency, Event::CacheDone(req));
                    continue;
                }
                let mut seq = Seq::new(req.id, req.arrival, req.input_tokens, req.output_tokens);
                seq.session = (req.session, req.round, req.session_start);
                seq.blocks = req.blocks.clone();
                let mut r = match (router.policy(), &limits.prefix) {
                    (RouterPolicy::PrefixAffinity, Some(cfg)) => {
                        prefix_affinity(&seq, cfg, &replicas[..active * per_server], &outstanding)
                    }
                    _ => router.choose(&outstanding),
                };
                if r / per_server >= active {
                    r = outstanding.argmin();
                }
                outstanding.inc(r);
                let rep = &mut replicas[r];
                let before = rep.waiting_len() as u64;
                rep.enqueue(seq);
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
                    if let Some(log) = &mut request_log {
                        log.row(&RequestRow {
                            arrival: req.arrival,
                            done: now,
                            input_tokens: Some(req.input_tokens),
                            output_tokens: Some(req.output_tokens),
                            cache_hit: true,
                            ..RequestRow::default()
                        });
                    }
                }
                steady.record(Metric::E2e, req.arrival, now, now - req.arrival);
                sessions.round_done(&req, now, warmup, None);
                if let Some(next) = workload.follow_up(&req, now) {
                    queue.push(next.arrival, Event::Arrival(next));
                }
            }
            Event::Sample => {
                if now >= warmup {
                    let slot = &mut day[hour_of(now)];
                    slot.0 += 1;
                    slot.1 += replicas.iter().filter(|r| r.is_stepping()).count() as u64;
                    slot.2 += paid.level();
                }
                queue.push(
                    now + SimDuration::from_secs_f64(SAMPLE_EVERY_S),
                    Event::Sample,
                );
            }
            Event::Tick => {
                let Some((scaler, seqs_per_replica, interval)) = &mut scaler else {
                    continue;
                };
                let active_replicas = active * per_server;
                let in_flight: usize = (0..active_replicas).map(|r| outstanding.get(r)).sum();
                let load = in_flight as f64 / (active_replicas as f64 * *seqs_per_replica);
                let d = scaler.observe(now.as_secs_f64(), load, active as u32);
                let next = d.active as usize;
                for s in next.min(active)..next.max(active) {
                    for r in s * per_server..(s + 1) * per_server {
                        if next > active {
                            outstanding.sub(r, OFF);
                        } else {
                            outstanding.add(r, OFF);
                        }
                    }
                }
                active = next;
                // Servers paid for: active, being provisioned, or still draining their work.
                let draining = (active..n_servers)
                    .filter(|&s| {
                        (s * per_server..(s + 1) * per_server).any(|r| outstanding.get(r) > OFF)
                    })
                    .count();
                let level = (active + d.provisioning as usize + draining) as u64;
                paid.set(now, level);
                paid_range.set(now, level);
                let next_tick = now + *interval;
                queue.push(next_tick, Event::Tick);
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
                    record_steady(&mut steady, &f);
                    if f.seq.arrival >= warmup {
                        counts.completed += 1;
                        rec.record(&f);
                        if let Some(log) = &mut request_log {
                            log.row(&RequestRow {
                                arrival: f.seq.arrival,
                                done: f.at,
                                started: f.seq.admitted,
                                first_token: f.seq.first_token,
                                input_tokens: Some(f.seq.input_tokens),
                                output_tokens: Some(f.seq.output_tokens),
                                replica: Some(replica),
                                cache_hit: false,
                            });
                        }
                        prefix_hits += u64::from(f.seq.first_cached.unwrap_or(0));
                        prompt_tokens += u64::from(f.seq.input_tokens);
                    }
                    let (session, round, session_start) = f.seq.session;
                    let req = Request {
                        id: f.seq.id,
                        arrival: f.seq.arrival,
                        work: SimDuration::ZERO,
                        input_tokens: f.seq.input_tokens,
                        output_tokens: f.seq.output_tokens,
                        session,
                        round,
                        session_start,
                        blocks: None,
                    };
                    let ttft = f.seq.first_token.map(|t| t - f.seq.arrival);
                    sessions.round_done(&req, now, warmup, ttft);
                    if let Some(next) = workload.follow_up(&req, now) {
                        queue.push(next.arrival, Event::Arrival(next));
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
        let waiting_total = waiting_at_end.unwrap_or(waiting_total);
        let grew = waiting_total.saturating_sub(waiting_at_warmup.unwrap_or(0));
        if grew > 50 && grew as f64 > 0.01 * counts.arrived as f64 {
            overload = Some(format!(
                "the queue grew by {grew} requests over the measured window ({waiting_total} \
                 waiting at the end): the fleet cannot keep up with the offered load"
            ));
        }
    }

    steady.finish([
        Some(&rec.e2e),
        Some(&rec.wait),
        Some(&rec.ttft),
        Some(&rec.tpot),
    ]);
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
    let (paid_area, _, _) = paid.finish(now);
    let mean_servers = ratio(paid_area, window);
    let (min_servers, max_servers) = paid_range.finish(now);
    // Idle over the replica-time paid for.
    let idle = 1.0 - ratio(busy, paid_area * per_server as f64);
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
        mean_servers,
        min_servers: min_servers as f64,
        max_servers: max_servers as f64,
        prefix_hit_fraction: ratio(prefix_hits as f64, prompt_tokens as f64),
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
        sessions: (rounds > 1).then(|| sessions.summary()),
        day: diurnal.then(|| {
            let key = |h: usize| format!("h{h:02}");
            // Measured seconds that fell in each hour of day.
            let seconds = |h: usize| day[h].0 as f64 * SAMPLE_EVERY_S;
            DayProfile {
                arrivals_per_s: (0..24)
                    .map(|h| (key(h), ratio(day[h].3 as f64, seconds(h))))
                    .collect(),
                busy_replicas: (0..24)
                    .map(|h| (key(h), ratio(day[h].1 as f64, day[h].0 as f64)))
                    .collect(),
                servers_paid: (0..24)
                    .map(|h| (key(h), ratio(day[h].2 as f64, day[h].0 as f64)))
                    .collect(),
            }
        }),
        disaggregated: None,
    };
    ctl.close_request_log(request_log);
    ReplicationOutcome {
        metrics,
        overload,
        events,
        steady,
    }
}

/// Fewest and most servers paid for while the level held for some time inside the measured
/// window `[from, to)`.
struct PaidRange {
    from: SimTime,
    to: SimTime,
    since: SimTime,
    level: u64,
    range: Option<(u64, u64)>,
}

impl PaidRange {
    fn new(from: SimTime, to: SimTime, level: u64) -> Self {
        PaidRange {
            from,
            to,
            since: SimTime::ZERO,
            level,
            range: None,
        }
    }

    fn close_segment(&mut self, now: SimTime) {
        if self.since.max(self.from) < now.min(self.to) {
            let (lo, hi) = self.range.unwrap_or((self.level, self.level));
            self.range = Some((lo.min(self.level), hi.max(self.level)));
        }
    }

    fn set(&mut self, now: SimTime, level: u64) {
        self.close_segment(now);
        self.since = now;
        self.level = level;
    }

    /// (min, max); the level at the end if the window saw no time.
    fn finish(&mut self, end: SimTime) -> (u64, u64) {
        self.close_segment(end);
        self.range.unwrap_or((self.level, self.level))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paid_range_counts_only_levels_held_inside_the_window() {
        let mut r = PaidRange::new(SimTime(10), SimTime(100), 9); // 9 only before the window
        r.set(SimTime(10), 4);
        r.set(SimTime(50), 9); // held for no time: ignored
        r.set(SimTime(50), 6);
        r.set(SimTime(60), 5);
        r.set(SimTime(100), 1); // from the window's end on: ignored
        assert_eq!(r.finish(SimTime(120)), (4, 6));
        let mut flat = PaidRange::new(SimTime(0), SimTime(10), 3);
        assert_eq!(flat.finish(SimTime(10)), (3, 3));
    }
}
