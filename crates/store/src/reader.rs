//! Reading committed data: entries, hashes, checkpoints, the registry.

use rusqlite::{Connection, OptionalExtension, params};
use truce_ledger::{Hash, NodeReader, TILE_HEIGHT, node_hash};
use truce_model::SensorRecord;

use crate::StoreError;

/// A read connection. Implements [`NodeReader`] for proofs.
pub struct Reader<'c> {
    conn: &'c Connection,
}

impl<'c> Reader<'c> {
    pub(crate) fn new(conn: &'c Connection) -> Self {
        Self { conn }
    }

    /// The number of committed entries.
    pub fn size(&self) -> Result<u64, StoreError> {
        let n: Option<i64> = self
            .conn
            .query_row("SELECT MAX(idx) + 1 FROM entries", [], |r| r.get(0))?;
        Ok(n.unwrap_or(0) as u64)
    }

    pub fn entry(&self, index: u64) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .conn
            .prepare_cached("SELECT data FROM entries WHERE idx = ?1")?
            .query_row([index as i64], |r| r.get(0))
            .optional()?)
    }

    /// Up to `count` consecutive entries from `start` (fewer at the end of the log).
    pub fn entries(&self, start: u64, count: u64) -> Result<Vec<Vec<u8>>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT data FROM entries WHERE idx >= ?1 AND idx < ?2 ORDER BY idx")?;
        let rows = stmt.query_map(params![start as i64, (start + count) as i64], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Up to `count` stored hashes of one tile row (height a multiple of 8) from `start`.
    pub fn row(&self, height: u8, start: u64, count: u64) -> Result<Vec<Hash>, StoreError> {
        // Row 0 (the leaf hashes) lives beside the entries; higher rows in `nodes`.
        let mut stmt = if height == 0 {
            self.conn.prepare_cached(
                "SELECT leaf FROM entries WHERE ?1 = 0 AND idx >= ?2 AND idx < ?3 ORDER BY idx",
            )?
        } else {
            self.conn.prepare_cached(
                "SELECT hash FROM nodes WHERE height = ?1 AND idx >= ?2 AND idx < ?3 ORDER BY idx",
            )?
        };
        let rows = stmt.query_map(params![height, start as i64, (start + count) as i64], |r| {
            r.get::<_, Vec<u8>>(0)
        })?;
        rows.map(|row| {
            let bytes = row?;
            <Hash>::try_from(bytes.as_slice()).map_err(|_| {
                StoreError::Corrupt(format!("a hash at height {height} is not 32 bytes"))
            })
        })
        .collect()
    }

    pub fn latest_checkpoint(&self) -> Result<Option<(u64, String)>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT size, note FROM checkpoints ORDER BY size DESC LIMIT 1",
                [],
                |r| Ok((r.get::<_, i64>(0)? as u64, r.get(1)?)),
            )
            .optional()?)
    }

    pub fn sensors(&self) -> Result<Vec<SensorRecord>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT record FROM sensors ORDER BY id")?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
        rows.map(|row| {
            serde_json::from_str(&row?).map_err(|e| StoreError::Corrupt(format!("sensor: {e}")))
        })
        .collect()
    }

    pub fn sensor(&self, id: &str) -> Result<Option<SensorRecord>, StoreError> {
        let record: Option<String> = self
            .conn
            .prepare_cached("SELECT record FROM sensors WHERE id = ?1")?
            .query_row([id], |r| r.get(0))
            .optional()?;
        record
            .map(|r| {
                serde_json::from_str(&r).map_err(|e| StoreError::Corrupt(format!("sensor: {e}")))
            })
            .transpose()
    }
}

impl NodeReader for Reader<'_> {
    type Error = StoreError;

    fn node(&self, height: u8, index: u64) -> Result<Hash, StoreError> {
        let mut hashes = self.nodes(height, index, 1)?;
        hashes
            .pop()
            .ok_or_else(|| StoreError::Corrupt(format!("node {height}/{index} missing")))
    }

    /// Reads the stored row at or below `height` and folds it up.
    fn nodes(&self, height: u8, start: u64, count: u64) -> Result<Vec<Hash>, StoreError> {
        let base = height - height % TILE_HEIGHT;
        let span = 1u64 << (height - base);
        let mut level = self.row(base, start * span, count * span)?;
        if level.len() as u64 != count * span {
            return Err(StoreError::Corrupt(format!(
                "nodes at height {base} from {} missing",
                start * span
            )));
        }
        for _ in base..height {
            level = level
                .chunks_exact(2)
                .map(|pair| node_hash(&pair[0], &pair[1]))
                .collect();
        }
        Ok(level)
    }
}
