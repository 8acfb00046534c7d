//! The allocator, and how long it keeps memory that was freed.
//!
//! A batch run builds and drops one category state after another. With
//! mimalloc's default (memory unused for a while goes back to the kernel),
//! new states faulted in fresh pages that the kernel zeroed first: 8–10% of
//! `compute`'s CPU time on a 100M-purchase lake, for a peak of ~130 MB.
//! Jobs keep it instead; the server, which runs for days, keeps the default.

use libmimalloc_sys::{mi_option_set, mi_option_t};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay`: its place in mimalloc v3's `mi_option_e` (the
/// crate names only some options). The test below checks it still is.
const PURGE_DELAY: mi_option_t = 15;

/// The purge delay this mimalloc version starts with, in milliseconds
/// (its header says 10; the build in use says 1000, with `arena_purge_mult`
/// 1, as `MIMALLOC_VERBOSE=1` shows).
#[cfg(test)]
const DEFAULT_PURGE_DELAY_MS: std::ffi::c_long = 1000;

/// Keeps freed memory in the process for reuse (peak memory is unchanged:
/// it is memory the run already held). Call before the work starts. A
/// `MIMALLOC_PURGE_DELAY` set by the operator wins.
pub fn keep_freed_memory() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
        return;
    }
    // SAFETY: sets a process-wide integer option; called from `main` before
    // any other thread starts.
    unsafe { mi_option_set(PURGE_DELAY, -1) };
}

#[cfg(test)]
mod tests {
    use super::*;
    use libmimalloc_sys::mi_option_get;

    #[test]
    fn the_purge_delay_option_is_the_one_meant() {
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
            return;
        }
        // SAFETY: reads a process-wide option.
        let value = unsafe { mi_option_get(PURGE_DELAY) };
        assert_eq!(
            value,
            DEFAULT_PURGE_DELAY_MS,
            "option {PURGE_DELAY} is not mimalloc's purge delay (1000 ms by default) in this version"
        );
    }
}
