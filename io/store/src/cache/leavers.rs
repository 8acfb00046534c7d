//! The leavers in Redis: once the store deleted a leaver's item, its key is
//! overwritten with a *tombstone* of the run's generation, written by the
//! same guarded script as every body ([`guarded`]).
//!
//! # Why not a DEL
//!
//! A `serve` that read the leaver's item from the store just before the
//! delete writes it back to Redis after its read (the read-through fill).
//! Had the key been deleted, that fill would put the old body back for a
//! whole TTL. The tombstone's generation is newer than any stored body of
//! the leaver, so the guarded fill leaves it alone; a newer run that has
//! the category again replaces it like any older body. The read path
//! answers a tombstone as a missing key (404). Tombstones expire with the
//! publish's TTL, like the bodies.

use std::time::Instant;

use super::{connect, guarded, jittered_ttl, redacted, WarmOptions, WarmReport};
use crate::error::StoreError;

/// Keys per pipeline.
const PIPELINE: usize = 1000;

/// How every tombstone starts: no read API body starts so (they start with
/// `{"category":`).
const PREFIX: &str = "{\"left\":true,";

/// The tombstone of a category that left the results of run `generation`:
/// `{"left":true,"generation":N}` (the guarded script reads the generation).
pub fn tombstone(generation: i64) -> String {
    format!("{PREFIX}\"generation\":{generation}}}")
}

/// Whether a Redis value is a tombstone (the category left the results).
pub fn is_tombstone(value: &[u8]) -> bool {
    value.starts_with(PREFIX.as_bytes())
}

/// Writes a tombstone of `generation` over each of `keys` (never over the
/// body of a newer run), counting them in `report.leavers_marked` (and
/// `report.leavers_newer_kept`). On failure, the keys not known to be
/// marked are counted in `report.leavers_unmarked`: they may serve the
/// leaver's old body until their TTL.
pub async fn mark_leavers(
    opts: &WarmOptions,
    generation: i64,
    keys: &[String],
    report: &mut WarmReport,
) -> Result<(), StoreError> {
    if keys.is_empty() {
        return Ok(());
    }
    let started = Instant::now();
    let fail = |message: String| StoreError::Redis {
        url: redacted(&opts.url),
        message,
    };
    let body = tombstone(generation);
    let ttl_s = opts.ttl.as_secs().max(1);
    let mut done = 0;
    let result = async {
        let mut con = connect(&opts.url).await?;
        guarded::script()
            .load_async(&mut con)
            .await
            .map_err(|e| fail(format!("SCRIPT LOAD: {e}")))?;
        let mut rng = rand::rng();
        for chunk in keys.chunks(PIPELINE) {
            let mut pipe = redis::pipe();
            for key in chunk {
                let ttl = jittered_ttl(ttl_s, opts.jitter, &mut rng);
                pipe.add_command(guarded::evalsha(key, body.as_bytes(), generation, ttl));
            }
            let written: Vec<i64> = pipe
                .query_async(&mut con)
                .await
                .map_err(|e| fail(format!("marking leavers after {done} keys: {e}")))?;
            let kept = written.iter().filter(|&&w| w == 0).count() as u64;
            report.leavers_marked += chunk.len() as u64 - kept;
            report.leavers_newer_kept += kept;
            done += chunk.len();
        }
        Ok(())
    }
    .await;
    if result.is_err() {
        report.leavers_unmarked = (keys.len() - done) as u64;
    }
    report.seconds += started.elapsed().as_secs_f64();
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::api_body;

    #[test]
    fn tombstones_are_told_from_bodies_and_carry_their_generation() {
        let t = tombstone(1_792_022_400_000);
        assert_eq!(t, r#"{"left":true,"generation":1792022400000}"#);
        assert!(is_tombstone(t.as_bytes()));
        let v: serde_json::Value = serde_json::from_str(&t).unwrap();
        assert_eq!(v["generation"], 1_792_022_400_000_i64);
        let body = api_body("default", "{\"left\":true,", "t", 1, &[], None);
        assert!(!is_tombstone(body.as_bytes()));
    }
}
