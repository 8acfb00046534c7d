//! The S3 side of the lake: where it is (`s3://bucket/prefix`), the client
//! (standard AWS configuration chain, endpoint overrides honoured), and the
//! incremental, atomic, resumable `sync` to a local folder; and the upload of
//! new objects that never overwrite (`ingest --lake s3://…`).

mod download;
mod error;
mod manifest;
mod multipart;
mod sync;
pub(crate) mod upload;

pub use manifest::{Manifest, ManifestEntry};
pub use sync::{sync, SyncOptions, SyncReport};
pub use upload::{upload_all, UploadFile, UploadReport, UploadTuning, MIN_PART_SIZE};

pub use error::S3Error;

/// A lake location in S3.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Location {
    /// The bucket.
    pub bucket: String,
    /// The key prefix, without leading slash, ending in `/` unless empty.
    pub prefix: String,
}

impl S3Location {
    /// Parses `s3://bucket[/prefix]` (also `s3a://`).
    pub fn parse(url: &str) -> Result<Self, S3Error> {
        let bad = |why: &str| S3Error::BadLocation {
            location: url.to_string(),
            reason: why.to_string(),
        };
        let rest = url
            .strip_prefix("s3://")
            .or_else(|| url.strip_prefix("s3a://"))
            .ok_or_else(|| bad("expected s3://BUCKET/PREFIX"))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty()
            || !bucket
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || ".-_".contains(c))
        {
            return Err(bad("the bucket name is missing or invalid"));
        }
        let prefix = prefix.trim_matches('/');
        let prefix = if prefix.is_empty() {
            String::new()
        } else {
            format!("{prefix}/")
        };
        Ok(Self {
            bucket: bucket.to_string(),
            prefix,
        })
    }

    /// Whether `text` names an S3 location rather than a local path.
    pub fn is_s3(text: &str) -> bool {
        text.starts_with("s3://") || text.starts_with("s3a://")
    }
}

impl std::fmt::Display for S3Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.prefix)
    }
}

/// How to address buckets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AddressingStyle {
    /// Path style whenever an endpoint is overridden (local S3 servers), else
    /// virtual-hosted style (AWS).
    #[default]
    Auto,
    /// Always `https://endpoint/bucket/key`.
    Path,
    /// Always `https://bucket.endpoint/key`.
    Virtual,
}

/// Whether the environment overrides the S3 endpoint.
pub fn endpoint_overridden() -> bool {
    ["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"]
        .iter()
        .any(|v| std::env::var_os(v).is_some_and(|s| !s.is_empty()))
}

/// Builds an S3 client from the standard AWS chain (environment, profile,
/// instance role; `AWS_ENDPOINT_URL(_S3)` honoured). The region defaults to
/// `us-east-1` when the chain gives none.
pub async fn client(style: AddressingStyle) -> aws_sdk_s3::Client {
    let conf = topsellers_aws::loader().load().await;
    let builder = aws_sdk_s3::config::Builder::from(&conf).region(topsellers_aws::region(&conf));
    let path_style = match style {
        AddressingStyle::Auto => endpoint_overridden(),
        AddressingStyle::Path => true,
        AddressingStyle::Virtual => false,
    };
    aws_sdk_s3::Client::from_conf(builder.force_path_style(path_style).build())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_locations() {
        let l = S3Location::parse("s3://lake/purchases/").unwrap();
        assert_eq!(
            (l.bucket.as_str(), l.prefix.as_str()),
            ("lake", "purchases/")
        );
        assert_eq!(S3Location::parse("s3a://lake").unwrap().prefix, "");
        assert_eq!(
            S3Location::parse("s3://lake/a/b").unwrap().to_string(),
            "s3://lake/a/b/"
        );
        assert!(S3Location::parse("http://lake").is_err());
        assert!(S3Location::parse("s3:///x").is_err());
    }
}
