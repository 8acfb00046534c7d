//! Logging setup: `tracing` to stderr, text or JSON.

use std::io::IsTerminal;

use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::prelude::*;

use crate::cli::LogFormat;

/// Installs the global subscriber. `RUST_LOG` wins over `-v`: a level
/// (`debug`) or per-target levels (`info,topsellers_s3=debug,aws_smithy_runtime=warn`);
/// one that does not parse is ignored, with a warning.
pub fn init(format: LogFormat, verbose: u8) {
    let default = match verbose {
        0 => LevelFilter::INFO,
        1 => LevelFilter::DEBUG,
        _ => LevelFilter::TRACE,
    };
    let from_env = std::env::var("RUST_LOG")
        .ok()
        .filter(|v| !v.trim().is_empty());
    let parsed = from_env.as_deref().map(str::parse::<Targets>);
    let filter = match &parsed {
        Some(Ok(targets)) => targets.clone(),
        _ => Targets::new().with_default(default),
    };
    // Colour only on a terminal, and never with NO_COLOR set (no-color.org).
    let colour = std::io::stderr().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(colour);
    match format {
        LogFormat::Text => tracing_subscriber::registry()
            .with(fmt.with_target(false).with_filter(filter))
            .init(),
        LogFormat::Json => tracing_subscriber::registry()
            .with(fmt.json().flatten_event(true).with_filter(filter))
            .init(),
    }
    if let Some(Err(e)) = parsed {
        tracing::warn!(rust_log = from_env.as_deref(), error = %e, "RUST_LOG ignored: it does not parse");
    }
}
