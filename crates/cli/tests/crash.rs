//! An acknowledged observation is durable: SIGKILL the server under concurrent load, restart
//! it on the same data directory, and every acknowledged observation is at its acknowledged
//! index, the log key is unchanged and the new tree extends the last checkpoint published
//! before the crash.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{Ack, Sensor, Server, acks_of, get_json, hash_of, http, submit, verify};
use truce_ledger::{Checkpoint, verify_consistency};
use truce_model::envelope::{decode_base64, encode_base64};

const SENSORS: u8 = 8;
const CLIENTS: u64 = 6;
const BATCH: u64 = 50;
/// Acknowledgements to collect before the kill.
const TARGET_ACKS: usize = 3000;
/// The least acknowledged load that makes the test meaningful.
const MIN_ACKS: usize = 600;
/// The longest the load runs before the kill, whatever was acknowledged.
const MAX_LOAD: Duration = Duration::from_secs(8);

/// Client `t`'s `n`-th observation: a sensor and a seq no other client uses.
fn observation(sensors: &[Sensor], t: u64, n: u64) -> Vec<u8> {
    let sensor = &sensors[((t + n) % u64::from(SENSORS)) as usize];
    sensor.envelope(1 + t * 1_000_000 + n)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_observations_survive_sigkill() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("log");
    let mut server = Server::start(&dir, 100).await;
    let client = http();
    let vkey_file = dir.join("log.vkey");
    let vkey_before = std::fs::read_to_string(&vkey_file).unwrap();
    assert_eq!(vkey_before.trim(), server.vkey);

    let sensors: Arc<Vec<Sensor>> = Arc::new(
        (1..=SENSORS)
            .map(|i| Sensor::new(&format!("crash-ac-{i:02}"), i))
            .collect(),
    );
    for sensor in sensors.iter() {
        server.register(&client, sensor).await;
    }

    let acks: Arc<Mutex<Vec<Ack>>> = Arc::default();
    let killed = Arc::new(AtomicBool::new(false));
    let mut clients = Vec::new();
    // The load's requests give up after 10 s: once the server is killed (and reaped), a
    // request still waiting on its connection is one more that was never answered. (One
    // CI run saw a client wait past 30 s after the kill; none locally in 8 runs.)
    let load_client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    for t in 0..CLIENTS {
        let (sensors, acks, killed, client, url) = (
            sensors.clone(),
            acks.clone(),
            killed.clone(),
            load_client.clone(),
            server.url.clone(),
        );
        clients.push(tokio::spawn(async move {
            for batch in 0.. {
                let envelopes: Vec<Vec<u8>> = (0..BATCH)
                    .map(|j| observation(&sensors, t, batch * BATCH + j))
                    .collect();
                match submit(&client, &url, &envelopes).await {
                    Ok(response) => {
                        // An answer is an acknowledgement, even one that raced the kill.
                        let got = acks_of(&response, &envelopes)
                            .map_err(|e| format!("client {t} batch {batch}: {e}"))?;
                        acks.lock().unwrap().extend(got);
                    }
                    Err(_) if killed.load(Ordering::SeqCst) => return Ok(batch),
                    Err(e) => return Err(format!("client {t} before the kill: {e}")),
                }
            }
            unreachable!("the clients run until the server dies")
        }));
    }

    // Keep the last checkpoint published before the crash.
    let last_seen: Arc<Mutex<Option<(Checkpoint, String)>>> = Arc::default();
    let poller = {
        let (last_seen, killed, client, url) = (
            last_seen.clone(),
            killed.clone(),
            client.clone(),
            server.url.clone(),
        );
        let verifier = server.verifier();
        tokio::spawn(async move {
            loop {
                let note = match client.get(format!("{url}/checkpoint")).send().await {
                    Ok(r) if r.status().is_success() => r.text().await.ok(),
                    _ => None,
                };
                match note {
                    Some(note) => {
                        let checkpoint = Checkpoint::open(&note, &verifier)
                            .map_err(|e| format!("bad checkpoint before the crash: {e}"))?;
                        let mut last = last_seen.lock().unwrap();
                        if let Some((previous, _)) = last.as_ref() {
                            assert!(checkpoint.size >= previous.size, "checkpoints only grow");
                        }
                        *last = Some((checkpoint, note));
                    }
                    None if killed.load(Ordering::SeqCst) => return Ok::<_, String>(()),
                    None => return Err("GET /checkpoint failed before the kill".to_string()),
                }
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
        })
    };

    // Let the load run, then pull the plug while the clients are still sending.
    let load = async {
        loop {
            let n = acks.lock().unwrap().len();
            let checkpointed = last_seen
                .lock()
                .unwrap()
                .as_ref()
                .is_some_and(|(c, _)| c.size > u64::from(SENSORS));
            if n >= TARGET_ACKS && checkpointed {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    let _ = tokio::time::timeout(MAX_LOAD, load).await;
    killed.store(true, Ordering::SeqCst);
    server.kill().await;

    for c in clients {
        tokio::time::timeout(common::WAIT, c)
            .await
            .expect("a client stops after the kill")
            .unwrap()
            .unwrap();
    }
    tokio::time::timeout(common::WAIT, poller)
        .await
        .expect("the poller stops after the kill")
        .unwrap()
        .unwrap();
    let mut acks = std::mem::take(&mut *acks.lock().unwrap());
    let (before, before_note) = last_seen
        .lock()
        .unwrap()
        .clone()
        .expect("a checkpoint was seen before the crash");
    assert!(
        acks.len() >= MIN_ACKS,
        "only {} observations were acknowledged before the kill",
        acks.len()
    );
    assert!(
        before.size > u64::from(SENSORS),
        "a checkpoint covered some load"
    );
    acks.sort_by_key(|a| a.log_index);
    for pair in acks.windows(2) {
        assert_ne!(
            pair[0].log_index, pair[1].log_index,
            "two acknowledgements for one log index"
        );
    }
    let last_acked = acks.last().unwrap().log_index;

    // Restart on the same directory: same key, every acknowledgement kept.
    let server = Server::start(&dir, 100).await;
    assert_eq!(server.vkey, vkey_before.trim(), "the log key survived");
    assert_eq!(std::fs::read_to_string(&vkey_file).unwrap(), vkey_before);
    let (after, _) = server
        .wait_checkpoint(&client, before.size.max(last_acked + 1))
        .await;
    assert_eq!(after.origin, before.origin);
    let health = get_json(&client, &server.url("/healthz")).await;
    let log_size = health["log_size"].as_u64().unwrap();
    assert!(log_size > last_acked);
    eprintln!(
        "{} acknowledged before the kill (last index {last_acked}); last checkpoint seen: size {}; after the restart: log size {log_size}, checkpoint size {}",
        acks.len(),
        before.size,
        after.size
    );

    let acks = Arc::new(acks);
    let mut checkers = Vec::new();
    let parts = 4;
    for p in 0..parts {
        let (acks, client, url) = (acks.clone(), client.clone(), server.url.clone());
        checkers.push(tokio::spawn(async move {
            for ack in acks.iter().skip(p).step_by(parts) {
                let entry = get_json(&client, &format!("{url}/v1/entries/{}", ack.log_index)).await;
                assert_eq!(entry["index"].as_u64(), Some(ack.log_index));
                assert_eq!(
                    entry["leaf_hash"].as_str(),
                    Some(ack.leaf_hash.as_str()),
                    "entry {} has its acknowledged leaf hash",
                    ack.log_index
                );
                let bytes = decode_base64(entry["entry"].as_str().unwrap()).unwrap();
                assert!(
                    bytes.ends_with(&ack.envelope),
                    "entry {} holds the acknowledged envelope",
                    ack.log_index
                );
            }
        }));
    }
    for c in checkers {
        c.await.unwrap();
    }

    // The acknowledged observations are known as logged: submitting them again finds them.
    let sample: Vec<&Ack> = acks
        .iter()
        .take(50)
        .chain(acks.iter().rev().take(50))
        .collect();
    let envelopes: Vec<Vec<u8>> = sample.iter().map(|a| a.envelope.clone()).collect();
    let response = submit(&client, &server.url, &envelopes).await.unwrap();
    for (item, ack) in response["results"].as_array().unwrap().iter().zip(&sample) {
        assert_eq!(item["duplicate"].as_bool(), Some(true), "{item}");
        assert_eq!(item["log_index"].as_u64(), Some(ack.log_index), "{item}");
    }

    // The tree after the restart extends the last one published before the crash.
    if after.size == before.size {
        assert_eq!(after.root, before.root);
    } else {
        let proof = get_json(
            &client,
            &server.url(&format!(
                "/v1/proof/consistency?from={}&to={}",
                before.size, after.size
            )),
        )
        .await;
        let hashes: Vec<_> = proof["proof"]
            .as_array()
            .unwrap()
            .iter()
            .map(hash_of)
            .collect();
        verify_consistency(before.size, after.size, &before.root, &after.root, &hashes)
            .expect("the restarted log extends the checkpoint published before the crash");
    }

    // An auditor who saw the pre-crash checkpoint agrees, and the whole log checks out.
    let state = tmp.path().join("state.json");
    let saved = serde_json::json!({
        "origin": before.origin,
        "size": before.size,
        "root": encode_base64(&before.root),
        "checkpoint": before_note,
    });
    std::fs::write(&state, serde_json::to_string_pretty(&saved).unwrap()).unwrap();
    let outcome = verify(
        &server.url,
        &vkey_file,
        &["--full", "--state", state.to_str().unwrap()],
    )
    .await;
    outcome.assert_ok();
    verify(&server.url, &vkey_file, &["--full"])
        .await
        .assert_ok();
}
