//! The variant comparison page (`/ui`) in a real browser: headless
//! Chromium loads it from a real `serve` (DynamoDB Local, Redis), opens a
//! category through the URL fragment, and the DOM it leaves must show the
//! same items, in the same order, as the read API; hostile category names
//! and item ids must show as text; the backtest table and the explanation
//! view must be there (with a lake: what `/v1/explain` answers; without:
//! that the lake is not available); and a screenshot is saved. Fails (never skips) when
//! Chromium is missing: scripts/install-deps.sh installs it.

#![allow(clippy::unwrap_used)]

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::http::{publish_results, serve_dynamo};
use common::services::{DynamoLocal, Redis};

const SCRIPT_CATEGORY: &str = "<script>document.title='pwned'</script>";
const QUOTED_CATEGORY: &str = "say \"hi\" & 'bye'";
const HOSTILE_ITEM: &str = "<img src=x onerror=\"document.title='pwned'\">";
const VARIANTS: [(&str, u64); 3] = [
    ("default", 2_592_000),
    ("fast", 86_400),
    ("slow", 7_776_000),
];

/// A CSV field, quoted when it must be.
fn field(text: &str) -> String {
    if text.contains([',', '"']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

/// Three variants of three categories (two of them hostile names), whose
/// rankings differ so that the page has moves to show; one item id is
/// hostile markup.
fn publish(db: &DynamoLocal, redis: &Redis, dir: &Path) {
    let csv = dir.join("results.csv");
    let mut f = std::fs::File::create(&csv).unwrap();
    writeln!(f, "variant,category,rank,item_id,score,window_s,as_of").unwrap();
    for (v, (variant, window)) in VARIANTS.iter().enumerate() {
        for category in ["toys", SCRIPT_CATEGORY, QUOTED_CATEGORY] {
            for r in 0..8 {
                let item = if r == 3 {
                    HOSTILE_ITEM.to_string()
                } else {
                    format!("sku-{}", (r * 3 + v * 2) % 11)
                };
                let score = 40.0 / (r as f64 + 1.0) + v as f64;
                writeln!(
                    f,
                    "{variant},{},{},{},{score:?},{window},2026-10-15T00:00:00Z",
                    field(category),
                    r + 1,
                    field(&item)
                )
                .unwrap();
            }
        }
    }
    drop(f);
    publish_results(&db.url(), &redis.url(), &csv);
}

/// A backtest report in the CSV columns of `backtest --out x.csv`, and a
/// chart (any PNG: the page only shows it).
fn backtest_files(dir: &Path) -> (PathBuf, PathBuf) {
    let report = dir.join("backtest.csv");
    let mut text = String::from("variant,as_of,category,purchases,hits,hit_rate,ndcg\n");
    for (variant, _) in VARIANTS {
        text.push_str(&format!(
            "{variant},2026-10-14T00:00:00Z,toys,120,48,0.4,0.52\n"
        ));
    }
    std::fs::write(&report, text).unwrap();
    let chart = dir.join("backtest.png");
    std::fs::copy(common::root().join("docs/ui.png"), &chart).unwrap();
    (report, chart)
}

/// Debian's Chromium, or a failure saying how to get it.
fn chromium() -> PathBuf {
    for candidate in ["/usr/bin/chromium", "/usr/bin/chromium-browser"] {
        if Path::new(candidate).exists() {
            return PathBuf::from(candidate);
        }
    }
    panic!(
        "chromium is not installed: scripts/install-deps.sh installs it (apt-get install chromium)"
    );
}

/// Runs headless Chromium on `url` with `args` (a 1400×1100 window unless
/// they give another), within a minute; returns its standard output.
fn browse(profile: &Path, url: &str, args: &[&str]) -> String {
    let size = ["--window-size=1400,1100"];
    let size: &[&str] = if args.iter().any(|a| a.starts_with("--window-size")) {
        &[]
    } else {
        &size
    };
    let mut child = Command::new(chromium())
        .args([
            "--headless",
            "--disable-gpu",
            "--no-sandbox",
            "--no-first-run",
            "--hide-scrollbars",
            "--virtual-time-budget=15000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(size)
        .args(args)
        .arg(url)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("chromium did not finish {url} within 60 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "chromium failed on {url}");
    String::from_utf8(out.stdout).unwrap()
}

/// The text of an attribute value as serialised in a DOM dump.
fn unescape(text: &str) -> String {
    text.replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&nbsp;", "\u{a0}")
        .replace("&amp;", "&")
}

/// The items the page shows for `variant`, in order (its rows'
/// `data-item`, checked against their `data-rank`).
fn shown_items(dom: &str, variant: &str) -> Vec<String> {
    let marker = format!("<tr class=\"item\" data-variant=\"{variant}\" data-rank=\"");
    dom.split(&marker)
        .skip(1)
        .enumerate()
        .map(|(i, rest)| {
            let (rank, rest) = rest.split_once('"').unwrap();
            assert_eq!(rank, (i + 1).to_string(), "{variant}: ranks in order");
            let rest = rest.strip_prefix(" data-item=\"").unwrap();
            unescape(rest.split_once('"').unwrap().0)
        })
        .collect()
}

fn fragment_value(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC).to_string()
}

#[test]
fn the_page_shows_what_the_api_serves_and_hostile_names_as_text() {
    let tmp = tempfile::tempdir().unwrap();
    let (db, redis) = (DynamoLocal::start(), Redis::start());
    publish(&db, &redis, tmp.path());
    let (report, chart) = backtest_files(tmp.path());
    let serve = serve_dynamo(
        &db.url(),
        &redis.url(),
        &[
            "--experiment-name",
            "decay",
            "--experiment-salt",
            "ui",
            "--experiment-arms",
            "fast=10,default=80,slow=10",
            "--backtest-report",
            report.to_str().unwrap(),
            "--backtest-chart",
            chart.to_str().unwrap(),
        ],
    );
    let base = format!("http://127.0.0.1:{}", serve.port);
    let profile = tmp.path().join("profile");

    let item = fragment_value(HOSTILE_ITEM);
    let url = format!("{base}/ui#category=toys&limit=6&item={item}&variant=fast");
    let dom = browse(&profile, &url, &["--dump-dom"]);
    assert!(
        dom.contains("data-ready=\"yes\""),
        "the page did not finish:\n{dom}"
    );

    // The same items, in the same order, as the read API.
    for (variant, _) in VARIANTS {
        let api = serve.get(&format!("/v1/top-sellers/toys?variant={variant}&limit=6"));
        assert_eq!(api.status, 200);
        let want: Vec<String> = api.json()["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["item_id"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(want.len(), 6);
        assert_eq!(shown_items(&dom, variant), want, "{variant}");
    }
    // Windows, moves against the default variant, the experiment.
    for text in [
        "window 30d",
        "window 1d",
        "window 90d",
        "class=\"move up\"",
        "class=\"move down\"",
        "class=\"move new\"",
        "A/B experiment decay: fast 10%, default 80%, slow 10%",
    ] {
        assert!(dom.contains(text), "{text} is not on the page:\n{dom}");
    }

    // Hostile names and ids are text: escaped in the dump, no element made
    // of them, the title untouched.
    assert!(dom.contains("<title>topsellers: compare variants</title>"));
    assert!(!dom.contains("pwned</title>"));
    assert!(
        dom.contains("&lt;script&gt;document.title='pwned'&lt;/script&gt;</button>"),
        "{dom}"
    );
    assert!(dom.contains("say \"hi\" &amp; 'bye'</button>"), "{dom}");
    assert!(
        dom.contains(
            "<td class=\"item-id\">&lt;img src=x onerror=\"document.title='pwned'\"&gt;</td>"
        ),
        "{dom}"
    );
    assert!(
        !dom.contains("<img src=\"x\""),
        "an item id became an element"
    );

    // The explanation view opened (serve has no lake: it says so, as
    // text), and the backtest table and chart.
    let explain = dom.split("<section id=\"explain\"").nth(1).unwrap();
    assert!(explain.starts_with('>'), "the explanation is hidden");
    assert!(
        explain.contains(
            "<p class=\"error\">The lake is not available to this server: no lake configured"
        ),
        "{explain}"
    );
    assert!(dom.contains("<table class=\"backtest\">"));
    assert!(dom.contains("<th>hit_rate</th>") && dom.contains("<td>0.52</td>"));
    assert!(dom
        .contains("<img id=\"backtest-chart\" alt=\"backtest chart\" src=\"/v1/backtest/chart?t="));

    // Choosing the script-named category: the API refuses the name (400),
    // and the page shows the name and the refusal as text.
    let hostile = fragment_value(SCRIPT_CATEGORY);
    let dom = browse(
        &profile,
        &format!("{base}/ui#category={hostile}"),
        &["--dump-dom"],
    );
    assert!(dom.contains("data-ready=\"yes\""));
    assert!(dom.contains("<span id=\"category-title\">&lt;script&gt;document.title='pwned'&lt;/script&gt;</span>"), "{dom}");
    assert!(dom.contains("<title>topsellers: compare variants</title>"));
    assert!(dom.contains("class=\"error\">category"), "{dom}");

    // A screenshot of the first view.
    let shot = Path::new(env!("CARGO_TARGET_TMPDIR")).join("ui.png");
    let _ = std::fs::remove_file(&shot);
    let url = format!("{base}/ui#category=toys&limit=6&item={item}&variant=fast");
    browse(
        &profile,
        &url,
        &[&format!("--screenshot={}", shot.display())],
    );
    let png = std::fs::read(&shot).unwrap();
    assert!(
        png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 10_000,
        "{} bytes",
        png.len()
    );
}

#[test]
fn the_explanation_view_shows_what_the_explain_endpoint_answers() {
    let tmp = tempfile::tempdir().unwrap();
    let lake = tmp.path().join("lake");
    common::gen_lake(
        &lake,
        &["--purchases", "20k", "--categories", "3", "--days", "40"],
    );
    let csv = tmp.path().join("results.csv");
    common::topsellers()
        .args(["compute", "--as-of", "2026-10-15T00:00:00Z", "--top", "5"])
        .args(["--variant", "default=7d", "--variant", "fast=1d"])
        .arg("--lake")
        .arg(&lake)
        .arg("--out")
        .arg(&csv)
        .assert()
        .success();
    let (db, redis) = (DynamoLocal::start(), Redis::start());
    publish_results(&db.url(), &redis.url(), &csv);
    // A real backtest of the lake: its JSON report and PNG chart.
    let (report, chart) = (tmp.path().join("bt.json"), tmp.path().join("bt.png"));
    common::topsellers()
        .args([
            "backtest",
            "--from",
            "2026-10-10T00:00:00Z",
            "--to",
            "2026-10-13T00:00:00Z",
        ])
        .args([
            "--variant",
            "default=7d",
            "--variant",
            "fast=1d",
            "--top",
            "5",
        ])
        .arg("--lake")
        .arg(&lake)
        .arg("--out")
        .arg(&report)
        .arg("--chart")
        .arg(&chart)
        .assert()
        .success();
    let serve = serve_dynamo(
        &db.url(),
        &redis.url(),
        &[
            "--lake",
            lake.to_str().unwrap(),
            "--variants",
            "default=7d,fast=1d",
            "--max-limit",
            "5",
            "--backtest-report",
            report.to_str().unwrap(),
            "--backtest-chart",
            chart.to_str().unwrap(),
        ],
    );
    let top = serve.get("/v1/top-sellers/c00001?variant=fast").json();
    let item = top["items"][2]["item_id"].to_string();
    let answer = serve.get(&format!("/v1/explain/c00001/{item}?variant=fast"));
    assert_eq!(answer.status, 200, "{}", answer.body);
    let answer = answer.json();
    assert_eq!(answer["variants"][0]["rank"], 3);

    let base = format!("http://127.0.0.1:{}", serve.port);
    let url = format!("{base}/ui#category=c00001&limit=5&item={item}&variant=fast");
    let dom = browse(&tmp.path().join("profile"), &url, &["--dump-dom"]);
    assert!(dom.contains("data-ready=\"yes\""), "{dom}");
    let explain = dom.split("<section id=\"explain\"").nth(1).unwrap();
    let explain = explain.split("</section>").next().unwrap();
    assert!(explain.starts_with('>'), "the explanation is hidden");
    // The answer's fields, as the page lays them out: the category and
    // item, the window's reason, the variant's block with its rank and its
    // contributions by day.
    for text in [
        "<dt>category</dt><dd>c00001</dd>".to_string(),
        format!("<dt>item_id</dt><dd>{item}</dd>"),
        format!("<dd>{}</dd>", answer["window"]["reason"].as_str().unwrap()),
        "<div class=\"explained\" data-variant=\"fast\"><h3>variant fast</h3>".to_string(),
        "<dt>rank</dt><dd>3</dd>".to_string(),
        "<th>day</th><th>purchases</th><th>quantity</th><th>weight</th>".to_string(),
    ] {
        assert!(
            explain.contains(&text),
            "{text} is not in the explanation:\n{explain}"
        );
    }

    // The backtest: its chart, and its JSON laid out (every top-level
    // field of the report is on the page).
    assert!(dom
        .contains("<img id=\"backtest-chart\" alt=\"backtest chart\" src=\"/v1/backtest/chart?t="));
    let backtest = dom.split("<section id=\"backtest\"").nth(1).unwrap();
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    for key in json.as_object().unwrap().keys() {
        assert!(
            backtest.contains(&format!("<dt>{key}</dt>")),
            "{key} is not shown:\n{backtest}"
        );
    }

    // The screenshot of docs/ui.png: a generated lake, its explanation open.
    let shot = Path::new(env!("CARGO_TARGET_TMPDIR")).join("ui-explain.png");
    let _ = std::fs::remove_file(&shot);
    browse(
        &tmp.path().join("profile"),
        &url,
        &[
            "--window-size=1400,1500",
            &format!("--screenshot={}", shot.display()),
        ],
    );
    assert!(std::fs::read(&shot).unwrap().starts_with(b"\x89PNG"));
}
