//! Accounts and roles: who may do what.

use serde::{Deserialize, Serialize};

/// The id of the server's own account: it signs what a policy or a trigger does (automatic
/// verification, an allegation's cross-check, an escalation and its notifications) and
/// what a person without a key of their own does, on their behalf.
pub const SYSTEM: &str = "truce";

/// The id of the account that holds the server's configured admin token.
pub const ADMIN: &str = "admin";

/// A role. Each account has one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Accounts, sensors, the verification policy.
    Admin,
    /// Reviews findings: verify, discount, contest.
    Analyst,
    /// Member of the Special Commission: proposes and votes on rulings.
    Commissioner,
    /// A party's liaison (bound to the party): files allegations, reads all findings and
    /// their evidence.
    Liaison,
    /// A guarantor government (bound to its country): acknowledges and answers escalations
    /// of its own commitments.
    Guarantor,
    /// Reads everything, changes nothing.
    Auditor,
    /// A sensor gateway (a drone ground station, a TAK device or server): reads, and
    /// passes detections to the CoT adapter, which signs them for the sensors whose keys
    /// it holds.
    Gateway,
    /// The server itself (only the account [`SYSTEM`]).
    System,
}

impl Role {
    pub const ALL: [Role; 8] = [
        Role::Admin,
        Role::Analyst,
        Role::Commissioner,
        Role::Liaison,
        Role::Guarantor,
        Role::Auditor,
        Role::Gateway,
        Role::System,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Analyst => "analyst",
            Role::Commissioner => "commissioner",
            Role::Liaison => "liaison",
            Role::Guarantor => "guarantor",
            Role::Auditor => "auditor",
            Role::Gateway => "gateway",
            Role::System => "system",
        }
    }

    pub fn parse(text: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == text)
    }

    /// Whether the role may do `scope`.
    pub fn may(&self, scope: Scope) -> bool {
        use Role::*;
        match scope {
            // Every account reads what is not public.
            Scope::Read => true,
            Scope::Administer => matches!(self, Admin),
            Scope::Review => matches!(self, Analyst | System),
            Scope::Allege => matches!(self, Liaison),
            Scope::Rule => matches!(self, Commissioner),
            Scope::Answer => matches!(self, Guarantor),
            Scope::Automate => matches!(self, System),
            Scope::Report => matches!(self, Gateway | Admin),
        }
    }
}

/// What an action needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Findings, events, the review queue, allegations, rulings, escalations.
    Read,
    /// Accounts, sensors, the verification policy.
    Administer,
    /// Verify, discount, contest a finding.
    Review,
    /// File an allegation (as one's own party).
    Allege,
    /// Propose a ruling, vote on one.
    Rule,
    /// Acknowledge and answer an escalation (of one's own country).
    Answer,
    /// What only the server does: cross-checks, escalations, notifications.
    Automate,
    /// Pass detections to the CoT adapter, to be signed for a registered sensor.
    Report,
}

/// An account, as its creation is logged. Tokens are never logged (the server keeps their
/// SHA-256 apart); a public key, when given, is the one the person signs their actions
/// with.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    pub id: String,
    pub name: String,
    pub role: Role,
    /// The party a liaison speaks for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub party: Option<String>,
    /// The country a guarantor account answers for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    /// Base64 of the person's Ed25519 public key (32 bytes), when they sign for themselves.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_key: Option<String>,
}

impl Account {
    /// Every problem with the account's fields, as (field, message).
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        let id_ok = !self.id.is_empty()
            && self.id.len() <= 64
            && self
                .id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
        if !id_ok {
            out.push((
                "id",
                "an account id is 1 to 64 letters, digits, '-', '_' or '.'".to_string(),
            ));
        }
        if self.id == SYSTEM || (self.id == ADMIN && self.role != Role::Admin) {
            out.push(("id", format!("the id {:?} is reserved", self.id)));
        }
        if self.role == Role::System {
            out.push(("role", "only the server has the system role".to_string()));
        }
        if self.name.trim().is_empty() {
            out.push(("name", "a name is required".to_string()));
        }
        match (self.role, &self.party) {
            (Role::Liaison, None) => {
                out.push(("party", "a liaison speaks for a party".to_string()))
            }
            (Role::Liaison, Some(_)) | (_, None) => {}
            (_, Some(_)) => out.push(("party", "only a liaison has a party".to_string())),
        }
        match (self.role, &self.country) {
            (Role::Guarantor, None) => out.push((
                "country",
                "a guarantor account answers for a country".to_string(),
            )),
            (Role::Guarantor, Some(_)) | (_, None) => {}
            (_, Some(_)) => out.push(("country", "only a guarantor has a country".to_string())),
        }
        if let Some(key) = &self.public_key
            && public_key_bytes(key).is_none()
        {
            out.push((
                "public_key",
                "not base64 of a 32-byte Ed25519 public key".to_string(),
            ));
        }
        out
    }

    /// The account's verification key, when it has one.
    pub fn verification_key(&self) -> Option<ed25519_consensus::VerificationKey> {
        self.public_key.as_deref().and_then(public_key_bytes)
    }
}

fn public_key_bytes(text: &str) -> Option<ed25519_consensus::VerificationKey> {
    let bytes = truce_model::envelope::decode_base64(text).ok()?;
    let bytes: [u8; 32] = bytes.try_into().ok()?;
    truce_model::keys::check_public_key(&bytes).ok()?;
    ed25519_consensus::VerificationKey::try_from(bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(role: Role) -> Account {
        Account {
            id: "a-1".into(),
            name: "A. Person".into(),
            role,
            party: None,
            country: None,
            public_key: None,
        }
    }

    #[test]
    fn bindings_follow_the_role() {
        assert!(account(Role::Analyst).problems().is_empty());
        let fields = |a: &Account| a.problems().into_iter().map(|p| p.0).collect::<Vec<_>>();
        assert_eq!(fields(&account(Role::Liaison)), ["party"]);
        assert_eq!(fields(&account(Role::Guarantor)), ["country"]);
        let mut a = account(Role::Auditor);
        a.party = Some("UA".into());
        a.country = Some("US".into());
        assert_eq!(fields(&a), ["party", "country"]);
        assert_eq!(fields(&account(Role::System)), ["role"]);
        let mut a = account(Role::Analyst);
        a.id = SYSTEM.into();
        a.public_key = Some("AAAA".into());
        assert_eq!(fields(&a), ["id", "public_key"]);
        // A key of small order (the identity) would let anyone sign as the account.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        let mut a = account(Role::Commissioner);
        a.public_key = Some(truce_model::envelope::encode_base64(&identity));
        assert_eq!(fields(&a), ["public_key"]);
    }

    #[test]
    fn scopes() {
        assert!(Role::Analyst.may(Scope::Review));
        assert!(!Role::Liaison.may(Scope::Review));
        assert!(!Role::Liaison.may(Scope::Rule));
        assert!(Role::Liaison.may(Scope::Allege));
        assert!(!Role::Auditor.may(Scope::Allege));
        assert!(Role::Auditor.may(Scope::Read));
        assert!(!Role::Admin.may(Scope::Rule));
        assert!(Role::Guarantor.may(Scope::Answer));
        assert!(Role::Gateway.may(Scope::Report) && Role::Gateway.may(Scope::Read));
        assert!(!Role::Gateway.may(Scope::Review) && !Role::Auditor.may(Scope::Report));
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Some(role));
            assert_eq!(role.may(Scope::Automate), role == Role::System);
        }
    }
}
