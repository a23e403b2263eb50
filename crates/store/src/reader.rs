//! Reading committed data: entries, hashes, checkpoints, the registry.

use rusqlite::{Connection, OptionalExtension, params};
use truce_ledger::{Hash, NodeReader, TILE_HEIGHT, TILE_WIDTH, decode_entry_bundle, node_hash};
use truce_model::SensorRecord;

use crate::StoreError;
use crate::writer::CHUNK;

/// One stored row of `bundles`: the tile index, its entry bundle and its leaf hashes.
type StoredBundle = (u64, Vec<u8>, Vec<u8>);

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
        let last: Option<(i64, i64, i64)> = self
            .conn
            .query_row(
                "SELECT tile, chunk, width FROM bundles ORDER BY tile DESC, chunk DESC LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        Ok(last.map_or(0, |(tile, chunk, width)| {
            tile as u64 * TILE_WIDTH + chunk as u64 * CHUNK + width as u64
        }))
    }

    /// The stored bundles of tiles `first..=last`, in order, each put together from its rows.
    fn bundles(&self, first: u64, last: u64) -> Result<Vec<StoredBundle>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT tile, entries, leaves FROM bundles WHERE tile >= ?1 AND tile <= ?2 ORDER BY tile, chunk",
        )?;
        let rows = stmt.query_map(params![first as i64, last as i64], |r| {
            Ok((
                r.get::<_, i64>(0)? as u64,
                r.get::<_, Vec<u8>>(1)?,
                r.get::<_, Vec<u8>>(2)?,
            ))
        })?;
        let mut tiles: Vec<StoredBundle> = Vec::new();
        for row in rows {
            let (tile, entries, leaves) = row?;
            match tiles.last_mut() {
                Some(last) if last.0 == tile => {
                    last.1.extend_from_slice(&entries);
                    last.2.extend_from_slice(&leaves);
                }
                _ => tiles.push((tile, entries, leaves)),
            }
        }
        Ok(tiles)
    }

    pub fn entry(&self, index: u64) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.entries(index, 1)?.pop())
    }

    /// Up to `count` consecutive entries from `start` (fewer at the end of the log).
    pub fn entries(&self, start: u64, count: u64) -> Result<Vec<Vec<u8>>, StoreError> {
        if count == 0 {
            return Ok(Vec::new());
        }
        let end = start + count;
        let mut out = Vec::new();
        for (tile, bundle, _) in self.bundles(start / TILE_WIDTH, (end - 1) / TILE_WIDTH)? {
            let entries = decode_entry_bundle(&bundle)
                .map_err(|e| StoreError::Corrupt(format!("entry bundle {tile}: {e}")))?;
            let base = tile * TILE_WIDTH;
            out.extend(
                entries
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| (start..end).contains(&(base + *i as u64)))
                    .map(|(_, e)| e.to_vec()),
            );
        }
        Ok(out)
    }

    /// The first `width` entries of entry bundle `tile`, in the bundle encoding, if the log
    /// has that many there.
    pub fn entry_bundle(&self, tile: u64, width: u64) -> Result<Option<Vec<u8>>, StoreError> {
        let Some((_, bundle, _)) = self.bundles(tile, tile)?.pop() else {
            return Ok(None);
        };
        // The encoding is a sequence of length-prefixed entries: a prefix of it is the bundle
        // of the first entries.
        let mut offset = 0usize;
        for _ in 0..width {
            let Some(len) = bundle.get(offset..offset + 2) else {
                return Ok(None);
            };
            offset += 2 + usize::from(u16::from_be_bytes([len[0], len[1]]));
        }
        Ok((offset <= bundle.len()).then(|| bundle[..offset].to_vec()))
    }

    /// Up to `count` stored hashes of one tile row (height a multiple of 8) from `start`.
    pub fn row(&self, height: u8, start: u64, count: u64) -> Result<Vec<Hash>, StoreError> {
        let to_hash = |bytes: &[u8]| {
            <Hash>::try_from(bytes).map_err(|_| {
                StoreError::Corrupt(format!("a hash at height {height} is not 32 bytes"))
            })
        };
        if count == 0 {
            return Ok(Vec::new());
        }
        if height == 0 {
            // Row 0 (the leaf hashes) is kept with the entry bundles.
            let end = start + count;
            let mut out = Vec::with_capacity(count as usize);
            for (tile, _, leaves) in self.bundles(start / TILE_WIDTH, (end - 1) / TILE_WIDTH)? {
                if leaves.len() % 32 != 0 {
                    return Err(StoreError::Corrupt(format!("leaf hashes of tile {tile}")));
                }
                let base = tile * TILE_WIDTH;
                for (i, hash) in leaves.chunks_exact(32).enumerate() {
                    if (start..end).contains(&(base + i as u64)) {
                        out.push(to_hash(hash)?);
                    }
                }
            }
            return Ok(out);
        }
        let mut stmt = self.conn.prepare_cached(
            "SELECT hash FROM nodes WHERE height = ?1 AND idx >= ?2 AND idx < ?3 ORDER BY idx",
        )?;
        let rows = stmt.query_map(params![height, start as i64, (start + count) as i64], |r| {
            r.get::<_, Vec<u8>>(0)
        })?;
        rows.map(|row| to_hash(&row?)).collect()
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
