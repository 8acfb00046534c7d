//! Downloading one object safely: ranged GETs in parallel for large objects,
//! written under a hidden temporary name, size and checksum verified,
//! fsynced, then renamed into place. Transient failures are retried with
//! jittered exponential backoff.

use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_s3::Client;
use futures::{StreamExt, TryStreamExt};
use md5::{Digest, Md5};
use rand::Rng;

/// Prefix of temporary download files (hidden from lake readers).
pub const TEMP_PREFIX: &str = ".topsellers-dl-";

/// What to fetch.
#[derive(Debug, Clone)]
pub struct Fetch {
    /// Object key.
    pub key: String,
    /// Size from the listing.
    pub size: u64,
    /// ETag from the listing.
    pub etag: String,
    /// Final local path.
    pub dest: PathBuf,
}

/// Download tuning.
#[derive(Debug, Clone, Copy)]
pub struct Tuning {
    /// Objects larger than this are fetched as parallel ranged GETs of this size.
    pub part_size: u64,
    /// Parallel ranged GETs per object.
    pub parts_in_flight: usize,
    /// Attempts per object.
    pub attempts: u32,
}

/// An error with its causes, `a: b: c` (the SDK hides the useful part, such
/// as a checksum mismatch, in the source chain).
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

fn err(f: &Fetch, message: impl std::fmt::Display) -> String {
    format!("s3 object {}: {message}", f.key)
}

async fn get_range(
    client: &Client,
    bucket: &str,
    f: &Fetch,
    range: Option<(u64, u64)>,
) -> Result<bytes::Bytes, String> {
    let mut req = client
        .get_object()
        .bucket(bucket)
        .key(&f.key)
        .if_match(&f.etag);
    if let Some((start, end)) = range {
        req = req.range(format!("bytes={start}-{}", end - 1));
    }
    let resp = req
        .send()
        .await
        .map_err(|e| err(f, aws_sdk_s3::error::DisplayErrorContext(&e)))?;
    let body = resp
        .body
        .collect()
        .await
        .map_err(|e| err(f, format!("reading the body: {}", chain(&e))))?;
    Ok(body.into_bytes())
}

/// One attempt: fetch into `tmp`, verify, return the number of bytes.
async fn attempt(
    client: &Client,
    bucket: &str,
    f: &Fetch,
    tmp: &Path,
    t: Tuning,
) -> Result<u64, String> {
    let file = std::fs::File::create(tmp).map_err(|e| err(f, format!("{}: {e}", tmp.display())))?;
    file.set_len(f.size)
        .map_err(|e| err(f, format!("{}: {e}", tmp.display())))?;
    let file = Arc::new(file);
    let simple_md5 = f.etag.trim_matches('"');
    let simple_md5 = (simple_md5.len() == 32 && simple_md5.bytes().all(|b| b.is_ascii_hexdigit()))
        .then_some(simple_md5);
    let written: u64 = if f.size <= t.part_size {
        let bytes = get_range(client, bucket, f, None).await?;
        if bytes.len() as u64 != f.size {
            return Err(err(
                f,
                format!("got {} bytes, the listing says {}", bytes.len(), f.size),
            ));
        }
        if let Some(want) = simple_md5 {
            let got = hex::encode(Md5::digest(&bytes));
            if got != want {
                return Err(err(f, format!("checksum mismatch: MD5 {got}, ETag {want}")));
            }
        }
        let file = Arc::clone(&file);
        tokio::task::spawn_blocking(move || {
            file.write_all_at(&bytes, 0).map(|_| bytes.len() as u64)
        })
        .await
        .map_err(|e| err(f, e))?
        .map_err(|e| err(f, format!("{}: {e}", tmp.display())))?
    } else {
        let ranges: Vec<(u64, u64)> = (0..f.size.div_ceil(t.part_size))
            .map(|i| (i * t.part_size, ((i + 1) * t.part_size).min(f.size)))
            .collect();
        let sizes: Vec<u64> = futures::stream::iter(ranges)
            .map(|(start, end)| {
                let file = Arc::clone(&file);
                async move {
                    let bytes = get_range(client, bucket, f, Some((start, end))).await?;
                    if bytes.len() as u64 != end - start {
                        return Err(err(
                            f,
                            format!("range {start}-{end}: got {} bytes", bytes.len()),
                        ));
                    }
                    tokio::task::spawn_blocking(move || {
                        file.write_all_at(&bytes, start).map(|_| end - start)
                    })
                    .await
                    .map_err(|e| err(f, e))?
                    .map_err(|e| err(f, e))
                }
            })
            .buffer_unordered(t.parts_in_flight)
            .try_collect()
            .await?;
        let total = sizes.iter().sum();
        if let Some(want) = simple_md5 {
            let path = tmp.to_path_buf();
            let got = tokio::task::spawn_blocking(move || -> std::io::Result<String> {
                let mut h = Md5::new();
                let mut r = std::fs::File::open(path)?;
                std::io::copy(&mut r, &mut h)?;
                Ok(hex::encode(h.finalize()))
            })
            .await
            .map_err(|e| err(f, e))?
            .map_err(|e| err(f, e))?;
            if got != want {
                return Err(err(f, format!("checksum mismatch: MD5 {got}, ETag {want}")));
            }
        }
        total
    };
    let file = Arc::clone(&file);
    tokio::task::spawn_blocking(move || file.sync_all())
        .await
        .map_err(|e| err(f, e))?
        .map_err(|e| err(f, e))?;
    Ok(written)
}

/// Downloads `f` into place, retrying transient failures. On failure no file
/// is left at `f.dest` that was not there before, and no temporary file stays.
pub async fn download(client: &Client, bucket: &str, f: &Fetch, t: Tuning) -> Result<u64, String> {
    let dir = f
        .dest
        .parent()
        .ok_or_else(|| err(f, "destination has no folder"))?;
    tokio::fs::create_dir_all(dir)
        .await
        .map_err(|e| err(f, format!("{}: {e}", dir.display())))?;
    let name = f
        .dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut last = String::new();
    for attempt_no in 0..t.attempts.max(1) {
        if attempt_no > 0 {
            let base = 100u64 << attempt_no.min(6);
            let jitter = rand::rng().random_range(0..=base);
            tokio::time::sleep(Duration::from_millis(base + jitter)).await;
            tracing::debug!(key = %f.key, attempt = attempt_no + 1, error = %last, "retrying download");
        }
        let tmp = dir.join(format!(
            "{TEMP_PREFIX}{name}-{:08x}",
            rand::rng().random::<u32>()
        ));
        let result = attempt(client, bucket, f, &tmp, t).await;
        match result {
            Ok(n) => {
                tokio::fs::rename(&tmp, &f.dest)
                    .await
                    .map_err(|e| err(f, format!("rename into {}: {e}", f.dest.display())))?;
                return Ok(n);
            }
            Err(e) => {
                let _ = tokio::fs::remove_file(&tmp).await;
                last = e;
            }
        }
    }
    Err(last)
}
