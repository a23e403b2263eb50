//! `truce bench latency`: event latency through the live server. A scenario's signed
//! observations go through the real ingest API at a fixed rate while a follower reads the
//! server-sent-events stream; an event's latency is the time from the acknowledgement of
//! the last observation it rests on (its highest log index) to the moment the stream first
//! carries an event with its id (an id is derived from the observations it rests on, so
//! that moment is when the served event first had all of them).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::bail;
use truce_server::{ServerConfig, SystemClock};

use crate::client::Client;

#[derive(Debug, clap::Args)]
pub struct LatencyArgs {
    /// The scenario (TOML).
    #[arg(long, default_value = "examples/scenarios/barrage.toml")]
    scenario: PathBuf,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// The agreement the server judges against.
    #[arg(long, default_value = "examples/agreement/agreement.toml")]
    agreement: PathBuf,
    /// Observations per second.
    #[arg(long, default_value_t = 1000.0)]
    rate: f64,
    /// Observations per request.
    #[arg(long, default_value_t = 50)]
    batch: usize,
    /// The server's checkpoint interval, milliseconds.
    #[arg(long, default_value_t = 1000)]
    checkpoint_ms: u64,
    /// Print the results as JSON too.
    #[arg(long)]
    json: bool,
}

/// When the stream first carried each event id.
type Seen = Arc<Mutex<HashMap<String, Instant>>>;

impl LatencyArgs {
    /// The defaults, for a scenario and seed.
    pub fn new(scenario: PathBuf, seed: u64, agreement: PathBuf) -> Self {
        Self {
            scenario,
            seed,
            agreement,
            rate: 1000.0,
            batch: 50,
            checkpoint_ms: 1000,
            json: false,
        }
    }
}

pub async fn run(args: LatencyArgs) -> anyhow::Result<()> {
    let report = measure(&args).await?;
    let f = |key: &str| report[key].as_f64().unwrap_or(f64::NAN);
    println!(
        "{}: seed {}, {} sensors, {} observations ({} arrivals)",
        args.scenario.display(),
        args.seed,
        report["sensors"],
        report["observations"],
        report["arrivals"]
    );
    println!(
        "fed in {:.2} s: {:.0} observations/s ({:.0} arrivals/s; target {:.0}/s, at most {:.2} s behind the pace), batches of {}, checkpoints every {} ms, {} cores",
        f("fed_s"),
        f("observations_per_s"),
        f("arrivals_per_s"),
        args.rate,
        f("behind_s"),
        args.batch,
        args.checkpoint_ms,
        report["cores"]
    );
    println!(
        "results for the whole log {:.2} s after the first observation (digest {})",
        f("settled_s"),
        report["digest"].as_str().unwrap_or("?")
    );
    println!(
        "the log replayed from its tiles (as `truce replay` does): digest {} ({})",
        report["replay_digest"].as_str().unwrap_or("?"),
        if report["replay_matches"] == true {
            "the same"
        } else {
            "DIFFERENT"
        }
    );
    println!("{}", summary(&report));
    if args.json {
        println!("{report}");
    }
    Ok(())
}

/// The latency line of a report.
pub fn summary(report: &serde_json::Value) -> String {
    let f = |key: &str| report[key].as_f64().unwrap_or(f64::NAN);
    format!(
        "events {} ({} timed, {} never streamed); latency p50 {:.2} s, p90 {:.2} s, p99 {:.2} s, max {:.2} s",
        report["events"],
        report["timed"],
        report["unseen"],
        f("latency_p50_s"),
        f("latency_p90_s"),
        f("latency_p99_s"),
        f("latency_max_s")
    )
}

/// Starts a server, feeds it the scenario's observations at the pace asked and times each
/// event from the acknowledgement of its last observation to its first appearance on the
/// stream; returns the figures as JSON.
pub async fn measure(args: &LatencyArgs) -> anyhow::Result<serde_json::Value> {
    let scenario = truce_sim::Scenario::load(&args.scenario)
        .map_err(|e| anyhow::anyhow!("{}: {e}", args.scenario.display()))?;
    let simulation = truce_sim::simulate(&scenario, args.seed);
    let arrivals = simulation
        .kinds
        .iter()
        .filter(|k| k.ends_with(".arrival"))
        .count();
    let data = tempfile::tempdir()?;
    let config = ServerConfig {
        data: data.path().to_path_buf(),
        listen: "127.0.0.1:0".parse()?,
        checkpoint_interval_ms: args.checkpoint_ms,
        agreement: Some(args.agreement.clone()),
        ..ServerConfig::default()
    };
    let server = truce_server::start(config, Arc::new(SystemClock)).await?;
    let url = format!("http://{}", server.addr);
    let client = Client::new(&url)?.with_token(&server.admin_token);
    crate::demo::register(&client, &simulation.sensors, &server.admin_token).await?;

    // Follow the stream from before the first observation.
    let seen: Seen = Arc::default();
    let mut stream = reqwest::Client::new()
        .get(format!("{url}/v1/stream"))
        .bearer_auth(&server.admin_token)
        .send()
        .await?;
    let follower = {
        let seen = seen.clone();
        tokio::spawn(async move {
            let mut buffer = String::new();
            while let Ok(Some(chunk)) = stream.chunk().await {
                let now = Instant::now();
                buffer.push_str(&String::from_utf8_lossy(&chunk));
                while let Some(end) = buffer.find("\n\n") {
                    let message: String = buffer.drain(..end + 2).collect();
                    if let Some(id) = streamed_event_id(&message) {
                        seen.lock().expect("not poisoned").entry(id).or_insert(now);
                    }
                }
            }
        })
    };

    // The load: batches at a fixed pace; each observation's acknowledgement time by index.
    let envelopes = &simulation.observations;
    let interval = Duration::from_secs_f64(args.batch as f64 / args.rate);
    let mut acked: HashMap<u64, Instant> = HashMap::with_capacity(envelopes.len());
    let started = Instant::now();
    let mut behind = Duration::ZERO;
    for (i, chunk) in envelopes.chunks(args.batch).enumerate() {
        let due = started + interval * i as u32;
        let now = Instant::now();
        if due > now {
            tokio::time::sleep(due - now).await;
        } else {
            behind = behind.max(now - due);
        }
        let response = client.submit(chunk).await?;
        let at = Instant::now();
        for item in response["results"].as_array().into_iter().flatten() {
            if let Some(index) = item["log_index"].as_u64() {
                acked.insert(index, at);
            }
        }
    }
    let fed = started.elapsed();
    let size = simulation.sensors.len() as u64 + acked.len() as u64;

    // Wait for the results of the whole log, then a little for the stream to deliver them.
    let deadline = Instant::now() + Duration::from_secs(600);
    let results = loop {
        let results = client.get_json("/v1/results").await?;
        if results["size"].as_u64() == Some(size) && results["digest"].is_string() {
            break results;
        }
        if Instant::now() > deadline {
            bail!("no results for size {size} after 600 s: {results}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let settled = started.elapsed();
    tokio::time::sleep(Duration::from_millis(500)).await;
    follower.abort();
    let replayed = replay_digest(&url, &server.vkey, &args.agreement, size).await?;
    let events: Vec<serde_json::Value> =
        serde_json::from_value(client.get_json("/v1/events?limit=10000").await?["events"].clone())?;

    let seen = seen.lock().expect("not poisoned").clone();
    let mut latencies = Vec::new();
    let mut unseen = 0;
    for e in &events {
        let id = e["id"].as_str().unwrap_or_default();
        let last = e["observations"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|i| i.as_u64())
            .filter_map(|i| acked.get(&i))
            .max();
        match (last, seen.get(id)) {
            (Some(last), Some(first)) => {
                latencies.push(first.saturating_duration_since(*last).as_secs_f64())
            }
            (Some(_), None) => unseen += 1,
            (None, _) => {}
        }
    }
    latencies.sort_by(f64::total_cmp);
    let quantile = |q: f64| -> f64 {
        if latencies.is_empty() {
            return f64::NAN;
        }
        let i = ((latencies.len() as f64 * q).ceil() as usize).clamp(1, latencies.len()) - 1;
        latencies[i]
    };
    let achieved = acked.len() as f64 / fed.as_secs_f64();
    let arrival_rate = arrivals as f64 / fed.as_secs_f64();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    Ok(serde_json::json!({
        "scenario": args.scenario.display().to_string(), "seed": args.seed,
        "sensors": simulation.sensors.len(),
        "observations": envelopes.len(), "arrivals": arrivals,
        "fed_s": fed.as_secs_f64(), "observations_per_s": achieved,
        "arrivals_per_s": arrival_rate, "target_per_s": args.rate,
        "behind_s": behind.as_secs_f64(), "batch": args.batch,
        "checkpoint_ms": args.checkpoint_ms, "cores": cores,
        "settled_s": settled.as_secs_f64(), "digest": results["digest"],
        "replay_digest": replayed,
        "replay_matches": results["digest"].as_str() == Some(replayed.as_str()),
        "events": events.len(), "timed": latencies.len(), "unseen": unseen,
        "latency_p50_s": quantile(0.5), "latency_p90_s": quantile(0.9),
        "latency_p99_s": quantile(0.99), "latency_max_s": quantile(1.0),
    }))
}

/// The digest `truce replay` prints for the log at `url` once a checkpoint covers `size`
/// entries: the log's tiles verified against its signed checkpoint, every entry fused and
/// judged again.
async fn replay_digest(
    url: &str,
    vkey: &str,
    agreement: &std::path::Path,
    size: u64,
) -> anyhow::Result<String> {
    let agreement =
        truce_agreement::Agreement::load(agreement).map_err(|e| anyhow::anyhow!("{e}"))?;
    let deadline = Instant::now() + Duration::from_secs(60);
    let entries = loop {
        let (checkpoint, entries, _) = crate::verify::verified_entries(url, vkey).await?;
        if checkpoint.size >= size {
            break entries;
        }
        if Instant::now() > deadline {
            bail!("no checkpoint of size {size} after 60 s");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let replayed =
        tokio::task::spawn_blocking(move || truce_pipeline::run(&entries, Some(&agreement)))
            .await??;
    Ok(replayed.digest)
}

/// The id of the event an SSE message carries, if it is an `event` message.
fn streamed_event_id(message: &str) -> Option<String> {
    let mut name = None;
    let mut data = String::new();
    for line in message.lines() {
        if let Some(v) = line.strip_prefix("event:") {
            name = Some(v.trim());
        } else if let Some(v) = line.strip_prefix("data:") {
            data.push_str(v.strip_prefix(' ').unwrap_or(v));
        }
    }
    if name != Some("event") {
        return None;
    }
    let value: serde_json::Value = serde_json::from_str(&data).ok()?;
    value["id"].as_str().map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_message_gives_its_id() {
        assert_eq!(
            streamed_event_id("event: event\ndata: {\"id\":\"ev-1\",\"kind\":\"launch\"}\n\n"),
            Some("ev-1".to_string())
        );
        assert_eq!(
            streamed_event_id("event: finding\ndata: {\"id\":\"f-1\"}\n\n"),
            None
        );
        assert_eq!(streamed_event_id("event: event\ndata: not json\n\n"), None);
    }
}
