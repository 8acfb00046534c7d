//! The results table: checked before anything is written, created on
//! request (on-demand billing, `pk` string hash key).

use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType, TableStatus,
};
use aws_sdk_dynamodb::Client;

use super::item::PK;
use super::{failed, invalid};
use crate::error::StoreError;

/// The table's status, `None` when it does not exist.
async fn status(client: &Client, table: &str) -> Result<Option<TableStatus>, StoreError> {
    match client.describe_table().table_name(table).send().await {
        Ok(out) => Ok(Some(
            out.table
                .and_then(|t| t.table_status)
                .unwrap_or(TableStatus::Active),
        )),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_not_found_exception()) =>
        {
            Ok(None)
        }
        Err(e) => Err(failed(table, "DescribeTable", e)),
    }
}

/// Makes sure `table` exists and is active: creates it when `create` is set
/// (and returns `true`: the table is empty), else a missing table is
/// [`StoreError::MissingTable`].
pub async fn ensure_table(client: &Client, table: &str, create: bool) -> Result<bool, StoreError> {
    let created = match status(client, table).await? {
        Some(TableStatus::Active) => return Ok(false),
        Some(_) => false,
        None if !create => {
            return Err(StoreError::MissingTable {
                table: table.to_string(),
            })
        }
        None => {
            let definition = AttributeDefinition::builder()
                .attribute_name(PK)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(|e| invalid(table, "CreateTable", e))?;
            let key = KeySchemaElement::builder()
                .attribute_name(PK)
                .key_type(KeyType::Hash)
                .build()
                .map_err(|e| invalid(table, "CreateTable", e))?;
            let result = client
                .create_table()
                .table_name(table)
                .attribute_definitions(definition)
                .key_schema(key)
                .billing_mode(BillingMode::PayPerRequest)
                .send()
                .await;
            match result {
                Ok(_) => {
                    tracing::info!(table, "created the DynamoDB table (on-demand billing)");
                    true
                }
                // Another publisher created it meanwhile (and may be writing).
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|s| s.is_resource_in_use_exception()) =>
                {
                    false
                }
                Err(e) => return Err(failed(table, "CreateTable", e)),
            }
        }
    };
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        match status(client, table).await? {
            Some(TableStatus::Active) => return Ok(created),
            _ if Instant::now() > deadline => {
                return Err(StoreError::Dynamo {
                    table: table.to_string(),
                    message: "the table did not become ACTIVE within 5 minutes".into(),
                })
            }
            _ => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    }
}
