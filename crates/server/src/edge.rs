//! The HTTP edge: accepts connections and serves the router on them under limits that no
//! client, with or without a token, can lift.
//!
//! - **A connection cap.** At most `max_connections` are open at once (never more than the
//!   process's file-descriptor limit allows, less a reserve for the store and the field
//!   adapters). When the cap is reached, the oldest connection that is waiting for a request
//!   (idle, or still sending its headers) is closed to make room; when every connection is
//!   busy with a request, the newcomer is answered 503 and closed. A flood of idle or slow
//!   connections therefore cannot lock out a client that sends a request.
//! - **Timeouts.** A request's headers must arrive within `header_timeout` of the moment the
//!   connection starts waiting for them (so an idle keep-alive connection is closed after the
//!   same time); a connection on which no byte moves either way for `idle_timeout` is closed
//!   (a stalled upload, a client that stopped reading); a request must be answered (its
//!   response headers sent) within `request_timeout`, or it is answered 503. Streams that
//!   have started (the dashboard's live feed) are not cut by the request timeout.
//! - **A deadline on graceful shutdown.** On shutdown the listener closes, idle connections
//!   close at once, requests in flight get `shutdown_grace` to finish, and whatever is still
//!   open then is dropped.

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::Request;
use axum::response::IntoResponse;
use hyper::body::{Frame, Incoming, SizeHint};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;
use tower::ServiceExt;
use truce_model::ProblemType;

use crate::error::ApiError;

/// The edge's limits (from [`crate::ServerConfig`]).
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub max_connections: usize,
    pub header_timeout: Duration,
    pub idle_timeout: Duration,
    pub request_timeout: Duration,
    pub shutdown_grace: Duration,
}

/// File descriptors kept back from the connection cap for the store, the log's files and
/// the field adapters.
const FD_RESERVE: u64 = 64;

impl Limits {
    /// The cap actually applied: the configured one, lowered to what the process's
    /// file-descriptor limit leaves after [`FD_RESERVE`].
    pub fn effective_max_connections(&self) -> usize {
        let by_fds = open_file_limit()
            .map(|n| n.saturating_sub(FD_RESERVE).max(8))
            .unwrap_or(u64::MAX);
        self.max_connections
            .min(usize::try_from(by_fds).unwrap_or(usize::MAX))
    }
}

/// Connections the kernel may hold for the accept loop: a burst of hundreds of
/// connections (a flood, or many sensors reconnecting at once) must not overflow the queue,
/// or the kernel drops their handshakes and clients wait a second to retry.
const LISTEN_BACKLOG: u32 = 4096;

/// Binds the HTTP listener with a backlog of [`LISTEN_BACKLOG`] (the platform's default
/// of 128 overflowed under a burst of 400 connections).
pub fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

/// The soft limit on open files (`RLIMIT_NOFILE`), read from /proc on Linux.
fn open_file_limit() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = text.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// One open connection as the cap sees it.
struct Slot {
    /// The order of arrival: the oldest waiting connection is closed first.
    id: u64,
    /// True while no request is being served on it (before the first request's headers,
    /// and between requests once a response has been sent whole).
    waiting: AtomicBool,
    /// Milliseconds since the edge started when a byte last moved either way.
    last_activity_ms: AtomicU64,
    /// Told to close (to make room, or at shutdown).
    close: Notify,
}

/// The open connections.
struct Slots {
    started: Instant,
    max: usize,
    next_id: AtomicU64,
    open: Mutex<BTreeMap<u64, Arc<Slot>>>,
}

enum Admission {
    /// Room (possibly made by closing a waiting connection).
    Admitted(Arc<Slot>),
    /// Every connection is busy with a request.
    Full,
}

impl Slots {
    fn now_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn admit(&self) -> Admission {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        if open.len() >= self.max {
            // BTreeMap order is arrival order: close the oldest waiting connection.
            let victim = open
                .values()
                .find(|s| s.waiting.load(Ordering::Acquire))
                .cloned();
            match victim {
                Some(slot) => {
                    open.remove(&slot.id);
                    slot.close.notify_one();
                }
                None => return Admission::Full,
            }
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let slot = Arc::new(Slot {
            id,
            waiting: AtomicBool::new(true),
            last_activity_ms: AtomicU64::new(self.now_ms()),
            close: Notify::new(),
        });
        open.insert(id, slot.clone());
        Admission::Admitted(slot)
    }

    fn release(&self, id: u64) {
        self.open
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&id);
    }

    fn len(&self) -> usize {
        self.open.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
}

/// Serves `app` on `listener` until `shutdown` resolves, then drains within the grace
/// period. `open_connections` reports the count (for metrics).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send,
    open_connections: impl Fn(usize) + Send + Sync + 'static,
) -> std::io::Result<()> {
    let slots = Arc::new(Slots {
        started: Instant::now(),
        max: limits.effective_max_connections(),
        next_id: AtomicU64::new(0),
        open: Mutex::new(BTreeMap::new()),
    });
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {
                open_connections(slots.len());
                continue;
            }
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Out of descriptors or a connection reset before it was taken: wait a
                    // moment rather than spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let slot = match slots.admit() {
            Admission::Admitted(slot) => slot,
            Admission::Full => {
                connections.spawn(refuse(stream));
                continue;
            }
        };
        open_connections(slots.len());
        let _ = stream.set_nodelay(true);
        connections.spawn(connection(
            stream,
            peer,
            slot,
            slots.clone(),
            app.clone(),
            limits,
            stop_rx.clone(),
        ));
    }
    drop(listener);
    let _ = stop_tx.send(true);
    let drained = tokio::time::timeout(limits.shutdown_grace, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            open = connections.len(),
            grace_s = limits.shutdown_grace.as_secs_f64(),
            "connections still open after the shutdown grace period are dropped"
        );
        connections.abort_all();
        while connections.join_next().await.is_some() {}
    }
    open_connections(0);
    Ok(())
}

/// Answers 503 to a connection that found every slot busy, and closes it.
async fn refuse(mut stream: TcpStream) {
    use tokio::io::AsyncWriteExt;
    let problem = truce_model::Problem::new(
        ProblemType::Unavailable,
        "the server is at its connection limit; retry shortly",
    );
    let body = serde_json::to_vec(&problem).unwrap_or_default();
    let head = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/problem+json\r\nretry-after: 1\r\nconnection: close\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        stream.write_all(head.as_bytes()).await?;
        stream.write_all(&body).await?;
        stream.shutdown().await
    })
    .await;
}

/// Serves one connection until it ends, is closed for room, falls idle, or the server stops.
async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    slot: Arc<Slot>,
    slots: Arc<Slots>,
    app: Router,
    limits: Limits,
    mut stop: watch::Receiver<bool>,
) {
    let io = TokioIo::new(Tracked {
        inner: stream,
        slot: slot.clone(),
        slots: slots.clone(),
    });
    let service_slot = slot.clone();
    let service = hyper::service::service_fn(move |request: Request<Incoming>| {
        let app = app.clone();
        let slot = service_slot.clone();
        async move {
            slot.waiting.store(false, Ordering::Release);
            let request = request.map(Body::new);
            let answered = tokio::time::timeout(limits.request_timeout, app.oneshot(request)).await;
            let response = match answered {
                Ok(Ok(response)) => response,
                Ok(Err(never)) => match never {},
                Err(_) => ApiError::new(
                    ProblemType::Unavailable,
                    format!(
                        "the request was not answered within {} s",
                        limits.request_timeout.as_secs_f64()
                    ),
                )
                .into_response(),
            };
            Ok::<_, std::convert::Infallible>(response.map(|body| Released {
                inner: body,
                slot: Some(slot),
            }))
        }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .keep_alive(true);
    let conn = builder.serve_connection(io, service);
    tokio::pin!(conn);
    let mut closing = false;
    loop {
        let idle_left = {
            let last = slot.last_activity_ms.load(Ordering::Relaxed);
            let idle_ms = slots.now_ms().saturating_sub(last);
            limits
                .idle_timeout
                .saturating_sub(Duration::from_millis(idle_ms))
        };
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(%peer, error = %e, "connection ended");
                }
                break;
            }
            () = slot.close.notified(), if !closing => {
                closing = true;
                conn.as_mut().graceful_shutdown();
            }
            Ok(()) = stop.changed(), if !closing => {
                closing = true;
                conn.as_mut().graceful_shutdown();
            }
            () = tokio::time::sleep(idle_left) => {
                let last = slot.last_activity_ms.load(Ordering::Relaxed);
                if Duration::from_millis(slots.now_ms().saturating_sub(last)) >= limits.idle_timeout {
                    tracing::debug!(%peer, "idle connection closed");
                    break;
                }
            }
        }
    }
    slots.release(slot.id);
}

/// The connection's socket, noting every byte that moves.
struct Tracked {
    inner: TcpStream,
    slot: Arc<Slot>,
    slots: Arc<Slots>,
}

impl Tracked {
    fn touch(&self) {
        self.slot
            .last_activity_ms
            .store(self.slots.now_ms(), Ordering::Relaxed);
    }
}

impl AsyncRead for Tracked {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.touch();
        }
        polled
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.touch();
        }
        polled
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.touch();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// A response body that marks its connection as waiting again once it is sent whole (or
/// dropped): a live stream keeps its connection busy for as long as it runs.
struct Released {
    inner: Body,
    slot: Option<Arc<Slot>>,
}

impl Drop for Released {
    fn drop(&mut self) {
        if let Some(slot) = self.slot.take() {
            slot.waiting.store(true, Ordering::Release);
        }
    }
}

impl hyper::body::Body for Released {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slots(max: usize) -> Slots {
        Slots {
            started: Instant::now(),
            max,
            next_id: AtomicU64::new(0),
            open: Mutex::new(BTreeMap::new()),
        }
    }

    fn admitted(a: Admission) -> Arc<Slot> {
        match a {
            Admission::Admitted(s) => s,
            Admission::Full => panic!("refused"),
        }
    }

    #[test]
    fn at_the_cap_the_oldest_waiting_connection_makes_room() {
        let slots = slots(3);
        let first = admitted(slots.admit());
        let second = admitted(slots.admit());
        let third = admitted(slots.admit());
        // The first is busy with a request: the second, the oldest waiting, goes.
        first.waiting.store(false, Ordering::Release);
        let fourth = admitted(slots.admit());
        assert_eq!(slots.len(), 3);
        let open: Vec<u64> = slots.open.lock().unwrap().keys().copied().collect();
        assert_eq!(open, vec![first.id, third.id, fourth.id]);
        drop(second);
    }

    #[test]
    fn when_every_connection_is_busy_a_newcomer_is_refused() {
        let slots = slots(2);
        for _ in 0..2 {
            admitted(slots.admit())
                .waiting
                .store(false, Ordering::Release);
        }
        assert!(matches!(slots.admit(), Admission::Full));
        // A released slot makes room again.
        let id = *slots.open.lock().unwrap().keys().next().unwrap();
        slots.release(id);
        admitted(slots.admit());
    }

    #[test]
    fn the_cap_never_exceeds_what_the_descriptors_allow() {
        let limits = Limits {
            max_connections: usize::MAX,
            header_timeout: Duration::from_secs(1),
            idle_timeout: Duration::from_secs(1),
            request_timeout: Duration::from_secs(1),
            shutdown_grace: Duration::from_secs(1),
        };
        if let Some(fds) = open_file_limit() {
            assert!(limits.effective_max_connections() as u64 <= fds.max(8 + FD_RESERVE));
        }
    }
}
