//! The backtest's files: a CSV of one row per (variant, replay time,
//! category) and a JSON of the parameters, the summaries and those rows,
//! both written atomically (a failed run leaves an older file whole).
//!
//! CSV columns: `variant,as_of,category,purchases,hits,hit_rate,ndcg`,
//! floats to full f64 precision, replay times in RFC 3339. Only complete
//! horizons have rows: an incomplete one is listed as such in the JSON.

use std::path::Path;

use serde::Serialize;
use topsellers_lake::{rfc3339, write_atomically};

use super::summary::Summary;
use super::Backtest;
use crate::error::ExperimentError;

/// The CSV header.
pub const CSV_HEADER: &str = "variant,as_of,category,purchases,hits,hit_rate,ndcg";

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// Writes the CSV.
pub fn write_csv(bt: &Backtest, path: &Path) -> Result<(), ExperimentError> {
    write_atomically(path, |w| {
        let mut text = String::with_capacity(64 * bt.rows.len() + 64);
        text.push_str(CSV_HEADER);
        text.push('\n');
        for r in bt.rows.iter().filter(|r| bt.complete[r.k]) {
            let s = &r.scores;
            text.push_str(&format!(
                "{},{},{},{},{},{:?},{:?}\n",
                csv_field(&bt.plan.variants[r.variant].name),
                rfc3339(bt.times.at(r.k)),
                csv_field(&r.category),
                s.purchases,
                s.hits,
                s.hit_rate,
                s.ndcg
            ));
        }
        w.write_all(text.as_bytes()).map_err(|e| e.to_string())
    })?;
    Ok(())
}

/// One CSV row in the JSON.
#[derive(Serialize)]
struct JsonRow<'a> {
    variant: &'a str,
    as_of: String,
    category: &'a str,
    purchases: i64,
    hits: i64,
    hit_rate: f64,
    ndcg: f64,
}

/// The parameters of a backtest, for its JSON.
#[derive(Debug, Clone, Serialize)]
pub struct Parameters {
    /// The lake.
    pub lake: String,
    /// The first replay time.
    pub from: String,
    /// The last replay time.
    pub to: String,
    /// Between replay times, seconds.
    pub every_s: f64,
    /// The horizon, seconds.
    pub horizon_s: f64,
    /// Base window, seconds.
    pub window_s: i64,
    /// Largest window, seconds.
    pub max_window_s: i64,
    /// Distinct items a window needs.
    pub min_items: usize,
}

#[derive(Serialize)]
struct Document<'a> {
    parameters: &'a Parameters,
    #[serde(flatten)]
    summary: &'a Summary,
    replay: &'a super::pass::ReplayStats,
    rows: Vec<JsonRow<'a>>,
}

/// Writes the JSON: parameters, summaries and the CSV's rows.
pub fn write_json(
    bt: &Backtest,
    summary: &Summary,
    parameters: &Parameters,
    path: &Path,
) -> Result<(), ExperimentError> {
    let doc = Document {
        parameters,
        summary,
        replay: &bt.stats,
        rows: bt
            .rows
            .iter()
            .filter(|r| bt.complete[r.k])
            .map(|r| JsonRow {
                variant: &bt.plan.variants[r.variant].name,
                as_of: rfc3339(bt.times.at(r.k)),
                category: &r.category,
                purchases: r.scores.purchases,
                hits: r.scores.hits,
                hit_rate: r.scores.hit_rate,
                ndcg: r.scores.ndcg,
            })
            .collect(),
    };
    write_atomically(path, |w| {
        serde_json::to_writer_pretty(&mut *w, &doc).map_err(|e| e.to_string())?;
        w.write_all(b"\n").map_err(|e| e.to_string())
    })?;
    Ok(())
}
