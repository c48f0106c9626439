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
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
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
    fn default() -> Self {
        Self {
            server_capex_usd: 199_000.0,
            years: 3.0,
            power_kw: 6.5,
            power_draw_fraction: 1.0,
            pue: 1.5,
            usd_per_kwh: 0.08,
            hosting_usd_per_rack_month: 2000.0,
            servers_per_rack: 7.0,
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
    fn shortcut() {
        assert!((self_built_from_cloud_usd(10.9) - 3.27).abs() < 1e-12);
    }
}
