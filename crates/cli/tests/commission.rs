//! The Commission through the real server: accounts and roles (every Commission route
//! refuses a missing token and a wrong role, and changes nothing), a review that verifies
//! an attributed cross-line attack and opens exactly the escalations whose triggers match (an
//! activation, and a consultation notice for a commitment not yet ratified), a ruling
//! adopted at the quorum with dissent on record, an acknowledgement that stops the clock,
//! allegations cross-checked against the events, and the whole chain — observation, event,
//! finding, review, ruling, escalation, acknowledgement — rebuilt from the log alone.

mod common;

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use common::{Server, TOKEN, free_port, get_json, http, repo, run, truce_bin};
use ed25519_consensus::VerificationKey;
use serde_json::{Value, json};
use truce_commission::{Commission, EscalationKind, Guarantees, Vote};
use truce_ledger::NoteVerifier;
use truce_model::{Entry, EntryKind, VerificationState};

/// The simulated hour a test runs on, and the finding it takes up.
#[derive(Clone, Copy)]
enum Hour {
    /// The sparse hour: an RU-attributed `no_fire` finding.
    Sparse,
    /// the cross-line scenario (`common::cross_line_scenario`): its RU-attributed `cross_line_fire` finding.
    CrossLine,
}

const GUARANTEES: &str = r#"
[guarantees]
id = "test-guarantees"
title = "Guarantees for the Commission test"
agreement = "sample-ceasefire-2026"

[commission]
members = 3
quorum = 2

[[guarantors]]
country = "GB"
name = "United Kingdom"
role = "force"

[[guarantors]]
country = "FR"
name = "France"
role = "force"

[[guarantors]]
country = "US"
name = "United States"
role = "backstop"

[[commitments]]
id = "gb-attack"
guarantor = "GB"
instrument = "test"
legal_force = "test"
ratification = "ratified"
activation = "always"
responses = ["intelligence", "consultation"]
obligations = ["consult within 24 h", "decide within 72 h"]
[commitments.trigger]
rules = ["cross_line_fire"]
min_severity = "high"
state = "verified"
attribution_required = true
determined_by = "analysts"

[[commitments]]
id = "fr-attack"
guarantor = "FR"
instrument = "test"
legal_force = "test"
ratification = "submitted"
activation = "always"
responses = ["consultation"]
obligations = ["consult within 24 h"]
[commitments.trigger]
rules = ["cross_line_fire"]
min_severity = "high"
state = "verified"
attribution_required = true
determined_by = "analysts"

[[commitments]]
id = "gb-sites"
guarantor = "GB"
instrument = "test"
legal_force = "test"
ratification = "ratified"
activation = "always"
responses = ["intelligence"]
obligations = ["consult within 24 h"]
[commitments.trigger]
rules = ["protected_site_strike"]
min_severity = "critical"
state = "verified"
attribution_required = false
determined_by = "analysts"

[[commitments]]
id = "us-ruled"
guarantor = "US"
instrument = "test"
legal_force = "test"
ratification = "in_force"
activation = "always"
responses = ["sanctions", "consultation"]
obligations = ["consult within 24 h"]
[commitments.trigger]
rules = ["cross_line_fire"]
min_severity = "high"
state = "ruled"
attribution_required = true
determined_by = "commission"

# Engaged by verified no_fire findings only (the policy test).
[[commitments]]
id = "fr-fire"
guarantor = "FR"
instrument = "test"
legal_force = "test"
ratification = "ratified"
activation = "always"
responses = ["consultation"]
obligations = ["consult within 24 h"]
[commitments.trigger]
rules = ["no_fire"]
min_severity = "medium"
state = "verified"
attribution_required = true
determined_by = "analysts"
"#;

struct Api {
    base: String,
    client: reqwest::Client,
}

impl Api {
    fn new(base: &str, client: reqwest::Client) -> Self {
        Self {
            base: base.to_string(),
            client,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut request = self.client.request(method.parse().unwrap(), self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn ok(&self, method: &str, path: &str, token: &str, body: Option<Value>) -> Value {
        let (status, value) = self.call(method, path, Some(token), body).await;
        assert!(
            (200..300).contains(&status),
            "{method} {path}: {status} {value}"
        );
        value
    }

    async fn size(&self) -> u64 {
        get_json(&self.client, &self.url("/healthz")).await["log_size"]
            .as_u64()
            .unwrap()
    }

    async fn account(&self, id: &str, role: &str, binding: Option<(&str, &str)>) -> String {
        let mut body = json!({"id": id, "name": format!("{id} (test)"), "role": role});
        if let Some((k, v)) = binding {
            body[k] = json!(v);
        }
        let created = self.ok("POST", "/v1/accounts", TOKEN, Some(body)).await;
        created["token"].as_str().unwrap().to_string()
    }
}

/// A server judging against the sample agreement under `guarantees`, fed the sparse
/// scenario (seed 7) until its results cover the whole log, and an attributed `no_fire`
/// finding of it.
struct Setup {
    work: tempfile::TempDir,
    data: std::path::PathBuf,
    agreement: String,
    guarantees_file: std::path::PathBuf,
    server: Server,
    finding: Value,
}

/// Registers the simulated sensors, submits the observations, waits for the results of
/// the whole log; the RU-attributed finding `hour` takes up.
async fn feed(api: &Api, sim: &Path, hour: Hour) -> Value {
    let (clause, rule) = match hour {
        Hour::Sparse => ("1", "no_fire"),
        Hour::CrossLine => ("2", "cross_line_fire"),
    };
    let sensors = common::simulated_sensors(sim);
    for s in &sensors {
        api.ok("POST", "/v1/sensors", TOKEN, Some(s.clone())).await;
    }
    let envelopes = common::simulated_envelopes(sim);
    for chunk in envelopes.chunks(200) {
        common::submit(&api.client, &api.base, chunk).await.unwrap();
    }
    let observed = api.size().await;
    let mut findings = Value::Null;
    for _ in 0..600 {
        let results = get_json(&api.client, &api.url("/v1/results")).await;
        if results["size"].as_u64() >= Some(observed) {
            let query = format!("/v1/findings?party=RU&clause={clause}");
            findings = get_json(&api.client, &api.url(&query)).await;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let finding = findings["findings"][0].clone();
    assert!(
        finding["id"].is_string(),
        "an attributed {rule} finding: {findings}"
    );
    assert_eq!(finding["rule"], rule);
    assert_eq!(finding["attribution"]["party"], "RU");
    finding
}

/// A work directory with `hour` simulated (seed 7) in `sim` and `guarantees` written to
/// a file.
fn prepare(
    hour: Hour,
    guarantees: &str,
) -> (tempfile::TempDir, std::path::PathBuf, std::path::PathBuf) {
    let work = tempfile::tempdir().unwrap();
    let sim = work.path().join("sim");
    let scenario = match hour {
        Hour::Sparse => repo("examples/scenarios/sparse.toml"),
        Hour::CrossLine => common::cross_line_scenario(work.path())
            .display()
            .to_string(),
    };
    run(&[
        "sim",
        "--scenario",
        &scenario,
        "--seed",
        "7",
        "--out",
        sim.to_str().unwrap(),
    ]);
    let guarantees_file = work.path().join("guarantees.toml");
    std::fs::write(&guarantees_file, guarantees).unwrap();
    (work, sim, guarantees_file)
}

/// A server judging against the sample agreement under `guarantees`, with the flags
/// `extra` gives for the simulation's directory; `hour` simulated (in `sim`), not yet fed.
async fn start(
    hour: Hour,
    guarantees: &str,
    extra: impl FnOnce(&Path) -> Vec<String>,
) -> (
    tempfile::TempDir,
    std::path::PathBuf,
    std::path::PathBuf,
    Server,
) {
    let (work, sim, guarantees_file) = prepare(hour, guarantees);
    let mut args = vec![
        "--agreement".to_string(),
        repo("examples/agreement/agreement.toml"),
        "--guarantees".to_string(),
        guarantees_file.display().to_string(),
    ];
    args.extend(extra(&sim));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let server = Server::start_with(&work.path().join("data"), 100, &args).await;
    (work, sim, guarantees_file, server)
}

async fn setup(hour: Hour, guarantees: &str, extra: &[&str]) -> Setup {
    let extra: Vec<String> = extra.iter().map(|a| a.to_string()).collect();
    let (work, sim, guarantees_file, server) = start(hour, guarantees, |_| extra).await;
    let data = work.path().join("data");
    let agreement = repo("examples/agreement/agreement.toml");
    let finding = feed(&Api::new(&server.url, http()), &sim, hour).await;
    Setup {
        work,
        data,
        agreement,
        guarantees_file,
        server,
        finding,
    }
}

#[tokio::test]
async fn the_commission_from_review_to_acknowledgement_and_back_from_the_log() {
    let Setup {
        work,
        data,
        agreement,
        server,
        finding,
        ..
    } = setup(Hour::CrossLine, GUARANTEES, &[]).await;
    let api = Api::new(&server.url, http());
    let finding_id = finding["id"].as_str().unwrap().to_string();

    // Accounts: each token is shown once.
    let analyst = api.account("an-1", "analyst", None).await;
    let li_ua = api.account("li-ua", "liaison", Some(("party", "UA"))).await;
    let commissioners = [
        api.account("co-1", "commissioner", None).await,
        api.account("co-2", "commissioner", None).await,
        api.account("co-3", "commissioner", None).await,
    ];
    let gu_gb = api
        .account("gu-gb", "guarantor", Some(("country", "GB")))
        .await;
    let gu_us = api
        .account("gu-us", "guarantor", Some(("country", "US")))
        .await;
    let auditor = api.account("au-1", "auditor", None).await;
    let (status, _) = api
        .call(
            "POST",
            "/v1/accounts",
            Some(&analyst),
            Some(json!({"id": "x", "name": "x", "role": "analyst"})),
        )
        .await;
    assert_eq!(status, 403);

    // Every Commission route: no token 401, a wrong role 403, and nothing logged.
    let review = format!("/v1/findings/{finding_id}/review");
    let allegation = json!({"party": "UA", "against": "RU", "summary": "shelling",
        "category": "shelling", "position": finding["location"], "position_sigma_m": 300.0,
        "event_time": finding["time"], "time_sigma_s": 60.0});
    let routes: Vec<(&str, String, Option<Value>, Option<&str>)> = vec![
        ("GET", "/v1/accounts".into(), None, None),
        ("POST", "/v1/actions".into(), Some(json!({})), None),
        (
            "POST",
            "/v1/sensors".into(),
            Some(json!({})),
            Some(&analyst),
        ),
        (
            "DELETE",
            "/v1/sensors/ua-ac-001".into(),
            None,
            Some(&auditor),
        ),
        ("POST", "/v1/blobs".into(), Some(json!({})), None),
        ("GET", format!("/v1/blobs/{}", "0".repeat(64)), None, None),
        (
            "POST",
            "/v1/accounts".into(),
            Some(json!({"id": "y", "name": "y", "role": "auditor"})),
            Some(&auditor),
        ),
        (
            "DELETE",
            "/v1/accounts/an-1".into(),
            Some(json!({"reason": "r"})),
            Some(&auditor),
        ),
        (
            "POST",
            "/v1/accounts/an-1/tokens".into(),
            None,
            Some(&auditor),
        ),
        (
            "PUT",
            "/v1/policy".into(),
            Some(json!({"min_operators": 2, "min_modalities": 1})),
            Some(&analyst),
        ),
        ("GET", "/v1/review/queue".into(), None, None),
        (
            "POST",
            review.clone(),
            Some(json!({"verdict": "verify"})),
            Some(&li_ua),
        ),
        ("GET", "/v1/allegations".into(), None, None),
        (
            "POST",
            "/v1/allegations".into(),
            Some(allegation.clone()),
            Some(&analyst),
        ),
        (
            "POST",
            "/v1/allegations/1/review".into(),
            Some(json!({"verdict": "verify"})),
            Some(&li_ua),
        ),
        ("GET", "/v1/rulings".into(), None, None),
        (
            "POST",
            "/v1/rulings".into(),
            Some(
                json!({"findings": [finding_id], "attribution": "RU", "intent": "unknown", "remedy": "r"}),
            ),
            Some(&li_ua),
        ),
        (
            "POST",
            "/v1/rulings/1/votes".into(),
            Some(json!({"vote": "concur"})),
            Some(&analyst),
        ),
        ("GET", "/v1/escalations".into(), None, None),
        ("GET", "/v1/results".into(), None, None),
        ("GET", "/v1/events".into(), None, None),
        ("GET", "/v1/findings".into(), None, None),
        ("GET", "/v1/stream".into(), None, None),
        ("POST", "/v1/escalations/1/ack".into(), None, Some(&li_ua)),
        (
            "POST",
            "/v1/bulletins".into(),
            Some(json!({"date": "2026-01-07"})),
            Some(&analyst),
        ),
        (
            "POST",
            "/v1/escalations/1/respond".into(),
            Some(json!({"measures": ["consultation"]})),
            Some(&auditor),
        ),
    ];
    let before = api.size().await;
    for (method, path, body, wrong) in &routes {
        let (status, problem) = api.call(method, path, None, body.clone()).await;
        assert_eq!(status, 401, "{method} {path} without a token: {problem}");
        let (status, _) = api
            .call(method, path, Some("not-a-token"), body.clone())
            .await;
        assert_eq!(status, 401, "{method} {path} with a bad token");
        if let Some(wrong) = wrong {
            let (status, problem) = api.call(method, path, Some(wrong), body.clone()).await;
            assert_eq!(status, 403, "{method} {path} by the wrong role: {problem}");
        }
    }
    // A liaison of one party cannot file as the other.
    let mut as_ru = allegation.clone();
    as_ru["party"] = json!("RU");
    as_ru["against"] = json!("UA");
    let (status, _) = api
        .call("POST", "/v1/allegations", Some(&li_ua), Some(as_ru))
        .await;
    assert_eq!(status, 403);
    assert_eq!(api.size().await, before, "refused actions log nothing");

    // Another token for an account is logged with who issued it (not the token), and works.
    let issued = api
        .ok("POST", "/v1/accounts/li-ua/tokens", TOKEN, None)
        .await;
    let index = issued["log_index"].as_u64().unwrap();
    let entry = get_json(&api.client, &server.url(&format!("/v1/entries/{index}"))).await;
    assert_eq!(entry["action"]["action"], "token_issue");
    assert_eq!(entry["action"]["account"], "li-ua");
    assert_eq!(entry["action"]["actor"], "admin");
    let second = issued["token"].as_str().unwrap();
    assert!(
        !entry.to_string().contains(second),
        "the token is not logged"
    );
    api.ok("GET", "/v1/findings", second, None).await;
    let accounts = api.ok("GET", "/v1/accounts", TOKEN, None).await;
    let li_ua_record = accounts
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["account"]["id"] == "li-ua")
        .unwrap();
    assert_eq!(li_ua_record["tokens_issued"][0]["index"], index);

    // A person with a key of their own signs their actions; the server will not sign for
    // them, takes a signed action once, and refuses one signed by another key.
    let own = ed25519_consensus::SigningKey::from([42u8; 32]);
    let public_key = truce_model::envelope::encode_base64(&own.verification_key().to_bytes());
    let created = api
        .ok(
            "POST",
            "/v1/accounts",
            TOKEN,
            Some(
                json!({"id": "an-k", "name": "an-k (test)", "role": "analyst",
                "public_key": public_key}),
            ),
        )
        .await;
    let an_k = created["token"].as_str().unwrap().to_string();
    let (status, _) = api
        .call(
            "POST",
            &review,
            Some(&an_k),
            Some(json!({"verdict": "under_review"})),
        )
        .await;
    assert_eq!(
        status, 401,
        "the server does not sign for an account with a key"
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as i64;
    let payload = serde_json::to_vec(&json!({"actor": "an-k",
        "at": truce_model::Timestamp::from_unix_nanos(now), "action": "review",
        "finding": finding_id, "verdict": "under_review"}))
    .unwrap();
    let seal = |key: &ed25519_consensus::SigningKey| {
        let e = truce_model::envelope::Envelope::signed(
            truce_commission::ACTION_PAYLOAD_TYPE,
            &payload,
            "an-k",
            |m| key.sign(m).to_bytes(),
        );
        serde_json::to_value(e).unwrap()
    };
    let forged = seal(&ed25519_consensus::SigningKey::from([43u8; 32]));
    let (status, _) = api
        .call("POST", "/v1/actions", Some(&an_k), Some(forged))
        .await;
    assert_eq!(status, 401);
    let (status, _) = api
        .call("POST", "/v1/actions", Some(&analyst), Some(seal(&own)))
        .await;
    assert_eq!(status, 403, "the token is not the actor's");
    api.ok("POST", "/v1/actions", &an_k, Some(seal(&own))).await;
    let (status, _) = api
        .call("POST", "/v1/actions", Some(&an_k), Some(seal(&own)))
        .await;
    assert_eq!(status, 409, "a signed action is taken once");

    // The analyst verifies: exactly the verified triggers that match.
    let verified = api
        .ok(
            "POST",
            &review,
            &analyst,
            Some(json!({"verdict": "verify"})),
        )
        .await;
    assert_eq!(
        verified["escalations"].as_array().unwrap().len(),
        2,
        "{verified}"
    );
    let board = api.ok("GET", "/v1/escalations", &auditor, None).await;
    let opened: Vec<(String, String)> = board["escalations"]
        .as_object()
        .unwrap()
        .values()
        .map(|e| {
            (
                e["escalation"]["commitment"].as_str().unwrap().to_string(),
                e["escalation"]["kind"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        opened,
        [
            ("gb-attack".to_string(), "activation".to_string()),
            ("fr-attack".to_string(), "consultation".to_string())
        ]
    );
    let served = get_json(&api.client, &server.url("/v1/findings?state=verified")).await;
    assert_eq!(served["findings"][0]["id"], finding_id.as_str());

    // A ruling: proposed, one dissent, adopted by the second concurrence. It names a party
    // to the agreement (or none, for undetermined), nobody else.
    let before = api.size().await;
    let (status, problem) = api
        .call(
            "POST",
            "/v1/rulings",
            Some(&commissioners[0]),
            Some(
                json!({"findings": [finding_id], "attribution": "Ru", "intent": "unknown",
                "remedy": "r"}),
            ),
        )
        .await;
    assert_eq!(
        (status, &problem["field"]),
        (422, &json!("attribution")),
        "{problem}"
    );
    assert_eq!(api.size().await, before);
    let proposal = json!({"findings": [finding_id], "attribution": "RU", "intent": "unknown",
        "remedy": "cease fire from the position"});
    let proposed = api
        .ok("POST", "/v1/rulings", &commissioners[0], Some(proposal))
        .await;
    let ruling = proposed["log_index"].as_u64().unwrap();
    assert!(proposed["escalations"].as_array().unwrap().is_empty());
    let votes = format!("/v1/rulings/{ruling}/votes");
    let dissent = api
        .ok(
            "POST",
            &votes,
            &commissioners[1],
            Some(json!({"vote": "dissent", "reason": "intent not shown"})),
        )
        .await;
    assert!(dissent["escalations"].as_array().unwrap().is_empty());
    let adopted = api
        .ok(
            "POST",
            &votes,
            &commissioners[2],
            Some(json!({"vote": "concur"})),
        )
        .await;
    assert_eq!(
        adopted["escalations"].as_array().unwrap().len(),
        1,
        "{adopted}"
    );
    let (status, _) = api
        .call(
            "POST",
            &votes,
            Some(&commissioners[2]),
            Some(json!({"vote": "concur"})),
        )
        .await;
    assert_eq!(status, 409, "one vote each");

    // The acknowledgement stops GB's consultation clock; the US cannot answer for GB.
    let gb = verified["escalations"][0].as_u64().unwrap();
    let ack = format!("/v1/escalations/{gb}/ack");
    let (status, _) = api.call("POST", &ack, Some(&gu_us), None).await;
    assert_eq!(status, 403);
    api.ok(
        "POST",
        &ack,
        &gu_gb,
        Some(json!({"note": "consultations convened"})),
    )
    .await;
    let board = api.ok("GET", "/v1/escalations", &gu_gb, None).await;
    let statuses: Vec<(u64, String, String)> = board["deadlines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["escalation"].as_u64().unwrap(),
                d["action"].as_str().unwrap().to_string(),
                d["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(
        statuses.contains(&(gb, "consult".into(), "met".into())),
        "{statuses:?}"
    );
    assert!(
        statuses.contains(&(gb, "decide".into(), "running".into())),
        "{statuses:?}"
    );

    // Allegations: one where the finding's event is (with a photo as evidence, stored by
    // its hash), one where nothing happened.
    let photo = b"\x89PNG a crater in the schoolyard".to_vec();
    let stored = api
        .client
        .post(api.url("/v1/blobs"))
        .bearer_auth(&li_ua)
        .body(photo.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(stored.status().as_u16(), 201);
    let stored: Value = stored.json().await.unwrap();
    let sha256 = stored["sha256"].as_str().unwrap().to_string();
    let fetched = api
        .client
        .get(api.url(&format!("/v1/blobs/{sha256}")))
        .bearer_auth(&auditor)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(fetched.to_vec(), photo);
    let mut unknown_evidence = allegation.clone();
    unknown_evidence["evidence"] = json!([{"sha256": "0".repeat(64), "media_type": "image/png"}]);
    let (status, _) = api
        .call(
            "POST",
            "/v1/allegations",
            Some(&li_ua),
            Some(unknown_evidence),
        )
        .await;
    assert_eq!(status, 422, "evidence must be uploaded first");
    let mut allegation = allegation.clone();
    allegation["evidence"] = json!([{"sha256": sha256, "media_type": "image/png"}]);
    let filed = api
        .ok("POST", "/v1/allegations", &li_ua, Some(allegation.clone()))
        .await;
    // The impact was heard by other operators' sensors and its origin lies on RU's side,
    // as alleged.
    assert_eq!(filed["assessment"]["outcome"], "corroborated", "{filed}");
    assert!(filed["assessment"]["contradicts"].is_null(), "{filed}");
    assert!(
        filed["assessment"]["events"]
            .as_array()
            .unwrap()
            .contains(&finding["event"]),
        "{filed}"
    );
    let mut nowhere = allegation.clone();
    nowhere["position"] = json!({"lat": 50.45, "lon": 30.52});
    // The check names the results it read (of the log before the allegation), for anyone
    // to redo it.
    let read = &filed["assessment"]["results"];
    assert!(
        read["size"]
            .as_u64()
            .is_some_and(|s| s <= filed["log_index"].as_u64().unwrap()),
        "{filed}"
    );
    assert_eq!(read["digest"].as_str().map(str::len), Some(64), "{filed}");
    let supported = filed["log_index"].as_u64().unwrap();
    let filed = api
        .ok("POST", "/v1/allegations", &li_ua, Some(nowhere))
        .await;
    assert_eq!(filed["assessment"]["outcome"], "not_corroborated");
    // No sensor listens near Kyiv: the silence neither supports nor contradicts it.
    assert!(filed["assessment"]["contradicts"].is_null(), "{filed}");
    assert!(
        filed["assessment"]["detail"]
            .as_str()
            .unwrap()
            .contains("neither supports nor contradicts"),
        "{filed}"
    );
    let unsupported = filed["log_index"].as_u64().unwrap();
    // Both wait in the review queue with their cross-checks; an analyst verifies the one
    // the sensors support and discounts the other, and the queue is clear of them.
    let queued = |queue: &Value| -> Vec<u64> {
        queue["allegations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["index"].as_u64().unwrap())
            .collect()
    };
    let queue = api.ok("GET", "/v1/review/queue", &analyst, None).await;
    assert_eq!(queued(&queue), [supported, unsupported], "{queue}");
    assert!(queue["allegations"][0]["allegation"]["assessment"].is_array());
    for (index, verdict) in [
        (supported, json!({"verdict": "verify"})),
        (
            unsupported,
            json!({"verdict": "discount", "reason": "no sensor heard anything there"}),
        ),
    ] {
        let path = format!("/v1/allegations/{index}/review");
        let (status, problem) = api
            .call("POST", &path, Some(&li_ua), Some(verdict.clone()))
            .await;
        assert_eq!(status, 403, "a liaison does not review: {problem}");
        api.ok("POST", &path, &analyst, Some(verdict)).await;
    }
    let queue = api.ok("GET", "/v1/review/queue", &analyst, None).await;
    assert!(queued(&queue).is_empty(), "{queue}");
    let all = api.ok("GET", "/v1/allegations", &analyst, None).await;
    assert_eq!(
        all[supported.to_string()]["reviews"][0]["state"],
        "verified"
    );
    assert_eq!(
        all[unsupported.to_string()]["reviews"][0]["state"],
        "discounted"
    );

    // Allegations the evidence contradicts. The same shelling alleged an hour earlier, when
    // the sensors around the place (of several operators) heard nothing there:
    let mut quiet = allegation.clone();
    let time = truce_model::Timestamp::parse(finding["time"].as_str().unwrap()).unwrap();
    quiet["event_time"] = json!(time.plus_nanos(-3_600_000_000_000).to_string());
    let filed = api.ok("POST", "/v1/allegations", &li_ua, Some(quiet)).await;
    assert_eq!(
        filed["assessment"]["outcome"], "not_corroborated",
        "{filed}"
    );
    let why = filed["assessment"]["contradicts"]
        .as_str()
        .unwrap_or_default();
    assert!(why.contains("located nothing there"), "{filed}");
    assert!(
        filed["assessment"]["coverage"].as_array().unwrap().len() >= 3,
        "{filed}"
    );
    // And RU's liaison alleging that UA fired that round: the impact is confirmed, but the
    // findings attribute its origin to RU.
    let li_ru = api.account("li-ru", "liaison", Some(("party", "RU"))).await;
    let mut blamed = allegation.clone();
    blamed["party"] = json!("RU");
    blamed["against"] = json!("UA");
    let filed = api
        .ok("POST", "/v1/allegations", &li_ru, Some(blamed))
        .await;
    assert_eq!(filed["assessment"]["outcome"], "corroborated", "{filed}");
    let why = filed["assessment"]["contradicts"]
        .as_str()
        .unwrap_or_default();
    assert!(why.contains("to RU, not UA"), "{filed}");

    // The whole chain from the log alone: every entry, the actions folded with only the
    // log's public key (the guarantees too come from the log: the server logged the file
    // it loaded before any action), the findings recomputed by `truce replay`.
    let size = api.size().await;
    server.wait_checkpoint(&api.client, size).await;
    let key =
        VerificationKey::try_from(NoteVerifier::from_vkey(&server.vkey).unwrap().public_key())
            .unwrap();
    let mut commission = Commission::new(Guarantees::none("sample-ceasefire-2026"));
    let mut observations = std::collections::BTreeSet::new();
    for index in 0..size {
        let entry = get_json(&api.client, &server.url(&format!("/v1/entries/{index}"))).await;
        let bytes = truce_model::envelope::decode_base64(entry["entry"].as_str().unwrap()).unwrap();
        let entry = Entry::decode(&bytes).unwrap();
        match entry.kind {
            EntryKind::Action => {
                commission.apply_entry(index, entry.body, &key).unwrap();
            }
            EntryKind::Observation => {
                observations.insert(index);
            }
            _ => {}
        }
    }
    assert_eq!(commission.logged_guarantees(), Some(GUARANTEES));
    let replayed = work.path().join("replayed");
    run(&[
        "replay",
        "--log",
        &server.url,
        "--key",
        data.join("log.vkey").to_str().unwrap(),
        "--agreement",
        &agreement,
        "--out",
        replayed.to_str().unwrap(),
    ]);
    let recomputed: Vec<Value> = std::fs::read_to_string(replayed.join("findings.ndjson"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let f = recomputed
        .iter()
        .find(|f| f["id"] == finding_id.as_str())
        .expect("the finding, recomputed");
    let evidence = f["observations"].as_array().unwrap();
    assert!(!evidence.is_empty());
    assert!(
        evidence
            .iter()
            .all(|i| observations.contains(&i.as_u64().unwrap()))
    );
    // The layer below the finding: its event, recomputed, rests on those observations.
    let event = std::fs::read_to_string(replayed.join("events.ndjson"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|e| e["id"] == f["event"])
        .expect("the finding's event, recomputed");
    assert_eq!(event["id"], finding["event"]);
    assert!(
        evidence
            .iter()
            .all(|i| event["observations"].as_array().unwrap().contains(i)),
        "{event}"
    );
    assert_eq!(
        commission.state_of(&finding_id),
        VerificationState::Verified
    );
    let history: Vec<(&str, truce_commission::Signer, VerificationState)> = commission
        .history(&finding_id)
        .iter()
        .map(|r| (r.stamp.actor.as_str(), r.stamp.signer, r.state))
        .collect();
    assert_eq!(
        history,
        [
            (
                "an-k",
                truce_commission::Signer::Actor,
                VerificationState::UnderReview
            ),
            (
                "an-1",
                truce_commission::Signer::Server,
                VerificationState::Verified
            ),
        ]
    );
    let r = &commission.rulings()[&ruling];
    assert_eq!(r.findings, std::slice::from_ref(&finding_id));
    let votes: Vec<(&str, Vote)> = r
        .votes
        .iter()
        .map(|v| (v.stamp.actor.as_str(), v.vote))
        .collect();
    assert_eq!(
        votes,
        [
            ("co-1", Vote::Concur),
            ("co-2", Vote::Dissent),
            ("co-3", Vote::Concur)
        ]
    );
    assert!(r.adopted.is_some());
    // The layer above: the escalations the verification opened name the finding, the one
    // the ruling opened names the ruling and its findings.
    for e in commission.escalations().values() {
        let e = &e.escalation;
        match e.ruling {
            Some(index) => assert_eq!((index, &e.findings), (ruling, &vec![finding_id.clone()])),
            None => assert_eq!(e.finding.as_ref(), Some(&finding_id)),
        }
    }
    let kinds: Vec<(&str, EscalationKind)> = commission
        .escalations()
        .values()
        .map(|e| (e.escalation.commitment.as_str(), e.escalation.kind))
        .collect();
    assert_eq!(
        kinds,
        [
            ("gb-attack", EscalationKind::Activation),
            ("fr-attack", EscalationKind::Consultation),
            ("us-ruled", EscalationKind::Activation)
        ]
    );
    let acknowledged = commission.escalations()[&gb].acknowledged.as_ref().unwrap();
    assert_eq!(acknowledged.stamp.actor, "gu-gb");
    assert_eq!(commission.allegations().len(), 4);
    // The server's own view agrees with the auditor's.
    let served = api.ok("GET", "/v1/rulings", &auditor, None).await;
    assert_eq!(
        served[ruling.to_string()]["votes"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
}

/// What a webhook receiver saw: per request, its idempotency key, signature header and
/// body.
type Seen = std::sync::Arc<std::sync::Mutex<Vec<(String, String, Vec<u8>)>>>;

/// A minimal HTTP/1.1 receiver on `port` that records every POST and answers 200.
async fn receiver(port: u16) -> Seen {
    receiver_answering(port, Arc::new(AtomicBool::new(true))).await
}

/// A receiver that records each request and answers it only while `answer` holds; until
/// then it keeps the connection open without a word (a delivery the sender cannot know
/// arrived).
async fn receiver_answering(port: u16, answer: Arc<AtomicBool>) -> Seen {
    // The port was free when it was chosen; another test's outgoing connection may hold it
    // for a moment since.
    let mut tries = 0;
    let listener = loop {
        match tokio::net::TcpListener::bind(("127.0.0.1", port)).await {
            Ok(listener) => break listener,
            Err(e) if tries < 50 => {
                tries += 1;
                eprintln!("receiver on {port}: {e}; trying again");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            Err(e) => panic!("receiver on {port}: {e}"),
        }
    };
    receiver_on(listener, answer)
}

/// A receiver on a listener already bound.
fn receiver_on(listener: tokio::net::TcpListener, answer: Arc<AtomicBool>) -> Seen {
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
    let seen: Seen = Default::default();
    let record = seen.clone();
    tokio::spawn(async move {
        loop {
            let Ok((socket, _)) = listener.accept().await else {
                return;
            };
            let record = record.clone();
            let answer = answer.clone();
            tokio::spawn(async move {
                let mut reader = BufReader::new(socket);
                let mut headers = Vec::new();
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).await.unwrap_or(0) == 0 {
                        return;
                    }
                    if line == "\r\n" {
                        break;
                    }
                    headers.push(line.trim_end().to_string());
                }
                let header = |name: &str| {
                    headers
                        .iter()
                        .find_map(|h| {
                            let (k, v) = h.split_once(':')?;
                            k.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
                        })
                        .unwrap_or_default()
                };
                let length: usize = header("content-length").parse().unwrap_or(0);
                let mut body = vec![0; length];
                reader.read_exact(&mut body).await.unwrap();
                record.lock().unwrap().push((
                    header("idempotency-key"),
                    header("truce-signature"),
                    body,
                ));
                if !answer.load(Ordering::SeqCst) {
                    // Hold the connection open, unanswered, for as long as the sender waits.
                    std::future::pending::<()>().await;
                }
                let _ = reader
                    .into_inner()
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                    .await;
            });
        }
    });
    seen
}

/// Webhook retries fast enough for a test.
const FAST_WEBHOOKS: [&str; 4] = ["--webhook-poll-ms", "50", "--webhook-retry-base-ms", "100"];

/// The cross-line hour under guarantees whose GB and FR commitments notify a receiver on
/// `port`, its finding verified by an analyst: the setup, and the escalations the
/// verification opened (GB's, then FR's).
async fn verified_with_webhook(port: u16) -> (Setup, Vec<u64>) {
    let hook = format!("http://127.0.0.1:{port}/hook");
    let guarantees = GUARANTEES.replace(
        "role = \"force\"\n",
        &format!("role = \"force\"\nwebhook = \"{hook}\"\n"),
    );
    let setup = setup(Hour::CrossLine, &guarantees, &FAST_WEBHOOKS).await;
    let api = Api::new(&setup.server.url, http());
    let analyst = api.account("an-1", "analyst", None).await;
    let review = format!(
        "/v1/findings/{}/review",
        setup.finding["id"].as_str().unwrap()
    );
    let verified = api
        .ok(
            "POST",
            &review,
            &analyst,
            Some(json!({"verdict": "verify"})),
        )
        .await;
    let opened: Vec<u64> = verified["escalations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    assert_eq!(opened.len(), 2, "GB and FR, both with the webhook");
    (setup, opened)
}

/// Starts the server of `setup` again, on its data, agreement and guarantees.
async fn restart(setup: &Setup) -> Server {
    let flags: Vec<&str> = [
        "--agreement",
        &setup.agreement,
        "--guarantees",
        setup.guarantees_file.to_str().unwrap(),
    ]
    .into_iter()
    .chain(FAST_WEBHOOKS)
    .collect();
    Server::start_with(&setup.data, 100, &flags).await
}

#[tokio::test]
async fn notifications_survive_a_kill_and_arrive_once_per_receiver() {
    // The guarantors' receiver is not listening yet: deliveries fail and wait in the outbox.
    let port = free_port();
    let (mut setup, opened) = verified_with_webhook(port).await;
    let client = http();
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    setup.server.kill().await;

    // The receiver comes up; the restarted server delivers what was waiting.
    let seen = receiver(port).await;
    let mut server = restart(&setup).await;
    let expected = [
        format!("escalation-{}-GB", opened[0]),
        format!("escalation-{}-FR", opened[1]),
    ];
    let keys = || {
        let mut k: Vec<String> = seen.lock().unwrap().iter().map(|s| s.0.clone()).collect();
        k.sort();
        k.dedup();
        k
    };
    for _ in 0..200 {
        if keys().len() == 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let mut want = expected.to_vec();
    want.sort();
    assert_eq!(keys(), want);
    // Each body is signed with the log's key and names its escalation.
    let verifier = NoteVerifier::from_vkey(&server.vkey).unwrap();
    let key = VerificationKey::try_from(verifier.public_key()).unwrap();
    for (idempotency, signature, body) in seen.lock().unwrap().iter() {
        let sig = signature.strip_prefix("ed25519=").unwrap();
        let sig: [u8; 64] = truce_model::envelope::decode_base64(sig)
            .unwrap()
            .try_into()
            .unwrap();
        key.verify(&ed25519_consensus::Signature::from(sig), body)
            .expect("the signature verifies with the published key");
        let value: Value = serde_json::from_slice(body).unwrap();
        let escalation = value["escalation"].as_u64().unwrap();
        assert!(idempotency.starts_with(&format!("escalation-{escalation}-")));
    }
    // Delivered is delivered: another restart sends nothing again.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let delivered = seen.lock().unwrap().len();
    server.kill().await;
    let server = restart(&setup).await;
    tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    assert_eq!(seen.lock().unwrap().len(), delivered);
    // Each delivery is on record in the log.
    let (status, board) = Api::new(&server.url, client.clone())
        .call("GET", "/v1/escalations", Some(TOKEN), None)
        .await;
    assert_eq!(status, 200);
    for index in &opened {
        let notified = board["escalations"][index.to_string()]["notified"]
            .as_array()
            .unwrap()
            .len();
        assert!(notified >= 1, "escalation {index}: {board}");
    }
}

/// A clock the test moves.
struct Movable(std::sync::atomic::AtomicI64);

impl truce_server::Clock for Movable {
    fn now(&self) -> truce_model::Timestamp {
        truce_model::Timestamp::from_unix_nanos(self.0.load(std::sync::atomic::Ordering::SeqCst))
    }
}

/// The receiver has a notification, but truce is killed before it hears back: after the
/// restart truce sends it again under the same idempotency key (and the other, never sent,
/// once), so a receiver keeping the first of each key acts on each exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_cut_off_by_a_kill_is_sent_again_under_the_same_key() {
    // Bound first, on a port of the system's choice: the port cannot be taken meanwhile.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let answer = Arc::new(AtomicBool::new(false));
    let seen = receiver_on(listener, answer.clone());
    let (mut setup, opened) = verified_with_webhook(port).await;
    let mut expected = [
        format!("escalation-{}-GB", opened[0]),
        format!("escalation-{}-FR", opened[1]),
    ];
    expected.sort();
    let keys = |seen: &Seen| -> Vec<String> {
        let mut k: Vec<String> = seen.lock().unwrap().iter().map(|s| s.0.clone()).collect();
        k.sort();
        k
    };
    // The first notification reaches the receiver, which does not answer (truce sends one
    // at a time, so the other waits behind it); truce dies waiting.
    for _ in 0..200 {
        if !keys(&seen).is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    let cut = keys(&seen);
    assert_eq!(cut.len(), 1, "{cut:?}");
    let cut = cut[0].clone();
    assert!(expected.contains(&cut), "{cut}");
    setup.server.kill().await;

    // Restarted, truce does not know it arrived and sends it again, under the same key,
    // then the other.
    answer.store(true, Ordering::SeqCst);
    let server = restart(&setup).await;
    for _ in 0..200 {
        if keys(&seen).len() >= 3 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let mut want: Vec<String> = expected.iter().chain([&cut]).cloned().collect();
    want.sort();
    assert_eq!(
        keys(&seen),
        want,
        "the cut-off one again under its key, the other once"
    );
    // The same notification both times: the receiver deduplicating by key acts once.
    let seen = seen.lock().unwrap().clone();
    let bodies: Vec<Value> = seen
        .iter()
        .filter(|s| s.0 == cut)
        .map(|s| serde_json::from_slice::<Value>(&s.2).unwrap())
        .collect();
    assert_eq!(bodies[0]["escalation"], bodies[1]["escalation"]);
    assert_eq!(bodies[0]["commitment"], bodies[1]["commitment"]);
    // Now answered, the deliveries are on record.
    let api = Api::new(&server.url, http());
    for _ in 0..100 {
        let board = api.ok("GET", "/v1/escalations", TOKEN, None).await;
        let all = opened.iter().all(|index| {
            board["escalations"][index.to_string()]["notified"]
                .as_array()
                .is_some_and(|n| !n.is_empty())
        });
        if all {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the redelivered notifications were not recorded");
}

#[tokio::test]
async fn deadlines_run_on_the_injected_clock_and_an_acknowledgement_stops_them() {
    let (work, sim, guarantees_file) = prepare(Hour::CrossLine, GUARANTEES);
    let hour = 3_600_000_000_000i64;
    let start = truce_model::Timestamp::parse("2026-01-09T00:00:00Z").unwrap();
    let clock = std::sync::Arc::new(Movable(start.unix_nanos().into()));
    let config = truce_server::ServerConfig {
        data: work.path().join("data"),
        listen: "127.0.0.1:0".parse().unwrap(),
        admin_token: Some(TOKEN.into()),
        checkpoint_interval_ms: 100,
        agreement: Some(repo("examples/agreement/agreement.toml").into()),
        guarantees: Some(guarantees_file),
        ..truce_server::ServerConfig::default()
    };
    let server = truce_server::start(config.clone(), clock.clone())
        .await
        .unwrap();
    let api = Api::new(&format!("http://{}", server.addr), http());
    let finding = feed(&api, &sim, Hour::CrossLine).await;
    let analyst = api.account("an-1", "analyst", None).await;
    let gu_gb = api
        .account("gu-gb", "guarantor", Some(("country", "GB")))
        .await;
    let review = format!("/v1/findings/{}/review", finding["id"].as_str().unwrap());
    let verified = api
        .ok(
            "POST",
            &review,
            &analyst,
            Some(json!({"verdict": "verify"})),
        )
        .await;
    let (gb, fr) = (
        verified["escalations"][0].as_u64().unwrap(),
        verified["escalations"][1].as_u64().unwrap(),
    );
    let status = |board: &Value, escalation: u64, action: &str| -> String {
        board["deadlines"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["escalation"] == escalation && d["action"] == action)
            .map(|d| d["status"].as_str().unwrap().to_string())
            .unwrap_or_default()
    };
    let board = api.ok("GET", "/v1/escalations", TOKEN, None).await;
    assert_eq!(status(&board, gb, "consult"), "running");
    assert_eq!(status(&board, fr, "consult"), "running");
    // Twenty hours on, GB acknowledges: its consultation is met in time.
    clock.0.store(
        start.unix_nanos() + 20 * hour,
        std::sync::atomic::Ordering::SeqCst,
    );
    api.ok("POST", &format!("/v1/escalations/{gb}/ack"), &gu_gb, None)
        .await;
    // A day and an hour on: FR's consultation is overdue, GB's met, GB's decision still
    // running (72 h).
    clock.0.store(
        start.unix_nanos() + 25 * hour,
        std::sync::atomic::Ordering::SeqCst,
    );
    let board = api.ok("GET", "/v1/escalations", TOKEN, None).await;
    assert_eq!(board["now"], "2026-01-10T01:00:00Z");
    assert_eq!(status(&board, fr, "consult"), "overdue");
    assert_eq!(status(&board, gb, "consult"), "met");
    assert_eq!(status(&board, gb, "decide"), "running");
    // The server logs FR's silence: a `deadline_lapse` entry, once, by the server.
    let lapse = |board: &Value, escalation: u64, action: &str| -> Option<u64> {
        board["deadlines"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["escalation"] == escalation && d["action"] == action)
            .and_then(|d| d["lapse"].as_u64())
    };
    let lapsed = |escalation: u64, action: &'static str| {
        let api = &api;
        async move {
            for _ in 0..100 {
                let board = api.ok("GET", "/v1/escalations", TOKEN, None).await;
                if let Some(index) = lapse(&board, escalation, action) {
                    return (index, board);
                }
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            panic!("no lapse logged for escalation {escalation} {action}");
        }
    };
    let (index, board) = lapsed(fr, "consult").await;
    let entry = get_json(&api.client, &api.url(&format!("/v1/entries/{index}"))).await;
    assert_eq!(entry["action"]["action"], "deadline_lapse");
    assert_eq!(
        (
            &entry["action"]["actor"],
            &entry["action"]["escalation"],
            &entry["action"]["obligation"]
        ),
        (&json!("truce"), &json!(fr), &json!("consult"))
    );
    assert_eq!(lapse(&board, gb, "consult"), None, "met in time");
    assert_eq!(lapse(&board, gb, "decide"), None, "still running");
    clock.0.store(
        start.unix_nanos() + 73 * hour,
        std::sync::atomic::Ordering::SeqCst,
    );
    let board = api.ok("GET", "/v1/escalations", TOKEN, None).await;
    assert_eq!(status(&board, gb, "decide"), "overdue");
    let (decided, board) = lapsed(gb, "decide").await;
    assert!(decided > index);
    assert_eq!(lapse(&board, fr, "consult"), Some(index), "logged once");
    // Every overdue deadline gets its lapse (FR's decision too).
    for _ in 0..100 {
        let board = api.ok("GET", "/v1/escalations", TOKEN, None).await;
        let unlogged = board["deadlines"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["status"] == "overdue" && d["lapse"].is_null())
            .count();
        if unlogged == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    server.shutdown().await.unwrap();
    // After a restart the Commission, rebuilt from the log, knows both lapses, and logs
    // them not again.
    let server = truce_server::start(config, clock.clone()).await.unwrap();
    let api = Api::new(&format!("http://{}", server.addr), http());
    let size = api.size().await;
    tokio::time::sleep(2 * truce_server::lapses::CHECK_EVERY).await;
    let board = api.ok("GET", "/v1/escalations", TOKEN, None).await;
    assert_eq!(lapse(&board, fr, "consult"), Some(index));
    assert_eq!(lapse(&board, gb, "decide"), Some(decided));
    assert_eq!(api.size().await, size, "nothing logged again");
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_policy_verifies_what_it_admits_and_cites_itself() {
    let Setup {
        work: _work,
        server,
        ..
    } = setup(Hour::Sparse, GUARANTEES, &[]).await;
    let api = Api::new(&server.url, http());
    let all = get_json(&api.client, &server.url("/v1/findings?limit=10000")).await;
    let admitted =
        |f: &&Value| f["rule"] == "no_fire" && f["operators"].as_array().unwrap().len() >= 2;
    let expected: Vec<String> = all["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(admitted)
        .map(|f| f["id"].as_str().unwrap().to_string())
        .collect();
    assert!(!expected.is_empty());
    assert!(expected.len() < all["findings"].as_array().unwrap().len());
    let set = api
        .ok(
            "PUT",
            "/v1/policy",
            TOKEN,
            Some(json!({"min_operators": 2, "min_modalities": 1, "rules": ["no_fire"]})),
        )
        .await;
    // (The policy worker may have verified some first: together, all of them.)
    assert!(set["verified"].as_u64().unwrap() <= expected.len() as u64);
    let policy = set["log_index"].as_u64().unwrap();
    let verified = get_json(
        &api.client,
        &server.url("/v1/findings?state=verified&limit=10000"),
    )
    .await;
    let mut got: Vec<String> = verified["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap().to_string())
        .collect();
    got.sort();
    let mut want = expected.clone();
    want.sort();
    assert_eq!(got, want);
    // Each verification is the server's, citing the policy; attributed ones escalate.
    let queue = api.ok("GET", "/v1/review/queue", TOKEN, None).await;
    assert!(
        queue["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| !want.contains(&i["finding"]["id"].as_str().unwrap().to_string()))
    );
    let board = api.ok("GET", "/v1/escalations", TOKEN, None).await;
    let escalated = board["escalations"].as_object().unwrap();
    assert!(!escalated.is_empty());
    for e in escalated.values() {
        assert_eq!(e["opened"]["actor"], "truce");
        let f = e["escalation"]["finding"].as_str().unwrap().to_string();
        assert!(want.contains(&f));
    }
    let entry = get_json(
        &api.client,
        &server.url(&format!("/v1/entries/{}", policy + 1)),
    )
    .await;
    assert_eq!(entry["action"]["action"], "review");
    assert_eq!(entry["action"]["actor"], "truce");
    assert_eq!(entry["action"]["policy"], policy);
    // An allegation is checked against located observations too: the drone's sightings
    // of the MLRS the hour moves through its withdrawal zone.
    let liaison = api.account("li-ua", "liaison", Some(("party", "UA"))).await;
    let seen = get_json(&api.client, &server.url("/v1/events?type=weapon_presence")).await;
    let weapon = &seen["events"][0];
    let filed = api
        .ok(
            "POST",
            "/v1/allegations",
            &liaison,
            Some(
                json!({"party": "UA", "against": "RU", "summary": "an MLRS moved forward",
                "category": "weapon_presence", "position": weapon["location"],
                "position_sigma_m": 500.0, "event_time": weapon["origin_time"],
                "time_sigma_s": 300.0}),
            ),
        )
        .await;
    let cited = filed["assessment"]["observations"].as_array().unwrap();
    assert!(!cited.is_empty(), "{filed}");
    assert!(
        cited
            .iter()
            .all(|i| weapon["observations"].as_array().unwrap().contains(i)),
        "the sightings cited are the event's own: {filed}"
    );
    assert_ne!(filed["assessment"]["outcome"], "not_corroborated");
}

/// Findings while the log grows: those of events still open are provisional (their ids
/// may change as observations join); nobody reviews them, the policy waits for them to be
/// final, and so no escalation is left pointing at a finding that gave way to another.
#[tokio::test]
async fn provisional_findings_wait_and_nothing_escalates_for_a_finding_that_went_away() {
    let (_work, sim, _, server) = start(Hour::Sparse, GUARANTEES, |_| Vec::new()).await;
    let api = Api::new(&server.url, http());
    let analyst = api.account("an-p", "analyst", None).await;
    let sensors = common::simulated_sensors(&sim);
    for s in &sensors {
        api.ok("POST", "/v1/sensors", TOKEN, Some(s.clone())).await;
    }
    // The policy first, as in `truce demo`: it then meets every finding as it comes.
    api.ok(
        "PUT",
        "/v1/policy",
        TOKEN,
        Some(json!({"min_operators": 2, "min_modalities": 1, "rules": ["no_fire"]})),
    )
    .await;
    let envelopes = common::simulated_envelopes(&sim);
    let findings = |api: &Api| {
        let url = api.url("/v1/findings?limit=10000");
        let client = api.client.clone();
        async move { get_json(&client, &url).await["findings"].clone() }
    };
    let mut refused = 0;
    for chunk in envelopes.chunks(400) {
        common::submit(&api.client, &api.base, chunk).await.unwrap();
        let size = api.size().await;
        for _ in 0..600 {
            if get_json(&api.client, &api.url("/v1/results")).await["size"].as_u64() >= Some(size) {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        let now = findings(&api).await;
        for f in now.as_array().unwrap() {
            if f["provisional"] == true {
                assert_eq!(f["state"], "candidate", "{f}");
                if refused < 3 {
                    let path = format!("/v1/findings/{}/review", f["id"].as_str().unwrap());
                    let (status, problem) = api
                        .call(
                            "POST",
                            &path,
                            Some(&analyst),
                            Some(json!({"verdict": "verify"})),
                        )
                        .await;
                    assert_eq!(status, 409, "{problem}");
                    assert!(problem["detail"].as_str().unwrap().contains("provisional"));
                    refused += 1;
                }
            }
        }
    }
    assert!(refused > 0, "the log grew through open events");
    // At the end every admitted finding is final and verified, each once, and every
    // escalation names a finding that is still there.
    let admitted =
        |f: &&Value| f["rule"] == "no_fire" && f["operators"].as_array().unwrap().len() >= 2;
    let mut all = Value::Null;
    for _ in 0..600 {
        all = findings(&api).await;
        let list = all.as_array().unwrap();
        if list
            .iter()
            .filter(admitted)
            .all(|f| f["state"] == "verified" || f["provisional"] == true)
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let list = all.as_array().unwrap();
    let ids: Vec<&str> = list.iter().map(|f| f["id"].as_str().unwrap()).collect();
    let verified = list.iter().filter(|f| f["state"] == "verified").count();
    assert!(verified > 0);
    assert_eq!(
        verified,
        list.iter()
            .filter(admitted)
            .filter(|f| f["provisional"] != true)
            .count()
    );
    let board = api.ok("GET", "/v1/escalations", TOKEN, None).await;
    let escalated = board["escalations"].as_object().unwrap();
    assert!(!escalated.is_empty());
    let mut seen = std::collections::BTreeSet::new();
    for e in escalated.values() {
        let finding = e["escalation"]["finding"].as_str().unwrap();
        assert!(
            ids.contains(&finding),
            "an escalation for a finding gone: {e}"
        );
        let commitment = e["escalation"]["commitment"].to_string();
        assert!(seen.insert((finding.to_string(), commitment)), "twice: {e}");
    }
}

/// A finding verified while no guarantees were loaded (as when a crash cuts a
/// verification off from its escalations): once the server runs with guarantees, the
/// escalations its triggers call for are opened, once each.
#[tokio::test]
async fn escalations_missing_for_a_verified_finding_are_opened_when_due() {
    let (work, sim, guarantees_file) = prepare(Hour::CrossLine, GUARANTEES);
    let data = work.path().join("data");
    let agreement = repo("examples/agreement/agreement.toml");
    let mut server = Server::start_with(&data, 100, &["--agreement", &agreement]).await;
    let api = Api::new(&server.url, http());
    let finding = feed(&api, &sim, Hour::CrossLine).await;
    let id = finding["id"].as_str().unwrap().to_string();
    let analyst = api.account("an-r", "analyst", None).await;
    let path = format!("/v1/findings/{id}/review");
    let reviewed = api
        .ok("POST", &path, &analyst, Some(json!({"verdict": "verify"})))
        .await;
    assert_eq!(reviewed["escalations"], json!([]), "{reviewed}");
    let before = api.size().await;
    server.wait_checkpoint(&api.client, before).await;
    server.kill().await;

    let flags = [
        "--agreement",
        &agreement,
        "--guarantees",
        guarantees_file.to_str().unwrap(),
    ];
    let server = Server::start_with(&data, 100, &flags).await;
    let api = Api::new(&server.url, http());
    // The guarantees now loaded are logged first, for the log alone to say what was due.
    let loaded = get_json(&api.client, &api.url(&format!("/v1/entries/{before}"))).await;
    assert_eq!(loaded["action"]["action"], "guarantees_load", "{loaded}");
    // As many as the guarantees call for (they are opened one after another).
    let verified: truce_model::Finding = serde_json::from_value(finding.clone()).unwrap();
    let due = truce_commission::triggers::for_verified_finding(
        &truce_commission::Guarantees::load(&guarantees_file).unwrap(),
        truce_agreement::Agreement::load(std::path::Path::new(&agreement))
            .unwrap()
            .entry_into_force,
        &verified,
        verified.time,
    )
    .len();
    assert!(due > 0, "the finding calls for escalations");
    let mut board = Value::Null;
    for _ in 0..300 {
        board = api.ok("GET", "/v1/escalations", TOKEN, None).await;
        if board["escalations"]
            .as_object()
            .is_some_and(|e| e.len() >= due)
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let opened: Vec<&Value> = board["escalations"].as_object().unwrap().values().collect();
    assert_eq!(opened.len(), due, "{board}");
    for e in &opened {
        assert_eq!(e["escalation"]["finding"], id.as_str());
        assert_eq!(e["opened"]["actor"], "truce");
    }
    // Results computed again (another entry) open nothing twice.
    let size = api.size().await;
    api.account("au-r", "auditor", None).await;
    for _ in 0..300 {
        if get_json(&api.client, &api.url("/v1/results")).await["size"].as_u64() > Some(size) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let again = api.ok("GET", "/v1/escalations", TOKEN, None).await;
    assert_eq!(
        again["escalations"].as_object().unwrap().len(),
        opened.len()
    );
}

/// `truce commission ...` prints the server's JSON answer.
fn cli(url: &str, token: &str, args: &[&str]) -> Value {
    let out = Command::new(truce_bin())
        .args(["commission", "--url", url, "--token", token])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "truce commission {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[tokio::test]
async fn the_commission_from_the_command_line_with_keys_of_ones_own() {
    let Setup {
        work,
        server,
        finding,
        ..
    } = setup(Hour::CrossLine, GUARANTEES, &[]).await;
    let url = server.url.clone();
    let finding_id = finding["id"].as_str().unwrap();
    let created = cli(
        &url,
        TOKEN,
        &[
            "create-account",
            "an-1",
            "--name",
            "Analyst",
            "--role",
            "analyst",
        ],
    );
    let analyst = created["token"].as_str().unwrap().to_string();
    let verified = cli(
        &url,
        &analyst,
        &["review", finding_id, "--verdict", "verify"],
    );
    assert_eq!(verified["escalations"].as_array().unwrap().len(), 2);
    // A commissioner with a key of their own: their ruling carries their signature.
    let prefix = work.path().join("co-k");
    run(&[
        "keygen",
        "--name",
        "co-k",
        "--out",
        prefix.to_str().unwrap(),
    ]);
    let public_key = std::fs::read_to_string(prefix.with_extension("pub")).unwrap();
    let created = cli(
        &url,
        TOKEN,
        &[
            "create-account",
            "co-k",
            "--name",
            "Commissioner",
            "--role",
            "commissioner",
            "--public-key",
            public_key.trim(),
        ],
    );
    let commissioner = created["token"].as_str().unwrap().to_string();
    let key = prefix.with_extension("key");
    let proposed = cli(
        &url,
        &commissioner,
        &[
            "--key",
            key.to_str().unwrap(),
            "--actor",
            "co-k",
            "rule",
            "--finding",
            finding_id,
            "--attribution",
            "RU",
            "--remedy",
            "cease fire from the position",
        ],
    );
    let ruling = proposed["log_index"].as_u64().unwrap();
    let entry = get_json(&http(), &server.url(&format!("/v1/entries/{ruling}"))).await;
    assert_eq!(entry["envelope"]["signatures"][0]["keyid"], "co-k");
    assert_eq!(entry["action"]["action"], "ruling_propose");
    let rulings = cli(&url, &analyst, &["rulings"]);
    assert_eq!(rulings[ruling.to_string()]["votes"][0]["signer"], "actor");
    let board = cli(&url, &analyst, &["escalations"]);
    assert_eq!(board["escalations"].as_object().unwrap().len(), 2);
    let queue = cli(&url, &analyst, &["queue"]);
    assert!(queue["count"].as_u64().is_some());

    // Evidence from the command line: a liaison stores a photo, files an allegation naming
    // it, and anyone with an account fetches it back, checked against its hash.
    let liaison = cli(
        &url,
        TOKEN,
        &[
            "create-account",
            "li-ua",
            "--name",
            "Liaison",
            "--role",
            "liaison",
            "--party",
            "UA",
        ],
    )["token"]
        .as_str()
        .unwrap()
        .to_string();
    let photo = work.path().join("crater.png");
    std::fs::write(&photo, b"\x89PNG a crater by the road").unwrap();
    let stored = cli(
        &url,
        &liaison,
        &[
            "evidence-put",
            photo.to_str().unwrap(),
            "--media-type",
            "image/png",
        ],
    );
    let sha256 = stored["sha256"].as_str().unwrap().to_string();
    let allegation = json!({"party": "UA", "against": "RU", "summary": "shelling",
        "category": "shelling", "position": finding["location"], "position_sigma_m": 300.0,
        "event_time": finding["time"], "time_sigma_s": 60.0,
        "evidence": [{"sha256": sha256, "media_type": "image/png"}]});
    let filed = cli(&url, &liaison, &["allege", &allegation.to_string()]);
    assert_eq!(filed["assessment"]["outcome"], "corroborated", "{filed}");
    let fetched = work.path().join("fetched.png");
    let out = Command::new(truce_bin())
        .args(["commission", "--url", &url, "--token", &analyst])
        .args(["evidence-get", &sha256, "--out", fetched.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::read(&fetched).unwrap(),
        std::fs::read(&photo).unwrap()
    );
}

#[tokio::test]
async fn the_daily_bulletin_counts_what_the_findings_say_and_verifies_in_the_log() {
    use sha2::Digest;
    let Setup {
        work,
        data,
        server,
        finding,
        ..
    } = setup(Hour::CrossLine, GUARANTEES, &[]).await;
    let api = Api::new(&server.url, http());
    let analyst = api.account("an-1", "analyst", None).await;
    let review = format!("/v1/findings/{}/review", finding["id"].as_str().unwrap());
    api.ok(
        "POST",
        &review,
        &analyst,
        Some(json!({"verdict": "verify"})),
    )
    .await;
    let date = "2026-01-07";
    let out = work.path().join("bulletin");
    let (status, _) = api
        .call(
            "POST",
            "/v1/bulletins",
            Some(&analyst),
            Some(json!({"date": date})),
        )
        .await;
    assert_eq!(status, 403, "only an admin publishes");
    let printed = run(&[
        "bulletin",
        "--date",
        date,
        "--url",
        &server.url,
        "--token",
        TOKEN,
        "--out",
        out.to_str().unwrap(),
    ]);
    let summary: Value =
        serde_json::from_slice(&std::fs::read(out.join(format!("bulletin-{date}.json"))).unwrap())
            .unwrap();
    // The same counts as the findings of that day.
    let day = get_json(
        &api.client,
        &server.url("/v1/findings?from=2026-01-07T00:00:00Z&to=2026-01-08T00:00:00Z&limit=10000"),
    )
    .await;
    let total = day["total"].as_u64().unwrap();
    assert!(total > 0);
    assert_eq!(summary["findings"], total);
    let mut by_party = std::collections::BTreeMap::<String, u64>::new();
    for f in day["findings"].as_array().unwrap() {
        let party = f["attribution"]["party"].as_str().unwrap_or("undetermined");
        *by_party.entry(party.to_string()).or_default() += 1;
    }
    assert_eq!(summary["by_party"], json!(by_party));
    assert!(
        summary["notable"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["finding"] == finding["id"])
    );
    assert_eq!(summary["escalations"].as_array().unwrap().len(), 2);
    // Published bulletins are public: no token.
    let public = reqwest::Client::new();
    let html = public
        .get(server.url(&format!("/v1/bulletins/{date}?format=html")))
        .send()
        .await
        .unwrap();
    assert_eq!(html.status().as_u16(), 200);
    let html = html.bytes().await.unwrap();
    let page = String::from_utf8_lossy(&html);
    assert!(page.contains("class=\"contact-line\""));
    assert_eq!(page.matches("<circle").count() as u64, total);
    let csv = public
        .get(server.url(&format!("/v1/bulletins/{date}?format=csv")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(csv.lines().count() as u64, total + 1);
    // Its log entry names each document by hash, and verifies against the checkpoint.
    let index: u64 = printed
        .split("log entry ")
        .nth(1)
        .and_then(|t| t.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no log entry in {printed}"));
    let entry = get_json(&api.client, &server.url(&format!("/v1/entries/{index}"))).await;
    assert_eq!(entry["action"]["action"], "bulletin_publish");
    assert_eq!(
        entry["action"]["bulletin"]["documents"]["html"],
        hex::encode(sha2::Sha256::digest(&html))
    );
    server.wait_checkpoint(&api.client, index + 1).await;
    let key = data.join("log.vkey");
    run(&[
        "verify",
        "--log",
        &server.url,
        "--key",
        key.to_str().unwrap(),
        "--entry",
        &index.to_string(),
    ]);
    let (status, _) = api
        .call(
            "POST",
            "/v1/bulletins",
            Some(TOKEN),
            Some(json!({"date": date})),
        )
        .await;
    assert_eq!(status, 409, "a day's bulletin is published once");
    let (status, _) = api
        .call("GET", "/v1/bulletins/2026-01-06", None, None)
        .await;
    assert_eq!(status, 404);
}

/// Cursor-on-Target (issue 7), here because it needs this file's simulated hour with
/// findings: a TAK client made of pytak (which opens the TCP connection and builds the
/// events it sends) and takproto (which decodes TAK protobuf), both from PyPI,
/// authenticates with an auditor's token, receives findings as CoT XML, sends a drone's
/// detection (logged, signed with the drone's key held by the adapter, the raw CoT kept)
/// and three bad events (refused, nothing logged), negotiates TAK protocol version 1 and
/// decodes the protobuf frames that follow. A connection without a valid token gets
/// nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tak_clients_receive_findings_as_cursor_on_target_xml_then_protobuf() {
    let listen = format!("127.0.0.1:{}", common::free_port());
    // The CoT adapter holds the simulated sensors' keys (the sim writes them).
    let (_work, sim, _, server) = start(Hour::Sparse, GUARANTEES, |sim| {
        let keys = sim.join("keys.json").display().to_string();
        vec![
            "--cot-listen".into(),
            listen.clone(),
            "--cot-keys".into(),
            keys,
        ]
    })
    .await;
    let api = Api::new(&server.url, http());
    feed(&api, &sim, Hour::Sparse).await;
    let gateway = api
        .ok(
            "POST",
            "/v1/accounts",
            TOKEN,
            Some(json!({"id": "gw-tak", "name": "A ground station", "role": "gateway"})),
        )
        .await;
    let token = gateway["token"].as_str().unwrap().to_string();

    let python = common::python_with(&["pytak==7.6.1", "takproto==3.0.1"]);
    let (host, port) = listen.split_once(':').unwrap();
    let before = get_json(&api.client, &api.url("/healthz")).await["log_size"].clone();
    let client = tokio::process::Command::new(&python)
        .arg(repo("crates/cli/tests/py/cot_client.py"))
        .args([host, port, &token, "tr-dr-001"])
        .env("PYTHONWARNINGS", "ignore")
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(std::time::Duration::from_secs(120), client)
        .await
        .expect("the TAK client finished")
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seen: Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(seen["offer"], 1, "the server offers protobuf: {seen}");
    let finding = &seen["finding"];
    assert_eq!(finding["type"], "b-m-p-s-m");
    assert_eq!(finding["how"], "m-f");
    let remarks = finding["remarks"].as_str().unwrap();
    assert!(remarks.contains("clause 1 (no_fire)"), "{remarks}");
    assert!(remarks.contains("attribution: "), "{remarks}");
    assert!(remarks.contains("evidence: log entries "), "{remarks}");
    assert_ne!(
        finding["ce"], "9999999.0",
        "ce from the event's ellipse: {finding}"
    );
    // The detections sent in: the drone's is logged, signed with its key, the raw CoT kept
    // as evidence; the others are refused with their reasons and log nothing.
    let notes: Vec<&str> = seen["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect();
    let index: u64 = notes[0]
        .strip_prefix("logged observation ")
        .unwrap_or_else(|| panic!("{notes:?}"))
        .parse()
        .unwrap();
    assert!(
        notes[1].starts_with("refused: malformed CoT XML"),
        "{notes:?}"
    );
    assert!(
        notes[2].contains("\"b-t-f\" is not a detection"),
        "{notes:?}"
    );
    assert!(
        notes[3].contains("nobody is not a source this server signs for"),
        "{notes:?}"
    );
    assert_eq!(
        index,
        before.as_u64().unwrap(),
        "the next entry, and the only one"
    );
    let entry = get_json(&api.client, &api.url(&format!("/v1/entries/{index}"))).await;
    let observation = &entry["observation"];
    assert_eq!(observation["sensor"], "tr-dr-001");
    assert_eq!(observation["kind"], "drone.detection");
    assert_eq!(observation["data"]["object_class"], "mlrs");
    assert_eq!(entry["envelope"]["signatures"][0]["keyid"], "tr-dr-001");
    let evidence = &observation["data"]["evidence"][0];
    assert_eq!(evidence["media_type"], "application/cot+xml");
    let raw = api
        .client
        .get(api.url(&format!(
            "/v1/blobs/{}",
            evidence["sha256"].as_str().unwrap()
        )))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        raw.contains("uid=\"track-1\"") && raw.contains("tr-dr-001"),
        "{raw}"
    );
    assert_eq!(seen["response"], "true");
    // After the switch, the tank the client sent as a TAK protobuf frame is logged too;
    // the oversized frame after it is refused, closes the stream and logs nothing. The
    // replies come as protobuf frames now.
    assert_eq!(seen["closed_after_bad_frame"], true, "{seen}");
    let replies = seen["protobuf_notes"].as_array().unwrap();
    assert_eq!(
        replies[0],
        format!("logged observation {}", index + 1),
        "{seen}"
    );
    let refusal = replies[1].as_str().unwrap();
    assert!(
        refusal.starts_with("refused: TAK frame of 1048576 bytes (at most 65536); closing"),
        "{refusal}"
    );
    let tank = get_json(&api.client, &api.url(&format!("/v1/entries/{}", index + 1))).await;
    assert_eq!(
        tank["observation"]["data"]["object_class"], "tank",
        "{tank}"
    );
    assert_eq!(
        tank["observation"]["data"]["evidence"][0]["media_type"],
        "application/x-tak-protobuf"
    );
    let after = get_json(&api.client, &api.url("/healthz")).await["log_size"].clone();
    assert_eq!(after.as_u64(), Some(index + 2), "nothing else logged");
    let frames = seen["protobuf"].as_array().unwrap();
    assert!(frames.len() >= 3, "{seen}");
    for f in frames {
        assert_eq!(f["how"], "m-f");
        assert_eq!(f["stale_ms"], 86_400_000);
        assert!(f["uid"].as_str().unwrap().starts_with("truce-"));
        assert!(
            f["xml_detail"]
                .as_str()
                .unwrap()
                .contains("<remarks>truce ")
        );
    }

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    // A TAK frame cut off by the end of the stream: the client is told, nothing logged.
    let size = get_json(&api.client, &api.url("/healthz")).await["log_size"].clone();
    let mut cut = tokio::net::TcpStream::connect(&listen).await.unwrap();
    let request = "<event version=\"2.0\" uid=\"x\" type=\"t-x-takp-q\" how=\"m-g\"><detail><TakControl><TakRequest version=\"1\"/></TakControl></detail></event>";
    cut.write_all(format!("truce-token {token}\n{request}").as_bytes())
        .await
        .unwrap();
    cut.write_all(&[0xbf, 0x40, 0x0a, 0x3e, 0x12])
        .await
        .unwrap();
    cut.shutdown().await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(
        std::time::Duration::from_secs(30),
        cut.read_to_end(&mut answer),
    )
    .await
    .expect("the server closes")
    .unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.contains("refused: the stream ended inside a TAK frame (5 bytes of it)"),
        "{answer}"
    );
    let after = get_json(&api.client, &api.url("/healthz")).await["log_size"].clone();
    assert_eq!(after, size, "nothing logged");

    // Disabling the account ends its open TAK session and its event stream.
    let mut session = tokio::net::TcpStream::connect(&listen).await.unwrap();
    session
        .write_all(format!("truce-token {token}\n").as_bytes())
        .await
        .unwrap();
    let mut stream = api
        .client
        .get(api.url("/v1/stream"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert!(stream.status().is_success());
    let mut heard = Vec::new();
    while !String::from_utf8_lossy(&heard).contains("truce finding") {
        let mut chunk = [0u8; 4096];
        let n = session.read(&mut chunk).await.unwrap();
        assert!(
            n > 0,
            "the session serves the map until the account is disabled"
        );
        heard.extend_from_slice(&chunk[..n]);
    }
    assert!(stream.chunk().await.unwrap().is_some());
    api.ok(
        "DELETE",
        "/v1/accounts/gw-tak",
        TOKEN,
        Some(json!({"reason": "the ground station was lost"})),
    )
    .await;
    let closed = tokio::time::timeout(std::time::Duration::from_secs(60), async {
        let mut rest = Vec::new();
        let _ = session.read_to_end(&mut rest).await;
        while let Ok(Some(_)) = stream.chunk().await {}
    })
    .await;
    assert!(closed.is_ok(), "the session and the stream end");

    // No token, or a wrong one: refused, nothing sent.
    for first in ["", "truce-token not-a-token"] {
        let mut stream = tokio::net::TcpStream::connect(&listen).await.unwrap();
        stream
            .write_all(format!("{first}\n").as_bytes())
            .await
            .unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await.unwrap();
        assert!(answer.starts_with("truce: unauthorized"), "{answer:?}");
        assert!(!answer.contains("<event"), "{answer}");
    }
}
