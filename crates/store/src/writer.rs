//! The one writer: appends batches of entries in one durable transaction each.

use std::collections::HashMap;

use rusqlite::{Connection, OptionalExtension, params};
use truce_ledger::{Frontier, Hash, TILE_HEIGHT, leaf_hash};
use truce_model::SensorRecord;

use crate::StoreError;
use crate::reader::Reader;

/// Where an observation `(sensor, seq)` was logged, and the digest of its payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ObservationRef {
    pub index: u64,
    pub payload_sha256: [u8; 32],
}

/// What appending an entry changes besides the log itself.
#[derive(Clone, Debug, PartialEq)]
pub enum SideEffect {
    None,
    /// An observation: remember its `(sensor, seq)`.
    Observation {
        sensor: String,
        seq: u64,
        payload_sha256: [u8; 32],
    },
    /// A registration or revocation: the sensor's new record.
    Sensor(SensorRecord),
}

/// One entry to append.
#[derive(Clone, Debug, PartialEq)]
pub struct NewEntry {
    pub data: Vec<u8>,
    /// `leaf_hash(&data)`, computed by whoever made the entry (off the append path).
    pub leaf: Hash,
    pub effect: SideEffect,
}

impl NewEntry {
    /// An entry with its leaf hash computed here.
    pub fn new(data: Vec<u8>, effect: SideEffect) -> Self {
        Self {
            leaf: leaf_hash(&data),
            data,
            effect,
        }
    }
}

/// The writer owns the write connection and the tree's right edge.
pub struct Writer {
    conn: Connection,
    frontier: Frontier,
    /// The highest `seq` logged per sensor (filled lazily): a larger `seq` is new without
    /// a lookup, which is the common case.
    max_seq: HashMap<String, u64>,
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer")
            .field("size", &self.frontier.size())
            .finish()
    }
}

pub(crate) fn find_observation(
    conn: &Connection,
    sensor: &str,
    seq: u64,
) -> Result<Option<ObservationRef>, StoreError> {
    let found: Option<(i64, Vec<u8>)> = conn
        .prepare_cached(
            "SELECT idx, payload_sha256 FROM observations WHERE sensor = ?1 AND seq = ?2",
        )?
        .query_row(params![sensor, seq as i64], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    found
        .map(|(index, digest)| {
            Ok(ObservationRef {
                index: index as u64,
                payload_sha256: digest
                    .try_into()
                    .map_err(|_| StoreError::Corrupt("payload digest is not 32 bytes".into()))?,
            })
        })
        .transpose()
}

impl Writer {
    pub(crate) fn new(conn: Connection) -> Result<Self, StoreError> {
        let size = Reader::new(&conn).size()?;
        let frontier = Frontier::load(size, &Reader::new(&conn))?;
        Ok(Self {
            conn,
            frontier,
            max_seq: HashMap::new(),
        })
    }

    /// The number of entries committed.
    pub fn size(&self) -> u64 {
        self.frontier.size()
    }

    /// The root hash of the committed tree.
    pub fn root(&self) -> Hash {
        self.frontier.root()
    }

    /// A reader over the writer's own connection (sees what this writer committed).
    pub fn reader(&self) -> Reader<'_> {
        Reader::new(&self.conn)
    }

    pub fn find_observation(
        &mut self,
        sensor: &str,
        seq: u64,
    ) -> Result<Option<ObservationRef>, StoreError> {
        let max = match self.max_seq.get(sensor) {
            Some(max) => *max,
            None => {
                let max: Option<i64> = self
                    .conn
                    .prepare_cached("SELECT MAX(seq) FROM observations WHERE sensor = ?1")?
                    .query_row([sensor], |r| r.get(0))?;
                let max = max.map_or(0, |m| m as u64);
                self.max_seq.insert(sensor.to_string(), max);
                max
            }
        };
        if seq > max {
            return Ok(None);
        }
        find_observation(&self.conn, sensor, seq)
    }

    /// Appends `entries` at indexes `size()..`, in one transaction that is on disk when this
    /// returns. Returns each entry's index and leaf hash. On error nothing is appended.
    pub fn append(&mut self, entries: &[NewEntry]) -> Result<Vec<(u64, Hash)>, StoreError> {
        let mut frontier = self.frontier.clone();
        let tx = self.conn.transaction()?;
        let mut placed = Vec::with_capacity(entries.len());
        {
            let mut put_entry =
                tx.prepare_cached("INSERT INTO entries(idx, leaf, data) VALUES (?1, ?2, ?3)")?;
            let mut put_node =
                tx.prepare_cached("INSERT INTO nodes(height, idx, hash) VALUES (?1, ?2, ?3)")?;
            let mut put_observation = tx.prepare_cached(
                "INSERT INTO observations(sensor, seq, idx, payload_sha256) VALUES (?1, ?2, ?3, ?4)",
            )?;
            let mut put_sensor =
                tx.prepare_cached("INSERT OR REPLACE INTO sensors(id, record) VALUES (?1, ?2)")?;
            for entry in entries {
                let index = frontier.size();
                let leaf = entry.leaf;
                put_entry.execute(params![index as i64, &leaf[..], entry.data])?;
                let mut failed = None;
                frontier.append(leaf, |height, idx, hash| {
                    if height % TILE_HEIGHT == 0
                        && failed.is_none()
                        && let Err(e) = put_node.execute(params![height, idx as i64, &hash[..]])
                    {
                        failed = Some(e);
                    }
                });
                if let Some(e) = failed {
                    return Err(e.into());
                }
                match &entry.effect {
                    SideEffect::None => {}
                    SideEffect::Observation {
                        sensor,
                        seq,
                        payload_sha256,
                    } => {
                        put_observation.execute(params![
                            sensor,
                            *seq as i64,
                            index as i64,
                            &payload_sha256[..]
                        ])?;
                    }
                    SideEffect::Sensor(record) => {
                        let json = serde_json::to_string(record)
                            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
                        put_sensor.execute(params![record.registration.id, json])?;
                    }
                }
                placed.push((index, leaf));
            }
        }
        tx.commit()?;
        self.frontier = frontier;
        for entry in entries {
            if let SideEffect::Observation { sensor, seq, .. } = &entry.effect
                && let Some(max) = self.max_seq.get_mut(sensor)
            {
                *max = (*max).max(*seq);
            }
        }
        Ok(placed)
    }

    /// Records a signed checkpoint durably.
    pub fn store_checkpoint(&mut self, size: u64, note: &str) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT OR REPLACE INTO checkpoints(size, note) VALUES (?1, ?2)",
            params![size as i64, note],
        )?;
        Ok(())
    }
}
