//! Memory-mapping lake files.

use std::path::Path;

use bytes::Bytes;
use memmap2::Mmap;

use crate::error::LakeError;

/// Maps `path` read-only and wraps it as [`Bytes`] that the Parquet decoder can
/// slice without copying.
///
/// # Safety
///
/// The caller must ensure the file is not truncated or modified while the
/// mapping lives: a shrinking file makes later reads fault (SIGBUS), and a
/// rewritten one yields torn data. Lake files are immutable by contract (the
/// ingest and sync commands only add files, via atomic renames), which is what
/// makes mapping them sound in this project.
pub unsafe fn map_file(path: &Path) -> Result<Bytes, LakeError> {
    let file = std::fs::File::open(path).map_err(|e| LakeError::io(path, e))?;
    let len = file.metadata().map_err(|e| LakeError::io(path, e))?.len();
    if len == 0 {
        // A zero-length mapping is an error on Linux; an empty file is simply empty.
        return Ok(Bytes::new());
    }
    // SAFETY: forwarded to the caller (see `# Safety`): the file stays unchanged
    // for the mapping's lifetime.
    let map = unsafe { Mmap::map(&file) }.map_err(|e| LakeError::io(path, e))?;
    Ok(Bytes::from_owner(map))
}
