//! What a run measures: latency recorders, time-weighted levels (idle, utilisation, Little's
//! law) and confidence intervals over replications.

pub mod busy;
pub mod ci;
pub mod disagg;
pub mod latency;
pub mod replication;
pub mod request_log;
pub mod steady;

pub use busy::LevelMeter;
pub use latency::{LatencyRecorder, LatencySummary};
