//! `truce replay`: recompute every event and finding from the log alone, and print a digest
//! that any party can compare with anyone else's.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;
use truce_agreement::Agreement;

#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// The log's base URL, or a directory mirroring it (as `truce verify --full --save DIR`
    /// writes: the checkpoint and the tiles).
    #[arg(long)]
    log: String,
    /// The log's verifier key (C2SP vkey text), or a file holding it.
    #[arg(long)]
    key: String,
    /// The agreement to judge the events against.
    #[arg(long)]
    agreement: PathBuf,
    /// Also write events.ndjson and findings.ndjson into this directory.
    #[arg(long)]
    out: Option<PathBuf>,
}

/// Checks the signature of every signed sensor registration and key revocation with the
/// log's key; how many are signed, and how many are of version 1 (not signed on their own).
fn check_sensor_entries(entries: &[Vec<u8>], log_key: [u8; 32]) -> anyhow::Result<(usize, usize)> {
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
            .map_err(|e| anyhow::anyhow!("entry {index} ({}): {e}", entry.kind))?;
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
            anyhow::bail!(
                "entry {index} ({}): NOT SIGNED BY THE LOG'S KEY (keyid {:?})",
                entry.kind,
                by.keyid
            );
        }
        signed += 1;
    }
    Ok((signed, unsigned))
}

fn write_ndjson<T: serde::Serialize>(path: &Path, items: &[T]) -> anyhow::Result<()> {
    let mut text = String::new();
    for item in items {
        text.push_str(&serde_json::to_string(item)?);
        text.push('\n');
    }
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}

pub async fn run(args: ReplayArgs) -> anyhow::Result<()> {
    let agreement = Agreement::load(&args.agreement).map_err(|e| anyhow::anyhow!("{e}"))?;
    let (checkpoint, entries) = crate::verify::verified_entries(&args.log, &args.key).await?;
    let log_key = truce_ledger::NoteVerifier::from_vkey(&crate::text_or_file(&args.key)?)
        .map_err(|e| anyhow::anyhow!("bad verifier key: {e}"))?
        .public_key();
    let (signed, unsigned) = check_sensor_entries(&entries, log_key)?;
    let replayed =
        tokio::task::spawn_blocking(move || truce_pipeline::run(&entries, Some(&agreement)))
            .await??;
    if let Some(dir) = &args.out {
        std::fs::create_dir_all(dir)?;
        write_ndjson(&dir.join("events.ndjson"), &replayed.events)?;
        write_ndjson(&dir.join("findings.ndjson"), &replayed.findings)?;
    }
    println!(
        "log {} at size {} (checkpoint verified, every entry checked against its root): {} sensors, {} observations",
        checkpoint.origin, checkpoint.size, replayed.sensors, replayed.observations
    );
    println!(
        "sensor registry: {signed} registrations and revocations signed by the log's key{}",
        if unsigned > 0 {
            format!(", {unsigned} of version 1 (logged before they were signed)")
        } else {
            String::new()
        }
    );
    println!(
        "{} events, {} findings; digest {}",
        replayed.events.len(),
        replayed.findings.len(),
        replayed.digest
    );
    Ok(())
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
        assert_eq!(check_sensor_entries(&good, log_key).unwrap(), (2, 1));
        for bad in [signed_by(&other, "truce"), signed_by(&log, "admin")] {
            let error = check_sensor_entries(&[v1.clone(), bad], log_key).unwrap_err();
            assert!(error.to_string().starts_with("entry 1 "), "{error}");
        }
    }
}
