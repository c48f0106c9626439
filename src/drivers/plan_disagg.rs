//! `fleetsim plan` on a disaggregated fleet (issue 17): the cheapest (prefill servers,
//! decode servers) pair meeting every `[slo]` target, and the colocated plan for the same
//! traffic beside it.
//!
//! A pair is judged exactly as `plan` judges a count (`plan::judge`: the upper end
//! of each target's 95% interval, a stable run; replications chosen per pair the same way).
//! The search assumes that adding servers to either pool never makes a target worse:
//!
//! 1. Bracket: from the scenario's pair, double both pools until a pair `(P, D)` passes.
//! 2. Bisect the decode pool at `P` prefill servers: `d_lo`, the fewest decode servers any
//!    pair with at most `P` prefill servers can have; bisect the prefill pool at `D`: `p_lo`.
//! 3. For each prefill count from `p_lo` up, bisect the decode count between `d_lo` and the
//!    previous prefill count's answer (the answers only fall as prefill servers are added),
//!    stopping as soon as the prefill count alone, with `d_lo` decode servers, costs at least
//!    the best pair found, or the answer reaches `d_lo`.
//!
//! About `log2` evaluations per prefill count tried, never a scan of every pair. Pairs are
//! compared by their hourly price (the throughput is the traffic's for any pair that passes);
//! ties go to fewer servers, then fewer prefill servers.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use super::plan::{CurvePoint, PlanError, PlanOutcome, judge};
use crate::drivers::run::{run_replications, summarize};
use crate::fleet::{ReplicationOutcome, control::UNCONTROLLED};
use crate::scenario::Scenario;
use crate::scenario::disagg::{pool_usd_per_server_hour, set_pool_counts};

/// One pair the search evaluated.
#[derive(Clone, Debug, Serialize)]
pub struct PairPoint {
    /// Prefill servers.
    pub prefill_servers: u32,
    /// Decode servers.
    pub decode_servers: u32,
    /// Meets every target (and is stable).
    pub pass: bool,
    /// Replications run.
    pub replications: u32,
    /// Both pools' cloud price, USD per hour.
    pub usd_per_hour: f64,
    /// `cost.cloud.per_request_usd`.
    pub cost_per_request_usd: Option<f64>,
    /// Why it fails, one line per failed target (or the instability).
    pub failures: Vec<String>,
}

/// The colocated plan for the same traffic.
#[derive(Clone, Debug, Serialize)]
pub struct ColocatedPlan {
    /// Fewest colocated `[servers]` meeting every target (null if none was found).
    pub servers: Option<u32>,
    /// Its cloud cost per request, USD.
    pub cost_per_request_usd: Option<f64>,
    /// Its achieved idle rate.
    pub achieved_idle_rate: Option<f64>,
    /// Why there is no colocated answer, if there is none.
    pub error: Option<String>,
}

/// `plan.json`'s disaggregated part (flattened into it).
#[derive(Clone, Debug, Serialize)]
pub struct DisaggPlan {
    /// Prefill servers of the cheapest passing pair.
    pub prefill_servers: u32,
    /// Decode servers of the cheapest passing pair.
    pub decode_servers: u32,
    /// Both pools' cloud price at that pair, USD per hour.
    pub disaggregated_usd_per_hour: f64,
    /// The colocated plan beside it.
    pub colocated: ColocatedPlan,
    /// `disaggregated`, `colocated` or `equal` per request (`unknown` without a colocated
    /// cost).
    pub cheaper: String,
    /// Colocated minus disaggregated cost per request, USD (positive: splitting saves).
    pub saving_per_request_usd: Option<f64>,
    /// That saving as a fraction of the colocated cost.
    pub saving_fraction: Option<f64>,
    /// Why, in a few sentences: where each fleet's money goes.
    pub why: Vec<String>,
    /// Every pair evaluated, sorted by (prefill, decode).
    pub pairs: Vec<PairPoint>,
}

impl DisaggPlan {
    /// A few lines for the terminal: the pools, the colocated plan and which is cheaper.
    pub fn render(&self) -> String {
        let usd = |x: Option<f64>| x.map_or("-".to_string(), |v| format!("${v:.6}"));
        let mut out = format!(
            "disaggregated: {} prefill + {} decode servers (${:.2}/h); colocated: {} servers, \
             {} per request; cheaper: {}",
            self.prefill_servers,
            self.decode_servers,
            self.disaggregated_usd_per_hour,
            self.colocated
                .servers
                .map_or("no plan".to_string(), |n| n.to_string()),
            usd(self.colocated.cost_per_request_usd),
            self.cheaper,
        );
        for w in &self.why {
            out.push_str("\n  ");
            out.push_str(w);
        }
        out
    }
}

struct Entry {
    point: CurvePoint,
    summary: Value,
    usd_per_hour: f64,
}

struct Search<'a> {
    scenario: &'a Scenario,
    threads: Option<usize>,
    price: (f64, f64),
    cache: BTreeMap<(u32, u32), Entry>,
}

impl Search<'_> {
    fn cost(&self, p: u32, d: u32) -> f64 {
        f64::from(p) * self.price.0 + f64::from(d) * self.price.1
    }

    /// Whether pair `(p, d)` meets every target (0 servers in a pool never does).
    fn pass(&mut self, p: u32, d: u32) -> bool {
        if p == 0 || d == 0 {
            return false;
        }
        if !self.cache.contains_key(&(p, d)) {
            let mut s = self.scenario.clone();
            set_pool_counts(&mut s, p, d);
            let (point, summary) = run_pair(&mut s, self.threads);
            let usd_per_hour = self.cost(p, d);
            self.cache.insert(
                (p, d),
                Entry {
                    point,
                    summary,
                    usd_per_hour,
                },
            );
        }
        self.cache[&(p, d)].point.pass
    }

    /// While doubling from `prev` to `next` (both failing): stop if more servers stopped
    /// helping (every failed target less than 1% better, the fleet idle half the time).
    fn check_plateau(&self, prev: (u32, u32), next: (u32, u32)) -> Result<(), PlanError> {
        let (a, b) = (&self.cache[&prev].point, &self.cache[&next].point);
        let Some(idle) = b.achieved_idle_rate else {
            return Ok(());
        };
        if !(a.stable && b.stable) || idle < 0.5 {
            return Ok(());
        }
        let stuck = a.targets.iter().zip(&b.targets).all(|(ta, tb)| {
            tb.pass || matches!((ta.mean_s, tb.mean_s), (Some(x), Some(y)) if y >= x * 0.99)
        });
        if stuck {
            return Err(PlanError::Plateau {
                servers: next.0 + next.1,
                previous: prev.0 + prev.1,
                why: b.failures().join("; "),
                idle: idle * 100.0,
            });
        }
        Ok(())
    }

    /// The smallest `x` in `(fail, pass]` with `ok(x)`, given `ok(pass)` and not `ok(fail)`.
    fn bisect(&mut self, mut fail: u32, mut pass: u32, ok: impl Fn(&mut Self, u32) -> bool) -> u32 {
        while pass - fail > 1 {
            let mid = fail + (pass - fail) / 2;
            if ok(self, mid) {
                pass = mid;
            } else {
                fail = mid;
            }
        }
        pass
    }
}

/// Runs one pair, adding replications while its verdict is undecided (as `plan` does).
fn run_pair(s: &mut Scenario, threads: Option<usize>) -> (CurvePoint, Value) {
    let auto = !s.run.replications_set;
    let mut reps = if auto {
        super::plan::AUTO_REPLICATIONS_START
    } else {
        s.run.replications
    };
    let mut outcomes: Vec<ReplicationOutcome> =
        run_replications(s, 0..reps, threads, &UNCONTROLLED);
    loop {
        s.run.replications = reps;
        let summary = summarize(s, &outcomes);
        let unstable = (summary["stable"] == Value::Bool(false)).then(|| {
            let detail = summary["overload"]
                .as_array()
                .and_then(|a| a.first())
                .and_then(Value::as_str)
                .unwrap_or("queue grew without bound");
            format!("unstable: {detail}")
        });
        let point = judge(s.servers.count, reps, &s.slo, &summary, unstable);
        if !auto || reps >= super::plan::AUTO_REPLICATIONS_MAX || !point.undecided() {
            return (point, summary);
        }
        let more = (reps * 2).min(super::plan::AUTO_REPLICATIONS_MAX);
        outcomes.extend(run_replications(s, reps..more, threads, &UNCONTROLLED));
        reps = more;
    }
}

/// Plans a disaggregated scenario: each pool within `1..=servers_max`.
pub fn plan_disagg(
    scenario: &Scenario,
    threads: Option<usize>,
    servers_max: u32,
) -> Result<PlanOutcome, PlanError> {
    let split = scenario
        .servers
        .disagg
        .as_deref()
        .expect("plan_disagg needs a disaggregated scenario");
    let mut search = Search {
        scenario,
        threads,
        price: (
            pool_usd_per_server_hour(scenario, &split.prefill.spec),
            pool_usd_per_server_hour(scenario, &split.decode.spec),
        ),
        cache: BTreeMap::new(),
    };

    // 1. Bracket.
    let (mut p_hi, mut d_hi) = (
        split.prefill.count.clamp(1, servers_max),
        split.decode.count.clamp(1, servers_max),
    );
    while !search.pass(p_hi, d_hi) {
        if p_hi >= servers_max && d_hi >= servers_max {
            let why = search.cache[&(p_hi, d_hi)].point.failures().join("; ");
            return Err(PlanError::UpperBoundFails {
                servers: servers_max,
                why: format!("{servers_max} prefill and {servers_max} decode servers: {why}"),
            });
        }
        let prev = (p_hi, d_hi);
        p_hi = p_hi.saturating_mul(2).min(servers_max);
        d_hi = d_hi.saturating_mul(2).min(servers_max);
        if !search.pass(p_hi, d_hi) {
            search.check_plateau(prev, (p_hi, d_hi))?;
        }
    }
    // 2. The fewest decode servers with P prefill servers, and the fewest prefill with D.
    let d_lo = search.bisect(0, d_hi, |s, d| s.pass(p_hi, d));
    let p_lo = search.bisect(0, p_hi, |s, p| s.pass(p, d_hi));
    // 3. The staircase: for each prefill count, the fewest decode servers.
    let mut best = (p_hi, d_lo);
    let mut upper = d_hi;
    for p in p_lo..=p_hi {
        if search.cost(p, d_lo) >= search.cost(best.0, best.1) && p > p_lo {
            break;
        }
        if !search.pass(p, upper) {
            // Only possible where the passing pair (p_lo, d_hi) was not yet reached.
            continue;
        }
        let d = search.bisect(d_lo - 1, upper, |s, d| s.pass(p, d));
        upper = d;
        let better = search.cost(p, d) < search.cost(best.0, best.1)
            || (search.cost(p, d) == search.cost(best.0, best.1) && p + d < best.0 + best.1);
        if better {
            best = (p, d);
        }
        if d == d_lo {
            break;
        }
    }
    let (bp, bd) = best;
    let chosen = &search.cache[&(bp, bd)];
    let summary = chosen.summary.clone();
    let point = chosen.point.clone();
    let usd_per_hour = chosen.usd_per_hour;

    // The colocated plan for the same traffic, from the same number of servers.
    let mut coloc = scenario.clone();
    coloc.servers.disagg = None;
    coloc.servers.count = bp + bd;
    let colocated = match super::plan::plan_bounded(&coloc, threads, servers_max) {
        Ok(o) => ColocatedPlan {
            servers: Some(o.servers),
            cost_per_request_usd: o.cost_per_request_usd,
            achieved_idle_rate: o.achieved_idle_rate,
            error: None,
        },
        Err(e) => ColocatedPlan {
            servers: None,
            cost_per_request_usd: None,
            achieved_idle_rate: None,
            error: Some(e.to_string()),
        },
    };
    let ours = point.cost_per_request_usd;
    let saving = ours.zip(colocated.cost_per_request_usd).map(|(a, c)| c - a);
    let cheaper = match saving {
        Some(x) if x > 1e-12 => "disaggregated",
        Some(x) if x < -1e-12 => "colocated",
        Some(_) => "equal",
        None => "unknown",
    }
    .to_string();
    let num = |v: &Value, path: &str| {
        path.split('.')
            .try_fold(v, |v, k| v.get(k))
            .and_then(Value::as_f64)
    };
    let mut why = vec![format!(
        "disaggregated: {bp} prefill + {bd} decode servers (${usd_per_hour:.2}/h), prefill \
         pool idle {:.0}%, decode pool idle {:.0}%, decode mean batch {:.1}",
        100.0 * num(&summary, "disaggregated.prefill.idle_rate").unwrap_or(f64::NAN),
        100.0 * num(&summary, "disaggregated.decode.idle_rate").unwrap_or(f64::NAN),
        num(&summary, "disaggregated.decode.mean_batch").unwrap_or(f64::NAN),
    )];
    match (colocated.servers, colocated.achieved_idle_rate) {
        (Some(n), idle) => why.push(format!(
            "colocated: {n} servers (${:.2}/h), idle {:.0}%",
            f64::from(n) * scenario.cost.cloud_usd_per_server_hour,
            100.0 * idle.unwrap_or(f64::NAN)
        )),
        (None, _) => why.push(format!(
            "colocated: no plan ({})",
            colocated.error.as_deref().unwrap_or("no answer")
        )),
    }
    if let (Some(s), Some(c)) = (saving, colocated.cost_per_request_usd) {
        why.push(if s > 0.0 {
            format!(
                "splitting saves ${s:.6} per request ({:.1}%): decode steps carry no prefill, \
                 so the targets hold with fewer servers than a colocated fleet needs",
                100.0 * s / c
            )
        } else {
            format!(
                "colocated is cheaper by ${:.6} per request (the split costs {:.1}% more): \
                 the split pays for a second pool (and the KV transfers) that the targets do \
                 not need",
                -s,
                100.0 * -s / c
            )
        });
    }
    let saving_fraction = saving
        .zip(colocated.cost_per_request_usd)
        .and_then(|(s, c)| (c > 0.0).then(|| s / c));
    let pairs: Vec<PairPoint> = search
        .cache
        .iter()
        .map(|(&(p, d), e)| PairPoint {
            prefill_servers: p,
            decode_servers: d,
            pass: e.point.pass,
            replications: e.point.replications,
            usd_per_hour: e.usd_per_hour,
            cost_per_request_usd: e.point.cost_per_request_usd,
            failures: e.point.failures(),
        })
        .collect();
    let curve: Vec<CurvePoint> = search.cache.values().map(|e| e.point.clone()).collect();
    Ok(PlanOutcome {
        scenario: scenario.name.clone(),
        seed: scenario.run.seed,
        fleetsim_version: env!("CARGO_PKG_VERSION").into(),
        replications: point.replications,
        replications_auto: !scenario.run.replications_set,
        targets: scenario.slo.iter().map(|t| (t.key(), t.max_s)).collect(),
        servers_max,
        servers: bp + bd,
        below: None,
        achieved_idle_rate: point.achieved_idle_rate,
        equivalent_idle_rate: point.equivalent_idle_rate,
        assumed_idle_rate: scenario.cost.assumed_idle_rate,
        cost_per_request_usd: point.cost_per_request_usd,
        formula_cost_per_request_usd: point.formula_cost_per_request_usd,
        flips: Vec::new(),
        timing_band: None,
        timing_band_omitted: Some(
            "not computed for disaggregated fleets (the colocated plan beside it has one)"
                .to_string(),
        ),
        curve,
        summary,
        disaggregated: Some(DisaggPlan {
            prefill_servers: bp,
            decode_servers: bd,
            disaggregated_usd_per_hour: usd_per_hour,
            colocated,
            cheaper,
            saving_per_request_usd: saving,
            saving_fraction,
            why,
            pairs,
        }),
    })
}
