//! Tensor-parallel collectives: measured NCCL all-reduce time by message size and ranks.
//!
//! The tables are derived from Vidur's public NCCL profiles (microsoft/vidur, MIT License,
//! `data/profiling/network/{a100,h100}_dgx/all_reduce.csv` at 7d47513, reduced in
//! `../shared/reference/measurements/`): all-reduces inside one DGX server (NVLink 3 +
//! NVSwitch on A100, NVLink 4 on H100) over 2, 4 and 8 GPUs. Each row is the median of the
//! profiled medians in one octave of message size around the size shown; sizes up to 512 KiB
//! are pooled into one latency floor because single rows there scatter between 10 and 60 µs
//! (launch and synchronisation noise, not bandwidth). Times between rows are interpolated
//! linearly in log(size); beyond the last row the last row's bandwidth is extrapolated. The
//! tables are made monotone (a larger message never takes less time).

use serde::{Deserialize, Serialize};

/// The GPU generation, which selects the measured kernel and collective tables.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum GpuArch {
    /// A100 (Ampere, NVLink 3): measured tables from an A100-80GB DGX.
    #[default]
    Ampere,
    /// H100/H200 (Hopper, NVLink 4): measured tables from an H100 DGX.
    Hopper,
}

/// Message sizes of the table rows, bytes: the pooled floor (≤ 512 KiB), then 1 MiB to 64 MiB.
const SIZES_BYTES: [f64; 8] = [
    524_288.0,
    1_048_576.0,
    2_097_152.0,
    4_194_304.0,
    8_388_608.0,
    16_777_216.0,
    33_554_432.0,
    67_108_864.0,
];

/// Median all-reduce time in milliseconds at [`SIZES_BYTES`], for 2, 4 and 8 ranks (A100 DGX).
/// The first column is the median over every profiled size ≤ 512 KiB (64 rows per rank count).
const A100_MS: [[f64; 8]; 3] = [
    [0.0465, 0.058, 0.058, 0.066, 0.097, 0.1335, 0.254, 0.382],
    [0.0495, 0.063, 0.063, 0.090, 0.133, 0.196, 0.338, 0.518],
    [0.048, 0.063, 0.072, 0.101, 0.158, 0.2505, 0.420, 0.617],
];

/// As [`A100_MS`] on an H100 DGX.
const H100_MS: [[f64; 8]; 3] = [
    [0.038, 0.041, 0.042, 0.043, 0.047, 0.069, 0.141, 0.215],
    [0.041, 0.041, 0.041, 0.045, 0.062, 0.087, 0.178, 0.274],
    [0.034, 0.034, 0.044, 0.056, 0.084, 0.111, 0.207, 0.3035],
];

/// Time of one all-reduce of `bytes` over `ranks` GPUs of one server, seconds (0 for one rank
/// or an empty message). Rank counts other than 2, 4 and 8 use the next table up.
pub fn allreduce_time_s(arch: GpuArch, ranks: u32, bytes: f64) -> f64 {
    if ranks <= 1 || bytes <= 0.0 {
        return 0.0;
    }
    let table = match arch {
        GpuArch::Ampere => &A100_MS,
        GpuArch::Hopper => &H100_MS,
    };
    let row = match ranks {
        2 => &table[0],
        3 | 4 => &table[1],
        _ => &table[2],
    };
    interpolate_ms(row, bytes) * 1e-3
}

/// Monotone log-size interpolation of one row, milliseconds.
fn interpolate_ms(row: &[f64; 8], bytes: f64) -> f64 {
    // Cumulative maximum: a bigger message never takes less time than a smaller one.
    let mut mono = *row;
    for i in 1..mono.len() {
        mono[i] = mono[i].max(mono[i - 1]);
    }
    if bytes <= SIZES_BYTES[0] {
        return mono[0];
    }
    let last = SIZES_BYTES.len() - 1;
    if bytes >= SIZES_BYTES[last] {
        // Bandwidth-bound beyond the table: extend the last segment's slope per byte.
        let per_byte = (mono[last] - mono[last - 1]) / (SIZES_BYTES[last] - SIZES_BYTES[last - 1]);
        return mono[last] + per_byte * (bytes - SIZES_BYTES[last]);
    }
    let i = SIZES_BYTES
        .iter()
        .position(|&s| s >= bytes)
        .expect("bytes is below the last size");
    let (s0, s1) = (SIZES_BYTES[i - 1].ln(), SIZES_BYTES[i].ln());
    let f = (bytes.ln() - s0) / (s1 - s0);
    mono[i - 1] + f * (mono[i] - mono[i - 1])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_messages_cost_the_measured_floor() {
        // The figures: ~45 µs over 2 A100s, ~60 µs over 8 for small messages; the
        // pooled medians are 46.5 and 48 µs (1 MiB: 58 and 63 µs).
        let t2 = allreduce_time_s(GpuArch::Ampere, 2, 16_384.0);
        let t8 = allreduce_time_s(GpuArch::Ampere, 8, 16_384.0);
        assert!((t2 - 46.5e-6).abs() < 1e-9, "{t2}");
        assert!((t8 - 48e-6).abs() < 1e-9, "{t8}");
        assert_eq!(allreduce_time_s(GpuArch::Ampere, 1, 1e6), 0.0);
    }

    #[test]
    fn time_is_monotone_in_size_and_matches_rows() {
        for arch in [GpuArch::Ampere, GpuArch::Hopper] {
            for ranks in [2, 4, 8] {
                let mut last = 0.0;
                let mut b = 1024.0;
                while b < 1e9 {
                    let t = allreduce_time_s(arch, ranks, b);
                    assert!(t >= last, "{arch:?} {ranks} {b}");
                    last = t;
                    b *= 1.3;
                }
            }
        }
        // A row is hit exactly: 8 A100s, 16 MiB = 0.2505 ms.
        let t = allreduce_time_s(GpuArch::Ampere, 8, 16_777_216.0);
        assert!((t - 0.2505e-3).abs() < 1e-12);
        // Beyond the table, time grows with the last measured bandwidth (~0.1 ms per 16 MiB).
        let t128 = allreduce_time_s(GpuArch::Ampere, 8, 134_217_728.0);
        assert!((t128 - (0.617 + 0.197 * 2.0) * 1e-3).abs() < 1e-6, "{t128}");
    }
}
