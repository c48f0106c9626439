//! Achieved speed of the per-layer kernels on one GPU generation, fitted on measured kernel
//! times.
//!
//! Source: Vidur's public per-operation profiles (microsoft/vidur, MIT License,
//! `data/profiling/compute/{a100,h100}/*/mlp.csv` at 7d47513, reduced in
//! `../shared/reference/measurements/`): the four projections (QKV, output, gate+up, down) and
//! the small element-wise operations (norms, RoPE, activation, residual add) of one layer of
//! Llama-2-7B, Llama-2-70B, Llama-3-8B, Llama-3-70B and CodeLlama-34B at TP1/2/4/8 and 1 to
//! 4,096+ tokens (27,120 projection timings on A100, 12,528 on H100).
//!
//! A projection of a `K x N` weight slice over `n` tokens takes
//!
//! ```text
//! t = floor + ( (bytes / (bw_frac·BW))^p + (flops / (flops_frac·P))^p )^(1/p)
//! ```
//!
//! a smooth roofline (p → ∞ is the plain maximum) plus a per-kernel floor. Fitted by grid
//! search on the median and 95th percentile of |log error| over all rows (A100: median 5%,
//! by TP the median signed error is within ±5% in every token band; H100: median 7%).

use super::collective::GpuArch;

/// Kernel-speed constants of one GPU generation, as fractions of the GPU's peak figures so
/// that a GPU whose bandwidth or FLOP/s is overridden scales with it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct KernelProfile {
    /// Fraction of peak HBM bandwidth a weight-bound projection achieves.
    pub gemm_bw_frac: f64,
    /// Fraction of peak dense FLOP/s a compute-bound projection achieves.
    pub gemm_flops_frac: f64,
    /// Minimum time of one projection kernel, seconds.
    pub gemm_floor_s: f64,
    /// Exponent of the smooth roofline (1.5 on A100: compute and memory overlap little).
    pub gemm_p: f64,
    /// Minimum time of one element-wise kernel, seconds (5 per layer).
    pub small_floor_s: f64,
    /// HBM bytes the element-wise kernels move per token, in units of `hidden · 2` bytes
    /// (norms, RoPE, residual add read and write the hidden state several times).
    pub small_hidden_passes: f64,
}

impl KernelProfile {
    /// The fitted constants for `arch` (see the module docs).
    ///
    /// | arch | bw | FLOP/s | floor | p |
    /// |---|---|---|---|---|
    /// | A100 | 0.84 (1.71 TB/s) | 0.72 (225 TFLOP/s) | 6 µs | 1.5 |
    /// | H100 | 0.90 (3.0 TB/s) | 0.72 (712 TFLOP/s) | 4 µs | 1.5 |
    pub fn for_arch(arch: GpuArch) -> KernelProfile {
        match arch {
            GpuArch::Ampere => KernelProfile {
                gemm_bw_frac: 0.84,
                gemm_flops_frac: 0.72,
                gemm_floor_s: 6e-6,
                gemm_p: 1.5,
                small_floor_s: 2e-6,
                small_hidden_passes: 14.0,
            },
            GpuArch::Hopper => KernelProfile {
                gemm_bw_frac: 0.90,
                gemm_flops_frac: 0.72,
                gemm_floor_s: 4e-6,
                gemm_p: 1.5,
                small_floor_s: 2e-6,
                small_hidden_passes: 14.0,
            },
        }
    }
}
