//! What is fuzzed: the NDJSON line parser as `ingest` runs it, the Parquet
//! reading path as `compute` runs it, and a self-test target that panics,
//! hangs or eats memory on demand (it shows the harness catches each).

use std::path::{Component, PathBuf};

use topsellers_engine::{ScoringPlan, Variant};
use topsellers_ingest::{FieldNames, LineCheck};
use topsellers_lake::{scan_files, ItemKind, LakeFile, ScanOptions};

/// A fuzz target's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Kind {
    /// NDJSON chunks through `ingest`'s line parser.
    Ndjson,
    /// Parquet files through `compute`'s scan (page decoder, then Arrow reader).
    Parquet,
    /// Inputs starting `panic`, `hang` or `memory` do that.
    Selftest,
}

impl Kind {
    /// The name used in findings.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Ndjson => "ndjson",
            Kind::Parquet => "parquet",
            Kind::Selftest => "selftest",
        }
    }
}

/// A target ready to take inputs.
pub enum Target {
    /// See [`Kind::Ndjson`].
    Ndjson(LineCheck),
    /// See [`Kind::Parquet`].
    Parquet(ParquetTarget),
    /// See [`Kind::Selftest`].
    Selftest,
}

/// The Parquet target's file, plan and one-thread pool.
pub struct ParquetTarget {
    _dir: tempfile::TempDir,
    file: PathBuf,
    plan: ScoringPlan,
    pool: rayon::ThreadPool,
}

const DAY_NS: i64 = 86_400_000_000_000;

impl Target {
    /// A fresh target of `kind`.
    pub fn new(kind: Kind) -> std::io::Result<Self> {
        Ok(match kind {
            Kind::Ndjson => Target::Ndjson(LineCheck::new(FieldNames::default())),
            Kind::Selftest => Target::Selftest,
            Kind::Parquet => {
                // /dev/shm when there is one: a file is written per input.
                let shm = std::path::Path::new("/dev/shm");
                let dir = if shm.is_dir() {
                    tempfile::tempdir_in(shm)?
                } else {
                    tempfile::tempdir()?
                };
                let folder = dir.path().join("category=fuzz");
                std::fs::create_dir(&folder)?;
                // 2026-10-16, after the golden lakes' purchases; windows
                // reaching back over all of them.
                let variant = Variant::from_half_life("default", 7.0 * 86_400.0).map_err(other)?;
                let plan = ScoringPlan::new(
                    20_742 * DAY_NS,
                    vec![variant],
                    7 * DAY_NS,
                    365 * DAY_NS,
                    None,
                    5,
                )
                .map_err(other)?;
                let pool = rayon::ThreadPoolBuilder::new()
                    .num_threads(1)
                    .build()
                    .map_err(other)?;
                Target::Parquet(ParquetTarget {
                    file: folder.join("input.parquet"),
                    _dir: dir,
                    plan,
                    pool,
                })
            }
        })
    }

    /// Runs one input; true when it was read without error (every line of an
    /// NDJSON chunk valid, or both Parquet decoders succeeding). Panics when
    /// the code under test does, or when an accepted line would be filed
    /// outside its `category=…/dt=…` folder.
    pub fn run(&mut self, input: &[u8]) -> bool {
        match self {
            Target::Ndjson(check) => ndjson(check, input),
            Target::Parquet(t) => parquet(t, input),
            Target::Selftest => selftest(input),
        }
    }
}

fn other(e: impl std::fmt::Display) -> std::io::Error {
    std::io::Error::other(e.to_string())
}

fn ndjson(check: &mut LineCheck, input: &[u8]) -> bool {
    let mut all_ok = true;
    for (i, line) in input.split(|&b| b == b'\n').enumerate() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let kind = [None, Some(ItemKind::Int), Some(ItemKind::Str)][i % 3];
        match check.check(line, kind) {
            Ok(dir) => {
                let parts: Vec<Component<'_>> = dir.components().collect();
                let inside = matches!(
                    parts.as_slice(),
                    [Component::Normal(c), Component::Normal(d)]
                        if c.to_string_lossy().starts_with("category=")
                            && d.to_string_lossy().starts_with("dt=")
                );
                assert!(inside, "an accepted line is filed under {dir:?}");
            }
            Err(_) => all_ok = false,
        }
    }
    all_ok
}

fn parquet(t: &mut ParquetTarget, input: &[u8]) -> bool {
    if std::fs::write(&t.file, input).is_err() {
        return false;
    }
    let mut all_ok = true;
    for page_decoder in [true, false] {
        let opts = ScanOptions {
            page_decoder,
            ..ScanOptions::default()
        };
        let files = vec![LakeFile {
            category: "fuzz".into(),
            dt: None,
            path: t.file.clone(),
        }];
        let out = t
            .pool
            .install(|| scan_files(files, &opts, &t.plan, &|_| {}));
        all_ok &= out.is_ok();
    }
    all_ok
}

fn selftest(input: &[u8]) -> bool {
    if input.starts_with(b"panic") {
        panic!("the self-test input asked for a panic");
    }
    if input.starts_with(b"hang") {
        loop {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }
    if input.starts_with(b"memory") {
        let mut held = Vec::new();
        loop {
            held.push(vec![1u8; 64 << 20]);
        }
    }
    true
}
