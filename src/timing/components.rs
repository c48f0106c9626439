//! The step-time model built from components, each with its own physics and measured data.
//!
//! One forward pass of a tensor-parallel replica, per GPU:
//!
//! ```text
//! gpu   = L · ( Σ_4 projections proj(n)          measured kernel speed, smooth roofline + floor
//!             + elementwise(n)                    5 kernels: floor + bytes / bandwidth
//!             + 2 · allreduce(n · d · 2 bytes)    measured NCCL table × stack scale
//!             + attn_floor + B · attn_per_seq
//!             + kv_tokens · kv_bytes / (attn_bw · BW) + pairs · 4·d/TP / (attn_flops · P) )
//!       + lm_head(B rows) + logits gather(B · vocab · 2 bytes) + embedding
//! host  = host_per_step + [TP > 1] host_tp_per_step + B · host_per_seq
//!       + prompts · host_per_prefill
//! step  = gpu + host                                   (synchronous engines)
//!       = gpu + max(0, host − gpu_fixed)               (host overlapped with the GPU)
//! ```
//!
//! `n` is new tokens in the pass, `B` sequences in it, `pairs` Σ query·context pairs (causal
//! prefill `T²/2`), `kv_tokens` KV tokens read and written; `gpu_fixed` is the part that does
//! not depend on the context. For a fixed batch the step is affine in the batch's total
//! context, which the scheduler relies on to plan runs of decode steps in one event.

use super::collective::{GpuArch, allreduce_time_s};
use super::hardware::Gpu;
use super::kernels::KernelProfile;
use super::model::Model;
use super::roofline::StepShape;
use super::stack::StackProfile;
use crate::engine::time::f64_of;

/// Token counts above this are not memoised by [`ComponentCache`] (computed each time).
const TOKENS_CACHE_MAX: u64 = 1 << 15;
/// Row (sequence) counts above this are not memoised by [`ComponentCache`].
const ROWS_CACHE_MAX: u64 = 1 << 12;

/// Memoised pieces of [`ComponentCosts::times`] for one [`ComponentCosts`]: per token count,
/// a layer's dense kernels and one activation all-reduce; per row count, the LM head and the
/// logits gather. Filled on first use; values are the same pure functions, so results do not
/// depend on what the cache holds.
#[derive(Clone, Debug, Default)]
pub struct ComponentCache {
    by_tokens: Vec<[f64; 2]>,
    by_rows: Vec<[f64; 2]>,
}

impl ComponentCache {
    /// `table[key]`, computed by `f` when unset (NaN) and stored if `key <= max`.
    #[inline]
    fn get(
        table: &mut Vec<[f64; 2]>,
        key: u64,
        max: u64,
        f: impl FnOnce() -> [f64; 2],
    ) -> [f64; 2] {
        if key > max {
            return f();
        }
        let i = key as usize;
        if i >= table.len() {
            table.resize(i + 1, [f64::NAN; 2]);
        }
        let entry = &mut table[i];
        if entry[0].is_nan() {
            *entry = f();
        }
        *entry
    }
}

/// Precomputed constants of the component model for one replica (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ComponentCosts {
    tensor_parallel: u32,
    arch: GpuArch,
    layers: f64,
    /// Weight bytes per GPU of the 4 projections of one layer.
    proj_bytes: [f64; 4],
    /// Input + output activation bytes per token per GPU of each projection.
    proj_act_bytes: [f64; 4],
    /// FLOPs per token per GPU of each projection.
    proj_flops: [f64; 4],
    lm_head_bytes: f64,
    lm_head_act_bytes: f64,
    lm_head_flops: f64,
    gemm_floor_s: f64,
    gemm_bw: f64,
    gemm_flops_rate: f64,
    gemm_p: f64,
    small_floor_s: f64,
    small_bytes_per_token: f64,
    attn_floor_s: f64,
    attn_per_seq_s: f64,
    /// Seconds per KV token read or written, per layer.
    attn_s_per_kv_token: f64,
    /// Seconds per prefill attention (query, key) pair, per layer (tensor cores).
    attn_s_per_pair: f64,
    /// Seconds per decode attention pair, per layer (CUDA cores).
    attn_s_per_decode_pair: f64,
    allreduce_scale: f64,
    custom_allreduce_per_peer_s: f64,
    nvlink_bw: f64,
    /// Bytes of one token's hidden state (`hidden · 2`).
    hidden_bytes: f64,
    /// Bytes of one row of logits (`vocab · 2`).
    logits_row_bytes: f64,
    host_per_step_s: f64,
    host_per_seq_s: f64,
    host_per_prefill_s: f64,
    host_overlaps_gpu: bool,
}

/// The GPU and host parts of one step, seconds.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ComponentTimes {
    /// Projections, element-wise kernels, LM head and embedding.
    pub dense_s: f64,
    /// Attention kernels (floor, per-sequence work, KV reads and writes, prefill pairs).
    pub attn_s: f64,
    /// Tensor-parallel collectives (2 all-reduces per layer and the logits gather).
    pub comm_s: f64,
    /// Host work that adds to the GPU time (all of it for synchronous engines).
    pub host_added_s: f64,
    /// The step: `dense + attn + comm + host_added`.
    pub total_s: f64,
}

impl ComponentCosts {
    /// Builds the constants for `model` on `tp` GPUs of type `gpu` under `stack`.
    pub fn new(gpu: &Gpu, tp: u32, model: &Model, stack: &StackProfile) -> ComponentCosts {
        let k = KernelProfile::for_arch(gpu.arch);
        let t = f64::from(tp.max(1));
        let b = model.bytes_per_param;
        let d = f64::from(model.hidden);
        let dh = f64::from(model.head_dim());
        let h = f64::from(model.heads);
        let kv = f64::from(model.kv_heads);
        let f = f64::from(model.ffn());
        let v = f64::from(model.vocab_size());
        let up = if model.gated_mlp { 2.0 * f } else { f };
        // (K, N, input sharded?) of each projection; TP splits N for column-parallel (QKV,
        // up) and K for row-parallel (output, down) layers.
        let shapes = [
            (d, (h + 2.0 * kv) * dh, false),
            (d, d, true),
            (d, up, false),
            (f, d, true),
        ];
        // Scale the shapes so the layers hold the model's weight bytes (overrides and the
        // reports' compression factor included) after the embedding and LM head.
        let head_bytes = v * d * b * model.compression;
        let layer_params: f64 = shapes.iter().map(|(k, n, _)| k * n).sum();
        let body = model.weight_bytes() - 2.0 * head_bytes;
        let nominal = f64::from(model.layers) * layer_params * b;
        let scale = if body > 0.0 {
            body / nominal
        } else {
            model.weight_bytes() / nominal
        };
        let flops_scale = model.gemm_flops_per_token() / (2.0 * model.params);
        let mut proj_bytes = [0.0; 4];
        let mut proj_act_bytes = [0.0; 4];
        let mut proj_flops = [0.0; 4];
        for (i, &(kk, nn, row_parallel)) in shapes.iter().enumerate() {
            proj_bytes[i] = kk * nn * b * scale / t;
            proj_act_bytes[i] = if row_parallel {
                (kk / t + nn) * 2.0
            } else {
                (kk + nn / t) * 2.0
            };
            proj_flops[i] = 2.0 * kk * nn * flops_scale * scale.min(1.0) / t;
        }
        let launch = stack.launch_floor_s;
        let kv_bytes_per_token_layer =
            model.kv_bytes_per_token_tp(tp) / f64::from(model.layers) / t;
        ComponentCosts {
            tensor_parallel: tp,
            arch: gpu.arch,
            layers: f64::from(model.layers),
            proj_bytes,
            proj_act_bytes,
            proj_flops,
            lm_head_bytes: head_bytes / t,
            lm_head_act_bytes: (d + v / t) * 2.0,
            lm_head_flops: 2.0 * d * v * model.compression / t,
            gemm_floor_s: k.gemm_floor_s.max(launch),
            gemm_bw: k.gemm_bw_frac * gpu.hbm_bw_bytes_per_s,
            gemm_flops_rate: k.gemm_flops_frac * gpu.peak_flops,
            gemm_p: k.gemm_p,
            small_floor_s: 5.0 * k.small_floor_s.max(launch),
            small_bytes_per_token: d * 2.0 * k.small_hidden_passes + (up / t) * 2.0 * 1.5,
            attn_floor_s: stack.attn_floor_s.max(launch),
            attn_per_seq_s: stack.attn_per_seq_s,
            attn_s_per_kv_token: kv_bytes_per_token_layer
                / (stack.decode_attn_bw_frac * gpu.hbm_bw_bytes_per_s),
            attn_s_per_pair: 4.0 * d / t / (stack.prefill_attn_flops_frac * gpu.peak_flops),
            attn_s_per_decode_pair: 4.0 * d / t / (stack.decode_attn_flops_frac * gpu.peak_flops),
            allreduce_scale: stack.allreduce_scale,
            custom_allreduce_per_peer_s: stack.custom_allreduce_per_peer_s,
            nvlink_bw: gpu.nvlink_bw_bytes_per_s,
            hidden_bytes: d * 2.0,
            logits_row_bytes: v * 2.0,
            host_per_step_s: stack.host_per_step_s
                + if tp > 1 {
                    stack.host_tp_per_step_s
                } else {
                    0.0
                },
            host_per_seq_s: stack.host_per_seq_s,
            host_per_prefill_s: stack.host_per_prefill_s,
            host_overlaps_gpu: stack.host_overlaps_gpu,
        }
    }

    /// Tensor-parallel degree.
    pub fn tensor_parallel(&self) -> u32 {
        self.tensor_parallel
    }

    /// One projection kernel: floor + smooth roofline of its bytes and FLOPs.
    #[inline]
    fn gemm_s(&self, weight_bytes: f64, act_bytes: f64, flops: f64) -> f64 {
        let m = (weight_bytes + act_bytes) / self.gemm_bw;
        let c = flops / self.gemm_flops_rate;
        let p = self.gemm_p;
        let norm = if p == 1.5 {
            // The fitted exponent on both GPU generations: x^1.5 = x·√x, y^(2/3) = ∛(y²).
            let s = m * m.sqrt() + c * c.sqrt();
            (s * s).cbrt()
        } else {
            (m.powf(p) + c.powf(p)).powf(1.0 / p)
        };
        self.gemm_floor_s + norm
    }

    fn allreduce_s(&self, bytes: f64) -> f64 {
        let nccl = self.allreduce_scale * allreduce_time_s(self.arch, self.tensor_parallel, bytes);
        if self.custom_allreduce_per_peer_s > 0.0 {
            // One-shot: each rank reads every peer's buffer over NVLink.
            let peers = f64::from(self.tensor_parallel - 1);
            nccl.min(peers * (self.custom_allreduce_per_peer_s + bytes / self.nvlink_bw))
        } else {
            nccl
        }
    }

    /// Context-independent GPU time of a pass with `tokens` new tokens and `seqs` sequences
    /// (`kv_write` KV tokens written): (dense, attention fixed part, communication).
    fn fixed_parts(&self, tokens: u64, seqs: u64, kv_write: u64) -> (f64, f64, f64) {
        let n = tokens as f64;
        let rows = seqs.max(1) as f64;
        let by_tokens = [self.layer_s(n), self.allreduce_tokens_s(n)];
        let by_rows = [self.head_s(rows), self.allreduce_rows_s(rows)];
        self.fixed_parts_from(by_tokens, by_rows, seqs, kv_write)
    }

    /// As [`ComponentCosts::fixed_parts`], the pieces that depend on the token count alone
    /// and on the row count alone taken from `cache` (computed there on first use).
    fn fixed_parts_cached(
        &self,
        cache: &mut ComponentCache,
        tokens: u64,
        seqs: u64,
        kv_write: u64,
    ) -> (f64, f64, f64) {
        let rows_n = seqs.max(1);
        let by_tokens = ComponentCache::get(&mut cache.by_tokens, tokens, TOKENS_CACHE_MAX, || {
            let n = tokens as f64;
            [self.layer_s(n), self.allreduce_tokens_s(n)]
        });
        let by_rows = ComponentCache::get(&mut cache.by_rows, rows_n, ROWS_CACHE_MAX, || {
            let rows = rows_n as f64;
            [self.head_s(rows), self.allreduce_rows_s(rows)]
        });
        self.fixed_parts_from(by_tokens, by_rows, seqs, kv_write)
    }

    /// One layer's dense kernels (4 projections and the element-wise kernels) for `n` tokens.
    #[inline]
    fn layer_s(&self, n: f64) -> f64 {
        let mut layer = 0.0;
        for i in 0..4 {
            layer += self.gemm_s(
                self.proj_bytes[i],
                self.proj_act_bytes[i] * n,
                self.proj_flops[i] * n,
            );
        }
        layer += self.small_floor_s + n * self.small_bytes_per_token / self.gemm_bw;
        layer
    }

    /// The LM head over `rows` rows.
    #[inline]
    fn head_s(&self, rows: f64) -> f64 {
        self.gemm_s(
            self.lm_head_bytes,
            self.lm_head_act_bytes * rows,
            self.lm_head_flops * rows,
        )
    }

    /// One all-reduce of `n` tokens' hidden states (0, unused, at TP1).
    #[inline]
    fn allreduce_tokens_s(&self, n: f64) -> f64 {
        if self.tensor_parallel > 1 {
            self.allreduce_s(n * self.hidden_bytes)
        } else {
            0.0
        }
    }

    /// The logits gather of `rows` rows (0, unused, at TP1).
    #[inline]
    fn allreduce_rows_s(&self, rows: f64) -> f64 {
        if self.tensor_parallel > 1 {
            self.allreduce_s(rows * self.logits_row_bytes)
        } else {
            0.0
        }
    }

    /// [`ComponentCosts::fixed_parts`] from `[layer_s, allreduce_tokens_s]` of the token count
    /// and `[head_s, allreduce_rows_s]` of the row count.
    #[inline]
    fn fixed_parts_from(
        &self,
        by_tokens: [f64; 2],
        by_rows: [f64; 2],
        seqs: u64,
        kv_write: u64,
    ) -> (f64, f64, f64) {
        let [layer, allreduce_tokens] = by_tokens;
        let [head, allreduce_rows] = by_rows;
        // Embedding lookup and final norm: one small kernel each.
        let dense = self.layers * layer + head + self.small_floor_s * 0.4;
        let attn_fixed = self.layers
            * (self.attn_floor_s
                + f64_of(seqs) * self.attn_per_seq_s
                + f64_of(kv_write) * self.attn_s_per_kv_token);
        let comm = if self.tensor_parallel > 1 {
            self.layers * 2.0 * allreduce_tokens + allreduce_rows
        } else {
            0.0
        };
        (dense, attn_fixed, comm)
    }

    /// Host time of an iteration over `seqs` sequences of which `prefills` are prompts,
    /// seconds.
    #[inline]
    fn host_s(&self, seqs: u64, prefills: u64) -> f64 {
        self.host_per_step_s
            + f64_of(seqs) * self.host_per_seq_s
            + f64_of(prefills) * self.host_per_prefill_s
    }

    /// Host time added to a step whose context-independent GPU part is `gpu_fixed_s`.
    #[inline]
    fn host_added_s(&self, seqs: u64, prefills: u64, gpu_fixed_s: f64) -> f64 {
        let host = self.host_s(seqs, prefills);
        if self.host_overlaps_gpu {
            (host - gpu_fixed_s).max(0.0)
        } else {
            host
        }
    }

    /// Every part of one pass of shape `shape`; see the module docs. Its `attn_pairs` and
    /// `kv_read_tokens` carry the context; an empty pass takes no time.
    pub fn times(&self, shape: &StepShape) -> ComponentTimes {
        if shape.is_empty() {
            return ComponentTimes::default();
        }
        let fixed = self.fixed_parts(shape.tokens, shape.seqs, shape.kv_write_tokens);
        self.times_from(fixed, shape)
    }

    /// As [`ComponentCosts::times`], equal bit for bit, with the pieces that depend on the
    /// token count or the row count alone memoised in `cache` (which must only ever be used
    /// with these costs).
    pub fn times_cached(&self, cache: &mut ComponentCache, shape: &StepShape) -> ComponentTimes {
        if shape.is_empty() {
            return ComponentTimes::default();
        }
        let fixed = self.fixed_parts_cached(cache, shape.tokens, shape.seqs, shape.kv_write_tokens);
        self.times_from(fixed, shape)
    }

    /// [`ComponentCosts::times`] of a non-empty pass from its
    /// [`ComponentCosts::fixed_parts`].
    #[inline]
    fn times_from(
        &self,
        (dense, attn_fixed, comm): (f64, f64, f64),
        s: &StepShape,
    ) -> ComponentTimes {
        let fixed = dense + attn_fixed + comm;
        let host_added_s = self.host_added_s(s.seqs, s.prefills, fixed);
        let ctx = self.layers
            * (f64_of(s.kv_read_tokens) * self.attn_s_per_kv_token
                + (s.attn_pairs - s.prefill_pairs) * self.attn_s_per_decode_pair
                + s.prefill_pairs * self.attn_s_per_pair);
        ComponentTimes {
            dense_s: dense,
            attn_s: attn_fixed + ctx,
            comm_s: comm,
            host_added_s,
            total_s: fixed + host_added_s + ctx,
        }
    }

    /// Decode steps of `batch` sequences: the context-independent part, computed once.
    pub fn decode(&self, batch: u64) -> ComponentDecode {
        let (dense, attn_fixed, comm) = self.fixed_parts(batch, batch, batch);
        let fixed = dense + attn_fixed + comm;
        ComponentDecode {
            fixed_s: fixed + self.host_added_s(batch, 0, fixed),
            per_kv_s: self.layers * self.attn_s_per_kv_token,
            per_pair_s: self.layers * self.attn_s_per_decode_pair,
            layers: self.layers,
            attn_s_per_kv_token: self.attn_s_per_kv_token,
            attn_s_per_pair: self.attn_s_per_decode_pair,
            empty: batch == 0,
        }
    }
}

impl ComponentCosts {
    /// A decode step's time from its context-independent part `fixed_s`
    /// ([`ComponentDecode::fixed_s`]); equal bit for bit to [`ComponentDecode::time_s`].
    #[inline]
    pub fn decode_time_from_fixed_s(
        &self,
        fixed_s: f64,
        empty: bool,
        ctx_tokens_total: u64,
    ) -> f64 {
        if empty && ctx_tokens_total == 0 {
            return 0.0;
        }
        let c = f64_of(ctx_tokens_total);
        fixed_s + self.layers * (c * self.attn_s_per_kv_token + c * self.attn_s_per_decode_pair)
    }
}

/// A decode step of a fixed batch as a function of its total context (see
/// [`ComponentCosts::decode`]); equal bit for bit to [`ComponentCosts::times`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ComponentDecode {
    fixed_s: f64,
    per_kv_s: f64,
    per_pair_s: f64,
    layers: f64,
    attn_s_per_kv_token: f64,
    attn_s_per_pair: f64,
    empty: bool,
}

impl ComponentDecode {
    /// The step's duration with `ctx_tokens_total` context tokens in the batch, seconds.
    #[inline]
    pub fn time_s(&self, ctx_tokens_total: u64) -> f64 {
        if self.empty && ctx_tokens_total == 0 {
            return 0.0;
        }
        let c = f64_of(ctx_tokens_total);
        self.fixed_s + self.layers * (c * self.attn_s_per_kv_token + c * self.attn_s_per_pair)
    }

    /// The context-independent part of the step (host time included), seconds.
    #[inline]
    pub fn fixed_s(&self) -> f64 {
        self.fixed_s
    }

    /// Seconds each context token adds to the step (KV read and attention pairs).
    pub fn per_ctx_token_s(&self) -> f64 {
        self.per_kv_s + self.per_pair_s
    }
}
