//! A panic inside the `parquet` crate, on a corrupt file, turned into that
//! file's error.
//!
//! # Background
//!
//! The `parquet` crate (60.1) still panics on some corrupt input instead of
//! returning an error: fuzzing (`fuzz/`) found a zero divisor in its
//! byte-array reader for a page claiming values but holding none. The
//! offending values come from the file, so the file is at fault: the run
//! stops with an error naming it, as for any corrupt file, rather than
//! aborting. Only calls into that crate are wrapped; a panic in this
//! project's own decoders is a bug to fix, and is left to surface.

use std::panic::{catch_unwind, AssertUnwindSafe};

/// Runs `f`; a panic inside it becomes `on_panic(message)`.
pub(crate) fn contain_panic<T, E>(
    f: impl FnOnce() -> Result<T, E>,
    on_panic: impl FnOnce(String) -> E,
) -> Result<T, E> {
    // AssertUnwindSafe: after a panic the caller gets an error and drops
    // everything `f` was working on (the unit's accumulator, the reader).
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|payload| {
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic without a message".to_string());
        Err(on_panic(message))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_the_error_and_results_pass_through() {
        let quiet = std::panic::take_hook();
        std::panic::set_hook(Box::new(|_| {}));
        let divisor = std::hint::black_box(0u32);
        let r: Result<u32, String> = contain_panic(|| Ok(7 / divisor), |m| format!("bad: {m}"));
        std::panic::set_hook(quiet);
        assert_eq!(r, Err("bad: attempt to divide by zero".to_string()));
        assert_eq!(contain_panic(|| Ok::<_, String>(3), |m| m), Ok(3));
        assert_eq!(
            contain_panic(|| Err::<u8, _>("e".to_string()), |m| m),
            Err("e".into())
        );
    }
}
