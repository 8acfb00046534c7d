//! `read_results` reads back exactly what `write_results` wrote, in each of
//! the three formats, and names the line or row at fault in a bad file.

#![allow(clippy::unwrap_used)]

use std::path::Path;

use topsellers_engine::{CategoryOutcome, ItemId, Ranked, RowCounts, Scored, ScoringPlan, Variant};
use topsellers_lake::{read_results, write_results, LakeError, ResultSet, RunResults};

const DAY: i64 = 86_400_000_000_000;

fn plan() -> ScoringPlan {
    ScoringPlan::new(
        20_376 * DAY + 1_500_000,
        vec![
            Variant::from_half_life("default", 7.0 * 86_400.0).unwrap(),
            Variant::from_half_life("fast", 86_400.0).unwrap(),
        ],
        30 * DAY,
        365 * DAY,
        None,
        3,
    )
    .unwrap()
}

fn outcome(category: &str, ids: &[ItemId], window_days: i64) -> CategoryOutcome {
    let ranked = |scale: f64| {
        ids.iter()
            .enumerate()
            .map(|(i, id)| Ranked {
                item: id.clone(),
                score: scale / (i as f64 + 3.0) + 1e-17,
            })
            .collect::<Vec<_>>()
    };
    CategoryOutcome {
        category: category.to_string(),
        counts: RowCounts::default(),
        scored: Some(Scored {
            window_ns: window_days * DAY,
            counted: 17,
            distinct_items: ids.len(),
            top: vec![ranked(1.0), ranked(0.1 + 0.2)],
        }),
    }
}

fn outcomes(ids: impl Fn(i64) -> ItemId) -> Vec<CategoryOutcome> {
    vec![
        outcome("books", &[ids(3), ids(-1), ids(40)], 30),
        outcome("toys/games, \"kids\"", &[ids(9)], 120),
        CategoryOutcome {
            category: "zzz-empty".into(),
            counts: RowCounts::default(),
            scored: None,
        },
    ]
}

fn round_trip(dir: &Path, name: &str, outcomes: &[CategoryOutcome]) -> ResultSet {
    let plan = plan();
    let path = dir.join(name);
    write_results(
        &path,
        &RunResults {
            plan: &plan,
            outcomes,
        },
    )
    .unwrap();
    read_results(&path).unwrap()
}

fn expected(outcomes: &[CategoryOutcome]) -> ResultSet {
    let plan = plan();
    ResultSet::from_run(
        &RunResults {
            plan: &plan,
            outcomes,
        },
        0,
    )
}

fn same(got: &ResultSet, want: &ResultSet, counted: bool) {
    assert_eq!(got.as_of_ns, want.as_of_ns);
    assert_eq!(got.generation(), want.generation());
    assert_eq!(got.variants, want.variants);
    assert_eq!(got.groups.len(), want.groups.len());
    for (g, w) in got.groups.iter().zip(&want.groups) {
        assert_eq!(
            (&g.variant, &g.category, g.window_s),
            (&w.variant, &w.category, w.window_s)
        );
        assert_eq!(g.items, w.items, "{}/{}", g.variant, g.category);
        assert_eq!(g.counted, if counted { w.counted } else { None });
    }
}

#[test]
fn every_format_reads_back_what_was_written() {
    let dir = tempfile::tempdir().unwrap();
    for (ids, label) in [
        (&(|i: i64| ItemId::Int(i)) as &dyn Fn(i64) -> ItemId, "int"),
        (&|i: i64| ItemId::Str(format!("sku-{i}")), "str"),
    ] {
        let out = outcomes(ids);
        let want = expected(&out);
        assert_eq!(want.groups.len(), 4, "two scored categories × two variants");
        same(
            &round_trip(dir.path(), &format!("{label}.json"), &out),
            &want,
            true,
        );
        same(
            &round_trip(dir.path(), &format!("{label}.csv"), &out),
            &want,
            false,
        );
        same(
            &round_trip(dir.path(), &format!("{label}.parquet"), &out),
            &want,
            false,
        );
    }
}

#[test]
fn digit_only_string_ids_stay_strings_in_json_and_parquet_only() {
    let dir = tempfile::tempdir().unwrap();
    let out = outcomes(|i| ItemId::Str(format!("{:03}", i.abs())));
    let want = expected(&out);
    same(&round_trip(dir.path(), "s.json", &out), &want, true);
    same(&round_trip(dir.path(), "s.parquet", &out), &want, false);
    // CSV: every id parses as an integer, so all become integers (documented).
    let csv = round_trip(dir.path(), "s.csv", &out);
    assert_eq!(csv.groups[0].items[0].item, ItemId::Int(3));
}

fn bad(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    let err = read_results(&path).unwrap_err();
    assert!(matches!(err, LakeError::BadResults { .. }), "{err}");
    err.to_string()
}

#[test]
fn bad_files_name_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let head = "variant,category,rank,item_id,score,window_s,as_of\n";
    let row = |v: &str, c: &str, r: u32, s: &str, a: &str| format!("{v},{c},{r},1,{s},86400,{a}\n");
    let t = "2026-10-15T00:00:00Z";
    let e = bad(
        dir.path(),
        "rank.csv",
        &format!(
            "{head}{}{}",
            row("d", "c", 1, "1.0", t),
            row("d", "c", 3, "1.0", t)
        ),
    );
    assert!(e.contains("line 3") && e.contains("rank 3 where 2"), "{e}");
    let e = bad(
        dir.path(),
        "asof.csv",
        &format!(
            "{head}{}{}",
            row("d", "c", 1, "1.0", t),
            row("d", "x", 1, "1.0", "2026-10-16T00:00:00Z")
        ),
    );
    assert!(e.contains("line 3") && e.contains("one run"), "{e}");
    let e = bad(
        dir.path(),
        "score.csv",
        &format!("{head}{}", row("d", "c", 1, "lots", t)),
    );
    assert!(e.contains("line 2") && e.contains("\"lots\""), "{e}");
    let e = bad(
        dir.path(),
        "split.csv",
        &format!(
            "{head}{}{}{}",
            row("d", "c", 1, "1", t),
            row("d", "x", 1, "1", t),
            row("d", "c", 2, "1", t)
        ),
    );
    assert!(e.contains("not contiguous"), "{e}");
    let e = bad(dir.path(), "empty.csv", head);
    assert!(e.contains("no result rows"), "{e}");
    let e = bad(dir.path(), "header.csv", "a,b\n1,2\n");
    assert!(e.contains("line 1") && e.contains("header"), "{e}");
    let e = bad(
        dir.path(),
        "gen.json",
        r#"{"as_of":"2026-10-15T00:00:00Z","generation":5,"results":[]}"#,
    );
    assert!(e.contains("generation"), "{e}");
    let e = bad(
        dir.path(),
        "id.json",
        r#"{"as_of":"2026-10-15T00:00:00Z","results":[{"variant":"d","category":"c","window_s":1,"items":[{"rank":1,"item_id":[1],"score":1.0}]}]}"#,
    );
    assert!(e.contains("results[0].items[0]"), "{e}");
}

#[test]
fn scores_read_back_bit_for_bit() {
    // Many arbitrary f64s: a JSON parser that is not correctly rounded
    // (serde_json without float_roundtrip) gets some of them 1 ulp off.
    let dir = tempfile::tempdir().unwrap();
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let ids: Vec<ItemId> = (0..3).map(ItemId::Int).collect();
    let mut out = vec![outcome("many", &ids, 30)];
    let Some(scored) = out[0].scored.as_mut() else {
        unreachable!()
    };
    for top in &mut scored.top {
        top.clear();
        for i in 0..2000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let score = (x >> 11) as f64 / (1u64 << 53) as f64 * 10f64.powi((x % 40) as i32 - 20);
            top.push(Ranked {
                item: ItemId::Int(i),
                score,
            });
        }
    }
    let want = expected(&out);
    same(&round_trip(dir.path(), "many.json", &out), &want, true);
    same(&round_trip(dir.path(), "many.csv", &out), &want, false);
}
