//! One integration-test binary (faster to link than many): queueing theory, invariants,
//! determinism and the command line.

mod cli;
mod determinism;
mod invariants;
mod llm;
mod queueing;
mod scenarios;
mod support;
mod sweep;
