//! Uploading local files as new S3 objects that never replace anything:
//! the write path of `ingest --lake s3://…`.
//!
//! # Design
//!
//! - **No overwrite.** Every PutObject and CompleteMultipartUpload carries
//!   `If-None-Match: *`, so S3 refuses (412) to create an object whose key
//!   exists; that refusal is reported as [`S3Error::ObjectExists`] and
//!   nothing is replaced. Callers choose keys unique to their run.
//! - **Integrity.** Every body (whole object or part) carries its
//!   `Content-MD5`, which S3 checks before storing it (the SDK adds its
//!   default CRC32 flexible checksum as well).
//! - **Large files.** Files of at least `multipart_threshold` bytes go up as a
//!   multipart upload of `part_size` parts; on any failure the upload is
//!   aborted, so no partial object is ever visible.
//! - **Bounded work.** At most `concurrency` requests carrying a body are in
//!   flight at once (files and parts together), so the bodies held stay
//!   below `concurrency × max(multipart_threshold, part_size)`.
//! - **All or nothing.** When one file fails, the files still queued are not
//!   started and the objects already created are deleted, and so are the
//!   keys of failed uploads other than refused ones (a lost response may
//!   hide a stored object; the key is the run's own). Deletion is best
//!   effort: what could not be deleted is named in the error. A `stop`
//!   future (a signal) ends the call the same way. Transient errors are
//!   retried by the SDK's standard retry policy (jittered exponential
//!   backoff, `AWS_MAX_ATTEMPTS` attempts).

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::Client;
use futures::StreamExt;
use md5::{Digest, Md5};
use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio::sync::Semaphore;

use super::multipart::put_multipart;
use crate::error::S3Error;

/// The smallest part S3 accepts (but for the last one).
pub const MIN_PART_SIZE: u64 = 5 << 20;

/// How to upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UploadTuning {
    /// Files of at least this many bytes go up as multipart uploads (those
    /// over [`MIN_PART_SIZE`] only: a smaller one would be a single part).
    pub multipart_threshold: u64,
    /// Bytes per part (at least [`MIN_PART_SIZE`]; raised for files that
    /// would need more than 10,000 parts).
    pub part_size: u64,
    /// Requests with a body in flight at once.
    pub concurrency: usize,
}

impl Default for UploadTuning {
    fn default() -> Self {
        Self {
            multipart_threshold: 16 << 20,
            part_size: 8 << 20,
            concurrency: 8,
        }
    }
}

/// A local file and the key it becomes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadFile {
    /// The local file.
    pub path: PathBuf,
    /// The object key (full, prefix included).
    pub key: String,
}

/// What an upload did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct UploadReport {
    /// The keys created, in the order given.
    pub objects: Vec<String>,
    /// Their total size.
    pub bytes: u64,
    /// How many went up as multipart uploads.
    pub multipart: u64,
    /// Wall time.
    pub seconds: f64,
}

/// One object created.
struct Created {
    bytes: u64,
    multipart: bool,
}

/// Why one file did not go up.
enum Failure {
    /// Another file failed first, so this one was not started.
    Skipped,
    /// This file failed.
    Failed(S3Error),
}

/// Shared by the uploads of one call.
pub(super) struct Ctx<'a> {
    pub(super) client: &'a Client,
    pub(super) bucket: &'a str,
    pub(super) tuning: UploadTuning,
    permits: Semaphore,
    /// Set when a file fails: nothing more is started.
    pub(super) failed: AtomicBool,
}

impl Ctx<'_> {
    pub(super) fn url(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.bucket)
    }

    /// A turn to send a body (see `UploadTuning::concurrency`).
    pub(super) async fn permit(
        &self,
        key: &str,
    ) -> Result<tokio::sync::SemaphorePermit<'_>, S3Error> {
        self.permits.acquire().await.map_err(|e| S3Error::S3 {
            location: self.url(key),
            message: e.to_string(),
        })
    }

    /// An [`S3Error`] for a failed request on `key`: [`S3Error::ObjectExists`]
    /// for a refused conditional write, else [`S3Error::S3`].
    pub(super) fn error<E>(&self, key: &str, what: &str, e: SdkError<E, HttpResponse>) -> S3Error
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        let refused = matches!(&e, SdkError::ServiceError(s) if s.err().code() == Some("PreconditionFailed"))
            || e.raw_response().is_some_and(|r| r.status().as_u16() == 412);
        if refused {
            return S3Error::ObjectExists {
                object: self.url(key),
            };
        }
        S3Error::S3 {
            location: self.url(key),
            message: format!("{what}: {}", DisplayErrorContext(&e)),
        }
    }
}

/// `Content-MD5` of a body.
pub(super) fn content_md5(body: &[u8]) -> String {
    aws_smithy_types::base64::encode(Md5::digest(body))
}

/// Reads `len` bytes of `path` from `offset`.
pub(super) async fn read_range(path: &PathBuf, offset: u64, len: u64) -> Result<Vec<u8>, S3Error> {
    let io = |e| S3Error::io(path, e);
    let mut f = tokio::fs::File::open(path).await.map_err(io)?;
    f.seek(std::io::SeekFrom::Start(offset)).await.map_err(io)?;
    let mut buf = vec![0; usize::try_from(len).unwrap_or(usize::MAX)];
    f.read_exact(&mut buf).await.map_err(io)?;
    Ok(buf)
}

/// Uploads one file with a single conditional PutObject.
async fn put_whole(ctx: &Ctx<'_>, file: &UploadFile, len: u64) -> Result<(), S3Error> {
    let _permit = ctx.permit(&file.key).await?;
    let body = read_range(&file.path, 0, len).await?;
    ctx.client
        .put_object()
        .bucket(ctx.bucket)
        .key(&file.key)
        .if_none_match("*")
        .content_md5(content_md5(&body))
        .body(ByteStream::from(body))
        .send()
        .await
        .map_err(|e| ctx.error(&file.key, "PutObject", e))?;
    Ok(())
}

/// Uploads one file, unless another has failed already.
async fn upload_one(ctx: &Ctx<'_>, file: &UploadFile) -> Result<Created, Failure> {
    if ctx.failed.load(Ordering::Relaxed) {
        return Err(Failure::Skipped);
    }
    let outcome = async {
        let len = tokio::fs::metadata(&file.path)
            .await
            .map_err(|e| S3Error::io(&file.path, e))?
            .len();
        let multipart = len >= ctx.tuning.multipart_threshold && len > MIN_PART_SIZE;
        if multipart {
            put_multipart(ctx, file, len).await?;
        } else {
            put_whole(ctx, file, len).await?;
        }
        Ok(Created {
            bytes: len,
            multipart,
        })
    }
    .await;
    outcome.map_err(|e| {
        ctx.failed.store(true, Ordering::Relaxed);
        Failure::Failed(e)
    })
}

/// Deletes `keys` (best effort); returns the ones that could not be deleted,
/// each with the reason.
async fn delete_all(ctx: &Ctx<'_>, keys: &[&str]) -> Vec<String> {
    futures::stream::iter(keys)
        .map(|key| async move {
            let deleted = ctx
                .client
                .delete_object()
                .bucket(ctx.bucket)
                .key(*key)
                .send()
                .await;
            deleted
                .err()
                .map(|e| format!("{} ({})", ctx.url(key), DisplayErrorContext(&e)))
        })
        .buffer_unordered(ctx.tuning.concurrency.max(1))
        .filter_map(|left| async move { left })
        .collect()
        .await
}

/// What the cleanup after a failure did, for the error message.
fn cleanup_note(deleted: usize, left: &[String]) -> String {
    if deleted == 0 && left.is_empty() {
        "nothing was added: no other object had been created".into()
    } else if left.is_empty() {
        format!("nothing was added: the {deleted} object(s) this run had created were deleted")
    } else {
        format!(
            "{} object(s) of this run could not be deleted; remove them by hand if they exist: {}",
            left.len(),
            left.join(", ")
        )
    }
}

/// Uploads `files` to `bucket` as new objects (see the module docs);
/// `progress` receives bytes as files complete. Either every file becomes an
/// object, or the call fails with [`S3Error::Upload`] naming the object at
/// fault, having deleted the objects it created; so too when `stop`
/// completes first (a signal), with [`S3Error::Interrupted`] as the cause.
pub async fn upload_all(
    client: &Client,
    bucket: &str,
    files: &[UploadFile],
    tuning: UploadTuning,
    progress: &(dyn Fn(u64) + Sync),
    stop: impl std::future::Future<Output = ()>,
) -> Result<UploadReport, S3Error> {
    let started = Instant::now();
    let ctx = Ctx {
        client,
        bucket,
        tuning,
        permits: Semaphore::new(tuning.concurrency.max(1)),
        failed: AtomicBool::new(false),
    };
    let work = futures::stream::iter(files)
        .map(|f| {
            let ctx = &ctx;
            async move {
                let done = upload_one(ctx, f).await;
                if let Ok(c) = &done {
                    progress(c.bytes);
                }
                done
            }
        })
        .buffered(tuning.concurrency.max(1))
        .collect::<Vec<Result<Created, Failure>>>();
    tokio::pin!(work);
    let mut stopped = false;
    let outcomes = tokio::select! {
        outcomes = &mut work => outcomes,
        () = stop => {
            // Let what is in flight end (parts stop, multiparts abort), start
            // nothing more, then clean up as for a failure.
            stopped = true;
            ctx.failed.store(true, Ordering::Relaxed);
            work.await
        }
    };
    let mut done: Vec<(&UploadFile, Created)> = Vec::new();
    let mut failure: Option<(&UploadFile, S3Error)> = None;
    // Keys whose upload failed in a way that may still have stored the
    // object (a lost response): ours alone, as the run id is in the name.
    let mut maybe: Vec<&str> = Vec::new();
    for (file, outcome) in files.iter().zip(outcomes) {
        match outcome {
            Ok(c) => done.push((file, c)),
            Err(Failure::Failed(e)) => {
                if !matches!(e, S3Error::ObjectExists { .. }) {
                    maybe.push(&file.key);
                }
                failure.get_or_insert((file, e));
            }
            Err(Failure::Skipped) if stopped && failure.is_none() => {
                failure = Some((file, S3Error::Interrupted));
            }
            Err(Failure::Skipped) => {}
        }
    }
    let Some((file, cause)) = failure else {
        return Ok(UploadReport {
            objects: done.iter().map(|(f, _)| f.key.clone()).collect(),
            bytes: done.iter().map(|(_, c)| c.bytes).sum(),
            multipart: done.iter().filter(|(_, c)| c.multipart).count() as u64,
            seconds: started.elapsed().as_secs_f64(),
        });
    };
    let created: Vec<&str> = done.iter().map(|(f, _)| f.key.as_str()).collect();
    let mut left = delete_all(&ctx, &created).await;
    let deleted = created.len() - left.len();
    left.extend(delete_all(&ctx, &maybe).await);
    Err(S3Error::Upload {
        object: ctx.url(&file.key),
        cause: Box::new(cause),
        cleanup: cleanup_note(deleted, &left),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn md5_is_base64() {
        // RFC 1321 test vector "abc" = 900150983cd24fb0d6963f7d28e17f72.
        assert_eq!(content_md5(b"abc"), "kAFQmDzST7DWlj99KOF/cg==");
    }

    #[test]
    fn cleanup_notes_name_what_is_left() {
        assert!(cleanup_note(2, &[]).contains("2 object(s)"));
        assert!(cleanup_note(0, &[]).contains("no other object"));
        let left = ["s3://b/k (timeout)".to_string()];
        assert!(cleanup_note(0, &left).contains("s3://b/k"));
    }
}
