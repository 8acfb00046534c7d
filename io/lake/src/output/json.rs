//! JSON results: parameters, then one entry per (variant, category).

use std::io::Write;

use serde_json::{json, Value};
use topsellers_engine::ItemId;

use super::{OrOutput, RunResults};

fn item_value(item: &ItemId) -> Value {
    match item {
        ItemId::Int(v) => json!(v),
        ItemId::Str(s) => json!(s),
    }
}

pub(super) fn write(w: &mut (dyn Write + Send), results: &RunResults<'_>) -> Result<(), String> {
    let plan = results.plan;
    let variants: Vec<Value> = plan
        .variants
        .iter()
        .map(|v| json!({"name": v.name, "half_life_s": v.half_life_secs(), "lambda_per_day": v.lambda_per_sec * 86_400.0}))
        .collect();
    let mut entries = Vec::new();
    for (v, variant) in plan.variants.iter().enumerate() {
        for o in results.outcomes {
            let Some(s) = &o.scored else { continue };
            let items: Vec<Value> = s.top[v]
                .iter()
                .enumerate()
                .map(|(rank, r)| json!({"rank": rank + 1, "item_id": item_value(&r.item), "score": r.score}))
                .collect();
            entries.push(json!({
                "variant": variant.name,
                "category": o.category,
                "window_s": s.window_ns / 1_000_000_000,
                "counted": s.counted,
                "items": items,
            }));
        }
    }
    let doc = json!({
        "as_of": results.as_of(),
        "generation": plan.as_of_ns.div_euclid(1_000_000),
        "variants": variants,
        "top": plan.top,
        "results": entries,
    });
    serde_json::to_writer_pretty(&mut *w, &doc).or_output()?;
    w.write_all(b"\n").or_output()
}
