//! `topsellers`: the command line. Glue only: arguments are parsed and
//! validated into options, the work is done by `topsellers-engine` and the
//! `io/` crates (lake, s3, ingest, store, serve), and errors are printed
//! once with their context.

mod alloc;
mod cli;
mod commands;
mod job_report;
mod logging;
#[cfg(test)]
mod names;
mod progress;
mod units;

use std::process::ExitCode;

use clap::Parser;

use cli::{Cli, Command, LogFormat};
use commands::UsageError;

fn main() -> ExitCode {
    let cli = Cli::parse();
    if !matches!(cli.command, Command::Serve(_)) {
        alloc::keep_freed_memory();
    }
    let log_format = cli
        .log_format
        .or_else(|| match &cli.command {
            Command::Run(a) => commands::run::log_format(a),
            _ => None,
        })
        .unwrap_or(LogFormat::Text);
    logging::init(log_format, cli.verbose);
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.is::<UsageError>() => {
            eprintln!("error: {}", error_text(&e));
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("error: {}", error_text(&e));
            ExitCode::FAILURE
        }
    }
}

/// An error and its causes on one line, each said once. Errors here name
/// the thing at fault in their own text (`/x: No such file or directory`)
/// and also keep it as their source, so the plain chain repeats itself:
/// a cause whose text the line already holds is left out, and so is a
/// leading `thing: ` that the line already names.
pub(crate) fn error_text(e: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in e.chain() {
        let mut part = cause.to_string();
        if let Some((head, rest)) = part.split_once(": ") {
            if !head.is_empty() && line.contains(head) {
                part = rest.to_string();
            }
        }
        if part.is_empty() || line.contains(&part) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&part);
    }
    line
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Gen(a) => commands::gen::run(&a),
        Command::Ingest(a) => commands::ingest::run(&a),
        Command::Compute(a) => {
            let opts = commands::compute::ComputeOptions::from_args(&a)?;
            commands::compute::run(&opts).map(|_| ())
        }
        Command::Demo(a) => commands::demo::run(&a),
        Command::Sync(a) => commands::sync::run(&a),
        Command::Publish(a) => commands::publish::run(&a),
        Command::Run(a) => commands::run::run(&a),
        Command::Serve(a) => commands::serve::run(&a),
        Command::Backtest(a) => commands::backtest::run(&a),
        Command::Explain(a) => commands::explain::run(&a),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use anyhow::Context;

    use super::error_text;

    fn missing(path: &str) -> anyhow::Error {
        let io = std::fs::metadata(path).unwrap_err();
        let inner = topsellers_lake::LakeError::io(path, io);
        Err::<(), _>(inner)
            .with_context(|| format!("cannot compute the lake {path}"))
            .unwrap_err()
    }

    #[test]
    fn a_missing_lake_is_named_once() {
        assert_eq!(
            error_text(&missing("/no/such/lake")),
            "cannot compute the lake /no/such/lake: No such file or directory (os error 2)"
        );
    }

    #[test]
    fn causes_that_add_nothing_are_left_out() {
        let e = anyhow::anyhow!("the lake root is not a folder")
            .context("the lake root is not a folder");
        assert_eq!(error_text(&e), "the lake root is not a folder");
        let e = anyhow::anyhow!("connection refused").context("DynamoDB table t: GetItem");
        assert_eq!(
            error_text(&e),
            "DynamoDB table t: GetItem: connection refused"
        );
    }
}
