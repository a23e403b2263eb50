//! `truce submit`: sign observation payloads (or pass envelopes through) and submit them.

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::Value;
use truce_ledger::NoteSigner;
use truce_model::{Envelope, OBSERVATION_PAYLOAD_TYPE};

use crate::client::Client;

#[derive(Debug, Args)]
pub struct SubmitArgs {
    /// The sensor's private key (from `truce keygen`), to sign unsigned payloads.
    #[arg(long)]
    sensor_key: Option<PathBuf>,
    #[arg(long, env = "TRUCE_URL", default_value = "http://127.0.0.1:7878")]
    url: String,
    /// Items per request.
    #[arg(long, default_value_t = 1000)]
    batch: usize,
    /// NDJSON: one observation payload or one DSSE envelope per line.
    file: PathBuf,
}

/// A DSSE envelope of `payload` signed by `signer` with the sensor id as keyid.
pub fn envelope(signer: &NoteSigner, sensor: &str, payload: &[u8]) -> Vec<u8> {
    let envelope = Envelope::signed(OBSERVATION_PAYLOAD_TYPE, payload, sensor, |m| {
        signer.sign_bytes(m)
    });
    serde_json::to_vec(&envelope).unwrap_or_default()
}

/// Tallies of the server's answers.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Tally {
    pub accepted: u64,
    pub duplicates: u64,
    pub rejected: u64,
    /// The rejections by problem type.
    pub problems: std::collections::BTreeMap<String, u64>,
}

impl Tally {
    /// Adds one batch response; prints each problem, offset by `first` (the batch's first line).
    pub fn add(&mut self, response: &Value, first: usize, quiet: bool) {
        for item in response["results"].as_array().into_iter().flatten() {
            if let Some(problem) = item.get("problem") {
                self.rejected += 1;
                let kind = problem["type"].as_str().unwrap_or("?");
                *self
                    .problems
                    .entry(kind.rsplit([':', '/']).next().unwrap_or(kind).to_string())
                    .or_default() += 1;
                if !quiet {
                    let index = item["index"].as_u64().unwrap_or(0) as usize + first;
                    eprintln!(
                        "item {index}: {} {}",
                        problem["type"].as_str().unwrap_or("?"),
                        problem["detail"].as_str().unwrap_or("")
                    );
                }
            } else if item["duplicate"].as_bool() == Some(true) {
                self.duplicates += 1;
            } else {
                self.accepted += 1;
            }
        }
    }
}

pub async fn run(args: SubmitArgs) -> anyhow::Result<()> {
    let signer = args
        .sensor_key
        .as_deref()
        .map(crate::keys::read)
        .transpose()?;
    let text = std::fs::read_to_string(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    let mut envelopes = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let value: Value = serde_json::from_str(line)
            .with_context(|| format!("{} line {}: not JSON", args.file.display(), n + 1))?;
        if value.get("payloadType").is_some() {
            envelopes.push(line.as_bytes().to_vec());
            continue;
        }
        let Some(signer) = &signer else {
            bail!(
                "{} line {}: an unsigned payload needs --sensor-key",
                args.file.display(),
                n + 1
            );
        };
        let sensor = value["sensor"].as_str().unwrap_or(signer.name());
        envelopes.push(envelope(signer, sensor, line.as_bytes()));
    }
    let client = Client::new(&args.url)?;
    let bar = if std::io::stderr().is_terminal() && envelopes.len() > args.batch {
        ProgressBar::new(envelopes.len() as u64)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} observations ({per_sec}, {eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut tally = Tally::default();
    for (i, chunk) in envelopes.chunks(args.batch.max(1)).enumerate() {
        let response = client.submit(chunk).await?;
        tally.add(&response, i * args.batch.max(1), false);
        bar.inc(chunk.len() as u64);
    }
    bar.finish_and_clear();
    println!(
        "{} accepted, {} already logged, {} rejected",
        tally.accepted, tally.duplicates, tally.rejected
    );
    if tally.rejected > 0 {
        bail!("{} observations were rejected", tally.rejected);
    }
    Ok(())
}
