//! MQTT ingest through the machine's Mosquitto broker (127.0.0.1:1883) with the real
//! `mosquitto_pub` client: observations published at QoS 1 are logged; a payload that is
//! not an envelope logs nothing; observations published while truce is down (killed) are
//! delivered by the broker when it comes back, and those delivered to truce but not yet
//! durable when it is killed are delivered again (QoS 1, acknowledged only once durable),
//! so nothing is lost.

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

/// A truce subscriber of its own (topics and the broker's sessions persist between runs,
/// so each test uses names no other run uses): its topic filter, the topic its sensor
/// publishes to, and its client id.
struct Subscription {
    filter: String,
    topic: String,
    client_id: String,
}

impl Subscription {
    fn new(test: &str, sensor: &str) -> Self {
        if !broker_available() {
            panic!("no MQTT broker on 127.0.0.1:1883 (the machine runs Mosquitto there)");
        }
        let unique = format!(
            "{test}-{}-{}",
            std::process::id(),
            std::time::SystemTime::UNIX_EPOCH
                .elapsed()
                .map(|d| d.as_nanos())
                .unwrap_or(0)
        );
        Self {
            filter: format!("truce-test-{unique}/+/observations"),
            topic: format!("truce-test-{unique}/{sensor}/observations"),
            client_id: format!("truce-test-{unique}"),
        }
    }

    /// `truce serve`'s flags for it.
    fn flags(&self) -> [&str; 6] {
        [
            "--mqtt-url",
            "mqtt://127.0.0.1:1883",
            "--mqtt-topic",
            &self.filter,
            "--mqtt-client-id",
            &self.client_id,
        ]
    }
}

#[tokio::test]
async fn observations_arrive_over_mqtt_and_survive_a_crash() {
    let mqtt = Subscription::new("down", "ua-ac-900");
    let (topic, flags) = (&mqtt.topic, mqtt.flags());
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start_with(dir.path(), 100, &flags).await;
    let client = http();
    let sensor = Sensor::new("ua-ac-900", 90);
    server.register(&client, &sensor).await;
    // Give the subscriber a moment to connect and subscribe.
    tokio::time::sleep(Duration::from_millis(700)).await;

    publish(topic, &sensor.envelopes(1..21));
    assert_eq!(wait_size(&server, &client, 21).await, 21);
    // Not an envelope: refused, acknowledged (it will never be valid), nothing logged.
    publish(topic, &[b"{\"hello\": \"broker\"}".to_vec()]);
    // The same envelopes again: already logged.
    publish(topic, &sensor.envelopes(1..3));
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(wait_size(&server, &client, 21).await, 21);
    // The refusal is counted by its problem type, as for HTTP (and written to the server's
    // log with its detail: "not a DSSE envelope: missing field `payloadType`").
    let metrics = common::get_text(&client, &server.url("/metrics")).await;
    assert!(
        metrics
            .lines()
            .any(|l| l == "truce_observations_rejected_total{problem=\"malformed-json\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics
            .lines()
            .any(|l| l == "truce_observations_duplicate_total 2"),
        "{metrics}"
    );

    // Kill truce; publish while it is down; the broker keeps them for its session.
    server.kill().await;
    publish(topic, &sensor.envelopes(21..31));
    let server = Server::start_with(dir.path(), 100, &flags).await;
    assert_eq!(wait_size(&server, &client, 31).await, 31, "nothing lost");
    let entry = common::get_json(&client, &server.url("/v1/entries/30")).await;
    assert_eq!(entry["kind"], "observation", "{entry}");
}

/// SIGTERM stops a server subscribed to the broker (the subscriber once held the server's
/// state for good, and the shutdown waited for it without end).
#[tokio::test]
async fn sigterm_stops_a_server_subscribed_to_the_broker() {
    let mqtt = Subscription::new("term", "ua-ac-902");
    let (topic, flags) = (&mqtt.topic, mqtt.flags());
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start_with(dir.path(), 100, &flags).await;
    let client = http();
    let sensor = Sensor::new("ua-ac-902", 92);
    server.register(&client, &sensor).await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    publish(topic, &sensor.envelopes(1..6));
    assert_eq!(wait_size(&server, &client, 6).await, 6);
    let exit = server.terminate().await;
    assert!(exit.success(), "exit status {exit}");
}

/// SIGKILL while the broker is delivering: messages truce received but had not made
/// durable (so not acknowledged) are delivered again after the restart; every observation
/// ends up logged exactly once.
#[tokio::test]
async fn a_kill_between_delivery_and_durable_logging_loses_nothing() {
    // Under Mosquitto's default queue of 1,000 messages per client (beyond it the broker
    // itself drops them, and says so in its log).
    const N: u64 = 600;
    let mqtt = Subscription::new("inflight", "ua-ac-901");
    let flags = mqtt.flags();
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start_with(dir.path(), 20, &flags).await;
    let client = http();
    let sensor = Sensor::new("ua-ac-901", 91);
    server.register(&client, &sensor).await;
    tokio::time::sleep(Duration::from_millis(700)).await;

    let envelopes = sensor.envelopes(1..N + 1);
    let publisher = std::thread::spawn({
        let topic = mqtt.topic.clone();
        move || publish(&topic, &envelopes)
    });
    // Kill truce once a tenth of the messages is logged: the rest are in the broker's
    // queue or in flight to truce, one of them being appended.
    let at_kill = wait_size(&server, &client, 1 + N / 10).await;
    server.kill().await;
    assert!(
        at_kill < 1 + N,
        "killed after all {N} were logged ({at_kill}): nothing was in flight"
    );
    publisher.join().unwrap();
    let server = Server::start_with(dir.path(), 20, &flags).await;
    let mut size = 0;
    for _ in 0..10 {
        size = wait_size(&server, &client, 1 + N).await;
        if size > N {
            break;
        }
    }
    assert_eq!(
        size,
        1 + N,
        "every observation logged once (killed at {at_kill})"
    );
    // Each seq once: the last entry is an observation, and resending changes nothing.
    let entry = common::get_json(&client, &server.url(&format!("/v1/entries/{N}"))).await;
    assert_eq!(entry["kind"], "observation", "{entry}");
    for chunk in sensor.envelopes(1..N + 1).chunks(500) {
        let answer = server.submit(&client, chunk).await.unwrap();
        let items = answer["results"].as_array().unwrap();
        assert!(
            items.iter().all(|i| i["duplicate"] == true),
            "already logged: {answer}"
        );
    }
}
