//! Our aggregation of Alibaba ServeGen (`traces/servegen_derived/servegen_aggregate_rate_10min.csv`):
//! per model, the total request rate of every 10-minute window and the burstiness (inter-arrival
//! CV) of its clients. It holds rates, not requests, so its statistics differ from a request
//! trace's: [`servegen_stats`] gives, per model, the span, the rate's mean, percentiles and
//! peak over mean, the mean rate by hour of day (a day profile for `traffic.hourly_weights`)
//! and the clients' CV.
//!
//! Error policy as for the other traces: a row that cannot be read is an error naming the
//! file, the 1-based line and the column; no row is skipped.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use super::stats::Percentiles;

/// Columns the file must have (by header name; order free).
pub const SERVEGEN_COLUMNS: [&str; 5] = [
    "model",
    "window_start_s",
    "total_rate_rps",
    "rate_weighted_mean_client_cv",
    "active_clients",
];

/// Statistics of one model's rate series.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ServegenModelStats {
    /// Model name as in the file.
    pub model: String,
    /// Number of 10-minute windows with traffic (the statistics below use these only).
    pub windows: usize,
    /// Windows with no active client: gaps in the data (traces/README.md: "look like missing
    /// data, not zero traffic"), left out of every statistic.
    pub gap_windows: usize,
    /// Last window start minus first window start plus one window, in days (gaps included).
    pub span_days: f64,
    /// Total request rate over the windows, requests per second.
    pub rate_rps: Percentiles,
    /// Largest window rate / mean window rate.
    pub peak_to_mean: f64,
    /// Clients' inter-arrival CV, weighted by rate over clients and windows (1 = Poisson).
    pub mean_client_cv: f64,
    /// Mean rate in each hour of day (hour 0 = windows starting in [0 h, 1 h) of each day;
    /// the source does not state the time zone), divided by the overall mean: feed it to
    /// `traffic.hourly_weights`.
    pub hourly_weights: Vec<f64>,
}

/// Reads the aggregate CSV and summarises each model (models in file order).
pub fn servegen_stats(path: &Path) -> Result<Vec<ServegenModelStats>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("{}: cannot read the trace: {e}", path.display()))?;
    parse_servegen(&text, path)
}

/// [`servegen_stats`] on text already read; `path` names it in errors.
pub fn parse_servegen(text: &str, path: &Path) -> Result<Vec<ServegenModelStats>, String> {
    let file = path.display();
    let mut lines = text.lines().enumerate();
    let Some((_, header)) = lines.next() else {
        return Err(format!(
            "{file}: empty file; expected a ServeGen aggregate CSV"
        ));
    };
    let cols: Vec<&str> = header.trim_end_matches('\r').split(',').collect();
    let mut idx = [0usize; 5];
    for (k, want) in SERVEGEN_COLUMNS.iter().enumerate() {
        idx[k] = cols.iter().position(|c| c.trim() == *want).ok_or_else(|| {
            format!(
                "{file}: line 1: no `{want}` column; a ServeGen aggregate CSV has {}",
                SERVEGEN_COLUMNS.join(", ")
            )
        })?;
    }
    // model -> (window starts, rates, cvs, gap window starts), in file order.
    let mut order: Vec<String> = Vec::new();
    type Series = (Vec<f64>, Vec<f64>, Vec<f64>, Vec<f64>);
    let mut series: BTreeMap<String, Series> = BTreeMap::new();
    for (i, line) in lines {
        let line = line.trim_end_matches('\r');
        if line.is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split(',').collect();
        let field = |k: usize| -> Result<&str, String> {
            fields.get(idx[k]).map(|s| s.trim()).ok_or_else(|| {
                format!(
                    "{file}: line {}: missing `{}` (row has {} fields)",
                    i + 1,
                    SERVEGEN_COLUMNS[k],
                    fields.len()
                )
            })
        };
        let number = |k: usize| -> Result<f64, String> {
            let s = field(k)?;
            s.parse::<f64>()
                .ok()
                .filter(|x| x.is_finite() && *x >= 0.0)
                .ok_or_else(|| {
                    format!(
                        "{file}: line {}: `{}` must be a number >= 0, got {s:?}",
                        i + 1,
                        SERVEGEN_COLUMNS[k]
                    )
                })
        };
        let model = field(0)?.to_string();
        let (t, clients) = (number(1)?, number(4)?);
        if !series.contains_key(&model) {
            order.push(model.clone());
        }
        let s = series.entry(model).or_default();
        if clients == 0.0 {
            // A gap: no client, rate 0, empty CV columns.
            s.3.push(t);
            continue;
        }
        s.0.push(t);
        s.1.push(number(2)?);
        s.2.push(number(3)?);
    }
    if order.is_empty() {
        return Err(format!("{file}: no data rows"));
    }
    Ok(order
        .into_iter()
        .map(|model| {
            let (t, rate, cv, gaps) = &series[&model];
            summarise(model, t, rate, cv, gaps)
        })
        .collect())
}

fn summarise(
    model: String,
    t: &[f64],
    rate: &[f64],
    cv: &[f64],
    gaps: &[f64],
) -> ServegenModelStats {
    const WINDOW_S: f64 = 600.0;
    let all = || t.iter().chain(gaps).copied();
    let first = all().fold(f64::INFINITY, f64::min);
    let last = all().fold(f64::NEG_INFINITY, f64::max);
    let total_rate: f64 = rate.iter().sum();
    let rate_rps = Percentiles::of(rate);
    let mut sum = [0.0f64; 24];
    let mut n = [0u32; 24];
    for (&ts, &r) in t.iter().zip(rate) {
        let h = ((ts.rem_euclid(86_400.0)) / 3600.0).floor() as usize;
        sum[h.min(23)] += r;
        n[h.min(23)] += 1;
    }
    let hourly_weights = (0..24)
        .map(|h| {
            if n[h] > 0 && rate_rps.mean > 0.0 {
                sum[h] / f64::from(n[h]) / rate_rps.mean
            } else {
                0.0
            }
        })
        .collect();
    ServegenModelStats {
        model,
        windows: t.len(),
        gap_windows: gaps.len(),
        span_days: (last - first + WINDOW_S) / 86_400.0,
        peak_to_mean: if rate_rps.mean > 0.0 {
            rate_rps.max / rate_rps.mean
        } else {
            0.0
        },
        rate_rps,
        mean_client_cv: if total_rate > 0.0 {
            cv.iter().zip(rate).map(|(c, r)| c * r).sum::<f64>() / total_rate
        } else {
            0.0
        },
        hourly_weights,
    }
}

/// The statistics as text: one block per model.
pub fn render_servegen_text(stats: &[ServegenModelStats]) -> String {
    let mut out =
        String::from("ServeGen aggregate: total request rate per 10-minute window, per model\n");
    for s in stats {
        let r = &s.rate_rps;
        out.push_str(&format!(
            "\n{}: {} windows over {:.1} days ({} empty windows left out as missing data)\n  \
             rate (req/s): mean {:.2}  p50 {:.2}  p90 {:.2}  p99 {:.2}  max {:.2}  (peak/mean \
             {:.2})\n  client inter-arrival CV, rate-weighted mean: {:.2} (1 = Poisson)\n  \
             hourly weights (hour 0..23):",
            s.model,
            s.windows,
            s.span_days,
            s.gap_windows,
            r.mean,
            r.p50,
            r.p90,
            r.p99,
            r.max,
            s.peak_to_mean,
            s.mean_client_cv
        ));
        for (h, w) in s.hourly_weights.iter().enumerate() {
            if h % 12 == 0 {
                out.push_str("\n   ");
            }
            out.push_str(&format!(" {w:.2}"));
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summarises_each_model_by_hand() {
        let text = "model,window_start_s,total_rate_rps,active_clients,rate_weighted_mean_client_cv,median_client_cv\n\
                    a,0,1.0,3,1.0,1.0\na,600,3.0,3,2.0,1.0\na,1200,0.0,0,,\nb,3600,5.0,1,0.5,0.5\n";
        let s = parse_servegen(text, Path::new("x.csv")).unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].model, "a");
        assert_eq!(s[0].windows, 2);
        assert_eq!(s[0].gap_windows, 1);
        assert!((s[0].rate_rps.mean - 2.0).abs() < 1e-12);
        assert!((s[0].peak_to_mean - 1.5).abs() < 1e-12);
        assert!((s[0].mean_client_cv - 1.75).abs() < 1e-12); // (1 x 1 + 3 x 2) / 4
        assert!((s[0].hourly_weights[0] - 1.0).abs() < 1e-12);
        assert_eq!(s[1].hourly_weights[1], 1.0);
        assert!((s[0].span_days - 1800.0 / 86_400.0).abs() < 1e-12);
        let text = render_servegen_text(&s);
        assert!(
            text.contains("a: 2 windows") && text.contains("peak/mean 1.50"),
            "{text}"
        );
    }

    #[test]
    fn bad_rows_name_the_line_and_column() {
        let e = parse_servegen("model,window_start_s\n", Path::new("x.csv")).unwrap_err();
        assert!(e.contains("x.csv: line 1: no `total_rate_rps`"), "{e}");
        let text = "model,window_start_s,total_rate_rps,rate_weighted_mean_client_cv,active_clients\n\
                    a,0,fast,1,2\n";
        let e = parse_servegen(text, Path::new("x.csv")).unwrap_err();
        assert!(
            e.contains("line 2: `total_rate_rps` must be a number"),
            "{e}"
        );
    }
}
