//! The adaptive lookback ladder: candidate windows W, 2W, 4W, … capped at W_max.
//!
//! # Design
//!
//! Rather than rescanning the data once per candidate window, every counted
//! purchase is put in the *bucket* of the smallest candidate window that
//! contains it. The score under window `j` is then the sum of buckets `0..=j`,
//! and an item is present under window `j` iff its newest purchase falls in a
//! bucket `<= j`. One scan therefore serves every candidate.

use crate::error::EngineError;

/// The candidate windows of a run, in nanoseconds, strictly increasing.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowLadder {
    windows_ns: Vec<i64>,
}

impl WindowLadder {
    /// Builds `W, 2W, 4W, …` while below `max`, then `max`.
    pub fn new(base_ns: i64, max_ns: i64) -> Result<Self, EngineError> {
        if base_ns <= 0 {
            return Err(EngineError::InvalidParameter {
                name: "--window",
                reason: "must be a positive duration".into(),
            });
        }
        if max_ns <= 0 {
            return Err(EngineError::InvalidParameter {
                name: "--max-window",
                reason: "must be a positive duration".into(),
            });
        }
        let mut windows_ns = Vec::new();
        let mut w = base_ns;
        while w < max_ns {
            windows_ns.push(w);
            w = match w.checked_mul(2) {
                Some(next) => next,
                None => break,
            };
        }
        windows_ns.push(max_ns);
        if windows_ns.len() > u8::MAX as usize {
            return Err(EngineError::InvalidParameter {
                name: "--max-window",
                reason: "too many window steps".into(),
            });
        }
        Ok(Self { windows_ns })
    }

    /// Number of candidate windows (and of buckets).
    #[allow(clippy::len_without_is_empty)] // never empty by construction
    pub fn len(&self) -> usize {
        self.windows_ns.len()
    }

    /// The candidate windows in nanoseconds, shortest first.
    pub fn windows_ns(&self) -> &[i64] {
        &self.windows_ns
    }

    /// The largest window, W_max.
    pub fn max_ns(&self) -> i64 {
        self.windows_ns[self.windows_ns.len() - 1]
    }

    /// The bucket of a purchase of age `age_ns` (0 <= age < W_max): the index
    /// of the smallest window `w` with `age < w`. `None` when the age is
    /// outside every window.
    #[inline]
    pub fn bucket(&self, age_ns: i64) -> Option<u8> {
        // Ladders are short (5 steps for 30d/365d) and the first step is by far
        // the most common answer, so a linear scan beats a binary search.
        self.windows_ns
            .iter()
            .position(|&w| age_ns < w)
            .map(|b| b as u8)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ladder_doubles_then_caps() {
        let l = WindowLadder::new(30, 365).unwrap();
        assert_eq!(l.windows_ns(), &[30, 60, 120, 240, 365]);
        let l = WindowLadder::new(30, 240).unwrap();
        assert_eq!(l.windows_ns(), &[30, 60, 120, 240]);
        let l = WindowLadder::new(30, 30).unwrap();
        assert_eq!(l.windows_ns(), &[30]);
        assert!(WindowLadder::new(0, 30).is_err());
        // No step below the cap: the cap alone.
        assert_eq!(WindowLadder::new(31, 30).unwrap().windows_ns(), &[30]);
    }

    #[test]
    fn buckets_are_half_open() {
        let l = WindowLadder::new(30, 365).unwrap();
        assert_eq!(l.bucket(0), Some(0));
        assert_eq!(l.bucket(29), Some(0));
        assert_eq!(l.bucket(30), Some(1));
        assert_eq!(l.bucket(364), Some(4));
        assert_eq!(l.bucket(365), None);
    }
}
