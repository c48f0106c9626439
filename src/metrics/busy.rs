//! Time-weighted accounting of a level (slots in service, requests in system) over the
//! measured window, for idle rates, utilisation and Little's law.

use crate::engine::SimTime;

/// Integrates a piecewise-constant level over the window [from, to].
#[derive(Clone, Debug)]
pub struct LevelMeter {
    from: SimTime,
    to: SimTime,
    last: SimTime,
    level: u64,
    /// ∫ level dt over the window, in level·ns.
    area: u128,
    /// Time in the window with level > 0, in ns.
    nonzero_ns: u64,
}

impl LevelMeter {
    /// A meter at level 0 that counts only time inside [from, to].
    pub fn new(from: SimTime, to: SimTime) -> Self {
        LevelMeter {
            from,
            to,
            last: SimTime::ZERO,
            level: 0,
            area: 0,
            nonzero_ns: 0,
        }
    }

    fn advance(&mut self, now: SimTime) {
        let a = self.last.max(self.from);
        let b = now.min(self.to);
        if b > a {
            let dt = (b - a).0;
            self.area += u128::from(dt) * u128::from(self.level);
            if self.level > 0 {
                self.nonzero_ns += dt;
            }
        }
        self.last = self.last.max(now);
    }

    /// The level changes to `level` at `now` (times must not decrease).
    #[inline]
    pub fn set(&mut self, now: SimTime, level: u64) {
        self.advance(now);
        self.level = level;
    }

    /// The current level.
    pub fn level(&self) -> u64 {
        self.level
    }

    /// Adds `other`, the meter of a disjoint part of the same system over the same window
    /// (a shard), after advancing both to `end`: integrals and levels add exactly. The time
    /// with a level above zero is not additive: the merged meter keeps the longest of the
    /// two (a lower bound).
    pub fn merge(&mut self, other: &LevelMeter, end: SimTime) {
        let mut other = other.clone();
        other.advance(end);
        self.advance(end);
        self.area += other.area;
        self.level += other.level;
        self.nonzero_ns = self.nonzero_ns.max(other.nonzero_ns);
    }

    /// Closes the window at `end` and returns (∫ level dt in level·s, time with level > 0 in s,
    /// window length in s).
    pub fn finish(&mut self, end: SimTime) -> (f64, f64, f64) {
        self.advance(end);
        let window = end.min(self.to).since(self.from).as_secs_f64();
        (self.area as f64 / 1e9, self.nonzero_ns as f64 / 1e9, window)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_time_inside_the_window_counts() {
        let mut m = LevelMeter::new(SimTime(10), SimTime(100));
        m.set(SimTime(0), 2); // 2 during [0, 20): 10 ns inside
        m.set(SimTime(20), 0); // idle [20, 50)
        m.set(SimTime(50), 1); // 1 during [50, 120): 50 ns inside
        let (area, busy, window) = m.finish(SimTime(120));
        assert_eq!(area, (2 * 10 + 50) as f64 / 1e9);
        assert_eq!(busy, 60.0 / 1e9);
        assert_eq!(window, 90.0 / 1e9);
    }

    #[test]
    fn merged_meters_add_their_integrals_and_levels() {
        let (from, to) = (SimTime(10), SimTime(100));
        let mut a = LevelMeter::new(from, to);
        a.set(SimTime(0), 2);
        a.set(SimTime(40), 1);
        let mut b = LevelMeter::new(from, to);
        b.set(SimTime(20), 3);
        let mut both = LevelMeter::new(from, to);
        both.set(SimTime(0), 2);
        both.set(SimTime(20), 5);
        both.set(SimTime(40), 4);
        a.merge(&b, SimTime(100));
        assert_eq!(a.level(), 4);
        assert_eq!(a.finish(SimTime(100)).0, both.finish(SimTime(100)).0);
    }
}
