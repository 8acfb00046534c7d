//! A/B assignment in `topsellers serve` against real services: sticky arms
//! that agree between two processes and across a restart, a salt that
//! reshuffles, exposures counted per arm (not for an explicit variant),
//! ETag/304 per arm, the README's hash recomputed in Python, and bad
//! experiments refused at start with exit 2.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use common::http::{publish_results, request, serve_dynamo, Response, Serve};
use common::services::{dynamo_env, DynamoLocal, Redis};
use common::{root, topsellers};

const ARMS: &str = "fast=10,default=80,slow=10";
const USERS: usize = 400;

/// Publishes variants `default`, `fast` and `slow` of category `toys`
/// (each with its own items, so a body shows which variant it is).
fn publish(db: &DynamoLocal, redis: &Redis, dir: &Path) {
    let csv = dir.join("results.csv");
    let mut f = std::fs::File::create(&csv).unwrap();
    writeln!(f, "variant,category,rank,item_id,score,window_s,as_of").unwrap();
    for (v, variant) in ["default", "fast", "slow"].iter().enumerate() {
        for r in 0..5 {
            let score = 50.0 / (r as f64 + 1.0);
            let item = v * 100 + r;
            writeln!(
                f,
                "{variant},toys,{},{item},{score:?},86400,2026-10-15T00:00:00Z",
                r + 1
            )
            .unwrap();
        }
    }
    drop(f);
    publish_results(&db.url(), &redis.url(), &csv);
}

fn experiment(salt: &str) -> Vec<String> {
    [
        "--experiment-name",
        "decay",
        "--experiment-salt",
        salt,
        "--experiment-arms",
        ARMS,
    ]
    .map(String::from)
    .to_vec()
}

fn start(db: &DynamoLocal, redis: &Redis, args: &[String]) -> Serve {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    serve_dynamo(&db.url(), &redis.url(), &args)
}

/// The arm `serve` gives `user`, checking that the body, the headers and
/// the ETag all name it. `by_header` sends the id as `X-User-Id`.
fn arm(serve: &Serve, user: &str, by_header: bool) -> String {
    let r = if by_header {
        request(serve.port, "/v1/top-sellers/toys", &[("X-User-Id", user)])
    } else {
        serve.get(&format!("/v1/top-sellers/toys?user={user}"))
    };
    assert_eq!(r.status, 200, "{}", r.body);
    let body = r.json();
    let arm = body["arm"].as_str().unwrap().to_string();
    assert_eq!(body["experiment"], "decay");
    assert_eq!(body["variant"], arm.as_str(), "the arm's variant is served");
    assert_eq!(
        r.header("X-Experiment"),
        Some(format!("decay={arm}").as_str())
    );
    assert_eq!(r.header("Vary"), Some("X-User-Id"));
    assert!(r
        .header("ETag")
        .unwrap()
        .contains(&format!("-{arm}-5@decay")));
    arm
}

fn arms(serve: &Serve, by_header: bool) -> BTreeMap<String, String> {
    (0..USERS)
        .map(|u| {
            let user = format!("user-{u}");
            let a = arm(serve, &user, by_header);
            (user, a)
        })
        .collect()
}

fn exposures(serve: &Serve, arm: &str) -> f64 {
    serve.metric(&format!(
        "topsellers_serve_experiment_exposures_total{{experiment=\"decay\",arm=\"{arm}\"}}"
    ))
}

#[test]
fn arms_are_sticky_across_processes_and_restarts_and_a_new_salt_reshuffles() {
    let tmp = tempfile::tempdir().unwrap();
    let (db, redis) = (DynamoLocal::start(), Redis::start());
    publish(&db, &redis, tmp.path());
    let one = start(&db, &redis, &experiment("2026-11"));
    let two = start(&db, &redis, &experiment("2026-11"));

    let first = arms(&one, false);
    assert_eq!(arms(&two, true), first, "two processes, query and header");
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for a in first.values() {
        *counts.entry(a.as_str()).or_default() += 1;
    }
    assert_eq!(counts.len(), 3, "{counts:?}");
    for (arm, n) in &counts {
        assert_eq!(exposures(&one, arm), *n as f64, "{arm}");
    }

    // No user: the default variant, no experiment; an explicit variant
    // wins over the arm and is not an exposure.
    let plain = one.get("/v1/top-sellers/toys");
    assert_eq!(plain.json()["variant"], "default");
    assert!(plain.json().get("arm").is_none() && plain.header("X-Experiment").is_none());
    let explicit = one.get("/v1/top-sellers/toys?user=user-0&variant=slow");
    assert_eq!(explicit.json()["variant"], "slow");
    assert!(explicit.json().get("experiment").is_none());
    assert!(explicit.header("X-Experiment").is_none());
    let total: f64 = ["fast", "default", "slow"]
        .iter()
        .map(|a| exposures(&one, a))
        .sum();
    assert_eq!(total, USERS as f64, "no exposure without an assignment");
    let both = request(
        one.port,
        "/v1/top-sellers/toys?user=a",
        &[("X-User-Id", "b")],
    );
    assert_eq!(both.status, 400, "{}", both.body);

    // A restart keeps every assignment.
    drop(one);
    let restarted = start(&db, &redis, &experiment("2026-11"));
    assert_eq!(arms(&restarted, false), first, "after a restart");

    // The README's function, recomputed in Python, gives the same arms.
    let file = tmp.path().join("assignments.csv");
    let mut text = String::from("user,arm\n");
    for (user, arm) in &first {
        text.push_str(&format!("{user},{arm}\n"));
    }
    std::fs::write(&file, text).unwrap();
    let python = root().join(".venv/bin/python");
    let python = if python.exists() {
        python.into_os_string()
    } else {
        "python3".into()
    };
    let out = std::process::Command::new(python)
        .arg(root().join("scripts/check/ab_assign.py"))
        .args(["--salt", "2026-11", "--arms", ARMS])
        .arg(&file)
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    // Another salt moves about 1 − (0.1² + 0.8² + 0.1²) = 34% of users.
    let other = start(&db, &redis, &experiment("2026-12"));
    let moved = arms(&other, false)
        .iter()
        .filter(|(u, a)| first[*u] != **a)
        .count();
    assert!(
        (USERS / 5..USERS / 2).contains(&moved),
        "{moved} of {USERS} users changed arm"
    );
}

#[test]
fn etags_and_304_hold_per_arm() {
    let tmp = tempfile::tempdir().unwrap();
    let (db, redis) = (DynamoLocal::start(), Redis::start());
    publish(&db, &redis, tmp.path());
    let serve = start(&db, &redis, &experiment("etag"));
    let users = arms(&serve, false);
    let of = |arm: &str| users.iter().find(|(_, a)| *a == arm).unwrap().0.clone();
    let (fast, default) = (of("fast"), of("default"));
    let get = |user: &str, tag: &str| -> Response {
        request(
            serve.port,
            &format!("/v1/top-sellers/toys?user={user}"),
            &[("If-None-Match", tag)],
        )
    };
    let tag_of = |user: &str| get(user, "\"none\"").header("ETag").unwrap().to_string();
    let (fast_tag, default_tag) = (tag_of(&fast), tag_of(&default));
    assert_ne!(fast_tag, default_tag);

    let before = exposures(&serve, "fast");
    let same = get(&fast, &fast_tag);
    assert_eq!(same.status, 304);
    assert_eq!(same.header("X-Experiment"), Some("decay=fast"));
    assert_eq!(same.header("ETag"), Some(fast_tag.as_str()));
    assert_eq!(
        exposures(&serve, "fast"),
        before + 1.0,
        "a 304 is an exposure"
    );
    assert_eq!(get(&default, &default_tag).status, 304);
    // Another arm's tag, or the tag of the answer without an experiment
    // (same variant, a body without the experiment's fields), is a 200.
    assert_eq!(get(&fast, &default_tag).status, 200);
    let plain_tag = serve
        .get("/v1/top-sellers/toys")
        .header("ETag")
        .unwrap()
        .to_string();
    assert_ne!(plain_tag, default_tag);
    assert_eq!(get(&default, &plain_tag).status, 200);
}

#[test]
fn bad_experiments_are_refused_at_start_with_exit_2() {
    let tmp = tempfile::tempdir().unwrap();
    let (db, redis) = (DynamoLocal::start(), Redis::start());
    publish(&db, &redis, tmp.path());
    for (salt, arms, why) in [
        ("s", "fast=10,default=80", "sum to 90%, not 100%"),
        ("", "default=100", "salt must be 1 to 256 bytes"),
        (
            "s",
            "fast=10,default=80,steady=10",
            "arm(s) steady are not published variants",
        ),
        ("s", "fast=50,fast=50", "\"fast\" is given twice"),
    ] {
        topsellers()
            .envs(dynamo_env(&db.url()))
            .args(["serve", "--table", "topsellers", "--listen", "127.0.0.1:0"])
            .arg("--redis")
            .arg(redis.url())
            .args([
                "--experiment-name",
                "decay",
                "--experiment-salt",
                salt,
                "--experiment-arms",
                arms,
            ])
            .assert()
            .code(2)
            .stderr(predicates::str::contains(why));
    }
    topsellers()
        .args([
            "serve",
            "--table",
            "topsellers",
            "--redis",
            "redis://127.0.0.1:1",
        ])
        .args([
            "--experiment-name",
            "decay",
            "--experiment-arms",
            "default=100",
        ])
        .assert()
        .code(2)
        .stderr(predicates::str::contains(
            "the experiment has no salt: give --experiment-salt",
        ));
}
