//! The KV transfer link of one prefill server (issue 17): each request's KV cache crosses it
//! from the prefill replica to a decode replica, one transfer at a time, first come first
//! served.
//!
//! A transfer of `b` bytes holds the link for `b / bandwidth` seconds; the fixed latency per
//! transfer is pipelined (it delays that transfer's arrival but does not hold the link). With
//! `overlap`, the KV streams layer by layer while the prompt is prefilled: the transfer may
//! start on the link as early as the request's prefill began, but cannot end before the last
//! layer's share has crossed after the prefill ended.

use crate::engine::{SimDuration, SimTime};
use crate::scenario::disagg::KvTransferSpec;

/// When one transfer used the link.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Transfer {
    /// When its bytes started to cross.
    pub start: SimTime,
    /// When its last byte crossed.
    pub end: SimTime,
    /// When the KV is usable on the decode replica (`end` plus the latency).
    pub arrives: SimTime,
    /// How long it waited for the link (another transfer holding it).
    pub waited: SimDuration,
}

/// One server's link: FIFO, busy time measured over a window.
#[derive(Clone, Debug)]
pub struct KvLink {
    bandwidth_bytes_per_s: f64,
    latency: SimDuration,
    overlap: bool,
    /// Layers of the model (the overlap's last-layer share).
    layers: u32,
    /// When the last booked transfer ends.
    free_at: SimTime,
    measure_from: SimTime,
    measure_to: SimTime,
    /// Seconds the link carried bytes inside the measured window.
    pub busy_s: f64,
    /// Bytes booked by transfers that ended inside the measured window.
    pub bytes: f64,
}

impl KvLink {
    /// An idle link measuring its busy time over `[measure_from, measure_to)`.
    pub fn new(
        spec: &KvTransferSpec,
        layers: u32,
        measure_from: SimTime,
        measure_to: SimTime,
    ) -> KvLink {
        KvLink {
            bandwidth_bytes_per_s: spec.bandwidth_bytes_per_s,
            latency: SimDuration::from_secs_f64(spec.latency_s),
            overlap: spec.overlap,
            layers: layers.max(1),
            free_at: SimTime::ZERO,
            measure_from,
            measure_to,
            busy_s: 0.0,
            bytes: 0.0,
        }
    }

    /// Seconds `bytes` hold the link (zero on an infinitely fast link).
    pub fn wire_s(&self, bytes: f64) -> f64 {
        if self.bandwidth_bytes_per_s.is_infinite() {
            0.0
        } else {
            bytes / self.bandwidth_bytes_per_s
        }
    }

    /// Books the transfer of `bytes` whose prefill began at `prefill_start` and ended at
    /// `now` (bookings come in time order, so the link stays FIFO).
    pub fn book(&mut self, now: SimTime, prefill_start: SimTime, bytes: f64) -> Transfer {
        let wire = SimDuration::from_secs_f64(self.wire_s(bytes));
        let earliest = if self.overlap {
            prefill_start.min(now)
        } else {
            now
        };
        let (start, end) = if self.overlap {
            let start = self.free_at.max(earliest);
            let last_layer =
                SimDuration::from_secs_f64(self.wire_s(bytes) / f64::from(self.layers));
            (start, (start + wire).max(now + last_layer))
        } else {
            let start = self.free_at.max(earliest);
            (start, start + wire)
        };
        self.free_at = end;
        // Busy time is the wire time, clipped to the window by its share of [start, end].
        let (lo, hi) = (start.max(self.measure_from), end.min(self.measure_to));
        if end > start && hi > lo {
            let share = hi.since(lo).as_secs_f64() / end.since(start).as_secs_f64();
            self.busy_s += wire.as_secs_f64() * share;
        }
        if end >= self.measure_from && end < self.measure_to {
            self.bytes += bytes;
        }
        Transfer {
            start,
            end,
            arrives: end + self.latency,
            waited: start.since(earliest),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(overlap: bool) -> KvTransferSpec {
        KvTransferSpec {
            bandwidth_bytes_per_s: 1e9,
            latency_s: 0.001,
            overlap,
        }
    }

    fn t(s: f64) -> SimTime {
        SimTime::from_secs_f64(s)
    }

    #[test]
    fn transfers_queue_first_come_first_served() {
        let mut link = KvLink::new(&spec(false), 80, SimTime::ZERO, t(100.0));
        let a = link.book(t(1.0), t(0.5), 0.5e9); // 0.5 s on the wire
        assert_eq!((a.start, a.end, a.arrives), (t(1.0), t(1.5), t(1.501)));
        let b = link.book(t(1.2), t(1.0), 1e9); // waits for a
        assert_eq!((b.start, b.end), (t(1.5), t(2.5)));
        assert!((link.busy_s - 1.5).abs() < 1e-9);
    }

    #[test]
    fn overlap_hides_all_but_the_last_layer_under_the_prefill() {
        let mut link = KvLink::new(&spec(true), 10, SimTime::ZERO, t(100.0));
        // 0.5 s of wire time under a 1 s prefill: only a tenth of it is left after the end.
        let a = link.book(t(2.0), t(1.0), 0.5e9);
        assert_eq!(a.start, t(1.0));
        assert_eq!(a.end, t(2.05));
        // A transfer longer than its prefill ends a full wire time after the link frees.
        let b = link.book(t(2.2), t(2.1), 2e9);
        assert_eq!((b.start, b.end), (t(2.1), t(4.1)));
    }

    #[test]
    fn an_infinite_link_takes_only_its_latency() {
        let s = KvTransferSpec {
            bandwidth_bytes_per_s: f64::INFINITY,
            latency_s: 0.0,
            overlap: false,
        };
        let mut link = KvLink::new(&s, 80, SimTime::ZERO, t(10.0));
        let a = link.book(t(3.0), t(2.0), 1e12);
        assert_eq!((a.start, a.end, a.arrives), (t(3.0), t(3.0), t(3.0)));
        assert_eq!(link.busy_s, 0.0);
    }
}
