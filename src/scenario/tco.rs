//! The self-built server types a scenario's `[cost]` may name (`cost.tco_preset`), and the
//! inputs of a self-built server's cost per hour. Every default is an assumption; where a
//! report supplies it, the source is named. The cost itself is computed in
//! `cost::tco`.

use serde::Serialize;

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
