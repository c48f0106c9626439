//! Hourly price presets for one 8xA100 server, each with the date it was true and its source.
//!
//! Prices move (AWS cut P4d/P4de by ~33% in June 2025), so a price is never printed without
//! its `as_of`. Sources: the two reports, and `inference-model.md` §1.

use serde::Serialize;

/// One on-demand hourly price for a whole 8xA100 server (Linux, USD).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PricePreset {
    /// Preset name used on the command line, e.g. `"aws-p4d"`.
    pub name: &'static str,
    /// Price of one server-hour in USD.
    pub usd_per_hour: f64,
    /// When the price held (always print it beside the price).
    pub as_of: &'static str,
    /// Where the price comes from.
    pub source: &'static str,
}

/// All presets, reports first, then AWS, then Azure.
pub const PRICE_PRESETS: &[PricePreset] = &[
    PricePreset {
        name: "r1-azure-2023",
        usd_per_hour: 10.9,
        as_of: "2023-03 (as used by R1)",
        source: "R1, Guojin Securities, Mar 2023: Azure ND A100 v4 (8x A100) per server-hour",
    },
    PricePreset {
        name: "r2-citic-2023",
        usd_per_hour: 8.0,
        as_of: "2023-03 (as used by R2)",
        source: "R2, CITIC Securities, Mar 2023: one 8x A100 80GB server per hour",
    },
    PricePreset {
        name: "aws-p4d",
        usd_per_hour: 21.9576,
        as_of: "2026-11-09, us-east-1 (after the June 2025 cut)",
        source: "AWS p4d.24xlarge (8x A100 40GB); datareceipts/data-receipts 109-gpu-pricing/hyperscalers.json",
    },
    PricePreset {
        name: "aws-p4d-2025-pre-cut",
        usd_per_hour: 32.7726,
        as_of: "list price until the June 2025 cut",
        source: "AWS p4d.24xlarge (8x A100 40GB); usage.ai GPU cost article (2026-06)",
    },
    PricePreset {
        name: "aws-p4de",
        usd_per_hour: 27.4471,
        as_of: "after the June 2025 cut",
        source: "AWS p4de.24xlarge (8x A100 80GB); public price tables, datareceipts hyperscalers.json",
    },
    PricePreset {
        name: "aws-p4de-2025-pre-cut",
        usd_per_hour: 40.9658,
        as_of: "before the June 2025 cut",
        source: "AWS p4de.24xlarge (8x A100 80GB); public price tables",
    },
    PricePreset {
        name: "azure-nd96asr-v4",
        usd_per_hour: 27.197,
        as_of: "pay-as-you-go East US, still listed 2026-11",
        source: "Azure ND96asr_v4 (8x A100 40GB); datareceipts compare.json (3.3996 $/GPU-hr)",
    },
    PricePreset {
        name: "azure-nd96amsr-a100-v4",
        usd_per_hour: 32.770,
        as_of: "pay-as-you-go, 2025-2026 tables",
        source: "Azure ND96amsr_A100_v4 (8x A100 80GB); public price tables in GitHub repos",
    },
];

/// Looks a preset up by name (exact, case-sensitive); `None` if unknown.
pub fn price_preset(name: &str) -> Option<PricePreset> {
    PRICE_PRESETS.iter().find(|p| p.name == name).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_unique_and_found() {
        for p in PRICE_PRESETS {
            assert_eq!(price_preset(p.name), Some(*p));
            assert_eq!(PRICE_PRESETS.iter().filter(|q| q.name == p.name).count(), 1);
        }
        assert!(price_preset("nope").is_none());
    }

    #[test]
    fn june_2025_cut_is_about_33_percent() {
        for (after, before) in [
            ("aws-p4d", "aws-p4d-2025-pre-cut"),
            ("aws-p4de", "aws-p4de-2025-pre-cut"),
        ] {
            let cut = 1.0
                - price_preset(after).unwrap().usd_per_hour
                    / price_preset(before).unwrap().usd_per_hour;
            assert!((cut - 0.33).abs() < 0.005, "{cut}");
        }
    }
}
