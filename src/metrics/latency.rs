//! Latency recorders: an exact mean plus an hdrhistogram for percentiles (3 significant
//! digits, i.e. within 0.1%).

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::engine::SimDuration;

/// Records durations in nanoseconds.
#[derive(Clone, Debug)]
pub struct LatencyRecorder {
    hist: Histogram<u64>,
    sum_ns: u128,
    count: u64,
    positive: u64,
}

/// Summary of one latency metric, in seconds.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct LatencySummary {
    /// Exact mean.
    pub mean: f64,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p999: f64,
    /// Largest value.
    pub max: f64,
}

impl Default for LatencyRecorder {
    fn default() -> Self {
        Self::new()
    }
}

impl LatencyRecorder {
    /// An empty recorder (auto-resizing: any duration fits).
    pub fn new() -> Self {
        LatencyRecorder {
            // 3 significant digits is a valid setting, so this cannot fail.
            hist: Histogram::new(3).expect("3 significant digits is valid"),
            sum_ns: 0,
            count: 0,
            positive: 0,
        }
    }

    /// Records one duration.
    #[inline]
    pub fn record(&mut self, d: SimDuration) {
        // An auto-resizing histogram accepts every u64.
        let _ = self.hist.record(d.0);
        self.sum_ns += u128::from(d.0);
        self.count += 1;
        self.positive += u64::from(d.0 > 0);
    }

    /// Number of recorded durations.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Fraction of recorded durations that were greater than zero (e.g. P(wait > 0)).
    pub fn positive_fraction(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            self.positive as f64 / self.count as f64
        }
    }

    /// Mean, percentiles and max, in seconds (all zero when nothing was recorded).
    pub fn summary(&self) -> LatencySummary {
        if self.count == 0 {
            return LatencySummary::default();
        }
        let q = |p: f64| self.hist.value_at_quantile(p) as f64 / 1e9;
        LatencySummary {
            mean: self.sum_ns as f64 / self.count as f64 / 1e9,
            p50: q(0.50),
            p90: q(0.90),
            p95: q(0.95),
            p99: q(0.99),
            p999: q(0.999),
            max: self.hist.max() as f64 / 1e9,
        }
    }
}
