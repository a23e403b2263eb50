//! The Commission's records: one [`Action`] per log entry (`truce.action.v1`).
//!
//! The entry's body is a DSSE envelope of payload type [`ACTION_PAYLOAD_TYPE`] whose
//! payload is the action's JSON. Its one signature's `keyid` is the actor's account id
//! when the person signed with their own key, or [`crate::roles::SYSTEM`] when the server
//! signed with the log's key (for itself, or on behalf of a person without a key). Records
//! are referred to by the log index of the entry that made them: an allegation, a ruling
//! and an escalation are "the one logged at index N".

use serde::{Deserialize, Serialize};
use truce_model::{Position, Timestamp, VerificationState};

use crate::crosscheck::Assessment;
use crate::roles::Account;

/// The `payloadType` of a truce action, version 1.
pub const ACTION_PAYLOAD_TYPE: &str = "application/vnd.truce.action.v1+json";

/// Who did what, when.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Action {
    /// The account that acted ([`crate::roles::SYSTEM`] for the server's own steps).
    pub actor: String,
    /// When, by the clock of whoever signed it (the server refuses times too far from its
    /// own).
    pub at: Timestamp,
    #[serde(flatten)]
    pub what: What,
}

/// What was done.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum What {
    /// A new account (its token is not logged).
    AccountCreate { account: Account },
    /// An account's tokens stop working; its past actions stand.
    AccountDisable { account: String, reason: String },
    /// Another token for an account, issued by an administrator (the token is not
    /// logged): whoever holds it acts as the account, so the log shows who made one and
    /// when.
    TokenIssue { account: String },
    /// The automatic verification policy from now on.
    PolicySet { policy: Policy },
    /// A review of a finding. `policy` is the index of the policy entry when the server
    /// verified the finding by policy.
    Review {
        finding: String,
        verdict: Verdict,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        policy: Option<u64>,
    },
    /// The server loaded a guarantees file (its TOML text, docs/guarantees-format.md): the
    /// commitments, quorum and response menus every later action is judged under. Logged
    /// at start whenever the file differs from the one last logged, so that the Commission
    /// can be rebuilt from the log alone.
    GuaranteesLoad { guarantees: String },
    /// An allegation filed by a party's liaison.
    AllegationFile { allegation: Allegation },
    /// The server's cross-check of the allegation logged at index `allegation`.
    AllegationAssess {
        allegation: u64,
        assessment: Assessment,
    },
    /// An analyst's review of the allegation logged at index `allegation` (with its
    /// cross-check): verified, contested or discounted, as findings are.
    AllegationReview {
        allegation: u64,
        verdict: Verdict,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// A proposed ruling on verified findings; the proposer concurs.
    RulingPropose {
        findings: Vec<String>,
        /// The party held responsible, or `null`: undetermined.
        attribution: Option<String>,
        intent: Intent,
        remedy: String,
    },
    /// A commissioner's vote on the ruling proposed at index `ruling`.
    RulingVote {
        ruling: u64,
        vote: Vote,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// The server opened an escalation: a trigger of a commitment was met.
    EscalationOpen { escalation: Escalation },
    /// The server delivered the escalation's notification to its guarantor.
    EscalationNotify {
        escalation: u64,
        /// Where it was delivered (the guarantor's webhook).
        receiver: String,
        attempts: u32,
    },
    /// The guarantor acknowledged the escalation.
    EscalationAck {
        escalation: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String>,
    },
    /// The day's bulletin, published: its figures and the SHA-256 of each of its
    /// documents (kept as blobs).
    BulletinPublish { bulletin: Published },
    /// The server's record that an obligation of the escalation logged at `escalation`
    /// (named by its action: `consult`, `decide`, ...) passed its deadline unmet: a
    /// silence made a fact in the log, when it was seen, not only a status computed on
    /// reading.
    DeadlineLapse { escalation: u64, obligation: String },
    /// The guarantor's response: the measures it takes.
    EscalationRespond {
        escalation: u64,
        measures: Vec<Measure>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String>,
    },
}

impl What {
    /// The action's name, as in its JSON (`review`, `ruling_vote`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            What::AccountCreate { .. } => "account_create",
            What::AccountDisable { .. } => "account_disable",
            What::TokenIssue { .. } => "token_issue",
            What::PolicySet { .. } => "policy_set",
            What::GuaranteesLoad { .. } => "guarantees_load",
            What::Review { .. } => "review",
            What::AllegationFile { .. } => "allegation_file",
            What::AllegationAssess { .. } => "allegation_assess",
            What::AllegationReview { .. } => "allegation_review",
            What::RulingPropose { .. } => "ruling_propose",
            What::RulingVote { .. } => "ruling_vote",
            What::EscalationOpen { .. } => "escalation_open",
            What::EscalationNotify { .. } => "escalation_notify",
            What::EscalationAck { .. } => "escalation_ack",
            What::EscalationRespond { .. } => "escalation_respond",
            What::DeadlineLapse { .. } => "deadline_lapse",
            What::BulletinPublish { .. } => "bulletin_publish",
        }
    }
}

/// A published bulletin as the log records it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Published {
    /// `YYYY-MM-DD`.
    pub date: String,
    /// The log size and results digest it rests on.
    pub log_size: u64,
    pub digest: String,
    /// How many findings it counts.
    pub findings: usize,
    /// Lowercase hex SHA-256 of each document: `json`, `html`, `geojson`, `csv`.
    pub documents: std::collections::BTreeMap<String, String>,
}

/// The automatic verification policy: a candidate finding is verified by the server when
/// its evidence comes from at least this many independent operators and modalities (and,
/// when set, its attribution is at least this probable).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Policy {
    pub min_operators: u32,
    pub min_modalities: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_probability: Option<f64>,
    /// The rule kinds it applies to; empty: all.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<String>,
}

impl Policy {
    /// Whether the policy verifies `finding`: a rule kind it covers, evidence from enough
    /// independent operators and modalities and, when set, a party named with enough
    /// probability.
    pub fn admits(&self, finding: &truce_model::Finding) -> bool {
        let probable = self.min_probability.is_none_or(|p| {
            finding.attribution.party.as_ref().is_some_and(|party| {
                finding
                    .attribution
                    .probabilities
                    .get(party)
                    .is_some_and(|q| *q >= p)
            })
        });
        (self.rules.is_empty() || self.rules.contains(&finding.rule))
            && finding.operators.len() >= self.min_operators as usize
            && finding.modalities.len() >= self.min_modalities as usize
            && probable
    }
}

/// An analyst's verdict on a finding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Taken up for review.
    UnderReview,
    Verify,
    /// Contested (by the evidence or by a party); stays open.
    Contest,
    /// Set aside, with a reason.
    Discount,
}

impl Verdict {
    /// The finding's state after this verdict.
    pub fn state(&self) -> VerificationState {
        match self {
            Verdict::UnderReview => VerificationState::UnderReview,
            Verdict::Verify => VerificationState::Verified,
            Verdict::Contest => VerificationState::Contested,
            Verdict::Discount => VerificationState::Discounted,
        }
    }
}

/// An allegation: what a party says happened, where and when.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Allegation {
    /// The party filing it: the liaison's own.
    pub party: String,
    /// The party it accuses, if it names one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub against: Option<String>,
    pub summary: String,
    /// `shelling`, `strike`, `drone_strike`, `weapon_presence`, `incursion`, `other`.
    pub category: String,
    pub position: Position,
    pub position_sigma_m: f64,
    pub event_time: Timestamp,
    pub time_sigma_s: f64,
    /// Evidence blobs by SHA-256 (stored by the server, only their hashes logged).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub evidence: Vec<Evidence>,
}

/// A piece of evidence stored as a blob.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    /// Lowercase hex SHA-256 of the blob.
    pub sha256: String,
    pub media_type: String,
}

/// The Commission's view of intent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Intent {
    Deliberate,
    Accidental,
    Unknown,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Vote {
    Concur,
    Dissent,
}

/// A measure of a guarantor's response menu.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Measure {
    MilitaryCapabilities,
    Intelligence,
    Logistics,
    DiplomaticInitiatives,
    Sanctions,
    Consultation,
}

/// Whether an escalation engages the commitment or only calls for consultation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EscalationKind {
    /// The commitment is in force and its activation condition holds.
    Activation,
    /// The trigger was met, but the commitment is not ratified or its activation condition
    /// does not hold: a notice to consult, not an activation.
    Consultation,
}

/// What a met trigger opens for one commitment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Escalation {
    pub commitment: String,
    /// The guarantor's country.
    pub guarantor: String,
    /// What met the trigger: one finding (`finding`) or a ruling (`ruling`, the index of
    /// its proposal) with its findings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finding: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ruling: Option<u64>,
    pub findings: Vec<String>,
    pub kind: EscalationKind,
    /// Why this kind: which trigger matched and, for a consultation, what is missing.
    pub reason: String,
    pub obligations: Vec<Obligation>,
}

impl Escalation {
    /// The key that makes one escalation per commitment and subject.
    pub fn key(&self) -> String {
        match (&self.finding, self.ruling) {
            (_, Some(r)) => format!("{}/ruling/{r}", self.commitment),
            (Some(f), None) => format!("{}/finding/{f}", self.commitment),
            (None, None) => format!("{}/-", self.commitment),
        }
    }
}

/// A deadline of an escalation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Obligation {
    /// As the guarantees file names it: `consult within 24 h` gives `consult`.
    pub action: String,
    pub due: Timestamp,
    /// What meets it: an acknowledgement (`consult`, `acknowledge`) or a response with
    /// measures (`decide`, `respond`).
    pub met_by: MetBy,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MetBy {
    Acknowledgement,
    Response,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_policy_admits_what_enough_independent_evidence_supports() {
        let mut f =
            crate::triggers::tests::finding("f1", "no_fire", Some("RU"), "2026-01-08T02:00:00Z");
        f.attribution.probabilities.insert("RU".into(), 0.97);
        let policy = Policy {
            min_operators: 2,
            min_modalities: 1,
            min_probability: Some(0.95),
            rules: vec!["no_fire".into()],
        };
        assert!(policy.admits(&f));
        let mut one = f.clone();
        one.operators.truncate(1);
        assert!(!policy.admits(&one));
        let mut other = f.clone();
        other.rule = "airspace_crossing".into();
        assert!(!policy.admits(&other));
        let mut unsure = f.clone();
        unsure.attribution.probabilities.insert("RU".into(), 0.9);
        assert!(!policy.admits(&unsure));
        unsure.attribution.party = None;
        assert!(!policy.admits(&unsure));
        let modal = Policy {
            min_modalities: 2,
            ..policy
        };
        assert!(!modal.admits(&f), "acoustic alone is one modality");
    }

    #[test]
    fn actions_read_back_as_written() {
        let action = Action {
            actor: "an-1".into(),
            at: Timestamp::parse("2026-01-08T02:00:00Z").unwrap(),
            what: What::Review {
                finding: "f-1".into(),
                verdict: Verdict::Discount,
                reason: Some("a quarry blast".into()),
                policy: None,
            },
        };
        let json = serde_json::to_string(&action).unwrap();
        assert_eq!(
            json,
            r#"{"actor":"an-1","at":"2026-01-08T02:00:00Z","action":"review","finding":"f-1","verdict":"discount","reason":"a quarry blast"}"#
        );
        assert_eq!(serde_json::from_str::<Action>(&json).unwrap(), action);
        assert_eq!(action.what.name(), "review");
        let unknown = r#"{"actor":"x","at":"2026-01-08T02:00:00Z","action":"launch"}"#;
        assert!(serde_json::from_str::<Action>(unknown).is_err());
    }
}
