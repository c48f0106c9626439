//! The scenario file exactly as written: optional keys, no defaults yet. serde rejects unknown
//! keys and wrong types here, with the line number; [`super::validate`] checks the values.

use serde::{Deserialize, Serialize};

use super::{ArrivalKind, Batching, DistSpec, RouterPolicy};

/// A scenario file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawScenario {
    /// Scenario name (default: the file stem).
    pub name: Option<String>,
    /// Free text.
    pub description: Option<String>,
    /// `[run]`: seed, replications, overload guard.
    pub run: Option<RawRun>,
    /// `[traffic]`: the request stream.
    pub traffic: RawTraffic,
    /// `[servers]`: the server pool.
    pub servers: RawServers,
    /// `[router]`: routing policy.
    pub router: Option<RawRouter>,
    /// `[cache]`: response cache.
    pub cache: Option<RawCache>,
    /// `[model]`: the LLM served (`kind = "llm"` only).
    pub model: Option<RawModel>,
    /// `[request]`: what each request asks of an LLM server.
    pub request: Option<RawRequest>,
    /// `[cost]`: prices and the formula's assumptions.
    pub cost: Option<RawCost>,
    /// `[autoscale]`: grow and shrink an LLM fleet with its load.
    pub autoscale: Option<RawAutoscale>,
    /// `[slo]`: latency targets, `<metric>_<stat>_s = seconds`.
    pub slo: Option<std::collections::BTreeMap<String, f64>>,
}

/// `[cost]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCost {
    /// Cloud price preset (default: the preset for `servers.hardware`).
    pub cloud_preset: Option<String>,
    /// Cloud price per server-hour, overriding the preset (no GPU type or count check).
    pub cloud_usd_per_server_hour: Option<f64>,
    /// Cloud price per GPU-hour, times `servers.gpus_per_server` (no GPU type check).
    pub cloud_usd_per_gpu_hour: Option<f64>,
    /// The idle rate the R1 formula assumes (default 0.20).
    pub assumed_idle_rate: Option<f64>,
    /// The cache hit rate the formula assumes (default: the cache's configured hit rate).
    pub assumed_cache_hit_rate: Option<f64>,
    /// The MFU the formula assumes (default 0.30, R1).
    pub assumed_mfu: Option<f64>,
    /// Self-built server type (default: the one for `servers.hardware`).
    pub tco_preset: Option<String>,
    /// Self-built server price, USD.
    pub server_capex_usd: Option<f64>,
    /// Depreciation years.
    pub years: Option<f64>,
    /// Server power, kW.
    pub power_kw: Option<f64>,
    /// Average fraction of power drawn.
    pub power_draw_fraction: Option<f64>,
    /// Data-centre PUE.
    pub pue: Option<f64>,
    /// Electricity, USD per kWh.
    pub usd_per_kwh: Option<f64>,
    /// Rack rent per month, USD.
    pub hosting_usd_per_rack_month: Option<f64>,
    /// Servers per rack.
    pub servers_per_rack: Option<f64>,
}

/// `[model]` as written: a preset, custom keys, or a preset with some keys changed.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawModel {
    /// Preset name (`gpt3-175b`, `llama-2-70b`, ...).
    pub preset: Option<String>,
    /// Display name (default: the preset name, or `custom`).
    pub name: Option<String>,
    /// Parameters.
    pub params: Option<f64>,
    /// Transformer layers.
    pub layers: Option<u32>,
    /// Hidden size.
    pub hidden: Option<u32>,
    /// Query heads.
    pub heads: Option<u32>,
    /// Key/value heads (grouped-query attention; default = heads).
    pub kv_heads: Option<u32>,
    /// Bytes per parameter (2 for fp16/bf16).
    pub bytes_per_param: Option<f64>,
    /// Weight bytes, overriding params x bytes_per_param.
    pub weight_bytes: Option<f64>,
    /// The reports' compression factor (default 1.0).
    pub compression: Option<f64>,
    /// MLP intermediate size (default: the preset's, or derived from `params`).
    pub ffn_hidden: Option<u32>,
    /// Vocabulary size (default: the preset's, or 32,000).
    pub vocab: Option<u32>,
    /// Gated (SwiGLU) MLP (default: the preset's, or true).
    pub gated_mlp: Option<bool>,
}

/// `[request]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRequest {
    /// Prompt tokens per request: a number (fixed) or a distribution table.
    #[serde(default, deserialize_with = "super::dist::number_or_table")]
    pub input_tokens: Option<DistSpec>,
    /// Generated tokens per request.
    #[serde(default, deserialize_with = "super::dist::number_or_table")]
    pub output_tokens: Option<DistSpec>,
    /// Rounds per session (default 1: every request stands alone).
    pub rounds: Option<u32>,
    /// Seconds between a round's answer and the next round's question.
    #[serde(default, deserialize_with = "super::dist::number_or_table")]
    pub think_time_s: Option<DistSpec>,
    /// Tokens of a system prompt at the start of every session's first prompt (default 0).
    pub system_prompt_tokens: Option<u32>,
}

/// `[servers.gpu]` as written: overrides of the `hardware` preset's fields.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawGpu {
    /// Display name.
    pub name: Option<String>,
    /// HBM capacity per GPU, bytes.
    pub hbm_bytes: Option<f64>,
    /// HBM bandwidth per GPU, bytes/s.
    pub hbm_bw_bytes_per_s: Option<f64>,
    /// Dense 16-bit peak per GPU, FLOP/s.
    pub peak_flops: Option<f64>,
    /// NVLink bandwidth per direction, bytes/s.
    pub nvlink_bw_bytes_per_s: Option<f64>,
    /// Power per GPU, watts.
    pub tdp_w: Option<f64>,
    /// Generation (`ampere` or `hopper`), selecting the measured kernel and collective tables.
    pub arch: Option<crate::timing::GpuArch>,
}

/// `servers.stack` as written: `"vllm"`, or `{ preset = "vllm", host_per_step_s = ... }`.
#[derive(Clone, Debug)]
pub enum RawStack {
    /// A preset name.
    Name(String),
    /// A preset with overrides.
    Table(Box<RawStackTable>),
}

impl<'de> Deserialize<'de> for RawStack {
    /// A string is a preset name; a table goes through [`RawStackTable`] so that its errors
    /// (an unknown field, a wrong type) name the field instead of "no variant matched".
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        match toml::Value::deserialize(d)? {
            toml::Value::String(name) => Ok(RawStack::Name(name)),
            v @ toml::Value::Table(_) => v
                .try_into::<RawStackTable>()
                .map(|t| RawStack::Table(Box::new(t)))
                .map_err(|e| D::Error::custom(e.message().to_string())),
            other => Err(D::Error::custom(format!(
                "expected a stack preset name (\"vllm\") or a table with `preset` and \
                 overrides, got {}",
                other.type_str()
            ))),
        }
    }
}

/// `[servers.stack]` as a table: a preset and overrides of any of its parameters.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStackTable {
    /// Preset to start from (default `vllm`).
    pub preset: Option<String>,
    /// Achieved fraction of peak FLOP/s of prefill attention.
    pub prefill_attn_flops_frac: Option<f64>,
    /// Achieved fraction of peak bandwidth reading the KV cache.
    pub decode_attn_bw_frac: Option<f64>,
    /// Decode attention FLOP/s as a fraction of peak tensor FLOP/s.
    pub decode_attn_flops_frac: Option<f64>,
    /// Custom all-reduce latency per peer rank, seconds (0 = NCCL only).
    pub custom_allreduce_per_peer_s: Option<f64>,
    /// Minimum attention time per layer, seconds.
    pub attn_floor_s: Option<f64>,
    /// Attention work per sequence per layer, seconds.
    pub attn_per_seq_s: Option<f64>,
    /// Minimum time per kernel set by host launches, seconds.
    pub launch_floor_s: Option<f64>,
    /// All-reduce time as a multiple of measured NCCL.
    pub allreduce_scale: Option<f64>,
    /// Host work per iteration, seconds.
    pub host_per_step_s: Option<f64>,
    /// Host work per sequence per iteration, seconds.
    pub host_per_seq_s: Option<f64>,
    /// Host work per prompt per iteration, seconds.
    pub host_per_prefill_s: Option<f64>,
    /// Extra host work per iteration at TP > 1, seconds.
    pub host_tp_per_step_s: Option<f64>,
    /// Host work overlaps GPU work.
    pub host_overlaps_gpu: Option<bool>,
    /// Prefill iterations stall decodes.
    pub prefill_stalls_decodes: Option<bool>,
    /// Chunked prefill by default.
    pub chunked_prefill: Option<bool>,
    /// Runtime memory per GPU, bytes.
    pub runtime_bytes_per_gpu: Option<f64>,
    /// Communication buffers per GPU at TP > 1, bytes.
    pub comm_buffer_bytes_per_gpu: Option<f64>,
}

/// `[servers.efficiency]` as written: overrides of the calibrated defaults.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEfficiency {
    /// Achieved fraction of peak HBM bandwidth.
    pub mbu: Option<f64>,
    /// Achieved fraction of peak FLOP/s.
    pub mfu: Option<f64>,
    /// Multiplier on the roofline time.
    pub alpha: Option<f64>,
    /// Fixed cost per step, seconds.
    pub beta_s: Option<f64>,
    /// Latency of one all-reduce, seconds.
    pub allreduce_latency_s: Option<f64>,
}

/// `[run]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRun {
    /// Master seed (default 1).
    pub seed: Option<u64>,
    /// Independent replications (default 1).
    pub replications: Option<u32>,
    /// Overload guard: waiting requests at which the run stops (default 1,000,000).
    pub max_queue: Option<u64>,
    /// Keep simulating after the duration until every request completes (default false).
    pub drain: Option<bool>,
    /// Independent sub-fleets each replication is split into (default 1: one fleet).
    pub shards: Option<u32>,
}

/// `[traffic]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTraffic {
    /// Arrival process (default `poisson`).
    pub arrival: Option<ArrivalKind>,
    /// Mean rate per second.
    pub requests_per_s: Option<f64>,
    /// Mean rate per day (alternative to `requests_per_s`).
    pub requests_per_day: Option<f64>,
    /// Simulated duration in seconds.
    pub duration_s: f64,
    /// Warm-up in seconds (default 10% of the duration).
    pub warmup_s: Option<f64>,
    /// `diurnal`: built-in day profile (`human`).
    pub profile: Option<String>,
    /// `diurnal`: 24 relative hourly rates (UTC hour 0 first).
    pub hourly_weights: Option<Vec<f64>>,
    /// `diurnal`: a CSV of 24 hourly rates (`hour,rate` or one column).
    pub rates_csv: Option<String>,
    /// `diurnal`: the hour of day at simulated time zero (default 0).
    pub start_hour: Option<f64>,
    /// `trace`: the trace file (relative to the scenario file; `$FLEETSIM_TRACES/...` allowed).
    pub path: Option<String>,
    /// `trace`: `azure-2023` or `mooncake`.
    pub format: Option<String>,
    /// `trace`: compress (> 1) or stretch (< 1) the trace's time axis.
    pub rate_scale: Option<f64>,
    /// `trace`, `format = "csv"`: header names of the timestamp, input-token and output-token
    /// columns, and seconds per timestamp unit (default 1).
    pub timestamp_column: Option<String>,
    /// See `timestamp_column`.
    pub input_column: Option<String>,
    /// See `timestamp_column`.
    pub output_column: Option<String>,
    /// See `timestamp_column`.
    pub timestamp_unit_s: Option<f64>,
    /// `trace`: replay again from the start when the trace ends (default false).
    #[serde(rename = "loop")]
    pub loop_trace: Option<bool>,
}

/// `[servers]` as written. One flat table (not a tagged enum) so that serde reports unknown
/// keys and wrong types with their own line; `kind` decides which keys apply, in validation.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawServers {
    /// Server model (default `queue`).
    pub kind: Option<ServerKindName>,
    /// Number of servers (0 when absent: required unless `mode = "disaggregated"`, where it
    /// is the sum of the pools' counts).
    #[serde(default)]
    pub count: u32,
    /// `queue`: slots per server (default 1).
    pub slots: Option<u32>,
    /// `queue`: service time distribution in seconds.
    #[serde(default, deserialize_with = "super::dist::number_or_table")]
    pub service_time_s: Option<DistSpec>,
    /// `llm`: GPU preset (default `a100-80gb`).
    pub hardware: Option<String>,
    /// `llm`: overrides of the GPU preset's fields.
    pub gpu: Option<RawGpu>,
    /// `llm`: GPUs per server (default 8).
    pub gpus_per_server: Option<u32>,
    /// `llm`: GPUs per model replica (default: the smallest of 1, 2, 4, 8 that holds the
    /// weights).
    pub tensor_parallel: Option<u32>,
    /// `llm`: `continuous` (default) or `static`.
    pub batching: Option<Batching>,
    /// `llm`: sequences per step (default 256).
    pub max_batch: Option<u32>,
    /// `llm`: new tokens per step (default 8192).
    pub max_batch_tokens: Option<u32>,
    /// `llm`: split prompts under the token budget (default false).
    pub chunked_prefill: Option<bool>,
    /// `llm`: fraction of HBM usable (default 0.9).
    pub mem_util: Option<f64>,
    /// `llm`: HBM per GPU held back for activations, bytes.
    pub activation_reserve_bytes: Option<f64>,
    /// `llm`: overlap of compute and memory time inside each roofline term, [0, 1].
    pub compute_memory_overlap: Option<f64>,
    /// `llm`: efficiency and calibration overrides (selects the `roofline` timing model).
    pub efficiency: Option<RawEfficiency>,
    /// `llm`: the serving stack, a preset name or a table with `preset` and overrides.
    pub stack: Option<RawStack>,
    /// `llm`: keep prompts' KV blocks for reuse by later prompts with the same prefix.
    pub prefix_cache: Option<bool>,
    /// `llm`: share of KV memory the prefix cache may hold (default 0.3).
    pub prefix_cache_fraction: Option<f64>,
    /// `llm`: multiplies every modelled step time (default 1).
    pub step_time_scale: Option<f64>,
    // --- issue 17 (prefill/decode disaggregation), validated in `super::disagg` ---
    /// `llm`: `colocated` (default) or `disaggregated`.
    pub mode: Option<ServersMode>,
    /// `mode = "disaggregated"`: the prefill pool (`[servers]` keys; unset ones inherited).
    pub prefill: Option<Box<RawServers>>,
    /// `mode = "disaggregated"`: the decode pool (`[servers]` keys; unset ones inherited).
    pub decode: Option<Box<RawServers>>,
    /// `mode = "disaggregated"`: the KV transfer link.
    pub kv_transfer: Option<RawKvTransfer>,
}

/// The server models a scenario can name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ServerKindName {
    /// A generic multi-slot queueing server.
    Queue,
    /// An LLM inference server (8 GPUs by default) with continuous batching.
    Llm,
}

/// `[router]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRouter {
    /// Policy (default `central-queue`).
    pub policy: Option<RouterPolicy>,
}

/// `[cache]` as written; flat for the same reason as [`RawServers`].
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCache {
    /// Cache model (default `none`).
    pub kind: Option<CacheKindName>,
    /// `bernoulli`: hit probability in [0, 1].
    pub hit_rate: Option<f64>,
    /// Seconds to answer a hit (default 0.01).
    pub hit_latency_s: Option<f64>,
    /// `lru`: Zipf exponent of query popularity.
    pub zipf_s: Option<f64>,
    /// `lru`: number of distinct queries.
    pub distinct_queries: Option<u64>,
    /// `lru`: entries the cache holds.
    pub capacity: Option<u64>,
    /// `lru`: seconds an entry stays valid after insertion (default: for ever).
    pub ttl_s: Option<f64>,
}

/// The cache models a scenario can name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CacheKindName {
    /// No cache.
    None,
    /// Fixed hit probability.
    Bernoulli,
    /// LRU cache over Zipf-popular queries.
    Lru,
}

/// `[autoscale]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAutoscale {
    /// Fewest active servers (default 1).
    pub min_servers: Option<u32>,
    /// Most servers (default: servers.count).
    pub max_servers: Option<u32>,
    /// Load the fleet is sized for, in (0, 1] (default 0.7).
    pub target_utilization: Option<f64>,
    /// In-flight sequences per replica that count as full load (default 16).
    pub sequences_per_replica: Option<f64>,
    /// Seconds from ordering a server to it serving (default 300).
    pub scale_out_delay_s: Option<f64>,
    /// Seconds after any scaling before a scale-in (default 600).
    pub scale_in_cooldown_s: Option<f64>,
    /// Seconds between evaluations (default 60).
    pub interval_s: Option<f64>,
}

/// How the servers of an LLM fleet share the work.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ServersMode {
    /// Every replica prefills and decodes (the default).
    #[default]
    Colocated,
    /// Prefill and decode run on separate pools joined by a KV link.
    Disaggregated,
}

/// `[servers.kv_transfer]` as written.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawKvTransfer {
    /// Link bandwidth per prefill server, bytes/s (`inf` for an ideal link).
    pub bandwidth_bytes_per_s: Option<f64>,
    /// Fixed latency per transfer, seconds.
    pub latency_s: Option<f64>,
    /// Whether the transfer streams layer by layer under the prefill.
    pub overlap: Option<bool>,
}
