//! The shape of one forward pass, in the units the step-time model needs.

use crate::engine::time::f64_of;

/// What one forward pass (one batching iteration) processes.
///
/// Shapes add: a mixed step (chunked prefill plus decodes) is the [`StepShape::add`] of its
/// parts, because forward time depends mainly on total tokens and context, not on how they split
/// across sequences (DeepSpeed-FastGen).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct StepShape {
    /// New tokens in the pass: prefill tokens plus one per decoding sequence.
    pub tokens: u64,
    /// Σ over query tokens of the context each attends to. Causal prefill of T tokens after c
    /// cached: `c·T + T²/2`; a decoding sequence with context ctx_i contributes ctx_i.
    pub attn_pairs: f64,
    /// The part of `attn_pairs` from prompt tokens (prefill kernels on tensor cores); the rest
    /// is decode attention.
    pub prefill_pairs: f64,
    /// KV tokens read from HBM: Σ decode ctx_i plus the cached prefix c of each prefill.
    pub kv_read_tokens: u64,
    /// KV tokens written (equals `tokens`).
    pub kv_write_tokens: u64,
    /// Sequences in the pass (each decoding sequence, each prompt chunk): per-sequence host
    /// and attention work, and rows of logits.
    pub seqs: u64,
    /// Prompts (or prompt chunks) in the pass: each pays the engine's per-prefill setup.
    pub prefills: u64,
}

impl StepShape {
    /// `batch` sequences decoding one token each, with `ctx_total` context tokens between them.
    pub fn decode(batch: u64, ctx_total: u64) -> Self {
        StepShape {
            tokens: batch,
            attn_pairs: f64_of(ctx_total),
            prefill_pairs: 0.0,
            kv_read_tokens: ctx_total,
            kv_write_tokens: batch,
            seqs: batch,
            prefills: 0,
        }
    }

    /// Prefill of `prompt` new tokens on top of `cached` tokens already in the KV cache
    /// (prefix-cache hit or an earlier chunk).
    pub fn prefill(prompt: u64, cached: u64) -> Self {
        let t = f64_of(prompt);
        let pairs = f64_of(cached) * t + t * t / 2.0;
        StepShape {
            tokens: prompt,
            attn_pairs: pairs,
            prefill_pairs: pairs,
            kv_read_tokens: cached,
            kv_write_tokens: prompt,
            seqs: u64::from(prompt > 0),
            prefills: u64::from(prompt > 0),
        }
    }

    /// Adds another part of the same pass to this one.
    pub fn add(&mut self, other: &StepShape) {
        self.tokens += other.tokens;
        self.attn_pairs += other.attn_pairs;
        self.prefill_pairs += other.prefill_pairs;
        self.kv_read_tokens += other.kv_read_tokens;
        self.kv_write_tokens += other.kv_write_tokens;
        self.seqs += other.seqs;
        self.prefills += other.prefills;
    }

    /// True when the pass processes nothing.
    pub fn is_empty(&self) -> bool {
        self.tokens == 0 && self.kv_read_tokens == 0 && self.attn_pairs == 0.0
    }
}

/// Which side of the roofline a term sits on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bound {
    /// FLOP time ≥ byte time.
    Compute,
    /// Byte time > FLOP time.
    Memory,
}

/// One roofline term: FLOPs and bytes per GPU, and the two times they imply.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct RooflineTerm {
    /// FLOPs executed per GPU.
    pub flops: f64,
    /// HBM bytes moved per GPU.
    pub bytes: f64,
    /// `flops / (mfu · peak_flops)`, seconds.
    pub compute_s: f64,
    /// `bytes / (mbu · hbm_bw)`, seconds.
    pub memory_s: f64,
    /// Combined time before alpha: `max + (1 − overlap) · min` of the two, seconds.
    pub time_s: f64,
}

impl RooflineTerm {
    /// Builds a term; `overlap` is the fraction of the shorter side hidden under the longer
    /// (1.0 = pure roofline max, 0.0 = no overlap, times add).
    pub fn new(flops: f64, bytes: f64, compute_rate: f64, memory_rate: f64, overlap: f64) -> Self {
        let compute_s = flops / compute_rate;
        let memory_s = bytes / memory_rate;
        let time_s = compute_s.max(memory_s) + (1.0 - overlap) * compute_s.min(memory_s);
        RooflineTerm {
            flops,
            bytes,
            compute_s,
            memory_s,
            time_s,
        }
    }

    /// Which side dominates.
    pub fn bound(&self) -> Bound {
        if self.compute_s >= self.memory_s {
            Bound::Compute
        } else {
            Bound::Memory
        }
    }
}

/// Every term of one step's time, per GPU (see [`crate::timing::Deployment::step_time_s`]).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct StepBreakdown {
    /// Weight matmuls: `2·N·compression·tokens / TP` FLOPs vs `weight_bytes / TP` bytes.
    pub gemm: RooflineTerm,
    /// Attention: `4·d·L·attn_pairs / TP` FLOPs vs `(kv_read + kv_write) · kv_per_token / TP`.
    pub attn: RooflineTerm,
    /// Tensor-parallel all-reduces (zero at TP1), seconds, before alpha.
    pub tp_comm_s: f64,
    /// Calibration multiplier applied to `gemm + attn + tp_comm`.
    pub alpha: f64,
    /// Fixed per-step overhead beta, seconds.
    pub fixed_s: f64,
    /// `alpha · (gemm.time_s + attn.time_s + tp_comm_s) + fixed_s`, seconds; 0 for an empty step.
    pub total_s: f64,
}

impl StepBreakdown {
    /// FLOPs per GPU in the step (matmul + attention), for MFU accounting.
    pub fn flops_per_gpu(&self) -> f64 {
        self.gemm.flops + self.attn.flops
    }

    /// HBM bytes per GPU in the step (weights + KV), for MBU accounting.
    pub fn bytes_per_gpu(&self) -> f64 {
        self.gemm.bytes + self.attn.bytes
    }
}
