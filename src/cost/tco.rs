//! Self-built total cost of ownership per server-hour, and the reports' shortcut.
//!
//! TCO per server-hour = capex spread over its life + energy (draw x PUE x price) + hosting
//! (rack rent shared by the servers in a rack). Every default is an assumption; where a report
//! supplies it, the source is named.

use serde::Serialize;

/// Hours in a (365-day) year.
pub const HOURS_PER_YEAR: f64 = 8760.0;
/// Hours in an average month (`8760 / 12`).
pub const HOURS_PER_MONTH: f64 = HOURS_PER_YEAR / 12.0;

/// The reports' shortcut: self-built costs 0.3 x cloud, because cloud gross margin is 70% (R1).
pub const SELF_BUILT_FRACTION_OF_CLOUD: f64 = 0.3;

/// R1/R3's self-built cost from a cloud cost (any unit): `cloud x 0.3`.
pub fn self_built_from_cloud_usd(cloud_usd: f64) -> f64 {
    cloud_usd * SELF_BUILT_FRACTION_OF_CLOUD
}

/// Inputs of a self-built server's cost per hour.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TcoInputs {
    /// Purchase price of one server in USD. Default 199,000: DGX A100 launch list price
    /// (GTC, May 2020; R4 uses the same figure).
    pub server_capex_usd: f64,
    /// Straight-line depreciation period in years, no residual value. Default 3 (assumption;
    /// common accounting life for GPU servers, no report states one).
    pub years: f64,
    /// Maximum electrical input of one server in kW. Default 6.5: DGX A100 User Guide; R4.
    pub power_kw: f64,
    /// Fraction of `power_kw` drawn on average (1.0 = always at maximum, as R4 assumes; lower
    /// for a utilisation-weighted draw, e.g. idle ~0.3 + busy ~0.9 weighted by busy time).
    pub power_draw_fraction: f64,
    /// Power usage effectiveness of the data centre (cooling and losses). Default 1.5
    /// (assumption; typical enterprise data centre, no report states one).
    pub pue: f64,
    /// Electricity price in USD per kWh. Default 0.08: R4.
    pub usd_per_kwh: f64,
    /// Colocation rent of one rack per month in USD, excluding energy. Default 2,000
    /// (assumption; no report states one).
    pub hosting_usd_per_rack_month: f64,
    /// Servers sharing one rack. Default 7: R4 (42U rack, 6U per DGX A100).
    pub servers_per_rack: f64,
}

impl Default for TcoInputs {
    /// The DGX A100 preset's inputs (R4's figures).
    fn default() -> Self {
        TCO_PRESETS[0].inputs
    }
}

/// A self-built server type: its TCO inputs, each with where the figure comes from.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct TcoPreset {
    /// Preset name used in scenario files (`cost.tco_preset`), e.g. `"dgx-h100"`.
    pub name: &'static str,
    /// The system priced.
    pub system: &'static str,
    /// GPU presets (`servers.hardware`) it is for.
    pub hardware: &'static [&'static str],
    /// GPUs in the system; a simulated server of `n` GPUs is charged `n / gpus` of it.
    pub gpus: u32,
    /// The inputs for one whole system.
    pub inputs: TcoInputs,
    /// Source or assumption behind each input, as `(input name, source)`.
    pub sources: &'static [(&'static str, &'static str)],
}

const SHARED_SOURCES: [(&str, &str); 4] = [
    (
        "years",
        "assumption: 3-year straight-line life, no residual value (common accounting life for \
         GPU servers; no report states one)",
    ),
    (
        "pue",
        "assumption: 1.5, a typical enterprise data centre (Uptime Institute surveys report \
         averages of about 1.5-1.6); no report states one",
    ),
    (
        "usd_per_kwh",
        "R4 (Guosheng Securities, Feb 2023): $0.08 per kWh",
    ),
    (
        "hosting_usd_per_rack_month",
        "assumption: $2,000 per rack-month of colocation space excluding energy; no report \
         states one",
    ),
];

/// Self-built server types: DGX A100 (R4's figures), DGX H100 and HGX H200.
pub const TCO_PRESETS: &[TcoPreset] = &[
    TcoPreset {
        name: "dgx-a100",
        system: "NVIDIA DGX A100 (8x A100)",
        hardware: &["a100-40gb", "a100-80gb", "citic-2023"],
        gpus: 8,
        inputs: TcoInputs {
            server_capex_usd: 199_000.0,
            years: 3.0,
            power_kw: 6.5,
            power_draw_fraction: 1.0,
            pue: 1.5,
            usd_per_kwh: 0.08,
            hosting_usd_per_rack_month: 2000.0,
            servers_per_rack: 7.0,
        },
        sources: &[
            (
                "server_capex_usd",
                "$199,000: DGX A100 launch list price (GTC, 14 May 2020); R4 uses the same",
            ),
            (
                "power_kw",
                "6.5 kW maximum: DGX A100 User Guide DU-09821-001 (May 2020); R4",
            ),
            ("servers_per_rack", "7: R4 (42U rack, 6U per DGX A100)"),
            SHARED_SOURCES[0],
            SHARED_SOURCES[1],
            SHARED_SOURCES[2],
            SHARED_SOURCES[3],
        ],
    },
    TcoPreset {
        name: "dgx-h100",
        system: "NVIDIA DGX H100 / HGX H100 (8x H100 SXM)",
        hardware: &["h100-80gb"],
        gpus: 8,
        inputs: TcoInputs {
            server_capex_usd: 270_000.0,
            years: 3.0,
            power_kw: 10.2,
            power_draw_fraction: 1.0,
            pue: 1.5,
            usd_per_kwh: 0.08,
            hosting_usd_per_rack_month: 2000.0,
            servers_per_rack: 4.0,
        },
        sources: &[
            (
                "server_capex_usd",
                "assumption: ~$270,000, SemiAnalysis's estimate of a DGX H100's sale price \
                 (May 2023, 'AI server cost analysis', as quoted by epoch-research/\
                 training-cost-trends); NVIDIA publishes no list price. An Aug-2024 HGX H100 \
                 reseller quote was ~$317,000 with InfiniBand",
            ),
            (
                "power_kw",
                "10.2 kW maximum: NVIDIA DGX H100 User Guide / datasheet",
            ),
            (
                "servers_per_rack",
                "assumption: 4 per rack (40.8 kW, about R4's 45.5 kW rack; NVIDIA's DGX \
                 SuperPOD H100 reference design also places 4 systems per rack)",
            ),
            SHARED_SOURCES[0],
            SHARED_SOURCES[1],
            SHARED_SOURCES[2],
            SHARED_SOURCES[3],
        ],
    },
    TcoPreset {
        name: "hgx-h200",
        system: "NVIDIA DGX H200 / HGX H200 (8x H200 SXM)",
        hardware: &["h200"],
        gpus: 8,
        inputs: TcoInputs {
            server_capex_usd: 320_000.0,
            years: 3.0,
            power_kw: 10.2,
            power_draw_fraction: 1.0,
            pue: 1.5,
            usd_per_kwh: 0.08,
            hosting_usd_per_rack_month: 2000.0,
            servers_per_rack: 4.0,
        },
        sources: &[
            (
                "server_capex_usd",
                "assumption: $320,000, no public list price found; set near the Aug-2024 \
                 HGX H100 reseller quote (~$317,000) since H200 systems sell above H100 ones. \
                 Override with cost.server_capex_usd",
            ),
            (
                "power_kw",
                "10.2 kW maximum: NVIDIA DGX H200 datasheet (same 700 W GPUs as DGX H100)",
            ),
            ("servers_per_rack", "assumption: 4 per rack, as DGX H100"),
            SHARED_SOURCES[0],
            SHARED_SOURCES[1],
            SHARED_SOURCES[2],
            SHARED_SOURCES[3],
        ],
    },
];

/// Looks a TCO preset up by name (exact); `None` if unknown.
pub fn tco_preset(name: &str) -> Option<&'static TcoPreset> {
    TCO_PRESETS.iter().find(|p| p.name == name)
}

/// The TCO preset a scenario uses when it names none: the system built from its GPU
/// (`dgx-a100` for A100s, the CITIC GPU and queue servers).
pub fn default_tco_preset(hardware: Option<&str>) -> &'static str {
    match hardware {
        Some("h100-80gb") => "dgx-h100",
        Some("h200") => "hgx-h200",
        _ => "dgx-a100",
    }
}

impl TcoPreset {
    /// The inputs for a server of `gpus_per_server` GPUs: `n / gpus` of the system (capex and
    /// power scaled down, `gpus / n` times as many servers per rack), so that the cost per
    /// server-hour scales linearly with GPUs.
    pub fn inputs_for(&self, gpus_per_server: u32) -> TcoInputs {
        let share = f64::from(gpus_per_server) / f64::from(self.gpus);
        TcoInputs {
            server_capex_usd: self.inputs.server_capex_usd * share,
            power_kw: self.inputs.power_kw * share,
            servers_per_rack: self.inputs.servers_per_rack / share,
            ..self.inputs
        }
    }
}

/// TCO per server-hour split into its parts (USD per server-hour each).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TcoBreakdown {
    /// `capex / (years x 8760)`.
    pub capex_usd_per_hour: f64,
    /// `power_kw x draw fraction x PUE x $/kWh`.
    pub energy_usd_per_hour: f64,
    /// `rack rent per month / servers per rack / 730`.
    pub hosting_usd_per_hour: f64,
    /// Sum of the three.
    pub total_usd_per_hour: f64,
}

impl TcoInputs {
    /// Cost of one self-built server-hour, itemised.
    pub fn breakdown(&self) -> TcoBreakdown {
        let capex = self.server_capex_usd / (self.years * HOURS_PER_YEAR);
        let energy = self.power_kw * self.power_draw_fraction * self.pue * self.usd_per_kwh;
        let hosting = self.hosting_usd_per_rack_month / self.servers_per_rack / HOURS_PER_MONTH;
        TcoBreakdown {
            capex_usd_per_hour: capex,
            energy_usd_per_hour: energy,
            hosting_usd_per_hour: hosting,
            total_usd_per_hour: capex + energy + hosting,
        }
    }

    /// Cost of one self-built server-hour in USD (the breakdown's total).
    pub fn tco_usd_per_server_hour(&self) -> f64 {
        self.breakdown().total_usd_per_hour
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_tco() {
        let b = TcoInputs::default().breakdown();
        assert!((b.capex_usd_per_hour - 199_000.0 / 26_280.0).abs() < 1e-12);
        assert!((b.energy_usd_per_hour - 0.78).abs() < 1e-12);
        assert!((b.hosting_usd_per_hour - 2000.0 / 7.0 / 730.0).abs() < 1e-12);
        assert!((b.total_usd_per_hour - 8.7432).abs() < 1e-3);
    }

    #[test]
    fn presets_scale_with_gpus_and_differ_by_type() {
        let a100 = tco_preset("dgx-a100").unwrap();
        let eight = a100.inputs_for(8).tco_usd_per_server_hour();
        let one = a100.inputs_for(1).tco_usd_per_server_hour();
        assert!((eight / one - 8.0).abs() < 1e-9);
        assert_eq!(a100.inputs_for(8), TcoInputs::default());
        let h100 = tco_preset("dgx-h100")
            .unwrap()
            .inputs
            .tco_usd_per_server_hour();
        let h200 = tco_preset("hgx-h200")
            .unwrap()
            .inputs
            .tco_usd_per_server_hour();
        assert!(eight < h100 && h100 < h200, "{eight} {h100} {h200}");
        for p in TCO_PRESETS {
            for field in [
                "server_capex_usd",
                "power_kw",
                "servers_per_rack",
                "years",
                "pue",
            ] {
                assert!(
                    p.sources.iter().any(|(k, _)| *k == field),
                    "{} {field}",
                    p.name
                );
            }
            assert_eq!(tco_preset(default_tco_preset(Some(p.hardware[0]))), Some(p));
        }
    }

    #[test]
    fn shortcut() {
        assert!((self_built_from_cloud_usd(10.9) - 3.27).abs() < 1e-12);
    }
}
