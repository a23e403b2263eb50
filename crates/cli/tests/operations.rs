//! Operating `truce serve`: graceful shutdown on SIGTERM, configuration from a TOML file,
//! `truce submit` signing payloads, and `truce keygen`.

mod common;

use std::process::Stdio;
use std::time::Duration;

use common::{Sensor, Server, http, truce_bin, verify};

/// SIGTERM while clients are sending: every answered batch is in the log, the process
/// exits 0, and the last checkpoint covers everything it acknowledged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_in_flight_batches_and_signs_a_last_checkpoint() {
    let tmp = tempfile::tempdir().unwrap();
    // A long interval: only the shutdown itself will sign the final checkpoint.
    let mut server = Server::start(tmp.path(), 60_000).await;
    let client = http();
    let sensor = Sensor::new("term-ac-01", 3);
    server.register(&client, &sensor).await;
    let url = server.url.clone();
    let envelopes = sensor.envelopes(1..2001);
    let sender = {
        let client = client.clone();
        tokio::spawn(async move {
            let mut acknowledged = 0u64;
            for chunk in envelopes.chunks(100) {
                match common::submit(&client, &url, chunk).await {
                    Ok(response) => acknowledged += response["accepted"].as_u64().unwrap(),
                    Err(_) => break,
                }
            }
            acknowledged
        })
    };
    tokio::time::sleep(Duration::from_millis(150)).await;
    let exit = server.terminate().await;
    assert!(exit.success(), "exit status {exit}");
    let acknowledged = sender.await.unwrap();
    assert!(
        acknowledged > 0,
        "some batches were acknowledged before the signal"
    );

    let restarted = Server::start(tmp.path(), 60_000).await;
    let (checkpoint, _) = restarted.checkpoint(&client).await;
    // The registration plus every acknowledged observation, signed at shutdown.
    assert_eq!(checkpoint.size, 1 + acknowledged);
}

#[tokio::test]
async fn a_config_file_with_an_unknown_key_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("truce.toml");
    std::fs::write(
        &config,
        "listen = \"127.0.0.1:0\"\ncheckpoint_intervall_ms = 5\n",
    )
    .unwrap();
    let output = tokio::process::Command::new(truce_bin())
        .arg("serve")
        .arg("--config")
        .arg(&config)
        .arg("--data")
        .arg(tmp.path().join("data"))
        .stdin(Stdio::null())
        .output()
        .await
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("checkpoint_intervall_ms"), "{stderr}");
}

/// `truce keygen` then `truce submit`: unsigned payloads are signed with the sensor's key
/// and logged; submitting the file again adds nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keygen_and_submit_sign_and_log_payloads() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(&tmp.path().join("data"), 50).await;
    let prefix = tmp.path().join("ua-ac-777");
    let keygen = tokio::process::Command::new(truce_bin())
        .args(["keygen", "--name", "ua-ac-777", "--out"])
        .arg(&prefix)
        .output()
        .await
        .unwrap();
    assert!(keygen.status.success());
    let public_key = std::fs::read_to_string(tmp.path().join("ua-ac-777.pub")).unwrap();
    let vkey = std::fs::read_to_string(tmp.path().join("ua-ac-777.vkey")).unwrap();
    assert!(vkey.starts_with("ua-ac-777+"), "{vkey}");
    let registration = serde_json::json!({"id": "ua-ac-777", "kind": "acoustic", "operator": "UA",
        "position": {"lat": 48.1, "lon": 37.5}, "public_key": public_key.trim()});
    // `truce sensors register ARG`: a registration's JSON or a file holding one or a list.
    let register_with = |arg: std::ffi::OsString| {
        tokio::process::Command::new(truce_bin())
            .args([
                "sensors",
                "register",
                "--url",
                &server.url,
                "--admin-token",
                common::TOKEN,
            ])
            .arg(arg)
            .output()
    };
    let register = register_with(registration.to_string().into())
        .await
        .unwrap();
    assert!(
        register.status.success(),
        "{}",
        String::from_utf8_lossy(&register.stderr)
    );
    // A list (as `truce sim` writes sensors.json) registers each; one already registered
    // answers with its entry.
    let other = common::Sensor::new("ua-ac-779", 79);
    let second = serde_json::json!({"id": "ua-ac-779", "kind": "acoustic", "operator": "UA",
        "position": {"lat": 48.2, "lon": 37.6},
        "public_key": truce_model::envelope::encode_base64(&other.public_key())});
    let list = tmp.path().join("sensors.json");
    std::fs::write(&list, serde_json::json!([registration, second]).to_string()).unwrap();
    let register_list = register_with(list.into()).await.unwrap();
    let said = String::from_utf8_lossy(&register_list.stdout);
    assert!(
        register_list.status.success(),
        "{}",
        String::from_utf8_lossy(&register_list.stderr)
    );
    assert!(
        said.contains("ua-ac-777: registered in log entry 0")
            && said.contains("ua-ac-779: registered in log entry 1")
            && said.contains("2 sensor(s) registered"),
        "{said}"
    );
    let file = tmp.path().join("obs.ndjson");
    let lines: Vec<String> = (1..=30)
        .map(|seq| {
            serde_json::json!({"sensor": "ua-ac-777", "seq": seq, "observed_at": "2026-01-07T03:00:00Z",
                "kind": "acoustic.arrival", "data": {"arrival_time": "2026-01-07T03:00:00Z",
                "arrival_sigma_s": 0.01, "class": "impact"}})
            .to_string()
        })
        .collect();
    std::fs::write(&file, lines.join("\n")).unwrap();
    let submit = |file: std::path::PathBuf| {
        let url = server.url.clone();
        let key = tmp.path().join("ua-ac-777.key");
        async move {
            tokio::process::Command::new(truce_bin())
                .args(["submit", "--batch", "7", "--url", &url, "--sensor-key"])
                .arg(key)
                .arg(file)
                .output()
                .await
                .unwrap()
        }
    };
    let first = submit(file.clone()).await;
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert!(
        String::from_utf8_lossy(&first.stdout)
            .contains("30 accepted, 0 already logged, 0 rejected")
    );
    let again = submit(file).await;
    assert!(
        String::from_utf8_lossy(&again.stdout)
            .contains("0 accepted, 30 already logged, 0 rejected")
    );
    server.wait_checkpoint(&http(), 32).await;
    verify(
        &server.url,
        &tmp.path().join("data").join("log.vkey"),
        &["--full", "--entry", "30"],
    )
    .await
    .assert_ok();

    // Envelopes a sensor signed itself pass through unchanged, without a key: the bytes
    // logged are the bytes in the file.
    let sensor = common::Sensor::new("ua-ac-778", 78);
    server.register(&http(), &sensor).await;
    let signed = sensor.envelopes(1..6);
    let file = tmp.path().join("signed.ndjson");
    let text: Vec<String> = signed
        .iter()
        .map(|e| String::from_utf8(e.clone()).unwrap())
        .collect();
    std::fs::write(&file, text.join("\n")).unwrap();
    let passed = tokio::process::Command::new(truce_bin())
        .args(["submit", "--url", &server.url])
        .arg(&file)
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&passed.stdout);
    assert!(
        passed.status.success(),
        "{}",
        String::from_utf8_lossy(&passed.stderr)
    );
    assert!(
        stdout.contains("5 accepted, 0 already logged, 0 rejected"),
        "{stdout}"
    );
    for (n, envelope) in signed.iter().enumerate() {
        let entry =
            common::get_json(&http(), &server.url(&format!("/v1/entries/{}", 33 + n))).await;
        let bytes = truce_model::envelope::decode_base64(entry["entry"].as_str().unwrap()).unwrap();
        let logged = truce_model::Entry::decode(&bytes).unwrap();
        assert_eq!(logged.body, &envelope[..], "entry {}", 33 + n);
    }
}

/// The demo plays its day into a new log: a data directory holding one already is refused
/// before anything starts, with the reason.
#[tokio::test]
async fn the_demo_refuses_a_directory_holding_a_log() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("log.sqlite"), b"").unwrap();
    let output = tokio::process::Command::new(truce_bin())
        .args(["demo", "--fast", "--data"])
        .arg(tmp.path())
        .stdin(Stdio::null())
        .output()
        .await
        .unwrap();
    assert!(!output.status.success());
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(said.contains("holds a log already"), "{said}");
}
