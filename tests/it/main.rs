//! One integration-test binary (faster to link than many): queueing theory, invariants,
//! determinism, the command line and the HTTP service.

mod browser;
mod cli;
mod costs;
mod determinism;
mod disagg;
mod export;
mod fuzz;
mod hardening;
mod invariants;
mod llm;
mod plan;
mod queueing;
mod replay;
mod requests_csv;
mod scenarios;
#[cfg(feature = "serve")]
mod serve;
mod shards;
mod steady;
mod support;
mod sweep;
