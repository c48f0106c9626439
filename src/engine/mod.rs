//! The deterministic event engine: integer time, an ordered event queue, seeded streams, and
//! the one event loop with its stop conditions.

pub mod event_loop;
pub mod hint;
pub mod queue;
pub mod rng;
pub mod time;

pub use event_loop::{Ending, Flow, Model, StopRules};
pub use queue::EventQueue;
pub use time::{SimDuration, SimTime};
