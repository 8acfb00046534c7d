//! [`DynamoStore`]: the [`ResultStore`] of one DynamoDB table.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use topsellers_lake::ResultSet;

use super::lease::{DynamoLease, Fence};
use super::{
    catalog, client, decode_group, diff, failed, get_item, live_manifests, publish, read_client,
    read_deadline, stored_groups, PublishOptions,
};
use crate::error::StoreError;
use crate::lease::{Lease, LeaseKeeper};
use crate::model::{group_key, Catalog, Manifest, PublishReport, Stored, StoredGroup, VariantDiff};
use crate::store::ResultStore;

/// One DynamoDB table as a results store (SPEC section 4).
#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: aws_sdk_dynamodb::Client,
    table: String,
    create_table: bool,
    concurrency: usize,
    read_deadline: Duration,
    lease: Arc<LeaseKeeper<DynamoLease>>,
}

fn keeper(client: &aws_sdk_dynamodb::Client, table: &str) -> Arc<LeaseKeeper<DynamoLease>> {
    Arc::new(LeaseKeeper::new(DynamoLease {
        client: client.clone(),
        table: table.to_string(),
    }))
}

impl DynamoStore {
    /// The store the jobs publish to: a patient client (5 attempts of 30 s
    /// at most), `concurrency` requests in flight, and the table created on
    /// first publish when `create_table`.
    pub async fn for_jobs(table: &str, create_table: bool, concurrency: usize) -> Self {
        let client = client().await;
        Self {
            lease: keeper(&client, table),
            client,
            table: table.to_string(),
            create_table,
            concurrency: concurrency.max(1),
            read_deadline: super::JOB_DEADLINE,
        }
    }

    /// The store the read API reads: each attempt waits at most `timeout`
    /// (two attempts), so a dead endpoint answers an error fast.
    pub async fn for_reads(table: &str, timeout: Duration) -> Self {
        let client = read_client(timeout).await;
        Self {
            lease: keeper(&client, table),
            client,
            table: table.to_string(),
            create_table: false,
            concurrency: 1,
            read_deadline: read_deadline(timeout),
        }
    }

    /// The table.
    pub fn table(&self) -> &str {
        &self.table
    }
}

#[async_trait]
impl ResultStore for DynamoStore {
    fn name(&self) -> String {
        format!("DynamoDB table {}", self.table)
    }

    fn kind(&self) -> &'static str {
        "dynamodb"
    }

    async fn live_manifests(&self, variants: &[String]) -> Result<Vec<Manifest>, StoreError> {
        live_manifests(&self.client, &self.table, variants).await
    }

    async fn stored_groups(&self, set: &ResultSet) -> Result<HashMap<String, Stored>, StoreError> {
        stored_groups(&self.client, &self.table, set, self.concurrency).await
    }

    async fn diff(&self, set: &ResultSet, top: usize) -> Result<Vec<VariantDiff>, StoreError> {
        diff(&self.client, &self.table, set, self.concurrency, top).await
    }

    async fn publish(
        &self,
        set: &ResultSet,
        only_groups: Option<&BTreeSet<usize>>,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<PublishReport, StoreError> {
        let opts = PublishOptions {
            table: self.table.clone(),
            create_table: self.create_table,
            concurrency: self.concurrency,
            only_groups: only_groups.cloned(),
            fence: self.lease.held().map(|lease| Fence {
                backend: self.lease.backend().clone(),
                lease,
            }),
        };
        publish(&self.client, &opts, set, progress).await
    }

    async fn get_group(
        &self,
        variant: &str,
        category: &str,
    ) -> Result<Option<StoredGroup>, StoreError> {
        let pk = group_key(variant, category);
        let Some(item) = get_item(&self.client, &self.table, &pk).await? else {
            return Ok(None);
        };
        decode_group(&item)
            .map(Some)
            .map_err(|message| StoreError::Dynamo {
                table: self.table.clone(),
                message: format!("item {pk:?}: {message}"),
            })
    }

    async fn catalog(&self) -> Result<Catalog, StoreError> {
        catalog(&self.client, &self.table).await
    }

    fn read_deadline(&self) -> Duration {
        self.read_deadline
    }

    async fn acquire_lease(
        &self,
        owner: &str,
        ttl: Duration,
        wait: Duration,
    ) -> Result<Lease, StoreError> {
        super::ensure_table(&self.client, &self.table, self.create_table).await?;
        self.lease.acquire(owner, ttl, wait).await
    }

    async fn release_lease(&self) -> Result<(), StoreError> {
        self.lease.release().await
    }

    async fn ready(&self) -> Result<String, StoreError> {
        self.client
            .describe_table()
            .table_name(&self.table)
            .send()
            .await
            .map(|_| self.name())
            .map_err(|e| failed(&self.table, "DescribeTable", e))
    }
}
