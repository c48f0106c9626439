//! `fleetsim plan`: the fewest servers that meet every `[slo]` target.
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

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use crate::run::run;
use crate::scenario::{Scenario, SloTarget};
use crate::sim::offered_load;

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
         (e.g. --replications 5)"
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

/// One target's value at one count.
#[derive(Clone, Debug, Serialize)]
pub struct TargetValue {
    /// The scenario key, e.g. `slo.ttft_p99_s`.
    pub key: String,
    /// The bound, seconds.
    pub max_s: f64,
    /// Mean over replications, seconds (null if not measured, e.g. an unstable count).
    pub mean_s: Option<f64>,
    /// 95% half-width, seconds.
    pub ci95_s: Option<f64>,
    /// `mean_s + ci95_s`, the value judged against `max_s`.
    pub upper_s: Option<f64>,
    /// Whether the count meets this target.
    pub pass: bool,
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

/// One count the search evaluated.
#[derive(Clone, Debug, Serialize)]
pub struct CurvePoint {
    /// Server count.
    pub servers: u32,
    /// Meets every target (and is stable).
    pub pass: bool,
    /// The run's overload verdict (false: its queue grew without bound).
    pub stable: bool,
    /// Why it is unstable, if it is.
    pub unstable_reason: Option<String>,
    /// Every target's value.
    pub targets: Vec<TargetValue>,
    /// `idle_rate.achieved`.
    pub achieved_idle_rate: Option<f64>,
    /// `idle_rate.equivalent` (LLM fleets).
    pub equivalent_idle_rate: Option<f64>,
    /// `cost.cloud.per_request_usd`.
    pub cost_per_request_usd: Option<f64>,
    /// `cost.formula.per_request_usd`: R1's formula with the assumed rates.
    pub formula_cost_per_request_usd: Option<f64>,
}

impl CurvePoint {
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

/// The count just below the answer and why it fails.
#[derive(Clone, Debug, Serialize)]
pub struct Below {
    /// `servers - 1`.
    pub servers: u32,
    /// One line per failed target (value, bound and excess), or the instability.
    pub why: Vec<String>,
    /// The failed targets' values.
    pub failed: Vec<TargetValue>,
}

/// `plan.json`: the answer, the evidence around it and the chosen count's full summary.
#[derive(Clone, Debug, Serialize)]
pub struct PlanOutcome {
    /// Scenario name.
    pub scenario: String,
    /// Master seed.
    pub seed: u64,
    /// Crate version that planned.
    pub fleetsim_version: String,
    /// Replications per count.
    pub replications: u32,
    /// The targets, as `slo.<metric>_<stat>_s` → bound in seconds.
    pub targets: BTreeMap<String, f64>,
    /// The upper bound of the search.
    pub servers_max: u32,
    /// The chosen count: the smallest meeting every target.
    pub servers: u32,
    /// `servers - 1` and why it fails (null when `servers` is 1).
    pub below: Option<Below>,
    /// Achieved idle rate at the chosen count.
    pub achieved_idle_rate: Option<f64>,
    /// The idle rate that makes R1's formula give the simulated cost (LLM fleets).
    pub equivalent_idle_rate: Option<f64>,
    /// The formula's assumed idle rate.
    pub assumed_idle_rate: f64,
    /// Cloud cost per request at the chosen count, USD.
    pub cost_per_request_usd: Option<f64>,
    /// R1's formula estimate per request, USD (LLM fleets).
    pub formula_cost_per_request_usd: Option<f64>,
    /// Every count tried, sorted by count.
    pub curve: Vec<CurvePoint>,
    /// The chosen count's full `summary.json`.
    pub summary: Value,
}

/// Plans with the default upper bound ([`DEFAULT_MAX_SERVERS`]).
pub fn plan(scenario: &Scenario, threads: Option<usize>) -> Result<PlanOutcome, PlanError> {
    plan_bounded(scenario, threads, DEFAULT_MAX_SERVERS)
}

/// Finds the smallest count in `1..=servers_max` meeting every target of `scenario.slo`,
/// running each count's replications on `threads` threads (results do not depend on it).
pub fn plan_bounded(
    scenario: &Scenario,
    threads: Option<usize>,
    servers_max: u32,
) -> Result<PlanOutcome, PlanError> {
    if scenario.slo.is_empty() {
        return Err(PlanError::NoSlo);
    }
    if scenario.run.replications < 2 {
        return Err(PlanError::TooFewReplications {
            replications: scenario.run.replications,
        });
    }
    // Never search past the sizes validation allows (memory is bounded by them).
    let servers_max = servers_max.clamp(1, scenario.max_servers_allowed());
    let mut search = Search {
        scenario,
        threads,
        cache: BTreeMap::new(),
    };

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
    let summary = search
        .cache
        .get(&pass)
        .and_then(|(_, s)| s.clone())
        .unwrap_or(Value::Null);
    let below = (fail >= 1).then(|| {
        let p = &search.cache[&fail].0;
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
        replications: scenario.run.replications,
        targets: scenario.slo.iter().map(|t| (t.key(), t.max_s)).collect(),
        servers_max,
        servers: pass,
        below,
        achieved_idle_rate: chosen.achieved_idle_rate,
        equivalent_idle_rate: chosen.equivalent_idle_rate,
        assumed_idle_rate: scenario.cost.assumed_idle_rate,
        cost_per_request_usd: chosen.cost_per_request_usd,
        formula_cost_per_request_usd: chosen.formula_cost_per_request_usd,
        curve: search.cache.into_values().map(|(p, _)| p).collect(),
        summary,
    })
}

/// The search state: the scenario and every count evaluated so far.
struct Search<'a> {
    scenario: &'a Scenario,
    threads: Option<usize>,
    /// count → (its curve point, its summary; none when it was not run).
    cache: BTreeMap<u32, (CurvePoint, Option<Value>)>,
}

impl Search<'_> {
    /// Evaluates `n` servers once; later calls return the cached point.
    fn eval(&mut self, n: u32) -> &CurvePoint {
        if !self.cache.contains_key(&n) {
            let mut s = self.scenario.clone();
            s.servers.count = n;
            let entry = match offered_load(&s) {
                // Queue servers at ρ ≥ 1 cannot be stable: no need to run until the
                // overload guard trips.
                Some(rho) if rho >= 1.0 => (
                    judge(
                        n,
                        &self.scenario.slo,
                        &Value::Null,
                        Some(format!("unstable: offered load ρ = {rho:.3} ≥ 1")),
                    ),
                    None,
                ),
                _ => {
                    let summary = run(&s, self.threads).summary;
                    let unstable = (summary["stable"] == Value::Bool(false)).then(|| {
                        let detail = summary["overload"]
                            .as_array()
                            .and_then(|a| a.first())
                            .and_then(Value::as_str)
                            .unwrap_or("queue grew without bound");
                        format!("unstable: {detail}")
                    });
                    (
                        judge(n, &self.scenario.slo, &summary, unstable),
                        Some(summary),
                    )
                }
            };
            self.cache.insert(n, entry);
        }
        &self.cache[&n].0
    }

    /// While doubling from `prev` to `n` (both failing): stop if more servers stopped helping.
    fn check_plateau(&self, prev: u32, n: u32) -> Result<(), PlanError> {
        let (a, b) = (&self.cache[&prev].0, &self.cache[&n].0);
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

/// The summary value at a dotted path.
fn at(v: &Value, path: &str) -> Option<f64> {
    path.split('.')
        .try_fold(v, |v, k| v.get(k))
        .and_then(Value::as_f64)
}

/// Judges one count's summary against the targets.
fn judge(n: u32, slo: &[SloTarget], summary: &Value, unstable: Option<String>) -> CurvePoint {
    let stable = unstable.is_none();
    let targets: Vec<TargetValue> = slo
        .iter()
        .map(|t| {
            let path = t.summary_path();
            let mean_s = at(summary, &path);
            let ci95_s = at(&summary["ci95"], &path);
            let upper_s = mean_s.zip(ci95_s).map(|(m, h)| m + h);
            TargetValue {
                key: t.key(),
                max_s: t.max_s,
                mean_s,
                ci95_s,
                upper_s,
                pass: stable && upper_s.is_some_and(|u| u <= t.max_s),
            }
        })
        .collect();
    CurvePoint {
        servers: n,
        pass: stable && targets.iter().all(|t| t.pass),
        stable,
        unstable_reason: unstable,
        targets,
        achieved_idle_rate: at(summary, "idle_rate.achieved"),
        equivalent_idle_rate: at(summary, "idle_rate.equivalent"),
        cost_per_request_usd: at(summary, "cost.cloud.per_request_usd"),
        formula_cost_per_request_usd: at(summary, "cost.formula.per_request_usd"),
    }
}
