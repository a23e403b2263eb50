//! Cursor-on-Target for TAK clients (ATAK, WinTAK, pytak) and drone ground stations.
//!
//! Out: a TCP (or TLS) listener that streams truce's events and findings as CoT, first as
//! XML and, once the client asks for it with the TAK negotiation (`t-x-takp-q`), as TAK
//! Protocol version 1 protobuf in the stream framing.
//!
//! A connection is authenticated either by a client certificate on the TLS listener
//! ([`tls`]: the certificate's common name names the account) or, on the plain TCP
//! listener (loopback only: the token travels in the clear), by its first line,
//! `truce-token <account token>`, read within ten seconds. Any enabled account may read;
//! a session ends when its account is disabled.
//! Then the server offers protobuf (`t-x-takp-v`), sends every current event and finding,
//! and each new or changed one as the results follow the log. At most
//! [`MAX_CONNECTIONS`] are served at once, and a client that stops reading for
//! [`WRITE_TIMEOUT`] is dropped.
//!
//! In: what a client sends is read too: the negotiation, and detections. A detection from
//! a registered drone, camera or radar whose key the server holds (`--cot-keys`, the
//! adapter's keys), passed by a `gateway` account, becomes a `*.detection` observation
//! signed with that key, its raw CoT kept as an evidence blob (by SHA-256) and the gateway
//! recorded in `data.gateway`. The client is told by a CoT reply event, in XML or protobuf
//! as the connection speaks: `y-a-r` (received) with the remarks `truce: logged
//! observation N`, or `y-c-f` (failed) with `truce: refused: why`. Events that name no
//! reporting sensor (a device's own position reports, pings, chat) pass unanswered. A
//! refused event logs nothing; a bad protobuf frame is refused and then the stream is
//! closed, since it cannot be followed past it. Detections also come as UDP datagrams
//! ([`udp`]: CoT XML or the TAK mesh framing, unicast or on a multicast group), from
//! allowed networks only.

pub mod tls;
pub mod udp;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio::task::{JoinHandle, JoinSet};
use truce_commission::Account;
use truce_commission::roles::Scope;
use truce_cot::Cot;

use crate::state::AppState;

/// The longest first line (the token).
const MAX_LINE: u64 = 512;
/// The most a client may send between events.
const MAX_EVENT: usize = truce_cot::MAX_EVENT_BYTES;

/// Starts the configured CoT listeners: plain TCP, TLS with client certificates, UDP.
/// Returns their tasks, which run until aborted (aborting a listener ends its connections
/// too), so that a shutdown can let go of the state they hold.
pub async fn start(state: &AppState) -> Result<Vec<JoinHandle<()>>, crate::ServerError> {
    let c = &state.config;
    let invalid = |field: &'static str| {
        move |message: String| {
            crate::ServerError::Config(crate::ConfigError::Invalid { field, message })
        }
    };
    let keys = match &c.cot_keys {
        Some(path) => Some(load_keys(path).map_err(invalid("cot_keys"))?),
        None => None,
    };
    let slots: Slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let mut tasks = Vec::new();
    if let Some(addr) = c.cot_listen {
        let listener = TcpListener::bind(addr).await?;
        tracing::info!(addr = %listener.local_addr()?, "CoT listening");
        tasks.push(tokio::spawn(run(
            state.clone(),
            listener,
            keys.clone(),
            slots.clone(),
        )));
    }
    if let (Some(addr), Some(cert), Some(key), Some(client_ca)) = (
        c.cot_tls_listen,
        &c.cot_tls_cert,
        &c.cot_tls_key,
        &c.cot_tls_client_ca,
    ) {
        let files = tls::TlsFiles {
            cert,
            key,
            client_ca,
        };
        let acceptor = tls::acceptor(&files).map_err(invalid("cot_tls_listen"))?;
        let listener = TcpListener::bind(addr).await?;
        tracing::info!(addr = %listener.local_addr()?, "CoT listening (TLS)");
        let tls = tls::run(
            state.clone(),
            listener,
            acceptor,
            keys.clone(),
            slots.clone(),
        );
        tasks.push(tokio::spawn(tls));
    }
    if let Some(addr) = c.cot_udp {
        let allow = udp::allowed_networks(&c.cot_udp_allow).map_err(invalid("cot_udp_allow"))?;
        let socket = udp::bind(addr, c.cot_udp_interface)?;
        tracing::info!(%addr, interface = %c.cot_udp_interface, "CoT listening (UDP)");
        tasks.push(tokio::spawn(udp::run(state.clone(), socket, keys, allow)));
    }
    Ok(tasks)
}

/// The connection slots the plain and TLS listeners share.
pub type Slots = Arc<Semaphore>;

/// The next connection with a free slot (held until the connection ends); one arriving
/// when all [`MAX_CONNECTIONS`] are taken is closed at once.
async fn accept(
    listener: &TcpListener,
    slots: &Slots,
) -> (TcpStream, SocketAddr, OwnedSemaphorePermit) {
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => match slots.clone().try_acquire_owned() {
                Ok(slot) => return (stream, peer, slot),
                Err(_) => {
                    tracing::warn!(%peer, "CoT connection refused: {MAX_CONNECTIONS} already")
                }
            },
            Err(e) => {
                tracing::warn!(error = %e, "CoT accept failed");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
}

/// Accepts connections until aborted; its connections end with it.
pub async fn run(state: AppState, listener: TcpListener, keys: Option<Keys>, slots: Slots) {
    let mut connections = JoinSet::new();
    loop {
        let (stream, peer, slot) = accept(&listener, &slots).await;
        let (state, keys) = (state.clone(), keys.clone());
        while connections.try_join_next().is_some() {}
        connections.spawn(async move {
            if let Err(why) = serve(state, stream, keys).await {
                tracing::info!(%peer, why, "CoT connection closed");
            }
            drop(slot);
        });
    }
}

/// What the client's side of the connection asks the writer to do.
enum Ask {
    /// Switch to protobuf after answering in XML.
    Protobuf,
    /// Tell the client what became of an event it sent (a CoT reply event), and which
    /// detection it was when it could be read.
    Reply(Option<Box<truce_cot::Detection>>, Result<u64, String>),
}

/// The adapter's keys: sensor id → the key it signs that sensor's observations with.
pub type Keys = std::sync::Arc<BTreeMap<String, truce_ledger::NoteSigner>>;

/// Loads `{sensor id: private key text}` (as `truce keygen` writes keys).
pub fn load_keys(path: &std::path::Path) -> Result<Keys, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let map: BTreeMap<String, String> = serde_json::from_str(&text).map_err(|e| {
        format!(
            "{}: must be a JSON object {{sensor id: private key text}}: {e}",
            path.display()
        )
    })?;
    map.into_iter()
        .map(|(id, key)| {
            truce_ledger::NoteSigner::from_skey(key.trim())
                .map(|k| (id.clone(), k))
                .map_err(|e| format!("{}: the key of {id}: {e}", path.display()))
        })
        .collect::<Result<BTreeMap<_, _>, _>>()
        .map(std::sync::Arc::new)
}

/// How a detection reached the adapter, as its observation records it (`data.gateway`).
#[derive(Clone, Debug)]
pub enum Via {
    /// A connection authenticated as `account` over `transport` (`tcp` or `tls`).
    Session {
        account: String,
        transport: &'static str,
    },
    /// A UDP datagram from an allowed network.
    Datagram { from: std::net::IpAddr },
}

/// A detection sent by a client, as a signed observation appended to the log: its index.
/// `raw` is what the client sent (kept as evidence, of `media_type`). A session's account
/// is checked again here: it must still be enabled and may report (role `gateway`).
async fn ingest(
    state: &AppState,
    keys: &Option<Keys>,
    d: truce_cot::Detection,
    raw: &[u8],
    media_type: &str,
    via: &Via,
) -> Result<u64, String> {
    use truce_model::SensorKind;
    let Some(keys) = keys else {
        return Err("this server takes no CoT input (it has no cot_keys)".into());
    };
    let gateway = match via {
        Via::Session { account, transport } => {
            if !state
                .desk
                .account(account)
                .is_some_and(|a| a.role.may(Scope::Report))
            {
                return Err(format!(
                    "account {account} may not report detections (that takes an enabled \
                     gateway account)"
                ));
            }
            serde_json::json!({"transport": transport, "account": account})
        }
        Via::Datagram { from } => serde_json::json!({"transport": "udp", "from": from}),
    };
    let signer = keys.get(&d.source).ok_or_else(|| {
        format!(
            "{} is not a source this server signs for (its cot_keys)",
            d.source
        )
    })?;
    let registered = state
        .registry
        .read()
        .map_err(|_| "the registry is unavailable".to_string())?
        .get(&d.source)
        .cloned();
    let kind = match registered {
        None => return Err(format!("{} is not a registered sensor", d.source)),
        Some(k) if k.revoked => return Err(format!("{} is revoked", d.source)),
        Some(k) => match k.kind {
            SensorKind::Drone => "drone.detection",
            SensorKind::Camera => "camera.detection",
            SensorKind::Radar => "radar.detection",
            other => {
                return Err(format!(
                    "{} is a {} sensor, which reports no detections",
                    d.source,
                    other.as_str()
                ));
            }
        },
    };
    let blobs = crate::blobs::Blobs::new(&state.config.data);
    let bytes = raw.to_vec();
    let sha256 = tokio::task::spawn_blocking(move || blobs.put(&bytes))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| format!("keeping the raw CoT: {e}"))?;
    // CoT's `ce` is a 95 % radius: the 1σ of a circular Gaussian is ce / CE_SIGMAS.
    let payload = serde_json::json!({
        "sensor": d.source,
        "seq": seq(&d),
        "observed_at": d.time,
        "kind": kind,
        "data": {
            "object_class": d.object_class,
            "position": {"lat": d.lat, "lon": d.lon},
            "position_sigma_m": (d.ce / truce_cot::CE_SIGMAS).max(1.0),
            "count": 1,
            "confidence": d.confidence.unwrap_or(0.5),
            "evidence": [{"sha256": sha256, "media_type": media_type}],
            "gateway": gateway,
        },
    });
    let payload = serde_json::to_vec(&payload).map_err(|e| e.to_string())?;
    let envelope = truce_model::Envelope::signed(
        truce_model::OBSERVATION_PAYLOAD_TYPE,
        &payload,
        &d.source,
        |m| signer.sign_bytes(m),
    );
    let bytes = serde_json::to_vec(&envelope).map_err(|e| e.to_string())?;
    match crate::routes::observations::check_and_append(state, bytes.into()).await {
        Ok(Ok(appended)) => Ok(appended.index),
        Ok(Err(problem)) => Err(problem.detail),
        Err(e) => Err(e.0.detail),
    }
}

/// The observation's sequence number: the detection's time in milliseconds, times 1000,
/// plus a number from 0 to 999 drawn from the detected object's uid, so that two tracks
/// reported in the same millisecond are not taken for a replay, while the same event sent
/// twice is the same observation (and logged once).
fn seq(d: &truce_cot::Detection) -> u64 {
    use sha2::Digest;
    let ms = u64::try_from(d.time.unix_nanos() / 1_000_000).unwrap_or(0);
    let digest = sha2::Sha256::digest(d.uid.as_bytes());
    let track = u64::from_be_bytes(digest[..8].try_into().expect("8 bytes")) % 1000;
    ms.saturating_mul(1000).saturating_add(track)
}

/// A plain TCP connection: the token line, then the session.
async fn serve(state: AppState, stream: TcpStream, keys: Option<Keys>) -> Result<(), String> {
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    let mut line = String::new();
    let got =
        tokio::time::timeout(HANDSHAKE, (&mut reader).take(MAX_LINE).read_line(&mut line)).await;
    let token = match got {
        Ok(Ok(_)) => line
            .trim()
            .strip_prefix("truce-token ")
            .unwrap_or("")
            .to_string(),
        _ => String::new(),
    };
    let account = (!token.is_empty())
        .then(|| {
            state
                .desk
                .account_for(crate::routes::is_admin_token(&state, &token), &token)
                .ok()
                .flatten()
        })
        .flatten()
        .filter(|a| a.role.may(Scope::Read));
    let Some(account) = account else {
        let _ = write
            .write_all(b"truce: unauthorized (send `truce-token <account token>` first)\n")
            .await;
        return Err("unauthorized".into());
    };
    session(state, account, "tcp", reader, write, keys).await
}

/// How long a client has to authenticate.
const HANDSHAKE: Duration = Duration::from_secs(10);

/// How long one write to a client may take before the client is dropped (one that stops
/// reading must not hold its session forever).
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);

/// The most CoT connections (plain and TLS together) served at once.
pub const MAX_CONNECTIONS: usize = 256;

/// Writes and flushes `bytes` within [`WRITE_TIMEOUT`].
async fn send<W: AsyncWrite + Unpin>(write: &mut W, bytes: &[u8]) -> Result<(), String> {
    let io = async {
        write.write_all(bytes).await?;
        write.flush().await
    };
    match tokio::time::timeout(WRITE_TIMEOUT, io).await {
        Ok(result) => result.map_err(|e| e.to_string()),
        Err(_) => Err("the client stopped reading".into()),
    }
}

/// An authenticated client's session: what it sends is read in a task of its own, while
/// events and findings are written to it; when either side ends, both do.
async fn session<R, W>(
    state: AppState,
    account: Account,
    transport: &'static str,
    reader: BufReader<R>,
    mut write: W,
    keys: Option<Keys>,
) -> Result<(), String>
where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin,
{
    tracing::info!(account = %account.id, transport, "CoT client connected");
    let (ask, asked) = mpsc::channel::<Ask>(16);
    let via = Via::Session {
        account: account.id.clone(),
        transport,
    };
    // In a set of its own, so that it ends when the session does, returning or dropped.
    let mut input = JoinSet::new();
    input.spawn(read_input(state.clone(), reader, keys, via, ask));
    let result = write_output(&state, &account.id, &mut write, asked).await;
    input.abort_all();
    let _ = tokio::time::timeout(Duration::from_secs(1), write.shutdown()).await;
    result
}

/// The client's side: its XML events, split at each `</event>`, and after its request to
/// switch, its TAK protocol frames; each detection is ingested and answered through `ask`.
/// Events naming no reporting sensor (a device's own position reports, pings, chat) pass
/// unanswered.
async fn read_input<R: AsyncRead + Unpin>(
    state: AppState,
    mut reader: BufReader<R>,
    keys: Option<Keys>,
    via: Via,
    ask: mpsc::Sender<Ask>,
) {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    let mut frames = false;
    // The reply to an event, or `None` for chatter.
    let take =
        async |d: Result<truce_cot::Detection, truce_cot::InputError>, raw: &[u8], media: &str| {
            let (about, outcome) = match d {
                Err(e) if e.is_chatter() => {
                    tracing::debug!(why = %e, "CoT event passed");
                    return None;
                }
                Err(e) => (None, Err(e.to_string())),
                Ok(d) => {
                    let outcome = ingest(&state, &keys, d.clone(), raw, media, &via).await;
                    (Some(Box::new(d)), outcome)
                }
            };
            if let Err(why) = &outcome {
                tracing::info!(why, "CoT input refused");
            }
            Some(Ask::Reply(about, outcome))
        };
    loop {
        let n = match reader.read(&mut chunk).await {
            Ok(0) => {
                // The client closed its side: what is left is a cut-off frame or event,
                // which it is told about (it may still read).
                if buffer.iter().any(|b: &u8| !b.is_ascii_whitespace()) {
                    let what = if frames { "a TAK frame" } else { "a CoT event" };
                    let why = format!(
                        "the stream ended inside {what} ({} bytes of it); nothing logged",
                        buffer.len()
                    );
                    tracing::info!(why, "CoT input refused");
                    let _ = ask.send(Ask::Reply(None, Err(why))).await;
                }
                return;
            }
            Err(_) => return,
            Ok(n) => n,
        };
        buffer.extend_from_slice(&chunk[..n]);
        loop {
            let request = if frames {
                match truce_cot::next_frame(&buffer) {
                    Ok(None) => break,
                    Ok(Some((message, used))) => {
                        let raw: Vec<u8> = buffer.drain(..used).collect();
                        let Some(event) = message.cot_event else {
                            continue;
                        };
                        let d = truce_cot::proto_detection(&event);
                        let media = truce_cot::PROTOBUF_MEDIA_TYPE;
                        match take(d, &raw, media).await {
                            Some(reply) => reply,
                            None => continue,
                        }
                    }
                    Err(e) => {
                        // A stream cannot be followed past a bad frame: say why, close.
                        tracing::info!(error = %e, "CoT protobuf input refused; closing");
                        let _ = ask
                            .send(Ask::Reply(None, Err(format!("{e}; closing"))))
                            .await;
                        return;
                    }
                }
            } else {
                let Some(end) = find(&buffer, b"</event>") else {
                    break;
                };
                let event: Vec<u8> = buffer.drain(..end + 8).collect();
                if truce_cot::is_protocol_request(&String::from_utf8_lossy(&event)) {
                    frames = true;
                    // What follows the request is already protobuf.
                    let start = buffer
                        .iter()
                        .position(|b| !b.is_ascii_whitespace())
                        .unwrap_or(buffer.len());
                    buffer.drain(..start);
                    Ask::Protobuf
                } else {
                    let raw = trim_start(&event);
                    let d = truce_cot::parse_detection(raw);
                    match take(d, raw, truce_cot::XML_MEDIA_TYPE).await {
                        Some(reply) => reply,
                        None => continue,
                    }
                }
            };
            if ask.send(request).await.is_err() {
                return;
            }
        }
        if !frames && buffer.len() > MAX_EVENT {
            let _ = ask
                .send(Ask::Reply(
                    None,
                    Err(format!(
                        "more than {MAX_EVENT} bytes without an </event>; closing"
                    )),
                ))
                .await;
            return;
        }
    }
}

/// The server's side: the offer, then every event and finding, each change, and the
/// replies the input side asks for, until the results end or the input side does, or the
/// account may no longer read (disabling it is logged, so the results move on after it).
async fn write_output<W: AsyncWrite + Unpin>(
    state: &AppState,
    account: &str,
    write: &mut W,
    mut asked: mpsc::Receiver<Ask>,
) -> Result<(), String> {
    // The mechanism's time judges the deadlines the views show; what is sent is stamped
    // with the wall clock, by which TAK clients judge a message stale (the two differ when
    // the server runs on an injected clock, as the demo's simulated day does).
    let now = || state.clock.now();
    let wall = || crate::Clock::now(&crate::SystemClock);
    send(write, truce_cot::protocol_offer(wall()).as_bytes()).await?;
    let mut protobuf = false;
    let mut replies = 0u64;
    // What this client has been sent: each item's key, by id, and the view it was last
    // brought up to.
    let mut sent: BTreeMap<String, Arc<str>> = BTreeMap::new();
    let mut last: Option<Arc<crate::views::View>> = None;
    let mut results = state.results.clone();
    // A review changes a finding without changing the results.
    let mut applied = state.desk.watch_applied();
    loop {
        if !state.desk.may(account, Scope::Read) {
            return Err(format!("account {account} may no longer read"));
        }
        applied.borrow_and_update();
        let latest = results.borrow_and_update().clone();
        if let Some(r) = latest {
            let view = state.views.of(&r, now());
            if !last.as_ref().is_some_and(|l| Arc::ptr_eq(l, &view)) {
                for (id, key, cot) in &view.cots {
                    if !crate::views::changed(sent.get(id), key) {
                        continue;
                    }
                    let cot = cot.clone().restamped(wall());
                    let bytes = if protobuf {
                        truce_cot::stream_frame(&cot.proto())
                    } else {
                        cot.xml().into_bytes()
                    };
                    send(write, &bytes).await?;
                    sent.insert(id.clone(), key.clone());
                }
                last = Some(view);
            }
        }
        tokio::select! {
            changed = results.changed() => if changed.is_err() { return Ok(()) },
            changed = applied.changed() => if changed.is_err() { return Ok(()) },
            request = asked.recv() => match request {
                Some(Ask::Protobuf) if !protobuf => {
                    send(write, truce_cot::protocol_response(wall(), true).as_bytes()).await?;
                    protobuf = true;
                    // Everything again, now in protobuf.
                    sent.clear();
                    last = None;
                }
                Some(Ask::Protobuf) => {}
                Some(Ask::Reply(about, outcome)) => {
                    replies += 1;
                    let reply = Cot::reply(about.as_deref(), replies, &outcome, wall());
                    let bytes = if protobuf {
                        truce_cot::stream_frame(&reply.proto())
                    } else {
                        reply.xml().into_bytes()
                    };
                    send(write, &bytes).await?;
                }
                None => return Ok(()),
            },
        }
    }
}

/// An event without the whitespace (and comments' newlines) before it.
fn trim_start(event: &[u8]) -> &[u8] {
    let start = event
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(event.len());
    &event[start..]
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    #[tokio::test(start_paused = true)]
    async fn a_client_that_stops_reading_is_dropped_after_the_write_timeout() {
        // The client's end is never read: the pipe fills and the write waits, until the
        // timeout (on the paused clock, which jumps ahead while everything waits).
        let (mut server, _client) = tokio::io::duplex(64);
        let started = tokio::time::Instant::now();
        let err = send(&mut server, &[0u8; 1024]).await.unwrap_err();
        assert_eq!(err, "the client stopped reading");
        assert_eq!(started.elapsed(), WRITE_TIMEOUT);
        // A reading client gets what is sent.
        let (mut server, mut client) = tokio::io::duplex(64);
        let reader = tokio::spawn(async move {
            let mut got = Vec::new();
            client.read_to_end(&mut got).await.map(|_| got.len())
        });
        send(&mut server, &[1u8; 1024]).await.unwrap();
        drop(server);
        assert_eq!(reader.await.unwrap().unwrap(), 1024);
    }

    #[tokio::test]
    async fn a_connection_beyond_the_slots_is_closed_at_once() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let slots: Slots = Arc::new(Semaphore::new(1));
        let _first = TcpStream::connect(addr).await.unwrap();
        let (_stream, _, slot) = accept(&listener, &slots).await;
        // The one slot is held: the next connection is accepted and closed.
        let mut second = TcpStream::connect(addr).await.unwrap();
        let pending = tokio::spawn({
            let slots = slots.clone();
            async move {
                let got = accept(&listener, &slots).await;
                (got.1, listener)
            }
        });
        let mut buf = [0u8; 1];
        let read = tokio::time::timeout(Duration::from_secs(10), second.read(&mut buf)).await;
        assert!(
            matches!(read, Ok(Ok(0)) | Ok(Err(_))),
            "closed at once: {read:?}"
        );
        // Once the slot is free, the next connection is served.
        drop(slot);
        let third = TcpStream::connect(addr).await.unwrap();
        let (peer, _listener) = tokio::time::timeout(Duration::from_secs(10), pending)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(peer, third.local_addr().unwrap());
    }
}
