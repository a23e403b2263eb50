//! Delivering escalations to guarantors' webhooks, from a durable outbox.
//!
//! Opening an escalation queues one notification per receiver in `private.sqlite`
//! (keyed by escalation and guarantor, so queuing again is harmless); at start, every
//! escalation in the log whose guarantor has a webhook is queued again, which covers a
//! crash between logging the escalation and queuing it. A worker POSTs each due
//! notification: a JSON body, an `Idempotency-Key` header (the queue key: a receiver that
//! remembers it handles a redelivery once), and a `Truce-Signature` header carrying the
//! Ed25519 signature over the body with the log's key (the key of the log's published
//! `vkey`). A 2xx answer marks it delivered and logs an `escalation_notify` action; any
//! other outcome is retried with exponential backoff. Delivery is at least once; with the
//! idempotency key, exactly once per receiver.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use truce_commission::roles::SYSTEM;
use truce_commission::{Commission, What};
use truce_ledger::NoteSigner;
use truce_model::envelope::encode_base64;
use truce_store::Notification;

use crate::error::ApiError;
use crate::state::AppState;

/// The notifications an escalation logged at `index` calls for, due at `now_ms`.
pub fn notifications(c: &Commission, index: u64, vkey: &str, now_ms: i64) -> Vec<Notification> {
    let Some(record) = c.escalations().get(&index) else {
        return Vec::new();
    };
    let e = &record.escalation;
    let Some(url) = c
        .guarantees()
        .guarantor(&e.guarantor)
        .and_then(|g| g.webhook.clone())
    else {
        return Vec::new();
    };
    let commitment = c.guarantees().commitment(&e.commitment);
    let body = json!({
        "escalation": index,
        "guarantees": c.guarantees().guarantees.id,
        "opened_at": record.opened.at,
        "record": e,
        "commitment": commitment,
        "log_key": vkey,
    });
    vec![Notification {
        key: format!("escalation-{index}-{}", e.guarantor),
        escalation: index,
        receiver: e.guarantor.clone(),
        url,
        body: serde_json::to_vec(&body).unwrap_or_default(),
        attempts: 0,
        next_at_ms: now_ms,
        delivered_at_ms: None,
        last_error: None,
    }]
}

/// Queues the notifications of the escalations at `indices` (all of them when `None`).
pub fn enqueue(state: &AppState, indices: Option<&[u64]>) -> Result<usize, ApiError> {
    let now_ms = now_ms(state);
    let queued: Vec<Notification> = state.desk.read(|c| {
        let all: Vec<u64> = match indices {
            Some(i) => i.to_vec(),
            None => c.escalations().keys().copied().collect(),
        };
        all.into_iter()
            .flat_map(|i| notifications(c, i, &state.vkey, now_ms))
            .collect()
    });
    let mut new = 0;
    for n in &queued {
        if state.desk.private.enqueue(n)? {
            new += 1;
        }
    }
    Ok(new)
}

fn now_ms(state: &AppState) -> i64 {
    state.clock.now().unix_nanos() / 1_000_000
}

/// How long to wait before attempt `attempts + 1`.
pub fn backoff(base: Duration, attempts: u32) -> Duration {
    let max = Duration::from_secs(600);
    base.saturating_mul(1u32 << attempts.min(20)).min(max)
}

/// Runs the delivery worker until the server stops.
pub async fn run(
    state: AppState,
    signer: Arc<NoteSigner>,
    poll: Duration,
    base: Duration,
    mut stop: tokio::sync::oneshot::Receiver<()>,
) {
    let client = match reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "webhook client");
            return;
        }
    };
    let mut ticker = tokio::time::interval(poll);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = &mut stop => return,
            _ = ticker.tick() => {}
        }
        let due = match state.desk.private.due(now_ms(&state), 16) {
            Ok(due) => due,
            Err(e) => {
                tracing::warn!(error = %e, "outbox");
                continue;
            }
        };
        for n in due {
            deliver(&state, &client, &signer, n, base).await;
        }
    }
}

async fn deliver(
    state: &AppState,
    client: &reqwest::Client,
    signer: &NoteSigner,
    n: Notification,
    base: Duration,
) {
    let signature = encode_base64(&signer.sign_bytes(&n.body));
    let sent = client
        .post(&n.url)
        .header("content-type", "application/json")
        .header("idempotency-key", &n.key)
        .header("truce-signature", format!("ed25519={signature}"))
        .body(n.body.clone())
        .send()
        .await;
    let outcome = match sent {
        Ok(r) if r.status().is_success() => Ok(()),
        Ok(r) => Err(format!("HTTP {}", r.status())),
        Err(e) => Err(e.to_string()),
    };
    let now = now_ms(state);
    match outcome {
        Ok(()) => {
            if let Err(e) = state.desk.private.delivered(&n.key, now) {
                tracing::warn!(error = %e, key = %n.key, "outbox");
            }
            let logged = state
                .desk
                .act(
                    &state.sequencer,
                    state.clock.as_ref(),
                    SYSTEM,
                    What::EscalationNotify {
                        escalation: n.escalation,
                        receiver: n.receiver.clone(),
                        attempts: n.attempts + 1,
                    },
                )
                .await;
            if let Err(e) = logged {
                tracing::warn!(detail = %e.0.detail, key = %n.key, "delivery not logged");
            }
        }
        Err(error) => {
            let wait = backoff(base, n.attempts);
            tracing::info!(key = %n.key, %error, retry_in_ms = wait.as_millis() as u64, "webhook failed");
            let next = now + wait.as_millis() as i64;
            if let Err(e) = state.desk.private.failed(&n.key, &error, next) {
                tracing::warn!(error = %e, key = %n.key, "outbox");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_ten_minutes() {
        let base = Duration::from_millis(500);
        assert_eq!(backoff(base, 0), Duration::from_millis(500));
        assert_eq!(backoff(base, 3), Duration::from_secs(4));
        assert_eq!(backoff(base, 40), Duration::from_secs(600));
    }
}
