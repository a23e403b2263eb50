//! The automatic verification policy at work: whenever the results change, and right
//! after a policy is set, every final candidate finding the policy admits is verified by
//! the server, citing the policy's log entry, with the escalations that verification
//! opens. A provisional finding waits: its event may still change, and with it its id.

use truce_commission::What;
use truce_commission::roles::SYSTEM;
use truce_model::VerificationState;

use crate::desk::Subject;
use crate::error::ApiError;
use crate::routes::commission::follow_up;
use crate::state::AppState;

/// Verifies the candidate findings the policy in force admits; how many.
pub async fn apply(state: &AppState) -> Result<usize, ApiError> {
    let Some(results) = state.results.borrow().clone() else {
        return Ok(0);
    };
    let due: Vec<(String, u64)> = state.desk.read(|c| {
        let Some((index, policy)) = c.policy() else {
            return Vec::new();
        };
        results
            .findings
            .iter()
            .filter(|f| {
                !f.provisional
                    && c.state_of(&f.id) == VerificationState::Candidate
                    && policy.admits(f)
            })
            .map(|f| (f.id.clone(), *index))
            .collect()
    });
    let mut verified = 0;
    for (finding, policy) in due {
        let what = What::Review {
            finding,
            verdict: truce_commission::Verdict::Verify,
            reason: None,
            policy: Some(policy),
        };
        let index = match state
            .desk
            .act(&state.sequencer, state.clock.as_ref(), SYSTEM, what.clone())
            .await
        {
            Ok(index) => index,
            // Verified meanwhile (by the other caller of this function, or an analyst).
            Err(e) if e.0.status == 409 => continue,
            Err(e) => return Err(e),
        };
        follow_up(state, &what, index).await?;
        verified += 1;
    }
    Ok(verified)
}

/// Opens the escalations that verified findings and adopted rulings call for and that
/// are not open yet: those a crash cut off between a verification (or the deciding vote)
/// and its escalations, and those of commitments added to the guarantees since. (Opening
/// is idempotent: one escalation per commitment and subject.) How many were opened.
pub async fn reconcile(state: &AppState) -> Result<usize, ApiError> {
    let Some(results) = state.results.borrow().clone() else {
        return Ok(0);
    };
    let (findings, rulings): (Vec<String>, Vec<u64>) = state.desk.read(|c| {
        let findings = results
            .findings
            .iter()
            .filter(|f| c.state_of(&f.id) == VerificationState::Verified)
            .map(|f| f.id.clone())
            .collect();
        let rulings = c
            .rulings()
            .iter()
            .filter(|(_, r)| r.adopted.is_some())
            .map(|(index, _)| *index)
            .collect();
        (findings, rulings)
    });
    let subjects = findings
        .into_iter()
        .map(Subject::Finding)
        .chain(rulings.into_iter().map(Subject::Ruling));
    let mut opened = Vec::new();
    for subject in subjects {
        let clock = state.clock.as_ref();
        let more = state
            .desk
            .escalate(&state.sequencer, clock, &results.findings, subject)
            .await?;
        opened.extend(more);
    }
    crate::notify::enqueue(state, Some(&opened))?;
    if !opened.is_empty() {
        tracing::info!(
            opened = opened.len(),
            "escalations opened that were missing"
        );
    }
    Ok(opened.len())
}

/// Applies the policy after every change of the results, until the server stops; once,
/// on the first results after the start (the whole log), opens any escalation that is due
/// and missing.
pub async fn run(state: AppState, mut stop: tokio::sync::oneshot::Receiver<()>) {
    let mut results = state.results.clone();
    let mut reconciled = false;
    loop {
        if !reconciled && state.results.borrow().is_some() {
            match reconcile(&state).await {
                Ok(_) => reconciled = true,
                Err(e) => tracing::warn!(detail = %e.0.detail, "opening missing escalations"),
            }
        }
        tokio::select! {
            _ = &mut stop => return,
            changed = results.changed() => {
                if changed.is_err() {
                    return;
                }
            }
        }
        if let Err(e) = apply(&state).await {
            tracing::warn!(detail = %e.0.detail, "verification by policy");
        }
    }
}
