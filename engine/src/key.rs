//! Item keys: the two id types (INT64 and UTF8), the columns they come in, and
//! the interners that map each distinct key to a dense accumulator slot.
//!
//! # Design
//!
//! Like DataFusion's group-by, the aggregation state is written once against a
//! small trait ([`Interner`]) with one specialised implementation per key type,
//! so the hot loop is monomorphised and never dispatches per row. Slots are
//! dense `u32`s handed out in first-seen order; the accumulators live in flat
//! vectors indexed by slot.

use std::cmp::Ordering;
use std::hash::BuildHasher;

use hashbrown::DefaultHashBuilder;
use hashbrown::HashTable;

use crate::inttable::IntTable;

/// An item id as it appears in results.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ItemId {
    /// An INT64 id.
    Int(i64),
    /// A UTF8 id.
    Str(String),
}

impl std::fmt::Display for ItemId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ItemId::Int(v) => write!(f, "{v}"),
            ItemId::Str(s) => f.write_str(s),
        }
    }
}

/// Maps keys of one type to dense slots `0..len()`.
pub trait Interner: Default + Send {
    /// The borrowed key type.
    type Key<'k>: Copy;
    /// The slot of `key`, inserting it (as slot `len()`) when new.
    fn intern(&mut self, key: Self::Key<'_>) -> u32;
    /// Number of distinct keys seen.
    fn len(&self) -> usize;
    /// Whether no key was seen.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The key stored in `slot`.
    fn key(&self, slot: u32) -> Self::Key<'_>;
    /// Orders two slots by their keys (numeric or bytewise).
    fn cmp_slots(&self, a: u32, b: u32) -> Ordering;
    /// The key of `slot` as an owned id.
    fn item_id(&self, slot: u32) -> ItemId;
    /// Approximate heap bytes held.
    fn size_bytes(&self) -> usize;
    /// Forgets every key, keeping the allocated capacity for reuse.
    fn clear(&mut self);
    /// Makes room for `additional` more keys (a hint; none by default).
    fn reserve(&mut self, _additional: usize) {}
    /// Whether [`prefetch`](Interner::prefetch) does anything. When it does
    /// not, the hot loop skips reading the key of a row ahead just to hint it.
    const PREFETCHES: bool = false;
    /// Hints that `key` will be interned soon (a no-op by default).
    #[inline(always)]
    fn prefetch(&self, _key: Self::Key<'_>) {}
}

/// Interner for INT64 ids.
#[derive(Default)]
pub struct IntInterner {
    table: IntTable,
    keys: Vec<i64>,
}

impl Interner for IntInterner {
    type Key<'k> = i64;
    const PREFETCHES: bool = true;

    #[inline]
    fn intern(&mut self, key: i64) -> u32 {
        let next = self.keys.len() as u32;
        let slot = self.table.get_or_insert(key, next);
        if slot == next {
            self.keys.push(key);
        }
        slot
    }

    fn len(&self) -> usize {
        self.keys.len()
    }

    fn key(&self, slot: u32) -> i64 {
        self.keys[slot as usize]
    }

    fn cmp_slots(&self, a: u32, b: u32) -> Ordering {
        self.keys[a as usize].cmp(&self.keys[b as usize])
    }

    fn item_id(&self, slot: u32) -> ItemId {
        ItemId::Int(self.keys[slot as usize])
    }

    fn size_bytes(&self) -> usize {
        self.table.capacity() * 16 + self.keys.capacity() * 8
    }

    fn clear(&mut self) {
        self.table.clear();
        self.keys.clear();
    }

    fn reserve(&mut self, additional: usize) {
        self.table.reserve(additional);
        self.keys.reserve(additional);
    }

    #[inline(always)]
    fn prefetch(&self, key: i64) {
        self.table.prefetch(key);
    }
}

/// Interner for UTF8 ids, stored back to back in one arena so that a new key
/// costs no allocation of its own.
#[derive(Default)]
pub struct BytesInterner {
    table: HashTable<u32>,
    hasher: DefaultHashBuilder,
    /// `ends[slot]` is the end of the slot's bytes in `arena`.
    ends: Vec<usize>,
    arena: Vec<u8>,
}

impl BytesInterner {
    fn bytes(&self, slot: u32) -> &[u8] {
        let slot = slot as usize;
        let start = if slot == 0 { 0 } else { self.ends[slot - 1] };
        &self.arena[start..self.ends[slot]]
    }
}

impl Interner for BytesInterner {
    type Key<'k> = &'k [u8];

    #[inline]
    fn intern(&mut self, key: &[u8]) -> u32 {
        let hash = self.hasher.hash_one(key);
        let Self {
            table,
            hasher,
            ends,
            arena,
        } = self;
        let slice_of = |slot: u32| {
            let slot = slot as usize;
            let start = if slot == 0 { 0 } else { ends[slot - 1] };
            &arena[start..ends[slot]]
        };
        if let Some(&slot) = table.find(hash, |&s| slice_of(s) == key) {
            return slot;
        }
        let slot = ends.len() as u32;
        arena.extend_from_slice(key);
        ends.push(arena.len());
        let (ends, arena) = (&*ends, &*arena);
        table.insert_unique(hash, slot, |&s| {
            let s = s as usize;
            let start = if s == 0 { 0 } else { ends[s - 1] };
            hasher.hash_one(&arena[start..ends[s]])
        });
        slot
    }

    fn len(&self) -> usize {
        self.ends.len()
    }

    fn key(&self, slot: u32) -> &[u8] {
        self.bytes(slot)
    }

    fn cmp_slots(&self, a: u32, b: u32) -> Ordering {
        self.bytes(a).cmp(self.bytes(b))
    }

    fn item_id(&self, slot: u32) -> ItemId {
        ItemId::Str(String::from_utf8_lossy(self.bytes(slot)).into_owned())
    }

    fn size_bytes(&self) -> usize {
        self.table.capacity() * 5 + self.ends.capacity() * 8 + self.arena.capacity()
    }

    fn clear(&mut self) {
        self.table.clear();
        self.ends.clear();
        self.arena.clear();
    }
}

/// A column of keys that an interner of type `I` can take.
pub trait KeyColumn<I: Interner> {
    /// Number of rows.
    fn len(&self) -> usize;
    /// Whether the column has no rows.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The key at row `i` (the value under a null is unspecified but valid).
    fn key(&self, i: usize) -> I::Key<'_>;
}

impl KeyColumn<IntInterner> for [i64] {
    #[inline]
    fn len(&self) -> usize {
        <[i64]>::len(self)
    }
    #[inline]
    fn key(&self, i: usize) -> i64 {
        self[i]
    }
}

/// Offsets of a variable-length string column (Arrow's `i32` or `i64`).
pub trait Offset: Copy + Send + Sync {
    /// The offset as a `usize`.
    fn to_usize(self) -> usize;
}
impl Offset for i32 {
    #[inline]
    fn to_usize(self) -> usize {
        self as usize
    }
}
impl Offset for i64 {
    #[inline]
    fn to_usize(self) -> usize {
        self as usize
    }
}

/// A string column in Arrow layout: `len + 1` offsets into `data`.
#[derive(Debug, Clone, Copy)]
pub struct StrColumn<'a, O> {
    /// `offsets[i]..offsets[i + 1]` is row `i`.
    pub offsets: &'a [O],
    /// The concatenated bytes.
    pub data: &'a [u8],
}

impl<O: Offset> KeyColumn<BytesInterner> for StrColumn<'_, O> {
    #[inline]
    fn len(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }
    #[inline]
    fn key(&self, i: usize) -> &[u8] {
        &self.data[self.offsets[i].to_usize()..self.offsets[i + 1].to_usize()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn int_interner_assigns_dense_slots() {
        let mut i = IntInterner::default();
        assert_eq!(i.intern(42), 0);
        assert_eq!(i.intern(-7), 1);
        assert_eq!(i.intern(42), 0);
        assert_eq!(i.len(), 2);
        assert_eq!(i.key(1), -7);
        assert_eq!(i.cmp_slots(0, 1), Ordering::Greater);
        assert_eq!(i.item_id(0), ItemId::Int(42));
    }

    #[test]
    fn bytes_interner_survives_growth() {
        let mut i = BytesInterner::default();
        let keys: Vec<String> = (0..10_000).map(|k| format!("item-{k}")).collect();
        for (n, k) in keys.iter().enumerate() {
            assert_eq!(i.intern(k.as_bytes()) as usize, n);
        }
        for (n, k) in keys.iter().enumerate() {
            assert_eq!(i.intern(k.as_bytes()) as usize, n);
            assert_eq!(i.key(n as u32), k.as_bytes());
        }
        assert_eq!(i.intern(b""), 10_000);
        assert_eq!(i.key(10_000), b"");
        assert_eq!(i.cmp_slots(0, 1), Ordering::Less);
    }

    #[test]
    fn str_column_slices_rows() {
        let col = StrColumn {
            offsets: &[0i32, 1, 1, 4],
            data: b"abcd",
        };
        let c: &dyn KeyColumn<BytesInterner> = &col;
        assert_eq!(c.len(), 3);
        assert_eq!(c.key(0), b"a");
        assert_eq!(c.key(1), b"");
        assert_eq!(c.key(2), b"bcd");
    }
}
