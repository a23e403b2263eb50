//! MQTT ingest through the machine's Mosquitto broker (127.0.0.1:1883) with the real
//! `mosquitto_pub` client: observations published at QoS 1 are logged; a payload that is
//! not an envelope logs nothing; observations published while truce is down (killed) are
//! delivered by the broker when it comes back, so nothing is lost.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{Sensor, Server, http};

fn broker_available() -> bool {
    std::net::TcpStream::connect_timeout(&"127.0.0.1:1883".parse().unwrap(), Duration::from_secs(1))
        .is_ok()
}

/// Publishes each message at QoS 1 with `mosquitto_pub -l` (one message per line).
fn publish(topic: &str, messages: &[Vec<u8>]) {
    let mut child = Command::new("mosquitto_pub")
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            "1883",
            "-q",
            "1",
            "-t",
            topic,
            "-l",
        ])
        .stdin(Stdio::piped())
        .spawn()
        .expect("mosquitto_pub (package mosquitto-clients)");
    {
        let stdin = child.stdin.as_mut().unwrap();
        for m in messages {
            stdin.write_all(m).unwrap();
            stdin.write_all(b"\n").unwrap();
        }
    }
    assert!(child.wait().unwrap().success());
}

async fn wait_size(server: &Server, client: &reqwest::Client, size: u64) -> u64 {
    let mut last = 0;
    for _ in 0..300 {
        let (checkpoint, _) = server.checkpoint(client).await;
        last = checkpoint.size;
        if last >= size {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    last
}

#[tokio::test]
async fn observations_arrive_over_mqtt_and_survive_a_crash() {
    if !broker_available() {
        panic!("no MQTT broker on 127.0.0.1:1883 (the machine runs Mosquitto there)");
    }
    let unique = format!(
        "{}-{}",
        std::process::id(),
        std::time::SystemTime::UNIX_EPOCH
            .elapsed()
            .map(|d| d.as_nanos())
            .unwrap_or(0)
    );
    let filter = format!("truce-test-{unique}/+/observations");
    let topic = format!("truce-test-{unique}/ua-ac-900/observations");
    let client_id = format!("truce-test-{unique}");
    let dir = tempfile::tempdir().unwrap();
    let flags = [
        "--mqtt-url",
        "mqtt://127.0.0.1:1883",
        "--mqtt-topic",
        filter.as_str(),
        "--mqtt-client-id",
        client_id.as_str(),
    ];
    let mut server = Server::start_with(dir.path(), 100, &flags).await;
    let client = http();
    let sensor = Sensor::new("ua-ac-900", 90);
    server.register(&client, &sensor).await;
    // Give the subscriber a moment to connect and subscribe.
    tokio::time::sleep(Duration::from_millis(700)).await;

    publish(&topic, &sensor.envelopes(1..21));
    assert_eq!(wait_size(&server, &client, 21).await, 21);
    // Not an envelope: refused, acknowledged (it will never be valid), nothing logged.
    publish(&topic, &[b"{\"hello\": \"broker\"}".to_vec()]);
    // The same envelopes again: already logged.
    publish(&topic, &sensor.envelopes(1..3));
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(wait_size(&server, &client, 21).await, 21);

    // Kill truce; publish while it is down; the broker keeps them for its session.
    server.kill().await;
    publish(&topic, &sensor.envelopes(21..31));
    let server = Server::start_with(dir.path(), 100, &flags).await;
    assert_eq!(wait_size(&server, &client, 31).await, 31, "nothing lost");
    let entry = common::get_json(&client, &server.url("/v1/entries/30")).await;
    assert_eq!(entry["kind"], "observation", "{entry}");
}
