//! `topsellers-aws`: what the S3 and DynamoDB clients share. The standard
//! AWS configuration chain (environment, profile, instance role; endpoint
//! overrides such as `AWS_ENDPOINT_URL` honoured) over one HTTPS client:
//! hyper 1 and rustls with the `ring` crypto provider, which compiles in a
//! fraction of the time of the SDK's default (aws-lc) and serves the same
//! TLS 1.2/1.3 endpoints.

use aws_config::{BehaviorVersion, ConfigLoader, Region, SdkConfig};
use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};

/// The region when the chain names none.
pub const DEFAULT_REGION: &str = "us-east-1";

/// The configuration loader of the standard chain, over the shared HTTPS
/// client; callers add their retry and timeout settings, then `load()`.
pub fn loader() -> ConfigLoader {
    let https = aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https();
    aws_config::defaults(BehaviorVersion::latest()).http_client(https)
}

/// The region `conf` names, or [`DEFAULT_REGION`].
pub fn region(conf: &SdkConfig) -> Region {
    conf.region()
        .cloned()
        .unwrap_or_else(|| Region::new(DEFAULT_REGION))
}
