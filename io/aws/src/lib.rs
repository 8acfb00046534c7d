//! `topsellers-aws`: what the S3 and DynamoDB clients share. The standard
//! AWS configuration chain (environment, profile, instance role; endpoint
//! overrides such as `AWS_ENDPOINT_URL` honoured) over one HTTPS client:
//! hyper 1 and rustls with the `ring` crypto provider, which compiles in a
//! fraction of the time of the SDK's default (aws-lc) and serves the same
//! TLS 1.2/1.3 endpoints.

use aws_config::{BehaviorVersion, ConfigLoader, Region, SdkConfig};
use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};
use aws_smithy_runtime_api::client::http::SharedHttpClient;

/// The region when the chain names none.
pub const DEFAULT_REGION: &str = "us-east-1";

/// The HTTPS client (it speaks plain HTTP too, for local endpoints). An
/// SDK client built without it has none: the SDK's own default is not
/// compiled in.
pub fn https_client() -> SharedHttpClient {
    aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https()
}

/// The configuration loader of the standard chain, over [`https_client`];
/// callers add their retry and timeout settings, then `load()`.
pub fn loader() -> ConfigLoader {
    aws_config::defaults(BehaviorVersion::latest()).http_client(https_client())
}

/// The region `conf` names, or [`DEFAULT_REGION`].
pub fn region(conf: &SdkConfig) -> Region {
    conf.region()
        .cloned()
        .unwrap_or_else(|| Region::new(DEFAULT_REGION))
}
