//! `topsellers serve` as a child process, and a plain HTTP/1.1 client for
//! it (one request per connection, so tests see exactly what was sent),
//! for the read API's tests (DynamoDB or MySQL behind it).

#![allow(dead_code, clippy::unwrap_used, missing_docs)]

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
    /// `topsellers serve ARGS --listen 127.0.0.1:<free port>` with `envs`,
    /// once `/healthz` answers.
    pub fn start<K, V>(envs: impl IntoIterator<Item = (K, V)>, args: &[&str]) -> Self
    where
        K: AsRef<std::ffi::OsStr>,
        V: AsRef<std::ffi::OsStr>,
    {
        Self::start_with(envs, args, |_| {})
    }

    /// [`Serve::start`], with `tweak` applied to the command first (a
    /// resource limit set in `pre_exec`, say).
    pub fn start_with<K, V>(
        envs: impl IntoIterator<Item = (K, V)>,
        args: &[&str],
        tweak: impl FnOnce(&mut Command),
    ) -> Self
    where
        K: AsRef<std::ffi::OsStr>,
        V: AsRef<std::ffi::OsStr>,
    {
        let port = free_port();
        let log = tempfile::NamedTempFile::new().unwrap();
        let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("topsellers"));
        tweak(&mut cmd);
        let child = cmd
            .envs(envs)
            .env("RUST_LOG", "info")
            .arg("serve")
            .args(args)
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
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

/// DynamoDB Local and redis-server holding a published run.
pub struct Published {
    pub db: super::services::DynamoLocal,
    pub redis: super::services::Redis,
    /// Holds the results CSV (`results.csv`); a test may add files.
    pub tmp: tempfile::TempDir,
}

impl Published {
    /// The results CSV that `write` makes, published (table `topsellers`)
    /// into a fresh DynamoDB Local and redis-server.
    pub fn start(write: impl FnOnce(&std::path::Path)) -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let csv = tmp.path().join("results.csv");
        write(&csv);
        let db = super::services::DynamoLocal::start();
        let redis = super::services::Redis::start();
        publish_results(&db.url(), &redis.url(), &csv);
        Self { db, redis, tmp }
    }
}

/// Raises this process's soft limit of open files to `want` (at most the
/// hard limit): 1,000 client sockets plus the proxy's would pass a default
/// soft limit of 1,024. serve, started afterwards, inherits it.
pub fn raise_open_files(want: u64) {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct passed.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim), 0);
        if lim.rlim_cur < want as libc::rlim_t {
            lim.rlim_cur = (want as libc::rlim_t).min(lim.rlim_max);
            assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &lim), 0);
        }
    }
    assert!(
        lim.rlim_cur >= 2100,
        "the stampede needs about 2,100 open files; the hard limit is {}",
        lim.rlim_max
    );
}

pub fn url(category: &str) -> String {
    let encoded: String = category
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b == b'-' {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    format!("/v1/top-sellers/{encoded}")
}

/// `serve --table topsellers` over the DynamoDB at `dynamo_endpoint`, with
/// Redis at `redis_url` and `extra` flags.
pub fn serve_dynamo(dynamo_endpoint: &str, redis_url: &str, extra: &[&str]) -> Serve {
    let mut args = vec!["--table", "topsellers", "--redis", redis_url];
    args.extend(extra);
    Serve::start(dynamo_env(dynamo_endpoint), &args)
}
