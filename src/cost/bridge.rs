//! The cost bridge: why a simulated cost per request differs from a report-style formula.
//!
//! Both costs are products of the same kind of factors: `formula = base x Π f_i` and
//! `simulated = base x Π g_i`. The difference is split with the log-mean (LMDI) decomposition:
//! term `i` gets `L(sim, formula) x (ln g_i - ln f_i)` where `L(a, b) = (a - b) / (ln a - ln b)`
//! is the logarithmic mean. Equivalently, term `i` gets the share
//! `(ln g_i - ln f_i) / ln(simulated / formula)` of `simulated - formula`. Whatever the named
//! factors do not explain goes to a final `"residual"` term, so the terms always add up to
//! `simulated - formula` exactly (the residual is computed as the remainder).

use serde::Serialize;

/// What the simulation achieved beside what the formula assumed, factor by factor.
///
/// Every pair enters the decomposition as a ratio, so any consistent unit works for the
/// per-token times (server-seconds per token is the natural one).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BridgeFactors {
    /// Idle fraction the formula assumed (R1: 0.20); enters as `1 / (1 - idle)`.
    pub assumed_idle_rate: f64,
    /// Idle fraction the simulated fleet showed (idle server-time / total server-time).
    pub achieved_idle_rate: f64,
    /// Formula's busy server-seconds per token: `FLOPs per token / (gpus x peak x MFU)`.
    pub formula_busy_s_per_token: f64,
    /// Simulated busy server-seconds per token with batch size 1 (memory-bound decode:
    /// every token reads all the weights).
    pub sim_busy_s_per_token_batch1: f64,
    /// Simulated busy server-seconds per token at the batch the fleet actually reached
    /// (busy time / tokens served); the batch is limited by KV-cache memory and by load.
    pub sim_busy_s_per_token_achieved: f64,
    /// Cache hit rate the formula assumed; enters as `1 - hit`.
    pub assumed_cache_hit_rate: f64,
    /// Cache hit rate the simulated cache achieved.
    pub achieved_cache_hit_rate: f64,
    /// Compression factor the formula assumed (R1: 0.5 for customer service, else 1).
    pub assumed_compression: f64,
    /// Compression factor actually applied in the simulation (its model size relative to the
    /// formula's; 1.0 if the simulated model is the one the formula priced).
    pub simulated_compression: f64,
}

impl BridgeFactors {
    /// The named factors as `(term, formula factor f_i, simulated factor g_i)`.
    ///
    /// The two per-token-time terms are chained: `formula_s -> batch-1 s -> achieved s`, so
    /// their product is the whole busy-time ratio `achieved / formula`.
    pub fn pairs(&self) -> [(&'static str, f64, f64); 5] {
        [
            (
                "time idle",
                1.0 / (1.0 - self.assumed_idle_rate),
                1.0 / (1.0 - self.achieved_idle_rate),
            ),
            (
                "memory-bound decode instead of compute-bound FLOPs",
                self.formula_busy_s_per_token,
                self.sim_busy_s_per_token_batch1,
            ),
            (
                "batch limited by KV memory",
                self.sim_busy_s_per_token_batch1,
                self.sim_busy_s_per_token_achieved,
            ),
            (
                "cache hit rate achieved vs assumed",
                1.0 - self.assumed_cache_hit_rate,
                1.0 - self.achieved_cache_hit_rate,
            ),
            (
                "compression",
                self.assumed_compression,
                self.simulated_compression,
            ),
        ]
    }

    /// The simulated cost these factors alone would imply: `formula_usd x Π (g_i / f_i)`.
    /// A simulated cost equal to this leaves a zero residual.
    pub fn implied_simulated_usd(&self, formula_usd: f64) -> f64 {
        self.pairs()
            .iter()
            .fold(formula_usd, |acc, (_, f, g)| acc * g / f)
    }
}

/// One line of the bridge: how many USD (per request, or whatever unit the inputs share) a
/// factor adds (positive) or saves (negative) going from the formula to the simulation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BridgeTerm {
    /// The factor's name; the last term is always `"residual"`.
    pub term: String,
    /// Its contribution to `simulated - formula`, in USD.
    pub usd: f64,
}

/// Logarithmic mean `(a - b) / ln(a / b)`, continuous at `a == b`.
fn log_mean(a: f64, b: f64) -> f64 {
    let r = (a / b).ln();
    if r.abs() < 1e-12 {
        0.5 * (a + b)
    } else {
        (a - b) / r
    }
}

/// Splits `simulated_usd - formula_usd` into the named factors of `factors` plus a residual.
///
/// The terms always sum to the difference. If a log is undefined (a cost or factor that is
/// zero, negative or not finite, e.g. a 100% cache hit rate) the named terms are reported as
/// zero and the whole difference goes to the residual rather than to NaN.
pub fn bridge(formula_usd: f64, simulated_usd: f64, factors: &BridgeFactors) -> Vec<BridgeTerm> {
    let pairs = factors.pairs();
    let ok = |x: f64| x.is_finite() && x > 0.0;
    let valid =
        ok(formula_usd) && ok(simulated_usd) && pairs.iter().all(|(_, f, g)| ok(*f) && ok(*g));
    let weight = if valid {
        log_mean(simulated_usd, formula_usd)
    } else {
        0.0
    };
    let mut terms: Vec<BridgeTerm> = pairs
        .iter()
        .map(|(name, f, g)| BridgeTerm {
            term: (*name).to_string(),
            usd: if valid {
                weight * (g.ln() - f.ln())
            } else {
                0.0
            },
        })
        .collect();
    let explained: f64 = terms.iter().map(|t| t.usd).sum();
    terms.push(BridgeTerm {
        term: "residual".to_string(),
        usd: (simulated_usd - formula_usd) - explained,
    });
    terms
}

#[cfg(test)]
mod tests {
    use super::*;

    fn factors() -> BridgeFactors {
        BridgeFactors {
            assumed_idle_rate: 0.2,
            achieved_idle_rate: 0.55,
            formula_busy_s_per_token: 4.67e-4,
            sim_busy_s_per_token_batch1: 0.03,
            sim_busy_s_per_token_achieved: 1.2e-3,
            assumed_cache_hit_rate: 0.3,
            achieved_cache_hit_rate: 0.22,
            assumed_compression: 1.0,
            simulated_compression: 1.0,
        }
    }

    #[test]
    fn exact_factors_leave_no_residual() {
        let f = factors();
        let formula = 0.0131;
        let sim = f.implied_simulated_usd(formula);
        let terms = bridge(formula, sim, &f);
        let residual = terms.last().unwrap().usd;
        assert!(residual.abs() < 1e-12 * sim.abs().max(1.0), "{residual}");
        let total: f64 = terms.iter().map(|t| t.usd).sum();
        assert!((total - (sim - formula)).abs() < 1e-12);
        // Compression unchanged contributes nothing.
        assert_eq!(terms[4].usd, 0.0);
        // More idle costs more; batching saves.
        assert!(terms[0].usd > 0.0 && terms[2].usd < 0.0);
    }

    #[test]
    fn invalid_logs_go_to_residual() {
        let mut f = factors();
        f.achieved_cache_hit_rate = 1.0;
        let terms = bridge(0.01, 0.02, &f);
        assert!(terms[..5].iter().all(|t| t.usd == 0.0));
        assert!((terms[5].usd - 0.01).abs() < 1e-15);
    }

    #[test]
    fn equal_costs_equal_factors_all_zero() {
        let mut f = factors();
        f.achieved_idle_rate = f.assumed_idle_rate;
        f.sim_busy_s_per_token_batch1 = f.formula_busy_s_per_token;
        f.sim_busy_s_per_token_achieved = f.formula_busy_s_per_token;
        f.achieved_cache_hit_rate = f.assumed_cache_hit_rate;
        let terms = bridge(0.01, 0.01, &f);
        assert!(terms.iter().all(|t| t.usd.abs() < 1e-15));
    }
}
