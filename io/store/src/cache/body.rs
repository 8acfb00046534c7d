//! The read API's response body for one (variant, category), and its Redis
//! key. Publish stores exactly this body, so that `serve` can answer a
//! cache hit with the bytes as they are.

use serde::Serialize;
use topsellers_engine::{ItemId, Ranked};

/// The Redis key of a (variant, category): `topsellers:v1:<variant>:<category>`.
pub fn cache_key(variant: &str, category: &str) -> String {
    format!("topsellers:v1:{variant}:{category}")
}

#[derive(Serialize)]
#[serde(untagged)]
enum Id<'a> {
    Int(i64),
    Str(&'a str),
}

#[derive(Serialize)]
struct BodyItem<'a> {
    rank: usize,
    item_id: Id<'a>,
    score: f64,
}

#[derive(Serialize)]
struct Body<'a> {
    category: &'a str,
    variant: &'a str,
    as_of: &'a str,
    generation: i64,
    items: Vec<BodyItem<'a>>,
}

/// The JSON body of `GET /v1/top-sellers/{category}?variant=NAME`:
/// `{"category","variant","as_of","generation","items":[{"rank","item_id","score"}]}`,
/// with the first `limit` items (all when `None`). Integer ids are JSON
/// numbers, string ids strings; scores are printed in the shortest form
/// that reads back to the same f64.
pub fn api_body(
    variant: &str,
    category: &str,
    as_of: &str,
    generation: i64,
    items: &[Ranked],
    limit: Option<usize>,
) -> String {
    let body = Body {
        category,
        variant,
        as_of,
        generation,
        items: items
            .iter()
            .take(limit.unwrap_or(usize::MAX))
            .enumerate()
            .map(|(i, r)| BodyItem {
                rank: i + 1,
                item_id: match &r.item {
                    ItemId::Int(v) => Id::Int(*v),
                    ItemId::Str(s) => Id::Str(s),
                },
                score: r.score,
            })
            .collect(),
    };
    // Serialising plain strings and finite numbers cannot fail; the fallback
    // keeps this infallible for callers without an unwrap.
    serde_json::to_string(&body).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_has_the_contract_shape() {
        let items = vec![
            Ranked {
                item: ItemId::Int(42),
                score: 2.5,
            },
            Ranked {
                item: ItemId::Int(7),
                score: 0.1 + 0.2,
            },
        ];
        let body = api_body(
            "default",
            "toys",
            "2026-10-15T00:00:00Z",
            1_760_486_400_000,
            &items,
            None,
        );
        assert_eq!(
            body,
            r#"{"category":"toys","variant":"default","as_of":"2026-10-15T00:00:00Z","generation":1760486400000,"items":[{"rank":1,"item_id":42,"score":2.5},{"rank":2,"item_id":7,"score":0.30000000000000004}]}"#
        );
        let one = api_body("v", "c", "t", 1, &items, Some(1));
        assert!(one.ends_with(r#""items":[{"rank":1,"item_id":42,"score":2.5}]}"#));
        let s = [Ranked {
            item: ItemId::Str("007".into()),
            score: 1.0,
        }];
        assert!(api_body("v", "c", "t", 1, &s, None).contains(r#""item_id":"007""#));
        assert_eq!(
            cache_key("fast", "toys/games"),
            "topsellers:v1:fast:toys/games"
        );
    }
}
