//! Integer simulation time. The engine never touches floating-point time or the wall clock:
//! every instant is a whole number of nanoseconds since the start of the run.

use std::fmt;
use std::ops::{Add, AddAssign, Sub};

/// Nanoseconds per second, the engine's time resolution.
pub const NS_PER_S: u64 = 1_000_000_000;

/// An instant in simulated time, in nanoseconds since the start of the run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SimTime(pub u64);

/// A span of simulated time, in nanoseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SimDuration(pub u64);

impl SimTime {
    /// The start of every run.
    pub const ZERO: SimTime = SimTime(0);
    /// Later than any event a run can schedule.
    pub const NEVER: SimTime = SimTime(u64::MAX);

    /// Converts seconds to an instant, rounding to the nearest nanosecond.
    pub fn from_secs_f64(secs: f64) -> SimTime {
        SimTime(SimDuration::from_secs_f64(secs).0)
    }

    /// Seconds since the start of the run, for reports only.
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / NS_PER_S as f64
    }

    /// Time elapsed since `earlier`; zero if `earlier` is later (never negative).
    pub fn since(self, earlier: SimTime) -> SimDuration {
        SimDuration(self.0.saturating_sub(earlier.0))
    }
}

impl SimDuration {
    /// No time at all.
    pub const ZERO: SimDuration = SimDuration(0);

    /// Converts seconds to a duration, rounding to the nearest nanosecond; negative or NaN
    /// inputs become zero and huge ones saturate (validation keeps them out of real runs).
    #[inline]
    pub fn from_secs_f64(secs: f64) -> SimDuration {
        SimDuration(round_to_u64(secs * NS_PER_S as f64))
    }

    /// The duration in seconds, for reports only.
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / NS_PER_S as f64
    }
}

/// `x as f64` for a count below 2^63 (token counts, batch sizes, steps), through the signed
/// conversion: one instruction on x86-64, where the unsigned one is a sequence of six; the
/// same value in that range.
#[inline(always)]
pub fn f64_of(x: u64) -> f64 {
    debug_assert!(x < 1 << 63, "{x} is not a count below 2^63");
    x as i64 as f64
}

/// `x as u64` for `0 ≤ x < 2^63`, through the signed conversion (fewer instructions than the
/// unsigned one; the same value in that range).
#[inline(always)]
pub fn trunc_to_u64(x: f64) -> u64 {
    debug_assert!(
        (0.0..9_223_372_036_854_775_808.0).contains(&x),
        "{x} is out of range"
    );
    x as i64 as u64
}

/// `x.round() as u64` (half away from zero; NaN and negatives give 0, huge values saturate),
/// without calling `f64::round`, which is a library call on the baseline x86-64 target.
#[inline]
pub fn round_to_u64(x: f64) -> u64 {
    // The usual case, with signed conversions (one instruction each on x86-64; the unsigned
    // ones are sequences): below 2^52 truncation and the difference are exact.
    if (0.5..4_503_599_627_370_496.0).contains(&x) {
        let t = x as i64;
        return (t + i64::from(x - t as f64 >= 0.5)) as u64;
    }
    // Also catches NaN.
    if x.is_nan() || x < 0.5 {
        return 0;
    }
    if x >= 18_446_744_073_709_551_616.0 {
        return u64::MAX;
    }
    let t = x as u64; // truncation, exact for 0.5 <= x < 2^64
    // Exact: below 2^52 the integer part has the exponent of x or less, and from 2^52 on x is
    // an integer (t as f64 == x).
    if x - t as f64 >= 0.5 { t + 1 } else { t }
}

impl Add<SimDuration> for SimTime {
    type Output = SimTime;
    fn add(self, d: SimDuration) -> SimTime {
        SimTime(self.0.saturating_add(d.0))
    }
}

impl AddAssign<SimDuration> for SimTime {
    fn add_assign(&mut self, d: SimDuration) {
        *self = *self + d;
    }
}

impl Add for SimDuration {
    type Output = SimDuration;
    fn add(self, d: SimDuration) -> SimDuration {
        SimDuration(self.0.saturating_add(d.0))
    }
}

impl AddAssign for SimDuration {
    fn add_assign(&mut self, d: SimDuration) {
        self.0 = self.0.saturating_add(d.0);
    }
}

impl Sub for SimTime {
    type Output = SimDuration;
    /// Panics in debug builds if `rhs` is later: that would be an engine bug.
    fn sub(self, rhs: SimTime) -> SimDuration {
        debug_assert!(self >= rhs, "time went backwards: {self:?} - {rhs:?}");
        SimDuration(self.0.saturating_sub(rhs.0))
    }
}

impl fmt::Display for SimTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.9}s", self.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_round_trip_to_the_nanosecond() {
        assert_eq!(SimDuration::from_secs_f64(1.5).0, 1_500_000_000);
        assert_eq!(SimDuration::from_secs_f64(-1.0).0, 0);
        assert_eq!(SimDuration::from_secs_f64(1e-9).0, 1);
        assert_eq!((SimTime(5) + SimDuration(7)).0, 12);
        assert_eq!(SimTime(3).since(SimTime(9)), SimDuration::ZERO);
    }

    #[test]
    fn signed_conversions_match_the_unsigned_ones() {
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut floats = vec![0.0, 0.999, 1.0, 9.2e18];
        for _ in 0..200_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            for c in [x >> 1, x >> 11, x >> 40] {
                assert_eq!(f64_of(c).to_bits(), (c as f64).to_bits(), "{c}");
            }
            floats.extend([(x >> 11) as f64 / 1024.0, f64::from_bits(x >> 2)]);
        }
        for v in floats {
            for v in [v, v.next_up(), v.next_down()] {
                if (0.0..9_223_372_036_854_775_808.0).contains(&v) {
                    assert_eq!(trunc_to_u64(v), v as u64, "{v:e}");
                }
            }
        }
    }

    #[test]
    fn round_to_u64_matches_round_as_u64() {
        let mut cases = vec![
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            -0.0,
            0.0,
            -0.5,
            -0.49999999999999994,
            0.49999999999999994,
            0.5,
            1.5,
            2.5,
            4503599627370495.5,
            4503599627370496.0,
            9_007_199_254_740_992.0,
            18_446_744_073_709_549_568.0,
            18_446_744_073_709_551_616.0,
            1e300,
            f64::MIN_POSITIVE,
        ];
        let mut x = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..200_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let bits = f64::from_bits(x);
            cases.push(bits);
            cases.push((x % 10_000_000) as f64 / 1000.0);
            cases.push((x >> 11) as f64 / (1u64 << 20) as f64);
        }
        for c in cases {
            for v in [c, c.next_up(), c.next_down()] {
                assert_eq!(round_to_u64(v), v.round() as u64, "{v:e}");
            }
        }
    }
}
