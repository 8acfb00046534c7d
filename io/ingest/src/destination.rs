//! Where an ingest run puts its files: a local lake folder, or a lake in S3.
//!
//! # Design
//!
//! An S3 run writes exactly as a local one does, into a private staging
//! lake (a fresh folder under `staging_dir`, by default the system's temp
//! folder), so the parsing, partitioning and all-or-nothing rules are shared.
//! Only when the run has succeeded (bad fraction within the limit) are the
//! staged files uploaded, each as one new object at
//! `<prefix>/category=<escaped>/dt=<day>/part-<run id>-<n>.parquet`, the
//! same relative path a local run would give it. The run id (UTC time and
//! 64 random bits) keeps names distinct across concurrent runs on any host,
//! and every write is conditional (`If-None-Match: *`), so an existing
//! object is never replaced. When an upload fails, the objects already
//! created are deleted (see `s3::upload`). The staging folder is removed
//! whatever happens.

use std::path::{Path, PathBuf};

use crate::error::IngestError;
use topsellers_lake::ItemKind;
use topsellers_s3::{
    client, upload_all, AddressingStyle, S3Error, S3Location, UploadFile, UploadReport,
    UploadTuning,
};

/// A lake in S3 to ingest into.
#[derive(Debug, Clone)]
pub struct S3Destination {
    /// The lake's bucket and prefix.
    pub location: S3Location,
    /// The folder the run stages its files in before uploading them
    /// (a fresh subfolder is made and removed); default the system's temp folder.
    pub staging_dir: Option<PathBuf>,
    /// Bucket addressing.
    pub style: AddressingStyle,
    /// Multipart threshold, part size and concurrency.
    pub tuning: UploadTuning,
}

/// Where an ingest run writes.
#[derive(Debug, Clone)]
pub enum Destination {
    /// A local lake folder (created when missing).
    Local(PathBuf),
    /// A lake in S3, through a local staging folder.
    S3(S3Destination),
}

impl std::fmt::Display for Destination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Local(p) => write!(f, "{}", p.display()),
            Self::S3(s) => write!(f, "{}", s.location),
        }
    }
}

/// The local lake a run writes into: the destination folder itself, or a
/// fresh staging folder that is removed when dropped.
pub(crate) struct LocalLake {
    pub(crate) path: PathBuf,
    _staging: Option<tempfile::TempDir>,
}

impl Destination {
    /// Creates the local lake the run writes into.
    pub(crate) fn local_lake(&self) -> Result<LocalLake, IngestError> {
        match self {
            Self::Local(p) => {
                std::fs::create_dir_all(p).map_err(|e| IngestError::io(p, e))?;
                Ok(LocalLake {
                    path: p.clone(),
                    _staging: None,
                })
            }
            Self::S3(s) => {
                let base = s.staging_dir.clone().unwrap_or_else(std::env::temp_dir);
                std::fs::create_dir_all(&base).map_err(|e| IngestError::io(&base, e))?;
                let dir = tempfile::Builder::new()
                    .prefix(crate::stale::STAGING_PREFIX)
                    .tempdir_in(&base)
                    .map_err(|e| IngestError::io(&base, e))?;
                Ok(LocalLake {
                    path: dir.path().to_path_buf(),
                    _staging: Some(dir),
                })
            }
        }
    }

    /// The item id type of the files already in the lake (see `lake`), with
    /// the file (or object) it was read from; `lake` is the local one.
    pub(crate) fn existing_item_kind(
        &self,
        lake: &Path,
    ) -> Result<Option<(PathBuf, ItemKind)>, IngestError> {
        match self {
            Self::Local(_) => super::lake::existing_item_kind(lake),
            Self::S3(s) => with_client(s, |client| async move {
                super::lake::existing_item_kind_s3(&client, &s.location).await
            }),
        }
    }

    /// Removes the stale temporary files and staging folders killed runs
    /// left (see `stale`): in the lake and the quarantine folder, or for a
    /// lake in S3 in the staging folder and the quarantine folder.
    pub(crate) fn remove_stale(
        &self,
        quarantine: Option<&Path>,
        grace: std::time::Duration,
    ) -> Result<crate::stale::Removed, IngestError> {
        let now = std::time::SystemTime::now();
        let mut removed = match self {
            Self::Local(lake) => crate::stale::remove_temps(lake, grace, now)?,
            Self::S3(s) => {
                let base = s.staging_dir.clone().unwrap_or_else(std::env::temp_dir);
                crate::stale::remove_staging_dirs(&base, grace, now)
            }
        };
        let quarantine_dir = match quarantine {
            Some(q) => q
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."))
                .to_path_buf(),
            None => match self {
                Self::Local(lake) => lake.join("_quarantine"),
                Self::S3(_) => PathBuf::from("_quarantine"),
            },
        };
        // Inside a local lake the walk above has seen it already.
        if !matches!(self, Self::Local(lake) if quarantine_dir.starts_with(lake)) {
            let q = crate::stale::remove_temps(&quarantine_dir, grace, now)?;
            removed.files += q.files;
            removed.bytes += q.bytes;
        }
        Ok(removed)
    }

    /// The folder a run's quarantine file goes under by default: the lake,
    /// or the current folder for S3 (the staging folder does not last).
    pub(crate) fn quarantine_root<'a>(&'a self, lake: &'a Path) -> &'a Path {
        match self {
            Self::Local(_) => lake,
            Self::S3(_) => Path::new("."),
        }
    }
}

/// The object key of a file at `rel` (relative to the lake, `/`-separated
/// whatever the platform) under `prefix`.
pub(crate) fn object_key(prefix: &str, rel: &Path) -> String {
    let parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    format!("{prefix}{}", parts.join("/"))
}

/// Uploads `files` (local path, path relative to the lake) to `dest`, as
/// run `run_id`, behind its pending marker (see `pending`).
pub(crate) fn upload(
    dest: &S3Destination,
    run_id: &str,
    files: &[(PathBuf, PathBuf)],
) -> Result<UploadReport, IngestError> {
    let uploads: Vec<UploadFile> = files
        .iter()
        .map(|(path, rel)| UploadFile {
            path: path.clone(),
            key: object_key(&dest.location.prefix, rel),
        })
        .collect();
    let keys: Vec<String> = uploads.iter().map(|u| u.key.clone()).collect();
    with_client(dest, |client| async move {
        crate::pending::put(&client, &dest.location, run_id, &keys).await?;
        let uploaded = upload_all(
            &client,
            &dest.location.bucket,
            &uploads,
            dest.tuning,
            &|_| {},
            stop_signal(),
        )
        .await
        .map_err(IngestError::from);
        // Stored, or cleaned up by the failed upload: nothing to roll back.
        match (
            uploaded,
            crate::pending::remove(&client, &dest.location, run_id).await,
        ) {
            (Ok(report), Ok(())) => Ok(report),
            // The upload's error is the one to tell; the marker left makes
            // the next run delete what it lists (already deleted, or named
            // in the message as left).
            (Err(e), Err(marker)) => {
                tracing::warn!(error = %marker, "cannot delete the run's pending marker; the next ingest deletes what it lists");
                Err(e)
            }
            (Err(e), Ok(())) => Err(e),
            // Every object is stored, but the marker left makes the next
            // run roll them back: this run must fail, to be run again.
            (Ok(_), Err(marker)) => {
                tracing::error!(run_id, "the objects were stored but the pending marker stays: the next ingest deletes them; run this ingest again");
                Err(marker)
            }
        }
    })
}

/// Rolls back the runs into `dest` killed mid-upload (see `pending`);
/// returns the objects deleted.
pub(crate) fn roll_back_killed(
    dest: &S3Destination,
    grace: std::time::Duration,
) -> Result<u64, IngestError> {
    with_client(dest, |client| async move {
        crate::pending::roll_back(&client, &dest.location, grace).await
    })
}

/// Completes on SIGINT or SIGTERM (`systemctl stop`), so that an upload
/// stops cleanly and deletes what it created; never, where no handler can be
/// installed.
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let (Ok(mut int), Ok(mut term)) = (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) {
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
            tracing::warn!("signal received: stopping the upload and deleting what it created");
            return;
        }
    }
    std::future::pending::<()>().await;
}

/// Runs `work` with an S3 client on a runtime of its own (the rest of ingest
/// is synchronous).
fn with_client<T, F>(
    dest: &S3Destination,
    work: impl FnOnce(aws_sdk_s3::Client) -> F,
) -> Result<T, IngestError>
where
    F: std::future::Future<Output = Result<T, IngestError>>,
{
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| {
            IngestError::S3(S3Error::S3 {
                location: dest.location.to_string(),
                message: format!("cannot start the I/O runtime: {e}"),
            })
        })?;
    runtime.block_on(async { work(client(dest.style).await).await })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_follow_the_local_layout() {
        let rel = Path::new("category=a%2Fb/dt=2026-10-15/part-x-00001.parquet");
        assert_eq!(
            object_key("lake/", rel),
            "lake/category=a%2Fb/dt=2026-10-15/part-x-00001.parquet"
        );
        assert_eq!(object_key("", rel), rel.to_str().unwrap_or_default());
    }

    #[test]
    fn s3_runs_stage_in_a_fresh_folder_that_goes_away() {
        let base = tempfile::tempdir().unwrap();
        let dest = Destination::S3(S3Destination {
            location: S3Location::parse("s3://b/p").unwrap(),
            staging_dir: Some(base.path().join("staging")),
            style: AddressingStyle::Auto,
            tuning: UploadTuning::default(),
        });
        let lake = dest.local_lake().unwrap();
        assert!(lake.path.starts_with(base.path().join("staging")));
        assert!(lake.path.is_dir());
        let path = lake.path.clone();
        drop(lake);
        assert!(!path.exists());
        assert_eq!(dest.to_string(), "s3://b/p/");
    }
}
