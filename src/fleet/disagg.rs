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
//! The loop mirrors [`super::gpu::run_llm_replication`] (one wake-up slot per replica; prefill
//! replicas first, then decode replicas, which is also how a request row numbers its
//! replica) and is deterministic in the same way. A transfer counts as waiting until it
//! lands, so a link that cannot keep up makes the run unstable like a growing queue.

use std::collections::BTreeMap;

use crate::cache::ResponseCache;
use crate::engine::rng::replication_seed;
use crate::engine::{EventQueue, SimDuration, SimTime};
use crate::fleet::gpu::{Recorders, SessionRecorder, batch_limits, prefix_affinity, record_steady};
use crate::fleet::kv_link::KvLink;
use crate::fleet::replica::{BatchLimits, Finished, Replica, Seq};
use crate::metrics::disagg::{DisaggMetrics, PoolMetrics};
use crate::metrics::replication::{
    IdleRates, Latencies, LlmMetrics, ReplicationMetrics, ReplicationOutcome, RequestCounts,
};
use crate::metrics::request_log::RequestRow;
use crate::metrics::steady::{Metric, SteadyRecorder};
use crate::metrics::{LatencyRecorder, LevelMeter};
use crate::router::{Loads, Router};
use crate::scenario::disagg::{DisaggSpec, pool_usd_per_server_hour};
use crate::scenario::{LlmServerSpec, RouterPolicy, Scenario};
use crate::timing::{CachedStepCosts, Deployment};
use crate::workload::{Request, Workload};

enum Event {
    Arrival(Request),
    CacheDone(Request),
    /// The wake-up of replica slot `slot`: prefill replicas, then decode replicas.
    Wake {
        slot: u32,
    },
    /// A request's KV has landed on decode replica `replica`.
    KvArrived {
        replica: u32,
        seq: Box<Seq>,
    },
}

/// What the loop keeps about a request between its two pools.
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
    spec: LlmServerSpec,
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
            spec: spec.clone(),
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

/// Runs replication `replication` of a scenario whose servers are split as `split`.
pub fn run_disagg_replication(
    scenario: &Scenario,
    split: &DisaggSpec,
    replication: u32,
    ctl: &super::RunControl,
) -> ReplicationOutcome {
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
    let mut pre = Pool::new(
        &split.prefill.spec,
        split.prefill.count,
        model,
        sys,
        (warmup, end),
    );
    let mut dec = Pool::new(
        &split.decode.spec,
        split.decode.count,
        model,
        sys,
        (warmup, end),
    );
    let np = pre.replicas.len();
    let nd = dec.replicas.len();
    let kv_bytes_per_token = model.kv_bytes_per_token();
    let mut links: Vec<KvLink> = (0..split.prefill.count)
        .map(|_| KvLink::new(&split.kv_transfer, model.layers, warmup, end))
        .collect();

    let mut workload = Workload::new(scenario, seed);
    let mut cache = ResponseCache::new(&scenario.cache, seed);
    let mut router = Router::new(scenario.router.policy, seed);
    let mut outstanding = Loads::new(np);
    // Decode routing: KV tokens committed to each decode replica.
    let mut committed = Loads::new(nd);
    let mut pending: BTreeMap<u64, Pending> = BTreeMap::new();
    let mut waiting_total: u64 = 0;
    let mut waiting_at_warmup: Option<u64> = None;
    let mut waiting_at_end: Option<u64> = None;

    let mut request_log = ctl.open_request_log(replication);
    let mut rec = Recorders {
        e2e: LatencyRecorder::new(),
        wait: LatencyRecorder::new(),
        service: LatencyRecorder::new(),
        ttft: LatencyRecorder::new(),
        tpot: LatencyRecorder::new(),
    };
    let mut transfer = LatencyRecorder::new();
    let mut link_wait = LatencyRecorder::new();
    let mut decode_wait = LatencyRecorder::new();
    let mut transfer_bytes = 0.0;
    let mut counts = RequestCounts::default();
    let mut in_system = LevelMeter::new(warmup, end);
    let mut steady = SteadyRecorder::new(warmup, end);
    let mut overload = None;
    let mut now = SimTime::ZERO;
    let mut done: Vec<Finished> = Vec::new();
    let rounds = scenario.request.as_ref().map_or(1, |r| r.rounds);
    let mut sessions = SessionRecorder::new(rounds);
    let (mut prefix_hits, mut prompt_tokens) = (0u64, 0u64);
    let mut events = 0u64;

    let mut queue: EventQueue<Event> = EventQueue::with_slots(np + nd, |slot| Event::Wake { slot });
    if let Some(r) = workload.next_request() {
        queue.push(r.arrival, Event::Arrival(r));
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
            waiting_at_end.get_or_insert(waiting_total);
            if matches!(ev, Event::Arrival(_)) {
                continue;
            }
        }
        now = t;
        if waiting_at_warmup.is_none() && now >= warmup {
            waiting_at_warmup = Some(waiting_total);
        }
        // Requests that left the decode pool (or a one-token answer the prefill pool).
        let mut finished: Vec<(Finished, u32)> = Vec::new();
        match ev {
            Event::Arrival(req) => {
                if !req.is_follow_up()
                    && let Some(next) = workload.next_request()
                {
                    queue.push(next.arrival, Event::Arrival(next));
                }
                counts.arrived += u64::from(req.arrival >= warmup);
                in_system.set(now, in_system.level() + 1);
                if let Some(latency) = cache.lookup(&req) {
                    queue.push(now + latency, Event::CacheDone(req));
                    continue;
                }
                // The prefill replica generates exactly the first token.
                let mut seq = Seq::new(req.id, req.arrival, req.input_tokens, 1);
                seq.session = (req.session, req.round, req.session_start);
                seq.blocks = req.blocks.clone();
                pending.insert(
                    req.id,
                    Pending {
                        output_tokens: req.output_tokens.max(1),
                        prefill_admitted: None,
                        kv_landed: SimTime::ZERO,
                    },
                );
                let r = match (router.policy(), &pre.limits.prefix) {
                    (RouterPolicy::PrefixAffinity, Some(cfg)) => {
                        prefix_affinity(&seq, cfg, &pre.replicas, &outstanding)
                    }
                    _ => router.choose(&outstanding),
                };
                outstanding.inc(r);
                let rep = &mut pre.replicas[r];
                let before = rep.waiting_len() as u64;
                let wake = enqueue(rep, seq, now, &pre.costs);
                waiting_total = waiting_total + rep.waiting_len() as u64 - before;
                if let Some(at) = wake {
                    queue.set_slot(r as u32, at);
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
            Event::Wake { slot } if (slot as usize) < np => {
                let r = slot as usize;
                let rep = &mut pre.replicas[r];
                let before = rep.waiting_len() as u64;
                rep.complete(now, &pre.costs, &mut done);
                let wake = rep.plan(now, &pre.costs);
                waiting_total = waiting_total + rep.waiting_len() as u64 - before;
                if let Some(at) = wake {
                    queue.set_slot(slot, at);
                }
                for f in done.drain(..) {
                    outstanding.dec(r);
                    let mut seq = f.seq;
                    let p = pending
                        .get_mut(&seq.id)
                        .expect("every prefilled request is pending");
                    p.prefill_admitted = seq.admitted;
                    if p.output_tokens <= 1 {
                        // A one-token answer: done at its prefill, nothing to transfer.
                        finished.push((Finished { seq, at: f.at }, slot));
                        continue;
                    }
                    seq.output_tokens = p.output_tokens;
                    let bytes = kv_bytes_per_token * f64::from(seq.input_tokens);
                    let server = r / pre.per_server.max(1);
                    let tr = links[server].book(now, seq.admitted.unwrap_or(now), bytes);
                    p.kv_landed = tr.arrives;
                    if seq.arrival >= warmup {
                        transfer.record(tr.arrives - now);
                        link_wait.record(tr.waited);
                        transfer_bytes += bytes;
                    }
                    // The first token reaches the client with the KV (module docs); the
                    // decode replica's admission time is its own.
                    seq.first_token = Some(tr.arrives);
                    seq.admitted = None;
                    let d = committed.argmin();
                    committed.add(d, seq.input_tokens as usize + 1);
                    // A transfer counts as waiting until it lands, so a link that cannot
                    // keep up shows as a growing queue.
                    waiting_total += 1;
                    queue.push(
                        tr.arrives,
                        Event::KvArrived {
                            replica: d as u32,
                            seq: Box::new(seq),
                        },
                    );
                }
            }
            Event::KvArrived { replica, seq } => {
                let d = replica as usize;
                waiting_total -= 1;
                let rep = &mut dec.replicas[d];
                let before = rep.waiting_len() as u64;
                let wake = enqueue(rep, *seq, now, &dec.costs);
                waiting_total = waiting_total + rep.waiting_len() as u64 - before;
                if let Some(at) = wake {
                    queue.set_slot((np + d) as u32, at);
                }
            }
            Event::Wake { slot } => {
                let d = slot as usize - np;
                let rep = &mut dec.replicas[d];
                let before = rep.waiting_len() as u64;
                rep.complete(now, &dec.costs, &mut done);
                let wake = rep.plan(now, &dec.costs);
                waiting_total = waiting_total + rep.waiting_len() as u64 - before;
                if let Some(at) = wake {
                    queue.set_slot(slot, at);
                }
                for f in done.drain(..) {
                    committed.sub(d, f.seq.input_tokens as usize + 1);
                    finished.push((f, slot));
                }
            }
        }
        for (mut f, slot) in finished {
            let p = pending
                .remove(&f.seq.id)
                .expect("every finished request is pending");
            if p.output_tokens > 1 && f.seq.arrival >= warmup {
                let admitted = f.seq.admitted.unwrap_or(p.kv_landed);
                decode_wait.record(admitted.since(p.kv_landed));
            }
            f.seq.admitted = p.prefill_admitted;
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
                        replica: Some(slot),
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
        if waiting_total > scenario.run.max_queue {
            overload = Some(format!(
                "{waiting_total} requests were waiting at t = {:.1} s (run.max_queue = {}): \
                 the fleet cannot keep up with the offered load",
                now.as_secs_f64(),
                scenario.run.max_queue
            ));
            break;
        }
    }
    if overload.is_none() {
        now = end;
    }

    // Measured requests still in the system: in the cache, on a link or in a replica.
    let mut in_flight = 0u64;
    while let Some((_, ev)) = queue.pop() {
        match ev {
            Event::CacheDone(r) => in_flight += u64::from(r.arrival >= warmup),
            Event::KvArrived { seq, .. } => in_flight += u64::from(seq.arrival >= warmup),
            _ => {}
        }
    }
    for rep in pre.replicas.iter().chain(&dec.replicas) {
        in_flight += rep.all_seqs().filter(|s| s.arrival >= warmup).count() as u64;
    }
    counts.in_flight = in_flight;
    if overload.is_none() {
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
    let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { 0.0 };
    let mut out_tokens = 0u64;
    let mut pre_tokens = 0u64;
    let mut steps = 0u64;
    let mut flops_peak = 0.0;
    let mut flops = 0.0;
    for rep in pre.replicas.iter().chain(&dec.replicas) {
        out_tokens += rep.totals.output_tokens;
        pre_tokens += rep.totals.prefill_tokens;
        steps += rep.totals.steps;
        flops += rep.totals.flops;
    }
    let (busy_p, batch_p, kv_p, bytes_p, pre_p) = pre.totals();
    let (busy_d, batch_d, kv_d, bytes_d, pre_d) = dec.totals();
    let gpus = |p: &Pool| f64::from(p.dep.tensor_parallel);
    flops_peak += busy_p * gpus(&pre) * pre.dep.gpu.peak_flops;
    flops_peak += busy_d * gpus(&dec) * dec.dep.gpu.peak_flops;
    let bw_peak = busy_p * gpus(&pre) * pre.dep.gpu.hbm_bw_bytes_per_s
        + busy_d * gpus(&dec) * dec.dep.gpu.hbm_bw_bytes_per_s;
    // Idle over GPU-time: the pools' replicas may have different tensor parallelism.
    let gpu_busy = busy_p * gpus(&pre) + busy_d * gpus(&dec);
    let gpu_time = window * (np as f64 * gpus(&pre) + nd as f64 * gpus(&dec));
    let idle = 1.0 - ratio(gpu_busy, gpu_time);
    let top_price = scenario.cost.cloud_usd_per_server_hour;
    let (price_p, price_d) = (
        pool_usd_per_server_hour(scenario, &pre.spec),
        pool_usd_per_server_hour(scenario, &dec.spec),
    );
    let usd_p = price_p * f64::from(split.prefill.count);
    let usd_d = price_d * f64::from(split.decode.count);
    // Servers at the `[servers]` price that cost what both pools cost (their sum when the
    // pools have the same GPUs): the cost section prices `llm.mean_servers` of them.
    let weight = |price: f64| {
        if price == top_price {
            1.0
        } else {
            ratio(price, top_price)
        }
    };
    let servers_paid = f64::from(split.prefill.count) * weight(price_p)
        + f64::from(split.decode.count) * weight(price_d);
    let kv_area = kv_p / pre.limits.kv_capacity_tokens.max(1) as f64
        + kv_d / dec.limits.kv_capacity_tokens.max(1) as f64;
    let llm = LlmMetrics {
        replicas: (np + nd) as f64,
        kv_capacity_tokens: dec.limits.kv_capacity_tokens as f64,
        mean_batch: ratio(batch_p + batch_d, busy_p + busy_d),
        mbu: ratio(bytes_p + bytes_d, bw_peak),
        mfu: ratio(flops, flops_peak),
        kv_occupancy: ratio(kv_area, busy_p + busy_d),
        preemptions: (pre_p + pre_d) as f64,
        output_tokens_per_s: ratio(out_tokens as f64, window),
        prefill_tokens_per_s: ratio(pre_tokens as f64, window),
        steps_per_busy_s: ratio(steps as f64, busy_p + busy_d),
        mean_servers: servers_paid,
        min_servers: servers_paid,
        max_servers: servers_paid,
        prefix_hit_fraction: ratio(prefix_hits as f64, prompt_tokens as f64),
    };
    let mut server_idle = pre.server_idle(window);
    server_idle.extend(dec.server_idle(window));
    let n_servers = server_idle.len().max(1) as f64;
    let disaggregated = DisaggMetrics {
        prefill: pre.metrics(window, rec.wait.summary().mean, usd_p),
        decode: dec.metrics(window, decode_wait.summary().mean, usd_d),
        transfer_s: transfer.summary(),
        link_wait_mean_s: link_wait.summary().mean,
        link_utilization: ratio(
            links.iter().map(|l| l.busy_s).sum(),
            window * links.len() as f64,
        ),
        kv_bytes_per_request: ratio(transfer_bytes, transfer.count() as f64),
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
            per_server_mean: server_idle.iter().sum::<f64>() / n_servers,
            per_server_max: server_idle
                .iter()
                .copied()
                .fold(f64::NEG_INFINITY, f64::max),
        },
        utilization: 1.0 - idle,
        throughput_per_s: ratio(rec.e2e.count() as f64, window),
        mean_in_system: ratio(in_system.finish(now).0, window),
        cache_hit_rate: ratio(counts.cache_hits as f64, counts.arrived as f64),
        ended_at_s: now.as_secs_f64(),
        llm: Some(llm),
        sessions: (rounds > 1).then(|| sessions.summary()),
        day: None,
        disaggregated: Some(disaggregated),
    };
    ctl.close_request_log(request_log);
    ReplicationOutcome {
        metrics,
        overload,
        events,
        steady,
    }
}
