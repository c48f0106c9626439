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

use crate::scenario::tco::TcoInputs;

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
    use crate::scenario::tco::{TCO_PRESETS, default_tco_preset, tco_preset};

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
