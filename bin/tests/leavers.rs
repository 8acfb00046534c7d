//! Leavers (README, *Guarantees: Leavers*): a category a newer run no
//! longer has is deleted from the store (DynamoDB Local, MariaDB) after the
//! manifest, its Redis key gets a tombstone, and `serve` answers 404 for it
//! while the others stay 200. `publish --dry-run` lists it first; a stale
//! run deletes nothing; a category that comes back is published again; a
//! newer run's item written between the listing and the delete is kept.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::http::{serve_dynamo, url, Serve};
use common::mariadb::{password_env, Mariadb};
use common::services::{dynamo_client, dynamo_env, DynamoLocal, Redis};
use common::store::{n, table_items};
use common::topsellers;
use predicates::prelude::PredicateBooleanExt;
use predicates::str::contains;
use topsellers_engine::{ItemId, Ranked};
use topsellers_lake::{ResultGroup, ResultSet};
use topsellers_store::dynamo::leavers::{delete, list};
use topsellers_store::leavers::Leaver;

/// Day 0, 1, 2, 3 of the runs (`as_of`) and their generations.
const DAYS: [(&str, i64); 4] = [
    ("2026-10-14T00:00:00Z", 1_791_936_000_000),
    ("2026-10-15T00:00:00Z", 1_792_022_400_000),
    ("2026-10-16T00:00:00Z", 1_792_108_800_000),
    ("2026-10-17T00:00:00Z", 1_792_195_200_000),
];

/// A results CSV of the run of `day`: variants `default` and `fast`, the
/// `categories` given, three items each.
fn results(dir: &Path, day: usize, categories: &[&str]) -> PathBuf {
    let path = dir.join(format!("results-{day}-{}.csv", categories.join("")));
    let mut f = std::fs::File::create(&path).unwrap();
    writeln!(f, "variant,category,rank,item_id,score,window_s,as_of").unwrap();
    for variant in ["default", "fast"] {
        for (c, category) in categories.iter().enumerate() {
            for r in 0..3 {
                let score = 10.0 / (r as f64 + 1.0) + day as f64;
                let item = c * 10 + r;
                writeln!(
                    f,
                    "{variant},{category},{},{item},{score:?},86400,{}",
                    r + 1,
                    DAYS[day].0
                )
                .unwrap();
            }
        }
    }
    path
}

/// (pk → generation) of every group item of the table.
fn generations(db: &DynamoLocal) -> BTreeMap<String, i64> {
    table_items(&db.url(), "topsellers")
        .into_iter()
        .filter(|(k, _)| !k.starts_with("#manifest#"))
        .map(|(k, item)| (k, n(&item["generation"]).parse().unwrap()))
        .collect()
}

fn redis_get(redis: &Redis, key: &str) -> Option<String> {
    redis.dump().get(key).cloned()
}

fn publish_dynamo(db: &DynamoLocal, redis: &Redis, csv: &Path) -> assert_cmd::Command {
    let mut cmd = topsellers();
    cmd.envs(dynamo_env(&db.url()));
    let redis = redis.url();
    cmd.args([
        "publish",
        "--table",
        "topsellers",
        "--create-table",
        "--redis",
        &redis,
    ]);
    cmd.arg("--results").arg(csv);
    cmd
}

/// What both stores must show after the run of day 2 (without `c`)
/// replaced the run of day 1 (with it): `c` answers 404, `a` and `b` 200 at
/// day 2, from a serve without a local cache and from one whose local
/// cache held `c` (once its local TTL has passed).
fn assert_served(fresh: &Serve, cached: &Serve, local_ttl: Duration) {
    std::thread::sleep(local_ttl + Duration::from_millis(200));
    for serve in [fresh, cached] {
        for variant in ["default", "fast"] {
            let gone = serve.get(&format!("{}?variant={variant}", url("c")));
            assert_eq!(gone.status, 404, "{variant}/c: {}", gone.body);
            for kept in ["a", "b"] {
                let r = serve.get(&format!("{}?variant={variant}", url(kept)));
                assert_eq!(r.status, 200, "{variant}/{kept}: {}", r.body);
                assert_eq!(r.json()["generation"], DAYS[2].1);
            }
        }
    }
}

fn assert_tombstones(redis: &Redis, generation: i64) {
    for variant in ["default", "fast"] {
        let key = format!("topsellers:v1:{variant}:c");
        assert_eq!(
            redis_get(redis, &key).as_deref(),
            Some(format!(r#"{{"left":true,"generation":{generation}}}"#).as_str()),
            "{key}"
        );
        assert!(redis.ttl(&key) > 3600, "{key}: the publish's TTL");
    }
}

#[test]
fn dynamodb_leavers_are_deleted_marked_in_redis_and_answered_404() {
    let tmp = tempfile::tempdir().unwrap();
    let (db, redis) = (DynamoLocal::start(), Redis::start());
    publish_dynamo(&db, &redis, &results(tmp.path(), 1, &["a", "b", "c"]))
        .assert()
        .success();
    let local_ttl = Duration::from_secs(1);
    let fresh = serve_dynamo(&db.url(), &redis.url(), &["--local-ttl", "0"]);
    let cached = serve_dynamo(&db.url(), &redis.url(), &["--local-ttl", "1s"]);
    assert_eq!(cached.get(&url("c")).status, 200, "c is cached locally");
    let live = table_items(&db.url(), "topsellers");

    // The dry run lists the leaver per variant and changes nothing.
    let day2 = results(tmp.path(), 2, &["a", "b"]);
    publish_dynamo(&db, &redis, &day2)
        .arg("--dry-run")
        .assert()
        .success()
        .stdout(
            contains("variant default: live as_of 2026-10-15T00:00:00Z (generation 1792022400000): 0 added, 1 removed")
                .and(contains("variant fast: live"))
                .and(contains("  removed: c\n").count(2))
                .and(contains("validation").not()),
        );
    assert_eq!(
        table_items(&db.url(), "topsellers"),
        live,
        "a dry run publishes nothing"
    );

    publish_dynamo(&db, &redis, &day2)
        .assert()
        .success()
        .stdout(
            contains(
                "variant default: 1 categories left the results: 1 deleted from topsellers, 0 kept",
            )
            .and(contains("variant fast: 1 categories left")),
        );
    let after: Vec<(String, i64)> = generations(&db).into_iter().collect();
    let want: Vec<(String, i64)> = ["default#a", "default#b", "fast#a", "fast#b"]
        .iter()
        .map(|k| (k.to_string(), DAYS[2].1))
        .collect();
    assert_eq!(
        after, want,
        "c is gone from both variants, a and b at day 2"
    );
    assert_tombstones(&redis, DAYS[2].1);
    assert_served(&fresh, &cached, local_ttl);

    // A stale run (day 0, only `a`) deletes nothing, in the store or Redis.
    let before = table_items(&db.url(), "topsellers");
    let cache = redis.dump();
    publish_dynamo(&db, &redis, &results(tmp.path(), 0, &["a"]))
        .assert()
        .success()
        .stdout(contains("stale").and(contains("left the results").not()));
    assert_eq!(table_items(&db.url(), "topsellers"), before);
    assert_eq!(redis.dump(), cache);

    // `c` comes back at day 3: published again, the tombstone replaced.
    publish_dynamo(&db, &redis, &results(tmp.path(), 3, &["a", "b", "c"]))
        .assert()
        .success()
        .stdout(contains("2 new").and(contains("left the results").not()));
    // The fresh serve remembers for its negative TTL (1 s) that c was missing.
    std::thread::sleep(Duration::from_millis(1200));
    let back = fresh.get(&url("c"));
    assert_eq!(back.status, 200, "{}", back.body);
    assert_eq!(back.json()["generation"], DAYS[3].1);
}

/// A run of `generation` with one group (`default`, `category`).
fn one_group(category: &str, day: usize) -> ResultSet {
    ResultSet {
        as_of_ns: DAYS[day].1 * 1_000_000,
        computed_at_ns: DAYS[day].1 * 1_000_000,
        variants: vec!["default".into()],
        groups: vec![ResultGroup {
            variant: "default".into(),
            category: category.into(),
            window_s: 86_400,
            counted: None,
            items: vec![Ranked {
                item: ItemId::Int(7),
                score: 1.0,
            }],
        }],
    }
}

#[test]
fn a_leaver_rewritten_by_a_newer_run_after_the_listing_is_kept() {
    let tmp = tempfile::tempdir().unwrap();
    let (db, redis) = (DynamoLocal::start(), Redis::start());
    publish_dynamo(&db, &redis, &results(tmp.path(), 1, &["a", "b", "c"]))
        .assert()
        .success();
    let client = dynamo_client(&db.url());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        // The run of day 2 (only `a`) lists its leavers: b and c, at day 1.
        let mut stored = list(&client, "topsellers", &["default".to_string()])
            .await
            .unwrap();
        let mut listed = stored.remove("default").unwrap();
        listed.sort();
        assert_eq!(
            listed,
            [
                ("a".into(), DAYS[1].1),
                ("b".into(), DAYS[1].1),
                ("c".into(), DAYS[1].1)
            ]
        );
        // Before its deletes, a run of day 3 publishes `c` again.
        let newer = one_group("c", 3);
        let item = topsellers_store::dynamo::encode_group(&newer, &newer.groups[0]).unwrap();
        client
            .put_item()
            .table_name("topsellers")
            .set_item(Some(item))
            .send()
            .await
            .unwrap();
        let leavers: Vec<Leaver> = ["b", "c"]
            .iter()
            .map(|c| Leaver {
                variant: "default".into(),
                category: (*c).into(),
                generation: DAYS[1].1,
            })
            .collect();
        let done = delete(&client, "topsellers", &leavers, DAYS[2].1, 4).await;
        assert_eq!(done.error, None);
        assert_eq!(done.kept, 1, "c: a newer run holds it");
        assert_eq!(done.gone, leavers[..1], "b is deleted");
    });
    let left = generations(&db);
    assert_eq!(left.get("default#c"), Some(&DAYS[3].1), "the newer c stays");
    assert!(!left.contains_key("default#b"));
    assert_eq!(left.get("default#a"), Some(&DAYS[1].1));
}

fn publish_mysql(server: &Mariadb, db: &str, redis: &Redis, csv: &Path) -> assert_cmd::Command {
    let mut cmd = topsellers();
    let (k, v) = password_env();
    cmd.env(k, v)
        .args([
            "publish",
            "--store",
            "mysql",
            "--create-table",
            "--mysql-url",
        ])
        .arg(server.url(db))
        .arg("--redis")
        .arg(redis.url())
        .arg("--results")
        .arg(csv);
    cmd
}

/// (variant#category → generation) of every stored MySQL row.
fn mysql_rows(server: &Mariadb, db: &str) -> BTreeMap<String, i64> {
    server
        .root_sql(&format!(
            "SELECT variant, category, generation FROM `{db}`.topsellers_groups"
        ))
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (format!("{}#{}", f[0], f[1]), f[2].parse().unwrap())
        })
        .collect()
}

#[test]
fn mysql_leavers_are_deleted_marked_in_redis_and_answered_404() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Mariadb::primary();
    server.create_db("leavers");
    let redis = Redis::start();
    publish_mysql(
        &server,
        "leavers",
        &redis,
        &results(tmp.path(), 1, &["a", "b", "c"]),
    )
    .assert()
    .success();
    let primary = server.url("leavers");
    let serve = |ttl: &str| {
        Serve::start(
            [password_env()],
            &[
                "--store",
                "mysql",
                "--mysql-url",
                &primary,
                "--redis",
                &redis.url(),
                "--local-ttl",
                ttl,
            ],
        )
    };
    let (fresh, cached) = (serve("0"), serve("1s"));
    assert_eq!(cached.get(&url("c")).status, 200, "c is cached locally");
    let live = mysql_rows(&server, "leavers");

    let day2 = results(tmp.path(), 2, &["a", "b"]);
    publish_mysql(&server, "leavers", &redis, &day2)
        .arg("--dry-run")
        .assert()
        .success()
        .stdout(contains("  removed: c\n").count(2));
    assert_eq!(
        mysql_rows(&server, "leavers"),
        live,
        "a dry run publishes nothing"
    );

    publish_mysql(&server, "leavers", &redis, &day2)
        .assert()
        .success()
        .stdout(contains(
            "variant fast: 1 categories left the results: 1 deleted",
        ));
    let want: BTreeMap<String, i64> = ["default#a", "default#b", "fast#a", "fast#b"]
        .iter()
        .map(|k| (k.to_string(), DAYS[2].1))
        .collect();
    assert_eq!(mysql_rows(&server, "leavers"), want);
    assert_tombstones(&redis, DAYS[2].1);
    assert_served(&fresh, &cached, Duration::from_secs(1));

    // A stale run deletes nothing.
    publish_mysql(&server, "leavers", &redis, &results(tmp.path(), 0, &["a"]))
        .assert()
        .success()
        .stdout(contains("stale"));
    assert_eq!(mysql_rows(&server, "leavers"), want);
}
