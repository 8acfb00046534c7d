//! The bounded fuzz runs of the test command (fixed seeds), the corpus
//! replayed as regressions, and the harness's own guards shown to catch a
//! panic, a hang and a memory blow-up. The longer run is
//! `scripts/bench/fuzz.sh` (README, "Fuzzing").

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn corpus(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(target)
}

/// Runs the fuzz binary with `args`, findings into `findings`.
fn fuzz(findings: &Path, args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_topsellers-fuzz"))
        .arg("--findings")
        .arg(findings)
        .args(args)
        .output()
        .expect("the fuzz binary runs");
    eprintln!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Asserts a clean exit and an empty findings folder.
fn assert_clean(findings: &Path, out: &Output) {
    let left: Vec<PathBuf> = std::fs::read_dir(findings)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert!(
        out.status.success() && left.is_empty(),
        "status {:?}; findings (replay them with `topsellers-fuzz replay`): {left:?}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn the_corpus_replays_without_a_finding() {
    for target in ["ndjson", "parquet"] {
        let findings = tempfile::tempdir().unwrap();
        let dir = corpus(target);
        let out = fuzz(
            findings.path(),
            &["--target", target, "replay", dir.to_str().unwrap()],
        );
        assert_clean(findings.path(), &out);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("0 findings"), "{text}");
    }
}

/// A fixed-seed run of `execs` inputs of `target` from its corpus, which
/// must end clean.
fn bounded_run(target: &str, execs: u64, extra: &[&str]) {
    let findings = tempfile::tempdir().unwrap();
    let dir = corpus(target);
    let execs = execs.to_string();
    let mut args = vec!["--target", target, "run", "--corpus", dir.to_str().unwrap()];
    args.extend(["--seed", "15", "--execs", &execs]);
    args.extend(extra);
    let out = fuzz(findings.path(), &args);
    assert_clean(findings.path(), &out);
    let summary = format!("{target} run: {execs} inputs");
    assert!(String::from_utf8_lossy(&out.stdout).contains(&summary));
}

#[test]
fn mutated_and_generated_ndjson_gets_a_result_or_an_error() {
    // One 10 MB line every 2,000 inputs.
    bounded_run("ndjson", 20_000, &["--huge-every", "2000"]);
}

#[test]
fn mutated_parquet_files_get_a_result_or_an_error() {
    bounded_run("parquet", 30_000, &[]);
}

#[test]
fn the_harness_writes_out_a_panic_a_hang_and_a_memory_blow_up() {
    let tmp = tempfile::tempdir().unwrap();
    for (what, status, file) in [
        ("panic", 1, "panic-selftest-panic.bin"),
        ("hang", 4, "hang-selftest.bin"),
        ("memory", 3, "memory-selftest.bin"),
    ] {
        let input = tmp.path().join(what);
        std::fs::write(&input, what).unwrap();
        let findings = tmp.path().join(format!("findings-{what}"));
        let out = fuzz(
            &findings,
            &[
                "--target",
                "selftest",
                "--timeout-s",
                "1",
                "--max-memory-mib",
                "256",
                "replay",
                input.to_str().unwrap(),
            ],
        );
        assert_eq!(out.status.code(), Some(status), "{what}");
        let written = std::fs::read(findings.join(file)).unwrap();
        assert_eq!(written, what.as_bytes(), "{what}");
    }
}
