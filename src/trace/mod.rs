//! Public request traces: reading them, summarising them, and deriving workload inputs.
//!
//! Three formats are understood (see [`TraceFormat`]):
//!
//! - the Azure LLM inference trace 2023 (CSV with datetime timestamps),
//! - the Mooncake FAST'25 traces (JSON lines with KV-block hashes),
//! - any CSV whose header names a timestamp column and two token columns.
//!
//! Every reader returns the whole trace as a `Vec<TraceRecord>` sorted by arrival, with
//! `arrival_s` measured from the first record. The files in question are a few MB, so
//! loading them whole is cheap and keeps the API simple.
//!
//! # Error policy
//!
//! A line that cannot be understood is an error naming the file, the 1-based line number
//! and what was wrong; no line is ever skipped. Timestamps that go backwards are also an
//! error, because every consumer (replay, statistics) needs arrival order. The only
//! tolerated irregularities are CRLF line ends and a missing (or present) final newline.

mod parse;
mod servegen;
mod stats;

use std::path::{Path, PathBuf};

use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};

/// Largest file a scenario may read (a trace or a rates CSV), in bytes: a bound on memory
/// and time for any path, including `/dev/zero`.
pub const MAX_FILE_BYTES: u64 = 1 << 30;
/// Most rows of a trace file (`traffic.path`, `fleetsim trace-stats`).
pub const MAX_TRACE_ROWS: usize = 10_000_000;

pub use servegen::{
    SERVEGEN_COLUMNS, ServegenModelStats, parse_servegen, render_servegen_text, servegen_stats,
};
pub use stats::{
    Percentiles, TokenSide, TraceStats, empirical_input_tokens, empirical_output_tokens,
    empirical_tokens, mean_rate_per_s, percentile_linear, render_trace_stats_text, trace_stats,
};

/// The layout of a trace file.
#[derive(Clone, Debug, PartialEq)]
pub enum TraceFormat {
    /// Azure LLM inference trace 2023: CSV with header `TIMESTAMP,ContextTokens,GeneratedTokens`,
    /// timestamps like `2023-11-16 18:17:03.9799600` (no time zone, any number of fractional
    /// digits). Columns are found by header name, so their order does not matter.
    Azure2023,
    /// Mooncake FAST'25: one JSON object per line with `timestamp` (milliseconds),
    /// `input_length`, `output_length` and `hash_ids` (one id per 512-token block).
    Mooncake,
    /// A CSV file with a header row; columns are found by name. Timestamps are numbers,
    /// multiplied by `timestamp_unit_s` to get seconds (1.0 for seconds, 0.001 for
    /// milliseconds). Fields are split on `,` without quote handling.
    Csv {
        /// Header name of the timestamp column.
        timestamp_col: String,
        /// Header name of the input (prompt) token column.
        input_col: String,
        /// Header name of the output (generated) token column.
        output_col: String,
        /// Seconds per unit of the timestamp column.
        timestamp_unit_s: f64,
    },
}

/// One request of a trace.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TraceRecord {
    /// Arrival time in seconds since the first record of the file.
    pub arrival_s: f64,
    /// Prompt length in tokens.
    pub input_tokens: u32,
    /// Generated length in tokens.
    pub output_tokens: u32,
    /// Prefix KV-block ids (Mooncake: one per 512 tokens, each id standing for the block and
    /// everything before it). Empty for formats without cache information.
    pub hash_ids: Vec<u64>,
}

/// Why a trace could not be read. Every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    /// The file could not be opened or read.
    #[error("cannot read trace file {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A line could not be understood (or, for CSV, the header lacks a needed column).
    #[error("{}:{line}: {message}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What was wrong, and how to fix it where that is obvious.
        message: String,
    },
    /// The format description itself is unusable (for example a non-positive time unit).
    #[error("bad trace format for {}: {message}", path.display())]
    Format {
        /// The file the format was meant for.
        path: PathBuf,
        /// What was wrong.
        message: String,
    },
}

/// Reads a whole trace file. Records come back in file order, which must be arrival order,
/// with `arrival_s` relative to the first record.
///
/// # Errors
///
/// [`TraceError::Io`] if the file cannot be read; [`TraceError::Parse`] (with the 1-based
/// line) for a malformed line, a missing header column, or a timestamp that goes backwards;
/// [`TraceError::Format`] for an invalid [`TraceFormat::Csv`] time unit.
pub fn read_trace(
    path: impl AsRef<Path>,
    format: &TraceFormat,
) -> Result<Vec<TraceRecord>, TraceError> {
    let path = path.as_ref();
    let meta = std::fs::metadata(path).map_err(|source| TraceError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    // A pipe or device could block or never end; a huge file would exhaust memory.
    let most = MAX_FILE_BYTES;
    if !meta.is_file() || meta.len() > most {
        return Err(TraceError::Format {
            path: path.to_path_buf(),
            message: format!("a trace must be a regular file of at most {most} bytes"),
        });
    }
    let text = std::fs::read_to_string(path).map_err(|source| TraceError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse::parse_str(&text, path, format)
}

/// Parses trace text that was already read into memory; `path` is only used in errors.
///
/// # Errors
///
/// As [`read_trace`], except that there is no I/O.
pub fn parse_trace(
    text: &str,
    path: impl AsRef<Path>,
    format: &TraceFormat,
) -> Result<Vec<TraceRecord>, TraceError> {
    parse::parse_str(text, path.as_ref(), format)
}

/// Spreads batched arrivals over their time step, for traces whose timestamps are
/// quantised (Mooncake conversation: steps of about 3 s).
///
/// Records that share one timestamp `t` form a step; each gets a new arrival drawn
/// uniformly from `[t, t + step_s)`. The draws use a `ChaCha8Rng` seeded with `seed`, in
/// input order, so the result is deterministic. The output is sorted by the new arrival
/// (stable for ties), which may reorder requests inside a step.
///
/// # Panics
///
/// If `step_s` is negative or not finite (a caller bug).
pub fn spread_steps(records: &[TraceRecord], step_s: f64, seed: u64) -> Vec<TraceRecord> {
    assert!(
        step_s.is_finite() && step_s >= 0.0,
        "spread_steps: step_s must be finite and >= 0, got {step_s}"
    );
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut out: Vec<TraceRecord> = records
        .iter()
        .map(|r| {
            let u: f64 = rng.random();
            TraceRecord {
                arrival_s: r.arrival_s + u * step_s,
                ..r.clone()
            }
        })
        .collect();
    out.sort_by(|a, b| a.arrival_s.total_cmp(&b.arrival_s));
    out
}

/// Spreads batched arrivals evenly over their time step: the `k` records sharing timestamp
/// `t` get arrivals `t + (i + 0.5) * step_s / k` for `i = 0..k` (the centres of `k`
/// equal slots), in file order. This is the
/// "spread evenly" convention of the traces README (inter-arrival CV 0.36 for Mooncake
/// conversation). Deterministic; the output is sorted by the new arrival (stable, so file
/// order is kept whenever `step_s` is no longer than the gap to the next step).
///
/// # Panics
///
/// If `step_s` is negative or not finite (a caller bug).
pub fn spread_steps_evenly(records: &[TraceRecord], step_s: f64) -> Vec<TraceRecord> {
    assert!(
        step_s.is_finite() && step_s >= 0.0,
        "spread_steps_evenly: step_s must be finite and >= 0, got {step_s}"
    );
    let mut out = Vec::with_capacity(records.len());
    let mut start = 0;
    while start < records.len() {
        let t = records[start].arrival_s;
        let mut end = start + 1;
        while end < records.len() && records[end].arrival_s == t {
            end += 1;
        }
        let k = (end - start) as f64;
        for (i, r) in records[start..end].iter().enumerate() {
            out.push(TraceRecord {
                arrival_s: t + (i as f64 + 0.5) * step_s / k,
                ..r.clone()
            });
        }
        start = end;
    }
    out.sort_by(|a, b| a.arrival_s.total_cmp(&b.arrival_s));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(t: f64) -> TraceRecord {
        TraceRecord {
            arrival_s: t,
            input_tokens: 1,
            output_tokens: 1,
            hash_ids: Vec::new(),
        }
    }

    #[test]
    fn evenly_uses_slot_centres() {
        let r = [at(0.0), at(0.0), at(0.0), at(3.0), at(6.0), at(6.0)];
        let t: Vec<f64> = spread_steps_evenly(&r, 3.0)
            .iter()
            .map(|x| x.arrival_s)
            .collect();
        assert_eq!(t, vec![0.5, 1.5, 2.5, 4.5, 6.75, 8.25]);
    }

    #[test]
    fn uniform_spread_stays_in_step_and_is_seeded() {
        let r: Vec<TraceRecord> = (0..50).map(|i| at(f64::from(i / 10) * 3.0)).collect();
        let a = spread_steps(&r, 3.0, 1);
        assert_eq!(a, spread_steps(&r, 3.0, 1));
        assert!(a.windows(2).all(|w| w[0].arrival_s <= w[1].arrival_s));
        let mut per_step = [0; 5];
        for x in &a {
            per_step[(x.arrival_s / 3.0).floor() as usize] += 1;
        }
        assert_eq!(per_step, [10; 5]);
        assert_eq!(spread_steps(&r, 0.0, 9), r);
    }
}
