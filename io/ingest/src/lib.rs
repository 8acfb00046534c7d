//! `topsellers ingest`: newline-delimited JSON purchase events (plain or
//! gzip) → the Hive-partitioned Parquet lake,
//! `<lake>/category=<c>/dt=<YYYY-MM-DD>/part-<run id>-<n>.parquet`, a local
//! folder or a prefix in S3 (see `destination`).
//!
//! # Design
//!
//! ```text
//!  reader thread: inputs → gunzip → chunks of whole lines (numbered)
//!        │ bounded channel
//!        ▼
//!  rayon: a batch of chunks parsed in parallel (simd-json, buffers reused),
//!         each chunk's events grouped by (category, day), bad lines kept
//!        │ in input order
//!        ▼
//!  merge: bad lines → quarantine; groups → partition buffers; full or
//!         largest partitions → Parquet files written in parallel, under
//!         hidden names in their partition folders
//!        │ at the end, when the bad fraction is within the limit
//!        ▼
//!  commit: sync, rename every file to its final name, sync
//!          (S3: upload every file as a new object, then remove the staging)
//! ```
//!
//! Memory stays bounded whatever the input size: see `partition` for the
//! buffered rows, plus a few chunks per worker thread in flight.

mod batch;
mod check;
mod destination;
mod error;
mod input;
mod lake;
mod parse;
mod partition;
mod pending;
mod quarantine;
mod reason;
mod report;
mod rows;
mod staging;
mod stale;
mod time;

use std::path::PathBuf;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::time::Instant;

use rayon::prelude::*;

use batch::{first_kind, parse_chunk, ParsedChunk};
use input::{ChunkReader, Piece};
use partition::{write_file, FlushJob, Partitions};
use quarantine::Quarantine;
use staging::{StagedFile, Staging};
use topsellers_lake::ItemKind;

pub use check::LineCheck;
pub use destination::{Destination, S3Destination};
pub use error::IngestError;
pub use input::Input;
pub use parse::FieldNames;
pub use reason::BadReason;
pub use report::{IngestReport, InputReport};

/// The default [`IngestOptions::stale_temp_grace`]: far longer than a run
/// takes (5M events take 4 s here), short enough that a killed run's files
/// go with the next hourly delivery.
pub const DEFAULT_STALE_TEMP_GRACE: std::time::Duration = std::time::Duration::from_secs(3600);

/// How to ingest.
#[derive(Debug, Clone)]
pub struct IngestOptions {
    /// The lake: a folder (created when missing) or a prefix in S3.
    pub destination: Destination,
    /// The inputs, read in order.
    pub inputs: Vec<Input>,
    /// The quarantine file (default `<lake>/_quarantine/ingest-<run id>.jsonl`,
    /// `./_quarantine/…` for a lake in S3; written only when a line is bad).
    pub quarantine: Option<PathBuf>,
    /// Fail, adding nothing, when more than this fraction of the non-blank
    /// lines is bad.
    pub max_bad_fraction: f64,
    /// The JSON field names.
    pub fields: FieldNames,
    /// Force the item id type (default: the lake's, else the first valid event's).
    pub id_type: Option<ItemKind>,
    /// Rows per file (one row group each) at most, for a full partition.
    pub row_group_rows: usize,
    /// Rows buffered across all partitions at most (see `partition`).
    pub max_buffered_rows: usize,
    /// Bytes per chunk of lines handed to a worker.
    pub chunk_bytes: usize,
    /// Lines longer than this are quarantined (`line_too_long`) unread.
    pub max_line_bytes: usize,
    /// zstd level of the Parquet files.
    pub zstd_level: i32,
    /// Temporary files of ingest's own naming (staged files, quarantine
    /// files being written, staging folders of runs into S3) untouched for
    /// this long are a killed run's, and removed before the run writes.
    pub stale_temp_grace: std::time::Duration,
}

impl Default for IngestOptions {
    fn default() -> Self {
        Self {
            destination: Destination::Local(PathBuf::from("lake")),
            inputs: Vec::new(),
            quarantine: None,
            max_bad_fraction: 0.01,
            fields: FieldNames::default(),
            id_type: None,
            row_group_rows: 1_000_000,
            max_buffered_rows: 8_000_000,
            chunk_bytes: 4 << 20,
            max_line_bytes: 64 << 20,
            zstd_level: 1,
            stale_temp_grace: DEFAULT_STALE_TEMP_GRACE,
        }
    }
}

/// The id type's name in the report and in messages.
fn kind_name(kind: ItemKind) -> &'static str {
    match kind {
        ItemKind::Int => "int",
        ItemKind::Str => "string",
    }
}

/// Reads every input in order into `tx`; stops early when the receiver is gone.
fn read_all(opts: &IngestOptions, tx: SyncSender<Result<Piece, IngestError>>) {
    let max_line = opts.max_line_bytes.max(opts.chunk_bytes);
    for (i, input) in opts.inputs.iter().enumerate() {
        let mut reader = match ChunkReader::new(input, i, opts.chunk_bytes, max_line) {
            Ok(r) => r,
            Err(e) => {
                let _ = tx.send(Err(e));
                return;
            }
        };
        loop {
            match reader.next_piece() {
                Ok(Some(piece)) => {
                    if tx.send(Ok(piece)).is_err() {
                        return;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    let _ = tx.send(Err(e));
                    return;
                }
            }
        }
    }
}

/// The next pieces, up to `chunks` chunks of lines; empty at the end.
fn next_batch(
    rx: &Receiver<Result<Piece, IngestError>>,
    chunks: usize,
) -> Result<Vec<Piece>, IngestError> {
    let mut batch = Vec::new();
    let mut lines = 0;
    while lines < chunks {
        match rx.recv() {
            Ok(piece) => {
                let piece = piece?;
                lines += usize::from(matches!(piece, Piece::Lines(_)));
                batch.push(piece);
            }
            Err(_) => break,
        }
    }
    Ok(batch)
}

/// What a piece of a batch became.
enum Parsed {
    Chunk(ParsedChunk),
    Other(Piece),
}

/// Everything a run holds while it reads.
struct Run<'a> {
    opts: &'a IngestOptions,
    kind: Option<ItemKind>,
    staging: Staging,
    quarantine: Quarantine,
    partitions: Partitions,
    report: IngestReport,
    names: Vec<String>,
}

impl Run<'_> {
    /// Writes jobs in parallel, as staged files.
    fn write(&mut self, jobs: Vec<FlushJob>) -> Result<(), IngestError> {
        let started = Instant::now();
        self.staging.prepare(jobs.iter().map(|j| j.dir.as_path()))?;
        let (staging, level) = (&self.staging, self.opts.zstd_level);
        let files = jobs
            .into_par_iter()
            .map(|job| {
                let rows = job.rows.len() as u64;
                let bytes = write_file(&staging.staged(&job.dir, job.seq), job.rows, level)?;
                Ok(StagedFile {
                    dir: job.dir,
                    seq: job.seq,
                    rows,
                    bytes,
                })
            })
            .collect::<Result<Vec<_>, IngestError>>()?;
        for f in files {
            self.staging.record(f);
        }
        self.report.time_stage("write", started);
        Ok(())
    }

    /// Parses a batch in parallel, then merges it in input order.
    fn process(&mut self, batch: Vec<Piece>) -> Result<u64, IngestError> {
        let started = Instant::now();
        let chunks = || {
            batch.iter().filter_map(|p| match p {
                Piece::Lines(c) => Some(c),
                _ => None,
            })
        };
        if self.kind.is_none() {
            self.kind = first_kind(chunks(), &self.opts.fields);
        }
        // Without a valid event in the batch no line reaches the id type
        // check, so any type parses it the same.
        let kind = self.kind.unwrap_or(ItemKind::Int);
        let fields = &self.opts.fields;
        let parsed: Vec<Parsed> = batch
            .into_par_iter()
            .map(|p| match p {
                Piece::Lines(c) => Parsed::Chunk(parse_chunk(&c, fields, kind)),
                other => Parsed::Other(other),
            })
            .collect();
        let mut lines = 0;
        let mut jobs = Vec::new();
        for p in parsed {
            match p {
                Parsed::Chunk(c) => {
                    lines += c.lines;
                    let input = &mut self.report.inputs[c.source];
                    input.blank_lines += c.blank;
                    input.bad_lines += c.bad.len() as u64;
                    input.events += c.events;
                    for b in &c.bad {
                        self.report.count_bad(b.reason);
                    }
                    self.quarantine.write(&self.names[c.source], &c.bad)?;
                    for g in c.groups {
                        jobs.extend(self.partitions.add(g)?);
                    }
                }
                Parsed::Other(Piece::TooLong {
                    source,
                    line,
                    prefix,
                }) => {
                    lines += 1;
                    self.report.inputs[source].bad_lines += 1;
                    self.report.count_bad(BadReason::LineTooLong);
                    let bad = batch::BadLine {
                        line,
                        reason: BadReason::LineTooLong,
                        raw: prefix,
                    };
                    self.quarantine.write(&self.names[source], &[bad])?;
                }
                Parsed::Other(Piece::End {
                    source,
                    lines,
                    bytes,
                }) => {
                    self.report.inputs[source].lines = lines;
                    self.report.inputs[source].bytes = bytes;
                }
                Parsed::Other(Piece::Lines(_)) => {}
            }
        }
        let buffered = self.partitions.buffered() as u64;
        self.report.peak_buffered_rows = self.report.peak_buffered_rows.max(buffered);
        jobs.extend(self.partitions.relieve());
        self.report.time_stage("parse", started);
        self.write(jobs)?;
        Ok(lines)
    }
}

/// Ingests `opts.inputs` into `opts.lake` (see the module docs); `progress`
/// receives line counts as they are done. A run with too many bad lines
/// fails with [`IngestError::TooManyBad`], which carries its report, having
/// added nothing to the lake; the quarantine file is written either way.
pub fn ingest(
    opts: &IngestOptions,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<IngestReport, IngestError> {
    let started = Instant::now();
    // Before this run creates its own staging folder: even a zero grace
    // cannot then remove it.
    let stale = opts
        .destination
        .remove_stale(opts.quarantine.as_deref(), opts.stale_temp_grace)?;
    let rolled_back = match &opts.destination {
        Destination::S3(dest) => destination::roll_back_killed(dest, opts.stale_temp_grace)?,
        Destination::Local(lake) => pending::roll_back_local(lake, opts.stale_temp_grace)?,
    };
    let local = opts.destination.local_lake()?;
    let lake = &local.path;
    let kind = match (opts.id_type, opts.destination.existing_item_kind(lake)?) {
        (Some(wanted), Some((path, found))) if wanted != found => {
            return Err(IngestError::IdTypeConflict {
                path,
                lake: kind_name(found),
                wanted: kind_name(wanted),
            })
        }
        (Some(k), _) | (None, Some((_, k))) => Some(k),
        (None, None) => None,
    };
    let run_id = staging::run_id();
    let quarantine_path = opts.quarantine.clone().unwrap_or_else(|| {
        quarantine::default_path(opts.destination.quarantine_root(lake), &run_id)
    });
    let names: Vec<String> = opts.inputs.iter().map(Input::name).collect();
    let mut run = Run {
        opts,
        kind,
        staging: Staging::new(lake, &run_id),
        quarantine: Quarantine::new(quarantine_path, opts.quarantine.is_some()),
        partitions: Partitions::new(opts.row_group_rows, opts.max_buffered_rows),
        report: IngestReport {
            run_id: run_id.clone(),
            lake: opts.destination.to_string(),
            status: "ok".into(),
            inputs: names
                .iter()
                .map(|n| InputReport {
                    source: n.clone(),
                    ..InputReport::default()
                })
                .collect(),
            max_bad_fraction: opts.max_bad_fraction,
            stale_temps_removed: stale.files,
            stale_temp_bytes_removed: stale.bytes,
            rolled_back_objects: rolled_back,
            ..IngestReport::default()
        },
        names,
    };
    let chunks_per_batch = 2 * rayon::current_num_threads().max(1);
    std::thread::scope(|s| -> Result<(), IngestError> {
        let (tx, rx) = sync_channel(chunks_per_batch);
        s.spawn(move || read_all(opts, tx));
        loop {
            let waited = Instant::now();
            let batch = next_batch(&rx, chunks_per_batch)?;
            run.report.time_stage("wait", waited);
            if batch.is_empty() {
                return Ok(());
            }
            progress(run.process(batch)?);
        }
    })?;
    let jobs = run.partitions.drain();
    run.write(jobs)?;
    let Run {
        staging,
        quarantine,
        mut report,
        kind,
        ..
    } = run;
    report.id_type = kind.map(|k| kind_name(k).to_string());
    report.quarantine = quarantine.finish()?.map(|p| p.display().to_string());
    report.total(started.elapsed().as_secs_f64());
    if report.bad_fraction > opts.max_bad_fraction {
        drop(staging);
        report.status = "failed".into();
        report.total(started.elapsed().as_secs_f64());
        return Err(IngestError::TooManyBad {
            report: Box::new(report),
        });
    }
    let files = match &opts.destination {
        Destination::Local(_) => {
            let commit_started = Instant::now();
            let files = staging.commit()?;
            report.time_stage("commit", commit_started);
            files
        }
        Destination::S3(dest) => {
            let upload_started = Instant::now();
            let files = staging.files().to_vec();
            let paths: Vec<(PathBuf, PathBuf)> = files
                .iter()
                .map(|f| {
                    (
                        staging.staged(&f.dir, f.seq),
                        staging.final_name(&f.dir, f.seq),
                    )
                })
                .collect();
            tracing::info!(run_id = %report.run_id, files = files.len(), lake = %dest.location, "uploading");
            // Staged files are removed when `staging` drops, uploaded or not.
            report.upload = Some(destination::upload(dest, &report.run_id, &paths)?);
            report.time_stage("upload", upload_started);
            files
        }
    };
    let mut dirs: Vec<_> = files.iter().map(|f| &f.dir).collect();
    dirs.sort_unstable();
    dirs.dedup();
    report.partitions_written = dirs.len() as u64;
    report.files_written = files.len() as u64;
    report.bytes_written = files.iter().map(|f| f.bytes).sum();
    report.events_written = files.iter().map(|f| f.rows).sum();
    report.total(started.elapsed().as_secs_f64());
    Ok(report)
}
