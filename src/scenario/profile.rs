//! The 24-hour rate profile of `arrival = "diurnal"`: relative hourly rates with mean 1,
//! built in, given as 24 weights, or read from a rates CSV. The scenario validates it; the
//! workload samples arrivals from it.
//!
//! The arrival rate is piecewise constant per hour with a 24-hour period:
//! `rate(t) = mean_rate_per_s * w[h(t)]`, where the 24 weights `w` have mean 1 (so the
//! long-run rate over whole days is exactly `mean_rate_per_s`) and `h(t)` is the hour of day
//! at simulated time `t`, shifted by a `start_hour` offset (`start_hour = 6.5` means the run
//! starts at 06:30).
//!
//! Constructors return `Err(String)` with a message that says what to fix (for CSV input it
//! names the line). Nothing in this module panics on user input.

/// Seconds in one hour.
const HOUR_S: f64 = 3600.0;
/// Hours in one day.
const HOURS_PER_DAY: usize = 24;

/// Mean user page views of the German Wikipedia by hour of day (UTC), views per hour.
///
/// Source: `shared/traces/wikipedia_de_hourly/dewiki_user_pageviews_hourly_2025-09-01_07.csv`
/// (Wikimedia pageviews API, de.wikipedia, user agents, all access methods, Mon 1 Sep to
/// Sun 7 Sep 2025, 168 hours, CC0). Method: group the 168 rows by the hour `HH` of
/// `hour_utc` (`YYYYMMDDHH`) and average the 7 values of each hour; printed to 4 decimals.
/// The test `builtin_human_matches_trace` recomputes them from the CSV.
const DEWIKI_MEAN_VIEWS_BY_UTC_HOUR: [f64; 24] = [
    249493.7143,  // 00 UTC
    186765.1429,  // 01
    169857.2857,  // 02 (trough)
    208319.2857,  // 03
    365550.1429,  // 04
    628086.7143,  // 05
    896105.0000,  // 06
    1053087.8571, // 07
    1127449.1429, // 08
    1152068.7143, // 09
    1180648.5714, // 10
    1212766.0000, // 11
    1232974.5714, // 12
    1222381.8571, // 13
    1212440.7143, // 14
    1188212.5714, // 15
    1200717.5714, // 16
    1332590.4286, // 17
    1636320.7143, // 18
    1926050.2857, // 19 (peak, 21:00 in Germany)
    1728597.7143, // 20
    1186707.8571, // 21
    691853.4286,  // 22
    386752.0000,  // 23
];

/// A relative arrival rate for each hour of the day, with a 24-hour period.
#[derive(Clone, Debug, PartialEq)]
pub struct DailyProfile {
    /// Relative rate in hour `h` (0 = 00:00–01:00), normalised so the 24 values have mean 1.
    pub hourly_weights: [f64; 24],
}

impl DailyProfile {
    /// A profile from 24 relative rates (any scale), normalised to mean 1.
    ///
    /// Errors unless there are exactly 24 finite, non-negative values that are not all zero.
    pub fn from_weights(weights: &[f64]) -> Result<Self, String> {
        if weights.len() != HOURS_PER_DAY {
            return Err(format!(
                "a daily profile needs exactly 24 hourly weights (hours 0 to 23), got {}",
                weights.len()
            ));
        }
        if let Some((h, w)) = weights
            .iter()
            .enumerate()
            .find(|(_, w)| !w.is_finite() || **w < 0.0)
        {
            return Err(format!(
                "hourly weight for hour {h} is {w}; weights must be finite and >= 0"
            ));
        }
        let sum: f64 = weights.iter().sum();
        if sum <= 0.0 {
            return Err("all 24 hourly weights are zero; at least one hour needs load".into());
        }
        let mean = sum / HOURS_PER_DAY as f64;
        let mut hourly_weights = [0.0; 24];
        for (out, w) in hourly_weights.iter_mut().zip(weights) {
            *out = w / mean;
        }
        Ok(DailyProfile { hourly_weights })
    }

    /// A profile from CSV text: 24 data rows, either `hour,rate` (hours 0–23, each once, in
    /// any order) or a single `rate` column (hours 0–23 in order).
    ///
    /// Blank lines and lines starting with `#` are ignored; the first remaining line is taken
    /// as a header if its last field is not a number. Rates are relative (any unit). Errors
    /// name the 1-based line number.
    pub fn from_rates_csv(text: &str) -> Result<Self, String> {
        let mut by_hour: [Option<f64>; 24] = [None; 24];
        let mut columns: Option<usize> = None;
        let mut rows = 0usize;
        let mut seen_data_or_header = false;
        for (idx, raw) in text.lines().enumerate() {
            let line_no = idx + 1;
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let fields: Vec<&str> = line.split(',').map(str::trim).collect();
            let first_line = !seen_data_or_header;
            seen_data_or_header = true;
            let last = fields.last().copied().unwrap_or("");
            if first_line && last.parse::<f64>().is_err() {
                continue; // header
            }
            if fields.len() > 2 {
                return Err(format!(
                    "line {line_no}: expected `hour,rate` or `rate`, got {} fields",
                    fields.len()
                ));
            }
            match columns {
                None => columns = Some(fields.len()),
                Some(n) if n != fields.len() => {
                    return Err(format!(
                        "line {line_no}: {} fields, but earlier rows have {n}; use one layout",
                        fields.len()
                    ));
                }
                Some(_) => {}
            }
            let rate: f64 = last
                .parse()
                .map_err(|_| format!("line {line_no}: rate `{last}` is not a number"))?;
            if !rate.is_finite() || rate < 0.0 {
                return Err(format!(
                    "line {line_no}: rate {rate} must be finite and >= 0"
                ));
            }
            let hour = if fields.len() == 2 {
                let h: usize = fields[0].parse().map_err(|_| {
                    format!(
                        "line {line_no}: hour `{}` is not an integer 0-23",
                        fields[0]
                    )
                })?;
                if h >= HOURS_PER_DAY {
                    return Err(format!("line {line_no}: hour {h} is outside 0-23"));
                }
                h
            } else {
                if rows >= HOURS_PER_DAY {
                    return Err(format!(
                        "line {line_no}: more than 24 rates; give one per hour 0-23"
                    ));
                }
                rows
            };
            if by_hour[hour].is_some() {
                return Err(format!("line {line_no}: hour {hour} appears twice"));
            }
            by_hour[hour] = Some(rate);
            rows += 1;
        }
        let mut weights = [0.0; 24];
        for (h, (out, v)) in weights.iter_mut().zip(by_hour).enumerate() {
            *out = v.ok_or_else(|| {
                format!("no rate for hour {h}: the CSV needs 24 rows, got {rows}")
            })?;
        }
        Self::from_weights(&weights)
    }

    /// The human day/night shape: mean German Wikipedia page views by UTC hour of day over
    /// the week 1–7 Sep 2025 (peak 19:00 UTC at 1.98× the mean, trough 02:00 UTC at 0.17×).
    ///
    /// This is the *shape* of consumer demand, not a load level and not LLM traffic.
    pub fn builtin_human() -> Self {
        Self::from_weights(&DEWIKI_MEAN_VIEWS_BY_UTC_HOUR)
            .expect("built-in weights are 24 positive numbers")
    }

    /// A flat profile (every weight 1): a homogeneous Poisson process.
    pub fn flat() -> Self {
        DailyProfile {
            hourly_weights: [1.0; 24],
        }
    }

    /// The hour of day (0–23) at simulated time `t_s` for a run that starts at
    /// `start_hour` (fractional hours allowed; negative times wrap to the previous day).
    ///
    /// A non-finite `t_s` or `start_hour` gives hour 0.
    pub fn hour_of_day(t_s: f64, start_hour: f64) -> usize {
        let h = (start_hour + t_s / HOUR_S).rem_euclid(HOURS_PER_DAY as f64);
        // `as` saturates and maps NaN to 0; `min` guards rounding up to exactly 24.0.
        (h.floor() as usize).min(HOURS_PER_DAY - 1)
    }

    /// Arrival rate (per second) at simulated time `t_s` for a run starting at 00:00.
    pub fn rate_at(&self, t_s: f64, mean_rate_per_s: f64) -> f64 {
        self.rate_at_with_start_hour(t_s, mean_rate_per_s, 0.0)
    }

    /// Arrival rate (per second) at simulated time `t_s` for a run starting at hour
    /// `start_hour` of the day.
    pub fn rate_at_with_start_hour(&self, t_s: f64, mean_rate_per_s: f64, start_hour: f64) -> f64 {
        mean_rate_per_s * self.hourly_weights[Self::hour_of_day(t_s, start_hour)]
    }

    /// The highest hourly rate (per second) for the given mean rate.
    pub fn peak_rate(&self, mean_rate_per_s: f64) -> f64 {
        mean_rate_per_s * self.hourly_weights.iter().copied().fold(0.0, f64::max)
    }

    /// The hour (0–23) with the highest weight; the earliest one on ties.
    pub fn peak_hour(&self) -> usize {
        let peak = self.hourly_weights.iter().copied().fold(0.0, f64::max);
        self.hourly_weights
            .iter()
            .position(|w| *w == peak)
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_human_matches_trace() {
        let dir = std::env::var_os("FLEETSIM_TRACES")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| {
                std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/traces")
            });
        let path = dir.join("wikipedia_de_hourly/dewiki_user_pageviews_hourly_2025-09-01_07.csv");
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "cannot read {} ({e}): set FLEETSIM_TRACES to the shared/traces folder; \
                 this test must not be skipped",
                path.display()
            )
        });
        let mut sums = [0.0f64; 24];
        let mut counts = [0u32; 24];
        for (i, line) in text.lines().enumerate().skip(1) {
            let (hour_utc, views) = line.split_once(',').expect("two columns");
            let hh: usize = hour_utc[8..10].parse().expect("YYYYMMDDHH");
            let v: f64 = views
                .trim()
                .parse()
                .unwrap_or_else(|_| panic!("line {}", i + 1));
            sums[hh] += v;
            counts[hh] += 1;
        }
        assert_eq!(counts, [7; 24], "one week of hours");
        for h in 0..24 {
            let mean = sums[h] / f64::from(counts[h]);
            assert!(
                (mean - DEWIKI_MEAN_VIEWS_BY_UTC_HOUR[h]).abs() < 1e-4,
                "hour {h}: trace mean {mean}, hard-coded {}",
                DEWIKI_MEAN_VIEWS_BY_UTC_HOUR[h]
            );
        }
        let p = DailyProfile::builtin_human();
        assert_eq!(p.peak_hour(), 19);
        // README §4: weekly peak/mean 2.26 is per hour; the mean-by-hour peak is lower.
        assert!(
            (p.peak_rate(1.0) - 1.9775).abs() < 1e-3,
            "{}",
            p.peak_rate(1.0)
        );
    }

    #[test]
    fn weights_validation() {
        assert!(DailyProfile::from_weights(&[1.0; 23]).is_err());
        assert!(DailyProfile::from_weights(&[0.0; 24]).is_err());
        let mut w = [1.0; 24];
        w[5] = -1.0;
        assert!(
            DailyProfile::from_weights(&w)
                .unwrap_err()
                .contains("hour 5")
        );
        w[5] = f64::NAN;
        assert!(DailyProfile::from_weights(&w).is_err());
        let mut w = [0.0; 24];
        w[3] = 5.0;
        let p = DailyProfile::from_weights(&w).unwrap();
        assert_eq!(p.hourly_weights[3], 24.0);
        assert_eq!(p.peak_hour(), 3);
        assert_eq!(p.rate_at(3.5 * 3600.0, 0.5), 12.0);
        assert_eq!(p.rate_at(-20.5 * 3600.0, 0.5), 12.0, "negative time wraps");
        assert_eq!(p.rate_at(27.0 * 3600.0, 0.5), 12.0, "24 h period");
    }

    #[test]
    fn csv_layouts_and_errors() {
        let one_col: String = (1..=24).map(|r| format!("{r}\n")).collect();
        let p = DailyProfile::from_rates_csv(&format!("rate\n{one_col}")).unwrap();
        assert!(p.hourly_weights[23] > p.hourly_weights[0]);
        let two_col: String = (0..24).rev().map(|h| format!("{h},{}\n", h + 1)).collect();
        let q = DailyProfile::from_rates_csv(&format!("# c\nhour,rate\n\n{two_col}")).unwrap();
        assert_eq!(p, q);

        let err = DailyProfile::from_rates_csv("hour,rate\n0,1\n1,x\n").unwrap_err();
        assert!(err.starts_with("line 3:"), "{err}");
        let err = DailyProfile::from_rates_csv("0,1\n0,2\n").unwrap_err();
        assert!(err.starts_with("line 2:") && err.contains("twice"), "{err}");
        let err = DailyProfile::from_rates_csv("24,1\n").unwrap_err();
        assert!(err.starts_with("line 1:"), "{err}");
        let err = DailyProfile::from_rates_csv("1\n2\n").unwrap_err();
        assert!(err.contains("hour 2"), "{err}");
        let err = DailyProfile::from_rates_csv(&format!("{one_col}25\n")).unwrap_err();
        assert!(err.starts_with("line 25:"), "{err}");
        let err = DailyProfile::from_rates_csv("1\n2,3\n").unwrap_err();
        assert!(err.starts_with("line 2:"), "{err}");
    }
}
