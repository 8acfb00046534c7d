//! `topsellers-fuzz`: runs the fuzz targets of `topsellers-fuzz` (see the
//! README's "Fuzzing"). Exit status: 0 no finding, 1 a panic, 3 the memory
//! cap passed, 4 an input ran past the time bound, 2 bad usage.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};

use topsellers_fuzz::corpus::{self, Seed};
use topsellers_fuzz::guard::{self, CappedAlloc};
use topsellers_fuzz::harness::{self, RunOptions, Stats};
use topsellers_fuzz::targets::Kind;

#[global_allocator]
static ALLOC: CappedAlloc = CappedAlloc;

/// Seeded fuzzing of the NDJSON line parser and the Parquet reading path.
#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// The target.
    #[arg(long, value_enum, global = true, default_value = "ndjson")]
    target: Kind,
    /// Where failing inputs are written.
    #[arg(long, global = true, default_value = "fuzz-findings")]
    findings: PathBuf,
    /// Live memory cap, MiB: past it the input is a finding.
    #[arg(long, global = true, default_value_t = 1_024)]
    max_memory_mib: usize,
    /// Time bound per input, seconds: past it the input is a finding.
    #[arg(long, global = true, default_value_t = 20.0)]
    timeout_s: f64,
}

#[derive(Subcommand)]
enum Command {
    /// Mutate and generate inputs from a corpus.
    Run {
        /// The corpus folder.
        #[arg(long)]
        corpus: PathBuf,
        /// Fixes the inputs.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Inputs to run.
        #[arg(long, default_value_t = 10_000)]
        execs: u64,
        /// Stop after this many seconds.
        #[arg(long)]
        seconds: Option<f64>,
        /// NDJSON: one 10 MB line every N inputs (0: none).
        #[arg(long, default_value_t = 1_000)]
        huge_every: u64,
    },
    /// Run files (or every file of folders) as they are.
    Replay {
        /// Files or folders.
        #[arg(required = true)]
        inputs: Vec<PathBuf>,
    },
}

fn report(kind: Kind, what: &str, s: &Stats) {
    println!(
        "{} {what}: {} inputs ({} read, {} refused), {:.1} MB, {:.1} s, {:.0} inputs/s, peak {:.1} MiB held, {} findings",
        kind.name(),
        s.execs,
        s.accepted,
        s.refused,
        s.bytes as f64 / 1e6,
        s.seconds,
        s.execs as f64 / s.seconds.max(1e-9),
        guard::memory().1 as f64 / f64::from(1 << 20),
        s.findings.len(),
    );
    for f in &s.findings {
        println!("finding: {}: {}", f.file.display(), f.message);
    }
}

fn inputs(paths: &[PathBuf]) -> std::io::Result<Vec<Seed>> {
    let mut all = Vec::new();
    for p in paths {
        if p.is_dir() {
            all.extend(corpus::load(p)?);
        } else {
            all.push(Seed {
                path: p.clone(),
                bytes: std::fs::read(p)?,
            });
        }
    }
    Ok(all)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Err(e) = std::fs::create_dir_all(&cli.findings) {
        eprintln!("error: {}: {e}", cli.findings.display());
        return ExitCode::from(2);
    }
    guard::arm(
        &cli.findings,
        cli.target.name(),
        cli.max_memory_mib << 20,
        Duration::from_secs_f64(cli.timeout_s.max(0.01)),
    );
    let mut opts = RunOptions {
        findings: cli.findings.clone(),
        ..RunOptions::default()
    };
    let outcome = match &cli.command {
        Command::Run {
            corpus,
            seed,
            execs,
            seconds,
            huge_every,
        } => {
            opts.seed = *seed;
            opts.execs = *execs;
            opts.time_limit = seconds.map(Duration::from_secs_f64);
            opts.huge_every = *huge_every;
            corpus::load(corpus)
                .map_err(|e| format!("{}: {e}", corpus.display()))
                .and_then(|seeds| {
                    harness::run(cli.target, &seeds, &opts).map_err(|e| e.to_string())
                })
                .map(|s| ("run", s))
        }
        Command::Replay { inputs: paths } => inputs(paths)
            .and_then(|seeds| harness::replay(cli.target, &seeds, &opts))
            .map_err(|e| e.to_string())
            .map(|s| ("replay", s)),
    };
    match outcome {
        Ok((what, stats)) => {
            report(cli.target, what, &stats);
            if stats.findings.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}
