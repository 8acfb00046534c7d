//! Hive-style lake discovery: `<root>/category=<value>/[dt=YYYY-MM-DD/]…/<file>`.
//!
//! Other `key=value` levels are ignored, names starting with `_` or `.`
//! (Spark's `_SUCCESS`, checksum files) are skipped, and `%XX` escapes in
//! values are decoded.

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use percent_encoding::percent_decode_str;
use rayon::prelude::*;

use crate::error::LakeError;

/// A data file of the lake and the partition values of its folders.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct LakeFile {
    /// The category (decoded `category=` value).
    pub category: String,
    /// The day of a `dt=` partition, if any.
    pub dt: Option<NaiveDate>,
    /// The file.
    pub path: PathBuf,
}

/// Lists every data file under `root`, sorted by (category, dt, path).
pub fn discover(root: &Path) -> Result<Vec<LakeFile>, LakeError> {
    Ok(discover_where(root, &|_| true)?.files)
}

/// The files found, and how many `dt=` folders were left unlisted.
#[derive(Debug, Default)]
pub struct Discovered {
    /// Data files, sorted by (category, dt, path).
    pub files: Vec<LakeFile>,
    /// `dt=` folders skipped because `keep_dt` refused their day.
    pub partitions_pruned: u64,
    /// Categories seen (also those whose every partition was skipped).
    pub categories: Vec<String>,
}

/// Lists the data files under `root`, not even descending into `dt=` folders
/// whose day `keep_dt` refuses (a lake of years of days lists only the days a
/// run needs). Folders are walked in parallel, and files are never `stat`ed:
/// the directory entries say what they are.
pub fn discover_where(
    root: &Path,
    keep_dt: &(dyn Fn(NaiveDate) -> bool + Sync),
) -> Result<Discovered, LakeError> {
    let meta = std::fs::metadata(root).map_err(|e| LakeError::io(root, e))?;
    if !meta.is_dir() {
        return Err(LakeError::io(
            root,
            std::io::Error::other(
                "not a folder: give the lake's root folder, the one that holds the category=<value> folders",
            ),
        ));
    }
    let mut found = walk(root, &Partition::default(), keep_dt)?;
    found.files.sort();
    found.categories.sort();
    found.categories.dedup();
    Ok(found)
}

/// Lists the data files a scan of the times `(cutoff, as_of]` (ns) can
/// need: a `dt=D` folder holds `D 00:00 <= ts < D+1 00:00`, and one wholly
/// outside that range is not listed. A lake with no data file at all is an
/// error ([`LakeError::EmptyLake`]).
pub(crate) fn discover_window(
    root: &Path,
    cutoff: i64,
    as_of: i64,
) -> Result<Discovered, LakeError> {
    let keep_dt = |dt| {
        let (start, end) = dt_range_ns(dt);
        end - 1 > cutoff && start <= as_of
    };
    let found = discover_where(root, &keep_dt)?;
    if found.files.is_empty() && found.partitions_pruned == 0 {
        return Err(LakeError::EmptyLake {
            root: root.to_path_buf(),
        });
    }
    Ok(found)
}

#[derive(Default, Clone)]
struct Partition {
    category: Option<String>,
    dt: Option<NaiveDate>,
}

fn walk(
    dir: &Path,
    part: &Partition,
    keep_dt: &(dyn Fn(NaiveDate) -> bool + Sync),
) -> Result<Discovered, LakeError> {
    let mut found = Discovered::default();
    let mut subdirs = Vec::new();
    if let Some(c) = &part.category {
        found.categories.push(c.clone());
    }
    let entries = std::fs::read_dir(dir).map_err(|e| LakeError::io(dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| LakeError::io(dir, e))?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('_') || name.starts_with('.') {
            continue;
        }
        let path = entry.path();
        let mut kind = entry.file_type().map_err(|e| LakeError::io(&path, e))?;
        if kind.is_symlink() {
            // Follow links: operators often link a lake from another disk.
            kind = std::fs::metadata(&path)
                .map_err(|e| LakeError::io(&path, e))?
                .file_type();
        }
        if kind.is_dir() {
            let mut inner = part.clone();
            if let Some((key, raw)) = name.split_once('=') {
                let value = decode_value(&path, raw)?;
                match key {
                    "category" => inner.category = Some(value),
                    "dt" => {
                        let dt = parse_dt(&path, &value)?;
                        if !keep_dt(dt) {
                            found.partitions_pruned += 1;
                            if let Some(c) = &inner.category {
                                found.categories.push(c.clone());
                            }
                            continue;
                        }
                        inner.dt = Some(dt);
                    }
                    _ => {}
                }
            }
            subdirs.push((path, inner));
        } else if kind.is_file() && is_data_file(&name) {
            let Some(category) = part.category.clone() else {
                tracing::warn!(path = %path.display(), "ignoring a data file outside any category=<value> folder");
                continue;
            };
            found.files.push(LakeFile {
                category,
                dt: part.dt,
                path,
            });
        }
    }
    let nested: Vec<Discovered> = subdirs
        .par_iter()
        .map(|(path, inner)| walk(path, inner, keep_dt))
        .collect::<Result<_, _>>()?;
    for n in nested {
        found.files.extend(n.files);
        found.categories.extend(n.categories);
        found.partitions_pruned += n.partitions_pruned;
    }
    Ok(found)
}

/// Data files end in `.parquet` or have no extension at all (Hive and Athena
/// name theirs like `000000_0`); anything else (`manifest.json`, `.crc`) is
/// not data.
fn is_data_file(name: &str) -> bool {
    name.ends_with(".parquet") || !name.contains('.')
}

fn decode_value(path: &Path, raw: &str) -> Result<String, LakeError> {
    percent_decode_str(raw)
        .decode_utf8()
        .map(|v| v.into_owned())
        .map_err(|e| LakeError::BadPartition {
            path: path.to_path_buf(),
            value: raw.to_string(),
            reason: format!("%XX escapes do not decode to UTF-8: {e}"),
        })
}

fn parse_dt(path: &Path, value: &str) -> Result<NaiveDate, LakeError> {
    NaiveDate::parse_from_str(value, "%Y-%m-%d").map_err(|e| LakeError::BadPartition {
        path: path.to_path_buf(),
        value: value.to_string(),
        reason: format!("dt must be YYYY-MM-DD: {e}"),
    })
}

/// The nanosecond range `[start, end)` a `dt=` partition covers.
pub fn dt_range_ns(dt: NaiveDate) -> (i64, i64) {
    let start = dt.and_hms_opt(0, 0, 0).map_or(i64::MIN, |t| {
        t.and_utc().timestamp_nanos_opt().unwrap_or(i64::MIN)
    });
    (start, start.saturating_add(86_400_000_000_000))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_files_decodes_values_and_skips_hidden() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for p in [
            "category=a%20b/dt=2026-10-01/part-0.parquet",
            "category=a%20b/dt=2026-10-01/_SUCCESS",
            "category=a%20b/dt=2026-10-01/.part-0.parquet.crc",
            "category=c/region=eu/x.parquet",
            "_tmp/category=z/y.parquet",
        ] {
            let p = root.join(p);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, b"x").unwrap();
        }
        let files = discover(root).unwrap();
        let got: Vec<(String, Option<String>)> = files
            .iter()
            .map(|f| (f.category.clone(), f.dt.map(|d| d.to_string())))
            .collect();
        assert_eq!(
            got,
            [
                ("a b".to_string(), Some("2026-10-01".to_string())),
                ("c".to_string(), None)
            ]
        );
    }

    #[test]
    fn ignores_loose_and_non_data_files_and_rejects_bad_dates() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("loose.parquet"), b"x").unwrap();
        std::fs::create_dir(dir.path().join("category=a")).unwrap();
        std::fs::write(dir.path().join("category=a/manifest.json"), b"{}").unwrap();
        std::fs::write(dir.path().join("category=a/000000_0"), b"x").unwrap();
        let found = discover(dir.path()).unwrap();
        assert_eq!(found.len(), 1);
        assert!(found[0].path.ends_with("000000_0"));
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("category=a/dt=2026-13-01");
        std::fs::create_dir_all(&p).unwrap();
        std::fs::write(p.join("f.parquet"), b"x").unwrap();
        let err = discover(dir.path()).unwrap_err().to_string();
        assert!(err.contains("2026-13-01"), "{err}");
    }

    #[test]
    fn dt_range_is_one_utc_day() {
        let (s, e) = dt_range_ns(NaiveDate::from_ymd_opt(1970, 1, 2).unwrap());
        assert_eq!((s, e), (86_400_000_000_000, 172_800_000_000_000));
    }
}
