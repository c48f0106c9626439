//! The deterministic event engine: integer time, an ordered event queue, seeded streams.

pub mod queue;
pub mod rng;
pub mod time;

pub use queue::EventQueue;
pub use time::{SimDuration, SimTime};
