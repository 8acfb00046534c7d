//! Two hosts, one truth: the store's run lease against DynamoDB Local and
//! MariaDB. A second host is refused while the lease is held; an expired
//! lease is taken over with a higher token; a host whose lease another
//! took is fenced at the commit point (the manifest) and before writing;
//! and two `run` processes racing round after round always leave every
//! item and every manifest at the newest generation.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use common::mariadb::Mariadb;
use common::services::{dynamo_client, dynamo_env, DynamoLocal};
use common::store::{generation, n, table_items};
use common::topsellers;
use topsellers_lake::{read_results, ResultSet};
use topsellers_store::dynamo::LEASE_KEY;
use topsellers_store::{DynamoStore, ResultStore, StoreError};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// A results set of `categories` categories of one variant at `as_of`.
fn results(dir: &Path, as_of: &str, categories: usize) -> ResultSet {
    let path = dir.join(format!("results-{}.csv", generation(as_of)));
    let mut csv = String::from("variant,category,rank,item_id,score,window_s,as_of\n");
    for c in 0..categories {
        for rank in 1..=3 {
            csv += &format!(
                "default,c{c:03},{rank},{},{}.5,604800,{as_of}\n",
                c * 10 + rank,
                10 - rank
            );
        }
    }
    std::fs::write(&path, csv).unwrap();
    read_results(&path).unwrap()
}

/// Takes the lease of `table` away from whoever holds it, as another host
/// would once it expired: owner `host`, token one more.
fn steal(endpoint: &str, table: &str, host: &str) {
    let client = dynamo_client(endpoint);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        client
            .update_item()
            .table_name(table)
            .key("pk", AttributeValue::S(LEASE_KEY.into()))
            .update_expression("SET #o = :h, #t = #t + :one, #e = :e")
            .expression_attribute_names("#o", "owner")
            .expression_attribute_names("#t", "token")
            .expression_attribute_names("#e", "expires_at")
            .expression_attribute_values(":h", AttributeValue::S(host.into()))
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .expression_attribute_values(":e", AttributeValue::N(i64::MAX.to_string()))
            .send()
            .await
            .unwrap();
    });
}

fn fenced_by(e: &StoreError) -> (String, i64) {
    match e {
        StoreError::Fenced { owner, token, .. } => (owner.clone(), *token),
        other => panic!("expected a fenced error, got {other}"),
    }
}

#[test]
fn the_dynamodb_lease_refuses_a_second_host_takes_over_an_expired_one_and_fences_the_old_holder() {
    let tmp = tempfile::tempdir().unwrap();
    let db = DynamoLocal::start();
    // The only test of this file that builds a store in-process: the
    // environment is the SDK's way to the endpoint.
    for (k, v) in dynamo_env(&db.url()) {
        std::env::set_var(k, v);
    }
    let rt = runtime();
    let long = Duration::from_secs(30);
    let store = |create| rt.block_on(DynamoStore::for_jobs("lease", create, 4));
    let (a, b) = (store(true), store(false));

    // Held: a second host waits, then is refused, naming the holder.
    let first = rt
        .block_on(a.acquire_lease("host-a", long, Duration::ZERO))
        .unwrap();
    assert_eq!((first.owner.as_str(), first.token), ("host-a", 1));
    let err = rt
        .block_on(b.acquire_lease("host-b", long, Duration::from_millis(600)))
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::LeaseHeld { owner, token: 1, .. } if owner == "host-a"),
        "{err}"
    );
    assert!(err.to_string().contains("\"host-a\" (token 1)"), "{err}");

    // Released: taken at once, the token counts on.
    rt.block_on(a.release_lease()).unwrap();
    let second = rt
        .block_on(b.acquire_lease("host-b", long, Duration::ZERO))
        .unwrap();
    assert_eq!((second.owner.as_str(), second.token), ("host-b", 2));
    rt.block_on(b.release_lease()).unwrap();

    // Expired: a holder that stopped renewing (its process died) loses the
    // lease to the next host once its TTL and the clock margin are over.
    let short = Duration::from_secs(1);
    let dead = store(false);
    let third = rt
        .block_on(dead.acquire_lease("host-a", short, Duration::ZERO))
        .unwrap();
    assert_eq!(third.token, 3);
    drop(dead);
    let fourth = rt
        .block_on(b.acquire_lease("host-b", long, Duration::from_secs(20)))
        .unwrap();
    assert_eq!((fourth.owner.as_str(), fourth.token), ("host-b", 4));
    rt.block_on(b.release_lease()).unwrap();

    // Renewed: a live holder keeps its lease past its TTL.
    let live = rt
        .block_on(a.acquire_lease("host-a", short, Duration::ZERO))
        .unwrap();
    std::thread::sleep(Duration::from_secs(4));
    let err = rt
        .block_on(b.acquire_lease("host-b", long, Duration::ZERO))
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::LeaseHeld { token, .. } if *token == live.token),
        "{err}"
    );

    // Fenced at the commit point: the lease changes hands after the check
    // before writing (here, as the first item is settled), so the items
    // are written but the manifest is refused.
    let set = results(tmp.path(), "2026-10-15T00:00:00Z", 30);
    let stolen = AtomicBool::new(false);
    let url = db.url();
    let progress = |settled: u64| {
        // The first call (0 items unchanged) comes before the check; the
        // next ones after each put.
        if settled > 0 && !stolen.swap(true, Ordering::SeqCst) {
            std::thread::scope(|s| {
                s.spawn(|| steal(&url, "lease", "host-b"));
            });
        }
    };
    let err = rt.block_on(a.publish(&set, None, &progress)).unwrap_err();
    assert_eq!(
        fenced_by(&err),
        ("host-b".to_string(), live.token + 1),
        "{err}"
    );
    assert!(err.to_string().contains("fenced"), "{err}");
    let stored = table_items(&db.url(), "lease");
    assert!(
        !stored.contains_key("#manifest#default"),
        "a fenced run's manifest never lands"
    );

    // Fenced before writing: a later publish by the old holder writes
    // nothing at all.
    let newer = results(tmp.path(), "2026-10-16T00:00:00Z", 30);
    let err = rt.block_on(a.publish(&newer, None, &|_| {})).unwrap_err();
    assert_eq!(fenced_by(&err).1, live.token + 1, "{err}");
    assert_eq!(table_items(&db.url(), "lease"), stored, "nothing written");
    rt.block_on(a.release_lease()).unwrap();
}

/// The lake both hosts read.
fn lake(dir: &Path) -> PathBuf {
    let lake = dir.join("lake");
    topsellers()
        .args([
            "gen",
            "--purchases",
            "4k",
            "--categories",
            "12",
            "--days",
            "45",
        ])
        .args(["--seed", "15", "--layout", "category/dt", "--out"])
        .arg(&lake)
        .assert()
        .success();
    lake
}

/// One host's `run`, on its own lock and output, at `as_of`.
fn host_run(
    dir: &Path,
    lake: &Path,
    host: &str,
    as_of: &str,
    store: &[&str],
) -> std::process::Command {
    let state = dir.join(host);
    let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("topsellers"));
    cmd.env_remove("RUST_LOG")
        .env("TOPSELLERS_MAX_CATEGORY_DROP", "1")
        .env("TOPSELLERS_MAX_COUNTED_DROP", "1")
        .args(["run", "--lake"])
        .arg(lake)
        .args(["--as-of", as_of, "--host-id", host, "--lease-ttl", "20s"])
        .arg("--out")
        .arg(state.join("results.csv"))
        .arg("--lock-file")
        .arg(state.join("run.lock"))
        .args(store)
        .args(["--create-table"]);
    cmd.env("TOPSELLERS_VARIANTS", "default=7d,fast=2d")
        .env("TOPSELLERS_CACHE_DIR", state.join("cache"));
    cmd
}

/// Runs both hosts at once; each must succeed, or be refused as older
/// than the run the other just published (exit 1, nothing written).
fn race(a: &mut std::process::Command, b: &mut std::process::Command, round: usize) {
    let (ca, cb) = (a.output_spawn(), b.output_spawn());
    for (host, out) in [
        ("a", ca.wait_with_output().unwrap()),
        ("b", cb.wait_with_output().unwrap()),
    ] {
        let err = String::from_utf8_lossy(&out.stderr);
        let refused_older =
            out.status.code() == Some(1) && err.contains("is older than the live run");
        assert!(
            out.status.success() || refused_older,
            "round {round}, host {host}: {:?}\n{err}",
            out.status
        );
    }
}

trait Spawn {
    fn output_spawn(&mut self) -> std::process::Child;
}

impl Spawn for std::process::Command {
    fn output_spawn(&mut self) -> std::process::Child {
        self.stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    }
}

/// The as_of of round `round` for each host: a day apart from the previous
/// round, one hour apart between the hosts, the newer one alternating.
fn as_ofs(round: usize) -> (String, String) {
    let base = chrono::DateTime::parse_from_rfc3339("2026-09-10T00:00:00Z").unwrap();
    let at = |h: i64| {
        (base + chrono::Duration::hours(h))
            .format("%Y-%m-%dT%H:%M:%SZ")
            .to_string()
    };
    let day = 24 * i64::try_from(round).unwrap();
    if round.is_multiple_of(2) {
        (at(day), at(day + 1))
    } else {
        (at(day + 1), at(day))
    }
}

#[test]
fn two_hosts_racing_thirty_rounds_on_dynamodb_leave_everything_at_the_newest_generation() {
    let tmp = tempfile::tempdir().unwrap();
    let lake = lake(tmp.path());
    let db = DynamoLocal::start();
    let store = ["--table", "race"];
    for round in 0..30 {
        let (a_as_of, b_as_of) = as_ofs(round);
        let newest = generation(&a_as_of).max(generation(&b_as_of));
        let mut a = host_run(tmp.path(), &lake, "host-a", &a_as_of, &store);
        let mut b = host_run(tmp.path(), &lake, "host-b", &b_as_of, &store);
        a.envs(dynamo_env(&db.url()));
        b.envs(dynamo_env(&db.url()));
        race(&mut a, &mut b, round);
        let items = table_items(&db.url(), "race");
        let mut generations: BTreeMap<String, Vec<i64>> = BTreeMap::new();
        for (key, item) in &items {
            let g: i64 = n(&item["generation"]).parse().unwrap();
            let variant = key
                .trim_start_matches("#manifest#")
                .split('#')
                .next()
                .unwrap();
            generations.entry(variant.to_string()).or_default().push(g);
        }
        assert_eq!(generations.len(), 2, "round {round}: two variants");
        for (variant, gs) in &generations {
            assert!(
                gs.iter().all(|&g| g == newest),
                "round {round}: variant {variant} mixes generations or is not the newest ({newest}): {gs:?}"
            );
        }
        let manifests = items.keys().filter(|k| k.starts_with("#manifest#")).count();
        assert_eq!(manifests, 2, "round {round}: both manifests");
    }
    // Every run went through the lease: one acquisition each.
    let lease = lease_item(&db.url(), "race");
    assert_eq!(n(&lease["token"]), "60", "{lease:?}");
}

/// The lease item of `table`.
fn lease_item(endpoint: &str, table: &str) -> common::store::Item {
    let client = dynamo_client(endpoint);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(
        client
            .get_item()
            .table_name(table)
            .key("pk", AttributeValue::S(LEASE_KEY.into()))
            .consistent_read(true)
            .send(),
    )
    .unwrap()
    .item
    .unwrap()
}

#[test]
fn two_hosts_racing_on_mysql_leave_everything_at_the_newest_generation() {
    let tmp = tempfile::tempdir().unwrap();
    let lake = lake(tmp.path());
    let db = Mariadb::primary();
    db.create_db("race");
    let url = db.url("race");
    let store = ["--store", "mysql", "--mysql-url", url.as_str()];
    let (key, password) = common::mariadb::password_env();
    for round in 0..10 {
        let (a_as_of, b_as_of) = as_ofs(round);
        let newest = generation(&a_as_of).max(generation(&b_as_of));
        let mut a = host_run(tmp.path(), &lake, "host-a", &a_as_of, &store);
        let mut b = host_run(tmp.path(), &lake, "host-b", &b_as_of, &store);
        a.env(key, password);
        b.env(key, password);
        race(&mut a, &mut b, round);
        let rows = db.root_sql(
            "SELECT CONCAT(variant, ':', MIN(generation), ':', MAX(generation)) FROM race.topsellers_groups GROUP BY variant \
             UNION ALL SELECT CONCAT('manifest ', variant, ':', generation, ':', generation) FROM race.topsellers_manifests",
        );
        let lines: Vec<&str> = rows.lines().collect();
        assert_eq!(
            lines.len(),
            4,
            "round {round}: two variants, two manifests: {rows}"
        );
        for line in lines {
            let want = format!(":{newest}:{newest}");
            assert!(
                line.ends_with(&want),
                "round {round}: {line} is not all at {newest}"
            );
        }
    }
    let lease = db.root_sql("SELECT CONCAT(owner, ' ', token) FROM race.topsellers_lease");
    assert!(lease.ends_with(" 20"), "one acquisition per run: {lease}");

    // The lease itself, through the store: held, then fenced before
    // writing and at the commit point (the manifest's transaction).
    let rt = runtime();
    let mut opts = topsellers_mysql::MysqlOptions::new(&url);
    opts.password = Some(password.to_string());
    let (a, b) = (
        topsellers_mysql::MysqlStore::for_jobs(&opts).unwrap(),
        topsellers_mysql::MysqlStore::for_jobs(&opts).unwrap(),
    );
    let long = Duration::from_secs(30);
    let held = rt
        .block_on(a.acquire_lease("host-a", long, Duration::ZERO))
        .unwrap();
    assert_eq!(held.token, 21);
    let err = rt
        .block_on(b.acquire_lease("host-b", long, Duration::from_millis(300)))
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::LeaseHeld { token: 21, .. }),
        "{err}"
    );
    let steal = || {
        db.root_sql("UPDATE race.topsellers_lease SET owner = 'host-b', token = token + 1");
    };
    let set = results(tmp.path(), "2026-12-01T00:00:00Z", 30);
    let stolen = AtomicBool::new(false);
    let progress = |settled: u64| {
        if settled > 0 && !stolen.swap(true, Ordering::SeqCst) {
            steal();
        }
    };
    let err = rt.block_on(a.publish(&set, None, &progress)).unwrap_err();
    assert_eq!(fenced_by(&err), ("host-b".to_string(), 22), "{err}");
    let live =
        db.root_sql("SELECT generation FROM race.topsellers_manifests WHERE variant = 'default'");
    assert!(
        live.parse::<i64>().unwrap() < set.generation(),
        "the fenced manifest never lands"
    );
    let newer = results(tmp.path(), "2026-12-02T00:00:00Z", 30);
    let err = rt.block_on(a.publish(&newer, None, &|_| {})).unwrap_err();
    assert_eq!(fenced_by(&err).1, 22, "{err}");
    assert_eq!(
        db.root_sql(&format!(
            "SELECT COUNT(*) FROM race.topsellers_groups WHERE generation = {}",
            newer.generation()
        )),
        "0",
        "a fenced run writes nothing"
    );
    rt.block_on(a.release_lease()).unwrap();
    rt.block_on(a.disconnect());
    rt.block_on(b.disconnect());
}
