//! One replication on a fleet of LLM servers: arrivals -> cache -> router -> model replicas,
//! as a model for the engine's event loop ([`LlmFleet`]).
//!
//! Each replica plans runs of batched steps ([`crate::fleet::replica::Replica`]); the fleet
//! holds one wake-up per replica in a queue slot, which an interrupted run reschedules in
//! place.

use super::autoscale::Autoscaler;
use crate::cache::ResponseCache;
use crate::engine::rng::replication_seed;
use crate::engine::{Ending, EventQueue, Flow, Model, SimDuration, SimTime};
use crate::fleet::replica::{BatchLimits, Finished, PrefixConfig, Replica, Seq, chain_of};
use crate::fleet::tally::{FleetFigures, Tally};
use crate::fleet::{Fleet, RunControl};
use crate::metrics::LatencyRecorder;
use crate::metrics::LevelMeter;
use crate::metrics::replication::{
    DayProfile, LlmMetrics, ReplicationOutcome, RoundMetrics, SessionMetrics,
};
use crate::metrics::request_log::{RequestLog, RequestRow};
use crate::metrics::steady::SteadyRecorder;
use crate::router::{Loads, Router, prefix_affinity};
use crate::scenario::RouterPolicy;
use crate::scenario::{LlmServerSpec, Scenario};
use crate::timing::{CachedStepCosts, Deployment};
use crate::workload::{Request, Workload};

/// Per-session and per-round figures (shared with `super::disagg`).
pub(crate) struct SessionRecorder {
    pub(crate) rounds: u32,
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

    #[inline]
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

    /// Adds the sessions `other` (another shard) recorded.
    fn merge(&mut self, other: &SessionRecorder) {
        self.e2e.merge(&other.e2e);
        for (a, b) in self.per_round.iter_mut().zip(&other.per_round) {
            (a.0, a.1, a.2, a.3) = (a.0 + b.0, a.1 + b.1, a.2 + b.2, a.3 + b.3);
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

/// Events of the LLM fleet.
pub enum Event {
    /// A request arrives (from the arrival process, or a session's next round).
    Arrival(Request),
    /// The response cache answered a request.
    CacheDone(Request),
    /// A replica's step run ends (or its planned wake-up is due).
    Wake {
        /// The replica.
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

/// Mean time per output token after the first (none for a single-token answer).
pub(crate) fn tpot(s: &Seq, first: SimTime, at: SimTime) -> Option<SimDuration> {
    (s.output_tokens > 1).then(|| {
        SimDuration::from_secs_f64((at - first).as_secs_f64() / f64::from(s.output_tokens - 1))
    })
}

/// The LLM-only recorders a measured request feeds besides the shared tally (both the
/// colocated and the disaggregated fleet keep them).
pub(crate) struct LlmRequestFigures<'a> {
    pub(crate) ttft: &'a mut LatencyRecorder,
    pub(crate) tpot: &'a mut LatencyRecorder,
    pub(crate) prefix_hits: &'a mut u64,
    pub(crate) prompt_tokens: &'a mut u64,
}

impl LlmRequestFigures<'_> {
    /// Records measured request `f`, served by `replica` (whole-fleet numbering): counts,
    /// latencies, its request-log row and its prefix-cache figures.
    #[inline(always)]
    pub(crate) fn record(self, t: &mut Tally, replica: u32, f: &Finished) {
        let s = &f.seq;
        t.counts.completed += 1;
        let admitted = s.admitted().unwrap_or(f.at);
        let first = s.first_token().unwrap_or(f.at);
        t.e2e.record(f.at - s.arrival);
        t.wait.record(admitted - s.arrival);
        t.service.record(f.at - admitted);
        self.ttft.record(first - s.arrival);
        if let Some(per) = tpot(s, first, f.at) {
            self.tpot.record(per);
        }
        if let Some(log) = &mut t.log {
            log.row(&RequestRow {
                arrival: s.arrival,
                done: f.at,
                started: s.admitted(),
                first_token: s.first_token(),
                input_tokens: Some(s.input_tokens),
                output_tokens: Some(s.output_tokens),
                replica: Some(replica),
                cache_hit: false,
            });
        }
        *self.prefix_hits += u64::from(s.first_cached().unwrap_or(0));
        *self.prompt_tokens += u64::from(s.input_tokens);
    }
}

/// Adds a finished request (measured or not) to the steady-state series.
#[inline]
pub(crate) fn record_steady(steady: &mut SteadyRecorder, f: &Finished) {
    let s = &f.seq;
    let admitted = s.admitted().unwrap_or(f.at);
    let first = s.first_token().unwrap_or(f.at);
    // Indexed like `Metric`: e2e, queue wait, TTFT, TPOT.
    steady.record_request(
        s.arrival,
        f.at,
        [
            Some(f.at - s.arrival),
            Some(admitted - s.arrival),
            Some(first - s.arrival),
            tpot(s, first, f.at),
        ],
    );
}

/// The autoscaler of a run with `[autoscale]`, and its settings.
struct Scaling {
    scaler: Autoscaler,
    /// Sequences per replica that count as a fully used replica.
    seqs_per_replica: f64,
    /// Time between evaluations.
    interval: SimDuration,
}

/// Servers paid for over time: active, being provisioned, or still draining their work.
struct Paid {
    meter: LevelMeter,
    range: PaidRange,
}

impl Paid {
    fn set(&mut self, now: SimTime, level: u64) {
        self.meter.set(now, level);
        self.range.set(now, level);
    }

    /// Adds the servers another shard paid for (the meters' windows end at `end`).
    fn merge(&mut self, other: &Paid, end: SimTime) {
        self.meter.merge(&other.meter, end);
        self.range.merge(&other.range);
    }
}

/// The time-of-day profile of a diurnal run: per hour of day, (samples, Σ busy replicas,
/// Σ servers paid, measured arrivals).
struct DayRecorder {
    start_hour: f64,
    hours: [(u64, u64, u64, u64); 24],
}

impl DayRecorder {
    fn hour_of(&self, t: SimTime) -> usize {
        ((t.as_secs_f64() / 3600.0 + self.start_hour) % 24.0) as usize % 24
    }

    /// Adds another shard's profile: it sampled at the same times, so the sample counts stay
    /// and the busy replicas, servers paid and arrivals add.
    fn merge(&mut self, other: &DayRecorder) {
        for (a, b) in self.hours.iter_mut().zip(&other.hours) {
            (a.1, a.2, a.3) = (a.1 + b.1, a.2 + b.2, a.3 + b.3);
        }
    }

    fn profile(&self) -> DayProfile {
        let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { 0.0 };
        let day = &self.hours;
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
    }
}

/// One replication's fleet of LLM replicas, handling the events of the engine's loop.
pub struct LlmFleet {
    tally: Tally,
    /// Arrival to first token, measured requests.
    ttft: LatencyRecorder,
    /// Time per output token after the first, measured requests.
    tpot: LatencyRecorder,
    sessions: SessionRecorder,
    workload: Workload,
    cache: ResponseCache,
    router: Router,
    dep: Deployment,
    limits: BatchLimits,
    /// The step model with its mixed-step memo (this replication's thread only).
    costs: CachedStepCosts,
    /// Replicas of the largest fleet; those of servers at or above `active` take no new
    /// requests.
    replicas: Vec<Replica>,
    /// Per replica, the records its next wake-up will read first (memory hints for the event
    /// loop, see [`Replica::next_wake_addrs`]).
    hints: Vec<[usize; 3]>,
    /// Requests at each replica, plus [`OFF`] on replicas of inactive servers.
    outstanding: Loads,
    per_server: usize,
    n_servers: usize,
    /// Servers taking new requests.
    active: usize,
    scaling: Option<Scaling>,
    paid: Paid,
    day: Option<DayRecorder>,
    /// Requests waiting fleet-wide.
    waiting_total: u64,
    /// Requests waiting when the measured window began.
    waiting_at_warmup: Option<u64>,
    /// Requests waiting when the run reached its end (before any drain).
    waiting_at_end: Option<u64>,
    /// Scratch: the requests a replica finished at one wake-up.
    done: Vec<Finished>,
    /// Measured prompt tokens served from a prefix cache, and all measured prompt tokens.
    prefix_hits: u64,
    prompt_tokens: u64,
    /// Index of this fleet's first replica in the whole fleet (a shard's offset; 0 unsharded),
    /// for the request log.
    first_replica: u32,
}

/// Runs replication `replication` of an LLM scenario whose servers are `spec`.
pub fn run_llm_replication(
    scenario: &Scenario,
    spec: &LlmServerSpec,
    replication: u32,
    ctl: &RunControl,
) -> ReplicationOutcome {
    let (fleet, queue) = LlmFleet::new(scenario, spec, replication, ctl);
    super::replicate(fleet, queue, scenario, ctl)
}

impl LlmFleet {
    /// Replication `replication` of `scenario` on servers `spec`, with its first arrival,
    /// autoscaler tick and profile sample scheduled.
    pub fn new(
        scenario: &Scenario,
        spec: &LlmServerSpec,
        replication: u32,
        ctl: &RunControl,
    ) -> (LlmFleet, EventQueue<Event>) {
        let seed = replication_seed(scenario.run.seed, replication);
        LlmFleet::seeded(scenario, spec, seed, ctl.open_request_log(replication))
    }

    /// A fleet of `scenario` whose random streams derive from `seed`, writing measured
    /// requests to `log`, with its first events scheduled.
    pub(crate) fn seeded(
        scenario: &Scenario,
        spec: &LlmServerSpec,
        seed: u64,
        log: Option<RequestLog>,
    ) -> (LlmFleet, EventQueue<Event>) {
        let model = scenario
            .model
            .as_ref()
            .expect("validation gives llm scenarios a model");
        // Validation built this deployment once already, so it cannot fail here.
        let dep = spec
            .deployment(model)
            .expect("validation checked the deployment");
        let warmup = SimTime::from_secs_f64(scenario.traffic.warmup_s);
        let end = SimTime::from_secs_f64(scenario.traffic.duration_s);
        let per_server = dep.replicas_per_server() as usize;
        // With autoscaling, replicas exist for the largest fleet.
        let n_servers = scenario
            .autoscale
            .as_ref()
            .map_or(scenario.servers.count, |a| a.max_servers) as usize;
        let n = n_servers * per_server;
        let active = scenario.servers.count as usize;
        let scaling = scenario.autoscale.as_ref().map(|a| Scaling {
            scaler: Autoscaler::new(a.config()).expect("validation built this autoscaler"),
            seqs_per_replica: a.sequences_per_replica,
            interval: SimDuration::from_secs_f64(a.interval_s),
        });
        let system_prompt_tokens = scenario
            .request
            .as_ref()
            .map_or(0, |r| r.system_prompt_tokens);
        let limits = batch_limits(spec, &dep, system_prompt_tokens);
        let mut outstanding = Loads::new(n);
        for r in active * per_server..n {
            outstanding.add(r, OFF);
        }
        let mut paid = Paid {
            meter: LevelMeter::new(warmup, end),
            range: PaidRange::new(warmup, end, active as u64),
        };
        paid.meter.set(SimTime::ZERO, active as u64);
        let diurnal = scenario.traffic.start_hour().is_some();
        let rounds = scenario.request.as_ref().map_or(1, |r| r.rounds);
        let mut fleet = LlmFleet {
            tally: Tally::new(warmup, end, log),
            ttft: LatencyRecorder::new(),
            tpot: LatencyRecorder::new(),
            sessions: SessionRecorder::new(rounds),
            workload: Workload::new(scenario, seed),
            cache: ResponseCache::new(&scenario.cache, seed),
            router: Router::new(scenario.router.policy, seed),
            costs: CachedStepCosts::new(dep.step_costs()),
            replicas: (0..n)
                .map(|_| {
                    Replica::new(limits, warmup, end).with_step_time_scale(spec.step_time_scale)
                })
                .collect(),
            hints: vec![[0; 3]; n],
            dep,
            limits,
            outstanding,
            per_server,
            n_servers,
            active,
            scaling,
            paid,
            day: diurnal.then(|| DayRecorder {
                start_hour: scenario.traffic.start_hour().unwrap_or(0.0),
                hours: [(0, 0, 0, 0); 24],
            }),
            waiting_total: 0,
            waiting_at_warmup: None,
            waiting_at_end: None,
            done: Vec::new(),
            prefix_hits: 0,
            prompt_tokens: 0,
            first_replica: 0,
        };
        let queue = fleet.first_events();
        (fleet, queue)
    }

    /// The queue with the first arrival, autoscaler tick and profile sample.
    fn first_events(&mut self) -> EventQueue<Event> {
        let n = self.replicas.len();
        let mut queue = EventQueue::with_slots(n, |replica| Event::Wake { replica });
        if let Some(r) = self.workload.next_request() {
            queue.push(r.arrival, Event::Arrival(r));
        }
        if let Some(s) = &self.scaling {
            queue.push(SimTime::ZERO + s.interval, Event::Tick);
        }
        if self.day.is_some() {
            queue.push(SimTime::from_secs_f64(SAMPLE_EVERY_S), Event::Sample);
        }
        queue
    }

    /// A request arrives: the cache, else a replica chosen by the router.
    #[inline(always)]
    fn on_arrival(&mut self, now: SimTime, req: Request, queue: &mut EventQueue<Event>) -> Flow {
        if !req.is_follow_up()
            && let Some(next) = self.workload.next_request()
        {
            queue.push(next.arrival, Event::Arrival(next));
        }
        self.tally.arrived(now, req.arrival);
        if let Some(day) = &mut self.day
            && self.tally.measured(req.arrival)
        {
            let h = day.hour_of(now);
            day.hours[h].3 += 1;
        }
        if let Some(latency) = self.cache.lookup(&req) {
            queue.push(now + latency, Event::CacheDone(req));
            return Flow::Continue;
        }
        let mut seq = Seq::new(req.id, req.arrival, req.input_tokens, req.output_tokens);
        seq.set_session(req.session, req.round, req.session_start);
        seq.set_blocks(req.blocks);
        let r = self.route(&seq);
        self.outstanding.inc(r);
        let rep = &mut self.replicas[r];
        let before = rep.waiting_len() as u64;
        rep.enqueue(seq);
        let wake = if rep.is_stepping() {
            rep.interrupt(now)
        } else {
            rep.plan(now, &self.costs)
        };
        self.waiting_total = self.waiting_total + rep.waiting_len() as u64 - before;
        if let Some(at) = wake {
            queue.set_slot(r as u32, at);
        }
        Flow::Queued
    }

    /// The replica `seq` goes to: the router's choice among active servers' replicas.
    #[inline(always)]
    fn route(&mut self, seq: &Seq) -> usize {
        let active_replicas = self.active * self.per_server;
        let r = match (self.router.policy(), &self.limits.prefix) {
            (RouterPolicy::PrefixAffinity, Some(cfg)) => prefix_affinity(
                &chain_of(seq, cfg),
                self.replicas[..active_replicas]
                    .iter()
                    .map(|rep| rep.cache.as_deref()),
                &self.outstanding,
            ),
            _ => self.router.choose(&self.outstanding),
        };
        // `r` is on an inactive server (`r / per_server >= active`, without the division).
        if r >= active_replicas {
            self.outstanding.argmin()
        } else {
            r
        }
    }

    /// The response cache answered `req`.
    fn on_cache_done(&mut self, now: SimTime, req: Request, queue: &mut EventQueue<Event>) {
        let tokens = (req.input_tokens, req.output_tokens);
        self.tally.cache_done(now, req.arrival, Some(tokens));
        let warmup = self.tally.warmup;
        self.sessions.round_done(&req, now, warmup, None);
        if let Some(next) = self.workload.follow_up(&req, now) {
            queue.push(next.arrival, Event::Arrival(next));
        }
    }

    /// A sample for the time-of-day profile; schedules the next.
    fn on_sample(&mut self, now: SimTime, queue: &mut EventQueue<Event>) {
        if let Some(day) = &mut self.day
            && now >= self.tally.warmup
        {
            let h = day.hour_of(now);
            let slot = &mut day.hours[h];
            slot.0 += 1;
            slot.1 += self.replicas.iter().filter(|r| r.is_stepping()).count() as u64;
            slot.2 += self.paid.meter.level();
        }
        queue.push(
            now + SimDuration::from_secs_f64(SAMPLE_EVERY_S),
            Event::Sample,
        );
    }

    /// An autoscaler evaluation: switches servers on or off for new requests; schedules the
    /// next.
    fn on_autoscale(&mut self, now: SimTime, queue: &mut EventQueue<Event>) {
        let Some(scaling) = &mut self.scaling else {
            return;
        };
        let per_server = self.per_server;
        let active_replicas = self.active * per_server;
        let in_flight: usize = (0..active_replicas).map(|r| self.outstanding.get(r)).sum();
        let load = in_flight as f64 / (active_replicas as f64 * scaling.seqs_per_replica);
        let d = scaling
            .scaler
            .observe(now.as_secs_f64(), load, self.active as u32);
        let next = d.active as usize;
        for s in next.min(self.active)..next.max(self.active) {
            for r in s * per_server..(s + 1) * per_server {
                if next > self.active {
                    self.outstanding.sub(r, OFF);
                } else {
                    self.outstanding.add(r, OFF);
                }
            }
        }
        self.active = next;
        // Servers paid for: active, being provisioned, or still draining their work.
        let draining = (self.active..self.n_servers)
            .filter(|&s| {
                (s * per_server..(s + 1) * per_server).any(|r| self.outstanding.get(r) > OFF)
            })
            .count();
        let level = (self.active + d.provisioning as usize + draining) as u64;
        self.paid.set(now, level);
        queue.push(now + scaling.interval, Event::Tick);
    }

    /// A replica's step run ended: collect what finished, plan the next run.
    #[inline(always)]
    fn on_step_done(&mut self, now: SimTime, replica: u32, queue: &mut EventQueue<Event>) {
        let r = replica as usize;
        let rep = &mut self.replicas[r];
        let before = rep.waiting_len() as u64;
        rep.complete(now, &self.costs, &mut self.done);
        let wake = rep.plan(now, &self.costs);
        self.waiting_total = self.waiting_total + rep.waiting_len() as u64 - before;
        if let Some(at) = wake {
            queue.set_slot(replica, at);
        }
        self.hints[r] = rep.next_wake_addrs();
        // Taken out and put back (emptied), so that its allocation is reused.
        let mut done = std::mem::take(&mut self.done);
        for f in &done {
            self.on_finished(now, replica, f, queue);
        }
        done.clear();
        let placeholder = std::mem::replace(&mut self.done, done);
        // The empty vector `take` left owns no memory: forgetting it skips an out-of-line
        // drop call on every wake-up.
        debug_assert_eq!(placeholder.capacity(), 0);
        std::mem::forget(placeholder);
    }

    /// Replica `replica` finished `f` at `now`: record it and schedule the session's next
    /// round.
    #[inline(always)]
    fn on_finished(
        &mut self,
        now: SimTime,
        replica: u32,
        f: &Finished,
        queue: &mut EventQueue<Event>,
    ) {
        self.outstanding.dec(replica as usize);
        self.tally.left(now);
        record_steady(&mut self.tally.steady, f);
        if self.tally.measured(f.seq.arrival) {
            self.record_measured(replica, f);
        }
        let (session, round, session_start) = f.seq.session();
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
        let ttft = f.seq.first_token().map(|t| t - f.seq.arrival);
        self.sessions.round_done(&req, now, self.tally.warmup, ttft);
        if let Some(next) = self.workload.follow_up(&req, now) {
            queue.push(next.arrival, Event::Arrival(next));
        }
    }

    /// Latencies, the request log row and prefix-cache figures of a measured request.
    #[inline(always)]
    fn record_measured(&mut self, replica: u32, f: &Finished) {
        let figures = LlmRequestFigures {
            ttft: &mut self.ttft,
            tpot: &mut self.tpot,
            prefix_hits: &mut self.prefix_hits,
            prompt_tokens: &mut self.prompt_tokens,
        };
        figures.record(&mut self.tally, self.first_replica + replica, f);
    }

    /// Measured requests still in the system: answers in the cache and every request at a
    /// replica.
    fn in_flight_at_end(&self, mut queue: EventQueue<Event>) -> u64 {
        let mut in_flight = 0u64;
        while let Some((_, ev)) = queue.pop() {
            if let Event::CacheDone(r) = ev {
                in_flight += u64::from(self.tally.measured(r.arrival));
            }
        }
        in_flight + self.tally.measured_at(self.replicas.iter())
    }

    /// The overload verdict at the end (see [`Tally::queue_growth_verdict`]).
    fn queue_growth_verdict(&self) -> Option<String> {
        self.tally.queue_growth_verdict(
            self.waiting_at_warmup.unwrap_or(0),
            self.waiting_at_end.unwrap_or(self.waiting_total),
        )
    }

    /// The fleet's batching, bandwidth, KV and server figures over the measured window
    /// ending at `now` (`window_s` long), with the fleet's idle fraction and each server's.
    fn llm_figures(&mut self, now: SimTime, window_s: f64) -> (LlmMetrics, f64, Vec<f64>) {
        let per_server = self.per_server;
        let (mut busy, mut batch_area, mut kv_area, mut bytes, mut flops) =
            (0.0, 0.0, 0.0, 0.0, 0.0);
        let (mut out_tokens, mut pre_tokens, mut steps, mut preemptions) = (0u64, 0u64, 0u64, 0u64);
        let mut server_idle = Vec::with_capacity(self.n_servers);
        for (i, rep) in self.replicas.iter().enumerate() {
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
                let server_busy: f64 = self.replicas[i + 1 - per_server..=i]
                    .iter()
                    .map(|r| r.totals.busy_s)
                    .sum();
                server_idle.push(if window_s > 0.0 {
                    1.0 - server_busy / (window_s * per_server as f64)
                } else {
                    0.0
                });
            }
        }
        let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { 0.0 };
        let (paid_area, _, _) = self.paid.meter.finish(now);
        let (min_servers, max_servers) = self.paid.range.finish(now);
        // Idle over the replica-time paid for.
        let idle = 1.0 - ratio(busy, paid_area * per_server as f64);
        let gpus_per_replica = f64::from(self.dep.tensor_parallel);
        let kv_capacity = self.limits.kv_capacity_tokens as f64;
        let gpu = &self.dep.gpu;
        let llm = LlmMetrics {
            replicas: self.replicas.len() as f64,
            kv_capacity_tokens: kv_capacity,
            mean_batch: ratio(batch_area, busy),
            mbu: ratio(bytes, busy * gpus_per_replica * gpu.hbm_bw_bytes_per_s),
            mfu: ratio(flops, busy * gpus_per_replica * gpu.peak_flops),
            kv_occupancy: ratio(kv_area, busy * kv_capacity),
            preemptions: preemptions as f64,
            output_tokens_per_s: ratio(out_tokens as f64, window_s),
            prefill_tokens_per_s: ratio(pre_tokens as f64, window_s),
            steps_per_busy_s: ratio(steps as f64, busy),
            mean_servers: ratio(paid_area, window_s),
            min_servers: min_servers as f64,
            max_servers: max_servers as f64,
            prefix_hit_fraction: ratio(self.prefix_hits as f64, self.prompt_tokens as f64),
        };
        (llm, idle, server_idle)
    }
}

impl Model for LlmFleet {
    type Event = Event;

    #[inline(always)]
    fn handle(&mut self, now: SimTime, ev: Event, queue: &mut EventQueue<Event>) -> Flow {
        if self.waiting_at_warmup.is_none() && now >= self.tally.warmup {
            self.waiting_at_warmup = Some(self.waiting_total);
        }
        match ev {
            Event::Arrival(req) => return self.on_arrival(now, req, queue),
            Event::CacheDone(req) => self.on_cache_done(now, req, queue),
            Event::Sample => self.on_sample(now, queue),
            Event::Tick => self.on_autoscale(now, queue),
            Event::Wake { replica } => self.on_step_done(now, replica, queue),
        }
        Flow::Continue
    }

    fn drop_after_end(&mut self, ev: &Event) -> bool {
        // Draining: no new arrivals (follow-up rounds included), no more samples or
        // autoscaler ticks; steps and cache answers go on until the system is empty.
        self.waiting_at_end.get_or_insert(self.waiting_total);
        matches!(ev, Event::Arrival(_) | Event::Sample | Event::Tick)
    }

    #[inline]
    fn waiting(&self) -> u64 {
        self.waiting_total
    }

    const PREFETCH: bool = true;

    #[inline]
    fn prefetch_slot(&self, slot: u32) {
        use crate::engine::hint::prefetch_addr;
        let r = slot as usize;
        if let (Some(rep), Some(hints)) = (self.replicas.get(r), self.hints.get(r)) {
            rep.prefetch();
            hints.iter().for_each(|&a| prefetch_addr(a));
        }
    }
}

impl LlmFleet {
    /// The part of finishing that belongs to each shard alone: counts what `queue` and the
    /// replicas still hold, judges the queue's growth into `ending`, and closes the
    /// time-weighted meters at `ending.now`.
    pub(crate) fn close(&mut self, ending: &mut Ending, queue: EventQueue<Event>) {
        self.tally.counts.in_flight = self.in_flight_at_end(queue);
        if ending.overload.is_none() {
            ending.overload = self.queue_growth_verdict();
        }
        let in_system = self.tally.in_system.level();
        self.tally.in_system.set(ending.now, in_system);
        let paid = self.paid.meter.level();
        self.paid.meter.set(ending.now, paid);
    }

    /// Adds `other`, the next shard of the same replication (both closed), whose window
    /// ends at `end`: recorders and counts add, its replicas and servers follow this fleet's.
    pub(crate) fn merge(&mut self, other: LlmFleet, end: SimTime) {
        self.tally.merge(other.tally, end);
        self.ttft.merge(&other.ttft);
        self.tpot.merge(&other.tpot);
        self.sessions.merge(&other.sessions);
        self.paid.merge(&other.paid, end);
        if let (Some(day), Some(o)) = (&mut self.day, &other.day) {
            day.merge(o);
        }
        self.replicas.extend(other.replicas);
        self.n_servers += other.n_servers;
        self.active += other.active;
        self.prefix_hits += other.prefix_hits;
        self.prompt_tokens += other.prompt_tokens;
    }

    /// Sets the index of this shard's first replica in the whole fleet (request log).
    pub(crate) fn set_first_replica(&mut self, first: u32) {
        self.first_replica = first;
    }

    /// Takes the request log out, to be closed by the caller.
    pub(crate) fn take_log(&mut self) -> Option<RequestLog> {
        self.tally.take_log()
    }

    /// The replicas of this fleet.
    pub(crate) fn replica_count(&self) -> usize {
        self.replicas.len()
    }

    /// Assembles the metrics of a closed (and possibly merged) fleet whose run ended as
    /// `ending`.
    pub(crate) fn summarise(mut self, ending: Ending, ctl: &RunControl) -> ReplicationOutcome {
        let now = ending.now;
        let window_s = now.since(self.tally.warmup).as_secs_f64().max(0.0);
        let (llm, idle, server_idle) = self.llm_figures(now, window_s);
        let sessions = (self.sessions.rounds > 1).then(|| self.sessions.summary());
        let day = self.day.as_ref().map(DayRecorder::profile);
        let figures = FleetFigures {
            idle_achieved: idle,
            per_server_idle: &server_idle,
            utilization: 1.0 - idle,
            window_s,
            ttft_tpot: Some((&self.ttft, &self.tpot)),
        };
        let mut outcome = self.tally.finish(ending, figures, ctl);
        let m = &mut outcome.metrics;
        (m.llm, m.sessions, m.day) = (Some(llm), sessions, day);
        outcome
    }
}

impl Fleet for LlmFleet {
    fn finish(
        mut self,
        mut ending: Ending,
        queue: EventQueue<Event>,
        ctl: &RunControl,
    ) -> ReplicationOutcome {
        self.close(&mut ending, queue);
        self.summarise(ending, ctl)
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

    /// Adds another shard's range. Exact while neither level changed (sharded fleets have
    /// no autoscaler): the levels add.
    fn merge(&mut self, other: &PaidRange) {
        self.level += other.level;
        self.range = match (self.range, other.range) {
            (Some(a), Some(b)) => Some((a.0 + b.0, a.1 + b.1)),
            (a, b) => a.or(b),
        };
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
