//! The sequencer: the one thread that appends to the log.
//!
//! Requests queue on a channel. The sequencer takes everything waiting (up to a limit),
//! decides each item (duplicate, replay, revoked key), appends the survivors in one durable
//! transaction and only then answers: group commit, so many observations share one fsync.
//! It also signs checkpoints, so the tree it signs is always the tree on disk.

use foldhash::{HashMap, HashMapExt};
use std::sync::{Arc, RwLock};
use std::thread::JoinHandle;

use tokio::sync::{mpsc, oneshot, watch};
use truce_commission::roles::SYSTEM;
use truce_ingest::{Accepted, SensorKey};
use truce_ledger::{Checkpoint, Hash, NoteSigner};
use truce_model::{
    Entry, EntryKind, Problem, ProblemType, SensorRecord, SensorRegistration, SensorRevocation,
    SensorStatus, Timestamp,
};
use truce_store::{NewEntry, SideEffect, StoreError, Writer};

use crate::metrics::Metrics;
use crate::results::Decoded;

/// Where an observation landed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Appended {
    pub index: u64,
    pub leaf_hash: Hash,
    /// True when this exact observation was already in the log.
    pub duplicate: bool,
}

/// The latest signed checkpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedCheckpoint {
    pub size: u64,
    pub note: String,
}

/// The registry as ingest reads it, kept current by the sequencer.
pub type Registry = Arc<RwLock<HashMap<String, SensorKey>>>;

enum Command {
    Observations {
        items: Vec<Accepted>,
        reply: oneshot::Sender<Vec<Result<Appended, Problem>>>,
    },
    Register {
        registration: SensorRegistration,
        at: Timestamp,
        by: String,
        reply: oneshot::Sender<Result<(SensorRecord, bool), Problem>>,
    },
    Revoke {
        sensor: String,
        reason: Option<String>,
        at: Timestamp,
        by: String,
        reply: oneshot::Sender<Result<(SensorRecord, bool), Problem>>,
    },
    /// An entry checked elsewhere (a Commission action), appended as it is.
    Append {
        entry: Vec<u8>,
        reply: oneshot::Sender<Result<Appended, Problem>>,
    },
    Checkpoint {
        reply: oneshot::Sender<Result<SignedCheckpoint, Problem>>,
    },
}

impl Command {
    fn weight(&self) -> usize {
        match self {
            Command::Observations { items, .. } => items.len(),
            _ => 1,
        }
    }
}

/// The handle the rest of the server uses to talk to the sequencer.
#[derive(Clone)]
pub struct Sequencer {
    tx: mpsc::Sender<Command>,
    size: watch::Receiver<u64>,
    checkpoint: watch::Receiver<SignedCheckpoint>,
}

/// Errors that stop the sequencer from starting.
#[derive(Debug, thiserror::Error)]
pub enum SequencerError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot sign a checkpoint: {0}")]
    Sign(String),
    #[error(
        "the stored log does not match its own latest checkpoint: {0}; refusing to sign over it"
    )]
    Corrupt(String),
}

/// Refuses to start on a store whose hashes no longer give the root of the latest
/// checkpoint it published: signing on top of it would fork the log.
fn check_against_checkpoint(
    writer: &Writer,
    signer: &NoteSigner,
    note: &str,
) -> Result<(), SequencerError> {
    let checkpoint = Checkpoint::open(note, &signer.verifier())
        .map_err(|e| SequencerError::Corrupt(format!("stored checkpoint: {e}")))?;
    if checkpoint.size > writer.size() {
        return Err(SequencerError::Corrupt(format!(
            "checkpoint covers {} entries but only {} are stored",
            checkpoint.size,
            writer.size()
        )));
    }
    let root = truce_ledger::tree_hash(checkpoint.size, &writer.reader())?;
    if root != checkpoint.root {
        return Err(SequencerError::Corrupt(format!(
            "the stored hashes give another root for size {}",
            checkpoint.size
        )));
    }
    Ok(())
}

fn unavailable() -> Problem {
    Problem::new(ProblemType::Unavailable, "the log is shutting down")
}

fn internal(e: impl std::fmt::Display) -> Problem {
    tracing::error!(error = %e, "append failed");
    Problem::new(
        ProblemType::Internal,
        "the log could not append; nothing was logged",
    )
}

impl Sequencer {
    /// Starts the sequencer thread. It runs until every handle is dropped.
    pub fn start(
        mut writer: Writer,
        signer: NoteSigner,
        registry: Registry,
        max_commit_entries: usize,
        metrics: Arc<Metrics>,
        decoded: Arc<Decoded>,
    ) -> Result<(Sequencer, JoinHandle<()>), SequencerError> {
        let mut sensors: HashMap<String, SensorRecord> = writer
            .reader()
            .sensors()?
            .into_iter()
            .map(|r| (r.registration.id.clone(), r))
            .collect();
        publish_registry(&registry, sensors.values());
        let existing = writer.reader().latest_checkpoint()?;
        if let Some((_, note)) = &existing {
            check_against_checkpoint(&writer, &signer, note)?;
        }
        let first = match existing {
            Some((size, note)) if size == writer.size() => SignedCheckpoint { size, note },
            _ => {
                sign_checkpoint(&mut writer, &signer).map_err(|p| SequencerError::Sign(p.detail))?
            }
        };
        let (tx, mut rx) = mpsc::channel::<Command>(4096);
        let (size_tx, size) = watch::channel(writer.size());
        let (checkpoint_tx, checkpoint) = watch::channel(first);
        let thread = std::thread::Builder::new()
            .name("sequencer".into())
            .spawn(move || {
                while let Some(first) = rx.blocking_recv() {
                    let mut weight = first.weight();
                    let mut batch = vec![first];
                    while weight < max_commit_entries {
                        match rx.try_recv() {
                            Ok(next) => {
                                weight += next.weight();
                                batch.push(next);
                            }
                            Err(_) => break,
                        }
                    }
                    let mut round = Round {
                        writer: &mut writer,
                        sensors: &mut sensors,
                        signer: &signer,
                        checkpoint: &checkpoint_tx,
                        metrics: &metrics,
                        registry: &registry,
                        size: &size_tx,
                        decoded: &decoded,
                        sensors_changed: false,
                    };
                    round.run(batch);
                }
            })
            .map_err(StoreError::Io)?;
        Ok((
            Sequencer {
                tx,
                size,
                checkpoint,
            },
            thread,
        ))
    }

    async fn ask<T>(
        &self,
        command: impl FnOnce(oneshot::Sender<T>) -> Command,
        closed: impl FnOnce() -> T,
    ) -> T {
        let (reply, answer) = oneshot::channel();
        if self.tx.send(command(reply)).await.is_err() {
            return closed();
        }
        answer.await.unwrap_or_else(|_| closed())
    }

    /// Appends checked observations; one result per item, in order.
    pub async fn append_observations(
        &self,
        items: Vec<Accepted>,
    ) -> Vec<Result<Appended, Problem>> {
        let n = items.len();
        self.ask(
            |reply| Command::Observations { items, reply },
            || vec![Err(unavailable()); n],
        )
        .await
    }

    /// Registers a sensor. The flag is true when the registration was already in the log.
    pub async fn register(
        &self,
        registration: SensorRegistration,
        at: Timestamp,
        by: &str,
    ) -> Result<(SensorRecord, bool), Problem> {
        self.ask(
            |reply| Command::Register {
                registration,
                at,
                by: by.to_string(),
                reply,
            },
            || Err(unavailable()),
        )
        .await
    }

    /// Revokes a sensor's key. The flag is true when it was already revoked.
    pub async fn revoke(
        &self,
        sensor: String,
        reason: Option<String>,
        at: Timestamp,
        by: &str,
    ) -> Result<(SensorRecord, bool), Problem> {
        self.ask(
            |reply| Command::Revoke {
                sensor,
                reason,
                at,
                by: by.to_string(),
                reply,
            },
            || Err(unavailable()),
        )
        .await
    }

    /// Appends an entry (already encoded, checked by the caller) and answers once it is
    /// durable.
    pub async fn append(&self, entry: Vec<u8>) -> Result<Appended, Problem> {
        self.ask(
            |reply| Command::Append { entry, reply },
            || Err(unavailable()),
        )
        .await
    }

    /// Signs a checkpoint of the current tree if it grew since the last one.
    pub async fn checkpoint(&self) -> Result<SignedCheckpoint, Problem> {
        self.ask(|reply| Command::Checkpoint { reply }, || Err(unavailable()))
            .await
    }

    /// True once the sequencer has stopped (the server is shutting down or it failed).
    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }

    /// The number of entries on disk.
    pub fn size(&self) -> u64 {
        *self.size.borrow()
    }

    /// A receiver of the log size, changed after every commit.
    pub fn watch_size(&self) -> watch::Receiver<u64> {
        self.size.clone()
    }

    /// A receiver of the latest signed checkpoint.
    pub fn watch_checkpoint(&self) -> watch::Receiver<SignedCheckpoint> {
        self.checkpoint.clone()
    }

    /// The latest signed checkpoint.
    pub fn latest_checkpoint(&self) -> SignedCheckpoint {
        self.checkpoint.borrow().clone()
    }
}

fn publish_registry<'a>(registry: &Registry, sensors: impl Iterator<Item = &'a SensorRecord>) {
    let keys = sensors
        .filter_map(|r| {
            Some((
                r.registration.id.clone(),
                SensorKey {
                    public_key: r.registration.public_key_bytes().ok()?,
                    kind: r.registration.kind,
                    revoked: r.status == SensorStatus::Revoked,
                },
            ))
        })
        .collect();
    if let Ok(mut map) = registry.write() {
        *map = keys;
    }
}

fn sign_checkpoint(writer: &mut Writer, signer: &NoteSigner) -> Result<SignedCheckpoint, Problem> {
    let checkpoint = Checkpoint {
        origin: signer.name().to_string(),
        size: writer.size(),
        root: writer.root(),
        extensions: Vec::new(),
    };
    let note = checkpoint.sign(signer).map_err(internal)?;
    writer
        .store_checkpoint(checkpoint.size, &note)
        .map_err(internal)?;
    Ok(SignedCheckpoint {
        size: checkpoint.size,
        note,
    })
}

/// What each command in a round is waiting for.
enum Pending {
    Observations {
        slots: Vec<Result<Slot, Problem>>,
        reply: oneshot::Sender<Vec<Result<Appended, Problem>>>,
    },
    Sensor {
        slot: Result<(Slot, SensorRecord), Problem>,
        reply: oneshot::Sender<Result<(SensorRecord, bool), Problem>>,
    },
    Append {
        slot: Slot,
        reply: oneshot::Sender<Result<Appended, Problem>>,
    },
    Checkpoint {
        reply: oneshot::Sender<Result<SignedCheckpoint, Problem>>,
    },
}

/// An entry's place: new (position in this round's appends) or already logged.
#[derive(Clone, Copy)]
enum Slot {
    New(usize),
    /// The same observation as an earlier item of this round.
    Repeat(usize),
    /// Logged before; the leaf hash when the caller knows it (else it is read back).
    Existing(u64, Option<Hash>),
}

struct Round<'a> {
    writer: &'a mut Writer,
    sensors: &'a mut HashMap<String, SensorRecord>,
    signer: &'a NoteSigner,
    checkpoint: &'a watch::Sender<SignedCheckpoint>,
    metrics: &'a Metrics,
    registry: &'a Registry,
    size: &'a watch::Sender<u64>,
    decoded: &'a Decoded,
    sensors_changed: bool,
}

impl Round<'_> {
    fn run(&mut self, batch: Vec<Command>) {
        // Registry changes are undone if the commit fails; most rounds have none to undo.
        let before = batch
            .iter()
            .any(|c| matches!(c, Command::Register { .. } | Command::Revoke { .. }))
            .then(|| self.sensors.clone());
        let mut entries: Vec<NewEntry> = Vec::new();
        // New observations as ingest parsed them, by position in `entries`.
        let mut parsed: Vec<(usize, truce_model::Observation)> = Vec::new();
        let mut seen: HashMap<(String, u64), ([u8; 32], usize)> = HashMap::new();
        let mut pending = Vec::with_capacity(batch.len());
        // The writer's size does not move during a round: new entries go at base + position.
        let base = self.writer.size();
        for command in batch {
            pending.push(match command {
                Command::Observations { items, reply } => Pending::Observations {
                    slots: items
                        .into_iter()
                        .map(|item| {
                            self.observation(item, base, &mut entries, &mut parsed, &mut seen)
                        })
                        .collect(),
                    reply,
                },
                Command::Register {
                    registration,
                    at,
                    by,
                    reply,
                } => Pending::Sensor {
                    slot: self.register(registration, at, &by, base, &mut entries),
                    reply,
                },
                Command::Revoke {
                    sensor,
                    reason,
                    at,
                    by,
                    reply,
                } => Pending::Sensor {
                    slot: self.revoke(&sensor, reason, at, &by, base, &mut entries),
                    reply,
                },
                Command::Append { entry, reply } => {
                    entries.push(NewEntry::new(entry, SideEffect::None));
                    Pending::Append {
                        slot: Slot::New(entries.len() - 1),
                        reply,
                    }
                }
                Command::Checkpoint { reply } => Pending::Checkpoint { reply },
            });
        }
        let placed = if entries.is_empty() {
            Ok(Vec::new())
        } else {
            let placed = self.writer.append(&entries).map_err(internal);
            if placed.is_ok() {
                self.metrics.committed(entries.len() as u64);
            }
            placed
        };
        if placed.is_err()
            && let Some(before) = before
        {
            *self.sensors = before;
        }
        // Publish the new state before anyone hears of it: a client told "registered" or
        // "logged" must find the registry and the size already updated.
        if self.sensors_changed {
            publish_registry(self.registry, self.sensors.values());
        }
        if let Ok(placed) = &placed {
            self.decoded.put(
                parsed
                    .into_iter()
                    .map(|(i, o)| (placed[i].0, o, entries[i].data.len())),
            );
        }
        self.size.send_replace(self.writer.size());
        let resolve = |slot: Slot| -> Result<Appended, Problem> {
            let placed = placed.as_ref().map_err(Clone::clone)?;
            Ok(match slot {
                Slot::New(i) => Appended {
                    index: placed[i].0,
                    leaf_hash: placed[i].1,
                    duplicate: false,
                },
                Slot::Repeat(i) => Appended {
                    index: placed[i].0,
                    leaf_hash: placed[i].1,
                    duplicate: true,
                },
                Slot::Existing(index, known) => Appended {
                    index,
                    leaf_hash: match known {
                        Some(hash) => hash,
                        None => self.leaf_hash(index, placed)?,
                    },
                    duplicate: true,
                },
            })
        };
        let mut checkpoint_replies = Vec::new();
        for p in pending {
            match p {
                Pending::Observations { slots, reply } => {
                    let results = slots.into_iter().map(|s| s.and_then(&resolve)).collect();
                    let _ = reply.send(results);
                }
                Pending::Sensor { slot, reply } => {
                    let result = slot
                        .and_then(|(slot, record)| resolve(slot).map(|a| (record, a.duplicate)));
                    let _ = reply.send(result);
                }
                Pending::Append { slot, reply } => {
                    let _ = reply.send(resolve(slot));
                }
                Pending::Checkpoint { reply } => checkpoint_replies.push(reply),
            }
        }
        for reply in checkpoint_replies {
            let last = self.checkpoint.borrow().clone();
            let result = if last.size == self.writer.size() {
                Ok(last)
            } else {
                sign_checkpoint(self.writer, self.signer)
            };
            if let Ok(signed) = &result {
                self.checkpoint.send_replace(signed.clone());
            }
            let _ = reply.send(result);
        }
    }

    /// The leaf hash of an entry logged before (or earlier in this round).
    fn leaf_hash(&self, index: u64, placed: &[(u64, Hash)]) -> Result<Hash, Problem> {
        if let Some((_, hash)) = placed.iter().find(|(i, _)| *i == index) {
            return Ok(*hash);
        }
        let hashes = self.writer.reader().row(0, index, 1).map_err(internal)?;
        hashes
            .first()
            .copied()
            .ok_or_else(|| internal(format!("leaf {index} missing")))
    }

    fn observation(
        &mut self,
        item: Accepted,
        base: u64,
        entries: &mut Vec<NewEntry>,
        parsed: &mut Vec<(usize, truce_model::Observation)>,
        seen: &mut HashMap<(String, u64), ([u8; 32], usize)>,
    ) -> Result<Slot, Problem> {
        let Some(record) = self.sensors.get(&item.observation.sensor) else {
            return Err(Problem::new(
                ProblemType::UnknownSensor,
                format!("sensor {} is not registered", item.observation.sensor),
            )
            .with_field("payload.sensor"));
        };
        let current_key = record.registration.public_key_bytes().ok();
        // A revoked key signs nothing new; but what it signed before is logged, and an
        // identical envelope sent again is answered with its index, as for any sensor.
        let revoked = (record.status == SensorStatus::Revoked
            || current_key != Some(item.public_key))
        .then(|| {
            Problem::new(
                ProblemType::KeyRevoked,
                format!(
                    "the key that signed this observation of {} is revoked",
                    item.observation.sensor
                ),
            )
            .with_field("payload.sensor")
        });
        let replay = |index: u64| {
            Problem::new(
                ProblemType::Replay,
                format!(
                    "sensor {} already used seq {} for a different observation (log index {index})",
                    item.observation.sensor, item.observation.seq
                ),
            )
            .with_field("payload.seq")
        };
        let key = (item.observation.sensor.clone(), item.observation.seq);
        // (What this round accepted was signed by a key that was current.)
        if let Some((digest, position)) = seen.get(&key).filter(|_| revoked.is_none()) {
            return if *digest == item.leaf_hash {
                Ok(Slot::Repeat(*position))
            } else {
                Err(replay(base + *position as u64))
            };
        }
        if let Some(found) = self
            .writer
            .find_observation(&item.observation.sensor, item.observation.seq)
            .map_err(internal)?
        {
            return if found.leaf_hash == item.leaf_hash {
                Ok(Slot::Existing(found.index, Some(found.leaf_hash)))
            } else {
                Err(revoked.unwrap_or_else(|| replay(found.index)))
            };
        }
        if let Some(problem) = revoked {
            return Err(problem);
        }
        let position = entries.len();
        seen.insert(key, (item.leaf_hash, position));
        entries.push(NewEntry {
            data: item.entry,
            leaf: item.leaf_hash,
            effect: SideEffect::Observation {
                sensor: item.observation.sensor.clone(),
                seq: item.observation.seq,
                leaf_hash: item.leaf_hash,
            },
        });
        parsed.push((position, item.observation));
        Ok(Slot::New(position))
    }

    fn register(
        &mut self,
        registration: SensorRegistration,
        at: Timestamp,
        by: &str,
        base: u64,
        entries: &mut Vec<NewEntry>,
    ) -> Result<(Slot, SensorRecord), Problem> {
        if let Some(existing) = self.sensors.get(&registration.id) {
            match existing.status {
                SensorStatus::Active if existing.registration == registration => {
                    return Ok((
                        Slot::Existing(existing.registered_index, None),
                        existing.clone(),
                    ));
                }
                SensorStatus::Active => {
                    return Err(Problem::new(
                        ProblemType::SensorExists,
                        format!(
                            "sensor {} is registered with other details; revoke it first",
                            registration.id
                        ),
                    )
                    .with_field("id"));
                }
                SensorStatus::Revoked => {}
            }
        }
        // A revoked key stays revoked: not for this sensor again, nor for another one.
        // (Keys are compared as bytes: base64 can spell one key in more than one way.)
        let key = registration
            .public_key_bytes()
            .map_err(|e| Problem::new(ProblemType::InvalidField, e).with_field("public_key"))?;
        let revoked_by = self.sensors.values().find(|r| {
            r.revoked_keys()
                .any(|k| truce_model::envelope::decode_base64(k).is_ok_and(|b| b == key))
        });
        if let Some(holder) = revoked_by {
            return Err(Problem::new(
                ProblemType::KeyRevoked,
                format!(
                    "a revoked key cannot be registered again (it was sensor {}'s)",
                    holder.registration.id
                ),
            )
            .with_field("public_key"));
        }
        // One key, one sensor: a key another active sensor holds is refused, so that no
        // signature can speak for two sensors.
        let holder = self.sensors.values().find(|r| {
            r.status == SensorStatus::Active
                && r.registration.id != registration.id
                && r.registration.public_key_bytes().is_ok_and(|b| b == key)
        });
        if let Some(holder) = holder {
            return Err(Problem::new(
                ProblemType::InvalidField,
                format!(
                    "this key is sensor {}'s: each sensor has a key of its own",
                    holder.registration.id
                ),
            )
            .with_field("public_key"));
        }
        let earlier_keys = match self.sensors.get(&registration.id) {
            Some(revoked) => revoked.revoked_keys().map(str::to_string).collect(),
            None => Vec::new(),
        };
        let body = serde_json::to_vec(&serde_json::json!({
            "sensor": registration,
            "registered_at": at,
            "registered_by": by,
        }))
        .map_err(internal)?;
        let position = entries.len();
        let record = SensorRecord {
            registration,
            status: SensorStatus::Active,
            registered_index: base + position as u64,
            revoked_index: None,
            earlier_keys,
        };
        self.push_sensor_entry(EntryKind::SensorRegistration, &body, &record, entries)?;
        Ok((Slot::New(position), record))
    }

    fn revoke(
        &mut self,
        sensor: &str,
        reason: Option<String>,
        at: Timestamp,
        by: &str,
        base: u64,
        entries: &mut Vec<NewEntry>,
    ) -> Result<(Slot, SensorRecord), Problem> {
        let Some(existing) = self.sensors.get(sensor) else {
            return Err(Problem::new(
                ProblemType::NotFound,
                format!("sensor {sensor} is not registered"),
            ));
        };
        if let (SensorStatus::Revoked, Some(index)) = (existing.status, existing.revoked_index) {
            return Ok((Slot::Existing(index, None), existing.clone()));
        }
        let revocation = SensorRevocation {
            sensor: sensor.to_string(),
            public_key: existing.registration.public_key.clone(),
            revoked_at: at,
            reason,
            revoked_by: Some(by.to_string()),
        };
        let body = serde_json::to_vec(&revocation).map_err(internal)?;
        let position = entries.len();
        let mut record = existing.clone();
        record.status = SensorStatus::Revoked;
        record.revoked_index = Some(base + position as u64);
        self.push_sensor_entry(EntryKind::KeyRevocation, &body, &record, entries)?;
        Ok((Slot::New(position), record))
    }

    fn push_sensor_entry(
        &mut self,
        kind: EntryKind,
        body: &[u8],
        record: &SensorRecord,
        entries: &mut Vec<NewEntry>,
    ) -> Result<(), Problem> {
        // Signed by the log's key on behalf of the administrator the record names.
        let data = Entry::signed_sensor_record(kind, body, SYSTEM, |m| self.signer.sign_bytes(m))
            .ok_or_else(|| internal(format!("{kind} entries hold no sensor record")))?
            .map_err(|e| Problem::new(ProblemType::EntryTooLarge, e.to_string()))?;
        entries.push(NewEntry::new(data, SideEffect::Sensor(record.clone())));
        self.sensors
            .insert(record.registration.id.clone(), record.clone());
        self.sensors_changed = true;
        Ok(())
    }
}
