//! Scenario files: the raw TOML a user writes, overrides from the command line, and the
//! validated [`Scenario`] with every default filled in.
//!
//! Flow: text -> [`raw::RawScenario`] (serde, `deny_unknown_fields`, so toml names the line of
//! an unknown key or a wrong type) -> overrides applied to the TOML table -> [`validate`] ->
//! [`Scenario`]. A `Scenario` serialises back to the same schema (`scenario.resolved.toml`), so
//! a run can be reproduced from its results folder alone.

pub mod disagg;
pub mod dist;
pub mod error;
pub mod files;
pub mod limits;
pub mod llm;
pub mod raw;
pub mod traffic;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::timing::Model;
pub use dist::{Dist, DistSpec};
pub use error::ScenarioError;
pub use files::{FileAccess, FileRead};
pub use llm::{LlmServerSpec, RequestSpec};
use raw::{CacheKindName, RawCache, RawScenario, ServerKindName};

/// A validated scenario: every key present, every value in range.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Name used for the results folder and in every summary (defaults to the file stem).
    pub name: String,
    /// Free text shown in reports.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Seed, replications and safety limits.
    pub run: RunSpec,
    /// The request stream.
    pub traffic: TrafficSpec,
    /// The server pool.
    pub servers: ServersSpec,
    /// How requests are spread over servers.
    pub router: RouterSpec,
    /// The response cache in front of the fleet.
    pub cache: CacheSpec,
    /// The LLM served (`kind = "llm"` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<Model>,
    /// Token counts per request (`kind = "llm"` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<RequestSpec>,
    /// Prices and the formula's assumed rates.
    pub cost: CostSpec,
    /// Autoscaling of an LLM fleet (`servers.count` is then the starting size).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub autoscale: Option<AutoscaleSpec>,
    /// Latency targets (`fleetsim plan` finds the fewest servers meeting all of them).
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        serialize_with = "slo_as_map",
        deserialize_with = "slo_from_map"
    )]
    pub slo: Vec<SloTarget>,
}

/// Autoscaling settings. Load = in-flight sequences per active replica over
/// `sequences_per_replica`; the fleet is resized to `ceil(active x load / target_utilization)`
/// every `interval_s` (the Kubernetes HPA rule), within `[min_servers, max_servers]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AutoscaleSpec {
    /// Fewest active servers.
    pub min_servers: u32,
    /// Most servers.
    pub max_servers: u32,
    /// Load the fleet is sized for.
    pub target_utilization: f64,
    /// In-flight sequences per replica that count as full load.
    pub sequences_per_replica: f64,
    /// Seconds from ordering a server to it serving.
    pub scale_out_delay_s: f64,
    /// Seconds after any scaling before a scale-in.
    pub scale_in_cooldown_s: f64,
    /// Seconds between evaluations.
    pub interval_s: f64,
}

impl AutoscaleSpec {
    /// The autoscaler's own settings.
    pub fn config(&self) -> crate::workload::diurnal::AutoscalerConfig {
        crate::workload::diurnal::AutoscalerConfig {
            min_servers: self.min_servers,
            max_servers: self.max_servers,
            target_utilization: self.target_utilization,
            scale_out_delay_s: self.scale_out_delay_s,
            scale_in_cooldown_s: self.scale_in_cooldown_s,
            interval_s: self.interval_s,
        }
    }
}

fn validate_autoscale(
    raw: Option<raw::RawAutoscale>,
    servers: &ServersSpec,
    file: &Path,
) -> Result<Option<AutoscaleSpec>, ScenarioError> {
    let Some(r) = raw else {
        return Ok(None);
    };
    let invalid = |key: &str, message: String| ScenarioError::Invalid {
        file: file.to_path_buf(),
        key: key.to_string(),
        message,
    };
    if !matches!(servers.kind, ServerKind::Llm(_)) {
        return Err(invalid(
            "autoscale",
            "autoscaling applies to kind = \"llm\" servers".into(),
        ));
    }
    let spec = AutoscaleSpec {
        min_servers: r.min_servers.unwrap_or(1),
        max_servers: r.max_servers.unwrap_or(servers.count),
        target_utilization: r.target_utilization.unwrap_or(0.7),
        sequences_per_replica: r.sequences_per_replica.unwrap_or(16.0),
        scale_out_delay_s: r.scale_out_delay_s.unwrap_or(300.0),
        scale_in_cooldown_s: r.scale_in_cooldown_s.unwrap_or(600.0),
        interval_s: r.interval_s.unwrap_or(60.0),
    };
    for (key, n) in [
        ("autoscale.min_servers", spec.min_servers),
        ("autoscale.max_servers", spec.max_servers),
    ] {
        if n > limits::MAX_SERVERS {
            return Err(invalid(
                key,
                format!("must be at most {}, got {n}", limits::MAX_SERVERS),
            ));
        }
    }
    // Every evaluation is an event: a tiny interval would be billions of them.
    if spec.interval_s.is_nan() || spec.interval_s < limits::MIN_AUTOSCALE_INTERVAL_S {
        return Err(invalid(
            "autoscale.interval_s",
            format!(
                "must be at least {} s, got {}",
                limits::MIN_AUTOSCALE_INTERVAL_S,
                spec.interval_s
            ),
        ));
    }
    if !(spec.sequences_per_replica.is_finite() && spec.sequences_per_replica > 0.0) {
        return Err(invalid(
            "autoscale.sequences_per_replica",
            format!(
                "must be a positive number, got {}",
                spec.sequences_per_replica
            ),
        ));
    }
    if servers.count < spec.min_servers || servers.count > spec.max_servers {
        return Err(invalid(
            "servers.count",
            format!(
                "the starting fleet ({}) must lie within autoscale.min_servers..=max_servers \
                 ({}..={})",
                servers.count, spec.min_servers, spec.max_servers
            ),
        ));
    }
    crate::workload::diurnal::Autoscaler::new(spec.config())
        .map_err(|m| invalid("autoscale", m))?;
    Ok(Some(spec))
}

/// One latency target: `stat` of `metric` must be at most `max_s`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SloTarget {
    /// `ttft`, `tpot`, `e2e` or `queue_wait`.
    pub metric: String,
    /// `mean`, `p50`, `p90` or `p99`.
    pub stat: String,
    /// The bound in seconds.
    pub max_s: f64,
}

impl SloTarget {
    /// The summary path of the measured value, e.g. `latency_s.ttft.p99`.
    pub fn summary_path(&self) -> String {
        format!("latency_s.{}.{}", self.metric, self.stat)
    }

    /// The scenario key it came from, e.g. `slo.ttft_p99_s`.
    pub fn key(&self) -> String {
        format!("slo.{}_{}_s", self.metric, self.stat)
    }
}

/// Writes targets back as the `[slo]` table they came from.
fn slo_as_map<S: serde::Serializer>(slo: &[SloTarget], ser: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut m = ser.serialize_map(Some(slo.len()))?;
    for t in slo {
        m.serialize_entry(&format!("{}_{}_s", t.metric, t.stat), &t.max_s)?;
    }
    m.end()
}

/// Reads an `[slo]` table of a resolved scenario.
fn slo_from_map<'de, D: serde::Deserializer<'de>>(de: D) -> Result<Vec<SloTarget>, D::Error> {
    let map = std::collections::BTreeMap::<String, f64>::deserialize(de)?;
    validate_slo(Some(map), true, Path::new("<resolved scenario>"))
        .map_err(|e| serde::de::Error::custom(e.to_string()))
}

/// Metrics an `[slo]` key may name.
pub const SLO_METRICS: &[&str] = &["ttft", "tpot", "e2e", "queue_wait"];
/// Statistics an `[slo]` key may name.
pub const SLO_STATS: &[&str] = &["mean", "p50", "p90", "p99"];

fn validate_slo(
    raw: Option<std::collections::BTreeMap<String, f64>>,
    is_llm: bool,
    file: &Path,
) -> Result<Vec<SloTarget>, ScenarioError> {
    let mut out = Vec::new();
    for (key, max_s) in raw.unwrap_or_default() {
        let invalid = |message: String| ScenarioError::Invalid {
            file: file.to_path_buf(),
            key: format!("slo.{key}"),
            message,
        };
        let parsed = key.strip_suffix("_s").and_then(|k| {
            SLO_STATS.iter().find_map(|stat| {
                let metric = k.strip_suffix(&format!("_{stat}"))?;
                SLO_METRICS
                    .contains(&metric)
                    .then(|| (metric.to_string(), stat.to_string()))
            })
        });
        let Some((metric, stat)) = parsed else {
            return Err(invalid(format!(
                "unknown target; keys are <metric>_<stat>_s with metric one of {} and stat one \
                 of {}, e.g. ttft_p99_s = 2.0",
                SLO_METRICS.join(", "),
                SLO_STATS.join(", ")
            )));
        };
        if !is_llm && (metric == "ttft" || metric == "tpot") {
            return Err(invalid(
                "ttft and tpot apply to llm servers; on queue servers use e2e or queue_wait".into(),
            ));
        }
        if !(max_s.is_finite() && max_s > 0.0) {
            return Err(invalid(format!(
                "must be a positive number of seconds, got {max_s}"
            )));
        }
        out.push(SloTarget {
            metric,
            stat,
            max_s,
        });
    }
    Ok(out)
}

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
    /// The self-built server type the TCO inputs came from (see [`crate::cost::TCO_PRESETS`]).
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
/// LLM servers default to the preset for their GPU ([`crate::cost::default_price_preset`]).
pub const DEFAULT_CLOUD_PRESET: &str = "azure-nd96amsr-a100-v4";

impl CostSpec {
    /// The self-built inputs as the cost module takes them.
    pub fn tco(&self) -> crate::cost::TcoInputs {
        crate::cost::TcoInputs {
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
fn validate_cost(
    raw: Option<raw::RawCost>,
    cache: &CacheSpec,
    servers: &ServersSpec,
    file: &Path,
) -> Result<CostSpec, ScenarioError> {
    let invalid = |key: &str, message: String| ScenarioError::Invalid {
        file: file.to_path_buf(),
        key: key.to_string(),
        message,
    };
    let r = raw.unwrap_or_default();
    let gpu = match &servers.kind {
        ServerKind::Llm(spec) => Some((spec.hardware.to_ascii_lowercase(), spec.gpus_per_server)),
        ServerKind::Queue { .. } => None,
    };
    let hardware = gpu.as_ref().map(|(h, _)| h.as_str());
    let preset_name = r
        .cloud_preset
        .clone()
        .unwrap_or_else(|| crate::cost::default_price_preset(hardware).to_string());
    let explicit = r.cloud_usd_per_server_hour.is_some() || r.cloud_usd_per_gpu_hour.is_some();
    let preset = crate::cost::price_preset(&preset_name);
    // `custom` is what a resolved scenario with an explicit price says.
    if preset.is_none() && !(explicit && preset_name.starts_with("custom")) {
        let names: Vec<&str> = crate::cost::PRICE_PRESETS.iter().map(|p| p.name).collect();
        return Err(invalid(
            "cost.cloud_preset",
            format!(
                "unknown price preset {preset_name:?}; allowed: {}",
                names.join(", ")
            ),
        ));
    }
    let label = |explicit: &str| {
        if r.cloud_preset.is_some() {
            preset_name.clone()
        } else {
            explicit.to_string()
        }
    };
    let (cloud_preset, price) = match (r.cloud_usd_per_server_hour, r.cloud_usd_per_gpu_hour) {
        (Some(_), Some(_)) => {
            return Err(invalid(
                "cost.cloud_usd_per_gpu_hour",
                "set either cost.cloud_usd_per_server_hour or cost.cloud_usd_per_gpu_hour, \
                 not both"
                    .into(),
            ));
        }
        (Some(p), None) => (label("custom"), p),
        (None, Some(per_gpu)) => {
            let Some((_, n)) = &gpu else {
                return Err(invalid(
                    "cost.cloud_usd_per_gpu_hour",
                    "applies to kind = \"llm\" servers (queue servers have no GPUs); use \
                     cost.cloud_usd_per_server_hour"
                        .into(),
                ));
            };
            if !(per_gpu.is_finite() && per_gpu > 0.0) {
                return Err(invalid(
                    "cost.cloud_usd_per_gpu_hour",
                    format!("must be a positive number, got {per_gpu}"),
                ));
            }
            (label("custom-per-gpu"), per_gpu * f64::from(*n))
        }
        (None, None) => match (&gpu, preset) {
            (_, None) => {
                return Err(invalid(
                    "cost.cloud_preset",
                    format!("{preset_name:?} names no preset; set a price or a preset"),
                ));
            }
            (Some((hw, n)), Some(preset)) => {
                let price = preset
                    .check(hw, *n)
                    .map_err(|m| invalid("cost.cloud_preset", m))?;
                (preset_name.clone(), price)
            }
            (None, Some(preset)) => (preset_name.clone(), preset.usd_per_hour),
        },
    };

    let tco_name = r
        .tco_preset
        .clone()
        .unwrap_or_else(|| crate::cost::default_tco_preset(hardware).to_string());
    let Some(tco) = crate::cost::tco_preset(&tco_name) else {
        let names: Vec<&str> = crate::cost::TCO_PRESETS.iter().map(|p| p.name).collect();
        return Err(invalid(
            "cost.tco_preset",
            format!(
                "unknown server type {tco_name:?}; allowed: {}",
                names.join(", ")
            ),
        ));
    };
    if let Some(hw) = hardware
        && !tco.hardware.contains(&hw)
    {
        return Err(invalid(
            "cost.tco_preset",
            format!(
                "{tco_name:?} is a {} system, not hardware = {hw:?}; use {:?} (the default), \
                 then change any input with cost.server_capex_usd, cost.power_kw, ...",
                tco.hardware.join("/"),
                crate::cost::default_tco_preset(Some(hw)),
            ),
        ));
    }
    let d = tco.inputs_for(gpu.as_ref().map_or(tco.gpus, |(_, n)| *n));

    if r.assumed_cache_hit_rate.is_none()
        && let CacheSpec::Lru {
            capacity,
            distinct_queries,
            ..
        } = cache
        && cache.assumed_hit_rate() >= 1.0
    {
        return Err(invalid(
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
            return Err(invalid(key, format!("must be in [0, 1), got {v}")));
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
        if !(v.is_finite() && v > 0.0) {
            return Err(invalid(key, format!("must be a positive number, got {v}")));
        }
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
        if !(v.is_finite() && v >= 0.0) {
            return Err(invalid(key, format!("must be zero or positive, got {v}")));
        }
    }
    Ok(spec)
}

/// Seed, replications and the overload guard.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunSpec {
    /// Master seed; every random stream of every replication derives from it.
    pub seed: u64,
    /// Independent replications (confidence intervals need at least 2).
    pub replications: u32,
    /// A run stops as overloaded once this many requests wait for a server at once.
    pub max_queue: u64,
    /// After `duration_s`, keep simulating without new arrivals until every request has
    /// completed (so measured `completed = arrived`); utilisation and rates still cover
    /// `[warmup_s, duration_s]`. Default false: the run stops at `duration_s` and the
    /// requests still in the system are reported as `in_flight`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub drain: bool,
    /// Whether the scenario (or a flag) set `replications`; `plan` chooses its own count
    /// when it did not. Not part of the resolved scenario.
    #[serde(skip)]
    pub replications_set: bool,
}

/// How requests arrive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ArrivalKind {
    /// Homogeneous Poisson process: exponential inter-arrival times.
    Poisson,
    /// Non-homogeneous Poisson process following a 24-hour profile (thinning).
    Diurnal,
    /// Replay of a recorded request trace.
    Trace,
    /// The trace's Poisson twin: Poisson arrivals at the trace's mean rate, token counts drawn
    /// from the trace's own distributions.
    TracePoisson,
}

impl ArrivalKind {
    /// Whether the arrivals come from a trace file (`path` required).
    pub fn uses_trace(self) -> bool {
        matches!(self, ArrivalKind::Trace | ArrivalKind::TracePoisson)
    }
}

/// The request stream.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrafficSpec {
    /// The arrival process.
    pub arrival: ArrivalKind,
    /// Mean arrival rate.
    pub requests_per_s: f64,
    /// Simulated time; arrivals stop and the run ends here.
    pub duration_s: f64,
    /// Requests arriving before this time are not measured, and idle time is counted after it.
    pub warmup_s: f64,
    /// `diurnal`: the 24 hourly weights in use (mean 1), UTC hour 0 first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hourly_weights: Option<Vec<f64>>,
    /// `diurnal`: the hour of day at simulated time zero.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_hour: Option<f64>,
    /// `trace`: the trace file, resolved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// `trace`: its format.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    /// `trace`: time-axis compression factor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_scale: Option<f64>,
    /// `format = "csv"`: the timestamp column's header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp_column: Option<String>,
    /// `format = "csv"`: the input-token column's header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_column: Option<String>,
    /// `format = "csv"`: the output-token column's header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_column: Option<String>,
    /// `format = "csv"`: seconds per timestamp unit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp_unit_s: Option<f64>,
    /// `trace`: replay again when the trace ends.
    #[serde(default, rename = "loop", skip_serializing_if = "Option::is_none")]
    pub loop_trace: Option<bool>,
    /// `trace`: the records, read once at validation (not part of the resolved file).
    #[serde(skip)]
    pub records: Option<std::sync::Arc<Vec<crate::trace::TraceRecord>>>,
    /// `diurnal`: the rates CSV that was read, if any (its weights are in `hourly_weights`).
    #[serde(skip)]
    pub rates_csv: Option<PathBuf>,
}

/// The server pool.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServersSpec {
    /// Number of servers.
    pub count: u32,
    /// What each server is.
    #[serde(flatten)]
    pub kind: ServerKind,
    /// Issue 17: `mode = "disaggregated"`, its prefill and decode pools and KV link (`count`
    /// is then both pools' servers, and `kind` the colocated fleet `plan` compares with).
    #[serde(flatten, default, skip_serializing_if = "Option::is_none")]
    pub disagg: Option<Box<disagg::DisaggSpec>>,
}

/// What a server is. One per scenario, so the LLM variant's size (its stack profile) costs
/// nothing worth a box.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum ServerKind {
    /// A generic multi-slot queueing server: `slots` requests in service at once, each for a
    /// time drawn from `service_time_s`. The engine's calibration target.
    Queue {
        /// Concurrent service places per server.
        slots: u32,
        /// Service time of one request, in seconds.
        service_time_s: DistSpec,
    },
    /// An LLM inference server: `gpus_per_server / tensor_parallel` model replicas, each
    /// batching requests; step times from the roofline model in [`crate::timing`].
    Llm(LlmServerSpec),
}

/// Routing policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RouterPolicy {
    /// One FIFO queue for the fleet; a server pulls from it when it has a free slot (M/M/c).
    CentralQueue,
    /// Servers in turn.
    RoundRobin,
    /// A server chosen uniformly at random.
    Random,
    /// The server with the fewest outstanding requests (lowest index on ties).
    LeastOutstanding,
    /// Two servers drawn at random; the one with fewer outstanding requests.
    PowerOfTwo,
    /// LLM replicas with a prefix cache: the replica holding the longest cached prefix of the
    /// prompt, unless its load exceeds the least-loaded replica's by more than 64 requests
    /// and 1.5x (then the least-loaded; the SGLang router's rule, reference §3).
    PrefixAffinity,
}

impl RouterPolicy {
    /// Every policy name as written in scenario files.
    pub const NAMES: &'static str =
        "central-queue, round-robin, random, least-outstanding, power-of-two, prefix-affinity";
}

/// How requests are spread over servers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouterSpec {
    /// The policy.
    pub policy: RouterPolicy,
}

/// The response cache in front of the fleet.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum CacheSpec {
    /// No cache: every request reaches a server.
    None,
    /// Each request hits with a fixed probability (the reports' assumed hit rate).
    Bernoulli {
        /// Probability that a request is answered from the cache.
        hit_rate: f64,
        /// Time to answer a hit, in seconds; a hit uses no server time.
        hit_latency_s: f64,
    },
    /// An LRU cache of `capacity` answers in front of a stream of queries whose popularity
    /// is Zipf(`zipf_s`) over `distinct_queries`; the hit rate emerges.
    Lru {
        /// Zipf exponent.
        zipf_s: f64,
        /// Distinct queries.
        distinct_queries: u64,
        /// Entries held.
        capacity: u64,
        /// Seconds an entry stays valid after insertion.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ttl_s: Option<f64>,
        /// Time to answer a hit, in seconds.
        hit_latency_s: f64,
    },
}

impl CacheSpec {
    /// The hit rate assumed before the run (the Bernoulli rate; zero without a cache).
    pub fn assumed_hit_rate(&self) -> f64 {
        match self {
            CacheSpec::None => 0.0,
            CacheSpec::Bernoulli { hit_rate, .. } => *hit_rate,
            // Che's approximation: the hit rate LRU is expected to reach without TTL.
            CacheSpec::Lru {
                zipf_s,
                distinct_queries,
                capacity,
                ..
            } => crate::cache::lru::che_hit_rate(*distinct_queries, *zipf_s, *capacity),
        }
    }
}

/// Default hit latency of a response cache: a lookup in a nearby key-value store.
pub const DEFAULT_HIT_LATENCY_S: f64 = 0.01;
/// Default overload guard: this many waiting requests means the queue is not going to drain.
pub const DEFAULT_MAX_QUEUE: u64 = 1_000_000;
/// Default warm-up, as a fraction of the duration, when `warmup_s` is not given.
pub const DEFAULT_WARMUP_FRACTION: f64 = 0.1;

/// Command-line changes applied to a scenario before validation.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    /// `key=value` pairs with dotted keys, applied in order.
    pub set: Vec<String>,
}

impl Overrides {
    /// Adds `key=value` (the value is TOML: `5`, `0.3`, `"text"`; bare words become strings).
    pub fn push(&mut self, key: &str, value: impl std::fmt::Display) {
        self.set.push(format!("{key}={value}"));
    }
}

/// Reads, overrides and validates a scenario file.
pub fn load(path: &Path, overrides: &Overrides) -> Result<Scenario, ScenarioError> {
    let read_err = |error| ScenarioError::Read {
        file: path.to_path_buf(),
        error,
    };
    // A regular file of bounded size: a pipe or device could block or never end.
    let meta = std::fs::metadata(path).map_err(read_err)?;
    if !meta.is_file() || meta.len() > limits::MAX_SCENARIO_BYTES {
        return Err(read_err(std::io::Error::other(format!(
            "a scenario must be a regular file of at most {} bytes",
            limits::MAX_SCENARIO_BYTES
        ))));
    }
    let text = std::fs::read_to_string(path).map_err(read_err)?;
    parse(&text, path, overrides)
}

/// Parses and validates scenario text; `file` names it in errors and gives the default name.
pub fn parse(text: &str, file: &Path, overrides: &Overrides) -> Result<Scenario, ScenarioError> {
    parse_with_access(text, file, overrides, &FileAccess::Any)
}

/// [`parse`], opening only the files `access` allows (the HTTP service's gate).
pub fn parse_with_access(
    text: &str,
    file: &Path,
    overrides: &Overrides,
    access: &FileAccess,
) -> Result<Scenario, ScenarioError> {
    let parse_err = |message: String| ScenarioError::Parse {
        file: file.to_path_buf(),
        message,
    };
    // Parse the text as written first, so errors carry toml's line and column.
    let raw: RawScenario = toml::from_str(text).map_err(|e| parse_err(e.to_string()))?;
    let raw = if overrides.set.is_empty() {
        raw
    } else {
        let mut table: toml::Table = toml::from_str(text).map_err(|e| parse_err(e.to_string()))?;
        for arg in &overrides.set {
            apply_override(&mut table, arg)?;
        }
        table
            .try_into()
            .map_err(|e: toml::de::Error| parse_err(format!("after overrides: {e}")))?
    };
    validate_with_access(raw, file, access)
}

/// The scenario text as a TOML table with `overrides` applied, before any validation: what
/// [`parse`] goes on to validate. The HTTP service inspects it for keys that name files.
pub fn table_with_overrides(
    text: &str,
    file: &Path,
    overrides: &Overrides,
) -> Result<toml::Table, ScenarioError> {
    let mut table: toml::Table = toml::from_str(text).map_err(|e| ScenarioError::Parse {
        file: file.to_path_buf(),
        message: e.to_string(),
    })?;
    for arg in &overrides.set {
        apply_override(&mut table, arg)?;
    }
    Ok(table)
}

/// Whether an override value was meant as a number: digits, with a sign, point, exponent or
/// `_` separators.
fn looks_numeric(value: &str) -> bool {
    let v = value.trim_start_matches(['+', '-']);
    v.starts_with(|c: char| c.is_ascii_digit() || c == '.')
        && v.chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '_' | '+' | '-'))
}

fn apply_override(table: &mut toml::Table, arg: &str) -> Result<(), ScenarioError> {
    let err = |message: &str| ScenarioError::Override {
        arg: arg.to_string(),
        message: message.to_string(),
    };
    let (key, value) = arg
        .split_once('=')
        .ok_or_else(|| err("expected key=value, e.g. traffic.requests_per_s=5"))?;
    let key = key.trim();
    let parts: Vec<&str> = key.split('.').collect();
    if parts.iter().any(|p| p.is_empty()) {
        return Err(err("the key must be dotted names, e.g. cache.hit_rate"));
    }
    let value = value.trim();
    let value: toml::Value = match toml::from_str::<toml::Table>(&format!("v = {value}")) {
        Ok(mut t) => t.remove("v").unwrap_or(toml::Value::String(value.into())),
        // A bare word is a string, but a number TOML cannot hold is a mistake.
        Err(_) if looks_numeric(value) => {
            return Err(err(&format!(
                "{value} is not a number a scenario can hold (integers are between {} and {}; \
                 decimals need digits on both sides of the point)",
                i64::MIN,
                i64::MAX
            )));
        }
        Err(_) => toml::Value::String(value.to_string()),
    };
    let mut cur = table;
    for part in &parts[..parts.len() - 1] {
        let entry = cur
            .entry(part.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        cur = entry
            .as_table_mut()
            .ok_or_else(|| err(&format!("`{part}` is a value, not a table")))?;
    }
    cur.insert(parts[parts.len() - 1].to_string(), value);
    Ok(())
}

/// A count a user sets: at least 1 and at most `most` (a bound of [`limits`]).
fn check_count(n: u64, most: u64) -> Result<(), String> {
    if n == 0 {
        Err("must be at least 1, got 0".into())
    } else if n > most {
        Err(format!("must be at most {most}, got {n}"))
    } else {
        Ok(())
    }
}

/// Refuses a request stream whose smallest request cannot fit in one replica's KV memory:
/// no such request could ever complete, and a run would measure nothing.
fn check_fits_kv(
    spec: &LlmServerSpec,
    model: &Model,
    req: &RequestSpec,
    file: &Path,
) -> Result<(), ScenarioError> {
    let Ok(dep) = spec.deployment(model) else {
        return Ok(()); // validate_servers already checked it builds
    };
    let kv = dep.kv_capacity_tokens();
    // Token counts are rounded and at least 1 when drawn (workload::tokens).
    let tokens = |d: &DistSpec| d.min_value().round().max(1.0);
    let input = tokens(&req.input_tokens) + f64::from(req.system_prompt_tokens);
    let output = tokens(&req.output_tokens);
    if input + output > kv as f64 {
        return Err(ScenarioError::Invalid {
            file: file.to_path_buf(),
            key: "request.input_tokens".into(),
            message: format!(
                "the smallest request ({input} prompt + {output} output tokens) does not fit \
                 in one replica's KV cache ({kv} tokens with this model, GPU and \
                 servers.tensor_parallel = {}): no request could ever complete; use smaller \
                 requests, more tensor parallelism or a larger GPU",
                spec.tensor_parallel
            ),
        });
    }
    Ok(())
}

/// Turns a raw scenario into a checked one, filling defaults; errors name the key.
pub fn validate(raw: RawScenario, file: &Path) -> Result<Scenario, ScenarioError> {
    validate_with_access(raw, file, &FileAccess::Any)
}

/// [`validate`], opening only the files `access` allows.
pub fn validate_with_access(
    raw: RawScenario,
    file: &Path,
    access: &FileAccess,
) -> Result<Scenario, ScenarioError> {
    let invalid = |key: &str, message: String| ScenarioError::Invalid {
        file: file.to_path_buf(),
        key: key.to_string(),
        message,
    };
    let mut raw = raw;
    let named = raw.name.is_some();
    let name = raw.name.unwrap_or_else(|| {
        if file == Scenario::inline_path() {
            return "inline".into();
        }
        file.file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "scenario".into())
    });
    let valid_name = |n: &str| {
        !n.is_empty()
            && n.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
    };
    if !named && !valid_name(&name) {
        return Err(invalid(
            "name",
            format!(
                "missing, and the file name {name:?} cannot name a results folder (letters, \
                 digits, '-', '_' or '.'); add name = \"...\" to the scenario"
            ),
        ));
    }
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
    {
        return Err(invalid(
            "name",
            format!("must be letters, digits, '-', '_' or '.' (it names a folder), got {name:?}"),
        ));
    }

    let run_raw = raw.run.unwrap_or_default();
    let run = RunSpec {
        seed: run_raw.seed.unwrap_or(1),
        replications: run_raw.replications.unwrap_or(1),
        max_queue: run_raw.max_queue.unwrap_or(DEFAULT_MAX_QUEUE),
        drain: run_raw.drain.unwrap_or(false),
        replications_set: run_raw.replications.is_some(),
    };
    check_count(run.replications.into(), limits::MAX_REPLICATIONS.into())
        .map_err(|m| invalid("run.replications", m))?;
    check_count(run.max_queue, limits::MAX_QUEUE).map_err(|m| invalid("run.max_queue", m))?;
    // Issue 17: a disaggregated fleet's count is the sum of its pools.
    disagg::resolve_count(&mut raw.servers, file)?;
    // Sizes are checked before anything is built from them (a trace is read, a deployment
    // is sized): no input may allocate without bound.
    check_count(raw.servers.count.into(), limits::MAX_SERVERS.into())
        .map_err(|m| invalid("servers.count", m))?;

    let t = raw.traffic;
    let requests_per_s = match (t.requests_per_s, t.requests_per_day) {
        (Some(r), None) => r,
        (None, Some(d)) => d / 86_400.0,
        (Some(_), Some(_)) => {
            return Err(invalid(
                "traffic.requests_per_s",
                "give either requests_per_s or requests_per_day, not both".into(),
            ));
        }
        // A replayed trace brings its own rate.
        (None, None) if t.arrival.is_some_and(ArrivalKind::uses_trace) => 0.0,
        (None, None) => {
            return Err(invalid(
                "traffic.requests_per_s",
                "missing: give the arrival rate as requests_per_s or requests_per_day".into(),
            ));
        }
    };
    let rate_key = if t.requests_per_day.is_some() {
        "traffic.requests_per_day"
    } else {
        "traffic.requests_per_s"
    };
    let from_trace = t.arrival.is_some_and(ArrivalKind::uses_trace);
    let rate_ok = requests_per_s.is_finite() && requests_per_s > 0.0;
    if !(from_trace || rate_ok) {
        return Err(invalid(
            rate_key,
            format!("must be a positive number, got {requests_per_s}"),
        ));
    }
    if requests_per_s > limits::MAX_REQUESTS_PER_S {
        return Err(invalid(
            rate_key,
            format!(
                "must be at most {:e} requests per second (simulated time has nanosecond \
                 resolution), got {requests_per_s}",
                limits::MAX_REQUESTS_PER_S
            ),
        ));
    }
    if !(t.duration_s.is_finite() && t.duration_s > 0.0) {
        return Err(invalid(
            "traffic.duration_s",
            format!("must be a positive number of seconds, got {}", t.duration_s),
        ));
    }
    if t.duration_s > 1e9 {
        return Err(invalid(
            "traffic.duration_s",
            format!(
                "must be at most 1e9 s (about 31 years), got {}",
                t.duration_s
            ),
        ));
    }
    let warmup_s = t.warmup_s.unwrap_or(t.duration_s * DEFAULT_WARMUP_FRACTION);
    if !(warmup_s.is_finite() && warmup_s >= 0.0) {
        return Err(invalid(
            "traffic.warmup_s",
            format!("must be zero or a positive number of seconds, got {warmup_s}"),
        ));
    }
    if warmup_s >= t.duration_s {
        return Err(invalid(
            "traffic.warmup_s",
            format!(
                "the warm-up ({warmup_s} s) must be shorter than the run (duration_s = {} s)",
                t.duration_s
            ),
        ));
    }
    let traffic = traffic::validate_traffic(t, requests_per_s, warmup_s, file, access)?;

    let rs = raw.servers;
    let (mut model, mut request) = (None, None);
    let kind_name = rs.kind.unwrap_or(ServerKindName::Queue);
    if kind_name == ServerKindName::Queue {
        if raw.model.is_some() {
            return Err(invalid(
                "model",
                "only applies to kind = \"llm\" servers".into(),
            ));
        }
        if raw.request.is_some() {
            return Err(invalid(
                "request",
                "only applies to kind = \"llm\" servers".into(),
            ));
        }
    }
    let servers = match kind_name {
        ServerKindName::Queue => {
            let slots = rs.slots.unwrap_or(1);
            check_count(slots.into(), limits::MAX_SLOTS.into())
                .map_err(|m| invalid("servers.slots", m))?;
            let fleet_slots = u64::from(slots) * u64::from(rs.count);
            if fleet_slots > limits::MAX_FLEET_SLOTS {
                return Err(invalid(
                    "servers.slots",
                    format!(
                        "servers.count x servers.slots = {fleet_slots}, above the limit of {} \
                         slots in one fleet",
                        limits::MAX_FLEET_SLOTS
                    ),
                ));
            }
            let service_time_s = rs.service_time_s.ok_or_else(|| {
                invalid(
                    "servers.service_time_s",
                    "missing: kind = \"queue\" needs a service time distribution, e.g. \
                     { dist = \"exponential\", mean = 1.0 }"
                        .into(),
                )
            })?;
            let d = service_time_s
                .build()
                .map_err(|m| invalid("servers.service_time_s", m))?;
            if d.mean() <= 0.0 {
                return Err(invalid(
                    "servers.service_time_s",
                    "the mean service time must be greater than zero".into(),
                ));
            }
            if rs.mode == Some(disagg::ServersMode::Disaggregated) {
                return Err(invalid(
                    "servers.mode",
                    "disaggregated applies to kind = \"llm\" servers".into(),
                ));
            }
            ServersSpec {
                count: rs.count,
                kind: ServerKind::Queue {
                    slots,
                    service_time_s,
                },
                disagg: None,
            }
        }
        ServerKindName::Llm => {
            let m = llm::validate_model(raw.model, file)?;
            let spec = llm::validate_servers(&rs, &m, file)?;
            model = Some(m);
            request = Some(match (&raw.request, &traffic.records) {
                // A replayed trace brings its token counts; its empirical distributions stand
                // for them in costs and estimates.
                (None, Some(records)) => {
                    let (iv, iw) = crate::trace::empirical_input_tokens(records);
                    let (ov, ow) = crate::trace::empirical_output_tokens(records);
                    RequestSpec {
                        input_tokens: DistSpec::Empirical {
                            values: iv,
                            weights: Some(iw),
                        },
                        output_tokens: DistSpec::Empirical {
                            values: ov,
                            weights: Some(ow),
                        },
                        rounds: 1,
                        think_time_s: None,
                        system_prompt_tokens: 0,
                    }
                }
                _ => llm::validate_request(raw.request, file)?,
            });
            if let (Some(m), Some(req)) = (&model, &request) {
                check_fits_kv(&spec, m, req, file)?;
            }
            // Issue 17: the prefill and decode pools, if the fleet is split.
            let split = match (&model, &request) {
                (Some(m), Some(req)) => disagg::validate(&rs, m, req, file)?,
                _ => None,
            };
            if split.is_some() && raw.autoscale.is_some() {
                return Err(invalid(
                    "autoscale",
                    "does not apply to mode = \"disaggregated\" fleets yet".into(),
                ));
            }
            ServersSpec {
                count: rs.count,
                kind: ServerKind::Llm(spec),
                disagg: split.map(Box::new),
            }
        }
    };
    if let ServerKind::Llm(spec) = &servers.kind {
        let per_server = u64::from(spec.gpus_per_server / spec.tensor_parallel.max(1));
        let most = raw
            .autoscale
            .as_ref()
            .and_then(|a| a.max_servers)
            .unwrap_or(0)
            .max(servers.count);
        let replicas = per_server * u64::from(most);
        if replicas > limits::MAX_FLEET_REPLICAS {
            return Err(invalid(
                if most > servers.count {
                    "autoscale.max_servers"
                } else {
                    "servers.count"
                },
                format!(
                    "{most} servers x {per_server} replicas each = {replicas} model replicas, \
                     above the limit of {}",
                    limits::MAX_FLEET_REPLICAS
                ),
            ));
        }
    }

    let is_llm = kind_name == ServerKindName::Llm;
    let router = RouterSpec {
        policy: raw.router.and_then(|r| r.policy).unwrap_or(if is_llm {
            RouterPolicy::LeastOutstanding
        } else {
            RouterPolicy::CentralQueue
        }),
    };
    if router.policy == RouterPolicy::PrefixAffinity
        && !matches!(&servers.kind, ServerKind::Llm(spec) if spec.prefix_cache)
    {
        return Err(invalid(
            "router.policy",
            "prefix-affinity routes on the replicas' prefix caches: it needs kind = \"llm\" \
             and servers.prefix_cache = true"
                .into(),
        ));
    }
    if is_llm && router.policy == RouterPolicy::CentralQueue {
        return Err(invalid(
            "router.policy",
            "central-queue models a pool of identical slots and does not apply to llm \
             servers, whose replicas batch; use round-robin, random, least-outstanding or \
             power-of-two"
                .into(),
        ));
    }

    let rc = raw.cache.unwrap_or(RawCache {
        kind: None,
        hit_rate: None,
        hit_latency_s: None,
        zipf_s: None,
        distinct_queries: None,
        capacity: None,
        ttl_s: None,
    });
    let cache = match rc.kind.unwrap_or(CacheKindName::None) {
        CacheKindName::None => {
            if rc.hit_rate.is_some() {
                return Err(invalid(
                    "cache.hit_rate",
                    "only applies to kind = \"bernoulli\" (this cache has kind = \"none\")".into(),
                ));
            }
            CacheSpec::None
        }
        CacheKindName::Bernoulli => {
            let hit_rate = rc.hit_rate.ok_or_else(|| {
                invalid(
                    "cache.hit_rate",
                    "missing: kind = \"bernoulli\" needs a hit rate between 0 and 1".into(),
                )
            })?;
            if !(0.0..=1.0).contains(&hit_rate) {
                return Err(invalid(
                    "cache.hit_rate",
                    format!("must be between 0 and 1 inclusive, got {hit_rate}"),
                ));
            }
            let hit_latency_s = rc.hit_latency_s.unwrap_or(DEFAULT_HIT_LATENCY_S);
            if !(hit_latency_s.is_finite() && hit_latency_s >= 0.0) {
                return Err(invalid(
                    "cache.hit_latency_s",
                    format!("must be zero or a positive number of seconds, got {hit_latency_s}"),
                ));
            }
            CacheSpec::Bernoulli {
                hit_rate,
                hit_latency_s,
            }
        }
        CacheKindName::Lru => {
            let zipf_s = rc.zipf_s.unwrap_or(0.8);
            if !(zipf_s.is_finite() && zipf_s >= 0.0) {
                return Err(invalid(
                    "cache.zipf_s",
                    format!("must be zero or positive, got {zipf_s}"),
                ));
            }
            let distinct_queries = rc.distinct_queries.ok_or_else(|| {
                invalid(
                    "cache.distinct_queries",
                    "missing: kind = \"lru\" needs the number of distinct queries".into(),
                )
            })?;
            if distinct_queries == 0 || distinct_queries > 10_000_000 {
                return Err(invalid(
                    "cache.distinct_queries",
                    format!("must be between 1 and 10,000,000, got {distinct_queries}"),
                ));
            }
            let capacity = rc.capacity.ok_or_else(|| {
                invalid(
                    "cache.capacity",
                    "missing: kind = \"lru\" needs a capacity in entries".into(),
                )
            })?;
            if capacity > limits::MAX_CACHE_ENTRIES {
                return Err(invalid(
                    "cache.capacity",
                    format!(
                        "must be at most {} entries, got {capacity}",
                        limits::MAX_CACHE_ENTRIES
                    ),
                ));
            }
            if let Some(t) = rc.ttl_s
                && !(t.is_finite() && t > 0.0)
            {
                return Err(invalid(
                    "cache.ttl_s",
                    format!("must be a positive number of seconds, got {t}"),
                ));
            }
            let hit_latency_s = rc.hit_latency_s.unwrap_or(DEFAULT_HIT_LATENCY_S);
            if !(hit_latency_s.is_finite() && hit_latency_s >= 0.0) {
                return Err(invalid(
                    "cache.hit_latency_s",
                    format!("must be zero or a positive number of seconds, got {hit_latency_s}"),
                ));
            }
            CacheSpec::Lru {
                zipf_s,
                distinct_queries,
                capacity,
                ttl_s: rc.ttl_s,
                hit_latency_s,
            }
        }
    };

    let cost = validate_cost(raw.cost, &cache, &servers, file)?;
    let slo = validate_slo(raw.slo, is_llm, file)?;
    let autoscale = validate_autoscale(raw.autoscale, &servers, file)?;
    Ok(Scenario {
        name,
        description: raw.description.unwrap_or_default(),
        run,
        traffic,
        servers,
        router,
        cache,
        model,
        request,
        cost,
        autoscale,
        slo,
    })
}

impl Scenario {
    /// The scenario as TOML in the input schema, with every default written out.
    pub fn to_resolved_toml(&self) -> String {
        // Serialising plain structs of numbers and strings cannot fail.
        toml::to_string(self).unwrap_or_else(|e| format!("# could not serialise: {e}\n"))
    }

    /// Every file this scenario read during validation, with the key that named it. Nothing
    /// else is opened by a run; `fleetsim serve` checks this list against its folder.
    pub fn files_read(&self) -> Vec<FileRead> {
        let mut out = Vec::new();
        if let Some(p) = &self.traffic.rates_csv {
            out.push(FileRead {
                key: "traffic.rates_csv",
                path: p.clone(),
            });
        }
        if self.traffic.records.is_some()
            && let Some(p) = &self.traffic.path
        {
            out.push(FileRead {
                key: "traffic.path",
                path: PathBuf::from(p),
            });
        }
        out
    }

    /// The largest fleet this scenario may have within the validation bounds
    /// ([`limits::MAX_SERVERS`], and [`limits::MAX_FLEET_REPLICAS`] for an LLM fleet); a
    /// plan's search stays below it.
    pub fn max_servers_allowed(&self) -> u32 {
        match &self.servers.kind {
            ServerKind::Llm(spec) => {
                let per_server = u64::from(spec.gpus_per_server / spec.tensor_parallel.max(1));
                let most = limits::MAX_FLEET_REPLICAS / per_server.max(1);
                u32::try_from(most).map_or(limits::MAX_SERVERS, |m| m.min(limits::MAX_SERVERS))
            }
            ServerKind::Queue { slots, .. } => {
                let most = limits::MAX_FLEET_SLOTS / u64::from((*slots).max(1));
                u32::try_from(most).map_or(limits::MAX_SERVERS, |m| m.min(limits::MAX_SERVERS))
            }
        }
    }

    /// The path-like label used in messages for a scenario that came from no file.
    pub fn inline_path() -> PathBuf {
        PathBuf::from("<inline scenario>")
    }
}
