//! The cost part of a run summary: what the simulated fleet costs per request, per 1,000
//! tokens and per day (cloud and self-built), the R1 formula's estimate with the assumed
//! rates beside it, the equivalent idle rate, and the bridge between the two.
//!
//! Accounting: the fleet is paid for all the time (`servers x price`), whatever it does; a
//! request's cost is that spend divided by the requests completed per second (cache hits
//! included, as the formula's `(1 - hit rate)` counts them). A disaggregated fleet whose
//! pools run on other servers than `[servers]` pays each pool's own price (cloud and
//! self-built).

use serde::Serialize;

use super::{
    BridgeFactors, BridgeTerm, FormulaInputs, PerTokenInputs, SELF_BUILT_FRACTION_OF_CLOUD, bridge,
    equivalent_idle_rate, formula_cost_cents,
};
use crate::metrics::replication::{IdleComparison, MetricMeans};
use crate::scenario::servers::LlmServerSpec;
use crate::scenario::tco::{default_tco_preset, tco_preset};
use crate::scenario::{DistSpec, RequestSpec, Scenario, ServerKind};
use crate::timing::Model;

const S_PER_HOUR: f64 = 3600.0;

/// The `cost` of a run summary.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct RunCost {
    /// Renting the fleet.
    pub cloud: CloudCost,
    /// Owning the fleet (TCO).
    pub self_built: SelfBuiltCost,
    /// The R1 formula with its assumed rates (LLM fleets).
    pub formula: Option<FormulaCost>,
    /// The formula-to-simulated bridge (LLM fleets that completed requests).
    pub bridge: Option<BridgeCost>,
}

/// The cloud price and what the simulated fleet costs at it.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct CloudCost {
    /// `cost.cloud_preset`.
    pub preset: String,
    /// Price per server-hour, USD.
    pub usd_per_server_hour: f64,
    /// Price per GPU-hour, USD (LLM fleets).
    pub usd_per_gpu_hour: Option<f64>,
    /// GPUs per server (LLM fleets).
    pub gpus_per_server: Option<u32>,
    /// The preset's provider, when the price is the preset's.
    pub provider: Option<&'static str>,
    /// The preset's instance type.
    pub instance: Option<&'static str>,
    /// When and where the preset's price was read.
    pub as_of: Option<&'static str>,
    /// Where the preset's price comes from.
    pub source: Option<&'static str>,
    /// Per completed request, USD (none when nothing completed).
    pub per_request_usd: Option<f64>,
    /// Per 1,000 tokens of a mean request, USD (LLM fleets).
    pub per_1k_tokens_usd: Option<f64>,
    /// The fleet for a day, USD.
    pub per_day_usd: f64,
}

/// The self-built (TCO) price and what the simulated fleet costs at it.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct SelfBuiltCost {
    /// `cost.tco_preset`.
    pub tco_preset: String,
    /// The preset's system.
    pub system: Option<&'static str>,
    /// TCO per server-hour, USD.
    pub usd_per_server_hour: f64,
    /// Per completed request, USD.
    pub per_request_usd: Option<f64>,
    /// Per 1,000 tokens of a mean request, USD (LLM fleets).
    pub per_1k_tokens_usd: Option<f64>,
    /// The fleet for a day, USD.
    pub per_day_usd: f64,
    /// The reports' shortcut: cloud cost x [`SELF_BUILT_FRACTION_OF_CLOUD`].
    pub reports_shortcut_per_request_usd: Option<f64>,
}

/// The R1 formula's estimate with the assumed rates beside it.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct FormulaCost {
    /// Per request, USD.
    pub per_request_usd: f64,
    /// Per 1,000 tokens, USD.
    pub per_1k_tokens_usd: f64,
    /// Mean prompt plus output tokens of a request.
    pub task_tokens: f64,
    /// Busy-server cost per 1,000 tokens, cents.
    pub busy_cents_per_1k_tokens: f64,
    /// `cost.assumed_idle_rate`.
    pub assumed_idle_rate: f64,
    /// `cost.assumed_cache_hit_rate`.
    pub assumed_cache_hit_rate: f64,
    /// `cost.assumed_mfu`.
    pub assumed_mfu: f64,
    /// The model's compression.
    pub compression: f64,
}

/// The bridge from the formula's cost to the simulated one, term by term.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct BridgeCost {
    /// The formula's cost per request, USD.
    pub formula_usd: f64,
    /// The simulated cloud cost per request, USD.
    pub simulated_usd: f64,
    /// Each factor's contribution, USD.
    pub terms: Vec<BridgeTerm>,
    /// The factors compared.
    pub factors: BridgeFactors,
}

/// The costs of a run from its means, and the idle rates the formula assumes and would need
/// (`idle_rate.{assumed,equivalent}`).
pub fn run_costs(scenario: &Scenario, means: &MetricMeans) -> (RunCost, IdleComparison) {
    let c = &scenario.cost;
    // Servers paid for: the time-averaged fleet when it autoscales.
    let n = means
        .llm
        .as_ref()
        .map(|l| l.mean_servers)
        .filter(|x| x.is_finite())
        .unwrap_or(f64::from(scenario.servers.count));
    let throughput = means.throughput_per_s;
    let tco = c.tco().tco_usd_per_server_hour();
    let (cloud_fleet_usd_per_hour, tco_fleet_usd_per_hour) = fleet_usd_per_hour(scenario, n, tco);
    let per_request = |fleet_usd_per_hour: f64| {
        (throughput > 0.0).then(|| fleet_usd_per_hour / S_PER_HOUR / throughput)
    };
    let cloud_req = per_request(cloud_fleet_usd_per_hour);
    let self_req = per_request(tco_fleet_usd_per_hour);
    let llm = match (&scenario.servers.kind, &scenario.model, &scenario.request) {
        (ServerKind::Llm(_), Some(model), Some(req)) => Some(formula_and_bridge(
            scenario, model, req, means, n, cloud_req,
        )),
        _ => None,
    };
    let task_tokens = llm.as_ref().map(|l| l.formula.task_tokens);
    let per_1k = |usd: Option<f64>| match (usd, task_tokens) {
        (Some(u), Some(t)) if t > 0.0 => Some(u / (t / 1000.0)),
        _ => None,
    };
    let gpus = match &scenario.servers.kind {
        ServerKind::Llm(spec) => Some(spec.gpus_per_server),
        ServerKind::Queue { .. } => None,
    };
    // The preset's provenance, only when the price is the preset's (not set by hand).
    let preset = crate::scenario::prices::price_preset(&c.cloud_preset).filter(|p| {
        let preset_price = gpus.map_or(p.usd_per_hour, |g| p.usd_per_gpu_hour() * f64::from(g));
        (preset_price - c.cloud_usd_per_server_hour).abs() <= 1e-9 * preset_price
    });
    let cloud = CloudCost {
        preset: c.cloud_preset.clone(),
        usd_per_server_hour: c.cloud_usd_per_server_hour,
        usd_per_gpu_hour: gpus.map(|g| c.cloud_usd_per_server_hour / f64::from(g)),
        gpus_per_server: gpus,
        provider: preset.map(|p| p.provider),
        instance: preset.map(|p| p.instance),
        as_of: preset.map(|p| p.as_of),
        source: preset.map(|p| p.source),
        per_request_usd: cloud_req,
        per_1k_tokens_usd: per_1k(cloud_req),
        per_day_usd: cloud_fleet_usd_per_hour * 24.0,
    };
    let self_built = SelfBuiltCost {
        tco_preset: c.tco_preset.clone(),
        system: tco_preset(&c.tco_preset).map(|p| p.system),
        usd_per_server_hour: tco,
        per_request_usd: self_req,
        per_1k_tokens_usd: per_1k(self_req),
        per_day_usd: tco_fleet_usd_per_hour * 24.0,
        reports_shortcut_per_request_usd: cloud_req.map(|u| u * SELF_BUILT_FRACTION_OF_CLOUD),
    };
    let idle = IdleComparison {
        assumed: c.assumed_idle_rate,
        equivalent: llm.as_ref().and_then(|l| l.equivalent_idle_rate),
    };
    let (formula, bridge) = match llm {
        Some(l) => (Some(l.formula), l.bridge),
        None => (None, None),
    };
    let cost = RunCost {
        cloud,
        self_built,
        formula,
        bridge,
    };
    (cost, idle)
}

/// What the fleet of `n` paid servers costs per hour, (cloud, self-built), at `[cost]`'s
/// prices (`tco`: its self-built server-hour). A disaggregated fleet with a pool on other
/// servers pays each pool's own: the cloud price of its GPUs
/// ([`Scenario::pool_usd_per_server_hour`]) and the self-built system built from them
/// ([`pool_tco_usd_per_server_hour`]).
fn fleet_usd_per_hour(scenario: &Scenario, n: f64, tco: f64) -> (f64, f64) {
    let c = &scenario.cost;
    if let Some(split) = scenario.servers.disagg.as_deref() {
        let pools = [&split.prefill, &split.decode];
        let cloud = pools.map(|p| scenario.pool_usd_per_server_hour(&p.spec));
        if cloud.iter().any(|&usd| usd != c.cloud_usd_per_server_hour) {
            let self_built = pools.map(|p| pool_tco_usd_per_server_hour(scenario, &p.spec, tco));
            let servers = pools.map(|p| f64::from(p.count));
            return (
                servers[0] * cloud[0] + servers[1] * cloud[1],
                servers[0] * self_built[0] + servers[1] * self_built[1],
            );
        }
    }
    (n * c.cloud_usd_per_server_hour, n * tco)
}

/// Self-built cost of one server of `pool`, USD per hour: `[cost]`'s (`tco`) when the pool
/// has `[servers]`'s GPUs (scaled by its GPU count), else the default system built from its
/// GPUs (`dgx-h100` for H100s, ...), like its cloud price.
pub fn pool_tco_usd_per_server_hour(scenario: &Scenario, pool: &LlmServerSpec, tco: f64) -> f64 {
    if let ServerKind::Llm(top) = &scenario.servers.kind
        && top.hardware.eq_ignore_ascii_case(&pool.hardware)
    {
        if top.gpus_per_server == pool.gpus_per_server {
            return tco;
        }
        return tco / f64::from(top.gpus_per_server.max(1)) * f64::from(pool.gpus_per_server);
    }
    let hw = pool.hardware.to_ascii_lowercase();
    tco_preset(default_tco_preset(Some(&hw))).map_or(tco, |p| {
        p.inputs_for(pool.gpus_per_server).tco_usd_per_server_hour()
    })
}

/// The LLM-only parts of the cost: the formula, the equivalent idle rate and the bridge.
struct LlmCost {
    formula: FormulaCost,
    equivalent_idle_rate: Option<f64>,
    bridge: Option<BridgeCost>,
}

/// The formula's estimate for `scenario`, and, when the fleet completed requests (the cloud
/// cost per request `cloud_req` exists), the equivalent idle rate and the bridge to it.
fn formula_and_bridge(
    scenario: &Scenario,
    model: &Model,
    req: &RequestSpec,
    means: &MetricMeans,
    n: f64,
    cloud_req: Option<f64>,
) -> LlmCost {
    let c = &scenario.cost;
    let ServerKind::Llm(spec) = &scenario.servers.kind else {
        unreachable!("formula_and_bridge is called for LLM fleets only")
    };
    let mean = |d: &DistSpec| d.build().map(|d| d.mean()).unwrap_or(0.0);
    let (tin, tout) = (mean(&req.input_tokens), mean(&req.output_tokens));
    let t = tin + tout;
    let per_token = PerTokenInputs {
        params: model.params,
        flops_per_token_factor: 2.0,
        mfu: c.assumed_mfu,
        gpus: f64::from(spec.gpus_per_server),
        peak_flops_per_gpu: spec.gpu.peak_flops,
        server_usd_per_hour: c.cloud_usd_per_server_hour,
        idle_rate: 0.0,
    };
    let inputs = FormulaInputs {
        task_tokens: t,
        cost_per_1k_tokens_cents: per_token.per_1k_tokens_cents_busy(),
        cache_hit_rate: c.assumed_cache_hit_rate,
        idle_rate: c.assumed_idle_rate,
        compression: model.compression,
    };
    let formula_usd = formula_cost_cents(&inputs) / 100.0;
    let formula = FormulaCost {
        per_request_usd: formula_usd,
        per_1k_tokens_usd: formula_usd / (t / 1000.0),
        task_tokens: t,
        busy_cents_per_1k_tokens: inputs.cost_per_1k_tokens_cents,
        assumed_idle_rate: c.assumed_idle_rate,
        assumed_cache_hit_rate: c.assumed_cache_hit_rate,
        assumed_mfu: c.assumed_mfu,
        compression: model.compression,
    };
    let Some(sim_usd) = cloud_req else {
        return LlmCost {
            formula,
            equivalent_idle_rate: None,
            bridge: None,
        };
    };
    // Server-seconds per token of one request alone (batch 1), with the model as simulated
    // and with it uncompressed, to separate compression from batching.
    let batch1 = |compression: f64| -> Option<f64> {
        let mut m = model.clone();
        m.compression = compression;
        let d = spec.deployment(&m).ok()?;
        let ti = tin.round().max(1.0) as u64;
        let steps = (tout.round() - 1.0).max(0.0) as u64;
        let decode = d.decode_step_time_s(1, ti + steps / 2) * steps as f64;
        let replica_s = d.prefill_time_s(ti) + decode;
        Some(replica_s / f64::from(d.replicas_per_server()) / t)
    };
    let tokens_per_s = means
        .llm
        .as_ref()
        .map_or(0.0, |l| l.prefill_tokens_per_s + l.output_tokens_per_s);
    let idle = means.idle_rate.rates.achieved;
    let bridge_cost = match (batch1(model.compression), batch1(1.0)) {
        (Some(b1_sim), Some(b1_full)) if tokens_per_s > 0.0 => {
            let achieved = (1.0 - idle) * n / tokens_per_s;
            let c_sim = b1_sim / b1_full;
            let factors = BridgeFactors {
                assumed_idle_rate: c.assumed_idle_rate,
                achieved_idle_rate: idle,
                formula_busy_s_per_token: per_token.busy_server_s_per_token(),
                sim_busy_s_per_token_batch1: b1_full,
                sim_busy_s_per_token_achieved: achieved / c_sim,
                assumed_cache_hit_rate: c.assumed_cache_hit_rate,
                achieved_cache_hit_rate: means.cache_hit_rate,
                assumed_compression: model.compression,
                simulated_compression: c_sim,
            };
            Some(BridgeCost {
                formula_usd,
                simulated_usd: sim_usd,
                terms: bridge(formula_usd, sim_usd, &factors),
                factors,
            })
        }
        _ => None,
    };
    LlmCost {
        formula,
        equivalent_idle_rate: Some(equivalent_idle_rate(sim_usd, &inputs)),
        bridge: bridge_cost,
    }
}
