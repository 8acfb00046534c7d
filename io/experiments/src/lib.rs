//! `topsellers-experiments`: evidence for choosing a decay rate, computed
//! from a local lake. No async runtime, cloud SDK or cache client.
//!
//! - [`explain()`]: why an item of a category has its score and rank: the
//!   window steps, its score and exact rank per variant (also outside the
//!   top N), its neighbours, its contributions by day;
//! - [`backtest()`]: replays `as_of` over a period and scores how well each
//!   variant's top N predicts the next horizon's purchases (hit rate, NDCG,
//!   bootstrap intervals), in one forward pass;
//! - [`read_category`]: one category's purchases, in memory.
//!
//! ```no_run
//! use std::path::Path;
//! use topsellers_engine::{ScoringPlan, Variant};
//! use topsellers_experiments::explain;
//! use topsellers_lake::ColumnNames;
//!
//! const DAY: i64 = 86_400_000_000_000;
//! let plan = ScoringPlan::new(
//!     20_376 * DAY,
//!     vec![Variant::from_half_life("default", 7.0 * 86_400.0)?],
//!     30 * DAY, 365 * DAY, None, 100,
//! )?;
//! let e = explain(Path::new("lake"), &ColumnNames::default(), &plan, "books", "42")?;
//! println!("rank {} with {}", e.variants[0].rank, e.variants[0].score);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod backtest;
pub mod chart;
mod error;
pub mod explain;
mod purchases;

pub use backtest::{backtest, Backtest, ReplayTimes};
pub use error::ExperimentError;
pub use explain::{explain, explain_rows, Explanation};
pub use purchases::{read_category, Purchase};
