//! Latency recorders: an exact mean plus an hdrhistogram for percentiles (3 significant
//! digits, i.e. within 0.1%).
//!
//! Recording only counts values per hdrhistogram bucket, with the bucket index computed inline
//! (the layout of `Histogram::new(3)`: 2048 sub-buckets, unit 1 ns); the histogram itself is
//! built from those counts when a summary is asked for. Percentiles, max and counts depend
//! only on the per-bucket counts, so the summary is exactly the one recording every value
//! into the histogram would give.

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::engine::SimDuration;

/// Sub-buckets per bucket for 3 significant digits: 2^ceil(log2(2 · 10^3)).
const SUB_BUCKET_COUNT_MAGNITUDE: u32 = 11;
/// Half of the sub-buckets (the lower half of every bucket after the first is unused).
const SUB_BUCKET_HALF_COUNT_MAGNITUDE: u32 = SUB_BUCKET_COUNT_MAGNITUDE - 1;
const SUB_BUCKET_HALF_COUNT: u64 = 1 << SUB_BUCKET_HALF_COUNT_MAGNITUDE;
const SUB_BUCKET_MASK: u64 = (1 << SUB_BUCKET_COUNT_MAGNITUDE) - 1;
/// 64 − unit magnitude (0) − sub-bucket count magnitude.
const LEADING_ZERO_COUNT_BASE: u32 = 64 - SUB_BUCKET_COUNT_MAGNITUDE;

/// hdrhistogram's counts index of `value` (`Histogram::new(3)`, unit 1).
#[inline]
fn bucket_index(value: u64) -> usize {
    let bucket = LEADING_ZERO_COUNT_BASE - (value | SUB_BUCKET_MASK).leading_zeros();
    let sub_bucket = value >> bucket;
    (((u64::from(bucket) + 1) << SUB_BUCKET_HALF_COUNT_MAGNITUDE) + sub_bucket
        - SUB_BUCKET_HALF_COUNT) as usize
}

/// The lowest value of counts index `index` (inverse of [`bucket_index`]).
fn index_value(index: usize) -> u64 {
    let index = index as u64;
    let mut bucket = (index >> SUB_BUCKET_HALF_COUNT_MAGNITUDE) as i64 - 1;
    let mut sub_bucket = (index & (SUB_BUCKET_HALF_COUNT - 1)) + SUB_BUCKET_HALF_COUNT;
    if bucket < 0 {
        sub_bucket -= SUB_BUCKET_HALF_COUNT;
        bucket = 0;
    }
    sub_bucket << bucket
}

/// Records durations in nanoseconds.
#[derive(Clone, Debug)]
pub struct LatencyRecorder {
    /// Values per hdrhistogram counts index.
    counts: Vec<u64>,
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
            counts: Vec::new(),
            sum_ns: 0,
            count: 0,
            positive: 0,
        }
    }

    /// Records one duration.
    #[inline]
    pub fn record(&mut self, d: SimDuration) {
        let i = bucket_index(d.0);
        if i >= self.counts.len() {
            self.counts.resize(i + 1, 0);
        }
        self.counts[i] += 1;
        self.sum_ns += u128::from(d.0);
        self.count += 1;
        self.positive += u64::from(d.0 > 0);
    }

    /// Number of recorded durations.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Sum of the recorded durations, seconds.
    pub fn sum_s(&self) -> f64 {
        self.sum_ns as f64 / 1e9
    }

    /// Adds everything `other` recorded (the result is the recorder of both streams).
    pub fn merge(&mut self, other: &LatencyRecorder) {
        if other.counts.len() > self.counts.len() {
            self.counts.resize(other.counts.len(), 0);
        }
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
        self.sum_ns += other.sum_ns;
        self.count += other.count;
        self.positive += other.positive;
    }

    /// Removes what `part` recorded, `part` being a sub-stream of this recorder's values
    /// (e.g. the second half of a run from the whole run).
    ///
    /// # Panics
    /// If `part` holds a value this recorder does not (a bug in the caller).
    pub fn subtract(&mut self, part: &LatencyRecorder) {
        for (i, &c) in part.counts.iter().enumerate() {
            if c > 0 {
                self.counts[i] = self.counts[i]
                    .checked_sub(c)
                    .expect("subtract: part is not a sub-stream");
            }
        }
        self.sum_ns -= part.sum_ns;
        self.count -= part.count;
        self.positive -= part.positive;
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
        let hist = self.histogram();
        let q = |p: f64| hist.value_at_quantile(p) as f64 / 1e9;
        LatencySummary {
            mean: self.sum_ns as f64 / self.count as f64 / 1e9,
            p50: q(0.50),
            p90: q(0.90),
            p95: q(0.95),
            p99: q(0.99),
            p999: q(0.999),
            max: hist.max() as f64 / 1e9,
        }
    }

    /// The histogram of everything recorded (each value stands in for its whole bucket).
    pub fn histogram(&self) -> Histogram<u64> {
        // 3 significant digits is a valid setting, so this cannot fail.
        let mut hist = Histogram::new(3).expect("3 significant digits is valid");
        for (i, &c) in self.counts.iter().enumerate() {
            if c > 0 {
                // An auto-resizing histogram accepts every u64.
                let _ = hist.record_n(index_value(i), c);
            }
        }
        hist
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The summary equals the one of an hdrhistogram fed every value directly.
    #[test]
    fn summary_matches_a_direct_hdrhistogram() {
        let mut x = 0x853c_49e6_748f_ea9bu64;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for case in 0..40 {
            let mut rec = LatencyRecorder::new();
            let mut direct = Histogram::<u64>::new(3).unwrap();
            let n = 1 + next() % 5000;
            for _ in 0..n {
                let r = next();
                let v = match case % 4 {
                    0 => r % 3000,
                    1 => r >> (r % 64),
                    2 => (r % 1_000_000_000) * (1 + r % 7),
                    _ => u64::MAX - r % 5,
                };
                rec.record(SimDuration(v));
                direct.record(v).unwrap();
            }
            let got = rec.summary();
            let q = |p: f64| direct.value_at_quantile(p) as f64 / 1e9;
            assert_eq!(got.p50, q(0.50));
            assert_eq!(got.p90, q(0.90));
            assert_eq!(got.p95, q(0.95));
            assert_eq!(got.p99, q(0.99));
            assert_eq!(got.p999, q(0.999));
            assert_eq!(got.max, direct.max() as f64 / 1e9);
            let h = rec.histogram();
            assert_eq!(h.len(), direct.len());
            assert_eq!(h.min_nz(), direct.min_nz());
        }
        for v in (0..100_000u64).chain((0..64).map(|s| 1u64 << s)) {
            for w in [v, v.saturating_sub(1), v.saturating_add(1)] {
                let i = bucket_index(w);
                assert_eq!(bucket_index(index_value(i)), i, "{w}");
                assert!(index_value(i) <= w);
            }
        }
    }
}
