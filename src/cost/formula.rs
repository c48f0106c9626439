//! R1's cost method (Guojin Securities, Mar 2023).
//!
//! Per token: `cost = FLOPs / (cluster peak FLOP/s x MFU) x price per hour`, then divided by
//! `(1 - idle)`. Per task: `tokens x cost per token x (1 - cache hit) / (1 - idle) x compression`.
//!
//! Idle is counted twice in R1: its 0.177 cents per 1k tokens already contains
//! `1 / (1 - 0.20)`, and its task formula divides by `(1 - idle)` again. [`formula_cost_cents`]
//! applies the task formula literally, so it expects the *busy* (idle-free) cost per 1k tokens
//! ([`PerTokenInputs::per_1k_tokens_cents_busy`]); feeding it R1's 0.177 reproduces R1's double
//! count (1.31 / 1.59 / 0.25 cents for the three scenarios).

use serde::Serialize;

/// Seconds in one hour, for converting $/hour into $/second.
const S_PER_HOUR: f64 = 3600.0;

/// Inputs of R1's per-token cost: FLOPs per token over effective cluster throughput, times price.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PerTokenInputs {
    /// Model parameters (R1: 175e9, GPT-3).
    pub params: f64,
    /// FLOPs per parameter per token (2 for inference, 6 for training; Kaplan et al. 2020).
    pub flops_per_token_factor: f64,
    /// Model FLOPs utilisation, the report's "effective-compute ratio" (R1: 0.30).
    pub mfu: f64,
    /// GPUs per server (R1: 8 x A100).
    pub gpus: f64,
    /// Peak FLOP/s of one GPU (R1: 312e12, A100 dense bf16).
    pub peak_flops_per_gpu: f64,
    /// Price of one server-hour in USD (R1: 10.9, Azure ND A100 v4 in 2023).
    pub server_usd_per_hour: f64,
    /// Fraction of time the cluster is idle (R1: 0.20); the per-token cost is divided by `1 - idle`.
    pub idle_rate: f64,
}

impl PerTokenInputs {
    /// R1's inputs: GPT-3 175B, 2 FLOPs/param/token, 30% MFU, 8 x 312 TFLOP/s, $10.9/h, 20% idle.
    pub fn r1() -> Self {
        Self {
            params: 175e9,
            flops_per_token_factor: 2.0,
            mfu: 0.30,
            gpus: 8.0,
            peak_flops_per_gpu: 312e12,
            server_usd_per_hour: 10.9,
            idle_rate: 0.20,
        }
    }

    /// FLOPs for one token: `factor x params`.
    pub fn flops_per_token(&self) -> f64 {
        self.flops_per_token_factor * self.params
    }

    /// Effective server throughput in FLOP/s: `gpus x peak x MFU`.
    pub fn effective_server_flops(&self) -> f64 {
        self.gpus * self.peak_flops_per_gpu * self.mfu
    }

    /// Busy server-seconds per token under the compute-bound assumption: `FLOPs / (gpus·peak·MFU)`.
    pub fn busy_server_s_per_token(&self) -> f64 {
        self.flops_per_token() / self.effective_server_flops()
    }

    /// Cost of 1,000 tokens in US cents while the server is busy (no idle): 0.1415 for R1.
    pub fn per_1k_tokens_cents_busy(&self) -> f64 {
        1000.0 * self.busy_server_s_per_token() * self.server_usd_per_hour / S_PER_HOUR * 100.0
    }

    /// Cost of 1,000 tokens in US cents including idle, `busy / (1 - idle)`: R1's printed 0.177.
    pub fn per_1k_tokens_cents(&self) -> f64 {
        self.per_1k_tokens_cents_busy() / (1.0 - self.idle_rate)
    }
}

/// Inputs of R1's per-task formula (one search, one assistant session, one support chat, ...).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FormulaInputs {
    /// Tokens processed per task, input and output together (R1 counts both).
    pub task_tokens: f64,
    /// Cost of 1,000 tokens in US cents. Should be the *busy* cost (no idle inside), because
    /// the formula divides by `1 - idle_rate` itself; R1 passes its idle-inclusive 0.177.
    pub cost_per_1k_tokens_cents: f64,
    /// Fraction of tasks answered from a result cache at no cost.
    pub cache_hit_rate: f64,
    /// Fraction of time the cluster is idle; the formula divides by `1 - idle_rate`.
    pub idle_rate: f64,
    /// Model compression factor (R1: 0.5 for a distilled customer-service model, else 1.0).
    pub compression: f64,
}

impl FormulaInputs {
    /// R1's "search engine (new Bing)" scenario: 50 + 6 x 1,300 + 600 = 8,450 tokens, 30% hit.
    pub fn r1_search(cost_per_1k_tokens_cents: f64) -> Self {
        Self {
            task_tokens: 50.0 + 6.0 * 1300.0 + 600.0,
            cost_per_1k_tokens_cents,
            cache_hit_rate: 0.30,
            idle_rate: 0.20,
            compression: 1.0,
        }
    }

    /// R1's "office assistant" scenario: (400 + 2,000) x 3 rounds = 7,200 tokens, no cache.
    pub fn r1_office(cost_per_1k_tokens_cents: f64) -> Self {
        Self {
            task_tokens: (400.0 + 2000.0) * 3.0,
            cost_per_1k_tokens_cents,
            cache_hit_rate: 0.0,
            idle_rate: 0.20,
            compression: 1.0,
        }
    }

    /// R1's "AI customer service" scenario: (100 + 600) x 5 = 3,500 tokens, 35% hit, 0.5 compression.
    pub fn r1_customer_service(cost_per_1k_tokens_cents: f64) -> Self {
        Self {
            task_tokens: (100.0 + 600.0) * 5.0,
            cost_per_1k_tokens_cents,
            cache_hit_rate: 0.35,
            idle_rate: 0.20,
            compression: 0.5,
        }
    }
}

/// One named multiplicative term of the task formula; the product of all `factor`s is the cost.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FormulaTerm {
    /// What the term stands for, e.g. `"1 / (1 - idle)"`.
    pub name: String,
    /// The multiplier (the first term carries the unit, cents).
    pub factor: f64,
}

/// Cost of one task in US cents: `tokens/1000 x cost_per_1k x (1 - hit) / (1 - idle) x compression`.
pub fn formula_cost_cents(inputs: &FormulaInputs) -> f64 {
    formula_breakdown(inputs).iter().map(|t| t.factor).product()
}

/// The task formula as named multiplicative terms (thousands of tokens, cents per 1k, cache,
/// idle, compression); their product is [`formula_cost_cents`].
pub fn formula_breakdown(inputs: &FormulaInputs) -> Vec<FormulaTerm> {
    let t = |name: &str, factor: f64| FormulaTerm {
        name: name.to_string(),
        factor,
    };
    vec![
        t("thousands of task tokens", inputs.task_tokens / 1000.0),
        t("cents per 1k tokens", inputs.cost_per_1k_tokens_cents),
        t("1 - cache hit rate", 1.0 - inputs.cache_hit_rate),
        t("1 / (1 - idle rate)", 1.0 / (1.0 - inputs.idle_rate)),
        t("compression", inputs.compression),
    ]
}

/// The idle rate that, put into the task formula, reproduces a simulated cost per request.
///
/// `inputs.cost_per_1k_tokens_cents` must be the busy (idle-free) cost; `inputs.idle_rate` is
/// ignored. Solves `sim = base / (1 - x)` for `x = 1 - base / sim`, with `base` the formula
/// without its idle term. No clamping: a negative result means the simulation is cheaper than
/// the formula even with zero idle (e.g. batching beats the FLOPs accounting); a result `>= 1`
/// only arises from a non-positive simulated cost; `NaN`/infinite results come from zero inputs.
pub fn equivalent_idle_rate(sim_cost_per_request_usd: f64, inputs: &FormulaInputs) -> f64 {
    let base_cents = formula_cost_cents(&FormulaInputs {
        idle_rate: 0.0,
        ..inputs.clone()
    });
    1.0 - base_cents / (sim_cost_per_request_usd * 100.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn r1_per_1k_busy_and_with_idle() {
        let p = PerTokenInputs::r1();
        assert!((p.per_1k_tokens_cents_busy() - 0.1415).abs() < 5e-5);
        assert!((p.per_1k_tokens_cents() - 0.177).abs() < 5e-4);
    }

    #[test]
    fn scenarios_at_0177_double_count_idle() {
        let got: Vec<f64> = [
            FormulaInputs::r1_search(0.177),
            FormulaInputs::r1_office(0.177),
            FormulaInputs::r1_customer_service(0.177),
        ]
        .iter()
        .map(formula_cost_cents)
        .collect();
        for (g, want) in got.iter().zip([1.31, 1.59, 0.25]) {
            assert!((g - want).abs() < 0.005, "{g} vs {want}");
        }
    }

    #[test]
    fn equivalent_idle_round_trips() {
        let mut f = FormulaInputs::r1_office(PerTokenInputs::r1().per_1k_tokens_cents_busy());
        for sim_usd in [0.002, 0.0102, 0.05] {
            let x = equivalent_idle_rate(sim_usd, &f);
            f.idle_rate = x;
            assert!((formula_cost_cents(&f) / 100.0 - sim_usd).abs() < 1e-12);
        }
    }
}
