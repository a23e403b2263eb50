//! `truce demo`: the whole ledger in one command (until the simulator and dashboard exist):
//! start a server, register the sample sensors, submit the sample batch through the real
//! ingest API, wait for a checkpoint, and audit the log as an outsider would.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;
use reqwest::Method;
use truce_model::Timestamp;
use truce_server::{ServerConfig, SystemClock};

use crate::client::Client;
use crate::submit::Tally;

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Data directory (default: a fresh temporary directory, removed at the end).
    #[arg(long)]
    data: Option<PathBuf>,
    /// Address to listen on (default: a free loopback port).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Seed of the sample data.
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Leave the server running until Ctrl-C.
    #[arg(long)]
    keep: bool,
}

pub async fn run(args: DemoArgs) -> anyhow::Result<()> {
    let temp = tempfile::tempdir()?;
    let data = args
        .data
        .clone()
        .unwrap_or_else(|| temp.path().to_path_buf());
    let config = ServerConfig {
        data: data.clone(),
        listen: args.listen,
        checkpoint_interval_ms: 200,
        ..ServerConfig::default()
    };
    let server = truce_server::start(config, Arc::new(SystemClock)).await?;
    let url = format!("http://{}", server.addr);
    println!("truce demo: log at {url} (data in {})", data.display());
    println!("log verifier key: {}", server.vkey);

    let client = Client::new(&url)?;
    let sensors = crate::sample::sensors(args.seed);
    for sensor in &sensors {
        let body = serde_json::to_vec(&sensor.registration())?;
        client
            .admin(Method::POST, "/v1/sensors", body, &server.admin_token)
            .await
            .with_context(|| format!("registering {}", sensor.id))?;
    }
    println!("registered {} sensors of {} operators", sensors.len(), {
        let mut ops: Vec<_> = sensors.iter().map(|s| s.operator).collect();
        ops.sort();
        ops.dedup();
        ops.len()
    });

    let start = Timestamp::parse("2026-01-07T03:00:00Z")?;
    let envelopes = crate::sample::observations(args.seed, &sensors, start);
    let mut tally = Tally::default();
    for chunk in envelopes.chunks(50) {
        tally.add(&client.submit(chunk).await?, 0, false);
    }
    // Sending the same batch again changes nothing: each answer is the original index.
    let mut again = Tally::default();
    again.add(&client.submit(&envelopes).await?, 0, true);
    println!(
        "submitted {} signed observations: {} logged, {} rejected; re-sent: {} already logged, {} new",
        envelopes.len(),
        tally.accepted,
        tally.rejected,
        again.duplicates,
        again.accepted
    );

    let expected = sensors.len() as u64 + tally.accepted;
    let mut waited = 0;
    loop {
        let health = client.get_json("/healthz").await?;
        if health["checkpoint_size"].as_u64() == Some(expected) {
            break;
        }
        waited += 1;
        if waited > 100 {
            bail!("no checkpoint of size {expected} after 10 s: {health}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let state = data.join("auditor-state.json");
    let audit = crate::verify::audit(&url, &server.vkey, Some(&state), true, &[0, expected - 1])
        .await
        .context("the audit failed")?;
    println!("an auditor with only the verifier key checked:");
    for line in &audit.lines {
        println!("  {line}");
    }
    println!(
        "summary: {} entries ({} sensor registrations, {} observations), checkpoint verified, every tile recomputed",
        audit.checkpoint.size,
        sensors.len(),
        tally.accepted
    );
    if args.keep {
        println!("the server keeps running at {url}; press Ctrl-C to stop");
        tokio::signal::ctrl_c().await?;
    }
    server.shutdown().await?;
    Ok(())
}
