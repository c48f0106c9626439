//! The `[traffic]` section: how requests arrive (Poisson, a 24-hour profile, a replayed
//! trace or its Poisson twin), at what rate, for how long; validated into a [`TrafficSpec`]
//! whose [`ArrivalProcess`] carries exactly what its process needs.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::ScenarioError;
use super::check::Check;
use super::files::FileAccess;
use super::limits;
use super::profile::DailyProfile;
use super::raw::RawTraffic;
use crate::trace::{TraceFormat, TraceRecord, mean_rate_per_s, parse_trace};

/// Default warm-up, as a fraction of the duration, when `warmup_s` is not given.
pub const DEFAULT_WARMUP_FRACTION: f64 = 0.1;

/// How requests arrive, as a scenario names it (`traffic.arrival`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ArrivalKind {
    /// Homogeneous Poisson process: exponential inter-arrival times.
    Poisson,
    /// Non-homogeneous Poisson process following a 24-hour profile (thinning).
    Diurnal,
    /// Replay of a recorded request trace.
    Trace,
    /// The trace's Poisson twin: Poisson arrivals at the trace's mean rate, token counts drawn
    /// from the trace's own distributions.
    TracePoisson,
}

impl ArrivalKind {
    /// Whether the arrivals come from a trace file (`path` required).
    pub fn uses_trace(self) -> bool {
        matches!(self, ArrivalKind::Trace | ArrivalKind::TracePoisson)
    }
}

/// The validated arrival process, with everything its process needs and nothing else.
#[derive(Clone, Debug, PartialEq)]
pub enum ArrivalProcess {
    /// Homogeneous Poisson arrivals at `requests_per_s`.
    Poisson,
    /// Poisson arrivals whose rate follows `profile` through the day.
    Diurnal {
        /// The 24 hourly weights (mean 1), UTC hour 0 first.
        profile: DailyProfile,
        /// The hour of day at simulated time zero, in `[0, 24)`.
        start_hour: f64,
        /// The rates CSV the profile was read from, if any.
        rates_csv: Option<PathBuf>,
    },
    /// The trace replayed in order.
    Trace(TraceSpec),
    /// Poisson arrivals at the trace's mean rate; the trace gives the token counts.
    TracePoisson(TraceSpec),
}

/// A trace read at validation.
#[derive(Clone, Debug, PartialEq)]
pub struct TraceSpec {
    /// The trace file as opened.
    pub path: PathBuf,
    /// Its layout.
    pub format: TraceFormat,
    /// Time-axis compression factor (> 1 replays faster).
    pub rate_scale: f64,
    /// Replay again from the start when the trace ends.
    pub loop_trace: bool,
    /// The records, in arrival order (at least two).
    pub records: Arc<Vec<TraceRecord>>,
}

impl ArrivalProcess {
    /// The name a scenario file uses for this process.
    pub fn kind(&self) -> ArrivalKind {
        match self {
            ArrivalProcess::Poisson => ArrivalKind::Poisson,
            ArrivalProcess::Diurnal { .. } => ArrivalKind::Diurnal,
            ArrivalProcess::Trace(_) => ArrivalKind::Trace,
            ArrivalProcess::TracePoisson(_) => ArrivalKind::TracePoisson,
        }
    }

    /// The trace behind a `trace` or `trace-poisson` process.
    pub fn trace(&self) -> Option<&TraceSpec> {
        match self {
            ArrivalProcess::Trace(t) | ArrivalProcess::TracePoisson(t) => Some(t),
            ArrivalProcess::Poisson | ArrivalProcess::Diurnal { .. } => None,
        }
    }
}

/// The request stream. Serialises to the `[traffic]` table of the input schema.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(into = "TrafficTable")]
pub struct TrafficSpec {
    /// The arrival process.
    pub arrival: ArrivalProcess,
    /// Mean arrival rate (a trace's: its mean rate times `rate_scale`).
    pub requests_per_s: f64,
    /// Simulated time; arrivals stop and the run ends here.
    pub duration_s: f64,
    /// Requests arriving before this time are not measured, and idle time is counted after it.
    pub warmup_s: f64,
}

impl TrafficSpec {
    /// The hour of day at simulated time zero, for a day-profile process.
    pub fn start_hour(&self) -> Option<f64> {
        match &self.arrival {
            ArrivalProcess::Diurnal { start_hour, .. } => Some(*start_hour),
            _ => None,
        }
    }

    /// The trace's records, for a trace-driven process.
    pub fn records(&self) -> Option<&Arc<Vec<TraceRecord>>> {
        self.arrival.trace().map(|t| &t.records)
    }
}

/// The name of a trace format as written in `traffic.format`.
pub fn format_name(format: &TraceFormat) -> &'static str {
    match format {
        TraceFormat::Azure2023 => "azure-2023",
        TraceFormat::Mooncake => "mooncake",
        TraceFormat::Csv { .. } => "csv",
    }
}

/// `[traffic]` as the resolved scenario writes it: the flat table of the input schema, with
/// every default written out (`scenario.resolved.toml`).
#[derive(Serialize)]
struct TrafficTable {
    arrival: ArrivalKind,
    requests_per_s: f64,
    duration_s: f64,
    warmup_s: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    hourly_weights: Option<Vec<f64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    start_hour: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    format: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rate_scale: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    timestamp_column: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    input_column: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    output_column: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    timestamp_unit_s: Option<f64>,
    #[serde(rename = "loop", skip_serializing_if = "Option::is_none")]
    loop_trace: Option<bool>,
}

impl From<TrafficSpec> for TrafficTable {
    fn from(t: TrafficSpec) -> Self {
        let mut out = TrafficTable {
            arrival: t.arrival.kind(),
            requests_per_s: t.requests_per_s,
            duration_s: t.duration_s,
            warmup_s: t.warmup_s,
            hourly_weights: None,
            start_hour: None,
            path: None,
            format: None,
            rate_scale: None,
            timestamp_column: None,
            input_column: None,
            output_column: None,
            timestamp_unit_s: None,
            loop_trace: None,
        };
        match t.arrival {
            ArrivalProcess::Poisson => {}
            ArrivalProcess::Diurnal {
                profile,
                start_hour,
                ..
            } => {
                out.hourly_weights = Some(profile.hourly_weights.to_vec());
                out.start_hour = Some(start_hour);
            }
            ArrivalProcess::Trace(trace) | ArrivalProcess::TracePoisson(trace) => {
                out.path = Some(trace.path.to_string_lossy().into_owned());
                out.format = Some(format_name(&trace.format));
                out.rate_scale = Some(trace.rate_scale);
                out.loop_trace = Some(trace.loop_trace);
                if let TraceFormat::Csv {
                    timestamp_col,
                    input_col,
                    output_col,
                    timestamp_unit_s,
                } = trace.format
                {
                    out.timestamp_column = Some(timestamp_col);
                    out.input_column = Some(input_col);
                    out.output_column = Some(output_col);
                    out.timestamp_unit_s = Some(timestamp_unit_s);
                }
            }
        }
        out
    }
}

/// Where the shared traces live: `$FLEETSIM_TRACES`, else `../shared/traces`.
pub fn traces_dir() -> PathBuf {
    std::env::var_os("FLEETSIM_TRACES")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("../shared/traces"))
}

/// Resolves a path written in a scenario: `$FLEETSIM_TRACES/...` expands to [`traces_dir`];
/// a relative path is taken from the scenario file's folder.
pub fn resolve_path(written: &str, scenario_file: &Path) -> PathBuf {
    if let Some(rest) = written.strip_prefix("$FLEETSIM_TRACES/") {
        return traces_dir().join(rest);
    }
    let p = PathBuf::from(written);
    if p.is_absolute() {
        p
    } else {
        scenario_file
            .parent()
            .unwrap_or_else(|| Path::new("."))
            .join(p)
    }
}

/// Validates `[traffic]`, reading the files it names only as `access` allows.
pub fn validate_traffic(
    t: RawTraffic,
    check: Check,
    access: &FileAccess,
) -> Result<TrafficSpec, ScenarioError> {
    let kind = t.arrival.unwrap_or(ArrivalKind::Poisson);
    let requests_per_s = validate_rate(&t, kind, check)?;
    let duration_s = t.duration_s;
    if !(duration_s.is_finite() && duration_s > 0.0) {
        return Err(check.invalid(
            "traffic.duration_s",
            format!("must be a positive number of seconds, got {duration_s}"),
        ));
    }
    if duration_s > 1e9 {
        return Err(check.invalid(
            "traffic.duration_s",
            format!("must be at most 1e9 s (about 31 years), got {duration_s}"),
        ));
    }
    let warmup_s = t.warmup_s.unwrap_or(duration_s * DEFAULT_WARMUP_FRACTION);
    check.non_negative_s("traffic.warmup_s", warmup_s)?;
    if warmup_s >= duration_s {
        return Err(check.invalid(
            "traffic.warmup_s",
            format!(
                "the warm-up ({warmup_s} s) must be shorter than the run (duration_s = \
                 {duration_s} s)"
            ),
        ));
    }
    refuse_other_processes_keys(&t, kind, check)?;
    let mut spec = TrafficSpec {
        arrival: ArrivalProcess::Poisson,
        requests_per_s,
        duration_s,
        warmup_s,
    };
    spec.arrival = match kind {
        ArrivalKind::Poisson => ArrivalProcess::Poisson,
        ArrivalKind::Diurnal => validate_diurnal(&t, check, access)?,
        ArrivalKind::Trace | ArrivalKind::TracePoisson => {
            let (trace, rate) = validate_trace(t, kind, check, access)?;
            spec.requests_per_s = rate;
            if kind == ArrivalKind::Trace {
                ArrivalProcess::Trace(trace)
            } else {
                ArrivalProcess::TracePoisson(trace)
            }
        }
    };
    Ok(spec)
}

/// The mean rate from `requests_per_s` or `requests_per_day` (0 for a trace, which brings
/// its own).
fn validate_rate(t: &RawTraffic, kind: ArrivalKind, check: Check) -> Result<f64, ScenarioError> {
    let requests_per_s = match (t.requests_per_s, t.requests_per_day) {
        (Some(r), None) => r,
        (None, Some(d)) => d / 86_400.0,
        (Some(_), Some(_)) => {
            return Err(check.invalid(
                "traffic.requests_per_s",
                "give either requests_per_s or requests_per_day, not both",
            ));
        }
        // A replayed trace brings its own rate.
        (None, None) if kind.uses_trace() => 0.0,
        (None, None) => {
            return Err(check.invalid(
                "traffic.requests_per_s",
                "missing: give the arrival rate as requests_per_s or requests_per_day",
            ));
        }
    };
    let rate_key = if t.requests_per_day.is_some() {
        "traffic.requests_per_day"
    } else {
        "traffic.requests_per_s"
    };
    let rate_ok = requests_per_s.is_finite() && requests_per_s > 0.0;
    if !(kind.uses_trace() || rate_ok) {
        return Err(check.invalid(
            rate_key,
            format!("must be a positive number, got {requests_per_s}"),
        ));
    }
    if requests_per_s > limits::MAX_REQUESTS_PER_S {
        return Err(check.invalid(
            rate_key,
            format!(
                "must be at most {:e} requests per second (simulated time has nanosecond \
                 resolution), got {requests_per_s}",
                limits::MAX_REQUESTS_PER_S
            ),
        ));
    }
    Ok(requests_per_s)
}

/// Refuses the keys of the arrival processes other than `kind`.
fn refuse_other_processes_keys(
    t: &RawTraffic,
    kind: ArrivalKind,
    check: Check,
) -> Result<(), ScenarioError> {
    let only = |present: bool, key: &str, process: &str| {
        check.absent(
            present,
            &format!("traffic.{key}"),
            &format!("only applies to arrival = \"{process}\""),
        )
    };
    if kind != ArrivalKind::Diurnal {
        only(t.profile.is_some(), "profile", "diurnal")?;
        only(t.hourly_weights.is_some(), "hourly_weights", "diurnal")?;
        only(t.rates_csv.is_some(), "rates_csv", "diurnal")?;
        only(t.start_hour.is_some(), "start_hour", "diurnal")?;
    }
    if !kind.uses_trace() {
        only(t.path.is_some(), "path", "trace")?;
        only(t.format.is_some(), "format", "trace")?;
        only(t.rate_scale.is_some(), "rate_scale", "trace")?;
        only(t.timestamp_column.is_some(), "timestamp_column", "trace")?;
        only(t.input_column.is_some(), "input_column", "trace")?;
        only(t.output_column.is_some(), "output_column", "trace")?;
        only(t.timestamp_unit_s.is_some(), "timestamp_unit_s", "trace")?;
        only(t.loop_trace.is_some(), "loop", "trace")?;
    }
    Ok(())
}

/// `arrival = "diurnal"`: one of `profile`, `hourly_weights` or `rates_csv`, and the start
/// hour.
fn validate_diurnal(
    t: &RawTraffic,
    check: Check,
    access: &FileAccess,
) -> Result<ArrivalProcess, ScenarioError> {
    let given = [
        t.profile.is_some(),
        t.hourly_weights.is_some(),
        t.rates_csv.is_some(),
    ]
    .iter()
    .filter(|&&b| b)
    .count();
    if given > 1 {
        return Err(check.invalid(
            "traffic.profile",
            "give one of profile, hourly_weights or rates_csv",
        ));
    }
    let mut rates_csv = None;
    let profile = if let Some(w) = &t.hourly_weights {
        DailyProfile::from_weights(w).map_err(check.at("traffic.hourly_weights"))?
    } else if let Some(csv) = &t.rates_csv {
        let key = "traffic.rates_csv";
        let (opened, text) = access
            .read(key, csv, &resolve_path(csv, check.file()))
            .map_err(check.at(key))?;
        let profile = DailyProfile::from_rates_csv(&text).map_err(|m| {
            let m = if access.may_quote_contents() {
                m
            } else {
                "not 24 hourly rates (`hour,rate` or `rate` rows); the service does not \
                 quote files, check it with the CLI"
                    .into()
            };
            check.invalid(key, format!("{}: {m}", opened.display()))
        })?;
        rates_csv = Some(opened);
        profile
    } else {
        match t.profile.as_deref().unwrap_or("human") {
            "human" => DailyProfile::builtin_human(),
            "flat" => DailyProfile::flat(),
            other => {
                return Err(check.unknown("traffic.profile", "profile", other, "human, flat"));
            }
        }
    };
    let start_hour = t.start_hour.unwrap_or(0.0);
    if !(0.0..24.0).contains(&start_hour) {
        return Err(check.invalid(
            "traffic.start_hour",
            format!("must be in [0, 24), got {start_hour}"),
        ));
    }
    Ok(ArrivalProcess::Diurnal {
        profile,
        start_hour,
        rates_csv,
    })
}

/// The trace format named by `traffic.format` (default: from the file name), with the CSV
/// columns it needs.
fn validate_format(
    t: &RawTraffic,
    written: &str,
    check: Check,
) -> Result<TraceFormat, ScenarioError> {
    let name = t.format.clone().unwrap_or_else(|| {
        if written.ends_with(".jsonl") {
            "mooncake".into()
        } else {
            "azure-2023".into()
        }
    });
    if name != "csv" {
        for (key, present) in [
            ("timestamp_column", t.timestamp_column.is_some()),
            ("input_column", t.input_column.is_some()),
            ("output_column", t.output_column.is_some()),
            ("timestamp_unit_s", t.timestamp_unit_s.is_some()),
        ] {
            check.absent(
                present,
                &format!("traffic.{key}"),
                "only applies to format = \"csv\"",
            )?;
        }
    }
    match name.as_str() {
        "azure-2023" => Ok(TraceFormat::Azure2023),
        "mooncake" => Ok(TraceFormat::Mooncake),
        "csv" => {
            let col = |v: &Option<String>, key: &str| {
                v.clone().ok_or_else(|| {
                    check.invalid(
                        &format!("traffic.{key}"),
                        "missing: format = \"csv\" needs timestamp_column, input_column and \
                         output_column (header names)",
                    )
                })
            };
            let unit = t.timestamp_unit_s.unwrap_or(1.0);
            check.positive_s("traffic.timestamp_unit_s", unit)?;
            Ok(TraceFormat::Csv {
                timestamp_col: col(&t.timestamp_column, "timestamp_column")?,
                input_col: col(&t.input_column, "input_column")?,
                output_col: col(&t.output_column, "output_column")?,
                timestamp_unit_s: unit,
            })
        }
        other => Err(check.unknown(
            "traffic.format",
            "trace format",
            other,
            "azure-2023, mooncake, csv",
        )),
    }
}

/// `arrival = "trace"` or `"trace-poisson"`: the trace file, read and parsed once here, and
/// its mean rate after `rate_scale`.
fn validate_trace(
    t: RawTraffic,
    kind: ArrivalKind,
    check: Check,
    access: &FileAccess,
) -> Result<(TraceSpec, f64), ScenarioError> {
    let written = t.path.clone().ok_or_else(|| {
        check.invalid(
            "traffic.path",
            "missing: a trace arrival needs the trace file, e.g. \
             \"$FLEETSIM_TRACES/azure_llm_2023/AzureLLMInferenceTrace_code.csv\"",
        )
    })?;
    let path = resolve_path(&written, check.file());
    let format = validate_format(&t, &written, check)?;
    let rate_scale = check.positive("traffic.rate_scale", t.rate_scale.unwrap_or(1.0))?;
    let (opened, text) = access
        .read("traffic.path", &written, &path)
        .map_err(check.at("traffic.path"))?;
    let records = parse_trace(&text, &opened, &format).map_err(|e| {
        let m = if access.may_quote_contents() {
            e.to_string()
        } else {
            format!(
                "{}: not a valid {} trace; the service does not quote files, check it with \
                 `fleetsim trace-stats`",
                opened.display(),
                format_name(&format)
            )
        };
        check.invalid("traffic.path", m)
    })?;
    let path = opened;
    if records.len() < 2 {
        return Err(check.invalid(
            "traffic.path",
            format!("{}: a trace needs at least two requests", path.display()),
        ));
    }
    let requests_per_s = mean_rate_per_s(&records) * rate_scale;
    let most = limits::MAX_REQUESTS_PER_S;
    if requests_per_s.is_nan() || requests_per_s > most {
        return Err(check.invalid(
            "traffic.rate_scale",
            format!(
                "the trace's rate after scaling ({requests_per_s} requests/s) must be at most \
                 {most:e} (simulated time has nanosecond resolution)"
            ),
        ));
    }
    let span_s = records.last().map_or(0.0, |r| r.arrival_s);
    if kind == ArrivalKind::TracePoisson && span_s <= 0.0 {
        return Err(check.invalid(
            "traffic.path",
            format!(
                "{}: every record has the same timestamp, so the trace has no rate for its \
                 Poisson twin",
                path.display()
            ),
        ));
    }
    if t.loop_trace == Some(true) && span_s <= 0.0 {
        return Err(check.invalid(
            "traffic.loop",
            format!(
                "{}: every record has the same timestamp, so a looped replay would never \
                 advance in time",
                path.display()
            ),
        ));
    }
    let trace = TraceSpec {
        path,
        format,
        rate_scale,
        loop_trace: t.loop_trace.unwrap_or(false),
        records: Arc::new(records),
    };
    Ok((trace, requests_per_s))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::{Overrides, Scenario, parse};

    fn scenario(traffic: &str) -> Scenario {
        let text = format!(
            "[traffic]\n{traffic}\nduration_s = 100.0\n\n[servers]\ncount = 1\nservice_time_s = 1.0\n"
        );
        parse(&text, Path::new("t.toml"), &Overrides::default()).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn diurnal_carries_its_profile_and_writes_back_flat() {
        let s = scenario(
            "arrival = \"diurnal\"\nrequests_per_s = 2.0\nprofile = \"flat\"\nstart_hour = 6.5",
        );
        let ArrivalProcess::Diurnal {
            profile,
            start_hour,
            rates_csv,
        } = &s.traffic.arrival
        else {
            panic!("not diurnal: {:?}", s.traffic.arrival);
        };
        assert_eq!(*profile, DailyProfile::flat());
        assert_eq!(*start_hour, 6.5);
        assert!(rates_csv.is_none() && s.files_read().is_empty());
        let toml = s.to_resolved_toml();
        assert!(toml.contains("arrival = \"diurnal\""), "{toml}");
        assert!(toml.contains("start_hour = 6.5"), "{toml}");
        assert!(!toml.contains("path"), "{toml}");
        let again = parse(&toml, Path::new("t.toml"), &Overrides::default()).unwrap();
        assert_eq!(again.traffic, s.traffic);
    }

    #[test]
    fn csv_trace_keeps_its_format_and_columns() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.csv");
        std::fs::write(&path, "ts,in,out\n0,10,5\n1,20,6\n3,30,7\n").unwrap();
        let s = scenario(&format!(
            "arrival = \"trace\"\npath = {:?}\nformat = \"csv\"\ntimestamp_column = \"ts\"\n\
             input_column = \"in\"\noutput_column = \"out\"",
            path.display().to_string()
        ));
        let trace = s.traffic.arrival.trace().expect("a trace");
        assert_eq!(
            trace.format,
            TraceFormat::Csv {
                timestamp_col: "ts".into(),
                input_col: "in".into(),
                output_col: "out".into(),
                timestamp_unit_s: 1.0,
            }
        );
        assert_eq!(trace.records.len(), 3);
        assert!(!trace.loop_trace);
        assert_eq!(s.files_read()[0].path, path);
        assert_eq!(s.traffic.start_hour(), None);
        let toml = s.to_resolved_toml();
        assert!(toml.contains("format = \"csv\""), "{toml}");
        assert!(toml.contains("timestamp_column = \"ts\""), "{toml}");
        assert!(toml.contains("loop = false"), "{toml}");
        let again = parse(&toml, Path::new("t.toml"), &Overrides::default()).unwrap();
        assert_eq!(again.traffic, s.traffic);
    }
}
