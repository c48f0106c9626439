//! The generic queueing server: `slots` requests in service at once, each for its own service
//! time (drawn by the workload at arrival), FIFO for the rest; and a fleet of them as a model
//! for the engine's event loop ([`QueueFleet`]).

use std::collections::VecDeque;

use crate::cache::ResponseCache;
use crate::engine::rng::replication_seed;
use crate::engine::{Ending, EventQueue, Flow, Model, SimTime};
use crate::fleet::tally::{FleetFigures, Tally};
use crate::fleet::{Fleet, ReplicationOutcome, RunControl};
use crate::metrics::LevelMeter;
use crate::metrics::request_log::RequestRow;
use crate::metrics::steady::Metric;
use crate::router::{CentralQueue, Loads, Router};
use crate::scenario::{RouterPolicy, Scenario};
use crate::workload::{Request, Workload};

/// One multi-slot FIFO server.
pub struct QueueServer {
    slots: u32,
    busy: u32,
    /// Requests routed here and not yet in service (unused under `central-queue`).
    pub waiting: VecDeque<Request>,
    meter: LevelMeter,
}

impl QueueServer {
    /// An idle server whose busy time is measured over [measure_from, measure_to].
    pub fn new(slots: u32, measure_from: SimTime, measure_to: SimTime) -> Self {
        QueueServer {
            slots,
            busy: 0,
            waiting: VecDeque::new(),
            meter: LevelMeter::new(measure_from, measure_to),
        }
    }

    /// Whether a slot is free.
    #[inline]
    pub fn has_free_slot(&self) -> bool {
        self.busy < self.slots
    }

    /// Requests in service plus waiting here.
    #[inline]
    pub fn outstanding(&self) -> usize {
        self.busy as usize + self.waiting.len()
    }

    /// Starts `req` in a free slot at `now`; returns when it finishes.
    #[inline]
    pub fn start(&mut self, now: SimTime, req: &Request) -> SimTime {
        debug_assert!(self.has_free_slot(), "start on a full server");
        self.busy += 1;
        self.meter.set(now, u64::from(self.busy));
        now + req.work
    }

    /// A request finished at `now`, freeing its slot.
    #[inline]
    pub fn finish(&mut self, now: SimTime) {
        debug_assert!(self.busy > 0, "finish on an idle server");
        self.busy -= 1;
        self.meter.set(now, u64::from(self.busy));
    }

    /// Closes accounting at `end`: (slot-seconds busy, seconds with any slot busy, window s).
    pub fn finish_accounting(&mut self, end: SimTime) -> (f64, f64, f64) {
        self.meter.finish(end)
    }

    /// Slots per server.
    pub fn slots(&self) -> u32 {
        self.slots
    }
}

/// Events of the queue-server fleet. The next arrival is not an event: it waits in the fleet
/// (`pending`) and the queue holds only its time, in a queue slot of its own, which keeps the
/// events small and the heap to the completions.
pub enum Event {
    /// The pending arrival is due.
    Arrival,
    /// The response cache answered a request.
    CacheDone {
        /// When the request arrived.
        arrival: SimTime,
    },
    /// A server finished a request.
    ServiceDone {
        /// The server.
        server: u32,
        /// When the request arrived.
        arrival: SimTime,
        /// When its service started.
        start: SimTime,
    },
}

/// The queue slot of the pending arrival.
const ARRIVAL_SLOT: u32 = 0;

/// How a request that missed the cache reaches a server.
#[expect(
    clippy::large_enum_variant,
    reason = "one per replication; a box would add an indirection per routed request"
)]
enum Dispatch {
    /// `central-queue`: one shared FIFO.
    Central(CentralQueue),
    /// Every other policy: a server is chosen at arrival and the request waits there.
    Routed(Router),
}

/// One replication's fleet of queue servers, handling the events of the engine's loop.
pub struct QueueFleet {
    tally: Tally,
    workload: Workload,
    cache: ResponseCache,
    dispatch: Dispatch,
    servers: Vec<QueueServer>,
    /// Requests at each server, waiting or in service.
    outstanding: Loads,
    /// Requests waiting fleet-wide.
    waiting: u64,
    /// The next arrival, due at the time in queue slot `ARRIVAL_SLOT`.
    pending: Option<Request>,
}

impl QueueFleet {
    /// Replication `replication` of `scenario` on servers of `slots` slots each, with its
    /// first arrival scheduled.
    pub fn new(
        scenario: &Scenario,
        slots: u32,
        replication: u32,
        ctl: &RunControl,
    ) -> (QueueFleet, EventQueue<Event>) {
        let seed = replication_seed(scenario.run.seed, replication);
        let warmup = SimTime::from_secs_f64(scenario.traffic.warmup_s);
        let end = SimTime::from_secs_f64(scenario.traffic.duration_s);
        let n = scenario.servers.count as usize;
        let router = Router::new(scenario.router.policy, seed);
        let dispatch = if router.policy() == RouterPolicy::CentralQueue {
            Dispatch::Central(CentralQueue::new(n, slots))
        } else {
            Dispatch::Routed(router)
        };
        let mut fleet = QueueFleet {
            tally: Tally::new(warmup, end, ctl.open_request_log(replication)),
            workload: Workload::new(scenario, seed),
            cache: ResponseCache::new(&scenario.cache, seed),
            dispatch,
            servers: (0..n)
                .map(|_| QueueServer::new(slots, warmup, end))
                .collect(),
            outstanding: Loads::new(n),
            waiting: 0,
            pending: None,
        };
        let mut queue = EventQueue::with_slots(1, |_| Event::Arrival);
        fleet.pending = fleet.workload.next_request();
        if let Some(r) = &fleet.pending {
            queue.set_slot(ARRIVAL_SLOT, r.arrival);
        }
        (fleet, queue)
    }

    /// The pending request arrives: the cache, else a free slot, else a queue.
    #[inline(always)]
    fn on_arrival(&mut self, now: SimTime, queue: &mut EventQueue<Event>) -> Flow {
        let req = self.pending.take().expect("an arrival is pending");
        self.pending = self.workload.next_request();
        if let Some(next) = &self.pending {
            queue.set_slot(ARRIVAL_SLOT, next.arrival);
        }
        self.tally.arrived(now, req.arrival);
        if let Some(latency) = self.cache.lookup(&req) {
            let arrival = req.arrival;
            queue.push(now + latency, Event::CacheDone { arrival });
            return Flow::Continue;
        }
        match &mut self.dispatch {
            Dispatch::Central(central) => match central.take_free_slot() {
                Some(s) => self.start_service(queue, s, req, now),
                None => {
                    central.push(req);
                    self.waiting += 1;
                }
            },
            Dispatch::Routed(router) => {
                let s = router.choose(&self.outstanding);
                if self.servers[s].has_free_slot() {
                    self.start_service(queue, s as u32, req, now);
                } else {
                    self.servers[s].waiting.push_back(req);
                    self.outstanding.inc(s);
                    self.waiting += 1;
                }
            }
        }
        Flow::Queued
    }

    /// `server` finished a request: record it, then start the next one waiting for it.
    #[inline(always)]
    fn on_service_done(
        &mut self,
        now: SimTime,
        server: u32,
        arrival: SimTime,
        start: SimTime,
        queue: &mut EventQueue<Event>,
    ) {
        let t = &mut self.tally;
        t.left(now);
        if t.measured(arrival) {
            t.counts.completed += 1;
            t.e2e.record(now - arrival);
            t.wait.record(start - arrival);
            t.service.record(now - start);
            if let Some(log) = &mut t.log {
                log.row(&RequestRow {
                    arrival,
                    done: now,
                    started: Some(start),
                    replica: Some(server),
                    ..RequestRow::default()
                });
            }
        }
        t.steady.record(Metric::E2e, arrival, now, now - arrival);
        t.steady
            .record(Metric::QueueWait, arrival, now, start - arrival);
        let s = server as usize;
        self.servers[s].finish(now);
        self.outstanding.dec(s);
        let next = match &mut self.dispatch {
            Dispatch::Central(central) => central.slot_freed(server),
            Dispatch::Routed(_) => {
                let r = self.servers[s].waiting.pop_front();
                if r.is_some() {
                    self.outstanding.dec(s);
                }
                r
            }
        };
        if let Some(r) = next {
            self.waiting -= 1;
            self.start_service(queue, server, r, now);
        }
    }

    #[inline(always)]
    fn start_service(
        &mut self,
        queue: &mut EventQueue<Event>,
        server: u32,
        req: Request,
        now: SimTime,
    ) {
        let s = server as usize;
        let done = self.servers[s].start(now, &req);
        self.outstanding.inc(s);
        queue.push(
            done,
            Event::ServiceDone {
                server,
                arrival: req.arrival,
                start: now,
            },
        );
    }

    /// Measured requests still waiting at the end, fleet-wide.
    fn measured_waiting(&self) -> u64 {
        let count = |q: &VecDeque<Request>| {
            q.iter().filter(|r| self.tally.measured(r.arrival)).count() as u64
        };
        let central = match &self.dispatch {
            Dispatch::Central(c) => count(c.waiting()),
            Dispatch::Routed(_) => 0,
        };
        central + self.servers.iter().map(|s| count(&s.waiting)).sum::<u64>()
    }
}

impl Model for QueueFleet {
    type Event = Event;

    #[inline(always)]
    fn handle(&mut self, now: SimTime, ev: Event, queue: &mut EventQueue<Event>) -> Flow {
        match ev {
            Event::Arrival => return self.on_arrival(now, queue),
            Event::CacheDone { arrival } => self.tally.cache_done(now, arrival, None),
            Event::ServiceDone {
                server,
                arrival,
                start,
            } => self.on_service_done(now, server, arrival, start, queue),
        }
        Flow::Continue
    }

    fn drop_after_end(&mut self, ev: &Event) -> bool {
        // Draining: no new arrivals; completions go on until the system is empty.
        let arrival = matches!(ev, Event::Arrival);
        if arrival {
            self.pending = None;
        }
        arrival
    }

    #[inline]
    fn waiting(&self) -> u64 {
        self.waiting
    }
}

impl Fleet for QueueFleet {
    fn finish(
        mut self,
        mut ending: Ending,
        mut queue: EventQueue<Event>,
        ctl: &RunControl,
    ) -> ReplicationOutcome {
        let now = ending.now;
        // Measured requests still in the system: those in service, waiting, or in the cache.
        let mut in_flight = 0u64;
        while let Some((_, ev)) = queue.pop() {
            match ev {
                Event::Arrival => {}
                Event::CacheDone { arrival } | Event::ServiceDone { arrival, .. } => {
                    in_flight += u64::from(self.tally.measured(arrival))
                }
            }
        }
        let waiting_measured = self.measured_waiting();
        let counts = &mut self.tally.counts;
        counts.in_flight = in_flight + waiting_measured;
        if ending.overload.is_none()
            && waiting_measured > 50
            && waiting_measured * 100 > counts.arrived
        {
            // Judged from the run, not from a formula (an emergent cache hit rate can fool
            // it): a queue that grew through the measured window by more than 1% of the
            // measured arrivals is not keeping up, even if it never reached run.max_queue
            // (the LLM fleet's rule).
            ending.overload = Some(format!(
                "{waiting_measured} requests that arrived in the measured window were still \
                 waiting at the end ({} arrived): the fleet cannot keep up with the offered load",
                counts.arrived
            ));
        }

        let n = self.servers.len();
        let slots = self.servers.first().map_or(0, QueueServer::slots);
        let mut idle = Vec::with_capacity(n);
        let (mut slot_area, mut window) = (0.0, 0.0);
        for s in &mut self.servers {
            let (area, busy, w) = s.finish_accounting(now);
            slot_area += area;
            window = w;
            idle.push(1.0 - if w > 0.0 { busy / w } else { 0.0 });
        }
        let idle_mean = idle.iter().sum::<f64>() / n as f64;
        let utilization = if window > 0.0 {
            slot_area / (window * n as f64 * f64::from(slots))
        } else {
            0.0
        };
        let figures = FleetFigures {
            idle_achieved: idle_mean,
            per_server_idle: &idle,
            utilization,
            window_s: window,
            ttft_tpot: None,
        };
        self.tally.finish(ending, figures, ctl)
    }
}
