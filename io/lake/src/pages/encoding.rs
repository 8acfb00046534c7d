//! The Parquet value encodings the page decoder reads itself: the
//! RLE/bit-packed hybrid (definition levels and dictionary indices), PLAIN
//! integers and byte arrays, and DELTA_BINARY_PACKED integers.
//!
//! Every reader checks its input against the lengths it was given and says
//! [`Unsupported`] on anything short or malformed: the caller then hands the
//! unit to the Arrow path, which reports a damaged file in its own words.

use super::Unsupported;

/// Reads `bits` (≤ 64) bits at bit `at` of `data`, least significant first.
#[inline(always)]
fn bits_at(data: &[u8], at: usize, bits: u32) -> Result<u64, Unsupported> {
    if bits == 0 {
        return Ok(0);
    }
    let byte = at / 8;
    let shift = (at % 8) as u32;
    let needed = (shift + bits).div_ceil(8) as usize;
    let word = if let Some(chunk) = data.get(byte..byte + 16) {
        u128::from_le_bytes(
            chunk
                .try_into()
                .map_err(|_| Unsupported("bit-packed run"))?,
        )
    } else {
        let tail = data
            .get(byte..byte + needed)
            .ok_or(Unsupported("bit-packed run past the page's end"))?;
        let mut buf = [0u8; 16];
        buf[..tail.len()].copy_from_slice(tail);
        u128::from_le_bytes(buf)
    };
    let mask = if bits == 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    };
    Ok((word >> shift) as u64 & mask)
}

/// Appends `n` values of `width` (≤ 32) bits packed from byte `start` of
/// `data`, least significant bit first.
#[inline]
fn unpack32(
    data: &[u8],
    start: usize,
    width: u32,
    n: usize,
    out: &mut Vec<u32>,
) -> Result<(), Unsupported> {
    let w = width as usize;
    let mask = if width == 32 {
        u64::from(u32::MAX)
    } else {
        (1u64 << width) - 1
    };
    // Values whose 8-byte window lies inside `data` load it whole (a value
    // spans at most 7 + 32 bits); the last few take the careful path.
    let fast = match data.len().checked_sub(start + 8) {
        _ if w == 0 => n,
        Some(slack) => (slack * 8 / w + 1).min(n),
        None => 0,
    };
    if w == 0 {
        out.resize(out.len() + n, 0);
        return Ok(());
    }
    // Whole groups of 8 values first, at a width known when compiled;
    // `fast` was chosen so that every 8-byte window read lies inside `data`.
    let groups = fast / 8;
    unpack_groups(&data[start..], width, groups, out);
    let done = groups * 8;
    out.extend((done..fast).map(|i| {
        let bit = i * w;
        let at = start + bit / 8;
        let b = &data[at..at + 8];
        let word = u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]);
        ((word >> (bit % 8)) & mask) as u32
    }));
    for i in fast..n {
        out.push(bits_at(data, start * 8 + i * w, width)? as u32);
    }
    Ok(())
}

/// Appends `groups` groups of 8 values of `width` (1..=32) bits from the
/// start of `data`, in which every value's 8-byte window lies (the caller
/// checks it).
fn unpack_groups(data: &[u8], width: u32, groups: usize, out: &mut Vec<u32>) {
    /// One width, its offsets, shifts and mask constants: 8 values a group,
    /// one bounds check a group.
    fn run<const W: usize>(data: &[u8], groups: usize, out: &mut Vec<u32>) {
        let mask = if W == 32 {
            u64::from(u32::MAX)
        } else {
            (1u64 << W) - 1
        };
        // The last value of a group starts in byte 7W/8 and reads 8 bytes.
        let span = 7 * W / 8 + 8;
        out.reserve(groups * 8);
        for g in 0..groups {
            let window = &data[g * W..g * W + span];
            let mut values = [0u32; 8];
            for (j, v) in values.iter_mut().enumerate() {
                let bit = j * W;
                let b = &window[bit / 8..bit / 8 + 8];
                let word = u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]);
                *v = ((word >> (bit % 8)) & mask) as u32;
            }
            out.extend_from_slice(&values);
        }
    }
    macro_rules! widths {
        ($($w:literal)*) => {
            match width {
                $($w => run::<$w>(data, groups, out),)*
                _ => unreachable!("bit width {width} outside 1..=32"),
            }
        };
    }
    widths!(1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32);
}

/// Reads an unsigned LEB128 varint at `*pos`.
fn uleb(data: &[u8], pos: &mut usize) -> Result<u64, Unsupported> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *data
            .get(*pos)
            .ok_or(Unsupported("varint past the page's end"))?;
        *pos += 1;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(Unsupported("varint longer than 64 bits"))
}

/// Reads a zigzag-encoded signed varint at `*pos`.
fn zigzag(data: &[u8], pos: &mut usize) -> Result<i64, Unsupported> {
    let v = uleb(data, pos)?;
    Ok((v >> 1) as i64 ^ -((v & 1) as i64))
}

/// Decodes `n` values of the RLE/bit-packed hybrid encoding of width
/// `width` (≤ 32) from `data`, appending them to `out`.
pub(super) fn hybrid(
    data: &[u8],
    width: u32,
    n: usize,
    out: &mut Vec<u32>,
) -> Result<(), Unsupported> {
    if width > 32 {
        return Err(Unsupported("RLE bit width above 32"));
    }
    let target = out.len() + n;
    let mut pos = 0;
    while out.len() < target {
        let header = uleb(data, &mut pos)?;
        let left = target - out.len();
        if header & 1 == 1 {
            // Bit-packed: groups of 8 values, `width` bytes a group.
            let groups = (header >> 1) as usize;
            let count = groups * 8;
            let take = count.min(left);
            unpack32(data, pos, width, take, out)?;
            pos += groups * width as usize;
        } else {
            let count = (header >> 1) as usize;
            if count == 0 {
                return Err(Unsupported("empty RLE run"));
            }
            let bytes = width.div_ceil(8) as usize;
            let raw = data
                .get(pos..pos + bytes)
                .ok_or(Unsupported("RLE run past the page's end"))?;
            let mut buf = [0u8; 4];
            buf[..bytes].copy_from_slice(raw);
            pos += bytes;
            let value = u32::from_le_bytes(buf);
            out.resize(out.len() + count.min(left), value);
        }
    }
    Ok(())
}

/// Definition levels of a flat optional column (max level 1): appends one
/// `bool` per row to `valid` and returns how many are set.
pub(super) fn def_levels(
    data: &[u8],
    rows: usize,
    scratch: &mut Vec<u32>,
    valid: &mut Vec<bool>,
) -> Result<usize, Unsupported> {
    // A page without nulls is most often one RLE run of 1s: nothing to
    // expand (an empty `valid` with every row counted means all are set).
    let mut pos = 0;
    if let Ok(header) = uleb(data, &mut pos) {
        if header & 1 == 0 && (header >> 1) as usize >= rows && data.get(pos) == Some(&1) {
            valid.clear();
            return Ok(rows);
        }
    }
    scratch.clear();
    hybrid(data, 1, rows, scratch)?;
    valid.clear();
    valid.extend(scratch.iter().map(|&l| l == 1));
    if scratch.iter().any(|&l| l > 1) {
        return Err(Unsupported("definition level above 1"));
    }
    Ok(scratch.iter().filter(|&&l| l == 1).count())
}

/// Dictionary indices of a data page: a bit-width byte, then the hybrid.
pub(super) fn dict_indices(
    data: &[u8],
    n: usize,
    dictionary_len: usize,
    out: &mut Vec<u32>,
) -> Result<(), Unsupported> {
    let (&width, rest) = data
        .split_first()
        .ok_or(Unsupported("dictionary indices missing"))?;
    let start = out.len();
    hybrid(rest, u32::from(width), n, out)?;
    // One vectorised pass; an index outside the dictionary is a damaged file.
    let max = out[start..].iter().copied().max().unwrap_or(0);
    if n > 0 && max as usize >= dictionary_len {
        return Err(Unsupported("dictionary index out of range"));
    }
    Ok(())
}

/// The physical integer types the decoder reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IntPhysical {
    Int32,
    Int64,
}

/// Appends `n` PLAIN integers of `data` (raw, as `i64`; INT32 sign-extended).
pub(super) fn plain_ints(
    data: &[u8],
    physical: IntPhysical,
    n: usize,
    out: &mut Vec<i64>,
) -> Result<(), Unsupported> {
    match physical {
        IntPhysical::Int64 => {
            let raw = data
                .get(..n * 8)
                .ok_or(Unsupported("PLAIN values past the page's end"))?;
            out.extend(
                raw.chunks_exact(8)
                    .map(|c| i64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]])),
            );
        }
        IntPhysical::Int32 => {
            let raw = data
                .get(..n * 4)
                .ok_or(Unsupported("PLAIN values past the page's end"))?;
            out.extend(
                raw.chunks_exact(4)
                    .map(|c| i64::from(i32::from_le_bytes([c[0], c[1], c[2], c[3]]))),
            );
        }
    }
    Ok(())
}

/// Appends the `(start, end)` bounds of `n` PLAIN byte arrays of `data`.
pub(super) fn plain_byte_arrays(
    data: &[u8],
    n: usize,
    out: &mut Vec<(usize, usize)>,
) -> Result<(), Unsupported> {
    let mut pos = 0;
    for _ in 0..n {
        let len = data
            .get(pos..pos + 4)
            .ok_or(Unsupported("byte array past the page's end"))?;
        let len = u32::from_le_bytes([len[0], len[1], len[2], len[3]]) as usize;
        let start = pos + 4;
        let end = start + len;
        if end > data.len() {
            return Err(Unsupported("byte array past the page's end"));
        }
        out.push((start, end));
        pos = end;
    }
    Ok(())
}

/// Appends `n` DELTA_BINARY_PACKED integers of `data` (raw, as `i64`; INT32
/// values computed modulo 2^32 like the writer's, then sign-extended).
pub(super) fn delta_binary_packed(
    data: &[u8],
    physical: IntPhysical,
    n: usize,
    out: &mut Vec<i64>,
) -> Result<(), Unsupported> {
    let mut pos = 0;
    let block = uleb(data, &mut pos)? as usize;
    let miniblocks = uleb(data, &mut pos)? as usize;
    let total = uleb(data, &mut pos)? as usize;
    let mut value = zigzag(data, &mut pos)?;
    if block == 0
        || miniblocks == 0
        || !block.is_multiple_of(128)
        || !block.is_multiple_of(miniblocks)
    {
        return Err(Unsupported("DELTA_BINARY_PACKED header"));
    }
    let per_mini = block / miniblocks;
    if !per_mini.is_multiple_of(32) || total < n {
        return Err(Unsupported("DELTA_BINARY_PACKED header"));
    }
    let narrow = |v: i64| match physical {
        IntPhysical::Int64 => v,
        IntPhysical::Int32 => i64::from(v as i32),
    };
    let target = out.len() + n;
    if n == 0 {
        return Ok(());
    }
    out.push(narrow(value));
    while out.len() < target {
        let min_delta = zigzag(data, &mut pos)?;
        let widths = pos;
        if data.len() < widths + miniblocks {
            return Err(Unsupported("DELTA_BINARY_PACKED widths"));
        }
        pos += miniblocks;
        for m in 0..miniblocks {
            if out.len() >= target {
                break;
            }
            let width = u32::from(data[widths + m]);
            if width > 64 {
                return Err(Unsupported("DELTA_BINARY_PACKED width above 64"));
            }
            let start = pos * 8;
            let take = per_mini.min(target - out.len());
            for i in 0..take {
                let delta = bits_at(data, start + i * width as usize, width)?;
                value = value.wrapping_add(min_delta).wrapping_add(delta as i64);
                out.push(narrow(value));
            }
            pos += per_mini * width as usize / 8;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_width_unpacks_what_was_packed() {
        // Values packed least significant bit first, as Parquet packs them,
        // for every width, count and start, the slack after them from none
        // (the careful path) to plenty (whole groups at a known width).
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for width in 1..=32u32 {
            for n in [0usize, 1, 7, 8, 9, 63, 64, 200] {
                for start in [0usize, 3] {
                    let values: Vec<u32> = (0..n)
                        .map(|_| (next() & ((1u64 << width) - 1)) as u32)
                        .collect();
                    let mut data = vec![0xa5u8; start];
                    let mut bits = vec![0u8; (n * width as usize).div_ceil(8)];
                    for (i, &v) in values.iter().enumerate() {
                        for b in 0..width as usize {
                            if v >> b & 1 == 1 {
                                let at = i * width as usize + b;
                                bits[at / 8] |= 1 << (at % 8);
                            }
                        }
                    }
                    data.extend_from_slice(&bits);
                    for slack in [0usize, 5, 40] {
                        let mut padded = data.clone();
                        padded.resize(data.len() + slack, 0xff);
                        let mut out = vec![7];
                        unpack32(&padded, start, width, n, &mut out)
                            .unwrap_or_else(|e| panic!("width {width}, n {n}: {e:?}"));
                        assert_eq!(out[0], 7);
                        assert_eq!(
                            &out[1..],
                            &values[..],
                            "width {width}, n {n}, start {start}, slack {slack}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn hybrid_reads_rle_and_bit_packed_runs() {
        // RLE run of 3 × 5 (width 3: one value byte), then a bit-packed
        // group of 8 values 0..8 at width 3 (3 bytes).
        let mut data = vec![3 << 1, 5];
        data.push(1 << 1 | 1);
        let mut packed = 0u32;
        for v in 0..8u32 {
            packed |= v << (3 * v);
        }
        data.extend_from_slice(&packed.to_le_bytes()[..3]);
        let mut out = Vec::new();
        hybrid(&data, 3, 10, &mut out).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(out, [5, 5, 5, 0, 1, 2, 3, 4, 5, 6]);
        let mut short = Vec::new();
        assert!(hybrid(&data[..4], 3, 11, &mut short).is_err());
    }

    #[test]
    fn definition_levels_with_and_without_nulls() {
        let (mut scratch, mut valid) = (Vec::new(), Vec::new());
        // One RLE run of 300 × 1 (a varint header): no null, nothing expanded.
        let all = [0xd8, 0x04, 1];
        assert_eq!(def_levels(&all, 300, &mut scratch, &mut valid), Ok(300));
        assert!(valid.is_empty());
        // A run of 1s shorter than the page, then one of 0s: expanded.
        valid.push(true);
        let mixed = [2 << 1, 1, 3 << 1, 0];
        assert_eq!(def_levels(&mixed, 5, &mut scratch, &mut valid), Ok(2));
        assert_eq!(valid, [true, true, false, false, false]);
        // A run of 0s over the whole page: every row null.
        assert_eq!(def_levels(&[5 << 1, 0], 5, &mut scratch, &mut valid), Ok(0));
        assert_eq!(valid, [false; 5]);
        // A level above 1 is not a flat optional column.
        assert!(def_levels(&[5 << 1, 2], 5, &mut scratch, &mut valid).is_err());
    }

    #[test]
    fn zigzag_and_varints() {
        let mut pos = 0;
        assert_eq!(uleb(&[0xe5, 0x8e, 0x26], &mut pos), Ok(624_485));
        let mut pos = 0;
        assert_eq!(zigzag(&[3], &mut pos), Ok(-2));
        let mut pos = 0;
        assert_eq!(zigzag(&[4], &mut pos), Ok(2));
    }

    #[test]
    fn bits_cross_word_boundaries() {
        let data: Vec<u8> = (0..20).map(|i| (i * 37 + 11) as u8).collect();
        let all = u128::from_le_bytes(data[..16].try_into().unwrap_or([0; 16]));
        for at in [0, 3, 7, 9, 40, 63] {
            for bits in [1, 8, 31, 57, 64] {
                let want = ((all >> at) as u64)
                    & if bits == 64 {
                        u64::MAX
                    } else {
                        (1 << bits) - 1
                    };
                assert_eq!(bits_at(&data, at, bits), Ok(want), "at {at} bits {bits}");
            }
        }
    }
}
