//! `run --incremental` end to end, as in production: a lake in S3
//! (moto_server), new purchases appended with `ingest --lake s3://…`, cycles
//! that sync only the new files, verify against a full recompute, publish
//! only the categories whose top changed to DynamoDB Local and warm Redis;
//! a damaged state is rebuilt and the log says why.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::PathBuf;

use common::services::{dynamo_client, dynamo_env, s3_env, upload_dir, DynamoLocal, Moto, Redis};
use common::store::{assert_item, generation, n, table_items};
use common::{assert_same_results, read_csv, topsellers, walk};

const TREND: &str = "987654321";

struct Setup {
    tmp: tempfile::TempDir,
    db: DynamoLocal,
    redis: Redis,
    moto: Moto,
    config: PathBuf,
}

impl Setup {
    fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let lake = tmp.path().join("generated");
        topsellers()
            .args([
                "gen",
                "--purchases",
                "60k",
                "--categories",
                "12",
                "--days",
                "40",
            ])
            .args(["--seed", "9", "--layout", "category/dt", "--out"])
            .arg(&lake)
            .assert()
            .success();
        let (db, redis, moto) = (DynamoLocal::start(), Redis::start(), Moto::start());
        upload_dir(&moto.url(), &lake, "shop", "purchases");
        let config = tmp.path().join("topsellers.toml");
        std::fs::write(
            &config,
            format!(
                r#"lake = "s3://shop/purchases/"
cache_dir = "{dir}/cache"
variants = ["default=7d", "fast=1d"]
out = "{dir}/state/results.csv"
report = "{dir}/state/report.json"
lock_file = "{dir}/state/run.lock"
table = "topsellers"
create_table = true
redis = "{redis}"
incremental = true
verify = true
"#,
                dir = tmp.path().display(),
                redis = redis.url(),
            ),
        )
        .unwrap();
        Self {
            tmp,
            db,
            redis,
            moto,
            config,
        }
    }

    fn cmd(&self, args: &[&str]) -> assert_cmd::Command {
        let mut cmd = topsellers();
        cmd.envs(s3_env(&self.moto.url()))
            .envs(dynamo_env(&self.db.url()))
            .env("AWS_ENDPOINT_URL_DYNAMODB", self.db.url())
            .env_remove("TOPSELLERS_LOG_FORMAT")
            .args(args);
        cmd
    }

    fn run(&self, as_of: &str) -> serde_json::Value {
        self.cmd(&["run", "--as-of", as_of, "--config"])
            .arg(&self.config)
            .assert()
            .success();
        serde_json::from_slice(&std::fs::read(self.path("state/report.json")).unwrap()).unwrap()
    }

    fn path(&self, p: &str) -> PathBuf {
        self.tmp.path().join(p)
    }
}

#[test]
fn new_purchases_reach_the_site_within_one_cycle() {
    let s = Setup::new();
    // 1. The first cycle has no state: a full rebuild, everything published.
    let first = s.run("2026-10-15T00:00:00Z");
    assert_eq!(first["incremental"]["mode"], "rebuild");
    assert_eq!(
        first["incremental"]["rebuild_reason"],
        "there is no state yet"
    );
    let results = read_csv(&s.path("state/results.csv"));
    assert_eq!(first["publish"]["items_written"], results.len() as u64);
    // The category whose best seller is weakest: 300 fresh purchases top it.
    let category = results
        .iter()
        .filter(|((v, _), _)| v == "default")
        .min_by(|a, b| a.1 .2[0].score.total_cmp(&b.1 .2[0].score))
        .map(|((_, c), _)| c.clone())
        .unwrap();

    // 2. A trend lands in S3 through ingest.
    let events = s.path("events.ndjson");
    let lines: String = (0..300)
        .map(|i| {
            format!(
                "{{\"item_id\":{TREND},\"category\":\"{category}\",\"ts\":\"2026-10-15T00:{:02}:00Z\"}}\n",
                i % 60
            )
        })
        .collect();
    std::fs::write(&events, lines).unwrap();
    s.cmd(&["ingest", "--lake", "s3://shop/purchases/"])
        .arg(&events)
        .assert()
        .success();

    // 3. One incremental cycle: only the new file is synced and read, the
    //    trend tops its category on the site, and --verify agreed.
    let second = s.run("2026-10-15T01:00:00Z");
    let inc = &second["incremental"];
    assert_eq!(inc["mode"], "incremental", "{inc}");
    assert_eq!(inc["files_new"], 1, "{inc}");
    assert_eq!(inc["purchases_added"], 300, "{inc}");
    assert!(inc["verify_s"].as_f64().is_some(), "{inc}");
    assert_eq!(second["sync"]["new"].as_array().unwrap().len(), 1);
    // Only the last two days of partitions were listed, and nothing deleted.
    let (listed, all) = (
        second["sync"]["listed"].as_u64().unwrap(),
        first["sync"]["listed"].as_u64().unwrap(),
    );
    assert!(listed * 10 < all, "listed {listed} of {all}");
    assert!(second["sync"]["deleted"].as_array().unwrap().is_empty());
    let results = read_csv(&s.path("state/results.csv"));
    let top = &results[&("default".to_string(), category.clone())].2[0];
    assert_eq!(top.item, TREND);
    let stored = table_items(&s.db.url(), "topsellers");
    let key = format!("default#{category}");
    assert_item(
        &key,
        &stored[&key],
        &results[&("default".to_string(), category.clone())],
    );
    let body = &s.redis.dump()[&format!("topsellers:v1:default:{category}")];
    assert!(
        body.contains(&format!("\"items\":[{{\"rank\":1,\"item_id\":{TREND},")),
        "{body}"
    );
    // Only what changed was written; the manifest still counts every category.
    let written = second["publish"]["items_written"].as_u64().unwrap();
    assert!(written >= 2 && written < results.len() as u64, "{written}");
    // The groups the cycle did not rewrite are not leavers: all stay stored.
    for (variant, category) in results.keys() {
        assert!(
            stored.contains_key(&format!("{variant}#{category}")),
            "{variant}#{category}"
        );
    }
    for v in second["publish"]["variants"].as_array().unwrap() {
        assert_eq!(v["leavers_deleted"], 0, "{v}");
    }
    let manifest = &stored["#manifest#default"];
    assert_eq!(n(&manifest["categories"]), (results.len() / 2).to_string());
    assert_eq!(
        n(&manifest["generation"]),
        generation("2026-10-15T01:00:00Z").to_string()
    );

    // The same as_of computed in full from the synced lake agrees.
    let full = s.path("full.csv");
    let synced = std::fs::read_dir(s.path("cache"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.is_dir())
        .unwrap();
    s.cmd(&["compute", "--lake"])
        .arg(&synced)
        .args([
            "--as-of",
            "2026-10-15T01:00:00Z",
            "--variant",
            "default=7d",
            "--variant",
            "fast=1d",
            "--out",
        ])
        .arg(&full)
        .assert()
        .success();
    assert_same_results(&results, &read_csv(&full), 1e-9);

    // A cycle that finds another run holding the lock is skipped, exit 0,
    // nothing changed.
    let lock = s.path("state/run.lock");
    // In its own process group: the lock is held by `sleep`, which must go too.
    let mut holder = std::process::Command::new("flock");
    std::os::unix::process::CommandExt::process_group(&mut holder, 0);
    let mut holder = holder
        .arg(&lock)
        .args(["sleep", "60"])
        .spawn()
        .expect("flock (util-linux) runs");
    let held = std::time::Instant::now();
    while std::process::Command::new("flock")
        .args(["-n"])
        .arg(&lock)
        .arg("true")
        .status()
        .unwrap()
        .success()
    {
        assert!(held.elapsed().as_secs() < 10, "flock never took the lock");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let before = std::fs::read(s.path("state/results.csv")).unwrap();
    s.cmd(&["run", "--as-of", "2026-10-15T01:10:00Z", "--config"])
        .arg(&s.config)
        .assert()
        .success()
        .stdout(predicates::str::contains("skipped"));
    std::process::Command::new("kill")
        .args(["-TERM", "--", &format!("-{}", holder.id())])
        .status()
        .unwrap();
    holder.wait().unwrap();
    assert_eq!(std::fs::read(s.path("state/results.csv")).unwrap(), before);

    // 4. A damaged state is rebuilt, and the report says why.
    let state = walk(&s.path("cache"))
        .into_iter()
        .chain(walk(s.tmp.path()))
        .find(|p| p.to_string_lossy().ends_with(".topsellers-state"))
        .expect("the state file is next to the local lake");
    let mut bytes = std::fs::read(&state).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(&state, bytes).unwrap();
    let third = s.run("2026-10-15T02:00:00Z");
    assert_eq!(third["incremental"]["mode"], "rebuild");
    let reason = third["incremental"]["rebuild_reason"].as_str().unwrap();
    assert!(reason.contains("checksum mismatch"), "{reason}");

    // 5. An older as_of is refused without touching the state or the table.
    s.cmd(&["run", "--as-of", "2026-10-15T01:30:00Z", "--config"])
        .arg(&s.config)
        .assert()
        .failure();
    assert_eq!(
        n(&table_items(&s.db.url(), "topsellers")["#manifest#default"]["generation"]),
        generation("2026-10-15T02:00:00Z").to_string()
    );
}

/// Overwrites the stored item `key` with its ranking reversed, at
/// `generation`: a write the incremental state never saw.
fn reverse_behind_the_state(endpoint: &str, key: &str, generation: i64) {
    use aws_sdk_dynamodb::types::AttributeValue;
    let mut item = table_items(endpoint, "topsellers").remove(key).unwrap();
    for list in ["items", "scores"] {
        if let Some(AttributeValue::L(values)) = item.get_mut(list) {
            values.reverse();
        }
    }
    item.insert(
        "generation".into(),
        AttributeValue::N(generation.to_string()),
    );
    let client = dynamo_client(endpoint);
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(
            client
                .put_item()
                .table_name("topsellers")
                .set_item(Some(item))
                .send(),
        )
        .unwrap();
}

#[test]
fn a_cycle_publishes_what_the_store_does_not_hold() {
    let tmp = tempfile::tempdir().unwrap();
    let lake = tmp.path().join("lake");
    topsellers()
        .args([
            "gen",
            "--purchases",
            "20k",
            "--categories",
            "4",
            "--days",
            "20",
        ])
        .args(["--seed", "3", "--layout", "category/dt", "--out"])
        .arg(&lake)
        .assert()
        .success();
    let db = DynamoLocal::start();
    let config = tmp.path().join("topsellers.toml");
    std::fs::write(
        &config,
        format!(
            r#"lake = "{dir}/lake"
variants = ["default=7d"]
out = "{dir}/state/results.csv"
lock_file = "{dir}/state/run.lock"
table = "topsellers"
create_table = true
incremental = true
"#,
            dir = tmp.path().display(),
        ),
    )
    .unwrap();
    let run = |as_of: &str| {
        topsellers()
            .envs(dynamo_env(&db.url()))
            .args(["run", "--as-of", as_of, "--config"])
            .arg(&config)
            .assert()
            .success();
        read_csv(&tmp.path().join("state/results.csv"))
    };
    // A is published, then B is written behind the state's back (a full
    // run, or a publish whose state was never saved), then the cycle
    // computes A again: the store holds B, so A must be written.
    let first = run("2026-10-15T00:00:00Z");
    let (group, want) = first.iter().find(|(_, g)| g.2.len() > 1).unwrap();
    let key = format!("{}#{}", group.0, group.1);
    reverse_behind_the_state(&db.url(), &key, generation("2026-10-15T00:00:30Z"));
    let second = run("2026-10-15T00:01:00Z");
    let now = &second[group];
    let ids = |g: &(String, String, Vec<common::Row>)| -> Vec<String> {
        g.2.iter().map(|r| r.item.clone()).collect()
    };
    assert_eq!(ids(now), ids(want), "the cycle computes A again");
    assert_item(&key, &table_items(&db.url(), "topsellers")[&key], now);
}
