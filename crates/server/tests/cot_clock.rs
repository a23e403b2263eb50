//! The Cursor-on-Target output stamps what it sends with the wall clock, by which TAK
//! clients judge a message stale, even when the server runs on an injected clock (as the
//! demo's simulated day does); the mechanism's own time stays the injected one.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use truce_model::Timestamp;
use truce_server::{Clock, FixedClock, ServerConfig, SystemClock};

const TOKEN: &str = "test-admin-token-0123456789";

/// A free TCP port on loopback.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The value of the attribute `name` in the first element of `xml` that has it.
fn attribute<'a>(xml: &'a str, name: &str) -> &'a str {
    let start = xml.find(&format!(" {name}=\"")).expect(name) + name.len() + 3;
    &xml[start..start + xml[start..].find('"').unwrap()]
}

#[tokio::test]
async fn cot_messages_are_stamped_by_the_wall_clock_on_an_injected_clock() {
    let dir = tempfile::tempdir().unwrap();
    let cot = std::net::SocketAddr::from(([127, 0, 0, 1], free_port()));
    let config = ServerConfig {
        data: dir.path().to_path_buf(),
        listen: "127.0.0.1:0".parse().unwrap(),
        admin_token: Some(TOKEN.into()),
        cot_listen: Some(cot),
        ..ServerConfig::default()
    };
    let day = Timestamp::parse("2026-01-07T04:00:00Z").unwrap();
    let server = truce_server::start(config, Arc::new(FixedClock(day)))
        .await
        .unwrap();
    let http = reqwest::Client::new();
    let created: Value = http
        .post(format!("http://{}/v1/accounts", server.addr))
        .bearer_auth(TOKEN)
        .json(&json!({"id": "watcher", "name": "A Watcher", "role": "auditor"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = created["token"].as_str().expect("a token");
    // The account is dated by the server's clock: the injected day.
    let account: Value = http
        .get(format!("http://{}/v1/accounts", server.addr))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        account.to_string().contains("2026-01-07T04:00:00"),
        "the account is dated by the injected clock: {account}"
    );

    let mut tak = tokio::net::TcpStream::connect(cot).await.unwrap();
    tak.write_all(format!("truce-token {token}\n").as_bytes())
        .await
        .unwrap();
    let mut received = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), async {
        let mut buf = [0u8; 4096];
        while !String::from_utf8_lossy(&received).contains("</event>") {
            let n = tak.read(&mut buf).await.unwrap();
            assert!(n > 0, "the server closed the connection");
            received.extend_from_slice(&buf[..n]);
        }
    })
    .await
    .expect("the protocol offer within 10 s");
    let offer = String::from_utf8_lossy(&received).into_owned();
    assert!(offer.contains("t-x-takp-v"), "{offer}");
    let time = Timestamp::parse(attribute(&offer, "time")).unwrap();
    let stale = Timestamp::parse(attribute(&offer, "stale")).unwrap();
    let wall = SystemClock.now();
    let off_s = (time.unix_nanos() - wall.unix_nanos()).abs() as f64 / 1e9;
    assert!(
        off_s < 60.0,
        "the offer is stamped {time}, the wall clock reads {wall}"
    );
    assert!(
        stale > wall,
        "stale at {stale}, before the wall clock's {wall}"
    );
    // A graceful shutdown ends the CoT listener and its connections, this one still open.
    tokio::time::timeout(Duration::from_secs(20), server.shutdown())
        .await
        .expect("the server stops within 20 s with a TAK client connected")
        .unwrap();
    drop(tak);
}
