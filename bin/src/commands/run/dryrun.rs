//! What `run --dry-run` and `publish --dry-run` print: per variant, the
//! categories added, removed (the leavers a publish deletes) and reordered
//! (with the items that move), and what validation says (`run` only).

use topsellers_lake::ResultSet;
use topsellers_store::{Move, Refusal, VariantDiff};

/// Names listed per kind of change before "… and N more".
const SHOWN: usize = 20;

fn list(names: &[String]) -> String {
    let mut text = names
        .iter()
        .take(SHOWN)
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > SHOWN {
        text.push_str(&format!(", … and {} more", names.len() - SHOWN));
    }
    text
}

fn describe(m: &Move) -> String {
    match (m.from, m.to) {
        (Some(f), Some(t)) => format!("{} {f}→{t}", m.item),
        (None, Some(t)) => format!("{} enters at {t}", m.item),
        (Some(f), None) => format!("{} leaves (was {f})", m.item),
        (None, None) => m.item.clone(),
    }
}

/// Prints the dry run's findings on stdout; `refusals` is `None` where
/// nothing validates (`publish`).
pub fn print(
    set: &ResultSet,
    table: &str,
    diffs: &[VariantDiff],
    refusals: Option<&[Refusal]>,
    force: bool,
) {
    println!(
        "dry run: as_of {} (generation {}) against table {table}; nothing is published",
        set.as_of(),
        set.generation()
    );
    for d in diffs {
        let live = match (&d.live_as_of, d.live_generation) {
            (Some(a), Some(g)) => format!("live as_of {a} (generation {g})"),
            _ => "nothing live yet".to_string(),
        };
        println!(
            "variant {}: {live}: {} added, {} removed, {} reordered, {} rescored only, {} unchanged",
            d.variant,
            d.added.len(),
            d.removed.len(),
            d.reordered.len(),
            d.rescored,
            d.unchanged
        );
        if !d.added.is_empty() {
            println!("  added: {}", list(&d.added));
        }
        if !d.removed.is_empty() {
            println!("  removed: {}", list(&d.removed));
        }
        for c in d.reordered.iter().take(SHOWN) {
            let moves: Vec<String> = c.moved.iter().map(describe).collect();
            println!("  reordered {}: {}", c.category, moves.join(", "));
        }
        if d.reordered.len() > SHOWN {
            println!("  … and {} more reordered", d.reordered.len() - SHOWN);
        }
    }
    let Some(refusals) = refusals else {
        return;
    };
    if refusals.is_empty() {
        println!("validation: passes; a run would publish");
    } else {
        let verdict = if force {
            "would publish anyway (--force)"
        } else {
            "a run would refuse to publish"
        };
        println!("validation: {verdict}:");
        for r in refusals {
            println!("  {}: {}", r.check, r.message);
        }
    }
}
