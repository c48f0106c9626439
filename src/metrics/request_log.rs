//! `--requests-csv`: one CSV row per measured request (arrived after the warm-up and finished
//! before the end), streamed to a file per replication while the replication runs, so memory
//! does not grow with the run. The CLI joins the files in replication order, so the result is
//! byte-identical whatever the thread count.
//!
//! Columns ([`REQUEST_LOG_HEADER`]): `replication`, `arrival_s`, `queue_wait_s` (arrival to
//! first admission or service start), `ttft_s`, `tpot_s` (mean time per output token after the
//! first), `e2e_s`, `input_tokens`, `output_tokens`, `replica` (LLM replica index, or queue
//! server index), `cache_hit` (0/1). A cell that does not apply (TTFT of a queue server, any
//! server figure of a cache hit) is empty. Times are seconds, printed with Rust's shortest
//! round-trip formatting (whole nanoseconds). About 76 bytes per LLM request: some 76 MB per
//! million requests (measured: 3.2 MB for 42,905 rows of `llama7b-plan`).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::engine::SimTime;

/// The header line of a requests CSV.
pub const REQUEST_LOG_HEADER: &str = "replication,arrival_s,queue_wait_s,ttft_s,tpot_s,e2e_s,\
                                      input_tokens,output_tokens,replica,cache_hit\n";

/// One measured request as the CSV shows it.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct RequestRow {
    /// Arrival at the fleet.
    pub arrival: SimTime,
    /// Completion (last token, end of service, or cache answer).
    pub done: SimTime,
    /// First admission into a batch, or start of service.
    pub started: Option<SimTime>,
    /// First output token (LLM servers).
    pub first_token: Option<SimTime>,
    /// Prompt tokens (LLM servers).
    pub input_tokens: Option<u32>,
    /// Generated tokens (LLM servers).
    pub output_tokens: Option<u32>,
    /// Replica (LLM) or server (queue) index.
    pub replica: Option<u32>,
    /// Answered by the response cache.
    pub cache_hit: bool,
}

/// The file of one replication's rows (no header; [`join_request_logs`] writes it once).
pub fn replication_log_path(dir: &Path, replication: u32) -> PathBuf {
    dir.join(format!("requests-{replication:06}.csv"))
}

/// The file of shard `shard`'s rows of a sharded replication, joined into the replication's
/// file in shard order when the replication ends ([`join_shard_logs`]).
pub fn shard_log_path(dir: &Path, replication: u32, shard: u32) -> PathBuf {
    dir.join(format!("requests-{replication:06}-shard-{shard:04}.csv"))
}

/// Joins the files of shards `0..shards` of `replication` in shard order into the
/// replication's file, and removes them.
pub fn join_shard_logs(dir: &Path, replication: u32, shards: u32) -> std::io::Result<()> {
    let mut out = BufWriter::new(File::create(replication_log_path(dir, replication))?);
    for shard in 0..shards {
        let path = shard_log_path(dir, replication, shard);
        std::io::copy(&mut File::open(&path)?, &mut out)?;
        std::fs::remove_file(&path)?;
    }
    out.flush()
}

/// A replication's open requests file. Write errors are kept and reported by
/// [`RequestLog::finish`], so the event loop never stops for them.
#[derive(Debug)]
pub struct RequestLog {
    out: BufWriter<File>,
    replication: u32,
    error: Option<std::io::Error>,
}

impl RequestLog {
    /// Creates (truncates) the replication's file in `dir`.
    pub fn create(dir: &Path, replication: u32) -> std::io::Result<RequestLog> {
        RequestLog::create_at(&replication_log_path(dir, replication), replication)
    }

    /// Creates (truncates) `path` for rows of replication `replication`.
    pub fn create_at(path: &Path, replication: u32) -> std::io::Result<RequestLog> {
        let file = File::create(path)?;
        Ok(RequestLog {
            out: BufWriter::with_capacity(1 << 16, file),
            replication,
            error: None,
        })
    }

    /// Appends one row.
    pub fn row(&mut self, r: &RequestRow) {
        if self.error.is_some() {
            return;
        }
        let s = |t: SimTime| t.as_secs_f64();
        let opt = |x: Option<f64>| x.map(|v| v.to_string()).unwrap_or_default();
        let opt_u = |x: Option<u32>| x.map(|v| v.to_string()).unwrap_or_default();
        // A mean over tokens: rounded to whole nanoseconds like every other time here.
        let tpot = match (r.first_token, r.output_tokens) {
            (Some(first), Some(n)) if n > 1 => {
                Some(((r.done - first).as_secs_f64() / f64::from(n - 1) * 1e9).round() / 1e9)
            }
            _ => None,
        };
        let line = format!(
            "{},{},{},{},{},{},{},{},{},{}\n",
            self.replication,
            s(r.arrival),
            opt(r.started.map(|t| (t - r.arrival).as_secs_f64())),
            opt(r.first_token.map(|t| (t - r.arrival).as_secs_f64())),
            opt(tpot),
            (r.done - r.arrival).as_secs_f64(),
            opt_u(r.input_tokens),
            opt_u(r.output_tokens),
            opt_u(r.replica),
            u8::from(r.cache_hit),
        );
        if let Err(e) = self.out.write_all(line.as_bytes()) {
            self.error = Some(e);
        }
    }

    /// Flushes the file; the first write error, if any.
    pub fn finish(mut self) -> std::io::Result<()> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        self.out.flush()
    }
}

/// Writes the header and then replications `0..replications` of `dir` in order into `dest`,
/// streaming (never holding a file in memory), and removes the per-replication files.
pub fn join_request_logs(dir: &Path, replications: u32, dest: &Path) -> std::io::Result<u64> {
    let mut out = BufWriter::new(File::create(dest)?);
    out.write_all(REQUEST_LOG_HEADER.as_bytes())?;
    let mut bytes = REQUEST_LOG_HEADER.len() as u64;
    for r in 0..replications {
        let path = replication_log_path(dir, r);
        let mut f = File::open(&path)?;
        bytes += std::io::copy(&mut f, &mut out)?;
        std::fs::remove_file(&path)?;
    }
    out.flush()?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_have_every_column_and_join_in_replication_order() {
        let dir = std::env::temp_dir().join(format!("fleetsim-rl-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let t = SimTime::from_secs_f64;
        // Written out of order: replication 1 first.
        let mut one = RequestLog::create(&dir, 1).unwrap();
        one.row(&RequestRow {
            arrival: t(2.0),
            done: t(2.01),
            cache_hit: true,
            ..RequestRow::default()
        });
        one.finish().unwrap();
        let mut zero = RequestLog::create(&dir, 0).unwrap();
        zero.row(&RequestRow {
            arrival: t(1.0),
            done: t(3.5),
            started: Some(t(1.25)),
            first_token: Some(t(1.5)),
            input_tokens: Some(100),
            output_tokens: Some(5),
            replica: Some(3),
            cache_hit: false,
        });
        zero.finish().unwrap();
        let dest = dir.join("requests.csv");
        join_request_logs(&dir, 2, &dest).unwrap();
        let text = std::fs::read_to_string(&dest).unwrap();
        assert_eq!(
            text,
            format!("{REQUEST_LOG_HEADER}0,1,0.25,0.5,0.5,2.5,100,5,3,0\n1,2,,,,0.01,,,,1\n")
        );
        assert!(!replication_log_path(&dir, 0).exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
