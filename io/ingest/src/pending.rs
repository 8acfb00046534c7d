//! Runs killed while their files appear: S3 has no rename, so a run's
//! objects appear one by one, and a local run renames its files one by one;
//! a run killed outright (SIGKILL, power loss) between its first and last
//! file would leave part of its events in the lake, and its rerun would add
//! them again.
//!
//! # Design
//!
//! Before its first upload a run puts a marker object,
//! `<prefix>_ingest/<run id>.pending`, listing the keys it is about to
//! create (readers skip `_` names); it deletes the marker once every object
//! is stored, or after a failed upload has deleted what it created. A local
//! run does the same with `<lake>/_ingest/<run id>.pending`, written before
//! its renames and deleted once they are synced. A marker
//! found by a later run, older than the grace period (see `stale`), is a
//! killed run's: that run never reported success, so its objects are
//! deleted, then the marker. The lake is then as if the killed run had
//! never started, and its rerun adds the events once.
//!
//! Readers in between (a `sync`) may copy the partial run; a later
//! `sync --delete` removes it again.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use aws_sdk_s3::error::DisplayErrorContext;
use aws_sdk_s3::Client;

use crate::error::IngestError;
use topsellers_s3::S3Error;
use topsellers_s3::S3Location;

/// The folder of the markers, under the lake's prefix.
const FOLDER: &str = "_ingest/";

fn fail(dest: &S3Location, message: String) -> IngestError {
    IngestError::S3(S3Error::S3 {
        location: dest.to_string(),
        message,
    })
}

/// The marker's key for run `run_id`.
pub(crate) fn marker_key(dest: &S3Location, run_id: &str) -> String {
    format!("{}{FOLDER}{run_id}.pending", dest.prefix)
}

/// Puts the marker listing `keys` (one per line).
pub(crate) async fn put(
    client: &Client,
    dest: &S3Location,
    run_id: &str,
    keys: &[String],
) -> Result<(), IngestError> {
    let key = marker_key(dest, run_id);
    client
        .put_object()
        .bucket(&dest.bucket)
        .key(&key)
        .body(keys.join("\n").into_bytes().into())
        .send()
        .await
        .map_err(|e| fail(dest, format!("PutObject {key}: {}", DisplayErrorContext(e))))?;
    Ok(())
}

/// Deletes `key` (S3 says nothing about a key that does not exist).
async fn delete(client: &Client, dest: &S3Location, key: &str) -> Result<(), IngestError> {
    client
        .delete_object()
        .bucket(&dest.bucket)
        .key(key)
        .send()
        .await
        .map_err(|e| {
            fail(
                dest,
                format!("DeleteObject {key}: {}", DisplayErrorContext(e)),
            )
        })?;
    Ok(())
}

/// Deletes the marker of run `run_id`.
pub(crate) async fn remove(
    client: &Client,
    dest: &S3Location,
    run_id: &str,
) -> Result<(), IngestError> {
    delete(client, dest, &marker_key(dest, run_id)).await
}

/// Rolls back the runs whose markers are older than `grace`: deletes their
/// objects, then the markers. Returns the objects deleted.
pub(crate) async fn roll_back(
    client: &Client,
    dest: &S3Location,
    grace: Duration,
) -> Result<u64, IngestError> {
    let bucket = &dest.bucket;
    let prefix = format!("{}{FOLDER}", dest.prefix);
    let s3 = |what: &str, e: String| fail(dest, format!("{what} {prefix}: {e}"));
    let mut markers = Vec::new();
    let mut pages = client
        .list_objects_v2()
        .bucket(bucket)
        .prefix(&prefix)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| s3("ListObjectsV2", DisplayErrorContext(e).to_string()))?;
        for obj in page.contents.unwrap_or_default() {
            let (Some(key), Some(at)) = (obj.key, obj.last_modified) else {
                continue;
            };
            let age = SystemTime::try_from(at)
                .ok()
                .and_then(|t| SystemTime::now().duration_since(t).ok())
                .unwrap_or_default();
            if key.ends_with(".pending") && (age >= grace || grace.is_zero()) {
                markers.push(key);
            }
        }
    }
    let mut deleted = 0;
    for marker in markers {
        let body = client
            .get_object()
            .bucket(bucket)
            .key(&marker)
            .send()
            .await
            .map_err(|e| s3("GetObject", DisplayErrorContext(e).to_string()))?;
        let bytes = body
            .body
            .collect()
            .await
            .map_err(|e| s3("GetObject", e.to_string()))?
            .into_bytes();
        let keys = String::from_utf8_lossy(&bytes).into_owned();
        for key in keys.lines().filter(|k| k.starts_with(&dest.prefix)) {
            delete(client, dest, key).await?;
            deleted += 1;
        }
        tracing::info!(marker = %marker, objects = keys.lines().count(), "rolled back the objects of a run killed mid-upload");
        delete(client, dest, &marker).await?;
    }
    Ok(deleted)
}

/// A local lake's marker for run `run_id`.
fn local_marker(lake: &Path, run_id: &str) -> PathBuf {
    lake.join(FOLDER).join(format!("{run_id}.pending"))
}

/// Puts, in a local lake, the marker listing the files (relative to the
/// lake) that run `run_id` is about to rename into place. Its data is made
/// durable with the staged files' (see `staging`).
pub(crate) fn put_local(lake: &Path, run_id: &str, rels: &[PathBuf]) -> Result<(), IngestError> {
    let dir = lake.join(FOLDER);
    std::fs::create_dir_all(&dir).map_err(|e| IngestError::io(&dir, e))?;
    let path = local_marker(lake, run_id);
    let text: Vec<String> = rels
        .iter()
        .map(|r| r.to_string_lossy().into_owned())
        .collect();
    std::fs::write(&path, text.join("\n")).map_err(|e| IngestError::io(&path, e))
}

/// Deletes run `run_id`'s marker in a local lake.
pub(crate) fn remove_local(lake: &Path, run_id: &str) -> Result<(), IngestError> {
    let path = local_marker(lake, run_id);
    match std::fs::remove_file(&path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(IngestError::io(&path, e)),
    }
    // Empty unless another run is committing: the lake is left as it was.
    let _ = std::fs::remove_dir(lake.join(FOLDER));
    Ok(())
}

/// Whether `rel` stays inside the lake (a marker is data, not trusted to
/// name files elsewhere).
fn inside(rel: &Path) -> bool {
    rel.components()
        .all(|c| matches!(c, std::path::Component::Normal(_)))
}

/// Rolls back, in a local lake, the runs killed during their renames whose
/// markers are older than `grace`: deletes the files they list, then the
/// markers. Returns the files deleted.
pub(crate) fn roll_back_local(lake: &Path, grace: Duration) -> Result<u64, IngestError> {
    let dir = lake.join(FOLDER);
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(IngestError::io(&dir, e)),
    };
    let now = SystemTime::now();
    let mut deleted = 0;
    for entry in entries.flatten() {
        let marker = entry.path();
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| now.duration_since(t).ok())
            .is_some_and(|age| age >= grace);
        if !marker.to_string_lossy().ends_with(".pending") || !(old || grace.is_zero()) {
            continue;
        }
        let text = std::fs::read_to_string(&marker).map_err(|e| IngestError::io(&marker, e))?;
        for rel in text.lines().map(Path::new).filter(|r| inside(r)) {
            let path = lake.join(rel);
            match std::fs::remove_file(&path) {
                Ok(()) => deleted += 1,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(IngestError::io(&path, e)),
            }
        }
        tracing::info!(marker = %marker.display(), files = text.lines().count(), "rolled back the files of a run killed during its commit");
        std::fs::remove_file(&marker).map_err(|e| IngestError::io(&marker, e))?;
    }
    Ok(deleted)
}
