//! The documents the drivers hand to the exporters: a run's output, a plan's outcome with its
//! search curve, and a sweep's grid. The drivers fill them; [`super::export`] writes them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::summary::RunSummary;
use crate::metrics::replication::{LatencyStat, ReplicationMetrics};
use crate::scenario::Scenario;

/// The result of `fleetsim run`.
#[derive(Clone, Debug)]
pub struct RunOutput {
    /// The validated scenario that ran.
    pub scenario: Scenario,
    /// `summary.json`: means over replications plus `ci95` half-widths.
    pub summary: RunSummary,
    /// Each replication's metrics, in replication order (`summary.csv` rows).
    pub replications: Vec<ReplicationMetrics>,
}

/// Replications each count starts with when the scenario does not set `run.replications`.
pub const AUTO_REPLICATIONS_START: u32 = 3;
/// The most replications one count gets when `plan` chooses them (3, 6, 12, then 24).
pub const AUTO_REPLICATIONS_MAX: u32 = 24;
/// One target's value at one count.
#[derive(Clone, Debug, Serialize)]
pub struct TargetValue {
    /// The scenario key, e.g. `slo.ttft_p99_s`.
    pub key: String,
    /// The statistic bounded (the key says it too).
    #[serde(skip)]
    pub stat: LatencyStat,
    /// The bound, seconds.
    pub max_s: f64,
    /// Mean over replications, seconds (null if not measured, e.g. an unstable count).
    pub mean_s: Option<f64>,
    /// 95% half-width, seconds.
    pub ci95_s: Option<f64>,
    /// `mean_s + ci95_s`, the value judged against `max_s`.
    pub upper_s: Option<f64>,
    /// Whether the count meets this target.
    pub pass: bool,
    /// The statistic over the second half of the measured window, pooled over replications
    /// (`diagnostics.second_half`), seconds.
    pub second_half_s: Option<f64>,
    /// Its relative change from the first to the second half (`diagnostics.drift`: the
    /// mean's for a mean target, the p99's for a percentile target).
    pub drift: Option<f64>,
}

/// One count the search evaluated.
#[derive(Clone, Debug, Serialize)]
pub struct CurvePoint {
    /// Server count.
    pub servers: u32,
    /// Replications run at this count.
    pub replications: u32,
    /// Meets every target (and is stable).
    pub pass: bool,
    /// The run's overload verdict (false: its queue grew without bound).
    pub stable: bool,
    /// Why it is unstable, if it is.
    pub unstable_reason: Option<String>,
    /// Every target's value.
    pub targets: Vec<TargetValue>,
    /// `idle_rate.achieved`.
    pub achieved_idle_rate: Option<f64>,
    /// `idle_rate.equivalent` (LLM fleets).
    pub equivalent_idle_rate: Option<f64>,
    /// `cost.cloud.per_request_usd`.
    pub cost_per_request_usd: Option<f64>,
    /// `cost.formula.per_request_usd`: R1's formula with the assumed rates.
    pub formula_cost_per_request_usd: Option<f64>,
    /// The steady-state warnings of this count's runs (`diagnostics.warnings`).
    pub warnings: Vec<String>,
}

/// The count just below the answer and why it fails.
#[derive(Clone, Debug, Serialize)]
pub struct Below {
    /// `servers - 1`.
    pub servers: u32,
    /// One line per failed target (value, bound and excess), or the instability.
    pub why: Vec<String>,
    /// The failed targets' values.
    pub failed: Vec<TargetValue>,
}

/// Servers in each pool of a disaggregated fleet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct PoolCounts {
    /// Prefill servers.
    pub prefill_servers: u32,
    /// Decode servers.
    pub decode_servers: u32,
}

/// How far the answer moves when every step time is scaled by the timing model's typical
/// error, both ways.
#[derive(Clone, Debug, Serialize)]
pub struct TimingBand {
    /// The faster scale, `1 − error`.
    pub step_time_scale_low: f64,
    /// The slower scale, `1 + error`.
    pub step_time_scale_high: f64,
    /// The answer with step times at `step_time_scale_low` (null if the search failed).
    pub servers_low: Option<u32>,
    /// The answer with step times at `step_time_scale_high` (null if the search failed).
    pub servers_high: Option<u32>,
    /// A disaggregated fleet's pools at `step_time_scale_low` (`servers_low` is their sum).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pair_low: Option<PoolCounts>,
    /// A disaggregated fleet's pools at `step_time_scale_high`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pair_high: Option<PoolCounts>,
    /// Why a side has no answer, if one has none.
    pub note: Option<String>,
}

/// `plan.json`: the answer, the evidence around it and the chosen count's full summary.
#[derive(Clone, Debug, Serialize)]
pub struct PlanOutcome {
    /// Scenario name.
    pub scenario: String,
    /// Master seed.
    pub seed: u64,
    /// Crate version that planned.
    pub fleetsim_version: String,
    /// Replications at the chosen count (every count's are in `curve`).
    pub replications: u32,
    /// Whether `plan` chose the replications itself (the scenario did not set them).
    pub replications_auto: bool,
    /// The targets, as `slo.<metric>_<stat>_s` → bound in seconds.
    pub targets: BTreeMap<String, f64>,
    /// The upper bound of the search.
    pub servers_max: u32,
    /// The chosen count: the smallest meeting every target.
    pub servers: u32,
    /// `servers - 1` and why it fails (null when `servers` is 1).
    pub below: Option<Below>,
    /// Achieved idle rate at the chosen count.
    pub achieved_idle_rate: Option<f64>,
    /// The idle rate that makes R1's formula give the simulated cost (LLM fleets).
    pub equivalent_idle_rate: Option<f64>,
    /// The formula's assumed idle rate.
    pub assumed_idle_rate: f64,
    /// Cloud cost per request at the chosen count, USD.
    pub cost_per_request_usd: Option<f64>,
    /// R1's formula estimate per request, USD (LLM fleets).
    pub formula_cost_per_request_usd: Option<f64>,
    /// Sentences saying when the verdict at the answer, or at the count below it, would
    /// change with longer runs (their runs had not settled and their second halves give the
    /// other verdict). Empty when nothing suggests it.
    pub flips: Vec<String>,
    /// The answer with step times scaled by the timing model's calibration error (LLM fleets).
    pub timing_band: Option<TimingBand>,
    /// Why there is no timing band, when there is none.
    pub timing_band_omitted: Option<String>,
    /// Every count tried, sorted by count.
    pub curve: Vec<CurvePoint>,
    /// The chosen count's full `summary.json`.
    pub summary: Option<RunSummary>,
    /// Issue 17: a disaggregated fleet's pools and the colocated plan beside it.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub disaggregated: Option<DisaggPlan>,
}

/// Grids up to this many points show every row in `report.html` and the printed table;
/// larger ones show the first this many (`sweep.csv` and `sweep.json` always hold all).
pub const REPORT_MAX_POINTS: usize = 10_000;

/// One axis of the grid: a dotted scenario key and the values it takes, in order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Axis {
    /// Dotted scenario key, e.g. `servers.count`.
    pub key: String,
    /// Values as JSON: integers, floats, booleans or strings.
    pub values: Vec<Value>,
}

/// What a sweep runs: everything that must match for shards to be merged.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Grid {
    /// The scenario's name (the results folder's name).
    pub scenario: String,
    /// The version of fleetsim that ran it; shards of different versions are not merged.
    pub fleetsim_version: String,
    /// The base overrides (`--seed`, `--set`, ...) as `key=value`, in the order applied.
    pub base_overrides: Vec<String>,
    /// The base scenario with the overrides applied and every default written out; catches a
    /// scenario file edited between shards.
    pub base_resolved_toml: String,
    /// The axes, slowest first.
    pub axes: Vec<Axis>,
}

impl Grid {
    /// Number of points: the product of the axes' lengths.
    pub fn len(&self) -> usize {
        self.axes.iter().map(|a| a.values.len()).product()
    }
    /// True when some axis has no values (never, for a grid built by [`Grid::new`]).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The `(key, value)` pairs of point `index` (mixed radix, the first axis slowest).
    pub fn point(&self, index: usize) -> Vec<(String, Value)> {
        let mut rest = index;
        let mut out = Vec::with_capacity(self.axes.len());
        for axis in self.axes.iter().rev() {
            let n = axis.values.len();
            out.push((axis.key.clone(), axis.values[rest % n].clone()));
            rest /= n;
        }
        out.reverse();
        out
    }
}

/// One pair the search evaluated.
#[derive(Clone, Debug, Serialize)]
pub struct PairPoint {
    /// Prefill servers.
    pub prefill_servers: u32,
    /// Decode servers.
    pub decode_servers: u32,
    /// Meets every target (and is stable).
    pub pass: bool,
    /// Replications run.
    pub replications: u32,
    /// Both pools' cloud price, USD per hour.
    pub usd_per_hour: f64,
    /// `cost.cloud.per_request_usd`.
    pub cost_per_request_usd: Option<f64>,
    /// Why it fails, one line per failed target (or the instability).
    pub failures: Vec<String>,
}

/// The colocated plan for the same traffic.
#[derive(Clone, Debug, Serialize)]
pub struct ColocatedPlan {
    /// Fewest colocated `[servers]` meeting every target (null if none was found).
    pub servers: Option<u32>,
    /// Its cloud cost per request, USD.
    pub cost_per_request_usd: Option<f64>,
    /// Its achieved idle rate.
    pub achieved_idle_rate: Option<f64>,
    /// Why there is no colocated answer, if there is none.
    pub error: Option<String>,
}

/// `plan.json`'s disaggregated part (flattened into it).
#[derive(Clone, Debug, Serialize)]
pub struct DisaggPlan {
    /// Prefill servers of the cheapest passing pair.
    pub prefill_servers: u32,
    /// Decode servers of the cheapest passing pair.
    pub decode_servers: u32,
    /// Both pools' cloud price at that pair, USD per hour.
    pub disaggregated_usd_per_hour: f64,
    /// The colocated plan beside it.
    pub colocated: ColocatedPlan,
    /// `disaggregated`, `colocated` or `equal` per request (`unknown` without a colocated
    /// cost).
    pub cheaper: String,
    /// Colocated minus disaggregated cost per request, USD (positive: splitting saves).
    pub saving_per_request_usd: Option<f64>,
    /// That saving as a fraction of the colocated cost.
    pub saving_fraction: Option<f64>,
    /// The split's cost per request, by pool (the bridge's split term): the prefill pool's
    /// and the decode pool's cloud price over the requests completed, USD.
    pub prefill_cost_per_request_usd: Option<f64>,
    /// See `prefill_cost_per_request_usd`.
    pub decode_cost_per_request_usd: Option<f64>,
    /// Why, in a few sentences: where each fleet's money goes.
    pub why: Vec<String>,
    /// Every pair evaluated, sorted by (prefill, decode).
    pub pairs: Vec<PairPoint>,
}
