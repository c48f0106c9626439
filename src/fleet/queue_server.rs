//! The generic queueing server: `slots` requests in service at once, each for its own service
//! time (drawn by the workload at arrival), FIFO for the rest.

use std::collections::VecDeque;

use crate::engine::SimTime;
use crate::metrics::LevelMeter;
use crate::workload::Request;

/// One multi-slot FIFO server.
pub struct QueueServer {
    slots: u32,
    busy: u32,
    /// Requests routed here and not yet in service (unused under `central-queue`).
    pub waiting: VecDeque<Request>,
    meter: LevelMeter,
}

impl QueueServer {
    /// An idle server whose busy time is measured over [measure_from, measure_to].
    pub fn new(slots: u32, measure_from: SimTime, measure_to: SimTime) -> Self {
        QueueServer {
            slots,
            busy: 0,
            waiting: VecDeque::new(),
            meter: LevelMeter::new(measure_from, measure_to),
        }
    }

    /// Whether a slot is free.
    #[inline]
    pub fn has_free_slot(&self) -> bool {
        self.busy < self.slots
    }

    /// Requests in service plus waiting here.
    #[inline]
    pub fn outstanding(&self) -> usize {
        self.busy as usize + self.waiting.len()
    }

    /// Starts `req` in a free slot at `now`; returns when it finishes.
    #[inline]
    pub fn start(&mut self, now: SimTime, req: &Request) -> SimTime {
        debug_assert!(self.has_free_slot(), "start on a full server");
        self.busy += 1;
        self.meter.set(now, u64::from(self.busy));
        now + req.work
    }

    /// A request finished at `now`, freeing its slot.
    #[inline]
    pub fn finish(&mut self, now: SimTime) {
        debug_assert!(self.busy > 0, "finish on an idle server");
        self.busy -= 1;
        self.meter.set(now, u64::from(self.busy));
    }

    /// Closes accounting at `end`: (slot-seconds busy, seconds with any slot busy, window s).
    pub fn finish_accounting(&mut self, end: SimTime) -> (f64, f64, f64) {
        self.meter.finish(end)
    }

    /// Slots per server.
    pub fn slots(&self) -> u32 {
        self.slots
    }
}
