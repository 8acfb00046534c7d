//! One chunk of lines → its purchases grouped by (category, day), and its bad
//! lines with their numbers. Chunks are parsed in parallel; everything a
//! chunk yields is merged afterwards in input order.

use std::fmt::Write as _;

use hashbrown::HashMap;

use super::input::Chunk;
use super::parse::{CategoryRef, Event, FieldNames, LineParser};
use super::reason::BadReason;
use super::rows::Rows;
use super::time::DAY_US;
use topsellers_lake::ItemKind;

/// A line that went to quarantine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BadLine {
    /// 1-based line number in its input.
    pub(crate) line: u64,
    /// Why.
    pub(crate) reason: BadReason,
    /// The line as read (without its line end).
    pub(crate) raw: Vec<u8>,
}

/// Purchases of one (category, day) found in a chunk.
#[derive(Debug)]
pub(crate) struct Group {
    pub(crate) category: String,
    /// Days since 1970-01-01.
    pub(crate) day: i32,
    pub(crate) rows: Rows,
}

/// What a chunk yields.
#[derive(Debug)]
pub(crate) struct ParsedChunk {
    /// Index of the input.
    pub(crate) source: usize,
    /// Groups in order of first appearance.
    pub(crate) groups: Vec<Group>,
    /// Bad lines in line order.
    pub(crate) bad: Vec<BadLine>,
    /// Lines, blank ones included.
    pub(crate) lines: u64,
    /// Lines holding only whitespace (ignored).
    pub(crate) blank: u64,
    /// Valid events.
    pub(crate) events: u64,
}

/// The lines of a chunk: `(number, bytes without the line end)`.
pub(crate) fn lines(chunk: &Chunk) -> impl Iterator<Item = (u64, &[u8])> {
    let data = &chunk.data[..];
    let mut start = 0;
    let mut number = chunk.first_line;
    std::iter::from_fn(move || {
        if start >= data.len() {
            return None;
        }
        let end = memchr::memchr(b'\n', &data[start..]).map_or(data.len(), |p| start + p);
        let mut line = &data[start..end];
        if let [rest @ .., b'\r'] = line {
            line = rest;
        }
        start = end + 1;
        number += 1;
        Some((number - 1, line))
    })
}

fn is_blank(line: &[u8]) -> bool {
    line.iter().all(|b| matches!(b, b' ' | b'\t' | b'\r'))
}

/// The id type of the first valid event of `chunks`, if any.
pub(crate) fn first_kind<'a>(
    chunks: impl Iterator<Item = &'a Chunk>,
    fields: &FieldNames,
) -> Option<ItemKind> {
    let mut parser = LineParser::new();
    chunks
        .flat_map(lines)
        .filter(|(_, l)| !is_blank(l))
        .find_map(|(_, l)| parser.parse(l, fields, None, |r| r.ok().map(|e| e.item.kind())))
}

/// Groups a chunk's events by partition as they are parsed.
struct Grouper {
    kind: ItemKind,
    categories: HashMap<String, u32>,
    slots: HashMap<(u32, i32), usize>,
    groups: Vec<Group>,
    /// An integer category in decimal (reused).
    text: String,
}

impl Grouper {
    /// Files the event; false when its id is not of the chunk's type.
    fn add(&mut self, e: &Event<'_>) -> bool {
        let name: &str = match e.category {
            CategoryRef::Str(s) => s,
            CategoryRef::Int(i) => {
                self.text.clear();
                let _ = write!(self.text, "{i}");
                &self.text
            }
        };
        let next = self.categories.len() as u32;
        let cat = *self.categories.entry_ref(name).or_insert(next);
        // Times are at least 0 and at most MAX_US, so the day fits an i32.
        let day = (e.ts_us / DAY_US) as i32;
        let slot = *self.slots.entry((cat, day)).or_insert_with(|| {
            self.groups.push(Group {
                category: name.to_string(),
                day,
                rows: Rows::new(self.kind),
            });
            self.groups.len() - 1
        });
        self.groups[slot].rows.push(e.item, e.ts_us, e.quantity)
    }
}

/// Parses every line of `chunk`; events must have ids of type `kind`.
pub(crate) fn parse_chunk(chunk: &Chunk, fields: &FieldNames, kind: ItemKind) -> ParsedChunk {
    let mut parser = LineParser::new();
    let mut g = Grouper {
        kind,
        categories: HashMap::new(),
        slots: HashMap::new(),
        groups: Vec::new(),
        text: String::new(),
    };
    let mut out = ParsedChunk {
        source: chunk.source,
        groups: Vec::new(),
        bad: Vec::new(),
        lines: 0,
        blank: 0,
        events: 0,
    };
    for (number, line) in lines(chunk) {
        out.lines += 1;
        if is_blank(line) {
            out.blank += 1;
            continue;
        }
        let outcome = parser.parse(line, fields, Some(kind), |r| match r {
            Ok(e) if g.add(&e) => Ok(()),
            Ok(_) => Err(BadReason::IdType),
            Err(reason) => Err(reason),
        });
        match outcome {
            Ok(()) => out.events += 1,
            Err(reason) => out.bad.push(BadLine {
                line: number,
                reason,
                raw: line.to_vec(),
            }),
        }
    }
    out.groups = g.groups;
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(text: &str) -> Chunk {
        Chunk {
            source: 0,
            first_line: 10,
            data: text.as_bytes().to_vec(),
        }
    }

    #[test]
    fn groups_by_partition_and_numbers_bad_lines() {
        let c = chunk(concat!(
            "{\"item_id\":1,\"category\":\"a\",\"ts\":86400}\r\n",
            "  \n",
            "{\"item_id\":2,\"category\":\"a\",\"ts\":86401}\n",
            "nope\n",
            "{\"item_id\":3,\"category_id\":7,\"ts\":1}\n",
            "{\"item_id\":\"s\",\"category\":\"a\",\"ts\":1}",
        ));
        let p = parse_chunk(&c, &FieldNames::default(), ItemKind::Int);
        assert_eq!((p.lines, p.blank, p.events), (6, 1, 3));
        let groups: Vec<(&str, i32, usize)> = p
            .groups
            .iter()
            .map(|g| (g.category.as_str(), g.day, g.rows.len()))
            .collect();
        assert_eq!(groups, [("a", 1, 2), ("7", 0, 1)]);
        let bad: Vec<(u64, &str, &[u8])> = p
            .bad
            .iter()
            .map(|b| (b.line, b.reason.as_str(), &b.raw[..]))
            .collect();
        assert_eq!(
            bad,
            [
                (13, "invalid_json", &b"nope"[..]),
                (
                    15,
                    "id_type",
                    &b"{\"item_id\":\"s\",\"category\":\"a\",\"ts\":1}"[..]
                )
            ]
        );
    }

    #[test]
    fn finds_the_first_valid_events_type() {
        let fields = FieldNames::default();
        let a = chunk("\nbad\n{\"item_id\":\"x\",\"category\":\"a\"}\n");
        let b = chunk("{\"item_id\":\"x\",\"category\":\"a\",\"ts\":1}\n{\"item_id\":1,\"category\":\"a\",\"ts\":1}\n");
        assert_eq!(first_kind([&a].into_iter(), &fields), None);
        assert_eq!(
            first_kind([&a, &b].into_iter(), &fields),
            Some(ItemKind::Str)
        );
    }
}
