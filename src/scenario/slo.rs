//! `[slo]`: latency targets, `<metric>_<stat>_s = seconds`, as typed [`SloTarget`]s naming
//! a [`Metric`] and a [`LatencyStat`] (the same enums the metrics and reports use).

use serde::Serialize;

use super::ScenarioError;
use super::check::Check;

/// The latency metrics the series follows, in report order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Arrival to completion.
    E2e = 0,
    /// Arrival to start of service.
    QueueWait = 1,
    /// Arrival to first token (LLM servers).
    Ttft = 2,
    /// Time per output token after the first (LLM servers).
    Tpot = 3,
}

impl Metric {
    /// Every metric, in report order.
    pub const ALL: [Metric; 4] = [Metric::E2e, Metric::QueueWait, Metric::Ttft, Metric::Tpot];

    /// The metric's name in summaries and `[slo]` keys, e.g. `queue_wait`.
    pub fn name(self) -> &'static str {
        match self {
            Metric::E2e => "e2e",
            Metric::QueueWait => "queue_wait",
            Metric::Ttft => "ttft",
            Metric::Tpot => "tpot",
        }
    }

    /// The metric called `name` in summaries and `[slo]` keys.
    pub fn from_name(name: &str) -> Option<Metric> {
        Metric::ALL.into_iter().find(|m| m.name() == name)
    }
}

/// A statistic of a latency summary, in report order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LatencyStat {
    /// The mean.
    Mean,
    /// The median.
    P50,
    /// The 90th percentile.
    P90,
    /// The 95th percentile.
    P95,
    /// The 99th percentile.
    P99,
    /// The 99.9th percentile.
    P999,
    /// The largest value.
    Max,
}

impl LatencyStat {
    /// Every statistic, in report order.
    pub const ALL: [LatencyStat; 7] = [
        LatencyStat::Mean,
        LatencyStat::P50,
        LatencyStat::P90,
        LatencyStat::P95,
        LatencyStat::P99,
        LatencyStat::P999,
        LatencyStat::Max,
    ];

    /// Its name in summaries and `[slo]` keys, e.g. `p999`.
    pub fn name(self) -> &'static str {
        match self {
            LatencyStat::Mean => "mean",
            LatencyStat::P50 => "p50",
            LatencyStat::P90 => "p90",
            LatencyStat::P95 => "p95",
            LatencyStat::P99 => "p99",
            LatencyStat::P999 => "p999",
            LatencyStat::Max => "max",
        }
    }

    /// The statistic called `name`.
    pub fn from_name(name: &str) -> Option<LatencyStat> {
        LatencyStat::ALL.into_iter().find(|s| s.name() == name)
    }

    /// The percentile it is (none for the mean and the maximum).
    pub fn percentile(self) -> Option<f64> {
        match self {
            LatencyStat::P50 => Some(50.0),
            LatencyStat::P90 => Some(90.0),
            LatencyStat::P95 => Some(95.0),
            LatencyStat::P99 => Some(99.0),
            LatencyStat::P999 => Some(99.9),
            LatencyStat::Mean | LatencyStat::Max => None,
        }
    }
}

/// One latency target: `stat` of `metric` must be at most `max_s`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SloTarget {
    /// `ttft`, `tpot`, `e2e` or `queue_wait` ([`SLO_METRICS`]).
    pub metric: Metric,
    /// `mean`, `p50`, `p90` or `p99` ([`SLO_STATS`]).
    pub stat: LatencyStat,
    /// The bound in seconds.
    pub max_s: f64,
}

impl SloTarget {
    /// The scenario key it came from, e.g. `slo.ttft_p99_s`.
    pub fn key(&self) -> String {
        format!("slo.{}_{}_s", self.metric.name(), self.stat.name())
    }
}

/// Writes targets back as the `[slo]` table they came from.
pub(crate) fn slo_as_map<S: serde::Serializer>(
    slo: &[SloTarget],
    ser: S,
) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut m = ser.serialize_map(Some(slo.len()))?;
    for t in slo {
        m.serialize_entry(
            &format!("{}_{}_s", t.metric.name(), t.stat.name()),
            &t.max_s,
        )?;
    }
    m.end()
}

/// Metrics an `[slo]` key may name.
pub const SLO_METRICS: &[&str] = &["ttft", "tpot", "e2e", "queue_wait"];
/// Statistics an `[slo]` key may name.
pub const SLO_STATS: &[&str] = &["mean", "p50", "p90", "p99"];

/// Validates `[slo]`: `<metric>_<stat>_s = seconds` keys.
pub(crate) fn validate_slo(
    raw: Option<std::collections::BTreeMap<String, f64>>,
    is_llm: bool,
    check: Check,
) -> Result<Vec<SloTarget>, ScenarioError> {
    let mut out = Vec::new();
    for (key, max_s) in raw.unwrap_or_default() {
        let slo_key = format!("slo.{key}");
        let invalid = |message: String| check.invalid(&slo_key, message);
        let parsed = key.strip_suffix("_s").and_then(|k| {
            SLO_STATS.iter().find_map(|stat| {
                let metric = k.strip_suffix(&format!("_{stat}"))?;
                SLO_METRICS
                    .contains(&metric)
                    .then(|| (metric.to_string(), stat.to_string()))
            })
        });
        let Some((metric, stat)) = parsed else {
            return Err(invalid(format!(
                "unknown target; keys are <metric>_<stat>_s with metric one of {} and stat one \
                 of {}, e.g. ttft_p99_s = 2.0",
                SLO_METRICS.join(", "),
                SLO_STATS.join(", ")
            )));
        };
        if !is_llm && (metric == "ttft" || metric == "tpot") {
            return Err(invalid(
                "ttft and tpot apply to llm servers; on queue servers use e2e or queue_wait".into(),
            ));
        }
        check.positive_s(&slo_key, max_s)?;
        out.push(SloTarget {
            metric: Metric::from_name(&metric).expect("SLO_METRICS are Metric names"),
            stat: LatencyStat::from_name(&stat).expect("SLO_STATS are LatencyStat names"),
            max_s,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_slo_name_validation_admits_has_an_enum() {
        for &m in SLO_METRICS {
            assert_eq!(Metric::from_name(m).map(Metric::name), Some(m));
        }
        for &s in SLO_STATS {
            assert_eq!(LatencyStat::from_name(s).map(LatencyStat::name), Some(s));
        }
        assert_eq!(Metric::from_name("service"), None);
        assert_eq!(LatencyStat::from_name("p75"), None);
    }

    #[test]
    fn targets_parse_to_enums_and_write_back_their_keys() {
        let raw = [
            ("queue_wait_p99_s".to_string(), 0.5),
            ("ttft_mean_s".to_string(), 2.0),
        ];
        let check = Check::new(std::path::Path::new("t.toml"));
        let slo = validate_slo(Some(raw.into_iter().collect()), true, check).unwrap();
        assert_eq!(
            (slo[0].metric, slo[0].stat),
            (Metric::QueueWait, LatencyStat::P99)
        );
        assert_eq!(slo[0].key(), "slo.queue_wait_p99_s");
        assert_eq!(
            (slo[1].metric, slo[1].stat),
            (Metric::Ttft, LatencyStat::Mean)
        );
        assert_eq!(slo[1].key(), "slo.ttft_mean_s");
    }
}
