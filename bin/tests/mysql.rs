//! MySQL as the results store, against real MariaDB servers started by the
//! test (a primary with its binary log, a read-only replica): the
//! generation rule under racing publishers, bad URLs, passwords and
//! schemas, MariaDB killed mid-publish, `serve` failing over to the
//! standby under load and a publish to the promoted standby, a cold-cache
//! stampede counted in the server's `Com_select`, and `serve` answering
//! from Redis with MySQL down.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::io::Write;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

use common::http::{raise_open_files, request, send, url, Serve};
use common::mariadb::{password_env, Mariadb};
use common::services::Redis;
use common::topsellers;

const AS_OF: &str = "2026-10-15T00:00:00Z";
const GENERATION: i64 = 1_792_022_400_000;
const DAY_MS: i64 = 86_400_000;

/// The `as_of` of `generation` (whole days after [`AS_OF`]).
fn as_of(generation: i64) -> String {
    let day = (generation - GENERATION) / DAY_MS;
    let t = chrono::DateTime::parse_from_rfc3339(AS_OF).unwrap() + chrono::Duration::days(day);
    t.to_utc().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// A results CSV of the run at `generation`: variant `default`,
/// categories `c00000`…, `items` ranked items each whose ids and scores
/// depend on the generation (so that two runs differ in every row).
fn results(dir: &Path, categories: usize, items: usize, generation: i64) -> PathBuf {
    let path = dir.join(format!("results-{generation}-{categories}.csv"));
    let mut f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    writeln!(f, "variant,category,rank,item_id,score,window_s,as_of").unwrap();
    let shift = (generation - GENERATION) / DAY_MS;
    let as_of = as_of(generation);
    for c in 0..categories {
        for r in 0..items {
            let item = c as i64 * 1000 + r as i64 + shift;
            let score = 1000.0 / (r as f64 + 1.0) + shift as f64 * 0.25;
            writeln!(
                f,
                "default,c{c:05},{},{item},{score:?},2592000,{as_of}",
                r + 1
            )
            .unwrap();
        }
    }
    path
}

/// `topsellers publish --store mysql` to database `db` of `server`.
fn publish(server: &Mariadb, db: &str, results: &Path) -> assert_cmd::Command {
    let mut cmd = topsellers();
    let (k, v) = password_env();
    cmd.env(k, v)
        .args(["publish", "--store", "mysql", "--mysql-url"])
        .arg(server.url(db))
        .arg("--results")
        .arg(results);
    cmd
}

/// (category → generation) of every stored row, and the manifest's generation.
fn stored(server: &Mariadb, db: &str) -> (BTreeMap<String, i64>, Option<i64>) {
    let rows = server.root_sql(&format!(
        "SELECT category, generation FROM `{db}`.topsellers_groups WHERE variant = 'default'"
    ));
    let groups = rows
        .lines()
        .map(|l| {
            let (c, g) = l.split_once('\t').unwrap();
            (c.to_string(), g.parse().unwrap())
        })
        .collect();
    let manifest = server
        .root_sql(&format!(
            "SELECT generation FROM `{db}`.topsellers_manifests WHERE variant = 'default'"
        ))
        .parse()
        .ok();
    (groups, manifest)
}

/// Database `db` of `server` holding the run at [`GENERATION`] (created
/// by `publish --create-table`), warmed into a new Redis.
fn published(server: &Mariadb, db: &str, dir: &Path, categories: usize, items: usize) -> Redis {
    server.create_db(db);
    let redis = Redis::start();
    publish(server, db, &results(dir, categories, items, GENERATION))
        .args(["--create-table", "--redis"])
        .arg(redis.url())
        .assert()
        .success();
    redis
}

/// `topsellers publish --store mysql --concurrency C` of `results` to `db`,
/// spawned with its output piped.
fn spawn_publish(
    server: &Mariadb,
    db: &str,
    results: &Path,
    concurrency: u32,
) -> std::process::Child {
    let (k, v) = password_env();
    Command::new(assert_cmd::cargo::cargo_bin("topsellers"))
        .env(k, v)
        .args(["publish", "--store", "mysql", "--mysql-url"])
        .arg(server.url(db))
        .arg("--concurrency")
        .arg(concurrency.to_string())
        .arg("--results")
        .arg(results)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn the_generation_rule_holds_for_racing_publishers_reruns_and_older_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let db = Mariadb::primary();
    db.create_db("race");
    let first = results(tmp.path(), 1200, 10, GENERATION);
    let out = publish(&db, "race", &first)
        .arg("--create-table")
        .assert()
        .success();
    let text = stdout(out.get_output());
    assert!(text.contains("1200 new, 0 replaced"), "{text}");
    // The rows read back as published, score for score.
    let row = db.root_sql(
        "SELECT generation, as_of, window_s, items, scores FROM race.topsellers_groups \
         WHERE variant = 'default' AND category = 'c00007'",
    );
    assert_eq!(
        row,
        format!(
            "{GENERATION}\t{AS_OF}\t2592000\t[7000,7001,7002,7003,7004,7005,7006,7007,7008,7009]\t\
             [1000.0,500.0,333.3333333333333,250.0,200.0,166.66666666666666,142.85714285714286,125.0,111.11111111111111,100.0]"
        )
    );
    // A rerun is a no-op; the schema, now there, is checked, not recreated.
    let out = publish(&db, "race", &first)
        .arg("--create-table")
        .assert()
        .success();
    assert!(
        stdout(out.get_output()).starts_with("no-op:"),
        "{}",
        stdout(out.get_output())
    );

    // 20 rounds: a newer and an older run race on the same keys.
    let mut newest = GENERATION;
    for round in 1..=20i64 {
        let older = GENERATION + (2 * round - 1) * DAY_MS;
        let newer = older + DAY_MS;
        let files = [
            results(tmp.path(), 1200, 10, newer),
            results(tmp.path(), 1200, 10, older),
        ];
        let children: Vec<_> = files
            .iter()
            .map(|f| spawn_publish(&db, "race", f, 4))
            .collect();
        for c in children {
            let out = c.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "round {round}: {}{}",
                stdout(&out),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        newest = newer;
        let (groups, manifest) = stored(&db, "race");
        assert_eq!(groups.len(), 1200);
        let behind: Vec<_> = groups
            .iter()
            .filter(|(_, g)| **g != newer)
            .take(3)
            .collect();
        assert!(
            behind.is_empty(),
            "round {round}: keys behind {newer}: {behind:?}"
        );
        assert_eq!(manifest, Some(newer), "round {round}: the manifest");
    }
    // An older run, alone, changes nothing and says so.
    let old = results(tmp.path(), 1200, 10, GENERATION + DAY_MS);
    let out = publish(&db, "race", &old).assert().success();
    assert!(
        stdout(out.get_output()).starts_with("stale:"),
        "{}",
        stdout(out.get_output())
    );
    assert_eq!(stored(&db, "race").1, Some(newest));
}

#[test]
fn bad_urls_passwords_and_schemas_are_named() {
    let tmp = tempfile::tempdir().unwrap();
    let csv = results(tmp.path(), 3, 2, GENERATION);
    let db = Mariadb::primary();
    db.create_db("shop");
    let run = |args: &[&str], password: &str| {
        topsellers()
            .env("TOPSELLERS_MYSQL_PASSWORD", password)
            .args(["publish", "--results"])
            .arg(&csv)
            .args(args)
            .output()
            .unwrap()
    };
    let url = db.url("shop");
    let closed = format!(
        "mysql://topsellers@127.0.0.1:{}/shop",
        common::services::free_port()
    );
    let with_password = format!("mysql://topsellers:hunter2@127.0.0.1:{}/shop", db.port);
    for (args, code, why) in [
        (vec!["--store", "mysql"], 2, "--mysql-url is required"),
        (
            vec!["--store", "mysql", "--mysql-url", "http://x/y"],
            2,
            "a MySQL URL looks like",
        ),
        (
            vec!["--store", "mysql", "--mysql-url", "mysql://u@h:1"],
            2,
            "name the database",
        ),
        (
            vec!["--store", "mysql", "--mysql-url", &with_password],
            2,
            "holds a password",
        ),
        (
            vec!["--store", "mysql", "--table", "t", "--mysql-url", &url],
            2,
            "--table names a DynamoDB table",
        ),
        (
            vec!["--store", "oracle"],
            2,
            "use \"dynamodb\" or \"mysql\"",
        ),
        (
            vec!["--mysql-url", &url, "--table", "t"],
            2,
            "add --store mysql",
        ),
        (
            vec!["--store", "mysql", "--mysql-url", &closed],
            1,
            "connecting",
        ),
        (
            vec!["--store", "mysql", "--mysql-url", &url],
            1,
            "do not exist: pass --create-table",
        ),
    ] {
        let out = run(&args, common::mariadb::PASSWORD);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {err}");
        assert!(err.contains(why), "{args:?}: {err}");
        assert!(!err.contains("hunter2"), "{err}");
    }
    let out = run(
        &["--store", "mysql", "--mysql-url", &url, "--create-table"],
        "wrong",
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("Access denied for user 'topsellers'"), "{err}");
    let file = tmp.path().join("password");
    std::fs::write(&file, format!("{}\n", common::mariadb::PASSWORD)).unwrap();
    let out = run(
        &[
            "--store",
            "mysql",
            "--mysql-url",
            &url,
            "--create-table",
            "--mysql-password-file",
            file.to_str().unwrap(),
        ],
        "wrong",
    );
    assert!(
        out.status.success(),
        "the file's password is used: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    // A schema that is not publish's is named, and left as it is.
    db.create_db("other");
    db.root_sql(
        "CREATE TABLE other.topsellers_groups (variant VARCHAR(64) NOT NULL, category VARCHAR(512) NOT NULL, \
         generation BIGINT NOT NULL, as_of VARCHAR(40) NOT NULL, window_s BIGINT NOT NULL, \
         computed_at VARCHAR(40) NOT NULL, items INT NOT NULL, scores LONGTEXT NOT NULL, \
         PRIMARY KEY (variant, category));\
         CREATE TABLE other.topsellers_manifests (variant VARCHAR(64) PRIMARY KEY)",
    );
    let out = run(
        &[
            "--store",
            "mysql",
            "--mysql-url",
            &db.url("other"),
            "--create-table",
        ],
        common::mariadb::PASSWORD,
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("topsellers_groups.items is int, expected longtext"),
        "{err}"
    );
    assert_eq!(
        db.root_sql("SELECT DATA_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA='other' AND COLUMN_NAME='items' AND TABLE_NAME='topsellers_groups'"),
        "int"
    );
}

#[test]
fn mariadb_killed_mid_publish_leaves_the_last_manifest_and_a_rerun_completes() {
    let tmp = tempfile::tempdir().unwrap();
    let mut db = Mariadb::primary();
    db.create_db("crash");
    let before = results(tmp.path(), 4000, 50, GENERATION);
    publish(&db, "crash", &before)
        .arg("--create-table")
        .assert()
        .success();
    let next = GENERATION + DAY_MS;
    let after = results(tmp.path(), 4000, 50, next);
    let mut child = spawn_publish(&db, "crash", &after, 1);
    // Kill the server once part of the run is written.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let written: i64 = db
            .root_sql(&format!(
                "SELECT COUNT(*) FROM crash.topsellers_groups WHERE generation = {next}"
            ))
            .parse()
            .unwrap();
        if written > 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "publish wrote nothing within 120 s"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "publish ended before the kill"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    db.kill();
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("cannot publish generation"), "{err}");
    db.restart();
    let (groups, manifest) = stored(&db, "crash");
    assert_eq!(
        manifest,
        Some(GENERATION),
        "the manifest is the last complete run's"
    );
    let half = groups.values().filter(|g| **g == next).count();
    assert!(half > 0 && half < 4000, "{half} rows of the new run");
    // Every row is one run's, whole: its items are that run's.
    let mixed = db.root_sql(&format!(
        "SELECT COUNT(*) FROM crash.topsellers_groups WHERE \
         (generation = {next}) <> (items LIKE CONCAT('[', CAST(SUBSTRING(category, 2) AS UNSIGNED) * 1000 + 1, ',%'))"
    ));
    assert_eq!(mixed, "0");
    let out = publish(&db, "crash", &after).assert().success();
    let text = stdout(out.get_output());
    assert!(text.contains(&format!("{half} unchanged")), "{text}");
    let (groups, manifest) = stored(&db, "crash");
    assert!(groups.values().all(|g| *g == next));
    assert_eq!(manifest, Some(next));
}

/// Sends requests from `threads` threads until `stop`, recording every
/// status (`None`: the connection failed).
fn load(
    port: u16,
    threads: usize,
    categories: usize,
    stop: Arc<AtomicBool>,
) -> Vec<std::thread::JoinHandle<Vec<u16>>> {
    (0..threads)
        .map(|t| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut statuses = Vec::new();
                let mut i = t;
                while !stop.load(Ordering::Relaxed) {
                    let c = format!("c{:05}", i % categories);
                    statuses.push(request(port, &url(&c), &[]).status);
                    i += threads;
                }
                statuses
            })
        })
        .collect()
}

fn serve_mysql(primary: &str, standby: Option<&str>, redis: &Redis, extra: &[&str]) -> Serve {
    let mut args = vec!["--store", "mysql", "--mysql-url", primary, "--redis"];
    let redis = redis.url();
    args.push(&redis);
    if let Some(s) = standby {
        args.extend(["--mysql-standby-url", s]);
    }
    args.extend(extra);
    Serve::start([password_env()], &args)
}

fn flush(redis: &Redis) {
    let client = redis::Client::open(redis.url()).unwrap();
    let mut con = client.get_connection().unwrap();
    let _: () = redis::cmd("FLUSHALL").query(&mut con).unwrap();
}

#[test]
fn serve_fails_over_to_the_standby_under_load_and_publish_reruns_on_the_promoted_one() {
    let tmp = tempfile::tempdir().unwrap();
    let mut primary = Mariadb::primary();
    let mut standby = Mariadb::replica_of(&primary);
    let redis = published(&primary, "shop", tmp.path(), 200, 5);
    standby.catch_up(&primary);
    // The replica is read-only for the store's user.
    let (k, v) = password_env();
    let denied = topsellers()
        .env(k, v)
        .args(["publish", "--store", "mysql", "--mysql-url"])
        .arg(standby.url("shop"))
        .arg("--results")
        .arg(results(tmp.path(), 200, 5, GENERATION + DAY_MS))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&denied.stderr);
    assert_eq!(denied.status.code(), Some(1), "{err}");
    assert!(
        err.contains("read-only") || err.contains("read_only") || err.contains("--read-only"),
        "{err}"
    );

    let (p_url, s_url) = (primary.url("shop"), standby.url("shop"));
    let serve = serve_mysql(
        &p_url,
        Some(&s_url),
        &redis,
        &["--local-ttl", "200ms", "--mysql-timeout", "500ms"],
    );
    let ready = serve.get("/readyz");
    assert_eq!(ready.status, 200, "{}", ready.body);
    assert_eq!(
        ready.json()["mysql"]["using"],
        format!("primary 127.0.0.1:{}/shop", primary.port)
    );

    let stop = Arc::new(AtomicBool::new(false));
    let workers = load(serve.port, 8, 200, stop.clone());
    std::thread::sleep(Duration::from_millis(500));
    primary.kill();
    std::thread::sleep(Duration::from_millis(300));
    // A cold Redis: reads now go through to MySQL, whose primary is gone.
    flush(&redis);
    std::thread::sleep(Duration::from_millis(1500));
    flush(&redis);
    std::thread::sleep(Duration::from_millis(1000));
    stop.store(true, Ordering::Relaxed);
    let statuses: Vec<u16> = workers
        .into_iter()
        .flat_map(|w| w.join().unwrap())
        .collect();
    let bad: Vec<_> = statuses.iter().filter(|s| **s != 200).collect();
    assert!(
        bad.is_empty(),
        "{} of {} requests failed: {:?}\n{}",
        bad.len(),
        statuses.len(),
        &bad[..bad.len().min(5)],
        serve.log()
    );
    assert!(statuses.len() > 100, "{} requests", statuses.len());
    assert!(
        serve.metric("topsellers_serve_dynamodb_reads_total") >= 200.0,
        "reads went through to MySQL"
    );
    assert!(
        serve.log().contains("reading from the MySQL standby"),
        "{}",
        serve.log()
    );
    let ready = serve.get("/readyz");
    assert_eq!(ready.status, 200, "{}", ready.body);
    let using = ready.json()["mysql"]["using"].as_str().unwrap().to_string();
    assert!(
        using.starts_with(&format!("standby 127.0.0.1:{}/shop", standby.port)),
        "{using}"
    );

    // Promote the standby as the README shows, and publish the next run to it.
    standby.promote();
    let next = GENERATION + DAY_MS;
    let out = publish(&standby, "shop", &results(tmp.path(), 200, 5, next))
        .arg("--redis")
        .arg(redis.url())
        .assert()
        .success();
    assert!(
        stdout(out.get_output()).contains("200 replaced"),
        "{}",
        stdout(out.get_output())
    );
    assert_eq!(
        stored(&standby, "shop"),
        (
            (0..200).map(|c| (format!("c{c:05}"), next)).collect(),
            Some(next)
        )
    );
    std::thread::sleep(Duration::from_millis(300));
    let r = serve.get(&url("c00042"));
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["as_of"], as_of(next), "{}", r.body);
    // Flushed again, the key is read from the standby, now the writable one.
    flush(&redis);
    std::thread::sleep(Duration::from_millis(300));
    let r = serve.get(&url("c00043"));
    assert_eq!(
        (r.status, r.json()["as_of"].clone()),
        (200, as_of(next).into()),
        "{}",
        r.body
    );
}

#[test]
fn a_cold_cache_stampede_makes_one_mysql_query_per_key() {
    raise_open_files(8192);
    let tmp = tempfile::tempdir().unwrap();
    let db = Mariadb::primary();
    let redis = published(&db, "cold", tmp.path(), 1001, 10);
    // Redis flushed, serve (re)started: every layer is cold.
    flush(&redis);
    let serve = serve_mysql(&db.url("cold"), None, &redis, &["--mysql-timeout", "10s"]);
    let before = db.status("Com_select");
    assert_eq!(
        db.status("Com_select"),
        before,
        "reading the counter is no select"
    );

    // 1,000 threads: each opens a connection for one of 1,000 categories
    // and five for the one hot category, then all send at once.
    let n = 1000;
    let barrier = Arc::new(Barrier::new(n));
    let port = serve.port;
    let failures = Arc::new(Mutex::new(Vec::new()));
    let threads: Vec<_> = (0..n)
        .map(|i| {
            let (barrier, failures) = (barrier.clone(), failures.clone());
            std::thread::spawn(move || {
                let targets: Vec<String> = std::iter::once(url(&format!("c{i:05}")))
                    .chain(std::iter::repeat_n(url("c01000"), 5))
                    .collect();
                let mut conns: Vec<TcpStream> = targets
                    .iter()
                    .map(|_| {
                        let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
                        s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
                        s
                    })
                    .collect();
                barrier.wait();
                for (s, t) in conns.iter_mut().zip(&targets) {
                    let r = send(s, t, &[]);
                    if r.status != 200 {
                        failures.lock().unwrap().push((t.clone(), r.status));
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert!(
        failures.lock().unwrap().is_empty(),
        "{:?}",
        failures.lock().unwrap()
    );
    let queries = db.status("Com_select") - before;
    assert_eq!(queries, 1001, "SELECTs MariaDB received for 1,001 keys");
    assert_eq!(
        serve.metric("topsellers_serve_dynamodb_reads_total"),
        1001.0
    );
    // The variant page's catalog comes from MySQL too: the one published
    // variant, and every category with the window it was published with.
    let catalog = serve.get("/v1/catalog").json();
    let variants: Vec<&str> = catalog["variants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["variant"].as_str().unwrap())
        .collect();
    assert_eq!(variants, ["default"], "{catalog}");
    let categories = catalog["categories"].as_array().unwrap();
    assert_eq!(categories.len(), 1001);
    assert_eq!(categories[0]["category"], "c00000");
    assert_eq!(categories[0]["windows"]["default"], 2_592_000);
}

#[test]
fn serve_answers_from_redis_with_mysql_down() {
    let tmp = tempfile::tempdir().unwrap();
    let mut db = Mariadb::primary();
    let redis = published(&db, "shop", tmp.path(), 20, 5);
    db.kill();
    let serve = serve_mysql(&db.url("shop"), None, &redis, &["--mysql-timeout", "300ms"]);
    for c in 0..20 {
        let r = serve.get(&url(&format!("c{c:05}")));
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.json()["as_of"], AS_OF);
    }
    let ready = serve.get("/readyz");
    assert_eq!(ready.status, 503, "{}", ready.body);
    assert_eq!(ready.json()["mysql"]["ok"], false, "{}", ready.body);
    assert_eq!(ready.json()["redis"]["ok"], true, "{}", ready.body);
    // A key no cache holds cannot be answered: 503, not 404.
    assert_eq!(serve.get(&url("nope")).status, 503);
}

#[test]
fn run_dry_runs_and_incremental_cycles_read_mysql() {
    let tmp = tempfile::tempdir().unwrap();
    let db = Mariadb::primary();
    db.create_db("jobs");
    let lake = tmp.path().join("lake");
    topsellers()
        .args(["gen", "--categories", "6", "--purchases", "50k", "--out"])
        .arg(&lake)
        .assert()
        .success();
    let run = |as_of: &str, extra: &[&str]| {
        let (k, v) = password_env();
        let out = topsellers()
            .env(k, v)
            .env("TOPSELLERS_STORE", "mysql")
            .env("TOPSELLERS_MYSQL_URL", db.url("jobs"))
            .args(["run", "--as-of", as_of, "--lake"])
            .arg(&lake)
            .arg("--out")
            .arg(tmp.path().join("results.csv"))
            .args(extra)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout(&out)
    };
    let dry = run("2026-10-14T00:00:00Z", &["--dry-run"]);
    assert!(dry.contains("nothing live yet: 6 added"), "{dry}");
    let done = run("2026-10-14T00:00:00Z", &["--create-table"]);
    assert!(done.contains("6 new, 0 replaced"), "{done}");
    let dry = run("2026-10-15T00:00:00Z", &["--dry-run"]);
    assert!(
        dry.contains(
            "live as_of 2026-10-14T00:00:00Z (generation 1791936000000): 0 added, 0 removed"
        ),
        "{dry}"
    );
    // An incremental cycle compares with what MySQL holds: its first
    // (full) cycle publishes only the categories whose top changed.
    let cycle = run("2026-10-15T00:00:00Z", &["--incremental"]);
    assert!(cycle.contains("(generation 1792022400000)"), "{cycle}");
    assert_eq!(stored(&db, "jobs").1, Some(1_792_022_400_000));
}
