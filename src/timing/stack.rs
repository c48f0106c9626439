//! Serving-stack profiles: what one inference engine adds to the GPU kernels' time (host work,
//! attention kernels, collectives, iteration policy) and holds in memory besides weights and KV.
//!
//! The GPU side of a step (projections, element-wise kernels, NCCL) is measured per GPU
//! generation ([`super::kernels`], [`super::collective`]); what differs between engines lives
//! here, one preset per kind of engine, each naming its sources:
//!
//! * `vllm-2023`: vLLM as of 2023 (v0.1–v0.2): eager PyTorch, Ray workers for tensor
//!   parallelism, prefill-only iterations that stall decodes, no chunking. Host work per
//!   iteration is Vidur's measured vLLM profile (`cpu_overheads_a100.csv`: schedule, sampler,
//!   prepare inputs, process outputs, Ray communication), added to the GPU time.
//! * `vllm`: current vLLM (V1 engine): CUDA graphs, chunked prefill fused with decodes,
//!   asynchronous scheduling that overlaps host work with the GPU, multiprocessing workers.
//!   The same measured host components, hidden under the GPU work where they fit.
//! * `trt-llm`: TensorRT-LLM / FasterTransformer-class C++ runtimes (lmdeploy TurboMind too):
//!   fused kernels, a C++ batch manager with little host work, in-flight batching. Its host
//!   and attention constants are fitted on the lmdeploy and TensorRT-LLM A100 points of
//!   `inference-model.md` §4 (see [`super::calibration`]).
//! * `roofline`: no engine: the reports' `alpha · roofline + beta` arithmetic with explicit
//!   efficiencies (`[servers] efficiency = {...}`), kept to reproduce their tables.

use serde::{Deserialize, Serialize};

/// GiB in bytes.
const GIB: f64 = 1024.0 * 1024.0 * 1024.0;

/// Names accepted by [`stack_preset`] (besides `roofline`, which takes `efficiency`).
pub const STACK_PRESETS: &[&str] = &["vllm", "vllm-2023", "trt-llm"];

/// The stack used when a scenario names none: current vLLM, what a planner deploys today.
pub const DEFAULT_STACK: &str = "vllm";

/// The overhead, efficiency and iteration-policy parameters of one serving engine.
///
/// Every field can be overridden in a scenario's `[servers.stack]` table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StackProfile {
    /// Preset the profile started from.
    pub preset: String,
    /// Achieved fraction of peak FLOP/s of prefill attention (the causal `T²/2` work).
    pub prefill_attn_flops_frac: f64,
    /// Achieved fraction of peak HBM bandwidth when decode attention reads the KV cache.
    pub decode_attn_bw_frac: f64,
    /// Achieved FLOP/s of decode attention as a fraction of the GPU's peak tensor FLOP/s:
    /// decode kernels run on CUDA cores (A100: 19.5 TFLOP/s fp32, 6% of the 312 tensor
    /// peak), which matters when many query heads share one KV head (GQA).
    pub decode_attn_flops_frac: f64,
    /// Minimum time of a layer's attention kernels, seconds.
    pub attn_floor_s: f64,
    /// Attention kernel work per sequence per layer, seconds (thread blocks and page tables
    /// per sequence; grows with the batch, not the context).
    pub attn_per_seq_s: f64,
    /// Host time to launch one kernel when it is not captured in a CUDA graph, seconds; a
    /// kernel then takes at least this long (0 with CUDA graphs or a compiled engine).
    pub launch_floor_s: f64,
    /// The stack's all-reduce time as a multiple of the measured NCCL time.
    pub allreduce_scale: f64,
    /// Custom one-shot all-reduce (FasterTransformer's `customAllReduce`, TensorRT-LLM's
    /// plugin, vLLM's since v0.3): each rank reads every peer's buffer over NVLink, so it
    /// takes `(ranks − 1) · (this + bytes / NVLink)`; used when faster than the measured NCCL
    /// time, which it is for small messages. 0 = NCCL only.
    pub custom_allreduce_per_peer_s: f64,
    /// Host work per iteration (schedule, prepare inputs, sampling, output processing),
    /// seconds.
    pub host_per_step_s: f64,
    /// Host work per sequence in the iteration, seconds.
    pub host_per_seq_s: f64,
    /// Host work per prompt (or prompt chunk) in the iteration, seconds: request setup,
    /// input preparation and the first token's sampling over the full vocabulary.
    pub host_per_prefill_s: f64,
    /// Extra host work per iteration with tensor parallelism (sending the batch to the
    /// workers), seconds.
    pub host_tp_per_step_s: f64,
    /// Host work runs under the GPU's (asynchronous scheduling): a step takes
    /// `gpu + max(0, host − gpu weight-bound part)` instead of `gpu + host`.
    pub host_overlaps_gpu: bool,
    /// Iterations that prefill run prompts only, stalling every decode (vLLM v0).
    pub prefill_stalls_decodes: bool,
    /// Whether prompts are split into chunks under the token budget by default (the
    /// scenario's `servers.chunked_prefill` overrides it).
    pub chunked_prefill: bool,
    /// Memory per GPU the runtime holds outside weights, KV and activations (CUDA context,
    /// library workspaces), bytes.
    pub runtime_bytes_per_gpu: f64,
    /// Extra memory per GPU for communication buffers with tensor parallelism, bytes.
    pub comm_buffer_bytes_per_gpu: f64,
}

/// Looks up a stack preset by name (case-insensitive).
///
/// | preset | prefill attn | decode attn BW | launch floor | host/step | host/seq | TP host | overlap | policy |
/// |---|---|---|---|---|---|---|---|---|
/// | vllm-2023 | 0.40 | 0.50 | 8 µs | 0.84 ms | 42 µs | +7.0 ms | no | prefill stalls decodes |
/// | vllm | 0.55 | 0.70 | 0 | 0.84 ms | 42 µs | +0.6 ms | yes | chunked, fused |
/// | trt-llm | 0.55 | 0.70 | 0 | 0.30 ms | 10 µs | +0.1 ms | no | fused (in-flight) |
///
/// Host figures for both vLLM presets: Vidur's measured vLLM profile (A100, Llama-2-7B TP1
/// and Llama-2-70B TP4, batch 8–128): schedule + sampler + prepare inputs + process outputs
/// ≈ 0.84 ms + 42 µs per sequence at TP1 and 1.43 ms + 43 µs at TP4, plus 6.4 ms mean Ray
/// communication per iteration at TP > 1 (v0 with Ray only). Memory: vLLM PR #10511's
/// profiling log (Llama-3-8B, 79.22 GiB GPU): 1.79 GiB non-torch memory at TP1 and 3.58 GiB
/// at TP2. Attention efficiencies: FlashAttention-2 reaches 50–73% of A100 peak in the
/// forward pass (Dao, 2023), the xformers/cutlass kernels of 2023 less; PagedAttention
/// decode kernels read the cache at 50–70% of peak bandwidth.
pub fn stack_preset(name: &str) -> Option<StackProfile> {
    let base = StackProfile {
        preset: String::new(),
        prefill_attn_flops_frac: 0.55,
        decode_attn_bw_frac: 0.90,
        decode_attn_flops_frac: 0.04,
        attn_floor_s: 6e-6,
        attn_per_seq_s: 0.0,
        launch_floor_s: 0.0,
        allreduce_scale: 1.0,
        custom_allreduce_per_peer_s: 11e-6,
        host_per_step_s: 0.84e-3,
        host_per_seq_s: 42e-6,
        host_per_prefill_s: 1.5e-3,
        host_tp_per_step_s: 0.6e-3,
        host_overlaps_gpu: true,
        prefill_stalls_decodes: false,
        chunked_prefill: true,
        runtime_bytes_per_gpu: 1.79 * GIB,
        comm_buffer_bytes_per_gpu: 1.79 * GIB,
    };
    let p = match name.to_ascii_lowercase().as_str() {
        "vllm" => base,
        "vllm-2023" => StackProfile {
            prefill_attn_flops_frac: 0.40,
            decode_attn_bw_frac: 0.60,
            attn_floor_s: 8e-6,
            custom_allreduce_per_peer_s: 0.0,
            launch_floor_s: 8e-6,
            host_tp_per_step_s: 0.6e-3 + 6.4e-3,
            host_overlaps_gpu: false,
            prefill_stalls_decodes: true,
            chunked_prefill: false,
            ..base
        },
        "trt-llm" => StackProfile {
            attn_floor_s: 5e-6,
            host_per_step_s: 0.30e-3,
            host_per_seq_s: 2e-6,
            host_tp_per_step_s: 0.1e-3,
            host_overlaps_gpu: false,
            chunked_prefill: false,
            ..base
        },
        _ => return None,
    };
    Some(StackProfile {
        preset: name.to_ascii_lowercase(),
        ..p
    })
}

impl StackProfile {
    /// Checks every field's range; the error names the field and what is allowed.
    pub fn validate(&self) -> Result<(), String> {
        let fracs = [
            ("prefill_attn_flops_frac", self.prefill_attn_flops_frac),
            ("decode_attn_bw_frac", self.decode_attn_bw_frac),
            ("decode_attn_flops_frac", self.decode_attn_flops_frac),
        ];
        for (k, v) in fracs {
            if !(v > 0.0 && v <= 1.0) {
                return Err(format!("{k} must be in (0, 1], got {v}"));
            }
        }
        if !(self.allreduce_scale.is_finite() && self.allreduce_scale > 0.0) {
            return Err(format!(
                "allreduce_scale must be > 0, got {}",
                self.allreduce_scale
            ));
        }
        let nonneg = [
            ("attn_floor_s", self.attn_floor_s),
            (
                "custom_allreduce_per_peer_s",
                self.custom_allreduce_per_peer_s,
            ),
            ("attn_per_seq_s", self.attn_per_seq_s),
            ("launch_floor_s", self.launch_floor_s),
            ("host_per_step_s", self.host_per_step_s),
            ("host_per_seq_s", self.host_per_seq_s),
            ("host_per_prefill_s", self.host_per_prefill_s),
            ("host_tp_per_step_s", self.host_tp_per_step_s),
            ("runtime_bytes_per_gpu", self.runtime_bytes_per_gpu),
            ("comm_buffer_bytes_per_gpu", self.comm_buffer_bytes_per_gpu),
        ];
        for (k, v) in nonneg {
            if !(v.is_finite() && (0.0..=1e15).contains(&v)) {
                return Err(format!("{k} must be zero or positive, got {v}"));
            }
        }
        let seconds = [
            self.attn_floor_s,
            self.attn_per_seq_s,
            self.launch_floor_s,
            self.host_per_step_s,
            self.host_per_seq_s,
            self.host_per_prefill_s,
            self.host_tp_per_step_s,
        ];
        if seconds.iter().any(|&s| s > 10.0) {
            return Err("per-step and per-kernel times must be at most 10 seconds".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_resolve_and_validate() {
        for name in STACK_PRESETS {
            let p = stack_preset(name).unwrap();
            assert_eq!(&p.preset, name);
            p.validate().unwrap();
        }
        assert!(stack_preset("tgi").is_none());
        let mut p = stack_preset("vllm").unwrap();
        p.decode_attn_bw_frac = 1.5;
        assert!(p.validate().unwrap_err().contains("decode_attn_bw_frac"));
    }

    #[test]
    fn the_2023_engine_stalls_decodes_and_pays_ray() {
        let old = stack_preset("vllm-2023").unwrap();
        let new = stack_preset("vllm").unwrap();
        assert!(old.prefill_stalls_decodes && !new.prefill_stalls_decodes);
        assert!(old.host_tp_per_step_s > 10.0 * new.host_tp_per_step_s);
        assert!(!old.host_overlaps_gpu && new.host_overlaps_gpu);
    }
}
