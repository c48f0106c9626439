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
}
