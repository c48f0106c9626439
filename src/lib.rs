//! fleetsim: a discrete-event simulator for sizing fleets of LLM inference servers.

pub mod cache;
pub mod cli;
pub mod cost;
pub mod engine;
pub mod llm;
pub mod metrics;
pub mod plan;
pub mod prefix_cache;
pub mod report;
pub mod router;
pub mod run;
pub mod scenario;
#[cfg(feature = "serve")]
pub mod serve;
pub mod server;
pub mod sim;
pub mod sweep;
pub mod theory;
pub mod trace;
pub mod workload;
