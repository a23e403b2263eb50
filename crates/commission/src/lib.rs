//! The Special Commission and the guarantees, as a pure function of the log.
//!
//! Every step a person (or the server, on a policy's or a trigger's behalf) takes is an
//! [`Action`]: who, when, what. The server checks an action against the current
//! [`Commission`] state, signs it (or accepts the person's own signature), appends it to
//! the log, and only then applies it. An auditor folds the same entries, in log order,
//! through the same [`Commission::apply`] and reaches the same state: reviews with their
//! history, allegations with their cross-check, rulings with their votes, escalations with
//! their deadlines, acknowledgements and responses.
//!
//! - [`roles`]: accounts, roles and what each may do.
//! - [`action`]: the records of the log (`truce.action.v1` entries).
//! - [`state`]: the fold over them.
//! - [`guarantees`]: the guarantees file (guarantors, commitments, triggers, quorum).
//! - [`triggers`]: which commitments a finding or a ruling engages, and how.
//! - [`crosscheck`]: an allegation against the events and observations around it.
//!
//! No I/O beyond reading the guarantees file when asked, no clock: times come in with the
//! actions, and "now" is a parameter wherever deadlines are judged.

pub mod action;
pub mod bulletin;
pub mod crosscheck;
pub mod guarantees;
pub mod roles;
pub mod state;
pub mod triggers;

pub use action::{
    ACTION_PAYLOAD_TYPE, Action, Allegation, Escalation, EscalationKind, Evidence, Intent, Measure,
    MetBy, Obligation, Policy, Published, Verdict, Vote, What,
};
pub use crosscheck::{Assessment, Context, Listener, Outcome, ResultsAt, crosscheck};
pub use guarantees::{Commitment, Guarantees, GuaranteesError, Guarantor, Ratification};
pub use roles::{Account, Role};
pub use state::{Commission, Denied, Due, DueStatus, Reason, Signer};
pub use triggers::severity;

/// A value's name as its JSON writes it (`under_review`, `submitted`).
pub(crate) fn name(value: &impl serde::Serialize) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}
