//! The request stream: when requests arrive and what each one asks for.
//!
//! Everything random about a request is drawn here, at arrival, from the workload's own
//! streams. Servers and routers never draw a request's size, so a fleet of 10 servers and a
//! fleet of 11 see exactly the same requests (common random numbers).

pub mod diurnal;

use rand::rngs::ChaCha8Rng;
use rand_distr::{Distribution, Exp};

use crate::engine::rng::{Purpose, stream};
use crate::engine::{SimDuration, SimTime};
use crate::scenario::{ArrivalKind, Dist, Scenario, ServerKind};

/// One request as it enters the system.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Request {
    /// Sequence number in arrival order, from 0.
    pub id: u64,
    /// When it arrived.
    pub arrival: SimTime,
    /// Service demand on a generic queue server (zero for other server kinds).
    pub work: SimDuration,
}

/// Generates requests in arrival order until the end of the run.
pub struct Workload {
    interarrival: Exp<f64>,
    arrivals_rng: ChaCha8Rng,
    service: Option<(Dist, ChaCha8Rng)>,
    next_time_s: f64,
    end: SimTime,
    next_id: u64,
}

impl Workload {
    /// The workload of one replication seeded with `seed`.
    pub fn new(scenario: &Scenario, seed: u64) -> Self {
        let ArrivalKind::Poisson = scenario.traffic.arrival;
        // Validation guarantees a positive finite rate, so Exp::new cannot fail.
        let interarrival =
            Exp::new(scenario.traffic.requests_per_s).unwrap_or_else(|_| Exp::new(1.0).unwrap());
        let service = match &scenario.servers.kind {
            ServerKind::Queue { service_time_s, .. } => service_time_s
                .build()
                .ok()
                .map(|d| (d, stream(seed, Purpose::Service))),
        };
        Workload {
            interarrival,
            arrivals_rng: stream(seed, Purpose::Arrivals),
            service,
            next_time_s: 0.0,
            end: SimTime::from_secs_f64(scenario.traffic.duration_s),
            next_id: 0,
        }
    }

    /// The next request, or `None` once arrivals have passed the end of the run.
    ///
    /// Arrival times accumulate in f64 seconds and are rounded once per request, so rounding
    /// never drifts the rate.
    pub fn next_request(&mut self) -> Option<Request> {
        self.next_time_s += self.interarrival.sample(&mut self.arrivals_rng);
        let arrival = SimTime::from_secs_f64(self.next_time_s);
        if arrival >= self.end {
            return None;
        }
        let work = match &mut self.service {
            Some((d, rng)) => SimDuration::from_secs_f64(d.sample(rng)),
            None => SimDuration::ZERO,
        };
        let id = self.next_id;
        self.next_id += 1;
        Some(Request { id, arrival, work })
    }
}
