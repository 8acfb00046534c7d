//! `topsellers-engine`: exact, exponentially time-decayed top sellers per
//! category, as pure synchronous computation.
//!
//! The engine never reads a file or a clock. A caller (the `topsellers-lake`
//! crate) decodes purchases into [`Batch`]es of borrowed columns and feeds them
//! to a [`CategoryAccumulator`], one per work unit; [`aggregate_units`] runs the
//! units of a category in parallel and folds them in a fixed order, so results
//! are identical for any thread count. [`CategoryAccumulator::finish`] then
//! picks the category's adaptive window and ranks its items per variant.
//!
//! ```
//! use topsellers_engine::{Batch, CategoryAccumulator, IntInterner, ScoringPlan, Variant};
//!
//! const DAY: i64 = 86_400_000_000_000;
//! let plan = ScoringPlan::new(
//!     100 * DAY,                                              // as_of, ns since epoch
//!     vec![Variant::from_half_life("default", 7.0 * 86_400.0).unwrap()],
//!     30 * DAY, 365 * DAY,                                    // window, max window
//!     Some(1), 10,                                            // min items, top N
//! ).unwrap();
//! let items: &[i64] = &[7, 7, 9];
//! let ts_ms = [100 * 86_400_000, 93 * 86_400_000, 99 * 86_400_000];
//! let mut acc = CategoryAccumulator::<IntInterner>::new(&plan);
//! acc.add(&plan, &Batch::new(items, &ts_ms, 1_000_000));
//! let out = acc.finish(&plan, "toys".into());
//! let top = &out.scored.unwrap().top[0];
//! assert_eq!(top[0].score, 1.5); // 1 + 2^-1: bought now and one half-life ago
//! ```

mod accumulate;
mod anchor;
mod batch;
mod counts;
mod decay;
mod error;
mod inttable;
mod key;
mod parallel;
mod params;
pub mod reference;
mod state;
mod topk;
mod window;

pub use accumulate::{CategoryAccumulator, CategoryOutcome, Ranked, RepeatedKey, Scored, NO_SLOT};
pub use batch::{Batch, Validity};
pub use counts::RowCounts;
pub use decay::decay_weights;
pub use error::EngineError;
pub use key::{BytesInterner, IntInterner, Interner, ItemId, KeyColumn, Offset, StrColumn};
pub use parallel::{aggregate_units, merge_group};
pub use params::{ScoringPlan, Variant, NANOS_PER_SEC, SECS_PER_DAY};
pub use state::{weight, CategoryState, ItemKey, NotHeld, WindowCheck};
pub use topk::top_n;
pub use window::WindowLadder;
