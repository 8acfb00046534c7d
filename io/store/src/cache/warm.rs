//! The warm-up after a publish: every key of the run written in
//! pipelines, never over a newer run's body ([`guarded`]); when that fails
//! part way, the keys not known to be written are deleted, so that the
//! site reads them through from DynamoDB instead of serving the previous
//! run for up to the TTL.

use std::time::Instant;

use super::{connect, guarded, jittered_ttl, redacted, WarmOptions, WarmReport};
use crate::error::StoreError;

/// Keys per pipeline.
const PIPELINE: usize = 1000;

/// Writes `entries` (key, body), the bodies of run `generation`, each
/// with a jittered TTL, into `report` as it goes. On failure, the keys not
/// known to be written are deleted (best effort) and the error returned;
/// `report` then says what was written, deleted and left
/// ([`WarmReport::maybe_stale`]).
pub async fn warm(
    opts: &WarmOptions,
    generation: i64,
    entries: &[(String, String)],
    report: &mut WarmReport,
) -> Result<(), StoreError> {
    let started = Instant::now();
    *report = WarmReport {
        server: redacted(&opts.url),
        ttl_s: opts.ttl.as_secs().max(1),
        ..WarmReport::default()
    };
    let written = write(opts, generation, entries, report).await;
    if let Err((from, _)) = &written {
        let left = entries.get(*from..).unwrap_or_default();
        report.deleted = delete(opts, left).await;
        report.maybe_stale = left.len() as u64 - report.deleted;
    }
    report.seconds = started.elapsed().as_secs_f64();
    written.map_err(|(_, e)| e)
}

/// The pipelined guarded writes; on failure, the index of the first entry
/// not known to be written, with the error.
async fn write(
    opts: &WarmOptions,
    generation: i64,
    entries: &[(String, String)],
    report: &mut WarmReport,
) -> Result<(), (usize, StoreError)> {
    let fail = |done: usize, message: String| {
        let e = StoreError::Redis {
            url: redacted(&opts.url),
            message,
        };
        (done, e)
    };
    let mut con = connect(&opts.url).await.map_err(|e| (0, e))?;
    guarded::script()
        .load_async(&mut con)
        .await
        .map_err(|e| fail(0, format!("SCRIPT LOAD: {e}")))?;
    let mut rng = rand::rng();
    let mut done = 0;
    for chunk in entries.chunks(PIPELINE) {
        let mut pipe = redis::pipe();
        for (key, body) in chunk {
            let ttl = jittered_ttl(report.ttl_s, opts.jitter, &mut rng);
            pipe.add_command(guarded::evalsha(key, body.as_bytes(), generation, ttl));
        }
        // A failed pipeline may have written some of its keys: all of them
        // count as not written.
        let written: Vec<i64> = pipe
            .query_async(&mut con)
            .await
            .map_err(|e| fail(done, format!("pipelined write after {done} keys: {e}")))?;
        let kept = written.iter().filter(|&&w| w == 0).count() as u64;
        report.keys += chunk.len() as u64 - kept;
        report.newer_kept += kept;
        report.pipelines += 1;
        done += chunk.len();
    }
    Ok(())
}

/// Deletes `entries`' keys (a key deleted that a newer run had written
/// costs one read-through); returns how many are known deleted.
async fn delete(opts: &WarmOptions, entries: &[(String, String)]) -> u64 {
    if entries.is_empty() {
        return 0;
    }
    let Ok(mut con) = connect(&opts.url).await else {
        return 0;
    };
    let mut deleted = 0;
    for chunk in entries.chunks(PIPELINE) {
        let mut del = redis::cmd("DEL");
        for (key, _) in chunk {
            del.arg(key);
        }
        if del.query_async::<u64>(&mut con).await.is_err() {
            break;
        }
        deleted += chunk.len() as u64;
    }
    deleted
}
