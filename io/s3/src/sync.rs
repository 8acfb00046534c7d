//! `sync`: copy the lake's data files from S3 to a local folder,
//! incrementally (size + ETag against a local manifest), atomically (every
//! file appears whole or not at all) and resumably (a rerun finishes the job).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use aws_sdk_s3::Client;
use chrono::NaiveDate;
use futures::StreamExt;
use serde::Serialize;

use super::download::{download, Fetch, Tuning, TEMP_PREFIX};
use super::manifest::{Manifest, ManifestEntry};
use super::S3Location;
use crate::error::S3Error;
use topsellers_lake::dt_range_ns;

/// What to sync.
#[derive(Debug, Clone)]
pub struct SyncOptions {
    /// The source.
    pub from: S3Location,
    /// The local lake root.
    pub to: PathBuf,
    /// `dt=` partitions ending before this instant (ns) are skipped.
    pub oldest_ns: Option<i64>,
    /// Remove local files whose objects are gone (or out of the horizon).
    pub delete: bool,
    /// Only report what would change.
    pub dry_run: bool,
    /// Objects downloaded at once.
    pub concurrency: usize,
    /// Ranged-GET part size for large objects.
    pub part_size: u64,
    /// List only the `dt=` partitions from this day on, category by
    /// category, and leave older local files as they are: what an incremental
    /// cycle needs, at a cost that does not grow with the history. `None`
    /// lists the whole prefix.
    pub recent_from: Option<NaiveDate>,
}

/// What a sync did (or would do, with `dry_run`).
#[derive(Debug, Clone, Default, Serialize)]
pub struct SyncReport {
    /// Source location.
    pub source: String,
    /// Objects listed under the prefix.
    pub listed: u64,
    /// Listed objects that are lake data files.
    pub data_files: u64,
    /// Data files skipped: their `dt=` partition is older than the horizon.
    pub skipped_by_horizon: u64,
    /// Files already up to date.
    pub unchanged: u64,
    /// Files new locally.
    pub new: Vec<String>,
    /// Files whose object changed.
    pub changed: Vec<String>,
    /// Local files removed (`delete`).
    pub deleted: Vec<String>,
    /// Bytes downloaded.
    pub bytes_downloaded: u64,
    /// Whether nothing was changed on disk.
    pub dry_run: bool,
    /// Seconds taken.
    pub seconds: f64,
}

/// Lake data file names: not hidden (`_`/`.` components), `.parquet` or no
/// extension (the same rule the local discovery uses).
fn is_data_key(rel: &str) -> bool {
    let mut parts = rel.split('/').peekable();
    while let Some(p) = parts.next() {
        if p.is_empty() || p.starts_with('_') || p.starts_with('.') {
            return false;
        }
        if parts.peek().is_none() {
            return p.ends_with(".parquet") || !p.contains('.');
        }
    }
    false
}

fn dt_of(rel: &str) -> Option<NaiveDate> {
    rel.split('/')
        .find_map(|p| p.strip_prefix("dt="))
        .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
}

struct Listed {
    rel: String,
    key: String,
    size: u64,
    etag: String,
}

fn list_failed<E: std::error::Error + 'static>(from: &S3Location, e: E) -> S3Error {
    S3Error::S3 {
        location: from.to_string(),
        message: format!(
            "listing failed: {}",
            aws_sdk_s3::error::DisplayErrorContext(&e)
        ),
    }
}

/// Lists the data files from `recent` on: the `category=` folders first,
/// then each of them from its `dt=<recent>` partition on (keys are listed in
/// order, so `start_after` skips the older days without listing them).
async fn list_recent(
    client: &Client,
    from: &S3Location,
    recent: NaiveDate,
    concurrency: usize,
) -> Result<Vec<Listed>, S3Error> {
    let mut folders = Vec::new();
    let mut pages = client
        .list_objects_v2()
        .bucket(&from.bucket)
        .prefix(&from.prefix)
        .delimiter("/")
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| list_failed(from, e))?;
        folders.extend(
            page.common_prefixes()
                .iter()
                .filter_map(|p| p.prefix())
                .filter(|p| p[from.prefix.len()..].starts_with("category="))
                .map(str::to_string),
        );
    }
    let lists: Vec<Vec<Listed>> = futures::stream::iter(folders)
        .map(|folder| async move {
            let start = format!("{folder}dt={}", recent.format("%Y-%m-%d"));
            list_pages(client, from, &folder, Some(start)).await
        })
        .buffer_unordered(concurrency.max(1))
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<_, _>>()?;
    Ok(lists.into_iter().flatten().collect())
}

async fn list(client: &Client, from: &S3Location) -> Result<Vec<Listed>, S3Error> {
    list_pages(client, from, &from.prefix, None).await
}

async fn list_pages(
    client: &Client,
    from: &S3Location,
    prefix: &str,
    start_after: Option<String>,
) -> Result<Vec<Listed>, S3Error> {
    let mut out = Vec::new();
    let mut pages = client
        .list_objects_v2()
        .bucket(&from.bucket)
        .prefix(prefix)
        .set_start_after(start_after)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| list_failed(from, e))?;
        for obj in page.contents() {
            let Some(key) = obj.key() else { continue };
            let rel = key
                .strip_prefix(from.prefix.as_str())
                .unwrap_or(key)
                .to_string();
            out.push(Listed {
                rel,
                key: key.to_string(),
                size: obj.size().unwrap_or(0).max(0) as u64,
                etag: obj.e_tag().unwrap_or_default().to_string(),
            });
        }
    }
    Ok(out)
}

/// Removes temporary files left by an interrupted sync.
fn remove_leftovers(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let path = e.path();
        let name = e.file_name().to_string_lossy().into_owned();
        if path.is_dir() {
            remove_leftovers(&path);
        } else if name.starts_with(TEMP_PREFIX) {
            let _ = std::fs::remove_file(&path);
        }
    }
}

/// Syncs the lake. `progress(bytes)` is called as files complete.
pub async fn sync(
    client: &Client,
    opts: &SyncOptions,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<SyncReport, S3Error> {
    let started = Instant::now();
    let source = opts.from.to_string();
    let mut report = SyncReport {
        source: source.clone(),
        dry_run: opts.dry_run,
        ..SyncReport::default()
    };
    let listed = match opts.recent_from {
        Some(day) => list_recent(client, &opts.from, day, opts.concurrency).await?,
        None => list(client, &opts.from).await?,
    };
    // With a recent-only listing, files of older partitions were not listed:
    // they are neither stale nor to be deleted.
    let listed_range = |rel: &str| match (opts.recent_from, dt_of(rel)) {
        (Some(day), Some(dt)) => dt >= day,
        (Some(_), None) => false,
        (None, _) => true,
    };
    report.listed = listed.len() as u64;
    let mut manifest = Manifest::load(&opts.to, &source);
    let mut wanted: BTreeMap<String, Listed> = BTreeMap::new();
    for obj in listed {
        if !is_data_key(&obj.rel) {
            continue;
        }
        report.data_files += 1;
        if let (Some(oldest), Some(dt)) = (opts.oldest_ns, dt_of(&obj.rel)) {
            if dt_range_ns(dt).1 <= oldest {
                report.skipped_by_horizon += 1;
                continue;
            }
        }
        wanted.insert(obj.rel.clone(), obj);
    }
    let mut fetches = Vec::new();
    for (rel, obj) in &wanted {
        let dest = opts.to.join(rel);
        let entry = ManifestEntry {
            size: obj.size,
            etag: obj.etag.clone(),
        };
        let on_disk = std::fs::metadata(&dest).map(|m| m.len()).ok();
        match (manifest.files.get(rel), on_disk) {
            (Some(e), Some(len)) if *e == entry && len == obj.size => report.unchanged += 1,
            (Some(_), Some(_)) => {
                report.changed.push(rel.clone());
                fetches.push(Fetch {
                    key: obj.key.clone(),
                    size: obj.size,
                    etag: obj.etag.clone(),
                    dest,
                });
            }
            _ => {
                report.new.push(rel.clone());
                fetches.push(Fetch {
                    key: obj.key.clone(),
                    size: obj.size,
                    etag: obj.etag.clone(),
                    dest,
                });
            }
        }
    }
    let stale: Vec<String> = manifest
        .files
        .keys()
        .filter(|rel| !wanted.contains_key(*rel) && listed_range(rel))
        .cloned()
        .collect();
    if opts.delete {
        report.deleted = stale.clone();
    }
    if opts.dry_run {
        report.seconds = started.elapsed().as_secs_f64();
        return Ok(report);
    }
    std::fs::create_dir_all(&opts.to).map_err(|e| S3Error::io(&opts.to, e))?;
    remove_leftovers(&opts.to);
    topsellers_lake::remove_temps_of(&Manifest::path(&opts.to))?;

    let tuning = Tuning {
        part_size: opts.part_size.max(1 << 20),
        parts_in_flight: 4,
        attempts: 5,
    };
    let done: Mutex<Vec<(String, ManifestEntry)>> = Mutex::new(Vec::new());
    let bytes = AtomicU64::new(0);
    let results: Vec<Result<(), String>> = futures::stream::iter(&fetches)
        .map(|f| {
            let done = &done;
            let bytes = &bytes;
            async move {
                let n = download(client, &opts.from.bucket, f, tuning).await?;
                bytes.fetch_add(n, Ordering::Relaxed);
                progress(n);
                let rel = f
                    .dest
                    .strip_prefix(&opts.to)
                    .unwrap_or(&f.dest)
                    .to_string_lossy()
                    .into_owned();
                if let Ok(mut d) = done.lock() {
                    d.push((
                        rel,
                        ManifestEntry {
                            size: f.size,
                            etag: f.etag.clone(),
                        },
                    ));
                }
                Ok(())
            }
        })
        .buffer_unordered(opts.concurrency.max(1))
        .collect()
        .await;
    // Record every file that did arrive, even when others failed: the rerun
    // then only fetches what is missing.
    for (rel, entry) in done.into_inner().unwrap_or_default() {
        manifest.files.insert(rel, entry);
    }
    if opts.delete {
        for rel in &stale {
            let path = opts.to.join(rel);
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(S3Error::io(&path, e)),
            }
            manifest.files.remove(rel);
        }
    }
    manifest.save(&opts.to)?;
    report.bytes_downloaded = bytes.load(Ordering::Relaxed);
    report.seconds = started.elapsed().as_secs_f64();
    let failures: Vec<String> = results.into_iter().filter_map(Result::err).collect();
    if let Some(first) = failures.first() {
        return Err(S3Error::S3 {
            location: source,
            message: format!(
                "{} of {} downloads failed; first: {first}",
                failures.len(),
                fetches.len()
            ),
        });
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_keys_follow_the_lake_rules() {
        assert!(is_data_key("category=a/dt=2026-01-01/part-0.parquet"));
        assert!(is_data_key("category=a/000000_0"));
        assert!(!is_data_key("category=a/_SUCCESS"));
        assert!(!is_data_key("category=a/.part-0.parquet.crc"));
        assert!(!is_data_key("_temporary/category=a/x.parquet"));
        assert!(!is_data_key("category=a/manifest.json"));
        assert!(!is_data_key("category=a/"));
        assert_eq!(
            dt_of("category=a/dt=2026-01-02/x.parquet"),
            NaiveDate::from_ymd_opt(2026, 1, 2)
        );
    }
}
