//! A group's row: items and scores as JSON arrays (ids as numbers or
//! strings, scores in the shortest form that reads back to the same f64,
//! so a stored row compares equal, score for score, with its results).

use std::fmt::Write;

use topsellers_engine::{ItemId, Ranked};
use topsellers_lake::ResultGroup;
use topsellers_store::StoredGroup;

/// The JSON arrays of a group's item ids and scores.
pub fn encode(g: &ResultGroup) -> (String, String) {
    let mut items = String::with_capacity(g.items.len() * 10 + 2);
    let mut scores = String::with_capacity(g.items.len() * 22 + 2);
    items.push('[');
    scores.push('[');
    for (i, r) in g.items.iter().enumerate() {
        if i > 0 {
            items.push(',');
            scores.push(',');
        }
        match &r.item {
            ItemId::Int(v) => {
                let _ = write!(items, "{v}");
            }
            ItemId::Str(s) => {
                items.push_str(&serde_json::Value::from(s.as_str()).to_string());
            }
        }
        // Debug of an f64 is its shortest round-trip form, valid JSON for
        // every finite score (scores are never NaN or infinite).
        let _ = write!(scores, "{:?}", r.score);
    }
    items.push(']');
    scores.push(']');
    (items, scores)
}

/// A stored row back into a group, checking that it is complete.
pub fn decode(
    generation: i64,
    as_of: String,
    window_s: i64,
    items: &str,
    scores: &str,
) -> Result<StoredGroup, String> {
    let ids: Vec<serde_json::Value> =
        serde_json::from_str(items).map_err(|e| format!("items are not a JSON array: {e}"))?;
    let scores: Vec<f64> = serde_json::from_str(scores)
        .map_err(|e| format!("scores are not a JSON array of numbers: {e}"))?;
    if ids.len() != scores.len() {
        return Err(format!("{} items but {} scores", ids.len(), scores.len()));
    }
    let items = ids
        .into_iter()
        .zip(scores)
        .map(|(id, score)| {
            let item = match id {
                serde_json::Value::Number(n) => ItemId::Int(
                    n.as_i64()
                        .ok_or_else(|| format!("item id {n} is not a 64-bit integer"))?,
                ),
                serde_json::Value::String(s) => ItemId::Str(s),
                other => return Err(format!("item id {other} is neither a number nor a string")),
            };
            Ok(Ranked { item, score })
        })
        .collect::<Result<_, String>>()?;
    Ok(StoredGroup {
        generation,
        as_of,
        window_s,
        items,
    })
}

/// Whether a stored group holds exactly `g` (same window, items and scores).
pub fn same_content(stored: &StoredGroup, g: &ResultGroup) -> bool {
    stored.window_s == g.window_s && stored.items == g.items
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_round_trip_exactly() {
        let g = ResultGroup {
            variant: "default".into(),
            category: "toys".into(),
            window_s: 86_400,
            counted: None,
            items: vec![
                Ranked {
                    item: ItemId::Str("a \"quoted\" ü".into()),
                    score: 0.1 + 0.2,
                },
                Ranked {
                    item: ItemId::Str("007".into()),
                    score: 1e-200,
                },
            ],
        };
        let (items, scores) = encode(&g);
        let back = decode(7, "x".into(), 86_400, &items, &scores).unwrap();
        assert!(same_content(&back, &g));
        let ints = ResultGroup {
            items: vec![Ranked {
                item: ItemId::Int(-5),
                score: 2.0,
            }],
            ..g
        };
        let (items, scores) = encode(&ints);
        assert_eq!((items.as_str(), scores.as_str()), ("[-5]", "[2.0]"));
        assert!(same_content(
            &decode(7, "x".into(), 86_400, &items, &scores).unwrap(),
            &ints
        ));
        let e = decode(7, "x".into(), 1, "[1,2]", "[1.0]").unwrap_err();
        assert_eq!(e, "2 items but 1 scores");
    }
}
