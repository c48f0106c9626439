//! `central-queue` routing: one fleet-wide FIFO that servers pull from as their slots free,
//! instead of a choice of server at arrival.

use std::collections::VecDeque;

use crate::workload::Request;

/// The shared FIFO and the free slots of every server.
#[derive(Debug)]
pub struct CentralQueue {
    /// One entry per free slot (server index); popped from the back.
    free_slots: Vec<u32>,
    waiting: VecDeque<Request>,
}

impl CentralQueue {
    /// `servers` idle servers with `slots` slots each. Free slots are taken lowest server
    /// first, and a slot freed later is the next one taken.
    pub fn new(servers: usize, slots: u32) -> CentralQueue {
        CentralQueue {
            free_slots: (0..slots).flat_map(|_| (0..servers as u32).rev()).collect(),
            waiting: VecDeque::new(),
        }
    }

    /// Takes a free slot for a new request; `None` when every slot is busy (then
    /// [`CentralQueue::push`] the request).
    #[inline]
    pub fn take_free_slot(&mut self) -> Option<u32> {
        self.free_slots.pop()
    }

    /// Queues a request that found every slot busy.
    #[inline]
    pub fn push(&mut self, req: Request) {
        self.waiting.push_back(req);
    }

    /// A slot of `server` freed: the next waiting request for it, or `None` (then the slot is
    /// marked free).
    #[inline]
    pub fn slot_freed(&mut self, server: u32) -> Option<Request> {
        let next = self.waiting.pop_front();
        if next.is_none() {
            self.free_slots.push(server);
        }
        next
    }

    /// The requests waiting, oldest first.
    pub fn waiting(&self) -> &VecDeque<Request> {
        &self.waiting
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{SimDuration, SimTime};

    fn request() -> Request {
        Request {
            id: 0,
            arrival: SimTime::ZERO,
            work: SimDuration::ZERO,
            input_tokens: 0,
            output_tokens: 0,
            session: 0,
            round: 1,
            session_start: SimTime::ZERO,
            blocks: None,
        }
    }

    #[test]
    fn slots_are_taken_lowest_server_first_and_freed_slots_reused() {
        let mut c = CentralQueue::new(2, 2);
        let taken: Vec<u32> = (0..4).map(|_| c.take_free_slot().unwrap()).collect();
        assert_eq!(taken, [0, 1, 0, 1]);
        assert_eq!(c.take_free_slot(), None);
        assert!(c.slot_freed(1).is_none());
        assert_eq!(c.take_free_slot(), Some(1));
        c.push(request());
        assert_eq!(c.waiting().len(), 1);
        assert!(c.slot_freed(0).is_some());
        assert_eq!(c.take_free_slot(), None);
    }
}
