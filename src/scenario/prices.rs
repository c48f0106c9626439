//! Hourly cloud price presets per GPU type and count, each with its provider, instance, the
//! date it was true and its source.
//!
//! A preset prices one instance of `gpus` GPUs. A simulated server of `gpus_per_server` GPUs
//! pays the preset's per-GPU price times its GPU count, but only when the provider sells that
//! size at that per-GPU price ([`PricePreset::sizes`]): Google Cloud sells A100 and H100 VMs
//! in 1, 2, 4 and 8-GPU shapes priced linearly, AWS and Azure sell these GPUs only as 8-GPU
//! instances. Any other size, or a different GPU, is a mismatch ([`PricePreset::check`]); the
//! scenario is then refused unless the price is set explicitly
//! (`cost.cloud_usd_per_server_hour` or `cost.cloud_usd_per_gpu_hour`).
//!
//! Prices move (AWS cut P4d/P4de by ~33% and P5 by ~44% in June 2025), so a price is never
//! printed without its `as_of`. Only on-demand (pay-as-you-go) list prices are here: the
//! providers' 1- and 3-year commitment rates depend on payment options and were not verified
//! from a public table in this version; set them with `cost.cloud_usd_per_gpu_hour`.

use serde::Serialize;

/// One hourly cloud price for an instance of `gpus` GPUs of one type (Linux, USD).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PricePreset {
    /// Preset name used in scenario files, e.g. `"gcp-a2-ultragpu"`.
    pub name: &'static str,
    /// Cloud provider (or the report that quoted the price).
    pub provider: &'static str,
    /// Instance (machine type) name as the provider sells it.
    pub instance: &'static str,
    /// GPU presets (`servers.hardware`) this price is for.
    pub hardware: &'static [&'static str],
    /// GPUs in the priced instance.
    pub gpus: u32,
    /// Server sizes in GPUs the provider sells at the same per-GPU price (includes `gpus`).
    pub sizes: &'static [u32],
    /// Price of one instance-hour (all `gpus` GPUs) in USD.
    pub usd_per_hour: f64,
    /// Pricing term: `on-demand`, or `report` for a figure quoted by a 2023 report.
    pub term: &'static str,
    /// When the price held (always print it beside the price).
    pub as_of: &'static str,
    /// Where the price comes from.
    pub source: &'static str,
}

const A100: &[&str] = &["a100-40gb", "a100-80gb", "citic-2023"];
const EIGHT: &[u32] = &[8];
const ONE_TO_EIGHT: &[u32] = &[1, 2, 4, 8];

/// All presets: the reports' figures first, then Google Cloud, AWS and Azure.
pub const PRICE_PRESETS: &[PricePreset] = &[
    PricePreset {
        name: "r1-azure-2023",
        provider: "Azure (as quoted by R1)",
        instance: "ND A100 v4",
        hardware: A100,
        gpus: 8,
        sizes: EIGHT,
        usd_per_hour: 10.9,
        term: "report",
        as_of: "2023-03 (as used by R1)",
        source: "R1, Guojin Securities, Mar 2023: Azure ND A100 v4 (8x A100) per server-hour",
    },
    PricePreset {
        name: "r2-citic-2023",
        provider: "(as quoted by R2)",
        instance: "8x A100 80GB server",
        hardware: &["a100-80gb", "citic-2023"],
        gpus: 8,
        sizes: EIGHT,
        usd_per_hour: 8.0,
        term: "report",
        as_of: "2023-03 (as used by R2)",
        source: "R2, CITIC Securities, Mar 2023: one 8x A100 80GB server per hour",
    },
    PricePreset {
        name: "gcp-a2-highgpu",
        provider: "Google Cloud",
        instance: "a2-highgpu-{1,2,4,8}g (A100 40GB)",
        hardware: &["a100-40gb"],
        gpus: 8,
        sizes: ONE_TO_EIGHT,
        usd_per_hour: 29.38708,
        term: "on-demand",
        as_of: "us-central1 list price, 2025-2026 (3.673385 $/GPU-h)",
        source: "cloud.google.com/compute/vm-instance-pricing (A2 machine types, us-central1); \
                 figures as tabulated in public GitHub pricing tables, 2025-2026",
    },
    PricePreset {
        name: "gcp-a2-ultragpu",
        provider: "Google Cloud",
        instance: "a2-ultragpu-{1,2,4,8}g (A100 80GB)",
        hardware: &["a100-80gb"],
        gpus: 8,
        sizes: ONE_TO_EIGHT,
        usd_per_hour: 40.550383,
        term: "on-demand",
        as_of: "us-central1 list price, 2025-2026 (5.068798 $/GPU-h)",
        source: "cloud.google.com/compute/vm-instance-pricing (A2 ultra machine types, \
                 us-central1); figures as tabulated in public GitHub pricing tables, 2025-2026",
    },
    PricePreset {
        name: "gcp-a3-highgpu",
        provider: "Google Cloud",
        instance: "a3-highgpu-{1,2,4,8}g (H100 80GB)",
        hardware: &["h100-80gb"],
        gpus: 8,
        sizes: ONE_TO_EIGHT,
        usd_per_hour: 88.49,
        term: "on-demand",
        as_of: "us-central1 list price, 2025-2026 (11.06 $/GPU-h; the 1/2/4-GPU shapes are \
                sold through Spot and flex-start only)",
        source: "cloud.google.com/compute/vm-instance-pricing (A3 High, us-central1); figures \
                 as tabulated in public GitHub pricing tables, 2025-2026",
    },
    PricePreset {
        name: "gcp-a3-ultragpu",
        provider: "Google Cloud",
        instance: "a3-ultragpu-8g (H200 141GB)",
        hardware: &["h200"],
        gpus: 8,
        sizes: EIGHT,
        usd_per_hour: 84.81,
        term: "on-demand",
        as_of: "us-central1, confirmed April 2026 (10.60 $/GPU-h)",
        source: "cloud.google.com/compute/vm-instance-pricing (A3 Ultra, us-central1), as \
                 noted in a public GitHub pricing survey, April 2026",
    },
    PricePreset {
        name: "aws-p4d",
        provider: "AWS",
        instance: "p4d.24xlarge (8x A100 40GB)",
        hardware: &["a100-40gb"],
        gpus: 8,
        sizes: EIGHT,
        usd_per_hour: 21.9576,
        term: "on-demand",
        as_of: "2026-11-09, us-east-1 (after the June 2025 cut)",
        source: "AWS EC2 on-demand pricing; datareceipts/data-receipts \
                 109-gpu-pricing/hyperscalers.json",
    },
    PricePreset {
        name: "aws-p4d-2025-pre-cut",
        provider: "AWS",
        instance: "p4d.24xlarge (8x A100 40GB)",
        hardware: &["a100-40gb"],
        gpus: 8,
        sizes: EIGHT,
        usd_per_hour: 32.7726,
        term: "on-demand",
        as_of: "list price until the June 2025 cut",
        source: "AWS EC2 on-demand pricing; usage.ai GPU cost article (2026-06)",
    },
    PricePreset {
        name: "aws-p4de",
        provider: "AWS",
        instance: "p4de.24xlarge (8x A100 80GB)",
        hardware: &["a100-80gb"],
        gpus: 8,
        sizes: EIGHT,
        usd_per_hour: 27.4471,
        term: "on-demand",
        as_of: "after the June 2025 cut",
        source: "AWS EC2 on-demand pricing; public price tables, datareceipts hyperscalers.json",
    },
    PricePreset {
        name: "aws-p4de-2025-pre-cut",
        provider: "AWS",
        instance: "p4de.24xlarge (8x A100 80GB)",
        hardware: &["a100-80gb"],
        gpus: 8,
        sizes: EIGHT,
        usd_per_hour: 40.9658,
        term: "on-demand",
        as_of: "before the June 2025 cut",
        source: "AWS EC2 on-demand pricing; public price tables",
    },
    PricePreset {
        name: "aws-p5",
        provider: "AWS",
        instance: "p5.48xlarge (8x H100 80GB)",
        hardware: &["h100-80gb"],
        gpus: 8,
        sizes: EIGHT,
        usd_per_hour: 55.04,
        term: "on-demand",
        as_of: "us-east-1, after the June 2025 cut (-44% from 98.32)",
        source: "AWS 'up to 45% price reduction for EC2 NVIDIA GPU instances' (June 2025, \
                 via usage.ai 2026-06); 55.04 as tabulated in public GitHub pricing notes, 2026",
    },
    PricePreset {
        name: "aws-p5-2025-pre-cut",
        provider: "AWS",
        instance: "p5.48xlarge (8x H100 80GB)",
        hardware: &["h100-80gb"],
        gpus: 8,
        sizes: EIGHT,
        usd_per_hour: 98.32,
        term: "on-demand",
        as_of: "us-east-1 list price from launch (July 2023) until the June 2025 cut",
        source: "AWS EC2 on-demand pricing; The Next Platform, 2023-07-27, 'H100 GPU instance \
                 pricing on AWS'",
    },
    PricePreset {
        name: "azure-nd96asr-v4",
        provider: "Azure",
        instance: "ND96asr_v4 (8x A100 40GB)",
        hardware: &["a100-40gb"],
        gpus: 8,
        sizes: EIGHT,
        usd_per_hour: 27.197,
        term: "on-demand",
        as_of: "pay-as-you-go East US, still listed 2026-11",
        source: "Azure Linux VM pricing; datareceipts compare.json (3.3996 $/GPU-hr)",
    },
    PricePreset {
        name: "azure-nd96amsr-a100-v4",
        provider: "Azure",
        instance: "ND96amsr_A100_v4 (8x A100 80GB)",
        hardware: &["a100-80gb"],
        gpus: 8,
        sizes: EIGHT,
        usd_per_hour: 32.770,
        term: "on-demand",
        as_of: "pay-as-you-go, 2025-2026 tables",
        source: "Azure Linux VM pricing; public price tables in GitHub repos",
    },
    PricePreset {
        name: "azure-nd96isr-h200-v5",
        provider: "Azure",
        instance: "ND96isr_H200_v5 (8x H200 141GB)",
        hardware: &["h200"],
        gpus: 8,
        sizes: EIGHT,
        usd_per_hour: 84.80,
        term: "on-demand",
        as_of: "pay-as-you-go West US 3, April 2026 (approximate: '~$84.80')",
        source: "Azure Linux VM pricing, as noted in a public GitHub pricing survey, April 2026",
    },
];

/// The preset a scenario uses when it names none: the Google Cloud on-demand price for the
/// GPU (one provider for every GPU type, and the only one selling 1, 2, 4 and 8-GPU A100 and
/// H100 VMs at one per-GPU price), the CITIC report's own price for its `citic-2023` GPU, and
/// the 8xA100-80GB Azure VM for queue servers (no GPU).
pub fn default_price_preset(hardware: Option<&str>) -> &'static str {
    match hardware {
        Some("a100-40gb") => "gcp-a2-highgpu",
        Some("a100-80gb") => "gcp-a2-ultragpu",
        Some("h100-80gb") => "gcp-a3-highgpu",
        Some("h200") => "gcp-a3-ultragpu",
        Some("citic-2023") => "r2-citic-2023",
        _ => "azure-nd96amsr-a100-v4",
    }
}

/// Looks a preset up by name (exact, case-sensitive); `None` if unknown.
pub fn price_preset(name: &str) -> Option<PricePreset> {
    PRICE_PRESETS.iter().find(|p| p.name == name).copied()
}

impl PricePreset {
    /// Price of one GPU-hour: the instance price over its GPUs.
    pub fn usd_per_gpu_hour(&self) -> f64 {
        self.usd_per_hour / f64::from(self.gpus)
    }

    /// Price of one server-hour for a server of `gpus_per_server` GPUs of `hardware`:
    /// per-GPU price x GPUs when the provider sells that size; otherwise a message saying
    /// what does not match and what to write instead.
    pub fn check(&self, hardware: &str, gpus_per_server: u32) -> Result<f64, String> {
        let hw = hardware.to_ascii_lowercase();
        if !self.hardware.contains(&hw.as_str()) {
            return Err(format!(
                "preset {:?} prices {} ({}), not hardware = {hardware:?}; presets for \
                 {hardware}: {}; or price it yourself with cost.cloud_usd_per_gpu_hour or \
                 cost.cloud_usd_per_server_hour",
                self.name,
                self.hardware.join("/"),
                self.instance,
                names_or_none(presets_for(&hw, None)),
            ));
        }
        if !self.sizes.contains(&gpus_per_server) {
            return Err(format!(
                "preset {:?} ({} {}) is sold in {}-GPU servers only, but \
                 servers.gpus_per_server = {gpus_per_server}; presets selling \
                 {gpus_per_server} x {hardware}: {}; or scale this preset's per-GPU price \
                 yourself with cost.cloud_usd_per_gpu_hour = {:.4}",
                self.name,
                self.provider,
                self.instance,
                self.sizes
                    .iter()
                    .map(u32::to_string)
                    .collect::<Vec<_>>()
                    .join("/"),
                names_or_none(presets_for(&hw, Some(gpus_per_server))),
                self.usd_per_gpu_hour(),
            ));
        }
        Ok(self.usd_per_gpu_hour() * f64::from(gpus_per_server))
    }
}

/// Names of the presets for `hardware` (and, if given, selling servers of `gpus` GPUs).
pub fn presets_for(hardware: &str, gpus: Option<u32>) -> Vec<&'static str> {
    PRICE_PRESETS
        .iter()
        .filter(|p| p.hardware.contains(&hardware) && gpus.is_none_or(|g| p.sizes.contains(&g)))
        .map(|p| p.name)
        .collect()
}

fn names_or_none(names: Vec<&str>) -> String {
    if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_unique_and_found() {
        for p in PRICE_PRESETS {
            assert_eq!(price_preset(p.name), Some(*p));
            assert_eq!(PRICE_PRESETS.iter().filter(|q| q.name == p.name).count(), 1);
            assert!(p.sizes.contains(&p.gpus), "{}", p.name);
            assert!(!p.as_of.is_empty() && !p.source.is_empty(), "{}", p.name);
        }
        assert!(price_preset("nope").is_none());
    }

    #[test]
    fn june_2025_cut() {
        for (after, before, cut_want) in [
            ("aws-p4d", "aws-p4d-2025-pre-cut", 0.33),
            ("aws-p4de", "aws-p4de-2025-pre-cut", 0.33),
            ("aws-p5", "aws-p5-2025-pre-cut", 0.44),
        ] {
            let cut = 1.0
                - price_preset(after).unwrap().usd_per_hour
                    / price_preset(before).unwrap().usd_per_hour;
            assert!((cut - cut_want).abs() < 0.005, "{after}: {cut}");
        }
    }

    #[test]
    fn every_gpu_has_a_default_that_fits_an_8_gpu_server() {
        for hw in ["a100-40gb", "a100-80gb", "h100-80gb", "h200", "citic-2023"] {
            let p = price_preset(default_price_preset(Some(hw))).unwrap();
            assert!(p.check(hw, 8).is_ok(), "{hw}");
        }
    }

    #[test]
    fn one_gpu_costs_an_eighth_of_eight_at_the_same_provider() {
        let p = price_preset("gcp-a2-ultragpu").unwrap();
        let one = p.check("a100-80gb", 1).unwrap();
        let eight = p.check("a100-80gb", 8).unwrap();
        assert!((eight / one - 8.0).abs() < 1e-12);
        assert!((eight - 40.550383).abs() < 1e-9);
    }

    #[test]
    fn mismatches_are_refused_with_alternatives() {
        let azure = price_preset("azure-nd96amsr-a100-v4").unwrap();
        let e = azure.check("a100-80gb", 1).unwrap_err();
        assert!(e.contains("gcp-a2-ultragpu") && e.contains("cloud_usd_per_gpu_hour = 4.0963"));
        let e = azure.check("h100-80gb", 8).unwrap_err();
        assert!(e.contains("gcp-a3-highgpu") && e.contains("aws-p5"), "{e}");
        // H100 and H200 prices exist and differ from the A100 ones.
        let a100 = azure.usd_per_gpu_hour();
        for hw in ["h100-80gb", "h200"] {
            let names = presets_for(hw, Some(8));
            assert!(!names.is_empty(), "{hw}");
            for n in names {
                assert!(price_preset(n).unwrap().usd_per_gpu_hour() > a100, "{n}");
            }
        }
    }
}
