//! The run lease in DynamoDB: one item of the results table, `pk =
//! "#lease#run"`, with `owner` (the host id), `token` (the fencing token)
//! and `expires_at` (milliseconds since the epoch, by the holder's clock).
//!
//! - Taking it is one conditional UpdateItem: the item is absent, expired
//!   for [`CLOCK_SKEW`] already, or ours; `token` grows by one.
//! - The commit point is the manifest write, a TransactWriteItems of the
//!   manifest's conditional put and a ConditionCheck of the lease item
//!   (`owner` and `token` unchanged): a superseded holder's manifest never
//!   lands.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, Put as PutRequest, ReturnValue, TransactWriteItem,
};
use aws_sdk_dynamodb::Client;

use super::batch::{get_item, Backoff, Put, NOT_NEWER};
use super::item::{Item, PK};
use super::{failed, invalid};
use crate::error::StoreError;
use crate::lease::{fenced, now_ms, Attempt, Lease, LeaseBackend, LeaseView, CLOCK_SKEW};

/// The partition key of the run lease.
pub const LEASE_KEY: &str = "#lease#run";

/// Whose lease it is (`#o`), its token (`#t`) and expiry (`#e`): `owner`
/// and `token` are DynamoDB reserved words.
fn names() -> HashMap<String, String> {
    let mut names = owner_and_token();
    names.insert("#e".to_string(), "expires_at".to_string());
    names
}

/// `#o` and `#t` alone (DynamoDB refuses a name an expression leaves unused).
fn owner_and_token() -> HashMap<String, String> {
    HashMap::from([
        ("#o".to_string(), "owner".to_string()),
        ("#t".to_string(), "token".to_string()),
    ])
}

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_string())
}

fn n(v: i64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn key() -> HashMap<String, AttributeValue> {
    HashMap::from([(PK.to_string(), s(LEASE_KEY))])
}

fn ttl_ms(ttl: Duration) -> i64 {
    i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX / 2)
}

/// The lease of an item read back.
fn decode(table: &str, item: &Item) -> Result<Lease, StoreError> {
    let bad = || StoreError::Dynamo {
        table: table.to_string(),
        message: format!("the lease item {LEASE_KEY:?} is not one run wrote: {item:?}"),
    };
    let num = |name: &str| match item.get(name) {
        Some(AttributeValue::N(v)) => v.parse::<i64>().map_err(|_| bad()),
        _ => Err(bad()),
    };
    let owner = match item.get("owner") {
        Some(AttributeValue::S(o)) => o.clone(),
        _ => return Err(bad()),
    };
    Ok(Lease {
        owner,
        token: num("token")?,
        expires_at_ms: num("expires_at")?,
    })
}

fn condition_failed<E: aws_sdk_dynamodb::error::ProvideErrorMetadata>(e: &E) -> bool {
    e.code() == Some("ConditionalCheckFailedException")
}

/// The lease of one DynamoDB table.
#[derive(Debug, Clone)]
pub struct DynamoLease {
    /// The client (the jobs').
    pub client: Client,
    /// The table.
    pub table: String,
}

impl DynamoLease {
    /// The lease now, read strongly consistent.
    async fn read(&self) -> Result<Option<Lease>, StoreError> {
        get_item(&self.client, &self.table, LEASE_KEY)
            .await?
            .map(|i| decode(&self.table, &i))
            .transpose()
    }

    /// Sets `expires_at` of `lease` to `expires_at_ms` when it is still
    /// `lease` (same owner and token); `None` when it is not.
    async fn set_expiry(
        &self,
        lease: &Lease,
        expires_at_ms: i64,
    ) -> Result<Option<Lease>, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key()))
            .update_expression("SET #e = :e")
            .condition_expression("#o = :me AND #t = :t")
            .set_expression_attribute_names(Some(names()))
            .expression_attribute_values(":e", n(expires_at_ms))
            .expression_attribute_values(":me", s(&lease.owner))
            .expression_attribute_values(":t", n(lease.token))
            .send()
            .await;
        match result {
            Ok(_) => Ok(Some(Lease {
                expires_at_ms,
                ..lease.clone()
            })),
            Err(e) if e.as_service_error().is_some_and(condition_failed) => Ok(None),
            Err(e) => Err(failed(&self.table, "UpdateItem (lease)", e)),
        }
    }
}

#[async_trait]
impl LeaseBackend for DynamoLease {
    fn store(&self) -> String {
        format!("DynamoDB table {}", self.table)
    }

    async fn try_acquire(&self, owner: &str, ttl: Duration) -> Result<Attempt, StoreError> {
        let now = now_ms();
        let skew = ttl_ms(CLOCK_SKEW);
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key()))
            .update_expression("SET #o = :me, #e = :e, #t = if_not_exists(#t, :zero) + :one")
            .condition_expression("attribute_not_exists(pk) OR #e < :stale OR #o = :me")
            .set_expression_attribute_names(Some(names()))
            .expression_attribute_values(":me", s(owner))
            .expression_attribute_values(":e", n(now + ttl_ms(ttl)))
            .expression_attribute_values(":stale", n(now - skew))
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":one", n(1))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match result {
            Ok(out) => {
                let item = out.attributes.unwrap_or_default();
                Ok(Attempt::Taken(decode(&self.table, &item)?))
            }
            Err(e) if e.as_service_error().is_some_and(condition_failed) => {
                match self.read().await? {
                    Some(other) => Ok(Attempt::Held(other)),
                    // Released and gone meanwhile: try again.
                    None => self.try_acquire(owner, ttl).await,
                }
            }
            Err(e) => Err(failed(&self.table, "UpdateItem (lease)", e)),
        }
    }

    async fn renew(&self, lease: &Lease, ttl: Duration) -> Result<Option<Lease>, StoreError> {
        self.set_expiry(lease, now_ms() + ttl_ms(ttl)).await
    }

    async fn release(&self, lease: &Lease) -> Result<(), StoreError> {
        self.set_expiry(lease, 0).await.map(|_| ())
    }

    async fn current(&self) -> Result<Option<LeaseView>, StoreError> {
        Ok(self.read().await?.map(|lease| LeaseView {
            live: lease.expires_at_ms > now_ms(),
            lease,
        }))
    }
}

/// A publish under a lease: the lease it holds, and where to check it.
#[derive(Debug, Clone)]
pub struct Fence {
    /// The table's lease.
    pub backend: DynamoLease,
    /// The lease held.
    pub lease: Lease,
}

impl Fence {
    /// Checks before writing: the lease is still the current, live one.
    pub async fn check(&self) -> Result<(), StoreError> {
        LeaseView::confirm(
            self.backend.current().await?,
            &self.lease,
            &self.backend.store(),
        )
    }
}

/// Attempts of a manifest commit that another transaction on the lease
/// item (a renewal) conflicted with.
const ATTEMPTS: u32 = 5;

/// Puts a manifest `item` under the generation rule (`NOT_NEWER`) only
/// while `lease` is the current lease: the commit point. A superseded
/// lease is [`StoreError::Fenced`], naming the lease's holder now.
pub async fn put_manifest(fence: &Fence, item: Item, generation: i64) -> Result<Put, StoreError> {
    let (backend, lease) = (&fence.backend, &fence.lease);
    let table = backend.table.as_str();
    let put = PutRequest::builder()
        .table_name(table)
        .set_item(Some(item))
        .condition_expression(NOT_NEWER)
        .expression_attribute_values(":g", n(generation))
        .build()
        .map_err(|e| invalid(table, "TransactWriteItems", e))?;
    let check = ConditionCheck::builder()
        .table_name(table)
        .set_key(Some(key()))
        .condition_expression("#o = :me AND #t = :t")
        .set_expression_attribute_names(Some(owner_and_token()))
        .expression_attribute_values(":me", s(&lease.owner))
        .expression_attribute_values(":t", n(lease.token))
        .build()
        .map_err(|e| invalid(table, "TransactWriteItems", e))?;
    let mut backoff = Backoff::new(Duration::from_millis(20), Duration::from_millis(500));
    let mut attempt = 0;
    loop {
        attempt += 1;
        let result = backend
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().put(put.clone()).build())
            .transact_items(
                TransactWriteItem::builder()
                    .condition_check(check.clone())
                    .build(),
            )
            .send()
            .await;
        let e = match result {
            Ok(_) => return Ok(Put::Written),
            Err(e) => e,
        };
        let reasons: Vec<Option<String>> = match e.as_service_error() {
            Some(TransactWriteItemsError::TransactionCanceledException(c)) => c
                .cancellation_reasons()
                .iter()
                .map(|r| r.code().map(str::to_string))
                .collect(),
            _ => return Err(failed(table, "TransactWriteItems (manifest)", e)),
        };
        let code = |i: usize| reasons.get(i).cloned().flatten();
        if code(1).as_deref() == Some("ConditionalCheckFailed") {
            return Err(match backend.read().await? {
                Some(current) => fenced(&backend.store(), lease, current),
                None => StoreError::Fenced {
                    store: backend.store(),
                    mine: lease.token,
                    owner: String::new(),
                    token: 0,
                    why: "the lease item is gone".into(),
                },
            });
        }
        if code(0).as_deref() == Some("ConditionalCheckFailed") {
            return Ok(Put::Newer);
        }
        if attempt >= ATTEMPTS {
            return Err(failed(table, "TransactWriteItems (manifest)", e));
        }
        // A conflict with a renewal of the lease item, or a transient
        // cancellation: try again.
        backoff.wait().await;
    }
}
