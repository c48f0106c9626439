//! A sweep's outputs: one row per grid point (`sweep.csv`, `sweep.json`, the rows of shard
//! files), the terminal table and `report.html`.
//!
//! A row is a flat JSON object keyed by column: `point`, the varied keys, then the summary
//! figures of [`figures::SWEEP`](super::figures::SWEEP) under their `summary.json` paths and
//! their half-widths under `ci95.<path>`. Rows travel through shard files as JSON, so they
//! stay JSON here; the sweep driver's `merge` reads them back.

use std::path::Path;

use serde_json::{Map, Value, json};

use super::figures::{self as fig, Reading};
use super::html::{Plot, ReportData, Series, SeriesStyle, Table, XAxis};
use super::outcome::{Grid, REPORT_MAX_POINTS};
use crate::report::summary::RunSummary;

/// The columns before the figures: what ran.
const HEAD: [&str; 3] = ["stable", "offered_load", "servers"];

/// Every summary column a row may have, in order: `stable`, `offered_load`, `servers`, the
/// figures, then `ci95.` of each figure; a column appears when any row has the key (LLM-only
/// keys such as TTFT are absent on queue servers).
pub fn summary_columns() -> Vec<String> {
    let keys = || HEAD.iter().copied().chain(fig::SWEEP.iter().map(|f| f.key));
    keys()
        .map(String::from)
        .chain(keys().map(|k| format!("ci95.{k}")))
        .collect()
}

/// One row: `point` (grid index), the varied keys' values, the summary's figures, then
/// `ci95.<key>` for those with a half-width. Figures the summary lacks are left out here and
/// become empty cells when rendered.
pub fn row(grid: &Grid, index: usize, summary: &RunSummary) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("point".into(), json!(index));
    for (k, v) in grid.point(index) {
        m.insert(k, v);
    }
    m.insert("stable".into(), json!(summary.stable));
    m.insert("offered_load".into(), json!(summary.offered_load));
    m.insert("servers".into(), json!(summary.servers));
    let readings: Vec<(&str, Reading)> = fig::SWEEP
        .iter()
        .filter_map(|f| Some((f.key, (f.read)(summary)?)))
        .collect();
    for (key, r) in &readings {
        m.insert((*key).to_string(), json!(r.mean));
    }
    for (key, r) in &readings {
        if let Some(ci) = r.ci95 {
            m.insert(format!("ci95.{key}"), json!(ci));
        }
    }
    m
}

/// A value as a short text for messages and tables (strings without quotes).
pub fn plain(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Streams rows into `sweep.csv` and `sweep.json` with the bytes [`render`] gives: rows
/// go to a scratch file as they come (the columns are known only at the end), then both
/// files are written from it line by line.
pub struct SweepWriter {
    dir: std::path::PathBuf,
    scratch: std::io::BufWriter<std::fs::File>,
    /// Which of [`summary_columns`] some row has.
    present: Vec<bool>,
    first: Vec<Map<String, Value>>,
}

/// Name of the scratch file inside the staging folder (removed before it is renamed).
const SCRATCH: &str = ".rows.jsonl";

fn candidates() -> impl Iterator<Item = String> {
    summary_columns().into_iter()
}

impl SweepWriter {
    /// A writer into the folder `dir`.
    pub fn new(dir: &Path) -> std::io::Result<Self> {
        let f = std::fs::File::create(dir.join(SCRATCH))?;
        Ok(SweepWriter {
            dir: dir.to_path_buf(),
            scratch: std::io::BufWriter::new(f),
            present: vec![false; summary_columns().len()],
            first: Vec::new(),
        })
    }

    /// Adds the next row (grid order).
    pub fn push(&mut self, row: Map<String, Value>) -> anyhow::Result<()> {
        use std::io::Write;
        for (p, c) in self.present.iter_mut().zip(candidates()) {
            *p |= row.contains_key(&c);
        }
        serde_json::to_writer(&mut self.scratch, &row)?;
        self.scratch.write_all(b"\n")?;
        if self.first.len() < REPORT_MAX_POINTS {
            self.first.push(row);
        }
        Ok(())
    }

    /// Writes `sweep.csv` and `sweep.json`, removes the scratch file, and returns the first
    /// [`REPORT_MAX_POINTS`] rows (for the report and the printed table).
    pub fn finish(self, grid: &Grid) -> anyhow::Result<Vec<Map<String, Value>>> {
        use std::io::{BufRead, Write};
        let SweepWriter {
            dir,
            scratch,
            present,
            first,
        } = self;
        scratch
            .into_inner()
            .map_err(|e| e.into_error())?
            .sync_all()?;
        let mut cols: Vec<String> = vec!["point".into()];
        cols.extend(grid.axes.iter().map(|a| a.key.clone()));
        for (c, p) in candidates().zip(present) {
            if p && !cols.contains(&c) {
                cols.push(c);
            }
        }
        let csv_file = std::fs::File::create(dir.join("sweep.csv"))?;
        let mut csv = csv::Writer::from_writer(std::io::BufWriter::new(csv_file));
        csv.write_record(&cols)?;
        let json_file = std::fs::File::create(dir.join("sweep.json"))?;
        let mut json = std::io::BufWriter::new(json_file);
        let reader = std::io::BufReader::new(std::fs::File::open(dir.join(SCRATCH))?);
        let mut n = 0usize;
        for line in reader.lines() {
            let r: Map<String, Value> = serde_json::from_str(&line?)?;
            let aligned: Map<String, Value> = cols
                .iter()
                .map(|c| (c.clone(), r.get(c).cloned().unwrap_or(Value::Null)))
                .collect();
            csv.write_record(cols.iter().map(|c| plain(&aligned[c.as_str()])))?;
            // serde_json's pretty array: "[", each element indented two spaces, ",".
            json.write_all(if n == 0 { b"[\n" } else { b",\n" })?;
            let pretty = serde_json::to_string_pretty(&Value::Object(aligned))?;
            for (k, l) in pretty.lines().enumerate() {
                if k > 0 {
                    json.write_all(b"\n")?;
                }
                json.write_all(b"  ")?;
                json.write_all(l.as_bytes())?;
            }
            n += 1;
        }
        json.write_all(if n == 0 { b"[]\n" } else { b"\n]\n" })?;
        json.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        csv.into_inner()
            .map_err(|e| anyhow::anyhow!("{e}"))?
            .into_inner()
            .map_err(|e| e.into_error())?
            .sync_all()?;
        std::fs::remove_file(dir.join(SCRATCH))?;
        Ok(first)
    }
}

/// The rendered sweep table: `sweep.csv` and `sweep.json` bytes.
pub struct Rendered {
    /// One header line, one line per point.
    pub csv: String,
    /// A pretty-printed array of row objects in grid order, with a trailing newline.
    pub json: String,
}

/// Renders rows (all points, in grid order) into CSV and JSON with the same columns: `point`,
/// the varied keys, then every [`summary_columns`] key that any row has; missing
/// cells are empty (CSV) or `null` (JSON).
pub fn render(grid: &Grid, rows: &[Map<String, Value>]) -> anyhow::Result<Rendered> {
    let mut cols: Vec<String> = vec!["point".into()];
    cols.extend(grid.axes.iter().map(|a| a.key.clone()));
    for c in candidates() {
        if rows.iter().any(|r| r.contains_key(&c)) && !cols.contains(&c) {
            cols.push(c);
        }
    }
    let aligned: Vec<Value> = rows
        .iter()
        .map(|r| {
            Value::Object(
                cols.iter()
                    .map(|c| (c.clone(), r.get(c).cloned().unwrap_or(Value::Null)))
                    .collect(),
            )
        })
        .collect();
    let mut json = serde_json::to_string_pretty(&Value::Array(aligned.clone()))?;
    json.push('\n');
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(&cols)?;
    for r in &aligned {
        w.write_record(cols.iter().map(|c| plain(&r[c.as_str()])))?;
    }
    let csv = String::from_utf8(w.into_inner().map_err(|e| anyhow::anyhow!("{e}"))?)?;
    Ok(Rendered { csv, json })
}

/// A short terminal table of the rows: point, varied keys and headline figures.
pub fn render_table(grid: &Grid, rows: &[Map<String, Value>]) -> String {
    use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
    let shown = [
        ("stable", "stable"),
        ("latency_s.e2e.mean", "e2e mean s"),
        ("latency_s.e2e.p99", "e2e p99 s"),
        ("idle_rate.achieved", "idle"),
        ("utilization", "util"),
        ("cost.cloud.per_request_usd", "cloud $/req"),
    ];
    let mut t = Table::new();
    t.load_style(UTF8_FULL_CONDENSED);
    let mut header = vec!["point".to_string()];
    header.extend(grid.axes.iter().map(|a| a.key.clone()));
    header.extend(shown.iter().map(|(_, h)| h.to_string()));
    t.set_header(header);
    for r in rows {
        let mut cells = vec![plain(r.get("point").unwrap_or(&Value::Null))];
        cells.extend(
            grid.axes
                .iter()
                .map(|a| plain(r.get(&a.key).unwrap_or(&Value::Null))),
        );
        cells.extend(shown.iter().map(|(k, _)| match r.get(*k) {
            Some(Value::Number(x)) => format!("{:.4}", x.as_f64().unwrap_or(f64::NAN)),
            Some(v) => plain(v),
            None => "-".into(),
        }));
        t.add_row(cells);
    }
    t.to_string()
}

/// Whether the series' positive values span more than two decades: one unstable point (a
/// queue that grew for the whole run) would then flatten every other point on a linear axis,
/// so the plot uses a log axis instead.
fn spans_decades(series: &[Series]) -> bool {
    let ys = || {
        series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.1))
            .filter(|y| y.is_finite() && *y > 0.0)
    };
    let lo = ys().fold(f64::INFINITY, f64::min);
    let hi = ys().fold(f64::NEG_INFINITY, f64::max);
    lo.is_finite() && hi / lo > 100.0
}

/// The report of a sweep: the table of points, and against the first varied key (when it is
/// numeric) latency, idle rates and cost per request, one line per combination of the other
/// keys.
pub fn sweep_report(grid: &Grid, rows: &[Map<String, Value>]) -> ReportData {
    let keys: Vec<String> = grid.axes.iter().map(|a| a.key.clone()).collect();
    let cols: Vec<&str> = HEAD
        .iter()
        .copied()
        .chain(fig::SWEEP.iter().map(|f| f.key))
        .filter(|c| rows.iter().any(|r| r.contains_key(*c)))
        .collect();
    let cell = |v: Option<&Value>| match v {
        Some(Value::Number(n)) => n
            .as_f64()
            .map(|x| {
                format!("{x:.6}")
                    .trim_end_matches('0')
                    .trim_end_matches('.')
                    .to_string()
            })
            .unwrap_or_default(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Bool(b)) => b.to_string(),
        _ => String::new(),
    };
    let table = Table {
        title: "Points (means over replications)".into(),
        headers: keys
            .iter()
            .map(String::as_str)
            .chain(cols.iter().copied())
            .map(str::to_string)
            .collect(),
        rows: rows
            .iter()
            .map(|r| {
                keys.iter()
                    .map(|k| cell(r.get(k)))
                    .chain(cols.iter().map(|c| cell(r.get(*c))))
                    .collect()
            })
            .collect(),
    };
    let mut plots = Vec::new();
    if let Some(x_key) = keys.first()
        && rows
            .iter()
            .all(|r| r.get(x_key).is_some_and(Value::is_number))
    {
        // One series per combination of the other keys, in grid order.
        let mut groups: Vec<(String, Vec<&Map<String, Value>>)> = Vec::new();
        for r in rows {
            let label = keys[1..]
                .iter()
                .map(|k| format!("{k}={}", cell(r.get(k))))
                .collect::<Vec<_>>()
                .join(", ");
            match groups.iter_mut().find(|(l, _)| *l == label) {
                Some((_, g)) => g.push(r),
                None => groups.push((label, vec![r])),
            }
        }
        let series_for = |metric: &str, suffix: &str| -> Vec<Series> {
            groups
                .iter()
                .map(|(label, g)| Series {
                    name: [label.as_str(), suffix]
                        .iter()
                        .filter(|s| !s.is_empty())
                        .copied()
                        .collect::<Vec<_>>()
                        .join(" "),
                    points: g
                        .iter()
                        .filter_map(|r| Some((r.get(x_key)?.as_f64()?, r.get(metric)?.as_f64()?)))
                        .collect(),
                    style: SeriesStyle::Line,
                    dashed: false,
                })
                .filter(|s| !s.points.is_empty())
                .collect()
        };
        let latency = ["latency_s.ttft.p99", "latency_s.e2e.p99"]
            .into_iter()
            .find(|m| rows.iter().any(|r| r.contains_key(*m)))
            .unwrap_or("latency_s.e2e.p99");
        let lat = series_for(latency, "");
        let log_y = spans_decades(&lat);
        plots.push(Plot {
            title: format!("{latency} against {x_key}"),
            x_label: x_key.clone(),
            y_label: if log_y { "seconds (log)" } else { "seconds" }.into(),
            series: lat,
            log_y,
            x_axis: XAxis::Linear,
        });
        let mut idle = series_for("idle_rate.achieved", "achieved");
        idle.extend(series_for("idle_rate.equivalent", "equivalent"));
        let xs: Vec<f64> = rows.iter().filter_map(|r| r.get(x_key)?.as_f64()).collect();
        let (lo, hi) = xs
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| {
                (a.min(x), b.max(x))
            });
        if lo.is_finite() {
            idle.push(Series {
                name: "assumed (R1)".into(),
                points: vec![(lo, 0.2), (hi, 0.2)],
                style: SeriesStyle::Line,
                dashed: true,
            });
        }
        plots.push(Plot {
            title: format!("Idle rate against {x_key}"),
            x_label: x_key.clone(),
            y_label: "fraction".into(),
            series: idle,
            log_y: false,
            x_axis: XAxis::Linear,
        });
        plots.push(Plot {
            title: format!("Cloud cost per request against {x_key}"),
            x_label: x_key.clone(),
            y_label: "USD".into(),
            series: series_for("cost.cloud.per_request_usd", ""),
            log_y: false,
            x_axis: XAxis::Linear,
        });
    }
    ReportData {
        title: format!("fleetsim sweep: {}", grid.scenario),
        subtitle: format!(
            "{} points · varied: {} · fleetsim {}",
            rows.len(),
            keys.join(", "),
            env!("CARGO_PKG_VERSION")
        ),
        tables: vec![table],
        plots,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_runaway_point_switches_to_a_log_axis() {
        let s = |ys: &[f64]| {
            vec![Series::new(
                "x",
                ys.iter().enumerate().map(|(i, &y)| (i as f64, y)).collect(),
                SeriesStyle::Line,
                false,
            )]
        };
        assert!(!spans_decades(&s(&[0.5, 0.8, 1.2])));
        assert!(spans_decades(&s(&[0.5, 0.8, 300.0])));
        assert!(!spans_decades(&s(&[0.0, f64::NAN])));
    }
}
