//! Steady-state diagnostics: has the run settled, and how much does it really know?
//!
//! Every replication keeps, besides its latency recorders, a small time series of the
//! latencies it completes: [`WINDOWS`] equal windows over `[0, duration_s]`, each holding the
//! count and sum of every latency metric (by completion time), and a recorder per metric for
//! the measured requests completing in the second half of the measured window (the first
//! half is the run's own recorder less the second, so each request is recorded twice at
//! most). From these, over all replications:
//!
//! * **Warm-up** (MSER-5 style): the truncation point that minimises the marginal standard
//!   error of the replication-averaged window means, searched over the first half of the run
//!   (White, 1997; Robinson, 2005). Windows stand in for MSER-5's batches of five
//!   observations, so the search costs nothing per request.
//! * **Drift**: the relative change of the mean and p99 of each headline metric from the
//!   first to the second half of the measured window (pooled over replications). A run in
//!   steady state shows only noise here; a transient shows a change in one direction.
//! * **Effective samples** (batch means): the measured windows of a replication grouped into
//!   [`BATCHES`] batches; σ²·B / S²(batch means) estimates how many independent requests the
//!   replication's mean is worth (at most the requests it holds), summed over replications.
//!
//! Warnings are plain sentences for a planner; the thresholds are the constants below.

use serde::Serialize;

use super::latency::{LatencyRecorder, LatencySummary};
use crate::engine::{SimDuration, SimTime};

/// Windows of the per-replication time series over `[0, duration_s]`.
pub const WINDOWS: usize = 100;
/// Batches of the batch-means estimate of effective samples.
pub const BATCHES: usize = 10;
/// A mean that changes by more than this fraction between the halves is flagged.
pub const DRIFT_WARN_MEAN: f64 = 0.10;
/// A p99 that changes by more than this fraction between the halves is flagged.
pub const DRIFT_WARN_P99: f64 = 0.15;
/// A p99 is judged for drift only with at least this many requests in each half (below it
/// the p99 of a half is itself uncertain by about 10%).
pub const MIN_P99_SAMPLES: u64 = 2_000;
/// Changes smaller than this many seconds are never flagged (e.g. waits of microseconds).
pub const MIN_ABS_CHANGE_S: f64 = 1e-3;
/// Fewer effective samples of the e2e mean than this (over all replications) are flagged.
pub const MIN_EFFECTIVE_SAMPLES: f64 = 100.0;

/// The metrics followed: those `[slo]` targets can name (service time follows from them).
pub const N_METRICS: usize = 4;

pub use crate::scenario::slo::Metric;
/// Names in warnings.
const LABELS: [&str; N_METRICS] = ["e2e latency", "queue wait", "TTFT", "TPOT"];

/// One replication's series and halves.
#[derive(Clone, Debug)]
pub struct SteadyRecorder {
    warmup: SimTime,
    mid: SimTime,
    end: SimTime,
    window_ns: u64,
    /// Per window, per metric: (completions, Σ seconds), every completion counted.
    windows: Vec<[(u64, f64); N_METRICS]>,
    /// Per metric: measured completions in the first and the second half. The first is
    /// filled by [`SteadyRecorder::finish`] from the run's whole recorder.
    halves: Vec<[LatencyRecorder; 2]>,
    /// Per metric: Σ seconds² of measured completions (for the per-request variance).
    sum_sq: [f64; N_METRICS],
}

impl SteadyRecorder {
    /// A recorder for a run measuring `[warmup, end]`.
    pub fn new(warmup: SimTime, end: SimTime) -> Self {
        let window_ns = (end.0 / WINDOWS as u64).max(1);
        let mid = SimTime(warmup.0 + end.0.saturating_sub(warmup.0) / 2);
        SteadyRecorder {
            warmup,
            mid,
            end,
            window_ns,
            windows: vec![[(0, 0.0); N_METRICS]; WINDOWS],
            halves: (0..N_METRICS).map(|_| Default::default()).collect(),
            sum_sq: [0.0; N_METRICS],
        }
    }

    /// Records `d` of metric `m` for a request that arrived at `arrival` and completed (or
    /// reached the metric's event) at `at`.
    #[inline]
    pub fn record(&mut self, m: Metric, arrival: SimTime, at: SimTime, d: SimDuration) {
        let (window, measured, second_half) = self.placing(arrival, at);
        self.add(m as usize, d, window, measured, second_half);
    }

    /// Where a completion at `at` of a request that arrived at `arrival` counts: its window
    /// (none after the end), whether it is measured, whether it is in the second half.
    #[inline(always)]
    fn placing(&self, arrival: SimTime, at: SimTime) -> (Option<usize>, bool, bool) {
        let window = (at < self.end).then(|| ((at.0 / self.window_ns) as usize).min(WINDOWS - 1));
        (window, arrival >= self.warmup, at >= self.mid)
    }

    /// Adds value `d` of metric `m` placed by [`SteadyRecorder::placing`].
    #[inline(always)]
    fn add(
        &mut self,
        m: usize,
        d: SimDuration,
        window: Option<usize>,
        measured: bool,
        second_half: bool,
    ) {
        let s = d.as_secs_f64();
        if let Some(w) = window {
            let slot = &mut self.windows[w][m];
            slot.0 += 1;
            slot.1 += s;
        }
        if measured {
            if second_half {
                self.halves[m][1].record(d);
            }
            self.sum_sq[m] += s * s;
        }
    }

    /// Records one request's metrics at once (`values` indexed like [`Metric`]; `None` for a
    /// metric it does not have): the same as a [`SteadyRecorder::record`] per value, with
    /// the window found once.
    #[inline]
    pub fn record_request(
        &mut self,
        arrival: SimTime,
        at: SimTime,
        values: [Option<SimDuration>; N_METRICS],
    ) {
        let (window, measured, second_half) = self.placing(arrival, at);
        for (m, d) in values.into_iter().enumerate() {
            if let Some(d) = d {
                self.add(m, d, window, measured, second_half);
            }
        }
    }

    /// Adds the series of `other`, a recorder of a disjoint part of the same run (a shard)
    /// over the same window; before [`SteadyRecorder::finish`].
    pub fn merge(&mut self, other: &SteadyRecorder) {
        for (w, o) in self.windows.iter_mut().zip(&other.windows) {
            for (a, b) in w.iter_mut().zip(o) {
                a.0 += b.0;
                a.1 += b.1;
            }
        }
        for (h, o) in self.halves.iter_mut().zip(&other.halves) {
            h[1].merge(&o[1]);
        }
        for (a, b) in self.sum_sq.iter_mut().zip(other.sum_sq) {
            *a += b;
        }
    }

    /// Completes the first halves from the run's recorders of every measured completion
    /// (`whole[m]`, indexed like [`Metric`]; none for a metric the run does not measure).
    pub fn finish(&mut self, whole: [Option<&LatencyRecorder>; N_METRICS]) {
        for (m, w) in whole.into_iter().enumerate() {
            let mut first = w.cloned().unwrap_or_default();
            first.subtract(&self.halves[m][1]);
            self.halves[m][0] = first;
        }
    }

    fn window_s(&self) -> f64 {
        self.window_ns as f64 / 1e9
    }
}

/// Relative change from `a` to `b` (none when `a` is zero or either is missing).
fn rel(a: f64, b: f64) -> Option<f64> {
    (a > 0.0).then(|| b / a - 1.0)
}

/// One value per followed latency metric, in report order; a metric with no measured
/// requests has none (and is left out of the JSON).
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct PerMetric<T> {
    /// Arrival to completion.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub e2e: Option<T>,
    /// Arrival to start of service.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queue_wait: Option<T>,
    /// Arrival to first token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttft: Option<T>,
    /// Time per output token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tpot: Option<T>,
}

impl<T> Default for PerMetric<T> {
    fn default() -> Self {
        PerMetric {
            e2e: None,
            queue_wait: None,
            ttft: None,
            tpot: None,
        }
    }
}

impl<T> PerMetric<T> {
    /// The value of metric `m`.
    pub fn get(&self, m: Metric) -> Option<&T> {
        match m {
            Metric::E2e => self.e2e.as_ref(),
            Metric::QueueWait => self.queue_wait.as_ref(),
            Metric::Ttft => self.ttft.as_ref(),
            Metric::Tpot => self.tpot.as_ref(),
        }
    }

    fn slot(&mut self, m: Metric) -> &mut Option<T> {
        match m {
            Metric::E2e => &mut self.e2e,
            Metric::QueueWait => &mut self.queue_wait,
            Metric::Ttft => &mut self.ttft,
            Metric::Tpot => &mut self.tpot,
        }
    }
}

/// Relative change of a metric from the first to the second half of the measured window.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct Drift {
    /// Of the mean (none when a half is empty or the first is zero).
    pub mean: Option<f64>,
    /// Of the p99.
    pub p99: Option<f64>,
}

/// The second half of the measured window, pooled over replications.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct SecondHalf {
    /// Latency summaries, seconds.
    pub latency_s: PerMetric<LatencySummary>,
}

/// The `diagnostics` of a run summary: warm-up, drift, effective samples and warnings.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct Diagnostics {
    /// The scenario's warm-up, seconds.
    pub warmup_s: f64,
    /// The warm-up MSER-5 suggests, seconds.
    pub warmup_suggested_s: f64,
    /// Width of one window of the time series, seconds.
    pub window_s: f64,
    /// First half to second half, per metric.
    pub drift: PerMetric<Drift>,
    /// Independent samples of each metric's mean (batch means), over all replications.
    pub effective_samples: PerMetric<f64>,
    /// The second half's latencies.
    pub second_half: SecondHalf,
    /// Plain sentences for a planner.
    pub warnings: Vec<String>,
}

/// MSER over `xs` (window means, in time order): the truncation `d` in `0..=n/2` minimising
/// Σ_{i≥d}(x_i − x̄_d)² / (n − d)².
pub fn mser_truncation(xs: &[f64]) -> usize {
    let n = xs.len();
    if n < 4 {
        return 0;
    }
    // Suffix sums make every candidate O(1).
    let (mut s, mut q) = (0.0, 0.0);
    let mut best = (f64::INFINITY, 0);
    let mut stats = vec![(0.0, 0.0); n + 1];
    for i in (0..n).rev() {
        s += xs[i];
        q += xs[i] * xs[i];
        stats[i] = (s, q);
    }
    for (d, &(s, q)) in stats.iter().enumerate().take(n / 2 + 1) {
        let k = (n - d) as f64;
        let sse = (q - s * s / k).max(0.0);
        let v = sse / (k * k);
        // Strictly smaller: ties keep the earlier (shorter) warm-up.
        if v < best.0 {
            best = (v, d);
        }
    }
    best.1
}

/// The `diagnostics` object of a run from its replications' recorders and the seconds each
/// ended at (earlier than the duration when it stopped as overloaded).
pub fn diagnostics(
    recs: &[&SteadyRecorder],
    ended_at_s: &[f64],
    duration_s: f64,
) -> Option<Diagnostics> {
    let first = recs.first()?;
    let warmup_s = first.warmup.as_secs_f64();
    let window_s = first.window_s();

    // Pooled halves.
    let pooled = |m: usize, h: usize| {
        let mut r = LatencyRecorder::new();
        for rec in recs {
            r.merge(&rec.halves[m][h]);
        }
        r
    };
    let mut d = Diagnostics {
        warmup_s,
        window_s,
        ..Diagnostics::default()
    };
    let mut warmup_windows = 0usize;
    for metric in Metric::ALL {
        let m = metric as usize;
        let (a, b) = (pooled(m, 0), pooled(m, 1));
        if a.count() + b.count() == 0 {
            continue;
        }
        let (sa, sb): (LatencySummary, LatencySummary) = (a.summary(), b.summary());
        *d.second_half.latency_s.slot(metric) = Some(sb.clone());
        let both = a.count() > 0 && b.count() > 0;
        let d_mean = rel(sa.mean, sb.mean).filter(|_| both);
        let d_p99 = rel(sa.p99, sb.p99).filter(|_| both);
        *d.drift.slot(metric) = Some(Drift {
            mean: d_mean,
            p99: d_p99,
        });
        let enough_p99 = a.count() >= MIN_P99_SAMPLES && b.count() >= MIN_P99_SAMPLES;
        let flagged: Vec<String> = [
            (
                "mean",
                d_mean,
                DRIFT_WARN_MEAN,
                (sb.mean - sa.mean).abs(),
                true,
            ),
            (
                "p99",
                d_p99,
                DRIFT_WARN_P99,
                (sb.p99 - sa.p99).abs(),
                enough_p99,
            ),
        ]
        .into_iter()
        .filter_map(|(stat, change, limit, abs, judged)| {
            let change = change?;
            (judged && change.abs() > limit && abs > MIN_ABS_CHANGE_S).then(|| {
                format!(
                    "{stat} {} {:.0}%",
                    if change > 0.0 { "rose" } else { "fell" },
                    100.0 * change.abs()
                )
            })
        })
        .collect();
        if !flagged.is_empty() {
            d.warnings.push(format!(
                "{} {} from the first to the second half of the run: it has not reached \
                     steady state; run longer (e.g. --duration-s {:.0}) or check the warm-up",
                LABELS[m],
                flagged.join(" and "),
                (duration_s * 4.0).max(600.0)
            ));
        }
        // MSER over the replication-averaged window means (non-empty windows).
        let mut idx = Vec::with_capacity(WINDOWS);
        let mut xs = Vec::with_capacity(WINDOWS);
        for w in 0..WINDOWS {
            let (c, s) = recs.iter().fold((0u64, 0.0), |(c, s), r| {
                (c + r.windows[w][m].0, s + r.windows[w][m].1)
            });
            if c > 0 {
                idx.push(w);
                xs.push(s / c as f64);
            }
        }
        if !xs.is_empty() {
            warmup_windows = warmup_windows.max(idx[mser_truncation(&xs)]);
        }
        // Batch means per replication, summed.
        let mut total = 0.0;
        let mut any = false;
        for (rec, &ended) in recs.iter().zip(ended_at_s) {
            if let Some(n) = effective_samples(rec, m, ended) {
                total += n;
                any = true;
            }
        }
        if any {
            *d.effective_samples.slot(metric) = Some(total.round());
        }
    }

    let warmup_suggested_s = warmup_windows as f64 * window_s;
    d.warmup_suggested_s = warmup_suggested_s;
    if warmup_suggested_s > warmup_s + 2.0 * window_s {
        d.warnings.push(format!(
            "latencies settle only after about {warmup_suggested_s:.0} s (MSER-5), later than \
             the warm-up of {warmup_s:.0} s: set traffic.warmup_s to at least that and \
             lengthen the run"
        ));
    }
    if let Some(&n) = d.effective_samples.e2e.as_ref()
        && n < MIN_EFFECTIVE_SAMPLES
    {
        d.warnings.push(format!(
            "the run holds only about {n:.0} independent samples of e2e latency (batch \
             means over all replications): its percentiles are rough; run longer or add \
             replications"
        ));
    }

    Some(d)
}

/// The batch-means estimate of independent samples of metric `m`'s mean in one replication
/// (none without at least two batches holding measured completions).
fn effective_samples(rec: &SteadyRecorder, m: usize, ended_at_s: f64) -> Option<f64> {
    let n_measured = rec.halves[m][0].count() + rec.halves[m][1].count();
    if n_measured < 2 {
        return None;
    }
    let window_s = rec.window_s();
    let end_s = ended_at_s.min(rec.end.as_secs_f64());
    // Windows wholly inside the measured window.
    let ws: Vec<usize> = (0..WINDOWS)
        .filter(|&w| {
            w as f64 * window_s >= rec.warmup.as_secs_f64() - 1e-9
                && (w + 1) as f64 * window_s <= end_s + 1e-9
        })
        .collect();
    if ws.len() < 2 {
        return None;
    }
    let b = BATCHES.min(ws.len());
    let per = ws.len() / b;
    let means: Vec<f64> = (0..b)
        .filter_map(|i| {
            let (c, s) = ws[i * per..(i + 1) * per]
                .iter()
                .fold((0u64, 0.0), |(c, s), &w| {
                    (c + rec.windows[w][m].0, s + rec.windows[w][m].1)
                });
            (c > 0).then(|| s / c as f64)
        })
        .collect();
    if means.len() < 2 {
        return None;
    }
    let k = means.len() as f64;
    let mb = means.iter().sum::<f64>() / k;
    let var_b = means.iter().map(|x| (x - mb).powi(2)).sum::<f64>() / (k - 1.0);
    let n = n_measured as f64;
    let sum = rec.halves[m][0].sum_s() + rec.halves[m][1].sum_s();
    let mean = sum / n;
    let var = (rec.sum_sq[m] / n - mean * mean).max(0.0);
    Some(if var_b > 0.0 {
        (var * k / var_b).min(n)
    } else {
        n
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One call per request records exactly what one call per metric does.
    #[test]
    fn record_request_equals_record_per_metric() {
        let (warmup, end) = (SimTime::from_secs_f64(10.0), SimTime::from_secs_f64(100.0));
        let (mut a, mut b) = (
            SteadyRecorder::new(warmup, end),
            SteadyRecorder::new(warmup, end),
        );
        for i in 0..5_000u64 {
            let arrival = SimTime(i * 23_000_017);
            let at = SimTime(arrival.0 + (i % 97) * 3_000_001);
            let values = [
                Some(at - arrival),
                Some(SimDuration((i % 13) * 1_000)),
                Some(SimDuration((i % 7) * 5_000_000)),
                (i % 3 != 0).then_some(SimDuration(i * 17)),
            ];
            a.record_request(arrival, at, values);
            for (m, d) in Metric::ALL.into_iter().zip(values) {
                if let Some(d) = d {
                    b.record(m, arrival, at, d);
                }
            }
        }
        assert_eq!(format!("{a:?}"), format!("{b:?}"));
    }

    #[test]
    fn mser_cuts_an_initial_transient_and_keeps_a_flat_series() {
        let flat: Vec<f64> = (0..100)
            .map(|i| 1.0 + 0.01 * ((i * 7919) % 13) as f64)
            .collect();
        assert!(mser_truncation(&flat) <= 5, "{}", mser_truncation(&flat));
        let ramp: Vec<f64> = (0..100)
            .map(|i| if i < 30 { i as f64 / 30.0 } else { 1.0 })
            .collect();
        let d = mser_truncation(&ramp);
        assert!((25..=31).contains(&d), "{d}");
    }

    #[test]
    fn a_rising_second_half_is_flagged() {
        let end = SimTime::from_secs_f64(1000.0);
        let mut r = SteadyRecorder::new(SimTime::from_secs_f64(100.0), end);
        let mut whole = LatencyRecorder::new();
        for i in 0..10_000u64 {
            let at = SimTime::from_secs_f64(100.0 + i as f64 * 0.09);
            let d = if at < SimTime::from_secs_f64(550.0) {
                1.0
            } else {
                1.5
            };
            r.record(Metric::E2e, at, at, SimDuration::from_secs_f64(d));
            whole.record(SimDuration::from_secs_f64(d));
        }
        r.finish([Some(&whole), None, None, None]);
        assert_eq!(r.halves[0][0].count(), 5000);
        assert!(
            r.halves[0][0].summary().max < 1.001,
            "only the 1 s values are left"
        );
        let v = diagnostics(&[&r], &[1000.0], 1000.0).unwrap();
        let d = v.drift.e2e.as_ref().and_then(|d| d.mean).unwrap();
        assert!((d - 0.5).abs() < 0.01, "{d}");
        // The step at 550 s is the warm-up MSER finds; 9 batches' worth of samples at most.
        assert_eq!(v.warmup_suggested_s, 550.0);
        assert!(v.effective_samples.e2e.unwrap() < 100.0);
        let w = &v.warnings;
        assert!(
            w.iter().any(|s| s.starts_with("e2e latency mean rose 50% and p99 rose 50% from the first")),
            "{w:?}"
        );
    }
}
