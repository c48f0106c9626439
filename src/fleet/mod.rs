//! One replication of a scenario: the event loop that moves requests through
//! workload -> cache -> router -> servers -> metrics.
//!
//! The loop is single-threaded and deterministic: integer time, events in (time, insertion)
//! order, and every random draw from a named stream of the replication's seed.

use std::collections::VecDeque;

use crate::cache::ResponseCache;
use crate::engine::rng::replication_seed;
use crate::engine::{EventQueue, SimTime};
use crate::fleet::queue_server::QueueServer;
use crate::metrics::steady::{Metric, SteadyRecorder};
use crate::metrics::{LatencyRecorder, LevelMeter};
use crate::router::{Loads, Router};
use crate::scenario::{RouterPolicy, Scenario, ServerKind};
use crate::workload::{Request, Workload};

pub mod control;
pub mod disagg;
pub mod gpu;
pub mod kv_link;
pub mod queue_server;
pub mod replica;
pub use crate::metrics::replication::{
    IdleRates, Latencies, LlmMetrics, ReplicationMetrics, ReplicationOutcome, RequestCounts,
};
pub use control::RunControl;

/// Events of the queue-server loop. The next arrival is not an event: it waits in the loop
/// (`pending`) and the queue holds only its time, in slot [`ARRIVAL_SLOT`], which keeps the
/// events small and the heap to the completions.
enum Event {
    /// The pending arrival is due.
    Arrival,
    CacheDone {
        arrival: SimTime,
    },
    ServiceDone {
        server: u32,
        arrival: SimTime,
        start: SimTime,
    },
}

/// The offered load ratio λ·(1 − h)·E\[S\] / (servers · slots) where it is known before running
/// (queue servers with no cache or a fixed hit rate); at or above 1 no finite fleet queue is
/// stable.
pub fn offered_load(s: &Scenario) -> Option<f64> {
    match &s.servers.kind {
        ServerKind::Queue {
            slots,
            service_time_s,
        } => {
            // An LRU cache's hit rate emerges from the run (and starts at zero while it
            // fills): no formula gives the load it leaves, so it is judged from the run.
            if matches!(s.cache, crate::scenario::CacheSpec::Lru { .. }) {
                return None;
            }
            let mean = service_time_s.build().ok()?.mean();
            let lambda = s.traffic.requests_per_s * (1.0 - s.cache.assumed_hit_rate());
            Some(lambda * mean / (f64::from(s.servers.count) * f64::from(*slots)))
        }
        // Batching makes an LLM server's capacity depend on the load itself; stability is
        // judged from the run (queue growth), not before it.
        ServerKind::Llm(_) => None,
    }
}

/// The queue slot of the pending arrival.
const ARRIVAL_SLOT: u32 = 0;

struct Fleet {
    servers: Vec<QueueServer>,
    outstanding: Loads,
    /// One entry per free slot (server index), for `central-queue`.
    free_slots: Vec<u32>,
    central: VecDeque<Request>,
    waiting: u64,
}

/// Runs replication `replication` of `scenario`.
pub fn run_replication(scenario: &Scenario, replication: u32) -> ReplicationOutcome {
    run_replication_with(scenario, replication, &control::UNCONTROLLED)
}

/// Runs replication `replication`, stopping early (as `overload`, with
/// [`control::CANCELLED`]) if `ctl` is cancelled.
pub fn run_replication_with(
    scenario: &Scenario,
    replication: u32,
    ctl: &RunControl,
) -> ReplicationOutcome {
    match &scenario.servers.kind {
        ServerKind::Queue { slots, .. } => {
            run_queue_replication(scenario, *slots, replication, ctl)
        }
        // Issue 17: a fleet split into prefill and decode pools.
        ServerKind::Llm(_) if scenario.servers.disagg.is_some() => {
            let split = scenario.servers.disagg.as_deref().expect("checked");
            disagg::run_disagg_replication(scenario, split, replication, ctl)
        }
        ServerKind::Llm(spec) => gpu::run_llm_replication(scenario, spec, replication, ctl),
    }
}

fn run_queue_replication(
    scenario: &Scenario,
    slots: u32,
    replication: u32,
    ctl: &RunControl,
) -> ReplicationOutcome {
    let seed = replication_seed(scenario.run.seed, replication);
    let warmup = SimTime::from_secs_f64(scenario.traffic.warmup_s);
    let end = SimTime::from_secs_f64(scenario.traffic.duration_s);
    let n = scenario.servers.count as usize;

    let mut workload = Workload::new(scenario, seed);
    let mut cache = ResponseCache::new(&scenario.cache, seed);
    let mut router = Router::new(scenario.router.policy, seed);
    let central = router.policy() == RouterPolicy::CentralQueue;
    let mut fleet = Fleet {
        servers: (0..n)
            .map(|_| QueueServer::new(slots, warmup, end))
            .collect(),
        outstanding: Loads::new(n),
        free_slots: (0..slots)
            .flat_map(|_| (0..n as u32).rev())
            .collect::<Vec<u32>>(),
        central: VecDeque::new(),
        waiting: 0,
    };

    let mut request_log = ctl.open_request_log(replication);
    let mut e2e = LatencyRecorder::new();
    let mut wait = LatencyRecorder::new();
    let mut service = LatencyRecorder::new();
    let mut counts = RequestCounts::default();
    let mut in_system = LevelMeter::new(warmup, end);
    let mut steady = SteadyRecorder::new(warmup, end);
    let mut overload = None;
    let mut now = SimTime::ZERO;

    let mut queue: EventQueue<Event> = EventQueue::with_slots(1, |_| Event::Arrival);
    let mut pending = workload.next_request();
    if let Some(r) = &pending {
        queue.set_slot(ARRIVAL_SLOT, r.arrival);
    }

    let mut events = 0u64;
    while let Some((t, ev)) = queue.pop() {
        events += 1;
        if events & (control::CHECK_EVERY_EVENTS - 1) == 0 && ctl.is_cancelled() {
            queue.push(t, ev);
            overload = Some(control::CANCELLED.to_string());
            break;
        }
        if t >= end {
            if !scenario.run.drain {
                // Put it back: a completion due after the end is still in flight.
                queue.push(t, ev);
                now = end;
                break;
            }
            // Draining: no new arrivals; completions go on until the system is empty.
            if matches!(ev, Event::Arrival) {
                pending = None;
                continue;
            }
        }
        now = t;
        match ev {
            Event::Arrival => {
                let req = pending.take().expect("an arrival is pending");
                pending = workload.next_request();
                if let Some(next) = &pending {
                    queue.set_slot(ARRIVAL_SLOT, next.arrival);
                }
                let measured = req.arrival >= warmup;
                counts.arrived += u64::from(measured);
                in_system.set(now, in_system.level() + 1);
                if let Some(latency) = cache.lookup(&req) {
                    queue.push(
                        now + latency,
                        Event::CacheDone {
                            arrival: req.arrival,
                        },
                    );
                    continue;
                }
                if central {
                    if let Some(s) = fleet.free_slots.pop() {
                        start_service(&mut fleet, &mut queue, s, req, now);
                    } else {
                        fleet.central.push_back(req);
                        fleet.waiting += 1;
                    }
                } else {
                    let s = router.choose(&fleet.outstanding);
                    if fleet.servers[s].has_free_slot() {
                        start_service(&mut fleet, &mut queue, s as u32, req, now);
                    } else {
                        fleet.servers[s].waiting.push_back(req);
                        fleet.outstanding.inc(s);
                        fleet.waiting += 1;
                    }
                }
                if fleet.waiting > scenario.run.max_queue {
                    overload = Some(format!(
                        "{} requests were waiting at t = {:.1} s (run.max_queue = {}): the fleet \
                         cannot keep up with the offered load",
                        fleet.waiting,
                        now.as_secs_f64(),
                        scenario.run.max_queue
                    ));
                    break;
                }
            }
            Event::CacheDone { arrival } => {
                in_system.set(now, in_system.level() - 1);
                if arrival >= warmup {
                    counts.completed += 1;
                    counts.cache_hits += 1;
                    e2e.record(now - arrival);
                    if let Some(log) = &mut request_log {
                        log.row(&crate::metrics::request_log::RequestRow {
                            arrival,
                            done: now,
                            cache_hit: true,
                            ..Default::default()
                        });
                    }
                }
                steady.record(Metric::E2e, arrival, now, now - arrival);
            }
            Event::ServiceDone {
                server,
                arrival,
                start,
            } => {
                in_system.set(now, in_system.level() - 1);
                if arrival >= warmup {
                    counts.completed += 1;
                    e2e.record(now - arrival);
                    wait.record(start - arrival);
                    service.record(now - start);
                    if let Some(log) = &mut request_log {
                        log.row(&crate::metrics::request_log::RequestRow {
                            arrival,
                            done: now,
                            started: Some(start),
                            replica: Some(server),
                            ..Default::default()
                        });
                    }
                }
                steady.record(Metric::E2e, arrival, now, now - arrival);
                steady.record(Metric::QueueWait, arrival, now, start - arrival);
                let s = server as usize;
                fleet.servers[s].finish(now);
                fleet.outstanding.dec(s);
                let next = if central {
                    fleet.central.pop_front()
                } else {
                    let r = fleet.servers[s].waiting.pop_front();
                    if r.is_some() {
                        fleet.outstanding.dec(s);
                    }
                    r
                };
                match next {
                    Some(r) => {
                        fleet.waiting -= 1;
                        start_service(&mut fleet, &mut queue, server, r, now);
                    }
                    None if central => fleet.free_slots.push(server),
                    None => {}
                }
            }
        }
    }

    if overload.is_none() {
        // Arrivals stopped and the system may have drained early: the window still ends at
        // the end of the run.
        now = end;
    }
    // Measured requests still in the system: those in service, waiting, or in the cache.
    let mut in_flight = 0u64;
    while let Some((_, ev)) = queue.pop() {
        match ev {
            Event::Arrival => {}
            Event::CacheDone { arrival } | Event::ServiceDone { arrival, .. } => {
                in_flight += u64::from(arrival >= warmup)
            }
        }
    }
    let measured_waiting = |q: &VecDeque<Request>| q.iter().filter(|r| r.arrival >= warmup).count();
    let mut waiting_measured = measured_waiting(&fleet.central) as u64;
    for s in &fleet.servers {
        waiting_measured += measured_waiting(&s.waiting) as u64;
    }
    in_flight += waiting_measured;
    counts.in_flight = in_flight;
    if overload.is_none() && waiting_measured > 50 && waiting_measured * 100 > counts.arrived {
        // Judged from the run, not from a formula (an emergent cache hit rate can fool it):
        // a queue that grew through the measured window by more than 1% of the measured
        // arrivals is not keeping up, even if it never reached run.max_queue (the LLM
        // fleet's rule).
        overload = Some(format!(
            "{waiting_measured} requests that arrived in the measured window were still \
             waiting at the end ({} arrived): the fleet cannot keep up with the offered load",
            counts.arrived
        ));
    }

    let mut busy_fracs = Vec::with_capacity(n);
    let (mut slot_area, mut window) = (0.0, 0.0);
    for s in &mut fleet.servers {
        let (area, busy, w) = s.finish_accounting(now);
        slot_area += area;
        window = w;
        busy_fracs.push(if w > 0.0 { busy / w } else { 0.0 });
    }
    steady.finish([Some(&e2e), Some(&wait), None, None]);
    let idle: Vec<f64> = busy_fracs.iter().map(|b| 1.0 - b).collect();
    let idle_mean = idle.iter().sum::<f64>() / n as f64;
    let (l_area, _, _) = in_system.finish(now);

    let metrics = ReplicationMetrics {
        requests: counts.clone(),
        latency_s: Latencies {
            e2e: e2e.summary(),
            queue_wait: wait.summary(),
            service: service.summary(),
            ttft: None,
            tpot: None,
        },
        wait_probability: wait.positive_fraction(),
        idle_rate: IdleRates {
            achieved: idle_mean,
            per_server_min: idle.iter().copied().fold(f64::INFINITY, f64::min),
            per_server_mean: idle_mean,
            per_server_max: idle.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        },
        utilization: if window > 0.0 {
            slot_area / (window * n as f64 * f64::from(slots))
        } else {
            0.0
        },
        throughput_per_s: if window > 0.0 {
            e2e.count() as f64 / window
        } else {
            0.0
        },
        mean_in_system: if window > 0.0 { l_area / window } else { 0.0 },
        cache_hit_rate: if counts.arrived > 0 {
            counts.cache_hits as f64 / counts.arrived as f64
        } else {
            0.0
        },
        ended_at_s: now.as_secs_f64(),
        llm: None,
        sessions: None,
        day: None,
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

fn start_service(
    fleet: &mut Fleet,
    queue: &mut EventQueue<Event>,
    server: u32,
    req: Request,
    now: SimTime,
) {
    let s = server as usize;
    let done = fleet.servers[s].start(now, &req);
    fleet.outstanding.inc(s);
    queue.push(
        done,
        Event::ServiceDone {
            server,
            arrival: req.arrival,
            start: now,
        },
    );
}
