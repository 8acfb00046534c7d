//! Stale temporary files: what runs killed outright (SIGKILL, power loss)
//! leave behind, since they cannot clean up. Every run removes, before it
//! writes, the temporary files of ingest's own naming that were last
//! modified longer than a grace period ago:
//!
//! - staged data files, `.part-<run id>-<n>.parquet.tmp`, in the partition
//!   folders of a local lake (see `staging`);
//! - quarantine files being written, `.topsellers-quarantine-*.tmp`, in the
//!   quarantine folder (see `quarantine`);
//! - for a lake in S3, the staging folders `topsellers-ingest-*` under the
//!   staging folder (see `destination`).
//!
//! # Why a grace period
//!
//! Another ingest may be writing into the same lake right now, and its
//! staged files look exactly like a dead run's. A live run keeps writing
//! (its newest file is seconds old) and renames everything at its end, so a
//! temporary file untouched for longer than any run takes is a dead run's.
//! The age is the file's modification time; for a staging folder, the
//! newest file's in it.

use std::path::Path;
use std::time::{Duration, SystemTime};

use crate::error::IngestError;
use crate::quarantine::TEMP_PREFIX as QUARANTINE_TEMP_PREFIX;

/// Prefix of the staging folders of runs into S3.
pub(crate) const STAGING_PREFIX: &str = "topsellers-ingest-";

/// The lake's layout is `category=…/dt=…/file`: deeper folders are not the
/// ingest's.
const MAX_DEPTH: usize = 3;

/// What the cleanup removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Removed {
    pub(crate) files: u64,
    pub(crate) bytes: u64,
}

impl Removed {
    fn add(&mut self, other: Self) {
        self.files += other.files;
        self.bytes += other.bytes;
    }
}

/// Whether `name` is a temporary file of ingest's own naming.
fn is_own_temp(name: &str) -> bool {
    (name.starts_with(".part-") && name.ends_with(".parquet.tmp"))
        || (name.starts_with(QUARANTINE_TEMP_PREFIX) && name.ends_with(".tmp"))
}

/// Whether something last modified at `modified` is older than `grace`.
fn is_stale(modified: std::io::Result<SystemTime>, grace: Duration, now: SystemTime) -> bool {
    modified
        .ok()
        .and_then(|m| now.duration_since(m).ok())
        .is_some_and(|age| age >= grace)
        // A time in the future (clock skew): age unknown, so only with no grace.
        || grace.is_zero()
}

/// Removes the stale temporary files of ingest's naming in `dir` and, down
/// to the lake's depth, its subfolders (symbolic links are not followed).
/// A folder that does not exist holds nothing.
pub(crate) fn remove_temps(
    dir: &Path,
    grace: Duration,
    now: SystemTime,
) -> Result<Removed, IngestError> {
    remove_temps_at(dir, grace, now, MAX_DEPTH)
}

fn remove_temps_at(
    dir: &Path,
    grace: Duration,
    now: SystemTime,
    depth: usize,
) -> Result<Removed, IngestError> {
    let mut removed = Removed::default();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(removed),
        Err(e) => return Err(IngestError::io(dir, e)),
    };
    for entry in entries {
        let entry = entry.map_err(|e| IngestError::io(dir, e))?;
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        let path = entry.path();
        if kind.is_dir() {
            if depth > 1 {
                removed.add(remove_temps_at(&path, grace, now, depth - 1)?);
            }
            continue;
        }
        if !kind.is_file() || !is_own_temp(&entry.file_name().to_string_lossy()) {
            continue;
        }
        let Ok(meta) = entry.metadata() else {
            continue;
        };
        if !is_stale(meta.modified(), grace, now) {
            continue;
        }
        match std::fs::remove_file(&path) {
            Ok(()) => {
                tracing::info!(file = %path.display(), bytes = meta.len(), "removed a stale temporary file of a killed run");
                removed.add(Removed {
                    files: 1,
                    bytes: meta.len(),
                });
            }
            // Another run's cleanup got there first.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(IngestError::io(&path, e)),
        }
    }
    Ok(removed)
}

/// The newest modification time under `dir` (itself included).
fn newest(dir: &Path) -> Option<SystemTime> {
    let mut latest = std::fs::symlink_metadata(dir).ok()?.modified().ok()?;
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let Ok(meta) = entry.metadata() else {
            continue;
        };
        let at = if meta.is_dir() {
            newest(&entry.path())
        } else {
            meta.modified().ok()
        };
        latest = latest.max(at.unwrap_or(latest));
    }
    Some(latest)
}

/// Files and bytes under `dir`.
fn size(dir: &Path) -> Removed {
    let mut out = Removed::default();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        match entry.metadata() {
            Ok(m) if m.is_dir() => out.add(size(&entry.path())),
            Ok(m) => out.add(Removed {
                files: 1,
                bytes: m.len(),
            }),
            Err(_) => {}
        }
    }
    out
}

/// Removes the stale staging folders (`topsellers-ingest-*`) of runs into
/// S3 under `base`. One that cannot be removed (another user's, in a shared
/// temp folder) is left with a warning.
pub(crate) fn remove_staging_dirs(base: &Path, grace: Duration, now: SystemTime) -> Removed {
    let mut removed = Removed::default();
    let Ok(entries) = std::fs::read_dir(base) else {
        return removed;
    };
    for entry in entries.flatten() {
        let is_dir = entry.file_type().is_ok_and(|k| k.is_dir());
        if !is_dir
            || !entry
                .file_name()
                .to_string_lossy()
                .starts_with(STAGING_PREFIX)
        {
            continue;
        }
        let path = entry.path();
        if !is_stale(
            newest(&path).ok_or(std::io::ErrorKind::NotFound.into()),
            grace,
            now,
        ) {
            continue;
        }
        let held = size(&path);
        match std::fs::remove_dir_all(&path) {
            Ok(()) => {
                tracing::info!(folder = %path.display(), files = held.files, bytes = held.bytes, "removed the stale staging folder of a killed run");
                removed.add(held);
            }
            Err(e) => {
                tracing::warn!(folder = %path.display(), error = %e, "cannot remove a stale staging folder; it can be deleted")
            }
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(path: &Path, bytes: &[u8]) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }

    #[test]
    fn removes_only_old_temps_of_its_own_naming() {
        let lake = tempfile::tempdir().unwrap();
        let part = lake.path().join("category=a/dt=2026-10-15");
        let staged = part.join(".part-20261015T000000Z-00ab-00001.parquet.tmp");
        let quarantine = lake
            .path()
            .join("_quarantine/.topsellers-quarantine-x1.tmp");
        let kept = [
            part.join("part-20261015T000000Z-00ab-00001.parquet"),
            part.join(".other.tmp"),
            lake.path().join("_quarantine/ingest-r.jsonl"),
            // Deeper than the lake's layout.
            part.join("x/.part-r-00001.parquet.tmp"),
        ];
        touch(&staged, b"12345");
        touch(&quarantine, b"12");
        for k in &kept {
            touch(k, b"k");
        }
        let now = SystemTime::now();
        // Younger than the grace period: a live run's, kept.
        let hour = Duration::from_secs(3600);
        assert_eq!(
            remove_temps(lake.path(), hour, now).unwrap(),
            Removed::default()
        );
        assert!(staged.exists() && quarantine.exists());
        let later = now + 2 * hour;
        assert_eq!(
            remove_temps(lake.path(), hour, later).unwrap(),
            Removed { files: 2, bytes: 7 }
        );
        assert!(!staged.exists() && !quarantine.exists());
        assert!(kept.iter().all(|k| k.exists()));
        assert_eq!(
            remove_temps(&lake.path().join("missing"), hour, later).unwrap(),
            Removed::default()
        );
    }

    #[test]
    fn removes_old_staging_folders_whole() {
        let base = tempfile::tempdir().unwrap();
        let old = base.path().join("topsellers-ingest-abc");
        touch(
            &old.join("category=a/dt=2026-10-15/.part-r-00001.parquet.tmp"),
            b"123",
        );
        touch(&base.path().join("other/file"), b"1");
        let hour = Duration::from_secs(3600);
        let now = SystemTime::now();
        assert_eq!(
            remove_staging_dirs(base.path(), hour, now),
            Removed::default()
        );
        assert!(old.exists());
        assert_eq!(
            remove_staging_dirs(base.path(), hour, now + 2 * hour),
            Removed { files: 1, bytes: 3 }
        );
        assert!(!old.exists());
        assert!(base.path().join("other/file").exists());
    }
}
