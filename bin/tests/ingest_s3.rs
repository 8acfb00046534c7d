//! `topsellers ingest --lake s3://…` against a real moto_server: objects in
//! the Hive layout that `sync` + `compute` read exactly as a local ingest;
//! runs that only add objects; conditional writes that refuse to replace an
//! object; a failed run that uploads nothing; one item id type per lake;
//! multipart uploads; and the server dying mid-upload.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

use common::services::{list_objects, runtime, s3_client, s3_env, FaultProxy, Moto};
use common::topsellers;
use predicates::str::contains;
use topsellers_s3::S3Error;
use topsellers_s3::{upload_all, UploadFile, UploadTuning};

const AS_OF: &str = "2026-10-15T00:00:00Z";
const AS_OF_S: i64 = 1_792_022_400;

/// A small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

/// `n` events over a few categories (one needing escaping) and 5 days.
fn events(path: &Path, n: usize, seed: u64) -> PathBuf {
    let mut rng = Rng(seed | 1);
    let cats = ["books", "toys+games & more", "garden"];
    let mut text = String::new();
    for _ in 0..n {
        let cat = cats[(rng.next() % 3) as usize];
        let item = rng.next() % 50;
        let ts = AS_OF_S - 1 - (rng.next() % (5 * 86_400)) as i64;
        let q = 1 + rng.next() % 3;
        text.push_str(&format!(
            "{{\"category\":{},\"item_id\":{item},\"ts\":{ts},\"quantity\":{q}}}\n",
            serde_json::Value::from(cat)
        ));
    }
    std::fs::write(path, text).unwrap();
    path.to_path_buf()
}

/// Events of one category and day whose Parquet file is about 12 MB: long
/// random string ids that do not compress.
fn big_events(path: &Path) -> PathBuf {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+-";
    let mut rng = Rng(42);
    let mut text = String::new();
    for i in 0..70_000 {
        let id: String = (0..200)
            .map(|_| char::from(ALPHABET[(rng.next() % 64) as usize]))
            .collect();
        let ts = AS_OF_S - 3_600 - i;
        text.push_str(&format!(
            "{{\"category\":\"big\",\"item_id\":\"{id}\",\"ts\":{ts}}}\n"
        ));
    }
    std::fs::write(path, text).unwrap();
    path.to_path_buf()
}

fn create_bucket(endpoint: &str, bucket: &str) {
    let client = s3_client(endpoint);
    runtime().block_on(async { client.create_bucket().bucket(bucket).send().await.unwrap() });
}

/// A scratch folder and a moto_server (with its URL) holding bucket `lake`.
fn setup() -> (tempfile::TempDir, Moto, String) {
    let moto = Moto::start();
    let url = moto.url();
    create_bucket(&url, "lake");
    (tempfile::tempdir().unwrap(), moto, url)
}

/// `ingest` of `input` into a local lake.
fn ingest_locally(lake: &Path, input: &Path) {
    topsellers()
        .args(["ingest", "--lake"])
        .arg(lake)
        .arg(input)
        .assert()
        .success();
}

/// Every object of `bucket` under `prefix`: key → (ETag, size).
fn objects(endpoint: &str, bucket: &str, prefix: &str) -> BTreeMap<String, (String, i64)> {
    let client = s3_client(endpoint);
    runtime().block_on(async {
        let mut out = BTreeMap::new();
        for o in list_objects(&client, bucket, prefix).await {
            out.insert(
                o.key().unwrap().to_string(),
                (o.e_tag().unwrap().to_string(), o.size().unwrap()),
            );
        }
        out
    })
}

/// Multipart uploads still open in `bucket`.
fn open_uploads(endpoint: &str, bucket: &str) -> usize {
    let client = s3_client(endpoint);
    runtime().block_on(async {
        let out = client
            .list_multipart_uploads()
            .bucket(bucket)
            .send()
            .await
            .unwrap();
        out.uploads().len()
    })
}

fn get(endpoint: &str, bucket: &str, key: &str) -> Vec<u8> {
    let client = s3_client(endpoint);
    runtime().block_on(async {
        let out = client
            .get_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .unwrap();
        out.body.collect().await.unwrap().into_bytes().to_vec()
    })
}

/// Rows of a Parquet file (checks it reads whole).
fn parquet_rows(bytes: Vec<u8>) -> i64 {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    let mut file = tempfile::tempfile().unwrap();
    std::io::Write::write_all(&mut file, &bytes).unwrap();
    let reader = SerializedFileReader::new(file).unwrap();
    let rows = reader.metadata().file_metadata().num_rows();
    for g in 0..reader.num_row_groups() {
        let group = reader.get_row_group(g).unwrap();
        assert!(group.get_row_iter(None).unwrap().all(|r| r.is_ok()));
    }
    rows
}

fn ingest(endpoint: &str, lake: &str, extra: &[&str], input: &Path) -> assert_cmd::Command {
    let mut cmd = topsellers();
    cmd.envs(s3_env(endpoint))
        .args(["ingest", "--lake", lake])
        .args(extra)
        .arg(input);
    cmd
}

fn report(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn compute_csv(lake: &Path, out: &Path) -> Vec<u8> {
    topsellers()
        .args(["compute", "--as-of", AS_OF, "--half-life", "7d", "--lake"])
        .arg(lake)
        .arg("--out")
        .arg(out)
        .assert()
        .success();
    std::fs::read(out).unwrap()
}

/// Whether `rel` is `category=<c>/dt=<YYYY-MM-DD>/part-<run id>-<n>.parquet`
/// with `c` escaped as the local layout does.
fn hive_key(rel: &str, run_id: &str) -> bool {
    let parts: Vec<&str> = rel.split('/').collect();
    let [cat, dt, name] = parts[..] else {
        return false;
    };
    let cat_ok = cat.strip_prefix("category=").is_some_and(|c| {
        c.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-%".contains(&b))
    });
    let dt_ok = dt
        .strip_prefix("dt=")
        .is_some_and(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").is_ok());
    cat_ok && dt_ok && name.starts_with(&format!("part-{run_id}-")) && name.ends_with(".parquet")
}

#[test]
fn ingest_to_s3_lands_hive_objects_that_compute_like_a_local_ingest() {
    let (tmp, _moto, url) = setup();
    let input = events(&tmp.path().join("events.jsonl"), 3_000, 7);
    let rep = tmp.path().join("report.json");
    ingest(&url, "s3://lake/purchases", &["--report"], &rep)
        .arg(&input)
        .assert()
        .success();
    let r = report(&rep);
    let run_id = r["run_id"].as_str().unwrap();
    assert_eq!(r["lake"], "s3://lake/purchases/");
    let listed = objects(&url, "lake", "");
    assert_eq!(listed.len(), 15, "3 categories × 5 days: {listed:?}");
    let mut rows = 0;
    for key in listed.keys() {
        let rel = key.strip_prefix("purchases/").unwrap();
        assert!(hive_key(rel, run_id), "{key}");
        rows += parquet_rows(get(&url, "lake", key));
    }
    assert_eq!(rows, 3_000);
    assert!(listed
        .keys()
        .any(|k| k.contains("category=toys%2Bgames%20%26%20more/")));
    let upload = &r["upload"];
    let reported: Vec<String> = upload["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        reported.iter().collect::<std::collections::BTreeSet<_>>(),
        listed.keys().collect()
    );
    let sizes: i64 = listed.values().map(|(_, s)| s).sum();
    assert_eq!(upload["bytes"].as_i64().unwrap(), sizes);
    assert_eq!(r["bytes_written"].as_i64().unwrap(), sizes);
    assert!(r["stage_seconds"]["upload"].as_f64().unwrap() > 0.0);

    // S3 → sync → compute equals a local ingest → compute, byte for byte.
    let synced = tmp.path().join("synced");
    topsellers()
        .envs(s3_env(&url))
        .args(["sync", "--from", "s3://lake/purchases", "--to"])
        .arg(&synced)
        .assert()
        .success();
    let local = tmp.path().join("local");
    ingest_locally(&local, &input);
    let from_s3 = compute_csv(&synced, &tmp.path().join("s3.csv"));
    let from_local = compute_csv(&local, &tmp.path().join("local.csv"));
    assert!(from_local.len() > 100);
    assert_eq!(from_s3, from_local);
}

#[test]
fn a_second_ingest_adds_objects_and_never_overwrites() {
    let (tmp, _moto, url) = setup();
    let first = events(&tmp.path().join("a.jsonl"), 500, 1);
    ingest(&url, "s3://lake", &[], &first).assert().success();
    let before = objects(&url, "lake", "");
    let second = events(&tmp.path().join("b.jsonl"), 500, 2);
    ingest(&url, "s3://lake", &[], &second).assert().success();
    let after = objects(&url, "lake", "");
    assert_eq!(after.len(), 2 * before.len(), "same partitions, new names");
    for (key, etag) in &before {
        assert_eq!(after.get(key), Some(etag), "{key} unchanged");
    }
    let rows: i64 = after
        .keys()
        .map(|k| parquet_rows(get(&url, "lake", k)))
        .sum();
    assert_eq!(rows, 1_000);
}

#[test]
fn conditional_writes_refuse_to_replace_an_object_and_clean_up() {
    let (tmp, _moto, url) = setup();
    let small = tmp.path().join("small");
    std::fs::write(&small, vec![1u8; 1_000]).unwrap();
    let large = tmp.path().join("large");
    std::fs::write(&large, vec![2u8; 11 << 20]).unwrap();
    let client = s3_client(&url);
    let tuning = UploadTuning {
        multipart_threshold: 6 << 20,
        part_size: 5 << 20,
        concurrency: 1,
    };
    let file = |path: &Path, key: &str| UploadFile {
        path: path.to_path_buf(),
        key: key.to_string(),
    };
    let rt = runtime();
    let done = rt
        .block_on(upload_all(
            &client,
            "lake",
            &[file(&small, "taken/small"), file(&large, "taken/large")],
            tuning,
            &|_| {},
            std::future::pending(),
        ))
        .unwrap();
    assert_eq!((done.objects.len(), done.multipart), (2, 1));
    let taken = objects(&url, "lake", "");
    assert_eq!(
        taken["taken/large"].0.trim_matches('"').split('-').nth(1),
        Some("3")
    );
    assert_eq!(
        get(&url, "lake", "taken/large"),
        std::fs::read(&large).unwrap()
    );

    // A run whose second file collides: the first object it made is deleted,
    // the existing one is untouched, no upload stays open.
    for (collides, what) in [(&small, "PutObject"), (&large, "multipart")] {
        let err = rt
            .block_on(upload_all(
                &client,
                "lake",
                &[
                    file(&small, "fresh/one"),
                    file(
                        collides,
                        if collides == &small {
                            "taken/small"
                        } else {
                            "taken/large"
                        },
                    ),
                ],
                tuning,
                &|_| {},
                std::future::pending(),
            ))
            .unwrap_err();
        let S3Error::Upload {
            object,
            cause,
            cleanup,
        } = &err
        else {
            panic!("{what}: {err}");
        };
        assert!(object.starts_with("s3://lake/taken/"), "{what}: {err}");
        assert!(
            matches!(**cause, S3Error::ObjectExists { .. }),
            "{what}: {err}"
        );
        assert!(err.to_string().contains("already exists"), "{err}");
        assert!(
            cleanup.contains("1 object(s) this run had created were deleted"),
            "{cleanup}"
        );
        assert_eq!(objects(&url, "lake", ""), taken, "{what}");
        assert_eq!(open_uploads(&url, "lake"), 0, "{what}");
    }
}

#[test]
fn a_failed_run_uploads_nothing() {
    let (tmp, _moto, url) = setup();
    let input = events(&tmp.path().join("events.jsonl"), 200, 3);
    let mut text = std::fs::read_to_string(&input).unwrap();
    for _ in 0..20 {
        text.push_str("{not json\n");
    }
    std::fs::write(&input, text).unwrap();
    let staging = tmp.path().join("staging");
    let quarantine = tmp.path().join("bad.jsonl");
    ingest(&url, "s3://lake/p", &["--staging-dir"], &staging)
        .arg("--quarantine")
        .arg(&quarantine)
        .arg(&input)
        .assert()
        .code(1)
        .stderr(contains("nothing was added to the lake"));
    assert!(objects(&url, "lake", "").is_empty());
    assert_eq!(
        std::fs::read_dir(&staging).unwrap().count(),
        0,
        "staging removed"
    );
    assert_eq!(
        std::fs::read_to_string(&quarantine)
            .unwrap()
            .lines()
            .count(),
        20
    );
}

#[test]
fn an_s3_lake_keeps_one_item_id_type() {
    let (tmp, _moto, url) = setup();
    let ints = events(&tmp.path().join("ints.jsonl"), 100, 5);
    ingest(&url, "s3://lake/p", &[], &ints).assert().success();
    let before = objects(&url, "lake", "");
    ingest(&url, "s3://lake/p", &["--id-type", "string"], &ints)
        .assert()
        .code(1)
        .stderr(contains("s3://lake/p/category="))
        .stderr(contains(
            "the lake's item ids are int but --id-type is string",
        ));
    let strings = tmp.path().join("strings.jsonl");
    std::fs::write(
        &strings,
        "{\"category\":\"books\",\"item_id\":\"sku-1\",\"ts\":1792000000}\n",
    )
    .unwrap();
    let quarantine = tmp.path().join("bad.jsonl");
    ingest(&url, "s3://lake/p", &["--quarantine"], &quarantine)
        .arg(&strings)
        .assert()
        .code(1)
        .stderr(contains("nothing was added"));
    assert!(std::fs::read_to_string(&quarantine)
        .unwrap()
        .contains("id_type"));
    assert_eq!(objects(&url, "lake", ""), before);
}

#[test]
fn a_large_file_goes_up_in_parts_whole_and_readable() {
    let (tmp, _moto, url) = setup();
    let input = big_events(&tmp.path().join("big.jsonl"));
    let rep = tmp.path().join("report.json");
    ingest(
        &url,
        "s3://lake/p",
        &[
            "--multipart-threshold",
            "6M",
            "--part-size",
            "5242880",
            "--report",
        ],
        &rep,
    )
    .arg(&input)
    .assert()
    .success();
    let listed = objects(&url, "lake", "");
    assert_eq!(listed.len(), 1);
    let (key, (etag, size)) = listed.iter().next().unwrap();
    assert!(*size > 10 << 20, "{size} bytes: big enough for 2+ parts");
    let parts: usize = etag
        .trim_matches('"')
        .split('-')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(
        parts,
        (*size as usize).div_ceil(5 << 20),
        "multipart ETag {etag}"
    );
    assert_eq!(report(&rep)["upload"]["multipart"], 1);
    let body = get(&url, "lake", key);
    assert_eq!(body.len() as i64, *size);
    assert_eq!(parquet_rows(body.clone()), 70_000);

    // The same bytes a local ingest writes.
    let local = tmp.path().join("local");
    ingest_locally(&local, &input);
    let rel = key.strip_prefix("p/").unwrap();
    let dir = local.join(Path::new(rel).parent().unwrap());
    let file = std::fs::read_dir(&dir)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    assert_eq!(std::fs::read(file).unwrap(), body);
}

#[test]
fn the_server_dying_mid_upload_leaves_no_object_and_a_rerun_succeeds() {
    let (tmp, moto, url) = setup();
    let input = big_events(&tmp.path().join("big.jsonl"));
    let proxy = FaultProxy::start(moto.port);
    // Responses to the listing (id type check), the run's pending marker,
    // CreateMultipartUpload and about one part (~1,300 to 2,100 bytes
    // measured before the marker; 1,900 then failed at
    // CreateMultipartUpload), then the "server" is gone.
    proxy.budget.store(2_300, Ordering::SeqCst);
    let flags = [
        "--multipart-threshold",
        "6M",
        "--part-size",
        "5242880",
        "--upload-concurrency",
        "1",
    ];
    let out = ingest(&proxy.url(), "s3://lake/p", &flags, &input)
        .env("AWS_MAX_ATTEMPTS", "2")
        .assert()
        .code(1)
        .stderr(contains("s3://lake/p/category=big/dt="))
        .stderr(contains("upload failed"))
        .get_output()
        .stderr
        .clone();
    let stderr = String::from_utf8_lossy(&out);
    assert!(
        stderr.contains(".parquet: upload failed: UploadPart"),
        "{stderr}"
    );
    assert!(stderr.contains("aborting multipart upload"), "{stderr}");
    // The run's pending marker may stay (the server was gone when it was
    // deleted): readers skip it, and the next ingest deletes what it lists.
    let data = |listed: BTreeMap<String, (String, i64)>| -> Vec<String> {
        listed
            .into_keys()
            .filter(|k| !k.contains("/_ingest/"))
            .collect()
    };
    assert!(
        data(objects(&url, "lake", "")).is_empty(),
        "no partial object"
    );

    proxy.budget.store(-1, Ordering::SeqCst); // back up
    ingest(&proxy.url(), "s3://lake/p", &flags, &input)
        .assert()
        .success();
    let listed = data(objects(&url, "lake", ""));
    assert_eq!(listed.len(), 1);
    assert_eq!(parquet_rows(get(&url, "lake", &listed[0])), 70_000);
}

#[test]
fn bad_upload_flags_are_usage_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let input = events(&tmp.path().join("e.jsonl"), 10, 1);
    for (flags, says) in [
        (
            vec!["--part-size", "1M"],
            "--part-size must be at least 5242880",
        ),
        (vec!["--upload-concurrency", "0"], "--upload-concurrency"),
    ] {
        ingest("http://127.0.0.1:9", "s3://lake", &flags, &input)
            .assert()
            .code(2)
            .stderr(contains(says));
    }
    ingest("http://127.0.0.1:9", "s3:///nobucket", &[], &input)
        .assert()
        .code(2)
        .stderr(contains("bucket"));
}

#[test]
fn sigterm_mid_upload_deletes_what_the_run_created() {
    let (tmp, _moto, url) = setup();
    // 1,500 partitions: 4 categories × 375 days, one event each.
    let input = tmp.path().join("spread.jsonl");
    let text: String = (0..1_500)
        .map(|i| {
            let ts = AS_OF_S - 3_600 - (i / 4) * 86_400;
            format!(
                "{{\"category\":\"c{}\",\"item_id\":{i},\"ts\":{ts}}}\n",
                i % 4
            )
        })
        .collect();
    std::fs::write(&input, text).unwrap();
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("topsellers"))
        .envs(s3_env(&url))
        .args([
            "ingest",
            "--lake",
            "s3://lake/p",
            "--upload-concurrency",
            "2",
        ])
        .arg(&input)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while objects(&url, "lake", "").len() < 5 {
        let ended = child.try_wait().unwrap().is_some();
        if ended || std::time::Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "no upload under way to interrupt: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("interrupted by SIGINT or SIGTERM"),
        "{stderr}"
    );
    assert!(stderr.contains("were deleted"), "{stderr}");
    assert!(objects(&url, "lake", "").is_empty(), "{stderr}");
}
