//! The whole pipeline through the real server: simulate a scenario, register its sensors
//! and submit its signed observations over HTTP; the server computes events and findings
//! from its log; `truce replay` recomputes them twice from the log's tiles: all three
//! digests are equal and the events match the ground truth.

mod common;

use common::{Server, TOKEN, http, repo, run};

#[tokio::test]
async fn a_replayed_log_gives_the_same_digest_and_the_true_events() {
    let work = tempfile::tempdir().unwrap();
    let sim = work.path().join("sim");
    run(&[
        "sim",
        "--scenario",
        &repo("examples/scenarios/sparse.toml"),
        "--seed",
        "7",
        "--out",
        sim.to_str().unwrap(),
    ]);
    let data = work.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let agreement = repo("examples/agreement/agreement.toml");
    let server = Server::start_with(&data, 100, &["--agreement", &agreement]).await;
    let client = http();
    let sensors = common::simulated_sensors(&sim);
    for s in &sensors {
        let response = client
            .post(server.url("/v1/sensors"))
            .bearer_auth(TOKEN)
            .json(s)
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success(), "{s}");
    }
    // Follow the stream from before the observations arrive.
    let mut stream = client
        .get(server.url("/v1/stream"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(
        stream.headers()["content-type"].to_str().unwrap(),
        "text/event-stream"
    );
    let follower = tokio::spawn(async move {
        let mut seen = String::new();
        while !(seen.contains("event: event") && seen.contains("event: finding")) {
            match tokio::time::timeout(std::time::Duration::from_secs(60), stream.chunk()).await {
                Ok(Ok(Some(chunk))) => seen.push_str(&String::from_utf8_lossy(&chunk)),
                _ => break,
            }
        }
        seen
    });
    let envelopes = common::simulated_envelopes(&sim);
    let acks = server.submit_all(&client, &envelopes).await;
    assert_eq!(acks.len(), envelopes.len());
    let size = (sensors.len() + envelopes.len()) as u64;
    server.wait_checkpoint(&client, size).await;

    let key = data.join("log.vkey");
    let out = work.path().join("replay");
    let replay = |extra: &[&str]| {
        let mut args = vec![
            "replay",
            "--log",
            &server.url,
            "--key",
            key.to_str().unwrap(),
            "--agreement",
            &agreement,
        ];
        args.extend_from_slice(extra);
        run(&args)
    };
    let first = replay(&["--out", out.to_str().unwrap()]);
    let second = replay(&[]);
    let digest = |text: &str| {
        text.lines()
            .find_map(|l| l.split("digest ").nth(1))
            .map(str::to_string)
            .unwrap_or_else(|| panic!("no digest in {text}"))
    };
    assert_eq!(digest(&first), digest(&second));
    assert!(first.contains(&format!("at size {size}")), "{first}");
    let registry = format!(
        "sensor registry: {} registrations and revocations signed by the log's key\n",
        sensors.len()
    );
    assert!(first.contains(&registry), "{first}");

    // The server's own results for the same checkpoint carry the same digest.
    let mut live = serde_json::Value::Null;
    for _ in 0..600 {
        live = common::get_json(&client, &server.url("/v1/results")).await;
        if live["size"] == size && live["digest"].is_string() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(live["size"], size, "{live}");
    assert_eq!(
        live["digest"].as_str(),
        Some(digest(&first).as_str()),
        "{live}"
    );
    assert_eq!(live["agreement"], "sample-ceasefire-2026");
    // The medium fusion learned from the events: the scenario's air is calm at 5 °C
    // (331.3·√(1 + 5/273.15) = 334.3 m/s).
    let medium = &live["medium"];
    assert!(medium["events"].as_u64() >= Some(20), "{live}");
    let speed = medium["sound_speed_mps"].as_f64().unwrap();
    assert!((speed - 334.3).abs() < 1.0, "{medium}");
    assert!(medium["wind_speed_mps"].as_f64().unwrap() < 1.0, "{medium}");
    assert!(
        medium["wind_east_sigma_mps"].as_f64().unwrap() > 0.0,
        "{medium}"
    );
    let launches = common::get_json(&client, &server.url("/v1/events?type=launch&limit=5")).await;
    assert_eq!(launches["events"].as_array().unwrap().len(), 5);
    assert!(launches["total"].as_u64().unwrap() > 5);
    assert!(
        launches["events"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["type"] == "launch")
    );
    let ceasefire = common::get_json(&client, &server.url("/v1/findings?clause=1&party=RU")).await;
    assert!(ceasefire["total"].as_u64().unwrap() > 0, "{ceasefire}");
    assert!(
        ceasefire["findings"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["clause"] == "1" && f["attribution"]["party"] == "RU")
    );
    // A bounding box west of 37.5° E holds some of the findings, not all.
    let all = ceasefire["total"].as_u64().unwrap();
    let west = common::get_json(
        &client,
        &server.url("/v1/findings?clause=1&party=RU&bbox=30,44,37.5,52"),
    )
    .await;
    let west_total = west["total"].as_u64().unwrap();
    assert!(west_total < all, "{west_total} of {all}");
    assert!(
        west["findings"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["location"]["lon"].as_f64().unwrap() <= 37.5)
    );
    let streamed = follower.await.unwrap();
    assert!(streamed.contains("event: event"), "{streamed}");
    assert!(streamed.contains("event: finding"), "{streamed}");
    assert!(streamed.contains("event: results"), "{streamed}");
    let bad = client
        .get(server.url("/v1/findings?from=yesterday"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status().as_u16(), 422);
    let bad = client
        .get(server.url("/v1/events?bbox=1,2,3"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status().as_u16(), 422);

    // The replayed events are the true ones.
    let eval = run(&[
        "eval",
        "--truth",
        sim.join("truth.json").to_str().unwrap(),
        "--events",
        out.join("events.ndjson").to_str().unwrap(),
        "--agreement",
        &agreement,
        "--json",
    ]);
    let e: serde_json::Value = serde_json::from_str(&eval).unwrap();
    assert!(e["f1"].as_f64().unwrap() >= 0.99, "{e}");
    assert!(e["crb_ratio_median"].as_f64().unwrap() <= 1.3, "{e}");
    assert!(e["attribution_eligible"].as_u64().unwrap() > 0, "{e}");
    assert_eq!(e["attribution_accuracy"].as_f64().unwrap(), 1.0, "{e}");
    // Responsibility is never named wrongly.
    assert!(e["responsibility_eligible"].as_u64().unwrap() > 0, "{e}");
    assert_eq!(e["responsibility_wrong"], 0, "{e}");
    // And judged: every event after entry into force breaches the ceasefire.
    let findings = std::fs::read_to_string(out.join("findings.ndjson")).unwrap();
    assert!(findings.lines().count() >= e["fused_events"].as_u64().unwrap() as usize);

    // An auditor's mirror of the log (checkpoint and tiles, audited as written) replays
    // to the same digest with the server gone.
    let mirror = work.path().join("mirror");
    let saved = run(&[
        "verify",
        "--log",
        &server.url,
        "--key",
        key.to_str().unwrap(),
        "--full",
        "--save",
        mirror.to_str().unwrap(),
    ]);
    assert!(saved.contains("mirror: the checkpoint and "), "{saved}");
    let mut server = server;
    server.kill().await;
    let from_mirror = run(&[
        "replay",
        "--log",
        mirror.to_str().unwrap(),
        "--key",
        key.to_str().unwrap(),
        "--agreement",
        &agreement,
    ]);
    assert_eq!(digest(&from_mirror), digest(&first), "{from_mirror}");
    let audited = run(&[
        "verify",
        "--log",
        mirror.to_str().unwrap(),
        "--key",
        key.to_str().unwrap(),
        "--full",
    ]);
    assert!(
        audited.contains(&format!("at size {size} verified")),
        "{audited}"
    );
    assert!(audited.contains(&registry), "{audited}");
    // A tile missing from the mirror is named.
    let tile = std::fs::read_dir(mirror.join("tile/entries"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.is_file())
        .unwrap();
    std::fs::remove_file(&tile).unwrap();
    let broken = std::process::Command::new(common::truce_bin())
        .args(["verify", "--log", mirror.to_str().unwrap(), "--key"])
        .arg(&key)
        .arg("--full")
        .output()
        .unwrap();
    assert!(!broken.status.success());
    let said = String::from_utf8_lossy(&broken.stderr);
    assert!(said.contains("TILE tile/entries/"), "{said}");
}
