//! The staging folder: a run writes its files under
//! `<lake>/_staging-<run id>/category=…/dt=…/` (readers skip names starting
//! with `_`) and moves them into place only when the run succeeds, so a
//! failed run adds nothing to the lake.
//!
//! # Durability
//!
//! Before the first file is moved, the staged data is flushed to disk (one
//! `syncfs` on Linux, an fsync per file elsewhere), so a file that appears in
//! the lake is whole even after a crash. Each file is moved with a hard link
//! (which never replaces an existing name) and an unlink; the moves are
//! synced before the run returns. Should the process die during the moves,
//! the files already moved are whole and the others stay in the staging
//! folder, which no reader looks at and which can be deleted.

use std::hash::{BuildHasher, Hasher};
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::error::IoError;

/// A run id: UTC time and 64 random bits, e.g. `20261015T134500Z-1f2e…`.
pub(crate) fn run_id() -> String {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    format!(
        "{}-{:016x}",
        chrono::Utc::now().format("%Y%m%dT%H%M%SZ"),
        h.finish()
    )
}

/// A file written by the run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StagedFile {
    /// Path relative to the lake (and to the staging folder).
    pub(crate) rel: PathBuf,
    pub(crate) rows: u64,
    pub(crate) bytes: u64,
}

/// A run's staging folder; removed with its contents unless committed.
pub(crate) struct Staging {
    lake: PathBuf,
    dir: PathBuf,
    files: Vec<StagedFile>,
}

impl Staging {
    /// Creates `<lake>/_staging-<run_id>`.
    pub(crate) fn create(lake: &Path, run_id: &str) -> Result<Self, IoError> {
        let dir = lake.join(format!("_staging-{run_id}"));
        std::fs::create_dir_all(&dir).map_err(|e| IoError::io(&dir, e))?;
        Ok(Self {
            lake: lake.to_path_buf(),
            dir,
            files: Vec::new(),
        })
    }

    /// Where a file with lake-relative path `rel` is staged.
    pub(crate) fn staged(&self, rel: &Path) -> PathBuf {
        self.dir.join(rel)
    }

    /// Records a file written under [`Staging::staged`].
    pub(crate) fn record(&mut self, file: StagedFile) {
        self.files.push(file);
    }

    /// Moves every staged file into the lake (see the module docs).
    pub(crate) fn commit(mut self) -> Result<Vec<StagedFile>, IoError> {
        let files = std::mem::take(&mut self.files);
        if !files.is_empty() {
            sync_data(&self.dir)?;
            files.par_iter().try_for_each(|f| {
                let to = self.lake.join(&f.rel);
                if let Some(parent) = to.parent() {
                    std::fs::create_dir_all(parent).map_err(|e| IoError::io(parent, e))?;
                }
                place(&self.staged(&f.rel), &to).map_err(|e| IoError::io(&to, e))
            })?;
            sync_moves(&self.lake, &files)?;
        }
        Ok(files)
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_dir_all(&self.dir) {
            if e.kind() != std::io::ErrorKind::NotFound {
                tracing::warn!(dir = %self.dir.display(), error = %e, "cannot remove the staging folder; it is ignored by readers and can be deleted");
            }
        }
    }
}

/// Moves `from` to `to` without ever replacing an existing `to`.
fn place(from: &Path, to: &Path) -> std::io::Result<()> {
    match std::fs::hard_link(from, to) {
        Ok(()) => std::fs::remove_file(from),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(e),
        // File systems without hard links: check, then rename.
        Err(_) if to.exists() => Err(std::io::ErrorKind::AlreadyExists.into()),
        Err(_) => std::fs::rename(from, to),
    }
}

/// Makes the data of every file under `dir` durable.
#[cfg(target_os = "linux")]
fn sync_data(dir: &Path) -> Result<(), IoError> {
    syncfs(dir)
}

/// Files were synced as they were written (see `partition::write_file`).
#[cfg(not(target_os = "linux"))]
fn sync_data(_dir: &Path) -> Result<(), IoError> {
    Ok(())
}

/// Makes the moves into the lake durable.
#[cfg(target_os = "linux")]
fn sync_moves(lake: &Path, _files: &[StagedFile]) -> Result<(), IoError> {
    syncfs(lake)
}

/// Makes the moves into the lake durable: an fsync per folder.
#[cfg(not(target_os = "linux"))]
fn sync_moves(lake: &Path, files: &[StagedFile]) -> Result<(), IoError> {
    let mut dirs: Vec<PathBuf> = files
        .iter()
        .filter_map(|f| f.rel.parent().map(|p| lake.join(p)))
        .collect();
    dirs.sort();
    dirs.dedup();
    dirs.par_iter().try_for_each(|d| {
        std::fs::File::open(d)
            .and_then(|f| f.sync_all())
            .map_err(|e| IoError::io(d, e))
    })
}

/// Flushes the file system holding `path` (one call instead of an fsync per
/// file: a run may write tens of thousands of small files).
#[cfg(target_os = "linux")]
fn syncfs(path: &Path) -> Result<(), IoError> {
    use std::os::fd::AsRawFd;
    let dir = std::fs::File::open(path).map_err(|e| IoError::io(path, e))?;
    // SAFETY: `dir` is an open file descriptor for the duration of the call;
    // syncfs reads nothing else from this process.
    let rc = unsafe { libc::syncfs(dir.as_raw_fd()) };
    if rc != 0 {
        return Err(IoError::io(path, std::io::Error::last_os_error()));
    }
    Ok(())
}

/// Staging folders of earlier runs that did not finish (crashed or killed).
pub(crate) fn leftovers(lake: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(lake) else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with("_staging-"))
        .map(|e| e.path())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commits_into_place_or_leaves_nothing() {
        let lake = tempfile::tempdir().unwrap();
        let rel = PathBuf::from("category=a/dt=2026-10-15/part-x.parquet");
        let s = Staging::create(lake.path(), &run_id()).unwrap();
        let staged = s.staged(&rel);
        std::fs::create_dir_all(staged.parent().unwrap()).unwrap();
        std::fs::write(&staged, b"data").unwrap();
        drop(s);
        assert!(
            std::fs::read_dir(lake.path()).unwrap().next().is_none(),
            "dropped: nothing left"
        );

        let mut s = Staging::create(lake.path(), &run_id()).unwrap();
        assert_eq!(leftovers(lake.path()).len(), 1);
        let staged = s.staged(&rel);
        std::fs::create_dir_all(staged.parent().unwrap()).unwrap();
        std::fs::write(&staged, b"data").unwrap();
        s.record(StagedFile {
            rel: rel.clone(),
            rows: 1,
            bytes: 4,
        });
        let files = s.commit().unwrap();
        assert_eq!(files.len(), 1);
        assert_eq!(std::fs::read(lake.path().join(&rel)).unwrap(), b"data");
        assert!(leftovers(lake.path()).is_empty());
    }

    #[test]
    fn never_replaces_an_existing_file() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        std::fs::write(&a, b"new").unwrap();
        std::fs::write(&b, b"old").unwrap();
        assert!(place(&a, &b).is_err());
        assert_eq!(std::fs::read(&b).unwrap(), b"old");
    }

    #[test]
    fn run_ids_differ() {
        assert_ne!(run_id(), run_id());
    }
}
