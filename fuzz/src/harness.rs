//! The fuzz loop: make an input, run it with panics caught, count, and
//! write out every input that panicked.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rand::rngs::SmallRng;
use rand::SeedableRng;

use crate::corpus::Seed;
use crate::targets::{Kind, Target};
use crate::{guard, ndjson, parquet};

/// How long and from where a run goes.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Fixes every input of the run.
    pub seed: u64,
    /// Inputs to run at most.
    pub execs: u64,
    /// Stop after this long, even with inputs left.
    pub time_limit: Option<Duration>,
    /// NDJSON: every this many inputs, one is a 10 MB line (0: never).
    pub huge_every: u64,
    /// Where inputs that panicked are written.
    pub findings: PathBuf,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            seed: 1,
            execs: 1_000,
            time_limit: None,
            huge_every: 0,
            findings: PathBuf::from("fuzz-findings"),
        }
    }
}

/// An input that panicked.
#[derive(Debug, Clone)]
pub struct Finding {
    /// The input, written out.
    pub file: PathBuf,
    /// The panic's message and place.
    pub message: String,
}

/// What a run did.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    /// Inputs run.
    pub execs: u64,
    /// Inputs read without error.
    pub accepted: u64,
    /// Inputs refused with an error (the expected outcome of most).
    pub refused: u64,
    /// Bytes of input run.
    pub bytes: u64,
    /// Wall time.
    pub seconds: f64,
    /// Inputs that panicked.
    pub findings: Vec<Finding>,
}

static LAST_PANIC: Mutex<String> = Mutex::new(String::new());

/// Keeps panics quiet (each becomes a finding, with its message).
fn quiet_panics() {
    std::panic::set_hook(Box::new(|info| {
        let at = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        let text = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_default();
        if let Ok(mut last) = LAST_PANIC.lock() {
            *last = format!("{text}{at}");
        }
    }));
}

/// Runs one input; a panic is written to the findings folder as
/// `panic-<target>-<name>.bin` and the target is made afresh.
fn run_one(
    kind: Kind,
    target: &mut Target,
    input: &[u8],
    name: &str,
    opts: &RunOptions,
    stats: &mut Stats,
) -> std::io::Result<()> {
    guard::enter(input);
    let outcome = catch_unwind(AssertUnwindSafe(|| target.run(input)));
    guard::leave();
    stats.execs += 1;
    stats.bytes += input.len() as u64;
    match outcome {
        Ok(true) => stats.accepted += 1,
        Ok(false) => stats.refused += 1,
        Err(_) => {
            std::fs::create_dir_all(&opts.findings)?;
            let file = opts
                .findings
                .join(format!("panic-{}-{name}.bin", kind.name()));
            std::fs::write(&file, input)?;
            let message = LAST_PANIC.lock().map(|m| m.clone()).unwrap_or_default();
            stats.findings.push(Finding { file, message });
            *target = Target::new(kind)?;
        }
    }
    Ok(())
}

/// Runs `opts.execs` inputs made from `seeds` (NDJSON: each line of each
/// seed is a seed of its own).
pub fn run(kind: Kind, seeds: &[Seed], opts: &RunOptions) -> std::io::Result<Stats> {
    quiet_panics();
    let started = Instant::now();
    let mut stats = Stats::default();
    let mut target = Target::new(kind)?;
    let mut rng = SmallRng::seed_from_u64(opts.seed);
    let pieces: Vec<&[u8]> = match kind {
        Kind::Ndjson => seeds
            .iter()
            .flat_map(|s| s.bytes.split(|&b| b == b'\n'))
            .filter(|l| !l.is_empty())
            .collect(),
        _ => seeds.iter().map(|s| s.bytes.as_slice()).collect(),
    };
    if kind == Kind::Parquet && pieces.is_empty() {
        return Err(std::io::Error::other("the Parquet target needs seed files"));
    }
    for i in 0..opts.execs {
        if opts.time_limit.is_some_and(|t| started.elapsed() >= t) {
            break;
        }
        let input = match kind {
            Kind::Ndjson if opts.huge_every > 0 && i % opts.huge_every == opts.huge_every - 1 => {
                ndjson::huge_line(&mut rng)
            }
            Kind::Ndjson => ndjson::input(&mut rng, &pieces),
            Kind::Parquet => parquet::input(&mut rng, &pieces),
            Kind::Selftest => pieces
                .get(i as usize % pieces.len().max(1))
                .map_or_else(Vec::new, |p| p.to_vec()),
        };
        let name = format!("seed{}-{i}", opts.seed);
        run_one(kind, &mut target, &input, &name, opts, &mut stats)?;
    }
    stats.seconds = started.elapsed().as_secs_f64();
    Ok(stats)
}

/// Runs each of `inputs` as it is (a corpus, or findings to check a fix).
pub fn replay(kind: Kind, inputs: &[Seed], opts: &RunOptions) -> std::io::Result<Stats> {
    quiet_panics();
    let started = Instant::now();
    let mut stats = Stats::default();
    let mut target = Target::new(kind)?;
    for seed in inputs {
        let name = seed
            .path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        run_one(kind, &mut target, &seed.bytes, &name, opts, &mut stats)?;
    }
    stats.seconds = started.elapsed().as_secs_f64();
    Ok(stats)
}
