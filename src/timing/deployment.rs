//! A model deployed on GPUs: memory admission, KV capacity and the per-step time model.
//!
//! Two step-time models:
//! * a serving stack ([`StackProfile`], the default `vllm`): the component model of
//!   [`super::components`], built on measured kernel, collective and host times;
//! * `roofline` (a scenario that gives `efficiency = {...}`): the reports' arithmetic below,
//!   kept to reproduce their tables.
//!
//! Memory, per GPU, like the real stacks' profiling (vLLM's `determine_num_available_blocks`):
//!
//! ```text
//! KV bytes = TP · (HBM_device · mem_util − runtime − [TP > 1] comm_buffers − activation_peak)
//!            − weights
//! activation_peak = max( T · (up + ffn)/TP · 2 + T · d · 2 · 4,      forward of T tokens
//!                        min(S, T) · vocab · 4 · 10 )                  sampler over S rows
//! ```
//!
//! with `T = max_batch_tokens`, `S = max_batch`, `up = 2·ffn` for gated MLPs. Fitted on vLLM
//! PR #10511's log (Llama-3-8B, T = 8192, S = 256: 1.26 GiB at TP1 and TP2, i.e. the
//! sampler's ten fp32 copies of the logits set the peak) and its non-torch memory (1.79 GiB,
//! plus 1.79 GiB of communication buffers at TP2). `servers.activation_reserve_bytes`
//! replaces everything but weights and KV, and is applied before the feasibility check.
//!
//! Roofline step time, per GPU (each quantity divided by TP), following `inference-model.md` §2:
//!
//! ```text
//! t_step = alpha · ( R(F_gemm/(mfu·P), W_bytes/(mbu·BW))
//!                  + R(F_attn/(mfu·P), KV_bytes/(mbu·BW))
//!                  + t_tp_comm ) + beta
//! R(c, m) = max(c, m) + (1 − overlap) · min(c, m)
//! ```
//!
//! With `overlap = 1` R is the plain roofline maximum of §2. The calibrated default is
//! [`DEFAULT_COMPUTE_MEMORY_OVERLAP`] = 0.5: half of the shorter side is hidden. A pure maximum
//! cannot fit the A100 measurements: TensorRT-LLM's 128-token first-token latency for LLaMA-7B
//! (16 ms) is 1.6x lmdeploy's decode step for the same weights (10 ms), yet both are
//! weight-bound under a max; no (mbu, mfu, alpha, beta) within the reference ranges brings both
//! within ±20% (best 21%). Partial overlap also explains why 70B TP4 at batch 64 (43 ms) is much
//! slower than at batch 1 (30 ms) although its GEMMs are still memory-bound under a max.

use std::borrow::Cow;
use std::cell::RefCell;
use std::fmt;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::components::{ComponentCache, ComponentCosts, ComponentDecode};
use super::hardware::Gpu;
use super::model::Model;
use super::roofline::{RooflineTerm, StepBreakdown, StepShape};
use super::stack::StackProfile;
use crate::engine::time::f64_of;

/// Efficiency and calibration constants of one serving stack on one TP degree.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Efficiency {
    /// Model bandwidth utilisation: achieved fraction of peak HBM bandwidth, (0, 1].
    pub mbu: f64,
    /// Model FLOP utilisation: achieved fraction of peak FLOP/s, (0, 1].
    pub mfu: f64,
    /// Multiplier on the roofline sum (inference-lab's `time_correction.alpha`), > 0.
    pub alpha: f64,
    /// Fixed per-step overhead in seconds (kernel launches, scheduling, sampling), ≥ 0.
    pub beta_s: f64,
    /// Latency term of one ring all-reduce in seconds (NCCL's α), ≥ 0. Unused at TP1.
    pub allreduce_latency_s: f64,
}

impl Efficiency {
    /// Defaults calibrated on every A100 point of `inference-model.md` §4 (see
    /// [`crate::timing::calibration`]; all points within ±11% with these values).
    ///
    /// | TP | mbu | mfu | alpha | beta | all-reduce α | fitted on |
    /// |---|---|---|---|---|---|---|
    /// | 1–2 | 0.75 | 0.70 | 1.00 | 1.5 ms | 10 µs | lmdeploy 7B/13B, TRT-LLM 7B |
    /// | 3–4 | 0.56 | 0.65 | 1.00 | 0.5 ms | 10 µs | lmdeploy 70B, TRT-LLM 70B |
    /// | 5–8+ | 0.45 | 0.58 | 0.85 | 0 | 30 µs | TRT-LLM Falcon-180B |
    ///
    /// All mbu/mfu values lie in the reference's ranges (mbu 0.60–0.75 at TP1–2, 0.4–0.6 at TP4,
    /// 0.2–0.45 at TP8; mfu 0.55–0.71 up to TP4, 0.41–0.58 at TP8). There is no TP2 data: TP2
    /// reuses the TP1 fit with the 2-GPU NCCL latency (Vidur ≈ 10 µs). At TP8 the only data are
    /// Falcon-180B prefills, which TensorRT-LLM runs faster than a non-overlapped all-reduce
    /// model predicts; alpha 0.85 absorbs that. The 30 µs all-reduce α sits between
    /// llm-analysis's 8 µs floor and Vidur's measured 62 µs for small 8-GPU messages.
    pub fn calibrated_default(tp: u32) -> Efficiency {
        match tp {
            0..=2 => Efficiency {
                mbu: 0.75,
                mfu: 0.70,
                alpha: 1.0,
                beta_s: 1.5e-3,
                allreduce_latency_s: 10e-6,
            },
            3..=4 => Efficiency {
                mbu: 0.56,
                mfu: 0.65,
                alpha: 1.0,
                beta_s: 0.5e-3,
                allreduce_latency_s: 10e-6,
            },
            _ => Efficiency {
                mbu: 0.45,
                mfu: 0.58,
                alpha: 0.85,
                beta_s: 0.0,
                allreduce_latency_s: 30e-6,
            },
        }
    }
}

/// Fraction of the shorter of compute/memory time hidden under the longer in each roofline
/// term, used by [`Deployment::new`]; see the module docs for why it is not 1.0.
pub const DEFAULT_COMPUTE_MEMORY_OVERLAP: f64 = 0.5;

/// Per-GPU memory held back from the KV cache for activations, CUDA graphs and workspace by
/// the `roofline` model ([`Deployment::new`]): 8 GB. Serving stacks compute theirs (module
/// docs).
///
/// Chosen to reproduce the one real log in the reference (vllm-project/vllm #12330): Llama-3-8B
/// on one A100-40GB gets ≈ 91k KV tokens. That log reports a 9.37 GiB activation peak out of
/// 35.55 GiB usable (0.9 × 39.5 GiB physical); our preset counts 40 GB decimal, so usable is
/// 36 GB = 33.5 GiB and the equivalent reserve is ≈ 7.9 GB. With 8 GB, Llama-2-70B TP8 on
/// 8×A100-80GB gets ≈ 1.09 M tokens (reference ≈ 1.2 M, derived with no reserve).
pub const DEFAULT_ACTIVATION_RESERVE_BYTES: f64 = 8e9;

/// KV cache block size in tokens (vLLM default); capacity is rounded down to whole blocks.
pub const KV_BLOCK_TOKENS: u64 = 16;

/// Bytes per activation element in tensor-parallel all-reduces (fp16/bf16).
pub const ACTIVATION_BYTES: f64 = 2.0;

/// Tensor-parallel degrees accepted by [`Deployment::new`].
pub const ALLOWED_TP: &[u32] = &[1, 2, 4, 8];

/// Why a deployment cannot be built. Every message says what to change.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum DeploymentError {
    /// TP is not 1, 2, 4 or 8, or does not divide the server's GPUs.
    #[error(
        "tensor parallelism {tp} is not usable on {gpus} GPUs per server: use 1, 2, 4 or 8, dividing the GPU count"
    )]
    BadTensorParallel {
        /// Requested TP degree.
        tp: u32,
        /// GPUs per server.
        gpus: u32,
    },
    /// A serving-stack parameter is out of range.
    #[error("invalid stack: {0}")]
    BadStack(String),
    /// A utilisation or calibration constant is out of range.
    #[error("invalid {field} = {value}: {expect}")]
    BadParameter {
        /// Which parameter.
        field: &'static str,
        /// The value given.
        value: f64,
        /// What is allowed.
        expect: &'static str,
    },
    /// The weights alone exceed usable memory.
    #[error(
        "{weights_gb} GB of {dtype} weights do not fit in {tp} x {gpu} = {total_gb} GB (usable {usable_gb} GB at mem_util {mem_util}); raise tensor parallelism or use a larger GPU"
    )]
    WeightsDoNotFit {
        /// Weight size in GB.
        weights_gb: Gb,
        /// Weight precision label.
        dtype: &'static str,
        /// GPUs in the replica.
        tp: u32,
        /// GPU display name.
        gpu: String,
        /// Total HBM of the replica in GB.
        total_gb: Gb,
        /// HBM × mem_util in GB.
        usable_gb: Gb,
        /// The memory utilisation fraction.
        mem_util: f64,
    },
    /// Weights fit but less than one KV block remains after the activation reserve.
    #[error(
        "no room for the KV cache: usable {usable_gb} GB - weights {weights_gb} GB - activations and runtime {reserve_gb} GB leaves less than one {KV_BLOCK_TOKENS}-token block; raise tensor parallelism or mem_util, or lower max_batch_tokens"
    )]
    NoKvRoom {
        /// HBM × mem_util in GB.
        usable_gb: Gb,
        /// Weight size in GB.
        weights_gb: Gb,
        /// Activation reserve of the replica in GB.
        reserve_gb: Gb,
    },
}

/// A byte count in GB printed with at most one decimal ("350", "287.5").
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Gb(pub f64);

impl fmt::Display for Gb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let gb = self.0 / 1e9;
        let rounded = (gb * 10.0).round() / 10.0;
        if rounded.fract() == 0.0 {
            write!(f, "{rounded:.0}")
        } else {
            write!(f, "{rounded:.1}")
        }
    }
}

/// Default sequences per step assumed for the activation peak (vLLM's `max_num_seqs`).
pub const DEFAULT_MEMORY_MAX_BATCH: u32 = 256;
/// Default tokens per step assumed for the activation peak (vLLM's `max_num_batched_tokens`).
pub const DEFAULT_MEMORY_MAX_BATCH_TOKENS: u32 = 8192;

/// One model replica layout on one server type, with its step-time model.
///
/// A replica is `tensor_parallel` GPUs; a server holds `gpus_per_server / tensor_parallel`
/// replicas. All timing methods are pure functions of the fields.
#[derive(Clone, Debug, PartialEq)]
pub struct Deployment {
    /// The GPU type.
    pub gpu: Gpu,
    /// GPUs per server (8 for a DGX/HGX box).
    pub gpus_per_server: u32,
    /// Tensor-parallel degree (GPUs per replica).
    pub tensor_parallel: u32,
    /// The model served.
    pub model: Model,
    /// The serving stack whose component model sets step times; `None` for the `roofline`
    /// model with [`Deployment::eff`].
    pub stack: Option<StackProfile>,
    /// Efficiency and calibration constants of the `roofline` model (unused with a stack).
    pub eff: Efficiency,
    /// Fraction of HBM the server may use (vLLM `gpu_memory_utilization`, default 0.9).
    pub mem_util: f64,
    /// Bytes per GPU held back for activations and the runtime, replacing the computed peak
    /// (roofline default [`DEFAULT_ACTIVATION_RESERVE_BYTES`]).
    pub activation_reserve_bytes: Option<f64>,
    /// Sequences per step (sets the sampler's share of the activation peak).
    pub max_batch: u32,
    /// Tokens per step (sets the forward pass's share of the activation peak).
    pub max_batch_tokens: u32,
    /// Overlap fraction of each roofline term; default [`DEFAULT_COMPUTE_MEMORY_OVERLAP`].
    /// Set to 1.0 for the pure roofline maximum (e.g. to reproduce a report's arithmetic).
    pub compute_memory_overlap: f64,
}

impl Deployment {
    /// Validates and builds a `roofline` deployment with the default activation reserve and
    /// overlap (the reports' arithmetic; see [`Deployment::with_stack`] for serving stacks).
    ///
    /// Errors: TP not in {1, 2, 4, 8} or not dividing `gpus_per_server`; `mem_util` outside
    /// (0, 1]; efficiencies out of range; weights larger than `TP · HBM · mem_util`; or no room
    /// for a single KV block after the activation reserve.
    pub fn new(
        gpu: Gpu,
        gpus_per_server: u32,
        tensor_parallel: u32,
        model: Model,
        eff: Efficiency,
        mem_util: f64,
    ) -> Result<Deployment, DeploymentError> {
        let mut d = Deployment::new_unchecked(gpu, gpus_per_server, tensor_parallel, model);
        d.eff = eff;
        d.mem_util = mem_util;
        d.validated()
    }

    /// The roofline deployment with default efficiencies for its TP, mem_util 0.9 and vLLM's
    /// default batch limits, not yet validated (set fields, then call
    /// [`Deployment::validated`]).
    pub fn new_unchecked(
        gpu: Gpu,
        gpus_per_server: u32,
        tensor_parallel: u32,
        model: Model,
    ) -> Deployment {
        Deployment {
            gpu,
            gpus_per_server,
            tensor_parallel,
            model,
            stack: None,
            eff: Efficiency::calibrated_default(tensor_parallel),
            mem_util: 0.9,
            activation_reserve_bytes: None,
            max_batch: DEFAULT_MEMORY_MAX_BATCH,
            max_batch_tokens: DEFAULT_MEMORY_MAX_BATCH_TOKENS,
            compute_memory_overlap: DEFAULT_COMPUTE_MEMORY_OVERLAP,
        }
    }

    /// Validates and builds a deployment timed by a serving stack, with vLLM's default batch
    /// limits for the activation peak.
    pub fn with_stack(
        gpu: Gpu,
        gpus_per_server: u32,
        tensor_parallel: u32,
        model: Model,
        stack: StackProfile,
        mem_util: f64,
    ) -> Result<Deployment, DeploymentError> {
        let mut d = Deployment::new_unchecked(gpu, gpus_per_server, tensor_parallel, model);
        d.stack = Some(stack);
        d.mem_util = mem_util;
        d.validated()
    }

    /// Checks every field (after any overrides a caller set) and that the weights and at
    /// least one KV block fit; returns the deployment unchanged.
    pub fn validated(self) -> Result<Deployment, DeploymentError> {
        let d = self;
        let tensor_parallel = d.tensor_parallel;
        let gpus_per_server = d.gpus_per_server;
        let mem_util = d.mem_util;
        let eff = &d.eff;
        if !ALLOWED_TP.contains(&tensor_parallel)
            || gpus_per_server == 0
            || !gpus_per_server.is_multiple_of(tensor_parallel)
        {
            return Err(DeploymentError::BadTensorParallel {
                tp: tensor_parallel,
                gpus: gpus_per_server,
            });
        }
        let checks: [(&'static str, f64, bool, &'static str); 7] = [
            (
                "mem_util",
                mem_util,
                mem_util > 0.0 && mem_util <= 1.0,
                "must be in (0, 1]",
            ),
            (
                "mbu",
                eff.mbu,
                eff.mbu > 0.0 && eff.mbu <= 1.0,
                "must be in (0, 1]",
            ),
            (
                "mfu",
                eff.mfu,
                eff.mfu > 0.0 && eff.mfu <= 1.0,
                "must be in (0, 1]",
            ),
            (
                "alpha",
                eff.alpha,
                eff.alpha > 0.0 && eff.alpha.is_finite(),
                "must be > 0",
            ),
            (
                "beta_s",
                eff.beta_s,
                eff.beta_s >= 0.0 && eff.beta_s.is_finite(),
                "must be >= 0 seconds",
            ),
            (
                "allreduce_latency_s",
                eff.allreduce_latency_s,
                eff.allreduce_latency_s >= 0.0 && eff.allreduce_latency_s.is_finite(),
                "must be >= 0 seconds",
            ),
            (
                "activation_reserve_bytes",
                d.activation_reserve_bytes.unwrap_or(0.0),
                d.activation_reserve_bytes
                    .is_none_or(|r| r.is_finite() && r >= 0.0),
                "must be >= 0 bytes",
            ),
        ];
        for (field, value, ok, expect) in checks {
            if !ok {
                return Err(DeploymentError::BadParameter {
                    field,
                    value,
                    expect,
                });
            }
        }
        if let Some(s) = &d.stack {
            s.validate().map_err(DeploymentError::BadStack)?;
        }
        let tp = f64::from(tensor_parallel);
        let total = tp * d.gpu.hbm_bytes;
        let usable = total * mem_util;
        let weights = d.model.weight_bytes();
        if weights > usable {
            return Err(DeploymentError::WeightsDoNotFit {
                weights_gb: Gb(weights),
                dtype: d.model.dtype_label(),
                tp: tensor_parallel,
                gpu: d.gpu.name.clone(),
                total_gb: Gb(total),
                usable_gb: Gb(usable),
                mem_util,
            });
        }
        if d.kv_capacity_tokens() == 0 {
            return Err(DeploymentError::NoKvRoom {
                usable_gb: Gb(usable),
                weights_gb: Gb(weights),
                reserve_gb: Gb(tp * d.reserve_bytes_per_gpu()),
            });
        }
        Ok(d)
    }

    /// Builds a deployment from preset names with the default stack
    /// ([`super::stack::DEFAULT_STACK`]), 8 GPUs per server and mem_util 0.9. Returns `None`
    /// for an unknown preset name.
    pub fn from_presets(
        gpu: &str,
        model: &str,
        tensor_parallel: u32,
    ) -> Option<Result<Deployment, DeploymentError>> {
        let gpu = super::hardware::gpu_preset(gpu)?;
        let model = super::model::model_preset(model)?;
        let stack = super::stack::stack_preset(super::stack::DEFAULT_STACK)?;
        Some(Deployment::with_stack(
            gpu,
            8,
            tensor_parallel,
            model,
            stack,
            0.9,
        ))
    }

    /// Model replicas per server: `gpus_per_server / tensor_parallel`.
    pub fn replicas_per_server(&self) -> u32 {
        self.gpus_per_server / self.tensor_parallel
    }

    /// KV bytes per token held by one replica (see [`Model::kv_bytes_per_token_tp`]).
    pub fn kv_bytes_per_token(&self) -> f64 {
        self.model.kv_bytes_per_token_tp(self.tensor_parallel)
    }

    /// Peak activation memory per GPU of the stack's profiling pass, bytes (module docs).
    pub fn activation_peak_bytes_per_gpu(&self) -> f64 {
        let m = &self.model;
        let tp = f64::from(self.tensor_parallel);
        let t = f64::from(self.max_batch_tokens);
        let rows = f64::from(self.max_batch.min(self.max_batch_tokens));
        let f = f64::from(m.ffn());
        let up = if m.gated_mlp { 2.0 * f } else { f };
        let d = f64::from(m.hidden);
        let forward = t * (up + f) / tp * 2.0 + t * d * 2.0 * 4.0;
        let sampler = rows * f64::from(m.vocab_size()) * 4.0 * 10.0;
        forward.max(sampler)
    }

    /// Bytes per GPU held back from the KV cache besides the weights: the override if set;
    /// else the stack's activation peak, runtime and communication buffers; else (roofline)
    /// [`DEFAULT_ACTIVATION_RESERVE_BYTES`].
    pub fn reserve_bytes_per_gpu(&self) -> f64 {
        if let Some(r) = self.activation_reserve_bytes {
            return r;
        }
        match &self.stack {
            None => DEFAULT_ACTIVATION_RESERVE_BYTES,
            Some(s) => {
                let comm = if self.tensor_parallel > 1 {
                    s.comm_buffer_bytes_per_gpu
                } else {
                    0.0
                };
                self.activation_peak_bytes_per_gpu() + s.runtime_bytes_per_gpu + comm
            }
        }
    }

    /// KV-cache capacity of one replica in tokens:
    /// `(TP·HBM·mem_util − weights − TP·reserve) / kv_bytes_per_token`, rounded down to whole
    /// [`KV_BLOCK_TOKENS`]-token blocks; 0 when nothing is left.
    pub fn kv_capacity_tokens(&self) -> u64 {
        let tp = f64::from(self.tensor_parallel);
        let free = tp * self.gpu.hbm_bytes * self.mem_util
            - self.model.weight_bytes()
            - tp * self.reserve_bytes_per_gpu();
        if free <= 0.0 {
            return 0;
        }
        let tokens = (free / self.kv_bytes_per_token()).floor() as u64;
        tokens / KV_BLOCK_TOKENS * KV_BLOCK_TOKENS
    }

    /// Time of one ring all-reduce of `bytes` over the replica's GPUs under the `roofline`
    /// model, seconds (0 at TP1): `allreduce_latency_s + 2(n−1)/n · bytes / nvlink_bw`.
    pub fn allreduce_time_s(&self, bytes: f64) -> f64 {
        let n = f64::from(self.tensor_parallel);
        if self.tensor_parallel <= 1 {
            return 0.0;
        }
        self.eff.allreduce_latency_s + 2.0 * (n - 1.0) / n * bytes / self.gpu.nvlink_bw_bytes_per_s
    }

    /// Every term of one step's time; see the module docs. All FLOPs and bytes are per GPU.
    pub fn step_breakdown(&self, s: &StepShape) -> StepBreakdown {
        self.step_costs().step_breakdown(s)
    }

    /// Duration of one forward pass of shape `s`, seconds (0 for an empty step).
    pub fn step_time_s(&self, s: &StepShape) -> f64 {
        self.step_costs().step_time_s(s)
    }

    /// Prefill of `prompt_tokens` with nothing cached, as the only request in the pass, seconds
    /// (equals `step_time_s(&StepShape::prefill(prompt_tokens, 0))`). This is TTFT on an idle
    /// replica.
    pub fn prefill_time_s(&self, prompt_tokens: u64) -> f64 {
        self.step_time_s(&StepShape::prefill(prompt_tokens, 0))
    }

    /// One decode step for `batch` sequences holding `ctx_tokens_total` context tokens in all,
    /// seconds.
    pub fn decode_step_time_s(&self, batch: u64, ctx_tokens_total: u64) -> f64 {
        self.step_costs()
            .decode_step_time_s(batch, ctx_tokens_total)
    }

    /// The step-time model with its constants precomputed; see [`StepCosts`].
    pub fn step_costs(&self) -> StepCosts {
        let n = f64::from(self.tensor_parallel);
        let work = Work {
            tp: n,
            weight_bytes_per_gpu: self.model.weight_bytes() / n,
            gemm_flops_per_token: self.model.gemm_flops_per_token(),
            attn_flops_per_pair: 4.0 * f64::from(self.model.hidden) * f64::from(self.model.layers),
            kv_bytes_per_token: self.kv_bytes_per_token(),
        };
        let mode = match &self.stack {
            Some(stack) => CostMode::Components(ComponentCosts::new(
                &self.gpu,
                self.tensor_parallel,
                &self.model,
                stack,
            )),
            None => CostMode::Roofline(RooflineCosts {
                tensor_parallel: self.tensor_parallel,
                tp: n,
                compute_rate: self.eff.mfu * self.gpu.peak_flops,
                memory_rate: self.eff.mbu * self.gpu.hbm_bw_bytes_per_s,
                overlap: self.compute_memory_overlap,
                weight_bytes_per_gpu: work.weight_bytes_per_gpu,
                gemm_flops_per_token: work.gemm_flops_per_token,
                attn_flops_per_pair: work.attn_flops_per_pair,
                kv_bytes_per_token: work.kv_bytes_per_token,
                hidden: f64::from(self.model.hidden),
                layers: f64::from(self.model.layers),
                allreduce_latency_s: self.eff.allreduce_latency_s,
                allreduce_factor: 2.0 * (n - 1.0) / n,
                nvlink_bw: self.gpu.nvlink_bw_bytes_per_s,
                alpha: self.eff.alpha,
                beta_s: self.eff.beta_s,
            }),
        };
        StepCosts {
            tensor_parallel: self.tensor_parallel,
            work,
            mode,
        }
    }
}

/// The bytes and FLOPs a step does (for MBU/MFU accounting), whatever the timing model.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Work {
    tp: f64,
    weight_bytes_per_gpu: f64,
    gemm_flops_per_token: f64,
    attn_flops_per_pair: f64,
    kv_bytes_per_token: f64,
}

impl Work {
    /// (weights bytes, gemm FLOPs, KV bytes, attention FLOPs) per GPU.
    #[inline]
    fn of(&self, s: &StepShape) -> (f64, f64, f64, f64) {
        let weight_bytes = if s.tokens > 0 {
            self.weight_bytes_per_gpu
        } else {
            0.0
        };
        (
            weight_bytes,
            self.gemm_flops_per_token * f64_of(s.tokens) / self.tp,
            f64_of(s.kv_read_tokens + s.kv_write_tokens) * self.kv_bytes_per_token / self.tp,
            self.attn_flops_per_pair * s.attn_pairs / self.tp,
        )
    }
}

/// The step-time model of a [`Deployment`] with every shape-independent quantity computed
/// once ([`Deployment::step_costs`]), for the simulation's hot loop.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepCosts {
    /// Tensor-parallel degree.
    pub tensor_parallel: u32,
    work: Work,
    mode: CostMode,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum CostMode {
    Roofline(RooflineCosts),
    Components(ComponentCosts),
}

/// The `roofline` model's constants.
#[derive(Clone, Copy, Debug, PartialEq)]
struct RooflineCosts {
    tensor_parallel: u32,
    tp: f64,
    compute_rate: f64,
    memory_rate: f64,
    overlap: f64,
    weight_bytes_per_gpu: f64,
    gemm_flops_per_token: f64,
    /// `4 · hidden · layers`.
    attn_flops_per_pair: f64,
    kv_bytes_per_token: f64,
    hidden: f64,
    layers: f64,
    allreduce_latency_s: f64,
    /// `2(n−1)/n` of the ring all-reduce.
    allreduce_factor: f64,
    nvlink_bw: f64,
    alpha: f64,
    beta_s: f64,
}

/// The batch-dependent part of a decode step ([`StepCosts::decode`]): evaluates the step time
/// for any total context, equal bit for bit to [`StepCosts::decode_step_time_s`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum DecodeStep {
    /// Under the `roofline` model.
    Roofline(RooflineDecode),
    /// Under a serving stack's component model.
    Components(ComponentDecode),
}

impl DecodeStep {
    /// One decode step's duration with `ctx_tokens_total` context tokens in the batch, seconds.
    #[inline]
    pub fn time_s(&self, ctx_tokens_total: u64) -> f64 {
        match self {
            DecodeStep::Roofline(r) => r.time_s(ctx_tokens_total),
            DecodeStep::Components(c) => c.time_s(ctx_tokens_total),
        }
    }
}

/// A `roofline` decode step of a fixed batch.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RooflineDecode {
    costs: RooflineCosts,
    batch: u64,
    gemm_s: f64,
    tp_comm_s: f64,
}

impl RooflineDecode {
    /// One decode step's duration with `ctx_tokens_total` context tokens in the batch, seconds.
    #[inline]
    pub fn time_s(&self, ctx_tokens_total: u64) -> f64 {
        let c = &self.costs;
        if self.batch == 0 && ctx_tokens_total == 0 {
            return 0.0;
        }
        let attn = c.attn(f64_of(ctx_tokens_total), ctx_tokens_total + self.batch);
        c.alpha * (self.gemm_s + attn.time_s + self.tp_comm_s) + c.beta_s
    }
}

/// The batch-dependent constants of a decode step in 16 bytes ([`StepCosts::decode_fixed`]),
/// for caches that hold one per batch size; [`StepCosts::decode_fixed_time_s`] evaluates the
/// step from them, equal bit for bit to [`DecodeStep::time_s`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DecodeFixed {
    /// `roofline`: the GEMM term's time; components: the context-independent step time.
    a_s: f64,
    /// `roofline`: the tensor-parallel communication time; components: unused (0).
    b_s: f64,
}

impl DecodeFixed {
    /// A placeholder that is never a computed value's twin: `is_unset` is true for it.
    pub const UNSET: DecodeFixed = DecodeFixed {
        a_s: f64::NAN,
        b_s: f64::NAN,
    };

    /// Whether this is [`DecodeFixed::UNSET`] (NaN; a computed entry is never NaN, and if it
    /// were it would only be recomputed).
    #[inline]
    pub fn is_unset(&self) -> bool {
        self.a_s.is_nan()
    }
}

/// Anything that yields the step-time model: a [`Deployment`] (computing its [`StepCosts`]) or
/// the precomputed [`StepCosts`] themselves (a copy), for hot loops.
pub trait ToStepCosts {
    /// The step-time model.
    fn to_step_costs(&self) -> StepCosts;

    /// The step-time model, borrowed where it already exists (no copy for [`StepCosts`]).
    #[inline]
    fn step_costs_cow(&self) -> Cow<'_, StepCosts> {
        Cow::Owned(self.to_step_costs())
    }

    /// `costs.step_time_s(s)`, where `costs` is this model's [`StepCosts`] (as returned by
    /// [`ToStepCosts::step_costs_cow`]); a [`CachedStepCosts`] answers from its memo.
    #[inline]
    fn step_time_s_with(&self, costs: &StepCosts, s: &StepShape) -> f64 {
        costs.step_time_s(s)
    }

    /// `costs.decode_fixed(batch)` from a memo shared by every replica using this model, if it
    /// keeps one (`None`: the caller computes or caches it).
    #[inline]
    fn decode_fixed_with(&self, _costs: &StepCosts, _batch: u64) -> Option<DecodeFixed> {
        None
    }
}

/// [`StepCosts`] with a memo of the shape-independent pieces of mixed (prefill) steps, for
/// one simulation thread's hot loop: step times equal [`StepCosts::step_time_s`] bit for bit.
#[derive(Debug)]
pub struct CachedStepCosts {
    costs: StepCosts,
    cache: RefCell<ComponentCache>,
    /// `costs.decode_fixed(b)` by batch size `b` ([`DecodeFixed::UNSET`] until computed).
    decode: RefCell<Vec<DecodeFixed>>,
}

impl CachedStepCosts {
    /// Wraps `costs` with an empty memo.
    pub fn new(costs: StepCosts) -> CachedStepCosts {
        CachedStepCosts {
            costs,
            cache: RefCell::new(ComponentCache::default()),
            decode: RefCell::new(Vec::new()),
        }
    }

    /// The wrapped step-time model.
    pub fn costs(&self) -> &StepCosts {
        &self.costs
    }

    /// As [`StepCosts::step_time_s`], equal bit for bit.
    pub fn step_time_s(&self, s: &StepShape) -> f64 {
        match &self.costs.mode {
            CostMode::Roofline(r) => r.step_breakdown(s).total_s,
            CostMode::Components(c) => c.times_cached(&mut self.cache.borrow_mut(), s).total_s,
        }
    }
}

impl ToStepCosts for CachedStepCosts {
    #[inline]
    fn to_step_costs(&self) -> StepCosts {
        self.costs
    }

    #[inline]
    fn step_costs_cow(&self) -> Cow<'_, StepCosts> {
        Cow::Borrowed(&self.costs)
    }

    #[inline]
    fn step_time_s_with(&self, costs: &StepCosts, s: &StepShape) -> f64 {
        if std::ptr::eq(costs, &self.costs) {
            self.step_time_s(s)
        } else {
            costs.step_time_s(s)
        }
    }

    #[inline]
    fn decode_fixed_with(&self, costs: &StepCosts, batch: u64) -> Option<DecodeFixed> {
        if !std::ptr::eq(costs, &self.costs) || batch > 4096 {
            return None;
        }
        let mut table = self.decode.borrow_mut();
        let i = batch as usize;
        if i >= table.len() {
            table.resize(i + 1, DecodeFixed::UNSET);
        }
        let entry = &mut table[i];
        if entry.is_unset() {
            *entry = self.costs.decode_fixed(batch);
        }
        Some(*entry)
    }
}

impl ToStepCosts for Deployment {
    fn to_step_costs(&self) -> StepCosts {
        self.step_costs()
    }
}

impl ToStepCosts for StepCosts {
    #[inline]
    fn to_step_costs(&self) -> StepCosts {
        *self
    }

    #[inline]
    fn step_costs_cow(&self) -> Cow<'_, StepCosts> {
        Cow::Borrowed(self)
    }
}

impl RooflineCosts {
    #[inline]
    fn gemm(&self, tokens: u64) -> RooflineTerm {
        let weight_bytes = if tokens > 0 {
            self.weight_bytes_per_gpu
        } else {
            0.0
        };
        RooflineTerm::new(
            self.gemm_flops_per_token * f64_of(tokens) / self.tp,
            weight_bytes,
            self.compute_rate,
            self.memory_rate,
            self.overlap,
        )
    }

    #[inline]
    fn attn(&self, attn_pairs: f64, kv_tokens: u64) -> RooflineTerm {
        let attn_flops = self.attn_flops_per_pair * attn_pairs / self.tp;
        let kv_bytes = f64_of(kv_tokens) * self.kv_bytes_per_token / self.tp;
        RooflineTerm::new(
            attn_flops,
            kv_bytes,
            self.compute_rate,
            self.memory_rate,
            self.overlap,
        )
    }

    #[inline]
    fn tp_comm_s(&self, tokens: u64) -> f64 {
        if self.tensor_parallel > 1 && tokens > 0 {
            let bytes = f64_of(tokens) * self.hidden * ACTIVATION_BYTES;
            2.0 * self.layers
                * (self.allreduce_latency_s + self.allreduce_factor * bytes / self.nvlink_bw)
        } else {
            0.0
        }
    }

    fn step_breakdown(&self, s: &StepShape) -> StepBreakdown {
        if s.is_empty() {
            return StepBreakdown {
                alpha: self.alpha,
                ..StepBreakdown::default()
            };
        }
        let gemm = self.gemm(s.tokens);
        let attn = self.attn(s.attn_pairs, s.kv_read_tokens + s.kv_write_tokens);
        let tp_comm_s = self.tp_comm_s(s.tokens);
        let total_s = self.alpha * (gemm.time_s + attn.time_s + tp_comm_s) + self.beta_s;
        StepBreakdown {
            gemm,
            attn,
            tp_comm_s,
            alpha: self.alpha,
            fixed_s: self.beta_s,
            total_s,
        }
    }

    fn decode(&self, batch: u64) -> RooflineDecode {
        RooflineDecode {
            costs: *self,
            batch,
            gemm_s: self.gemm(batch).time_s,
            tp_comm_s: self.tp_comm_s(batch),
        }
    }
}

impl StepCosts {
    /// Every term of one step's time. Under a stack, `gemm.time_s` holds the dense kernels'
    /// time, `attn.time_s` the attention kernels', `tp_comm_s` the collectives' and `fixed_s`
    /// the host time added to the GPU's; FLOPs and bytes are the same for both models.
    pub fn step_breakdown(&self, s: &StepShape) -> StepBreakdown {
        match &self.mode {
            CostMode::Roofline(r) => r.step_breakdown(s),
            CostMode::Components(c) => {
                if s.is_empty() {
                    return StepBreakdown {
                        alpha: 1.0,
                        ..StepBreakdown::default()
                    };
                }
                let t = c.times(s);
                let (wb, gf, kb, af) = self.work.of(s);
                let term = |flops: f64, bytes: f64, time_s: f64| RooflineTerm {
                    flops,
                    bytes,
                    compute_s: 0.0,
                    memory_s: 0.0,
                    time_s,
                };
                StepBreakdown {
                    gemm: term(gf, wb, t.dense_s),
                    attn: term(af, kb, t.attn_s),
                    tp_comm_s: t.comm_s,
                    alpha: 1.0,
                    fixed_s: t.host_added_s,
                    total_s: t.total_s,
                }
            }
        }
    }

    /// HBM bytes and FLOPs per GPU of a step (weights + KV; matmuls + attention), without
    /// timing it.
    #[inline]
    pub fn work_per_gpu(&self, s: &StepShape) -> (f64, f64) {
        if s.is_empty() {
            return (0.0, 0.0);
        }
        let (wb, gf, kb, af) = self.work.of(s);
        (wb + kb, gf + af)
    }

    /// As [`Deployment::step_time_s`].
    pub fn step_time_s(&self, s: &StepShape) -> f64 {
        match &self.mode {
            CostMode::Roofline(r) => r.step_breakdown(s).total_s,
            CostMode::Components(c) => c.times(s).total_s,
        }
    }

    /// Decode steps of `batch` sequences: the context-independent part computed once.
    #[inline]
    pub fn decode(&self, batch: u64) -> DecodeStep {
        match &self.mode {
            CostMode::Roofline(r) => DecodeStep::Roofline(r.decode(batch)),
            CostMode::Components(c) => DecodeStep::Components(c.decode(batch)),
        }
    }

    /// The batch-dependent part of [`StepCosts::decode`] in compact form (for per-batch-size
    /// caches); evaluate it with [`StepCosts::decode_fixed_time_s`].
    #[inline]
    pub fn decode_fixed(&self, batch: u64) -> DecodeFixed {
        match self.decode(batch) {
            DecodeStep::Roofline(r) => DecodeFixed {
                a_s: r.gemm_s,
                b_s: r.tp_comm_s,
            },
            DecodeStep::Components(c) => DecodeFixed {
                a_s: c.fixed_s(),
                b_s: 0.0,
            },
        }
    }

    /// One decode step of `batch` sequences with `ctx_tokens_total` context tokens, from
    /// `fixed = self.decode_fixed(batch)`; equal bit for bit to
    /// `self.decode(batch).time_s(ctx_tokens_total)`.
    #[inline]
    pub fn decode_fixed_time_s(
        &self,
        fixed: &DecodeFixed,
        batch: u64,
        ctx_tokens_total: u64,
    ) -> f64 {
        match &self.mode {
            CostMode::Roofline(c) => {
                if batch == 0 && ctx_tokens_total == 0 {
                    return 0.0;
                }
                let attn = c.attn(f64_of(ctx_tokens_total), ctx_tokens_total + batch);
                c.alpha * (fixed.a_s + attn.time_s + fixed.b_s) + c.beta_s
            }
            CostMode::Components(c) => {
                c.decode_time_from_fixed_s(fixed.a_s, batch == 0, ctx_tokens_total)
            }
        }
    }

    /// As [`Deployment::decode_step_time_s`].
    pub fn decode_step_time_s(&self, batch: u64, ctx_tokens_total: u64) -> f64 {
        self.decode(batch).time_s(ctx_tokens_total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A decode run's steps are planned from `decode(b)`: it must equal the general step time
    /// bit for bit, and be affine in the context (the scheduler's run planning relies on it).
    #[test]
    fn decode_steps_match_the_general_step_and_are_affine() {
        let mut deps = Vec::new();
        for (gpu, model, tp) in [
            ("a100-80gb", "llama-2-7b", 1),
            ("a100-80gb", "llama-2-70b", 4),
            ("a100-80gb", "llama-2-70b", 8),
            ("a100-80gb", "llama-2-13b", 2),
            ("h100-80gb", "llama-3-70b", 8),
        ] {
            let d = Deployment::from_presets(gpu, model, tp).unwrap().unwrap();
            let mut roof = Deployment::new(
                d.gpu.clone(),
                8,
                tp,
                d.model.clone(),
                Efficiency::calibrated_default(tp),
                0.9,
            )
            .unwrap();
            roof.compute_memory_overlap = 1.0;
            for stack in ["vllm-2023", "trt-llm"] {
                let mut other = d.clone();
                other.stack = super::super::stack::stack_preset(stack);
                deps.push(other);
            }
            deps.push(d);
            deps.push(roof);
        }
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = |m: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % m
        };
        for d in &deps {
            let c = d.step_costs();
            let cached = CachedStepCosts::new(c);
            for _ in 0..500 {
                let batch = next(300);
                let ctx = next(2_000_000);
                let want = c.step_time_s(&StepShape::decode(batch, ctx));
                assert_eq!(c.decode_step_time_s(batch, ctx).to_bits(), want.to_bits());
                assert_eq!(d.decode_step_time_s(batch, ctx).to_bits(), want.to_bits());
                if batch > 0 {
                    let step = c.decode(batch);
                    let (t0, t1) = (step.time_s(ctx), step.time_s(ctx + batch));
                    let far = step.time_s(ctx + 50 * batch);
                    let predicted = t0 + 50.0 * (t1 - t0);
                    assert!((far - predicted).abs() <= 1e-9 * far, "{far} {predicted}");
                }
                let mut shape = StepShape::prefill(next(9000), next(4000));
                shape.add(&StepShape::decode(batch, ctx));
                let b = c.step_breakdown(&shape);
                assert_eq!(b.total_s.to_bits(), c.step_time_s(&shape).to_bits());
                assert!(b.total_s > 0.0);
                // The compact decode cache entry and the mixed-step memo (filled, then hit)
                // give the same bits.
                let fixed = c.decode_fixed(batch);
                assert_eq!(cached.decode_fixed_with(cached.costs(), batch), Some(fixed));
                assert_eq!(cached.decode_fixed_with(&c, batch), None);
                assert_eq!(
                    c.decode_fixed_time_s(&fixed, batch, ctx).to_bits(),
                    c.decode(batch).time_s(ctx).to_bits()
                );
                for _ in 0..2 {
                    assert_eq!(
                        cached.step_time_s(&shape).to_bits(),
                        c.step_time_s(&shape).to_bits()
                    );
                    let dec = StepShape::decode(batch, ctx);
                    assert_eq!(
                        cached.step_time_s(&dec).to_bits(),
                        c.step_time_s(&dec).to_bits()
                    );
                }
            }
            assert_eq!(c.step_time_s(&StepShape::default()), 0.0);
            assert_eq!(cached.step_time_s(&StepShape::default()), 0.0);
        }
    }
}
