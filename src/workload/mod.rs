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
    /// Prompt tokens (LLM servers; zero otherwise).
    pub input_tokens: u32,
    /// Tokens to generate (LLM servers; zero otherwise).
    pub output_tokens: u32,
}

/// Generates requests in arrival order until the end of the run.
pub struct Workload {
    interarrival: Exp<f64>,
    arrivals_rng: ChaCha8Rng,
    service: Option<(Dist, ChaCha8Rng)>,
    tokens: Option<TokenDraws>,
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
            ServerKind::Llm(_) => None,
        };
        let tokens = scenario.request.as_ref().and_then(|r| {
            Some(TokenDraws {
                input: r.input_tokens.build().ok()?,
                input_rng: stream(seed, Purpose::InputTokens),
                output: r.output_tokens.build().ok()?,
                output_rng: stream(seed, Purpose::OutputTokens),
            })
        });
        Workload {
            interarrival,
            arrivals_rng: stream(seed, Purpose::Arrivals),
            service,
            tokens,
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
        let (input_tokens, output_tokens) = match &mut self.tokens {
            Some(t) => (
                round_tokens(t.input.sample(&mut t.input_rng)),
                round_tokens(t.output.sample(&mut t.output_rng)),
            ),
            None => (0, 0),
        };
        let id = self.next_id;
        self.next_id += 1;
        Some(Request {
            id,
            arrival,
            work,
            input_tokens,
            output_tokens,
        })
    }
}

/// Token-count distributions with their own streams.
struct TokenDraws {
    input: Dist,
    input_rng: ChaCha8Rng,
    output: Dist,
    output_rng: ChaCha8Rng,
}

/// A drawn token count as a whole number of tokens, at least 1.
fn round_tokens(x: f64) -> u32 {
    if x.is_finite() {
        x.round().clamp(1.0, f64::from(u32::MAX)) as u32
    } else {
        1
    }
}
