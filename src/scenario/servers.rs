//! The `[servers]` section: the server pool, either generic queue servers or LLM servers
//! (hardware, deployment and batching keys, validated into an [`LlmServerSpec`] that builds
//! the timing model).

use serde::{Deserialize, Serialize};

use super::check::Check;
use super::model::{validate_model, validate_request_or_trace};
use super::raw::{
    RawAutoscale, RawModel, RawRequest, RawServers, RawStack, ServerKindName, ServersMode,
};
use super::{DistSpec, RequestSpec, ScenarioError, limits};
use crate::timing::deployment::ALLOWED_TP;
use crate::timing::{
    DEFAULT_COMPUTE_MEMORY_OVERLAP, DEFAULT_STACK, Deployment, Efficiency, GPU_PRESETS, Gpu, Model,
    STACK_PRESETS, StackProfile, gpu_preset, stack_preset,
};
use crate::trace::TraceRecord;

/// How a replica forms batches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Batching {
    /// Iteration-level (Orca/vLLM): sequences join and leave between steps.
    Continuous,
    /// A batch forms when the replica is idle and runs until its last sequence finishes.
    Static,
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
    pub disagg: Option<Box<DisaggSpec>>,
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

/// A validated `[servers]` section with the `[model]` and `[request]` an LLM fleet needs.
pub struct ValidatedServers {
    /// The server pool.
    pub servers: ServersSpec,
    /// The model served (`kind = "llm"`).
    pub model: Option<Model>,
    /// What each request asks (`kind = "llm"`).
    pub request: Option<RequestSpec>,
}

/// Validates a split fleet's pools from `[servers]` (none unless `mode = "disaggregated"`):
/// `super::disagg::validate`, passed in so that this module need not know the split.
pub type SplitPools =
    fn(&RawServers, &Model, &RequestSpec, Check) -> Result<Option<DisaggSpec>, ScenarioError>;

/// Validates `[servers]` and, for LLM servers, `[model]` and `[request]` (a replayed trace's
/// `records` stand in for a missing `[request]`); `autoscale` bounds the largest fleet.
pub fn validate_servers(
    rs: RawServers,
    model: Option<RawModel>,
    request: Option<RawRequest>,
    autoscale: Option<&RawAutoscale>,
    records: Option<&Vec<TraceRecord>>,
    split_pools: SplitPools,
    check: Check,
) -> Result<ValidatedServers, ScenarioError> {
    let count = rs.count;
    if rs.kind.unwrap_or(ServerKindName::Queue) == ServerKindName::Queue {
        let only_llm = "only applies to kind = \"llm\" servers";
        check.absent(model.is_some(), "model", only_llm)?;
        check.absent(request.is_some(), "request", only_llm)?;
        check.absent(
            rs.mode == Some(ServersMode::Disaggregated),
            "servers.mode",
            "disaggregated applies to kind = \"llm\" servers",
        )?;
        return Ok(ValidatedServers {
            servers: ServersSpec {
                count,
                kind: validate_queue_keys(rs, check)?,
                disagg: None,
            },
            model: None,
            request: None,
        });
    }
    let model = validate_model(model, check)?;
    let spec = validate_llm_keys(&rs, &model, check)?;
    let request = validate_request_or_trace(request, records, check)?;
    check_fits_kv(&spec, &model, &request, check)?;
    // Issue 17: the prefill and decode pools, if the fleet is split.
    let split = split_pools(&rs, &model, &request, check)?;
    check.absent(
        split.is_some() && autoscale.is_some(),
        "autoscale",
        "does not apply to mode = \"disaggregated\" fleets yet",
    )?;
    let per_server = u64::from(spec.gpus_per_server / spec.tensor_parallel.max(1));
    let most = autoscale
        .and_then(|a| a.max_servers)
        .unwrap_or(0)
        .max(count);
    let replicas = per_server * u64::from(most);
    if replicas > limits::MAX_FLEET_REPLICAS {
        return Err(check.invalid(
            if most > count {
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
    Ok(ValidatedServers {
        servers: ServersSpec {
            count,
            kind: ServerKind::Llm(spec),
            disagg: split.map(Box::new),
        },
        model: Some(model),
        request: Some(request),
    })
}

/// The `queue` keys of `[servers]`: slots and the service time distribution.
fn validate_queue_keys(rs: RawServers, check: Check) -> Result<ServerKind, ScenarioError> {
    let slots = rs.slots.unwrap_or(1);
    check.count("servers.slots", slots.into(), limits::MAX_SLOTS.into())?;
    let fleet_slots = u64::from(slots) * u64::from(rs.count);
    if fleet_slots > limits::MAX_FLEET_SLOTS {
        return Err(check.invalid(
            "servers.slots",
            format!(
                "servers.count x servers.slots = {fleet_slots}, above the limit of {} slots in \
                 one fleet",
                limits::MAX_FLEET_SLOTS
            ),
        ));
    }
    let service_time_s = rs.service_time_s.ok_or_else(|| {
        check.invalid(
            "servers.service_time_s",
            "missing: kind = \"queue\" needs a service time distribution, e.g. \
             { dist = \"exponential\", mean = 1.0 }",
        )
    })?;
    let d = service_time_s
        .build()
        .map_err(check.at("servers.service_time_s"))?;
    if d.mean() <= 0.0 {
        return Err(check.invalid(
            "servers.service_time_s",
            "the mean service time must be greater than zero",
        ));
    }
    Ok(ServerKind::Queue {
        slots,
        service_time_s,
    })
}

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

/// Resolves `servers.stack` (and whether `efficiency` selects the roofline model).
fn resolve_stack(rs: &RawServers, check: Check) -> Result<Option<StackProfile>, ScenarioError> {
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
            return Err(check.invalid(
                key,
                "the roofline model takes `efficiency = {...}`, not stack parameters",
            ));
        }
        return Ok(None);
    }
    if rs.efficiency.is_some() {
        return Err(check.invalid(
            "servers.efficiency",
            format!(
                "only applies to the roofline model (stack = \"roofline\"); the stack {:?} \
                 sets its own efficiencies (override them in [servers.stack])",
                name.as_deref().unwrap_or(DEFAULT_STACK)
            ),
        ));
    }
    let name = name.unwrap_or_else(|| DEFAULT_STACK.to_string());
    let mut p =
        stack_preset(&name).ok_or_else(|| check.unknown(key, "stack", &name, &allowed()))?;
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
    p.validate().map_err(check.at(key))?;
    Ok(Some(p))
}

/// Resolves `servers.hardware` and the `[servers.gpu]` overrides of its preset.
fn resolve_gpu(rs: &RawServers, check: Check) -> Result<(String, Gpu), ScenarioError> {
    let hardware = rs.hardware.clone().unwrap_or_else(|| "a100-80gb".into());
    let mut gpu = gpu_preset(&hardware).ok_or_else(|| {
        check.unknown(
            "servers.hardware",
            "GPU preset",
            &hardware,
            &GPU_PRESETS.join(", "),
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
                *slot = check.positive(key, v)?;
            }
        }
    }
    Ok((hardware, gpu))
}

/// The tensor-parallel degree: `servers.tensor_parallel` if given, else the smallest degree
/// whose KV cache holds [`DEFAULT_TP_KV_BATCHES`] full token budgets, else the smallest that
/// fits at all. `build` makes the spec for one degree.
fn choose_tp(
    given: Option<u32>,
    gpus_per_server: u32,
    model: &Model,
    build: &dyn Fn(u32) -> Result<LlmServerSpec, String>,
    check: Check,
) -> Result<LlmServerSpec, ScenarioError> {
    match given {
        Some(tp) => build(tp).map_err(check.at("servers.tensor_parallel")),
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
            Err(check.invalid(
                "servers.tensor_parallel",
                format!("no tensor-parallel degree fits this model on this server: {last}"),
            ))
        }
    }
}

/// Validates the `llm` keys of `[servers]` against `model`.
pub(super) fn validate_llm_keys(
    rs: &RawServers,
    model: &Model,
    check: Check,
) -> Result<LlmServerSpec, ScenarioError> {
    for (key, present) in [
        ("servers.slots", rs.slots.is_some()),
        ("servers.service_time_s", rs.service_time_s.is_some()),
    ] {
        if present {
            return Err(check.invalid(
                key,
                "only applies to kind = \"queue\"; an llm server's timing comes from [model] \
                 and [request]",
            ));
        }
    }
    let (hardware, gpu) = resolve_gpu(rs, check)?;
    let gpus_per_server = rs.gpus_per_server.unwrap_or(8);
    let max_gpus = limits::MAX_GPUS_PER_SERVER;
    if gpus_per_server == 0 || gpus_per_server > max_gpus {
        return Err(check.invalid(
            "servers.gpus_per_server",
            format!("must be between 1 and {max_gpus}, got {gpus_per_server}"),
        ));
    }
    let mem_util = rs.mem_util.unwrap_or(DEFAULT_MEM_UTIL);
    if mem_util.is_nan() || mem_util <= 0.0 || mem_util > 1.0 {
        return Err(check.invalid(
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
        return Err(check.invalid("servers.max_batch", "must be at least 1, got 0"));
    }
    let max_batch_tokens = rs.max_batch_tokens.unwrap_or(DEFAULT_MAX_BATCH_TOKENS);
    if max_batch_tokens == 0 {
        return Err(check.invalid("servers.max_batch_tokens", "must be at least 1, got 0"));
    }
    let overlap = rs
        .compute_memory_overlap
        .unwrap_or(DEFAULT_COMPUTE_MEMORY_OVERLAP);
    if !(0.0..=1.0).contains(&overlap) {
        return Err(check.invalid(
            "servers.compute_memory_overlap",
            format!("must be between 0 and 1, got {overlap}"),
        ));
    }
    let reserve = rs.activation_reserve_bytes;
    if let Some(r) = reserve
        && !(r.is_finite() && (0.0..=1e15).contains(&r))
    {
        return Err(check.invalid(
            "servers.activation_reserve_bytes",
            format!("must be zero or positive bytes (at most 1e15), got {r}"),
        ));
    }
    let stack = resolve_stack(rs, check)?;
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
        return Err(check.invalid(
            "servers.prefix_cache_fraction",
            format!("must be in (0, 1) with prefix_cache = true, got {prefix_cache_fraction}"),
        ));
    }
    let step_time_scale = rs.step_time_scale.unwrap_or(1.0);
    if !(step_time_scale.is_finite() && step_time_scale > 0.0 && step_time_scale <= 100.0) {
        return Err(check.invalid(
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
    choose_tp(rs.tensor_parallel, gpus_per_server, model, &build, check)
}

/// Refuses a request stream whose smallest request cannot fit in one replica's KV memory:
/// no such request could ever complete, and a run would measure nothing.
pub fn check_fits_kv(
    spec: &LlmServerSpec,
    model: &Model,
    req: &RequestSpec,
    check: Check,
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
        return Err(check.invalid(
            "request.input_tokens",
            format!(
                "the smallest request ({input} prompt + {output} output tokens) does not fit \
                 in one replica's KV cache ({kv} tokens with this model, GPU and \
                 servers.tensor_parallel = {}): no request could ever complete; use smaller \
                 requests, more tensor parallelism or a larger GPU",
                spec.tensor_parallel
            ),
        ));
    }
    Ok(())
}

/// The validated KV link.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KvTransferSpec {
    /// Link bandwidth per prefill server, bytes/s (may be infinite).
    pub bandwidth_bytes_per_s: f64,
    /// Fixed latency per transfer, seconds (pipelined: it does not occupy the link).
    pub latency_s: f64,
    /// The KV streams layer by layer while the prompt is prefilled: only the last layer's
    /// share (and any link queue) remains after the prefill ends.
    pub overlap: bool,
}

/// One validated pool: its server count and its server spec.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PoolSpec {
    /// Servers in the pool.
    pub count: u32,
    /// What each server is.
    #[serde(flatten)]
    pub spec: LlmServerSpec,
}

/// A disaggregated fleet: the two pools and the link.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DisaggSpec {
    /// Always [`ServersMode::Disaggregated`] (written so the resolved scenario re-reads).
    pub mode: ServersMode,
    /// The prefill pool.
    pub prefill: PoolSpec,
    /// The decode pool.
    pub decode: PoolSpec,
    /// The KV link.
    pub kv_transfer: KvTransferSpec,
}

impl DisaggSpec {
    /// Servers of both pools.
    pub fn total_servers(&self) -> u32 {
        self.prefill.count.saturating_add(self.decode.count)
    }
}
