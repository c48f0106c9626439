//! A model deployed on GPUs: memory admission, KV capacity and the per-step time model.
//!
//! Step time, per GPU (each quantity divided by TP), following `inference-model.md` §2:
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

use std::fmt;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::hardware::Gpu;
use super::model::Model;
use super::roofline::{RooflineTerm, StepBreakdown, StepShape};

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
    /// [`crate::llm::calibration`]; all points within ±11% with these values).
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

/// Per-GPU memory held back from the KV cache for activations, CUDA graphs and workspace, used
/// by [`Deployment::new`]: 8 GB.
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
        "no room for the KV cache: usable {usable_gb} GB - weights {weights_gb} GB - activation reserve {reserve_gb} GB leaves less than one {KV_BLOCK_TOKENS}-token block; raise tensor parallelism or mem_util"
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

/// One model replica layout on one server type, with its efficiency constants.
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
    /// Efficiency and calibration constants.
    pub eff: Efficiency,
    /// Fraction of HBM the server may use (vLLM `gpu_memory_utilization`, default 0.9).
    pub mem_util: f64,
    /// Bytes per GPU reserved for activations etc.; default
    /// [`DEFAULT_ACTIVATION_RESERVE_BYTES`]. Changing it after `new` skips the room check.
    pub activation_reserve_bytes: f64,
    /// Overlap fraction of each roofline term; default [`DEFAULT_COMPUTE_MEMORY_OVERLAP`].
    /// Set to 1.0 for the pure roofline maximum (e.g. to reproduce a report's arithmetic).
    pub compute_memory_overlap: f64,
}

impl Deployment {
    /// Validates and builds a deployment with the default activation reserve and overlap.
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
        if !ALLOWED_TP.contains(&tensor_parallel)
            || gpus_per_server == 0
            || !gpus_per_server.is_multiple_of(tensor_parallel)
        {
            return Err(DeploymentError::BadTensorParallel {
                tp: tensor_parallel,
                gpus: gpus_per_server,
            });
        }
        let checks: [(&'static str, f64, bool, &'static str); 6] = [
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
        let d = Deployment {
            gpu,
            gpus_per_server,
            tensor_parallel,
            model,
            eff,
            mem_util,
            activation_reserve_bytes: DEFAULT_ACTIVATION_RESERVE_BYTES,
            compute_memory_overlap: DEFAULT_COMPUTE_MEMORY_OVERLAP,
        };
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
                reserve_gb: Gb(tp * d.activation_reserve_bytes),
            });
        }
        Ok(d)
    }

    /// Builds a deployment from preset names with [`Efficiency::calibrated_default`], 8 GPUs
    /// per server and mem_util 0.9. Returns `None` for an unknown preset name.
    pub fn from_presets(
        gpu: &str,
        model: &str,
        tensor_parallel: u32,
    ) -> Option<Result<Deployment, DeploymentError>> {
        let gpu = super::hardware::gpu_preset(gpu)?;
        let model = super::model::model_preset(model)?;
        Some(Deployment::new(
            gpu,
            8,
            tensor_parallel,
            model,
            Efficiency::calibrated_default(tensor_parallel),
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

    /// KV-cache capacity of one replica in tokens:
    /// `(TP·HBM·mem_util − weights − TP·activation_reserve) / kv_bytes_per_token`, rounded down
    /// to whole [`KV_BLOCK_TOKENS`]-token blocks; 0 when nothing is left.
    pub fn kv_capacity_tokens(&self) -> u64 {
        let tp = f64::from(self.tensor_parallel);
        let free = tp * self.gpu.hbm_bytes * self.mem_util
            - self.model.weight_bytes()
            - tp * self.activation_reserve_bytes;
        if free <= 0.0 {
            return 0;
        }
        let tokens = (free / self.kv_bytes_per_token()).floor() as u64;
        tokens / KV_BLOCK_TOKENS * KV_BLOCK_TOKENS
    }

    /// Time of one ring all-reduce of `bytes` over the replica's GPUs, seconds (0 at TP1):
    /// `allreduce_latency_s + 2(n−1)/n · bytes / nvlink_bw`.
    pub fn allreduce_time_s(&self, bytes: f64) -> f64 {
        let n = f64::from(self.tensor_parallel);
        if self.tensor_parallel <= 1 {
            return 0.0;
        }
        self.eff.allreduce_latency_s + 2.0 * (n - 1.0) / n * bytes / self.gpu.nvlink_bw_bytes_per_s
    }

    /// Every term of one step's time; see the module docs for the formula. All FLOPs and bytes
    /// are per GPU. TP communication is 2 all-reduces per layer of `tokens · hidden · 2` bytes.
    pub fn step_breakdown(&self, s: &StepShape) -> StepBreakdown {
        if s.is_empty() {
            return StepBreakdown {
                alpha: self.eff.alpha,
                ..StepBreakdown::default()
            };
        }
        let tp = f64::from(self.tensor_parallel);
        let m = &self.model;
        let compute_rate = self.eff.mfu * self.gpu.peak_flops;
        let memory_rate = self.eff.mbu * self.gpu.hbm_bw_bytes_per_s;
        let overlap = self.compute_memory_overlap;
        let tokens = s.tokens as f64;
        // Weights are read once per pass if any token is processed.
        let weight_bytes = if s.tokens > 0 {
            m.weight_bytes() / tp
        } else {
            0.0
        };
        let gemm = RooflineTerm::new(
            m.gemm_flops_per_token() * tokens / tp,
            weight_bytes,
            compute_rate,
            memory_rate,
            overlap,
        );
        let attn_flops = 4.0 * f64::from(m.hidden) * f64::from(m.layers) * s.attn_pairs / tp;
        let kv_bytes =
            (s.kv_read_tokens + s.kv_write_tokens) as f64 * self.kv_bytes_per_token() / tp;
        let attn = RooflineTerm::new(attn_flops, kv_bytes, compute_rate, memory_rate, overlap);
        let tp_comm_s = if self.tensor_parallel > 1 && s.tokens > 0 {
            let bytes = tokens * f64::from(m.hidden) * ACTIVATION_BYTES;
            2.0 * f64::from(m.layers) * self.allreduce_time_s(bytes)
        } else {
            0.0
        };
        let total_s = self.eff.alpha * (gemm.time_s + attn.time_s + tp_comm_s) + self.eff.beta_s;
        StepBreakdown {
            gemm,
            attn,
            tp_comm_s,
            alpha: self.eff.alpha,
            fixed_s: self.eff.beta_s,
            total_s,
        }
    }

    /// Duration of one forward pass of shape `s`, seconds (0 for an empty step).
    pub fn step_time_s(&self, s: &StepShape) -> f64 {
        self.step_breakdown(s).total_s
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
        self.step_time_s(&StepShape::decode(batch, ctx_tokens_total))
    }
}

/// The step-time model of a [`Deployment`] with every shape-independent quantity computed
/// once ([`Deployment::step_costs`]), for the simulation's hot loop. Every method returns
/// exactly (bit for bit) what the `Deployment` method of the same name returns: the same
/// floating-point operations run in the same order, only their constant parts are hoisted.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepCosts {
    /// Tensor-parallel degree.
    pub tensor_parallel: u32,
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
/// for any total context, equal bit for bit to [`Deployment::decode_step_time_s`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DecodeStep {
    costs: StepCosts,
    batch: u64,
    gemm_s: f64,
    tp_comm_s: f64,
}

impl DecodeStep {
    /// One decode step's duration with `ctx_tokens_total` context tokens in the batch, seconds.
    #[inline]
    pub fn time_s(&self, ctx_tokens_total: u64) -> f64 {
        let c = &self.costs;
        if self.batch == 0 && ctx_tokens_total == 0 {
            return 0.0;
        }
        let attn = c.attn(ctx_tokens_total as f64, ctx_tokens_total + self.batch);
        c.alpha * (self.gemm_s + attn.time_s + self.tp_comm_s) + c.beta_s
    }
}

impl Deployment {
    /// The step-time model with its constants precomputed; see [`StepCosts`].
    pub fn step_costs(&self) -> StepCosts {
        let n = f64::from(self.tensor_parallel);
        StepCosts {
            tensor_parallel: self.tensor_parallel,
            tp: n,
            compute_rate: self.eff.mfu * self.gpu.peak_flops,
            memory_rate: self.eff.mbu * self.gpu.hbm_bw_bytes_per_s,
            overlap: self.compute_memory_overlap,
            weight_bytes_per_gpu: self.model.weight_bytes() / n,
            gemm_flops_per_token: self.model.gemm_flops_per_token(),
            attn_flops_per_pair: 4.0 * f64::from(self.model.hidden) * f64::from(self.model.layers),
            kv_bytes_per_token: self.kv_bytes_per_token(),
            hidden: f64::from(self.model.hidden),
            layers: f64::from(self.model.layers),
            allreduce_latency_s: self.eff.allreduce_latency_s,
            allreduce_factor: 2.0 * (n - 1.0) / n,
            nvlink_bw: self.gpu.nvlink_bw_bytes_per_s,
            alpha: self.eff.alpha,
            beta_s: self.eff.beta_s,
        }
    }
}

/// Anything that yields the step-time model: a [`Deployment`] (computing its [`StepCosts`]) or
/// the precomputed [`StepCosts`] themselves (a copy), for hot loops.
pub trait ToStepCosts {
    /// The step-time model.
    fn to_step_costs(&self) -> StepCosts;
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
}

impl StepCosts {
    #[inline]
    fn gemm(&self, tokens: u64) -> RooflineTerm {
        let weight_bytes = if tokens > 0 {
            self.weight_bytes_per_gpu
        } else {
            0.0
        };
        RooflineTerm::new(
            self.gemm_flops_per_token * tokens as f64 / self.tp,
            weight_bytes,
            self.compute_rate,
            self.memory_rate,
            self.overlap,
        )
    }

    #[inline]
    fn attn(&self, attn_pairs: f64, kv_tokens: u64) -> RooflineTerm {
        let attn_flops = self.attn_flops_per_pair * attn_pairs / self.tp;
        let kv_bytes = kv_tokens as f64 * self.kv_bytes_per_token / self.tp;
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
            let bytes = tokens as f64 * self.hidden * ACTIVATION_BYTES;
            2.0 * self.layers
                * (self.allreduce_latency_s + self.allreduce_factor * bytes / self.nvlink_bw)
        } else {
            0.0
        }
    }

    /// As [`Deployment::step_breakdown`].
    pub fn step_breakdown(&self, s: &StepShape) -> StepBreakdown {
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

    /// As [`Deployment::step_time_s`].
    pub fn step_time_s(&self, s: &StepShape) -> f64 {
        self.step_breakdown(s).total_s
    }

    /// Decode steps of `batch` sequences: the context-independent part computed once.
    #[inline]
    pub fn decode(&self, batch: u64) -> DecodeStep {
        DecodeStep {
            costs: *self,
            batch,
            gemm_s: self.gemm(batch).time_s,
            tp_comm_s: self.tp_comm_s(batch),
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

    /// `StepCosts` hoists constants only: every result must equal `Deployment`'s bit for bit.
    #[test]
    fn step_costs_match_the_deployment_bit_for_bit() {
        let mut deps = Vec::new();
        for (gpu, model, tp) in [
            ("a100-80gb", "llama-2-7b", 1),
            ("a100-80gb", "llama-2-70b", 4),
            ("a100-80gb", "llama-2-70b", 8),
            ("a100-80gb", "llama-2-13b", 2),
        ] {
            let d = Deployment::from_presets(gpu, model, tp).unwrap().unwrap();
            let mut pure = d.clone();
            pure.compute_memory_overlap = 1.0;
            deps.push(d);
            deps.push(pure);
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
            for _ in 0..2000 {
                let batch = next(300);
                let ctx = next(2_000_000);
                let want = d.decode_step_time_s(batch, ctx);
                assert_eq!(c.decode_step_time_s(batch, ctx).to_bits(), want.to_bits());
                assert_eq!(c.decode(batch).time_s(ctx).to_bits(), want.to_bits());
                let mut shape = StepShape::prefill(next(9000), next(4000));
                shape.add(&StepShape::decode(batch, ctx));
                if next(4) == 0 {
                    shape.attn_pairs += 0.5;
                }
                for s in [shape, StepShape::default(), StepShape::decode(batch, ctx)] {
                    assert_eq!(c.step_breakdown(&s), d.step_breakdown(&s));
                    assert_eq!(c.step_time_s(&s).to_bits(), d.step_time_s(&s).to_bits());
                }
            }
        }
    }
}
