//! The one event loop every fleet kind runs, with its stop conditions written once: the
//! cancel check, the end of the run (stop, or drain), the queue limit (`run.max_queue`) and
//! the event count.
//!
//! A fleet kind is a [`Model`]: it owns its state and handles one event at a time. [`run`]
//! is generic over the model, so each kind gets its own monomorphized loop (no dynamic call
//! per event).

use crate::engine::{EventQueue, SimTime};

/// Events between two looks at the cancel flag (a power of two).
pub const CHECK_EVERY_EVENTS: u64 = 4096;

/// The message a cancelled replication reports.
pub const CANCELLED: &str = "cancelled before the end of the run";

/// What a handled event asks of the loop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flow {
    /// Nothing to check: go on.
    Continue,
    /// A request joined a fleet queue: check the queue limit before going on.
    Queued,
}

/// A fleet kind driven by [`run`]: its events and how it handles them.
pub trait Model {
    /// The events this model schedules.
    type Event;

    /// Handles `ev`, due at `now`; follow-up events go into `queue`.
    fn handle(
        &mut self,
        now: SimTime,
        ev: Self::Event,
        queue: &mut EventQueue<Self::Event>,
    ) -> Flow;

    /// A draining run popped `ev`, due at or after the end: whether to drop it (new
    /// arrivals, periodic events) instead of handling it.
    fn drop_after_end(&mut self, ev: &Self::Event) -> bool;

    /// Requests waiting for service fleet-wide (compared with [`StopRules::max_queue`]).
    fn waiting(&self) -> u64;

    /// Whether [`Model::prefetch_slot`] is worth the loop's look at the next event.
    const PREFETCH: bool = false;

    /// The next event is `slot`'s wake-up: start loading what handling it will read (a
    /// memory hint, no effect on results).
    fn prefetch_slot(&self, _slot: u32) {}
}

/// When a run stops.
#[derive(Clone, Copy, Debug)]
pub struct StopRules {
    /// The end of the run (`traffic.duration_s`).
    pub end: SimTime,
    /// Whether requests in the system at the end are finished (`run.drain`): no new arrivals
    /// then, but completions go on until the queue is empty.
    pub drain: bool,
    /// More requests waiting than this stops the run as overloaded (`run.max_queue`).
    pub max_queue: u64,
}

/// How a run ended.
#[derive(Clone, Debug)]
pub struct Ending {
    /// The end of the measured window: the end of the run, or the time of the last event
    /// handled when the run stopped early.
    pub now: SimTime,
    /// Events popped, including the one a stop put back.
    pub events: u64,
    /// Why the run stopped early (the queue limit, or a cancel), if it did.
    pub overload: Option<String>,
}

/// Runs `model` on `queue` until the queue empties, the end of the run (see
/// [`StopRules::drain`]), the queue limit, or `cancelled()` (asked every
/// [`CHECK_EVERY_EVENTS`] events). An event due after a stop is put back, so `queue` then
/// holds what was still in flight.
pub fn run<M: Model>(
    model: &mut M,
    queue: &mut EventQueue<M::Event>,
    stop: &StopRules,
    cancelled: impl Fn() -> bool,
) -> Ending {
    let mut events = 0u64;
    let mut now = SimTime::ZERO;
    let mut overload = None;
    while let Some((t, ev)) = queue.pop() {
        events += 1;
        if events & (CHECK_EVERY_EVENTS - 1) == 0 && cancelled() {
            queue.push(t, ev);
            overload = Some(CANCELLED.to_string());
            break;
        }
        if t >= stop.end {
            if !stop.drain {
                // Put it back: an event due after the end is still in flight.
                queue.push(t, ev);
                break;
            }
            if model.drop_after_end(&ev) {
                continue;
            }
        }
        now = t;
        let flow = model.handle(now, ev, queue);
        if M::PREFETCH
            && let Some(slot) = queue.peek_slot()
        {
            // What it reads starts arriving while the loop pops it.
            model.prefetch_slot(slot);
        }
        if flow == Flow::Queued {
            let waiting = model.waiting();
            if waiting > stop.max_queue {
                overload = Some(format!(
                    "{waiting} requests were waiting at t = {:.1} s (run.max_queue = {}): the \
                     fleet cannot keep up with the offered load",
                    now.as_secs_f64(),
                    stop.max_queue
                ));
                break;
            }
        }
    }
    if overload.is_none() {
        // Arrivals stopped and the system may have drained early: the window still ends at
        // the end of the run.
        now = stop.end;
    }
    Ending {
        now,
        events,
        overload,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Arrivals every second; each waits forever (never served).
    struct Pile {
        waiting: u64,
        handled: Vec<u64>,
    }

    impl Model for Pile {
        type Event = u64;
        fn handle(&mut self, now: SimTime, ev: u64, queue: &mut EventQueue<u64>) -> Flow {
            self.handled.push(ev);
            self.waiting += 1;
            queue.push(now + crate::engine::SimDuration::from_secs_f64(1.0), ev + 1);
            Flow::Queued
        }
        fn drop_after_end(&mut self, _: &u64) -> bool {
            true
        }
        fn waiting(&self) -> u64 {
            self.waiting
        }
    }

    fn pile() -> (Pile, EventQueue<u64>) {
        let mut q = EventQueue::new();
        q.push(SimTime::ZERO, 0);
        let p = Pile {
            waiting: 0,
            handled: Vec::new(),
        };
        (p, q)
    }

    #[test]
    fn stops_at_the_end_and_puts_the_next_event_back() {
        let (mut p, mut q) = pile();
        let end = SimTime::from_secs_f64(5.0);
        let stop = StopRules {
            end,
            drain: false,
            max_queue: 100,
        };
        let e = run(&mut p, &mut q, &stop, || false);
        assert_eq!(p.handled, [0, 1, 2, 3, 4]);
        assert_eq!((e.now, e.events, e.overload), (end, 6, None));
        assert_eq!(q.pop().map(|(_, ev)| ev), Some(5));
    }

    #[test]
    fn draining_drops_what_the_model_drops() {
        let (mut p, mut q) = pile();
        let stop = StopRules {
            end: SimTime::from_secs_f64(3.0),
            drain: true,
            max_queue: 100,
        };
        let e = run(&mut p, &mut q, &stop, || false);
        assert_eq!(p.handled, [0, 1, 2]);
        assert!(q.is_empty() && e.overload.is_none());
    }

    #[test]
    fn the_queue_limit_stops_the_run_at_the_arrival_that_broke_it() {
        let (mut p, mut q) = pile();
        let stop = StopRules {
            end: SimTime::from_secs_f64(100.0),
            drain: false,
            max_queue: 2,
        };
        let e = run(&mut p, &mut q, &stop, || false);
        assert_eq!(e.now, SimTime::from_secs_f64(2.0));
        let msg = e.overload.expect("overloaded");
        assert!(msg.starts_with("3 requests were waiting at t = 2.0 s (run.max_queue = 2)"));
    }

    #[test]
    fn a_cancel_is_seen_within_check_every_events() {
        let (mut p, mut q) = pile();
        let stop = StopRules {
            end: SimTime::from_secs_f64(1e9),
            drain: false,
            max_queue: u64::MAX,
        };
        let e = run(&mut p, &mut q, &stop, || true);
        assert_eq!(e.events, CHECK_EVERY_EVENTS);
        assert_eq!(p.handled.len() as u64, CHECK_EVERY_EVENTS - 1);
        assert_eq!(e.overload.as_deref(), Some(CANCELLED));
    }
}
