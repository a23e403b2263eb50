//! A hostile client against the real `truce serve`, on loopback: floods of every kind a
//! client without a token can send (huge blob uploads, huge NDJSON bodies, idle
//! connections, slow headers), and a request left unfinished at SIGTERM.
//!
//! During every flood the server must keep its resident memory under [`RSS_BOUND_MB`] (its
//! peak, `VmHWM`, read from /proc), answer `/healthz` on a new connection within a second,
//! and refuse with `application/problem+json`. Idle and slow connections must be closed
//! within the header timeout the test configures (2 s), with a second's slack.
//!
//! Floods are bounded in count and size so the test stays short.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::{Server, TOKEN};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The peak resident memory the server may reach during the floods.
const RSS_BOUND_MB: f64 = 300.0;
/// The header timeout the test server runs with.
const HEADER_TIMEOUT_S: f64 = 2.0;

const CONFIG: &str = "header_timeout_s = 2.0\nidle_timeout_s = 20.0\nshutdown_grace_s = 3.0\nmax_connections = 200\n";

async fn start(dir: &std::path::Path) -> Server {
    let config = dir.join("serve.toml");
    std::fs::write(&config, CONFIG).unwrap();
    let data = dir.join("data");
    Server::start_with(&data, 200, &["--config", config.to_str().unwrap()]).await
}

fn addr(server: &Server) -> SocketAddr {
    server
        .url
        .trim_start_matches("http://")
        .parse()
        .expect("a socket address")
}

/// A field of /proc/PID/status, in MB.
fn status_mb(pid: u32, field: &str) -> f64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = text
        .lines()
        .find(|l| l.starts_with(field))
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"));
    let kb: f64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kb / 1024.0
}

/// Asks `/healthz` on a new connection every 200 ms until stopped; the slowest answer.
fn probe_health(addr: SocketAddr, stop: Arc<AtomicBool>) -> tokio::task::JoinHandle<Duration> {
    tokio::spawn(async move {
        let mut worst = Duration::ZERO;
        while !stop.load(Ordering::Relaxed) {
            let started = Instant::now();
            // Like any HTTP client, the probe sends an idempotent request again once when
            // the connection closes before an answer (the server closes the oldest waiting
            // connection when it is at its cap).
            let mut answered = None;
            for _ in 0..2 {
                answered = tokio::time::timeout(Duration::from_secs(5), async {
                    let connecting = Instant::now();
                    let mut s = TcpStream::connect(addr).await.ok()?;
                    let connected = connecting.elapsed();
                    if connected > Duration::from_millis(500) {
                        println!("probe: connect took {connected:?}");
                    }
                    s.write_all(b"GET /healthz HTTP/1.1\r\nhost: t\r\nconnection: close\r\n\r\n")
                        .await
                        .ok()?;
                    let mut text = Vec::new();
                    s.read_to_end(&mut text).await.ok()?;
                    String::from_utf8_lossy(&text)
                        .starts_with("HTTP/1.1 200")
                        .then_some(())
                })
                .await
                .ok()
                .flatten();
                if answered.is_some() {
                    break;
                }
            }
            let took = if answered.is_some() {
                started.elapsed()
            } else {
                Duration::from_secs(3600)
            };
            worst = worst.max(took);
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        worst
    })
}

/// What a flooding request got back.
#[derive(Debug)]
struct Answer {
    status: u16,
    content_type: String,
    /// Body bytes the client had sent when the answer came (or the server closed).
    sent: u64,
}

/// Sends `head` then up to `body_len` bytes of `filler` in 64 KiB pieces (chunked when
/// `chunked`), reading the answer meanwhile; stops sending once the answer has come.
async fn flood_request(
    addr: SocketAddr,
    head: String,
    body_len: u64,
    chunked: bool,
    filler: Arc<Vec<u8>>,
) -> Answer {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    let answered = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicU64::new(0));
    let read = {
        let answered = answered.clone();
        tokio::spawn(async move {
            let mut text = Vec::new();
            let mut buf = [0u8; 8192];
            loop {
                match reader.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => text.extend_from_slice(&buf[..n]),
                }
                if text.windows(4).any(|w| w == b"\r\n\r\n") {
                    answered.store(true, Ordering::Relaxed);
                    break;
                }
            }
            text
        })
    };
    let write = {
        let answered = answered.clone();
        let sent = sent.clone();
        tokio::spawn(async move {
            if writer.write_all(head.as_bytes()).await.is_err() {
                return;
            }
            let mut left = body_len;
            while left > 0 && !answered.load(Ordering::Relaxed) {
                let n = left.min(filler.len() as u64) as usize;
                let ok = if chunked {
                    let mut piece = format!("{n:x}\r\n").into_bytes();
                    piece.extend_from_slice(&filler[..n]);
                    piece.extend_from_slice(b"\r\n");
                    writer.write_all(&piece).await.is_ok()
                } else {
                    writer.write_all(&filler[..n]).await.is_ok()
                };
                if !ok {
                    return;
                }
                left -= n as u64;
                sent.fetch_add(n as u64, Ordering::Relaxed);
            }
            if chunked && left == 0 {
                let _ = writer.write_all(b"0\r\n\r\n").await;
            }
            // Keep the writing half open until the answer is read.
            while !answered.load(Ordering::Relaxed) {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    let text = tokio::time::timeout(Duration::from_secs(120), read)
        .await
        .expect("an answer within 120 s")
        .unwrap();
    answered.store(true, Ordering::Relaxed);
    let _ = write.await;
    let text = String::from_utf8_lossy(&text).to_string();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let content_type = text
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-type:")
                .map(|v| v.trim().to_string())
        })
        .unwrap_or_default();
    Answer {
        status,
        content_type,
        sent: sent.load(Ordering::Relaxed),
    }
}

fn head(method_path: &str, content_type: &str, length: Option<u64>, token: Option<&str>) -> String {
    let mut head = format!("{method_path} HTTP/1.1\r\nhost: t\r\ncontent-type: {content_type}\r\n");
    match length {
        Some(n) => head.push_str(&format!("content-length: {n}\r\n")),
        None => head.push_str("transfer-encoding: chunked\r\n"),
    }
    if let Some(t) = token {
        head.push_str(&format!("authorization: Bearer {t}\r\n"));
    }
    head.push_str("\r\n");
    head
}

/// Runs `flood` while probing `/healthz`; asserts the server's memory and latency bounds.
async fn under_flood<F: std::future::Future<Output = ()>>(server: &Server, what: &str, flood: F) {
    let stop = Arc::new(AtomicBool::new(false));
    let probe = probe_health(addr(server), stop.clone());
    flood.await;
    stop.store(true, Ordering::Relaxed);
    let worst = probe.await.unwrap();
    let pid = server.child.id().unwrap();
    let peak = status_mb(pid, "VmHWM");
    println!(
        "{what}: peak RSS {peak:.0} MB (bound {RSS_BOUND_MB} MB), slowest /healthz {:.0} ms",
        worst.as_secs_f64() * 1000.0
    );
    assert!(peak < RSS_BOUND_MB, "{what}: peak RSS {peak:.0} MB");
    assert!(
        worst < Duration::from_secs(1),
        "{what}: /healthz took {worst:?}"
    );
}

fn assert_refused(answers: &[Answer], status: u16, what: &str) {
    for a in answers {
        assert_eq!(a.status, status, "{what}: {a:?}");
        assert_eq!(a.content_type, "application/problem+json", "{what}: {a:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn floods_leave_the_server_small_and_answering() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path()).await;
    let a = addr(&server);
    let zeros = Arc::new(vec![b'0'; 64 * 1024]);

    // Blob uploads of 1 GB without a token: refused before the body is read, so the
    // client has sent at most what the socket buffers held.
    under_flood(&server, "blobs without a token", async {
        let mut tasks = Vec::new();
        for i in 0..6 {
            let length = (i % 2 == 0).then_some(1 << 30);
            let h = head("POST /v1/blobs", "application/octet-stream", length, None);
            tasks.push(tokio::spawn(flood_request(
                a,
                h,
                1 << 30,
                length.is_none(),
                zeros.clone(),
            )));
        }
        let answers: Vec<Answer> = futures_join(tasks).await;
        assert_refused(&answers, 401, "blob without a token");
        for answer in &answers {
            assert!(answer.sent < 64 << 20, "the server read on: {answer:?}");
        }
    })
    .await;

    // With a token, a blob over the limit is refused once it passes it (streamed to disk,
    // never held in memory), or at once when its declared length is too long.
    under_flood(&server, "oversized blobs with a token", async {
        let mut tasks = Vec::new();
        for i in 0..4 {
            let length = (i % 2 == 0).then_some(1 << 30);
            let h = head(
                "POST /v1/blobs",
                "application/octet-stream",
                length,
                Some(TOKEN),
            );
            tasks.push(tokio::spawn(flood_request(
                a,
                h,
                256 << 20,
                length.is_none(),
                zeros.clone(),
            )));
        }
        let answers = futures_join(tasks).await;
        assert_refused(&answers, 413, "oversized blob");
    })
    .await;

    // Any other write without a token is refused before its body is read.
    under_flood(&server, "actions without a token", async {
        let mut tasks = Vec::new();
        for path in [
            "POST /v1/accounts",
            "POST /v1/actions",
            "PUT /v1/policy",
            "POST /v1/sensors",
        ] {
            let h = head(path, "application/json", Some(1 << 30), None);
            tasks.push(tokio::spawn(flood_request(
                a,
                h,
                1 << 30,
                false,
                zeros.clone(),
            )));
        }
        let answers = futures_join(tasks).await;
        assert_refused(&answers, 401, "action without a token");
    })
    .await;

    // NDJSON of millions of tiny lines: refused at the first line past the item limit.
    let tiny = Arc::new(b"{}\n".repeat(20_000));
    under_flood(&server, "NDJSON of tiny lines", async {
        let mut tasks = Vec::new();
        for i in 0..6 {
            let length = (i % 2 == 0).then_some(32 << 20);
            let h = head(
                "POST /v1/observations",
                "application/x-ndjson",
                length,
                None,
            );
            tasks.push(tokio::spawn(flood_request(
                a,
                h,
                32 << 20,
                length.is_none(),
                tiny.clone(),
            )));
        }
        let answers = futures_join(tasks).await;
        assert_refused(&answers, 413, "too many NDJSON items");
    })
    .await;

    // NDJSON bodies at the size limit, of envelope-shaped lines that fail their checks: read
    // under the shared budget, each item answered with its problem.
    let line = {
        let payload = truce_model::envelope::encode_base64(&vec![b'x'; 2400]);
        format!(
            "{{\"payloadType\":\"application/vnd.truce.observation+json\",\"payload\":\"{payload}\",\"signatures\":[{{\"keyid\":\"k\",\"sig\":\"AAAA\"}}]}}\n"
        )
    };
    let lines_per_body = (32 << 20) / line.len() as u64;
    let lines_per_body = lines_per_body.min(10_000);
    let body = Arc::new(line.repeat(lines_per_body as usize).into_bytes());
    under_flood(&server, "NDJSON bodies at the limit", async {
        let mut tasks = Vec::new();
        for _ in 0..6 {
            let h = head(
                "POST /v1/observations",
                "application/x-ndjson",
                Some(body.len() as u64),
                None,
            );
            tasks.push(tokio::spawn(flood_request(
                a,
                h,
                body.len() as u64,
                false,
                body.clone(),
            )));
        }
        let answers = futures_join(tasks).await;
        // Each is read whole and answered item by item, or, while the bodies in memory
        // are at the budget, refused to be sent again (503, problem+json).
        for answer in &answers {
            match answer.status {
                200 => assert_eq!(answer.content_type, "application/json", "{answer:?}"),
                503 => assert_eq!(
                    answer.content_type, "application/problem+json",
                    "{answer:?}"
                ),
                _ => panic!("NDJSON at the limit: {answer:?}"),
            }
        }
        let read = answers.iter().filter(|a| a.status == 200).count();
        println!(
            "NDJSON bodies at the limit: {read} of {} read whole",
            answers.len()
        );
        assert!(read >= 2, "at least two bodies fit in the budget at once");
    })
    .await;

    // Idle connections, more than the cap, and slow headers: the server stays reachable and
    // closes each within the header timeout.
    for (what, slow) in [("idle connections", false), ("slow headers", true)] {
        under_flood(&server, what, async {
            let mut tasks = Vec::new();
            for _ in 0..400 {
                tasks.push(tokio::spawn(hold_open(a, slow)));
            }
            let mut lifetimes = futures_join(tasks).await;
            lifetimes.sort();
            let longest = lifetimes.last().unwrap();
            println!(
                "{what}: lifetimes {:?} {:?} {:?}",
                lifetimes[0], lifetimes[200], longest
            );
            assert!(
                longest.as_secs_f64() < HEADER_TIMEOUT_S + 1.0,
                "{what}: a connection lived {longest:?}"
            );
        })
        .await;
    }
}

/// Opens a connection and sends nothing (or a header byte every 300 ms); how long until the
/// server closes it.
async fn hold_open(addr: SocketAddr, slow: bool) -> Duration {
    let Ok(mut stream) = TcpStream::connect(addr).await else {
        return Duration::ZERO;
    };
    let started = Instant::now();
    let head = b"GET /healthz HTTP/1.1\r\nx-slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    let mut buf = [0u8; 1024];
    let mut sent = 0;
    let closed = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            if slow && sent < head.len() {
                if stream.write_all(&head[sent..sent + 1]).await.is_err() {
                    return;
                }
                sent += 1;
            }
            match tokio::time::timeout(Duration::from_millis(300), stream.read(&mut buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) => return,
                // A 408 or 503 answer: the close follows.
                Ok(Ok(_)) => {}
                Err(_) => {}
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "a connection was never closed");
    started.elapsed()
}

async fn futures_join<T>(tasks: Vec<tokio::task::JoinHandle<T>>) -> Vec<T> {
    let mut out = Vec::with_capacity(tasks.len());
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

#[tokio::test]
async fn sigterm_is_not_held_by_an_unfinished_request() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = start(dir.path()).await;
    // A request that declares 1,000 bytes of body and sends 10, then nothing.
    let mut stream = TcpStream::connect(addr(&server)).await.unwrap();
    stream
        .write_all(
            b"POST /v1/observations HTTP/1.1\r\nhost: t\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{\"payload",
        )
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = Instant::now();
    let status = server.terminate().await;
    let took = started.elapsed();
    println!("stopped {:.1} s after SIGTERM", took.as_secs_f64());
    assert!(status.success(), "{status:?}");
    // The grace period is 3 s; the last checkpoint and the sequencer's stop add little.
    assert!(took < Duration::from_secs(8), "SIGTERM took {took:?}");
    drop(stream);
}
