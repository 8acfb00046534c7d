//! Purchase times as ingest reads them: RFC 3339 strings and epoch numbers,
//! turned into microseconds since the epoch, and the `dt=` day they fall on.
//!
//! # Epoch numbers
//!
//! A bare number is read by its magnitude, so that a feed may send seconds or
//! milliseconds (or micro- and nanoseconds) without saying which:
//!
//! | absolute value | unit |
//! |---|---|
//! | below 10^11 | seconds (10^11 s is the year 5138) |
//! | 10^11 up to 10^14 | milliseconds (10^11 ms is 1973-03-03) |
//! | 10^14 up to 10^17 | microseconds |
//! | 10^17 and above | nanoseconds |
//!
//! The one ambiguity this leaves: a time in milliseconds before 1973-03-03 is
//! read as seconds (and so lands far in the future, where the range check
//! below refuses it).
//!
//! # Range
//!
//! Times must lie in `[1970-01-01T00:00:00Z, 2262-04-11T23:47:16.854775Z]`:
//! purchases before the epoch are impossible, and the engine holds times as
//! nanoseconds in an i64, which ends in April 2262.

/// Microseconds per day.
pub(crate) const DAY_US: i64 = 86_400_000_000;
/// The latest time the engine can hold (i64 nanoseconds), in microseconds.
pub(crate) const MAX_US: i64 = i64::MAX / 1_000;

/// Why a time was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TimeError {
    /// Not a time at all (not RFC 3339, a bad date, no UTC offset).
    Malformed,
    /// A time, but before 1970 or after 2262.
    OutOfRange,
}

fn in_range(us: i64) -> Result<i64, TimeError> {
    if (0..=MAX_US).contains(&us) {
        Ok(us)
    } else {
        Err(TimeError::OutOfRange)
    }
}

/// An integer epoch time, unit chosen by magnitude (see the module docs).
pub(crate) fn epoch_int_us(v: i64) -> Result<i64, TimeError> {
    let a = v.unsigned_abs();
    let us = if a < 100_000_000_000 {
        v.checked_mul(1_000_000)
    } else if a < 100_000_000_000_000 {
        v.checked_mul(1_000)
    } else if a < 100_000_000_000_000_000 {
        Some(v)
    } else {
        Some(v.div_euclid(1_000))
    };
    us.map_or(Err(TimeError::OutOfRange), in_range)
}

/// A fractional epoch time, unit chosen by magnitude, rounded to the microsecond.
pub(crate) fn epoch_float_us(v: f64) -> Result<i64, TimeError> {
    if !v.is_finite() {
        return Err(TimeError::Malformed);
    }
    let a = v.abs();
    let us = if a < 1e11 {
        v * 1e6
    } else if a < 1e14 {
        v * 1e3
    } else if a < 1e17 {
        v
    } else {
        v / 1e3
    };
    let us = us.round();
    if !(0.0..=MAX_US as f64).contains(&us) {
        return Err(TimeError::OutOfRange);
    }
    in_range(us as i64)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`).
pub(crate) fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day number (inverse of [`days_from_civil`]).
pub(crate) fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// The `dt=` folder value of a day number: `YYYY-MM-DD`.
pub(crate) fn day_name(day: i32) -> String {
    let (y, m, d) = civil_from_days(i64::from(day));
    format!("{y:04}-{m:02}-{d:02}")
}

fn digits(s: &[u8], at: usize, n: usize) -> Option<u32> {
    let part = s.get(at..at + n)?;
    part.iter().try_fold(0u32, |acc, &b| {
        b.is_ascii_digit().then(|| acc * 10 + u32::from(b - b'0'))
    })
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        4 | 6 | 9 | 11 => 30,
        2 if y % 4 == 0 && (y % 100 != 0 || y % 400 == 0) => 29,
        2 => 28,
        _ => 31,
    }
}

/// Parses an RFC 3339 time (`2026-10-15T13:45:00.123Z`,
/// `2026-10-15 15:45:00+02:00`; `T`/`Z` in either case) into microseconds
/// since the epoch. Fractions finer than a microsecond are truncated; a leap
/// second (`:60`) counts as the first second of the next minute. The UTC
/// offset is required: a time without one is refused rather than guessed.
pub(crate) fn rfc3339_us(s: &[u8]) -> Result<i64, TimeError> {
    use TimeError::Malformed;
    let sep = |at: usize, ok: &[u8]| s.get(at).is_some_and(|b| ok.contains(b));
    let (Some(y), Some(mo), Some(d)) = (digits(s, 0, 4), digits(s, 5, 2), digits(s, 8, 2)) else {
        return Err(Malformed);
    };
    let (Some(h), Some(mi), Some(sec)) = (digits(s, 11, 2), digits(s, 14, 2), digits(s, 17, 2))
    else {
        return Err(Malformed);
    };
    if !(sep(4, b"-") && sep(7, b"-") && sep(10, b"Tt ") && sep(13, b":") && sep(16, b":")) {
        return Err(Malformed);
    }
    let y = i64::from(y);
    if !(1..=12).contains(&mo) || d == 0 || d > days_in_month(y, mo) || h > 23 || mi > 59 {
        return Err(Malformed);
    }
    if sec > 60 {
        return Err(Malformed);
    }
    let mut at = 19;
    let mut frac_us = 0i64;
    if s.get(at) == Some(&b'.') {
        at += 1;
        let start = at;
        while s.get(at).is_some_and(u8::is_ascii_digit) {
            if at - start < 6 {
                frac_us = frac_us * 10 + i64::from(s[at] - b'0');
            }
            at += 1;
        }
        if at == start {
            return Err(Malformed);
        }
        for _ in (at - start)..6 {
            frac_us *= 10;
        }
    }
    let offset_s = match s.get(at) {
        Some(b'Z' | b'z') if at + 1 == s.len() => 0,
        Some(&sign @ (b'+' | b'-')) if at + 6 == s.len() && sep(at + 3, b":") => {
            let (Some(oh), Some(om)) = (digits(s, at + 1, 2), digits(s, at + 4, 2)) else {
                return Err(Malformed);
            };
            if oh > 23 || om > 59 {
                return Err(Malformed);
            }
            let o = i64::from(oh * 3_600 + om * 60);
            if sign == b'-' {
                -o
            } else {
                o
            }
        }
        _ => return Err(Malformed),
    };
    let days = days_from_civil(y, mo, d);
    let secs = days * 86_400 + i64::from(h * 3_600 + mi * 60 + sec) - offset_s;
    // Years are at most 9999, so this cannot overflow.
    in_range(secs * 1_000_000 + frac_us)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn chrono_us(s: &str) -> Option<i64> {
        chrono::DateTime::parse_from_rfc3339(s)
            .ok()
            .map(|t| t.timestamp_micros())
    }

    #[test]
    fn parses_rfc3339_forms() {
        let base = 1_792_022_400_000_000; // 2026-10-15T00:00:00Z
        assert_eq!(rfc3339_us(b"2026-10-15T00:00:00Z"), Ok(base));
        assert_eq!(rfc3339_us(b"2026-10-15t00:00:00z"), Ok(base));
        assert_eq!(rfc3339_us(b"2026-10-15 02:00:00+02:00"), Ok(base));
        assert_eq!(rfc3339_us(b"2026-10-14T19:30:00-04:30"), Ok(base));
        assert_eq!(rfc3339_us(b"2026-10-15T00:00:00.5Z"), Ok(base + 500_000));
        assert_eq!(
            rfc3339_us(b"2026-10-15T00:00:00.123456789Z"),
            Ok(base + 123_456)
        );
        assert_eq!(rfc3339_us(b"2024-02-29T00:00:00Z").map(|_| ()), Ok(()));
        for bad in [
            &b"2026-10-15T00:00:00"[..],
            b"2026-10-15",
            b"2026-13-01T00:00:00Z",
            b"2025-02-29T00:00:00Z",
            b"2026-10-15T24:00:00Z",
            b"2026-10-15T00:00:00.Z",
            b"2026-10-15T00:00:00Z ",
            b"2026-10-15T00:00:00+0200",
            b"yesterday",
            b"",
        ] {
            assert_eq!(rfc3339_us(bad), Err(TimeError::Malformed), "{bad:?}");
        }
        assert_eq!(
            rfc3339_us(b"1969-12-31T23:59:59Z"),
            Err(TimeError::OutOfRange)
        );
        assert_eq!(
            rfc3339_us(b"2263-01-01T00:00:00Z"),
            Err(TimeError::OutOfRange)
        );
    }

    #[test]
    fn epoch_units_follow_magnitude() {
        let s = 1_792_022_400i64;
        assert_eq!(epoch_int_us(s), Ok(s * 1_000_000));
        assert_eq!(epoch_int_us(s * 1_000), Ok(s * 1_000_000));
        assert_eq!(epoch_int_us(s * 1_000_000), Ok(s * 1_000_000));
        assert_eq!(epoch_int_us(s * 1_000_000_000), Ok(s * 1_000_000));
        assert_eq!(epoch_int_us(-1), Err(TimeError::OutOfRange));
        assert_eq!(epoch_int_us(i64::MIN), Err(TimeError::OutOfRange));
        assert_eq!(
            epoch_float_us(1_792_022_400.25),
            Ok(s * 1_000_000 + 250_000)
        );
        assert_eq!(
            epoch_float_us(1_792_022_400_250.0),
            Ok(s * 1_000_000 + 250_000)
        );
        assert_eq!(epoch_float_us(-0.5), Err(TimeError::OutOfRange));
        assert_eq!(epoch_float_us(1e30), Err(TimeError::OutOfRange));
    }

    #[test]
    fn day_names_round_trip() {
        assert_eq!(day_name(0), "1970-01-01");
        assert_eq!(day_name(20_741), "2026-10-15");
        assert_eq!(days_from_civil(2026, 10, 15), 20_741);
        assert_eq!(day_name((MAX_US / DAY_US) as i32), "2262-04-11");
    }

    proptest! {
        #[test]
        fn agrees_with_chrono(
            y in 1970i64..2262, mo in 1u32..=12, d in 1u32..=31, h in 0u32..24,
            mi in 0u32..60, s in 0u32..60, frac in proptest::option::of(0u32..1_000_000_000),
            off in proptest::option::of(-1439i32..=1439),
        ) {
            let frac = frac.map_or(String::new(), |f| format!(".{f:09}"));
            let off = off.map_or("Z".to_string(), |o| {
                format!("{}{:02}:{:02}", if o < 0 { '-' } else { '+' }, o.abs() / 60, o.abs() % 60)
            });
            let text = format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}{frac}{off}");
            let want = chrono_us(&text).filter(|us| (0..=MAX_US).contains(us));
            prop_assert_eq!(rfc3339_us(text.as_bytes()).ok(), want, "{}", text);
        }

        #[test]
        fn civil_round_trips(day in 0i64..106_751) {
            let (y, m, d) = civil_from_days(day);
            prop_assert_eq!(days_from_civil(y, m, d), day);
        }
    }
}
