//! What identifies a lake file folded into the state: its size, its
//! modification time and a CRC-32 of its Parquet footer.
//!
//! Size and time alone pass a file rewritten with the same size and copied
//! with `cp -p` or `rsync -t`. The footer changes with the content: it holds
//! every row group's column statistics, sizes and offsets. It is read anyway
//! when a file is folded in, and re-reading the footers of the known files
//! costs one small read a file per cycle, far less than their rows. A
//! rewrite that keeps every statistic and every byte count (values swapped
//! between rows of equal encoded size) still passes: the lake's contract is
//! that files are never rewritten, and this only catches its usual breaches.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;

use crate::error::LakeError;

/// A Parquet file ends with the footer, its length (u32 LE) and `PAR1`.
const TAIL: usize = 8;
const MAGIC: &[u8; 4] = b"PAR1";

/// The footer's length from a file's last 8 bytes, `None` when they do not
/// end a Parquet file.
fn footer_len(tail: &[u8]) -> Option<usize> {
    let tail: &[u8; TAIL] = tail.try_into().ok()?;
    if &tail[4..] != MAGIC {
        return None;
    }
    usize::try_from(u32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]])).ok()
}

/// The CRC-32 of the footer of the Parquet file `bytes` (its length and
/// magic included), `None` when `bytes` is not a Parquet file.
pub fn footer_crc_of(bytes: &[u8]) -> Option<u32> {
    let tail = bytes.len().checked_sub(TAIL)?;
    let start = tail.checked_sub(footer_len(&bytes[tail..])?)?;
    Some(crc32fast::hash(&bytes[start..]))
}

/// [`footer_crc_of`] the file at `path`, reading only its footer.
pub fn footer_crc(path: &Path) -> Result<Option<u32>, LakeError> {
    let file = File::open(path).map_err(|e| LakeError::io(path, e))?;
    let size = file.metadata().map_err(|e| LakeError::io(path, e))?.len();
    let read = |len: usize, at: u64| -> Result<Vec<u8>, LakeError> {
        let mut buf = vec![0; len];
        file.read_exact_at(&mut buf, at)
            .map_err(|e| LakeError::io(path, e))?;
        Ok(buf)
    };
    let Some(tail_at) = size.checked_sub(TAIL as u64) else {
        return Ok(None);
    };
    let Some(len) = footer_len(&read(TAIL, tail_at)?) else {
        return Ok(None);
    };
    let Some(start) = tail_at.checked_sub(len as u64) else {
        return Ok(None);
    };
    Ok(Some(crc32fast::hash(&read(len + TAIL, start)?)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_footer_as_the_whole_file_gives_it() {
        let mut bytes = b"PAR1 some pages ".to_vec();
        let footer = b"the footer";
        bytes.extend_from_slice(footer);
        bytes.extend_from_slice(&(footer.len() as u32).to_le_bytes());
        bytes.extend_from_slice(MAGIC);
        let dir = tempfile::tempdir().expect("a temporary folder");
        let path = dir.path().join("f.parquet");
        std::fs::write(&path, &bytes).expect("written");
        let want = crc32fast::hash(&bytes[16..]);
        assert_eq!(footer_crc_of(&bytes), Some(want));
        assert_eq!(footer_crc(&path).expect("readable"), Some(want));
        for bad in [&b"PAR"[..], b"no parquet at all", &bytes[..bytes.len() - 1]] {
            std::fs::write(&path, bad).expect("written");
            assert_eq!(footer_crc_of(bad), None);
            assert_eq!(footer_crc(&path).expect("readable"), None);
        }
    }
}
