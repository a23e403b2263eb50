//! A log operator holding the log key can sign two different trees (a split view). An
//! auditor who keeps state with `truce verify --state` must report a FORK when shown the
//! other branch, whether at the same size or at a larger one.

mod common;

use std::path::Path;

use common::{Sensor, Server, http, verify};

/// Copies the state file so that each check starts from what the auditor saw on A.
fn state_copy(from: &Path, to: &Path) -> String {
    std::fs::copy(from, to).expect("copy the audit state");
    to.to_str().unwrap().to_string()
}

fn state_size(path: &Path) -> u64 {
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    state["size"].as_u64().expect("the state records a size")
}

/// Two independent logs signed with the same key and origin.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn independent_trees_under_one_key_are_a_fork() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir_a, dir_b) = (tmp.path().join("a"), tmp.path().join("b"));
    let seen = tmp.path().join("seen-on-a.json");
    let client = http();

    let server_a = Server::start(&dir_a, 50).await;
    let sensor_a = Sensor::new("fork-ac-a", 11);
    server_a.register(&client, &sensor_a).await;
    server_a
        .submit_all(&client, &sensor_a.envelopes(1..41))
        .await;
    let (on_a, _) = server_a.wait_checkpoint(&client, 41).await;
    let vkey = dir_a.join("log.vkey");
    let state = seen.to_str().unwrap().to_string();
    verify(&server_a.url, &vkey, &["--state", &state])
        .await
        .assert_ok();
    assert_eq!(state_size(&seen), on_a.size);

    // B: the same key (and so the same origin), other entries from the start.
    std::fs::create_dir_all(&dir_b).unwrap();
    std::fs::copy(dir_a.join("log.key"), dir_b.join("log.key")).unwrap();
    let server_b = Server::start(&dir_b, 50).await;
    assert_eq!(server_b.vkey, server_a.vkey, "B signs with A's key");
    let sensor_b = Sensor::new("fork-ac-b", 12);
    server_b.register(&client, &sensor_b).await;
    server_b
        .submit_all(&client, &sensor_b.envelopes(1..41))
        .await;
    let (on_b, _) = server_b.wait_checkpoint(&client, on_a.size).await;
    assert_eq!(on_b.size, on_a.size, "B stopped at A's size");
    assert_ne!(on_b.root, on_a.root, "B's tree differs");
    assert_eq!(on_b.origin, on_a.origin);

    // Same size, different root.
    let state = state_copy(&seen, &tmp.path().join("s1.json"));
    verify(&server_b.url, &vkey, &["--state", &state])
        .await
        .assert_fails_with("FORK");
    // The failed audit must not adopt B's checkpoint.
    verify(&server_b.url, &vkey, &["--state", &state])
        .await
        .assert_fails_with("FORK");

    // Larger size, not an extension of what was seen.
    server_b
        .submit_all(&client, &sensor_b.envelopes(41..61))
        .await;
    let (larger, _) = server_b.wait_checkpoint(&client, on_a.size + 20).await;
    assert!(larger.size > on_a.size);
    let state = state_copy(&seen, &tmp.path().join("s2.json"));
    verify(&server_b.url, &vkey, &["--state", &state])
        .await
        .assert_fails_with("FORK");
    verify(&server_b.url, &vkey, &["--state", &state, "--full"])
        .await
        .assert_fails_with("FORK");

    // Without the memory of A, B on its own is a perfectly valid log.
    verify(&server_b.url, &vkey, &["--full"]).await.assert_ok();
    // Remembering B's larger tree, A looks like a log that shrank.
    let seen_larger = tmp.path().join("seen-larger.json");
    let larger_state = seen_larger.to_str().unwrap().to_string();
    verify(&server_b.url, &vkey, &["--state", &larger_state])
        .await
        .assert_ok();
    verify(&server_a.url, &vkey, &["--state", &larger_state])
        .await
        .assert_fails_with("FORK: the log shrank");
    // A checkpoint not signed by the pinned key is refused before anything else.
    let dir_c = tmp.path().join("c");
    let server_c = Server::start(&dir_c, 50).await;
    verify(&server_c.url, &vkey, &["--full"])
        .await
        .assert_fails_with("BAD CHECKPOINT");
    // And A still extends what was seen on A.
    let state = state_copy(&seen, &tmp.path().join("s3.json"));
    verify(&server_a.url, &vkey, &["--state", &state])
        .await
        .assert_ok();
}

/// One log that splits in two after a common prefix (the data directory copied): the
/// branches agree up to the split and must be told apart after it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn branches_after_a_common_prefix_are_a_fork() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir_a, dir_b) = (tmp.path().join("a"), tmp.path().join("b"));
    let client = http();

    // The common prefix: one sensor, 30 observations.
    let sensor = Sensor::new("fork-ac-shared", 21);
    let mut server = Server::start(&dir_a, 50).await;
    server.register(&client, &sensor).await;
    server.submit_all(&client, &sensor.envelopes(1..31)).await;
    let (prefix, _) = server.wait_checkpoint(&client, 31).await;
    let vkey = dir_a.join("log.vkey");
    let at_prefix = tmp.path().join("at-prefix.json");
    verify(
        &server.url,
        &vkey,
        &["--full", "--state", at_prefix.to_str().unwrap()],
    )
    .await
    .assert_ok();
    server.kill().await;
    common::copy_dir(&dir_a, &dir_b);

    let server_a = Server::start(&dir_a, 50).await;
    let server_b = Server::start(&dir_b, 50).await;
    assert_eq!(server_a.vkey, server_b.vkey);
    // Both branches are still the prefix: no fork yet.
    for server in [&server_a, &server_b] {
        let (checkpoint, _) = server.checkpoint(&client).await;
        assert_eq!(
            (checkpoint.size, checkpoint.root),
            (prefix.size, prefix.root)
        );
        let state = state_copy(&at_prefix, &tmp.path().join("s0.json"));
        verify(&server.url, &vkey, &["--state", &state])
            .await
            .assert_ok();
    }

    // A and B each log a different continuation of the same size: seq 31..51 for the
    // sensor on A, a new sensor's observations on B.
    server_a
        .submit_all(&client, &sensor.envelopes(31..51))
        .await;
    let other = Sensor::new("fork-ac-other", 22);
    server_b.register(&client, &other).await;
    server_b.submit_all(&client, &other.envelopes(1..20)).await;
    let (on_a, _) = server_a.wait_checkpoint(&client, prefix.size + 20).await;
    let (on_b, _) = server_b.wait_checkpoint(&client, prefix.size + 20).await;
    assert_eq!(on_a.size, on_b.size);
    assert_ne!(on_a.root, on_b.root);

    // Each branch on its own extends the prefix.
    let seen = tmp.path().join("seen-on-a.json");
    std::fs::copy(&at_prefix, &seen).unwrap();
    verify(&server_a.url, &vkey, &["--state", seen.to_str().unwrap()])
        .await
        .assert_ok();
    assert_eq!(state_size(&seen), on_a.size);
    let state = state_copy(&at_prefix, &tmp.path().join("s1.json"));
    verify(&server_b.url, &vkey, &["--state", &state])
        .await
        .assert_ok();

    // But an auditor who saw A's branch sees a fork on B: equal size, different root...
    let state = state_copy(&seen, &tmp.path().join("s2.json"));
    verify(&server_b.url, &vkey, &["--state", &state])
        .await
        .assert_fails_with("FORK");

    // ...and a larger B that does not extend A's branch.
    server_b.submit_all(&client, &other.envelopes(20..40)).await;
    let (larger, _) = server_b.wait_checkpoint(&client, on_a.size + 20).await;
    assert!(larger.size > on_a.size);
    let state = state_copy(&seen, &tmp.path().join("s3.json"));
    verify(&server_b.url, &vkey, &["--state", &state])
        .await
        .assert_fails_with("FORK");
    // An auditor who saw B's branch sees the same of A.
    let seen_b = tmp.path().join("seen-on-b.json");
    verify(&server_b.url, &vkey, &["--state", seen_b.to_str().unwrap()])
        .await
        .assert_ok();
    verify(&server_a.url, &vkey, &["--state", seen_b.to_str().unwrap()])
        .await
        .assert_fails_with("FORK");
}
