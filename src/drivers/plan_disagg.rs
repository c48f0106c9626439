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

use super::plan_colocated::{PlanError, band_sides, plan_colocated, run_judged};
use crate::report::outcome::{
    ColocatedPlan, CurvePoint, DisaggPlan, PairPoint, PlanOutcome, PoolCounts, TimingBand,
};
use crate::report::summary::RunSummary;
use crate::scenario::Scenario;

struct Entry {
    point: CurvePoint,
    summary: RunSummary,
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
            s.set_pool_counts(p, d);
            let (point, summary) = run_judged(&mut s, self.threads);
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
}

/// The smallest `x` in `(fail, pass]` with `ok(x)`, given `ok(pass)` and not `ok(fail)`.
fn bisect(mut fail: u32, mut pass: u32, mut ok: impl FnMut(u32) -> bool) -> u32 {
    while pass - fail > 1 {
        let mid = fail + (pass - fail) / 2;
        if ok(mid) {
            pass = mid;
        } else {
            fail = mid;
        }
    }
    pass
}

/// Steps 2 and 3 of the search (module docs) from the passing pair `hi`: the cheapest
/// passing pair by `cost` (ties: fewer servers, then fewer prefill servers), assuming `pass`
/// never turns false when either pool grows.
fn cheapest_from(
    hi: (u32, u32),
    cost: impl Fn(u32, u32) -> f64,
    pass: &mut impl FnMut(u32, u32) -> bool,
) -> (u32, u32) {
    let (p_hi, d_hi) = hi;
    // The fewest decode servers with `p_hi` prefill servers (no pair with fewer prefill
    // servers does with less), and the fewest prefill servers with `d_hi` decode servers.
    let d_lo = bisect(0, d_hi, |d| pass(p_hi, d));
    let p_lo = bisect(0, p_hi, |p| pass(p, d_hi));
    let key = |p: u32, d: u32| (cost(p, d), p + d, p);
    let mut best = (p_hi, d_lo);
    let mut upper = d_hi;
    for p in p_lo..=p_hi {
        // Every later pair costs at least this much.
        if p > p_lo && cost(p, d_lo) > key(best.0, best.1).0 {
            break;
        }
        if !pass(p, upper) {
            // Noise broke monotonicity here; the next count may still pass.
            continue;
        }
        let d = bisect(d_lo - 1, upper, |d| pass(p, d));
        upper = d;
        if key(p, d) < key(best.0, best.1) {
            best = (p, d);
        }
        if d == d_lo {
            break;
        }
    }
    best
}

/// The colocated `[servers]` plan for the same traffic, searched from `servers`.
fn colocated_plan(
    scenario: &Scenario,
    threads: Option<usize>,
    servers_max: u32,
    servers: u32,
) -> ColocatedPlan {
    let mut coloc = scenario.clone();
    coloc.servers.disagg = None;
    coloc.servers.count = servers;
    match plan_colocated(&coloc, threads, servers_max) {
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
    }
}

/// The split's cost per request by pool (prefill, decode) and the `why` lines: where each
/// fleet's money goes, for the chosen pair `(bp, bd)` at `usd_per_hour`, whose summary is
/// `summary`, beside `colocated` (`saving`: colocated minus split, per request).
fn explain(
    scenario: &Scenario,
    (bp, bd, usd_per_hour): (u32, u32, f64),
    summary: &RunSummary,
    colocated: &ColocatedPlan,
    saving: Option<f64>,
) -> (Option<f64>, Option<f64>, Vec<String>) {
    let d = summary.means.disaggregated.as_ref();
    let throughput = Some(summary.means.throughput_per_s).filter(|&t| t > 0.0);
    let per_request = |usd: Option<f64>| Some(usd? / 3600.0 / throughput?);
    let (prefill_cost, decode_cost) = (
        per_request(d.map(|d| d.prefill.usd_per_hour)),
        per_request(d.map(|d| d.decode.usd_per_hour)),
    );
    let mut why = vec![format!(
        "disaggregated: {bp} prefill + {bd} decode servers (${usd_per_hour:.2}/h), prefill \
         pool idle {:.0}%, decode pool idle {:.0}%, decode mean batch {:.1}; per request \
         ${:.6} prefill + ${:.6} decode",
        100.0 * d.map_or(f64::NAN, |d| d.prefill.idle_rate),
        100.0 * d.map_or(f64::NAN, |d| d.decode.idle_rate),
        d.map_or(f64::NAN, |d| d.decode.mean_batch),
        prefill_cost.unwrap_or(f64::NAN),
        decode_cost.unwrap_or(f64::NAN),
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
    (prefill_cost, decode_cost, why)
}

/// The cheapest passing pair of `scenario` (module docs), searched from `start`, and the
/// search with every pair it evaluated.
fn cheapest_pair(
    scenario: &Scenario,
    threads: Option<usize>,
    servers_max: u32,
    start: (u32, u32),
) -> Result<(Search<'_>, (u32, u32)), PlanError> {
    let split = scenario
        .servers
        .disagg
        .as_deref()
        .expect("plan_disagg needs a disaggregated scenario");
    let mut search = Search {
        scenario,
        threads,
        price: (
            scenario.pool_usd_per_server_hour(&split.prefill.spec),
            scenario.pool_usd_per_server_hour(&split.decode.spec),
        ),
        cache: BTreeMap::new(),
    };

    // 1. Bracket.
    let (mut p_hi, mut d_hi) = (start.0.clamp(1, servers_max), start.1.clamp(1, servers_max));
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
    // 2 and 3: the pools' floors, then the staircase.
    let price = search.price;
    let best = cheapest_from(
        (p_hi, d_hi),
        |p, d| f64::from(p) * price.0 + f64::from(d) * price.1,
        &mut |p, d| search.pass(p, d),
    );
    Ok((search, best))
}

/// The cheapest pair with every step time of both pools scaled by 1 ± the timing model's
/// typical error, searched from the answer `(bp, bd)`.
fn timing_band(
    scenario: &Scenario,
    threads: Option<usize>,
    servers_max: u32,
    (bp, bd): (u32, u32),
) -> TimingBand {
    let sides = band_sides(scenario, |s| {
        cheapest_pair(s, threads, servers_max, (bp, bd))
            .map(|(_, (p, d))| PoolCounts {
                prefill_servers: p,
                decode_servers: d,
            })
            .map_err(|e| e.to_string())
    });
    let total = |c: Option<PoolCounts>| c.map(|c| c.prefill_servers + c.decode_servers);
    TimingBand {
        step_time_scale_low: sides.scale_low,
        step_time_scale_high: sides.scale_high,
        servers_low: total(sides.at_low),
        servers_high: total(sides.at_high),
        pair_low: sides.at_low,
        pair_high: sides.at_high,
        note: sides.note,
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
    let start = (split.prefill.count, split.decode.count);
    let (search, (bp, bd)) = cheapest_pair(scenario, threads, servers_max, start)?;
    let chosen = &search.cache[&(bp, bd)];
    let summary = chosen.summary.clone();
    let point = chosen.point.clone();
    let usd_per_hour = chosen.usd_per_hour;

    // The colocated plan for the same traffic, from the same number of servers.
    let colocated = colocated_plan(scenario, threads, servers_max, bp + bd);
    let ours = point.cost_per_request_usd;
    let saving = ours.zip(colocated.cost_per_request_usd).map(|(a, c)| c - a);
    let cheaper = match saving {
        Some(x) if x > 1e-12 => "disaggregated",
        Some(x) if x < -1e-12 => "colocated",
        Some(_) => "equal",
        None => "unknown",
    }
    .to_string();
    let (prefill_cost, decode_cost, why) = explain(
        scenario,
        (bp, bd, usd_per_hour),
        &summary,
        &colocated,
        saving,
    );
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
        timing_band: Some(timing_band(scenario, threads, servers_max, (bp, bd))),
        timing_band_omitted: None,
        curve,
        summary: Some(summary),
        disaggregated: Some(DisaggPlan {
            prefill_servers: bp,
            decode_servers: bd,
            disaggregated_usd_per_hour: usd_per_hour,
            colocated,
            cheaper,
            saving_per_request_usd: saving,
            saving_fraction,
            prefill_cost_per_request_usd: prefill_cost,
            decode_cost_per_request_usd: decode_cost,
            why,
            pairs,
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Monotone pass functions on a 16 x 16 grid: the staircase finds the brute-force
    /// cheapest pair, asking about fewer pairs than the grid holds.
    #[test]
    fn the_staircase_finds_the_cheapest_pair_without_a_scan() {
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = |n: u64| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (state >> 33) % n
        };
        let n = 16u32;
        for case in 0..500 {
            // need[p]: the fewest decode servers that pass with p prefill servers
            // (non-increasing in p; above n means none).
            let p_min = 1 + next(u64::from(n)) as u32;
            let mut need = vec![u32::MAX; n as usize + 1];
            let mut level = 1 + next(u64::from(n)) as u32;
            for p in p_min..=n {
                need[p as usize] = level;
                if next(3) == 0 {
                    level = 1.max(level - next(u64::from(level)) as u32);
                }
            }
            let (pp, pd) = (1.0 + next(4) as f64, 1.0 + next(4) as f64);
            let cost = |p: u32, d: u32| f64::from(p) * pp + f64::from(d) * pd;
            let mut asked = std::collections::BTreeSet::new();
            let mut pass = |p: u32, d: u32| {
                asked.insert((p, d));
                p >= 1 && d >= 1 && d >= need[p as usize]
            };
            let got = cheapest_from((n, n), cost, &mut pass);
            let mut want = (n, n);
            for p in 1..=n {
                for d in 1..=n {
                    let k = |p: u32, d: u32| (cost(p, d), p + d, p);
                    if d >= need[p as usize] && k(p, d) < k(want.0, want.1) {
                        want = (p, d);
                    }
                }
            }
            assert_eq!(got, want, "case {case}: need {need:?}, prices {pp} {pd}");
            assert!(
                asked.len() < (n * n / 2) as usize,
                "case {case}: {} pairs",
                asked.len()
            );
        }
    }
}
