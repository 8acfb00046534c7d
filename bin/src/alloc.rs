//! The allocator, and how a batch job keeps the memory it was given.
//!
//! A batch run builds and drops one category state after another. Three
//! things made it fault in fresh, kernel-zeroed pages over and over, for a
//! peak of ~150 MB (measured on the 100M-purchase lake, BENCHMARKS.md):
//! - mimalloc's default purge (memory unused for a while goes back to the
//!   kernel): 8–10% of `compute`'s CPU time;
//! - transparent huge pages: mimalloc asks for them on its arenas, and a
//!   first touch anywhere in 2 MiB zeroes all of it, several milliseconds
//!   each on a virtual machine whose host backs the memory lazily
//!   (`clear_page_erms` was 3–13% of the samples, run to run);
//! - glibc's heap trim: zstd (C, on glibc's malloc) frees its decompression
//!   context at every column chunk, and glibc gave the top 72 KiB of the
//!   thread's heap back each time (`madvise(MADV_DONTNEED)`, 500 times a run).
//!
//! Jobs keep their memory instead; the server, which runs for days, keeps
//! the defaults.

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

/// Keeps freed memory in the process for reuse, in small pages (peak
/// memory is unchanged: it is memory the run already held). Call before the
/// work starts. A `MIMALLOC_PURGE_DELAY` set by the operator wins.
pub fn keep_freed_memory() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        // SAFETY: sets a process-wide integer option; called from `main`
        // before any other thread starts.
        unsafe { mi_option_set(PURGE_DELAY, -1) };
    }
    // Errors are ignored: both are tuning, and the job runs the same
    // without them (an older kernel without the flag, another libc).
    // SAFETY: plain calls with integer arguments, before other threads start.
    #[cfg(target_os = "linux")]
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
        #[cfg(target_env = "gnu")]
        libc::mallopt(libc::M_TRIM_THRESHOLD, GLIBC_TRIM_THRESHOLD);
    }
}

/// The free space glibc keeps at the top of a heap before trimming it
/// (its default, 128 KiB, trims at nearly every zstd context freed).
#[cfg(target_env = "gnu")]
const GLIBC_TRIM_THRESHOLD: libc::c_int = 64 << 20;

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
