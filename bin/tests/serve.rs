//! `topsellers serve` against real services (redis-server, DynamoDB Local)
//! on free ports: hits, read-through misses that repopulate Redis, Redis or
//! DynamoDB down, both down, ETag and 304, hostile parameters, a stampede
//! on a cold key (one DynamoDB read, counted by a proxy in front of
//! DynamoDB Local as well as by the server), SIGTERM draining, and the
//! request timeout and in-flight limit (DynamoDB's answers held at the
//! proxy).

#![allow(clippy::unwrap_used)]

mod common;

use std::io::Write;
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use common::http::{raise_open_files, request, send, serve_dynamo, url, Published, Response};
use common::services::{dynamo_env, CountingProxy, Redis};
use common::topsellers;

const AS_OF: &str = "2026-10-15T00:00:00Z";
const GENERATION: i64 = 1_792_022_400_000;
const NEWER_AS_OF: &str = "2026-10-16T00:00:00Z";
const NEWER_GENERATION: i64 = 1_792_108_800_000;
const BOARDS: &str = "Toys & Games/Boards";

/// A results CSV: variants `default` and `fast`, categories `toys`,
/// [`BOARDS`] and `c00000`…`c00009`, five items each.
fn write_results(path: &Path) {
    write_results_as_of(path, AS_OF);
}

/// [`write_results`] of the run at `as_of`.
fn write_results_as_of(path: &Path, as_of: &str) {
    let mut f = std::fs::File::create(path).unwrap();
    writeln!(f, "variant,category,rank,item_id,score,window_s,as_of").unwrap();
    let mut categories = vec!["toys".to_string(), BOARDS.to_string()];
    categories.extend((0..10).map(|c| format!("c{c:05}")));
    for variant in ["default", "fast"] {
        for (c, category) in categories.iter().enumerate() {
            for r in 0..5 {
                let score = 100.0 / (r as f64 + 1.0) + c as f64 * 0.5;
                let item = c * 100 + r + if variant == "fast" { 7 } else { 0 };
                writeln!(
                    f,
                    "{variant},{category},{},{item},{score:?},2592000,{as_of}",
                    r + 1
                )
                .unwrap();
            }
        }
    }
}

fn published() -> Published {
    Published::start(write_results)
}

fn redis_cmd<T: redis::FromRedisValue>(redis: &Redis, cmd: &mut redis::Cmd) -> T {
    let client = redis::Client::open(redis.url()).unwrap();
    let mut con = client.get_connection().unwrap();
    cmd.query(&mut con).unwrap()
}

#[test]
fn hits_misses_etags_and_bad_input() {
    let mut p = published();
    let serve = serve_dynamo(&p.db.url(), &p.redis.url(), &["--local-ttl", "0"]);
    let key = "topsellers:v1:default:toys";
    let stored: String = redis_cmd(&p.redis, redis::cmd("GET").arg(key));

    // A Redis hit: the body publish stored, byte for byte.
    let hit = serve.get(&url("toys"));
    assert_eq!(hit.status, 200, "{hit:?}");
    assert_eq!(hit.body, stored);
    assert_eq!(hit.header("content-type"), Some("application/json"));
    assert_eq!(hit.header("cache-control"), Some("public, max-age=5"));
    let etag = format!("\"{GENERATION}-default-5\"");
    assert_eq!(hit.header("etag"), Some(etag.as_str()));
    let body = hit.json();
    assert_eq!(body["category"], "toys");
    assert_eq!(body["variant"], "default");
    assert_eq!(body["as_of"], AS_OF);
    assert_eq!(body["generation"], GENERATION);
    assert_eq!(
        body["items"][0],
        serde_json::json!({"rank": 1, "item_id": 0, "score": 100.0})
    );
    assert_eq!(
        serve.metric("topsellers_serve_cache_hits_total{layer=\"redis\"}"),
        1.0
    );

    // ETag and If-None-Match.
    let not_modified = request(serve.port, &url("toys"), &[("If-None-Match", &etag)]);
    assert_eq!(not_modified.status, 304);
    assert_eq!(not_modified.body, "");
    assert_eq!(not_modified.header("etag"), Some(etag.as_str()));
    let two = request(
        serve.port,
        &format!("{}?limit=2", url("toys")),
        &[("If-None-Match", &etag)],
    );
    assert_eq!(two.status, 200, "another limit is another representation");
    assert_eq!(two.json()["items"].as_array().unwrap().len(), 2);
    assert_eq!(
        two.header("etag"),
        Some(format!("\"{GENERATION}-default-2\"").as_str())
    );
    let fast = serve.get(&format!("{}?variant=fast&limit=5", url("toys")));
    assert_eq!(fast.json()["variant"], "fast");
    assert_eq!(fast.json()["items"][0]["item_id"], 7);
    assert_ne!(fast.header("etag"), Some(etag.as_str()));
    let boards = serve.get(&url(BOARDS));
    assert_eq!(boards.status, 200, "{boards:?}");
    assert_eq!(boards.json()["category"], BOARDS);

    // A miss goes to DynamoDB, and Redis gets the key back.
    let _: i64 = redis_cmd(&p.redis, redis::cmd("DEL").arg(key));
    let miss = serve.get(&url("toys"));
    assert_eq!((miss.status, &miss.body), (200, &stored));
    assert_eq!(serve.metric("topsellers_serve_dynamodb_reads_total"), 1.0);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let back: Option<String> = redis_cmd(&p.redis, redis::cmd("GET").arg(key));
        if back.is_some() {
            assert_eq!(
                back.as_deref(),
                Some(stored.as_str()),
                "Redis holds the body publish wrote"
            );
            break;
        }
        assert!(Instant::now() < deadline, "Redis was not repopulated");
        std::thread::sleep(Duration::from_millis(20));
    }
    let ttl = p.redis.ttl(key);
    assert!(
        (77_760..=86_400).contains(&ttl),
        "jittered 24 h TTL, got {ttl}"
    );
    assert_eq!(serve.metric("topsellers_serve_redis_writes_total"), 1.0);
    assert_eq!(serve.get(&url("toys")).body, stored);
    assert_eq!(
        serve.metric("topsellers_serve_dynamodb_reads_total"),
        1.0,
        "served from Redis again"
    );

    // Bad parameters: 400 with a JSON error; unknown: 404.
    let long = "x".repeat(129);
    let bad = [
        url("a#b"),
        url("café"),
        url(&long),
        format!("{}?limit=0", url("toys")),
        format!("{}?limit=6000", url("toys")),
        format!("{}?limit=101", url("toys")),
        format!("{}?limit=ten", url("toys")),
        format!("{}?limit=", url("toys")),
        format!("{}?page=2", url("toys")),
        format!("{}?limit=1&limit=2", url("toys")),
        format!("{}?variant=a%0D%0AFLUSHALL", url("toys")),
        format!("{}?variant=", url("toys")),
        "/v1/top-sellers/%FF".to_string(),
    ];
    for target in &bad {
        let r = serve.get(target);
        assert_eq!(r.status, 400, "{target}: {r:?}");
        assert!(
            r.json()["error"].as_str().unwrap().len() > 10,
            "{target}: {r:?}"
        );
    }
    assert!(
        serve.get(&url(&"x".repeat(128))).status == 404,
        "128 bytes is allowed"
    );
    for target in [
        url("nope"),
        format!("{}?variant=slow", url("toys")),
        "/v2/x".into(),
    ] {
        let r = serve.get(&target);
        assert_eq!(r.status, 404, "{target}: {r:?}");
        assert!(r.json()["error"].is_string());
    }
    let huge = serve.get(&format!("{}?limit={}", url("toys"), "1".repeat(3000)));
    assert_eq!(huge.status, 414, "{huge:?}");
    let big_header = "y".repeat(10_000);
    let r = request(serve.port, &url("toys"), &[("X-Filler", &big_header)]);
    assert_eq!(r.status, 431, "{r:?}");
    let keys: Vec<String> = redis_cmd(&p.redis, redis::cmd("KEYS").arg("*"));
    assert_eq!(keys.len(), 24, "nothing but the published keys: {keys:?}");
    assert_eq!(
        serve.metric("topsellers_serve_requests_total{route=\"top_sellers\",status=\"400\"}"),
        bad.len() as f64
    );
    assert!(
        serve.metric("topsellers_serve_request_duration_seconds_count{route=\"top_sellers\"}")
            > 20.0
    );
    let ready = serve.get("/readyz");
    assert_eq!(ready.status, 200, "{ready:?}");

    // DynamoDB down, Redis warm: still served.
    p.db.kill();
    let r = serve.get(&url("toys"));
    assert_eq!((r.status, &r.body), (200, &stored));
    let ready = serve.get("/readyz");
    assert_eq!(ready.status, 503);
    assert_eq!(ready.json()["redis"]["ok"], true);
    assert_eq!(ready.json()["dynamodb"]["ok"], false);
}

#[test]
fn redis_down_reads_dynamodb_and_both_down_is_503() {
    let mut p = published();
    let serve = serve_dynamo(
        &p.db.url(),
        &p.redis.url(),
        &["--local-ttl", "0", "--negative-ttl", "0"],
    );
    let stored: String = redis_cmd(
        &p.redis,
        redis::cmd("GET").arg("topsellers:v1:default:c00003"),
    );
    assert_eq!(serve.get(&url("c00003")).body, stored);

    p.redis.stop();
    for _ in 0..3 {
        let r = serve.get(&url("c00003"));
        assert_eq!((r.status, &r.body), (200, &stored), "from DynamoDB");
    }
    assert_eq!(
        serve.get(&url("unknown")).status,
        404,
        "DynamoDB answers absences too"
    );
    assert!(serve.metric("topsellers_serve_redis_errors_total") >= 1.0);
    assert!(
        serve.metric("topsellers_serve_redis_skipped_total") >= 1.0,
        "after a failure Redis is skipped for the back-off"
    );
    assert!(serve.metric("topsellers_serve_dynamodb_reads_total") >= 3.0);
    let ready = serve.get("/readyz");
    assert_eq!(ready.status, 503);
    assert_eq!(ready.json()["redis"]["ok"], false, "{}", ready.body);
    assert_eq!(ready.json()["dynamodb"]["ok"], true, "{}", ready.body);

    p.db.kill();
    let r = serve.get(&url("c00003"));
    assert_eq!(r.status, 503, "{r:?}");
    assert!(r.json()["error"].as_str().unwrap().contains("unavailable"));
    assert_eq!(serve.get("/healthz").status, 200);
    assert!(serve.metric("topsellers_serve_dynamodb_errors_total") >= 1.0);
}

#[test]
fn a_stampede_on_a_cold_key_makes_one_dynamodb_read_and_sigterm_drains() {
    raise_open_files(4096);
    let p = published();
    let proxy = CountingProxy::start(p.db.port);
    let mut serve = serve_dynamo(&proxy.url(), &p.redis.url(), &["--dynamodb-timeout", "10s"]);
    let _: () = redis_cmd(&p.redis, &mut redis::cmd("FLUSHALL"));
    assert_eq!(proxy.get_items(), 0);

    // 1,000 connections open, then all send at once.
    let n = 1000;
    let barrier = Arc::new(Barrier::new(n));
    let port = serve.port;
    let target = url("toys");
    let threads: Vec<_> = (0..n)
        .map(|_| {
            let (barrier, target) = (barrier.clone(), target.clone());
            std::thread::spawn(move || {
                let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
                s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
                barrier.wait();
                send(&mut s, &target, &[])
            })
        })
        .collect();
    let responses: Vec<Response> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    let first = &responses[0].body;
    for r in &responses {
        assert_eq!((r.status, &r.body), (200, first));
    }
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(first).unwrap()["category"],
        "toys"
    );
    assert_eq!(
        proxy.get_items(),
        1,
        "GetItem requests DynamoDB Local received"
    );
    assert_eq!(serve.metric("topsellers_serve_dynamodb_reads_total"), 1.0);
    let local = serve.metric("topsellers_serve_cache_hits_total{layer=\"local\"}");
    let coalesced = serve.metric("topsellers_serve_coalesced_waits_total");
    let redis_hits = serve.metric("topsellers_serve_cache_hits_total{layer=\"redis\"}");
    assert_eq!(local + coalesced + redis_hits + 1.0, n as f64);

    // A flood of one unknown category: one read, then the absence is remembered.
    let unknown: Vec<_> = (0..50)
        .map(|_| std::thread::spawn(move || request(port, "/v1/top-sellers/nope", &[]).status))
        .collect();
    assert!(unknown.into_iter().all(|t| t.join().unwrap() == 404));
    assert_eq!(proxy.get_items(), 2);

    // SIGTERM with a request in flight (DynamoDB held for 1.5 s): the
    // request completes, then serve exits 0.
    proxy
        .delay_ms
        .store(1500, std::sync::atomic::Ordering::SeqCst);
    let slow = std::thread::spawn(move || request(port, &url("c00007"), &[]));
    let deadline = Instant::now() + Duration::from_secs(10);
    while proxy.get_items() < 3 {
        assert!(
            Instant::now() < deadline,
            "the slow request never reached DynamoDB"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let pid = serve.child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let r = slow.join().unwrap();
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.json()["category"], "c00007");
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(status) = serve.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "serve did not exit after SIGTERM:\n{}",
            serve.log()
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status}:\n{}", serve.log());
    assert!(
        TcpStream::connect(("127.0.0.1", port)).is_err(),
        "no longer listening"
    );
    assert!(
        serve.log().contains("finishing in-flight requests"),
        "{}",
        serve.log()
    );
}

#[test]
fn a_slow_request_times_out_and_requests_past_the_limit_are_refused() {
    let p = published();
    let proxy = CountingProxy::start(p.db.port);
    let _: () = redis_cmd(&p.redis, &mut redis::cmd("FLUSHALL"));
    proxy.responses.close();

    // DynamoDB's answer held: 503 once the request timeout (default) runs out.
    let quick = serve_dynamo(&proxy.url(), &p.redis.url(), &["--dynamodb-timeout", "60s"]);
    let r = quick.get(&url("toys"));
    assert_eq!(r.status, 503, "{r:?}");
    assert!(
        r.json()["error"].as_str().unwrap().contains("took longer"),
        "{r:?}"
    );
    assert_eq!(r.header("cache-control"), Some("no-store"));
    assert_eq!(
        quick.metric("topsellers_serve_requests_total{route=\"top_sellers\",status=\"503\"}"),
        1.0
    );

    // One request in flight at most: a second is refused while the first
    // waits on DynamoDB; probes and metrics are not limited.
    let one = serve_dynamo(
        &proxy.url(),
        &p.redis.url(),
        &[
            "--max-in-flight",
            "1",
            "--request-timeout",
            "60s",
            "--dynamodb-timeout",
            "60s",
        ],
    );
    let port = one.port;
    let first = std::thread::spawn(move || request(port, &url("c00001"), &[]));
    assert!(
        proxy.responses.wait_for_waiting(2, Duration::from_secs(30)),
        "the first request's read never reached DynamoDB"
    );
    let second = one.get(&url("c00002"));
    assert_eq!(second.status, 503, "{second:?}");
    assert!(
        second.json()["error"]
            .as_str()
            .unwrap()
            .contains("in flight"),
        "{second:?}"
    );
    assert_eq!(one.get("/healthz").status, 200);
    assert!(
        one.metric("topsellers_serve_requests_total{route=\"top_sellers\",status=\"503\"}") == 1.0
    );
    proxy.responses.open();
    let first = first.join().unwrap();
    assert_eq!(
        (first.status, &first.json()["category"]),
        (200, &serde_json::json!("c00001"))
    );
    assert_eq!(
        one.get(&url("c00002")).status,
        200,
        "served once the first is done"
    );
}

#[test]
fn a_stalled_dynamodb_attempt_is_retried() {
    let p = published();
    let proxy = CountingProxy::start(p.db.port);
    let _: () = redis_cmd(&p.redis, &mut redis::cmd("FLUSHALL"));
    // --dynamodb-timeout 1s per attempt (the default), two attempts.
    let serve = serve_dynamo(&proxy.url(), &p.redis.url(), &["--request-timeout", "60s"]);
    proxy.responses.close();
    let port = serve.port;
    let asked = std::thread::spawn(move || request(port, &url("toys"), &[]));
    // The first attempt's answer stays held past its timeout; once the
    // retry's answer is at the gate too, both pass.
    let retried = proxy.responses.wait_for_waiting(2, Duration::from_secs(15));
    proxy.responses.open();
    let r = asked.join().unwrap();
    assert!(retried, "no second GetItem attempt was made: {r:?}");
    assert_eq!(
        (r.status, &r.json()["category"]),
        (200, &serde_json::json!("toys")),
        "{r:?}"
    );
    assert_eq!(proxy.get_items(), 2);
    assert_eq!(serve.metric("topsellers_serve_dynamodb_reads_total"), 1.0);
}

#[test]
fn a_late_read_through_fill_never_replaces_a_newer_body() {
    let p = published();
    let proxy = CountingProxy::start(p.db.port);
    let serve = serve_dynamo(
        &proxy.url(),
        &p.redis.url(),
        &[
            "--local-ttl",
            "0",
            "--dynamodb-timeout",
            "60s",
            "--request-timeout",
            "120s",
        ],
    );
    let key = "topsellers:v1:default:toys";
    let _: i64 = redis_cmd(&p.redis, redis::cmd("DEL").arg(key));

    // A miss reads generation G from DynamoDB; its answer is held.
    proxy.responses.close();
    let port = serve.port;
    let late = std::thread::spawn(move || request(port, &url("toys"), &[]));
    assert!(
        proxy.responses.wait_for_waiting(1, Duration::from_secs(30)),
        "the read never reached DynamoDB"
    );
    // Meanwhile G+1 is published: DynamoDB, then Redis.
    let csv = p.tmp.path().join("newer.csv");
    write_results_as_of(&csv, NEWER_AS_OF);
    topsellers()
        .envs(dynamo_env(&p.db.url()))
        .args(["publish", "--table", "topsellers", "--redis"])
        .arg(p.redis.url())
        .arg("--results")
        .arg(&csv)
        .assert()
        .success();
    let newer: String = redis_cmd(&p.redis, redis::cmd("GET").arg(key));
    assert!(newer.contains(&format!("\"generation\":{NEWER_GENERATION},")));

    // Then G's answer lands and the read fills Redis with it.
    proxy.responses.open();
    let r = late.join().unwrap();
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(
        r.json()["generation"],
        GENERATION,
        "read before the publish"
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while serve.metric("topsellers_serve_redis_writes_total")
        + serve.metric("topsellers_serve_redis_fills_refused_total")
        < 1.0
    {
        assert!(Instant::now() < deadline, "the fill never ran");
        std::thread::sleep(Duration::from_millis(20));
    }
    let after: String = redis_cmd(&p.redis, redis::cmd("GET").arg(key));
    assert_eq!(
        after, newer,
        "the late fill put generation {GENERATION} back over {NEWER_GENERATION}"
    );
    assert_eq!(
        serve.metric("topsellers_serve_redis_fills_refused_total"),
        1.0
    );
    assert_eq!(
        serve.get(&url("toys")).json()["generation"],
        NEWER_GENERATION
    );
}

#[test]
fn bad_settings_are_usage_errors() {
    for (args, why) in [
        (vec!["--table", "x"], "table name"),
        (
            vec!["--table", "topsellers", "--listen", "localhost"],
            "--listen",
        ),
        (
            vec!["--table", "topsellers", "--max-limit", "0"],
            "--max-limit",
        ),
        (
            vec!["--table", "topsellers", "--default-variant", "a b"],
            "--default-variant",
        ),
    ] {
        topsellers()
            .args(["serve", "--redis", "redis://127.0.0.1:1"])
            .args(&args)
            .assert()
            .code(2)
            .stderr(predicates::str::contains(why));
    }
}

/// `GET /v1/explain/{category}/{item}`: 503 without a lake; with one, the
/// JSON of `topsellers explain --json` at the published generation's
/// `as_of`, for every variant or those asked; 404 for an unknown
/// category, item or variant.
#[test]
fn explain_answers_what_the_cli_explains() {
    let p = published();
    let bare = serve_dynamo(&p.db.url(), &p.redis.url(), &[]);
    let r = bare.get("/v1/explain/c00000/1");
    assert_eq!(r.status, 503);
    assert!(
        r.json()["error"]
            .as_str()
            .unwrap()
            .contains("no lake configured"),
        "{}",
        r.body
    );
    drop(bare);

    let tmp = tempfile::tempdir().unwrap();
    let lake = tmp.path().join("lake");
    common::gen_lake(
        &lake,
        &[
            "--purchases",
            "20k",
            "--categories",
            "4",
            "--days",
            "40",
            "--quantity",
        ],
    );
    let csv = tmp.path().join("top.csv");
    topsellers()
        .args([
            "compute",
            "--as-of",
            AS_OF,
            "--variant",
            "default=7d",
            "--top",
            "5",
        ])
        .arg("--lake")
        .arg(&lake)
        .arg("--out")
        .arg(&csv)
        .assert()
        .success();
    let item = common::read_csv(&csv)[&("default".to_string(), "c00001".to_string())].2[2]
        .item
        .clone();
    let serve = serve_dynamo(
        &p.db.url(),
        &p.redis.url(),
        &[
            "--lake",
            lake.to_str().unwrap(),
            "--variants",
            "default=7d,fast=1d",
            "--max-limit",
            "5",
        ],
    );
    let cli = |variants: &[&str]| -> serde_json::Value {
        let mut cmd = topsellers();
        cmd.args(["explain", "--json", "--as-of", AS_OF, "--top", "5"])
            .args(["--category", "c00001", "--item", &item])
            .arg("--lake")
            .arg(&lake);
        for v in variants {
            cmd.args(["--variant", v]);
        }
        serde_json::from_slice(&common::stdout_of(&mut cmd)).unwrap()
    };
    // The published generation of c00001 is AS_OF: the same explanation.
    let r = serve.get(&format!("/v1/explain/c00001/{item}"));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json(), cli(&["default=7d", "fast=1d"]));
    assert_eq!(r.json()["variants"][0]["rank"], 3);
    let r = serve.get(&format!("/v1/explain/c00001/{item}?variant=fast"));
    assert_eq!(r.json(), cli(&["fast=1d"]));
    let r = serve.get(&format!(
        "/v1/explain/c00001/{item}?variant=fast&as_of=2026-10-15T00%3A00%3A00Z"
    ));
    assert_eq!(r.json(), cli(&["fast=1d"]));
    for (target, why) in [
        (
            "/v1/explain/nope/1".to_string(),
            "category \"nope\" is not in the lake",
        ),
        (
            "/v1/explain/c00001/424242".to_string(),
            "item 424242 has no counted purchase",
        ),
        (
            format!("/v1/explain/c00001/{item}?variant=slow"),
            "no variant \"slow\"",
        ),
    ] {
        let r = serve.get(&target);
        assert_eq!(r.status, 404, "{target}: {}", r.body);
        assert!(
            r.json()["error"].as_str().unwrap().contains(why),
            "{target}: {}",
            r.body
        );
    }
    let r = serve.get(&format!("/v1/explain/c00001/{item}?as_of=soon"));
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(
        serve.metric("topsellers_serve_requests_total{route=\"explain\",status=\"200\"}") >= 3.0
    );
}
