//! The fleet's autoscaler: how many servers run. A pure state machine (no clock, no I/O, no
//! randomness) that the LLM fleet feeds with its load every `interval_s`; its settings are
//! the scenario's [`AutoscalerConfig`].

use crate::scenario::autoscale::AutoscalerConfig;

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
        config.check()?;
        let desired = config.min_servers;
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
