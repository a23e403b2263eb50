//! The one writer: appends batches of entries in one durable transaction each.
//!
//! The `(sensor, seq)` index is maintained lazily: observations committed since the last
//! flush are held in memory (`pending`) and written to the `observations` table in one
//! sorted pass every [`INDEX_FLUSH_AT`] entries, in the same transaction as an append, with
//! the index's high-water mark. Writing the index row by row would dirty one page per
//! active sensor per commit and double what each commit writes. The index is derived data:
//! on opening, the writer re-reads the entries past the high-water mark.

use foldhash::{HashMap, HashMapExt, HashSet, HashSetExt};

use rusqlite::{Connection, OptionalExtension, params};
use truce_ledger::{Frontier, Hash, TILE_HEIGHT, TILE_WIDTH, leaf_hash};
use truce_model::envelope::observation_key;
use truce_model::{Entry, EntryKind, SensorRecord};

use crate::StoreError;
use crate::reader::Reader;

/// Entries per stored row: a tile's bundle is kept in 8 rows, so the partial row that each
/// commit rewrites stays small.
pub const CHUNK: u64 = 32;

/// Pending index rows are flushed once there are this many.
pub const INDEX_FLUSH_AT: usize = 65_536;

/// Where an observation `(sensor, seq)` was logged, and the leaf hash of its entry (which
/// tells an identical re-submission from a replay).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ObservationRef {
    pub index: u64,
    pub leaf_hash: [u8; 32],
}

/// What appending an entry changes besides the log itself.
#[derive(Clone, Debug, PartialEq)]
pub enum SideEffect {
    None,
    /// An observation: remember its `(sensor, seq)`.
    Observation {
        sensor: String,
        seq: u64,
        leaf_hash: [u8; 32],
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
    /// Per sensor: the highest `seq` logged and the index rows not yet in the table.
    seqs: HashMap<String, SensorSeqs>,
    /// How many index rows wait in memory, over all sensors.
    pending: usize,
    /// Flush `pending` once it holds this many rows.
    flush_at: usize,
    /// The partial chunk at the end of the log, as stored in its `bundles` row.
    tail: Tail,
}

/// The entries (bundle encoding) and leaf hashes of the last, partial chunk.
#[derive(Clone, Debug, Default)]
struct Tail {
    entries: Vec<u8>,
    leaves: Vec<u8>,
    width: u64,
}

/// What the writer knows of one sensor's sequence numbers.
#[derive(Debug, Default)]
struct SensorSeqs {
    /// The highest `seq` in the `observations` table, once read: a larger `seq` (and not
    /// pending) is new without a lookup, which is the common case.
    stored_max: Option<u64>,
    /// Index rows committed in entries but not yet in the table, by `seq`.
    pending: HashMap<u64, ObservationRef>,
    /// The highest `seq` among `pending`.
    pending_max: Option<u64>,
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer")
            .field("size", &self.frontier.size())
            .field("pending_index_rows", &self.pending)
            .finish()
    }
}

fn indexed_up_to(conn: &Connection) -> Result<u64, StoreError> {
    let value: Option<String> = conn
        .query_row(
            "SELECT value FROM meta WHERE key = 'observations_indexed'",
            [],
            |r| r.get(0),
        )
        .optional()?;
    value
        .map(|v| {
            v.parse()
                .map_err(|_| StoreError::Corrupt(format!("observations_indexed = {v:?}")))
        })
        .transpose()
        .map(|v| v.unwrap_or(0))
}

impl Writer {
    pub(crate) fn new(conn: Connection) -> Result<Self, StoreError> {
        let size = Reader::new(&conn).size()?;
        let frontier = Frontier::load(size, &Reader::new(&conn))?;
        let mut tail = Tail::default();
        if size % CHUNK != 0 {
            let (tile, chunk) = (size / TILE_WIDTH, size % TILE_WIDTH / CHUNK);
            let (entries, leaves): (Vec<u8>, Vec<u8>) = conn.query_row(
                "SELECT entries, leaves FROM bundles WHERE tile = ?1 AND chunk = ?2",
                [tile as i64, chunk as i64],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            tail = Tail {
                entries,
                leaves,
                width: size % CHUNK,
            };
        }
        let mut writer = Self {
            conn,
            frontier,
            seqs: HashMap::new(),
            pending: 0,
            flush_at: INDEX_FLUSH_AT,
            tail,
        };
        writer.catch_up_index(size)?;
        Ok(writer)
    }

    /// Re-reads the observations past the index's high-water mark into `pending`.
    fn catch_up_index(&mut self, size: u64) -> Result<(), StoreError> {
        let mut next = indexed_up_to(&self.conn)?;
        while next < size {
            let chunk = Reader::new(&self.conn).entries(next, 4096)?;
            if chunk.is_empty() {
                return Err(StoreError::Corrupt(format!("entry {next} missing")));
            }
            for data in &chunk {
                if let Ok(Entry {
                    kind: EntryKind::Observation,
                    body,
                    ..
                }) = Entry::decode(data)
                {
                    let leaf_hash = leaf_hash(data);
                    let (sensor, seq) = observation_key(body).ok_or_else(|| {
                        StoreError::Corrupt(format!("observation entry {next} does not parse"))
                    })?;
                    self.remember(&sensor, seq, next, leaf_hash);
                }
                next += 1;
            }
        }
        Ok(())
    }

    fn remember(&mut self, sensor: &str, seq: u64, index: u64, leaf_hash: [u8; 32]) {
        let seqs = match self.seqs.get_mut(sensor) {
            Some(s) => s,
            None => self.seqs.entry(sensor.to_string()).or_default(),
        };
        let at = ObservationRef { index, leaf_hash };
        if seqs.pending.insert(seq, at).is_none() {
            self.pending += 1;
        }
        seqs.pending_max = Some(seqs.pending_max.map_or(seq, |m| m.max(seq)));
    }

    /// Flushes the pending index rows at `rows` instead of [`INDEX_FLUSH_AT`] (for tests).
    pub fn set_index_flush_at(&mut self, rows: usize) {
        self.flush_at = rows.max(1);
    }

    /// Index rows held in memory, not yet in the `observations` table.
    pub fn pending_index_rows(&self) -> usize {
        self.pending
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

    /// Where the observation `(sensor, seq)` was logged, if it was.
    pub fn find_observation(
        &mut self,
        sensor: &str,
        seq: u64,
    ) -> Result<Option<ObservationRef>, StoreError> {
        let seqs = match self.seqs.get_mut(sensor) {
            Some(s) => s,
            None => self.seqs.entry(sensor.to_string()).or_default(),
        };
        if let Some(found) = seqs.pending.get(&seq) {
            return Ok(Some(*found));
        }
        let stored_max = match seqs.stored_max {
            Some(max) => max,
            None => {
                let stored: Option<i64> = self
                    .conn
                    .prepare_cached("SELECT MAX(seq) FROM observations WHERE sensor = ?1")?
                    .query_row([sensor], |r| r.get(0))?;
                let max = stored.map_or(0, |m| m as u64);
                seqs.stored_max = Some(max);
                max
            }
        };
        if seq > stored_max {
            return Ok(None);
        }
        let found: Option<(i64, Vec<u8>)> = self
            .conn
            .prepare_cached(
                "SELECT idx, leaf_hash FROM observations WHERE sensor = ?1 AND seq = ?2",
            )?
            .query_row(params![sensor, seq as i64], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        found
            .map(|(index, digest)| {
                Ok(ObservationRef {
                    index: index as u64,
                    leaf_hash: digest.try_into().map_err(|_| {
                        StoreError::Corrupt("payload digest is not 32 bytes".into())
                    })?,
                })
            })
            .transpose()
    }

    /// Refuses a batch that would log a `(sensor, seq)` twice.
    fn check_unique(&mut self, entries: &[NewEntry]) -> Result<(), StoreError> {
        let mut batch = HashSet::new();
        for entry in entries {
            if let SideEffect::Observation { sensor, seq, .. } = &entry.effect
                && (!batch.insert((sensor.as_str(), *seq))
                    || self.find_observation(sensor, *seq)?.is_some())
            {
                return Err(StoreError::Duplicate {
                    sensor: sensor.clone(),
                    seq: *seq,
                });
            }
        }
        Ok(())
    }

    /// Appends `entries` at indexes `size()..`, in one transaction that is on disk when this
    /// returns. Returns each entry's index and leaf hash. On error nothing is appended.
    pub fn append(&mut self, entries: &[NewEntry]) -> Result<Vec<(u64, Hash)>, StoreError> {
        self.check_unique(entries)?;
        let mut frontier = self.frontier.clone();
        let mut tail = self.tail.clone();
        let flush = self.pending + entries.len() >= self.flush_at;
        let tx = self.conn.transaction()?;
        let mut placed = Vec::with_capacity(entries.len());
        if flush {
            let mut sensors: Vec<(&String, &SensorSeqs)> = self.seqs.iter().collect();
            sensors.sort_unstable_by_key(|(name, _)| *name);
            let mut put = tx.prepare_cached(
                "INSERT INTO observations(sensor, seq, idx, leaf_hash) VALUES (?1, ?2, ?3, ?4)",
            )?;
            for (sensor, seqs) in sensors {
                let mut rows: Vec<_> = seqs.pending.iter().collect();
                rows.sort_unstable_by_key(|(seq, _)| **seq);
                for (seq, at) in rows {
                    put.execute(params![
                        sensor,
                        *seq as i64,
                        at.index as i64,
                        &at.leaf_hash[..]
                    ])?;
                }
            }
            tx.execute(
                "INSERT OR REPLACE INTO meta(key, value) VALUES ('observations_indexed', ?1)",
                [frontier.size().to_string()],
            )?;
        }
        {
            let mut put_bundle = tx.prepare_cached(
                "INSERT OR REPLACE INTO bundles(tile, chunk, width, entries, leaves) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            let mut put_node =
                tx.prepare_cached("INSERT INTO nodes(height, idx, hash) VALUES (?1, ?2, ?3)")?;
            let mut put_sensor =
                tx.prepare_cached("INSERT OR REPLACE INTO sensors(id, record) VALUES (?1, ?2)")?;
            for entry in entries {
                let index = frontier.size();
                let leaf = entry.leaf;
                let len = u16::try_from(entry.data.len()).map_err(|_| {
                    StoreError::Corrupt(format!("entry of {} bytes", entry.data.len()))
                })?;
                tail.entries.extend_from_slice(&len.to_be_bytes());
                tail.entries.extend_from_slice(&entry.data);
                tail.leaves.extend_from_slice(&leaf);
                tail.width += 1;
                if tail.width == CHUNK {
                    put_bundle.execute(params![
                        (index / TILE_WIDTH) as i64,
                        (index % TILE_WIDTH / CHUNK) as i64,
                        CHUNK as i64,
                        tail.entries,
                        tail.leaves
                    ])?;
                    tail.entries.clear();
                    tail.leaves.clear();
                    tail.width = 0;
                }
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
                if let SideEffect::Sensor(record) = &entry.effect {
                    let json = serde_json::to_string(record)
                        .map_err(|e| StoreError::Corrupt(e.to_string()))?;
                    put_sensor.execute(params![record.registration.id, json])?;
                }
                placed.push((index, leaf));
            }
            if tail.width > 0 {
                put_bundle.execute(params![
                    (frontier.size() / TILE_WIDTH) as i64,
                    (frontier.size() % TILE_WIDTH / CHUNK) as i64,
                    tail.width as i64,
                    tail.entries,
                    tail.leaves
                ])?;
            }
        }
        tx.commit()?;
        self.frontier = frontier;
        self.tail = tail;
        if flush {
            for seqs in self.seqs.values_mut() {
                if let Some(max) = seqs.pending_max.take() {
                    seqs.stored_max = seqs.stored_max.map(|m| m.max(max));
                }
                seqs.pending.clear();
            }
            self.pending = 0;
        }
        for (entry, (index, _)) in entries.iter().zip(&placed) {
            if let SideEffect::Observation {
                sensor,
                seq,
                leaf_hash,
            } = &entry.effect
            {
                self.remember(sensor, *seq, *index, *leaf_hash);
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
