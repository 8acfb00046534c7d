//! `topsellers`: the command line. Glue only: arguments are parsed and
//! validated into options, the work is done by `topsellers-engine` and the
//! `io/` crates (lake, s3, ingest, store, serve), and errors are printed
//! once with their context.

mod cli;
mod commands;
mod job_report;
mod logging;
mod progress;
mod units;

use std::process::ExitCode;

use clap::Parser;

use cli::{Cli, Command, LogFormat};
use commands::UsageError;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
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
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
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
    }
}
