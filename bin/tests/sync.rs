//! `topsellers sync` and `compute --lake s3://…` against a real moto_server:
//! byte-for-byte copies, no-op re-syncs, changed and deleted objects, dry
//! runs, a server dying mid-transfer, and corrupt objects.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

use common::services::{s3_client, s3_env, FaultProxy, Moto};
use common::topsellers;
use predicates::str::contains;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Every regular file under `root`, by relative path, skipping hidden names.
fn files(root: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') || name.starts_with('_') {
                continue;
            }
            let p = e.path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                out.insert(
                    p.strip_prefix(root).unwrap().to_string_lossy().into_owned(),
                    std::fs::read(&p).unwrap(),
                );
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

fn upload(endpoint: &str, bucket: &str, prefix: &str, files: &BTreeMap<String, Vec<u8>>) {
    let client = s3_client(endpoint);
    runtime().block_on(async {
        let _ = client.create_bucket().bucket(bucket).send().await;
        for (rel, bytes) in files {
            client
                .put_object()
                .bucket(bucket)
                .key(format!("{prefix}{rel}"))
                .body(bytes.clone().into())
                .send()
                .await
                .unwrap();
        }
    });
}

fn delete(endpoint: &str, bucket: &str, key: &str) {
    let client = s3_client(endpoint);
    runtime().block_on(async {
        client
            .delete_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .unwrap()
    });
}

fn gen(dir: &Path) -> PathBuf {
    let lake = dir.join("source");
    topsellers()
        .args([
            "gen",
            "--purchases",
            "40k",
            "--categories",
            "8",
            "--days",
            "20",
            "--layout",
            "category/dt",
            "--out",
        ])
        .arg(&lake)
        .assert()
        .success();
    lake
}

fn sync_cmd(endpoint: &str, from: &str, to: &Path) -> assert_cmd::Command {
    let mut cmd = topsellers();
    cmd.envs(s3_env(endpoint))
        .args(["sync", "--from", from, "--to"])
        .arg(to);
    cmd
}

fn report(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

#[test]
fn sync_copies_exactly_and_then_only_changes() {
    let tmp = tempfile::tempdir().unwrap();
    let moto = Moto::start();
    let source = gen(tmp.path());
    let mut originals = files(&source);
    let data_files = originals.len();
    // Junk the lake rules say to leave alone.
    let mut junk = originals.clone();
    junk.insert("category=c00000/_SUCCESS".into(), vec![]);
    junk.insert("category=c00000/manifest.json".into(), b"{}".to_vec());
    upload(&moto.url(), "lake", "purchases/", &junk);

    let dst = tmp.path().join("local");
    let r1 = tmp.path().join("r1.json");
    sync_cmd(&moto.url(), "s3://lake/purchases", &dst)
        .arg("--report")
        .arg(&r1)
        .assert()
        .success();
    assert_eq!(
        files(&dst),
        originals,
        "byte-for-byte copy of the data files only"
    );
    assert_eq!(report(&r1)["new"].as_array().unwrap().len(), data_files);

    // A second sync transfers nothing.
    let r2 = tmp.path().join("r2.json");
    sync_cmd(&moto.url(), "s3://lake/purchases/", &dst)
        .arg("--report")
        .arg(&r2)
        .assert()
        .success();
    let r2 = report(&r2);
    assert_eq!(r2["bytes_downloaded"], 0);
    assert_eq!(r2["unchanged"], data_files as u64);

    // One object changes, one disappears.
    let (changed_rel, _) = originals
        .iter()
        .next()
        .map(|(k, v)| (k.clone(), v.clone()))
        .unwrap();
    let (gone_rel, _) = originals
        .iter()
        .last()
        .map(|(k, v)| (k.clone(), v.clone()))
        .unwrap();
    let replacement = originals[&originals.keys().nth(1).unwrap().clone()].clone();
    upload(
        &moto.url(),
        "lake",
        "purchases/",
        &BTreeMap::from([(changed_rel.clone(), replacement.clone())]),
    );
    delete(&moto.url(), "lake", &format!("purchases/{gone_rel}"));

    // Dry run: says what would change, changes nothing.
    sync_cmd(&moto.url(), "s3://lake/purchases", &dst)
        .args(["--dry-run", "--delete"])
        .assert()
        .success()
        .stdout(contains(format!("changed  {changed_rel}")))
        .stdout(contains(format!("delete   {gone_rel}")));
    assert_ne!(std::fs::read(dst.join(&changed_rel)).unwrap(), replacement);

    // Without --delete the vanished file stays; with it, it goes.
    sync_cmd(&moto.url(), "s3://lake/purchases", &dst)
        .assert()
        .success();
    assert_eq!(std::fs::read(dst.join(&changed_rel)).unwrap(), replacement);
    assert!(dst.join(&gone_rel).exists());
    sync_cmd(&moto.url(), "s3://lake/purchases", &dst)
        .arg("--delete")
        .assert()
        .success();
    assert!(!dst.join(&gone_rel).exists());
    originals.insert(changed_rel, replacement);
    originals.remove(&gone_rel);
    assert_eq!(files(&dst), originals);
}

#[test]
fn compute_reads_an_s3_lake_like_the_local_one() {
    let tmp = tempfile::tempdir().unwrap();
    let moto = Moto::start();
    let source = gen(tmp.path());
    upload(&moto.url(), "lake", "p/", &files(&source));
    let (local, remote) = (tmp.path().join("local.csv"), tmp.path().join("remote.csv"));
    let args = [
        "--as-of",
        "2026-10-15T00:00:00Z",
        "--variant",
        "a=3d",
        "--variant",
        "b=1d",
    ];
    topsellers()
        .arg("compute")
        .arg("--lake")
        .arg(&source)
        .args(args)
        .arg("--out")
        .arg(&local)
        .assert()
        .success();
    topsellers()
        .envs(s3_env(&moto.url()))
        .args(["compute", "--lake", "s3://lake/p"])
        .arg("--cache-dir")
        .arg(tmp.path().join("cache"))
        .args(args)
        .arg("--out")
        .arg(&remote)
        .assert()
        .success();
    assert_eq!(
        std::fs::read(&local).unwrap(),
        std::fs::read(&remote).unwrap()
    );
    assert!(tmp.path().join("cache/lake/p").is_dir());
}

fn no_visible_partial(dst: &Path, name: &str, expected_len: usize) {
    let path = dst.join(name);
    if let Ok(bytes) = std::fs::read(&path) {
        assert_eq!(
            bytes.len(),
            expected_len,
            "a partial file is visible at {}",
            path.display()
        );
    }
    let leftovers: Vec<_> = std::fs::read_dir(path.parent().unwrap())
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name())
                .filter(|n| n.to_string_lossy().starts_with(".topsellers-dl"))
                .collect()
        })
        .unwrap_or_default();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
}

#[test]
fn a_server_dying_mid_transfer_leaves_whole_files_and_a_rerun_finishes() {
    let tmp = tempfile::tempdir().unwrap();
    let moto = Moto::start();
    let big: Vec<u8> = (0..24_000_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let objects = BTreeMap::from([
        (
            "category=a/dt=2026-10-01/big.parquet".to_string(),
            big.clone(),
        ),
        (
            "category=a/dt=2026-10-02/small.parquet".to_string(),
            b"tiny but whole".to_vec(),
        ),
    ]);
    upload(&moto.url(), "lake", "", &objects);
    let proxy = FaultProxy::start(moto.port);
    proxy.budget.store(6_000_000, Ordering::SeqCst); // the "server" dies after 6 MB
    let dst = tmp.path().join("local");
    sync_cmd(&proxy.url(), "s3://lake", &dst)
        .args(["--part-size", "2M", "--concurrency", "2"])
        .assert()
        .code(1)
        .stderr(contains("big.parquet"));
    no_visible_partial(&dst, "category=a/dt=2026-10-01/big.parquet", big.len());

    proxy.budget.store(-1, Ordering::SeqCst); // back up
    sync_cmd(&proxy.url(), "s3://lake", &dst)
        .args(["--part-size", "2M"])
        .assert()
        .success();
    assert_eq!(files(&dst), objects);
}

#[test]
fn a_corrupt_object_is_detected_and_never_lands() {
    let tmp = tempfile::tempdir().unwrap();
    let moto = Moto::start();
    let objects = BTreeMap::from([("category=a/x.parquet".to_string(), vec![7u8; 300_000])]);
    upload(&moto.url(), "lake", "", &objects);
    let proxy = FaultProxy::start(moto.port);
    proxy.corrupt.store(true, Ordering::SeqCst);
    let dst = tmp.path().join("local");
    sync_cmd(&proxy.url(), "s3://lake", &dst)
        .assert()
        .code(1)
        .stderr(contains("checksum mismatch"));
    assert!(!dst.join("category=a/x.parquet").exists());
    no_visible_partial(&dst, "category=a/x.parquet", 300_000);
    proxy.corrupt.store(false, Ordering::SeqCst);
    sync_cmd(&proxy.url(), "s3://lake", &dst).assert().success();
    assert_eq!(files(&dst), objects);
}

#[test]
fn bad_locations_are_usage_errors() {
    let tmp = tempfile::tempdir().unwrap();
    topsellers()
        .args(["sync", "--from", "http://x/y", "--to"])
        .arg(tmp.path())
        .assert()
        .code(2)
        .stderr(contains("s3://"));
}
