//! An in-memory S3 server for the sync benchmark: the `s3s` crate speaks the
//! protocol (SigV4, routing, XML), and the objects live in a `BTreeMap` per
//! bucket, so a `ListObjectsV2` page is a range scan of 1,000 keys and a
//! `GetObject` a map lookup. What the benchmark needs a server to be: not the
//! bottleneck. moto_server is one Python process, and s3s-fs walks the whole
//! bucket folder for every listing page (24,628 files: seconds per page).
//!
//! ```sh
//! s3-mem PORT ACCESS_KEY SECRET_KEY [--log]   # listens on 127.0.0.1:PORT
//! ```
//!
//! `--log` writes `op: <Operation>` to stderr for every request (the
//! benchmark counts requests per tool with it).
//!
//! Serves CreateBucket, HeadBucket, GetBucketLocation, PutObject, HeadObject,
//! GetObject (ranges, `If-Match`) and ListObjectsV2 (prefix, delimiter,
//! start-after, continuation tokens, at most 1,000 keys a page as S3). No
//! multipart uploads, no persistence.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::RwLock;
use std::time::SystemTime;

use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use md5::{Digest, Md5};
use s3s::auth::SimpleAuth;
use s3s::dto::*;
use s3s::service::S3ServiceBuilder;
use s3s::{s3_error, S3Request, S3Response, S3Result, S3};

/// S3's largest page.
const MAX_KEYS: usize = 1000;

struct Stored {
    data: Bytes,
    /// Hex MD5 of `data`, as S3 gives single-part uploads.
    etag: String,
    modified: SystemTime,
}

#[derive(Default)]
struct Store {
    buckets: RwLock<BTreeMap<String, BTreeMap<String, Stored>>>,
    log: bool,
}

impl Store {
    /// The object's bytes (shared, not copied), ETag and time.
    fn object(&self, bucket: &str, key: &str) -> S3Result<(Bytes, String, SystemTime)> {
        let buckets = self.read();
        let obj = buckets
            .get(bucket)
            .ok_or_else(|| s3_error!(NoSuchBucket))?
            .get(key)
            .ok_or_else(|| s3_error!(NoSuchKey))?;
        Ok((obj.data.clone(), obj.etag.clone(), obj.modified))
    }

    fn log(&self, op: &str) {
        if self.log {
            eprintln!("op: {op}");
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<String, BTreeMap<String, Stored>>> {
        self.buckets.read().unwrap_or_else(|e| e.into_inner())
    }
}

/// One ListObjectsV2 page of `objects`: keys under `prefix` after `after`,
/// folded into common prefixes at `delimiter`, at most `max` entries.
struct Page {
    keys: Vec<Object>,
    prefixes: Vec<String>,
    next: Option<String>,
}

fn page(
    objects: &BTreeMap<String, Stored>,
    prefix: &str,
    delimiter: Option<&str>,
    after: Option<&str>,
    max: usize,
) -> Page {
    let mut out = Page {
        keys: Vec::new(),
        prefixes: Vec::new(),
        next: None,
    };
    let start = match after {
        Some(a) if a >= prefix => Bound::Excluded(a),
        _ => Bound::Included(prefix),
    };
    let mut last: Option<&str> = None;
    for (key, obj) in objects.range::<str, _>((start, Bound::Unbounded)) {
        if !key.starts_with(prefix) {
            break;
        }
        // A continuation token that is a common prefix skips its keys.
        if let (Some(a), Some(d)) = (after, delimiter) {
            if a.ends_with(d) && key.starts_with(a) {
                continue;
            }
        }
        let folded = delimiter.and_then(|d| {
            key[prefix.len()..]
                .find(d)
                .map(|i| &key[..prefix.len() + i + d.len()])
        });
        if let (Some(p), Some(prev)) = (folded, out.prefixes.last()) {
            if p == prev {
                continue;
            }
        }
        if out.keys.len() + out.prefixes.len() == max {
            out.next = last.map(str::to_string);
            break;
        }
        match folded {
            Some(p) => {
                out.prefixes.push(p.to_string());
                last = Some(p);
            }
            None => {
                out.keys.push(Object {
                    key: Some(key.clone()),
                    size: Some(obj.data.len() as i64),
                    e_tag: Some(ETag::Strong(obj.etag.clone())),
                    last_modified: Some(Timestamp::from(obj.modified)),
                    ..Default::default()
                });
                last = Some(key);
            }
        }
    }
    out
}

#[async_trait::async_trait]
impl S3 for Store {
    async fn create_bucket(
        &self,
        req: S3Request<CreateBucketInput>,
    ) -> S3Result<S3Response<CreateBucketOutput>> {
        self.log("CreateBucket");
        let mut buckets = self.buckets.write().unwrap_or_else(|e| e.into_inner());
        if buckets.contains_key(&req.input.bucket) {
            return Err(s3_error!(BucketAlreadyOwnedByYou));
        }
        buckets.insert(req.input.bucket, BTreeMap::new());
        Ok(S3Response::new(CreateBucketOutput::default()))
    }

    async fn head_bucket(
        &self,
        req: S3Request<HeadBucketInput>,
    ) -> S3Result<S3Response<HeadBucketOutput>> {
        self.log("HeadBucket");
        if !self.read().contains_key(&req.input.bucket) {
            return Err(s3_error!(NoSuchBucket));
        }
        Ok(S3Response::new(HeadBucketOutput::default()))
    }

    async fn get_bucket_location(
        &self,
        _req: S3Request<GetBucketLocationInput>,
    ) -> S3Result<S3Response<GetBucketLocationOutput>> {
        self.log("GetBucketLocation");
        Ok(S3Response::new(GetBucketLocationOutput::default()))
    }

    async fn put_object(
        &self,
        req: S3Request<PutObjectInput>,
    ) -> S3Result<S3Response<PutObjectOutput>> {
        self.log("PutObject");
        let input = req.input;
        let mut data = BytesMut::new();
        if let Some(mut body) = input.body {
            while let Some(chunk) = body.next().await {
                data.extend_from_slice(&chunk.map_err(|e| s3_error!(IncompleteBody, "{e}"))?);
            }
        }
        let data = data.freeze();
        let etag = hex::encode(Md5::digest(&data));
        let mut buckets = self.buckets.write().unwrap_or_else(|e| e.into_inner());
        let bucket = buckets
            .get_mut(&input.bucket)
            .ok_or_else(|| s3_error!(NoSuchBucket))?;
        bucket.insert(
            input.key,
            Stored {
                data,
                etag: etag.clone(),
                modified: SystemTime::now(),
            },
        );
        Ok(S3Response::new(PutObjectOutput {
            e_tag: Some(ETag::Strong(etag)),
            ..Default::default()
        }))
    }

    async fn head_object(
        &self,
        req: S3Request<HeadObjectInput>,
    ) -> S3Result<S3Response<HeadObjectOutput>> {
        self.log("HeadObject");
        let (data, etag, modified) = self.object(&req.input.bucket, &req.input.key)?;
        Ok(S3Response::new(HeadObjectOutput {
            content_length: Some(data.len() as i64),
            e_tag: Some(ETag::Strong(etag)),
            last_modified: Some(Timestamp::from(modified)),
            ..Default::default()
        }))
    }

    async fn get_object(
        &self,
        req: S3Request<GetObjectInput>,
    ) -> S3Result<S3Response<GetObjectOutput>> {
        self.log("GetObject");
        let input = req.input;
        let (data, etag, modified) = self.object(&input.bucket, &input.key)?;
        if let Some(ETagCondition::ETag(want)) = &input.if_match {
            if want.value() != etag {
                return Err(s3_error!(PreconditionFailed));
            }
        }
        let len = data.len() as u64;
        let (body, content_range) = match input.range {
            None => (data, None),
            Some(range) => {
                let r = range.check(len).map_err(|_| s3_error!(InvalidRange))?;
                let range_text = format!("bytes {}-{}/{len}", r.start, r.end - 1);
                (
                    data.slice(r.start as usize..r.end as usize),
                    Some(range_text),
                )
            }
        };
        Ok(S3Response::new(GetObjectOutput {
            content_length: Some(body.len() as i64),
            content_range,
            e_tag: Some(ETag::Strong(etag)),
            last_modified: Some(Timestamp::from(modified)),
            body: Some(StreamingBlob::from(s3s::Body::from(body))),
            ..Default::default()
        }))
    }

    async fn list_objects_v2(
        &self,
        req: S3Request<ListObjectsV2Input>,
    ) -> S3Result<S3Response<ListObjectsV2Output>> {
        self.log("ListObjectsV2");
        let input = req.input;
        let prefix = input.prefix.clone().unwrap_or_default();
        let max = input
            .max_keys
            .map_or(MAX_KEYS, |m| usize::try_from(m).unwrap_or(0).min(MAX_KEYS));
        let after = match (&input.continuation_token, &input.start_after) {
            (Some(t), Some(s)) => Some(t.max(s).clone()),
            (t, s) => t.clone().or_else(|| s.clone()),
        };
        let found = {
            let buckets = self.read();
            let objects = buckets
                .get(&input.bucket)
                .ok_or_else(|| s3_error!(NoSuchBucket))?;
            page(
                objects,
                &prefix,
                input.delimiter.as_deref(),
                after.as_deref(),
                max,
            )
        };
        let count = found.keys.len() + found.prefixes.len();
        Ok(S3Response::new(ListObjectsV2Output {
            name: Some(input.bucket),
            prefix: input.prefix,
            delimiter: input.delimiter,
            max_keys: Some(max as i32),
            key_count: Some(count as i32),
            is_truncated: Some(found.next.is_some()),
            continuation_token: input.continuation_token,
            next_continuation_token: found.next,
            start_after: input.start_after,
            contents: (!found.keys.is_empty()).then_some(found.keys),
            common_prefixes: (!found.prefixes.is_empty()).then(|| {
                found
                    .prefixes
                    .into_iter()
                    .map(|p| CommonPrefix { prefix: Some(p) })
                    .collect()
            }),
            ..Default::default()
        }))
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (log, args) = match args.split_last() {
        Some((last, rest)) if last == "--log" => (true, rest),
        _ => (false, args.as_slice()),
    };
    let [port, access, secret] = args else {
        return Err("usage: s3-mem PORT ACCESS_KEY SECRET_KEY [--log]".into());
    };
    let service = {
        let mut b = S3ServiceBuilder::new(Store {
            log,
            ..Store::default()
        });
        b.set_auth(SimpleAuth::from_single(access.as_str(), secret.as_str()));
        b.build()
    };
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port.parse::<u16>()?)).await?;
    let http = ConnBuilder::new(TokioExecutor::new());
    loop {
        let (socket, _) = listener.accept().await?;
        let conn = http
            .serve_connection(TokioIo::new(socket), service.clone())
            .into_owned();
        tokio::spawn(async move {
            let _ = conn.await;
        });
    }
}
