//! `topsellers-floor`: the decompression floor of `compute` on a lake.
//!
//! For a lake and the query flags of `compute` (`--as-of`, `--window`,
//! `--max-window`, `--threads`), plans the lake with the scan's own pruning
//! and reads and decompresses, on every thread, just the pages `compute`
//! decodes, without decoding them ([`topsellers_lake::read_floor`]). Its wall
//! time is the physical floor of a Parquet scan of that lake; the benchmark
//! (`scripts/bench/compare.sh --mode floor`) reports `compute / floor`.
//!
//! ```text
//! topsellers-floor --lake LAKE --as-of 2026-10-15T00:00:00Z --window 90d --max-window 90d [--threads N] [--report floor.json]
//! ```

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;
use topsellers_engine::{ScoringPlan, Variant};
use topsellers_lake::{parse_rfc3339, read_floor, ColumnNames};

/// Reads and decompresses the pages `compute` would decode, and nothing more.
#[derive(Debug, Parser)]
#[command(name = "topsellers-floor", version)]
struct Args {
    /// The lake folder (`<lake>/category=<c>/[dt=<d>/]*.parquet`).
    #[arg(long)]
    lake: PathBuf,
    /// Reference time (RFC 3339), as for `compute`.
    #[arg(long)]
    as_of: String,
    /// Base window W, as for `compute` (e.g. 30d).
    #[arg(long, default_value = "30d", value_parser = duration_ns)]
    window: i64,
    /// Largest window W_max, as for `compute`.
    #[arg(long, default_value = "365d", value_parser = duration_ns)]
    max_window: i64,
    /// Worker threads (default: all cores).
    #[arg(long)]
    threads: Option<usize>,
    /// Item id column.
    #[arg(long, default_value = "item_id")]
    item_column: String,
    /// Purchase time column.
    #[arg(long, default_value = "ts")]
    ts_column: String,
    /// Quantity column (optional in the files).
    #[arg(long, default_value = "quantity")]
    quantity_column: String,
    /// Writes the figures here as JSON.
    #[arg(long)]
    report: Option<PathBuf>,
}

/// A whole number and a unit: `90d`, `12h`, `30m`, `45s` or `2w`, in ns.
fn duration_ns(text: &str) -> Result<i64, String> {
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let seconds: i64 = match unit {
        "w" => 604_800,
        "d" => 86_400,
        "h" => 3_600,
        "m" => 60,
        "s" => 1,
        _ => return Err(format!("{text:?}: expected a number and w, d, h, m or s")),
    };
    let n: i64 = number
        .parse()
        .map_err(|_| format!("{text:?}: expected a whole number before the unit"))?;
    n.checked_mul(seconds * 1_000_000_000)
        .filter(|&ns| ns > 0)
        .ok_or_else(|| format!("{text:?}: out of range"))
}

fn run(args: &Args) -> Result<(), Box<dyn std::error::Error>> {
    let started = Instant::now();
    let as_of = parse_rfc3339(&args.as_of).map_err(|e| format!("--as-of: {e}"))?;
    // The variant does not change what is read; `compute`'s default.
    let variants = vec![Variant::from_half_life("default", 7.0 * 86_400.0)?];
    let plan = ScoringPlan::new(as_of, variants, args.window, args.max_window, None, 100)?;
    let columns = ColumnNames {
        item: args.item_column.clone(),
        ts: args.ts_column.clone(),
        quantity: args.quantity_column.clone(),
    };
    let mut pool = rayon::ThreadPoolBuilder::new();
    if let Some(n) = args.threads {
        pool = pool.num_threads(n);
    }
    let pool = pool.build()?;
    let threads = pool.current_num_threads();
    let stats = pool.install(|| read_floor(&args.lake, &columns, &plan))?;
    let wall_s = started.elapsed().as_secs_f64();
    println!(
        "floor: {wall_s:.3} s on {threads} threads (discover {:.3} s, plan {:.3} s, read {:.3} s): \
         {} files, {} row groups, {} rows ({} rows of the second pass not read), \
         {} pages read, {} skipped, {:.1} MiB compressed -> {:.1} MiB decompressed",
        stats.discover_s,
        stats.plan_s,
        stats.read_s,
        stats.files,
        stats.units,
        stats.rows,
        stats.rows_second_pass,
        stats.pages_read,
        stats.pages_skipped,
        stats.compressed_bytes as f64 / 1048576.0,
        stats.decompressed_bytes as f64 / 1048576.0,
    );
    if let Some(path) = &args.report {
        let report = serde_json::json!({ "wall_s": wall_s, "threads": threads, "floor": stats });
        std::fs::write(path, serde_json::to_vec_pretty(&report)?)
            .map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(())
}

fn main() -> ExitCode {
    match run(&Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("topsellers-floor: error: {e}");
            ExitCode::FAILURE
        }
    }
}
