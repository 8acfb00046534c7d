//! The quarantine file: one JSON object per bad line,
//! `{"source", "line", "reason", "raw"}`, streamed into a temporary file next
//! to its final path and renamed into place when the run ends.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;
use tempfile::NamedTempFile;

use super::batch::BadLine;
use crate::error::IngestError;

/// Prefix of a quarantine file being written (see `stale`).
pub(crate) const TEMP_PREFIX: &str = ".topsellers-quarantine-";

/// One quarantine entry.
#[derive(Serialize)]
struct Entry<'a> {
    source: &'a str,
    line: u64,
    reason: &'static str,
    /// The line as read; bytes that are not UTF-8 become U+FFFD.
    raw: &'a str,
}

/// A quarantine file being written.
pub(crate) struct Quarantine {
    path: PathBuf,
    /// Create the file even when no line is bad (the user named it).
    always: bool,
    out: Option<std::io::BufWriter<NamedTempFile>>,
    entries: u64,
}

impl Quarantine {
    /// A quarantine for `path`, created on the first bad line (or at the end
    /// when `always`).
    pub(crate) fn new(path: PathBuf, always: bool) -> Self {
        Self {
            path,
            always,
            out: None,
            entries: 0,
        }
    }

    fn fail(&self, e: impl std::fmt::Display) -> IngestError {
        IngestError::Output {
            path: self.path.clone(),
            message: e.to_string(),
        }
    }

    fn writer(&mut self) -> Result<&mut std::io::BufWriter<NamedTempFile>, IngestError> {
        if self.out.is_none() {
            let dir = match self.path.parent() {
                Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
                _ => PathBuf::from("."),
            };
            std::fs::create_dir_all(&dir).map_err(|e| IngestError::io(&dir, e))?;
            let tmp = tempfile::Builder::new()
                .prefix(TEMP_PREFIX)
                .suffix(".tmp")
                .tempfile_in(&dir)
                .map_err(|e| IngestError::io(&dir, e))?;
            self.out = Some(std::io::BufWriter::with_capacity(1 << 16, tmp));
        }
        self.out.as_mut().ok_or_else(|| IngestError::Output {
            path: self.path.clone(),
            message: "quarantine file not open".into(),
        })
    }

    /// Appends the bad lines of one input.
    pub(crate) fn write(&mut self, source: &str, bad: &[BadLine]) -> Result<(), IngestError> {
        if bad.is_empty() {
            return Ok(());
        }
        let mut line = Vec::with_capacity(256);
        for b in bad {
            let raw = String::from_utf8_lossy(&b.raw);
            let entry = Entry {
                source,
                line: b.line,
                reason: b.reason.as_str(),
                raw: &raw,
            };
            line.clear();
            serde_json::to_writer(&mut line, &entry).map_err(|e| self.fail(e))?;
            line.push(b'\n');
            let w = self.writer()?;
            if let Err(e) = w.write_all(&line) {
                return Err(self.fail(e));
            }
            self.entries += 1;
        }
        Ok(())
    }

    /// Syncs and renames the file into place; returns its path, or `None`
    /// when there was nothing to write and no file was asked for.
    pub(crate) fn finish(mut self) -> Result<Option<PathBuf>, IngestError> {
        if self.out.is_none() && !self.always {
            return Ok(None);
        }
        self.writer()?;
        let Some(out) = self.out.take() else {
            return Ok(None);
        };
        let tmp = out.into_inner().map_err(|e| self.fail(e.error()))?;
        tmp.as_file().sync_all().map_err(|e| self.fail(e))?;
        tmp.persist(&self.path).map_err(|e| self.fail(e.error))?;
        Ok(Some(self.path))
    }
}

/// The default quarantine path: `<lake>/_quarantine/ingest-<run id>.jsonl`.
pub(crate) fn default_path(lake: &Path, run_id: &str) -> PathBuf {
    lake.join("_quarantine")
        .join(format!("ingest-{run_id}.jsonl"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reason::BadReason;

    #[test]
    fn writes_json_lines_only_when_needed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("q/bad.jsonl");
        assert_eq!(Quarantine::new(path.clone(), false).finish().unwrap(), None);
        assert!(!path.exists());
        let mut q = Quarantine::new(path.clone(), false);
        q.write(
            "in.json",
            &[BadLine {
                line: 7,
                reason: BadReason::BadTs,
                raw: b"{\"ts\":\"x\"}\xff".to_vec(),
            }],
        )
        .unwrap();
        assert_eq!(q.entries, 1);
        assert_eq!(q.finish().unwrap(), Some(path.clone()));
        let text = std::fs::read_to_string(&path).unwrap();
        let v: serde_json::Value = serde_json::from_str(text.trim_end()).unwrap();
        assert_eq!(v["source"], "in.json");
        assert_eq!(v["line"], 7);
        assert_eq!(v["reason"], "bad_ts");
        assert_eq!(v["raw"], "{\"ts\":\"x\"}\u{fffd}");
        let empty = dir.path().join("asked.jsonl");
        assert_eq!(
            Quarantine::new(empty.clone(), true).finish().unwrap(),
            Some(empty.clone())
        );
        assert_eq!(std::fs::read(&empty).unwrap(), b"");
    }
}
