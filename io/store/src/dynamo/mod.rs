//! DynamoDB, where published results live: one item per (variant,
//! category) and a manifest per variant (SPEC section 4), written with
//! conditions so that a stale or late run never replaces a newer result.
//!
//! [`DynamoStore`] is the table as a [`crate::ResultStore`], the one way in:
//!
//! - `publish`: a run into the table (batched, conditional, bounded
//!   concurrency, manifest last);
//! - `diff`: what publishing a run would change (dry runs);
//! - [`leavers`]: after the manifests, the categories a run no longer has
//!   deleted under the generation rule;
//! - `stored_groups`, `live_manifests`: what the table holds;
//! - `acquire_lease`, `release_lease`: the run lease, an item of the
//!   table ([`LEASE_KEY`]) that the manifest writes are fenced by;
//! - `client`, `read_client`: the SDK client from the standard AWS chain,
//!   for writes (patient) and for the read API (fast to fail).
//!
//! The item encoding ([`encode_group`], [`decode_group`], …) is public for
//! tests and tools that read the table directly.

mod batch;
mod catalog;
mod diff;
mod item;
mod lease;
pub mod leavers;
mod publish;
mod store;
mod table;

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;

// The DynamoDB calls themselves: reached from outside only through
// [`DynamoStore`], the [`crate::ResultStore`] seam.
pub(crate) use batch::get_item;
pub(crate) use catalog::catalog;
pub(crate) use diff::{diff, stored_groups};
pub(crate) use publish::{publish, PublishOptions};
pub(crate) use table::ensure_table;

// The store's vocabulary and its pure rules.
pub use batch::{Backoff, NOT_NEWER};
pub use item::{
    decode_group, decode_manifest, encode_group, encode_manifest, manifest_key, number,
    same_content, Item, PK,
};
pub use lease::{DynamoLease, LEASE_KEY};
pub use store::DynamoStore;

use crate::error::StoreError;
use crate::model::Manifest;

/// A failed SDK call as an [`StoreError::Dynamo`]: the service's error code
/// and message, or the chain of causes of a transport failure (without the
/// SDK's debug dump of the raw response).
pub(crate) fn failed<E, R>(
    table: &str,
    what: &str,
    e: aws_sdk_dynamodb::error::SdkError<E, R>,
) -> StoreError
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let message = match e.as_service_error() {
        Some(s) => format!(
            "{}: {}",
            s.code().unwrap_or("service error"),
            s.message().unwrap_or("(no message)")
        ),
        None => {
            let mut parts = vec![e.to_string()];
            let mut cause = std::error::Error::source(&e);
            while let Some(c) = cause {
                let text = c.to_string();
                if !parts.iter().any(|p| p.contains(&text)) {
                    parts.push(text);
                }
                cause = c.source();
            }
            parts.join(": ")
        }
    };
    StoreError::Dynamo {
        table: table.to_string(),
        message: format!("{what}: {message}"),
    }
}

/// A request that could not be built (a bug, reported rather than unwrapped).
pub(crate) fn invalid(table: &str, what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Dynamo {
        table: table.to_string(),
        message: format!("{what}: cannot build the request: {e}"),
    }
}

/// Checks a table name against DynamoDB's rule (3 to 255 of `a-z A-Z 0-9 _ - .`).
pub fn check_table_name(table: &str) -> Result<(), String> {
    let ok = (3..=255).contains(&table.len())
        && table
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "table name {table:?}: DynamoDB wants 3 to 255 letters, digits, '_', '-' or '.'"
        ))
    }
}

/// Builds a DynamoDB client from the standard AWS chain (environment,
/// profile, instance role; `AWS_ENDPOINT_URL_DYNAMODB` and
/// `AWS_ENDPOINT_URL` honoured). The region defaults to `us-east-1` when the
/// chain gives none.
///
/// Each call is retried by the SDK (standard mode: throttling and transient
/// errors, jittered exponential backoff) up to 5 attempts, and each attempt
/// times out after 30 s, so a dead endpoint fails a publish within a minute
/// rather than hanging it.
pub(crate) async fn client() -> aws_sdk_dynamodb::Client {
    build_client(
        RetryConfig::standard()
            .with_max_attempts(5)
            .with_initial_backoff(Duration::from_millis(100))
            .with_max_backoff(Duration::from_secs(5)),
        Duration::from_secs(5),
        Duration::from_secs(30),
    )
    .await
}

/// The longest a call of [`client`] can take: 5 attempts of 30 s and the
/// back-offs between them.
const JOB_DEADLINE: Duration = Duration::from_secs(5 * 30 + 4 * 5);

/// Attempts of a read-API call: the first and one retry.
const READ_ATTEMPTS: u32 = 2;
/// Longest back-off before a read-API retry.
const READ_MAX_BACKOFF: Duration = Duration::from_millis(100);

/// A client for the read API: a request waits on DynamoDB at most
/// `timeout` per attempt (connecting included) and is tried twice, so a
/// dead endpoint answers an error fast instead of holding requests.
pub(crate) async fn read_client(timeout: Duration) -> aws_sdk_dynamodb::Client {
    build_client(
        RetryConfig::standard()
            .with_max_attempts(READ_ATTEMPTS)
            .with_initial_backoff(Duration::from_millis(20))
            .with_max_backoff(READ_MAX_BACKOFF),
        timeout,
        timeout,
    )
    .await
}

/// The longest a call of [`read_client`]`(timeout)` can take: every
/// attempt at its timeout and the back-offs between them. A bound around
/// the call must be at least this, or the retry can never happen.
pub(crate) fn read_deadline(timeout: Duration) -> Duration {
    timeout * READ_ATTEMPTS + READ_MAX_BACKOFF * (READ_ATTEMPTS - 1)
}

async fn build_client(
    retry: RetryConfig,
    connect: Duration,
    attempt: Duration,
) -> aws_sdk_dynamodb::Client {
    let conf = topsellers_aws::loader()
        .retry_config(retry)
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(connect)
                .operation_attempt_timeout(attempt)
                .build(),
        )
        .load()
        .await;
    let builder =
        aws_sdk_dynamodb::config::Builder::from(&conf).region(topsellers_aws::region(&conf));
    aws_sdk_dynamodb::Client::from_conf(builder.build())
}

/// Reads the live manifests of `variants` (those that have one).
pub(crate) async fn live_manifests(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    variants: &[String],
) -> Result<Vec<Manifest>, StoreError> {
    match ensure_table(client, table, false).await {
        Ok(_) => {}
        Err(StoreError::MissingTable { .. }) => return Ok(Vec::new()),
        Err(e) => return Err(e),
    }
    let mut out = Vec::new();
    for v in variants {
        if let Some(item) = get_item(client, table, &manifest_key(v)).await? {
            out.push(
                decode_manifest(&item).map_err(|message| StoreError::Dynamo {
                    table: table.to_string(),
                    message: format!("manifest of {v:?}: {message}"),
                })?,
            );
        }
    }
    Ok(out)
}
