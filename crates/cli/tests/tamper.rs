//! Tampering with the stored log behind the server's back must be caught by `truce verify`.
//!
//! Each test builds a log of 601 entries (one registration and 600 observations: two full
//! 256-leaf tiles and a partial one), audits it once, then serves a copy of it and alters
//! the SQLite database behind the running server's back (an insider's edit), and audits
//! again. A server restarted on a store whose hashes no longer give its last checkpoint's
//! root refuses to start.

mod common;

use std::path::{Path, PathBuf};

use common::{Sensor, Server, http, verify};
use rusqlite::{Connection, params};
use truce_ledger::{decode_entry_bundle, encode_entry_bundle, leaf_hash};

/// Observations in each test log.
const OBSERVATIONS: u64 = 600;
/// Entries in each test log: the registration and the observations.
const SIZE: u64 = OBSERVATIONS + 1;

/// Builds the log in `dir`, audits it (recording `dir/../state.json`), and stops the server.
/// Returns the path of the vkey file.
async fn build_log(dir: &Path, state: &Path) -> PathBuf {
    let mut server = Server::start(dir, 50).await;
    let client = http();
    let sensor = Sensor::new("tamper-ac-01", 7);
    assert_eq!(server.register(&client, &sensor).await, 0);
    let acks = server
        .submit_all(&client, &sensor.envelopes(1..OBSERVATIONS + 1))
        .await;
    let indexes: Vec<u64> = acks.iter().map(|a| a.log_index).collect();
    assert_eq!(indexes, (1..SIZE).collect::<Vec<_>>());
    let (checkpoint, _) = server.wait_checkpoint(&client, SIZE).await;
    assert_eq!(checkpoint.size, SIZE);
    let vkey = dir.join("log.vkey");
    let state = state.to_str().unwrap();
    verify(&server.url, &vkey, &["--full", "--state", state])
        .await
        .assert_ok();
    server.kill().await;
    vkey
}

fn open_db(dir: &Path) -> Connection {
    let db = Connection::open(dir.join("log.sqlite")).expect("open log.sqlite");
    db.busy_timeout(std::time::Duration::from_secs(10)).unwrap();
    db
}

/// Entries per stored row (`truce_store::writer::CHUNK`).
const CHUNK: u64 = 32;

/// The stored row holding entry `idx`: (entries as a bundle slice, leaf hashes).
fn bundle(db: &Connection, idx: u64) -> (Vec<u8>, Vec<u8>) {
    db.query_row(
        "SELECT entries, leaves FROM bundles WHERE tile = ?1 AND chunk = ?2",
        [(idx / 256) as i64, (idx % 256 / CHUNK) as i64],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .expect("the bundle row exists")
}

fn entry(db: &Connection, idx: u64) -> Vec<u8> {
    let (entries, _) = bundle(db, idx);
    decode_entry_bundle(&entries).unwrap()[(idx % CHUNK) as usize].to_vec()
}

fn set_entry(db: &Connection, idx: u64, data: &[u8]) {
    let (entries, _) = bundle(db, idx);
    let mut list: Vec<&[u8]> = decode_entry_bundle(&entries).unwrap();
    list[(idx % CHUNK) as usize] = data;
    let n = db
        .execute(
            "UPDATE bundles SET entries = ?1 WHERE tile = ?2 AND chunk = ?3",
            params![
                encode_entry_bundle(list).unwrap(),
                (idx / 256) as i64,
                (idx % 256 / CHUNK) as i64
            ],
        )
        .unwrap();
    assert_eq!(n, 1, "entry {idx} updated");
}

/// Stored hashes: row 0 (leaf hashes) beside the entries, higher tile rows in `nodes`.
fn set_node(db: &Connection, height: u32, idx: u64, hash: &[u8]) {
    let n = if height == 0 {
        let (_, mut leaves) = bundle(db, idx);
        let at = (idx % CHUNK) as usize * 32;
        leaves[at..at + 32].copy_from_slice(hash);
        db.execute(
            "UPDATE bundles SET leaves = ?1 WHERE tile = ?2 AND chunk = ?3",
            params![leaves, (idx / 256) as i64, (idx % 256 / CHUNK) as i64],
        )
    } else {
        db.execute(
            "UPDATE nodes SET hash = ?1 WHERE height = ?2 AND idx = ?3",
            params![hash, height, idx as i64],
        )
    }
    .unwrap();
    assert_eq!(n, 1, "node ({height}, {idx}) updated");
}

fn node(db: &Connection, height: u32, idx: u64) -> Vec<u8> {
    if height == 0 {
        let (_, leaves) = bundle(db, idx);
        let at = (idx % CHUNK) as usize * 32;
        leaves[at..at + 32].to_vec()
    } else {
        db.query_row(
            "SELECT hash FROM nodes WHERE height = ?1 AND idx = ?2",
            params![height, idx as i64],
            |r| r.get(0),
        )
        .expect("the node exists")
    }
}

/// An observation entry with one payload detail changed: "launch" becomes "impact" (same
/// length) inside the base64 payload of its envelope.
fn forged(original: &[u8]) -> Vec<u8> {
    let text = std::str::from_utf8(original).expect("entries are UTF-8 here");
    let (header, body) = text.split_once('\n').expect("an entry header");
    let mut envelope: serde_json::Value = serde_json::from_str(body).expect("an envelope");
    let payload = truce_model::envelope::decode_base64(envelope["payload"].as_str().unwrap())
        .expect("base64 payload");
    let payload = String::from_utf8(payload)
        .unwrap()
        .replace("\"launch\"", "\"impact\"");
    envelope["payload"] = truce_model::envelope::encode_base64(payload.as_bytes()).into();
    let forged = format!("{header}\n{}", serde_json::to_string(&envelope).unwrap());
    assert_ne!(forged.as_bytes(), original, "the entry was changed");
    forged.into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn altered_entry_bytes_are_named_by_verify() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("log");
    let state = tmp.path().join("state.json");
    let vkey = build_log(&dir, &state).await;
    let server = Server::start(&dir, 50).await;
    {
        let db = open_db(&dir);
        let original = entry(&db, 300);
        set_entry(&db, 300, &forged(&original));
    }
    let state = state.to_str().unwrap();
    // The checkpoint itself is unchanged, so the state check alone passes...
    verify(&server.url, &vkey, &["--state", state])
        .await
        .assert_ok();
    // ...but the full audit finds the altered entry,
    verify(&server.url, &vkey, &["--full", "--state", state])
        .await
        .assert_fails_with("ENTRY 300");
    verify(&server.url, &vkey, &["--full"])
        .await
        .assert_fails_with("ENTRY 300");
    // and so does its inclusion proof, while its neighbours still prove.
    verify(&server.url, &vkey, &["--entry", "300"])
        .await
        .assert_fails_with("ENTRY 300");
    verify(&server.url, &vkey, &["--entry", "299", "--entry", "301"])
        .await
        .assert_ok();
    verify(&server.url, &vkey, &["--entry", "299", "--entry", "300"])
        .await
        .assert_fails_with("ENTRY 300");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn altered_stored_hashes_are_named_by_tile() {
    let tmp = tempfile::tempdir().unwrap();
    let base = tmp.path().join("log");
    let state = tmp.path().join("state.json");
    let vkey = build_log(&base, &state).await;

    // (1) A leaf hash in the first level-0 tile: entry 10 no longer matches it.
    let leaf = tmp.path().join("leaf");
    common::copy_dir(&base, &leaf);
    let mut server = Server::start(&leaf, 50).await;
    set_node(&open_db(&leaf), 0, 10, &[0xAB; 32]);
    let outcome = verify(&server.url, &vkey, &["--full"]).await;
    outcome.assert_fails_with("tile/0/000");
    outcome.assert_fails_with("ENTRY 10");
    server.kill().await;

    // (2) The level-1 hash of the first full level-0 tile (height 8, index 0).
    let interior = tmp.path().join("interior");
    common::copy_dir(&base, &interior);
    let mut server = Server::start(&interior, 50).await;
    set_node(&open_db(&interior), 8, 0, &[0xCD; 32]);
    let outcome = verify(&server.url, &vkey, &["--full"]).await;
    outcome.assert_fails_with("TILE tile/");
    outcome.assert_fails_with("tile/1/000");
    server.kill().await;
    // The server itself will not sign on top of such a store again.
    common::assert_serve_refuses(&interior, "does not match its own latest checkpoint").await;

    // (3) The level-1 hash of the second full level-0 tile (height 8, index 1).
    let second = tmp.path().join("second");
    common::copy_dir(&base, &second);
    let server = Server::start(&second, 50).await;
    {
        let db = open_db(&second);
        let mut hash = node(&db, 8, 1);
        hash[0] ^= 1;
        set_node(&db, 8, 1, &hash);
    }
    let outcome = verify(&server.url, &vkey, &["--full"]).await;
    outcome.assert_fails_with("TILE tile/");
    outcome.assert_fails_with("tile/0/001");
}

/// Rewriting an entry together with its leaf hash (so that the level-0 tile agrees) is still
/// caught: by the level-1 tile inside full tiles, and by the root on the right edge.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consistent_rewrites_of_entry_and_leaf_hash_are_caught() {
    let tmp = tempfile::tempdir().unwrap();
    let base = tmp.path().join("log");
    let state = tmp.path().join("state.json");
    let vkey = build_log(&base, &state).await;

    let rewrite = |dir: &Path, idx: u64| {
        let db = open_db(dir);
        let data = forged(&entry(&db, idx));
        set_entry(&db, idx, &data);
        set_node(&db, 0, idx, &leaf_hash(&data));
    };

    // Inside the second full tile: tile/1/000.p/2 no longer agrees with tile/0/001.
    let full = tmp.path().join("full");
    common::copy_dir(&base, &full);
    let mut server = Server::start(&full, 50).await;
    rewrite(&full, 300);
    let outcome = verify(&server.url, &vkey, &["--full"]).await;
    outcome.assert_fails_with("TILE tile/0/001");
    verify(&server.url, &vkey, &["--entry", "300"])
        .await
        .assert_fails_with("ENTRY 300");
    server.kill().await;

    // In the partial right-edge tile: only the recomputed root can tell.
    let edge = tmp.path().join("edge");
    common::copy_dir(&base, &edge);
    let mut server = Server::start(&edge, 50).await;
    rewrite(&edge, 600);
    let state = state.to_str().unwrap();
    verify(&server.url, &vkey, &["--full", "--state", state])
        .await
        .assert_fails_with("ROOT MISMATCH");
    verify(&server.url, &vkey, &["--entry", "600"])
        .await
        .assert_fails_with("ENTRY 600");
    server.kill().await;
    common::assert_serve_refuses(&edge, "does not match its own latest checkpoint").await;
}
