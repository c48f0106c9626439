//! The cost part of a run summary: what the simulated fleet costs per request, per 1,000
//! tokens and per day (cloud and self-built), the R1 formula's estimate with the assumed
//! rates beside it, the equivalent idle rate, and the bridge between the two.
//!
//! Accounting: the fleet is paid for all the time (`servers x price`), whatever it does; a
//! request's cost is that spend divided by the requests completed per second (cache hits
//! included, as the formula's `(1 - hit rate)` counts them).

use serde_json::{Value, json};

use super::{
    BridgeFactors, FormulaInputs, PerTokenInputs, SELF_BUILT_FRACTION_OF_CLOUD, bridge,
    equivalent_idle_rate, formula_cost_cents,
};
use crate::scenario::{Scenario, ServerKind};

const S_PER_HOUR: f64 = 3600.0;

fn num(v: &Value, path: &str) -> Option<f64> {
    path.split('.').try_fold(v, |v, k| v.get(k))?.as_f64()
}

/// Adds `cost` and `idle_rate.{assumed,equivalent}` to a summary of means.
pub fn add_costs(scenario: &Scenario, summary: &mut Value) {
    let c = &scenario.cost;
    // Servers paid for: the time-averaged fleet when it autoscales.
    let n = num(summary, "llm.mean_servers").unwrap_or(f64::from(scenario.servers.count));
    let throughput = num(summary, "throughput_per_s").unwrap_or(0.0);
    let idle = num(summary, "idle_rate.achieved").unwrap_or(0.0);
    let hit = num(summary, "cache_hit_rate").unwrap_or(0.0);
    let tco = c.tco().tco_usd_per_server_hour();
    let per_request = |usd_per_hour: f64| {
        if throughput > 0.0 {
            Some(n * usd_per_hour / S_PER_HOUR / throughput)
        } else {
            None
        }
    };
    let cloud_req = per_request(c.cloud_usd_per_server_hour);
    let self_req = per_request(tco);

    // Tokens and the formula exist for LLM fleets only.
    let mut task_tokens = None;
    let mut formula = Value::Null;
    let mut equivalent = Value::Null;
    let mut bridge_terms = Value::Null;
    if let (ServerKind::Llm(spec), Some(model), Some(req)) =
        (&scenario.servers.kind, &scenario.model, &scenario.request)
    {
        let mean = |d: &crate::scenario::DistSpec| d.build().map(|d| d.mean()).unwrap_or(0.0);
        let (tin, tout) = (mean(&req.input_tokens), mean(&req.output_tokens));
        let t = tin + tout;
        task_tokens = Some(t);
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
        formula = json!({
            "per_request_usd": formula_usd,
            "per_1k_tokens_usd": formula_usd / (t / 1000.0),
            "task_tokens": t,
            "busy_cents_per_1k_tokens": inputs.cost_per_1k_tokens_cents,
            "assumed_idle_rate": c.assumed_idle_rate,
            "assumed_cache_hit_rate": c.assumed_cache_hit_rate,
            "assumed_mfu": c.assumed_mfu,
            "compression": model.compression,
        });
        if let Some(sim_usd) = cloud_req {
            equivalent = json!(equivalent_idle_rate(sim_usd, &inputs));
            // Server-seconds per token of one request alone (batch 1), with the model as
            // simulated and with it uncompressed, to separate compression from batching.
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
            let tokens_per_s = num(summary, "llm.prefill_tokens_per_s").unwrap_or(0.0)
                + num(summary, "llm.output_tokens_per_s").unwrap_or(0.0);
            if let (Some(b1_sim), Some(b1_full)) = (batch1(model.compression), batch1(1.0))
                && tokens_per_s > 0.0
            {
                let achieved = (1.0 - idle) * n / tokens_per_s;
                let c_sim = b1_sim / b1_full;
                let factors = BridgeFactors {
                    assumed_idle_rate: c.assumed_idle_rate,
                    achieved_idle_rate: idle,
                    formula_busy_s_per_token: per_token.busy_server_s_per_token(),
                    sim_busy_s_per_token_batch1: b1_full,
                    sim_busy_s_per_token_achieved: achieved / c_sim,
                    assumed_cache_hit_rate: c.assumed_cache_hit_rate,
                    achieved_cache_hit_rate: hit,
                    assumed_compression: model.compression,
                    simulated_compression: c_sim,
                };
                bridge_terms = json!({
                    "formula_usd": formula_usd,
                    "simulated_usd": sim_usd,
                    "terms": bridge(formula_usd, sim_usd, &factors),
                    "factors": factors,
                });
            }
        }
    }
    let per_1k = |usd: Option<f64>| match (usd, task_tokens) {
        (Some(u), Some(t)) if t > 0.0 => json!(u / (t / 1000.0)),
        _ => Value::Null,
    };
    let gpus = match &scenario.servers.kind {
        ServerKind::Llm(spec) => Some(spec.gpus_per_server),
        ServerKind::Queue { .. } => None,
    };
    // The preset's provenance, only when the price is the preset's (not set by hand).
    let preset = super::price_preset(&c.cloud_preset).filter(|p| {
        let preset_price = gpus.map_or(p.usd_per_hour, |g| p.usd_per_gpu_hour() * f64::from(g));
        (preset_price - c.cloud_usd_per_server_hour).abs() <= 1e-9 * preset_price
    });
    let cost = json!({
        "cloud": {
            "preset": c.cloud_preset,
            "usd_per_server_hour": c.cloud_usd_per_server_hour,
            "usd_per_gpu_hour": gpus.map(|g| c.cloud_usd_per_server_hour / f64::from(g)),
            "gpus_per_server": gpus,
            "provider": preset.map(|p| p.provider),
            "instance": preset.map(|p| p.instance),
            "as_of": preset.map(|p| p.as_of),
            "source": preset.map(|p| p.source),
            "per_request_usd": cloud_req,
            "per_1k_tokens_usd": per_1k(cloud_req),
            "per_day_usd": n * c.cloud_usd_per_server_hour * 24.0,
        },
        "self_built": {
            "tco_preset": c.tco_preset,
            "system": super::tco_preset(&c.tco_preset).map(|p| p.system),
            "usd_per_server_hour": tco,
            "per_request_usd": self_req,
            "per_1k_tokens_usd": per_1k(self_req),
            "per_day_usd": n * tco * 24.0,
            "reports_shortcut_per_request_usd": cloud_req.map(|u| u * SELF_BUILT_FRACTION_OF_CLOUD),
        },
        "formula": formula,
        "bridge": bridge_terms,
    });
    if let Some(obj) = summary.as_object_mut() {
        if let Some(Value::Object(idle_obj)) = obj.get_mut("idle_rate") {
            idle_obj.insert("assumed".into(), json!(c.assumed_idle_rate));
            idle_obj.insert("equivalent".into(), equivalent);
        }
        obj.insert("cost".into(), cost);
    }
}
