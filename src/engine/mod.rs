//! The deterministic event engine: integer time, an ordered event queue, seeded streams.

pub mod time;
