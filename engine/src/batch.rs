//! The columns of one decoded batch of purchases, borrowed from whoever
//! decoded them (the engine never reads files itself).

/// An Arrow-style validity bitmap: bit `offset + i` set means row `i` is not null.
#[derive(Debug, Clone, Copy)]
pub struct Validity<'a> {
    /// The bitmap bytes, least significant bit first.
    pub bits: &'a [u8],
    /// Bit offset of row 0.
    pub offset: usize,
}

impl Validity<'_> {
    /// Whether row `i` holds a value.
    #[inline]
    pub fn is_valid(&self, i: usize) -> bool {
        let bit = self.offset + i;
        self.bits[bit >> 3] & (1 << (bit & 7)) != 0
    }
}

/// A batch of purchases of one category.
pub struct Batch<'a, K: ?Sized> {
    /// The item ids.
    pub items: &'a K,
    /// Nulls of `items`, if any.
    pub items_valid: Option<Validity<'a>>,
    /// Purchase times, as integers in units of `ts_unit_ns` nanoseconds.
    pub ts: &'a [i64],
    /// Nulls of `ts`, if any.
    pub ts_valid: Option<Validity<'a>>,
    /// Nanoseconds per unit of `ts` (1 for ns, 1 000 for µs, 1 000 000 for ms).
    pub ts_unit_ns: i64,
    /// Quantities; `None` when the column is absent (every quantity is 1).
    pub quantity: Option<&'a [i64]>,
    /// Nulls of `quantity` (a null quantity is 1).
    pub quantity_valid: Option<Validity<'a>>,
}

impl<'a, K: ?Sized> Batch<'a, K> {
    /// A batch with no nulls and no quantity column.
    pub fn new(items: &'a K, ts: &'a [i64], ts_unit_ns: i64) -> Self {
        Self {
            items,
            items_valid: None,
            ts,
            ts_valid: None,
            ts_unit_ns,
            quantity: None,
            quantity_valid: None,
        }
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.ts.len()
    }

    /// Whether the batch has no rows.
    pub fn is_empty(&self) -> bool {
        self.ts.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validity_reads_bits_with_offset() {
        let v = Validity {
            bits: &[0b1010_0101, 0b0000_0001],
            offset: 2,
        };
        let got: Vec<bool> = (0..7).map(|i| v.is_valid(i)).collect();
        assert_eq!(got, [true, false, false, true, false, true, true]);
    }
}
