//! The Commission's state: a fold of the log's actions, in log order.
//!
//! [`Commission::check`] says whether an action may be taken now (the server asks before
//! it appends); [`Commission::apply`] checks and records it (the server after appending,
//! an auditor for every action entry of the log). [`Commission::apply_entry`] starts from
//! the entry's bytes and verifies its signature first, which is what an auditor runs.

use std::collections::BTreeMap;

use ed25519_consensus::{Signature, VerificationKey};
use serde::Serialize;
use truce_model::envelope::{Envelope, decode_base64, pae};
use truce_model::{Timestamp, VerificationState};

use crate::action::{
    ACTION_PAYLOAD_TYPE, Action, Allegation, Escalation, Intent, Measure, MetBy, Obligation,
    Policy, Published, Verdict, Vote, What,
};
use crate::crosscheck::{Assessment, CATEGORIES};
use crate::guarantees::Guarantees;
use crate::roles::{ADMIN, Account, Role, SYSTEM, Scope};

/// Who signed an action entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Signer {
    /// The actor, with the key of their account.
    Actor,
    /// The server, with the log's key: its own steps, or a person's without a key of their
    /// own (recorded as on their behalf).
    Server,
}

/// Why an action was refused, with the HTTP status it maps to.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Denied {
    pub reason: Reason,
    /// The field at fault, when one is.
    pub field: Option<&'static str>,
    pub message: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    /// No such (enabled) account, or a bad signature: 401.
    Unauthenticated,
    /// The role or binding does not allow it: 403.
    Forbidden,
    /// What it refers to does not exist: 404.
    NotFound,
    /// It contradicts the state (already done, not verified yet): 409.
    Conflict,
    /// A field is wrong: 422.
    Invalid,
}

fn denied(reason: Reason, field: Option<&'static str>, message: impl Into<String>) -> Denied {
    Denied {
        reason,
        field,
        message: message.into(),
    }
}

/// Who did something, when, in which entry, signed how.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Stamp {
    pub index: u64,
    pub actor: String,
    pub at: Timestamp,
    pub signer: Signer,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AccountRecord {
    pub account: Account,
    pub created: Option<Stamp>,
    pub disabled: Option<Stamp>,
    /// Tokens issued after the first (which came with `created`), oldest first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tokens_issued: Vec<Stamp>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ReviewRecord {
    #[serde(flatten)]
    pub stamp: Stamp,
    pub verdict: Verdict,
    pub state: VerificationState,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The policy entry, for an automatic verification.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy: Option<u64>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AllegationRecord {
    pub filed: Stamp,
    pub allegation: Allegation,
    pub assessment: Option<(Stamp, Assessment)>,
    /// Its reviews, oldest first; the last gives its state (`candidate` before any).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub reviews: Vec<ReviewRecord>,
}

impl AllegationRecord {
    pub fn state(&self) -> VerificationState {
        self.reviews
            .last()
            .map_or(VerificationState::Candidate, |r| r.state)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct VoteRecord {
    #[serde(flatten)]
    pub stamp: Stamp,
    pub vote: Vote,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RulingRecord {
    pub proposed: Stamp,
    pub findings: Vec<String>,
    pub attribution: Option<String>,
    pub intent: Intent,
    pub remedy: String,
    /// Every vote, the proposer's concurrence first; dissent stays on record.
    pub votes: Vec<VoteRecord>,
    /// The vote that reached the quorum.
    pub adopted: Option<Stamp>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Answer {
    #[serde(flatten)]
    pub stamp: Stamp,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub measures: Vec<Measure>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EscalationRecord {
    pub opened: Stamp,
    pub escalation: Escalation,
    /// Deliveries of the notification (one per receiver, normally).
    pub notified: Vec<(Stamp, String)>,
    pub acknowledged: Option<Answer>,
    pub response: Option<Answer>,
    /// Obligations logged as lapsed (`deadline_lapse`), by action.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub lapsed: BTreeMap<String, Stamp>,
}

impl EscalationRecord {
    /// The answer that met the obligation, if any: the acknowledgement or the response,
    /// as its kind says.
    pub fn met(&self, o: &Obligation) -> Option<&Stamp> {
        match o.met_by {
            MetBy::Acknowledgement => self.acknowledged.as_ref().or(self.response.as_ref()),
            MetBy::Response => self.response.as_ref(),
        }
        .map(|a| &a.stamp)
    }
}

/// Where one obligation of an escalation stands at a given time.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Due {
    pub escalation: u64,
    pub commitment: String,
    pub guarantor: String,
    pub action: String,
    pub due: Timestamp,
    pub status: DueStatus,
    /// The log index of the `deadline_lapse` entry, once the server logged the lapse.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lapse: Option<u64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DueStatus {
    /// Not met, and the deadline has not passed.
    Running,
    /// Not met, and the deadline has passed.
    Overdue,
    /// Met before the deadline.
    Met,
    /// Met after the deadline.
    MetLate,
}

/// The Commission's state.
#[derive(Clone, Debug)]
pub struct Commission {
    guarantees: Guarantees,
    /// The text of the guarantees last logged (`guarantees_load`), if any.
    logged_guarantees: Option<String>,
    accounts: BTreeMap<String, AccountRecord>,
    policy: Option<(u64, Policy)>,
    reviews: BTreeMap<String, Vec<ReviewRecord>>,
    allegations: BTreeMap<u64, AllegationRecord>,
    rulings: BTreeMap<u64, RulingRecord>,
    escalations: BTreeMap<u64, EscalationRecord>,
    keys: BTreeMap<String, u64>,
    bulletins: BTreeMap<String, (Stamp, Published)>,
}

/// The built-in accounts: the configured admin token's and the server's.
fn built_in() -> BTreeMap<String, AccountRecord> {
    [
        (ADMIN, "Administrator (configured token)", Role::Admin),
        (SYSTEM, "truce server", Role::System),
    ]
    .into_iter()
    .map(|(id, name, role)| {
        let account = Account {
            id: id.into(),
            name: name.into(),
            role,
            party: None,
            country: None,
            public_key: None,
        };
        (
            id.to_string(),
            AccountRecord {
                account,
                created: None,
                disabled: None,
                tokens_issued: Vec::new(),
            },
        )
    })
    .collect()
}

impl Commission {
    /// An empty Commission under `guarantees` (its quorum, commitments and response menus).
    pub fn new(guarantees: Guarantees) -> Self {
        Self {
            guarantees,
            logged_guarantees: None,
            accounts: built_in(),
            policy: None,
            reviews: BTreeMap::new(),
            allegations: BTreeMap::new(),
            rulings: BTreeMap::new(),
            escalations: BTreeMap::new(),
            keys: BTreeMap::new(),
            bulletins: BTreeMap::new(),
        }
    }

    pub fn guarantees(&self) -> &Guarantees {
        &self.guarantees
    }

    /// The TOML text of the guarantees last logged, if any were.
    pub fn logged_guarantees(&self) -> Option<&str> {
        self.logged_guarantees.as_deref()
    }

    /// An enabled account.
    pub fn account(&self, id: &str) -> Option<&Account> {
        self.accounts
            .get(id)
            .filter(|r| r.disabled.is_none())
            .map(|r| &r.account)
    }

    pub fn accounts(&self) -> impl Iterator<Item = &AccountRecord> {
        self.accounts.values()
    }

    pub fn policy(&self) -> Option<&(u64, Policy)> {
        self.policy.as_ref()
    }

    /// A finding's state by its reviews (`candidate` when none).
    pub fn state_of(&self, finding: &str) -> VerificationState {
        self.reviews
            .get(finding)
            .and_then(|h| h.last())
            .map_or(VerificationState::Candidate, |r| r.state)
    }

    /// A finding's reviews, oldest first.
    pub fn history(&self, finding: &str) -> &[ReviewRecord] {
        self.reviews.get(finding).map_or(&[], Vec::as_slice)
    }

    pub fn reviewed(&self) -> impl Iterator<Item = (&String, &Vec<ReviewRecord>)> {
        self.reviews.iter()
    }

    pub fn allegations(&self) -> &BTreeMap<u64, AllegationRecord> {
        &self.allegations
    }

    /// The allegation filed at log index `index`, or why not.
    fn allegation(&self, index: u64) -> Result<&AllegationRecord, Denied> {
        self.allegations.get(&index).ok_or_else(|| {
            denied(
                Reason::NotFound,
                Some("allegation"),
                format!("no allegation {index}"),
            )
        })
    }

    pub fn rulings(&self) -> &BTreeMap<u64, RulingRecord> {
        &self.rulings
    }

    pub fn escalations(&self) -> &BTreeMap<u64, EscalationRecord> {
        &self.escalations
    }

    /// Published bulletins by date.
    pub fn bulletins(&self) -> &BTreeMap<String, (Stamp, Published)> {
        &self.bulletins
    }

    /// The escalation already opened for this commitment and subject, if any.
    pub fn escalation_for(&self, key: &str) -> Option<u64> {
        self.keys.get(key).copied()
    }

    /// Every obligation of every escalation, judged at `now`.
    pub fn deadlines(&self, now: Timestamp) -> Vec<Due> {
        let mut out = Vec::new();
        for (&index, record) in &self.escalations {
            for o in &record.escalation.obligations {
                let lapse = record.lapsed.get(&o.action);
                let status = match record.met(o) {
                    // An answer logged after the lapse is late, whatever time it gives.
                    Some(s) if s.at <= o.due && lapse.is_none_or(|l| s.index < l.index) => {
                        DueStatus::Met
                    }
                    Some(_) => DueStatus::MetLate,
                    None if now > o.due => DueStatus::Overdue,
                    None => DueStatus::Running,
                };
                out.push(Due {
                    escalation: index,
                    commitment: record.escalation.commitment.clone(),
                    guarantor: record.escalation.guarantor.clone(),
                    action: o.action.clone(),
                    due: o.due,
                    status,
                    lapse: lapse.map(|s| s.index),
                });
            }
        }
        out
    }

    /// Refuses unless `account` is an enabled account of a person (`builtin` says why not
    /// for the built-in accounts).
    fn enabled_person(&self, account: &str, builtin: &'static str) -> Result<(), Denied> {
        if account == ADMIN || account == SYSTEM {
            return Err(denied(Reason::Invalid, Some("account"), builtin));
        }
        self.account(account).map(|_| ()).ok_or_else(|| {
            denied(
                Reason::NotFound,
                Some("account"),
                format!("no enabled account {account:?}"),
            )
        })
    }

    /// Whether `action`, signed as `signer`, may be taken now.
    pub fn check(&self, action: &Action, signer: Signer) -> Result<(), Denied> {
        use Reason::*;
        let actor = self.account(&action.actor).ok_or_else(|| {
            denied(
                Unauthenticated,
                Some("actor"),
                format!("no enabled account {:?}", action.actor),
            )
        })?;
        match (signer, &actor.public_key) {
            (Signer::Server, None) | (Signer::Actor, Some(_)) => {}
            (Signer::Server, Some(_)) => {
                return Err(denied(
                    Unauthenticated,
                    Some("signatures"),
                    format!(
                        "account {:?} has a key of its own and must sign its actions with it",
                        actor.id
                    ),
                ));
            }
            (Signer::Actor, None) => {
                return Err(denied(
                    Unauthenticated,
                    Some("signatures"),
                    format!("account {:?} has no key of its own", actor.id),
                ));
            }
        }
        let need = |scope: Scope| {
            if actor.role.may(scope) {
                Ok(())
            } else {
                Err(denied(
                    Forbidden,
                    None,
                    format!(
                        "a {} may not {}",
                        actor.role.as_str(),
                        action.what.name().replace('_', " ")
                    ),
                ))
            }
        };
        match &action.what {
            What::AccountCreate { account } => {
                need(Scope::Administer)?;
                if let Some((field, message)) = account.problems().into_iter().next() {
                    return Err(denied(Invalid, Some(field), message));
                }
                if self.accounts.contains_key(&account.id) {
                    return Err(denied(
                        Conflict,
                        Some("id"),
                        format!("account {:?} exists", account.id),
                    ));
                }
            }
            What::TokenIssue { account } => {
                need(Scope::Administer)?;
                self.enabled_person(account, "a built-in account takes no tokens")?;
            }
            What::AccountDisable { account, .. } => {
                need(Scope::Administer)?;
                self.enabled_person(account, "a built-in account stays")?;
            }
            What::GuaranteesLoad { guarantees } => {
                need(Scope::Automate)?;
                Guarantees::from_toml(guarantees)
                    .map_err(|e| denied(Invalid, Some("guarantees"), e.to_string()))?;
            }
            What::PolicySet { policy } => {
                need(Scope::Administer)?;
                if policy.min_operators == 0 && policy.min_modalities == 0 {
                    return Err(denied(
                        Invalid,
                        Some("policy"),
                        "a policy that verifies everything is no policy",
                    ));
                }
                if policy
                    .min_probability
                    .is_some_and(|p| !(0.0..=1.0).contains(&p))
                {
                    return Err(denied(
                        Invalid,
                        Some("min_probability"),
                        "a probability is between 0 and 1",
                    ));
                }
            }
            What::Review {
                finding,
                verdict,
                reason,
                policy,
            } => {
                need(Scope::Review)?;
                let state = self.state_of(finding);
                verdict_problems(
                    "finding",
                    &format!("finding {finding}"),
                    state,
                    *verdict,
                    reason,
                )?;
                match (actor.role, policy) {
                    (Role::System, Some(p)) => {
                        if self.policy.as_ref().map(|(i, _)| *i) != Some(*p) {
                            return Err(denied(
                                Conflict,
                                Some("policy"),
                                "an automatic verification cites the policy in force",
                            ));
                        }
                        if *verdict != Verdict::Verify || state != VerificationState::Candidate {
                            return Err(denied(
                                Conflict,
                                Some("verdict"),
                                "a policy only verifies candidate findings",
                            ));
                        }
                    }
                    (Role::System, None) => {
                        return Err(denied(
                            Invalid,
                            Some("policy"),
                            "the server reviews only by policy",
                        ));
                    }
                    (_, Some(_)) => {
                        return Err(denied(
                            Invalid,
                            Some("policy"),
                            "only the server reviews by policy",
                        ));
                    }
                    (_, None) => {}
                }
            }
            What::AllegationFile { allegation } => {
                need(Scope::Allege)?;
                if actor.party.as_deref() != Some(allegation.party.as_str()) {
                    return Err(denied(
                        Forbidden,
                        Some("party"),
                        format!(
                            "the liaison of {} may not file an allegation as {}",
                            actor.party.as_deref().unwrap_or("no party"),
                            allegation.party
                        ),
                    ));
                }
                allegation_problems(allegation)?;
            }
            What::AllegationAssess { allegation, .. } => {
                need(Scope::Automate)?;
                let record = self.allegation(*allegation)?;
                if record.assessment.is_some() {
                    return Err(denied(Conflict, Some("allegation"), "already assessed"));
                }
            }
            What::AllegationReview {
                allegation,
                verdict,
                reason,
            } => {
                need(Scope::Review)?;
                let record = self.allegation(*allegation)?;
                if record.assessment.is_none() {
                    return Err(denied(
                        Conflict,
                        Some("allegation"),
                        format!("allegation {allegation} is not cross-checked yet"),
                    ));
                }
                verdict_problems(
                    "allegation",
                    &format!("allegation {allegation}"),
                    record.state(),
                    *verdict,
                    reason,
                )?;
            }
            What::RulingPropose {
                findings, remedy, ..
            } => {
                need(Scope::Rule)?;
                if findings.is_empty() {
                    return Err(denied(Invalid, Some("findings"), "a ruling is on findings"));
                }
                if remedy.trim().is_empty() {
                    return Err(denied(Invalid, Some("remedy"), "a ruling states a remedy"));
                }
                for f in findings {
                    if self.state_of(f) != VerificationState::Verified {
                        return Err(denied(
                            Conflict,
                            Some("findings"),
                            format!("finding {f} is not verified"),
                        ));
                    }
                }
            }
            What::RulingVote { ruling, .. } => {
                need(Scope::Rule)?;
                let record = self.rulings.get(ruling).ok_or_else(|| {
                    denied(NotFound, Some("ruling"), format!("no ruling {ruling}"))
                })?;
                if record.votes.iter().any(|v| v.stamp.actor == actor.id) {
                    return Err(denied(
                        Conflict,
                        Some("ruling"),
                        format!("{} has voted on ruling {ruling}", actor.id),
                    ));
                }
            }
            What::EscalationOpen { escalation } => {
                need(Scope::Automate)?;
                if self.guarantees.commitment(&escalation.commitment).is_none() {
                    return Err(denied(NotFound, Some("commitment"), "no such commitment"));
                }
                if self.keys.contains_key(&escalation.key()) {
                    return Err(denied(Conflict, Some("escalation"), "already open"));
                }
            }
            What::EscalationNotify { escalation, .. } => {
                need(Scope::Automate)?;
                self.escalation(*escalation)?;
            }
            What::DeadlineLapse {
                escalation,
                obligation: name,
            } => {
                need(Scope::Automate)?;
                let record = self.escalation(*escalation)?;
                let obligation = record
                    .escalation
                    .obligations
                    .iter()
                    .find(|o| o.action == *name)
                    .ok_or_else(|| {
                        denied(
                            NotFound,
                            Some("obligation"),
                            format!("escalation {escalation} has no obligation {name:?}"),
                        )
                    })?;
                if record.lapsed.contains_key(name) {
                    return Err(denied(Conflict, Some("obligation"), "its lapse is logged"));
                }
                if record.met(obligation).is_some() {
                    return Err(denied(Conflict, Some("obligation"), "it was met"));
                }
                if action.at <= obligation.due {
                    return Err(denied(
                        Conflict,
                        Some("obligation"),
                        format!("it is due at {}", obligation.due),
                    ));
                }
            }
            What::BulletinPublish { bulletin } => {
                need(Scope::Administer)?;
                if crate::bulletin::day(&bulletin.date).is_none() {
                    return Err(denied(Invalid, Some("date"), "a date is YYYY-MM-DD"));
                }
                if self.bulletins.contains_key(&bulletin.date) {
                    return Err(denied(
                        Conflict,
                        Some("date"),
                        format!("the bulletin of {} is published", bulletin.date),
                    ));
                }
            }
            What::EscalationAck { escalation, .. } | What::EscalationRespond { escalation, .. } => {
                need(Scope::Answer)?;
                let record = self.escalation(*escalation)?;
                if actor.country.as_deref() != Some(record.escalation.guarantor.as_str()) {
                    return Err(denied(
                        Forbidden,
                        Some("escalation"),
                        format!(
                            "escalation {escalation} is {}'s to answer",
                            record.escalation.guarantor
                        ),
                    ));
                }
                if let What::EscalationRespond { measures, .. } = &action.what {
                    if record.response.is_some() {
                        return Err(denied(Conflict, Some("escalation"), "already answered"));
                    }
                    let menu = self
                        .guarantees
                        .commitment(&record.escalation.commitment)
                        .map(|c| c.responses.clone())
                        .unwrap_or_default();
                    if measures.is_empty() {
                        return Err(denied(
                            Invalid,
                            Some("measures"),
                            "a response names its measures",
                        ));
                    }
                    if let Some(m) = measures.iter().find(|m| !menu.contains(m)) {
                        return Err(denied(
                            Invalid,
                            Some("measures"),
                            format!("{m:?} is not on this commitment's response menu"),
                        ));
                    }
                } else if record.acknowledged.is_some() {
                    return Err(denied(Conflict, Some("escalation"), "already acknowledged"));
                }
            }
        }
        Ok(())
    }

    fn escalation(&self, index: u64) -> Result<&EscalationRecord, Denied> {
        self.escalations.get(&index).ok_or_else(|| {
            denied(
                Reason::NotFound,
                Some("escalation"),
                format!("no escalation {index}"),
            )
        })
    }

    /// Checks and records the action logged at `index`.
    pub fn apply(&mut self, index: u64, action: &Action, signer: Signer) -> Result<(), Denied> {
        self.check(action, signer)?;
        let stamp = Stamp {
            index,
            actor: action.actor.clone(),
            at: action.at,
            signer,
        };
        match action.what.clone() {
            What::AccountCreate { account } => {
                self.accounts.insert(
                    account.id.clone(),
                    AccountRecord {
                        account,
                        created: Some(stamp),
                        disabled: None,
                        tokens_issued: Vec::new(),
                    },
                );
            }
            What::AccountDisable { account, .. } => {
                if let Some(r) = self.accounts.get_mut(&account) {
                    r.disabled = Some(stamp);
                }
            }
            What::TokenIssue { account } => {
                if let Some(r) = self.accounts.get_mut(&account) {
                    r.tokens_issued.push(stamp);
                }
            }
            What::PolicySet { policy } => self.policy = Some((index, policy)),
            What::GuaranteesLoad { guarantees } => {
                if let Ok(parsed) = Guarantees::from_toml(&guarantees) {
                    self.guarantees = parsed;
                    self.logged_guarantees = Some(guarantees);
                }
            }
            What::Review {
                finding,
                verdict,
                reason,
                policy,
            } => self.reviews.entry(finding).or_default().push(ReviewRecord {
                stamp,
                verdict,
                state: verdict.state(),
                reason,
                policy,
            }),
            What::AllegationFile { allegation } => {
                self.allegations.insert(
                    index,
                    AllegationRecord {
                        filed: stamp,
                        allegation,
                        assessment: None,
                        reviews: Vec::new(),
                    },
                );
            }
            What::AllegationAssess {
                allegation,
                assessment,
            } => {
                if let Some(r) = self.allegations.get_mut(&allegation) {
                    r.assessment = Some((stamp, assessment));
                }
            }
            What::AllegationReview {
                allegation,
                verdict,
                reason,
            } => {
                if let Some(r) = self.allegations.get_mut(&allegation) {
                    r.reviews.push(ReviewRecord {
                        stamp,
                        verdict,
                        state: verdict.state(),
                        reason,
                        policy: None,
                    });
                }
            }
            What::RulingPropose {
                findings,
                attribution,
                intent,
                remedy,
            } => {
                let mut record = RulingRecord {
                    proposed: stamp.clone(),
                    findings,
                    attribution,
                    intent,
                    remedy,
                    votes: vec![VoteRecord {
                        stamp: stamp.clone(),
                        vote: Vote::Concur,
                        reason: None,
                    }],
                    adopted: None,
                };
                if self.guarantees.commission.quorum <= 1 {
                    record.adopted = Some(stamp);
                }
                self.rulings.insert(index, record);
            }
            What::RulingVote {
                ruling,
                vote,
                reason,
            } => {
                let quorum = self.guarantees.commission.quorum as usize;
                if let Some(r) = self.rulings.get_mut(&ruling) {
                    r.votes.push(VoteRecord {
                        stamp: stamp.clone(),
                        vote,
                        reason,
                    });
                    let concur = r.votes.iter().filter(|v| v.vote == Vote::Concur).count();
                    if r.adopted.is_none() && concur >= quorum {
                        r.adopted = Some(stamp);
                    }
                }
            }
            What::EscalationOpen { escalation } => {
                self.keys.insert(escalation.key(), index);
                self.escalations.insert(
                    index,
                    EscalationRecord {
                        opened: stamp,
                        escalation,
                        notified: Vec::new(),
                        acknowledged: None,
                        response: None,
                        lapsed: BTreeMap::new(),
                    },
                );
            }
            What::EscalationNotify {
                escalation,
                receiver,
                ..
            } => {
                if let Some(r) = self.escalations.get_mut(&escalation) {
                    r.notified.push((stamp, receiver));
                }
            }
            What::BulletinPublish { bulletin } => {
                self.bulletins
                    .insert(bulletin.date.clone(), (stamp, bulletin));
            }
            What::DeadlineLapse {
                escalation,
                obligation,
            } => {
                if let Some(r) = self.escalations.get_mut(&escalation) {
                    r.lapsed.insert(obligation, stamp);
                }
            }
            What::EscalationAck { escalation, note } => {
                if let Some(r) = self.escalations.get_mut(&escalation) {
                    r.acknowledged = Some(Answer {
                        stamp,
                        measures: Vec::new(),
                        note,
                    });
                }
            }
            What::EscalationRespond {
                escalation,
                measures,
                note,
            } => {
                if let Some(r) = self.escalations.get_mut(&escalation) {
                    r.response = Some(Answer {
                        stamp,
                        measures,
                        note,
                    });
                }
            }
        }
        Ok(())
    }

    /// Verifies an action entry's envelope (against the actor's key, or the server's) and
    /// applies its action: what an auditor runs over every action entry of the log.
    pub fn apply_entry(
        &mut self,
        index: u64,
        envelope: &[u8],
        server_key: &VerificationKey,
    ) -> Result<Action, Denied> {
        let (action, signer) = self.open(envelope, server_key)?;
        self.apply(index, &action, signer)?;
        Ok(action)
    }

    /// The action in an envelope and who signed it, the signature checked.
    pub fn open(
        &self,
        envelope: &[u8],
        server_key: &VerificationKey,
    ) -> Result<(Action, Signer), Denied> {
        use Reason::*;
        let bad = |field: &'static str, m: String| denied(Invalid, Some(field), m);
        let envelope: Envelope = serde_json::from_slice(envelope)
            .map_err(|e| bad("envelope", format!("not a DSSE envelope: {e}")))?;
        if envelope.payload_type != ACTION_PAYLOAD_TYPE {
            return Err(bad(
                "payloadType",
                format!("expected {ACTION_PAYLOAD_TYPE}"),
            ));
        }
        let payload =
            decode_base64(&envelope.payload).map_err(|_| bad("payload", "not base64".into()))?;
        let action: Action = serde_json::from_slice(&payload)
            .map_err(|e| bad("payload", format!("not an action: {e}")))?;
        let [signature] = envelope.signatures.as_slice() else {
            return Err(bad(
                "signatures",
                "an action has exactly one signature".into(),
            ));
        };
        let (key, signer) = if signature.keyid == SYSTEM {
            (*server_key, Signer::Server)
        } else if signature.keyid == action.actor {
            let key = self
                .account(&action.actor)
                .and_then(Account::verification_key)
                .ok_or_else(|| {
                    denied(
                        Unauthenticated,
                        Some("signatures"),
                        format!("account {:?} has no key to check", action.actor),
                    )
                })?;
            (key, Signer::Actor)
        } else {
            return Err(denied(
                Unauthenticated,
                Some("signatures"),
                "an action is signed by its actor or by the server",
            ));
        };
        let sig = truce_model::envelope::decode_signature(&signature.sig)
            .map_err(|_| bad("signatures", "not a base64 Ed25519 signature".into()))?;
        key.verify(&Signature::from(sig), &pae(ACTION_PAYLOAD_TYPE, &payload))
            .map_err(|_| {
                denied(
                    Unauthenticated,
                    Some("signatures"),
                    "the signature does not verify",
                )
            })?;
        Ok((action, signer))
    }
}

fn allegation_problems(a: &Allegation) -> Result<(), Denied> {
    let invalid = |field: &'static str, m: &str| Err(denied(Reason::Invalid, Some(field), m));
    if a.summary.trim().is_empty() {
        return invalid("summary", "an allegation says what happened");
    }
    if !CATEGORIES.contains(&a.category.as_str()) {
        return invalid(
            "category",
            "not one of shelling, strike, drone_strike, weapon_presence, incursion, other",
        );
    }
    if !a.position.is_valid() {
        return invalid("position", "not a WGS 84 position");
    }
    if !(a.position_sigma_m.is_finite() && a.position_sigma_m > 0.0) {
        return invalid("position_sigma_m", "a positive number of metres");
    }
    if !(a.time_sigma_s.is_finite() && a.time_sigma_s > 0.0) {
        return invalid("time_sigma_s", "a positive number of seconds");
    }
    if a.against.as_deref() == Some(a.party.as_str()) {
        return invalid("against", "a party does not allege against itself");
    }
    for e in &a.evidence {
        if e.sha256.len() != 64
            || !e
                .sha256
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return invalid(
                "evidence",
                "a blob is named by the lowercase hex of its SHA-256",
            );
        }
    }
    Ok(())
}

/// What is wrong with giving `verdict` to `what` (a finding or an allegation) in `state`:
/// a discounted one is closed, a verdict must change the state, discounting needs a reason.
fn verdict_problems(
    field: &'static str,
    what: &str,
    state: VerificationState,
    verdict: Verdict,
    reason: &Option<String>,
) -> Result<(), Denied> {
    use Reason::*;
    if matches!(state, VerificationState::Discounted) {
        return Err(denied(
            Conflict,
            Some(field),
            format!("{what} was discounted"),
        ));
    }
    if state == verdict.state() {
        return Err(denied(
            Conflict,
            Some("verdict"),
            format!("{what} is already {}", crate::name(&state)),
        ));
    }
    if verdict == Verdict::Discount && reason.as_deref().is_none_or(|r| r.trim().is_empty()) {
        return Err(denied(
            Invalid,
            Some("reason"),
            "discounting needs a reason",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
