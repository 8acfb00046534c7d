//! The two findings that end the process: an input that runs too long, and
//! one that makes the process hold too much memory. Both write the input
//! being run to the findings folder first, so it can be replayed.
//!
//! # Design
//!
//! The input in flight is published as a raw pointer and length
//! ([`enter`] / [`leave`]). When memory runs over the cap the allocator
//! itself writes it out, so that path may not allocate: the file names
//! are made up front ([`arm`]) and the write goes through `libc` directly.

use std::alloc::{GlobalAlloc, Layout, System};
use std::ffi::CString;
use std::path::Path;
use std::sync::atomic::{AtomicPtr, AtomicU64, AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Exit status after an input ran past the time bound.
pub const EXIT_HANG: i32 = 4;
/// Exit status after an input made live memory pass the cap.
pub const EXIT_MEMORY: i32 = 3;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
/// Bytes the process may hold at once; 0: no cap (before [`arm`]).
static CAP: AtomicUsize = AtomicUsize::new(0);
static INPUT: AtomicPtr<u8> = AtomicPtr::new(std::ptr::null_mut());
static INPUT_LEN: AtomicUsize = AtomicUsize::new(0);
/// Milliseconds since [`arm`] at which the input in flight started, plus
/// one; 0 while none is.
static STARTED_MS: AtomicU64 = AtomicU64::new(0);

struct Armed {
    epoch: Instant,
    hang_file: CString,
    memory_file: CString,
}

static ARMED: OnceLock<Armed> = OnceLock::new();

/// The global allocator of the fuzz binary: the system allocator, counting
/// live bytes, refusing to go past the cap set by [`arm`].
pub struct CappedAlloc;

impl CappedAlloc {
    fn grew(size: usize) {
        let live = LIVE.fetch_add(size, Ordering::Relaxed) + size;
        PEAK.fetch_max(live, Ordering::Relaxed);
        let cap = CAP.load(Ordering::Relaxed);
        if cap != 0 && live > cap {
            if let Some(a) = ARMED.get() {
                give_up(&a.memory_file, EXIT_MEMORY, b"fuzz: memory cap passed\n");
            }
        }
    }
}

// SAFETY: every method forwards to `System` with the caller's layout and
// pointer unchanged; the counting around it touches atomics only.
unsafe impl GlobalAlloc for CappedAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        Self::grew(layout.size());
        // SAFETY: the caller upholds `alloc`'s contract, passed on as is.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        Self::grew(layout.size());
        // SAFETY: as for `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: `ptr` came from this allocator with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size > layout.size() {
            Self::grew(new_size - layout.size());
        } else {
            LIVE.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
        }
        // SAFETY: `ptr` came from this allocator with `layout`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// Bytes held now and at most so far (only with [`CappedAlloc`] installed).
pub fn memory() -> (usize, usize) {
    (LIVE.load(Ordering::Relaxed), PEAK.load(Ordering::Relaxed))
}

/// Sets the memory cap and the time bound per input, and starts the
/// watchdog. Findings are written to `findings` as `hang-<target>.bin` and
/// `memory-<target>.bin`. Call once per process.
pub fn arm(findings: &Path, target: &str, cap_bytes: usize, bound: Duration) {
    let file = |kind: &str| {
        let p = findings.join(format!("{kind}-{target}.bin"));
        CString::new(p.as_os_str().as_encoded_bytes()).unwrap_or_default()
    };
    let armed = Armed {
        epoch: Instant::now(),
        hang_file: file("hang"),
        memory_file: file("memory"),
    };
    if ARMED.set(armed).is_err() {
        return;
    }
    CAP.store(cap_bytes, Ordering::Relaxed);
    let bound_ms = bound.as_millis() as u64;
    std::thread::spawn(move || loop {
        std::thread::sleep(Duration::from_millis(50).min(bound / 4));
        let started = STARTED_MS.load(Ordering::Relaxed);
        if started != 0 && now_ms() + 1 - started > bound_ms {
            if let Some(a) = ARMED.get() {
                give_up(
                    &a.hang_file,
                    EXIT_HANG,
                    b"fuzz: an input ran past the time bound\n",
                );
            }
        }
    });
}

fn now_ms() -> u64 {
    ARMED
        .get()
        .map_or(0, |a| a.epoch.elapsed().as_millis() as u64)
}

/// Marks `input` as in flight: a hang or memory finding writes it out.
/// It must stay alive until [`leave`].
pub fn enter(input: &[u8]) {
    INPUT_LEN.store(input.len(), Ordering::Relaxed);
    INPUT.store(input.as_ptr().cast_mut(), Ordering::Release);
    STARTED_MS.store(now_ms() + 1, Ordering::Release);
}

/// The input in flight is done.
pub fn leave() {
    STARTED_MS.store(0, Ordering::Release);
    INPUT.store(std::ptr::null_mut(), Ordering::Release);
}

/// Writes the input in flight to `file`, says `why` on stderr and ends the
/// process with `status`, allocating nothing.
fn give_up(file: &CString, status: i32, why: &[u8]) -> ! {
    let ptr = INPUT.load(Ordering::Acquire);
    let len = INPUT_LEN.load(Ordering::Relaxed);
    // SAFETY: `file` is a NUL-terminated path; `ptr..ptr + len` is the input
    // `enter` published, alive until `leave` (the thread that owns it is
    // stuck inside the target, or is this thread, inside the allocator);
    // `why` is a live slice. Only plain system calls are made.
    unsafe {
        let fd = libc::open(
            file.as_ptr(),
            libc::O_CREAT | libc::O_WRONLY | libc::O_TRUNC,
            0o644,
        );
        if fd >= 0 && !ptr.is_null() {
            let mut done = 0;
            while done < len {
                let n = libc::write(fd, ptr.add(done).cast(), len - done);
                if n <= 0 {
                    break;
                }
                done += n as usize;
            }
            libc::close(fd);
        }
        libc::write(2, why.as_ptr().cast(), why.len());
        libc::_exit(status)
    }
}
