//! Time-of-day load: arrivals from a non-homogeneous Poisson process following a
//! [`DailyProfile`] (see [`crate::scenario::profile`] for the model).
//!
//! [`DiurnalArrivals`] samples that process exactly by thinning (Lewis and Shedler, 1979):
//! candidates come from a homogeneous Poisson process at the peak rate, and each candidate at
//! time `t` is kept with probability `rate(t) / peak`. Nothing is approximated; the cost is
//! `peak / mean` candidates per arrival (about 2 for the built-in human profile).
//!
//! # Errors
//!
//! [`DiurnalArrivals::new`] returns `Err(String)` with a message that says what to fix.
//! Nothing in this module panics on user input.

use rand::RngExt;
use rand::rngs::ChaCha8Rng;
use rand_distr::{Distribution, Exp};

use crate::scenario::profile::DailyProfile;

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
    }
}
