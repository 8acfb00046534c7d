//! Result files: the run's ranked items as CSV, JSON or Parquet, written
//! atomically (temporary file, fsync, rename) so that a failed run never leaves
//! a partial or mixed file where the last good one was.

mod csv;
mod json;
mod parquet;
mod read;
mod read_parquet;
mod set;

use std::io::Write;
use std::path::Path;

use topsellers_engine::{CategoryOutcome, ItemId, ScoringPlan};

use crate::error::LakeError;
use crate::timefmt::rfc3339;

pub use read::read_results;
pub use set::{ResultGroup, ResultSet, VariantTotals};

/// One output row: a ranked item of a (variant, category).
#[derive(Debug, Clone, PartialEq)]
pub struct ResultRow<'a> {
    /// Variant name.
    pub variant: &'a str,
    /// Category.
    pub category: &'a str,
    /// 1-based rank.
    pub rank: u32,
    /// The item.
    pub item: &'a ItemId,
    /// Its score.
    pub score: f64,
    /// The category's window in whole seconds.
    pub window_s: i64,
}

/// A run's results, ready to be written.
pub struct RunResults<'a> {
    /// The plan they were computed under.
    pub plan: &'a ScoringPlan,
    /// Per category outcomes, sorted by category.
    pub outcomes: &'a [CategoryOutcome],
}

impl RunResults<'_> {
    /// `as_of` in RFC 3339.
    pub fn as_of(&self) -> String {
        rfc3339(self.plan.as_of_ns)
    }

    /// The rows in output order: variant (plan order), category, rank.
    pub fn rows(&self) -> impl Iterator<Item = ResultRow<'_>> {
        self.plan
            .variants
            .iter()
            .enumerate()
            .flat_map(move |(v, variant)| {
                self.outcomes
                    .iter()
                    .filter_map(|o| o.scored.as_ref().map(|s| (o, s)))
                    .flat_map(move |(o, s)| {
                        s.top[v].iter().enumerate().map(move |(rank, r)| ResultRow {
                            variant: &variant.name,
                            category: &o.category,
                            rank: rank as u32 + 1,
                            item: &r.item,
                            score: r.score,
                            window_s: s.window_ns / 1_000_000_000,
                        })
                    })
            })
    }
}

/// The output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `variant,category,rank,item_id,score,window_s,as_of`.
    Csv,
    /// One document with the parameters and the results per (variant, category).
    Json,
    /// The CSV's columns, typed.
    Parquet,
}

impl Format {
    /// The format named by `path`'s extension.
    pub fn from_path(path: &Path) -> Result<Self, LakeError> {
        match path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("csv") => Ok(Format::Csv),
            Some("json") => Ok(Format::Json),
            Some("parquet") => Ok(Format::Parquet),
            _ => Err(LakeError::OutputFormat {
                path: path.to_path_buf(),
            }),
        }
    }
}

/// Writes `results` to `path` in the format its extension names, atomically.
pub fn write_results(path: &Path, results: &RunResults<'_>) -> Result<(), LakeError> {
    let format = Format::from_path(path)?;
    write_atomically(path, |w| match format {
        Format::Csv => csv::write(w, results),
        Format::Json => json::write(w, results),
        Format::Parquet => parquet::write(w, results),
    })
}

/// The start of the names [`write_atomically`] gives `path`'s temporary
/// files: hidden, and named after the file, so that its owner can find what
/// a killed write left (see [`remove_temps_of`]).
fn temp_prefix(path: &Path) -> String {
    let name = path
        .file_name()
        .map_or_else(|| "topsellers".into(), |n| n.to_string_lossy().into_owned());
    format!(".{name}.")
}

/// Removes the temporary files that writes of `path` killed outright
/// (SIGKILL, power loss) left next to it; returns how many. Only the
/// process that owns `path` (holding its lock) may call it: another one
/// writing `path` right now would lose its temporary file.
pub fn remove_temps_of(path: &Path) -> Result<u64, LakeError> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let prefix = temp_prefix(path);
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(LakeError::io(dir, e)),
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !(name.starts_with(&prefix) && name.ends_with(".tmp")) {
            continue;
        }
        match std::fs::remove_file(entry.path()) {
            Ok(()) => removed += 1,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(LakeError::io(entry.path(), e)),
        }
    }
    if removed > 0 {
        tracing::info!(file = %path.display(), removed, "removed the temporary files of killed writes");
    }
    Ok(removed)
}

/// Writes a file through `fill` under a temporary name in the same folder
/// (see [`temp_prefix`]), fsyncs it and renames it over `path`.
pub fn write_atomically(
    path: &Path,
    fill: impl FnOnce(&mut (dyn Write + Send)) -> Result<(), String>,
) -> Result<(), LakeError> {
    let out_err = |message: String| LakeError::Output {
        path: path.to_path_buf(),
        message,
    };
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(&temp_prefix(path))
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(|e| {
            out_err(format!(
                "cannot create a temporary file in {}: {e}",
                dir.display()
            ))
        })?;
    {
        let mut w = std::io::BufWriter::new(tmp.as_file_mut());
        fill(&mut w).map_err(out_err)?;
        w.flush().map_err(|e| out_err(e.to_string()))?;
    }
    // Temporary files are created 0600; outputs are read by others
    // (node_exporter reads the metrics as its own user), so 0644.
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))
            .map_err(|e| out_err(e.to_string()))?;
    }
    tmp.as_file()
        .sync_all()
        .map_err(|e| out_err(e.to_string()))?;
    tmp.persist(path)
        .map_err(|e| out_err(e.error.to_string()))?;
    Ok(())
}

trait OrOutput<T> {
    fn or_output(self) -> Result<T, String>;
}

impl<T, E: std::fmt::Display> OrOutput<T> for Result<T, E> {
    fn or_output(self) -> Result<T, String> {
        self.map_err(|e| e.to_string())
    }
}
