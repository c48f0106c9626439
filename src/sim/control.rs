//! Watching and stopping a run from outside (the HTTP service): replications finished so far,
//! and a cancel flag the event loops check every few thousand events.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

/// Shared between a running simulation and whoever watches it.
#[derive(Debug, Default)]
pub struct RunControl {
    cancel: AtomicBool,
    done: AtomicU32,
}

/// A control nobody cancels (plain CLI runs).
pub static UNCONTROLLED: RunControl = RunControl::new();

/// Events between two looks at the cancel flag (a power of two).
pub const CHECK_EVERY_EVENTS: u64 = 4096;

impl RunControl {
    /// Not cancelled, nothing done.
    pub const fn new() -> RunControl {
        RunControl {
            cancel: AtomicBool::new(false),
            done: AtomicU32::new(0),
        }
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

/// The message a cancelled replication reports.
pub const CANCELLED: &str = "cancelled before the end of the run";
