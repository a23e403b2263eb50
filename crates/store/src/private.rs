//! What the server keeps that is not in the public log: the SHA-256 of each API token and
//! the outbox of notifications to deliver. A separate SQLite file (`private.sqlite`)
//! beside the log's, written with `synchronous=FULL` like it, so that a token shown once
//! and a notification queued survive a crash.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::{Connection, OptionalExtension, params};

use crate::StoreError;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS tokens(hash BLOB PRIMARY KEY, account TEXT NOT NULL,
    created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS outbox(key TEXT PRIMARY KEY, escalation INTEGER NOT NULL,
    receiver TEXT NOT NULL, url TEXT NOT NULL, body BLOB NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0, next_at_ms INTEGER NOT NULL,
    delivered_at_ms INTEGER, last_error TEXT);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox(next_at_ms) WHERE delivered_at_ms IS NULL;
";

/// A notification waiting in the outbox (or delivered).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notification {
    /// The idempotency key: one per escalation and receiver.
    pub key: String,
    pub escalation: u64,
    pub receiver: String,
    pub url: String,
    pub body: Vec<u8>,
    pub attempts: u32,
    pub next_at_ms: i64,
    pub delivered_at_ms: Option<i64>,
    pub last_error: Option<String>,
}

/// The private store.
#[derive(Debug)]
pub struct Private {
    conn: Mutex<Connection>,
    path: PathBuf,
}

impl Private {
    /// Opens (creating if needed) `DIR/private.sqlite`.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join("private.sqlite");
        let conn = Connection::open(&path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.busy_timeout(std::time::Duration::from_secs(30))?;
        conn.execute_batch(SCHEMA)?;
        Ok(Self {
            conn: Mutex::new(conn),
            path,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn with<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> Result<T, StoreError> {
        let conn = self
            .conn
            .lock()
            .map_err(|_| StoreError::Corrupt("private store lock poisoned".into()))?;
        Ok(f(&conn)?)
    }

    /// Records a token's SHA-256 for `account`.
    pub fn add_token(
        &self,
        hash: &[u8; 32],
        account: &str,
        created_at: &str,
    ) -> Result<(), StoreError> {
        self.with(|c| {
            c.execute(
                "INSERT INTO tokens(hash, account, created_at) VALUES (?1, ?2, ?3)",
                params![&hash[..], account, created_at],
            )
            .map(|_| ())
        })
    }

    /// The account a token's SHA-256 belongs to.
    pub fn token_account(&self, hash: &[u8; 32]) -> Result<Option<String>, StoreError> {
        self.with(|c| {
            c.query_row(
                "SELECT account FROM tokens WHERE hash = ?1",
                [&hash[..]],
                |r| r.get(0),
            )
            .optional()
        })
    }

    /// Queues a notification unless one with its key exists (so queuing again after a
    /// restart is harmless). True when it was new.
    pub fn enqueue(&self, n: &Notification) -> Result<bool, StoreError> {
        self.with(|c| {
            c.execute(
                "INSERT OR IGNORE INTO outbox(key, escalation, receiver, url, body, next_at_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    n.key,
                    n.escalation as i64,
                    n.receiver,
                    n.url,
                    n.body,
                    n.next_at_ms
                ],
            )
            .map(|changed| changed == 1)
        })
    }

    /// Undelivered notifications due at `now_ms`, oldest first.
    pub fn due(&self, now_ms: i64, limit: u32) -> Result<Vec<Notification>, StoreError> {
        self.with(|c| {
            let mut stmt = c.prepare(
                "SELECT key, escalation, receiver, url, body, attempts, next_at_ms,
                        delivered_at_ms, last_error
                 FROM outbox WHERE delivered_at_ms IS NULL AND next_at_ms <= ?1
                 ORDER BY next_at_ms, key LIMIT ?2",
            )?;
            let rows = stmt.query_map(params![now_ms, limit], row)?;
            rows.collect()
        })
    }

    /// Every notification of an escalation.
    pub fn notifications(&self, escalation: u64) -> Result<Vec<Notification>, StoreError> {
        self.with(|c| {
            let mut stmt = c.prepare(
                "SELECT key, escalation, receiver, url, body, attempts, next_at_ms,
                        delivered_at_ms, last_error
                 FROM outbox WHERE escalation = ?1 ORDER BY key",
            )?;
            let rows = stmt.query_map([escalation as i64], row)?;
            rows.collect()
        })
    }

    /// Marks a notification delivered (after the receiver answered 2xx).
    pub fn delivered(&self, key: &str, at_ms: i64) -> Result<(), StoreError> {
        self.with(|c| {
            c.execute(
                "UPDATE outbox SET delivered_at_ms = ?2, attempts = attempts + 1, last_error = NULL
                 WHERE key = ?1",
                params![key, at_ms],
            )
            .map(|_| ())
        })
    }

    /// Records a failed attempt and when to try again.
    pub fn failed(&self, key: &str, error: &str, next_at_ms: i64) -> Result<(), StoreError> {
        self.with(|c| {
            c.execute(
                "UPDATE outbox SET attempts = attempts + 1, last_error = ?2, next_at_ms = ?3
                 WHERE key = ?1",
                params![key, error, next_at_ms],
            )
            .map(|_| ())
        })
    }
}

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Notification> {
    Ok(Notification {
        key: r.get(0)?,
        escalation: r.get::<_, i64>(1)? as u64,
        receiver: r.get(2)?,
        url: r.get(3)?,
        body: r.get(4)?,
        attempts: r.get(5)?,
        next_at_ms: r.get(6)?,
        delivered_at_ms: r.get(7)?,
        last_error: r.get(8)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notification(key: &str, next_at_ms: i64) -> Notification {
        Notification {
            key: key.into(),
            escalation: 7,
            receiver: "GB".into(),
            url: "http://127.0.0.1:9/hook".into(),
            body: b"{}".to_vec(),
            attempts: 0,
            next_at_ms,
            delivered_at_ms: None,
            last_error: None,
        }
    }

    #[test]
    fn tokens_and_the_outbox_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let hash = [3u8; 32];
        {
            let p = Private::open(dir.path()).unwrap();
            p.add_token(&hash, "an-1", "2026-01-08T00:00:00Z").unwrap();
            assert!(p.add_token(&hash, "an-2", "2026-01-08T00:00:00Z").is_err());
            assert!(p.enqueue(&notification("7/GB", 1_000)).unwrap());
            assert!(!p.enqueue(&notification("7/GB", 5)).unwrap(), "queued once");
            assert!(p.enqueue(&notification("7/FR", 2_000)).unwrap());
        }
        let p = Private::open(dir.path()).unwrap();
        assert_eq!(p.token_account(&hash).unwrap().as_deref(), Some("an-1"));
        assert_eq!(p.token_account(&[4u8; 32]).unwrap(), None);
        assert!(p.due(999, 10).unwrap().is_empty());
        let due: Vec<String> = p
            .due(2_000, 10)
            .unwrap()
            .into_iter()
            .map(|n| n.key)
            .collect();
        assert_eq!(due, ["7/GB", "7/FR"]);
        p.failed("7/GB", "connection refused", 3_000).unwrap();
        p.delivered("7/FR", 2_100).unwrap();
        assert!(p.due(2_999, 10).unwrap().is_empty());
        let all = p.notifications(7).unwrap();
        assert_eq!(all[0].key, "7/FR");
        assert_eq!((all[0].attempts, all[0].delivered_at_ms), (1, Some(2_100)));
        assert_eq!(all[1].attempts, 1);
        assert_eq!(all[1].last_error.as_deref(), Some("connection refused"));
        assert_eq!(p.due(3_000, 10).unwrap().len(), 1);
    }
}
