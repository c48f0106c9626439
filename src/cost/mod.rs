#![deny(missing_docs)]

//! Costs: the 2023 analyst reports' formulas (R1–R4), cloud price presets, self-built TCO,
//! and a bridge that explains the gap between a report-style formula and a simulation.
//!
//! Layout:
//! - [`formula`]: R1's per-token and per-task cost method, and the equivalent idle rate.
//! - [`bridge`](mod@bridge): multiplicative (log-ratio) decomposition of formula vs simulated cost.
//! - [`reports`]: every figure of every report recomputed from its own inputs ([`Estimate`]).
//! - [`tco`]: self-built cost per server-hour (the presets, scenario inputs, are in
//!   [`crate::scenario::tco`]; cloud prices in [`crate::scenario::prices`]).
//! - [`render`]: text table and JSON for a list of estimates ([`number`] formats their figures).
//!
//! Convention: every monetary name carries its unit (`_usd`, `_cents`), every time `_s` or
//! `_hours`, every power `_kw`. Rates (idle, cache hit, MFU) are fractions in `[0, 1]`.

pub mod bridge;
pub mod formula;
pub mod number;
pub mod render;
pub mod reports;
pub mod tco;

pub mod run_cost;
pub use bridge::{BridgeFactors, BridgeTerm, bridge};
pub use formula::{
    FormulaInputs, FormulaTerm, PerTokenInputs, equivalent_idle_rate, formula_breakdown,
    formula_cost_cents,
};
pub use render::{render_estimates_json, render_estimates_text};
pub use reports::{
    Estimate, EstimateInput, all_estimates, estimate_for_scenario, estimate_scenario,
    find_estimate, not_llm_message,
};
pub use run_cost::{RunCost, run_costs};
pub use tco::{SELF_BUILT_FRACTION_OF_CLOUD, TcoBreakdown, self_built_from_cloud_usd};
