//! Parquet inputs: corpus files with byte flips (most of them in the footer,
//! where one byte changes how everything else is read), truncations,
//! spliced footers (one file's data under another file's metadata) and the
//! generic mutations.

use rand::rngs::SmallRng;
use rand::Rng;

use crate::mutate::{mutate, mutate_once};

/// Where the footer's metadata starts, if `file` ends like Parquet:
/// `<metadata><u32 LE length>PAR1`.
pub fn footer_start(file: &[u8]) -> Option<usize> {
    let n = file.len();
    if n < 12 || &file[n - 4..] != b"PAR1" {
        return None;
    }
    let len = u32::from_le_bytes(file[n - 8..n - 4].try_into().ok()?) as usize;
    (n - 8).checked_sub(len).filter(|&s| s >= 4)
}

/// `data`'s pages under `meta`'s footer: offsets and sizes now point at the
/// wrong bytes.
pub fn splice_footer(data: &[u8], meta: &[u8]) -> Vec<u8> {
    let body = footer_start(data).unwrap_or(data.len());
    let foot = footer_start(meta).unwrap_or(meta.len().saturating_sub(8));
    let mut out = data[..body].to_vec();
    out.extend_from_slice(&meta[foot..]);
    out
}

/// One input from the seeds (files).
pub fn input(rng: &mut SmallRng, seeds: &[&[u8]]) -> Vec<u8> {
    let seed = seeds[rng.random_range(0..seeds.len())];
    let other = seeds[rng.random_range(0..seeds.len())];
    match rng.random_range(0..6) {
        0 => {
            let mut out = splice_footer(seed, other);
            if rng.random() {
                mutate_once(rng, &mut out, other);
            }
            out
        }
        1 => {
            let mut out = seed.to_vec();
            out.truncate(rng.random_range(0..=seed.len()));
            out
        }
        2 | 3 => {
            // Flips and overwrites inside the footer's metadata.
            let mut out = seed.to_vec();
            let start = footer_start(seed).unwrap_or(0);
            for _ in 0..rng.random_range(1..=4) {
                let i = rng.random_range(start..out.len());
                if rng.random() {
                    out[i] ^= 1 << rng.random_range(0..8);
                } else {
                    out[i] = rng.random();
                }
            }
            out
        }
        _ => mutate(rng, seed, other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_and_splices_footers() {
        let a = b"PAR1dataMETA\x04\x00\x00\x00PAR1";
        assert_eq!(footer_start(a), Some(8));
        assert_eq!(footer_start(b"PAR1"), None);
        let b = b"PAR1xxxxxxMETB\x04\x00\x00\x00PAR1";
        assert_eq!(splice_footer(a, b), b"PAR1dataMETB\x04\x00\x00\x00PAR1");
    }
}
