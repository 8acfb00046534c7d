//! Reading back what `publish` and `run` stored in DynamoDB and Redis, and
//! comparing it with a results CSV.

#![allow(dead_code, clippy::unwrap_used, missing_docs)]

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::Value;

use super::services::{dynamo_client, Redis};
use super::Groups;

pub type Item = HashMap<String, AttributeValue>;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Every item of `table`, by `pk`, but the run lease.
pub fn table_items(endpoint: &str, table: &str) -> BTreeMap<String, Item> {
    let client = dynamo_client(endpoint);
    runtime().block_on(async {
        let mut out = BTreeMap::new();
        let mut start = None;
        loop {
            let page = client
                .scan()
                .table_name(table)
                .set_exclusive_start_key(start)
                .send()
                .await
                .unwrap();
            for item in page.items.unwrap_or_default() {
                let AttributeValue::S(pk) = &item["pk"] else {
                    panic!("pk is not a string: {item:?}")
                };
                // The run lease changes with every run; it is no result.
                if pk == topsellers_store::dynamo::LEASE_KEY {
                    continue;
                }
                out.insert(pk.clone(), item);
            }
            start = page.last_evaluated_key;
            if start.is_none() {
                return out;
            }
        }
    })
}

/// The number of items in `table` (Scan with Select=COUNT).
pub fn count_items(endpoint: &str, table: &str) -> Option<u64> {
    let client = dynamo_client(endpoint);
    runtime().block_on(async {
        let mut total = 0;
        let mut start = None;
        loop {
            let page = client
                .scan()
                .table_name(table)
                .select(aws_sdk_dynamodb::types::Select::Count)
                .set_exclusive_start_key(start)
                .send()
                .await
                .ok()?;
            total += page.count as u64;
            start = page.last_evaluated_key;
            if start.is_none() {
                return Some(total);
            }
        }
    })
}

pub fn n(v: &AttributeValue) -> &str {
    match v {
        AttributeValue::N(n) => n,
        other => panic!("{other:?} is not a number"),
    }
}

pub fn s(v: &AttributeValue) -> &str {
    match v {
        AttributeValue::S(s) => s,
        other => panic!("{other:?} is not a string"),
    }
}

/// `as_of` (RFC 3339, UTC, whole seconds or finer) in epoch milliseconds.
pub fn generation(as_of: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(as_of)
        .unwrap()
        .timestamp_millis()
}

/// Asserts that one stored group item is complete and holds exactly `want`.
pub fn assert_item(key: &str, item: &Item, want: &(String, String, Vec<super::Row>)) {
    let (window_s, as_of, rows) = want;
    assert_eq!(n(&item["window_s"]), window_s, "{key}: window_s");
    assert_eq!(s(&item["as_of"]), as_of, "{key}: as_of");
    assert!(item.contains_key("computed_at"), "{key}: computed_at");
    assert_eq!(
        n(&item["generation"]).parse::<i64>().unwrap(),
        generation(as_of),
        "{key}: generation"
    );
    let AttributeValue::L(items) = &item["items"] else {
        panic!("{key}: items is not a list")
    };
    let AttributeValue::L(scores) = &item["scores"] else {
        panic!("{key}: scores is not a list")
    };
    assert_eq!(items.len(), rows.len(), "{key}: item count");
    assert_eq!(scores.len(), rows.len(), "{key}: score count");
    for (rank, ((id, score), row)) in items.iter().zip(scores).zip(rows).enumerate() {
        let id = match id {
            AttributeValue::N(v) | AttributeValue::S(v) => v,
            other => panic!("{key}: item id {other:?}"),
        };
        assert_eq!(id, &row.item, "{key}: rank {}", rank + 1);
        assert_eq!(
            n(score).parse::<f64>().unwrap(),
            row.score,
            "{key}: score at rank {}",
            rank + 1
        );
    }
}

/// Asserts that DynamoDB holds exactly the groups of `want` (one complete
/// item each) plus one manifest per variant at their generation.
pub fn assert_table_matches(items: &BTreeMap<String, Item>, want: &Groups) {
    let mut manifests = 0;
    for (key, item) in items {
        if let Some(variant) = key.strip_prefix("#manifest#") {
            manifests += 1;
            let (_, (_, as_of, _)) = want
                .iter()
                .find(|((v, _), _)| v == variant)
                .unwrap_or_else(|| panic!("a manifest for an unknown variant {variant}"));
            assert_eq!(
                n(&item["generation"]).parse::<i64>().unwrap(),
                generation(as_of)
            );
            let categories = want.keys().filter(|(v, _)| v == variant).count();
            assert_eq!(n(&item["categories"]), categories.to_string(), "{key}");
            continue;
        }
        let (variant, category) = key.split_once('#').unwrap();
        let group = want
            .get(&(variant.to_string(), category.to_string()))
            .unwrap_or_else(|| panic!("{key} is stored but not in the results"));
        assert_item(key, item, group);
    }
    let variants: std::collections::BTreeSet<_> = want.keys().map(|(v, _)| v).collect();
    assert_eq!(manifests, variants.len(), "one manifest per variant");
    assert_eq!(
        items.len(),
        want.len() + variants.len(),
        "one item per group"
    );
}

/// Asserts that Redis holds the read API's body for every group of `want`.
pub fn assert_cache_matches(redis: &Redis, want: &Groups) {
    let stored = redis.dump();
    assert_eq!(stored.len(), want.len(), "one Redis key per group");
    for ((variant, category), (_, as_of, rows)) in want {
        let key = format!("topsellers:v1:{variant}:{category}");
        let body: Value = serde_json::from_str(
            stored
                .get(&key)
                .unwrap_or_else(|| panic!("{key} is not in Redis")),
        )
        .unwrap();
        let fields: Vec<&str> = body
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(fields.len(), 5, "{key}: {fields:?}");
        assert_eq!(body["category"], category.as_str());
        assert_eq!(body["variant"], variant.as_str());
        assert_eq!(body["as_of"], as_of.as_str());
        assert_eq!(body["generation"], generation(as_of));
        let items = body["items"].as_array().unwrap();
        assert_eq!(items.len(), rows.len(), "{key}");
        for (i, (it, row)) in items.iter().zip(rows).enumerate() {
            assert_eq!(it["rank"], i + 1);
            let id = match &it["item_id"] {
                Value::Number(n) => n.to_string(),
                Value::String(s) => s.clone(),
                other => panic!("{key}: item_id {other}"),
            };
            assert_eq!(id, row.item, "{key} rank {}", i + 1);
            assert_eq!(
                it["score"].as_f64().unwrap(),
                row.score,
                "{key} rank {}",
                i + 1
            );
        }
        let ttl = redis.ttl(&key);
        assert!((21 * 3600..=24 * 3600).contains(&ttl), "{key}: TTL {ttl}");
    }
}
