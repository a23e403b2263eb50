//! Cursor-on-Target output for TAK clients (ATAK, WinTAK, pytak): a TCP listener that
//! streams truce's events and findings as CoT, first as XML and, once the client asks for
//! it with the TAK negotiation (`t-x-takp-q`), as TAK Protocol version 1 protobuf in the
//! stream framing.
//!
//! A connection is authenticated by its first line, `truce-token <account token>`, read
//! within ten seconds; the account needs the read scope. (Plain TCP with a token is meant
//! for loopback and trusted links; mutual TLS is not built yet.) Then the server offers
//! protobuf (`t-x-takp-v`), sends every current event and finding, and each new or changed
//! one as the results follow the log.

use std::collections::BTreeMap;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use truce_commission::roles::Scope;
use truce_cot::Cot;
use truce_pipeline::Results;

use crate::state::AppState;

/// The longest first line (the token) and the most a client may send between events.
const MAX_LINE: u64 = 512;
const MAX_EVENT: usize = 64 * 1024;

/// Accepts connections until the process ends.
pub async fn run(state: AppState, listener: TcpListener) {
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                let state = state.clone();
                tokio::spawn(async move {
                    if let Err(why) = serve(state, stream).await {
                        tracing::info!(%peer, why, "CoT connection closed");
                    }
                });
            }
            Err(e) => {
                tracing::warn!(error = %e, "CoT accept failed");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
}

/// What the client's side of the connection asks the writer to do.
enum Ask {
    /// Switch to protobuf after answering in XML.
    Protobuf,
}

async fn serve(state: AppState, stream: TcpStream) -> Result<(), String> {
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    let mut line = String::new();
    let got = tokio::time::timeout(
        Duration::from_secs(10),
        (&mut reader).take(MAX_LINE).read_line(&mut line),
    )
    .await;
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
    tracing::info!(account = %account.id, "CoT client connected");

    let (ask, mut asked) = mpsc::channel::<Ask>(4);
    tokio::spawn(async move {
        // The client's XML events, split at each `</event>`; only the negotiation is read.
        let mut buffer = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            let n = match reader.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            buffer.extend_from_slice(&chunk[..n]);
            while let Some(end) = find(&buffer, b"</event>") {
                let event: Vec<u8> = buffer.drain(..end + 8).collect();
                if truce_cot::is_protocol_request(&String::from_utf8_lossy(&event))
                    && ask.send(Ask::Protobuf).await.is_err()
                {
                    return;
                }
            }
            if buffer.len() > MAX_EVENT {
                return;
            }
        }
    });

    let now = || state.clock.now();
    let io = |e: std::io::Error| e.to_string();
    write
        .write_all(truce_cot::protocol_offer(now()).as_bytes())
        .await
        .map_err(io)?;
    let mut protobuf = false;
    let mut sent: BTreeMap<String, String> = BTreeMap::new();
    let mut results = state.results.clone();
    loop {
        let latest = results.borrow_and_update().clone();
        if let Some(r) = latest {
            for (id, cot) in cots(&state, &r, now()) {
                let key = format!("{} {} {} {}", cot.kind, cot.lat, cot.lon, cot.remarks);
                if sent.get(&id) == Some(&key) {
                    continue;
                }
                let bytes = if protobuf {
                    truce_cot::stream_frame(&cot.proto())
                } else {
                    cot.xml().into_bytes()
                };
                write.write_all(&bytes).await.map_err(io)?;
                sent.insert(id, key);
            }
        }
        tokio::select! {
            changed = results.changed() => if changed.is_err() { return Ok(()) },
            request = asked.recv() => match request {
                Some(Ask::Protobuf) if !protobuf => {
                    write
                        .write_all(truce_cot::protocol_response(now(), true).as_bytes())
                        .await
                        .map_err(io)?;
                    protobuf = true;
                    // Everything again, now in protobuf.
                    sent.clear();
                }
                Some(Ask::Protobuf) => {}
                None => return Ok(()),
            },
        }
    }
}

/// Every event and finding of the results as CoT, by id (findings in their reviewed state).
fn cots(state: &AppState, r: &Results, now: truce_model::Timestamp) -> Vec<(String, Cot)> {
    let ce: BTreeMap<&str, f64> = r
        .events
        .iter()
        .map(|e| (e.event.id.as_str(), e.ellipse_90[0]))
        .collect();
    let mut out: Vec<(String, Cot)> = r
        .events
        .iter()
        .map(|e| (e.event.id.clone(), Cot::of_event(e, now)))
        .collect();
    out.extend(state.desk.reviewed(&r.findings).iter().map(|f| {
        (
            f.id.clone(),
            Cot::of_finding(f, ce.get(f.event.as_str()).copied(), now),
        )
    }));
    out
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
