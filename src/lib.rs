//! fleetsim: a discrete-event simulator for sizing fleets of LLM inference servers.

pub mod cache;
pub mod cli;
pub mod cost;
pub mod drivers;
pub mod engine;
pub mod fleet;
#[cfg(feature = "serve")]
pub mod http;
pub mod metrics;
pub mod report;
pub mod router;
pub mod scenario;
pub mod theory;
pub mod timing;
pub mod trace;
pub mod workload;
