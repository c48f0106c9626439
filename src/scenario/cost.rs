//! The `[cost]` section: the cloud price (from a preset in [`super::prices`] or given), the
//! self-built TCO inputs (from a preset in [`super::tco`], then any key set by hand), and the
//! R1 formula's assumed rates.

use serde::{Deserialize, Serialize};

use super::cache::CacheSpec;
use super::check::Check;
use super::prices::{PRICE_PRESETS, default_price_preset, price_preset};
use super::raw::RawCost;
use super::tco::{TCO_PRESETS, TcoInputs, default_tco_preset, tco_preset};
use super::{ScenarioError, ServerKind, ServersSpec};

/// Prices and the R1 formula's assumptions, for the cost part of every summary.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CostSpec {
    /// The cloud price preset the price came from (`custom` when given directly).
    pub cloud_preset: String,
    /// Cloud price of one server-hour, USD (the preset's per-GPU price x GPUs per server).
    pub cloud_usd_per_server_hour: f64,
    /// The idle rate the R1 formula assumes.
    pub assumed_idle_rate: f64,
    /// The cache hit rate the formula assumes.
    pub assumed_cache_hit_rate: f64,
    /// The MFU the formula assumes.
    pub assumed_mfu: f64,
    /// The self-built server type the TCO inputs came from (see [`TCO_PRESETS`]).
    #[serde(default = "default_tco_name")]
    pub tco_preset: String,
    /// Self-built server price, USD.
    pub server_capex_usd: f64,
    /// Depreciation years.
    pub years: f64,
    /// Server power, kW.
    pub power_kw: f64,
    /// Average fraction of power drawn.
    pub power_draw_fraction: f64,
    /// Data-centre PUE.
    pub pue: f64,
    /// Electricity, USD per kWh.
    pub usd_per_kwh: f64,
    /// Rack rent per month, USD.
    pub hosting_usd_per_rack_month: f64,
    /// Servers per rack.
    pub servers_per_rack: f64,
}

fn default_tco_name() -> String {
    "dgx-a100".into()
}

/// Cloud price preset of queue servers (no GPU) that name none: an 8 x A100-80GB list price.
/// LLM servers default to the preset for their GPU ([`default_price_preset`]).
pub const DEFAULT_CLOUD_PRESET: &str = "azure-nd96amsr-a100-v4";

impl CostSpec {
    /// The self-built inputs as the cost module takes them.
    pub fn tco(&self) -> TcoInputs {
        TcoInputs {
            server_capex_usd: self.server_capex_usd,
            years: self.years,
            power_kw: self.power_kw,
            power_draw_fraction: self.power_draw_fraction,
            pue: self.pue,
            usd_per_kwh: self.usd_per_kwh,
            hosting_usd_per_rack_month: self.hosting_usd_per_rack_month,
            servers_per_rack: self.servers_per_rack,
        }
    }
}

/// Resolves `[cost]`: the cloud price follows `[servers]` (GPU type and count), and a preset
/// that does not fit them is refused unless the price is set explicitly; the TCO inputs come
/// from the server type's preset, scaled to the GPUs per server, then any key set by hand.
pub fn validate_cost(
    raw: Option<RawCost>,
    cache: &CacheSpec,
    servers: &ServersSpec,
    check: Check,
) -> Result<CostSpec, ScenarioError> {
    let r = raw.unwrap_or_default();
    let gpu = match &servers.kind {
        ServerKind::Llm(spec) => Some((spec.hardware.to_ascii_lowercase(), spec.gpus_per_server)),
        ServerKind::Queue { .. } => None,
    };
    let (cloud_preset, price) = cloud_price(&r, gpu.as_ref(), check)?;
    let (tco_name, d) = tco_inputs(&r, gpu.as_ref(), check)?;

    if r.assumed_cache_hit_rate.is_none()
        && let CacheSpec::Lru {
            capacity,
            distinct_queries,
            ..
        } = cache
        && cache.assumed_hit_rate() >= 1.0
    {
        return Err(check.invalid(
            "cache.capacity",
            format!(
                "a capacity of {capacity} holds all {distinct_queries} distinct queries, so \
                 the expected hit rate is 100% and the cost formula would price no requests; \
                 give cost.assumed_cache_hit_rate (in [0, 1)) or a smaller capacity"
            ),
        ));
    }
    let spec = CostSpec {
        cloud_preset,
        cloud_usd_per_server_hour: price,
        assumed_idle_rate: r.assumed_idle_rate.unwrap_or(0.20),
        assumed_cache_hit_rate: r.assumed_cache_hit_rate.unwrap_or(cache.assumed_hit_rate()),
        assumed_mfu: r.assumed_mfu.unwrap_or(0.30),
        tco_preset: tco_name,
        server_capex_usd: r.server_capex_usd.unwrap_or(d.server_capex_usd),
        years: r.years.unwrap_or(d.years),
        power_kw: r.power_kw.unwrap_or(d.power_kw),
        power_draw_fraction: r.power_draw_fraction.unwrap_or(d.power_draw_fraction),
        pue: r.pue.unwrap_or(d.pue),
        usd_per_kwh: r.usd_per_kwh.unwrap_or(d.usd_per_kwh),
        hosting_usd_per_rack_month: r
            .hosting_usd_per_rack_month
            .unwrap_or(d.hosting_usd_per_rack_month),
        servers_per_rack: r.servers_per_rack.unwrap_or(d.servers_per_rack),
    };
    for (key, v) in [
        ("cost.assumed_idle_rate", spec.assumed_idle_rate),
        ("cost.assumed_cache_hit_rate", spec.assumed_cache_hit_rate),
    ] {
        if !(0.0..1.0).contains(&v) {
            return Err(check.invalid(key, format!("must be in [0, 1), got {v}")));
        }
    }
    for (key, v) in [
        (
            "cost.cloud_usd_per_server_hour",
            spec.cloud_usd_per_server_hour,
        ),
        ("cost.assumed_mfu", spec.assumed_mfu),
        ("cost.years", spec.years),
        ("cost.pue", spec.pue),
        ("cost.servers_per_rack", spec.servers_per_rack),
    ] {
        check.positive(key, v)?;
    }
    for (key, v) in [
        ("cost.server_capex_usd", spec.server_capex_usd),
        ("cost.power_kw", spec.power_kw),
        ("cost.power_draw_fraction", spec.power_draw_fraction),
        ("cost.usd_per_kwh", spec.usd_per_kwh),
        (
            "cost.hosting_usd_per_rack_month",
            spec.hosting_usd_per_rack_month,
        ),
    ] {
        check.non_negative(key, v)?;
    }
    Ok(spec)
}

/// The GPU type (lower case) and count of an LLM server; `None` for queue servers.
type GpuShape<'a> = Option<&'a (String, u32)>;

/// The cloud price of one server-hour and the label of where it came from: a preset that
/// fits the servers, or a price given per server or per GPU.
fn cloud_price(r: &RawCost, gpu: GpuShape, check: Check) -> Result<(String, f64), ScenarioError> {
    let hardware = gpu.map(|(h, _)| h.as_str());
    let preset_name = r
        .cloud_preset
        .clone()
        .unwrap_or_else(|| default_price_preset(hardware).to_string());
    let explicit = r.cloud_usd_per_server_hour.is_some() || r.cloud_usd_per_gpu_hour.is_some();
    let preset = price_preset(&preset_name);
    // `custom` is what a resolved scenario with an explicit price says.
    if preset.is_none() && !(explicit && preset_name.starts_with("custom")) {
        let names: Vec<&str> = PRICE_PRESETS.iter().map(|p| p.name).collect();
        return Err(check.unknown(
            "cost.cloud_preset",
            "price preset",
            &preset_name,
            &names.join(", "),
        ));
    }
    let label = |explicit: &str| {
        if r.cloud_preset.is_some() {
            preset_name.clone()
        } else {
            explicit.to_string()
        }
    };
    let priced = match (r.cloud_usd_per_server_hour, r.cloud_usd_per_gpu_hour) {
        (Some(_), Some(_)) => {
            return Err(check.invalid(
                "cost.cloud_usd_per_gpu_hour",
                "set either cost.cloud_usd_per_server_hour or cost.cloud_usd_per_gpu_hour, \
                 not both",
            ));
        }
        (Some(p), None) => (label("custom"), p),
        (None, Some(per_gpu)) => {
            let Some((_, n)) = gpu else {
                return Err(check.invalid(
                    "cost.cloud_usd_per_gpu_hour",
                    "applies to kind = \"llm\" servers (queue servers have no GPUs); use \
                     cost.cloud_usd_per_server_hour",
                ));
            };
            check.positive("cost.cloud_usd_per_gpu_hour", per_gpu)?;
            (label("custom-per-gpu"), per_gpu * f64::from(*n))
        }
        (None, None) => match (gpu, preset) {
            (_, None) => {
                return Err(check.invalid(
                    "cost.cloud_preset",
                    format!("{preset_name:?} names no preset; set a price or a preset"),
                ));
            }
            (Some((hw, n)), Some(preset)) => {
                let price = preset
                    .check(hw, *n)
                    .map_err(check.at("cost.cloud_preset"))?;
                (preset_name.clone(), price)
            }
            (None, Some(preset)) => (preset_name.clone(), preset.usd_per_hour),
        },
    };
    Ok(priced)
}

/// The self-built server type and its TCO inputs, scaled to the GPUs per server (before any
/// key set by hand).
fn tco_inputs(
    r: &RawCost,
    gpu: GpuShape,
    check: Check,
) -> Result<(String, TcoInputs), ScenarioError> {
    let hardware = gpu.map(|(h, _)| h.as_str());
    let tco_name = r
        .tco_preset
        .clone()
        .unwrap_or_else(|| default_tco_preset(hardware).to_string());
    let Some(tco) = tco_preset(&tco_name) else {
        let names: Vec<&str> = TCO_PRESETS.iter().map(|p| p.name).collect();
        return Err(check.unknown(
            "cost.tco_preset",
            "server type",
            &tco_name,
            &names.join(", "),
        ));
    };
    if let Some(hw) = hardware
        && !tco.hardware.contains(&hw)
    {
        return Err(check.invalid(
            "cost.tco_preset",
            format!(
                "{tco_name:?} is a {} system, not hardware = {hw:?}; use {:?} (the default), \
                 then change any input with cost.server_capex_usd, cost.power_kw, ...",
                tco.hardware.join("/"),
                default_tco_preset(Some(hw)),
            ),
        ));
    }
    Ok((tco_name, tco.inputs_for(gpu.map_or(tco.gpus, |(_, n)| *n))))
}
