//! CSV results: `variant,category,rank,item_id,score,window_s,as_of`.
//!
//! Scores are printed in the shortest form that reads back to the same f64
//! (Rust's `{:?}`, like Python's `repr`), so no precision is lost.

use std::io::Write;

use super::{OrOutput, RunResults};

/// The header line, as the contract fixes it.
pub const HEADER: [&str; 7] = [
    "variant", "category", "rank", "item_id", "score", "window_s", "as_of",
];

pub(super) fn write(w: &mut (dyn Write + Send), results: &RunResults<'_>) -> Result<(), String> {
    let mut out = ::csv::Writer::from_writer(w);
    out.write_record(HEADER).or_output()?;
    let as_of = results.as_of();
    for row in results.rows() {
        out.write_record([
            row.variant,
            row.category,
            &row.rank.to_string(),
            &row.item.to_string(),
            &format!("{:?}", row.score),
            &row.window_s.to_string(),
            &as_of,
        ])
        .or_output()?;
    }
    out.flush().or_output()
}
