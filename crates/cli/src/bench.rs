//! `truce bench ingest`: the signature-verification limit and end-to-end ingest throughput,
//! measured in the same run on the same machine.

use std::net::TcpListener;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Subcommand;
use reqwest::Method;
use serde_json::json;
use truce_ingest::{SignatureCheck, verify_all};
use truce_model::{OBSERVATION_PAYLOAD_TYPE, Timestamp, pae};

use crate::client::Client;
use crate::sample::{Rng, SampleSensor};

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Verification rates (one core single and batch, two cores batch) and end-to-end
    /// accepted observations per second over HTTP with durable acknowledgement.
    Ingest {
        /// Seconds for each verification measurement.
        #[arg(long, default_value_t = 3.0)]
        verify_seconds: f64,
        /// Observations to pre-sign and submit end to end.
        #[arg(long, default_value_t = 200_000)]
        observations: usize,
        /// Concurrent HTTP clients.
        #[arg(long, default_value_t = 8)]
        clients: usize,
        /// Observations per request.
        #[arg(long, default_value_t = 1000)]
        batch: usize,
        /// Distinct sensors.
        #[arg(long, default_value_t = 200)]
        sensors: usize,
        /// Print the results as JSON too.
        #[arg(long)]
        json: bool,
    },
    /// Zone membership, distance to the contact line and attribution for many points
    /// against an agreement.
    Agreement {
        /// The agreement file.
        #[arg(default_value = "examples/agreement/agreement.toml")]
        file: std::path::PathBuf,
        /// Points to place.
        #[arg(long, default_value_t = 1_000_000)]
        points: usize,
        /// Seed of the points.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Location standard deviation for attribution, in metres.
        #[arg(long, default_value_t = 500.0)]
        sigma_m: f64,
        /// Print the results as JSON too.
        #[arg(long)]
        json: bool,
    },
    /// Simulate a scenario, fuse it and evaluate against its ground truth: precision,
    /// recall, F1, location error, error over the Cramér–Rao bound, attribution.
    Fusion {
        /// The scenario (TOML).
        #[arg(long, required_unless_present = "suite", conflicts_with = "suite")]
        scenario: Option<std::path::PathBuf>,
        /// Every scenario (`*.toml`) of a directory, one row each: F1, precision, recall,
        /// median error over the bound, the learned wind's error, faulty sensors flagged,
        /// p99 latency through the live server, whether replaying that server's log gives
        /// its digest, CPU per arrival (examples/scenarios/robust/).
        #[arg(long)]
        suite: Option<std::path::PathBuf>,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// The agreement, for attribution.
        #[arg(long, default_value = "examples/agreement/agreement.toml")]
        agreement: std::path::PathBuf,
        /// True events heard by fewer sensors do not count against recall.
        #[arg(long, default_value_t = 6)]
        min_heard: usize,
        /// Skip the end-to-end latency (a live server fed the scenario at 1,000
        /// observations per second, as `truce bench latency` does).
        #[arg(long)]
        no_latency: bool,
        /// Print the results as JSON too.
        #[arg(long)]
        json: bool,
        /// With --suite: run a peer on the same simulation of each scenario and add its
        /// F1, median error and CPU per pick to the row. `pyocto`: the PyOcto associator
        /// (tools/pyocto_peer.py), in a Python environment made on first use under the
        /// target directory (`$CARGO_TARGET_DIR/peers`, else `target/peers`; pip needs the
        /// package index that once).
        #[arg(long, value_enum, requires = "suite")]
        peer: Option<crate::bench_fusion::Peer>,
        /// Seconds the peer's association may take on one scenario (default 300); past
        /// them its cells say "no answer".
        #[arg(long, requires = "peer")]
        peer_time_limit: Option<u64>,
    },
    /// Event latency through the live server: a scenario's observations through the real
    /// ingest API at a fixed rate, events followed on the server-sent-events stream.
    Latency(crate::bench_latency::LatencyArgs),
    /// The storage limit alone: durable appends per second through the store's writer.
    Store {
        /// Entries to append.
        #[arg(long, default_value_t = 200_000)]
        entries: usize,
        /// Entries per durable commit.
        #[arg(long, default_value_t = 800)]
        batch: usize,
        /// Distinct sensors.
        #[arg(long, default_value_t = 200)]
        sensors: usize,
    },
}

pub async fn run(command: BenchCommand) -> anyhow::Result<()> {
    match command {
        BenchCommand::Ingest {
            verify_seconds,
            observations,
            clients,
            batch,
            sensors,
            json,
        } => ingest(verify_seconds, observations, clients, batch, sensors, json).await,
        BenchCommand::Agreement {
            file,
            points,
            seed,
            sigma_m,
            json,
        } => {
            tokio::task::spawn_blocking(move || {
                crate::bench_agreement::run(file, points, seed, sigma_m, json)
            })
            .await?
        }
        BenchCommand::Fusion {
            scenario: None,
            suite: Some(dir),
            seed,
            agreement,
            min_heard,
            no_latency,
            json,
            peer,
            peer_time_limit,
        } => {
            let peer = peer.map(|peer| crate::bench_fusion::PeerRun {
                peer,
                time_limit_s: peer_time_limit.unwrap_or(300),
            });
            let latency = !no_latency;
            crate::bench_fusion::suite(
                &dir,
                seed,
                &agreement,
                min_heard,
                latency,
                json,
                peer.as_ref(),
            )
            .await
        }
        BenchCommand::Fusion {
            scenario,
            seed,
            agreement,
            min_heard,
            no_latency,
            json,
            ..
        } => {
            let scenario = scenario.context("--scenario or --suite")?;
            let latency =
                crate::bench_latency::LatencyArgs::new(scenario.clone(), seed, agreement.clone());
            let mut report = tokio::task::spawn_blocking(move || {
                crate::bench_fusion::run(scenario, seed, agreement, min_heard)
            })
            .await??;
            if !no_latency {
                let measured = crate::bench_latency::measure(&latency).await?;
                println!(
                    "end to end through the live server (ingest of an event's last observation to the event on the stream, {:.0} observations/s): {}",
                    measured["observations_per_s"].as_f64().unwrap_or(f64::NAN),
                    crate::bench_latency::summary(&measured)
                );
                report["latency"] = measured;
            }
            if json {
                println!("{report}");
            }
            Ok(())
        }
        BenchCommand::Latency(args) => crate::bench_latency::run(args).await,
        BenchCommand::Store {
            entries,
            batch,
            sensors,
        } => tokio::task::spawn_blocking(move || store(entries, batch, sensors)).await?,
    }
}

/// Signed messages for the verification measurements.
fn signed_messages(network: &[SampleSensor], n: usize) -> Vec<([u8; 32], [u8; 64], Vec<u8>)> {
    (0..n)
        .map(|i| {
            let sensor = &network[i % network.len()];
            let payload = payload(sensor, i as u64 + 1);
            let message = pae(OBSERVATION_PAYLOAD_TYPE, &payload);
            (
                sensor.key.public_key(),
                sensor.key.sign_bytes(&message),
                message,
            )
        })
        .collect()
}

/// Verifications per second on `threads` threads, in batches of `batch` (1 = single).
fn verify_rate(
    messages: &[([u8; 32], [u8; 64], Vec<u8>)],
    batch: usize,
    threads: usize,
    seconds: f64,
) -> f64 {
    let done = AtomicU64::new(0);
    let started = Instant::now();
    std::thread::scope(|scope| {
        for t in 0..threads {
            let done = &done;
            scope.spawn(move || {
                let mut offset = t * batch;
                while started.elapsed().as_secs_f64() < seconds {
                    let chunk: Vec<SignatureCheck<'_>> = (0..batch)
                        .map(|i| {
                            let (k, s, m) = &messages[(offset + i) % messages.len()];
                            SignatureCheck {
                                public_key: *k,
                                signature: *s,
                                message: m,
                            }
                        })
                        .collect();
                    let ok = if batch == 1 {
                        vec![chunk[0].verify()]
                    } else {
                        verify_all(&chunk)
                    };
                    assert!(ok.iter().all(|v| *v), "benchmark signatures must verify");
                    done.fetch_add(batch as u64, Ordering::Relaxed);
                    offset += batch * threads;
                }
            });
        }
    });
    done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
}

fn network(n: usize) -> Vec<SampleSensor> {
    let base = crate::sample::sensors(1);
    let mut rng = Rng::new(99);
    (0..n)
        .map(|i| {
            let id = format!("bench-ac-{i:04}");
            let mut seed = [0u8; 32];
            seed[..8].copy_from_slice(&(i as u64).to_be_bytes());
            seed[8..16].copy_from_slice(&rng.next_u64().to_be_bytes());
            SampleSensor {
                key: truce_ledger::NoteSigner::new(&id, seed)
                    .unwrap_or_else(|_| unreachable!("valid id")),
                id,
                operator: ["UA", "FR", "US", "GB"][i % 4],
                position: base[i % 6].position,
            }
        })
        .collect()
}

/// A realistic acoustic arrival payload.
fn payload(sensor: &SampleSensor, seq: u64) -> Vec<u8> {
    let at = Timestamp::parse("2026-01-07T03:00:00Z")
        .map(|t| t.plus_nanos(seq as i64 * 7_919_000))
        .unwrap_or_else(|_| Timestamp::from_unix_nanos(0));
    serde_json::to_vec(&json!({
        "sensor": sensor.id, "seq": seq, "observed_at": at.to_string(), "kind": "acoustic.arrival",
        "data": {"arrival_time": at.to_string(), "arrival_sigma_s": 0.002, "class": "launch",
                 "backazimuth_deg": 123.4, "backazimuth_sigma_deg": 2.0, "snr": 17.0}}))
    .unwrap_or_default()
}

fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

async fn ingest(
    verify_seconds: f64,
    observations: usize,
    clients: usize,
    batch: usize,
    sensor_count: usize,
    as_json: bool,
) -> anyhow::Result<()> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let server_chunk = batch.div_ceil(cores).max(2);
    println!(
        "machine: {cores} cores; batch verification in chunks of {server_chunk} (as the server splits a {batch}-item request)"
    );
    // The same sensors (and so the same mix of keys per batch) as the end-to-end load.
    let network = Arc::new(network(sensor_count));
    let messages = {
        let network = network.clone();
        tokio::task::spawn_blocking(move || signed_messages(&network, 4096)).await?
    };
    let single = verify_rate(&messages, 1, 1, verify_seconds);
    println!("ed25519-consensus single verification, 1 core:   {single:>9.0} /s");
    let batch_one = verify_rate(&messages, server_chunk, 1, verify_seconds);
    println!("ed25519-consensus batch verification, 1 core:    {batch_one:>9.0} /s");
    // The limit is measured four times, twice before the end-to-end run and twice after
    // it: the machine's speed drifts, and bracketing the run measures the limit it ran
    // under. The ratio is taken against the median and also shown against the best.
    let limit_runs = || -> Vec<f64> {
        (0..2)
            .map(|_| verify_rate(&messages, server_chunk, cores, verify_seconds))
            .collect()
    };
    let mut limits = limit_runs();
    println!(
        "ed25519-consensus batch verification, {cores} cores:   {:>9.0} /s, {:.0} /s  (before the end-to-end run)",
        limits[0], limits[1]
    );

    let checked = check_rate(
        &network,
        &messages_network(&network),
        server_chunk,
        verify_seconds,
    );
    println!("ingest checks (parse, validate, batch-verify), 1 core: {checked:>9.0} /s");

    // Pre-sign the load, on every core, before the clock starts.
    let per = observations.div_ceil(cores);
    let mut parts = Vec::new();
    for t in 0..cores {
        let network = network.clone();
        parts.push(tokio::task::spawn_blocking(move || {
            (t * per..((t + 1) * per).min(observations))
                .map(|i| {
                    let sensor = &network[i % network.len()];
                    let seq = (i / network.len()) as u64 + 1;
                    crate::submit::envelope(&sensor.key, &sensor.id, &payload(sensor, seq))
                })
                .collect::<Vec<_>>()
        }));
    }
    let mut envelopes = Vec::with_capacity(observations);
    for p in parts {
        envelopes.extend(p.await?);
    }

    let data = tempfile::tempdir()?;
    let port = free_port()?;
    let token = "bench-admin-token-0123456789";
    let mut child = tokio::process::Command::new(std::env::current_exe()?)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .arg("--data")
        .arg(data.path())
        .args(["--admin-token", token])
        .env("TRUCE_LOG", "warn")
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .context("cannot start `truce serve`")?;
    let url = format!("http://127.0.0.1:{port}");
    let client = Client::new(&url)?;
    let mut tries = 0;
    while client.get_bytes("/healthz").await.is_err() {
        tries += 1;
        if tries > 100 {
            bail!("the server did not start");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for sensor in network.iter() {
        let body = serde_json::to_vec(
            &json!({"id": sensor.id, "kind": "acoustic", "operator": sensor.operator,
            "position": {"lat": sensor.position.lat, "lon": sensor.position.lon},
            "public_key": crate::keys::public_key_base64(&sensor.key)}),
        )?;
        client
            .admin(Method::POST, "/v1/sensors", body, token)
            .await
            .with_context(|| format!("registering {}", sensor.id))?;
    }

    let server_pid = child.id();
    let cpu_before = (cpu_seconds(server_pid), cpu_seconds(None));
    // The load generator sends bodies made before the clock starts, as it signed the
    // envelopes before: what it spends while timed is sending and reading the answers.
    let bodies: Vec<Vec<u8>> = envelopes
        .chunks(batch)
        .map(|part| {
            let mut body = Vec::with_capacity(part.iter().map(|e| e.len() + 1).sum());
            for e in part {
                body.extend_from_slice(e);
                body.push(b'\n');
            }
            body
        })
        .collect();
    drop(envelopes);
    let bodies = Arc::new(std::sync::Mutex::new(bodies.into_iter().enumerate()));
    let accepted = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (bodies, accepted, client) = (bodies.clone(), accepted.clone(), client.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let Some((n, body)) = bodies.lock().ok().and_then(|mut b| b.next()) else {
                    return Ok::<_, anyhow::Error>(());
                };
                let items = (observations - n * batch).min(batch);
                let (status, answer) = client.submit_body(body).await?;
                let logged = logged_items(&answer);
                if status != reqwest::StatusCode::OK || logged != Some(items) {
                    bail!(
                        "request {n}: {status}: the server did not log every item: {}",
                        String::from_utf8_lossy(&answer)
                    );
                }
                accepted.fetch_add(items as u64, Ordering::Relaxed);
            }
        }));
    }
    for t in tasks {
        t.await??;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let end_to_end = accepted.load(Ordering::Relaxed) as f64 / elapsed;
    let per_item = |before: Option<f64>, after: Option<f64>| {
        after
            .zip(before)
            .map(|(a, b)| (a - b) * 1e6 / accepted.load(Ordering::Relaxed).max(1) as f64)
    };
    let server_cpu = per_item(cpu_before.0, cpu_seconds(server_pid));
    let client_cpu = per_item(cpu_before.1, cpu_seconds(None));
    let metrics = client.get_text("/metrics").await?;
    let commits = metric(&metrics, "truce_commit_entries_count");
    let committed = metric(&metrics, "truce_commit_entries_sum");
    let _ = child.kill().await;
    println!(
        "end to end over HTTP, durable acks:              {end_to_end:>9.0} /s  ({} observations in {elapsed:.2} s, {clients} clients x {batch} per request)",
        accepted.load(Ordering::Relaxed)
    );
    if let (Some(server), Some(client)) = (server_cpu, client_cpu) {
        println!(
            "CPU per observation: server {server:.1} us, load generator {client:.1} us (the batch-verification limit costs {:.1} us per core)",
            1e6 / batch_one
        );
    }
    println!(
        "group commit: {committed:.0} entries in {commits:.0} fsynced transactions ({:.0} per commit)",
        committed / commits.max(1.0)
    );
    let after = limit_runs();
    println!(
        "ed25519-consensus batch verification, {cores} cores:   {:>9.0} /s, {:.0} /s  (after it)",
        after[0], after[1]
    );
    limits.extend(after);
    limits.sort_by(f64::total_cmp);
    let (batch_all, batch_best) = ((limits[1] + limits[2]) / 2.0, limits[3]);
    println!(
        "the limit, {cores} cores (median of the four):       {batch_all:>9.0} /s  ({:.0} to {:.0})",
        limits[0], limits[3]
    );
    let ratio = end_to_end / batch_all;
    println!(
        "ratio end-to-end / {cores}-core batch limit: {ratio:.2} (target >= 0.50: {}); against the best limit run: {:.2}",
        if ratio >= 0.5 { "met" } else { "NOT met" },
        end_to_end / batch_best
    );
    if as_json {
        println!(
            "{}",
            json!({"cores": cores, "single_1core": single, "batch_1core": batch_one,
                   "batch_all_cores": batch_all, "batch_all_cores_best": batch_best, "batch_all_cores_runs": limits, "end_to_end": end_to_end, "ratio": ratio,
                   "observations": observations, "clients": clients, "batch": batch,
                   "commits": commits, "committed": committed,
                   "server_cpu_us": server_cpu, "client_cpu_us": client_cpu})
        );
    }
    Ok(())
}

fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
        .unwrap_or(0.0)
}

/// Appends realistic observation entries straight through the store's writer.
fn store(entries: usize, batch: usize, sensors: usize) -> anyhow::Result<()> {
    use truce_store::{NewEntry, SideEffect, Store};
    let dir = tempfile::tempdir()?;
    let (_store, mut writer) = Store::open(dir.path(), "bench/log")?;
    let network = network(sensors.max(1));
    let all: Vec<NewEntry> = (0..entries)
        .map(|i| {
            let sensor = &network[i % network.len()];
            let seq = (i / network.len()) as u64 + 1;
            let payload = payload(sensor, seq);
            let envelope = crate::submit::envelope(&sensor.key, &sensor.id, &payload);
            let data = truce_model::Entry::v1(truce_model::EntryKind::Observation, &envelope)
                .encode()
                .unwrap_or_default();
            NewEntry::new(
                data.clone(),
                SideEffect::Observation {
                    sensor: sensor.id.clone(),
                    seq,
                    leaf_hash: truce_ledger::leaf_hash(&data),
                },
            )
        })
        .collect();
    let started = Instant::now();
    let mut commits = 0;
    for chunk in all.chunks(batch.max(1)) {
        for e in chunk {
            if let SideEffect::Observation { sensor, seq, .. } = &e.effect {
                writer.find_observation(sensor, *seq)?;
            }
        }
        writer.append(chunk)?;
        commits += 1;
    }
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "store: {entries} entries in {commits} durable commits in {elapsed:.2} s: {:.0} entries/s, {:.1} ms per commit",
        entries as f64 / elapsed,
        elapsed * 1000.0 / commits as f64
    );
    Ok(())
}

/// Envelopes of the benchmark network, for the check measurement.
fn messages_network(network: &[SampleSensor]) -> Vec<Vec<u8>> {
    (0..4096)
        .map(|i| {
            let sensor = &network[i % network.len()];
            crate::submit::envelope(&sensor.key, &sensor.id, &payload(sensor, i as u64 + 1))
        })
        .collect()
}

/// Envelopes fully checked per second on one core, in batches of `batch`.
fn check_rate(network: &[SampleSensor], envelopes: &[Vec<u8>], batch: usize, seconds: f64) -> f64 {
    let keys: std::collections::HashMap<String, truce_ingest::SensorKey> = network
        .iter()
        .map(|s| {
            (
                s.id.clone(),
                truce_ingest::SensorKey {
                    public_key: s.key.public_key(),
                    kind: truce_model::SensorKind::Acoustic,
                    revoked: false,
                },
            )
        })
        .collect();
    let lookup = |id: &str| keys.get(id).cloned();
    let now =
        Timestamp::parse("2026-01-08T00:00:00Z").unwrap_or_else(|_| Timestamp::from_unix_nanos(0));
    let policy = truce_ingest::IngestPolicy::default();
    let started = Instant::now();
    let mut done = 0usize;
    let mut offset = 0;
    while started.elapsed().as_secs_f64() < seconds {
        let items: Vec<&[u8]> = (0..batch)
            .map(|i| envelopes[(offset + i) % envelopes.len()].as_slice())
            .collect();
        let verdicts = truce_ingest::check_batch(&items, &lookup, now, &policy);
        assert!(
            verdicts.iter().all(Result::is_ok),
            "benchmark envelopes must pass"
        );
        done += batch;
        offset += batch;
    }
    done as f64 / started.elapsed().as_secs_f64()
}

/// User plus system CPU seconds of a process (this one when `pid` is `None`), from /proc.
fn cpu_seconds(pid: Option<u32>) -> Option<f64> {
    let path = match pid {
        Some(pid) => format!("/proc/{pid}/stat"),
        None => "/proc/self/stat".to_string(),
    };
    let stat = std::fs::read_to_string(path).ok()?;
    // Fields after the command name (which is in parentheses and may hold spaces).
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    // USER_HZ is 100 on Linux.
    Some(ticks / 100.0)
}

/// How many items of an answer to an NDJSON batch name their log index; `None` when
/// the answer is not such an answer.
fn logged_items(answer: &[u8]) -> Option<usize> {
    #[derive(serde::Deserialize)]
    struct Item {
        log_index: Option<u64>,
    }
    #[derive(serde::Deserialize)]
    struct Answer {
        results: Vec<Item>,
    }
    let answer: Answer = serde_json::from_slice(answer).ok()?;
    Some(
        answer
            .results
            .iter()
            .filter(|i| i.log_index.is_some())
            .count(),
    )
}
