//! One JSON line → one typed purchase event, or the reason it is bad.
//!
//! Lines are parsed by simd-json into a tape (a flat list of nodes) held in
//! buffers that are reused from line to line, and the few fields ingest needs
//! are picked off the tape's top-level object without building a map: no
//! allocation per line once the buffers have grown.

use simd_json::{Buffers, Node, StaticNode, Tape};

use super::reason::BadReason;
use super::time::{epoch_float_us, epoch_int_us, rfc3339_us, TimeError};
use crate::rows::ItemRef;
use topsellers_lake::ItemKind;

/// Longest string item id accepted, in bytes.
pub(crate) const MAX_ID_BYTES: usize = 1_024;
/// Longest `category=<escaped value>` folder name: most file systems cap a
/// name at 255 bytes.
const MAX_CATEGORY_FOLDER: usize = 255;

/// The JSON field names ingest reads. Each is a list of names tried in
/// order: the first one present in an event is used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldNames {
    /// Item id (integer or string).
    pub item: Vec<String>,
    /// Category (string, or integer written as its decimal form).
    pub category: Vec<String>,
    /// Purchase time (RFC 3339 string or epoch number).
    pub time: Vec<String>,
    /// Quantity (integer, optional).
    pub quantity: Vec<String>,
}

impl Default for FieldNames {
    fn default() -> Self {
        let v = |names: &[&str]| names.iter().map(|s| s.to_string()).collect();
        Self {
            item: v(&["item_id"]),
            category: v(&["category", "category_id"]),
            time: v(&["ts", "purchased_at"]),
            quantity: v(&["quantity"]),
        }
    }
}

/// A category as the event holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CategoryRef<'a> {
    /// A string.
    Str(&'a str),
    /// An integer, to be written in decimal.
    Int(i64),
}

/// A valid purchase event, borrowing its strings from the parsed line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Event<'a> {
    pub(crate) item: ItemRef<'a>,
    pub(crate) category: CategoryRef<'a>,
    pub(crate) ts_us: i64,
    pub(crate) quantity: Option<i32>,
}

/// Nodes a value spans on the tape, itself included.
fn span(node: &Node<'_>) -> usize {
    match node {
        Node::Object { count, .. } | Node::Array { count, .. } => count + 1,
        _ => 1,
    }
}

/// Bytes of the escaped folder value of `category` (see `partition`).
fn escaped_len(category: &str) -> usize {
    category
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-') {
                1
            } else {
                3
            }
        })
        .sum()
}

fn item<'a>(v: Option<&Node<'a>>) -> Result<ItemRef<'a>, BadReason> {
    match v {
        None | Some(Node::Static(StaticNode::Null)) => Err(BadReason::MissingItemId),
        Some(Node::Static(StaticNode::I64(x))) => Ok(ItemRef::Int(*x)),
        Some(Node::Static(StaticNode::U64(x))) => i64::try_from(*x)
            .map(ItemRef::Int)
            .map_err(|_| BadReason::BadItemId),
        Some(Node::String(s)) if !s.is_empty() && s.len() <= MAX_ID_BYTES => Ok(ItemRef::Str(s)),
        Some(_) => Err(BadReason::BadItemId),
    }
}

/// Whether `category` could name a folder other than its own, were a
/// tool to put it into a path unescaped: `.` and `..` (this folder and its
/// parent), and values holding `/` (a separator) or NUL (the end of a path
/// for the C library). The lake's folder name escapes `/` and NUL as `%2F`
/// and `%00`, but readers of the lake decode those back, and results, cache
/// keys and URLs carry the decoded value.
pub(crate) fn escapes_folder(category: &str) -> bool {
    matches!(category, "." | "..") || category.bytes().any(|b| b == b'/' || b == 0)
}

fn category<'a>(v: Option<&Node<'a>>) -> Result<CategoryRef<'a>, BadReason> {
    match v {
        None | Some(Node::Static(StaticNode::Null)) => Err(BadReason::MissingCategory),
        Some(Node::String(s))
            if !s.is_empty()
                && !escapes_folder(s)
                && (s.len() * 3 <= MAX_CATEGORY_FOLDER - 9
                    || escaped_len(s) <= MAX_CATEGORY_FOLDER - 9) =>
        {
            Ok(CategoryRef::Str(s))
        }
        Some(Node::Static(StaticNode::I64(x))) => Ok(CategoryRef::Int(*x)),
        Some(Node::Static(StaticNode::U64(x))) => i64::try_from(*x)
            .map(CategoryRef::Int)
            .map_err(|_| BadReason::BadCategory),
        Some(_) => Err(BadReason::BadCategory),
    }
}

fn time(v: Option<&Node<'_>>) -> Result<i64, BadReason> {
    let t = match v {
        None | Some(Node::Static(StaticNode::Null)) => return Err(BadReason::MissingTs),
        Some(Node::String(s)) => rfc3339_us(s.as_bytes()),
        Some(Node::Static(StaticNode::I64(x))) => epoch_int_us(*x),
        Some(Node::Static(StaticNode::U64(x))) => {
            i64::try_from(*x).map_or(Err(TimeError::OutOfRange), epoch_int_us)
        }
        Some(Node::Static(StaticNode::F64(x))) => epoch_float_us(*x),
        Some(_) => return Err(BadReason::BadTs),
    };
    t.map_err(|e| match e {
        TimeError::Malformed => BadReason::BadTs,
        TimeError::OutOfRange => BadReason::TsOutOfRange,
    })
}

fn quantity(v: Option<&Node<'_>>) -> Result<Option<i32>, BadReason> {
    let q = match v {
        None | Some(Node::Static(StaticNode::Null)) => return Ok(None),
        Some(Node::Static(StaticNode::I64(x))) => i32::try_from(*x).ok(),
        Some(Node::Static(StaticNode::U64(x))) => i32::try_from(*x).ok(),
        // 2.0 is an integer too (some encoders write every number as a float).
        Some(Node::Static(StaticNode::F64(x)))
            if x.fract() == 0.0 && (-2_147_483_647.0..=2_147_483_647.0).contains(x) =>
        {
            Some(*x as i32)
        }
        Some(_) => None,
    };
    match q {
        Some(q) if q != i32::MIN => Ok(Some(q)),
        _ => Err(BadReason::BadQuantity),
    }
}

/// Picks the event's fields off a parsed line's tape. With `kind` set, an
/// otherwise valid event whose id has the other type is refused
/// ([`BadReason::IdType`]); problems are reported in the order item id,
/// category, time, quantity, id type.
pub(crate) fn event_from_tape<'a>(
    nodes: &[Node<'a>],
    fields: &FieldNames,
    kind: Option<ItemKind>,
) -> Result<Event<'a>, BadReason> {
    let Some(&Node::Object { len, .. }) = nodes.first() else {
        return Err(BadReason::NotAnObject);
    };
    let lists = [
        &fields.item,
        &fields.category,
        &fields.time,
        &fields.quantity,
    ];
    // (priority in its list, tape index of the value) per field.
    let mut found: [Option<(usize, usize)>; 4] = [None; 4];
    let mut at = 1;
    for _ in 0..len {
        let (Some(Node::String(key)), Some(value)) = (nodes.get(at), nodes.get(at + 1)) else {
            return Err(BadReason::InvalidJson);
        };
        for (slot, names) in found.iter_mut().zip(lists) {
            if let Some(p) = names.iter().position(|n| n == key) {
                if slot.is_none_or(|(best, _)| p < best) {
                    *slot = Some((p, at + 1));
                }
            }
        }
        at += 1 + span(value);
    }
    let node = |slot: Option<(usize, usize)>| slot.and_then(|(_, i)| nodes.get(i));
    let event = Event {
        item: item(node(found[0]))?,
        category: category(node(found[1]))?,
        ts_us: time(node(found[2]))?,
        quantity: quantity(node(found[3]))?,
    };
    match kind {
        Some(k) if k != event.item.kind() => Err(BadReason::IdType),
        _ => Ok(event),
    }
}

/// Parses lines one at a time, reusing its buffers.
pub(crate) struct LineParser {
    buffers: Buffers,
    /// The line and simd-json's padding; parsing unescapes strings in place,
    /// so the caller's copy of the line stays intact for the quarantine.
    scratch: Vec<u8>,
    tape: Tape<'static>,
}

impl LineParser {
    /// A parser with empty buffers.
    pub(crate) fn new() -> Self {
        Self {
            buffers: Buffers::new(1_024),
            scratch: Vec::new(),
            tape: Tape(Vec::new()),
        }
    }

    /// Parses `line` and hands the outcome to `with`, whose event borrows
    /// from this parser's buffers.
    pub(crate) fn parse<R>(
        &mut self,
        line: &[u8],
        fields: &FieldNames,
        kind: Option<ItemKind>,
        with: impl FnOnce(Result<Event<'_>, BadReason>) -> R,
    ) -> R {
        let LineParser {
            buffers,
            scratch,
            tape,
        } = self;
        scratch.clear();
        scratch.extend_from_slice(line);
        scratch.resize(line.len() + simd_json::INPUT_PADDING, b' ');
        let mut t = std::mem::replace(tape, Tape(Vec::new())).reset();
        let outcome = match simd_json::fill_tape_padded(scratch, line.len(), buffers, &mut t) {
            Ok(()) => event_from_tape(&t.0, fields, kind),
            Err(_) => Err(BadReason::InvalidJson),
        };
        let r = with(outcome);
        *tape = t.reset();
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(
        line: &str,
        kind: Option<ItemKind>,
    ) -> Result<(String, String, i64, Option<i32>), BadReason> {
        let mut p = LineParser::new();
        p.parse(line.as_bytes(), &FieldNames::default(), kind, |r| {
            r.map(|e| {
                let item = match e.item {
                    ItemRef::Int(i) => format!("i{i}"),
                    ItemRef::Str(s) => format!("s{s}"),
                };
                let cat = match e.category {
                    CategoryRef::Str(s) => s.to_string(),
                    CategoryRef::Int(i) => i.to_string(),
                };
                (item, cat, e.ts_us, e.quantity)
            })
        })
    }

    #[test]
    fn reads_defaults_and_fallbacks() {
        let t = 1_792_022_400_000_000;
        assert_eq!(
            parse(
                r#"{"item_id":7,"category":"toys","ts":"2026-10-15T00:00:00Z","quantity":2}"#,
                None
            ),
            Ok(("i7".into(), "toys".into(), t, Some(2)))
        );
        assert_eq!(
            parse(
                r#"{"x":[1,{"a":2}],"category_id":12,"purchased_at":1792022400000,"item_id":"A\"1"}"#,
                None
            ),
            Ok(("sA\"1".into(), "12".into(), t, None))
        );
        // The first name of a list wins whatever the order in the event.
        assert_eq!(
            parse(
                r#"{"purchased_at":0,"ts":1792022400,"category_id":"b","category":"a","item_id":1,"quantity":2.0}"#,
                None
            ),
            Ok(("i1".into(), "a".into(), t, Some(2)))
        );
    }

    #[test]
    fn names_what_is_wrong() {
        let bad = |line: &str| parse(line, Some(ItemKind::Int)).unwrap_err();
        let ok = r#""category":"c","ts":1792022400"#;
        assert_eq!(bad("{\"item_id\":1,"), BadReason::InvalidJson);
        assert_eq!(bad("[1]"), BadReason::NotAnObject);
        assert_eq!(bad(&format!("{{{ok}}}")), BadReason::MissingItemId);
        assert_eq!(
            bad(&format!("{{{ok},\"item_id\":1.5}}")),
            BadReason::BadItemId
        );
        assert_eq!(
            bad(&format!("{{{ok},\"item_id\":\"\"}}")),
            BadReason::BadItemId
        );
        assert_eq!(
            bad(&format!("{{{ok},\"item_id\":18446744073709551615}}")),
            BadReason::BadItemId
        );
        assert_eq!(
            bad(r#"{"item_id":1,"ts":1792022400}"#),
            BadReason::MissingCategory
        );
        assert_eq!(
            bad(r#"{"item_id":1,"category":"","ts":1792022400}"#),
            BadReason::BadCategory
        );
        assert_eq!(
            bad(r#"{"item_id":1,"category":[],"ts":1792022400}"#),
            BadReason::BadCategory
        );
        for unsafe_value in [".", "..", "../etc", "a/b", "/", "a\\u0000b"] {
            assert_eq!(
                bad(&format!(
                    r#"{{"item_id":1,"category":"{unsafe_value}","ts":1}}"#
                )),
                BadReason::BadCategory,
                "{unsafe_value}"
            );
        }
        let long = "é".repeat(100);
        assert_eq!(
            bad(&format!(r#"{{"item_id":1,"category":"{long}","ts":1}}"#)),
            BadReason::BadCategory
        );
        assert_eq!(
            bad(r#"{"item_id":1,"category":"c","ts":null}"#),
            BadReason::MissingTs
        );
        assert_eq!(
            bad(r#"{"item_id":1,"category":"c","ts":"2026-02-30T00:00:00Z"}"#),
            BadReason::BadTs
        );
        assert_eq!(
            bad(r#"{"item_id":1,"category":"c","ts":true}"#),
            BadReason::BadTs
        );
        assert_eq!(
            bad(r#"{"item_id":1,"category":"c","ts":-5}"#),
            BadReason::TsOutOfRange
        );
        assert_eq!(
            bad(&format!("{{{ok},\"item_id\":1,\"quantity\":\"2\"}}")),
            BadReason::BadQuantity
        );
        assert_eq!(
            bad(&format!("{{{ok},\"item_id\":1,\"quantity\":2.5}}")),
            BadReason::BadQuantity
        );
        assert_eq!(
            bad(&format!("{{{ok},\"item_id\":1,\"quantity\":-2147483648}}")),
            BadReason::BadQuantity
        );
        assert_eq!(
            bad(&format!("{{{ok},\"item_id\":\"a\"}}")),
            BadReason::IdType
        );
        assert_eq!(
            bad(&format!("{{{ok},\"item_id\":\"a\"}}{{}}")),
            BadReason::InvalidJson
        );
        assert_eq!(bad("{\"item_id\":\"\u{0}\"}").as_str(), "invalid_json");
    }

    #[test]
    fn reuses_buffers_across_lines_of_any_size() {
        let mut p = LineParser::new();
        let fields = FieldNames::default();
        let big = format!(
            r#"{{"pad":"{}","item_id":"x","category":"c","ts":1}}"#,
            "z".repeat(100_000)
        );
        for line in [&big[..], r#"{"item_id":"y","category":"c","ts":1}"#, &big] {
            let ok = p.parse(line.as_bytes(), &fields, Some(ItemKind::Str), |r| r.is_ok());
            assert!(ok, "{}", &line[..40]);
        }
    }
}
