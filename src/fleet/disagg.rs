//! One replication of a disaggregated LLM fleet (issue 17): arrivals -> cache -> a prefill
//! replica -> the prefill server's KV link -> a decode replica.
//!
//! Both pools are ordinary [`Replica`]s. A prefill replica gets each request with an output
//! of one token, so it prefills the prompt (batched by tokens, chunked or not, as its
//! `[servers.prefill]` limits say) and the request leaves it with its first token and the
//! prompt's KV. The KV (`model KV bytes per token x prompt tokens`) then crosses the prefill
//! server's link ([`KvLink`]: transfers queue first come first served) to a decode replica
//! chosen when the prefill ends, KV-aware: the replica with the fewest KV tokens committed
//! to it (prompts routed there and not yet finished; ties to the lowest index). The decode
//! replica admits the request when it has KV room for it (admission waits in its FIFO; the
//! replica's own rules apply), then decodes the remaining tokens.
//!
//! **Latency model.** The first token is computed by the prefill replica but reaches the
//! client with the KV handoff, when the transfer lands on the decode replica (which then
//! streams every token, as vLLM's disaggregated proxy and NVIDIA Dynamo do). So TTFT =
//! prefill queue + prefill + link wait + wire time (only the last layer's share of it with
//! `overlap`) + link latency; TPOT covers the decode replica alone (its admission wait and
//! steps). A one-token answer needs no transfer: it is done when its prefill ends.
//! `queue_wait` is the wait for a prefill replica; `service` runs from prefill admission to
//! the last token.
//!
//! [`DisaggFleet`] is a model for the engine's one event loop, like [`super::gpu::LlmFleet`]
//! (one wake-up slot per replica; prefill replicas first, then decode replicas, which is
//! also how a request row numbers its replica) and deterministic in the same way. A transfer
//! counts as waiting until it lands, so a link that cannot keep up makes the run unstable
//! like a growing queue.

use std::collections::BTreeMap;

use crate::cache::ResponseCache;
use crate::engine::rng::replication_seed;
use crate::engine::{Ending, EventQueue, Flow, Model, SimDuration, SimTime};
use crate::fleet::gpu::{LlmRequestFigures, SessionRecorder, batch_limits, record_steady};
use crate::fleet::kv_link::KvLink;
use crate::fleet::replica::{BatchLimits, Finished, Replica, Seq, chain_of};
use crate::fleet::tally::{FleetFigures, Tally};
use crate::fleet::{Fleet, RunControl};
use crate::metrics::LatencyRecorder;
use crate::metrics::disagg::{DisaggMetrics, PoolMetrics};
use crate::metrics::replication::{LlmMetrics, ReplicationOutcome};
use crate::router::{Loads, Router, prefix_affinity};
use crate::scenario::disagg::DisaggSpec;
use crate::scenario::{LlmServerSpec, RouterPolicy, Scenario};
use crate::timing::{CachedStepCosts, Deployment};
use crate::workload::{Request, Workload};

/// Events of the disaggregated fleet.
pub enum Event {
    /// A request arrives (from the arrival process, or a session's next round).
    Arrival(Request),
    /// The response cache answered a request.
    CacheDone(Request),
    /// The wake-up of replica slot `slot`: prefill replicas, then decode replicas.
    Wake {
        /// The replica slot.
        slot: u32,
    },
    /// A request's KV has landed on decode replica `replica`.
    KvArrived {
        /// The decode replica (index in the decode pool).
        replica: u32,
        /// The request, prefilled, with its first token.
        seq: Box<Seq>,
    },
}

/// What the fleet keeps about a request between its two pools.
struct Pending {
    /// Output tokens it will generate (the prefill replica sees one).
    output_tokens: u32,
    /// When a prefill replica admitted it.
    prefill_admitted: Option<SimTime>,
    /// When its KV landed on the decode replica.
    kv_landed: SimTime,
}

/// One pool: its deployment, limits, step model and replicas.
struct Pool {
    dep: Deployment,
    limits: BatchLimits,
    costs: CachedStepCosts,
    per_server: usize,
    replicas: Vec<Replica>,
}

impl Pool {
    fn new(
        spec: &LlmServerSpec,
        servers: u32,
        model: &crate::timing::Model,
        system_prompt_tokens: u32,
        window: (SimTime, SimTime),
    ) -> Pool {
        let dep = spec
            .deployment(model)
            .expect("validation checked the pool's deployment");
        let limits = batch_limits(spec, &dep, system_prompt_tokens);
        let per_server = dep.replicas_per_server() as usize;
        let replicas = (0..servers as usize * per_server)
            .map(|_| {
                Replica::new(limits, window.0, window.1).with_step_time_scale(spec.step_time_scale)
            })
            .collect();
        Pool {
            costs: CachedStepCosts::new(dep.step_costs()),
            dep,
            limits,
            per_server,
            replicas,
        }
    }

    /// Busy replica-seconds, Σ batch x seconds, Σ KV x seconds, bytes, preemptions.
    fn totals(&self) -> (f64, f64, f64, f64, u64) {
        self.replicas.iter().fold((0.0, 0.0, 0.0, 0.0, 0), |a, r| {
            let t = &r.totals;
            (
                a.0 + t.busy_s,
                a.1 + t.batch_area,
                a.2 + t.kv_area,
                a.3 + t.bytes,
                a.4 + r.preemptions,
            )
        })
    }

    /// Each server's idle fraction of the window.
    fn server_idle(&self, window: f64) -> Vec<f64> {
        self.replicas
            .chunks(self.per_server.max(1))
            .map(|c| {
                let busy: f64 = c.iter().map(|r| r.totals.busy_s).sum();
                if window > 0.0 {
                    1.0 - busy / (window * self.per_server as f64)
                } else {
                    0.0
                }
            })
            .collect()
    }

    fn metrics(&self, window: f64, wait_mean_s: f64, usd_per_hour: f64) -> PoolMetrics {
        let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { 0.0 };
        let (busy, batch, kv, bytes, preemptions) = self.totals();
        let n = self.replicas.len() as f64;
        let util = ratio(busy, window * n);
        PoolMetrics {
            servers: (self.replicas.len() / self.per_server.max(1)) as f64,
            replicas: n,
            utilization: util,
            idle_rate: 1.0 - util,
            mean_batch: ratio(batch, busy),
            kv_occupancy: ratio(kv, busy * self.limits.kv_capacity_tokens as f64),
            kv_capacity_tokens: self.limits.kv_capacity_tokens as f64,
            mbu: ratio(
                bytes,
                busy * f64::from(self.dep.tensor_parallel) * self.dep.gpu.hbm_bw_bytes_per_s,
            ),
            preemptions: preemptions as f64,
            wait_mean_s,
            usd_per_hour,
        }
    }
}

/// Enqueues `seq` on `rep` at `now` and returns its next wake-up, if it changed.
fn enqueue(rep: &mut Replica, seq: Seq, now: SimTime, costs: &CachedStepCosts) -> Option<SimTime> {
    rep.enqueue(seq);
    if rep.is_stepping() {
        rep.interrupt(now)
    } else {
        rep.plan(now, costs)
    }
}

/// The KV transfers' figures, measured requests.
struct LinkFigures {
    /// Prefill end to KV usable on the decode replica.
    transfer: LatencyRecorder,
    /// Wait for the link behind other transfers.
    link_wait: LatencyRecorder,
    /// KV landed to admission on the decode replica.
    decode_wait: LatencyRecorder,
    /// KV bytes moved.
    bytes: f64,
}

/// What both pools cost: USD per hour of each, and the servers at the `[servers]` price
/// that cost as much (the cost section prices `llm.mean_servers` of them).
struct PoolPrices {
    prefill_usd_per_hour: f64,
    decode_usd_per_hour: f64,
    servers_paid: f64,
}

impl PoolPrices {
    fn new(scenario: &Scenario, split: &DisaggSpec) -> PoolPrices {
        let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { 0.0 };
        let top_price = scenario.cost.cloud_usd_per_server_hour;
        let (price_p, price_d) = (
            scenario.pool_usd_per_server_hour(&split.prefill.spec),
            scenario.pool_usd_per_server_hour(&split.decode.spec),
        );
        // Their sum when the pools have the same GPUs.
        let weight = |price: f64| {
            if price == top_price {
                1.0
            } else {
                ratio(price, top_price)
            }
        };
        PoolPrices {
            prefill_usd_per_hour: price_p * f64::from(split.prefill.count),
            decode_usd_per_hour: price_d * f64::from(split.decode.count),
            servers_paid: f64::from(split.prefill.count) * weight(price_p)
                + f64::from(split.decode.count) * weight(price_d),
        }
    }
}

/// Runs replication `replication` of a scenario whose servers are split as `split`.
pub fn run_disagg_replication(
    scenario: &Scenario,
    split: &DisaggSpec,
    replication: u32,
    ctl: &RunControl,
) -> ReplicationOutcome {
    let (fleet, queue) = DisaggFleet::new(scenario, split, replication, ctl);
    super::replicate(fleet, queue, scenario, ctl)
}

/// One replication's split fleet: a prefill pool, a KV link per prefill server and a decode
/// pool, handling the events of the engine's loop.
pub struct DisaggFleet {
    tally: Tally,
    /// Arrival to first token, measured requests.
    ttft: LatencyRecorder,
    /// Time per output token after the first, measured requests.
    tpot: LatencyRecorder,
    sessions: SessionRecorder,
    workload: Workload,
    cache: ResponseCache,
    router: Router,
    pre: Pool,
    dec: Pool,
    links: Vec<KvLink>,
    link: LinkFigures,
    prices: PoolPrices,
    /// The model's KV bytes per prompt token.
    kv_bytes_per_token: f64,
    /// Requests at each prefill replica.
    outstanding: Loads,
    /// Decode routing: KV tokens committed to each decode replica.
    committed: Loads,
    /// Requests between arrival and completion that were not answered by the cache.
    pending: BTreeMap<u64, Pending>,
    /// Requests waiting fleet-wide: in a replica's queue or on a link.
    waiting_total: u64,
    waiting_at_warmup: Option<u64>,
    waiting_at_end: Option<u64>,
    /// Reused buffer of a wake-up's finished sequences.
    done: Vec<Finished>,
    prefix_hits: u64,
    prompt_tokens: u64,
}

impl DisaggFleet {
    /// Replication `replication` of `scenario` split as `split`, with its first arrival
    /// scheduled.
    pub fn new(
        scenario: &Scenario,
        split: &DisaggSpec,
        replication: u32,
        ctl: &RunControl,
    ) -> (DisaggFleet, EventQueue<Event>) {
        let model = scenario
            .model
            .as_ref()
            .expect("validation gives llm scenarios a model");
        let seed = replication_seed(scenario.run.seed, replication);
        let warmup = SimTime::from_secs_f64(scenario.traffic.warmup_s);
        let end = SimTime::from_secs_f64(scenario.traffic.duration_s);
        let sys = scenario
            .request
            .as_ref()
            .map_or(0, |r| r.system_prompt_tokens);
        let window = (warmup, end);
        let pre = Pool::new(&split.prefill.spec, split.prefill.count, model, sys, window);
        let dec = Pool::new(&split.decode.spec, split.decode.count, model, sys, window);
        let (np, nd) = (pre.replicas.len(), dec.replicas.len());
        let rounds = scenario.request.as_ref().map_or(1, |r| r.rounds);
        let mut fleet = DisaggFleet {
            tally: Tally::new(warmup, end, ctl.open_request_log(replication)),
            ttft: LatencyRecorder::new(),
            tpot: LatencyRecorder::new(),
            sessions: SessionRecorder::new(rounds),
            workload: Workload::new(scenario, seed),
            cache: ResponseCache::new(&scenario.cache, seed),
            router: Router::new(scenario.router.policy, seed),
            pre,
            dec,
            links: (0..split.prefill.count)
                .map(|_| KvLink::new(&split.kv_transfer, model.layers, warmup, end))
                .collect(),
            link: LinkFigures {
                transfer: LatencyRecorder::new(),
                link_wait: LatencyRecorder::new(),
                decode_wait: LatencyRecorder::new(),
                bytes: 0.0,
            },
            prices: PoolPrices::new(scenario, split),
            kv_bytes_per_token: model.kv_bytes_per_token(),
            outstanding: Loads::new(np),
            committed: Loads::new(nd),
            pending: BTreeMap::new(),
            waiting_total: 0,
            waiting_at_warmup: None,
            waiting_at_end: None,
            done: Vec::new(),
            prefix_hits: 0,
            prompt_tokens: 0,
        };
        let mut queue = EventQueue::with_slots(np + nd, |slot| Event::Wake { slot });
        if let Some(r) = fleet.workload.next_request() {
            queue.push(r.arrival, Event::Arrival(r));
        }
        (fleet, queue)
    }

    /// A request arrives: the cache, else a prefill replica chosen by the router.
    fn on_arrival(&mut self, now: SimTime, req: Request, queue: &mut EventQueue<Event>) -> Flow {
        if !req.is_follow_up()
            && let Some(next) = self.workload.next_request()
        {
            queue.push(next.arrival, Event::Arrival(next));
        }
        self.tally.arrived(now, req.arrival);
        if let Some(latency) = self.cache.lookup(&req) {
            queue.push(now + latency, Event::CacheDone(req));
            return Flow::Continue;
        }
        // The prefill replica generates exactly the first token.
        let mut seq = Seq::new(req.id, req.arrival, req.input_tokens, 1);
        seq.set_session(req.session, req.round, req.session_start);
        seq.set_blocks(req.blocks.clone());
        self.pending.insert(
            req.id,
            Pending {
                output_tokens: req.output_tokens.max(1),
                prefill_admitted: None,
                kv_landed: SimTime::ZERO,
            },
        );
        let r = match (self.router.policy(), &self.pre.limits.prefix) {
            (RouterPolicy::PrefixAffinity, Some(cfg)) => prefix_affinity(
                &chain_of(&seq, cfg),
                self.pre.replicas.iter().map(|rep| rep.cache.as_deref()),
                &self.outstanding,
            ),
            _ => self.router.choose(&self.outstanding),
        };
        self.outstanding.inc(r);
        let rep = &mut self.pre.replicas[r];
        let before = rep.waiting_len() as u64;
        let wake = enqueue(rep, seq, now, &self.pre.costs);
        self.waiting_total = self.waiting_total + rep.waiting_len() as u64 - before;
        if let Some(at) = wake {
            queue.set_slot(r as u32, at);
        }
        Flow::Queued
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

    /// Completes and replans replica `r` of `pool` at `now`, filling `self.done`; returns
    /// the pool and the buffer of finished sequences.
    fn step_pool(
        pool: &mut Pool,
        r: usize,
        slot: u32,
        now: SimTime,
        waiting_total: &mut u64,
        done: &mut Vec<Finished>,
        queue: &mut EventQueue<Event>,
    ) {
        let rep = &mut pool.replicas[r];
        let before = rep.waiting_len() as u64;
        rep.complete(now, &pool.costs, done);
        let wake = rep.plan(now, &pool.costs);
        *waiting_total = *waiting_total + rep.waiting_len() as u64 - before;
        if let Some(at) = wake {
            queue.set_slot(slot, at);
        }
    }

    /// Prefill replica `slot`'s step run ended: each finished prompt's KV is booked on its
    /// server's link to the decode replica with the least KV committed (a one-token answer
    /// is done).
    fn on_prefill_done(&mut self, now: SimTime, slot: u32, queue: &mut EventQueue<Event>) {
        let r = slot as usize;
        let mut done = std::mem::take(&mut self.done);
        Self::step_pool(
            &mut self.pre,
            r,
            slot,
            now,
            &mut self.waiting_total,
            &mut done,
            queue,
        );
        let mut finished = Vec::new();
        for f in done.drain(..) {
            self.outstanding.dec(r);
            let mut seq = f.seq;
            let p = self
                .pending
                .get_mut(&seq.id)
                .expect("every prefilled request is pending");
            p.prefill_admitted = seq.admitted();
            if p.output_tokens <= 1 {
                // A one-token answer: done at its prefill, nothing to transfer.
                finished.push((Finished { seq, at: f.at }, slot));
                continue;
            }
            seq.output_tokens = p.output_tokens;
            let bytes = self.kv_bytes_per_token * f64::from(seq.input_tokens);
            let server = r / self.pre.per_server.max(1);
            let tr = self.links[server].book(now, seq.admitted().unwrap_or(now), bytes);
            p.kv_landed = tr.arrives;
            if self.tally.measured(seq.arrival) {
                self.link.transfer.record(tr.arrives - now);
                self.link.link_wait.record(tr.waited);
                self.link.bytes += bytes;
            }
            // The first token reaches the client with the KV (module docs); the decode
            // replica's admission time is its own.
            seq.set_first_token(Some(tr.arrives));
            seq.set_admitted(None);
            // The decode replica keeps no prefix cache: the whole prompt's KV, cached on the
            // prefill side or not, lands in its memory and counts against its KV room.
            seq.cached = 0;
            let d = self.committed.argmin();
            self.committed.add(d, seq.input_tokens as usize + 1);
            // A transfer counts as waiting until it lands, so a link that cannot keep up
            // shows as a growing queue.
            self.waiting_total += 1;
            queue.push(
                tr.arrives,
                Event::KvArrived {
                    replica: d as u32,
                    seq: Box::new(seq),
                },
            );
        }
        self.done = done;
        // After every transfer is booked, as the requests leave in this order.
        for (f, slot) in finished {
            self.on_finished(now, f, slot, queue);
        }
    }

    /// A request's KV landed on decode replica `d`: it joins that replica's queue.
    fn on_kv_arrived(&mut self, now: SimTime, d: u32, seq: Seq, queue: &mut EventQueue<Event>) {
        let np = self.pre.replicas.len();
        self.waiting_total -= 1;
        let rep = &mut self.dec.replicas[d as usize];
        let before = rep.waiting_len() as u64;
        let wake = enqueue(rep, seq, now, &self.dec.costs);
        self.waiting_total = self.waiting_total + rep.waiting_len() as u64 - before;
        if let Some(at) = wake {
            queue.set_slot(np as u32 + d, at);
        }
    }

    /// Decode replica slot `slot`'s step run ended: its finished requests leave.
    fn on_decode_done(&mut self, now: SimTime, slot: u32, queue: &mut EventQueue<Event>) {
        let d = slot as usize - self.pre.replicas.len();
        let mut done = std::mem::take(&mut self.done);
        Self::step_pool(
            &mut self.dec,
            d,
            slot,
            now,
            &mut self.waiting_total,
            &mut done,
            queue,
        );
        for f in &done {
            self.committed.sub(d, f.seq.input_tokens as usize + 1);
        }
        for f in done.drain(..) {
            self.on_finished(now, f, slot, queue);
        }
        self.done = done;
    }

    /// A request left the fleet at `now` from replica slot `slot`: record it and schedule
    /// the session's next round.
    fn on_finished(
        &mut self,
        now: SimTime,
        mut f: Finished,
        slot: u32,
        queue: &mut EventQueue<Event>,
    ) {
        let p = self
            .pending
            .remove(&f.seq.id)
            .expect("every finished request is pending");
        if p.output_tokens > 1 && self.tally.measured(f.seq.arrival) {
            let admitted = f.seq.admitted().unwrap_or(p.kv_landed);
            self.link.decode_wait.record(admitted.since(p.kv_landed));
        }
        f.seq.set_admitted(p.prefill_admitted);
        self.tally.left(now);
        record_steady(&mut self.tally.steady, &f);
        if self.tally.measured(f.seq.arrival) {
            self.record_measured(slot, &f);
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
    fn record_measured(&mut self, slot: u32, f: &Finished) {
        let figures = LlmRequestFigures {
            ttft: &mut self.ttft,
            tpot: &mut self.tpot,
            prefix_hits: &mut self.prefix_hits,
            prompt_tokens: &mut self.prompt_tokens,
        };
        figures.record(&mut self.tally, slot, f);
    }

    /// Measured requests still in the system: in the cache, on a link or in a replica.
    fn in_flight_at_end(&self, mut queue: EventQueue<Event>) -> u64 {
        let mut in_flight = 0u64;
        while let Some((_, ev)) = queue.pop() {
            match ev {
                Event::CacheDone(r) => in_flight += u64::from(self.tally.measured(r.arrival)),
                Event::KvArrived { seq, .. } => {
                    in_flight += u64::from(self.tally.measured(seq.arrival));
                }
                _ => {}
            }
        }
        in_flight
            + self
                .tally
                .measured_at(self.pre.replicas.iter().chain(&self.dec.replicas))
    }

    /// The overload verdict at the end (links included in the queue; see
    /// `Tally::queue_growth_verdict`).
    fn queue_growth_verdict(&self) -> Option<String> {
        self.tally.queue_growth_verdict(
            self.waiting_at_warmup.unwrap_or(0),
            self.waiting_at_end.unwrap_or(self.waiting_total),
        )
    }

    /// Both pools' batching, bandwidth and KV figures over a measured window `window_s`
    /// long, with the fleet's idle fraction over GPU-time.
    fn llm_figures(&self, window_s: f64) -> (LlmMetrics, f64) {
        let (pre, dec) = (&self.pre, &self.dec);
        let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { 0.0 };
        let (mut out_tokens, mut pre_tokens, mut steps, mut flops) = (0u64, 0u64, 0u64, 0.0);
        for rep in pre.replicas.iter().chain(&dec.replicas) {
            out_tokens += rep.totals.output_tokens;
            pre_tokens += rep.totals.prefill_tokens;
            steps += rep.totals.steps;
            flops += rep.totals.flops;
        }
        let (busy_p, batch_p, kv_p, bytes_p, pre_p) = pre.totals();
        let (busy_d, batch_d, kv_d, bytes_d, pre_d) = dec.totals();
        let gpus = |p: &Pool| f64::from(p.dep.tensor_parallel);
        let flops_peak = busy_p * gpus(pre) * pre.dep.gpu.peak_flops
            + busy_d * gpus(dec) * dec.dep.gpu.peak_flops;
        let bw_peak = busy_p * gpus(pre) * pre.dep.gpu.hbm_bw_bytes_per_s
            + busy_d * gpus(dec) * dec.dep.gpu.hbm_bw_bytes_per_s;
        // Idle over GPU-time: the pools' replicas may have different tensor parallelism.
        let gpu_busy = busy_p * gpus(pre) + busy_d * gpus(dec);
        let (np, nd) = (pre.replicas.len() as f64, dec.replicas.len() as f64);
        let gpu_time = window_s * (np * gpus(pre) + nd * gpus(dec));
        let idle = 1.0 - ratio(gpu_busy, gpu_time);
        let kv_area = kv_p / pre.limits.kv_capacity_tokens.max(1) as f64
            + kv_d / dec.limits.kv_capacity_tokens.max(1) as f64;
        let paid = self.prices.servers_paid;
        let llm = LlmMetrics {
            replicas: np + nd,
            kv_capacity_tokens: dec.limits.kv_capacity_tokens as f64,
            mean_batch: ratio(batch_p + batch_d, busy_p + busy_d),
            mbu: ratio(bytes_p + bytes_d, bw_peak),
            mfu: ratio(flops, flops_peak),
            kv_occupancy: ratio(kv_area, busy_p + busy_d),
            preemptions: (pre_p + pre_d) as f64,
            output_tokens_per_s: ratio(out_tokens as f64, window_s),
            prefill_tokens_per_s: ratio(pre_tokens as f64, window_s),
            steps_per_busy_s: ratio(steps as f64, busy_p + busy_d),
            mean_servers: paid,
            min_servers: paid,
            max_servers: paid,
            prefix_hit_fraction: ratio(self.prefix_hits as f64, self.prompt_tokens as f64),
        };
        (llm, idle)
    }

    /// The `disaggregated` section: each pool, the link and the pools' prices.
    fn disagg_figures(&self, window_s: f64) -> DisaggMetrics {
        let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { 0.0 };
        let l = &self.link;
        let prices = &self.prices;
        DisaggMetrics {
            prefill: self.pre.metrics(
                window_s,
                self.tally.wait.summary().mean,
                prices.prefill_usd_per_hour,
            ),
            decode: self.dec.metrics(
                window_s,
                l.decode_wait.summary().mean,
                prices.decode_usd_per_hour,
            ),
            transfer_s: l.transfer.summary(),
            link_wait_mean_s: l.link_wait.summary().mean,
            link_utilization: ratio(
                self.links.iter().map(|l| l.busy_s).sum(),
                window_s * self.links.len() as f64,
            ),
            kv_bytes_per_request: ratio(l.bytes, l.transfer.count() as f64),
        }
    }
}

impl Model for DisaggFleet {
    type Event = Event;

    fn handle(&mut self, now: SimTime, ev: Event, queue: &mut EventQueue<Event>) -> Flow {
        if self.waiting_at_warmup.is_none() && now >= self.tally.warmup {
            self.waiting_at_warmup = Some(self.waiting_total);
        }
        match ev {
            Event::Arrival(req) => return self.on_arrival(now, req, queue),
            Event::CacheDone(req) => {
                self.on_cache_done(now, req, queue);
                return Flow::Continue;
            }
            Event::Wake { slot } if (slot as usize) < self.pre.replicas.len() => {
                self.on_prefill_done(now, slot, queue);
            }
            Event::Wake { slot } => self.on_decode_done(now, slot, queue),
            Event::KvArrived { replica, seq } => self.on_kv_arrived(now, replica, *seq, queue),
        }
        // Steps and transfers move requests between queues and links: check the limit.
        Flow::Queued
    }

    fn drop_after_end(&mut self, ev: &Event) -> bool {
        // Draining: no new arrivals (follow-up rounds included); steps, transfers and cache
        // answers go on until the system is empty.
        self.waiting_at_end.get_or_insert(self.waiting_total);
        matches!(ev, Event::Arrival(_))
    }

    fn waiting(&self) -> u64 {
        self.waiting_total
    }
}

impl Fleet for DisaggFleet {
    fn finish(
        mut self,
        mut ending: Ending,
        queue: EventQueue<Event>,
        ctl: &RunControl,
    ) -> ReplicationOutcome {
        let now = ending.now;
        self.tally.counts.in_flight = self.in_flight_at_end(queue);
        if ending.overload.is_none() {
            ending.overload = self.queue_growth_verdict();
        }
        let window_s = now.since(self.tally.warmup).as_secs_f64().max(0.0);
        let (llm, idle) = self.llm_figures(window_s);
        let mut server_idle = self.pre.server_idle(window_s);
        server_idle.extend(self.dec.server_idle(window_s));
        let disaggregated = self.disagg_figures(window_s);
        let sessions = (self.sessions.rounds > 1).then(|| self.sessions.summary());
        let figures = FleetFigures {
            idle_achieved: idle,
            per_server_idle: &server_idle,
            utilization: 1.0 - idle,
            window_s,
            ttft_tpot: Some((&self.ttft, &self.tpot)),
        };
        let mut outcome = self.tally.finish(ending, figures, ctl);
        let m = &mut outcome.metrics;
        (m.llm, m.sessions, m.disaggregated) = (Some(llm), sessions, Some(disaggregated));
        outcome
    }
}
