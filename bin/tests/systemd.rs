//! The systemd units in scripts/systemd/ (the job, its timer and the read
//! API) pass `systemd-analyze verify`
//! (with ExecStart pointed at the binary under test, which must exist for
//! the check), and the example config is a valid `run` config.

#![allow(clippy::unwrap_used)]

mod common;

use std::process::Command;

use common::{root, topsellers};
use predicates::str::contains;

#[test]
fn units_verify() {
    let dir = tempfile::tempdir().unwrap();
    let units = root().join("scripts/systemd");
    let bin = assert_cmd::cargo::cargo_bin("topsellers");
    let names = [
        "topsellers.service",
        "topsellers.timer",
        "topsellers-serve.service",
        "topsellers-fresh.service",
        "topsellers-fresh.timer",
    ];
    for name in names {
        let text = std::fs::read_to_string(units.join(name)).unwrap();
        let text = text.replace("/usr/local/bin/topsellers", bin.to_str().unwrap());
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .args(names.iter().map(|n| dir.path().join(n)))
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run systemd-analyze ({e}): scripts/install-deps.sh installs the Debian package systemd")
        });
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "systemd-analyze verify failed:\n{stderr}"
    );
    let ours: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("topsellers.") || l.contains("topsellers-serve."))
        .collect();
    assert!(
        ours.is_empty(),
        "warnings about the units:\n{}",
        ours.join("\n")
    );
}

#[test]
fn service_runs_the_job_sandboxed() {
    let text = std::fs::read_to_string(root().join("scripts/systemd/topsellers.service")).unwrap();
    for line in [
        "Type=oneshot",
        "ExecStart=/usr/local/bin/topsellers run --config /etc/topsellers/topsellers.toml",
        "User=topsellers",
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
        "PrivateTmp=yes",
        "ProtectHome=yes",
    ] {
        assert!(text.lines().any(|l| l == line), "{line} is missing");
    }
    assert!(text.lines().any(|l| l.starts_with("TimeoutStartSec=")));
    assert!(text.lines().any(|l| l.starts_with("ReadWritePaths=")));
    let timer = std::fs::read_to_string(root().join("scripts/systemd/topsellers.timer")).unwrap();
    for line in ["Persistent=true", "Unit=topsellers.service"] {
        assert!(timer.lines().any(|l| l == line), "{line} is missing");
    }
    assert!(timer.lines().any(|l| l.starts_with("RandomizedDelaySec=")));
}

#[test]
fn serve_unit_restarts_and_stops_gracefully() {
    let text =
        std::fs::read_to_string(root().join("scripts/systemd/topsellers-serve.service")).unwrap();
    for line in [
        "ExecStart=/usr/local/bin/topsellers serve",
        "Restart=always",
        "KillSignal=SIGTERM",
        "User=topsellers",
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
        "WantedBy=multi-user.target",
    ] {
        assert!(text.lines().any(|l| l == line), "{line} is missing");
    }
    assert!(text.lines().any(|l| l.starts_with("TimeoutStopSec=")));
}

#[test]
fn fresh_units_run_an_incremental_cycle_every_minute() {
    let text =
        std::fs::read_to_string(root().join("scripts/systemd/topsellers-fresh.service")).unwrap();
    for line in [
        "Type=oneshot",
        "ExecStart=/usr/local/bin/topsellers run --config /etc/topsellers/topsellers.toml --incremental --report /var/lib/topsellers/fresh-report.json --metrics-file /var/lib/node_exporter/textfile_collector/topsellers-fresh.prom",
        "User=topsellers",
        "ProtectSystem=strict",
    ] {
        assert!(text.lines().any(|l| l == line), "{line} is missing");
    }
    let timer =
        std::fs::read_to_string(root().join("scripts/systemd/topsellers-fresh.timer")).unwrap();
    for line in [
        "OnCalendar=*-*-* *:*:00 UTC",
        "Unit=topsellers-fresh.service",
    ] {
        assert!(timer.lines().any(|l| l == line), "{line} is missing");
    }
}

#[test]
fn example_config_is_valid() {
    // A dry run gets as far as the lake (an S3 bucket that is not there):
    // every setting of the example parsed and validated.
    let dir = tempfile::tempdir().unwrap();
    topsellers()
        .args(["run", "--dry-run", "--config"])
        .arg(root().join("scripts/systemd/topsellers.toml"))
        .arg("--lock-file")
        .arg(dir.path().join("lock"))
        .arg("--out")
        .arg(dir.path().join("r.csv"))
        .env("TOPSELLERS_CACHE_DIR", dir.path().join("cache"))
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .env("AWS_ACCESS_KEY_ID", "x")
        .env("AWS_SECRET_ACCESS_KEY", "x")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .timeout(std::time::Duration::from_secs(120))
        .assert()
        .code(1)
        .stderr(contains("cannot sync s3://example-shop-lake/purchases/"));
}
