//! Watching and stopping a run from outside (the HTTP service): replications finished so far,
//! and a cancel flag the event loops check every few thousand events.

use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use crate::metrics::request_log::RequestLog;

/// Shared between a running simulation and whoever watches it.
#[derive(Debug, Default)]
pub struct RunControl {
    cancel: AtomicBool,
    done: AtomicU32,
    /// `--requests-csv`: the folder the replications stream their request rows into.
    request_log_dir: Option<PathBuf>,
    /// The first error opening or writing a request log.
    request_log_error: Mutex<Option<String>>,
}

/// A control nobody cancels (plain CLI runs).
pub static UNCONTROLLED: RunControl = RunControl::new();

impl RunControl {
    /// Not cancelled, nothing done.
    pub const fn new() -> RunControl {
        RunControl {
            cancel: AtomicBool::new(false),
            done: AtomicU32::new(0),
            request_log_dir: None,
            request_log_error: Mutex::new(None),
        }
    }

    /// A control whose replications stream one row per measured request into
    /// `dir/requests-NNNNNN.csv` (see [`crate::metrics::request_log`]).
    pub fn with_request_log(dir: PathBuf) -> RunControl {
        RunControl {
            request_log_dir: Some(dir),
            ..RunControl::new()
        }
    }

    /// The open request log of `replication`, if this run keeps one (and it could be created).
    pub fn open_request_log(&self, replication: u32) -> Option<RequestLog> {
        let dir = self.request_log_dir.as_ref()?;
        match RequestLog::create(dir, replication) {
            Ok(log) => Some(log),
            Err(e) => {
                self.note_request_log_error(format!("{}: {e}", dir.display()));
                None
            }
        }
    }

    /// The open request log of shard `shard` of `replication`, if this run keeps one.
    pub fn open_shard_log(&self, replication: u32, shard: u32) -> Option<RequestLog> {
        let dir = self.request_log_dir.as_ref()?;
        let path = crate::metrics::request_log::shard_log_path(dir, replication, shard);
        match RequestLog::create_at(&path, replication) {
            Ok(log) => Some(log),
            Err(e) => {
                self.note_request_log_error(format!("{}: {e}", path.display()));
                None
            }
        }
    }

    /// Joins the closed logs of shards `0..shards` of `replication` into its log, if this
    /// run keeps one.
    pub fn join_shard_logs(&self, replication: u32, shards: u32) {
        if let Some(dir) = &self.request_log_dir
            && let Err(e) = crate::metrics::request_log::join_shard_logs(dir, replication, shards)
        {
            self.note_request_log_error(format!("{}: {e}", dir.display()));
        }
    }

    /// Closes a replication's request log, keeping the first error.
    pub fn close_request_log(&self, log: Option<RequestLog>) {
        if let Some(log) = log
            && let Err(e) = log.finish()
        {
            self.note_request_log_error(e.to_string());
        }
    }

    fn note_request_log_error(&self, message: String) {
        if let Ok(mut slot) = self.request_log_error.lock() {
            slot.get_or_insert(message);
        }
    }

    /// The first error opening or writing a request log, if any.
    pub fn request_log_error(&self) -> Option<String> {
        self.request_log_error.lock().ok().and_then(|s| s.clone())
    }

    /// Asks the run to stop at its next check.
    pub fn cancel(&self) {
        self.cancel.store(true, Ordering::Relaxed);
    }

    /// Whether the run was asked to stop.
    pub fn is_cancelled(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }

    /// Replications finished so far.
    pub fn replications_done(&self) -> u32 {
        self.done.load(Ordering::Relaxed)
    }

    /// Counts one finished replication.
    pub fn finish_one(&self) {
        self.done.fetch_add(1, Ordering::Relaxed);
    }
}
