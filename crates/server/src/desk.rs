//! The Commission's desk: the server side of `truce-commission`.
//!
//! The desk holds the [`Commission`] state, rebuilt at start by folding every action entry
//! of the log (each one's signature checked, as an auditor would). An action goes through
//! [`Desk::act`]: checked against the state, signed with the log's key (for the server's
//! own steps, and on behalf of people without a key of their own), appended, and only
//! then applied, one at a time, so two commissioners voting at once cannot both be the
//! one who reached the quorum. Verifying a finding or adopting a ruling opens the
//! escalations its triggers call for ([`Desk::escalate`]).

use std::collections::HashSet;
use std::sync::{Mutex, RwLock};

use ed25519_consensus::VerificationKey;
use sha2::{Digest, Sha256};
use truce_agreement::Agreement;
use truce_commission::roles::{ADMIN, SYSTEM, Scope};
use truce_commission::{
    ACTION_PAYLOAD_TYPE, Account, Action, Commission, Denied, Guarantees, Reason, Signer, What,
    triggers,
};
use truce_ledger::NoteSigner;
use truce_model::envelope::{Envelope, decode_base64};
use truce_model::{Entry, EntryKind, Finding, ProblemType, Timestamp, VerificationState};
use truce_store::{Private, Store};

use crate::ServerError;
use crate::clock::Clock;
use crate::error::ApiError;
use crate::sequencer::Sequencer;

/// The desk (see the module's documentation).
pub struct Desk {
    commission: RwLock<Commission>,
    /// One action at a time: check, append, apply.
    write: tokio::sync::Mutex<()>,
    signer: NoteSigner,
    server_key: VerificationKey,
    /// The SHA-256 of every payload a person signed: the same signed action is taken once.
    signed: Mutex<HashSet<[u8; 32]>>,
    /// Token hashes and the outbox.
    pub private: Private,
    /// The agreement's entry into force (activation conditions), when there is one.
    entry_into_force: Option<Timestamp>,
    /// How many actions were applied since the start: what changed without the results
    /// changing (a finding's review state) is seen by watching it.
    applied: tokio::sync::watch::Sender<u64>,
}

impl std::fmt::Debug for Desk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Desk").finish_non_exhaustive()
    }
}

/// The problem an action's refusal is answered with.
pub fn refusal(d: Denied) -> ApiError {
    let kind = match d.reason {
        Reason::Unauthenticated => ProblemType::Unauthorized,
        Reason::Forbidden => ProblemType::Forbidden,
        Reason::NotFound => ProblemType::NotFound,
        Reason::Conflict => ProblemType::Conflict,
        Reason::Invalid => ProblemType::InvalidField,
    };
    let e = ApiError::new(kind, d.message);
    match d.field {
        Some(f) => e.field(f),
        None => e,
    }
}

/// The SHA-256 of an API token, as the private store keeps it.
pub fn token_hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

impl Desk {
    /// Opens the desk over the log in `store`: folds every action entry, checking each
    /// signature against its actor's key or the log's.
    pub fn open(
        store: &Store,
        private: Private,
        guarantees: Guarantees,
        signer: NoteSigner,
        agreement: Option<&Agreement>,
    ) -> Result<Self, ServerError> {
        let key = VerificationKey::try_from(signer.public_key())
            .map_err(|e| ServerError::Commission(e.to_string()))?;
        let mut commission = Commission::new(guarantees);
        let mut signed = HashSet::new();
        let size = store.read(|r| r.size())?;
        let mut start = 0;
        while start < size {
            let count = (size - start).min(1024);
            let entries = store.read(|r| r.entries(start, count))?;
            for (offset, data) in entries.iter().enumerate() {
                let index = start + offset as u64;
                let Ok(entry) = Entry::decode(data) else {
                    continue;
                };
                if entry.kind == EntryKind::Action {
                    let (action, signer) = commission
                        .open(entry.body, &key)
                        .and_then(|(action, signer)| {
                            commission.apply(index, &action, signer)?;
                            Ok((action, signer))
                        })
                        .map_err(|d| {
                            ServerError::Commission(format!("log entry {index}: {}", d.message))
                        })?;
                    if signer == Signer::Actor {
                        signed.insert(payload_hash(&action.actor, entry.body));
                    }
                }
            }
            start += count;
        }
        Ok(Self {
            commission: RwLock::new(commission),
            write: tokio::sync::Mutex::new(()),
            signer,
            server_key: key,
            signed: Mutex::new(signed),
            private,
            entry_into_force: agreement.map(|a| a.entry_into_force),
            applied: tokio::sync::watch::Sender::new(0),
        })
    }

    /// How many actions were applied since the start.
    pub fn applied(&self) -> u64 {
        *self.applied.borrow()
    }

    /// A receiver told of every applied action.
    pub fn watch_applied(&self) -> tokio::sync::watch::Receiver<u64> {
        self.applied.subscribe()
    }

    /// Reads the state.
    pub fn read<T>(&self, f: impl FnOnce(&Commission) -> T) -> T {
        let c = self.commission.read().unwrap_or_else(|e| e.into_inner());
        f(&c)
    }

    /// `findings`, each in the state its reviews have brought it to.
    pub fn reviewed(&self, findings: &[Finding]) -> Vec<Finding> {
        self.read(|c| {
            findings
                .iter()
                .map(|f| {
                    let mut f = f.clone();
                    f.state = c.state_of(&f.id);
                    f
                })
                .collect()
        })
    }

    /// An enabled account, by id.
    pub fn account(&self, id: &str) -> Option<Account> {
        self.read(|c| c.account(id).cloned())
    }

    /// Whether the account `id` is (still) enabled and its role has `scope`: what a
    /// long-lived connection (the stream, a TAK client) checks as the log moves on.
    pub fn may(&self, id: &str, scope: Scope) -> bool {
        self.read(|c| c.account(id).is_some_and(|a| a.role.may(scope)))
    }

    /// The enabled account a bearer token belongs to (the configured admin token is the
    /// built-in admin's).
    pub fn account_for(
        &self,
        token_is_admin: bool,
        token: &str,
    ) -> Result<Option<Account>, ApiError> {
        let id = if token_is_admin {
            Some(ADMIN.to_string())
        } else {
            self.private.token_account(&token_hash(token))?
        };
        Ok(id.and_then(|id| self.read(|c| c.account(&id).cloned())))
    }

    /// Checks `what` by `actor`, signs it with the log's key, appends it, applies it; its
    /// log index.
    pub async fn act(
        &self,
        sequencer: &Sequencer,
        clock: &dyn Clock,
        actor: &str,
        what: What,
    ) -> Result<u64, ApiError> {
        let _one = self.write.lock().await;
        let action = Action {
            actor: actor.to_string(),
            at: clock.now(),
            what,
        };
        self.read(|c| c.check(&action, Signer::Server))
            .map_err(refusal)?;
        let payload = serde_json::to_vec(&action).map_err(ApiError::internal)?;
        let envelope = Envelope::signed(ACTION_PAYLOAD_TYPE, &payload, SYSTEM, |m| {
            self.signer.sign_bytes(m)
        });
        let body = serde_json::to_vec(&envelope).map_err(ApiError::internal)?;
        self.log(sequencer, &action, Signer::Server, &body).await
    }

    /// Takes an action its actor signed with their own key (a DSSE envelope, logged as
    /// received): the signature, the time (within `skew_s` of the server's clock), the
    /// state, and that the same signed action was not taken before, are checked first.
    pub async fn submit(
        &self,
        sequencer: &Sequencer,
        clock: &dyn Clock,
        envelope: &[u8],
        skew_s: f64,
    ) -> Result<(u64, Action), ApiError> {
        let _one = self.write.lock().await;
        let (action, signer) = self
            .read(|c| c.open(envelope, &self.server_key))
            .map_err(refusal)?;
        if signer != Signer::Actor {
            return Err(ApiError::new(
                ProblemType::BadSignature,
                "only the server signs as the server; sign with your own key",
            )
            .field("signatures"));
        }
        let off = (action.at.unix_nanos() - clock.now().unix_nanos()).abs() as f64 * 1e-9;
        if off > skew_s {
            return Err(ApiError::new(
                ProblemType::InvalidField,
                format!("the action's time is {off:.0} s from the server's clock"),
            )
            .field("at"));
        }
        let hash = payload_hash(&action.actor, envelope);
        if self
            .signed
            .lock()
            .map(|s| s.contains(&hash))
            .unwrap_or(false)
        {
            return Err(ApiError::new(
                ProblemType::Conflict,
                "this signed action is in the log already",
            ));
        }
        self.read(|c| c.check(&action, signer)).map_err(refusal)?;
        let index = self.log(sequencer, &action, signer, envelope).await?;
        if let Ok(mut s) = self.signed.lock() {
            s.insert(hash);
        }
        Ok((index, action))
    }

    /// Appends a checked action's envelope and applies the action (the caller holds the
    /// write lock).
    async fn log(
        &self,
        sequencer: &Sequencer,
        action: &Action,
        signer: Signer,
        envelope: &[u8],
    ) -> Result<u64, ApiError> {
        let entry = Entry::v1(EntryKind::Action, envelope)
            .encode()
            .map_err(|e| ApiError::new(ProblemType::EntryTooLarge, e.to_string()))?;
        let appended = sequencer.append(entry).await?;
        let mut c = self.commission.write().unwrap_or_else(|e| e.into_inner());
        // Checked under the same lock: applying cannot fail.
        c.apply(appended.index, action, signer)
            .map_err(ApiError::internal)?;
        drop(c);
        self.applied.send_modify(|n| *n += 1);
        Ok(appended.index)
    }

    /// Opens the escalations due for a finding now verified, or a ruling now adopted,
    /// that are not open yet; their log indices.
    pub async fn escalate(
        &self,
        sequencer: &Sequencer,
        clock: &dyn Clock,
        findings: &[Finding],
        subject: Subject,
    ) -> Result<Vec<u64>, ApiError> {
        let eif = self
            .entry_into_force
            .unwrap_or_else(|| Timestamp::from_unix_nanos(i64::MIN));
        let now = clock.now();
        let due = self.read(|c| {
            let g = c.guarantees();
            match subject {
                Subject::Finding(ref id) => findings
                    .iter()
                    .find(|f| f.id == *id)
                    .filter(|_| c.state_of(id) == VerificationState::Verified)
                    .map(|f| triggers::for_verified_finding(g, eif, f, now))
                    .unwrap_or_default(),
                Subject::Ruling(index) => {
                    let Some(r) = c.rulings().get(&index).filter(|r| r.adopted.is_some()) else {
                        return Vec::new();
                    };
                    let ruled: Vec<&Finding> = findings
                        .iter()
                        .filter(|f| r.findings.contains(&f.id))
                        .collect();
                    triggers::for_ruling(g, eif, index, &ruled, r.attribution.as_deref(), now)
                }
            }
        });
        let mut opened = Vec::new();
        for escalation in due {
            if self.read(|c| c.escalation_for(&escalation.key()).is_some()) {
                continue;
            }
            let what = What::EscalationOpen { escalation };
            match self.act(sequencer, clock, SYSTEM, what).await {
                Ok(index) => opened.push(index),
                // Opened meanwhile by a concurrent request (two votes reaching the
                // quorum together): nothing left to do.
                Err(e) if e.0.status == 409 => {}
                Err(e) => return Err(e),
            }
        }
        Ok(opened)
    }
}

/// The replay key of a person's signed action: the SHA-256 of the actor and the payload.
fn payload_hash(actor: &str, envelope: &[u8]) -> [u8; 32] {
    let payload = serde_json::from_slice::<Envelope>(envelope)
        .ok()
        .and_then(|e| decode_base64(&e.payload).ok())
        .unwrap_or_default();
    let mut h = Sha256::new();
    h.update(actor.as_bytes());
    h.update([0]);
    h.update(&payload);
    h.finalize().into()
}

/// What may meet a trigger.
#[derive(Clone, Debug)]
pub enum Subject {
    Finding(String),
    Ruling(u64),
}
