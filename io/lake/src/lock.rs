//! The run lock: one `run` at a time per lock file.
//!
//! An advisory `flock(2)` lock, taken without waiting. The kernel drops it
//! when the process exits, however it exits (crash, `kill -9`, OOM), so a
//! stale lock file never blocks the next run: only a live holder does. The
//! holder writes its pid and start time into the file for the message the
//! loser prints.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use crate::error::LakeError;

/// A held run lock; released when dropped.
#[derive(Debug)]
pub struct RunLock {
    file: File,
    path: PathBuf,
}

impl RunLock {
    /// Takes the lock at `path` (creating the file and its folder), or fails
    /// at once with [`LakeError::Locked`] naming the holder.
    pub fn acquire(path: &Path) -> Result<Self, LakeError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| LakeError::io(dir, e))?;
        }
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(|e| LakeError::io(path, e))?;
        // SAFETY: flock only reads the descriptor, which `file` keeps open
        // for the duration of the call.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if rc != 0 {
            let err = std::io::Error::last_os_error();
            if err.raw_os_error() == Some(libc::EWOULDBLOCK) {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim();
                return Err(LakeError::Locked {
                    path: path.to_path_buf(),
                    holder: if holder.is_empty() {
                        "holder unknown".into()
                    } else {
                        holder.to_string()
                    },
                });
            }
            return Err(LakeError::io(path, err));
        }
        let stamp = format!(
            "pid {} since {}\n",
            std::process::id(),
            chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        );
        file.set_len(0)
            .and_then(|()| file.rewind())
            .and_then(|()| file.write_all(stamp.as_bytes()))
            .map_err(|e| LakeError::io(path, e))?;
        Ok(Self {
            file,
            path: path.to_path_buf(),
        })
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for RunLock {
    fn drop(&mut self) {
        // The file stays (removing it would race with a new holder); only
        // the stamp is cleared. Closing the descriptor releases the lock.
        let _ = self.file.set_len(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_holder_is_refused_until_release() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state/run.lock");
        let first = RunLock::acquire(&path).unwrap();
        let err = RunLock::acquire(&path).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("another run holds the lock"), "{text}");
        assert!(
            text.contains(&format!("pid {}", std::process::id())),
            "{text}"
        );
        drop(first);
        let again = RunLock::acquire(&path).unwrap();
        assert_eq!(again.path(), path);
    }
}
