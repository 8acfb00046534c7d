//! Hive-style lake discovery: `<root>/category=<value>/[dt=YYYY-MM-DD/]…/<file>`.
//!
//! Other `key=value` levels are ignored, names starting with `_` or `.`
//! (Spark's `_SUCCESS`, checksum files) are skipped, and `%XX` escapes in
//! values are decoded.
//!
//! # Symbolic links
//!
//! The root may itself be a link. Below it, a link is skipped with a warning
//! (and counted in [`Discovered::symlinks_skipped`]) when
//!
//! - its target lies inside the lake: the target is read where it lies, so
//!   following the link would count its purchases twice (or loop forever,
//!   for a link to a parent folder);
//! - its target lies outside the lake and [`Symlinks::Skip`] is asked for
//!   (the default): a lake is what its root holds, not what a link planted
//!   in it reaches;
//! - it is a folder link back to a folder already being walked (a cycle
//!   outside the lake, reached with [`Symlinks::Follow`]).

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

/// Which symbolic links below the root are followed (see the module docs).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Symlinks {
    /// None: every link below the root is skipped, with a warning.
    #[default]
    Skip,
    /// Links whose target lies outside the lake (another disk); links into
    /// the lake itself are still skipped.
    FollowOutside,
}

/// Lists every data file under `root`, sorted by (category, dt, path).
/// Links below the root are not followed ([`Symlinks::Skip`]).
pub fn discover(root: &Path) -> Result<Vec<LakeFile>, LakeError> {
    Ok(discover_where(root, Symlinks::Skip, &|_| true)?.files)
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
    /// Symbolic links not followed (see the module docs).
    pub symlinks_skipped: u64,
}

/// Lists the data files under `root`, not even descending into `dt=` folders
/// whose day `keep_dt` refuses (a lake of years of days lists only the days a
/// run needs). Folders are walked in parallel, and files are never `stat`ed:
/// the directory entries say what they are.
pub fn discover_where(
    root: &Path,
    links: Symlinks,
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
    let walk_root = std::fs::canonicalize(root).map_err(|e| LakeError::io(root, e))?;
    let ctx = Walk {
        root: &walk_root,
        links,
        keep_dt,
    };
    let mut found = walk(&ctx, root, &Partition::default(), &[])?;
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
    links: Symlinks,
    cutoff: i64,
    as_of: i64,
) -> Result<Discovered, LakeError> {
    let keep_dt = |dt| {
        let (start, end) = dt_range_ns(dt);
        end - 1 > cutoff && start <= as_of
    };
    let found = discover_where(root, links, &keep_dt)?;
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

/// What every folder of one walk shares.
struct Walk<'a> {
    /// The lake root, with every link resolved.
    root: &'a Path,
    links: Symlinks,
    keep_dt: &'a (dyn Fn(NaiveDate) -> bool + Sync),
}

/// What a link below the root leads to, when it is followed.
enum Link {
    /// Follow it: its target is of this kind; a folder's resolved path.
    Follow(std::fs::FileType, Option<PathBuf>),
    /// Skip it, for this reason.
    Skip(&'static str),
}

/// Whether to follow the link at `path` (see the module docs).
/// `followed` holds the resolved folders of the links followed to get here.
fn judge_link(ctx: &Walk<'_>, path: &Path, followed: &[PathBuf]) -> Result<Link, LakeError> {
    let target = std::fs::canonicalize(path).map_err(|e| LakeError::io(path, e))?;
    if target.starts_with(ctx.root) {
        return Ok(Link::Skip(
            "its target lies inside the lake, where it is read without the link",
        ));
    }
    if ctx.root.starts_with(&target) {
        return Ok(Link::Skip("its target holds the lake itself"));
    }
    if ctx.links == Symlinks::Skip {
        return Ok(Link::Skip(
            "its target lies outside the lake (allow such links with --follow-symlinks)",
        ));
    }
    let kind = std::fs::metadata(&target)
        .map_err(|e| LakeError::io(&target, e))?
        .file_type();
    if !kind.is_dir() {
        return Ok(Link::Follow(kind, None));
    }
    if followed.iter().any(|f| f.starts_with(&target)) {
        return Ok(Link::Skip("it leads back to a folder already being walked"));
    }
    Ok(Link::Follow(kind, Some(target)))
}

fn walk(
    ctx: &Walk<'_>,
    dir: &Path,
    part: &Partition,
    followed: &[PathBuf],
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
        let mut chain = None;
        if kind.is_symlink() {
            match judge_link(ctx, &path, followed)? {
                Link::Follow(k, resolved) => {
                    kind = k;
                    chain = resolved.map(|r| [followed, &[r]].concat());
                }
                Link::Skip(why) => {
                    tracing::warn!(path = %path.display(), "not following a symbolic link: {why}");
                    found.symlinks_skipped += 1;
                    continue;
                }
            }
        }
        if kind.is_dir() {
            let mut inner = part.clone();
            if let Some((key, raw)) = name.split_once('=') {
                let value = decode_value(&path, raw)?;
                match key {
                    "category" => inner.category = Some(value),
                    "dt" => {
                        let dt = parse_dt(&path, &value)?;
                        if !(ctx.keep_dt)(dt) {
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
            subdirs.push((path, inner, chain.unwrap_or_else(|| followed.to_vec())));
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
        .map(|(path, inner, chain)| walk(ctx, path, inner, chain))
        .collect::<Result<_, _>>()?;
    for n in nested {
        found.files.extend(n.files);
        found.categories.extend(n.categories);
        found.partitions_pruned += n.partitions_pruned;
        found.symlinks_skipped += n.symlinks_skipped;
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

    /// A lake with one file of its own, and a folder beside it holding
    /// `category=out/o.parquet`, linked in three ways.
    fn lake_with_links() -> (tempfile::TempDir, PathBuf) {
        use std::os::unix::fs::symlink;
        let dir = tempfile::tempdir().unwrap();
        let lake = dir.path().join("lake");
        let outside = dir.path().join("elsewhere");
        for p in [
            lake.join("category=a/dt=2026-10-01/f.parquet"),
            outside.join("category=out/o.parquet"),
        ] {
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, b"x").unwrap();
        }
        // Outside: a folder link, a file link, and a cycle there.
        symlink(outside.join("category=out"), lake.join("category=out")).unwrap();
        symlink(
            outside.join("category=out/o.parquet"),
            lake.join("category=a/dt=2026-10-01/o.parquet"),
        )
        .unwrap();
        symlink(&outside, outside.join("category=out/loop")).unwrap();
        // Inside: a second name for a's folder, and a link to the root.
        symlink(lake.join("category=a"), lake.join("category=b")).unwrap();
        symlink(&lake, lake.join("category=a/up")).unwrap();
        (dir, lake)
    }

    fn listed(found: &Discovered, lake: &Path) -> Vec<String> {
        found
            .files
            .iter()
            .map(|f| f.path.strip_prefix(lake).unwrap().display().to_string())
            .collect()
    }

    #[test]
    fn skips_every_link_below_the_root_by_default() {
        let (_dir, lake) = lake_with_links();
        let found = discover_where(&lake, Symlinks::Skip, &|_| true).unwrap();
        assert_eq!(
            listed(&found, &lake),
            ["category=a/dt=2026-10-01/f.parquet"]
        );
        assert_eq!(found.symlinks_skipped, 4);
        // The root itself may be a link.
        let via = lake.with_file_name("via");
        std::os::unix::fs::symlink(&lake, &via).unwrap();
        let found = discover_where(&via, Symlinks::Skip, &|_| true).unwrap();
        assert_eq!((found.files.len(), found.symlinks_skipped), (1, 4));
    }

    #[test]
    fn follows_only_links_that_leave_the_lake_when_asked() {
        let (_dir, lake) = lake_with_links();
        let found = discover_where(&lake, Symlinks::FollowOutside, &|_| true).unwrap();
        assert_eq!(
            listed(&found, &lake),
            [
                "category=a/dt=2026-10-01/f.parquet",
                "category=a/dt=2026-10-01/o.parquet",
                "category=out/o.parquet",
            ]
        );
        // category=b and up (inside), and the cycle category=out/loop.
        assert_eq!(found.symlinks_skipped, 3);
    }

    #[test]
    fn dt_range_is_one_utc_day() {
        let (s, e) = dt_range_ns(NaiveDate::from_ymd_opt(1970, 1, 2).unwrap());
        assert_eq!((s, e), (86_400_000_000_000, 172_800_000_000_000));
    }
}
