//! MQTT ingest: observations published as DSSE envelopes to a topic filter (default
//! `truce/+/observations`) go through the same checks and the same sequencer as HTTP.
//!
//! The session is persistent (clean session off) and acknowledgements are manual: a QoS 1
//! message is acknowledged to the broker only after its observation is durable in the log
//! (or after it was refused for good, as an invalid envelope would be forever). If truce
//! stops in between, the broker delivers the message again and the log answers "already
//! logged" if it got that far: nothing is lost, nothing is logged twice.

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
    let (work, mut queue) = tokio::sync::mpsc::unbounded_channel::<rumqttc::Publish>();
    let acker = client.clone();
    tokio::spawn(async move {
        while let Some(publish) = queue.recv().await {
            if handle(&state, publish.payload.clone()).await {
                if let Err(e) = acker.ack(&publish).await {
                    tracing::warn!(error = %e, "MQTT ack failed");
                }
            } else {
                tracing::info!(topic = %publish.topic, "shutting down: MQTT message left unacknowledged for redelivery");
                return;
            }
        }
    });
    loop {
        match events.poll().await {
            Ok(Event::Incoming(Packet::ConnAck(_))) => {
                tracing::info!(host = %settings.host, port = settings.port, topic = %settings.topic, "MQTT connected");
                if let Err(e) = client.subscribe(&settings.topic, QoS::AtLeastOnce).await {
                    tracing::warn!(error = %e, "MQTT subscribe failed");
                }
            }
            Ok(Event::Incoming(Packet::Publish(publish))) => {
                if work.send(publish).is_err() {
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
/// unacknowledged would only come back when the session reconnects. False only when the
/// server is shutting down.
async fn handle(state: &AppState, payload: Bytes) -> bool {
    let mut attempt = 0u32;
    loop {
        match try_handle(state, payload.clone()).await {
            Some(done) => return done,
            None if state.sequencer.is_closed() => return false,
            None => {
                tokio::time::sleep(retry_wait(attempt)).await;
                attempt = attempt.saturating_add(1);
            }
        }
    }
}

/// The longest wait between two attempts at a message.
const MAX_RETRY_WAIT: Duration = Duration::from_secs(10);

/// The wait after failed attempt `attempt` (from 0): 200 ms, doubling, at most
/// [`MAX_RETRY_WAIT`].
fn retry_wait(attempt: u32) -> Duration {
    Duration::from_millis(200u64.saturating_mul(1 << attempt.min(16))).min(MAX_RETRY_WAIT)
}

/// `Some(true)`: acknowledge; `None`: a passing failure of the log (an internal error, or
/// shutting down), worth retrying.
async fn try_handle(state: &AppState, payload: Bytes) -> Option<bool> {
    match check_and_append(state, payload).await {
        Err(e) => {
            tracing::warn!(detail = %e.0.detail, "MQTT message check failed");
            None
        }
        Ok(Ok(appended)) => {
            tracing::debug!(
                index = appended.index,
                duplicate = appended.duplicate,
                "MQTT observation logged"
            );
            Some(true)
        }
        Ok(Err(problem)) => {
            let passing = matches!(
                problem.kind(),
                Some(ProblemType::Internal) | Some(ProblemType::Unavailable) | None
            );
            tracing::warn!(detail = %problem.detail, passing, "MQTT observation not logged");
            if passing { None } else { Some(true) }
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
