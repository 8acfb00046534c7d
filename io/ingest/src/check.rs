//! One line judged exactly as `ingest` judges it, without a lake: for the
//! fuzz harness (`fuzz/`) and for tools that want to check events before
//! sending them.

use std::path::PathBuf;

use super::parse::{CategoryRef, FieldNames, LineParser};
use super::partition::partition_dir;
use super::reason::BadReason;
use super::time::DAY_US;
use topsellers_lake::ItemKind;

/// Checks lines one at a time, reusing its parser's buffers from line to
/// line as `ingest`'s workers do.
///
/// ```
/// use topsellers_ingest::{BadReason, FieldNames, LineCheck};
///
/// let mut check = LineCheck::new(FieldNames::default());
/// let line = br#"{"item_id":7,"category":"toys","ts":"2026-10-15T10:00:00Z"}"#;
/// assert_eq!(
///     check.check(line, None).unwrap().to_str(),
///     Some("category=toys/dt=2026-10-15")
/// );
/// assert_eq!(check.check(b"{", None), Err(BadReason::InvalidJson));
/// ```
pub struct LineCheck {
    parser: LineParser,
    fields: FieldNames,
}

impl LineCheck {
    /// A checker reading the fields named by `fields`.
    pub fn new(fields: FieldNames) -> Self {
        Self {
            parser: LineParser::new(),
            fields,
        }
    }

    /// The partition folder, relative to the lake, that `line` (without its
    /// line end) would go to, or why it would be quarantined. With `kind`
    /// set, an event whose item id has the other type is refused.
    pub fn check(&mut self, line: &[u8], kind: Option<ItemKind>) -> Result<PathBuf, BadReason> {
        self.parser.parse(line, &self.fields, kind, |r| {
            r.map(|e| {
                // Times are at least 0 and at most MAX_US, so the day fits an i32.
                let day = (e.ts_us / DAY_US) as i32;
                match e.category {
                    CategoryRef::Str(s) => partition_dir(s, day),
                    CategoryRef::Int(i) => partition_dir(&i.to_string(), day),
                }
            })
        })
    }
}
