//! `topsellers serve` as a child process, and a plain HTTP/1.1 client for
//! it (one request per connection, so tests see exactly what was sent).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::services::{dynamo_env, free_port};
use super::topsellers;

/// `topsellers serve` as a child process, killed when dropped.
pub struct Serve {
    pub child: Child,
    pub port: u16,
    pub log: tempfile::NamedTempFile,
}

impl Serve {
    pub fn start(dynamo_endpoint: &str, redis_url: &str, extra: &[&str]) -> Self {
        let port = free_port();
        let log = tempfile::NamedTempFile::new().unwrap();
        let child = Command::new(assert_cmd::cargo::cargo_bin("topsellers"))
            .envs(dynamo_env(dynamo_endpoint))
            .env("RUST_LOG", "info")
            .args(["serve", "--table", "topsellers", "--listen"])
            .arg(format!("127.0.0.1:{port}"))
            .arg("--redis")
            .arg(redis_url)
            .args(extra)
            .stdout(Stdio::null())
            .stderr(log.reopen().unwrap())
            .spawn()
            .unwrap();
        let mut serve = Self { child, port, log };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(status)) = serve.child.try_wait() {
                panic!("serve exited at start ({status}):\n{}", serve.log());
            }
            if TcpStream::connect(("127.0.0.1", port)).is_ok()
                && serve.get("/healthz").status == 200
            {
                return serve;
            }
            assert!(
                Instant::now() < deadline,
                "serve is not healthy after 30 s:\n{}",
                serve.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log.path()).unwrap_or_default()
    }

    pub fn get(&self, target: &str) -> Response {
        request(self.port, target, &[])
    }

    /// A counter of `/metrics` (0 when not printed yet).
    pub fn metric(&self, name: &str) -> f64 {
        let text = self.get("/metrics").body;
        text.lines()
            .find_map(|l| l.strip_prefix(name).and_then(|v| v.strip_prefix(' ')))
            .map_or(0.0, |v| v.parse().unwrap())
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {:?}", self.body))
    }
}

/// One HTTP/1.1 GET on a fresh connection.
pub fn request(port: u16, target: &str, headers: &[(&str, &str)]) -> Response {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    send(&mut s, target, headers)
}

pub fn send(s: &mut TcpStream, target: &str, headers: &[(&str, &str)]) -> Response {
    let mut req = format!("GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8(raw).unwrap();
    let (head, body) = text
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no head in {text:?}"));
    let mut lines = head.lines();
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.to_string(), v.trim().to_string()))
        .collect();
    Response {
        status,
        headers,
        body: body.to_string(),
    }
}

/// Publishes the results CSV `csv` into table `topsellers` (created) of the
/// DynamoDB at `dynamo_endpoint`, warming the Redis at `redis_url`: what
/// [`Serve::start`] reads.
pub fn publish_results(dynamo_endpoint: &str, redis_url: &str, csv: &std::path::Path) {
    topsellers()
        .envs(dynamo_env(dynamo_endpoint))
        .args(["publish", "--table", "topsellers", "--create-table"])
        .arg("--redis")
        .arg(redis_url)
        .arg("--results")
        .arg(csv)
        .assert()
        .success();
}
