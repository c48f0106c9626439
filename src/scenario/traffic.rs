//! The `[traffic]` arrival processes beyond Poisson: a 24-hour profile (`diurnal`) and a
//! replayed trace (`trace`), validated into [`super::TrafficSpec`].

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::files::FileAccess;
use super::raw::RawTraffic;
use super::{ArrivalKind, ScenarioError, TrafficSpec};
use crate::trace::{TraceFormat, mean_rate_per_s, parse_trace};
use crate::workload::diurnal::DailyProfile;

fn invalid(file: &Path, key: &str, message: String) -> ScenarioError {
    ScenarioError::Invalid {
        file: file.to_path_buf(),
        key: key.to_string(),
        message,
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

/// Validates the arrival-process keys of `[traffic]`, reading the files they name only as
/// `access` allows.
pub fn validate_traffic(
    t: RawTraffic,
    requests_per_s: f64,
    warmup_s: f64,
    file: &Path,
    access: &FileAccess,
) -> Result<TrafficSpec, ScenarioError> {
    let arrival = t.arrival.unwrap_or(ArrivalKind::Poisson);
    let mut spec = TrafficSpec {
        arrival,
        requests_per_s,
        duration_s: t.duration_s,
        warmup_s,
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
        records: None,
        rates_csv: None,
    };
    let only = |present: bool, key: &str, kind: &str| -> Result<(), ScenarioError> {
        if present {
            Err(invalid(
                file,
                &format!("traffic.{key}"),
                format!("only applies to arrival = \"{kind}\""),
            ))
        } else {
            Ok(())
        }
    };
    if arrival != ArrivalKind::Diurnal {
        only(t.profile.is_some(), "profile", "diurnal")?;
        only(t.hourly_weights.is_some(), "hourly_weights", "diurnal")?;
        only(t.rates_csv.is_some(), "rates_csv", "diurnal")?;
        only(t.start_hour.is_some(), "start_hour", "diurnal")?;
    }
    if !arrival.uses_trace() {
        only(t.path.is_some(), "path", "trace")?;
        only(t.format.is_some(), "format", "trace")?;
        only(t.rate_scale.is_some(), "rate_scale", "trace")?;
        only(t.timestamp_column.is_some(), "timestamp_column", "trace")?;
        only(t.input_column.is_some(), "input_column", "trace")?;
        only(t.output_column.is_some(), "output_column", "trace")?;
        only(t.timestamp_unit_s.is_some(), "timestamp_unit_s", "trace")?;
        only(t.loop_trace.is_some(), "loop", "trace")?;
    }
    match arrival {
        ArrivalKind::Poisson => {}
        ArrivalKind::Diurnal => {
            let given = [
                t.profile.is_some(),
                t.hourly_weights.is_some(),
                t.rates_csv.is_some(),
            ]
            .iter()
            .filter(|&&b| b)
            .count();
            if given > 1 {
                return Err(invalid(
                    file,
                    "traffic.profile",
                    "give one of profile, hourly_weights or rates_csv".into(),
                ));
            }
            let profile = if let Some(w) = &t.hourly_weights {
                DailyProfile::from_weights(w)
                    .map_err(|m| invalid(file, "traffic.hourly_weights", m))?
            } else if let Some(csv) = &t.rates_csv {
                let key = "traffic.rates_csv";
                let (opened, text) = access
                    .read(key, csv, &resolve_path(csv, file))
                    .map_err(|m| invalid(file, key, m))?;
                let profile = DailyProfile::from_rates_csv(&text).map_err(|m| {
                    let m = if access.may_quote_contents() {
                        m
                    } else {
                        "not 24 hourly rates (`hour,rate` or `rate` rows); the service does not \
                         quote files, check it with the CLI"
                            .into()
                    };
                    invalid(file, key, format!("{}: {m}", opened.display()))
                })?;
                spec.rates_csv = Some(opened);
                profile
            } else {
                match t.profile.as_deref().unwrap_or("human") {
                    "human" => DailyProfile::builtin_human(),
                    "flat" => DailyProfile::flat(),
                    other => {
                        return Err(invalid(
                            file,
                            "traffic.profile",
                            format!("unknown profile {other:?}; allowed: human, flat"),
                        ));
                    }
                }
            };
            let start_hour = t.start_hour.unwrap_or(0.0);
            if !(0.0..24.0).contains(&start_hour) {
                return Err(invalid(
                    file,
                    "traffic.start_hour",
                    format!("must be in [0, 24), got {start_hour}"),
                ));
            }
            spec.hourly_weights = Some(profile.hourly_weights.to_vec());
            spec.start_hour = Some(start_hour);
        }
        ArrivalKind::Trace | ArrivalKind::TracePoisson => {
            let written = t.path.ok_or_else(|| {
                invalid(
                    file,
                    "traffic.path",
                    "missing: a trace arrival needs the trace file, e.g. \
                     \"$FLEETSIM_TRACES/azure_llm_2023/AzureLLMInferenceTrace_code.csv\""
                        .into(),
                )
            })?;
            let path = resolve_path(&written, file);
            let format_name = t.format.unwrap_or_else(|| {
                if written.ends_with(".jsonl") {
                    "mooncake".into()
                } else {
                    "azure-2023".into()
                }
            });
            if format_name != "csv" {
                for (key, present) in [
                    ("timestamp_column", t.timestamp_column.is_some()),
                    ("input_column", t.input_column.is_some()),
                    ("output_column", t.output_column.is_some()),
                    ("timestamp_unit_s", t.timestamp_unit_s.is_some()),
                ] {
                    if present {
                        return Err(invalid(
                            file,
                            &format!("traffic.{key}"),
                            "only applies to format = \"csv\"".into(),
                        ));
                    }
                }
            }
            let format = match format_name.as_str() {
                "azure-2023" => TraceFormat::Azure2023,
                "mooncake" => TraceFormat::Mooncake,
                "csv" => {
                    let col = |v: &Option<String>, key: &str| {
                        v.clone().ok_or_else(|| {
                            invalid(
                                file,
                                &format!("traffic.{key}"),
                                "missing: format = \"csv\" needs timestamp_column, \
                                 input_column and output_column (header names)"
                                    .into(),
                            )
                        })
                    };
                    let unit = t.timestamp_unit_s.unwrap_or(1.0);
                    if !(unit.is_finite() && unit > 0.0) {
                        return Err(invalid(
                            file,
                            "traffic.timestamp_unit_s",
                            format!("must be a positive number of seconds, got {unit}"),
                        ));
                    }
                    spec.timestamp_column = Some(col(&t.timestamp_column, "timestamp_column")?);
                    spec.input_column = Some(col(&t.input_column, "input_column")?);
                    spec.output_column = Some(col(&t.output_column, "output_column")?);
                    spec.timestamp_unit_s = Some(unit);
                    TraceFormat::Csv {
                        timestamp_col: spec.timestamp_column.clone().unwrap_or_default(),
                        input_col: spec.input_column.clone().unwrap_or_default(),
                        output_col: spec.output_column.clone().unwrap_or_default(),
                        timestamp_unit_s: unit,
                    }
                }
                other => {
                    return Err(invalid(
                        file,
                        "traffic.format",
                        format!(
                            "unknown trace format {other:?}; allowed: azure-2023, mooncake, csv"
                        ),
                    ));
                }
            };
            let rate_scale = t.rate_scale.unwrap_or(1.0);
            if !(rate_scale.is_finite() && rate_scale > 0.0) {
                return Err(invalid(
                    file,
                    "traffic.rate_scale",
                    format!("must be a positive number, got {rate_scale}"),
                ));
            }
            let (opened, text) = access
                .read("traffic.path", &written, &path)
                .map_err(|m| invalid(file, "traffic.path", m))?;
            let records = parse_trace(&text, &opened, &format).map_err(|e| {
                let m = if access.may_quote_contents() {
                    e.to_string()
                } else {
                    format!(
                        "{}: not a valid {format_name} trace; the service does not quote files, \
                         check it with `fleetsim trace-stats`",
                        opened.display()
                    )
                };
                invalid(file, "traffic.path", m)
            })?;
            let path = opened;
            if records.len() < 2 {
                return Err(invalid(
                    file,
                    "traffic.path",
                    format!("{}: a trace needs at least two requests", path.display()),
                ));
            }
            spec.requests_per_s = mean_rate_per_s(&records) * rate_scale;
            let most = super::limits::MAX_REQUESTS_PER_S;
            if spec.requests_per_s.is_nan() || spec.requests_per_s > most {
                return Err(invalid(
                    file,
                    "traffic.rate_scale",
                    format!(
                        "the trace's rate after scaling ({} requests/s) must be at most {most:e} \
                         (simulated time has nanosecond resolution)",
                        spec.requests_per_s
                    ),
                ));
            }
            let span_s = records.last().map_or(0.0, |r| r.arrival_s);
            if arrival == ArrivalKind::TracePoisson && span_s <= 0.0 {
                return Err(invalid(
                    file,
                    "traffic.path",
                    format!(
                        "{}: every record has the same timestamp, so the trace has no rate for \
                         its Poisson twin",
                        path.display()
                    ),
                ));
            }
            if t.loop_trace == Some(true) && span_s <= 0.0 {
                return Err(invalid(
                    file,
                    "traffic.loop",
                    format!(
                        "{}: every record has the same timestamp, so a looped replay would never \
                         advance in time",
                        path.display()
                    ),
                ));
            }
            spec.path = Some(path.to_string_lossy().into_owned());
            spec.format = Some(format_name);
            spec.rate_scale = Some(rate_scale);
            spec.loop_trace = Some(t.loop_trace.unwrap_or(false));
            spec.records = Some(Arc::new(records));
        }
    }
    Ok(spec)
}
