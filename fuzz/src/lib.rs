//! `topsellers-fuzz`: a seeded fuzzer that runs on stable Rust, for the two
//! places where bytes from outside meet the engine: the NDJSON line parser
//! of `ingest` and the Parquet reading path of `compute` (the page decoder
//! and the Arrow reader it hands over to).
//!
//! Every input must end in a result or an error. The harness turns the
//! other outcomes into findings, each written out so it can be replayed and
//! added to the corpus:
//!
//! - a panic, caught per input ([`harness`]);
//! - a hang: an input still running after a time bound ([`guard`]'s
//!   watchdog thread writes it out and ends the process);
//! - unbounded memory: the binary's allocator ([`guard::CappedAlloc`])
//!   counts live bytes and, past a cap, writes the input out and ends the
//!   process.
//!
//! Inputs are corpus files ([`corpus`]) mutated by [`mutate`], or generated
//! from scratch for NDJSON (deep nesting, huge numbers, invalid UTF-8,
//! 10 MB lines); a run is fixed by its seed.
//!
//! ```no_run
//! use std::path::Path;
//! use topsellers_fuzz::{corpus, harness::{self, RunOptions}, targets::Kind};
//!
//! let seeds = corpus::load(Path::new("fuzz/corpus/ndjson"))?;
//! let opts = RunOptions { seed: 1, execs: 10_000, ..RunOptions::default() };
//! let stats = harness::run(Kind::Ndjson, &seeds, &opts)?;
//! assert!(stats.findings.is_empty());
//! # Ok::<(), std::io::Error>(())
//! ```

pub mod corpus;
pub mod guard;
pub mod harness;
pub mod mutate;
pub mod ndjson;
pub mod parquet;
pub mod targets;
