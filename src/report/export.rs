//! One exporter model for every result (after hyperfine's `Exporter`): a format turns a
//! typed result into bytes. Each command writes the formats its results folder holds and
//! prints the table, or with `--json` its JSON document.
//!
//! | result | [`Table`] | [`Json`] | [`Csv`] | [`Html`] |
//! |---|---|---|---|---|
//! | [`RunOutput`] | summary table and warnings | `summary.json` | `summary.csv` | `report.html` |
//! | [`PlanOutcome`] | the plan | `plan.json` | - | `report.html` |
//! | [`SweepResult`] | headline figures per point | `sweep.json` | `sweep.csv` | `report.html` |

use anyhow::Result;
use serde_json::{Map, Value};

use super::html::render_report;
use super::outcome::Grid;
use super::outcome::RunOutput;
use super::{pages, results, sweep, table};
use crate::report::outcome::PlanOutcome;

/// A format of a result.
pub trait Exporter<T: ?Sized> {
    /// `result` in this format.
    fn serialize(&self, result: &T) -> Result<Vec<u8>>;
}

/// The terminal table, as printed (ends with a newline).
pub struct Table;
/// The JSON document: pretty-printed, contract key order, trailing newline.
pub struct Json;
/// CSV: one row per replication or per grid point.
pub struct Csv;
/// `report.html`: tables and SVG plots in one file.
pub struct Html;

/// A whole sweep: the grid and its rows in grid order (all points, or the first
/// [`super::outcome::REPORT_MAX_POINTS`] for the table and the report).
pub struct SweepResult<'a> {
    /// The grid.
    pub grid: &'a Grid,
    /// One row per point.
    pub rows: &'a [Map<String, Value>],
}

impl Exporter<RunOutput> for Table {
    fn serialize(&self, out: &RunOutput) -> Result<Vec<u8>> {
        let mut text = table::render(&out.summary);
        text.push('\n');
        // Issue 17: a disaggregated fleet's pools and link.
        if let Some(d) = table::render_disagg(&out.summary) {
            text.push_str(&d);
            text.push('\n');
        }
        for w in out.summary.warnings() {
            text.push_str(&format!("warning: {w}\n"));
        }
        Ok(text.into_bytes())
    }
}

impl Exporter<RunOutput> for Json {
    fn serialize(&self, out: &RunOutput) -> Result<Vec<u8>> {
        Ok(results::summary_json(&out.summary).into_bytes())
    }
}

impl Exporter<RunOutput> for Csv {
    fn serialize(&self, out: &RunOutput) -> Result<Vec<u8>> {
        Ok(results::rows_csv("replication", &out.replications)?.into_bytes())
    }
}

impl Exporter<RunOutput> for Html {
    fn serialize(&self, out: &RunOutput) -> Result<Vec<u8>> {
        Ok(render_report(&pages::run_report(&out.summary)).into_bytes())
    }
}

impl Exporter<PlanOutcome> for Table {
    fn serialize(&self, plan: &PlanOutcome) -> Result<Vec<u8>> {
        let mut text = format!("{}\n", table::render_plan(plan));
        // Issue 17: the pools and the colocated comparison.
        if let Some(d) = &plan.disaggregated {
            text.push_str(&table::render_disagg_plan(d));
            text.push('\n');
        }
        Ok(text.into_bytes())
    }
}

impl Exporter<PlanOutcome> for Json {
    fn serialize(&self, plan: &PlanOutcome) -> Result<Vec<u8>> {
        Ok(results::summary_json(plan).into_bytes())
    }
}

impl Exporter<PlanOutcome> for Html {
    fn serialize(&self, plan: &PlanOutcome) -> Result<Vec<u8>> {
        Ok(render_report(&pages::plan_report(plan)).into_bytes())
    }
}

impl Exporter<SweepResult<'_>> for Table {
    fn serialize(&self, s: &SweepResult<'_>) -> Result<Vec<u8>> {
        Ok(format!("{}\n", sweep::render_table(s.grid, s.rows)).into_bytes())
    }
}

impl Exporter<SweepResult<'_>> for Json {
    fn serialize(&self, s: &SweepResult<'_>) -> Result<Vec<u8>> {
        Ok(sweep::render(s.grid, s.rows)?.json.into_bytes())
    }
}

impl Exporter<SweepResult<'_>> for Csv {
    fn serialize(&self, s: &SweepResult<'_>) -> Result<Vec<u8>> {
        Ok(sweep::render(s.grid, s.rows)?.csv.into_bytes())
    }
}

impl Exporter<SweepResult<'_>> for Html {
    fn serialize(&self, s: &SweepResult<'_>) -> Result<Vec<u8>> {
        Ok(render_report(&sweep::sweep_report(s.grid, s.rows)).into_bytes())
    }
}
