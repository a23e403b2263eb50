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
    let (checkpoint, entries, registry) =
        crate::verify::verified_entries(&args.log, &args.key).await?;
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
    println!("{registry}");
    println!(
        "{} events, {} findings; digest {}",
        replayed.events.len(),
        replayed.findings.len(),
        replayed.digest
    );
    Ok(())
}
