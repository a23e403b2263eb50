//! `truce verify`: an auditor's check of a truce log, trusting nothing but the pinned key.
//!
//! 1. The checkpoint must carry a valid signature by the pinned key.
//! 2. It must be consistent with the last checkpoint this auditor saw (kept in the state
//!    file): same size means same root; a larger size needs a valid consistency proof.
//!    Anything else is a fork.
//! 3. With `--full`, every hash tile and entry bundle is fetched, every entry's leaf hash is
//!    checked against the level-0 tiles, and the tree is recomputed up to the root; every
//!    sensor registration and key revocation of version 2 must be signed by the log's key.
//! 4. Each `--entry N` is proved included in the checkpoint's tree.

use std::collections::HashMap;
use std::path::PathBuf;

use anyhow::{Context, anyhow, bail};
use clap::Args;
use serde::{Deserialize, Serialize};
use tokio::task::JoinSet;
use truce_ledger::{
    Checkpoint, Hash, NoteVerifier, TileAuditError, TileKind, TilePath, decode_entry_bundle,
    leaf_hash, recompute_root_from_tiles, tiles_for_size, verify_consistency, verify_inclusion,
};
use truce_model::envelope::{decode_base64, encode_base64};

use crate::client::Client;

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The log's base URL, or a directory mirroring it (`--save` writes one; `--entry`
    /// needs the URL, `--full` checks every entry either way).
    #[arg(long)]
    log: String,
    /// The log's verifier key (C2SP vkey text), or a file holding it.
    #[arg(long)]
    key: String,
    /// Where to keep the last checkpoint seen, to prove the log only grows.
    #[arg(long)]
    state: Option<PathBuf>,
    /// Recompute the whole tree from the tiles and check every entry.
    #[arg(long)]
    full: bool,
    /// Prove that this entry is in the log (repeatable).
    #[arg(long = "entry")]
    entries: Vec<u64>,
    /// With `--full`: write the checkpoint and every tile checked into this directory, a
    /// mirror of the log that `--log DIR` (here and in `truce replay`) reads.
    #[arg(long, requires = "full")]
    save: Option<PathBuf>,
}

/// What the auditor remembers between runs.
#[derive(Debug, Serialize, Deserialize)]
struct AuditState {
    origin: String,
    size: u64,
    root: String,
    checkpoint: String,
}

/// The outcome of an audit.
#[derive(Debug)]
pub struct Audit {
    pub checkpoint: Checkpoint,
    /// The checkpoint's signed note, as served.
    pub note: String,
    pub lines: Vec<String>,
}

pub async fn run(args: VerifyArgs) -> anyhow::Result<()> {
    let audit = audit(
        &args.log,
        &args.key,
        args.state.as_ref(),
        args.full,
        &args.entries,
    )
    .await?;
    if let Some(dir) = &args.save {
        let saved = save_mirror(&args.log, &audit, dir).await?;
        println!(
            "mirror: the checkpoint and {saved} tiles written to {}",
            dir.display()
        );
    }
    for line in &audit.lines {
        println!("{line}");
    }
    println!(
        "OK: log {} at size {} verified",
        audit.checkpoint.origin, audit.checkpoint.size
    );
    Ok(())
}

/// Writes the audited checkpoint and the tiles of its tree into `dir`, then audits the
/// mirror as written (every entry against its leaf hash, the tree against the audited
/// root); how many tiles.
async fn save_mirror(log: &str, audit: &Audit, dir: &std::path::Path) -> anyhow::Result<usize> {
    let tiles = tiles_for_size(audit.checkpoint.size);
    let fetched = fetch_tiles(&Client::new(log)?, tiles.clone()).await?;
    for tile in &tiles {
        let name = tile.to_string();
        let bytes = fetched
            .get(&name)
            .cloned()
            .flatten()
            .ok_or_else(|| anyhow!("TILE {name}: missing (404)"))?;
        let path = dir.join(&name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&path, bytes).with_context(|| format!("writing {}", path.display()))?;
    }
    std::fs::write(dir.join("checkpoint"), &audit.note)?;
    let mirror = Client::new(&dir.display().to_string())?;
    check_all_tiles(&mirror, &audit.checkpoint)
        .await
        .map_err(|e| anyhow!("the mirror in {} does not verify: {e}", dir.display()))?;
    Ok(tiles.len())
}

/// Runs every requested check; an error names what failed.
pub async fn audit(
    log: &str,
    key: &str,
    state: Option<&PathBuf>,
    full: bool,
    entries: &[u64],
) -> anyhow::Result<Audit> {
    let (client, verifier, checkpoint, note) = signed_checkpoint(log, key).await?;
    if checkpoint.origin != verifier.name() {
        bail!(
            "BAD CHECKPOINT: origin {:?} is not the key's name {:?}",
            checkpoint.origin,
            verifier.name()
        );
    }
    let mut lines = vec![format!(
        "checkpoint: size {} root {} signed by {}",
        checkpoint.size,
        encode_base64(&checkpoint.root),
        verifier.name()
    )];
    if let Some(path) = state {
        lines.push(check_against_state(&client, &checkpoint, path).await?);
    }
    if full {
        let (tiles, entries) = check_all_tiles(&client, &checkpoint).await?;
        lines.push(tiles);
        lines.push(check_registry(&entries, verifier.public_key())?);
    }
    for index in entries {
        lines.push(check_inclusion(&client, &checkpoint, *index).await?);
    }
    if let Some(path) = state {
        let saved = AuditState {
            origin: checkpoint.origin.clone(),
            size: checkpoint.size,
            root: encode_base64(&checkpoint.root),
            checkpoint: note.clone(),
        };
        // Write beside, then rename: a crash never leaves a half-written state file.
        let temporary = path.with_extension("tmp");
        std::fs::write(&temporary, serde_json::to_string_pretty(&saved)?)
            .and_then(|()| std::fs::rename(&temporary, path))
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(Audit {
        checkpoint,
        note,
        lines,
    })
}

fn decode_hash(text: &str) -> anyhow::Result<Hash> {
    let bytes = decode_base64(text).context("hash is not base64")?;
    <Hash>::try_from(bytes.as_slice()).map_err(|_| anyhow!("hash is not 32 bytes"))
}

/// Fetches a proof from the log and decodes its hashes.
async fn fetch_proof(client: &Client, path: &str) -> anyhow::Result<Vec<Hash>> {
    let proof = client.get_json(path).await?;
    proof["proof"]
        .as_array()
        .with_context(|| format!("{path}: the answer has no proof"))?
        .iter()
        .map(|h| decode_hash(h.as_str().context("hash is not a string")?))
        .collect()
}

async fn check_against_state(
    client: &Client,
    checkpoint: &Checkpoint,
    path: &PathBuf,
) -> anyhow::Result<String> {
    if !path.exists() {
        return Ok(format!(
            "state: first visit, remembering size {}",
            checkpoint.size
        ));
    }
    let state: AuditState = serde_json::from_str(&std::fs::read_to_string(path)?)
        .with_context(|| format!("{} is not an audit state file", path.display()))?;
    if state.origin != checkpoint.origin {
        bail!(
            "state file is for log {:?}, not {:?}",
            state.origin,
            checkpoint.origin
        );
    }
    let old_root = decode_hash(&state.root)?;
    if checkpoint.size < state.size {
        bail!(
            "FORK: the log shrank from size {} (seen before) to {}",
            state.size,
            checkpoint.size
        );
    }
    if checkpoint.size == state.size {
        if checkpoint.root != old_root {
            bail!(
                "FORK: two validly signed checkpoints for size {} with different roots ({} seen before, {} now)",
                state.size,
                state.root,
                encode_base64(&checkpoint.root)
            );
        }
        return Ok(format!("state: unchanged at size {}", state.size));
    }
    let hashes = fetch_proof(
        client,
        &format!(
            "/v1/proof/consistency?from={}&to={}",
            state.size, checkpoint.size
        ),
    )
    .await?;
    verify_consistency(
        state.size,
        checkpoint.size,
        &old_root,
        &checkpoint.root,
        &hashes,
    )
    .map_err(|e| {
        anyhow!(
            "FORK: checkpoint of size {} is not consistent with the size {} seen before: {e}",
            checkpoint.size,
            state.size
        )
    })?;
    Ok(format!(
        "consistency: size {} extends size {} seen before",
        checkpoint.size, state.size
    ))
}

/// Fetches every tile of the tree, a few at a time.
async fn fetch_tiles(
    client: &Client,
    tiles: Vec<TilePath>,
) -> anyhow::Result<HashMap<String, Option<Vec<u8>>>> {
    let mut fetched = HashMap::new();
    let mut tasks = JoinSet::new();
    let mut queue = tiles.into_iter();
    loop {
        while tasks.len() < 16 {
            let Some(tile) = queue.next() else { break };
            let client = client.clone();
            tasks.spawn(async move {
                let name = tile.to_string();
                let bytes = client.get_bytes(&name).await;
                (name, bytes)
            });
        }
        let Some(done) = tasks.join_next().await else {
            break;
        };
        let (name, bytes) = done?;
        fetched.insert(name, bytes?);
    }
    Ok(fetched)
}

/// The log's entries up to its signed checkpoint, each checked against the checkpoint's
/// root, and the registry's signatures (the line [`check_registry`] writes): what a
/// replay may trust.
pub async fn verified_entries(
    log: &str,
    key: &str,
) -> anyhow::Result<(Checkpoint, Vec<Vec<u8>>, String)> {
    let (client, verifier, checkpoint, _) = signed_checkpoint(log, key).await?;
    let (_, entries) = check_all_tiles(&client, &checkpoint).await?;
    let registry = check_registry(&entries, verifier.public_key())?;
    Ok((checkpoint, entries, registry))
}

/// Checks the signature of every signed sensor registration and key revocation with the
/// log's key; a line saying how many are signed, and how many are of version 1 (logged
/// before they were signed on their own).
pub fn check_registry(entries: &[Vec<u8>], log_key: [u8; 32]) -> anyhow::Result<String> {
    let (mut signed, mut unsigned) = (0, 0);
    for (index, data) in entries.iter().enumerate() {
        let Ok(entry) = truce_model::Entry::decode(data) else {
            continue;
        };
        if entry.kind.sensor_payload_type().is_none() {
            continue;
        }
        let record = entry
            .sensor_record()
            .map_err(|e| anyhow!("ENTRY {index} ({}): {e}", entry.kind))?;
        let Some(by) = record.signed else {
            unsigned += 1;
            continue;
        };
        let check = truce_ingest::SignatureCheck {
            public_key: log_key,
            signature: by.signature,
            message: &by.message,
        };
        if by.keyid != truce_commission::roles::SYSTEM || !check.verify() {
            bail!(
                "ENTRY {index} ({}): NOT SIGNED BY THE LOG'S KEY (keyid {:?})",
                entry.kind,
                by.keyid
            );
        }
        signed += 1;
    }
    Ok(format!(
        "sensor registry: {signed} registrations and revocations signed by the log's key{}",
        if unsigned > 0 {
            format!(", {unsigned} of version 1 (logged before they were signed)")
        } else {
            String::new()
        }
    ))
}

/// The log's latest checkpoint, its signature checked with `key` (vkey text or a file).
async fn signed_checkpoint(
    log: &str,
    key: &str,
) -> anyhow::Result<(Client, NoteVerifier, Checkpoint, String)> {
    let vkey = crate::text_or_file(key)?;
    let verifier = NoteVerifier::from_vkey(&vkey).map_err(|e| anyhow!("bad verifier key: {e}"))?;
    let client = Client::new(log)?;
    let note = client.get_text("/checkpoint").await?;
    let checkpoint =
        Checkpoint::open(&note, &verifier).map_err(|e| anyhow!("BAD CHECKPOINT: {e}"))?;
    Ok((client, verifier, checkpoint, note))
}

/// Fetches every tile, checks each entry against its leaf hash and the tree against the
/// checkpoint's root; returns a summary line and the entries in log order.
async fn check_all_tiles(
    client: &Client,
    checkpoint: &Checkpoint,
) -> anyhow::Result<(String, Vec<Vec<u8>>)> {
    let mut all_entries = Vec::with_capacity(checkpoint.size as usize);
    let tiles = tiles_for_size(checkpoint.size);
    let count = tiles.len();
    let fetched = fetch_tiles(client, tiles.clone()).await?;
    let get = |tile: &TilePath| -> Result<Vec<u8>, String> {
        fetched
            .get(&tile.to_string())
            .cloned()
            .flatten()
            .ok_or_else(|| "missing (404)".to_string())
    };
    // Every entry must hash to the leaf hash in the level-0 tile.
    for tile in tiles.iter().filter(|t| t.kind == TileKind::Entries) {
        let bundle = get(tile).map_err(|e| anyhow!("TILE {tile}: {e}"))?;
        let entries = decode_entry_bundle(&bundle).map_err(|e| anyhow!("TILE {tile}: {e}"))?;
        if entries.len() != usize::from(tile.width) {
            bail!(
                "TILE {tile}: holds {} entries, expected {}",
                entries.len(),
                tile.width
            );
        }
        let hash_tile = TilePath {
            kind: TileKind::Hash { level: 0 },
            ..*tile
        };
        let hashes = get(&hash_tile).map_err(|e| anyhow!("TILE {hash_tile}: {e}"))?;
        for (i, entry) in entries.iter().enumerate() {
            let index = tile.index * 256 + i as u64;
            let stored = hashes.get(i * 32..i * 32 + 32);
            if stored != Some(&leaf_hash(entry)[..]) {
                bail!(
                    "ENTRY {index}: its bytes do not hash to the leaf hash in {hash_tile}: the entry or the tile was altered"
                );
            }
        }
        all_entries.extend(entries.into_iter().map(|e| e.to_vec()));
    }
    let root =
        recompute_root_from_tiles(checkpoint.size, |tile| get(tile)).map_err(|e| match e {
            TileAuditError::Fetch { tile, error } => anyhow!("TILE {tile}: {error}"),
            other => anyhow!("TILE {other}"),
        })?;
    if root != checkpoint.root {
        bail!(
            "ROOT MISMATCH: the tiles give root {} for size {}, the checkpoint says {}",
            encode_base64(&root),
            checkpoint.size,
            encode_base64(&checkpoint.root)
        );
    }
    Ok((
        format!(
            "full: {count} tiles fetched, {} entries and the root recomputed",
            checkpoint.size
        ),
        all_entries,
    ))
}

async fn check_inclusion(
    client: &Client,
    checkpoint: &Checkpoint,
    index: u64,
) -> anyhow::Result<String> {
    if index >= checkpoint.size {
        bail!(
            "ENTRY {index}: not in the checkpoint's tree of size {}",
            checkpoint.size
        );
    }
    let entry = client.get_json(&format!("/v1/entries/{index}")).await?;
    let data = decode_base64(entry["entry"].as_str().context("entry has no bytes")?)
        .context("entry bytes are not base64")?;
    let hashes = fetch_proof(
        client,
        &format!(
            "/v1/proof/inclusion?index={index}&tree_size={}",
            checkpoint.size
        ),
    )
    .await?;
    verify_inclusion(
        &leaf_hash(&data),
        index,
        checkpoint.size,
        &hashes,
        &checkpoint.root,
    )
    .map_err(|e| anyhow!("ENTRY {index}: not included in the checkpoint's tree: {e}"))?;
    Ok(format!(
        "inclusion: entry {index} ({}) is in the tree of size {}",
        entry["kind"].as_str().unwrap_or("unknown kind"),
        checkpoint.size
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_consensus::SigningKey;
    use truce_model::{Entry, EntryKind};

    #[test]
    fn sensor_entries_must_be_signed_by_the_logs_key() {
        let log = SigningKey::from([3; 32]);
        let other = SigningKey::from([4; 32]);
        let record = br#"{"sensor":{"id":"ua-ac-1"},"registered_at":"2026-01-07T00:00:00Z"}"#;
        let signed_by = |key: &SigningKey, keyid: &str| {
            Entry::signed_sensor_record(EntryKind::SensorRegistration, record, keyid, |m| {
                key.sign(m).to_bytes()
            })
            .unwrap()
            .unwrap()
        };
        let v1 = Entry::v1(EntryKind::SensorRegistration, record)
            .encode()
            .unwrap();
        let log_key = log.verification_key().to_bytes();
        let good = vec![
            v1.clone(),
            signed_by(&log, "truce"),
            signed_by(&log, "truce"),
        ];
        assert_eq!(
            check_registry(&good, log_key).unwrap(),
            "sensor registry: 2 registrations and revocations signed by the log's key, 1 of version 1 (logged before they were signed)"
        );
        for bad in [signed_by(&other, "truce"), signed_by(&log, "admin")] {
            let error = check_registry(&[v1.clone(), bad], log_key).unwrap_err();
            assert!(error.to_string().starts_with("ENTRY 1 "), "{error}");
        }
    }
}
