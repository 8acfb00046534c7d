//! `topsellers explain`: why an item has its score and rank.

use anyhow::{Context, Result};
use topsellers_engine::{ScoringPlan, Variant};
use topsellers_experiments::explain;
use topsellers_experiments::explain::{duration_words, sparkline, Explanation, Neighbour};
use topsellers_lake::parse_rfc3339;

use super::compute::{column_names, named_variants, scoring_plan};
use super::{now_ns, thread_pool, UsageError};
use crate::cli::ExplainArgs;

/// The variants of `explain` and of serve's explanations: the named ones,
/// else `default` with a 7-day half-life.
pub fn variants_or_default(given: &[(String, i64)]) -> Result<Vec<Variant>, UsageError> {
    if given.is_empty() {
        return Variant::from_half_life("default", 7.0 * 86_400.0)
            .map(|v| vec![v])
            .map_err(|e| UsageError(e.to_string()));
    }
    named_variants(given)
}

fn plan(a: &ExplainArgs) -> Result<ScoringPlan, UsageError> {
    let as_of_ns = match &a.as_of {
        Some(t) => parse_rfc3339(t).map_err(|e| UsageError(format!("--as-of: {e}")))?,
        None => now_ns(),
    };
    scoring_plan(as_of_ns, variants_or_default(&a.variant)?, &a.scoring)
}

/// Runs `explain`: an unknown category or item is a failure (exit 1).
pub fn run(a: &ExplainArgs) -> Result<()> {
    let plan = plan(a)?;
    let columns = column_names(&a.scoring);
    let pool = thread_pool(a.threads)?;
    let e = pool
        .install(|| explain(&a.lake, &columns, &plan, &a.category, &a.item))
        .with_context(|| {
            format!(
                "cannot explain item {} of category {:?}",
                a.item, a.category
            )
        })?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&e)?);
    } else {
        print!("{}", text(&e, plan.as_of_ns));
    }
    Ok(())
}

fn neighbour(label: &str, n: Option<&Neighbour>) -> String {
    match n {
        Some(n) => format!(
            "  {label}: #{} item {} score {:.6} (gap {:+.6})\n",
            n.rank,
            id_text(&n.item_id),
            n.score,
            n.gap
        ),
        None => format!("  {label}: none\n"),
    }
}

fn id_text(id: &topsellers_experiments::explain::ItemJson) -> String {
    match id {
        topsellers_experiments::explain::ItemJson::Int(v) => v.to_string(),
        topsellers_experiments::explain::ItemJson::Str(s) => s.clone(),
    }
}

/// The explanation for a terminal.
fn text(e: &Explanation, as_of_ns: i64) -> String {
    let mut out = format!(
        "item {} of category {:?} at {}\n",
        id_text(&e.item_id),
        e.category,
        e.as_of
    );
    out += &format!(
        "window: {} ({})\n",
        duration_words(e.window.window_s * 1_000_000_000),
        e.window.reason
    );
    for s in &e.window.steps {
        out += &format!(
            "  {:>6}  {:>8} distinct items  {}{}\n",
            duration_words(s.window_s * 1_000_000_000),
            s.distinct_items,
            if s.enough { ">=" } else { "< " },
            if s.chosen {
                format!(" min_items {}  <- chosen", e.window.min_items)
            } else {
                format!(" min_items {}", e.window.min_items)
            }
        );
    }
    out += &format!(
        "purchases in the window: {} (quantity {})\n",
        e.purchases, e.quantity
    );
    for v in &e.variants {
        let half_life = v.half_life_s.map_or("no decay".to_string(), |h| {
            format!("half-life {}", duration_words((h * 1e9).round() as i64))
        });
        out += &format!(
            "\nvariant {} ({half_life}): score {:.6}, rank {} of {}{}\n",
            v.variant,
            v.score,
            v.rank,
            v.ranked_items,
            if v.in_top {
                format!(" (in the top {})", e.top)
            } else {
                format!(" (outside the top {})", e.top)
            }
        );
        out += &neighbour("above", v.above.as_ref());
        out += &neighbour("below", v.below.as_ref());
        out += &format!(
            "  share of the score: last 24h {:.1}%, 7d {:.1}%, 30d {:.1}%\n",
            100.0 * v.shares.last_24h,
            100.0 * v.shares.last_7d,
            100.0 * v.shares.last_30d
        );
        out += &format!(
            "  by day |{}|\n",
            sparkline(&v.days, as_of_ns, e.window.window_s, 60)
        );
        out += "  day         purchases  quantity      weight\n";
        for d in &v.days {
            out += &format!(
                "  {}  {:>9}  {:>8}  {:>10.6}\n",
                d.day, d.purchases, d.quantity, d.weight
            );
        }
    }
    out
}
