//! Time-of-day load: a daily rate profile, arrivals from a non-homogeneous Poisson process,
//! and a pure autoscaler state machine that reacts to the resulting load.
//!
//! # Model
//!
//! The arrival rate is piecewise constant per hour with a 24-hour period:
//! `rate(t) = mean_rate_per_s * w[h(t)]`, where the 24 weights `w` have mean 1 (so the
//! long-run rate over whole days is exactly `mean_rate_per_s`) and `h(t)` is the hour of day
//! at simulated time `t`, shifted by a `start_hour` offset (`start_hour = 6.5` means the run
//! starts at 06:30).
//!
//! [`DiurnalArrivals`] samples that process exactly by thinning (Lewis and Shedler, 1979):
//! candidates come from a homogeneous Poisson process at the peak rate, and each candidate at
//! time `t` is kept with probability `rate(t) / peak`. Nothing is approximated; the cost is
//! `peak / mean` candidates per arrival (about 2 for the built-in human profile).
//!
//! # Errors
//!
//! Constructors return `Err(String)` with a message that says what to fix (for CSV input it
//! names the line). Nothing in this module panics on user input.

use rand::RngExt;
use rand::rngs::ChaCha8Rng;
use rand_distr::{Distribution, Exp};

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

/// Arrival times of a non-homogeneous Poisson process with rate
/// `mean_rate_per_s * profile.hourly_weights[hour of day]`, sampled by thinning.
///
/// Each call to [`next_arrival_s`](Self::next_arrival_s) draws candidate gaps from
/// `Exp(peak rate)` and keeps the candidate at time `t` if `u * peak < rate(t)` with `u`
/// uniform in `[0, 1)`; it uses two draws per candidate and nothing else, so a given rng
/// state always produces the same times.
#[derive(Debug)]
pub struct DiurnalArrivals {
    profile: DailyProfile,
    mean_rate_per_s: f64,
    start_hour: f64,
    peak_rate_per_s: f64,
    candidate_gap: Exp<f64>,
    rng: ChaCha8Rng,
    last_s: f64,
}

impl DiurnalArrivals {
    /// Arrivals for `profile` at a long-run mean of `mean_rate_per_s`, for a run whose time 0
    /// is hour `start_hour` of the day (e.g. `19.0` starts at the human peak).
    ///
    /// Errors if the mean rate is not positive and finite, or `start_hour` is not finite.
    pub fn new(
        profile: DailyProfile,
        mean_rate_per_s: f64,
        start_hour: f64,
        rng: ChaCha8Rng,
    ) -> Result<Self, String> {
        if !(mean_rate_per_s.is_finite() && mean_rate_per_s > 0.0) {
            return Err(format!(
                "mean arrival rate must be a positive number of requests per second, got {mean_rate_per_s}"
            ));
        }
        if !start_hour.is_finite() {
            return Err(format!("start hour must be finite, got {start_hour}"));
        }
        let peak_rate_per_s = profile.peak_rate(mean_rate_per_s);
        let candidate_gap = Exp::new(peak_rate_per_s)
            .map_err(|e| format!("peak rate {peak_rate_per_s} per s is unusable: {e}"))?;
        Ok(DiurnalArrivals {
            profile,
            mean_rate_per_s,
            start_hour,
            peak_rate_per_s,
            candidate_gap,
            rng,
            last_s: 0.0,
        })
    }

    /// The rate the candidates are drawn at (the profile's peak), per second.
    pub fn peak_rate_per_s(&self) -> f64 {
        self.peak_rate_per_s
    }

    /// The next arrival time in seconds since the start of the run.
    ///
    /// Times are strictly increasing (while finite; only absurdly small rates could overflow
    /// f64): in the (measure-zero) case of a zero gap, or once
    /// times are so large that adding the gap does not change the f64, the next
    /// representable f64 is returned instead.
    pub fn next_arrival_s(&mut self) -> f64 {
        let mut t = self.last_s;
        loop {
            t += self.candidate_gap.sample(&mut self.rng);
            let rate =
                self.profile
                    .rate_at_with_start_hour(t, self.mean_rate_per_s, self.start_hour);
            let u: f64 = self.rng.random();
            if u * self.peak_rate_per_s < rate {
                break;
            }
        }
        if t <= self.last_s {
            t = self.last_s.next_up();
        }
        self.last_s = t;
        t
    }
}

/// Settings of an [`Autoscaler`].
#[derive(Clone, Debug, PartialEq)]
pub struct AutoscalerConfig {
    /// Fewest active servers; at least 1 (utilisation of zero servers says nothing).
    pub min_servers: u32,
    /// Most servers, active plus provisioning.
    pub max_servers: u32,
    /// Utilisation the fleet is sized for, in (0, 1].
    pub target_utilization: f64,
    /// Time from ordering a server to it serving, seconds.
    pub scale_out_delay_s: f64,
    /// A scale-in happens only if the last scaling action (out or in) was at least this long
    /// ago, seconds.
    pub scale_in_cooldown_s: f64,
    /// Time between evaluations, seconds; observations in between only finish provisioning.
    pub interval_s: f64,
}

/// What the autoscaler wants after one observation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decision {
    /// Fleet size aimed for: active plus provisioning, within `[min_servers, max_servers]`.
    pub desired: u32,
    /// Servers that should serve from now on, within `[min_servers, max_servers]`: the
    /// caller's active count plus servers whose provisioning finished, minus any scale-in.
    pub active: u32,
    /// Servers ordered but not yet serving.
    pub provisioning: u32,
}

/// A pure autoscaler for a fleet of identical servers: no clock, no I/O, no randomness.
///
/// At each evaluation (every `interval_s`) it sizes the fleet as
/// `ceil(current_active * utilization / target_utilization)`, clamped to
/// `[min_servers, max_servers]` (the Kubernetes HPA rule). A scale-out orders servers that
/// start serving `scale_out_delay_s` later; a scale-in first cancels servers still being
/// provisioned (newest first), then removes active ones at once, and only if the last
/// scaling action was at least `scale_in_cooldown_s` ago.
#[derive(Clone, Debug)]
pub struct Autoscaler {
    config: AutoscalerConfig,
    /// Ready times of ordered servers, oldest order first (ready times are non-decreasing).
    pending_ready_s: Vec<f64>,
    next_eval_s: Option<f64>,
    last_scale_s: Option<f64>,
    desired: u32,
}

impl Autoscaler {
    /// A validated autoscaler; errors say which setting to fix.
    pub fn new(config: AutoscalerConfig) -> Result<Self, String> {
        let c = &config;
        if c.min_servers == 0 {
            return Err("min_servers must be at least 1".into());
        }
        if c.max_servers < c.min_servers {
            return Err(format!(
                "max_servers ({}) must be >= min_servers ({})",
                c.max_servers, c.min_servers
            ));
        }
        if !(c.target_utilization > 0.0 && c.target_utilization <= 1.0) {
            return Err(format!(
                "target_utilization must be in (0, 1], got {}",
                c.target_utilization
            ));
        }
        for (name, v) in [
            ("scale_out_delay_s", c.scale_out_delay_s),
            ("scale_in_cooldown_s", c.scale_in_cooldown_s),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(format!("{name} must be finite and >= 0, got {v}"));
            }
        }
        if !(c.interval_s.is_finite() && c.interval_s > 0.0) {
            return Err(format!(
                "interval_s must be finite and > 0, got {}",
                c.interval_s
            ));
        }
        let desired = c.min_servers;
        Ok(Autoscaler {
            config,
            pending_ready_s: Vec::new(),
            next_eval_s: None,
            last_scale_s: None,
            desired,
        })
    }

    /// The settings.
    pub fn config(&self) -> &AutoscalerConfig {
        &self.config
    }

    /// Feeds one observation at `now_s`: `utilization` is the busy fraction of the
    /// `current_active` servers (values above 1, e.g. queue length over servers, are
    /// allowed and scale out harder; NaN or negative values are read as 0).
    ///
    /// Call it at least every `interval_s` with non-decreasing `now_s`, and set the fleet to
    /// the returned `active`. A `current_active` outside `[min_servers, max_servers]` is
    /// clamped first: the bounds are hard guarantees.
    pub fn observe(&mut self, now_s: f64, utilization: f64, current_active: u32) -> Decision {
        let c = &self.config;
        let mut active = current_active.clamp(c.min_servers, c.max_servers);
        let util = if utilization.is_finite() && utilization > 0.0 {
            utilization
        } else if utilization == f64::INFINITY {
            f64::MAX
        } else {
            0.0
        };

        let due = self.next_eval_s.is_none_or(|t| now_s >= t);
        if due {
            self.next_eval_s = Some(now_s + c.interval_s);
            // Sized on the servers the utilisation was measured on. The small epsilon keeps
            // exact multiples (e.g. 0.6 / 0.6) from rounding up an extra server.
            let raw = (f64::from(current_active) * util / c.target_utilization - 1e-9).ceil();
            let target = if raw >= f64::from(c.max_servers) {
                c.max_servers
            } else {
                (raw.max(0.0) as u32).clamp(c.min_servers, c.max_servers)
            };
            let planned = active + self.pending_ready_s.len() as u32;
            if target > planned {
                let ready = now_s + c.scale_out_delay_s;
                self.pending_ready_s
                    .extend(std::iter::repeat_n(ready, (target - planned) as usize));
                self.last_scale_s = Some(now_s);
                self.desired = target;
            } else if target < planned
                && self
                    .last_scale_s
                    .is_none_or(|t| now_s - t >= c.scale_in_cooldown_s)
            {
                let mut excess = planned - target;
                while excess > 0 && self.pending_ready_s.pop().is_some() {
                    excess -= 1;
                }
                active -= excess.min(active - c.min_servers);
                self.last_scale_s = Some(now_s);
                self.desired = target;
            } else {
                self.desired = planned;
            }
        }

        // Finish provisioning (after the decision, so a zero delay takes effect at once).
        let ready = self.pending_ready_s.partition_point(|t| *t <= now_s);
        self.pending_ready_s.drain(..ready);
        active = (active + ready as u32).min(c.max_servers);
        let provisioning = (self.pending_ready_s.len() as u32).min(c.max_servers - active);
        self.pending_ready_s.truncate(provisioning as usize);
        self.desired = self.desired.clamp(c.min_servers, c.max_servers);
        Decision {
            desired: self.desired,
            active,
            provisioning,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand::SeedableRng;
    use statrs::distribution::{ChiSquared, ContinuousCDF};

    const SEED: u64 = 20250901;

    /// Hour-of-day counts of arrivals over `days` whole days, and the total.
    fn hourly_counts(
        profile: &DailyProfile,
        mean_rate_per_s: f64,
        start_hour: f64,
        days: u32,
    ) -> [u64; 24] {
        let rng = ChaCha8Rng::seed_from_u64(SEED);
        let mut arr = DiurnalArrivals::new(profile.clone(), mean_rate_per_s, start_hour, rng)
            .expect("valid arrivals");
        let end_s = f64::from(days) * 86_400.0;
        let mut counts = [0u64; 24];
        loop {
            let t = arr.next_arrival_s();
            if t >= end_s {
                break;
            }
            counts[DailyProfile::hour_of_day(t, start_hour)] += 1;
        }
        counts
    }

    /// Pearson chi-square of `counts` against `weights` (expected shares conditional on the
    /// total), and its p-value with 23 degrees of freedom.
    fn chi_square(counts: &[u64; 24], weights: &[f64; 24]) -> (f64, f64) {
        let n: u64 = counts.iter().sum();
        let wsum: f64 = weights.iter().sum();
        let stat: f64 = counts
            .iter()
            .zip(weights)
            .map(|(&o, &w)| {
                let e = n as f64 * w / wsum;
                (o as f64 - e).powi(2) / e
            })
            .sum();
        let p = ChiSquared::new(23.0).expect("df > 0").sf(stat);
        (stat, p)
    }

    #[test]
    fn chi_square_accepts_true_profile_and_rejects_wrong_ones() {
        let human = DailyProfile::builtin_human();
        // 20 days at 0.05/s: about 86 400 arrivals, at least ~3 000 in the quietest hour.
        let counts = hourly_counts(&human, 0.05, 0.0, 20);
        let (stat, p) = chi_square(&counts, &human.hourly_weights);
        eprintln!("seed {SEED}: true profile chi2 = {stat:.2}, p = {p:.4}, counts {counts:?}");
        assert!(
            p > 0.001,
            "seed {SEED}: true profile rejected, chi2 {stat}, p {p}"
        );

        let (stat_flat, p_flat) = chi_square(&counts, &DailyProfile::flat().hourly_weights);
        eprintln!("seed {SEED}: flat profile chi2 = {stat_flat:.1}, p = {p_flat:e}");
        assert!(
            p_flat < 1e-6,
            "seed {SEED}: flat profile accepted, p {p_flat}"
        );

        // Shifted one hour late: the same shape in the wrong hours.
        let mut shifted = [0.0; 24];
        for (h, w) in shifted.iter_mut().enumerate() {
            *w = human.hourly_weights[(h + 23) % 24];
        }
        let (stat_shift, p_shift) = chi_square(&counts, &shifted);
        eprintln!("seed {SEED}: shifted profile chi2 = {stat_shift:.1}, p = {p_shift:e}");
        assert!(
            p_shift < 1e-6,
            "seed {SEED}: shifted profile accepted, p {p_shift}"
        );
    }

    #[test]
    fn start_hour_offset_shifts_the_profile() {
        let human = DailyProfile::builtin_human();
        // Counted by hour of day (offset applied), the counts still follow the weights.
        let counts = hourly_counts(&human, 0.05, 19.0, 10);
        let (stat, p) = chi_square(&counts, &human.hourly_weights);
        eprintln!("seed {SEED}: start 19:00, chi2 = {stat:.2}, p = {p:.4}");
        assert!(
            p > 0.001,
            "seed {SEED}: offset run rejected, chi2 {stat}, p {p}"
        );
        assert_eq!(
            human.rate_at_with_start_hour(0.0, 1.0, 19.0),
            human.peak_rate(1.0)
        );
        assert_eq!(
            human.rate_at_with_start_hour(1800.0, 2.0, 18.5),
            human.rate_at(19.0 * 3600.0, 2.0)
        );
    }

    #[test]
    fn mean_rate_over_whole_days_matches() {
        let human = DailyProfile::builtin_human();
        let mean_rate_per_s = 0.05;
        let days = 20;
        let n: u64 = hourly_counts(&human, mean_rate_per_s, 3.25, days)
            .iter()
            .sum();
        let expected = mean_rate_per_s * f64::from(days) * 86_400.0;
        // Poisson: sd = sqrt(expected) ≈ 294; allow 4 sd.
        let z = (n as f64 - expected) / expected.sqrt();
        eprintln!("seed {SEED}: {n} arrivals, {expected} expected, z = {z:.2}");
        assert!(
            z.abs() < 4.0,
            "seed {SEED}: {n} arrivals vs {expected} expected, z {z:.2}"
        );
    }

    #[test]
    fn same_seed_same_times() {
        let make = || {
            DiurnalArrivals::new(
                DailyProfile::builtin_human(),
                1.0,
                0.0,
                ChaCha8Rng::seed_from_u64(7),
            )
            .unwrap()
        };
        let (mut a, mut b) = (make(), make());
        for _ in 0..1000 {
            assert_eq!(a.next_arrival_s().to_bits(), b.next_arrival_s().to_bits());
        }
    }

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

    fn config() -> AutoscalerConfig {
        AutoscalerConfig {
            min_servers: 2,
            max_servers: 20,
            target_utilization: 0.6,
            scale_out_delay_s: 120.0,
            scale_in_cooldown_s: 300.0,
            interval_s: 30.0,
        }
    }

    #[test]
    fn autoscaler_config_validation() {
        let bad = [
            AutoscalerConfig {
                min_servers: 0,
                ..config()
            },
            AutoscalerConfig {
                max_servers: 1,
                ..config()
            },
            AutoscalerConfig {
                target_utilization: 0.0,
                ..config()
            },
            AutoscalerConfig {
                target_utilization: f64::NAN,
                ..config()
            },
            AutoscalerConfig {
                scale_out_delay_s: -1.0,
                ..config()
            },
            AutoscalerConfig {
                interval_s: 0.0,
                ..config()
            },
        ];
        for c in bad {
            assert!(Autoscaler::new(c.clone()).is_err(), "{c:?}");
        }
    }

    #[test]
    fn load_step_scales_out_within_delay_plus_one_interval() {
        let c = config();
        let mut a = Autoscaler::new(c.clone()).unwrap();
        let mut active = c.min_servers;
        let step_s = 1000.0;
        let mut t = 0.0;
        let mut ordered_at = None;
        let mut scaled_at = None;
        while t < 3000.0 {
            let util = if t < step_s { 0.5 } else { 1.0 };
            let d = a.observe(t, util, active);
            if d.desired > c.min_servers && ordered_at.is_none() {
                ordered_at = Some(t);
            }
            if d.active > active && scaled_at.is_none() {
                scaled_at = Some(t);
            }
            if t < step_s {
                assert_eq!(d.active, c.min_servers, "0.5 < 0.6 target: stay at min");
            }
            active = d.active;
            t += 10.0;
        }
        let ordered_at = ordered_at.expect("ordered servers");
        assert!(
            (step_s..=step_s + c.interval_s).contains(&ordered_at),
            "order at {ordered_at}"
        );
        let scaled_at = scaled_at.expect("scaled out");
        assert!(
            scaled_at >= step_s + c.scale_out_delay_s,
            "too early: {scaled_at}"
        );
        assert!(
            scaled_at <= step_s + c.scale_out_delay_s + c.interval_s,
            "too late: {scaled_at}"
        );
        assert_eq!(active, c.max_servers, "full load keeps growing to max");
    }

    #[test]
    fn scale_in_waits_for_cooldown() {
        let c = AutoscalerConfig {
            scale_out_delay_s: 0.0,
            ..config()
        };
        let mut a = Autoscaler::new(c.clone()).unwrap();
        let d = a.observe(0.0, 1.0, 6);
        assert_eq!(d.active, 10, "ceil(6 / 0.6) at once with zero delay");
        let mut active = d.active;
        let mut t = 30.0;
        while t < 290.0 {
            active = a.observe(t, 0.1, active).active;
            assert_eq!(active, 10, "cooldown not over at t={t}");
            t += 30.0;
        }
        let d = a.observe(300.0, 0.1, active);
        assert_eq!(d.active, c.min_servers, "ceil(10 * 0.1 / 0.6) = 2");
    }

    #[test]
    fn scale_in_cancels_pending_first() {
        let c = AutoscalerConfig {
            scale_in_cooldown_s: 0.0,
            ..config()
        };
        let mut a = Autoscaler::new(c).unwrap();
        let d = a.observe(0.0, 1.0, 6);
        assert_eq!((d.active, d.provisioning, d.desired), (6, 4, 10));
        // ceil(6 * 0.8 / 0.6) = 8: two of the four orders are cancelled, nobody removed.
        let d = a.observe(30.0, 0.8, 6);
        assert_eq!((d.active, d.provisioning, d.desired), (6, 2, 8));
        let d = a.observe(120.0, 0.8, 6);
        assert_eq!((d.active, d.provisioning, d.desired), (8, 0, 8));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn arrival_times_strictly_increase(
            seed in any::<u64>(),
            weights in proptest::collection::vec(0.0f64..10.0, 24),
            mean_rate_per_s in 0.001f64..100.0,
            start_hour in -48.0f64..48.0,
        ) {
            let mut weights = weights;
            weights[(seed % 24) as usize] += 0.5; // never all zero
            let profile = DailyProfile::from_weights(&weights).unwrap();
            let mut arr = DiurnalArrivals::new(
                profile, mean_rate_per_s, start_hour, ChaCha8Rng::seed_from_u64(seed),
            ).unwrap();
            let mut last = 0.0;
            for _ in 0..200 {
                let t = arr.next_arrival_s();
                prop_assert!(t > last, "seed {seed}: {t} after {last}");
                last = t;
            }
        }

        #[test]
        fn autoscaler_stays_in_bounds(
            min_servers in 1u32..5,
            extra in 0u32..10,
            target_utilization in 0.05f64..1.0,
            scale_out_delay_s in 0.0f64..300.0,
            scale_in_cooldown_s in 0.0f64..600.0,
            interval_s in 1.0f64..60.0,
            steps in proptest::collection::vec(
                (0.0f64..100.0, prop_oneof![0.0f64..3.0, Just(f64::NAN), Just(-1.0)], 0u32..40, any::<bool>()),
                1..200,
            ),
        ) {
            let max_servers = min_servers + extra;
            let c = AutoscalerConfig {
                min_servers, max_servers, target_utilization,
                scale_out_delay_s, scale_in_cooldown_s, interval_s,
            };
            let mut a = Autoscaler::new(c).unwrap();
            let mut t = 0.0;
            let mut active = min_servers;
            for (dt, util, wild, use_wild) in steps {
                t += dt;
                // Mostly feed back the decision; sometimes a wild count (failures, bugs).
                let current = if use_wild { wild } else { active };
                let d = a.observe(t, util, current);
                prop_assert!((min_servers..=max_servers).contains(&d.active), "{d:?}");
                prop_assert!((min_servers..=max_servers).contains(&d.desired), "{d:?}");
                prop_assert!(d.active + d.provisioning <= max_servers, "{d:?}");
                active = d.active;
            }
        }
    }
}
