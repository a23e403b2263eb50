//! Durable storage for truce's log, embedded in one SQLite database (see
//! docs/adr/0002-sqlite-embedded-store.md).
//!
//! One [`Writer`] (owned by the sequencer) appends batches in a single transaction each,
//! committed with `synchronous=FULL` so a batch is on disk before anyone is told about it.
//! Any number of [`Reader`]s serve tiles, entries, proofs and the registry from committed
//! data. The tables are:
//!
//! - `bundles(tile, chunk, width, entries, leaves)`: the log entries, 32 to a row, as a
//!   slice of the C2SP entry bundle of their tile and their leaf hashes (tile row 0); the
//!   rows of a tile concatenate to its bundle; only the last row is partial and it is
//!   rewritten as the log grows;
//! - `nodes(height, idx, hash)`: the hashes of the higher tile rows, heights 8, 16, …;
//! - `observations(sensor, seq, idx, leaf_hash)`: which `seq` each sensor used (written
//!   in sorted bulk; the newest rows are kept in the writer's memory, see `writer.rs`);
//! - `sensors(id, record)`: the registry, derived from registration and revocation entries;
//! - `checkpoints(size, note)`: every signed checkpoint published;
//! - `meta(key, value)`: the log's origin and schema version.

mod private;
mod reader;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use rusqlite::Connection;

pub use private::{Notification, Private};
pub use reader::Reader;
pub use writer::{NewEntry, ObservationRef, SideEffect, Writer};

/// Everything that can go wrong in storage.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("the data directory belongs to log {stored:?}, not {requested:?}")]
    OriginMismatch { stored: String, requested: String },
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
    #[error("sensor {sensor} already logged seq {seq}")]
    Duplicate { sensor: String, seq: u64 },
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS bundles(tile INTEGER NOT NULL, chunk INTEGER NOT NULL,
    width INTEGER NOT NULL, entries BLOB NOT NULL, leaves BLOB NOT NULL,
    PRIMARY KEY(tile, chunk)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS nodes(height INTEGER NOT NULL, idx INTEGER NOT NULL, hash BLOB NOT NULL,
    PRIMARY KEY(height, idx)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS observations(sensor TEXT NOT NULL, seq INTEGER NOT NULL,
    idx INTEGER NOT NULL, leaf_hash BLOB NOT NULL, PRIMARY KEY(sensor, seq)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS sensors(id TEXT PRIMARY KEY, record TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS checkpoints(size INTEGER PRIMARY KEY, note TEXT NOT NULL);
";

/// The database file inside a data directory.
pub fn database_path(dir: &Path) -> PathBuf {
    dir.join("log.sqlite")
}

/// The store: opens the writer once and lends pooled read connections.
pub struct Store {
    path: PathBuf,
    readers: Mutex<Vec<Connection>>,
    /// Keeps the WAL checkpointer alive; it stops when the store is dropped.
    _alive: Arc<()>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

impl Store {
    /// Opens (creating if needed) the store in `dir` for the log named `origin`, and returns
    /// it with the one writer, whose frontier is rebuilt from the stored hashes.
    pub fn open(dir: &Path, origin: &str) -> Result<(Store, Writer), StoreError> {
        Self::open_with_wal_restart(dir, origin, WAL_RESTART_FRAMES)
    }

    /// [`Store::open`] with the WAL restarted past `wal_restart_frames` frames (tests use a
    /// small WAL to see it restart).
    fn open_with_wal_restart(
        dir: &Path,
        origin: &str,
        wal_restart_frames: i64,
    ) -> Result<(Store, Writer), StoreError> {
        std::fs::create_dir_all(dir)?;
        let path = database_path(dir);
        let conn = Connection::open(&path)?;
        conn.pragma_update(None, "page_size", 16_384)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "cache_size", -65_536)?;
        // The writer never checkpoints the WAL itself: a background thread does, so
        // copying pages into the database stays off the append path.
        conn.pragma_update(None, "wal_autocheckpoint", 0)?;
        conn.pragma_update(None, "journal_size_limit", 256 * 1024 * 1024)?;
        conn.busy_timeout(std::time::Duration::from_secs(30))?;
        conn.execute_batch(SCHEMA)?;
        let stored: Option<String> = conn
            .query_row("SELECT value FROM meta WHERE key = 'origin'", [], |r| {
                r.get(0)
            })
            .ok();
        match stored {
            Some(stored) if stored != origin => {
                return Err(StoreError::OriginMismatch {
                    stored,
                    requested: origin.to_string(),
                });
            }
            Some(_) => {}
            None => {
                conn.execute(
                    "INSERT INTO meta(key, value) VALUES ('origin', ?1), ('schema', '1'), ('observations_indexed', '0')",
                    [origin],
                )?;
            }
        }
        let alive = Arc::new(());
        spawn_checkpointer(&path, Arc::downgrade(&alive), wal_restart_frames)?;
        let store = Store {
            path,
            readers: Mutex::new(Vec::new()),
            _alive: alive,
        };
        let writer = Writer::new(conn)?;
        Ok((store, writer))
    }

    /// The stored origin of the log in `dir`, if the directory holds one.
    pub fn stored_origin(dir: &Path) -> Result<Option<String>, StoreError> {
        let path = database_path(dir);
        if !path.exists() {
            return Ok(None);
        }
        let conn = Connection::open(&path)?;
        Ok(conn
            .query_row("SELECT value FROM meta WHERE key = 'origin'", [], |r| {
                r.get(0)
            })
            .ok())
    }

    /// Runs `f` with a read connection from the pool.
    pub fn read<T>(
        &self,
        f: impl FnOnce(&Reader<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let conn = self.readers.lock().ok().and_then(|mut pool| pool.pop());
        let conn = match conn {
            Some(c) => c,
            None => {
                let c = Connection::open(&self.path)?;
                c.busy_timeout(std::time::Duration::from_secs(30))?;
                c.pragma_update(None, "query_only", true)?;
                c
            }
        };
        let result = f(&Reader::new(&conn));
        if let Ok(mut pool) = self.readers.lock()
            && pool.len() < 16
        {
            pool.push(conn);
        }
        result
    }
}

/// WAL frames (of 16 KiB pages) past which the checkpointer restarts the WAL: 64 MiB.
const WAL_RESTART_FRAMES: i64 = 4096;

/// Copies committed WAL frames into the database every 200 ms (a PASSIVE checkpoint: it
/// never blocks the writer or readers), until `alive` is gone.
///
/// Under steady load the writer commits while each checkpoint runs, so the WAL is never
/// wholly copied when a commit starts, SQLite never rewinds it, and it grows without end
/// (each commit then writes to fresh file pages the kernel must allocate and zero). Once
/// it holds more than `restart_frames` ([`WAL_RESTART_FRAMES`] in service), the checkpointer follows the PASSIVE pass
/// with a RESTART one: it copies the few frames committed meanwhile, holding commits back
/// for that long (at most 50 ms waiting for readers), and the next commit writes the WAL
/// from its start again.
fn spawn_checkpointer(path: &Path, alive: Weak<()>, restart_frames: i64) -> Result<(), StoreError> {
    let conn = Connection::open(path)?;
    std::thread::Builder::new()
        .name("wal-checkpoint".into())
        .spawn(move || {
            while alive.upgrade().is_some() {
                std::thread::sleep(Duration::from_millis(200));
                match checkpoint(&conn, "PASSIVE", Duration::from_secs(1)) {
                    Ok(frames) if frames > restart_frames => {
                        // Busy (a reader kept an old snapshot) is no failure: next time.
                        if let Err(e) = checkpoint(&conn, "RESTART", Duration::from_millis(50)) {
                            eprintln!("truce-store: WAL restart failed: {e}");
                        }
                    }
                    Ok(_) => {}
                    Err(e) => eprintln!("truce-store: WAL checkpoint failed: {e}"),
                }
            }
        })?;
    Ok(())
}

/// Runs one WAL checkpoint in `mode`; the number of frames the WAL held.
fn checkpoint(conn: &Connection, mode: &str, patience: Duration) -> rusqlite::Result<i64> {
    conn.busy_timeout(patience)?;
    conn.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |r| r.get(1))
}

#[cfg(test)]
mod tests;
