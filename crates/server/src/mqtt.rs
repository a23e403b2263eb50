//! MQTT ingest: observations published as DSSE envelopes to a topic filter (default
//! `truce/+/observations`) go through the same checks and the same sequencer as HTTP.
//!
//! The session is persistent (clean session off) and acknowledgements are manual: a QoS 1
//! message is acknowledged to the broker only after its observation is durable in the log
//! (or after it was refused for good, as an invalid envelope would be forever). If truce
//! stops in between, the broker delivers the message again and the log answers "already
//! logged" if it got that far: nothing is lost, nothing is logged twice.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::body::Bytes;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use truce_model::ProblemType;

use crate::routes::observations::check_and_append;
use crate::state::AppState;

/// Where and what to subscribe to.
#[derive(Clone, Debug, PartialEq)]
pub struct MqttSettings {
    pub host: String,
    pub port: u16,
    pub topic: String,
    pub client_id: String,
}

impl MqttSettings {
    /// From `mqtt://host:port` (port 1883 when absent).
    pub fn from_url(url: &str, topic: &str, client_id: &str) -> Result<Self, String> {
        let rest = url
            .strip_prefix("mqtt://")
            .ok_or_else(|| format!("{url}: expected mqtt://host[:port]"))?;
        let rest = rest.trim_end_matches('/');
        let (host, port) = match rest.rsplit_once(':') {
            Some((h, p)) => (
                h.to_string(),
                p.parse::<u16>().map_err(|_| format!("{url}: bad port"))?,
            ),
            None => (rest.to_string(), 1883),
        };
        if host.is_empty() {
            return Err(format!("{url}: no host"));
        }
        Ok(Self {
            host,
            port,
            topic: topic.to_string(),
            client_id: client_id.to_string(),
        })
    }
}

/// Runs the subscriber until the process ends; reconnects after errors.
pub async fn run(state: AppState, settings: MqttSettings) {
    let mut options = MqttOptions::new(&settings.client_id, &settings.host, settings.port);
    options
        .set_clean_session(false)
        .set_manual_acks(true)
        .set_keep_alive(Duration::from_secs(30))
        .set_max_packet_size(1 << 20, 1 << 20);
    let (client, mut events) = AsyncClient::new(options, 256);
    // Messages are logged and acknowledged by a worker, in order, so that this loop keeps
    // polling the connection meanwhile: it sends the keep-alive pings and drains the
    // acknowledgements. (Awaiting an acknowledgement here would wait for the very loop
    // that sends it once the client's request queue is full, and the broker would drop
    // the silent connection.) What waits in the queue is bounded by the broker's window
    // of unacknowledged messages.
    //
    // Each message is tagged with the connection it came on. After a reconnect the broker
    // delivers again what was not acknowledged, and a packet id of the old connection may
    // name another message on the new one: messages of an old connection are neither
    // handled nor acknowledged (their copies are).
    let (work, mut queue) = tokio::sync::mpsc::unbounded_channel::<(u64, rumqttc::Publish)>();
    let connection = Arc::new(AtomicU64::new(0));
    let current = connection.clone();
    let acker = client.clone();
    tokio::spawn(async move {
        while let Some((on, publish)) = queue.recv().await {
            let live = || current.load(Ordering::SeqCst) == on;
            if !live() {
                continue;
            }
            if handle(&state, publish.payload.clone()).await {
                if !live() {
                    continue;
                }
                if let Err(e) = acker.ack(&publish).await {
                    tracing::warn!(error = %e, "MQTT ack failed");
                }
            } else if state.sequencer.is_closed() {
                tracing::info!(topic = %publish.topic, "shutting down: MQTT message left unacknowledged for redelivery");
                return;
            } else {
                tracing::error!(topic = %publish.topic, "MQTT message could not be checked; left unacknowledged");
            }
        }
    });
    loop {
        match events.poll().await {
            Ok(Event::Incoming(Packet::ConnAck(_))) => {
                connection.fetch_add(1, Ordering::SeqCst);
                tracing::info!(host = %settings.host, port = settings.port, topic = %settings.topic, "MQTT connected");
                if let Err(e) = client.subscribe(&settings.topic, QoS::AtLeastOnce).await {
                    tracing::warn!(error = %e, "MQTT subscribe failed");
                }
            }
            Ok(Event::Incoming(Packet::Publish(publish))) => {
                if work
                    .send((connection.load(Ordering::SeqCst), publish))
                    .is_err()
                {
                    return;
                }
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error = %e, "MQTT connection lost; retrying in 1 s");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

/// Checks and logs one message; true when it may be acknowledged: logged (now or before),
/// or refused for a reason that lies in the message itself. While the log is unavailable
/// it tries again, waiting longer each time (up to [`MAX_RETRY_WAIT`]), and holds the
/// messages behind it meanwhile: they would meet the same failure, and a message left
/// unacknowledged would only come back when the session reconnects. False when the
/// server is shutting down, or when the message could not even be checked
/// [`MAX_CHECK_FAILURES`] times (a fault of the server with this message: it is left
/// unacknowledged and the messages behind it go on).
async fn handle(state: &AppState, payload: Bytes) -> bool {
    let (mut attempt, mut check_failures) = (0u32, 0u32);
    loop {
        match try_handle(state, payload.clone()).await {
            Outcome::Done => return true,
            _ if state.sequencer.is_closed() => return false,
            Outcome::CheckFailed => {
                check_failures += 1;
                if check_failures >= MAX_CHECK_FAILURES {
                    return false;
                }
            }
            Outcome::LogUnavailable => {}
        }
        tokio::time::sleep(retry_wait(attempt)).await;
        attempt = attempt.saturating_add(1);
    }
}

/// How often a message that cannot be checked is tried.
const MAX_CHECK_FAILURES: u32 = 5;

/// What one attempt at a message came to.
enum Outcome {
    /// Logged (now or before), or refused for good: acknowledge it.
    Done,
    /// The log could not take it (an internal failure, or shutting down): try again.
    LogUnavailable,
    /// The checks themselves failed (the server is busy or failing with this message).
    CheckFailed,
}

/// The longest wait between two attempts at a message.
const MAX_RETRY_WAIT: Duration = Duration::from_secs(10);

/// The wait after failed attempt `attempt` (from 0): 200 ms, doubling, at most
/// [`MAX_RETRY_WAIT`].
fn retry_wait(attempt: u32) -> Duration {
    Duration::from_millis(200u64.saturating_mul(1 << attempt.min(16))).min(MAX_RETRY_WAIT)
}

async fn try_handle(state: &AppState, payload: Bytes) -> Outcome {
    match check_and_append(state, payload).await {
        Err(e) => {
            tracing::warn!(detail = %e.0.detail, "MQTT message check failed");
            Outcome::CheckFailed
        }
        Ok(Ok(appended)) => {
            tracing::debug!(
                index = appended.index,
                duplicate = appended.duplicate,
                "MQTT observation logged"
            );
            Outcome::Done
        }
        Ok(Err(problem)) => {
            let passing = matches!(
                problem.kind(),
                Some(ProblemType::Internal) | Some(ProblemType::Unavailable) | None
            );
            tracing::warn!(detail = %problem.detail, passing, "MQTT observation not logged");
            if passing {
                Outcome::LogUnavailable
            } else {
                Outcome::Done
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let s = MqttSettings::from_url("mqtt://127.0.0.1:1884", "t/+/o", "c").unwrap();
        assert_eq!((s.host.as_str(), s.port), ("127.0.0.1", 1884));
        let s = MqttSettings::from_url("mqtt://broker", "t", "c").unwrap();
        assert_eq!(s.port, 1883);
        assert!(MqttSettings::from_url("http://x", "t", "c").is_err());
        assert!(MqttSettings::from_url("mqtt://x:port", "t", "c").is_err());
    }

    #[test]
    fn retries_wait_longer_each_time_up_to_a_limit() {
        let waits: Vec<u128> = (0..8).map(|a| retry_wait(a).as_millis()).collect();
        assert_eq!(waits, [200, 400, 800, 1600, 3200, 6400, 10_000, 10_000]);
        assert_eq!(retry_wait(u32::MAX), MAX_RETRY_WAIT);
    }
}
