//! The one way a body is written to Redis: a Lua script that sets the key
//! only when it holds no body, or one whose generation is not newer.
//!
//! Publish's warm-up and serve's read-through fill both write with it, so
//! neither a publish that lost a race with a newer one nor a DynamoDB read
//! that raced a publish can put an older run back for the TTL. A check
//! from the client followed by a SET could interleave with another
//! writer's SET; the script runs atomically in Redis.

use std::sync::LazyLock;

/// `KEYS[1]` the key; `ARGV[1]` the body, `ARGV[2]` its generation,
/// `ARGV[3]` the TTL in seconds. Returns 1 when written, 0 when the stored
/// body is of a newer generation (then nothing changes).
///
/// The stored generation is read from the body's `"generation":N`: the
/// first match is the field, since the strings before it (category,
/// variant, `as_of`) escape their quotes. A stored value without one (not
/// a body) is replaced. Generations are epoch milliseconds, exact in Lua's
/// numbers (doubles) for the next 280,000 years.
const SOURCE: &str = r#"
local stored = redis.call('GET', KEYS[1])
if stored then
  local g = tonumber(string.match(stored, '"generation":(%-?%d+)'))
  if g and g > tonumber(ARGV[2]) then
    return 0
  end
end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[3])
return 1
"#;

static SCRIPT: LazyLock<redis::Script> = LazyLock::new(|| redis::Script::new(SOURCE));

/// The script, for [`redis::Script::invoke_async`] (which loads it when
/// Redis does not have it) and for `SCRIPT LOAD`.
pub fn script() -> &'static redis::Script {
    &SCRIPT
}

/// The script's invocation for `key`, as one command (`EVALSHA`); Redis
/// must have loaded the script (pipelines load it first).
pub fn evalsha(key: &str, body: &[u8], generation: i64, ttl_s: u64) -> redis::Cmd {
    let mut cmd = redis::cmd("EVALSHA");
    cmd.arg(SCRIPT.get_hash())
        .arg(1)
        .arg(key)
        .arg(body)
        .arg(generation)
        .arg(ttl_s);
    cmd
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::api_body;

    /// The script's pattern, applied as Lua would to a body whose strings
    /// hold quotes and the field's own name.
    #[test]
    fn the_generation_read_is_the_field_not_a_string() {
        let body = api_body(
            "default",
            r#"x"generation":9"#,
            "2026-10-15T00:00:00Z",
            1_792_022_400_000,
            &[],
            None,
        );
        let at = body.find("\"generation\":").unwrap();
        assert!(
            body[at..].starts_with("\"generation\":1792022400000,"),
            "{body}"
        );
        assert!(SOURCE.contains(r#"'"generation":(%-?%d+)'"#));
    }
}
