//! Staged files: a run writes each file under a hidden name in its final
//! folder, `<lake>/category=…/dt=…/.part-<run id>-<n>.parquet.tmp` (readers
//! skip names starting with `.`), and renames them all to
//! `part-<run id>-<n>.parquet` only when the run succeeds. A failed run
//! removes its hidden files and the folders it created, so it adds nothing
//! to the lake.
//!
//! Why not one staging folder that is moved from: creating every file in one
//! folder serialises on that folder's lock, and renames across folders take
//! the file system's rename lock; a rename within a folder does neither
//! (measured: 24,000 files, commit 0.1 s instead of 0.75 s).
//!
//! # Durability
//!
//! Before the first rename, the staged data is flushed to disk (one `syncfs`
//! on Linux, an fsync per file elsewhere), so a file that appears under its
//! final name is whole even after a crash. Renames never replace an existing
//! name (`renameat2(RENAME_NOREPLACE)` on Linux, a hard link and an unlink
//! elsewhere) and are synced before the run returns. A process killed before
//! or during the renames leaves hidden `.part-*.parquet.tmp` files, which
//! no reader looks at and which the next run removes (see `stale`); one
//! killed during the renames also leaves its marker, and the next run
//! deletes the files it had renamed (see `pending`).

use std::hash::{BuildHasher, Hasher};
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::error::IngestError;

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
    /// Its folder, relative to the lake.
    pub(crate) dir: PathBuf,
    /// Its sequence number in the run.
    pub(crate) seq: u64,
    pub(crate) rows: u64,
    pub(crate) bytes: u64,
}

/// A run's staged files; removed, with the folders the run created, unless
/// committed.
pub(crate) struct Staging {
    lake: PathBuf,
    run_id: String,
    /// Folders known to exist.
    ready: hashbrown::HashSet<PathBuf>,
    /// Folders this run created, parents first.
    created: Vec<PathBuf>,
    files: Vec<StagedFile>,
    committed: bool,
}

impl Staging {
    /// Staging for run `run_id` in `lake`.
    pub(crate) fn new(lake: &Path, run_id: &str) -> Self {
        Self {
            lake: lake.to_path_buf(),
            run_id: run_id.to_string(),
            ready: hashbrown::HashSet::new(),
            created: Vec::new(),
            files: Vec::new(),
            committed: false,
        }
    }

    /// The hidden path file `seq` is written to in `dir` (relative to the lake).
    pub(crate) fn staged(&self, dir: &Path, seq: u64) -> PathBuf {
        self.lake
            .join(dir)
            .join(format!(".part-{}-{seq:05}.parquet.tmp", self.run_id))
    }

    /// The path a staged file gets when committed.
    pub(crate) fn final_path(&self, dir: &Path, seq: u64) -> PathBuf {
        self.lake.join(self.final_name(dir, seq))
    }

    /// [`Staging::final_path`] relative to the lake.
    pub(crate) fn final_name(&self, dir: &Path, seq: u64) -> PathBuf {
        dir.join(format!("part-{}-{seq:05}.parquet", self.run_id))
    }

    /// The files recorded so far.
    pub(crate) fn files(&self) -> &[StagedFile] {
        &self.files
    }

    /// Creates the folders (relative to the lake) not known to exist yet.
    pub(crate) fn prepare<'a>(
        &mut self,
        dirs: impl Iterator<Item = &'a Path>,
    ) -> Result<(), IngestError> {
        let mut new: Vec<PathBuf> = dirs
            .filter(|d| !self.ready.contains(*d))
            .map(Path::to_path_buf)
            .collect();
        new.sort_unstable();
        new.dedup();
        let lake = &self.lake;
        let created = new
            .par_iter()
            .map(|d| make_dir(lake, d))
            .collect::<Result<Vec<_>, IngestError>>()?;
        self.created.extend(created.into_iter().flatten());
        self.ready.extend(new);
        Ok(())
    }

    /// Records a file written under [`Staging::staged`].
    pub(crate) fn record(&mut self, file: StagedFile) {
        self.files.push(file);
    }

    /// Renames every staged file to its final name (see the module docs).
    pub(crate) fn commit(mut self) -> Result<Vec<StagedFile>, IngestError> {
        self.committed = true;
        let files = std::mem::take(&mut self.files);
        if files.is_empty() {
            return Ok(files);
        }
        // A run killed during the renames is rolled back by the next one.
        let rels: Vec<PathBuf> = files
            .iter()
            .map(|f| self.final_name(&f.dir, f.seq))
            .collect();
        crate::pending::put_local(&self.lake, &self.run_id, &rels)?;
        sync_data(&self.lake)?;
        files.par_iter().try_for_each(|f| {
            let to = self.final_path(&f.dir, f.seq);
            place(&self.staged(&f.dir, f.seq), &to).map_err(|e| IngestError::io(&to, e))
        })?;
        sync_moves(&self.lake, &files)?;
        crate::pending::remove_local(&self.lake, &self.run_id)?;
        Ok(files)
    }
}

impl Drop for Staging {
    /// Without a commit: removes the staged files and the created folders.
    fn drop(&mut self) {
        if self.committed {
            return;
        }
        self.files.par_iter().for_each(|f| {
            let path = self.staged(&f.dir, f.seq);
            if let Err(e) = std::fs::remove_file(&path) {
                tracing::warn!(file = %path.display(), error = %e, "cannot remove a staged file; readers ignore it and it can be deleted");
            }
        });
        // Children before parents; a folder another run filled meanwhile stays.
        for dir in self.created.iter().rev() {
            let _ = std::fs::remove_dir(dir);
        }
    }
}

/// Creates `lake/dir` and any missing parents; returns the folders created,
/// parents first (one call when only the last is missing, the usual case for
/// a new day).
fn make_dir(lake: &Path, dir: &Path) -> Result<Vec<PathBuf>, IngestError> {
    let full = lake.join(dir);
    match std::fs::create_dir(&full) {
        Ok(()) => return Ok(vec![full]),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Ok(Vec::new()),
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(IngestError::io(&full, e))
        }
        Err(_) => {}
    }
    let mut created = Vec::new();
    let mut at = lake.to_path_buf();
    for part in dir.components() {
        at.push(part);
        match std::fs::create_dir(&at) {
            Ok(()) => created.push(at.clone()),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(IngestError::io(&at, e)),
        }
    }
    Ok(created)
}

/// Moves `from` to `to` without ever replacing an existing `to`.
#[cfg(target_os = "linux")]
fn place(from: &Path, to: &Path) -> std::io::Result<()> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let c = |p: &Path| CString::new(p.as_os_str().as_bytes()).map_err(std::io::Error::other);
    let (cf, ct) = (c(from)?, c(to)?);
    // SAFETY: both pointers are NUL-terminated strings that outlive the call.
    let rc = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            cf.as_ptr(),
            libc::AT_FDCWD,
            ct.as_ptr(),
            libc::RENAME_NOREPLACE,
        )
    };
    if rc == 0 {
        return Ok(());
    }
    let e = std::io::Error::last_os_error();
    match e.raw_os_error() {
        // The file system or kernel lacks the flag: link and unlink instead.
        Some(libc::EINVAL | libc::ENOSYS | libc::EOPNOTSUPP) => link_then_unlink(from, to),
        _ => Err(e),
    }
}

/// Moves `from` to `to` without ever replacing an existing `to`.
#[cfg(not(target_os = "linux"))]
fn place(from: &Path, to: &Path) -> std::io::Result<()> {
    link_then_unlink(from, to)
}

fn link_then_unlink(from: &Path, to: &Path) -> std::io::Result<()> {
    match std::fs::hard_link(from, to) {
        Ok(()) => std::fs::remove_file(from),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(e),
        // File systems without hard links: check, then rename.
        Err(_) if to.exists() => Err(std::io::ErrorKind::AlreadyExists.into()),
        Err(_) => std::fs::rename(from, to),
    }
}

/// Makes the data of the staged files (all in the lake's file system) durable.
#[cfg(target_os = "linux")]
fn sync_data(lake: &Path) -> Result<(), IngestError> {
    syncfs(lake)
}

/// Files were synced as they were written (see `partition::write_file`).
#[cfg(not(target_os = "linux"))]
fn sync_data(_lake: &Path) -> Result<(), IngestError> {
    Ok(())
}

/// Makes the moves into the lake durable.
#[cfg(target_os = "linux")]
fn sync_moves(lake: &Path, _files: &[StagedFile]) -> Result<(), IngestError> {
    syncfs(lake)
}

/// Makes the moves into the lake durable: an fsync per folder.
#[cfg(not(target_os = "linux"))]
fn sync_moves(lake: &Path, files: &[StagedFile]) -> Result<(), IngestError> {
    let mut dirs: Vec<PathBuf> = files.iter().map(|f| lake.join(&f.dir)).collect();
    dirs.sort();
    dirs.dedup();
    dirs.par_iter().try_for_each(|d| {
        std::fs::File::open(d)
            .and_then(|f| f.sync_all())
            .map_err(|e| IngestError::io(d, e))
    })
}

/// Flushes the file system holding `path` (one call instead of an fsync per
/// file: a run may write tens of thousands of small files).
#[cfg(target_os = "linux")]
fn syncfs(path: &Path) -> Result<(), IngestError> {
    use std::os::fd::AsRawFd;
    let dir = std::fs::File::open(path).map_err(|e| IngestError::io(path, e))?;
    // SAFETY: `dir` is an open file descriptor for the duration of the call;
    // syncfs reads nothing else from this process.
    let rc = unsafe { libc::syncfs(dir.as_raw_fd()) };
    if rc != 0 {
        return Err(IngestError::io(path, std::io::Error::last_os_error()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commits_into_place_or_leaves_nothing() {
        let lake = tempfile::tempdir().unwrap();
        std::fs::create_dir(lake.path().join("category=a")).unwrap();
        let dir = PathBuf::from("category=a/dt=2026-10-15");
        let other = PathBuf::from("category=b/dt=2026-10-15");
        let mut s = Staging::new(lake.path(), &run_id());
        s.prepare([dir.as_path(), other.as_path(), dir.as_path()].into_iter())
            .unwrap();
        std::fs::write(s.staged(&dir, 1), b"data").unwrap();
        s.record(StagedFile {
            dir: dir.clone(),
            seq: 1,
            rows: 1,
            bytes: 4,
        });
        drop(s);
        let left: Vec<_> = std::fs::read_dir(lake.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left, ["category=a"], "dropped: only what was there before");
        assert!(std::fs::read_dir(lake.path().join("category=a"))
            .unwrap()
            .next()
            .is_none());

        let mut s = Staging::new(lake.path(), &run_id());
        s.prepare([dir.as_path()].into_iter()).unwrap();
        std::fs::write(s.staged(&dir, 7), b"data").unwrap();
        s.record(StagedFile {
            dir: dir.clone(),
            seq: 7,
            rows: 1,
            bytes: 4,
        });
        let done = s.final_path(&dir, 7);
        assert_eq!(s.commit().unwrap().len(), 1);
        assert_eq!(std::fs::read(&done).unwrap(), b"data");
        let names: Vec<_> = std::fs::read_dir(lake.path().join(&dir))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert_eq!(names, [done]);
    }

    #[test]
    fn never_replaces_an_existing_file() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        std::fs::write(&a, b"new").unwrap();
        std::fs::write(&b, b"old").unwrap();
        assert!(place(&a, &b).is_err());
        assert!(link_then_unlink(&a, &b).is_err());
        assert_eq!(std::fs::read(&b).unwrap(), b"old");
        let c = dir.path().join("c");
        place(&a, &c).unwrap();
        assert_eq!(std::fs::read(&c).unwrap(), b"new");
        assert!(!a.exists());
    }

    #[test]
    fn run_ids_differ() {
        assert_ne!(run_id(), run_id());
    }
}
