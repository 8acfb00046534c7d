//! One (variant, category) as the read path holds it: the exact JSON body
//! publish stores in Redis, plus what is needed to answer `limit=K` and
//! to build an ETag (generation, `as_of`, the ranked items).

use bytes::Bytes;
use serde::Deserialize;
use topsellers_engine::{ItemId, Ranked};

use topsellers_store::cache::api_body;
use topsellers_store::StoredGroup;

/// A published (variant, category), ready to be served.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// The variant.
    pub variant: String,
    /// The category.
    pub category: String,
    /// The run's generation (its `as_of` in epoch milliseconds).
    pub generation: i64,
    /// The run's `as_of`.
    pub as_of: String,
    /// The ranked items, best first.
    pub items: Vec<Ranked>,
    /// The full body (every item), byte for byte what Redis holds.
    pub body: Bytes,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum WireId {
    Int(i64),
    Str(String),
}

#[derive(Deserialize)]
struct WireItem {
    rank: usize,
    item_id: WireId,
    score: f64,
}

#[derive(Deserialize)]
struct WireBody {
    category: String,
    variant: String,
    as_of: String,
    generation: i64,
    items: Vec<WireItem>,
}

impl Entry {
    /// The entry of an item read from DynamoDB; its body is the one
    /// publish would have written to Redis.
    pub fn from_stored(variant: &str, category: &str, g: StoredGroup) -> Self {
        let body = api_body(variant, category, &g.as_of, g.generation, &g.items, None);
        Self {
            variant: variant.to_string(),
            category: category.to_string(),
            generation: g.generation,
            as_of: g.as_of,
            items: g.items,
            body: Bytes::from(body),
        }
    }

    /// Parses a body read from Redis, checking that it is the body of
    /// (`variant`, `category`) with ranks 1, 2, …; anything else is refused
    /// (the caller reads DynamoDB instead).
    pub fn from_body(variant: &str, category: &str, body: Vec<u8>) -> Result<Self, String> {
        let wire: WireBody =
            serde_json::from_slice(&body).map_err(|e| format!("not a read API body: {e}"))?;
        if wire.variant != variant || wire.category != category {
            return Err(format!(
                "body of ({:?}, {:?}) under the key of ({variant:?}, {category:?})",
                wire.variant, wire.category
            ));
        }
        let items = wire
            .items
            .into_iter()
            .enumerate()
            .map(|(i, w)| {
                if w.rank != i + 1 {
                    return Err(format!("rank {} at position {}", w.rank, i + 1));
                }
                Ok(Ranked {
                    item: match w.item_id {
                        WireId::Int(v) => ItemId::Int(v),
                        WireId::Str(s) => ItemId::Str(s),
                    },
                    score: w.score,
                })
            })
            .collect::<Result<_, String>>()?;
        Ok(Self {
            variant: wire.variant,
            category: wire.category,
            generation: wire.generation,
            as_of: wire.as_of,
            items,
            body: Bytes::from(body),
        })
    }

    /// The body with the first `limit` items (the stored bytes when the
    /// limit keeps them all).
    pub fn body_with(&self, limit: Option<usize>) -> Bytes {
        match limit {
            Some(k) if k < self.items.len() => Bytes::from(api_body(
                &self.variant,
                &self.category,
                &self.as_of,
                self.generation,
                &self.items,
                Some(k),
            )),
            _ => self.body.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored() -> StoredGroup {
        StoredGroup {
            generation: 1_760_486_400_000,
            as_of: "2026-10-15T00:00:00Z".into(),
            window_s: 2_592_000,
            items: vec![
                Ranked {
                    item: ItemId::Int(42),
                    score: 2.5,
                },
                Ranked {
                    item: ItemId::Str("007".into()),
                    score: 0.1 + 0.2,
                },
            ],
        }
    }

    #[test]
    fn a_body_read_back_equals_the_item_it_came_from() {
        let e = Entry::from_stored("default", "toys & games/boards", stored());
        let back = Entry::from_body("default", "toys & games/boards", e.body.to_vec()).unwrap();
        assert_eq!(back, e);
        assert_eq!(e.body_with(None), e.body);
        assert_eq!(e.body_with(Some(2)), e.body);
        let one = String::from_utf8(e.body_with(Some(1)).to_vec()).unwrap();
        assert!(one.ends_with(r#""items":[{"rank":1,"item_id":42,"score":2.5}]}"#));
    }

    #[test]
    fn foreign_or_broken_bodies_are_refused() {
        let e = Entry::from_stored("default", "toys", stored());
        assert!(Entry::from_body("fast", "toys", e.body.to_vec())
            .unwrap_err()
            .contains("under the key"));
        assert!(Entry::from_body("default", "toys", b"{\"x\":1".to_vec()).is_err());
        let skipped = String::from_utf8(e.body.to_vec())
            .unwrap()
            .replace("\"rank\":2", "\"rank\":3");
        assert!(Entry::from_body("default", "toys", skipped.into_bytes())
            .unwrap_err()
            .contains("rank 3"));
    }
}
