//! Memory hints for the hot loop: a fleet of hundreds of replicas keeps more state than the
//! CPU's private caches hold, so a record needed a little later can be asked for early and
//! arrive while other work runs.

/// Asks the CPU to start loading the cache line at address `addr` (0: nothing) into its
/// caches, without waiting for it: a hint with no effect on results (a no-op off x86-64). An
/// address no longer in use is harmless: it only warms a cache line.
#[inline(always)]
pub fn prefetch_addr(addr: usize) {
    #[cfg(target_arch = "x86_64")]
    if addr != 0 {
        // SAFETY: `_mm_prefetch` only hints the cache hierarchy: it reads nothing in the
        // language's sense and cannot fault, whatever the address. SSE, which it needs, is
        // part of the x86-64 baseline.
        unsafe {
            use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
            _mm_prefetch::<_MM_HINT_T0>(addr as *const i8);
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = addr;
}
