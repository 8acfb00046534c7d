//! RFC 3339 formatting and parsing of instants held as nanoseconds.

use chrono::{DateTime, SecondsFormat, Utc};

/// Formats `ns` since the epoch as RFC 3339 UTC (`2026-10-15T00:00:00Z`),
/// with fractional seconds only when there are some.
pub fn rfc3339(ns: i64) -> String {
    DateTime::<Utc>::from_timestamp_nanos(ns).to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// Parses an RFC 3339 instant into nanoseconds since the epoch.
pub fn parse_rfc3339(text: &str) -> Result<i64, String> {
    let t = DateTime::parse_from_rfc3339(text)
        .map_err(|e| format!("{text:?} is not an RFC 3339 time: {e}"))?;
    t.timestamp_nanos_opt()
        .ok_or_else(|| format!("{text:?} is outside the years 1677..2262"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let ns = parse_rfc3339("2026-10-15T00:00:00Z").unwrap();
        assert_eq!(rfc3339(ns), "2026-10-15T00:00:00Z");
        assert_eq!(rfc3339(ns + 1_500_000), "2026-10-15T00:00:00.001500Z");
        assert_eq!(parse_rfc3339("2026-10-15T02:00:00+02:00").unwrap(), ns);
        assert!(parse_rfc3339("yesterday").is_err());
    }
}
