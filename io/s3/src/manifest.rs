//! The local record of what a sync copied: per file, the object's size and
//! ETag, so the next sync only transfers what changed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::S3Error;
use topsellers_lake::write_atomically;

/// File name of the manifest inside the local lake (hidden: readers skip it).
pub const MANIFEST_NAME: &str = ".topsellers-sync.json";

/// What was copied for one local file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestEntry {
    /// Object size in bytes.
    pub size: u64,
    /// The object's ETag, as S3 gave it.
    pub etag: String,
}

/// The manifest: source location and the entries, keyed by path relative to
/// the local lake root.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// The `s3://` source.
    pub source: String,
    /// Entries by relative path.
    pub files: BTreeMap<String, ManifestEntry>,
}

impl Manifest {
    /// The manifest's path inside `root`.
    pub fn path(root: &Path) -> PathBuf {
        root.join(MANIFEST_NAME)
    }

    /// Loads the manifest of `root`; a missing one is empty, an unreadable
    /// one is reported and treated as empty (everything is then re-verified).
    pub fn load(root: &Path, source: &str) -> Self {
        let path = Self::path(root);
        let empty = Self {
            source: source.to_string(),
            files: BTreeMap::new(),
        };
        let Ok(bytes) = std::fs::read(&path) else {
            return empty;
        };
        match serde_json::from_slice::<Manifest>(&bytes) {
            Ok(m) if m.source == source => m,
            Ok(m) => {
                tracing::warn!(path = %path.display(), was = %m.source, now = source, "manifest is for another source; starting afresh");
                empty
            }
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "unreadable sync manifest; every file will be re-verified");
                empty
            }
        }
    }

    /// Writes the manifest atomically.
    pub fn save(&self, root: &Path) -> Result<(), S3Error> {
        write_atomically(&Self::path(root), |w| {
            serde_json::to_writer_pretty(&mut *w, self).map_err(|e| e.to_string())
        })?;
        Ok(())
    }
}
