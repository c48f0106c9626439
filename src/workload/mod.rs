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
use crate::scenario::{ArrivalProcess, Dist, Scenario, ServerKind};
use crate::trace::TraceFormat;

/// One request as it enters the system.
#[derive(Clone, Debug, PartialEq, Eq)]
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
    /// The session this request is a round of (the id of its first round).
    pub session: u64,
    /// Round number within the session, from 1.
    pub round: u32,
    /// When the session's first round arrived.
    pub session_start: SimTime,
    /// KV block hashes of the prompt, when a trace gives them (Mooncake).
    pub blocks: Option<std::sync::Arc<Vec<u64>>>,
}

impl Request {
    /// Whether this is a later round of a session (it arrives after an earlier round's answer,
    /// not from the arrival process).
    pub fn is_follow_up(&self) -> bool {
        self.round > 1
    }
}

/// Generates requests in arrival order until the end of the run.
pub struct Workload {
    arrivals: Arrivals,
    service: Option<(Dist, ChaCha8Rng)>,
    tokens: Option<TokenDraws>,
    /// Rounds per session and the think time between them.
    rounds: u32,
    think: Option<Dist>,
    system_prompt_tokens: u32,
    seed: u64,
    end: SimTime,
    next_id: u64,
}

/// Where arrival times come from (one per replication, so its size does not matter).
#[allow(clippy::large_enum_variant)]
enum Arrivals {
    Poisson {
        interarrival: Exp<f64>,
        rng: ChaCha8Rng,
        next_time_s: f64,
    },
    Diurnal(diurnal::DiurnalArrivals),
    Trace(TraceReplay),
}

/// A trace replayed in order, time scaled by `1 / rate_scale`, optionally looped.
struct TraceReplay {
    records: std::sync::Arc<Vec<crate::trace::TraceRecord>>,
    /// Mooncake's 3-second steps spread within each step (this replication's own draw).
    spread: Option<Vec<crate::trace::TraceRecord>>,
    index: usize,
    pass: u64,
    /// Length of one pass in trace seconds (span plus one mean gap, so loops do not collide).
    period_s: f64,
    rate_scale: f64,
    looped: bool,
}

impl TraceReplay {
    fn records(&self) -> &[crate::trace::TraceRecord] {
        self.spread.as_deref().unwrap_or(&self.records)
    }

    /// The next record's (arrival seconds, input, output, block hashes), or `None` at the end.
    fn next(&mut self) -> Option<(f64, u32, u32, Option<BlockChain>)> {
        if self.index >= self.records().len() {
            if !self.looped {
                return None;
            }
            self.index = 0;
            self.pass += 1;
        }
        let r = &self.records()[self.index];
        let t = (r.arrival_s + self.pass as f64 * self.period_s) / self.rate_scale;
        let blocks = (!r.hash_ids.is_empty()).then(|| std::sync::Arc::new(r.hash_ids.clone()));
        let out = (t, r.input_tokens.max(1), r.output_tokens.max(1), blocks);
        self.index += 1;
        Some(out)
    }
}

/// A prompt's KV block hashes, shared between a request and its copies.
pub type BlockChain = std::sync::Arc<Vec<u64>>;

/// Mooncake trace timestamps come in 3-second steps (traces/README.md).
pub const MOONCAKE_STEP_S: f64 = 3.0;

impl Workload {
    /// The workload of one replication seeded with `seed`.
    ///
    /// # Panics
    ///
    /// On a scenario that did not come from validation with a distribution or arrival
    /// process validation would have refused (a caller bug).
    pub fn new(scenario: &Scenario, seed: u64) -> Self {
        let tr = &scenario.traffic;
        let arrivals = match &tr.arrival {
            ArrivalProcess::Poisson | ArrivalProcess::TracePoisson(_) => Arrivals::Poisson {
                interarrival: Exp::new(tr.requests_per_s)
                    .expect("validation gives Poisson arrivals a positive finite rate"),
                rng: stream(seed, Purpose::Arrivals),
                next_time_s: 0.0,
            },
            ArrivalProcess::Diurnal {
                profile,
                start_hour,
                ..
            } => Arrivals::Diurnal(
                diurnal::DiurnalArrivals::new(
                    // Normalised once more, as the arrivals always were: the weights then
                    // match the last bit of every earlier run.
                    crate::scenario::DailyProfile::from_weights(&profile.hourly_weights)
                        .expect("a validated profile has 24 usable weights"),
                    tr.requests_per_s,
                    *start_hour,
                    stream(seed, Purpose::Arrivals),
                )
                .expect("validation checked the day profile, the rate and the start hour"),
            ),
            ArrivalProcess::Trace(trace) => {
                let records = trace.records.clone();
                let spread = (trace.format == TraceFormat::Mooncake).then(|| {
                    crate::trace::spread_steps(
                        &records,
                        MOONCAKE_STEP_S,
                        crate::engine::rng::mix64(seed ^ Purpose::Arrivals as u64),
                    )
                });
                let span = records.last().map_or(0.0, |r| r.arrival_s)
                    - records.first().map_or(0.0, |r| r.arrival_s);
                let gap = span / (records.len().max(2) - 1) as f64;
                Arrivals::Trace(TraceReplay {
                    records,
                    spread,
                    index: 0,
                    pass: 0,
                    period_s: span + gap,
                    rate_scale: trace.rate_scale,
                    looped: trace.loop_trace,
                })
            }
        };
        let service = match &scenario.servers.kind {
            ServerKind::Queue { service_time_s, .. } => Some((
                service_time_s
                    .build()
                    .expect("validation built the service time distribution"),
                stream(seed, Purpose::Service),
            )),
            ServerKind::Llm(_) => None,
        };
        let tokens = scenario.request.as_ref().map(|r| TokenDraws {
            input: r
                .input_tokens
                .build()
                .expect("validation built the input token distribution"),
            input_rng: stream(seed, Purpose::InputTokens),
            output: r
                .output_tokens
                .build()
                .expect("validation built the output token distribution"),
            output_rng: stream(seed, Purpose::OutputTokens),
        });
        let rounds = scenario.request.as_ref().map_or(1, |r| r.rounds);
        let think = scenario
            .request
            .as_ref()
            .and_then(|r| r.think_time_s.as_ref())
            .map(|d| {
                d.build()
                    .expect("validation built the think time distribution")
            });
        Workload {
            arrivals,
            service,
            tokens,
            rounds,
            think,
            seed,
            system_prompt_tokens: scenario
                .request
                .as_ref()
                .map_or(0, |r| r.system_prompt_tokens),
            end: SimTime::from_secs_f64(scenario.traffic.duration_s),
            next_id: 0,
        }
    }

    /// The next request, or `None` once arrivals have passed the end of the run.
    ///
    /// Arrival times accumulate in f64 seconds and are rounded once per request, so rounding
    /// never drifts the rate.
    pub fn next_request(&mut self) -> Option<Request> {
        let mut trace_tokens = None;
        let mut blocks = None;
        let time_s = match &mut self.arrivals {
            Arrivals::Poisson {
                interarrival,
                rng,
                next_time_s,
            } => {
                *next_time_s += interarrival.sample(rng);
                *next_time_s
            }
            Arrivals::Diurnal(d) => d.next_arrival_s(),
            Arrivals::Trace(t) => {
                let (time_s, input, output, hashes) = t.next()?;
                trace_tokens = Some((input, output));
                blocks = hashes;
                time_s
            }
        };
        let arrival = SimTime::from_secs_f64(time_s);
        if arrival >= self.end {
            return None;
        }
        let work = match &mut self.service {
            Some((d, rng)) => SimDuration::from_secs_f64(d.sample(rng)),
            None => SimDuration::ZERO,
        };
        let (input_tokens, output_tokens) = match (&mut self.tokens, trace_tokens) {
            // A replayed trace carries each request's own token counts.
            (_, Some(tokens)) => tokens,
            (Some(t), None) => (
                round_tokens(t.input.sample(&mut t.input_rng))
                    .saturating_add(self.system_prompt_tokens),
                round_tokens(t.output.sample(&mut t.output_rng)),
            ),
            (None, None) => (0, 0),
        };
        let id = self.next_id;
        self.next_id += 1;
        Some(Request {
            id,
            arrival,
            work,
            input_tokens,
            output_tokens,
            session: id,
            round: 1,
            session_start: arrival,
            blocks,
        })
    }

    /// The next round of `done`'s session, asked after `done` was answered at `answered`, or
    /// `None` when the session is over or the next round would arrive after the run ends.
    ///
    /// Its prompt carries the conversation: `done`'s whole prompt, `done`'s answer, and a new
    /// input drawn like a first round's. Its output length is drawn afresh.
    pub fn follow_up(&mut self, done: &Request, answered: SimTime) -> Option<Request> {
        if done.round >= self.rounds {
            return None;
        }
        // Each later round draws from its own stream, keyed by (session, round), so its
        // think time and tokens do not depend on the order in which rounds finish (common
        // random numbers across fleet sizes).
        let key = crate::engine::rng::mix64(
            self.seed ^ done.session.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ u64::from(done.round),
        );
        let mut rng = stream(key, Purpose::Sessions);
        let think_s = match &self.think {
            Some(d) => d.sample(&mut rng).max(0.0),
            None => 0.0,
        };
        let arrival = answered + SimDuration::from_secs_f64(think_s);
        if arrival >= self.end {
            return None;
        }
        let (own_input, output_tokens) = match &self.tokens {
            Some(t) => (
                round_tokens(t.input.sample(&mut rng)),
                round_tokens(t.output.sample(&mut rng)),
            ),
            None => (0, 0),
        };
        let id = self.next_id;
        self.next_id += 1;
        Some(Request {
            id,
            arrival,
            work: SimDuration::ZERO,
            input_tokens: done
                .input_tokens
                .saturating_add(done.output_tokens)
                .saturating_add(own_input),
            output_tokens,
            session: done.session,
            round: done.round + 1,
            session_start: done.session_start,
            blocks: None,
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
        // `x.round().clamp(1.0, u32::MAX)`, without `f64::round`'s library call.
        crate::engine::time::round_to_u64(x).clamp(1, u64::from(u32::MAX)) as u32
    } else {
        1
    }
}
