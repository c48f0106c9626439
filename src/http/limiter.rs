//! Admission control for simulations: at most `permits` run at once, at most `max_waiting`
//! wait for a permit, and everything beyond is refused at once (the caller answers 429).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// A counting semaphore with a bounded waiting line.
///
/// A permit is an [`OwnedSemaphorePermit`]: the caller moves it into the blocking task that
/// runs the simulation, so it is released when the simulation ends, not when the HTTP
/// request ends (a timed-out or cancelled run keeps its permit until it finishes).
#[derive(Clone, Debug)]
pub struct Limiter {
    permits: Arc<Semaphore>,
    waiting: Arc<AtomicUsize>,
    max_waiting: usize,
}

/// Every permit is taken and the waiting line is full.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Busy;

/// Decrements the waiting count when a waiter gets its permit or gives up (its future is
/// dropped because the client went away).
struct WaitingGuard(Arc<AtomicUsize>);

impl Drop for WaitingGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Limiter {
    /// `permits` concurrent simulations (at least 1), `max_waiting` callers in line.
    pub fn new(permits: usize, max_waiting: usize) -> Self {
        Limiter {
            permits: Arc::new(Semaphore::new(permits.max(1))),
            waiting: Arc::new(AtomicUsize::new(0)),
            max_waiting,
        }
    }

    /// A permit now if one is free; otherwise a place in line if there is one (waiting for a
    /// permit); otherwise [`Busy`].
    pub async fn acquire(&self) -> Result<OwnedSemaphorePermit, Busy> {
        if let Ok(p) = self.permits.clone().try_acquire_owned() {
            return Ok(p);
        }
        // Take a place in line only if the line is not full (compare-and-swap, so two
        // callers cannot both take the last place).
        let mut n = self.waiting.load(Ordering::Acquire);
        loop {
            if n >= self.max_waiting {
                return Err(Busy);
            }
            match self
                .waiting
                .compare_exchange_weak(n, n + 1, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => break,
                Err(now) => n = now,
            }
        }
        let _place = WaitingGuard(self.waiting.clone());
        // The semaphore is never closed, so this only fails if that invariant breaks.
        self.permits.clone().acquire_owned().await.map_err(|_| Busy)
    }

    /// Permits free right now.
    pub fn available(&self) -> usize {
        self.permits.available_permits()
    }

    /// Callers waiting for a permit right now.
    pub fn waiting(&self) -> usize {
        self.waiting.load(Ordering::Acquire)
    }
}
