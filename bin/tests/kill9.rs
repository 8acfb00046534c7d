//! Kill -9 anywhere: each of `ingest` (local lake and `s3://`), `sync`,
//! `publish` and `run --incremental` is started as the real binary and
//! SIGKILLed after a random delay, again and again on the same target (the
//! kills are cumulative), then run to completion; the final state is then
//! compared with an uninterrupted run's, and no temporary file may be left.
//!
//! The delays are drawn from a seeded generator, uniformly over the
//! command's measured uninterrupted wall time, so that kills land in every
//! phase (start-up, reading, writing, committing, exiting).
//! `TOPSELLERS_KILL9_POINTS` (default 20) sets the kills per command and
//! `TOPSELLERS_KILL9_SEED` the seed, for the longer soak of
//! `scripts/bench/kill9-soak.sh`.
//!
//! What "identical" means per command:
//! - `ingest` only ever adds files, named by run id, so two runs never give
//!   the same names: the lake is compared as the multiset of rows per
//!   partition. A killed run must have added nothing or all of its rows;
//!   one killed after its commit (it finished its work but did not live to
//!   exit 0) counts as a delivery, and the final lake must hold the
//!   uninterrupted run's rows once per delivery.
//! - `sync`: every file of the local copy, byte for byte, and its manifest.
//! - `publish` and `run --incremental`: every DynamoDB item (times of the
//!   write left out), every Redis key and value, the results file and the
//!   incremental state file, byte for byte.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use common::gen_lake;
use common::services::{
    dynamo_env, list_objects, runtime, s3_client, s3_env, upload_dir, DynamoLocal, Moto, Redis,
};
use common::store::{table_items, Item};

/// Kills per command (`TOPSELLERS_KILL9_POINTS`, at least 20 in the tests).
fn points() -> usize {
    std::env::var("TOPSELLERS_KILL9_POINTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20)
}

/// The generator for one command's delays (`TOPSELLERS_KILL9_SEED`).
fn rng(command: u64) -> StdRng {
    let seed = std::env::var("TOPSELLERS_KILL9_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(15);
    StdRng::seed_from_u64(seed ^ (command << 32))
}

/// The binary as a plain process (assert_cmd cannot kill what it runs).
fn bin() -> Command {
    let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("topsellers"));
    cmd.env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    cmd
}

/// Loads the binary into the page cache, so that the first measured run
/// is not slowed by reading it.
fn warm_up() {
    finish(bin().arg("--version"));
}

/// Runs `cmd` to completion, which must succeed; returns its wall time.
fn finish(cmd: &mut Command) -> Duration {
    let started = Instant::now();
    let out = cmd.stderr(Stdio::piped()).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    started.elapsed()
}

/// What the kills did.
#[derive(Debug, Default)]
struct Kills {
    /// Processes killed while running.
    killed: usize,
    /// Processes that had exited before their kill landed.
    finished: usize,
}

/// Kills per round at most for the commands whose rerun after a completed
/// run has nothing left to do (`sync`, `publish`, `run`): each round starts
/// from a fresh target, is killed until a run completes (later kills would
/// only hit no-ops) or this many times, then run to completion and checked;
/// rounds follow until `points()` kills were made.
const KILLS_PER_ROUND: usize = 4;

/// The scenarios measure their commands' wall time: one at a time, so that
/// the others' load (services starting, a JVM warming up) does not skew it.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Starts `cmd` up to `kills` times, each killed (SIGKILL) after a delay
/// drawn uniformly from `0..=span`; with `until_done`, stops after a run
/// that completed before its kill. A run that completes shows how long the
/// command really takes now: `span` shrinks to 1.2 times that, so that the
/// kills keep landing while it runs however the machine's load changed
/// since `span` was measured.
fn kill_repeatedly(
    cmd: &mut Command,
    span: &mut Duration,
    rng: &mut StdRng,
    kills: usize,
    until_done: bool,
) -> Kills {
    let mut out = Kills::default();
    for _ in 0..kills {
        let delay = span.mul_f64(rng.random_range(0.0..=1.0));
        let mut child = cmd.spawn().unwrap();
        let started = Instant::now();
        let mut done = None;
        while done.is_none() && started.elapsed() < delay {
            std::thread::sleep(Duration::from_millis(2).min(delay));
            done = child.try_wait().unwrap().map(|_| started.elapsed());
        }
        match done {
            Some(took) => {
                out.finished += 1;
                *span = (*span).min(took.mul_f64(1.2));
            }
            None => {
                // Child::kill sends SIGKILL on Unix.
                child.kill().unwrap();
                out.killed += 1;
            }
        }
        child.wait().unwrap();
        if done.is_some() && until_done {
            break;
        }
    }
    out
}

/// Kills of a round: [`KILLS_PER_ROUND`] or what is left of `points()`.
fn round_kills(kills: &Kills) -> usize {
    KILLS_PER_ROUND.min(points() - kills.total())
}

impl Kills {
    fn total(&self) -> usize {
        self.killed + self.finished
    }

    fn add(&mut self, other: Self) {
        self.killed += other.killed;
        self.finished += other.finished;
    }

    /// Asserts that a good share of the kills landed while the command ran.
    fn assert_landed(&self, what: &str) {
        eprintln!("{what}: {self:?}");
        assert!(
            self.killed >= points() / 5,
            "{what}: too few kills landed while the command ran: {self:?}"
        );
    }
}

/// Every file under `root` (hidden ones included), by relative path.
fn files(root: &Path) -> BTreeMap<String, Vec<u8>> {
    common::walk(root)
        .into_iter()
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap();
            (
                p.strip_prefix(root).unwrap().to_string_lossy().into_owned(),
                bytes,
            )
        })
        .collect()
}

/// Files under `root` whose name starts with `.` and is not in `allowed`:
/// temporary files left behind.
fn hidden(root: &Path, allowed: &[&str]) -> Vec<String> {
    files(root)
        .into_keys()
        .filter(|rel| {
            let name = rel.rsplit('/').next().unwrap_or(rel);
            name.starts_with('.') && !allowed.contains(&name)
        })
        .collect()
}

/// The rows of a Parquet file, each printed, sorted.
fn parquet_rows(path: &Path) -> Vec<String> {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    let reader = SerializedFileReader::new(std::fs::File::open(path).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut rows: Vec<String> = reader
        .get_row_iter(None)
        .unwrap()
        .map(|r| r.unwrap().to_string())
        .collect();
    rows.sort_unstable();
    rows
}

/// Rows per partition folder, for one run.
type RunRows = BTreeMap<String, Vec<String>>;

/// The run id of `part-<run id>-<n>.parquet`.
fn run_id_of(name: &str) -> &str {
    let stem = name.strip_prefix("part-").unwrap_or(name);
    stem.rsplit_once('-').map_or(stem, |(id, _)| id)
}

/// The data files under `root` grouped by the run that wrote them: run id
/// → partition → sorted rows.
fn lake_runs(root: &Path) -> BTreeMap<String, RunRows> {
    let mut runs: BTreeMap<String, RunRows> = BTreeMap::new();
    for path in common::walk(root) {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if !name.ends_with(".parquet") || name.starts_with('.') {
            continue;
        }
        let partition = path
            .parent()
            .unwrap()
            .strip_prefix(root)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let rows = runs
            .entry(run_id_of(&name).to_string())
            .or_default()
            .entry(partition)
            .or_default();
        rows.extend(parquet_rows(&path));
        rows.sort_unstable();
    }
    runs
}

/// Asserts that every run in `got` added exactly `want`'s rows (all or
/// nothing for a killed run), and that there are `1 + delivered` of them;
/// returns how many killed runs had delivered.
fn assert_whole_runs(got: &BTreeMap<String, RunRows>, want: &RunRows, what: &str) -> usize {
    for (run, rows) in got {
        assert_eq!(
            rows.keys().collect::<Vec<_>>(),
            want.keys().collect::<Vec<_>>(),
            "{what}: run {run} wrote other partitions than an uninterrupted run"
        );
        assert!(
            rows == want,
            "{what}: run {run} added other rows than an uninterrupted run (a partial run)"
        );
    }
    assert!(!got.is_empty(), "{what}: the final run added nothing");
    got.len() - 1
}

/// Purchase events: `n` lines over 4 categories and 5 days, a string id
/// now and then being quarantined (`id_type`) would make runs differ in
/// their quarantine files, so every line is valid.
fn events(path: &Path, n: usize) {
    let lines: String = (0..n)
        .map(|i| {
            format!(
                "{{\"item_id\":{},\"category\":\"c{}\",\"ts\":\"2026-10-1{}T{:02}:{:02}:00Z\",\"quantity\":{}}}\n",
                i * 7919 % 500,
                i % 4,
                i % 5,
                i % 24,
                i % 60,
                1 + i % 3
            )
        })
        .collect();
    std::fs::write(path, lines).unwrap();
}

fn ingest(lake: &str, input: &Path, extra: &[&str]) -> Command {
    let mut cmd = bin();
    cmd.args(["ingest", "--lake", lake, "--stale-temp-grace", "0"])
        .args(["--row-group-rows", "300"])
        .args(extra)
        .arg(input);
    cmd
}

/// The stale temporary files the final run's report says it removed.
fn stale_removed(report: &Path) -> u64 {
    let r: serde_json::Value = serde_json::from_slice(&std::fs::read(report).unwrap()).unwrap();
    r["stale_temps_removed"].as_u64().unwrap()
}

#[test]
fn ingest_into_a_local_lake_survives_kill_9_anywhere() {
    let _one = one_at_a_time();
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("events.ndjson");
    events(&input, 10_000);
    warm_up();
    let (reference, lake) = (tmp.path().join("reference"), tmp.path().join("lake"));
    finish(&mut ingest(reference.to_str().unwrap(), &input, &[]));
    // Measured warm, into a lake of its own.
    let mut span = finish(&mut ingest(
        tmp.path().join("warm").to_str().unwrap(),
        &input,
        &[],
    ));
    let want = lake_runs(&reference);
    assert_eq!(want.len(), 1);
    let want = want.into_values().next().unwrap();

    let kills = kill_repeatedly(
        &mut ingest(lake.to_str().unwrap(), &input, &[]),
        &mut span,
        &mut rng(1),
        points(),
        false,
    );
    kills.assert_landed("ingest (local)");
    let temps = hidden(&lake, &[]).len() as u64;
    let report = tmp.path().join("report.json");
    finish(&mut ingest(
        lake.to_str().unwrap(),
        &input,
        &["--report", report.to_str().unwrap()],
    ));
    assert_eq!(
        stale_removed(&report),
        temps,
        "the report counts the temporary files the killed runs left"
    );
    assert_eq!(
        hidden(&lake, &[]),
        Vec::<String>::new(),
        "no temporary file left"
    );
    let delivered = assert_whole_runs(&lake_runs(&lake), &want, "local lake");
    eprintln!("ingest (local): {temps} temporary files removed by the rerun, {delivered} killed run(s) had committed");
}

/// Every object under `prefix` in `bucket` (key → bytes), and the
/// multipart uploads left incomplete in the bucket.
fn bucket(endpoint: &str, bucket: &str, prefix: &str) -> (BTreeMap<String, Vec<u8>>, usize) {
    let client = s3_client(endpoint);
    runtime().block_on(async {
        let mut out = BTreeMap::new();
        for obj in list_objects(&client, bucket, prefix).await {
            let key = obj.key.unwrap();
            let body = client.get_object().bucket(bucket).key(&key).send().await;
            let bytes = body.unwrap().body.collect().await.unwrap().into_bytes();
            out.insert(key, bytes.to_vec());
        }
        let uploads = client
            .list_multipart_uploads()
            .bucket(bucket)
            .send()
            .await
            .unwrap();
        (out, uploads.uploads.unwrap_or_default().len())
    })
}

/// Writes the objects under `prefix` into `dir` (as a lake) to read them.
fn objects_to_dir(objects: &BTreeMap<String, Vec<u8>>, prefix: &str, dir: &Path) {
    for (key, bytes) in objects {
        let path = dir.join(key.strip_prefix(prefix).unwrap());
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }
}

#[test]
fn ingest_into_s3_survives_kill_9_anywhere() {
    let _one = one_at_a_time();
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("events.ndjson");
    events(&input, 3_000);
    let moto = Moto::start();
    warm_up();
    s3_client_create(&moto.url(), "shop");
    let staging = tmp.path().join("staging");
    let run = |prefix: &str| {
        let mut cmd = ingest(
            &format!("s3://shop/{prefix}/"),
            &input,
            &["--staging-dir", staging.to_str().unwrap()],
        );
        cmd.envs(s3_env(&moto.url()));
        cmd
    };
    let mut span = finish(&mut run("reference"));
    let (objects, _) = bucket(&moto.url(), "shop", "reference/");
    objects_to_dir(&objects, "reference/", &tmp.path().join("reference"));
    let want = lake_runs(&tmp.path().join("reference"));
    assert_eq!(want.len(), 1);
    let want = want.into_values().next().unwrap();

    let kills = kill_repeatedly(&mut run("lake"), &mut span, &mut rng(2), points(), false);
    kills.assert_landed("ingest (s3)");
    let left = common::walk(&staging).len() as u64;
    let report = tmp.path().join("report.json");
    finish(run("lake").args(["--report", report.to_str().unwrap()]));
    let r: serde_json::Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    eprintln!(
        "ingest (s3) rerun: {} objects rolled back",
        r["rolled_back_objects"]
    );
    assert_eq!(
        r["stale_temps_removed"], left,
        "the report counts the files of the staging folders the killed runs left"
    );
    assert_eq!(
        std::fs::read_dir(&staging).unwrap().count(),
        0,
        "no staging folder left"
    );
    let (objects, incomplete) = bucket(&moto.url(), "shop", "lake/");
    assert_eq!(incomplete, 0, "no incomplete multipart upload");
    assert!(
        objects
            .keys()
            .all(|k| !k.rsplit('/').next().unwrap().starts_with('.') && !k.contains("/_ingest/")),
        "no hidden object and no pending marker: {:?}",
        objects.keys().collect::<Vec<_>>()
    );
    objects_to_dir(&objects, "lake/", &tmp.path().join("lake"));
    let delivered = assert_whole_runs(&lake_runs(&tmp.path().join("lake")), &want, "S3 lake");
    eprintln!("ingest (s3): {left} staged files removed by the rerun, {delivered} killed run(s) had delivered");
}

fn s3_client_create(endpoint: &str, name: &str) {
    let client = s3_client(endpoint);
    runtime().block_on(async { client.create_bucket().bucket(name).send().await.unwrap() });
}

#[test]
fn sync_survives_kill_9_anywhere() {
    let _one = one_at_a_time();
    let tmp = tempfile::tempdir().unwrap();
    let source = tmp.path().join("source");
    gen_lake(
        &source,
        &[
            "--purchases",
            "30k",
            "--categories",
            "8",
            "--days",
            "12",
            "--seed",
            "5",
            "--layout",
            "category/dt",
        ],
    );
    let moto = Moto::start();
    upload_dir(&moto.url(), &source, "shop", "lake");
    warm_up();
    let sync = |to: &Path| {
        let mut cmd = bin();
        cmd.envs(s3_env(&moto.url()))
            .args(["sync", "--from", "s3://shop/lake/", "--to"])
            .arg(to);
        cmd
    };
    let reference = tmp.path().join("reference");
    let mut span = finish(&mut sync(&reference));
    let want = files(&reference);
    assert!(want.len() > 90, "{} files", want.len());
    let (mut kills, mut rng) = (Kills::default(), rng(3));
    for round in 0.. {
        if kills.total() >= points() {
            break;
        }
        let copy = tmp.path().join(format!("copy-{round}"));
        kills.add(kill_repeatedly(
            &mut sync(&copy),
            &mut span,
            &mut rng,
            round_kills(&kills),
            true,
        ));
        finish(&mut sync(&copy));
        assert_eq!(
            hidden(&copy, &[".topsellers-sync.json"]),
            Vec::<String>::new(),
            "round {round}: no temporary file left"
        );
        let got = files(&copy);
        assert_eq!(
            got.keys().collect::<Vec<_>>(),
            want.keys().collect::<Vec<_>>(),
            "round {round}: the same files"
        );
        for (rel, bytes) in &want {
            assert!(
                &got[rel] == bytes,
                "round {round}: {rel} differs from an uninterrupted sync's"
            );
        }
    }
    kills.assert_landed("sync");
}

/// A DynamoDB item without the times of the write, which differ between
/// any two runs.
fn normalised(items: BTreeMap<String, Item>) -> BTreeMap<String, Item> {
    items
        .into_iter()
        .map(|(k, mut item)| {
            item.remove("published_at");
            item.remove("computed_at");
            (k, item)
        })
        .collect()
}

/// A generated lake of 40k purchases over 20 days in `dir/lake`, in the
/// `category/dt` layout.
fn small_lake(dir: &Path, categories: &str, seed: &str) -> std::path::PathBuf {
    let lake = dir.join("lake");
    gen_lake(
        &lake,
        &[
            "--purchases",
            "40k",
            "--categories",
            categories,
            "--days",
            "20",
            "--seed",
            seed,
            "--layout",
            "category/dt",
        ],
    );
    lake
}

/// The DynamoDB tables and Redis servers of the reference and the killed
/// runs.
struct Stores {
    db: DynamoLocal,
    reference: Redis,
    killed: Redis,
}

impl Stores {
    fn start() -> Self {
        Self {
            db: DynamoLocal::start(),
            reference: Redis::start(),
            killed: Redis::start(),
        }
    }

    /// Asserts that the killed runs' table and Redis hold what the
    /// reference's do.
    fn assert_same(&self, table: &str, what: &str) {
        let want = normalised(table_items(&self.db.url(), "reference"));
        let got = normalised(table_items(&self.db.url(), table));
        assert!(want.len() > 10, "{what}: {} items", want.len());
        assert_eq!(
            got.keys().collect::<Vec<_>>(),
            want.keys().collect::<Vec<_>>(),
            "{what}: the same DynamoDB keys"
        );
        for (k, item) in &want {
            assert_eq!(&got[k], item, "{what}: DynamoDB item {k}");
        }
        assert_eq!(
            self.killed.dump(),
            self.reference.dump(),
            "{what}: Redis keys and values"
        );
    }

    /// Empties the killed runs' Redis for a new round.
    fn flush_killed(&self) {
        let client = redis::Client::open(self.killed.url()).unwrap();
        let mut con = client.get_connection().unwrap();
        let () = redis::cmd("FLUSHALL").query(&mut con).unwrap();
    }
}

#[test]
fn publish_survives_kill_9_anywhere() {
    let _one = one_at_a_time();
    let tmp = tempfile::tempdir().unwrap();
    let lake = small_lake(tmp.path(), "30", "7");
    let results = tmp.path().join("results.csv");
    finish(
        bin()
            .args(["compute", "--variant", "default=7d", "--variant", "fast=1d"])
            .args(["--as-of", "2026-10-15T00:00:00Z", "--lake"])
            .arg(&lake)
            .arg("--out")
            .arg(&results),
    );
    let stores = Stores::start();
    warm_up();
    let publish = |table: &str, redis: &Redis| {
        let mut cmd = bin();
        cmd.envs(dynamo_env(&stores.db.url()))
            .args(["publish", "--create-table", "--table", table, "--redis"])
            .arg(redis.url())
            .arg("--results")
            .arg(&results);
        cmd
    };
    finish(&mut publish("reference", &stores.reference));
    // Measured once DynamoDB Local has warmed up, on a table of its own.
    let mut span = finish(&mut publish("warm", &stores.killed));
    let (mut kills, mut rng) = (Kills::default(), rng(4));
    for round in 0.. {
        if kills.total() >= points() {
            break;
        }
        let table = format!("killed{round}");
        stores.flush_killed();
        kills.add(kill_repeatedly(
            &mut publish(&table, &stores.killed),
            &mut span,
            &mut rng,
            round_kills(&kills),
            true,
        ));
        finish(&mut publish(&table, &stores.killed));
        stores.assert_same(&table, &format!("publish, round {round}"));
    }
    kills.assert_landed("publish");
}

#[test]
fn an_incremental_run_survives_kill_9_anywhere() {
    let _one = one_at_a_time();
    let tmp = tempfile::tempdir().unwrap();
    let lake = small_lake(tmp.path(), "20", "8");
    let stores = Stores::start();
    warm_up();
    let config = |name: &str, table: &str, redis: &Redis| {
        let dir = tmp.path().join(name);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("topsellers.toml");
        std::fs::write(
            &path,
            format!(
                r#"lake = "{lake}"
variants = ["default=7d", "fast=1d"]
out = "{dir}/results.csv"
report = "{dir}/report.json"
lock_file = "{dir}/run.lock"
state_file = "{dir}/lake.topsellers-state"
table = "{table}"
create_table = true
redis = "{redis}"
incremental = true
"#,
                lake = lake.display(),
                dir = dir.display(),
                redis = redis.url(),
            ),
        )
        .unwrap();
        path
    };
    let run = |config: &Path, as_of: &str| {
        let mut cmd = bin();
        cmd.envs(dynamo_env(&stores.db.url()))
            .env_remove("TOPSELLERS_LOG_FORMAT")
            .args(["run", "--as-of", as_of, "--config"])
            .arg(config);
        cmd
    };
    let reference = config("reference", "reference", &stores.reference);
    // The first cycle (a rebuild) uninterrupted; then new purchases, and
    // the second cycle, incremental, is the one killed.
    let (first, second) = ("2026-10-15T00:00:00Z", "2026-10-15T06:00:00Z");
    finish(&mut run(&reference, first));
    let input = tmp.path().join("events.ndjson");
    events(&input, 2_000);
    let lake_before = files(&lake);
    finish(&mut ingest(lake.to_str().unwrap(), &input, &[]));
    let added: Vec<String> = files(&lake)
        .into_keys()
        .filter(|k| !lake_before.contains_key(k))
        .collect();
    let mut span = finish(&mut run(&reference, second));
    let want = files(&tmp.path().join("reference"));
    let (mut kills, mut rng) = (Kills::default(), rng(5));
    for round in 0.. {
        if kills.total() >= points() {
            break;
        }
        // Each round's first cycle sees the lake as the reference's did.
        let hold = tmp.path().join("held");
        std::fs::create_dir_all(&hold).unwrap();
        for (i, rel) in added.iter().enumerate() {
            std::fs::rename(lake.join(rel), hold.join(i.to_string())).unwrap();
        }
        let name = format!("killed{round}");
        let killed = config(&name, &name, &stores.killed);
        stores.flush_killed();
        finish(&mut run(&killed, first));
        for (i, rel) in added.iter().enumerate() {
            std::fs::rename(hold.join(i.to_string()), lake.join(rel)).unwrap();
        }
        kills.add(kill_repeatedly(
            &mut run(&killed, second),
            &mut span,
            &mut rng,
            round_kills(&kills),
            true,
        ));
        finish(&mut run(&killed, second));
        let what = format!("run --incremental, round {round}");
        stores.assert_same(&name, &what);
        let got = files(&tmp.path().join(&name));
        for file in ["results.csv", "lake.topsellers-state"] {
            assert!(
                got[file] == want[file],
                "{what}: {file} differs from an uninterrupted run's"
            );
        }
        let expected = [
            "report.json",
            "results.csv",
            "run.lock",
            "lake.topsellers-state",
            "topsellers.toml",
        ];
        assert_eq!(
            got.keys()
                .filter(|k| !expected.contains(&k.as_str()))
                .collect::<Vec<_>>(),
            Vec::<&String>::new(),
            "{what}: no temporary file left next to the state"
        );
    }
    kills.assert_landed("run --incremental");
}

/// Sets the modification time of `path` to `ago` in the past.
fn age(path: &Path, ago: Duration) {
    let file = std::fs::File::options().write(true).open(path).unwrap();
    file.set_modified(std::time::SystemTime::now() - ago)
        .unwrap();
}

/// What a kill leaves is forged here, so that each cleanup is shown every
/// time, whatever phases the random kills above happened to hit.
#[test]
fn the_next_ingest_cleans_up_what_a_killed_one_left_in_a_local_lake() {
    let _one = one_at_a_time();
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("events.ndjson");
    events(&input, 1_000);
    let lake = tmp.path().join("lake");
    finish(&mut ingest(lake.to_str().unwrap(), &input, &[]));
    let want = lake_runs(&lake).into_values().next().unwrap();
    let (partition, rows) = want.iter().next().unwrap();
    let dir = lake.join(partition);
    let existing = common::walk(&dir).pop().unwrap();
    // A run killed during its renames: one file renamed, its marker left.
    let renamed = dir.join("part-20261015T000000Z-00000000000000aa-00001.parquet");
    std::fs::copy(&existing, &renamed).unwrap();
    let marker = lake.join("_ingest/20261015T000000Z-00000000000000aa.pending");
    std::fs::create_dir_all(marker.parent().unwrap()).unwrap();
    std::fs::write(
        &marker,
        format!("{partition}/part-20261015T000000Z-00000000000000aa-00001.parquet\n{partition}/part-20261015T000000Z-00000000000000aa-00002.parquet\n../outside"),
    )
    .unwrap();
    let outside = tmp.path().join("outside");
    std::fs::write(&outside, b"not the lake's").unwrap();
    // A killed run's staged file, and a live run's (young) one.
    let (stale, live) = (
        dir.join(".part-20261015T000000Z-00000000000000aa-00002.parquet.tmp"),
        dir.join(".part-20261015T000000Z-00000000000000bb-00001.parquet.tmp"),
    );
    std::fs::write(&stale, b"12345").unwrap();
    std::fs::write(&live, b"123").unwrap();
    for old in [&stale, &marker] {
        age(old, Duration::from_secs(2 * 3600));
    }
    let report = tmp.path().join("report.json");
    let mut cmd = bin();
    cmd.args(["ingest", "--lake"])
        .arg(&lake)
        .arg("--report")
        .arg(&report)
        .arg(&input);
    finish(&mut cmd);
    let r: serde_json::Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    assert_eq!(r["rolled_back_objects"], 1, "{r}");
    assert_eq!(r["stale_temps_removed"], 1, "{r}");
    assert_eq!(r["stale_temp_bytes_removed"], 5, "{r}");
    assert!(!renamed.exists() && !marker.exists() && !stale.exists());
    assert!(
        live.exists(),
        "a temporary file younger than the grace period stays"
    );
    assert!(outside.exists(), "a marker names nothing outside the lake");
    assert!(!lake.join("_ingest").exists());
    let runs = lake_runs(&lake);
    assert_eq!(runs.len(), 2, "the first run and this one");
    assert_whole_runs(&runs, &want, "local lake");
    assert_eq!(&runs.values().next().unwrap()[partition], rows);
}

#[test]
fn the_next_ingest_rolls_back_a_run_killed_mid_upload_to_s3() {
    let _one = one_at_a_time();
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("events.ndjson");
    events(&input, 200);
    let moto = Moto::start();
    s3_client_create(&moto.url(), "shop");
    let client = s3_client(&moto.url());
    let rt = runtime();
    let put = |key: &str, body: &[u8]| {
        rt.block_on(
            client
                .put_object()
                .bucket("shop")
                .key(key)
                .body(body.to_vec().into())
                .send(),
        )
        .unwrap();
    };
    let object =
        "lake/category=c0/dt=2026-10-10/part-20261015T000000Z-00000000000000aa-00001.parquet";
    // A real data file: the id type check reads a data object's footer.
    let local = tmp.path().join("local");
    finish(&mut ingest(local.to_str().unwrap(), &input, &[]));
    let file = common::walk(&local).pop().unwrap();
    put(object, &std::fs::read(file).unwrap());
    put(
        "lake/_ingest/20261015T000000Z-00000000000000aa.pending",
        format!("{object}\nlake/category=c0/dt=2026-10-10/part-20261015T000000Z-00000000000000aa-00002.parquet\nelsewhere/x").as_bytes(),
    );
    put("elsewhere/x", b"outside the lake");
    let staging = tmp.path().join("staging");
    let old_staging = staging.join("topsellers-ingest-killed");
    std::fs::create_dir_all(&old_staging).unwrap();
    std::fs::write(old_staging.join(".part-x-00001.parquet.tmp"), b"1234").unwrap();
    let run = |grace: &str, report: &Path| {
        let mut cmd = bin();
        cmd.envs(s3_env(&moto.url()))
            .args([
                "ingest",
                "--lake",
                "s3://shop/lake/",
                "--stale-temp-grace",
                grace,
            ])
            .arg("--staging-dir")
            .arg(&staging)
            .arg("--report")
            .arg(report)
            .arg(&input);
        finish(&mut cmd);
        serde_json::from_slice::<serde_json::Value>(&std::fs::read(report).unwrap()).unwrap()
    };
    // Within the grace period the marker may be a live run's: kept.
    let r = run("1h", &tmp.path().join("first.json"));
    assert_eq!(r["rolled_back_objects"], 0, "{r}");
    assert!(bucket(&moto.url(), "shop", "lake/").0.contains_key(object));
    let r = run("0", &tmp.path().join("second.json"));
    // Both keys of the lake the marker lists: S3 deletes a missing key too.
    assert_eq!(r["rolled_back_objects"], 2, "{r}");
    assert_eq!(r["stale_temps_removed"], 1, "{r}");
    let (objects, _) = bucket(&moto.url(), "shop", "");
    assert!(!objects.contains_key(object));
    assert!(
        objects.keys().all(|k| !k.contains("_ingest/")),
        "{objects:?}"
    );
    assert!(
        objects.contains_key("elsewhere/x"),
        "a marker names nothing outside the lake"
    );
    assert_eq!(std::fs::read_dir(&staging).unwrap().count(), 0);
}
