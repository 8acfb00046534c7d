//! The incremental state on disk: one binary file, written atomically
//! (temporary name, fsync, rename) and closed by a CRC-32, so a crash at any
//! point leaves the last good state and a damaged file is detected rather
//! than trusted.
//!
//! Layout (little endian): the magic `TSSTATE` and the format's version
//! (one ASCII digit), a header (the parameters'
//! fingerprint, the lake, `as_of`, the id type), the files folded in, the
//! categories with their items, then the CRC-32 of
//! everything before it. Each file folded in is stored with its size,
//! modification time, footer CRC and time span; each category with its
//! window and anchor, and each item with its compensated anchored sums
//! (`[sum, compensation]` per variant, see `topsellers_engine::CategoryState`).

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use topsellers_engine::{CategoryState, ItemId};

use super::{FileEntry, State};
use crate::columns::ItemKind;
use crate::error::LakeError;
use crate::output::write_atomically;

/// The magic's last byte is the format's version, bumped with every change
/// of the layout: a state of another version is rebuilt, never misread.
const MAGIC: &[u8; 8] = b"TSSTATE4";

struct Writer(Vec<u8>);

impl Writer {
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn i64(&mut self, v: i64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn f64(&mut self, v: f64) {
        self.0.extend_from_slice(&v.to_bits().to_le_bytes());
    }
    fn bytes(&mut self, b: &[u8]) {
        self.u64(b.len() as u64);
        self.0.extend_from_slice(b);
    }
    /// A path as the OS holds it: a lossy conversion would name another
    /// file, and every cycle would then rebuild.
    fn path(&mut self, p: &Path) {
        self.bytes(p.as_os_str().as_bytes());
    }
    fn id(&mut self, id: &ItemId) {
        match id {
            ItemId::Int(v) => self.i64(*v),
            ItemId::Str(s) => self.bytes(s.as_bytes()),
        }
    }
}

struct Reader<'a> {
    data: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self
            .at
            .checked_add(n)
            .filter(|&e| e <= self.data.len())
            .ok_or_else(|| format!("truncated at byte {}", self.at))?;
        let s = &self.data[self.at..end];
        self.at = end;
        Ok(s)
    }
    fn u64(&mut self) -> Result<u64, String> {
        let b = self.take(8)?;
        Ok(u64::from_le_bytes(b.try_into().map_err(|_| "short read")?))
    }
    fn i64(&mut self) -> Result<i64, String> {
        Ok(self.u64()? as i64)
    }
    fn f64(&mut self) -> Result<f64, String> {
        Ok(f64::from_bits(self.u64()?))
    }
    fn len(&mut self) -> Result<usize, String> {
        let n = self.u64()?;
        usize::try_from(n)
            .ok()
            .filter(|&n| n <= self.data.len())
            .ok_or_else(|| format!("implausible length {n} at byte {}", self.at))
    }
    fn bytes(&mut self) -> Result<&'a [u8], String> {
        let n = self.len()?;
        self.take(n)
    }
    fn string(&mut self) -> Result<String, String> {
        String::from_utf8(self.bytes()?.to_vec()).map_err(|e| e.to_string())
    }
    fn path(&mut self) -> Result<PathBuf, String> {
        Ok(PathBuf::from(OsStr::from_bytes(self.bytes()?)))
    }
    fn id(&mut self, kind: ItemKind) -> Result<ItemId, String> {
        Ok(match kind {
            ItemKind::Int => ItemId::Int(self.i64()?),
            ItemKind::Str => ItemId::Str(self.string()?),
        })
    }
}

fn kind_code(kind: Option<ItemKind>) -> u64 {
    match kind {
        None => 0,
        Some(ItemKind::Int) => 1,
        Some(ItemKind::Str) => 2,
    }
}

/// The bytes of `state`, checksum included.
pub fn encode(state: &State) -> Vec<u8> {
    let mut w = Writer(Vec::with_capacity(1 << 20));
    w.0.extend_from_slice(MAGIC);
    w.bytes(state.fingerprint.as_bytes());
    w.path(&state.lake);
    w.i64(state.as_of_ns);
    w.u64(kind_code(state.item_kind));
    w.u64(state.variants as u64);
    w.u64(state.files.len() as u64);
    for (path, f) in &state.files {
        w.path(path);
        w.bytes(f.category.as_bytes());
        w.u64(f.size);
        w.i64(f.mtime_ns);
        w.u64(u64::from(f.footer_crc));
        w.i64(f.span.min_ns);
        w.i64(f.span.max_ns);
    }
    w.u64(state.categories.len() as u64);
    for (name, c) in &state.categories {
        w.bytes(name.as_bytes());
        w.i64(c.window_ns);
        w.i64(c.anchor_ns());
        w.u64(c.len() as u64);
        for (id, count, newest, sums) in c.items() {
            w.id(id);
            w.u64(u64::from(count));
            w.i64(newest);
            for &s in sums {
                w.f64(s);
            }
        }
    }
    let crc = crc32fast::hash(&w.0);
    w.0.extend_from_slice(&crc.to_le_bytes());
    w.0
}

/// Reads a state back; any damage is an error saying where.
pub fn decode(data: &[u8]) -> Result<State, String> {
    let version = MAGIC.len() - 1;
    if data.len() < MAGIC.len() + 4 || data[..version] != MAGIC[..version] {
        return Err("not a topsellers state file (bad magic)".into());
    }
    if data[version] != MAGIC[version] {
        return Err(format!(
            "the state file has format version {}, this version of topsellers keeps version {}",
            char::from(data[version]),
            char::from(MAGIC[version])
        ));
    }
    let (body, tail) = data.split_at(data.len() - 4);
    let stored = u32::from_le_bytes(tail.try_into().map_err(|_| "short checksum")?);
    if crc32fast::hash(body) != stored {
        return Err("checksum mismatch: the file is damaged".into());
    }
    let mut r = Reader {
        data: body,
        at: MAGIC.len(),
    };
    let fingerprint = r.string()?;
    let lake = r.path()?;
    let as_of_ns = r.i64()?;
    let item_kind = match r.u64()? {
        0 => None,
        1 => Some(ItemKind::Int),
        2 => Some(ItemKind::Str),
        k => return Err(format!("unknown id type code {k}")),
    };
    let variants = r.len()?;
    let mut files = BTreeMap::new();
    for _ in 0..r.len()? {
        let path = r.path()?;
        let entry = FileEntry {
            category: r.string()?,
            size: r.u64()?,
            mtime_ns: r.i64()?,
            footer_crc: u32::try_from(r.u64()?).map_err(|e| e.to_string())?,
            span: super::TimeSpan {
                min_ns: r.i64()?,
                max_ns: r.i64()?,
            },
        };
        files.insert(path, entry);
    }
    let kind = item_kind.unwrap_or(ItemKind::Int);
    let mut categories = BTreeMap::new();
    // Per variant, the compensated sum: [sum, compensation].
    let mut sums = vec![0.0; 2 * variants];
    for _ in 0..r.len()? {
        let name = r.string()?;
        let (window_ns, anchor_ns) = (r.i64()?, r.i64()?);
        let mut c = CategoryState::new(window_ns, anchor_ns, variants);
        for _ in 0..r.len()? {
            let id = r.id(kind)?;
            let count = u32::try_from(r.u64()?).map_err(|e| e.to_string())?;
            let newest = r.i64()?;
            for s in sums.iter_mut() {
                *s = r.f64()?;
            }
            c.insert(id, count, newest, &sums);
        }
        categories.insert(name, c);
    }
    if r.at != body.len() {
        return Err(format!("{} unexpected bytes at the end", body.len() - r.at));
    }
    Ok(State {
        fingerprint,
        lake,
        as_of_ns,
        item_kind,
        variants,
        files,
        categories,
    })
}

/// Writes `state` to `path` atomically.
pub fn save(path: &Path, state: &State) -> Result<u64, LakeError> {
    let bytes = encode(state);
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| LakeError::io(dir, e))?;
    }
    write_atomically(path, |w| w.write_all(&bytes).map_err(|e| e.to_string()))?;
    Ok(bytes.len() as u64)
}

/// Reads the state at `path`: `Ok(None)` when there is none yet, `Err` with
/// the reason when it cannot be trusted.
pub fn load(path: &Path) -> Result<Option<State>, String> {
    match std::fs::read(path) {
        Ok(bytes) => decode(&bytes).map(Some),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::incremental::TimeSpan;

    fn sample(kind: ItemKind) -> State {
        let id = |i: i64| match kind {
            ItemKind::Int => ItemId::Int(i),
            ItemKind::Str => ItemId::Str(format!("sku-{i}")),
        };
        let mut c = CategoryState::new(30, 1_000, 2);
        c.insert(id(7), 3, 1_000, &[1.5, 1e-17, 0.25, 0.0]);
        c.insert(id(-2), 1, 900, &[0.1 + 0.2, -3e-18, 1e-300, 0.0]);
        let mut state = State {
            fingerprint: "v1;x".into(),
            lake: PathBuf::from("/lake"),
            as_of_ns: 1_792_022_400_000_000_000,
            item_kind: Some(kind),
            variants: 2,
            ..State::default()
        };
        state.files.insert(
            PathBuf::from("category=toys/dt=2026-10-14/part-0.parquet"),
            FileEntry {
                category: "toys".into(),
                size: 123,
                mtime_ns: 456,
                footer_crc: 0xdead_beef,
                span: TimeSpan {
                    min_ns: 1,
                    max_ns: 2,
                },
            },
        );
        let odd = state.files.values().next().cloned().expect("one file");
        state.files.insert(
            PathBuf::from(OsStr::from_bytes(
                b"category=toys/dt=2026-10-14/\xe9.parquet",
            )),
            odd,
        );
        state.categories.insert("toys".into(), c);
        state
    }

    #[test]
    fn round_trips_exactly_and_detects_damage() {
        for kind in [ItemKind::Int, ItemKind::Str] {
            let state = sample(kind);
            let bytes = encode(&state);
            let back = decode(&bytes).expect("decodes");
            assert_eq!(encode(&back), bytes, "the same bytes again");
            assert_eq!(back.files, state.files);
            let items: Vec<_> = back.categories["toys"]
                .items()
                .map(|(i, c, n, s)| (i.clone(), c, n, s.to_vec()))
                .collect();
            let want: Vec<_> = state.categories["toys"]
                .items()
                .map(|(i, c, n, s)| (i.clone(), c, n, s.to_vec()))
                .collect();
            assert_eq!(items, want, "scores bit for bit");
            for at in [0, 9, bytes.len() / 2, bytes.len() - 1] {
                let mut bad = bytes.clone();
                bad[at] ^= 0x10;
                assert!(decode(&bad).is_err(), "a flipped byte at {at} is caught");
            }
            assert!(
                decode(&bytes[..bytes.len() - 9]).is_err(),
                "a truncated file is caught"
            );
        }
    }

    #[test]
    fn a_state_of_another_format_version_is_refused() {
        let mut bytes = encode(&sample(ItemKind::Int));
        bytes[7] = b'1';
        let body = bytes.len() - 4;
        let crc = crc32fast::hash(&bytes[..body]);
        bytes[body..].copy_from_slice(&crc.to_le_bytes());
        let e = decode(&bytes).expect_err("version 1 is not read");
        assert!(e.contains("format version 1"), "{e}");
    }
}
