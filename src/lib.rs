//! fleetsim: a discrete-event simulator for sizing fleets of LLM inference servers.
//!
//! # Layout
//!
//! The pipeline, in the order a request meets it; each module imports only the ones above
//! it in this list (and the libraries at the bottom), never a later one:
//!
//! 1. [`scenario`]: the TOML a user writes, validated into a typed [`scenario::Scenario`]
//!    (arrival process, request, model, servers, router, cache, cost, targets) with one
//!    error per bad key.
//! 2. [`workload`]: the request stream: arrival times (Poisson, time of day, a replayed
//!    trace) and what each request asks for.
//! 3. [`cache`]: the response cache in front of the fleet (`response`), and the
//!    per-replica prompt-prefix KV cache (`prefix`).
//! 4. [`router`]: which server a request goes to (policies, the central queue, prefix
//!    affinity).
//! 5. [`fleet`]: one replication: the simulated servers (queue servers; GPU replicas with
//!    continuous batching, `replica`; a fleet split into prefill and decode pools joined
//!    by KV links, `disagg`), the autoscaler, and the per-event handlers the engine's loop
//!    drives.
//! 6. [`metrics`]: what a replication measured (latency histograms, time-weighted levels,
//!    steady-state diagnostics) and averaging over replications with 95% intervals.
//! 7. [`cost`]: what the fleet costs (cloud prices, self-built TCO), the 2023 reports'
//!    formulas, and the bridge between a formula and a simulation.
//! 8. [`report`]: the typed run summary and the plan and sweep outcomes, and one exporter
//!    per format (terminal table, JSON, CSV, HTML) writing the results folder.
//!
//! On top: [`drivers`] (`run`, `plan`: fewest servers meeting the targets, or the cheapest
//! prefill and decode pools for a split fleet, `sweep`: a grid of scenarios), then the [`cli`] and the HTTP service (`http`, feature `serve`).
//!
//! Below, used by the stages: [`engine`] (integer time, the event queue, seeded random
//! streams, the one event loop and its stop rules), [`timing`] (the GPU step-time model:
//! kernels, collectives, host overheads, serving-stack presets, calibration), [`trace`]
//! (reading and summarising public request traces) and [`theory`] (closed-form queueing
//! results the engine is checked against).

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
