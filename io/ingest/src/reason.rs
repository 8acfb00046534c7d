//! Why a line is quarantined: the reasons, named as the quarantine file and
//! the run report spell them.

/// Why a line went to quarantine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum BadReason {
    /// Not valid JSON (including invalid UTF-8 and several documents on a line).
    InvalidJson,
    /// Valid JSON, but not an object.
    NotAnObject,
    /// No item id field, or it is null.
    MissingItemId,
    /// An item id that is neither an integer within INT64 nor a non-empty
    /// string of at most 1 KiB.
    BadItemId,
    /// No category field, or it is null.
    MissingCategory,
    /// An empty category, or one that is neither a string nor an integer, or
    /// too long for a folder name, or one that could name another folder
    /// (`.`, `..`, or holding `/` or NUL).
    BadCategory,
    /// No time field, or it is null.
    MissingTs,
    /// A time that is neither RFC 3339 (with a UTC offset) nor an epoch number.
    BadTs,
    /// A time before 1970 or after 2262-04-11.
    TsOutOfRange,
    /// A quantity that is not an integer within INT32.
    BadQuantity,
    /// An item id of the other type than the lake's.
    IdType,
    /// A line longer than the longest line accepted.
    LineTooLong,
}

impl BadReason {
    /// The reason's name in the quarantine file and the run report.
    pub fn as_str(self) -> &'static str {
        match self {
            BadReason::InvalidJson => "invalid_json",
            BadReason::NotAnObject => "not_an_object",
            BadReason::MissingItemId => "missing_item_id",
            BadReason::BadItemId => "bad_item_id",
            BadReason::MissingCategory => "missing_category",
            BadReason::BadCategory => "bad_category",
            BadReason::MissingTs => "missing_ts",
            BadReason::BadTs => "bad_ts",
            BadReason::TsOutOfRange => "ts_out_of_range",
            BadReason::BadQuantity => "bad_quantity",
            BadReason::IdType => "id_type",
            BadReason::LineTooLong => "line_too_long",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_snake_case_and_distinct() {
        let all = [
            BadReason::InvalidJson,
            BadReason::NotAnObject,
            BadReason::MissingItemId,
            BadReason::BadItemId,
            BadReason::MissingCategory,
            BadReason::BadCategory,
            BadReason::MissingTs,
            BadReason::BadTs,
            BadReason::TsOutOfRange,
            BadReason::BadQuantity,
            BadReason::IdType,
            BadReason::LineTooLong,
        ];
        let mut names: Vec<&str> = all.iter().map(|r| r.as_str()).collect();
        assert!(names
            .iter()
            .all(|n| n.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')));
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), all.len());
    }
}
