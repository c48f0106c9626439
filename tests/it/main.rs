//! One integration-test binary (faster to link than many): queueing theory, invariants,
//! determinism and the command line.

mod cli;
mod determinism;
mod invariants;
mod llm;
mod plan;
mod queueing;
mod replay;
mod scenarios;
mod support;
