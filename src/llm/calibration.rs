//! Every A100 measurement of `inference-model.md` §4 and the simulated value for each.
//!
//! Modelling choices, one per kind of measurement:
//! * TTFT / first-token latency at batch 1 = [`Deployment::prefill_time_s`] of the prompt.
//! * TPOT at batch 1 = one decode step with the prompt as context (2,048 tokens); the output
//!   length of lmdeploy's runs is not in the reference, so context growth is ignored.
//! * Llama-2-70B TP4 batch 64, 128 in / 2,048 out: 64 sequences decoding with mean context
//!   128 + 2048/2 = 1,152 tokens each (context grows linearly over the run, so the mean step is
//!   the step at mean context). Throughput = 64 / that step; the one 8k-token prefill is < 1% of
//!   the run and ignored. TPOT p50 = the same step.

use std::fmt::Write as _;

use super::deployment::{Deployment, DeploymentError, Efficiency};
use super::hardware::gpu_preset;
use super::model::model_preset;

/// What a calibration point measures and how it maps onto the step model.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum CalKind {
    /// Time to first token of one request alone, seconds.
    Ttft {
        /// Prompt length in tokens.
        prompt_tokens: u64,
    },
    /// Time per output token (one decode step), seconds.
    Tpot {
        /// Sequences decoding together.
        batch: u64,
        /// Context per sequence in tokens.
        ctx_tokens_per_seq: u64,
    },
    /// Output tokens per second of a decode batch.
    DecodeThroughput {
        /// Sequences decoding together.
        batch: u64,
        /// Mean context per sequence in tokens.
        ctx_tokens_per_seq: u64,
    },
}

impl CalKind {
    /// Short metric label with units.
    pub fn metric(&self) -> &'static str {
        match self {
            CalKind::Ttft { .. } => "TTFT s",
            CalKind::Tpot { .. } => "TPOT s",
            CalKind::DecodeThroughput { .. } => "out tok/s",
        }
    }

    /// The simulated value of this metric on `d`.
    pub fn simulate(&self, d: &Deployment) -> f64 {
        match *self {
            CalKind::Ttft { prompt_tokens } => d.prefill_time_s(prompt_tokens),
            CalKind::Tpot {
                batch,
                ctx_tokens_per_seq,
            } => d.decode_step_time_s(batch, batch * ctx_tokens_per_seq),
            CalKind::DecodeThroughput {
                batch,
                ctx_tokens_per_seq,
            } => batch as f64 / d.decode_step_time_s(batch, batch * ctx_tokens_per_seq),
        }
    }
}

/// One published measurement.
#[derive(Clone, Debug, PartialEq)]
pub struct CalPoint {
    /// Human-readable case, e.g. `"Llama-2-7B TP1 bs1 2048 prompt (lmdeploy)"`.
    pub case: String,
    /// Where the number comes from.
    pub source: String,
    /// GPU preset name.
    pub gpu: String,
    /// Model preset name.
    pub model: String,
    /// Tensor-parallel degree.
    pub tensor_parallel: u32,
    /// What is measured.
    pub kind: CalKind,
    /// The published value, in the units of [`CalKind::metric`].
    pub measured: f64,
}

/// One point compared with the model.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct CalRow {
    /// The point's case label.
    pub case: String,
    /// Metric label with units.
    pub metric: String,
    /// Published value.
    pub measured: f64,
    /// Model value.
    pub simulated: f64,
    /// `simulated / measured − 1`.
    pub rel_err: f64,
}

const LMDEPLOY: &str = "lmdeploy docs/en/benchmark/a100_fp16.md";
const TRTLLM: &str = "TensorRT-LLM docs/source/performance.md (v0.5)";

/// Every A100 data point of `inference-model.md` §4 (A100-80GB SXM, fp16, batch 1 unless
/// noted). TPOT ranges are entered at their midpoint (17–19 ms → 18 ms, 29–31 ms → 30 ms).
pub fn calibration_points() -> Vec<CalPoint> {
    let p =
        |case: &str, source: &str, model: &str, tp: u32, kind: CalKind, measured: f64| CalPoint {
            case: case.to_string(),
            source: source.to_string(),
            gpu: "a100-80gb".to_string(),
            model: model.to_string(),
            tensor_parallel: tp,
            kind,
            measured,
        };
    let ttft = |prompt_tokens| CalKind::Ttft { prompt_tokens };
    let tpot1 = CalKind::Tpot {
        batch: 1,
        ctx_tokens_per_seq: 2048,
    };
    let bs64 = 128 + 2048 / 2;
    vec![
        p(
            "Llama-2-7B TP1 bs1 2048 prompt",
            LMDEPLOY,
            "llama-2-7b",
            1,
            ttft(2048),
            0.139,
        ),
        p(
            "Llama-2-7B TP1 bs1 2048 prompt",
            LMDEPLOY,
            "llama-2-7b",
            1,
            tpot1,
            0.010,
        ),
        p(
            "Llama-2-13B TP1 bs1 2048 prompt",
            LMDEPLOY,
            "llama-2-13b",
            1,
            ttft(2048),
            0.242,
        ),
        p(
            "Llama-2-13B TP1 bs1 2048 prompt (17-19 ms)",
            LMDEPLOY,
            "llama-2-13b",
            1,
            tpot1,
            0.018,
        ),
        p(
            "Llama-2-70B TP4 bs1 2048 prompt",
            LMDEPLOY,
            "llama-2-70b",
            4,
            ttft(2048),
            0.402,
        ),
        p(
            "Llama-2-70B TP4 bs1 2048 prompt (29-31 ms)",
            LMDEPLOY,
            "llama-2-70b",
            4,
            tpot1,
            0.030,
        ),
        p(
            "Llama-2-70B TP4 bs64 128in/2048out",
            LMDEPLOY,
            "llama-2-70b",
            4,
            CalKind::DecodeThroughput {
                batch: 64,
                ctx_tokens_per_seq: bs64,
            },
            1392.0,
        ),
        p(
            "Llama-2-70B TP4 bs64 128in/2048out p50",
            LMDEPLOY,
            "llama-2-70b",
            4,
            CalKind::Tpot {
                batch: 64,
                ctx_tokens_per_seq: bs64,
            },
            0.043,
        ),
        p(
            "LLaMA-7B TP1 first token 128",
            TRTLLM,
            "llama-7b",
            1,
            ttft(128),
            0.016,
        ),
        p(
            "LLaMA-7B TP1 first token 2048",
            TRTLLM,
            "llama-7b",
            1,
            ttft(2048),
            0.133,
        ),
        p(
            "LLaMA-70B TP4 first token 128",
            TRTLLM,
            "llama-2-70b",
            4,
            ttft(128),
            0.047,
        ),
        p(
            "LLaMA-70B TP4 first token 2048",
            TRTLLM,
            "llama-2-70b",
            4,
            ttft(2048),
            0.377,
        ),
        p(
            "Falcon-180B TP8 first token 128",
            TRTLLM,
            "falcon-180b",
            8,
            ttft(128),
            0.061,
        ),
        p(
            "Falcon-180B TP8 first token 2048",
            TRTLLM,
            "falcon-180b",
            8,
            ttft(2048),
            0.509,
        ),
    ]
}

/// Builds the default deployment for a point: its presets, 8 GPUs per server, mem_util 0.9,
/// [`Efficiency::calibrated_default`] for its TP.
pub fn default_deployment(p: &CalPoint) -> Result<Deployment, DeploymentError> {
    let gpu = gpu_preset(&p.gpu).expect("calibration points name known GPU presets");
    let model = model_preset(&p.model).expect("calibration points name known model presets");
    Deployment::new(
        gpu,
        8,
        p.tensor_parallel,
        model,
        Efficiency::calibrated_default(p.tensor_parallel),
        0.9,
    )
}

/// Simulates every point of [`calibration_points`] on the deployment `build` returns for it.
pub fn calibrate_table(
    build: &dyn Fn(&CalPoint) -> Result<Deployment, DeploymentError>,
) -> Result<Vec<CalRow>, DeploymentError> {
    calibration_points()
        .iter()
        .map(|p| {
            let d = build(p)?;
            let simulated = p.kind.simulate(&d);
            Ok(CalRow {
                case: p.case.clone(),
                metric: p.kind.metric().to_string(),
                measured: p.measured,
                simulated,
                rel_err: simulated / p.measured - 1.0,
            })
        })
        .collect()
}

/// [`calibrate_table`] with [`default_deployment`].
pub fn calibrate_default() -> Vec<CalRow> {
    calibrate_table(&default_deployment).expect("every calibration point fits on its GPUs")
}

/// The timing model's typical relative step-time error: the median |error| of
/// [`calibrate_default`] against the public measurements (a fraction, e.g. 0.05). `plan`
/// scales step times by 1 ± this for its timing band.
pub fn typical_step_time_error() -> f64 {
    let mut errs: Vec<f64> = calibrate_default()
        .iter()
        .map(|r| r.rel_err.abs())
        .collect();
    errs.sort_by(f64::total_cmp);
    match errs.len() {
        0 => 0.0,
        n if n % 2 == 1 => errs[n / 2],
        n => (errs[n / 2 - 1] + errs[n / 2]) / 2.0,
    }
}

/// Plain-text table of `rows` for a `fleetsim calibrate` command, with the default efficiencies
/// and the worst error.
pub fn render_calibration_text(rows: &[CalRow]) -> String {
    let mut out = String::new();
    let w = rows.iter().map(|r| r.case.len()).max().unwrap_or(4).max(4);
    let _ = writeln!(
        out,
        "{:<w$}  {:<9}  {:>10}  {:>10}  {:>7}",
        "case", "metric", "measured", "simulated", "error"
    );
    for r in rows {
        let _ = writeln!(
            out,
            "{:<w$}  {:<9}  {:>10.4}  {:>10.4}  {:>+6.1}%",
            r.case,
            r.metric,
            r.measured,
            r.simulated,
            100.0 * r.rel_err
        );
    }
    let worst = rows.iter().map(|r| r.rel_err.abs()).fold(0.0, f64::max);
    let _ = writeln!(
        out,
        "worst |error|: {:.1}% over {} points",
        100.0 * worst,
        rows.len()
    );
    let _ = writeln!(
        out,
        "defaults (A100, overlap {}): ",
        super::deployment::DEFAULT_COMPUTE_MEMORY_OVERLAP
    );
    for tp in [1, 4, 8] {
        let e = Efficiency::calibrated_default(tp);
        let _ = writeln!(
            out,
            "  TP{tp}: mbu {:.2} mfu {:.2} alpha {:.2} beta {:.1} ms all-reduce {:.0} us",
            e.mbu,
            e.mfu,
            e.alpha,
            e.beta_s * 1e3,
            e.allreduce_latency_s * 1e6
        );
    }
    let _ = writeln!(out, "sources: {LMDEPLOY}; {TRTLLM}");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_point_within_20_percent() {
        let rows = calibrate_default();
        assert_eq!(rows.len(), 14);
        let text = render_calibration_text(&rows);
        for r in &rows {
            assert!(r.rel_err.abs() <= 0.20, "{}: {}\n{text}", r.case, r.metric);
        }
    }
}
