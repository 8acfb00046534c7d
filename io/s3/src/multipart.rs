//! Multipart uploads for `upload`'s large files: parts of a fixed size sent
//! with bounded concurrency, each with its `Content-MD5`; the upload is
//! completed conditionally (`If-None-Match: *`) and aborted on any failure,
//! so no partial object is ever visible.

use std::sync::atomic::Ordering;

use aws_sdk_s3::error::DisplayErrorContext;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use futures::{StreamExt, TryStreamExt};

use super::upload::{content_md5, read_range, Ctx, UploadFile, MIN_PART_SIZE};
use crate::error::cause_text;
use crate::error::S3Error;

/// S3's most parts per upload.
const MAX_PARTS: u64 = 10_000;

/// The part size for a file of `len` bytes: the configured one, raised so
/// that no more than 10,000 parts are needed.
fn part_size_for(len: u64, configured: u64) -> u64 {
    configured.max(MIN_PART_SIZE).max(len.div_ceil(MAX_PARTS))
}

/// Uploads part `number` (1-based) of a multipart upload.
async fn put_part(
    ctx: &Ctx<'_>,
    file: &UploadFile,
    upload_id: &str,
    number: i32,
    offset: u64,
    len: u64,
) -> Result<CompletedPart, S3Error> {
    if ctx.failed.load(Ordering::Relaxed) {
        return Err(S3Error::S3 {
            location: ctx.url(&file.key),
            message: "stopped: another upload failed".into(),
        });
    }
    let _permit = ctx.permit(&file.key).await?;
    let body = read_range(&file.path, offset, len).await?;
    let out = ctx
        .client
        .upload_part()
        .bucket(ctx.bucket)
        .key(&file.key)
        .upload_id(upload_id)
        .part_number(number)
        .content_md5(content_md5(&body))
        .body(ByteStream::from(body))
        .send()
        .await
        .map_err(|e| ctx.error(&file.key, &format!("UploadPart {number}"), e))?;
    Ok(CompletedPart::builder()
        .part_number(number)
        .set_e_tag(out.e_tag().map(str::to_string))
        .build())
}

/// Uploads the parts and completes the upload (conditionally).
async fn parts_then_complete(
    ctx: &Ctx<'_>,
    file: &UploadFile,
    upload_id: &str,
    len: u64,
) -> Result<(), S3Error> {
    let size = part_size_for(len, ctx.tuning.part_size);
    let ranges = (0..len.div_ceil(size)).map(|i| (i, i * size, size.min(len - i * size)));
    let mut parts: Vec<CompletedPart> = futures::stream::iter(ranges)
        .map(|(i, offset, n)| {
            let number = i32::try_from(i + 1).unwrap_or(i32::MAX);
            put_part(ctx, file, upload_id, number, offset, n)
        })
        .buffer_unordered(ctx.tuning.concurrency.max(1))
        .try_collect()
        .await?;
    parts.sort_by_key(|p| p.part_number());
    ctx.client
        .complete_multipart_upload()
        .bucket(ctx.bucket)
        .key(&file.key)
        .upload_id(upload_id)
        .if_none_match("*")
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(parts))
                .build(),
        )
        .send()
        .await
        .map_err(|e| ctx.error(&file.key, "CompleteMultipartUpload", e))?;
    Ok(())
}

/// Uploads one file as a multipart upload, aborted on any failure.
pub(super) async fn put_multipart(
    ctx: &Ctx<'_>,
    file: &UploadFile,
    len: u64,
) -> Result<(), S3Error> {
    let created = ctx
        .client
        .create_multipart_upload()
        .bucket(ctx.bucket)
        .key(&file.key)
        .send()
        .await
        .map_err(|e| ctx.error(&file.key, "CreateMultipartUpload", e))?;
    let Some(upload_id) = created.upload_id() else {
        return Err(S3Error::S3 {
            location: ctx.url(&file.key),
            message: "CreateMultipartUpload returned no upload id".into(),
        });
    };
    let outcome = parts_then_complete(ctx, file, upload_id, len).await;
    if let Err(e) = outcome {
        let aborted = ctx
            .client
            .abort_multipart_upload()
            .bucket(ctx.bucket)
            .key(&file.key)
            .upload_id(upload_id)
            .send()
            .await;
        return Err(match aborted {
            Ok(_) => e,
            Err(a) => S3Error::S3 {
                location: ctx.url(&file.key),
                message: format!(
                    "{}; aborting multipart upload {upload_id} failed too ({}): no object was created, but its parts stay stored until a lifecycle rule (AbortIncompleteMultipartUpload) removes them",
                    cause_text(&ctx.url(&file.key), &e),
                    DisplayErrorContext(&a)
                ),
            },
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn part_sizes_respect_the_limits() {
        assert_eq!(part_size_for(100 << 20, 1 << 20), MIN_PART_SIZE);
        assert_eq!(part_size_for(100 << 20, 8 << 20), 8 << 20);
        let huge = 200u64 << 30;
        let size = part_size_for(huge, 8 << 20);
        assert!(huge.div_ceil(size) <= MAX_PARTS);
    }
}
