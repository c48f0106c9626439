//! GPU hardware presets (per GPU, dense figures) from `inference-model.md` §1 and the CITIC
//! table (`seeds.md` R2).

use serde::{Deserialize, Serialize};

use super::collective::GpuArch;

/// GiB in bytes.
const GIB: f64 = 1024.0 * 1024.0 * 1024.0;

/// One accelerator as the timing model sees it. All figures are per GPU.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Gpu {
    /// Display name, e.g. `"A100-80GB"` (used in error messages and reports).
    pub name: String,
    /// HBM capacity in bytes as the device exposes it to the serving stack (an "80 GB" A100
    /// shows 79.15 GiB = 85.0e9 bytes to `torch.cuda.mem_get_info`).
    pub hbm_bytes: f64,
    /// Peak HBM bandwidth in bytes per second.
    pub hbm_bw_bytes_per_s: f64,
    /// Peak dense 16-bit tensor throughput in FLOP/s.
    pub peak_flops: f64,
    /// NVLink bandwidth per direction in bytes per second (used for ring all-reduce time).
    pub nvlink_bw_bytes_per_s: f64,
    /// Thermal design power in watts.
    pub tdp_w: f64,
    /// Generation, selecting the measured kernel and collective tables.
    #[serde(default)]
    pub arch: GpuArch,
}

/// Names accepted by [`gpu_preset`].
pub const GPU_PRESETS: &[&str] = &["a100-40gb", "a100-80gb", "h100-80gb", "h200", "citic-2023"];

/// Looks up a GPU preset by name (case-insensitive).
///
/// * `a100-40gb`, `a100-80gb`, `h100-80gb`, `h200`: real SXM specs (§1 of the reference), with
///   the memory the device exposes: 39.39 GiB (A100-40GB), 79.15 GiB (A100-80GB), 79.22 GiB
///   (H100-80GB, vLLM PR #10511's log), 139.8 GiB (H200, 143,771 MiB less the driver's share,
///   as for the others).
/// * `citic-2023`: one GPU's share of the CITIC report's server (R2): 4.8 TB/s / 8 of memory
///   bandwidth and 624 TFLOP/s (the *sparse* A100 figure the report used), 80 GB. It exists
///   only to reproduce that report's table; never use it for real sizing.
pub fn gpu_preset(name: &str) -> Option<Gpu> {
    let (display, hbm_bytes, bw_gb_s, tflops, nvlink_gb_s, tdp_w, arch) =
        match name.to_ascii_lowercase().as_str() {
            "a100-40gb" => (
                "A100-40GB",
                39.39 * GIB,
                1555.0,
                312.0,
                300.0,
                400.0,
                GpuArch::Ampere,
            ),
            "a100-80gb" => (
                "A100-80GB",
                79.15 * GIB,
                2039.0,
                312.0,
                300.0,
                400.0,
                GpuArch::Ampere,
            ),
            "h100-80gb" => (
                "H100-80GB",
                79.22 * GIB,
                3350.0,
                989.0,
                450.0,
                700.0,
                GpuArch::Hopper,
            ),
            "h200" => (
                "H200-141GB",
                139.8 * GIB,
                4800.0,
                989.0,
                450.0,
                700.0,
                GpuArch::Hopper,
            ),
            // The report's decimal 80 GB, kept to reproduce its arithmetic.
            "citic-2023" => (
                "CITIC-2023 (A100 share)",
                80e9,
                4800.0 / 8.0,
                624.0,
                300.0,
                400.0,
                GpuArch::Ampere,
            ),
            _ => return None,
        };
    Some(Gpu {
        name: display.to_string(),
        hbm_bytes,
        hbm_bw_bytes_per_s: bw_gb_s * 1e9,
        peak_flops: tflops * 1e12,
        nvlink_bw_bytes_per_s: nvlink_gb_s * 1e9,
        tdp_w,
        arch,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_preset_resolves() {
        for name in GPU_PRESETS {
            assert!(gpu_preset(name).is_some(), "{name}");
        }
        assert!(gpu_preset("v100").is_none());
    }

    #[test]
    fn critical_batch_matches_reference() {
        // §2: B* = P/BW ≈ 153 (A100-80GB), 201 (A100-40GB), 295 (H100), 206 (H200).
        for (name, want) in [
            ("a100-80gb", 153.0),
            ("a100-40gb", 201.0),
            ("h100-80gb", 295.0),
            ("h200", 206.0),
        ] {
            let g = gpu_preset(name).unwrap();
            let b = g.peak_flops / g.hbm_bw_bytes_per_s;
            assert!((b - want).abs() < 1.0, "{name}: {b}");
        }
    }
}
