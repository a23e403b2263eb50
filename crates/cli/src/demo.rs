//! `truce demo`: the mechanism in one command, on embedded defaults (the sample agreement,
//! the sample guarantees and the `day` scenario): start a server judging against the
//! agreement and serving the dashboard, register the simulated sensors and the demo's
//! accounts, set a verification policy, stream a simulated day of signed observations
//! through the real ingest API at a compressed pace (so that the dashboard fills live; the
//! server runs on the day's clock, and a sensor's key is revoked in the afternoon), then
//! read the events and findings the server computed, compare them with the simulator's
//! ground truth, print the Commission's escalations, publish the day's bulletin
//! and check it against the findings, audit the log as an outsider would, and replay the
//! results from the log alone to the same digest.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;
use reqwest::Method;
use truce_model::Finding;
use truce_model::Timestamp;
use truce_server::{Clock, ServerConfig};

use crate::client::Client;
use crate::submit::Tally;

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Data directory, new or empty (default: a fresh temporary directory, removed at the
    /// end). The demo plays its day once: a directory holding a log already is refused.
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
    /// Minutes of wall time the simulated day is streamed in.
    #[arg(long, default_value_t = 10.0)]
    minutes: f64,
    /// Stream the day in one minute instead.
    #[arg(long)]
    fast: bool,
    /// Also serve Cursor-on-Target to TAK clients on this TCP address (ATAK, WinTAK,
    /// pytak: first line `truce-token <token>`, then the events and findings).
    #[arg(long)]
    cot_listen: Option<SocketAddr>,
}

/// An account of the demo: id, name, role, and the party or country it is bound to.
type DemoAccount = (
    &'static str,
    &'static str,
    &'static str,
    Option<(&'static str, &'static str)>,
);

/// The accounts the demo creates, one per role a person would use the dashboard as.
const ACCOUNTS: [DemoAccount; 5] = [
    ("analyst", "An Analyst", "analyst", None),
    ("auditor", "An Auditor", "auditor", None),
    ("commissioner", "A Commissioner", "commissioner", None),
    (
        "guarantor-us",
        "US Liaison Office",
        "guarantor",
        Some(("country", "US")),
    ),
    ("liaison-ua", "UA Liaison", "liaison", Some(("party", "UA"))),
];

/// The sample agreement and the `day` scenario, embedded so that the demo needs no files.
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
const SCENARIO: &str = include_str!("../../../examples/scenarios/day.toml");
const GUARANTEES: &str = include_str!("../../../examples/guarantees/guarantees.toml");
const NETWORK: &str = include_str!("../../../examples/scenarios/donetsk-network.toml");

/// A sensor whose key the demo revokes during the day: its operator reports the key
/// compromised, the administrator revokes it, and what the sensor signs after is refused.
struct Revocation {
    sensor: &'static str,
    /// Seconds after the start of the day.
    at_s: i64,
    reason: &'static str,
}

const REVOCATION: Revocation = Revocation {
    sensor: "ua-ac-005",
    at_s: 14 * 3600,
    reason: "its operator (UA) reports the array's signing key compromised",
};

/// The demo's clock: the simulated day's time, so that what the server dates (sensor
/// registrations, the Commission's actions, escalation deadlines and their lapses, a
/// revocation) falls in the day it judges, as it would in a real one. It reads the day's
/// start until the day streams, runs as fast as the day is compressed while it does, and
/// at the wall clock's pace from where the day ended.
struct DayClock(std::sync::Mutex<(std::time::Instant, Timestamp, f64)>);

impl DayClock {
    fn new(start: Timestamp) -> Self {
        Self(std::sync::Mutex::new((
            std::time::Instant::now(),
            start,
            0.0,
        )))
    }

    /// From now on, `speed` simulated seconds pass per second of wall time.
    fn set_speed(&self, speed: f64) {
        let now = self.now();
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = (std::time::Instant::now(), now, speed);
    }
}

impl Clock for DayClock {
    fn now(&self) -> Timestamp {
        let (since, at, speed) = *self.0.lock().unwrap_or_else(|p| p.into_inner());
        at.plus_nanos((since.elapsed().as_secs_f64() * speed * 1e9) as i64)
    }
}

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
    // The day's accounts, sensors and actions are made once; replaying the day into the
    // same log would date new actions before the ones it holds.
    if truce_store::database_path(&data).exists() {
        bail!(
            "{} holds a log already (an earlier demo's?): the demo plays its day into a new log; remove the directory or choose another with --data (`truce serve --data {}` serves what it holds)",
            data.display(),
            data.display()
        );
    }
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
        cot_listen: args.cot_listen,
        ..ServerConfig::default()
    };
    // A day of monitoring in the Donetsk sector, simulated with its ground truth; the
    // server lives on the day's clock.
    let scenario = truce_sim::Scenario::parse(
        SCENARIO,
        Some(("donetsk-network.toml", NETWORK)),
        truce_agreement::Agreement::load(&agreement_path)
            .map_err(|e| anyhow::anyhow!("the embedded agreement: {e}"))?,
    )
    .map_err(|e| anyhow::anyhow!("the embedded scenario: {e}"))?;
    let clock = Arc::new(DayClock::new(scenario.start));
    let server = truce_server::start(config, clock.clone()).await?;
    // Ctrl-C while the day streams stops the demo at once (what is logged stays in the
    // data directory); once it has finished (`--keep`), it stops the server gracefully.
    let finished = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (stop, mut stopped) = tokio::sync::watch::channel(false);
    tokio::spawn({
        let finished = finished.clone();
        async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                if !finished.load(std::sync::atomic::Ordering::SeqCst) {
                    eprintln!("truce demo: interrupted");
                    std::process::exit(130);
                }
                let _ = stop.send(true);
            }
        }
    });
    let url = format!("http://{}", server.addr);
    println!(
        "truce demo: the dashboard is at {url}/ (data in {})",
        data.display()
    );
    println!("log verifier key: {}", server.vkey);
    if let Some(addr) = args.cot_listen {
        println!(
            "TAK clients: Cursor-on-Target over TCP at {addr} (first line `truce-token <token>`, an account's token from {})",
            data.join("demo-accounts.json").display()
        );
    }
    println!(
        "agreement {}: contact line of {} positions, {} zones, {} protected sites, {} clauses",
        agreement.id,
        agreement.line.coords().len(),
        agreement.zones.len(),
        agreement.sites.len(),
        agreement.clauses.len()
    );

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
    let accounts = create_accounts(&client, &server.admin_token, &data).await?;
    let policy = set_policy(&client, &server.admin_token).await?;

    let minutes = if args.fast { 1.0 } else { args.minutes };
    let envelopes = &simulation.observations;
    println!(
        "streaming a simulated day ({} signed observations: arrivals, drone sightings, weather, a satellite hotspot, a utility's outage reports) in {minutes} minute(s); watch it at {url}/",
        envelopes.len()
    );
    let speed = 86_400.0 / (minutes.max(0.01) * 60.0);
    let tally = stream(
        &client,
        envelopes,
        &clock,
        speed,
        &REVOCATION,
        &server.admin_token,
    )
    .await?;
    // Sending a batch again changes nothing: each answer is the original index (also for
    // what the sensor whose key was revoked since had signed before).
    let mut again = Tally::default();
    again.add(
        &client
            .submit(&envelopes[..200.min(envelopes.len())])
            .await?,
        0,
        true,
    );
    let refused: Vec<String> = tally
        .problems
        .iter()
        .map(|(kind, n)| format!("{kind}: {n}"))
        .collect();
    println!(
        "submitted {} signed observations: {} logged, {} refused ({}); re-sent 200: {} already logged, {} refused, {} new",
        envelopes.len(),
        tally.accepted,
        tally.rejected,
        if refused.is_empty() {
            "none".to_string()
        } else {
            refused.join(", ")
        },
        again.duplicates,
        again.rejected,
        again.accepted
    );

    let expected = simulation.sensors.len() as u64 + tally.accepted;
    let waiting = spinner("fusion and the rules catch up with the log");
    let results = wait_for_results(&client, |size| size >= expected).await?;
    waiting.finish_and_clear();
    let events: Vec<truce_fusion::FusedEvent> =
        serde_json::from_value(client.get_json("/v1/events?limit=10000").await?["events"].clone())?;
    let findings = client.get_json("/v1/findings?limit=10000").await?;
    let mut by_type = BTreeMap::new();
    for e in &events {
        *by_type.entry(e.event.kind.as_str()).or_insert(0) += 1;
    }
    println!("fusion: {} events {by_type:?}", events.len());
    let mut by_clause = BTreeMap::new();
    let mut by_state = BTreeMap::new();
    for f in findings["findings"].as_array().into_iter().flatten() {
        let party = f["attribution"]["party"].as_str().unwrap_or("undetermined");
        let clause = f["clause"].as_str().unwrap_or("?");
        *by_clause
            .entry(format!("clause {clause} by {party}"))
            .or_insert(0) += 1;
        *by_state
            .entry(f["state"].as_str().unwrap_or("?").to_string())
            .or_insert(0) += 1;
    }
    println!("findings: {} {by_state:?}", results["findings"]);
    for (k, n) in &by_clause {
        println!("  {k}: {n}");
    }
    let truth = crate::fusion::truth_of(&simulation)?;
    let agreement =
        truce_agreement::Agreement::load(&agreement_path).map_err(|e| anyhow::anyhow!("{e}"))?;
    let e = truce_fusion::eval::evaluate(&truth, &events, Some(&agreement), 6);
    println!(
        "against the simulator's ground truth: precision {:.3}, recall {:.3}, median location error {:.1} m ({:.2} x the Cramér–Rao bound), locations attributed {}/{} correctly; responsibility: {} of {} named the party that fired, {} another party, {} undetermined",
        e.precision,
        e.recall,
        e.error_median_m,
        e.crb_ratio_median,
        e.attribution_correct,
        e.attribution_eligible,
        e.responsibility_correct,
        e.responsibility_eligible,
        e.responsibility_wrong,
        e.responsibility_undetermined
    );

    escalations(&client, &server.admin_token, policy).await?;
    let bulletin = bulletin(&client, &server.admin_token, &findings, &agreement).await?;
    // The audit below checks the checkpoint that covers the Commission's entries too.
    let size = client.get_json("/healthz").await?["log_size"]
        .as_u64()
        .unwrap_or(0);
    wait_for_results(&client, |s| s >= size).await?;
    wait_for_checkpoint(&client, size).await?;

    let state = data.join("auditor-state.json");
    let mut proved = vec![0, expected - 1];
    proved.extend(bulletin);
    let auditing = spinner("auditing the log: every tile fetched and the tree recomputed");
    let audit = crate::verify::audit(&url, &server.vkey, Some(&state), true, &proved)
        .await
        .context("the audit failed")?;
    auditing.finish_and_clear();
    println!("an auditor with only the verifier key checked:");
    for line in &audit.lines {
        println!("  {line}");
    }
    // And recomputes the events and findings from the log alone.
    let results = client.get_json("/v1/results").await?;
    let replaying = spinner("replaying the log: every event and finding recomputed");
    let (_, entries, _) = crate::verify::verified_entries(&url, &server.vkey).await?;
    let replayed =
        tokio::task::spawn_blocking(move || truce_pipeline::run(&entries, Some(&agreement)))
            .await??;
    replaying.finish_and_clear();
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
        "summary: {} observations, {} events, {} findings, {} entries in the log ({} sensor registrations, {} Commission actions); checkpoint verified, every tile recomputed, results reproduced; precision {:.3}, recall {:.3}, median location error {:.1} m",
        tally.accepted,
        events.len(),
        findings["total"],
        audit.checkpoint.size,
        simulation.sensors.len(),
        audit.checkpoint.size - expected,
        e.precision,
        e.recall,
        e.error_median_m
    );
    finished.store(true, std::sync::atomic::Ordering::SeqCst);
    if args.keep {
        println!("the server keeps running; the dashboard is at {url}/ — log in with a token:");
        for (id, role, token) in &accounts {
            println!("  {role:<13} {id:<14} {token}");
        }
        println!(
            "  (also in {}); press Ctrl-C to stop",
            data.join("demo-accounts.json").display()
        );
        stopped.wait_for(|stop| *stop).await?;
    }
    server.shutdown().await?;
    Ok(())
}

/// When an envelope's observation was made, in Unix nanoseconds.
fn observed_at(envelope: &[u8]) -> Option<i64> {
    let envelope: truce_model::envelope::Envelope = serde_json::from_slice(envelope).ok()?;
    let payload = truce_model::envelope::decode_base64(&envelope.payload).ok()?;
    let value: serde_json::Value = serde_json::from_slice(&payload).ok()?;
    let at = truce_model::Timestamp::parse(value["observed_at"].as_str()?).ok()?;
    Some(at.unix_nanos())
}

/// Submits the envelopes in order, each once the day's clock has passed the time it was
/// observed (the day runs `speed` times faster than the wall clock meanwhile), in batches
/// of what is due. When the clock reaches the revocation's time, everything observed before
/// it has been sent; then the administrator revokes the sensor's key, and the server refuses
/// what the sensor sends after.
async fn stream(
    client: &Client,
    envelopes: &[Vec<u8>],
    clock: &DayClock,
    speed: f64,
    revocation: &Revocation,
    admin_token: &str,
) -> anyhow::Result<Tally> {
    let start = clock.now().unix_nanos();
    let revoke_at = start + revocation.at_s * 1_000_000_000;
    let due: Vec<i64> = {
        let mut latest = start;
        envelopes
            .iter()
            .map(|e| {
                latest = latest.max(observed_at(e).unwrap_or(latest));
                latest
            })
            .collect()
    };
    let progress = indicatif::ProgressBar::new(envelopes.len() as u64).with_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} simulated {msg} [{bar:40}] {pos}/{len} observations ({elapsed})",
        )?
        .progress_chars("=> "),
    );
    clock.set_speed(speed);
    let mut revoke = Some(revoke_at);
    let mut tally = Tally::default();
    let mut next = 0;
    while next < envelopes.len() {
        let now = clock.now().unix_nanos();
        let cut = revoke.map_or(now, |at| now.min(at - 1));
        let mut end = next;
        while end < envelopes.len() && due[end] <= cut && end - next < 500 {
            end += 1;
        }
        if end > next {
            tally.add(&client.submit(&envelopes[next..end]).await?, next, true);
            progress.inc((end - next) as u64);
            let simulated = (due[end - 1] - start) as f64 / 1e9;
            progress.set_message(format!(
                "{:02}:{:02}",
                (simulated / 3600.0) as u32,
                (simulated / 60.0) as u32 % 60
            ));
            next = end;
            continue;
        }
        if let Some(at) = revoke.filter(|at| *at <= now) {
            let (sensor, reason) = (revocation.sensor, revocation.reason);
            let body = serde_json::json!({ "reason": reason });
            let revoked = client
                .admin(
                    Method::DELETE,
                    &format!("/v1/sensors/{sensor}"),
                    serde_json::to_vec(&body)?,
                    admin_token,
                )
                .await?;
            progress.suspend(|| {
                println!(
                    "{}: the key of sensor {sensor} is revoked: {reason} (log entry {}); what it signs is refused from now on",
                    Timestamp::from_unix_nanos(at),
                    revoked["log_index"]
                )
            });
            revoke = None;
            continue;
        }
        let target = revoke.map_or(due[next], |at| due[next].min(at));
        let wait = ((target - now) as f64 / 1e9 / speed).clamp(0.001, 0.5);
        tokio::time::sleep(Duration::from_secs_f64(wait)).await;
    }
    progress.finish_and_clear();
    clock.set_speed(1.0);
    Ok(tally)
}

/// Waits until the server's results cover a log size that `enough` accepts.
async fn wait_for_results(
    client: &Client,
    enough: impl Fn(u64) -> bool,
) -> anyhow::Result<serde_json::Value> {
    for _ in 0..3000 {
        let results = client.get_json("/v1/results").await?;
        if results["size"].as_u64().is_some_and(&enough) && results["digest"].is_string() {
            return Ok(results);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("the server's results did not catch up with the log in 300 s")
}

/// A spinner on standard error for a step without a count (hidden when standard error is
/// not a terminal).
fn spinner(message: &'static str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new_spinner().with_message(message);
    if let Ok(style) = indicatif::ProgressStyle::with_template("{spinner} {msg} ({elapsed})") {
        bar.set_style(style);
    }
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

/// Waits until the published checkpoint covers the first `size` entries (results follow
/// each commit; checkpoints follow at their own cadence).
async fn wait_for_checkpoint(client: &Client, size: u64) -> anyhow::Result<()> {
    for _ in 0..600 {
        let note = client.get_text("/checkpoint").await?;
        let published = note.lines().nth(1).and_then(|l| l.parse::<u64>().ok());
        if published.is_some_and(|s| s >= size) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("no checkpoint covered the log's {size} entries in 60 s")
}

/// Creates the demo's accounts; writes their tokens to `DATA/demo-accounts.json` (shown
/// once by the server, as for any account) and returns (id, role, token).
async fn create_accounts(
    client: &Client,
    admin_token: &str,
    data: &std::path::Path,
) -> anyhow::Result<Vec<(String, String, String)>> {
    let mut made = Vec::new();
    for (id, name, role, bound) in ACCOUNTS {
        let mut account = serde_json::json!({"id": id, "name": name, "role": role});
        if let Some((key, value)) = bound {
            account[key] = serde_json::json!(value);
        }
        let created = client
            .admin(
                Method::POST,
                "/v1/accounts",
                serde_json::to_vec(&account)?,
                admin_token,
            )
            .await?;
        let token = created["token"]
            .as_str()
            .context("the server gave no token")?;
        made.push((id.to_string(), role.to_string(), token.to_string()));
    }
    let file = data.join("demo-accounts.json");
    let listed: Vec<serde_json::Value> = made
        .iter()
        .map(|(id, role, token)| serde_json::json!({"id": id, "role": role, "token": token}))
        .collect();
    // Tokens: readable by their owner only.
    {
        use std::io::Write;
        #[cfg(unix)]
        use std::os::unix::fs::OpenOptionsExt;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        options.mode(0o600);
        options
            .open(&file)?
            .write_all(&serde_json::to_vec_pretty(&listed)?)?;
    }
    println!(
        "accounts for the dashboard: {} (tokens in {})",
        made.iter()
            .map(|(id, role, _)| format!("{id} ({role})"))
            .collect::<Vec<_>>()
            .join(", "),
        file.display()
    );
    Ok(made)
}

/// The Commission's verification policy for the demo: one operator and one modality
/// suffice for the grave rule kinds, enough for a demonstration, not for a real mission.
/// Findings under other clauses (cross-line fire among them) wait in the review queue.
/// Returns its log index.
async fn set_policy(client: &Client, admin_token: &str) -> anyhow::Result<u64> {
    let policy = serde_json::json!({"min_operators": 1, "min_modalities": 1,
        "rules": ["protected_site_strike", "weapon_in_withdrawal_zone"]});
    let set = client
        .admin(
            Method::PUT,
            "/v1/policy",
            serde_json::to_vec(&policy)?,
            admin_token,
        )
        .await?;
    let index = set["log_index"].as_u64().context("no log index")?;
    println!(
        "the Commission (sample guarantees, examples/guarantees/): a verification policy for protected-site strikes and weapons in withdrawal zones (log entry {index}); other findings wait for an analyst"
    );
    Ok(index)
}

/// Prints the escalations the verified findings opened, with their deadlines.
async fn escalations(client: &Client, admin_token: &str, policy: u64) -> anyhow::Result<()> {
    let board = client
        .clone()
        .with_token(admin_token)
        .get_json("/v1/escalations")
        .await?;
    let escalations = board["escalations"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    println!(
        "escalations opened under the guarantees (the policy of entry {policy} verified their findings): {}",
        escalations.len()
    );
    // By commitment: how many, and the status of each of their obligations.
    let name = |e: &serde_json::Value| {
        format!(
            "{} ({}, {})",
            e["escalation"]["commitment"].as_str().unwrap_or("?"),
            e["escalation"]["guarantor"].as_str().unwrap_or("?"),
            e["escalation"]["kind"].as_str().unwrap_or("?")
        )
    };
    let mut by_commitment: std::collections::BTreeMap<
        String,
        (usize, std::collections::BTreeMap<String, usize>),
    > = BTreeMap::new();
    for e in escalations.values() {
        by_commitment.entry(name(e)).or_default().0 += 1;
    }
    for d in board["deadlines"].as_array().into_iter().flatten() {
        let Some(e) = d["escalation"]
            .as_u64()
            .and_then(|i| escalations.get(&i.to_string()))
        else {
            continue;
        };
        let key = name(e);
        let status = format!(
            "{} {}",
            d["action"].as_str().unwrap_or("?"),
            d["status"].as_str().unwrap_or("?")
        );
        *by_commitment
            .entry(key)
            .or_default()
            .1
            .entry(status)
            .or_insert(0) += 1;
    }
    for (commitment, (n, statuses)) in &by_commitment {
        let statuses: Vec<String> = statuses.iter().map(|(s, k)| format!("{s}: {k}")).collect();
        println!("  {commitment}: {n}; {}", statuses.join(", "));
    }
    Ok(())
}

/// What a bulletin counts a finding under.
type Key<'a> = &'a dyn Fn(&Finding) -> String;

/// Publishes the bulletin of the day of the first finding and checks that it counts what
/// `GET /v1/findings` gives for that day, each breakdown (by area and party under the
/// `agreement`'s sectors too); returns the log index of its entry.
async fn bulletin(
    client: &Client,
    admin_token: &str,
    findings: &serde_json::Value,
    agreement: &truce_agreement::Agreement,
) -> anyhow::Result<Option<u64>> {
    let day = findings["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|f| f["time"].as_str())
        .min()
        .and_then(|t| t.get(..10))
        .map(str::to_string);
    let Some(day) = day else {
        return Ok(None);
    };
    let published = client
        .admin(
            Method::POST,
            "/v1/bulletins",
            serde_json::to_vec(&serde_json::json!({"date": day}))?,
            admin_token,
        )
        .await?;
    let next = chrono::NaiveDate::parse_from_str(&day, "%Y-%m-%d")?
        .succ_opt()
        .context("no next day")?;
    let of_day = client
        .get_json(&format!(
            "/v1/findings?from={day}T00:00:00Z&to={next}T00:00:00Z&limit=10000"
        ))
        .await?;
    let counted = &published["published"]["findings"];
    if counted != &of_day["total"] {
        bail!(
            "the bulletin of {day} counts {counted} findings, GET /v1/findings {}",
            of_day["total"]
        );
    }
    // Each breakdown too: by party, clause, kind of violation, type of event, side of the
    // line, and area (the sector of the line nearest to the event) with and without party.
    let document = client
        .get_json(&format!("/v1/bulletins/{day}?format=json"))
        .await?;
    let listed: Vec<Finding> = serde_json::from_value(of_day["findings"].clone())
        .context("the findings of GET /v1/findings")?;
    let party = truce_commission::bulletin::party;
    let area = |f: &Finding| truce_commission::bulletin::area(Some(agreement), f);
    let breakdowns: [(&str, Key); 6] = [
        ("by_party", &party),
        ("by_clause", &|f| f.clause.clone()),
        ("by_category", &|f| {
            truce_commission::bulletin::category(f).to_string()
        }),
        ("by_type", &|f| f.event_type.as_str().to_string()),
        ("by_side", &|f| {
            f.side.clone().unwrap_or_else(|| "none".into())
        }),
        ("by_sector", &area),
    ];
    let given = |name: &str| document[name].clone();
    for (name, key) in breakdowns {
        let mut expected: BTreeMap<String, u64> = BTreeMap::new();
        for f in &listed {
            *expected.entry(key(f)).or_default() += 1;
        }
        let given: BTreeMap<String, u64> = serde_json::from_value(given(name))
            .with_context(|| format!("the bulletin's {name}"))?;
        if given != expected {
            bail!("the bulletin of {day} counts {name} {given:?}, GET /v1/findings {expected:?}");
        }
    }
    let mut expected: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
    for f in &listed {
        *expected
            .entry(area(f))
            .or_default()
            .entry(party(f))
            .or_default() += 1;
    }
    let by_area: BTreeMap<String, BTreeMap<String, u64>> =
        serde_json::from_value(given("by_area")).context("the bulletin's by_area")?;
    let summed: u64 = by_area.values().flat_map(|p| p.values()).sum();
    if by_area != expected || Some(summed) != counted.as_u64() {
        bail!(
            "the bulletin of {day} counts by_area {by_area:?} ({summed} in all), GET /v1/findings {expected:?} ({counted})"
        );
    }
    let areas: Vec<String> = by_area
        .iter()
        .map(|(area, parties)| {
            let parties: Vec<String> = parties.iter().map(|(p, n)| format!("{p} {n}")).collect();
            format!("{area}: {}", parties.join(", "))
        })
        .collect();
    println!(
        "daily bulletin of {day}: {counted} finding(s), as GET /v1/findings gives for the day, by party, clause, kind, type, side and area alike (by area and party: {}); {} sensor(s) revoked, {} outage(s) reported, {} sensor(s) corrected or quarantined by fusion ({}); signed in log entry {} (GET /v1/bulletins/{day}?format=html)",
        areas.join("; "),
        document["revocations"].as_array().map_or(0, Vec::len),
        document["outages"].as_array().map_or(0, Vec::len),
        document["sensor_health"].as_array().map_or(0, Vec::len),
        document["sensor_health"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|h| format!(
                "{} {}",
                h["sensor"].as_str().unwrap_or(""),
                h["state"].as_str().unwrap_or("")
            ))
            .collect::<Vec<_>>()
            .join(", "),
        published["log_index"]
    );
    Ok(published["log_index"].as_u64())
}
