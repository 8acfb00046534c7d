//! NDJSON inputs: corpus lines mutated byte by byte, and lines generated
//! from scratch to reach what mutation rarely does: deep nesting, huge and
//! odd numbers, invalid UTF-8, escapes, and lines of 10 MB.

use rand::rngs::SmallRng;
use rand::Rng;

use crate::mutate::mutate;

/// Field names the parser looks for, and a few it does not.
const KEYS: &[&str] = &[
    "item_id",
    "category",
    "category_id",
    "ts",
    "purchased_at",
    "quantity",
    "x",
    "",
    "item_id\\u0000",
    "\\u0063ategory",
];

/// Number texts at and past every limit the parser checks.
const NUMBERS: &[&str] = &[
    "0",
    "-0",
    "1",
    "-1",
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775808",
    "-9223372036854775809",
    "18446744073709551615",
    "18446744073709551616",
    "2147483647",
    "2147483648",
    "-2147483648",
    "1e308",
    "1e309",
    "-1e309",
    "1.7976931348623157e308",
    "4.9e-324",
    "1e-400",
    "2.0",
    "2.5",
    "1792022400",
    "1792022400000",
    "1792022400000000",
    "9223372036.854775807",
    "1E+2",
    "00",
    "01",
    "1.",
    ".5",
    "+1",
    "NaN",
    "Infinity",
    "1e99999999999999999999",
];

/// String bodies: valid, escaped, and invalid UTF-8.
const STRINGS: &[&[u8]] = &[
    b"toys",
    b"",
    b".",
    b"..",
    b"../../etc",
    b"a/b",
    b"\\u0000",
    b"a\\u002Fb",
    b"\\ud800",
    b"\\udc00\\ud800",
    b"\\uD83D\\uDE00",
    b"\xC3\x28",
    b"\xFF\xFE",
    b"\xED\xA0\x80",
    b"\xF4\x90\x80\x80",
    b"\xC0\xAF",
    b"caf\xC3\xA9",
    b"\\\"",
    b"\\x41",
    b"2026-10-15T00:00:00Z",
    b"2026-10-15T00:00:00.123456789+14:00",
    b"2262-04-11T23:47:16.854775808Z",
    b"1969-12-31T23:59:59Z",
    b"2026-02-30T00:00:00Z",
    b"9999-99-99T99:99:99Z",
];

fn push_value(rng: &mut SmallRng, out: &mut Vec<u8>, depth: u32) {
    match rng.random_range(0..8) {
        0 | 1 => out.extend_from_slice(NUMBERS[rng.random_range(0..NUMBERS.len())].as_bytes()),
        2 | 3 => {
            out.push(b'"');
            out.extend_from_slice(STRINGS[rng.random_range(0..STRINGS.len())]);
            out.push(b'"');
        }
        4 => {
            let words: [&[u8]; 3] = [b"null", b"true", b"false"];
            out.extend_from_slice(words[rng.random_range(0..3)]);
        }
        5 if depth < 4 => {
            out.push(b'[');
            for i in 0..rng.random_range(0..4) {
                if i > 0 {
                    out.push(b',');
                }
                push_value(rng, out, depth + 1);
            }
            out.push(b']');
        }
        _ if depth < 4 => push_object(rng, out, depth + 1),
        _ => out.push(b'1'),
    }
}

fn push_object(rng: &mut SmallRng, out: &mut Vec<u8>, depth: u32) {
    out.push(b'{');
    for i in 0..rng.random_range(0..7) {
        if i > 0 {
            out.push(b',');
        }
        out.push(b'"');
        out.extend_from_slice(KEYS[rng.random_range(0..KEYS.len())].as_bytes());
        out.extend_from_slice(b"\":");
        push_value(rng, out, depth);
    }
    out.push(b'}');
}

/// An event that is valid but for `hole`, a huge value put in one field.
fn with_hole(field: &str, hole: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(hole.len() + 64);
    out.extend_from_slice(br#"{"item_id":7,"category":"c","ts":1792022400,"#);
    out.push(b'"');
    out.extend_from_slice(field.as_bytes());
    out.extend_from_slice(b"\":");
    out.extend_from_slice(hole);
    out.push(b'}');
    out
}

/// A line of 10 MB: one long string, or a long array of numbers.
pub fn huge_line(rng: &mut SmallRng) -> Vec<u8> {
    let n = 10 << 20;
    let hole = if rng.random() {
        let mut s = vec![b'"'];
        s.extend(std::iter::repeat_n(b'z', n));
        s.push(b'"');
        s
    } else {
        let mut s = b"[1".to_vec();
        s.extend(b",1".repeat(n / 2));
        s.push(b']');
        s
    };
    let field = ["x", "category", "item_id"][rng.random_range(0..3)];
    with_hole(field, &hole)
}

/// One generated line (or, rarely, a few), without a final line end.
pub fn generate(rng: &mut SmallRng) -> Vec<u8> {
    match rng.random_range(0..9) {
        0 => {
            // Deep nesting, balanced or not.
            let depth = rng.random_range(1..=200_000);
            let open = if rng.random() { b'[' } else { b'{' };
            let mut hole = vec![open; depth];
            if open == b'{' {
                hole = b"{\"a\":".repeat(depth);
                hole.push(b'1');
                hole.extend(std::iter::repeat_n(b'}', rng.random_range(0..=depth)));
            } else {
                hole.extend(std::iter::repeat_n(b']', rng.random_range(0..=depth)));
            }
            with_hole("x", &hole)
        }
        1 => {
            // A huge number in a field the parser reads.
            let digits = rng.random_range(1..=100_000);
            let mut n: Vec<u8> = (0..digits)
                .map(|_| b'0' + rng.random_range(0..10))
                .collect();
            if rng.random() {
                n.extend_from_slice(b".5e-99999");
            }
            let field = ["item_id", "ts", "quantity", "category"][rng.random_range(0..4)];
            with_hole(field, &n)
        }
        2 => {
            // Random bytes.
            let n = rng.random_range(0..256);
            (0..n).map(|_| rng.random()).collect()
        }
        3 => {
            // Several lines of generated objects, CRLF or not.
            let mut out = Vec::new();
            for _ in 0..rng.random_range(1..8) {
                push_object(rng, &mut out, 0);
                out.extend_from_slice(if rng.random() { b"\r\n" } else { b"\n" });
            }
            out
        }
        _ => {
            let mut out = Vec::new();
            push_object(rng, &mut out, 0);
            out
        }
    }
}

/// One input: a corpus line mutated (most often) or a generated one.
pub fn input(rng: &mut SmallRng, seeds: &[&[u8]]) -> Vec<u8> {
    if seeds.is_empty() || rng.random_range(0..3) == 0 {
        return generate(rng);
    }
    let seed = seeds[rng.random_range(0..seeds.len())];
    let other = seeds[rng.random_range(0..seeds.len())];
    mutate(rng, seed, other)
}
