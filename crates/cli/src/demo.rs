//! `truce demo`: the mechanism in one command, on embedded defaults (the sample agreement
//! and the `sparse` scenario): start a server judging against the agreement, simulate an
//! hour of monitoring, register the sensors and submit their signed observations through
//! the real ingest API, read the events and findings the server computed, compare them with
//! the simulator's ground truth, audit the log as an outsider would, and replay the results
//! from the log alone to the same digest. (The dashboard comes with issue 6.)

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;
use reqwest::Method;
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

/// The sample agreement and the `sparse` scenario, embedded so that the demo needs no files.
const AGREEMENT: &str = include_str!("../../../examples/agreement/agreement.toml");
const AGREEMENT_FILES: [(&str, &str); 3] = [
    (
        "contact-line-2026-01-06.geojson",
        include_str!("../../../examples/agreement/contact-line-2026-01-06.geojson"),
    ),
    (
        "ukraine-border-ne50m.geojson",
        include_str!("../../../examples/agreement/ukraine-border-ne50m.geojson"),
    ),
    (
        "ru-adjacent.geojson",
        include_str!("../../../examples/agreement/ru-adjacent.geojson"),
    ),
];
const SCENARIO: &str = include_str!("../../../examples/scenarios/sparse.toml");
const GUARANTEES: &str = include_str!("../../../examples/guarantees/guarantees.toml");
const NETWORK: &str = include_str!("../../../examples/scenarios/donetsk-network.toml");

/// Writes the embedded agreement into `dir`; returns the agreement file's path.
fn write_agreement(dir: &std::path::Path) -> anyhow::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    for (name, text) in AGREEMENT_FILES {
        std::fs::write(dir.join(name), text)?;
    }
    let path = dir.join("agreement.toml");
    std::fs::write(&path, AGREEMENT)?;
    Ok(path)
}

/// Registers a simulation's sensors with the server.
pub async fn register(
    client: &Client,
    sensors: &[truce_sim::SimSensor],
    admin_token: &str,
) -> anyhow::Result<()> {
    for sensor in sensors {
        let body = serde_json::to_vec(&sensor.registration_json())?;
        client
            .admin(Method::POST, "/v1/sensors", body, admin_token)
            .await
            .with_context(|| format!("registering {}", sensor.id()))?;
    }
    Ok(())
}

pub async fn run(args: DemoArgs) -> anyhow::Result<()> {
    let temp = tempfile::tempdir()?;
    let data = args
        .data
        .clone()
        .unwrap_or_else(|| temp.path().to_path_buf());
    let agreement_path = write_agreement(&data.join("agreement"))?;
    let agreement = truce_agreement::Agreement::load(&agreement_path)
        .map_err(|e| anyhow::anyhow!("the embedded agreement: {e}"))?;
    let guarantees_path = data.join("agreement").join("guarantees.toml");
    std::fs::write(&guarantees_path, GUARANTEES)?;
    let config = ServerConfig {
        data: data.clone(),
        listen: args.listen,
        checkpoint_interval_ms: 200,
        agreement: Some(agreement_path.clone()),
        guarantees: Some(guarantees_path),
        ..ServerConfig::default()
    };
    let server = truce_server::start(config, Arc::new(SystemClock)).await?;
    let url = format!("http://{}", server.addr);
    println!("truce demo: log at {url} (data in {})", data.display());
    println!("log verifier key: {}", server.vkey);
    println!(
        "agreement {}: contact line of {} positions, {} zones, {} protected sites, {} clauses",
        agreement.id,
        agreement.line.coords().len(),
        agreement.zones.len(),
        agreement.sites.len(),
        agreement.clauses.len()
    );

    // An hour of monitoring in the Donetsk sector, simulated with its ground truth.
    let scenario =
        truce_sim::Scenario::parse(SCENARIO, Some(("donetsk-network.toml", NETWORK)), agreement)
            .map_err(|e| anyhow::anyhow!("the embedded scenario: {e}"))?;
    let simulation = truce_sim::simulate(&scenario, args.seed);
    let client = Client::new(&url)?.with_token(&server.admin_token);
    register(&client, &simulation.sensors, &server.admin_token).await?;
    let mut operators: Vec<&str> = simulation
        .sensors
        .iter()
        .map(|s| s.registration.operator.as_str())
        .collect();
    operators.sort();
    operators.dedup();
    println!(
        "registered {} sensors of {} operators ({})",
        simulation.sensors.len(),
        operators.len(),
        operators.join(", ")
    );

    let envelopes = &simulation.observations;
    let progress = indicatif::ProgressBar::new(envelopes.len() as u64);
    let mut tally = Tally::default();
    for chunk in envelopes.chunks(200) {
        tally.add(&client.submit(chunk).await?, 0, false);
        progress.inc(chunk.len() as u64);
    }
    progress.finish_and_clear();
    // Sending a batch again changes nothing: each answer is the original index.
    let mut again = Tally::default();
    again.add(
        &client
            .submit(&envelopes[..200.min(envelopes.len())])
            .await?,
        0,
        true,
    );
    println!(
        "submitted {} signed observations (arrivals, drone sightings, weather, a satellite hotspot): {} logged, {} rejected; re-sent 200: {} already logged, {} new",
        envelopes.len(),
        tally.accepted,
        tally.rejected,
        again.duplicates,
        again.accepted
    );

    let expected = simulation.sensors.len() as u64 + tally.accepted;
    let mut waited = 0;
    let results = loop {
        let results = client.get_json("/v1/results").await?;
        if results["size"].as_u64() == Some(expected) && results["digest"].is_string() {
            break results;
        }
        waited += 1;
        if waited > 1200 {
            bail!("no results for size {expected} after 120 s: {results}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let events: Vec<truce_fusion::FusedEvent> =
        serde_json::from_value(client.get_json("/v1/events?limit=10000").await?["events"].clone())?;
    let findings = client.get_json("/v1/findings?limit=10000").await?;
    let mut by_type = std::collections::BTreeMap::new();
    for e in &events {
        *by_type.entry(e.event.kind.as_str()).or_insert(0) += 1;
    }
    println!("fusion: {} events {by_type:?}", events.len());
    let mut by_clause = std::collections::BTreeMap::new();
    for f in findings["findings"].as_array().into_iter().flatten() {
        let party = f["attribution"]["party"].as_str().unwrap_or("undetermined");
        let clause = f["clause"].as_str().unwrap_or("?");
        *by_clause
            .entry(format!("clause {clause} by {party}"))
            .or_insert(0) += 1;
    }
    println!("findings (candidates for review): {}", results["findings"]);
    for (k, n) in &by_clause {
        println!("  {k}: {n}");
    }
    let truth = crate::fusion::truth_of(&simulation)?;
    let agreement =
        truce_agreement::Agreement::load(&agreement_path).map_err(|e| anyhow::anyhow!("{e}"))?;
    let e = truce_fusion::eval::evaluate(&truth, &events, Some(&agreement), 6);
    println!(
        "against the simulator's ground truth: precision {:.3}, recall {:.3}, median location error {:.1} m ({:.2} x the Cramér–Rao bound), attribution {}/{} correct",
        e.precision,
        e.recall,
        e.error_median_m,
        e.crb_ratio_median,
        e.attribution_correct,
        e.attribution_eligible
    );

    commission(&client, &server.admin_token, &findings).await?;
    // The audit below checks the checkpoint that covers the Commission's entries too.
    for _ in 0..100 {
        let health = client.get_json("/healthz").await?;
        if health["checkpoint_size"] == health["log_size"] {
            break;
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
    // And recomputes the events and findings from the log alone.
    let (_, entries) = crate::verify::verified_entries(&url, &server.vkey).await?;
    let replayed =
        tokio::task::spawn_blocking(move || truce_pipeline::run(&entries, Some(&agreement)))
            .await??;
    let live = results["digest"].as_str().unwrap_or("");
    if replayed.digest != live {
        bail!(
            "the replayed results differ from the server's: {} vs {live}",
            replayed.digest
        );
    }
    println!(
        "replayed from the log: {} events, {} findings, digest {} (the server's own)",
        replayed.events.len(),
        replayed.findings.len(),
        replayed.digest
    );
    println!(
        "summary: {} entries ({} sensor registrations, {} observations, {} Commission actions), checkpoint verified, every tile recomputed, results reproduced",
        audit.checkpoint.size,
        simulation.sensors.len(),
        tally.accepted,
        audit.checkpoint.size - expected
    );
    if args.keep {
        println!("the server keeps running at {url}; press Ctrl-C to stop");
        tokio::signal::ctrl_c().await?;
    }
    server.shutdown().await?;
    Ok(())
}

/// The Commission's part of the demo, under the sample guarantees: a verification policy
/// (one operator and one modality suffice for the grave rule kinds, enough for a
/// demonstration, not for a real mission), the escalations it opens, and the day's
/// bulletin.
async fn commission(
    client: &Client,
    admin_token: &str,
    findings: &serde_json::Value,
) -> anyhow::Result<()> {
    let policy = serde_json::json!({"min_operators": 1, "min_modalities": 1,
        "rules": ["cross_line_fire", "protected_site_strike", "weapon_in_withdrawal_zone"]});
    let set = client
        .admin(
            Method::PUT,
            "/v1/policy",
            serde_json::to_vec(&policy)?,
            admin_token,
        )
        .await?;
    println!(
        "the Commission (sample guarantees, examples/guarantees/): a verification policy (log entry {}) verified {} finding(s)",
        set["log_index"], set["verified"]
    );
    let board = client
        .clone()
        .with_token(admin_token)
        .get_json("/v1/escalations")
        .await?;
    let escalations = board["escalations"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    println!("escalations: {}", escalations.len());
    for (index, e) in &escalations {
        let due: Vec<String> = board["deadlines"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|d| d["escalation"].as_u64() == index.parse().ok())
            .map(|d| {
                format!(
                    "{} by {}: {}",
                    d["action"].as_str().unwrap_or("?"),
                    d["due"].as_str().unwrap_or("?"),
                    d["status"].as_str().unwrap_or("?")
                )
            })
            .collect();
        println!(
            "  {} ({}): {}; {}",
            e["escalation"]["commitment"].as_str().unwrap_or("?"),
            e["escalation"]["guarantor"].as_str().unwrap_or("?"),
            e["escalation"]["kind"].as_str().unwrap_or("?"),
            due.join("; ")
        );
    }
    let day = findings["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|f| f["time"].as_str())
        .min()
        .and_then(|t| t.get(..10))
        .map(str::to_string);
    if let Some(day) = day {
        let published = client
            .admin(
                Method::POST,
                "/v1/bulletins",
                serde_json::to_vec(&serde_json::json!({"date": day}))?,
                admin_token,
            )
            .await?;
        println!(
            "daily bulletin of {day}: {} finding(s), signed in log entry {} (GET /v1/bulletins/{day}?format=html)",
            published["published"]["findings"], published["log_index"]
        );
    }
    Ok(())
}
