//! Summary statistics of a trace, defined exactly as in `traces/SUMMARY_STATS.json`, and
//! the empirical distributions a scenario can take from a trace.

use serde::Serialize;

use super::TraceRecord;

/// Mean and percentiles of one per-request quantity. Percentiles use linear interpolation
/// between order statistics (NumPy's default, see [`percentile_linear`]).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Percentiles {
    /// Arithmetic mean.
    pub mean: f64,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Maximum.
    pub max: f64,
}

impl Percentiles {
    /// The statistics of `values` (any order). All zero for an empty slice.
    pub fn of(values: &[f64]) -> Percentiles {
        if values.is_empty() {
            return Percentiles {
                mean: 0.0,
                p50: 0.0,
                p90: 0.0,
                p99: 0.0,
                max: 0.0,
            };
        }
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        Percentiles {
            mean: sorted.iter().sum::<f64>() / sorted.len() as f64,
            p50: percentile_linear(&sorted, 50.0),
            p90: percentile_linear(&sorted, 90.0),
            p99: percentile_linear(&sorted, 99.0),
            max: sorted[sorted.len() - 1],
        }
    }
}

/// The `q`-th percentile (0..=100) of ascending `sorted` values by linear interpolation
/// between order statistics: rank `h = (n - 1) q / 100`, then interpolate between
/// `sorted[floor(h)]` and the next value. This is NumPy's default (`method="linear"`).
///
/// # Panics
///
/// If `sorted` is empty or `q` is outside `0..=100`.
pub fn percentile_linear(sorted: &[f64], q: f64) -> f64 {
    assert!(!sorted.is_empty(), "percentile of an empty slice");
    assert!((0.0..=100.0).contains(&q), "percentile {q} outside 0..=100");
    let h = (sorted.len() - 1) as f64 * q / 100.0;
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(sorted.len() - 1);
    sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
}

/// Summary of a trace, with the definitions of `SUMMARY_STATS.json`.
///
/// Quantities that are undefined for tiny traces (fewer than two requests, no complete
/// minute) are reported as 0 rather than NaN, so the struct always serialises to numbers.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TraceStats {
    /// Number of requests.
    pub requests: usize,
    /// Last arrival minus first arrival, in seconds.
    pub duration_s: f64,
    /// `(N - 1) / duration_s`, in requests per second.
    pub mean_rate_per_s: f64,
    /// Population standard deviation / mean of the gaps between consecutive sorted arrivals.
    pub interarrival_cv: f64,
    /// Largest / mean request count over 60-s windows starting at the first arrival; the
    /// trailing partial window is dropped.
    pub peak_to_mean_per_minute: f64,
    /// Prompt lengths, in tokens.
    pub input_tokens: Percentiles,
    /// Generated lengths, in tokens.
    pub output_tokens: Percentiles,
}

/// Mean arrival rate `(N - 1) / (last - first)` in requests per second: the rate of a
/// Poisson twin of the trace. 0 for fewer than two records or zero duration.
pub fn mean_rate_per_s(records: &[TraceRecord]) -> f64 {
    let (first, last) = span(records);
    let d = last - first;
    if records.len() < 2 || d <= 0.0 {
        0.0
    } else {
        (records.len() - 1) as f64 / d
    }
}

fn span(records: &[TraceRecord]) -> (f64, f64) {
    let first = records
        .iter()
        .map(|r| r.arrival_s)
        .fold(f64::INFINITY, f64::min);
    let last = records
        .iter()
        .map(|r| r.arrival_s)
        .fold(f64::NEG_INFINITY, f64::max);
    if records.is_empty() {
        (0.0, 0.0)
    } else {
        (first, last)
    }
}

/// Computes [`TraceStats`]. Records need not be sorted (arrivals are sorted internally).
pub fn trace_stats(records: &[TraceRecord]) -> TraceStats {
    let mut t: Vec<f64> = records.iter().map(|r| r.arrival_s).collect();
    t.sort_by(f64::total_cmp);
    let (first, last) = span(records);
    let duration_s = last - first;

    let interarrival_cv = if t.len() >= 2 {
        let gaps: Vec<f64> = t.windows(2).map(|w| w[1] - w[0]).collect();
        let n = gaps.len() as f64;
        let mean = gaps.iter().sum::<f64>() / n;
        let var = gaps.iter().map(|g| (g - mean).powi(2)).sum::<f64>() / n;
        if mean > 0.0 { var.sqrt() / mean } else { 0.0 }
    } else {
        0.0
    };

    let windows = (duration_s / 60.0).floor() as usize;
    let peak_to_mean_per_minute = if windows > 0 {
        let mut counts = vec![0u64; windows];
        for &x in &t {
            let k = ((x - first) / 60.0).floor() as usize;
            if k < windows {
                counts[k] += 1;
            }
        }
        let mean = counts.iter().sum::<u64>() as f64 / windows as f64;
        let peak = counts.iter().copied().max().unwrap_or(0) as f64;
        if mean > 0.0 { peak / mean } else { 0.0 }
    } else {
        0.0
    };

    let input: Vec<f64> = records.iter().map(|r| f64::from(r.input_tokens)).collect();
    let output: Vec<f64> = records.iter().map(|r| f64::from(r.output_tokens)).collect();
    TraceStats {
        requests: records.len(),
        duration_s,
        mean_rate_per_s: mean_rate_per_s(records),
        interarrival_cv,
        peak_to_mean_per_minute,
        input_tokens: Percentiles::of(&input),
        output_tokens: Percentiles::of(&output),
    }
}

/// The statistics as text (what `fleetsim trace-stats` prints without `--json`);
/// `prefix_hit_fraction` is the prefix-cache replay's token hit fraction, when the trace
/// has block hashes.
pub fn render_trace_stats_text(s: &TraceStats, prefix_hit_fraction: Option<f64>) -> String {
    let p = |x: &Percentiles| {
        format!(
            "mean {:.1}  p50 {:.0}  p90 {:.0}  p99 {:.0}  max {:.0}",
            x.mean, x.p50, x.p90, x.p99, x.max
        )
    };
    let mut out = format!(
        "requests            {}\n\
         span                {:.1} min\n\
         mean rate           {:.3} req/s\n\
         inter-arrival CV    {:.2}  (1 = Poisson; above 1 = burstier)\n\
         peak/mean per min   {:.2}\n\
         input tokens        {}\n\
         output tokens       {}\n",
        s.requests,
        s.duration_s / 60.0,
        s.mean_rate_per_s,
        s.interarrival_cv,
        s.peak_to_mean_per_minute,
        p(&s.input_tokens),
        p(&s.output_tokens),
    );
    if let Some(f) = prefix_hit_fraction {
        out.push_str(&format!(
            "prefix-cache hits   {:.1}% of prompt tokens (replayed against the trace's block \
             hashes)\n",
            100.0 * f
        ));
    }
    out
}

#[cfg(test)]
mod text_tests {
    use super::*;

    #[test]
    fn text_names_every_statistic() {
        let p = Percentiles::of(&[1.0, 2.0, 3.0]);
        let s = TraceStats {
            requests: 3,
            duration_s: 120.0,
            mean_rate_per_s: 0.0167,
            interarrival_cv: 1.09,
            peak_to_mean_per_minute: 1.5,
            input_tokens: p,
            output_tokens: p,
        };
        let t = render_trace_stats_text(&s, Some(0.25));
        for want in [
            "requests            3",
            "span                2.0 min",
            "CV    1.09",
            "25.0%",
        ] {
            assert!(t.contains(want), "{want}: {t}");
        }
        assert!(!render_trace_stats_text(&s, None).contains("prefix"));
    }
}

/// Which token count of a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum TokenSide {
    /// Prompt (input) tokens.
    Input,
    /// Generated (output) tokens.
    Output,
}

/// One side's token counts as an empirical distribution: distinct token counts in
/// ascending order (`values`) and how many requests had each (`weights`). Feed both to a
/// scenario's `empirical` distribution (`DistSpec::Empirical { values, weights:
/// Some(weights) }`) to sample sizes like the trace. Empty vectors for an empty trace.
pub fn empirical_tokens(records: &[TraceRecord], side: TokenSide) -> (Vec<f64>, Vec<f64>) {
    let mut counts = std::collections::BTreeMap::<u32, u64>::new();
    for r in records {
        let x = match side {
            TokenSide::Input => r.input_tokens,
            TokenSide::Output => r.output_tokens,
        };
        *counts.entry(x).or_default() += 1;
    }
    counts
        .into_iter()
        .map(|(v, c)| (f64::from(v), c as f64))
        .unzip()
}

/// `empirical_tokens(records, TokenSide::Input)`: the prompt-length distribution.
pub fn empirical_input_tokens(records: &[TraceRecord]) -> (Vec<f64>, Vec<f64>) {
    empirical_tokens(records, TokenSide::Input)
}

/// `empirical_tokens(records, TokenSide::Output)`: the generated-length distribution.
pub fn empirical_output_tokens(records: &[TraceRecord]) -> (Vec<f64>, Vec<f64>) {
    empirical_tokens(records, TokenSide::Output)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(t: f64, i: u32, o: u32) -> TraceRecord {
        TraceRecord {
            arrival_s: t,
            input_tokens: i,
            output_tokens: o,
            hash_ids: Vec::new(),
        }
    }

    #[test]
    fn numpy_linear_percentiles() {
        let v = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(percentile_linear(&v, 50.0), 2.5);
        assert!((percentile_linear(&v, 90.0) - 3.7).abs() < 1e-12);
        assert_eq!(percentile_linear(&v, 100.0), 4.0);
        assert_eq!(percentile_linear(&[7.0], 99.0), 7.0);
    }

    #[test]
    fn hand_computed_stats() {
        // Arrivals 0, 1, 3 and 130: gaps 1, 2, 127.
        let r = [
            rec(0.0, 10, 1),
            rec(1.0, 20, 2),
            rec(3.0, 30, 3),
            rec(130.0, 40, 4),
        ];
        let s = trace_stats(&r);
        assert_eq!(s.requests, 4);
        assert_eq!(s.duration_s, 130.0);
        assert!((s.mean_rate_per_s - 3.0 / 130.0).abs() < 1e-12);
        let mean = 130.0 / 3.0;
        let var =
            ((1.0f64 - mean).powi(2) + (2.0f64 - mean).powi(2) + (127.0f64 - mean).powi(2)) / 3.0;
        assert!((s.interarrival_cv - var.sqrt() / mean).abs() < 1e-12);
        // Two full minutes: counts 3 and 0 (130 s is in the dropped partial window).
        assert_eq!(s.peak_to_mean_per_minute, 2.0);
        assert_eq!(s.input_tokens.mean, 25.0);
        assert_eq!(s.input_tokens.p50, 25.0);
        assert_eq!(s.output_tokens.max, 4.0);
    }

    #[test]
    fn tiny_traces_are_zero_not_nan() {
        let s = trace_stats(&[]);
        assert_eq!(
            (s.requests, s.mean_rate_per_s, s.interarrival_cv),
            (0, 0.0, 0.0)
        );
        let s = trace_stats(&[rec(5.0, 1, 1)]);
        assert_eq!(
            (s.duration_s, s.mean_rate_per_s, s.peak_to_mean_per_minute),
            (0.0, 0.0, 0.0)
        );
        assert!(serde_json::to_string(&s).unwrap().find("null").is_none());
    }

    #[test]
    fn empirical_counts_distinct_values() {
        let r = [rec(0.0, 5, 1), rec(1.0, 3, 1), rec(2.0, 5, 2)];
        assert_eq!(empirical_input_tokens(&r), (vec![3.0, 5.0], vec![1.0, 2.0]));
        assert_eq!(
            empirical_output_tokens(&r),
            (vec![1.0, 2.0], vec![2.0, 1.0])
        );
    }
}
