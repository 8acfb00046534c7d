//! Parsing the human units of the command line: durations (`90d`, `12h`,
//! `30m`, `45s`, `250ms`) and counts (`100M`, `500k`).

/// Nanoseconds per unit suffix.
const DURATION_UNITS: [(&str, f64); 6] = [
    ("ms", 1e6),
    ("w", 7.0 * 86_400e9),
    ("d", 86_400e9),
    ("h", 3_600e9),
    ("m", 60e9),
    ("s", 1e9),
];

/// Parses a positive duration like `7d`, `1.5h` or `30m` into nanoseconds.
pub fn parse_duration_ns(text: &str) -> Result<i64, String> {
    let t = text.trim();
    let malformed = || {
        format!("{text:?} is not a duration: write a number and a unit, like 90d, 12h, 30m, 45s or 250ms")
    };
    let (number, factor) = DURATION_UNITS
        .iter()
        .find_map(|(suffix, f)| t.strip_suffix(suffix).map(|n| (n, *f)))
        .ok_or_else(malformed)?;
    // The number alone: `7dd` or `7days` is no number followed by a unit.
    let number = number.trim();
    if number.is_empty() || !number.chars().all(|c| c.is_ascii_digit() || c == '.') {
        return Err(malformed());
    }
    let value: f64 = number.parse().map_err(|_| malformed())?;
    let ns = value * factor;
    if !(ns.is_finite() && ns >= 1.0) {
        return Err(format!("{text:?}: a duration must be positive"));
    }
    if ns > 100.0 * 365.0 * 86_400e9 {
        return Err(format!("{text:?}: a duration must be under 100 years"));
    }
    Ok(ns.round() as i64)
}

/// Parses a duration that may be zero (`0` turns a cache off), in nanoseconds.
pub fn parse_duration_or_zero_ns(text: &str) -> Result<i64, String> {
    if text.trim() == "0" {
        Ok(0)
    } else {
        parse_duration_ns(text)
    }
}

/// Parses a count like `100M`, `2.5k`, `1000` or `1G`.
pub fn parse_count(text: &str) -> Result<u64, String> {
    let t = text.trim().replace('_', "");
    let (number, factor) = match t.chars().last() {
        Some('k' | 'K') => (&t[..t.len() - 1], 1e3),
        Some('M') => (&t[..t.len() - 1], 1e6),
        Some('G' | 'B') => (&t[..t.len() - 1], 1e9),
        _ => (&t[..], 1.0),
    };
    let value: f64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a count like 1000, 500k or 100M"))?;
    let n = value * factor;
    if !(0.0..1e15).contains(&n) {
        return Err(format!("{text:?} is out of range"));
    }
    Ok(n.round() as u64)
}

/// Parses `NAME=HALF_LIFE` of `--variant`.
pub fn parse_variant(text: &str) -> Result<(String, i64), String> {
    let (name, half_life) = text
        .split_once('=')
        .ok_or_else(|| format!("{text:?}: write a variant as NAME=HALF_LIFE, like fast=1d"))?;
    let name = name.trim();
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c))
    {
        return Err(format!(
            "{text:?}: a variant name is letters, digits, '_', '-' or '.'"
        ));
    }
    Ok((name.to_string(), parse_duration_ns(half_life)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration_ns("90d"), Ok(90 * 86_400_000_000_000));
        assert_eq!(parse_duration_ns("12h"), Ok(12 * 3_600_000_000_000));
        assert_eq!(parse_duration_ns("30m"), Ok(30 * 60_000_000_000));
        assert_eq!(parse_duration_ns("1.5s"), Ok(1_500_000_000));
        assert_eq!(parse_duration_ns("250ms"), Ok(250_000_000));
        assert_eq!(parse_duration_or_zero_ns("0"), Ok(0));
        assert!(parse_duration_or_zero_ns("0s").is_err());
        for bad in ["", "7", "d", "-1d", "0d", "7 days", "1e9d", "nand"] {
            assert!(parse_duration_ns(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn every_malformed_duration_says_how_to_write_one() {
        for bad in ["7dd", "7days", "7D", "seven days", "7", "1.2.3h"] {
            assert_eq!(
                parse_duration_ns(bad),
                Err(format!(
                    "{bad:?} is not a duration: write a number and a unit, like 90d, 12h, 30m, 45s or 250ms"
                )),
            );
        }
    }

    #[test]
    fn counts() {
        assert_eq!(parse_count("100M"), Ok(100_000_000));
        assert_eq!(parse_count("2.5k"), Ok(2_500));
        assert_eq!(parse_count("1_000"), Ok(1_000));
        assert!(parse_count("lots").is_err());
    }

    #[test]
    fn variants() {
        assert_eq!(
            parse_variant("fast=1d"),
            Ok(("fast".into(), 86_400_000_000_000))
        );
        assert!(parse_variant("fast").is_err());
        assert!(parse_variant("a b=1d").is_err());
        assert!(parse_variant("x=0d").is_err());
    }
}
