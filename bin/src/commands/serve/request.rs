//! What a `GET /v1/top-sellers/{category}` may ask, checked before anything
//! reaches Redis or DynamoDB.
//!
//! - `category`: 1 to 128 bytes of ASCII letters, digits, space and
//!   `_ . - / & + : %` (the path segment is percent-decoded first, so a
//!   `/` inside a category is sent as `%2F` and a space as `%20`).
//!   Categories with other characters (non-ASCII, `#`, quotes, control
//!   characters) cannot be served.
//! - `variant`: 1 to 64 bytes of ASCII letters, digits, `_ . -` (what
//!   `compute --variant NAME=…` accepts); default from `--default-variant`.
//! - `limit`: a whole number from 1 to `--max-limit`; missing = every item.
//! - `user`: a user id for A/B assignment, 1 to 256 bytes of printable
//!   ASCII (also read from the `X-User-Id` header; both given must agree).
//! - Any other query parameter, a parameter given twice or a value that is
//!   not UTF-8 is a 400: the site learns of a typo at once rather than
//!   getting an answer that ignores it.

use percent_encoding::percent_decode_str;

/// Longest category, bytes.
pub const MAX_CATEGORY: usize = 128;
/// Longest variant, bytes.
pub const MAX_VARIANT: usize = 64;
/// Longest user id, bytes.
pub const MAX_USER: usize = 256;

/// A checked request.
#[derive(Debug, Clone, PartialEq)]
pub struct TopSellersQuery {
    /// The variant.
    pub variant: String,
    /// How many items, `None` for all.
    pub limit: Option<usize>,
    /// Whether the request named its variant (else it is the default).
    pub explicit: bool,
    /// The user id of `?user=`, for A/B assignment.
    pub user: Option<String>,
}

/// Checks a category (already percent-decoded).
pub fn check_category(category: &str) -> Result<(), String> {
    check(category, "category", MAX_CATEGORY, " _.-/&+:%")
}

/// Checks a user id (from `?user=` or `X-User-Id`).
pub fn check_user(user: &str) -> Result<(), String> {
    if user.is_empty() || user.len() > MAX_USER {
        return Err(format!(
            "user id must be 1 to {MAX_USER} bytes long, not {}",
            user.len()
        ));
    }
    match user.chars().find(|c| !c.is_ascii_graphic()) {
        Some(c) => Err(format!(
            "user id {:?} holds {c:?}: use printable ASCII without spaces",
            shorten(user)
        )),
        None => Ok(()),
    }
}

/// Checks a variant name.
pub fn check_variant(variant: &str) -> Result<(), String> {
    check(variant, "variant", MAX_VARIANT, "_.-")
}

fn check(value: &str, what: &str, max: usize, extra: &str) -> Result<(), String> {
    if value.is_empty() || value.len() > max {
        return Err(format!(
            "{what} must be 1 to {max} bytes long, not {}",
            value.len()
        ));
    }
    match value
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || extra.contains(*c)))
    {
        Some(c) => Err(format!(
            "{what} {:?} holds {c:?}: use ASCII letters, digits and {:?}",
            shorten(value),
            extra
        )),
        None => Ok(()),
    }
}

/// At most 40 characters of `value`, for error messages.
fn shorten(value: &str) -> String {
    match value.char_indices().nth(40) {
        Some((i, _)) => format!("{}…", &value[..i]),
        None => value.to_string(),
    }
}

fn decode(text: &str) -> Result<String, String> {
    let plus = text.replace('+', " ");
    percent_decode_str(&plus)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| format!("{:?} is not UTF-8 once percent-decoded", shorten(text)))
}

/// Parses and checks the query string (without `?`).
pub fn parse_query(
    query: Option<&str>,
    default_variant: &str,
    max_limit: usize,
) -> Result<TopSellersQuery, String> {
    let (mut variant, mut limit, mut user) = (None, None, None);
    for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let (key, value) = (decode(key)?, decode(value)?);
        let slot = match key.as_str() {
            "variant" => &mut variant,
            "limit" => &mut limit,
            "user" => &mut user,
            _ => {
                return Err(format!(
                    "unknown query parameter {:?} (known: variant, limit, user)",
                    shorten(&key)
                ))
            }
        };
        if slot.replace(value).is_some() {
            return Err(format!("query parameter {key:?} is given twice"));
        }
    }
    let explicit = variant.is_some();
    let variant = variant.unwrap_or_else(|| default_variant.to_string());
    check_variant(&variant)?;
    let limit = limit
        .map(|text| match text.parse::<usize>() {
            Ok(k) if (1..=max_limit).contains(&k) => Ok(k),
            _ => Err(format!(
                "limit {:?}: use a whole number from 1 to {max_limit}",
                shorten(&text)
            )),
        })
        .transpose()?;
    if let Some(user) = &user {
        check_user(user)?;
    }
    Ok(TopSellersQuery {
        variant,
        limit,
        explicit,
        user,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(text: &str) -> Result<TopSellersQuery, String> {
        parse_query(Some(text), "default", 100)
    }

    #[test]
    fn good_queries() {
        assert_eq!(
            parse_query(None, "default", 100),
            Ok(TopSellersQuery {
                variant: "default".into(),
                limit: None,
                explicit: false,
                user: None,
            })
        );
        assert_eq!(
            q("variant=fast&limit=10"),
            Ok(TopSellersQuery {
                variant: "fast".into(),
                limit: Some(10),
                explicit: true,
                user: None,
            })
        );
        assert_eq!(q("limit=100&").unwrap().limit, Some(100));
        assert_eq!(q("variant=f%61st").unwrap().variant, "fast");
        assert_eq!(q("user=u%2F1").unwrap().user.as_deref(), Some("u/1"));
    }

    #[test]
    fn bad_queries_say_why() {
        for (text, why) in [
            ("limit=0", "1 to 100"),
            ("limit=101", "1 to 100"),
            ("limit=ten", "1 to 100"),
            ("limit=-1", "1 to 100"),
            ("limit=", "1 to 100"),
            ("limit=99999999999999999999999", "1 to 100"),
            ("page=2", "unknown query parameter \"page\""),
            ("limit=1&limit=2", "twice"),
            ("variant=", "1 to 64 bytes"),
            ("variant=a%23b", "holds '#'"),
            ("variant=%FF", "not UTF-8"),
            ("variant=FLUSHALL%0D%0A", "holds '\\r'"),
            ("user=", "user id must be 1 to 256 bytes"),
            ("user=a%20b", "holds ' '"),
            ("user=a&user=b", "twice"),
        ] {
            let e = q(text).unwrap_err();
            assert!(e.contains(why), "{text}: {e}");
        }
    }

    #[test]
    fn categories() {
        for good in [
            "toys",
            "Toys & Games/Board games",
            "a:b+c%d",
            "cat-0001_x.y",
        ] {
            assert_eq!(check_category(good), Ok(()), "{good}");
        }
        assert!(check_category(&"x".repeat(128)).is_ok());
        for bad in ["", "a#b", "café", "a\nb", "a\"b", "*", "a\u{0}b"] {
            assert!(check_category(bad).is_err(), "{bad:?}");
        }
        let long = check_category(&"x".repeat(129)).unwrap_err();
        assert!(long.contains("1 to 128 bytes"), "{long}");
    }
}
