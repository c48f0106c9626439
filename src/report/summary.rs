//! The typed run summary: what ran, the means over replications and their 95% half-widths,
//! the costs and the steady-state diagnostics. It serializes to `summary.json` with the
//! contract's key order (field order below); nothing reads it back by key.

use serde::Serialize;

use crate::cost::RunCost;
use crate::metrics::LatencySummary;
use crate::metrics::replication::{
    LatencyHalfWidths, LatencyMetric, LatencyStat, MetricHalfWidths, MetricMeans,
};
use crate::metrics::steady::Diagnostics;
use crate::scenario::SloTarget;

/// `summary.json`: one run of a scenario, averaged over its replications.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct RunSummary {
    /// Scenario name.
    pub scenario: String,
    /// Master seed.
    pub seed: u64,
    /// Crate version that ran it.
    pub fleetsim_version: String,
    /// Servers at the start (`servers.count`).
    pub servers: u32,
    /// Replications averaged.
    pub replications: usize,
    /// No replication overloaded and the offered load (queue servers) is below 1.
    pub stable: bool,
    /// Offered load ρ of queue servers (none for LLM fleets).
    pub offered_load: Option<f64>,
    /// Why replications stopped early or measured nothing, one line each (none if none did).
    pub overload: Option<Vec<String>>,
    /// The means over replications (written inline, not under a key).
    #[serde(flatten)]
    pub means: MetricMeans,
    /// What the fleet costs.
    pub cost: RunCost,
    /// 95% half-widths of the means.
    pub ci95: MetricHalfWidths,
    /// Has the run settled, and how much does it know (none without replications).
    pub diagnostics: Option<Diagnostics>,
}

/// What a summary says about one target's statistic. Non-finite values count as missing,
/// as they are written as `null`.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct TargetReading {
    /// Mean over replications, seconds.
    pub mean_s: Option<f64>,
    /// Its 95% half-width, seconds.
    pub ci95_s: Option<f64>,
    /// The statistic over the second half of the measured window, pooled, seconds.
    pub second_half_s: Option<f64>,
    /// Relative drift from the first to the second half: the mean's for a mean target, the
    /// p99's otherwise.
    pub drift: Option<f64>,
}

fn finite(x: f64) -> Option<f64> {
    x.is_finite().then_some(x)
}

impl RunSummary {
    /// The means of latency metric `m` (none when the fleet does not measure it).
    pub fn latency(&self, m: impl Into<LatencyMetric>) -> Option<&LatencySummary> {
        self.means.latency_s.get(m.into())
    }

    /// The half-widths of latency metric `m`.
    pub fn latency_ci95(&self, m: impl Into<LatencyMetric>) -> Option<&LatencyHalfWidths> {
        self.ci95.latency_s.get(m.into())
    }

    /// What the summary says about target `t`.
    pub fn reading(&self, t: &SloTarget) -> TargetReading {
        let (metric, stat) = (t.metric, t.stat);
        let diag = self.diagnostics.as_ref();
        TargetReading {
            mean_s: self.latency(metric).map(|s| stat.of(s)).and_then(finite),
            ci95_s: self
                .latency_ci95(metric)
                .and_then(|h| stat.half_width(h))
                .and_then(finite),
            second_half_s: diag
                .and_then(|d| d.second_half.latency_s.get(metric))
                .map(|s| stat.of(s))
                .and_then(finite),
            drift: diag
                .and_then(|d| d.drift.get(metric))
                .and_then(|d| match stat {
                    LatencyStat::Mean => d.mean,
                    _ => d.p99,
                })
                .and_then(finite),
        }
    }

    /// The steady-state warnings (none without diagnostics).
    pub fn warnings(&self) -> &[String] {
        self.diagnostics.as_ref().map_or(&[], |d| &d.warnings)
    }
}
