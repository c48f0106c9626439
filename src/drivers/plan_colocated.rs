//! The plan of one (colocated) fleet: the fewest servers that meet every `[slo]` target.
//!
//! A count meets a target only if the upper end of the 95% confidence interval of the
//! target's statistic (mean over replications + half-width) is at most the bound, and its
//! run is stable. The search brackets the answer from the scenario's own count (doubling up
//! while it fails, or halving down while it passes) and then bisects: about 2·log2(n) runs,
//! never a scan. It assumes that more servers never make a target worse; the seeds give
//! common random numbers across counts (the arrival and token streams do not depend on the
//! count), which keeps neighbouring counts comparable.
//!
//! Every count tried is cached and reported in the curve, sorted by count.
//!
//! **Replications.** When the scenario sets `run.replications`, every count runs that many.
//! When it does not, `plan` chooses: each count starts with [`AUTO_REPLICATIONS_START`] and
//! doubles its replications (reusing the ones already run: replication `r` is the same run
//! whatever the total) while a target's 95% interval still contains its bound and no other
//! target clearly fails, up to [`AUTO_REPLICATIONS_MAX`]; the curve reports the count used.
//!
//! **Run length.** Each count's summary carries the steady-state diagnostics
//! ([`crate::metrics::steady`]). When a count's runs had not settled and the second halves of
//! its runs give the other verdict, `flips` says so next to the answer.
//!
//! **Timing band.** For LLM fleets the search is repeated with every step time scaled by
//! 1 ± the timing model's typical calibration error
//! ([`crate::timing::calibration::typical_step_time_error`]), starting from the answer and
//! stepping outwards: `timing_band` is how far the answer moves if the model is that far off.
//! Queue servers take their service times from the scenario itself, so they get no band.

use std::collections::BTreeMap;

use crate::drivers::run::{run_replications, summarize};
use crate::fleet::{control::UNCONTROLLED, offered_load};
use crate::metrics::replication::LatencyStat;
use crate::metrics::replication::ReplicationOutcome;
use crate::report::summary::RunSummary;
use crate::scenario::{Scenario, ServerKind, SloTarget};

use crate::report::outcome::{
    AUTO_REPLICATIONS_MAX, AUTO_REPLICATIONS_START, Below, CurvePoint, PlanOutcome, TargetValue,
    TimingBand,
};

/// The most replications `plan` may run at one count of `s`: the scenario's own when it sets
/// them, else [`AUTO_REPLICATIONS_MAX`] (for budgets such as the HTTP service's cap).
pub fn replications_bound(s: &Scenario) -> u32 {
    if s.run.replications_set {
        s.run.replications
    } else {
        AUTO_REPLICATIONS_MAX
    }
}

/// The band searches look no further than this many times the answer (plus one).
const BAND_SEARCH_FACTOR: u32 = 4;

/// The default upper bound of the search (`--servers-max`).
pub const DEFAULT_MAX_SERVERS: u32 = 1_000_000;

/// While doubling, a failing count whose targets improved by less than this fraction over
/// the previous (half) count, with the fleet idle at least [`PLATEAU_IDLE_RATE`] of the
/// time, means more servers cannot help (e.g. a target below the service time itself).
const PLATEAU_IMPROVEMENT: f64 = 0.01;
/// The idle rate above which a fleet is clearly not load-limited (see [`PLATEAU_IMPROVEMENT`]).
const PLATEAU_IDLE_RATE: f64 = 0.5;

/// Why a plan has no answer. Each is fixable by editing the scenario or a flag.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// The scenario has no targets to plan for.
    #[error(
        "no [slo] section: plan needs at least one latency target, e.g. `[slo]` with \
         `queue_wait_mean_s = 0.5` (or --set slo.ttft_p99_s=2.0)"
    )]
    NoSlo,
    /// A confidence interval needs at least two replications.
    #[error(
        "run.replications = {replications}: plan judges each count by a 95% confidence \
         interval, which needs at least 2 independent replications; set run.replications \
         (e.g. --replications 5), or leave it unset and plan chooses per count"
    )]
    TooFewReplications {
        /// The scenario's replications.
        replications: u32,
    },
    /// The search's upper bound does not meet every target.
    #[error(
        "{servers} servers (the upper bound; raise it with --servers-max) do not meet every \
         target: {why}"
    )]
    UpperBoundFails {
        /// The bound.
        servers: u32,
        /// The targets it failed, and by how much.
        why: String,
    },
    /// Doubling the fleet stopped helping while it still failed.
    #[error(
        "more servers do not help: {servers} servers still fail ({why}), less than 1% better \
         than {previous} with the fleet idle {idle:.0}% of the time; the target is below what \
         one server can deliver"
    )]
    Plateau {
        /// The larger count.
        servers: u32,
        /// The count half its size.
        previous: u32,
        /// The targets it failed, and by how much.
        why: String,
        /// Idle percentage at `servers`.
        idle: f64,
    },
}

impl TargetValue {
    /// The drift beyond which the statistic has not settled (the diagnostics' thresholds).
    fn drift_limit(&self) -> f64 {
        if self.stat == LatencyStat::Mean {
            crate::metrics::steady::DRIFT_WARN_MEAN
        } else {
            crate::metrics::steady::DRIFT_WARN_P99
        }
    }
}

impl TargetValue {
    /// "slo.x_s: 0.24 ± 0.01 s > 0.15 s (by 0.10 s)" style text.
    fn describe(&self) -> String {
        match (self.mean_s, self.ci95_s, self.upper_s) {
            (Some(m), Some(h), Some(u)) => format!(
                "{} = {m:.4} ± {h:.4} s, upper {u:.4} s {} {} s (by {:+.4} s)",
                self.key,
                if self.pass { "≤" } else { ">" },
                self.max_s,
                u - self.max_s
            ),
            _ => format!("{}: not measured", self.key),
        }
    }
}

impl CurvePoint {
    /// Whether every target is met by its second-half value (none if a value is missing).
    fn second_half_pass(&self) -> Option<bool> {
        self.targets
            .iter()
            .map(|t| t.second_half_s.map(|v| v <= t.max_s))
            .collect::<Option<Vec<bool>>>()
            .map(|v| v.iter().all(|&p| p))
    }

    /// Whether at least one target's interval contains its bound while none clearly fails:
    /// more replications could still change the verdict.
    pub(crate) fn undecided(&self) -> bool {
        let clear_fail = self.targets.iter().any(|t| match (t.mean_s, t.ci95_s) {
            (Some(m), Some(h)) => m - h > t.max_s,
            _ => true,
        });
        self.stable
            && !clear_fail
            && self.targets.iter().any(|t| match (t.mean_s, t.ci95_s) {
                (Some(m), Some(h)) => (m - t.max_s).abs() < h,
                _ => false,
            })
    }

    /// The reasons this count fails, one per failed target (or the instability).
    pub fn failures(&self) -> Vec<String> {
        let mut out: Vec<String> = self.unstable_reason.iter().cloned().collect();
        out.extend(
            self.targets
                .iter()
                .filter(|t| match t.upper_s {
                    Some(u) => u > t.max_s,
                    None => self.stable,
                })
                .map(TargetValue::describe),
        );
        out
    }
}

/// Refuses a scenario `plan` cannot search (no targets, fewer than 2 replications) and
/// returns the search's upper bound: `servers_max` within the sizes validation allows.
pub fn plannable(scenario: &Scenario, servers_max: u32) -> Result<u32, PlanError> {
    if scenario.slo.is_empty() {
        return Err(PlanError::NoSlo);
    }
    if scenario.run.replications_set && scenario.run.replications < 2 {
        return Err(PlanError::TooFewReplications {
            replications: scenario.run.replications,
        });
    }
    // Never search past the sizes validation allows (memory is bounded by them).
    Ok(servers_max.clamp(1, scenario.max_servers_allowed()))
}

/// Finds the smallest count in `1..=servers_max` of the `[servers]` fleet meeting every
/// target of `scenario.slo`, running each count's replications on `threads` threads (results
/// do not depend on it).
pub fn plan_colocated(
    scenario: &Scenario,
    threads: Option<usize>,
    servers_max: u32,
) -> Result<PlanOutcome, PlanError> {
    let servers_max = plannable(scenario, servers_max)?;
    let mut search = Search::new(scenario, threads);

    // Bracket: `fail` fails (or is 0), `pass` passes.
    let start = scenario.servers.count.clamp(1, servers_max);
    let (mut fail, mut pass) = if search.eval(start).pass {
        let mut pass = start;
        let mut fail = 0;
        while pass > 1 {
            let n = pass / 2;
            if search.eval(n).pass {
                pass = n;
            } else {
                fail = n;
                break;
            }
        }
        (fail, pass)
    } else {
        let mut fail = start;
        loop {
            if fail >= servers_max {
                let why = search.eval(servers_max).failures().join("; ");
                return Err(PlanError::UpperBoundFails {
                    servers: servers_max,
                    why,
                });
            }
            let n = fail.saturating_mul(2).min(servers_max);
            if search.eval(n).pass {
                break (fail, n);
            }
            search.check_plateau(fail, n)?;
            fail = n;
        }
    };
    // Bisect: keep `fail` failing and `pass` passing until they are neighbours.
    while pass - fail > 1 {
        let mid = fail + (pass - fail) / 2;
        if search.eval(mid).pass {
            pass = mid;
        } else {
            fail = mid;
        }
    }

    let chosen = search.eval(pass).clone();
    let summary = search.cache.get(&pass).and_then(|e| e.summary.clone());
    let longer = (scenario.traffic.duration_s * 4.0).max(600.0);
    let mut flips = Vec::new();
    // The answer is at risk when a target's statistic was still getting worse.
    let worse: Vec<String> = chosen
        .targets
        .iter()
        .filter_map(|t| t.drift.filter(|&d| d > t.drift_limit()).map(|d| (t, d)))
        .map(|(t, d)| format!("{} rose {:.0}%", t.key, 100.0 * d))
        .collect();
    if !worse.is_empty() {
        let already = if chosen.second_half_pass() == Some(false) {
            ", and the second halves already miss a target"
        } else {
            ""
        };
        flips.push(format!(
            "{pass} servers was judged on runs that had not settled ({} from the first to the \
             second half{already}): longer runs may need more servers; rerun with \
             --duration-s {longer:.0}",
            worse.join(", ")
        ));
    }
    if fail >= 1 {
        let p = &search.cache[&fail].point;
        let better: Vec<String> = p
            .targets
            .iter()
            .filter(|t| !t.pass)
            .filter_map(|t| t.drift.filter(|&d| d < -t.drift_limit()).map(|d| (t, d)))
            .map(|(t, d)| format!("{} fell {:.0}%", t.key, -100.0 * d))
            .collect();
        if p.stable && !better.is_empty() {
            flips.push(format!(
                "{fail} servers was judged on runs that had not settled ({} from the first to \
                 the second half): longer runs might do with fewer; rerun with \
                 --duration-s {longer:.0}",
                better.join(", ")
            ));
        }
    }
    let (timing_band, timing_band_omitted) = match &scenario.servers.kind {
        ServerKind::Llm(_) => (
            Some(timing_band(scenario, threads, pass, servers_max)),
            None,
        ),
        ServerKind::Queue { .. } => (
            None,
            Some(
                "queue servers take their service times from the scenario, not from the LLM \
                 timing model, so the model's calibration error does not apply"
                    .to_string(),
            ),
        ),
    };
    let below = (fail >= 1).then(|| {
        let p = &search.cache[&fail].point;
        Below {
            servers: fail,
            why: p.failures(),
            failed: p.targets.iter().filter(|t| !t.pass).cloned().collect(),
        }
    });
    Ok(PlanOutcome {
        scenario: scenario.name.clone(),
        seed: scenario.run.seed,
        fleetsim_version: env!("CARGO_PKG_VERSION").into(),
        replications: chosen.replications,
        replications_auto: !scenario.run.replications_set,
        targets: scenario.slo.iter().map(|t| (t.key(), t.max_s)).collect(),
        servers_max,
        servers: pass,
        below,
        achieved_idle_rate: chosen.achieved_idle_rate,
        equivalent_idle_rate: chosen.equivalent_idle_rate,
        assumed_idle_rate: scenario.cost.assumed_idle_rate,
        cost_per_request_usd: chosen.cost_per_request_usd,
        formula_cost_per_request_usd: chosen.formula_cost_per_request_usd,
        flips,
        timing_band,
        timing_band_omitted,
        curve: search.cache.into_values().map(|e| e.point).collect(),
        summary,
        disaggregated: None,
    })
}

/// The answer with every step time scaled by 1 ± the timing model's typical error.
fn timing_band(
    scenario: &Scenario,
    threads: Option<usize>,
    servers: u32,
    servers_max: u32,
) -> TimingBand {
    let limit = servers_max.min(servers.saturating_mul(BAND_SEARCH_FACTOR).saturating_add(1));
    let sides = band_sides(scenario, |s| {
        Search::new(s, threads)
            .nearest(servers, limit)
            .ok_or_else(|| format!("no count up to {limit} meets every target"))
    });
    TimingBand {
        step_time_scale_low: sides.scale_low,
        step_time_scale_high: sides.scale_high,
        servers_low: sides.at_low,
        servers_high: sides.at_high,
        pair_low: None,
        pair_high: None,
        note: sides.note,
    }
}

/// A plan's answer at both ends of the timing band (see [`band_sides`]).
pub(super) struct BandSides<T> {
    pub scale_low: f64,
    pub scale_high: f64,
    /// The answer with step times at `scale_low` (none if the search failed).
    pub at_low: Option<T>,
    /// The answer with step times at `scale_high`.
    pub at_high: Option<T>,
    /// Why a side has no answer, if one has none.
    pub note: Option<String>,
}

/// Plans `scenario` again by `answer` with every modelled step time (split pools included)
/// scaled by 1 − and 1 + the timing model's typical error.
pub(super) fn band_sides<T>(
    scenario: &Scenario,
    mut answer: impl FnMut(&Scenario) -> Result<T, String>,
) -> BandSides<T> {
    let err = crate::timing::calibration::typical_step_time_error();
    let (scale_low, scale_high) = (1.0 - err, 1.0 + err);
    let mut notes = Vec::new();
    let mut side = |scale: f64| {
        let mut s = scenario.clone();
        if let ServerKind::Llm(spec) = &mut s.servers.kind {
            spec.step_time_scale *= scale;
        }
        if let Some(split) = s.servers.disagg.as_deref_mut() {
            split.prefill.spec.step_time_scale *= scale;
            split.decode.spec.step_time_scale *= scale;
        }
        answer(&s)
            .map_err(|e| notes.push(format!("with step times x{scale:.3}, {e}")))
            .ok()
    };
    let (at_low, at_high) = (side(scale_low), side(scale_high));
    BandSides {
        scale_low,
        scale_high,
        at_low,
        at_high,
        note: (!notes.is_empty()).then(|| notes.join("; ")),
    }
}

/// One evaluated count: its verdict and its summary (none when it was not run).
struct Entry {
    point: CurvePoint,
    summary: Option<RunSummary>,
}

/// The search state: the scenario and every count evaluated so far.
struct Search<'a> {
    scenario: &'a Scenario,
    threads: Option<usize>,
    cache: BTreeMap<u32, Entry>,
}

impl<'a> Search<'a> {
    fn new(scenario: &'a Scenario, threads: Option<usize>) -> Self {
        Search {
            scenario,
            threads,
            cache: BTreeMap::new(),
        }
    }

    /// Evaluates `n` servers once; later calls return the cached point.
    fn eval(&mut self, n: u32) -> &CurvePoint {
        if !self.cache.contains_key(&n) {
            let mut s = self.scenario.clone();
            s.servers.count = n;
            let entry = match offered_load(&s) {
                // Queue servers at ρ ≥ 1 cannot be stable: no need to run until the
                // overload guard trips.
                Some(rho) if rho >= 1.0 => Entry {
                    point: judge(
                        n,
                        0,
                        &self.scenario.slo,
                        None,
                        Some(format!("unstable: offered load ρ = {rho:.3} ≥ 1")),
                    ),
                    summary: None,
                },
                _ => self.run_count(&mut s),
            };
            self.cache.insert(n, entry);
        }
        &self.cache[&n].point
    }

    /// Runs one count, adding replications while its verdict is undecided (when `plan`
    /// chooses the replications).
    fn run_count(&self, s: &mut Scenario) -> Entry {
        let (point, summary) = run_judged(s, self.threads);
        Entry {
            point,
            summary: Some(summary),
        }
    }

    /// The smallest passing count near `start` (within `1..=limit`): steps of 1, 2, 4, ...
    /// away from `start` until the verdict changes, then bisection. None if `limit` fails.
    fn nearest(&mut self, start: u32, limit: u32) -> Option<u32> {
        let start = start.clamp(1, limit.max(1));
        let (mut fail, mut pass) = if self.eval(start).pass {
            let (mut pass, mut step) = (start, 1u32);
            loop {
                if pass == 1 {
                    break (0, 1);
                }
                let n = pass.saturating_sub(step).max(1);
                if self.eval(n).pass {
                    pass = n;
                    step = step.saturating_mul(2);
                } else {
                    break (n, pass);
                }
            }
        } else {
            let (mut fail, mut step) = (start, 1u32);
            loop {
                if fail >= limit {
                    return None;
                }
                let n = fail.saturating_add(step).min(limit);
                if self.eval(n).pass {
                    break (fail, n);
                }
                fail = n;
                step = step.saturating_mul(2);
            }
        };
        while pass - fail > 1 {
            let mid = fail + (pass - fail) / 2;
            if self.eval(mid).pass {
                pass = mid;
            } else {
                fail = mid;
            }
        }
        Some(pass)
    }

    /// While doubling from `prev` to `n` (both failing): stop if more servers stopped helping.
    fn check_plateau(&self, prev: u32, n: u32) -> Result<(), PlanError> {
        let (a, b) = (&self.cache[&prev].point, &self.cache[&n].point);
        let Some(idle) = b.achieved_idle_rate else {
            return Ok(());
        };
        if !(a.stable && b.stable) || idle < PLATEAU_IDLE_RATE {
            return Ok(());
        }
        let stuck = a.targets.iter().zip(&b.targets).all(|(ta, tb)| {
            tb.pass
                || matches!((ta.mean_s, tb.mean_s), (Some(x), Some(y))
                    if y >= x * (1.0 - PLATEAU_IMPROVEMENT))
        });
        if stuck {
            return Err(PlanError::Plateau {
                servers: n,
                previous: prev,
                why: b.failures().join("; "),
                idle: idle * 100.0,
            });
        }
        Ok(())
    }
}

/// Runs `s` at its server count and judges it against its targets, adding replications
/// (3, 6, 12, 24, reusing those already run) while the verdict is undecided when `plan`
/// chooses them; shared by the one-count and the two-pool searches.
pub(crate) fn run_judged(s: &mut Scenario, threads: Option<usize>) -> (CurvePoint, RunSummary) {
    let auto = !s.run.replications_set;
    let mut reps = if auto {
        AUTO_REPLICATIONS_START
    } else {
        s.run.replications
    };
    let mut outcomes: Vec<ReplicationOutcome> =
        run_replications(s, 0..reps, threads, &UNCONTROLLED);
    loop {
        s.run.replications = reps;
        let summary = summarize(s, &outcomes);
        let unstable = (!summary.stable).then(|| {
            let detail = summary
                .overload
                .as_ref()
                .and_then(|a| a.first())
                .map_or("queue grew without bound", String::as_str);
            format!("unstable: {detail}")
        });
        let point = judge(s.servers.count, reps, &s.slo, Some(&summary), unstable);
        if !auto || reps >= AUTO_REPLICATIONS_MAX || !point.undecided() {
            return (point, summary);
        }
        let more = (reps * 2).min(AUTO_REPLICATIONS_MAX);
        outcomes.extend(run_replications(s, reps..more, threads, &UNCONTROLLED));
        reps = more;
    }
}

/// Judges one count's summary (none when the count was not run) against the targets.
pub(crate) fn judge(
    n: u32,
    replications: u32,
    slo: &[SloTarget],
    summary: Option<&RunSummary>,
    unstable: Option<String>,
) -> CurvePoint {
    let stable = unstable.is_none();
    let targets: Vec<TargetValue> = slo
        .iter()
        .map(|t| {
            let r = summary.map(|s| s.reading(t)).unwrap_or_default();
            let upper_s = r.mean_s.zip(r.ci95_s).map(|(m, h)| m + h);
            TargetValue {
                key: t.key(),
                stat: t.stat,
                max_s: t.max_s,
                mean_s: r.mean_s,
                ci95_s: r.ci95_s,
                upper_s,
                pass: stable && upper_s.is_some_and(|u| u <= t.max_s),
                second_half_s: r.second_half_s,
                drift: r.drift,
            }
        })
        .collect();
    let finite = |x: Option<f64>| x.filter(|x| x.is_finite());
    CurvePoint {
        servers: n,
        replications,
        pass: stable && targets.iter().all(|t| t.pass),
        stable,
        unstable_reason: unstable,
        targets,
        achieved_idle_rate: finite(summary.map(|s| s.means.idle_rate.rates.achieved)),
        equivalent_idle_rate: finite(
            summary
                .and_then(|s| s.means.idle_rate.formula.as_ref())
                .and_then(|f| f.equivalent),
        ),
        cost_per_request_usd: finite(summary.and_then(|s| s.cost.cloud.per_request_usd)),
        formula_cost_per_request_usd: finite(
            summary.and_then(|s| s.cost.formula.as_ref().map(|f| f.per_request_usd)),
        ),
        warnings: summary.map(|s| s.warnings().to_vec()).unwrap_or_default(),
    }
}
