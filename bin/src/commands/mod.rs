//! One module per subcommand: validate arguments into options, call the
//! library crates, report.

pub mod backtest;
pub mod compute;
pub mod demo;
pub mod explain;
pub mod gen;
pub mod ingest;
pub mod publish;
pub mod run;
pub mod serve;
pub mod store;
pub mod sync;

/// An error in the user's arguments, found after parsing: exit status 2.
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// Builds the rayon pool for `threads` (all cores when `None`).
pub fn thread_pool(threads: Option<usize>) -> anyhow::Result<rayon::ThreadPool> {
    if threads == Some(0) {
        return Err(UsageError("--threads must be at least 1".into()).into());
    }
    let mut b = rayon::ThreadPoolBuilder::new();
    if let Some(n) = threads {
        b = b.num_threads(n);
    }
    Ok(b.build()?)
}

/// Now, in nanoseconds since the epoch.
pub fn now_ns() -> i64 {
    chrono::Utc::now().timestamp_nanos_opt().unwrap_or(i64::MAX)
}
