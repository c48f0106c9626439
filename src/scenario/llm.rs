//! The `llm` server kind in a scenario: hardware, model, deployment and batching keys,
//! validated into an [`LlmServerSpec`] that builds the timing model.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::raw::{RawModel, RawRequest, RawServers, RawStack};
use super::{DistSpec, ScenarioError};
use crate::fleet::replica::Batching;
use crate::timing::deployment::ALLOWED_TP;
use crate::timing::{
    DEFAULT_COMPUTE_MEMORY_OVERLAP, DEFAULT_STACK, Deployment, Efficiency, GPU_PRESETS, Gpu,
    MODEL_PRESETS, Model, STACK_PRESETS, StackProfile, gpu_preset, model_preset, stack_preset,
};

/// Default sequences per step (vLLM's `max_num_seqs`).
pub const DEFAULT_MAX_BATCH: u32 = 256;
/// Default new tokens per step (vLLM's `max_num_batched_tokens` with chunked prefill off).
pub const DEFAULT_MAX_BATCH_TOKENS: u32 = 8192;
/// When `tensor_parallel` is not given, the smallest degree whose KV cache holds this many
/// full token budgets (`max_batch_tokens`) is chosen.
pub const DEFAULT_TP_KV_BATCHES: u64 = 4;
/// Default usable fraction of HBM (vLLM's `gpu_memory_utilization`).
pub const DEFAULT_MEM_UTIL: f64 = 0.9;

/// A validated `kind = "llm"` server pool (everything but the count and the model).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LlmServerSpec {
    /// The GPU preset the `gpu` table started from.
    pub hardware: String,
    /// GPUs per server.
    pub gpus_per_server: u32,
    /// GPUs per model replica.
    pub tensor_parallel: u32,
    /// Batching mode.
    pub batching: Batching,
    /// Sequences per step.
    pub max_batch: u32,
    /// New tokens per step.
    pub max_batch_tokens: u32,
    /// Split prompts under the token budget.
    pub chunked_prefill: bool,
    /// Usable fraction of HBM.
    pub mem_util: f64,
    /// HBM per GPU held back for activations and the runtime, bytes, replacing the computed
    /// peak (`None`: computed from the stack and the batch limits).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activation_reserve_bytes: Option<f64>,
    /// The serving stack (`None`: the `roofline` model with `efficiency`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stack: Option<StackProfile>,
    /// Overlap of compute and memory time inside each roofline term.
    pub compute_memory_overlap: f64,
    /// The GPU, with every field resolved.
    pub gpu: Gpu,
    /// Efficiency and calibration constants.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub efficiency: Option<Efficiency>,
    /// Keep prompts' KV blocks (512 tokens) for reuse by later prompts sharing the prefix.
    #[serde(default)]
    pub prefix_cache: bool,
    /// Share of KV memory set aside for the prefix cache (a static split: running sequences
    /// use the rest).
    #[serde(default)]
    pub prefix_cache_fraction: f64,
    /// Multiplies every step time of the timing model (1 = as modelled); `plan` uses it for
    /// the timing band, and a sweep over it shows how much an answer leans on the model.
    #[serde(default = "one_f64", skip_serializing_if = "is_one")]
    pub step_time_scale: f64,
}

fn one_f64() -> f64 {
    1.0
}

fn is_one(x: &f64) -> bool {
    *x == 1.0
}

/// What each request asks of an LLM server.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestSpec {
    /// Prompt tokens.
    pub input_tokens: DistSpec,
    /// Generated tokens.
    pub output_tokens: DistSpec,
    /// Rounds per session: round k's prompt carries the conversation so far (every earlier
    /// round's input and output) plus its own new input.
    #[serde(default = "one")]
    pub rounds: u32,
    /// Seconds between a round's last token and the next round's arrival.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub think_time_s: Option<DistSpec>,
    /// Tokens of a system prompt shared by every session's first prompt.
    #[serde(default)]
    pub system_prompt_tokens: u32,
}

fn one() -> u32 {
    1
}

impl LlmServerSpec {
    /// The timing model of one replica of `model` on this server. Every override (the
    /// activation reserve, the overlap, the batch limits) is applied before the checks.
    pub fn deployment(&self, model: &Model) -> Result<Deployment, String> {
        Deployment {
            gpu: self.gpu.clone(),
            gpus_per_server: self.gpus_per_server,
            tensor_parallel: self.tensor_parallel,
            model: model.clone(),
            stack: self.stack.clone(),
            eff: self
                .efficiency
                .clone()
                .unwrap_or_else(|| Efficiency::calibrated_default(self.tensor_parallel)),
            mem_util: self.mem_util,
            activation_reserve_bytes: self.activation_reserve_bytes,
            max_batch: self.max_batch,
            max_batch_tokens: self.max_batch_tokens,
            compute_memory_overlap: self.compute_memory_overlap,
        }
        .validated()
        .map_err(|e| e.to_string())
    }
}

fn invalid(file: &Path, key: &str, message: String) -> ScenarioError {
    ScenarioError::Invalid {
        file: file.to_path_buf(),
        key: key.to_string(),
        message,
    }
}

fn positive(file: &Path, key: &str, v: f64) -> Result<f64, ScenarioError> {
    if v.is_finite() && v > 0.0 {
        Ok(v)
    } else {
        Err(invalid(
            file,
            key,
            format!("must be a positive number, got {v}"),
        ))
    }
}

/// Validates the `[model]` table.
pub fn validate_model(raw: Option<RawModel>, file: &Path) -> Result<Model, ScenarioError> {
    let raw = raw.ok_or_else(|| {
        invalid(
            file,
            "model",
            format!(
                "missing: kind = \"llm\" needs a [model] table with `preset` (one of {}) or \
                 the keys params, layers, hidden, heads",
                MODEL_PRESETS.join(", ")
            ),
        )
    })?;
    let base = match &raw.preset {
        Some(p) => Some(model_preset(p).ok_or_else(|| {
            invalid(
                file,
                "model.preset",
                format!(
                    "unknown preset {p:?}; allowed: {}",
                    MODEL_PRESETS.join(", ")
                ),
            )
        })?),
        None => None,
    };
    let need = |v: Option<f64>, from: Option<f64>, key: &str| -> Result<f64, ScenarioError> {
        v.or(from).ok_or_else(|| {
            invalid(
                file,
                key,
                "missing: give it, or a `preset` to take it from".into(),
            )
        })
    };
    let b = base.as_ref();
    let params = positive(
        file,
        "model.params",
        need(raw.params, b.map(|m| m.params), "model.params")?,
    )?;
    let layers = need(
        raw.layers.map(f64::from),
        b.map(|m| f64::from(m.layers)),
        "model.layers",
    )? as u32;
    let hidden = need(
        raw.hidden.map(f64::from),
        b.map(|m| f64::from(m.hidden)),
        "model.hidden",
    )? as u32;
    let heads = need(
        raw.heads.map(f64::from),
        b.map(|m| f64::from(m.heads)),
        "model.heads",
    )? as u32;
    let kv_heads = raw.kv_heads.or(b.map(|m| m.kv_heads)).unwrap_or(heads);
    for (key, v) in [
        ("model.layers", layers),
        ("model.hidden", hidden),
        ("model.heads", heads),
        ("model.kv_heads", kv_heads),
    ] {
        if v == 0 {
            return Err(invalid(file, key, "must be at least 1, got 0".into()));
        }
    }
    if !hidden.is_multiple_of(heads) {
        return Err(invalid(
            file,
            "model.heads",
            format!("must divide hidden ({hidden}), got {heads}"),
        ));
    }
    if kv_heads > heads || !heads.is_multiple_of(kv_heads) {
        return Err(invalid(
            file,
            "model.kv_heads",
            format!("must divide heads ({heads}), got {kv_heads}"),
        ));
    }
    let bytes_per_param = positive(
        file,
        "model.bytes_per_param",
        raw.bytes_per_param
            .or(b.map(|m| m.bytes_per_param))
            .unwrap_or(2.0),
    )?;
    let weight_bytes = match raw.weight_bytes.or(b.and_then(|m| m.weight_bytes)) {
        Some(w) => Some(positive(file, "model.weight_bytes", w)?),
        None => None,
    };
    let compression = raw.compression.or(b.map(|m| m.compression)).unwrap_or(1.0);
    if !(compression > 0.0 && compression <= 1.0) {
        return Err(invalid(
            file,
            "model.compression",
            format!(
                "must be in (0, 1] (the fraction of the weights a compressed model moves and computes), got {compression}"
            ),
        ));
    }
    let ffn_hidden = raw.ffn_hidden.or(b.map(|m| m.ffn_hidden)).unwrap_or(0);
    let vocab = raw.vocab.or(b.map(|m| m.vocab)).unwrap_or(0);
    let gated_mlp = raw.gated_mlp.or(b.map(|m| m.gated_mlp)).unwrap_or(true);
    for (key, v) in [("model.ffn_hidden", ffn_hidden), ("model.vocab", vocab)] {
        if v > 10_000_000 {
            return Err(invalid(
                file,
                key,
                format!("must be at most 10,000,000, got {v}"),
            ));
        }
    }
    let name = raw
        .name
        .or(raw.preset.clone())
        .or(b.map(|m| m.name.clone()))
        .unwrap_or_else(|| "custom".into());
    Ok(Model {
        name,
        params,
        layers,
        hidden,
        heads,
        kv_heads,
        bytes_per_param,
        weight_bytes,
        compression,
        ffn_hidden,
        vocab,
        gated_mlp,
    })
}

/// Resolves `servers.stack` (and whether `efficiency` selects the roofline model).
fn resolve_stack(rs: &RawServers, file: &Path) -> Result<Option<StackProfile>, ScenarioError> {
    let key = "servers.stack";
    let allowed = || format!("{}, roofline", STACK_PRESETS.join(", "));
    let (name, table) = match &rs.stack {
        None => (None, None),
        Some(RawStack::Name(n)) => (Some(n.clone()), None),
        Some(RawStack::Table(t)) => (t.preset.clone(), Some(t)),
    };
    let roofline = name.as_deref().map(str::to_ascii_lowercase).as_deref() == Some("roofline");
    if roofline || (name.is_none() && rs.efficiency.is_some()) {
        if table.is_some() {
            return Err(invalid(
                file,
                key,
                "the roofline model takes `efficiency = {...}`, not stack parameters".into(),
            ));
        }
        return Ok(None);
    }
    if rs.efficiency.is_some() {
        return Err(invalid(
            file,
            "servers.efficiency",
            format!(
                "only applies to the roofline model (stack = \"roofline\"); the stack {:?} \
                 sets its own efficiencies (override them in [servers.stack])",
                name.as_deref().unwrap_or(DEFAULT_STACK)
            ),
        ));
    }
    let name = name.unwrap_or_else(|| DEFAULT_STACK.to_string());
    let mut p = stack_preset(&name).ok_or_else(|| {
        invalid(
            file,
            key,
            format!("unknown stack {name:?}; allowed: {}", allowed()),
        )
    })?;
    if let Some(t) = table {
        let f64s = [
            (t.prefill_attn_flops_frac, &mut p.prefill_attn_flops_frac),
            (t.decode_attn_bw_frac, &mut p.decode_attn_bw_frac),
            (t.decode_attn_flops_frac, &mut p.decode_attn_flops_frac),
            (
                t.custom_allreduce_per_peer_s,
                &mut p.custom_allreduce_per_peer_s,
            ),
            (t.attn_floor_s, &mut p.attn_floor_s),
            (t.attn_per_seq_s, &mut p.attn_per_seq_s),
            (t.launch_floor_s, &mut p.launch_floor_s),
            (t.allreduce_scale, &mut p.allreduce_scale),
            (t.host_per_step_s, &mut p.host_per_step_s),
            (t.host_per_seq_s, &mut p.host_per_seq_s),
            (t.host_per_prefill_s, &mut p.host_per_prefill_s),
            (t.host_tp_per_step_s, &mut p.host_tp_per_step_s),
            (t.runtime_bytes_per_gpu, &mut p.runtime_bytes_per_gpu),
            (
                t.comm_buffer_bytes_per_gpu,
                &mut p.comm_buffer_bytes_per_gpu,
            ),
        ];
        for (v, slot) in f64s {
            if let Some(v) = v {
                *slot = v;
            }
        }
        let bools = [
            (t.host_overlaps_gpu, &mut p.host_overlaps_gpu),
            (t.prefill_stalls_decodes, &mut p.prefill_stalls_decodes),
            (t.chunked_prefill, &mut p.chunked_prefill),
        ];
        for (v, slot) in bools {
            if let Some(v) = v {
                *slot = v;
            }
        }
    }
    p.validate().map_err(|m| invalid(file, key, m))?;
    Ok(Some(p))
}

/// Validates the `[request]` table for an LLM scenario.
pub fn validate_request(
    raw: Option<RawRequest>,
    file: &Path,
) -> Result<RequestSpec, ScenarioError> {
    let raw = raw.unwrap_or_default();
    let check = |v: Option<DistSpec>, key: &str| -> Result<DistSpec, ScenarioError> {
        let d = v.ok_or_else(|| {
            invalid(
                file,
                key,
                "missing: kind = \"llm\" needs token-count distributions, e.g. \
                 { dist = \"fixed\", value = 1000 }"
                    .into(),
            )
        })?;
        let built = d.build().map_err(|m| invalid(file, key, m))?;
        if built.mean() < 1.0 {
            return Err(invalid(
                file,
                key,
                format!("the mean must be at least 1 token, got {}", built.mean()),
            ));
        }
        let most = super::limits::MAX_TOKENS_PER_REQUEST;
        if built.mean() > most {
            return Err(invalid(
                file,
                key,
                format!(
                    "the mean must be at most {most} tokens, got {}",
                    built.mean()
                ),
            ));
        }
        Ok(d)
    };
    let rounds = raw.rounds.unwrap_or(1);
    if rounds == 0 || rounds > 1000 {
        return Err(invalid(
            file,
            "request.rounds",
            format!("must be between 1 and 1000, got {rounds}"),
        ));
    }
    let think_time_s = match raw.think_time_s {
        Some(d) => {
            d.build()
                .map_err(|m| invalid(file, "request.think_time_s", m))?;
            Some(d)
        }
        None => None,
    };
    if think_time_s.is_some() && rounds == 1 {
        return Err(invalid(
            file,
            "request.think_time_s",
            "only applies to sessions of more than one round (set request.rounds)".into(),
        ));
    }
    Ok(RequestSpec {
        input_tokens: check(raw.input_tokens, "request.input_tokens")?,
        output_tokens: check(raw.output_tokens, "request.output_tokens")?,
        rounds,
        think_time_s,
        system_prompt_tokens: raw.system_prompt_tokens.unwrap_or(0),
    })
}

/// Validates the `llm` keys of `[servers]` against `model`.
pub fn validate_servers(
    rs: &RawServers,
    model: &Model,
    file: &Path,
) -> Result<LlmServerSpec, ScenarioError> {
    for (key, present) in [
        ("servers.slots", rs.slots.is_some()),
        ("servers.service_time_s", rs.service_time_s.is_some()),
    ] {
        if present {
            return Err(invalid(
                file,
                key,
                "only applies to kind = \"queue\"; an llm server's timing comes from [model] \
                 and [request]"
                    .into(),
            ));
        }
    }
    let hardware = rs.hardware.clone().unwrap_or_else(|| "a100-80gb".into());
    let mut gpu = gpu_preset(&hardware).ok_or_else(|| {
        invalid(
            file,
            "servers.hardware",
            format!(
                "unknown GPU preset {hardware:?}; allowed: {}",
                GPU_PRESETS.join(", ")
            ),
        )
    })?;
    if let Some(g) = &rs.gpu {
        if let Some(n) = &g.name {
            gpu.name = n.clone();
        }
        if let Some(a) = g.arch {
            gpu.arch = a;
        }
        for (key, v, slot) in [
            ("servers.gpu.hbm_bytes", g.hbm_bytes, &mut gpu.hbm_bytes),
            (
                "servers.gpu.hbm_bw_bytes_per_s",
                g.hbm_bw_bytes_per_s,
                &mut gpu.hbm_bw_bytes_per_s,
            ),
            ("servers.gpu.peak_flops", g.peak_flops, &mut gpu.peak_flops),
            (
                "servers.gpu.nvlink_bw_bytes_per_s",
                g.nvlink_bw_bytes_per_s,
                &mut gpu.nvlink_bw_bytes_per_s,
            ),
            ("servers.gpu.tdp_w", g.tdp_w, &mut gpu.tdp_w),
        ] {
            if let Some(v) = v {
                *slot = positive(file, key, v)?;
            }
        }
    }
    let gpus_per_server = rs.gpus_per_server.unwrap_or(8);
    let max_gpus = super::limits::MAX_GPUS_PER_SERVER;
    if gpus_per_server == 0 || gpus_per_server > max_gpus {
        return Err(invalid(
            file,
            "servers.gpus_per_server",
            format!("must be between 1 and {max_gpus}, got {gpus_per_server}"),
        ));
    }
    let mem_util = rs.mem_util.unwrap_or(DEFAULT_MEM_UTIL);
    if mem_util.is_nan() || mem_util <= 0.0 || mem_util > 1.0 {
        return Err(invalid(
            file,
            "servers.mem_util",
            format!("must be in (0, 1] (the fraction of GPU memory used), got {mem_util}"),
        ));
    }
    let batching = rs.batching.unwrap_or(Batching::Continuous);
    let max_batch = rs.max_batch.unwrap_or(match batching {
        Batching::Continuous => DEFAULT_MAX_BATCH,
        Batching::Static => 1,
    });
    if max_batch == 0 {
        return Err(invalid(
            file,
            "servers.max_batch",
            "must be at least 1, got 0".into(),
        ));
    }
    let max_batch_tokens = rs.max_batch_tokens.unwrap_or(DEFAULT_MAX_BATCH_TOKENS);
    if max_batch_tokens == 0 {
        return Err(invalid(
            file,
            "servers.max_batch_tokens",
            "must be at least 1, got 0".into(),
        ));
    }
    let overlap = rs
        .compute_memory_overlap
        .unwrap_or(DEFAULT_COMPUTE_MEMORY_OVERLAP);
    if !(0.0..=1.0).contains(&overlap) {
        return Err(invalid(
            file,
            "servers.compute_memory_overlap",
            format!("must be between 0 and 1, got {overlap}"),
        ));
    }
    let reserve = rs.activation_reserve_bytes;
    if let Some(r) = reserve
        && !(r.is_finite() && (0.0..=1e15).contains(&r))
    {
        return Err(invalid(
            file,
            "servers.activation_reserve_bytes",
            format!("must be zero or positive bytes (at most 1e15), got {r}"),
        ));
    }
    let stack = resolve_stack(rs, file)?;
    let chunked_prefill = rs
        .chunked_prefill
        .unwrap_or(stack.as_ref().is_some_and(|s| s.chunked_prefill));
    let prefix_cache = rs.prefix_cache.unwrap_or(false);
    let prefix_cache_fraction =
        rs.prefix_cache_fraction
            .unwrap_or(if prefix_cache { 0.3 } else { 0.0 });
    if !(0.0..1.0).contains(&prefix_cache_fraction)
        || (prefix_cache && prefix_cache_fraction == 0.0)
    {
        return Err(invalid(
            file,
            "servers.prefix_cache_fraction",
            format!("must be in (0, 1) with prefix_cache = true, got {prefix_cache_fraction}"),
        ));
    }
    let step_time_scale = rs.step_time_scale.unwrap_or(1.0);
    if !(step_time_scale.is_finite() && step_time_scale > 0.0 && step_time_scale <= 100.0) {
        return Err(invalid(
            file,
            "servers.step_time_scale",
            format!("must be a number in (0, 100], got {step_time_scale}"),
        ));
    }
    let build = |tp: u32| -> Result<LlmServerSpec, String> {
        let mut eff = Efficiency::calibrated_default(tp);
        if let Some(e) = &rs.efficiency {
            eff.mbu = e.mbu.unwrap_or(eff.mbu);
            eff.mfu = e.mfu.unwrap_or(eff.mfu);
            eff.alpha = e.alpha.unwrap_or(eff.alpha);
            eff.beta_s = e.beta_s.unwrap_or(eff.beta_s);
            eff.allreduce_latency_s = e.allreduce_latency_s.unwrap_or(eff.allreduce_latency_s);
        }
        let spec = LlmServerSpec {
            hardware: hardware.clone(),
            gpus_per_server,
            tensor_parallel: tp,
            batching,
            max_batch,
            max_batch_tokens,
            chunked_prefill,
            mem_util,
            activation_reserve_bytes: reserve,
            stack: stack.clone(),
            compute_memory_overlap: overlap,
            gpu: gpu.clone(),
            efficiency: stack.is_none().then_some(eff),
            prefix_cache,
            prefix_cache_fraction,
            step_time_scale,
        };
        spec.deployment(model)?;
        Ok(spec)
    };
    match rs.tensor_parallel {
        Some(tp) => build(tp).map_err(|m| invalid(file, "servers.tensor_parallel", m)),
        None => {
            // The smallest degree whose KV cache holds DEFAULT_TP_KV_BATCHES full token
            // budgets; failing that, the smallest that fits at all (e.g. Llama-2-70B at TP2 on
            // 2 x A100-80GB runs, but with room for only a few sequences).
            let mut last = String::new();
            let mut fits = None;
            for &tp in ALLOWED_TP.iter().filter(|&&tp| tp <= gpus_per_server) {
                match build(tp) {
                    Ok(spec) => {
                        let kv = spec.deployment(model).map_or(0, |d| d.kv_capacity_tokens());
                        if kv >= DEFAULT_TP_KV_BATCHES * u64::from(spec.max_batch_tokens) {
                            return Ok(spec);
                        }
                        fits.get_or_insert(spec);
                    }
                    Err(m) => last = m,
                }
            }
            if let Some(spec) = fits {
                return Ok(spec);
            }
            Err(invalid(
                file,
                "servers.tensor_parallel",
                format!("no tensor-parallel degree fits this model on this server: {last}"),
            ))
        }
    }
}
