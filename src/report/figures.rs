//! The figures of a run summary, each described once: its `summary.json` path (also its
//! sweep column), its label, the digits it is shown with, and how it is read from the typed
//! summary. The terminal table, `report.html` and the sweep files pick from these lists.

use crate::metrics::replication::{LatencyMetric, LatencyStat};
use crate::report::summary::RunSummary;

/// One figure of a summary: the mean over replications and, for figures that have one, its
/// 95% half-width.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Reading {
    /// The mean (none when not a finite number: written as `null`).
    pub mean: Option<f64>,
    /// `None`: the figure has no half-width (prices, the formula); `Some(None)`: it has one
    /// but it is unknown (one replication).
    pub ci95: Option<Option<f64>>,
}

impl Reading {
    /// A figure without a half-width.
    pub fn plain(mean: Option<f64>) -> Self {
        Reading {
            mean: mean.filter(|x| x.is_finite()),
            ci95: None,
        }
    }

    /// A figure averaged over replications, with its half-width.
    pub fn averaged(mean: f64, ci95: Option<f64>) -> Self {
        Reading {
            mean: Some(mean).filter(|x| x.is_finite()),
            ci95: Some(ci95.filter(|x| x.is_finite())),
        }
    }

    /// `mean ± half-width` with `digits` decimals, the mean alone without a half-width, `-`
    /// without a mean.
    pub fn mean_ci(&self, digits: usize) -> String {
        match (self.mean, self.ci95.flatten()) {
            (Some(m), Some(h)) => format!("{m:.digits$} ± {h:.digits$}"),
            (Some(m), None) => format!("{m:.digits$}"),
            _ => "-".into(),
        }
    }
}

/// A described figure.
#[derive(Clone, Copy)]
pub struct Figure {
    /// Its path in `summary.json`, e.g. `idle_rate.achieved`; the sweep's column name.
    pub key: &'static str,
    /// What a table calls it.
    pub label: &'static str,
    /// Decimals shown.
    pub digits: usize,
    /// Reads it; `None` when the summary does not have it (an LLM figure of a queue fleet).
    pub read: fn(&RunSummary) -> Option<Reading>,
}

impl Figure {
    /// `mean ± half-width` (see [`Reading::mean_ci`]); `-` when the summary lacks it.
    pub fn mean_ci(&self, s: &RunSummary) -> String {
        (self.read)(s).map_or_else(|| "-".into(), |r| r.mean_ci(self.digits))
    }

    /// The mean alone with the figure's digits; `n/a` when missing.
    pub fn value(&self, s: &RunSummary) -> String {
        fixed((self.read)(s).and_then(|r| r.mean), self.digits)
    }
}

/// `x` with `digits` decimals, or `n/a`.
pub fn fixed(x: Option<f64>, digits: usize) -> String {
    x.map(|x| format!("{x:.digits$}"))
        .unwrap_or_else(|| "n/a".into())
}

/// Latency statistic `stat` of `metric` (none when the fleet does not measure the metric).
pub fn latency(s: &RunSummary, metric: LatencyMetric, stat: LatencyStat) -> Option<Reading> {
    let mean = stat.of(s.latency(metric)?);
    let ci = s.latency_ci95(metric).and_then(|h| stat.half_width(h));
    Some(Reading::averaged(mean, ci))
}

/// A figure averaged over replications, read from the means and the half-widths by the same
/// field path (`figure!("key", "label", digits, path.to.field)`), or under the LLM part
/// (`llm: field`) or the idle rates (`idle: field`).
macro_rules! figure {
    ($key:literal, $label:literal, $digits:literal, llm: $f:ident) => {
        Figure {
            key: $key,
            label: $label,
            digits: $digits,
            read: |s| {
                let (m, h) = (s.means.llm.as_ref()?, s.ci95.llm.as_ref()?);
                Some(Reading::averaged(m.$f, h.$f))
            },
        }
    };
    ($key:literal, $label:literal, $digits:literal, idle: $f:ident) => {
        Figure {
            key: $key,
            label: $label,
            digits: $digits,
            read: |s| {
                let (m, h) = (&s.means.idle_rate.rates, &s.ci95.idle_rate);
                Some(Reading::averaged(m.$f, h.$f))
            },
        }
    };
    ($key:literal, $label:literal, $digits:literal, disagg: $($f:ident).+) => {
        Figure {
            key: $key,
            label: $label,
            digits: $digits,
            read: |s| {
                let m = s.means.disaggregated.as_ref()?;
                let h = s.ci95.disaggregated.as_ref()?;
                Some(Reading::averaged(m.$($f).+, h.$($f).+))
            },
        }
    };
    ($key:literal, $label:literal, $digits:literal, $($f:ident).+) => {
        Figure {
            key: $key,
            label: $label,
            digits: $digits,
            read: |s| Some(Reading::averaged(s.means.$($f).+, s.ci95.$($f).+)),
        }
    };
}

/// Requests arrived in the measured window.
pub const ARRIVED: Figure = figure!(
    "requests.arrived",
    "arrived (measured)",
    1,
    requests.arrived
);
/// Requests completed.
pub const COMPLETED: Figure = figure!("requests.completed", "completed", 1, requests.completed);
/// Requests answered by the response cache.
pub const CACHE_HITS: Figure = figure!("requests.cache_hits", "cache hits", 1, requests.cache_hits);
/// Requests still in the system at the end.
pub const IN_FLIGHT: Figure = figure!(
    "requests.in_flight",
    "in flight at end",
    1,
    requests.in_flight
);
/// Completions per second.
pub const THROUGHPUT: Figure = figure!(
    "throughput_per_s",
    "throughput (req/s)",
    3,
    throughput_per_s
);
/// Busy slot-time over total slot-time.
pub const UTILIZATION: Figure = figure!("utilization", "utilization", 4, utilization);
/// Fleet idle rate.
pub const IDLE_ACHIEVED: Figure =
    figure!("idle_rate.achieved", "idle rate, achieved", 4, idle: achieved);
/// The least idle server's idle rate.
pub const IDLE_MIN: Figure = figure!(
    "idle_rate.per_server_min",
    "idle rate, least idle server",
    4,
    idle: per_server_min
);
/// The most idle server's idle rate.
pub const IDLE_MAX: Figure = figure!(
    "idle_rate.per_server_max",
    "idle rate, most idle server",
    4,
    idle: per_server_max
);
/// Erlang C's P(wait > 0).
pub const WAIT_PROBABILITY: Figure =
    figure!("wait_probability", "P(wait > 0)", 4, wait_probability);
/// Little's L.
pub const MEAN_IN_SYSTEM: Figure = figure!("mean_in_system", "mean in system", 3, mean_in_system);
/// Fraction of arrivals answered by the response cache.
pub const CACHE_HIT_RATE: Figure = figure!("cache_hit_rate", "cache hit rate", 4, cache_hit_rate);

/// The LLM fleet's own figures, in table order.
pub const LLM: [Figure; 7] = [
    figure!("llm.mean_batch", "mean batch (sequences/step)", 2, llm: mean_batch),
    figure!("llm.mbu", "bandwidth use (MBU)", 3, llm: mbu),
    figure!("llm.mfu", "compute use (MFU)", 3, llm: mfu),
    figure!("llm.kv_occupancy", "KV occupancy", 3, llm: kv_occupancy),
    figure!("llm.preemptions", "preemptions", 1, llm: preemptions),
    figure!("llm.output_tokens_per_s", "output tokens/s", 1, llm: output_tokens_per_s),
    figure!("llm.prefill_tokens_per_s", "prompt tokens/s", 1, llm: prefill_tokens_per_s),
];

/// The idle rate R1's formula assumes.
pub const IDLE_ASSUMED: Figure = Figure {
    key: "idle_rate.assumed",
    label: "idle rate assumed (formula)",
    digits: 3,
    read: |s| {
        Some(Reading::plain(
            s.means.idle_rate.formula.as_ref().map(|f| f.assumed),
        ))
    },
};
/// The fleet's idle rate, beside the assumed one.
pub const IDLE_TIME: Figure = Figure {
    label: "idle rate achieved (time idle)",
    ..IDLE_ACHIEVED
};
/// The idle rate that makes the formula give the simulated cost.
pub const IDLE_EQUIVALENT: Figure = Figure {
    key: "idle_rate.equivalent",
    label: "idle rate equivalent (same cost in the formula)",
    digits: 3,
    read: |s| {
        let f = s.means.idle_rate.formula.as_ref();
        Some(Reading::plain(f.and_then(|f| f.equivalent)))
    },
};
/// Cloud cost per request.
pub const CLOUD_PER_REQUEST: Figure = Figure {
    key: "cost.cloud.per_request_usd",
    label: "cloud $/request",
    digits: 6,
    read: |s| Some(Reading::plain(s.cost.cloud.per_request_usd)),
};
/// Cloud cost per 1,000 tokens.
pub const CLOUD_PER_1K: Figure = Figure {
    key: "cost.cloud.per_1k_tokens_usd",
    label: "cloud $/1k tokens",
    digits: 6,
    read: |s| Some(Reading::plain(s.cost.cloud.per_1k_tokens_usd)),
};
/// Cloud cost per day.
pub const CLOUD_PER_DAY: Figure = Figure {
    key: "cost.cloud.per_day_usd",
    label: "cloud $/day",
    digits: 0,
    read: |s| Some(Reading::plain(Some(s.cost.cloud.per_day_usd))),
};
/// Self-built cost per request.
pub const SELF_BUILT_PER_REQUEST: Figure = Figure {
    key: "cost.self_built.per_request_usd",
    label: "self-built $/request",
    digits: 6,
    read: |s| Some(Reading::plain(s.cost.self_built.per_request_usd)),
};
/// The reports' shortcut for self-built cost.
pub const SELF_BUILT_SHORTCUT: Figure = Figure {
    key: "cost.self_built.reports_shortcut_per_request_usd",
    label: "self-built $/request, reports' shortcut (cloud x 0.3)",
    digits: 6,
    read: |s| {
        Some(Reading::plain(
            s.cost.self_built.reports_shortcut_per_request_usd,
        ))
    },
};
/// The R1 formula's cost per request.
pub const FORMULA_PER_REQUEST: Figure = Figure {
    key: "cost.formula.per_request_usd",
    label: "R1 formula $/request (assumed rates)",
    digits: 6,
    read: |s| {
        Some(Reading::plain(
            s.cost.formula.as_ref().map(|f| f.per_request_usd),
        ))
    },
};

/// A latency statistic as a figure: `latency_figure!(E2e, P99, "latency_s.e2e.p99")`.
macro_rules! latency_figure {
    ($metric:ident, $stat:ident, $key:literal) => {
        Figure {
            key: $key,
            label: $key,
            digits: 4,
            read: |s| latency(s, LatencyMetric::$metric, LatencyStat::$stat),
        }
    };
}

/// Issue 17: a split fleet's prefill-pool utilisation.
pub const PREFILL_UTILIZATION: Figure = figure!(
    "disaggregated.prefill.utilization",
    "prefill pool utilisation",
    4,
    disagg: prefill.utilization
);
/// Issue 17: a split fleet's decode-pool utilisation.
pub const DECODE_UTILIZATION: Figure = figure!(
    "disaggregated.decode.utilization",
    "decode pool utilisation",
    4,
    disagg: decode.utilization
);
/// Issue 17: a split fleet's mean decode batch.
pub const DECODE_MEAN_BATCH: Figure = figure!(
    "disaggregated.decode.mean_batch",
    "decode pool mean batch",
    2,
    disagg: decode.mean_batch
);
/// Issue 17: a split fleet's KV-link utilisation.
pub const LINK_UTILIZATION: Figure = figure!(
    "disaggregated.link_utilization",
    "KV link utilisation",
    4,
    disagg: link_utilization
);
/// Issue 17: a split fleet's 99th-percentile KV transfer time.
pub const TRANSFER_P99: Figure = figure!(
    "disaggregated.transfer_s.p99",
    "KV transfer p99 (s)",
    4,
    disagg: transfer_s.p99
);

/// The figures a sweep keeps per point (after `stable`, `offered_load` and `servers`), in
/// column order; each also gets a `ci95.` column when it has a half-width.
pub const SWEEP: [Figure; 22] = [
    latency_figure!(E2e, Mean, "latency_s.e2e.mean"),
    latency_figure!(E2e, P50, "latency_s.e2e.p50"),
    latency_figure!(E2e, P99, "latency_s.e2e.p99"),
    latency_figure!(QueueWait, Mean, "latency_s.queue_wait.mean"),
    latency_figure!(QueueWait, P50, "latency_s.queue_wait.p50"),
    latency_figure!(QueueWait, P99, "latency_s.queue_wait.p99"),
    latency_figure!(Ttft, Mean, "latency_s.ttft.mean"),
    latency_figure!(Ttft, P50, "latency_s.ttft.p50"),
    latency_figure!(Ttft, P99, "latency_s.ttft.p99"),
    latency_figure!(Tpot, Mean, "latency_s.tpot.mean"),
    latency_figure!(Tpot, P50, "latency_s.tpot.p50"),
    latency_figure!(Tpot, P99, "latency_s.tpot.p99"),
    IDLE_ACHIEVED,
    IDLE_EQUIVALENT,
    UTILIZATION,
    THROUGHPUT,
    CLOUD_PER_REQUEST,
    PREFILL_UTILIZATION,
    DECODE_UTILIZATION,
    DECODE_MEAN_BATCH,
    LINK_UTILIZATION,
    TRANSFER_P99,
];
