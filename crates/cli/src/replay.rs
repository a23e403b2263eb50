//! `truce replay`: recompute every event and finding from the log alone, and print a digest
//! that any party can compare with anyone else's.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;
use sha2::{Digest, Sha256};
use truce_agreement::Agreement;
use truce_fusion::{FusedEvent, FusionConfig, Logged, fuse};
use truce_model::{Entry, EntryKind, Finding, SensorRegistration};

use crate::fusion::decode_envelope;

#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// The log's base URL.
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

/// What a replay computes.
#[derive(Debug)]
pub struct Replayed {
    pub sensors: usize,
    pub observations: usize,
    pub events: Vec<FusedEvent>,
    pub findings: Vec<Finding>,
    /// SHA-256 of the events and findings as NDJSON (see [`digest`]).
    pub digest: String,
}

/// The registry and the observations of a log, from its entries in order. A sensor's
/// latest registration stands for it.
pub fn inputs(entries: &[Vec<u8>]) -> anyhow::Result<(Vec<SensorRegistration>, Vec<Logged>)> {
    #[derive(serde::Deserialize)]
    struct Registered {
        sensor: SensorRegistration,
    }
    let mut registry: BTreeMap<String, SensorRegistration> = BTreeMap::new();
    let mut observations = Vec::new();
    for (index, data) in entries.iter().enumerate() {
        let entry = Entry::decode(data).map_err(|e| anyhow::anyhow!("entry {index}: {e}"))?;
        match entry.kind {
            EntryKind::Observation => observations.push(Logged {
                index: index as u64,
                observation: decode_envelope(entry.body)
                    .with_context(|| format!("entry {index}"))?,
            }),
            EntryKind::SensorRegistration => {
                let r: Registered = serde_json::from_slice(entry.body)
                    .with_context(|| format!("entry {index}: registration"))?;
                registry.insert(r.sensor.id.clone(), r.sensor);
            }
            _ => {}
        }
    }
    Ok((registry.into_values().collect(), observations))
}

/// SHA-256 over `truce.replay.v1`, then each event's JSON on its own line, a line `--`, and
/// each finding's JSON on its own line.
pub fn digest(events: &[FusedEvent], findings: &[Finding]) -> anyhow::Result<String> {
    let mut h = Sha256::new();
    h.update(b"truce.replay.v1\n");
    for e in events {
        h.update(serde_json::to_vec(e)?);
        h.update(b"\n");
    }
    h.update(b"--\n");
    for f in findings {
        h.update(serde_json::to_vec(f)?);
        h.update(b"\n");
    }
    Ok(hex::encode(h.finalize()))
}

/// Fusion and the rules over a log's entries.
pub fn replay(entries: &[Vec<u8>], agreement: &Agreement) -> anyhow::Result<Replayed> {
    let (registry, observations) = inputs(entries)?;
    let events = fuse(&registry, &observations, &FusionConfig::default());
    let plain: Vec<_> = events.iter().map(|e| e.event.clone()).collect();
    let findings = truce_rules::evaluate_all(agreement, &plain)?;
    let digest = digest(&events, &findings)?;
    Ok(Replayed {
        sensors: registry.len(),
        observations: observations.len(),
        events,
        findings,
        digest,
    })
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
    let replayed = tokio::task::spawn_blocking(move || replay(&entries, &agreement)).await??;
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
        "{} events, {} findings; digest {}",
        replayed.events.len(),
        replayed.findings.len(),
        replayed.digest
    );
    Ok(())
}
