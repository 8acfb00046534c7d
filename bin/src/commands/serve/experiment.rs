//! A/B assignment (`[serve.experiment]`): a request that carries a user id
//! (`?user=` or `X-User-Id`) and names no variant is served the variant of
//! the user's arm, and counted as an exposure of that arm.
//!
//! # Design
//!
//! The arm is a pure function of (salt, user id), so every `serve` process,
//! before and after a restart, and the analysis side all agree without
//! sharing any state:
//!
//! 1. `digest = SHA-256(salt ":" user)`, the UTF-8 bytes of the salt, a
//!    colon and the user id as received (percent-decoded);
//! 2. `bucket = u64::from_be_bytes(digest[0..8]) % 10000`;
//! 3. the arms take consecutive ranges of buckets in the order they are
//!    written, each `weight × 100` buckets wide (weights in percent, at
//!    most two decimals): with `fast = 10, default = 80, slow = 10`,
//!    buckets 0–999 are `fast`, 1000–8999 `default`, 9000–9999 `slow`.
//!
//! Changing the salt reshuffles every user; changing the weights moves
//! only the users of the buckets whose arm changes.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::http::HeaderValue;
use sha2::{Digest, Sha256};

use super::request::check_variant;

/// Buckets users are hashed into.
pub const BUCKETS: u32 = 10_000;
/// Longest salt, bytes.
const MAX_SALT: usize = 256;

/// One arm: a published variant and its share of the buckets.
#[derive(Debug)]
pub struct Arm {
    /// The variant served to its users.
    pub variant: String,
    /// Its buckets (its weight in hundredths of a percent).
    pub buckets: u32,
    /// The `X-Experiment` header of its answers: `name=arm`.
    pub header: HeaderValue,
    /// Requests answered (200 or 304) with this arm.
    exposures: AtomicU64,
}

/// A validated experiment.
#[derive(Debug)]
pub struct Experiment {
    /// Its name (a label in metrics and the `X-Experiment` header).
    pub name: String,
    salt: String,
    /// The arms, in the order they take the buckets.
    pub arms: Vec<Arm>,
}

/// The bucket of `user` under `salt`, 0 to 9999 (see the module's doc).
pub fn bucket(salt: &str, user: &str) -> u32 {
    let digest = Sha256::new()
        .chain_update(salt.as_bytes())
        .chain_update(b":")
        .chain_update(user.as_bytes())
        .finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    (u64::from_be_bytes(first) % u64::from(BUCKETS)) as u32
}

/// A weight in percent with at most two decimals, as buckets.
fn parse_weight(text: &str) -> Result<u32, String> {
    let bad = || format!("weight {text:?}: write a percentage from 0 to 100, at most two decimals");
    let (whole, frac) = text.trim().split_once('.').unwrap_or((text.trim(), ""));
    if whole.is_empty()
        || frac.len() > 2
        || !whole
            .bytes()
            .chain(frac.bytes())
            .all(|b| b.is_ascii_digit())
    {
        return Err(bad());
    }
    let whole: u32 = whole.parse().map_err(|_| bad())?;
    let frac: u32 = format!("{frac:0<2}").parse().map_err(|_| bad())?;
    let buckets = whole
        .checked_mul(100)
        .and_then(|b| b.checked_add(frac))
        .ok_or_else(bad)?;
    if buckets > BUCKETS {
        return Err(bad());
    }
    Ok(buckets)
}

impl Experiment {
    /// Checks an experiment: a name like a variant's, a salt of 1 to 256
    /// bytes, and arms `variant=weight,…` whose weights sum to 100.
    pub fn new(name: &str, salt: &str, arms: &str) -> Result<Self, String> {
        check_variant(name)
            .map_err(|e| format!("experiment name: {}", e.replacen("variant", "name", 1)))?;
        if salt.is_empty() || salt.len() > MAX_SALT {
            return Err(format!(
                "experiment {name:?}: the salt must be 1 to {MAX_SALT} bytes long, not {}",
                salt.len()
            ));
        }
        let mut parsed: Vec<Arm> = Vec::new();
        for pair in arms.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let Some((variant, weight)) = pair.split_once('=') else {
                return Err(format!(
                    "experiment {name:?}: arm {pair:?}: write VARIANT=PERCENT, like fast=10"
                ));
            };
            let variant = variant.trim();
            check_variant(variant).map_err(|e| format!("experiment {name:?}: arm: {e}"))?;
            if parsed.iter().any(|a| a.variant == variant) {
                return Err(format!(
                    "experiment {name:?}: arm {variant:?} is given twice"
                ));
            }
            let buckets = parse_weight(weight)
                .map_err(|e| format!("experiment {name:?}: arm {variant:?}: {e}"))?;
            let header = HeaderValue::from_str(&format!("{name}={variant}"))
                .map_err(|e| format!("experiment {name:?}: {e}"))?;
            parsed.push(Arm {
                variant: variant.to_string(),
                buckets,
                header,
                exposures: AtomicU64::new(0),
            });
        }
        if parsed.is_empty() {
            return Err(format!(
                "experiment {name:?} has no arms: give them as VARIANT=PERCENT,… (like fast=10,default=90)"
            ));
        }
        let total: u32 = parsed.iter().map(|a| a.buckets).sum();
        if total != BUCKETS {
            let list: Vec<String> = parsed
                .iter()
                .map(|a| format!("{}={}", a.variant, percent(a.buckets)))
                .collect();
            return Err(format!(
                "experiment {name:?}: the arms' weights sum to {}%, not 100% ({})",
                percent(total),
                list.join(", ")
            ));
        }
        Ok(Self {
            name: name.to_string(),
            salt: salt.to_string(),
            arms: parsed,
        })
    }

    /// The arm of `user` (an index into [`Experiment::arms`]).
    pub fn assign(&self, user: &str) -> usize {
        let b = bucket(&self.salt, user);
        let mut end = 0;
        for (i, arm) in self.arms.iter().enumerate() {
            end += arm.buckets;
            if b < end {
                return i;
            }
        }
        // The weights sum to BUCKETS (checked in `new`), so the loop returns.
        self.arms.len() - 1
    }

    /// Counts one answered request of arm `i`.
    pub fn expose(&self, i: usize) {
        self.arms[i].exposures.fetch_add(1, Ordering::Relaxed);
    }

    /// The exposure counters in the Prometheus text format.
    pub fn render(&self, out: &mut String) {
        out.push_str("# HELP topsellers_serve_experiment_exposures_total Top-sellers answers (200 or 304) served to an assigned user, by experiment and arm.\n# TYPE topsellers_serve_experiment_exposures_total counter\n");
        for arm in &self.arms {
            let _ = writeln!(
                out,
                "topsellers_serve_experiment_exposures_total{{experiment=\"{}\",arm=\"{}\"}} {}",
                self.name,
                arm.variant,
                arm.exposures.load(Ordering::Relaxed)
            );
        }
    }
}

/// Buckets as a percentage (`1000` → `10`, `1050` → `10.5`).
fn percent(buckets: u32) -> String {
    let text = format!("{}.{:02}", buckets / 100, buckets % 100);
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bucket_is_the_documented_sha256_prefix() {
        // The same words as the README's; scripts/check/ab_assign.py
        // recomputes them in Python against a running serve.
        let digest = Sha256::digest(b"s1:alice");
        let mut first = [0u8; 8];
        first.copy_from_slice(&digest[..8]);
        assert_eq!(
            bucket("s1", "alice"),
            (u64::from_be_bytes(first) % 10_000) as u32
        );
        assert_ne!(bucket("s1", "alice"), bucket("s2", "alice"));
    }

    #[test]
    fn a_hundred_thousand_users_split_as_weighted() {
        let e = Experiment::new("decay", "2026-11", "fast=10,default=80,slow=10").unwrap();
        let mut counts = [0u32; 3];
        for u in 0..100_000 {
            counts[e.assign(&format!("user-{u}"))] += 1;
        }
        for (count, want) in counts.iter().zip([10.0, 80.0, 10.0]) {
            let share = f64::from(*count) / 1000.0;
            assert!((share - want).abs() < 1.0, "{counts:?}");
        }
    }

    #[test]
    fn arms_take_the_buckets_in_order() {
        let e = Experiment::new("x", "s", "a=10,b=89.5,c=0.5").unwrap();
        let by_bucket = |b: u32| {
            let mut end = 0;
            e.arms
                .iter()
                .position(|a| {
                    end += a.buckets;
                    b < end
                })
                .unwrap()
        };
        assert_eq!((by_bucket(0), by_bucket(999)), (0, 0));
        assert_eq!((by_bucket(1000), by_bucket(9949)), (1, 1));
        assert_eq!((by_bucket(9950), by_bucket(9999)), (2, 2));
        for u in 0..1000 {
            let user = format!("u{u}");
            assert_eq!(e.assign(&user), by_bucket(bucket("s", &user)));
        }
    }

    #[test]
    fn bad_experiments_say_why() {
        for (name, salt, arms, why) in [
            ("x", "s", "a=10,b=80", "sum to 90%, not 100% (a=10, b=80)"),
            ("x", "s", "a=60,b=50.5", "sum to 110.5%"),
            ("x", "", "a=100", "salt must be 1 to 256 bytes"),
            ("x", "s", "", "has no arms"),
            ("x", "s", "a=50,a=50", "\"a\" is given twice"),
            ("x", "s", "a=ten,b=90", "weight \"ten\""),
            ("x", "s", "a=10.123,b=89.877", "at most two decimals"),
            ("x", "s", "a=-10,b=110", "weight \"-10\""),
            ("x", "s", "a", "write VARIANT=PERCENT"),
            ("x", "s", "a#b=100", "holds '#'"),
            ("x y", "s", "a=100", "experiment name"),
        ] {
            let e = Experiment::new(name, salt, arms).unwrap_err();
            assert!(e.contains(why), "{arms:?}: {e}");
        }
        assert_eq!(percent(1050), "10.5");
        assert_eq!(percent(10_000), "100");
    }
}
