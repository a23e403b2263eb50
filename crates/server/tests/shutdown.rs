//! A graceful shutdown is not kept waiting by a live stream: the dashboard's
//! `GET /v1/stream` ends when the server stops (it once held the shutdown for as long as a
//! browser kept the page open).

use std::sync::Arc;
use std::time::Duration;

use truce_model::Timestamp;
use truce_server::{FixedClock, ServerConfig};

const TOKEN: &str = "test-admin-token-0123456789";

#[tokio::test]
async fn a_live_stream_ends_with_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let config = ServerConfig {
        data: dir.path().to_path_buf(),
        listen: "127.0.0.1:0".parse().unwrap(),
        admin_token: Some(TOKEN.into()),
        ..ServerConfig::default()
    };
    let now = Timestamp::parse("2026-01-07T04:00:00Z").unwrap();
    let server = truce_server::start(config, Arc::new(FixedClock(now)))
        .await
        .unwrap();
    let mut response = reqwest::Client::new()
        .get(format!("http://{}/v1/stream", server.addr))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let first = tokio::time::timeout(Duration::from_secs(10), response.chunk())
        .await
        .expect("the stream's first message within 10 s")
        .unwrap()
        .expect("a first message");
    assert!(
        String::from_utf8_lossy(&first).contains("event: results"),
        "{first:?}"
    );

    tokio::time::timeout(Duration::from_secs(20), server.shutdown())
        .await
        .expect("the server stops within 20 s with a stream open")
        .unwrap();
    // And the stream has ended rather than hanging.
    let rest = tokio::time::timeout(Duration::from_secs(10), async {
        while let Ok(Some(_)) = response.chunk().await {}
    })
    .await;
    assert!(rest.is_ok(), "the stream ended with the server");
}
