//! The DynamoDB item of one (variant, category), and the manifest item of a
//! variant: encoding, decoding and the checks between them.
//!
//! Scores are stored as DynamoDB numbers written in the shortest form that
//! reads back to the same f64, so a stored item compares equal, score for
//! score, with the results it came from. DynamoDB numbers cannot be smaller
//! than 1e-130: a (decayed to nothing) score below that is stored as 0.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use topsellers_engine::{ItemId, Ranked};

use crate::error::StoreError;
use crate::model::{group_key, Manifest, StoredGroup};
use topsellers_lake::{ResultGroup, ResultSet, VariantTotals};

/// A DynamoDB item.
pub type Item = HashMap<String, AttributeValue>;

/// The partition key attribute.
pub const PK: &str = "pk";

/// DynamoDB's item size limit, bytes.
const MAX_ITEM_BYTES: usize = 400 * 1024;

/// DynamoDB's smallest positive number.
const MIN_POSITIVE: f64 = 1e-130;

/// The partition key of a variant's manifest: `#manifest#<variant>`.
pub fn manifest_key(variant: &str) -> String {
    format!("#manifest#{variant}")
}

/// A score as a DynamoDB number.
pub fn number(score: f64) -> String {
    if score.abs() < MIN_POSITIVE {
        "0".to_string()
    } else {
        format!("{score:?}")
    }
}

/// A score as it reads back from DynamoDB.
fn stored_score(score: f64) -> f64 {
    if score.abs() < MIN_POSITIVE {
        0.0
    } else {
        score
    }
}

fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

/// The item of one group of a run.
pub fn encode_group(set: &ResultSet, g: &ResultGroup) -> Result<Item, StoreError> {
    let mut bytes = 200 + g.variant.len() * 2 + g.category.len() * 2;
    let items: Vec<AttributeValue> = g
        .items
        .iter()
        .map(|r| match &r.item {
            ItemId::Int(v) => {
                bytes += 24;
                n(v)
            }
            ItemId::Str(s) => {
                bytes += s.len() + 4;
                AttributeValue::S(s.clone())
            }
        })
        .collect();
    let scores: Vec<AttributeValue> = g.items.iter().map(|r| n(number(r.score))).collect();
    bytes += 24 * scores.len();
    if bytes > MAX_ITEM_BYTES {
        return Err(StoreError::ItemTooLarge {
            variant: g.variant.clone(),
            category: g.category.clone(),
            items: g.items.len(),
            bytes,
        });
    }
    Ok(HashMap::from([
        (
            PK.to_string(),
            AttributeValue::S(group_key(&g.variant, &g.category)),
        ),
        ("variant".to_string(), AttributeValue::S(g.variant.clone())),
        (
            "category".to_string(),
            AttributeValue::S(g.category.clone()),
        ),
        ("items".to_string(), AttributeValue::L(items)),
        ("scores".to_string(), AttributeValue::L(scores)),
        ("generation".to_string(), n(set.generation())),
        ("as_of".to_string(), AttributeValue::S(set.as_of())),
        ("window_s".to_string(), n(g.window_s)),
        (
            "computed_at".to_string(),
            AttributeValue::S(set.computed_at()),
        ),
    ]))
}

fn get<'a>(item: &'a Item, name: &str) -> Result<&'a AttributeValue, String> {
    item.get(name)
        .ok_or_else(|| format!("attribute {name:?} is missing"))
}

fn get_n<T: std::str::FromStr>(item: &Item, name: &str) -> Result<T, String> {
    match get(item, name)? {
        AttributeValue::N(v) => v
            .parse()
            .map_err(|_| format!("attribute {name:?} = {v} is not the expected number")),
        other => Err(format!("attribute {name:?} is {other:?}, not a number")),
    }
}

fn get_s(item: &Item, name: &str) -> Result<String, String> {
    match get(item, name)? {
        AttributeValue::S(v) => Ok(v.clone()),
        other => Err(format!("attribute {name:?} is {other:?}, not a string")),
    }
}

fn get_l<'a>(item: &'a Item, name: &str) -> Result<&'a [AttributeValue], String> {
    match get(item, name)? {
        AttributeValue::L(v) => Ok(v),
        other => Err(format!("attribute {name:?} is {other:?}, not a list")),
    }
}

/// The generation of any stored item (group or manifest).
pub fn generation_of(item: &Item) -> Result<i64, String> {
    get_n(item, "generation")
}

/// Decodes a stored (variant, category) item, checking that it is complete
/// and consistent (as many scores as items, every attribute of the right type).
pub fn decode_group(item: &Item) -> Result<StoredGroup, String> {
    let ids = get_l(item, "items")?;
    let scores = get_l(item, "scores")?;
    if ids.len() != scores.len() {
        return Err(format!("{} items but {} scores", ids.len(), scores.len()));
    }
    let items = ids
        .iter()
        .zip(scores)
        .map(|(id, score)| {
            let item = match id {
                AttributeValue::N(v) => ItemId::Int(
                    v.parse()
                        .map_err(|_| format!("item id {v} is not a 64-bit integer"))?,
                ),
                AttributeValue::S(s) => ItemId::Str(s.clone()),
                other => return Err(format!("item id {other:?} is neither N nor S")),
            };
            let score = match score {
                AttributeValue::N(v) => v
                    .parse()
                    .map_err(|_| format!("score {v} is not a number"))?,
                other => return Err(format!("score {other:?} is not N")),
            };
            Ok(Ranked { item, score })
        })
        .collect::<Result<_, String>>()?;
    get_s(item, "computed_at")?;
    Ok(StoredGroup {
        generation: generation_of(item)?,
        as_of: get_s(item, "as_of")?,
        window_s: get_n(item, "window_s")?,
        items,
    })
}

/// Whether a stored item holds exactly `g` (same window, items and scores).
pub fn same_content(stored: &StoredGroup, g: &ResultGroup) -> bool {
    stored.window_s == g.window_s
        && stored.items.len() == g.items.len()
        && stored
            .items
            .iter()
            .zip(&g.items)
            .all(|(s, r)| s.item == r.item && s.score == stored_score(r.score))
}

/// The manifest item of `variant` for a run.
pub fn encode_manifest(set: &ResultSet, variant: &str, published_at: &str) -> Item {
    let t = set.totals(variant);
    let mut item = HashMap::from([
        (PK.to_string(), AttributeValue::S(manifest_key(variant))),
        (
            "variant".to_string(),
            AttributeValue::S(variant.to_string()),
        ),
        ("generation".to_string(), n(set.generation())),
        ("as_of".to_string(), AttributeValue::S(set.as_of())),
        (
            "computed_at".to_string(),
            AttributeValue::S(set.computed_at()),
        ),
        (
            "published_at".to_string(),
            AttributeValue::S(published_at.to_string()),
        ),
        ("categories".to_string(), n(t.categories)),
        ("items".to_string(), n(t.items)),
    ]);
    if let Some(c) = t.counted {
        item.insert("counted".to_string(), n(c));
    }
    item
}

/// Decodes a manifest item.
pub fn decode_manifest(item: &Item) -> Result<Manifest, String> {
    Ok(Manifest {
        variant: get_s(item, "variant")?,
        generation: generation_of(item)?,
        as_of: get_s(item, "as_of")?,
        computed_at: get_s(item, "computed_at")?,
        published_at: get_s(item, "published_at")?,
        totals: VariantTotals {
            categories: get_n(item, "categories")?,
            items: get_n(item, "items")?,
            counted: item
                .get("counted")
                .map(|_| get_n(item, "counted"))
                .transpose()?,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set() -> ResultSet {
        ResultSet {
            as_of_ns: 1_760_486_400_000_000_000,
            computed_at_ns: 1_760_486_401_000_000_000,
            variants: vec!["default".into()],
            groups: vec![ResultGroup {
                variant: "default".into(),
                category: "toys#games".into(),
                window_s: 2_592_000,
                counted: Some(12),
                items: vec![
                    Ranked {
                        item: ItemId::Str("007".into()),
                        score: 0.1 + 0.2,
                    },
                    Ranked {
                        item: ItemId::Str("x".into()),
                        score: 1e-200,
                    },
                ],
            }],
        }
    }

    #[test]
    fn group_round_trips() {
        let s = set();
        let g = &s.groups[0];
        let item = encode_group(&s, g).unwrap();
        assert_eq!(item[PK], AttributeValue::S("default#toys#games".into()));
        assert_eq!(
            item["generation"],
            AttributeValue::N("1760486400000".into())
        );
        let stored = decode_group(&item).unwrap();
        assert_eq!(stored.items[0].score, 0.1 + 0.2);
        assert_eq!(stored.items[1].score, 0.0);
        assert!(same_content(&stored, g));
        let mut other = g.clone();
        other.items[0].score = 0.3;
        assert!(!same_content(&stored, &other));
    }

    #[test]
    fn incomplete_items_are_named() {
        let s = set();
        let mut item = encode_group(&s, &s.groups[0]).unwrap();
        item.insert("scores".into(), AttributeValue::L(vec![]));
        assert_eq!(decode_group(&item).unwrap_err(), "2 items but 0 scores");
        let mut item = encode_group(&s, &s.groups[0]).unwrap();
        item.remove("generation");
        assert!(decode_group(&item).unwrap_err().contains("generation"));
    }

    #[test]
    fn manifest_round_trips() {
        let s = set();
        let m = decode_manifest(&encode_manifest(&s, "default", "now")).unwrap();
        assert_eq!(m.generation, s.generation());
        assert_eq!(m.totals.categories, 1);
        assert_eq!(m.totals.items, 2);
        assert_eq!(m.totals.counted, Some(12));
    }

    #[test]
    fn oversized_groups_are_refused() {
        let mut s = set();
        s.groups[0].items = (0..20_000)
            .map(|i| Ranked {
                item: ItemId::Int(i),
                score: 1.0,
            })
            .collect();
        let g = s.groups[0].clone();
        assert!(matches!(
            encode_group(&s, &g),
            Err(StoreError::ItemTooLarge { .. })
        ));
    }
}
