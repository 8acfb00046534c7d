//! Hostile clients against `topsellers serve` (real redis-server and
//! DynamoDB Local on free ports, everything on 127.0.0.1): 2,000 slowloris
//! connections sending a byte a second, closed by the header timeout while
//! normal clients get 200; slow bodies; a connection flood past serve's
//! file-descriptor limit, through which the connections it has are served
//! and after which it accepts again; pipelined garbage, answered 400 with
//! only its own connection closed; a client that stops reading, closed by
//! the idle timeout; newcomers past the connection cap, served once others
//! leave. serve's memory (VmHWM) stays under a stated bound in each. Every
//! loop is bounded in count and time; outcomes are asserted, latencies and
//! memory only printed (BENCHMARKS.md).

#![allow(clippy::unwrap_used)]

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::http::{raise_open_files, request, serve_dynamo, Published, Serve};
use common::services::dynamo_env;

const TOYS: &str = "/v1/top-sellers/toys";
/// serve's peak resident memory must stay under this in every scenario.
const MEMORY_BOUND_KB: u64 = 256 * 1024;

/// DynamoDB Local and redis-server holding a published run (variant
/// `default`, category `toys`, five items).
fn published() -> Published {
    Published::start(|csv| {
        let mut text = String::from("variant,category,rank,item_id,score,window_s,as_of\n");
        for r in 1..=5 {
            text.push_str(&format!(
                "default,toys,{r},{},{}.0,2592000,2026-10-15T00:00:00Z\n",
                100 + r,
                10 - r
            ));
        }
        std::fs::write(csv, text).unwrap();
    })
}

/// A field of `/proc/<pid>/status` in kB (`VmRSS`, `VmHWM`).
fn memory_kb(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().strip_suffix("kB"))
        .map(|v| v.trim().parse().unwrap())
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
}

/// Prints serve's memory and asserts its peak is under the bound.
fn check_memory(serve: &Serve, scenario: &str) {
    let pid = serve.child.id();
    let (rss, hwm) = (memory_kb(pid, "VmRSS"), memory_kb(pid, "VmHWM"));
    eprintln!("{scenario}: serve VmRSS {rss} kB, VmHWM {hwm} kB");
    assert!(
        hwm < MEMORY_BOUND_KB,
        "{scenario}: serve's peak memory {hwm} kB is over {MEMORY_BOUND_KB} kB"
    );
}

/// One GET on a kept-alive connection: the status and body.
fn get_kept_alive(s: &mut TcpStream, target: &str) -> (u16, String) {
    write!(s, "GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").unwrap();
    let mut raw = Vec::new();
    let mut byte = [0u8; 1];
    while !raw.ends_with(b"\r\n\r\n") {
        assert_eq!(s.read(&mut byte).unwrap(), 1, "closed mid-head: {raw:?}");
        raw.push(byte[0]);
    }
    let head = String::from_utf8(raw).unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().unwrap())
        })
        .unwrap_or(0);
    let mut body = vec![0u8; length];
    s.read_exact(&mut body).unwrap();
    (status, String::from_utf8(body).unwrap())
}

/// A counter of serve's `/metrics`, read on `s` (a kept-alive connection).
fn metric_on(s: &mut TcpStream, name: &str) -> f64 {
    let (status, text) = get_kept_alive(s, "/metrics");
    assert_eq!(status, 200);
    text.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|v| v.strip_prefix(' ')))
        .map_or(0.0, |v| v.parse().unwrap())
}

/// A kept-alive connection to serve.
fn connect(port: u16) -> TcpStream {
    let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s
}

/// Normal clients, one request per connection, in a thread until `stop`:
/// the statuses and latencies (ms) they got.
fn normal_clients(port: u16, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<Vec<(u16, f64)>> {
    std::thread::spawn(move || {
        let mut got = Vec::new();
        while !stop.load(Ordering::Relaxed) && got.len() < 100_000 {
            let started = Instant::now();
            let r = request(port, TOYS, &[]);
            got.push((r.status, started.elapsed().as_secs_f64() * 1e3));
            std::thread::sleep(Duration::from_millis(5));
        }
        got
    })
}

/// The p50 and p99 of `ms`, milliseconds.
fn percentiles(ms: &mut [f64]) -> (f64, f64) {
    ms.sort_by(f64::total_cmp);
    let at = |q: f64| ms[((ms.len() - 1) as f64 * q).round() as usize];
    (at(0.5), at(0.99))
}

/// Whether a non-blocking socket has been closed by its peer.
fn closed_by_peer(s: &mut TcpStream) -> bool {
    let mut buf = [0u8; 512];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if e.kind() == ErrorKind::WouldBlock => return false,
            Err(_) => return true,
        }
    }
}

#[test]
fn slowloris_connections_are_closed_while_normal_clients_are_served() {
    raise_open_files(4600);
    let p = published();
    let serve = serve_dynamo(
        &p.db.url(),
        &p.redis.url(),
        &["--header-timeout", "2s", "--local-ttl", "1h"],
    );
    assert_eq!(serve.get(TOYS).status, 200);
    let stop = Arc::new(AtomicBool::new(false));
    let clients = normal_clients(serve.port, stop.clone());

    // 2,000 connections, each sending a request head a byte a second.
    let head = b"GET /v1/top-sellers/toys HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ";
    let mut slow: Vec<Option<TcpStream>> = (0..2000)
        .map(|_| {
            let s = TcpStream::connect(("127.0.0.1", serve.port)).unwrap();
            s.set_nonblocking(true).unwrap();
            Some(s)
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut sent = 0;
    let mut peak_open = 0.0f64;
    let mut watch = connect(serve.port);
    while slow.iter().any(Option::is_some) && Instant::now() < deadline {
        let byte = head.get(sent).copied().unwrap_or(b'x');
        for slot in slow.iter_mut() {
            let Some(s) = slot else { continue };
            let gone = match s.write(&[byte]) {
                Ok(_) => closed_by_peer(s),
                Err(e) => e.kind() != ErrorKind::WouldBlock,
            };
            if gone {
                *slot = None;
            }
        }
        sent += 1;
        peak_open = peak_open.max(metric_on(&mut watch, "topsellers_serve_connections_open"));
        std::thread::sleep(Duration::from_secs(1));
    }
    let left = slow.iter().filter(|s| s.is_some()).count();
    assert_eq!(
        left, 0,
        "{left} slowloris connections still open after 60 s"
    );
    eprintln!("slowloris: at most {peak_open} connections open at once (sampled each second)");

    // A trickled body: the answer comes after the head, then the
    // connection is closed with the body unread.
    for _ in 0..20 {
        let mut s = connect(serve.port);
        s.write_all(b"GET /v1/top-sellers/toys HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100000\r\n\r\nx")
            .unwrap();
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).unwrap();
        let text = String::from_utf8_lossy(&raw);
        assert!(text.starts_with("HTTP/1.1 200 "), "{text}");
    }
    check_memory(&serve, "2,000 slowloris connections");
    stop.store(true, Ordering::Relaxed);
    let mut got = clients.join().unwrap();
    assert!(got.len() >= 10, "only {} normal requests ran", got.len());
    assert!(
        got.iter().all(|(status, _)| *status == 200),
        "normal clients got {:?}",
        got.iter().filter(|(s, _)| *s != 200).collect::<Vec<_>>()
    );
    let mut ms: Vec<f64> = got.drain(..).map(|(_, ms)| ms).collect();
    let (p50, p99) = percentiles(&mut ms);
    eprintln!(
        "normal clients under slowloris: {} requests, p50 {p50:.2} ms, p99 {p99:.2} ms",
        ms.len()
    );
    let timed_out =
        serve.metric("topsellers_serve_connections_closed_total{reason=\"header_timeout\"}");
    assert!(
        timed_out >= 2000.0,
        "{timed_out} connections closed by the header timeout"
    );
}

#[test]
fn a_flood_past_the_file_limit_leaves_open_connections_served_and_recovers() {
    raise_open_files(4600);
    let p = published();
    // serve may hold 256 files: the flood's 1,000 connections are past it
    // (those it cannot accept wait in the listen backlog of 1,024).
    let serve = Serve::start_with(
        dynamo_env(&p.db.url()),
        &[
            "--table",
            "topsellers",
            "--redis",
            &p.redis.url(),
            "--header-timeout",
            "5m",
            "--local-ttl",
            "1h",
        ],
        |cmd| {
            // SAFETY: setrlimit is async-signal-safe and touches only the
            // child's limits, between fork and exec.
            unsafe {
                cmd.pre_exec(|| {
                    let lim = libc::rlimit {
                        rlim_cur: 256,
                        rlim_max: 256,
                    };
                    if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
        },
    );
    let mut kept: Vec<TcpStream> = (0..4).map(|_| connect(serve.port)).collect();
    for s in &mut kept {
        assert_eq!(get_kept_alive(s, TOYS).0, 200);
    }

    // Connections past the backlog time out; three in a row end the flood.
    let mut flood = Vec::new();
    let mut timeouts = 0;
    while flood.len() < 1000 && timeouts < 3 {
        match TcpStream::connect_timeout(
            &([127, 0, 0, 1], serve.port).into(),
            Duration::from_millis(500),
        ) {
            Ok(s) => flood.push(s),
            Err(_) => timeouts += 1,
        }
    }
    eprintln!("flood: {} connections made", flood.len());
    assert!(flood.len() > 300, "only {} flood connections", flood.len());
    let deadline = Instant::now() + Duration::from_secs(30);
    while metric_on(
        &mut kept[0],
        "topsellers_serve_accept_errors_total{kind=\"out_of_fds\"}",
    ) == 0.0
    {
        assert!(
            Instant::now() < deadline,
            "serve never ran out of file descriptors:\n{}",
            serve.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    eprintln!("flood: serve is out of file descriptors");
    // Out of descriptors: the connections it has are still served.
    for _ in 0..20 {
        for s in &mut kept {
            let (status, body) = get_kept_alive(s, TOYS);
            assert_eq!(status, 200, "{body}");
        }
    }
    check_memory(&serve, "a flood past 256 open files");
    let log = serve.log();
    assert_eq!(
        log.matches("out of file descriptors: accepting paused")
            .count(),
        1,
        "logged once per burst:\n{log}"
    );

    // The flood leaves: serve accepts again.
    drop(flood);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let fresh = TcpStream::connect(("127.0.0.1", serve.port)).and_then(|mut s| {
            s.set_read_timeout(Some(Duration::from_secs(5)))?;
            s.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")?;
            let mut raw = Vec::new();
            s.read_to_end(&mut raw)?;
            Ok(raw)
        });
        if fresh.is_ok_and(|raw| raw.starts_with(b"HTTP/1.1 200 ")) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "serve does not accept 60 s after the flood:\n{}",
            serve.log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(request(serve.port, TOYS, &[]).status, 200);
    let log = serve.log();
    assert!(log.contains("accepting again"), "{log}");
    for s in &mut kept {
        assert_eq!(get_kept_alive(s, TOYS).0, 200);
    }
}

#[test]
fn pipelined_garbage_gets_400_and_closes_only_its_connection() {
    let p = published();
    let serve = serve_dynamo(&p.db.url(), &p.redis.url(), &["--local-ttl", "1h"]);
    let mut innocent = connect(serve.port);
    assert_eq!(get_kept_alive(&mut innocent, TOYS).0, 200);

    let good = "GET /v1/top-sellers/toys HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    let garbage: [&[u8]; 5] = [
        b"\x00\x01\x02 NOT HTTP\r\n\r\n",
        b"GET /v1/top-sellers/toys HTTP/9.9\r\n\r\n",
        b"GET / HTTP/1.1\r\nBad Header\r\n\r\n",
        b"GET /\xff\xfe HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
    ];
    for round in 0..40 {
        let bad = garbage[round % garbage.len()];
        // Three good requests, then 1,000 malformed ones, then a good one.
        let mut burst = good.repeat(3).into_bytes();
        for _ in 0..1000 {
            burst.extend_from_slice(bad);
        }
        burst.extend_from_slice(good.as_bytes());
        let mut s = connect(serve.port);
        // serve may close before reading it all: a reset is fine.
        let _ = s.write_all(&burst);
        let mut raw = Vec::new();
        let _ = s.read_to_end(&mut raw);
        let text = String::from_utf8_lossy(&raw);
        let statuses: Vec<&str> = text.split("HTTP/1.1 ").skip(1).map(|r| &r[..3]).collect();
        assert_eq!(
            statuses,
            ["200", "200", "200", "400"],
            "round {round}: {:?}",
            String::from_utf8_lossy(bad)
        );
        // Between bursts, the innocent connection is still served.
        assert_eq!(get_kept_alive(&mut innocent, TOYS).0, 200);
    }
    // A head that never ends, past serve's buffer: 431, closed.
    let mut s = connect(serve.port);
    let mut endless = b"GET /v1/top-sellers/toys HTTP/1.1\r\nX-Long: ".to_vec();
    endless.extend(std::iter::repeat_n(b'a', 200_000));
    let _ = s.write_all(&endless);
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    assert!(
        raw.starts_with(b"HTTP/1.1 431 "),
        "{:?}",
        String::from_utf8_lossy(&raw)
    );

    assert_eq!(request(serve.port, TOYS, &[]).status, 200);
    let bad = metric_on(
        &mut innocent,
        "topsellers_serve_connections_closed_total{reason=\"bad_request\"}",
    );
    assert!(bad >= 41.0, "{bad} connections closed for a bad request");
    check_memory(&serve, "pipelined garbage");
}

#[test]
fn a_client_that_stops_reading_is_closed_by_the_idle_timeout() {
    let p = published();
    let serve = serve_dynamo(
        &p.db.url(),
        &p.redis.url(),
        &["--idle-timeout", "2s", "--local-ttl", "1h"],
    );
    // 3,000 pipelined requests for /metrics (kilobytes each) whose answers
    // are never read: serve's writes stall once the socket buffers fill.
    let mut s = connect(serve.port);
    s.set_write_timeout(Some(Duration::from_secs(10))).unwrap();
    let burst = "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".repeat(3000);
    let _ = s.write_all(burst.as_bytes());
    let idle = "topsellers_serve_connections_closed_total{reason=\"idle_timeout\"}";
    let deadline = Instant::now() + Duration::from_secs(60);
    while serve.metric(idle) < 1.0 {
        assert!(
            Instant::now() < deadline,
            "the stalled connection is still open after 60 s"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // Its socket is closed: reading takes what serve had sent, then ends.
    let mut raw = Vec::new();
    match s.read_to_end(&mut raw) {
        Ok(_) => {}
        Err(e) => assert_eq!(e.kind(), ErrorKind::ConnectionReset, "{e}"),
    }
    assert!(raw.starts_with(b"HTTP/1.1 200 "));
    assert_eq!(request(serve.port, TOYS, &[]).status, 200);
    check_memory(&serve, "a client that stops reading");
}

#[test]
fn connections_past_the_cap_wait_and_are_served_once_others_close() {
    let p = published();
    let serve = serve_dynamo(
        &p.db.url(),
        &p.redis.url(),
        &[
            "--max-connections",
            "20",
            "--header-timeout",
            "5m",
            "--local-ttl",
            "1h",
        ],
    );
    let mut watch = connect(serve.port);
    assert_eq!(get_kept_alive(&mut watch, TOYS).0, 200);
    // 40 idle connections: 19 take the free slots, the rest wait in the
    // backlog.
    let idle: Vec<TcpStream> = (0..40).map(|_| connect(serve.port)).collect();
    let waits = "topsellers_serve_connection_limit_waits_total";
    let deadline = Instant::now() + Duration::from_secs(30);
    while metric_on(&mut watch, waits) < 1.0 {
        assert!(Instant::now() < deadline, "serve never reached its cap");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        metric_on(&mut watch, "topsellers_serve_connections_open"),
        20.0
    );
    // A newcomer is not served while the cap is reached...
    let mut late = connect(serve.port);
    late.write_all(
        b"GET /v1/top-sellers/toys HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
    )
    .unwrap();
    late.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
    let mut byte = [0u8; 1];
    let e = late.read(&mut byte).unwrap_err();
    assert!(
        matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
        "{e}"
    );
    assert_eq!(
        metric_on(&mut watch, "topsellers_serve_connections_open"),
        20.0
    );
    // ...and is once the idle ones leave.
    drop(idle);
    late.set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut raw = Vec::new();
    late.read_to_end(&mut raw).unwrap();
    assert!(
        raw.starts_with(b"HTTP/1.1 200 "),
        "{:?}",
        String::from_utf8_lossy(&raw)
    );
}
