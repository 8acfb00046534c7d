//! Why an item has its score and rank: the category's window steps against
//! `min_items`, and per variant the item's exact score and rank (also
//! outside the top N), its neighbours, its contributions by day and the
//! share of its score from the last day, week and month.
//!
//! # Design
//!
//! The category's purchases within the largest window are read once and
//! scored the plain way (one `quantity · exp(−λ·age)` per purchase, summed
//! in f64), every item of the category, so the rank is exact wherever the
//! item stands. This is one category: the cost is its rows, not the lake's.

use std::collections::HashMap;
use std::path::Path;

use serde::Serialize;
use topsellers_engine::{weight, ItemId, ScoringPlan, NANOS_PER_SEC};
use topsellers_lake::{rfc3339, ColumnNames};

use crate::error::ExperimentError;
use crate::purchases::{read_category, Purchase};

const DAY_NS: i64 = 86_400 * NANOS_PER_SEC;

/// An item id as JSON: a number for INT64 ids, a string for UTF8 ids.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum ItemJson {
    /// An INT64 id.
    Int(i64),
    /// A UTF8 id.
    Str(String),
}

impl From<&ItemId> for ItemJson {
    fn from(id: &ItemId) -> Self {
        match id {
            ItemId::Int(v) => ItemJson::Int(*v),
            ItemId::Str(s) => ItemJson::Str(s.clone()),
        }
    }
}

/// One candidate window and the distinct items with a purchase inside it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WindowStep {
    /// The candidate window, seconds.
    pub window_s: i64,
    /// Distinct items with a counted purchase inside it.
    pub distinct_items: usize,
    /// Whether that reaches `min_items`.
    pub enough: bool,
    /// Whether this is the window chosen.
    pub chosen: bool,
}

/// The category's window and why it was chosen.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WindowChoice {
    /// The window used, seconds.
    pub window_s: i64,
    /// Distinct items a window needs.
    pub min_items: usize,
    /// Every candidate, shortest first.
    pub steps: Vec<WindowStep>,
    /// The rule's verdict in words.
    pub reason: String,
}

/// A neighbour in the ranking.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Neighbour {
    /// Its rank.
    pub rank: usize,
    /// The item.
    pub item_id: ItemJson,
    /// Its score.
    pub score: f64,
    /// Its score minus the explained item's (positive above, negative below).
    pub gap: f64,
}

/// The item's purchases of one UTC day.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DayContribution {
    /// The day, `YYYY-MM-DD`.
    pub day: String,
    /// Purchases counted.
    pub purchases: u64,
    /// Their quantity.
    pub quantity: i64,
    /// Their decayed weight: the part of the score they give.
    pub weight: f64,
}

/// The share of the score from the most recent purchases.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RecentShares {
    /// From purchases less than 24 h old.
    pub last_24h: f64,
    /// From purchases less than 7 days old.
    pub last_7d: f64,
    /// From purchases less than 30 days old.
    pub last_30d: f64,
}

/// One variant's view of the item.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VariantExplanation {
    /// The variant.
    pub variant: String,
    /// Its half-life, seconds (null for λ = 0).
    pub half_life_s: Option<f64>,
    /// The item's score.
    pub score: f64,
    /// Its rank among every item of the category (1 = best).
    pub rank: usize,
    /// Items ranked in the category.
    pub ranked_items: usize,
    /// Whether the rank is within the top N published.
    pub in_top: bool,
    /// The item just above, if any.
    pub above: Option<Neighbour>,
    /// The item just below, if any.
    pub below: Option<Neighbour>,
    /// Contributions by day, oldest first (days with a purchase only).
    pub days: Vec<DayContribution>,
    /// Share of the score from the last 24 h, 7 d and 30 d.
    pub shares: RecentShares,
}

/// Why an item has its score and rank.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Explanation {
    /// The category.
    pub category: String,
    /// The item.
    pub item_id: ItemJson,
    /// The reference time (RFC 3339).
    pub as_of: String,
    /// The top N published per (variant, category).
    pub top: usize,
    /// The category's window.
    pub window: WindowChoice,
    /// The item's counted purchases in the window.
    pub purchases: u64,
    /// Their quantity.
    pub quantity: i64,
    /// Per variant, in the plan's order.
    pub variants: Vec<VariantExplanation>,
}

/// A window in words: `30d`, `12h`, `90s`.
pub fn duration_words(ns: i64) -> String {
    let s = ns / NANOS_PER_SEC;
    if s % 86_400 == 0 {
        format!("{}d", s / 86_400)
    } else if s % 3_600 == 0 {
        format!("{}h", s / 3_600)
    } else {
        format!("{s}s")
    }
}

/// The window rule over counted purchases (ages `0 ≤ as_of − ts < W_max`).
pub(crate) fn choose_window(plan: &ScoringPlan, rows: &[Purchase]) -> WindowChoice {
    let as_of = plan.as_of_ns;
    // The newest purchase of each item decides under which windows it is present.
    let mut newest: HashMap<&ItemId, i64> = HashMap::new();
    for p in rows {
        let t = newest.entry(&p.item).or_insert(p.ts_ns);
        *t = (*t).max(p.ts_ns);
    }
    let mut steps: Vec<WindowStep> = plan
        .windows
        .windows_ns()
        .iter()
        .map(|&w| {
            let distinct_items = newest.values().filter(|&&t| as_of - t < w).count();
            WindowStep {
                window_s: w / NANOS_PER_SEC,
                distinct_items,
                enough: distinct_items >= plan.min_items,
                chosen: false,
            }
        })
        .collect();
    let at = steps
        .iter()
        .position(|s| s.enough)
        .unwrap_or(steps.len() - 1);
    steps[at].chosen = true;
    let chosen = &steps[at];
    let words = duration_words(chosen.window_s * NANOS_PER_SEC);
    let reason = if chosen.enough && at == 0 {
        format!(
            "{} distinct items within the base window {words}, at least min_items = {}",
            chosen.distinct_items, plan.min_items
        )
    } else if chosen.enough {
        format!(
            "fewer than min_items = {} distinct items under the shorter windows; {} within {words}",
            plan.min_items, chosen.distinct_items
        )
    } else {
        format!(
            "no window reaches min_items = {} distinct items: the largest, {words}, holds {}",
            plan.min_items, chosen.distinct_items
        )
    };
    WindowChoice {
        window_s: chosen.window_s,
        min_items: plan.min_items,
        steps,
        reason,
    }
}

/// The item id as the lake would hold it: an integer when `text` is one and
/// the lake's ids are integers.
fn id_like(text: &str, rows: &[Purchase]) -> ItemId {
    match (rows.first().map(|p| &p.item), text.parse::<i64>()) {
        (Some(ItemId::Int(_)), Ok(v)) => ItemId::Int(v),
        _ => ItemId::Str(text.to_string()),
    }
}

/// Explains `item` of `category` under `plan` (its `as_of`, variants,
/// windows, `min_items` and top N), reading the lake.
pub fn explain(
    lake: &Path,
    columns: &ColumnNames,
    plan: &ScoringPlan,
    category: &str,
    item: &str,
) -> Result<Explanation, ExperimentError> {
    let as_of = plan.as_of_ns;
    let wmax = plan.windows.max_ns();
    let rows = read_category(lake, columns, category, as_of.saturating_sub(wmax), as_of)?;
    explain_rows(plan, category, item, &rows)
}

/// [`explain`] over purchases already read (`as_of − W_max < ts ≤ as_of`).
pub fn explain_rows(
    plan: &ScoringPlan,
    category: &str,
    item: &str,
    rows: &[Purchase],
) -> Result<Explanation, ExperimentError> {
    let as_of = plan.as_of_ns;
    if rows.is_empty() {
        return Err(ExperimentError::EmptyCategory {
            category: category.to_string(),
            window: duration_words(plan.windows.max_ns()),
            as_of: rfc3339(as_of),
        });
    }
    let window = choose_window(plan, rows);
    let w_ns = window.window_s * NANOS_PER_SEC;
    let counted: Vec<&Purchase> = rows.iter().filter(|p| as_of - p.ts_ns < w_ns).collect();
    let id = id_like(item, rows);
    let mine: Vec<&Purchase> = counted.iter().copied().filter(|p| p.item == id).collect();
    if mine.is_empty() {
        let newest = rows.iter().filter(|p| p.item == id).map(|p| p.ts_ns).max();
        let hint = match newest {
            Some(t) => format!(
                " (its newest purchase, {}, is older than the window)",
                rfc3339(t)
            ),
            None => format!(
                " (nor within the largest window, {})",
                duration_words(plan.windows.max_ns())
            ),
        };
        return Err(ExperimentError::UnknownItem {
            item: item.to_string(),
            category: category.to_string(),
            window: duration_words(w_ns),
            as_of: rfc3339(as_of),
            hint,
        });
    }
    let variants = plan
        .variants
        .iter()
        .map(|v| {
            let lambda = v.lambda_per_sec;
            let mut scores: HashMap<&ItemId, f64> = HashMap::new();
            for p in &counted {
                *scores.entry(&p.item).or_insert(0.0) += weight(p.quantity, p.ts_ns, as_of, lambda);
            }
            let mut order: Vec<(&ItemId, f64)> = scores.into_iter().collect();
            order.sort_unstable_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(b.0)));
            let at = order.iter().position(|(i, _)| **i == id).unwrap_or(0);
            let score = order[at].1;
            let neighbour = |j: usize| {
                order.get(j).map(|&(i, s)| Neighbour {
                    rank: j + 1,
                    item_id: ItemJson::from(i),
                    score: s,
                    gap: s - score,
                })
            };
            let days = by_day(&mine, as_of, lambda);
            let share = |age_ns: i64| {
                let recent: f64 = mine
                    .iter()
                    .filter(|p| as_of - p.ts_ns < age_ns)
                    .map(|p| weight(p.quantity, p.ts_ns, as_of, lambda))
                    .sum();
                if score > 0.0 {
                    recent / score
                } else {
                    0.0
                }
            };
            VariantExplanation {
                variant: v.name.clone(),
                half_life_s: (lambda > 0.0).then(|| v.half_life_secs()),
                score,
                rank: at + 1,
                ranked_items: order.len(),
                in_top: at < plan.top,
                above: at.checked_sub(1).and_then(neighbour),
                below: neighbour(at + 1),
                days,
                shares: RecentShares {
                    last_24h: share(DAY_NS),
                    last_7d: share(7 * DAY_NS),
                    last_30d: share(30 * DAY_NS),
                },
            }
        })
        .collect();
    Ok(Explanation {
        category: category.to_string(),
        item_id: ItemJson::from(&id),
        as_of: rfc3339(as_of),
        top: plan.top,
        window,
        purchases: mine.len() as u64,
        quantity: mine.iter().map(|p| p.quantity).sum(),
        variants,
    })
}

/// The item's purchases grouped by UTC day, oldest first.
fn by_day(mine: &[&Purchase], as_of: i64, lambda: f64) -> Vec<DayContribution> {
    let mut days: Vec<(i64, DayContribution)> = Vec::new();
    for p in mine {
        let d = p.ts_ns.div_euclid(DAY_NS);
        if days.last().is_none_or(|(last, _)| *last != d) {
            let date = chrono::DateTime::from_timestamp(d * 86_400, 0)
                .map(|t| t.date_naive().to_string())
                .unwrap_or_default();
            days.push((
                d,
                DayContribution {
                    day: date,
                    purchases: 0,
                    quantity: 0,
                    weight: 0.0,
                },
            ));
        }
        if let Some((_, c)) = days.last_mut() {
            c.purchases += 1;
            c.quantity += p.quantity;
            c.weight += weight(p.quantity, p.ts_ns, as_of, lambda);
        }
    }
    days.into_iter().map(|(_, c)| c).collect()
}

/// A terminal sparkline of daily weights over the window, oldest left; at
/// most `width` characters (several days to a character when the window is
/// longer).
pub fn sparkline(days: &[DayContribution], as_of_ns: i64, window_s: i64, width: usize) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let last = as_of_ns.div_euclid(DAY_NS);
    let span = ((window_s * NANOS_PER_SEC) as u64)
        .div_ceil(DAY_NS as u64)
        .max(1) as usize;
    let per = span.div_ceil(width.max(1));
    let mut cells = vec![0.0f64; span.div_ceil(per)];
    for c in days {
        let Ok(d) = chrono::NaiveDate::parse_from_str(&c.day, "%Y-%m-%d") else {
            continue;
        };
        let idx = d
            .and_hms_opt(0, 0, 0)
            .map_or(0, |t| t.and_utc().timestamp())
            .div_euclid(86_400);
        let back = (last - idx).max(0) as usize;
        if back < span {
            let pos = (span - 1 - back) / per;
            cells[pos] += c.weight;
        }
    }
    let top = cells.iter().copied().fold(0.0, f64::max);
    cells
        .iter()
        .map(|&v| {
            if v <= 0.0 || top <= 0.0 {
                ' '
            } else {
                BARS[(((v / top) * 7.0).round() as usize).min(7)]
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use topsellers_engine::Variant;

    fn p(item: i64, ts_ns: i64, quantity: i64) -> Purchase {
        Purchase {
            item: ItemId::Int(item),
            ts_ns,
            quantity,
        }
    }

    #[test]
    fn scores_ranks_neighbours_and_shares() {
        let as_of = 100 * DAY_NS;
        let plan = ScoringPlan::new(
            as_of,
            vec![Variant::from_half_life("h", 86_400.0).unwrap()],
            10 * DAY_NS,
            40 * DAY_NS,
            Some(3),
            2,
        )
        .unwrap();
        // Item 1: bought now and a day ago (1.5); item 2: 3 now; item 3: 1
        // two days ago (0.25); item 4 outside the 10-day window but present
        // under 20 days, which the rule needs for 3 items... it is not: 3
        // items are within 10 days, so item 4 does not count.
        let rows = vec![
            p(4, as_of - 15 * DAY_NS, 9),
            p(3, as_of - 2 * DAY_NS, 1),
            p(1, as_of - DAY_NS, 1),
            p(1, as_of, 1),
            p(2, as_of, 3),
        ];
        let e = explain_rows(&plan, "c", "1", &rows).unwrap();
        assert_eq!(e.window.window_s, 10 * 86_400);
        assert_eq!(e.window.steps[0].distinct_items, 3);
        let v = &e.variants[0];
        assert_eq!(
            (v.score, v.rank, v.ranked_items, v.in_top),
            (1.5, 2, 3, true)
        );
        assert_eq!(v.above.as_ref().unwrap().gap, 1.5);
        assert_eq!(v.below.as_ref().unwrap().item_id, ItemJson::Int(3));
        assert_eq!(v.days.len(), 2);
        assert_eq!(v.shares.last_24h, 1.0 / 1.5);
        assert_eq!(v.shares.last_7d, 1.0);
        let e3 = explain_rows(&plan, "c", "3", &rows).unwrap();
        assert!(!e3.variants[0].in_top, "rank 3 of a top 2");
        assert!(matches!(
            explain_rows(&plan, "c", "4", &rows),
            Err(ExperimentError::UnknownItem { .. })
        ));
        assert!(matches!(
            explain_rows(&plan, "c", "77", &rows),
            Err(ExperimentError::UnknownItem { .. })
        ));
    }

    #[test]
    fn sparkline_puts_recent_days_right() {
        let days = vec![
            DayContribution {
                day: "1970-04-10".into(), // day 99
                purchases: 1,
                quantity: 1,
                weight: 1.0,
            },
            DayContribution {
                day: "1970-04-08".into(), // day 97
                purchases: 1,
                quantity: 1,
                weight: 0.5,
            },
        ];
        // as_of at day 100 00:00 is day 100; a 4-day window shows days 97..100.
        assert_eq!(sparkline(&days, 100 * DAY_NS, 4 * 86_400, 60), "▅ █ ");
    }
}
