//! The seeds: every file of a corpus folder, in name order.

use std::path::{Path, PathBuf};

/// One corpus file.
#[derive(Debug, Clone)]
pub struct Seed {
    /// Where it came from (named in findings and replays).
    pub path: PathBuf,
    /// Its bytes.
    pub bytes: Vec<u8>,
}

/// Reads every plain file of `dir` (not recursing), sorted by name, so a
/// run's seed fixes its inputs.
pub fn load(dir: &Path) -> std::io::Result<Vec<Seed>> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    paths.retain(|p| p.is_file());
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let bytes = std::fs::read(&path)?;
            Ok(Seed { path, bytes })
        })
        .collect()
}
