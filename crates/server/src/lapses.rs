//! Lapsed deadlines: when an obligation of an escalation passes its deadline unmet, the
//! server logs a `deadline_lapse` action (as `truce`), so that the silence is a fact in the
//! log, timed when it was seen, not only a status the board computes on reading. The
//! worker looks every [`CHECK_EVERY`] against the injected clock, and once at start: a
//! deadline that passed while the server was down is logged then (the lapse's entry says
//! when it was logged; the obligation's `due` says when it lapsed).

use std::time::Duration;

use tokio::sync::oneshot;
use truce_commission::roles::SYSTEM;
use truce_commission::{DueStatus, What};
use truce_model::ProblemType;

use crate::error::ApiError;
use crate::state::AppState;

/// How often the worker looks for deadlines that passed.
pub const CHECK_EVERY: Duration = Duration::from_secs(1);

/// Logs a lapse for every obligation overdue now whose lapse is not logged yet.
async fn log_lapses(state: &AppState) -> Result<(), ApiError> {
    let now = state.clock.now();
    let overdue: Vec<(u64, String)> = state.desk.read(|c| {
        c.deadlines(now)
            .into_iter()
            .filter(|d| d.status == DueStatus::Overdue && d.lapse.is_none())
            .map(|d| (d.escalation, d.action))
            .collect()
    });
    for (escalation, action) in overdue {
        let what = What::DeadlineLapse {
            escalation,
            obligation: action,
        };
        match state
            .desk
            .act(&state.sequencer, state.clock.as_ref(), SYSTEM, what)
            .await
        {
            Ok(index) => tracing::info!(escalation, index, "deadline lapsed"),
            // Answered or logged in between: nothing to record.
            Err(e) if e.0.kind() == Some(ProblemType::Conflict) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Logs lapses until the server stops.
pub async fn run(state: AppState, mut stop: oneshot::Receiver<()>) {
    let mut ticker = tokio::time::interval(CHECK_EVERY);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = &mut stop => return,
            _ = ticker.tick() => {}
        }
        if let Err(e) = log_lapses(&state).await {
            tracing::warn!(detail = %e.0.detail, "logging lapsed deadlines");
        }
    }
}
