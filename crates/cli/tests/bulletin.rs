//! The daily bulletin through the real server, in the OSCE's terms: violations counted by
//! area (the sample agreement's monitoring sectors) and party and by kind of violation, as
//! `GET /v1/findings` gives them for the day; each finding's sector and area in the CSV and
//! GeoJSON; and the day's restrictions read from the log: an infrastructure outage
//! reported by a signed `infrastructure.status` observation, and a sensor revoked.

mod common;

use std::collections::BTreeMap;

use common::{Server, TOKEN, get_json, http, repo, run};
use ed25519_consensus::SigningKey;
use serde_json::{Value, json};
use truce_agreement::Agreement;
use truce_commission::bulletin;
use truce_model::envelope::encode_base64;
use truce_model::{Envelope, Finding, OBSERVATION_PAYLOAD_TYPE};

const DATE: &str = "2026-01-07";

/// An infrastructure sensor's signed status report of the Zaporizhzhia NPP's power.
fn status(key: &SigningKey, seq: u64, at: &str, status: &str, households: u64) -> Vec<u8> {
    let payload = serde_json::to_vec(&json!({
        "sensor": "ua-inf-001", "seq": seq, "observed_at": at,
        "kind": "infrastructure.status",
        "data": {"site_id": "zaporizhzhia-npp", "service": "power", "status": status,
                 "households_affected": households},
    }))
    .unwrap();
    let envelope = Envelope::signed(OBSERVATION_PAYLOAD_TYPE, &payload, "ua-inf-001", |m| {
        key.sign(m).to_bytes()
    });
    serde_json::to_vec(&envelope).unwrap()
}

async fn post(client: &reqwest::Client, url: String, body: Value) -> Value {
    let response = client
        .post(&url)
        .bearer_auth(TOKEN)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let value: Value = response.json().await.unwrap_or(Value::Null);
    assert!(status.is_success(), "POST {url}: {status} {value}");
    value
}

#[tokio::test]
async fn the_bulletin_counts_by_area_and_kind_and_lists_outages_and_revocations() {
    let work = tempfile::tempdir().unwrap();
    let sim = work.path().join("sim");
    // One MLRS launch from the RU side near Horlivka onto the UA side: fire across the
    // line, all in the Donetsk sector.
    let scenario = common::cross_line_scenario(work.path());
    let agreement_path = repo("examples/agreement/agreement.toml");
    run(&[
        "sim",
        "--scenario",
        scenario.to_str().unwrap(),
        "--seed",
        "7",
        "--out",
        sim.to_str().unwrap(),
    ]);
    let server = Server::start_with(
        &work.path().join("data"),
        100,
        &["--agreement", &agreement_path],
    )
    .await;
    let client = http();

    // The simulated sensors and their observations; an infrastructure sensor reporting the
    // plant's power out, then back; the sensor revoked.
    let sensors = common::simulated_sensors(&sim);
    for s in &sensors {
        post(&client, server.url("/v1/sensors"), s.clone()).await;
    }
    let envelopes = common::simulated_envelopes(&sim);
    for chunk in envelopes.chunks(200) {
        server.submit(&client, chunk).await.unwrap();
    }
    let key = SigningKey::from([42; 32]);
    let registration = json!({"id": "ua-inf-001", "kind": "infrastructure", "operator": "UA",
        "position": {"lat": 47.60, "lon": 34.70},
        "public_key": encode_base64(&key.verification_key().to_bytes())});
    post(&client, server.url("/v1/sensors"), registration).await;
    let reports = [
        status(&key, 1, "2026-01-07T14:00:00Z", "outage", 1200),
        status(&key, 2, "2026-01-07T18:30:00Z", "operational", 0),
    ];
    server.submit_all(&client, &reports).await;
    let response = client
        .delete(server.url("/v1/sensors/ua-inf-001"))
        .bearer_auth(TOKEN)
        .json(&json!({"reason": "key compromised"}))
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success());
    let revoked: Value = response.json().await.unwrap();
    let entry = format!("/v1/entries/{}", revoked["log_index"]);
    let entry = get_json(&client, &server.url(&entry)).await;
    let revoked_on = entry["record"]["revoked_at"].as_str().unwrap()[..10].to_string();

    // The results of the whole log.
    let size = get_json(&client, &server.url("/healthz")).await["log_size"]
        .as_u64()
        .unwrap();
    let wait = async {
        while get_json(&client, &server.url("/v1/results")).await["size"].as_u64() < Some(size) {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    };
    tokio::time::timeout(common::WAIT, wait).await.unwrap();

    let out = work.path().join("bulletin");
    run(&[
        "bulletin",
        "--date",
        DATE,
        "--url",
        &server.url,
        "--token",
        TOKEN,
        "--out",
        out.to_str().unwrap(),
    ]);
    let read =
        |format: &str| std::fs::read_to_string(out.join(format!("bulletin-{DATE}.{format}")));
    let summary: Value = serde_json::from_str(&read("json").unwrap()).unwrap();
    let day = get_json(
        &client,
        &server.url("/v1/findings?from=2026-01-07T00:00:00Z&to=2026-01-08T00:00:00Z&limit=10000"),
    )
    .await;
    let findings: Vec<Finding> = serde_json::from_value(day["findings"].clone()).unwrap();
    assert!(!findings.is_empty());
    assert_eq!(summary["findings"], findings.len());

    // By area and party, and by kind: the day's findings placed in the agreement's sectors.
    let agreement = Agreement::load(std::path::Path::new(&agreement_path)).unwrap();
    let mut by_area: BTreeMap<String, BTreeMap<String, usize>> = BTreeMap::new();
    let mut by_category: BTreeMap<&str, usize> = BTreeMap::new();
    for f in &findings {
        let area = bulletin::area(Some(&agreement), f);
        *by_area
            .entry(area)
            .or_default()
            .entry(bulletin::party(f))
            .or_default() += 1;
        *by_category.entry(bulletin::category(f)).or_default() += 1;
    }
    assert_eq!(summary["by_area"], json!(by_area));
    assert_eq!(summary["by_category"], json!(by_category));
    // The rounds' launches and impacts, all in the Donetsk sector and attributed to RU.
    assert_eq!(
        summary["by_area"]["Donetsk"]["RU"],
        findings.len(),
        "{summary}"
    );
    assert!(summary["by_category"]["launches"].as_u64() > Some(0));
    assert!(summary["by_category"]["explosions"].as_u64() > Some(0));
    let summed: u64 = summary["by_sector"]
        .as_object()
        .unwrap()
        .values()
        .map(|n| n.as_u64().unwrap())
        .sum();
    assert_eq!(summed, findings.len() as u64);

    // Each finding's sector and area in the CSV and the GeoJSON.
    let csv = read("csv").unwrap();
    let mut lines = csv.lines();
    assert!(lines.next().unwrap().ends_with(",category,sector,area"));
    assert!(lines.all(|l| l.ends_with(",donetsk,Donetsk")), "{csv}");
    let geojson: Value = serde_json::from_str(&read("geojson").unwrap()).unwrap();
    for feature in geojson["features"].as_array().unwrap() {
        assert_eq!(feature["properties"]["area"], "Donetsk");
    }

    // The outage, named and placed by the agreement's site; the operational report is not
    // one.
    let outages = summary["outages"].as_array().unwrap();
    assert_eq!(outages.len(), 1, "{outages:?}");
    let outage = &outages[0];
    assert_eq!(outage["site"], "zaporizhzhia-npp");
    assert_eq!(
        outage["site_name"],
        agreement.site("zaporizhzhia-npp").unwrap().name
    );
    assert_eq!(outage["area"], "Zaporizhzhia");
    assert_eq!(outage["status"], "outage");
    assert_eq!(outage["households_affected"], 1200);
    assert_eq!(outage["at"], "2026-01-07T14:00:00Z");
    let html = read("html").unwrap();
    assert!(html.contains("<h2>By area and party</h2>"));
    assert!(html.contains("<td>Donetsk</td>"));
    assert!(html.contains("<td>power</td><td>outage</td><td>1200</td>"));

    // The revocation, in the bulletin of its day.
    let of_revocation = if revoked_on == DATE {
        summary
    } else {
        let published = post(
            &client,
            server.url("/v1/bulletins"),
            json!({"date": revoked_on}),
        )
        .await;
        published["bulletin"].clone()
    };
    let revocations = of_revocation["revocations"].as_array().unwrap();
    assert_eq!(revocations.len(), 1, "{of_revocation}");
    assert_eq!(revocations[0]["sensor"], "ua-inf-001");
    assert_eq!(revocations[0]["kind"], "infrastructure");
    assert_eq!(revocations[0]["operator"], "UA");
    assert_eq!(revocations[0]["reason"], "key compromised");
}
