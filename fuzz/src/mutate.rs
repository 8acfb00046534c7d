//! Byte-level mutations of a seed: bit flips, interesting bytes,
//! truncation, deletion, insertion, duplication, overwrites and splices
//! with another seed. A few are stacked per input.

use rand::rngs::SmallRng;
use rand::Rng;

/// Bytes that often change how a parser reads what follows.
const INTERESTING: &[u8] = &[
    0x00, 0xFF, 0x7F, 0x80, 0xC0, 0xE0, 0xF0, 0x01, b'"', b'\\', b'{', b'}', b'[', b']', b',',
    b':', b'0', b'9', b'-', b'e', b'.', b'\n', b'\r', b' ',
];

/// A random position in `0..=len`.
fn pos(rng: &mut SmallRng, len: usize) -> usize {
    rng.random_range(0..=len)
}

/// A random range of `data` of at most `max` bytes.
fn range(rng: &mut SmallRng, len: usize, max: usize) -> std::ops::Range<usize> {
    let start = pos(rng, len);
    let end = (start + rng.random_range(0..=max.max(1))).min(len);
    start..end
}

/// Applies one random mutation to `data`; `other` is another seed for
/// splices.
pub fn mutate_once(rng: &mut SmallRng, data: &mut Vec<u8>, other: &[u8]) {
    let len = data.len();
    match rng.random_range(0..9) {
        0 if len > 0 => {
            let i = rng.random_range(0..len);
            data[i] ^= 1 << rng.random_range(0..8);
        }
        1 if len > 0 => {
            let i = rng.random_range(0..len);
            data[i] = INTERESTING[rng.random_range(0..INTERESTING.len())];
        }
        2 => data.truncate(pos(rng, len)),
        3 => {
            let r = range(rng, len, 64);
            data.drain(r);
        }
        4 => {
            let at = pos(rng, len);
            let n = rng.random_range(1..=32);
            let bytes: Vec<u8> = (0..n).map(|_| rng.random()).collect();
            data.splice(at..at, bytes);
        }
        5 => {
            let r = range(rng, len, 256);
            let copy = data[r].to_vec();
            let at = pos(rng, len);
            data.splice(at..at, copy);
        }
        6 if len > 0 => {
            let r = range(rng, len, 16);
            for b in &mut data[r] {
                *b = rng.random();
            }
        }
        7 if !other.is_empty() => {
            // Keep a head of this seed, then a tail of the other.
            let at = pos(rng, len);
            let from = rng.random_range(0..other.len());
            data.truncate(at);
            data.extend_from_slice(&other[from..]);
        }
        _ => {
            // A run of one interesting byte (long runs of `[`, `0`, `"`).
            let at = pos(rng, len);
            let b = INTERESTING[rng.random_range(0..INTERESTING.len())];
            let n = rng.random_range(1..=1_000);
            data.splice(at..at, std::iter::repeat_n(b, n));
        }
    }
}

/// `seed` with one to four stacked mutations.
pub fn mutate(rng: &mut SmallRng, seed: &[u8], other: &[u8]) -> Vec<u8> {
    let mut data = seed.to_vec();
    for _ in 0..rng.random_range(1..=4) {
        mutate_once(rng, &mut data, other);
    }
    data
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn a_seed_fixes_the_mutations_and_they_change_the_input() {
        let seed = br#"{"item_id":1,"category":"a","ts":1}"#;
        let run = |s| {
            let mut rng = SmallRng::seed_from_u64(s);
            (0..200)
                .map(|_| mutate(&mut rng, seed, b"other"))
                .collect::<Vec<_>>()
        };
        let a = run(7);
        assert_eq!(a, run(7));
        assert_ne!(a, run(8));
        assert!(a.iter().filter(|m| m.as_slice() != seed).count() > 150);
    }
}
