//! Line-level parsing of the supported trace formats.

use std::path::Path;

use super::{MAX_TRACE_ROWS, TraceError, TraceFormat, TraceRecord};

/// Splits text into `(1-based line number, line)` pairs. Accepts `\n` or `\r\n` line ends
/// and a missing final newline; the empty piece after a final newline is not a line.
fn lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    let body = text.strip_suffix('\n').unwrap_or(text);
    let empty = text.is_empty();
    body.split('\n')
        .filter(move |_| !empty)
        .enumerate()
        .map(|(i, l)| (i + 1, l.strip_suffix('\r').unwrap_or(l)))
}

fn parse_err(path: &Path, line: usize, message: impl Into<String>) -> TraceError {
    TraceError::Parse {
        path: path.to_path_buf(),
        line,
        message: message.into(),
    }
}

/// One record before arrival times are made relative. Azure times are integer nanoseconds
/// since 1970 (so subtracting the first one loses no precision); others are seconds.
struct RawRecord {
    line: usize,
    time: RawTime,
    input_tokens: u32,
    output_tokens: u32,
    hash_ids: Vec<u64>,
}

#[derive(Clone, Copy)]
enum RawTime {
    Nanos(i64),
    Seconds(f64),
}

pub(super) fn parse_str(
    text: &str,
    path: &Path,
    format: &TraceFormat,
) -> Result<Vec<TraceRecord>, TraceError> {
    let raw = match format {
        TraceFormat::Azure2023 => parse_csv(
            text,
            path,
            ["TIMESTAMP", "ContextTokens", "GeneratedTokens"],
            |s| parse_datetime_ns(s).map(RawTime::Nanos),
        )?,
        TraceFormat::Csv {
            timestamp_col,
            input_col,
            output_col,
            timestamp_unit_s,
        } => {
            let unit = *timestamp_unit_s;
            if !(unit.is_finite() && unit > 0.0) {
                return Err(TraceError::Format {
                    path: path.to_path_buf(),
                    message: format!("timestamp_unit_s must be a finite number > 0, got {unit}"),
                });
            }
            parse_csv(
                text,
                path,
                [
                    timestamp_col.as_str(),
                    input_col.as_str(),
                    output_col.as_str(),
                ],
                |s| match s.trim().parse::<f64>() {
                    Ok(v) if v.is_finite() => Ok(RawTime::Seconds(v * unit)),
                    _ => Err(format!("timestamp `{s}` is not a finite number")),
                },
            )?
        }
        TraceFormat::Mooncake => parse_mooncake(text, path)?,
    };
    relative(raw, path)
}

/// Longest time a trace may span, in seconds (as `traffic.duration_s`): per-minute counts
/// and replays stay bounded in memory.
pub const MAX_TRACE_SPAN_S: f64 = 1e9;
/// Largest absolute timestamp in seconds (Unix epoch seconds are about 1.7e9).
pub const MAX_ABS_TIMESTAMP_S: f64 = 1e11;

/// Makes arrival times relative to the first record and checks they never go backwards,
/// are in range, and span at most [`MAX_TRACE_SPAN_S`].
fn relative(raw: Vec<RawRecord>, path: &Path) -> Result<Vec<TraceRecord>, TraceError> {
    let Some(first) = raw.first().map(|r| r.time) else {
        return Ok(Vec::new());
    };
    let mut out: Vec<TraceRecord> = Vec::with_capacity(raw.len());
    let mut prev_line = 0;
    let mut prev: Option<RawTime> = None;
    for r in raw {
        let backwards = match (prev, r.time) {
            (Some(RawTime::Nanos(a)), RawTime::Nanos(b)) => b < a,
            (Some(RawTime::Seconds(a)), RawTime::Seconds(b)) => b < a,
            _ => false,
        };
        if backwards {
            return Err(parse_err(
                path,
                r.line,
                format!(
                    "timestamp goes backwards from line {prev_line}; traces must be sorted by time"
                ),
            ));
        }
        let arrival_s = match (first, r.time) {
            (RawTime::Nanos(a), RawTime::Nanos(b)) => b.saturating_sub(a) as f64 * 1e-9,
            (RawTime::Seconds(a), RawTime::Seconds(b)) => b - a,
            _ => unreachable!("one format yields one kind of time"),
        };
        if let RawTime::Seconds(t) = r.time
            && !(t.is_finite() && t.abs() <= MAX_ABS_TIMESTAMP_S)
        {
            return Err(parse_err(
                path,
                r.line,
                format!(
                    "timestamp {t} s is out of range: at most {MAX_ABS_TIMESTAMP_S:e} s (about \
                     3,000 years) is allowed"
                ),
            ));
        }
        if arrival_s.is_nan() || arrival_s > MAX_TRACE_SPAN_S {
            return Err(parse_err(
                path,
                r.line,
                format!(
                    "timestamp {} is {arrival_s} s after the first record's; a trace may span \
                     at most {MAX_TRACE_SPAN_S:e} s (about 31 years)",
                    match r.time {
                        RawTime::Nanos(ns) => format!("{ns} ns since 1970"),
                        RawTime::Seconds(t) => format!("{t} s"),
                    }
                ),
            ));
        }
        prev = Some(r.time);
        prev_line = r.line;
        out.push(TraceRecord {
            arrival_s,
            input_tokens: r.input_tokens,
            output_tokens: r.output_tokens,
            hash_ids: r.hash_ids,
        });
    }
    Ok(out)
}

/// Refuses a trace longer than [`MAX_TRACE_ROWS`] records.
fn check_rows(out: &[RawRecord], path: &Path, line: usize) -> Result<(), TraceError> {
    let most = MAX_TRACE_ROWS;
    if out.len() >= most {
        return Err(parse_err(
            path,
            line,
            format!("more than {most} records; a trace may hold at most {most}"),
        ));
    }
    Ok(())
}

fn parse_tokens(field: &str, name: &str) -> Result<u32, String> {
    field
        .trim()
        .parse::<u32>()
        .map_err(|e| format!("column `{name}`: `{field}` is not a token count ({e})"))
}

/// Parses a CSV with a header row; `cols` are the header names of timestamp, input and
/// output tokens.
fn parse_csv(
    text: &str,
    path: &Path,
    cols: [&str; 3],
    parse_time: impl Fn(&str) -> Result<RawTime, String>,
) -> Result<Vec<RawRecord>, TraceError> {
    let mut it = lines(text);
    let Some((_, header)) = it.next() else {
        return Err(parse_err(path, 1, "empty file; expected a CSV header row"));
    };
    let header = header.strip_prefix('\u{feff}').unwrap_or(header);
    let names: Vec<&str> = header.split(',').map(str::trim).collect();
    let mut idx = [0usize; 3];
    for (slot, col) in idx.iter_mut().zip(cols) {
        *slot = names.iter().position(|n| *n == col).ok_or_else(|| {
            parse_err(
                path,
                1,
                format!("header has no column `{col}` (found: {})", names.join(", ")),
            )
        })?;
    }
    let mut out = Vec::new();
    for (line, l) in it {
        check_rows(&out, path, line)?;
        let fields: Vec<&str> = l.split(',').collect();
        if fields.len() != names.len() {
            return Err(parse_err(
                path,
                line,
                format!(
                    "expected {} fields like the header, found {}",
                    names.len(),
                    fields.len()
                ),
            ));
        }
        let time = parse_time(fields[idx[0]])
            .map_err(|m| parse_err(path, line, format!("column `{}`: {m}", cols[0])))?;
        let input_tokens =
            parse_tokens(fields[idx[1]], cols[1]).map_err(|m| parse_err(path, line, m))?;
        let output_tokens =
            parse_tokens(fields[idx[2]], cols[2]).map_err(|m| parse_err(path, line, m))?;
        out.push(RawRecord {
            line,
            time,
            input_tokens,
            output_tokens,
            hash_ids: Vec::new(),
        });
    }
    Ok(out)
}

#[derive(serde::Deserialize)]
struct MooncakeLine {
    timestamp: f64,
    input_length: u32,
    output_length: u32,
    hash_ids: Vec<u64>,
}

fn parse_mooncake(text: &str, path: &Path) -> Result<Vec<RawRecord>, TraceError> {
    let mut out = Vec::new();
    for (line, l) in lines(text) {
        check_rows(&out, path, line)?;
        let m: MooncakeLine = serde_json::from_str(l)
            .map_err(|e| parse_err(path, line, format!("not a Mooncake record: {e}")))?;
        if m.timestamp > MAX_ABS_TIMESTAMP_S * 1e3 {
            return Err(parse_err(
                path,
                line,
                format!(
                    "timestamp {} ms is out of range: at most {:e} ms (about 3,000 years) is \
                     allowed",
                    m.timestamp,
                    MAX_ABS_TIMESTAMP_S * 1e3
                ),
            ));
        }
        if !(m.timestamp.is_finite() && m.timestamp >= 0.0) {
            return Err(parse_err(
                path,
                line,
                format!("timestamp {} ms must be a finite number >= 0", m.timestamp),
            ));
        }
        out.push(RawRecord {
            line,
            time: RawTime::Seconds(m.timestamp * 1e-3),
            input_tokens: m.input_length,
            output_tokens: m.output_length,
            hash_ids: m.hash_ids,
        });
    }
    Ok(out)
}

/// Days from 1970-01-01 to the given proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        _ => 28,
    }
}

/// Parses `YYYY-MM-DD HH:MM:SS[.fffffff]` (a `T` separator is also accepted; no time zone)
/// into integer nanoseconds since 1970-01-01 00:00:00. Digits beyond nanoseconds are
/// truncated.
pub(super) fn parse_datetime_ns(s: &str) -> Result<i64, String> {
    let bad = || format!("`{s}` is not a datetime like `2023-11-16 18:17:03.9799600`");
    let b = s.trim().as_bytes();
    if b.len() < 19
        || b[4] != b'-'
        || b[7] != b'-'
        || !(b[10] == b' ' || b[10] == b'T')
        || b[13] != b':'
        || b[16] != b':'
    {
        return Err(bad());
    }
    let num = |r: std::ops::Range<usize>| -> Result<i64, String> {
        let part = &b[r];
        if part.iter().all(u8::is_ascii_digit) {
            Ok(part
                .iter()
                .fold(0i64, |acc, &c| acc * 10 + i64::from(c - b'0')))
        } else {
            Err(bad())
        }
    };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || sec > 60
    {
        return Err(format!("`{s}` has a field out of range"));
    }
    let mut nanos = 0i64;
    if b.len() > 19 {
        let frac = &b[19..];
        if frac[0] != b'.' || frac.len() == 1 || !frac[1..].iter().all(u8::is_ascii_digit) {
            return Err(bad());
        }
        let mut scale = 100_000_000i64;
        for &c in frac[1..].iter().take(9) {
            nanos += i64::from(c - b'0') * scale;
            scale /= 10;
        }
    }
    let secs = days_from_civil(y, mo, d) * 86_400 + h * 3_600 + mi * 60 + sec;
    // Nanoseconds in an i64 reach from 1677 to 2262.
    secs.checked_mul(1_000_000_000)
        .and_then(|ns| ns.checked_add(nanos))
        .ok_or_else(|| format!("`{s}` is out of range: datetimes from 1678 to 2261 are supported"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn azure(text: &str) -> Result<Vec<TraceRecord>, TraceError> {
        parse_str(text, Path::new("t.csv"), &TraceFormat::Azure2023)
    }

    #[test]
    fn datetime_epoch_and_fraction() {
        assert_eq!(parse_datetime_ns("1970-01-01 00:00:00").unwrap(), 0);
        assert_eq!(
            parse_datetime_ns("1970-01-02 00:00:01.5").unwrap(),
            86_401_500_000_000
        );
        // 2023-11-16 is day 19677 since the epoch.
        assert_eq!(
            parse_datetime_ns("2023-11-16 18:17:03.9799600").unwrap(),
            (19_677 * 86_400 + 18 * 3_600 + 17 * 60 + 3) * 1_000_000_000 + 979_960_000
        );
        assert_eq!(
            parse_datetime_ns("2024-03-01 00:00:00").unwrap()
                - parse_datetime_ns("2024-02-28 00:00:00").unwrap(),
            2 * 86_400 * 1_000_000_000
        );
    }

    #[test]
    fn datetime_rejects_garbage() {
        for s in [
            "2023-11-16",
            "2023-13-01 00:00:00",
            "2023-02-29 00:00:00",
            "2023-11-16 18:17:0x",
            "2023-11-16 18:17:03.",
            "2023-11-16 18:17:03,5",
        ] {
            assert!(parse_datetime_ns(s).is_err(), "{s}");
        }
    }

    #[test]
    fn azure_crlf_no_final_newline() {
        let t = "TIMESTAMP,ContextTokens,GeneratedTokens\r\n2023-11-16 18:17:03.9799600,4808,10\r\n2023-11-16 18:17:04.0319600,3180,8";
        let r = azure(t).unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].arrival_s, 0.0);
        assert!((r[1].arrival_s - 0.052).abs() < 1e-12);
        assert_eq!((r[1].input_tokens, r[1].output_tokens), (3180, 8));
        assert!(r[1].hash_ids.is_empty());
        // Same with LF and a final newline.
        let lf = t.replace("\r\n", "\n") + "\n";
        assert_eq!(azure(&lf).unwrap(), r);
    }

    #[test]
    fn azure_errors_name_line() {
        let t = "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:17:03.9,48,10\n2023-11-16 18:17:04.0,x,8\n";
        let e = azure(t).unwrap_err().to_string();
        assert!(
            e.starts_with("t.csv:3:") && e.contains("ContextTokens"),
            "{e}"
        );
        let blank = "TIMESTAMP,ContextTokens,GeneratedTokens\n\n2023-11-16 18:17:04.0,1,8\n";
        assert!(
            azure(blank)
                .unwrap_err()
                .to_string()
                .starts_with("t.csv:2:")
        );
        let back = "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:17:04.0,1,8\n2023-11-16 18:17:03.0,1,8\n";
        let e = azure(back).unwrap_err().to_string();
        assert!(e.starts_with("t.csv:3:") && e.contains("backwards"), "{e}");
        let e = azure("A,B,C\n").unwrap_err().to_string();
        assert!(e.starts_with("t.csv:1:") && e.contains("TIMESTAMP"), "{e}");
        assert!(azure("").is_err());
    }

    #[test]
    fn csv_generic_units_and_header_only() {
        let f = TraceFormat::Csv {
            timestamp_col: "t_ms".into(),
            input_col: "in".into(),
            output_col: "out".into(),
            timestamp_unit_s: 1e-3,
        };
        let r = parse_str(
            "out,t_ms,in\r\n5,1000,7\r\n6,2500,8\r\n",
            Path::new("x"),
            &f,
        )
        .unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!(
            (r[0].arrival_s, r[0].input_tokens, r[0].output_tokens),
            (0.0, 7, 5)
        );
        assert!((r[1].arrival_s - 1.5).abs() < 1e-12);
        assert!(
            parse_str("out,t_ms,in\n", Path::new("x"), &f)
                .unwrap()
                .is_empty()
        );
        let e = parse_str("out,t_ms,in\n5,1000\n", Path::new("x"), &f)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("x:2:"), "{e}");
    }

    #[test]
    fn mooncake_lines() {
        let t = "{\"timestamp\": 3000, \"input_length\": 600, \"output_length\": 5, \"hash_ids\": [0, 1]}\r\n{\"timestamp\": 6001, \"input_length\": 10, \"output_length\": 1, \"hash_ids\": [0]}";
        let r = parse_str(t, Path::new("m"), &TraceFormat::Mooncake).unwrap();
        assert_eq!(r[0].hash_ids, vec![0, 1]);
        assert_eq!(r[0].arrival_s, 0.0);
        assert!((r[1].arrival_s - 3.001).abs() < 1e-12);
        let e = parse_str(
            "{\"timestamp\": 1}\n",
            Path::new("m"),
            &TraceFormat::Mooncake,
        )
        .unwrap_err()
        .to_string();
        assert!(e.starts_with("m:1:") && e.contains("input_length"), "{e}");
    }

    mod props {
        use proptest::prelude::*;

        use super::*;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(128))]

            /// Azure rows written with either line end, with or without a final newline,
            /// read back exactly (times to the 100-ns resolution of the format).
            #[test]
            fn azure_round_trip(
                rows in prop::collection::vec((0u64..100_000_000, any::<u32>(), any::<u32>()), 1..30),
                crlf in any::<bool>(),
                final_newline in any::<bool>(),
            ) {
                let mut gaps: Vec<u64> = rows.iter().map(|r| r.0).collect();
                gaps[0] = 0;
                let eol = if crlf { "\r\n" } else { "\n" };
                let mut text = String::from("TIMESTAMP,ContextTokens,GeneratedTokens");
                let mut t_100ns = 0u64;
                let mut want = Vec::new();
                // Start at 2023-11-16 18:00:00.
                let base_s = 19_677u64 * 86_400 + 18 * 3_600;
                for (g, &(_, i, o)) in gaps.iter().zip(&rows) {
                    t_100ns += g;
                    let total = base_s * 10_000_000 + t_100ns;
                    let secs = total / 10_000_000;
                    let (h, m, s) = ((secs / 3600) % 24, (secs / 60) % 60, secs % 60);
                    let day = 16 + secs / 86_400 - 19_677;
                    text.push_str(&format!("{eol}2023-11-{day:02} {h:02}:{m:02}:{s:02}.{:07},{i},{o}", total % 10_000_000));
                    want.push((t_100ns as f64 * 1e-7, i, o));
                }
                if final_newline {
                    text.push_str(eol);
                }
                let got = azure(&text).unwrap();
                prop_assert_eq!(got.len(), want.len());
                for (g, w) in got.iter().zip(&want) {
                    prop_assert!((g.arrival_s - w.0).abs() < 1e-6);
                    prop_assert_eq!((g.input_tokens, g.output_tokens), (w.1, w.2));
                }
            }

            /// Arbitrary input never panics; errors always name the file and a line.
            #[test]
            fn garbage_never_panics(text in "[0-9a-zA-Z:,. \\-\\r\\n{}\"\\[\\]]{0,200}") {
                for f in [TraceFormat::Azure2023, TraceFormat::Mooncake] {
                    if let Err(e) = parse_str(&text, Path::new("g"), &f) {
                        prop_assert!(e.to_string().starts_with("g:"), "{}", e);
                    }
                }
            }
        }
    }
}
