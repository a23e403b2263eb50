//! Drives a real server over loopback: every documented bad input gets its status and
//! problem type and leaves the log unchanged; good items are logged and proved.

use std::sync::Arc;

use ed25519_consensus::SigningKey;
use serde_json::{Value, json};
use truce_ledger::{Checkpoint, NoteVerifier, leaf_hash, verify_consistency, verify_inclusion};
use truce_model::envelope::{decode_base64, encode_base64};
use truce_model::{Envelope, OBSERVATION_PAYLOAD_TYPE, Timestamp};
use truce_server::{FixedClock, RunningServer, ServerConfig};

const TOKEN: &str = "test-admin-token-0123456789";

struct Harness {
    server: Option<RunningServer>,
    http: reqwest::Client,
    base: String,
    _dir: tempfile::TempDir,
}

fn now() -> Timestamp {
    Timestamp::parse("2026-01-07T04:00:00Z").unwrap()
}

fn key(seed: u8) -> SigningKey {
    SigningKey::from([seed; 32])
}

impl Harness {
    async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let config = ServerConfig {
            data: dir.path().to_path_buf(),
            listen: "127.0.0.1:0".parse().unwrap(),
            admin_token: Some(TOKEN.into()),
            checkpoint_interval_ms: 50,
            max_batch_items: 10,
            max_body_bytes: 64 * 1024,
            ..ServerConfig::default()
        };
        let server = truce_server::start(config, Arc::new(FixedClock(now())))
            .await
            .unwrap();
        let base = format!("http://{}", server.addr);
        let h = Self {
            server: Some(server),
            http: reqwest::Client::new(),
            base,
            _dir: dir,
        };
        for (id, seed) in [("ua-ac-1", 1), ("fr-ac-2", 2), ("ua-ac-3", 3)] {
            let (status, body) = h.register(id, seed, TOKEN).await;
            assert_eq!(status, 201, "{body}");
        }
        h
    }

    async fn register(&self, id: &str, seed: u8, token: &str) -> (u16, Value) {
        let body = json!({"id": id, "kind": "acoustic", "operator": "UA",
            "position": {"lat": 48.5, "lon": 37.2},
            "public_key": encode_base64(&key(seed).verification_key().to_bytes()),
            "timing_sigma_s": 0.002});
        self.send(
            "POST",
            "/v1/sensors",
            "application/json",
            body.to_string().into_bytes(),
            Some(token),
        )
        .await
    }

    async fn revoke(&self, id: &str, reason: &str) -> u16 {
        let body = serde_json::to_vec(&json!({ "reason": reason })).unwrap();
        let path = format!("/v1/sensors/{id}");
        self.send("DELETE", &path, "application/json", body, Some(TOKEN))
            .await
            .0
    }

    async fn send(
        &self,
        method: &str,
        path: &str,
        content_type: &str,
        body: Vec<u8>,
        token: Option<&str>,
    ) -> (u16, Value) {
        let mut request = self
            .http
            .request(method.parse().unwrap(), format!("{}{path}", self.base))
            .header("content-type", content_type)
            .body(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let ct = response
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_string());
        let bytes = response.bytes().await.unwrap();
        let value: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if status >= 400 {
            assert_eq!(ct.as_deref(), Some("application/problem+json"), "{value}");
        }
        (status, value)
    }

    async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap()
    }

    async fn size(&self) -> u64 {
        let v: Value = self.get("/healthz").await.json().await.unwrap();
        v["log_size"].as_u64().unwrap()
    }

    async fn post_one(&self, envelope: &[u8]) -> (u16, Value) {
        self.send(
            "POST",
            "/v1/observations",
            "application/json",
            envelope.to_vec(),
            None,
        )
        .await
    }

    async fn post_many(&self, envelopes: &[Vec<u8>]) -> (u16, Value) {
        let body = envelopes.join(&b'\n');
        self.send(
            "POST",
            "/v1/observations",
            "application/x-ndjson",
            body,
            None,
        )
        .await
    }

    async fn checkpoint(&self, at_least: u64) -> Checkpoint {
        let vkey = self.server.as_ref().unwrap().vkey.clone();
        let verifier = NoteVerifier::from_vkey(&vkey).unwrap();
        for _ in 0..200 {
            let note = self.get("/checkpoint").await.text().await.unwrap();
            let cp = Checkpoint::open(&note, &verifier).unwrap();
            if cp.size >= at_least {
                return cp;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        panic!("no checkpoint of size {at_least}");
    }
}

fn payload(sensor: &str, seq: u64) -> Value {
    json!({"sensor": sensor, "seq": seq, "observed_at": "2026-01-07T03:00:00.123456789Z",
           "kind": "acoustic.arrival",
           "data": {"arrival_time": "2026-01-07T03:00:00.1Z", "arrival_sigma_s": 0.002,
                    "class": "launch", "backazimuth_deg": 10.0}})
}

fn seal(payload: &Value, seed: u8) -> Vec<u8> {
    let bytes = serde_json::to_vec(payload).unwrap();
    let sensor = payload["sensor"].as_str().unwrap_or("");
    let env = Envelope::signed(OBSERVATION_PAYLOAD_TYPE, &bytes, sensor, |m| {
        key(seed).sign(m).to_bytes()
    });
    serde_json::to_vec(&env).unwrap()
}

/// The hashes of a proof answer.
fn proof_hashes(proof: &Value) -> Vec<[u8; 32]> {
    proof["proof"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            decode_base64(p.as_str().unwrap())
                .unwrap()
                .try_into()
                .unwrap()
        })
        .collect()
}

fn good(seq: u64) -> Vec<u8> {
    seal(&payload("ua-ac-1", seq), 1)
}

/// A bad input: its name, body, status, problem slug and field at fault.
type BadCase = (
    &'static str,
    Vec<u8>,
    u16,
    &'static str,
    Option<&'static str>,
);

/// Each bad input: its status, problem type and field, and the log does not change.
#[tokio::test]
async fn every_bad_input_gets_its_problem_and_changes_nothing() {
    let h = Harness::start().await;
    let (status, _) = h.post_one(&good(1)).await;
    assert_eq!(status, 201);

    let mut bad_base64: Value = serde_json::from_slice(&good(2)).unwrap();
    bad_base64["payload"] = json!("***not base64***");
    let mut bad_signature: Value = serde_json::from_slice(&good(3)).unwrap();
    bad_signature["signatures"][0]["sig"] = json!(encode_base64(&[7; 64]));
    let mut missing = payload("ua-ac-1", 4);
    missing["data"].as_object_mut().unwrap().remove("class");
    let mut out_of_range = payload("ua-ac-1", 5);
    out_of_range["data"]["position"] = json!({"lat": 48.0, "lon": 181.0});
    let mut future = payload("ua-ac-1", 6);
    future["observed_at"] = json!("2026-01-07T04:00:30Z");
    let mut wrong_type: Value = serde_json::from_slice(&good(7)).unwrap();
    wrong_type["payloadType"] = json!("application/json");
    let replay = {
        let mut p = payload("ua-ac-1", 1);
        p["data"]["class"] = json!("impact");
        seal(&p, 1)
    };
    let mut bad_sig_base64: Value = serde_json::from_slice(&good(10)).unwrap();
    bad_sig_base64["signatures"][0]["sig"] = json!("***");
    // `seq` twice: parsers differ on which they keep, so neither is taken.
    let repeated = {
        let text = payload("ua-ac-1", 11).to_string();
        let twice = text.replacen("\"seq\":", "\"seq\":12,\"seq\":", 1);
        let env = Envelope::signed(OBSERVATION_PAYLOAD_TYPE, twice.as_bytes(), "ua-ac-1", |m| {
            key(1).sign(m).to_bytes()
        });
        serde_json::to_vec(&env).unwrap()
    };
    // An acoustic sensor reporting a drone's detection.
    let not_its_kind = {
        let mut p = payload("ua-ac-1", 13);
        p["kind"] = json!("drone.detection");
        p["data"] = json!({"object_class": "mlrs", "position": {"lat": 48.0, "lon": 37.0},
            "position_sigma_m": 20, "count": 1, "confidence": 0.9});
        seal(&p, 1)
    };
    // A body within the limit whose entry (with its header line) is not.
    let oversized_entry = (48_000..)
        .map(|n| {
            let mut p = payload("ua-ac-1", 14);
            p["data"]["note"] = json!("x".repeat(n));
            seal(&p, 1)
        })
        .find(|e| e.len() > truce_model::entry::MAX_ENTRY_BYTES - 8)
        .unwrap();
    assert!(oversized_entry.len() <= 64 * 1024);
    let cases: Vec<BadCase> = vec![
        (
            "malformed JSON",
            b"{\"payloadType\": ".to_vec(),
            400,
            "malformed-json",
            None,
        ),
        (
            "bad base64",
            serde_json::to_vec(&bad_base64).unwrap(),
            400,
            "bad-base64",
            Some("payload"),
        ),
        (
            "bad signature",
            serde_json::to_vec(&bad_signature).unwrap(),
            422,
            "bad-signature",
            Some("signatures[0].sig"),
        ),
        (
            "unknown sensor",
            seal(&payload("ru-ac-9", 1), 9),
            422,
            "unknown-sensor",
            Some("payload.sensor"),
        ),
        (
            "signed by another key",
            seal(&payload("ua-ac-1", 8), 2),
            422,
            "bad-signature",
            Some("signatures[0].sig"),
        ),
        ("replayed seq", replay, 409, "replay", Some("payload.seq")),
        (
            "missing field",
            seal(&missing, 1),
            422,
            "invalid-field",
            Some("payload.data.class"),
        ),
        (
            "out-of-range coordinate",
            seal(&out_of_range, 1),
            422,
            "invalid-field",
            Some("payload.data.position.lon"),
        ),
        (
            "time in the future",
            seal(&future, 1),
            422,
            "time-in-future",
            Some("payload.observed_at"),
        ),
        (
            "bad base64 in a signature",
            serde_json::to_vec(&bad_sig_base64).unwrap(),
            400,
            "bad-base64",
            Some("signatures[0].sig"),
        ),
        (
            "a member given twice",
            repeated,
            422,
            "invalid-field",
            Some("payload.seq"),
        ),
        (
            "a kind the sensor may not report",
            not_its_kind,
            422,
            "kind-not-allowed",
            Some("payload.kind"),
        ),
        (
            "an entry over 65,535 bytes",
            oversized_entry,
            413,
            "entry-too-large",
            None,
        ),
        (
            "wrong payload type",
            serde_json::to_vec(&wrong_type).unwrap(),
            400,
            "bad-payload-type",
            Some("payloadType"),
        ),
    ];
    let size = h.size().await;
    for (name, body, status, kind, field) in cases {
        let (got, problem) = h.post_one(&body).await;
        assert_eq!(got, status, "{name}: {problem}");
        assert_eq!(
            problem["type"],
            format!("urn:truce:problem:{kind}"),
            "{name}"
        );
        assert_eq!(problem["status"], status, "{name}");
        assert_eq!(problem["field"].as_str(), field, "{name}: {problem}");
        assert_eq!(h.size().await, size, "{name} changed the log");
    }

    // Wrong content type, oversized body, too many items: refused before any item is read.
    let (status, problem) = h
        .send("POST", "/v1/observations", "text/plain", good(20), None)
        .await;
    assert_eq!(
        (status, problem["type"].as_str()),
        (415, Some("urn:truce:problem:unsupported-media-type"))
    );
    let huge = vec![b' '; 65 * 1024];
    let (status, problem) = h
        .send(
            "POST",
            "/v1/observations",
            "application/x-ndjson",
            huge,
            None,
        )
        .await;
    assert_eq!(
        (status, problem["type"].as_str()),
        (413, Some("urn:truce:problem:body-too-large"))
    );
    let eleven: Vec<Vec<u8>> = (30..41).map(good).collect();
    let (status, problem) = h.post_many(&eleven).await;
    assert_eq!(
        (status, problem["type"].as_str()),
        (413, Some("urn:truce:problem:too-many-items"))
    );
    assert_eq!(h.size().await, size);

    // A revoked key: refused from the revocation on, with nothing logged.
    assert_eq!(h.revoke("fr-ac-2", "key lost").await, 200);
    let size = h.size().await;
    // Registrations and revocations name the account that made them.
    let entry = |index: u64| format!("/v1/entries/{index}");
    let (_, registered) = h.send("GET", &entry(0), "", Vec::new(), None).await;
    assert_eq!(
        registered["record"]["registered_by"], "admin",
        "{registered}"
    );
    let (_, revoked) = h.send("GET", &entry(size - 1), "", Vec::new(), None).await;
    assert_eq!(
        (
            &revoked["record"]["revoked_by"],
            &revoked["record"]["reason"]
        ),
        (&json!("admin"), &json!("key lost")),
        "{revoked}"
    );
    // ... and are signed by the log's key on that account's behalf (entry version 2).
    for view in [&registered, &revoked] {
        assert_eq!(view["version"], 2, "{view}");
        assert_eq!(
            view["envelope"]["signatures"][0]["keyid"], "truce",
            "{view}"
        );
    }
    let (status, problem) = h.post_one(&seal(&payload("fr-ac-2", 1), 2)).await;
    assert_eq!(
        (status, problem["type"].as_str()),
        (403, Some("urn:truce:problem:key-revoked"))
    );
    assert_eq!(h.size().await, size);
    // ... and a revoked key cannot come back.
    let (status, problem) = h.register("fr-ac-2", 2, TOKEN).await;
    assert_eq!(
        (status, problem["type"].as_str()),
        (403, Some("urn:truce:problem:key-revoked"))
    );
    // A new key for the same sensor is a new registration.
    let (status, _) = h.register("fr-ac-2", 22, TOKEN).await;
    assert_eq!(status, 201);
    assert_eq!(h.post_one(&seal(&payload("fr-ac-2", 1), 22)).await.0, 201);
    // Revoking the new key does not bring the first one back, for this sensor or another.
    assert_eq!(h.revoke("fr-ac-2", "rotated").await, 200);
    for (id, seed) in [("fr-ac-2", 2), ("fr-ac-3", 2), ("fr-ac-4", 22)] {
        let (status, problem) = h.register(id, seed, TOKEN).await;
        assert_eq!(
            (status, problem["type"].as_str(), problem["field"].as_str()),
            (
                403,
                Some("urn:truce:problem:key-revoked"),
                Some("public_key")
            ),
            "{id} with key {seed}: {problem}"
        );
    }
    let record = h
        .get("/v1/sensors/fr-ac-2")
        .await
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(record["status"], "revoked", "{record}");
    assert_eq!(
        record["earlier_keys"].as_array().map(Vec::len),
        Some(1),
        "{record}"
    );

    let metrics = h.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains("truce_observations_rejected_total{problem=\"replay\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("truce_observations_accepted_total 2"),
        "{metrics}"
    );
    for family in [
        "truce_observations_rejected_total{problem=\"bad-signature\"} 2",
        "truce_observations_rejected_total{problem=\"unsupported-media-type\"} 1",
        "truce_log_size ",
        "truce_checkpoint_size ",
        "truce_checkpoint_age_seconds ",
        "truce_ingest_latency_seconds_bucket{le=",
        "truce_commit_entries_count ",
    ] {
        assert!(metrics.contains(family), "{family} missing from {metrics}");
    }
}

#[tokio::test]
async fn a_batch_logs_the_good_items_and_reports_each_bad_one() {
    let h = Harness::start().await;
    let size = h.size().await;
    let mut unsigned: Value = serde_json::from_slice(&good(3)).unwrap();
    unsigned["signatures"] = json!([]);
    let items = vec![
        good(1),
        b"not json".to_vec(),
        good(2),
        serde_json::to_vec(&unsigned).unwrap(),
        seal(&payload("fr-ac-2", 1), 2),
        good(2),
    ];
    let (status, body) = h.post_many(&items).await;
    assert_eq!(status, 200);
    assert_eq!(
        (body["accepted"].as_u64(), body["rejected"].as_u64()),
        (Some(4), Some(2))
    );
    let results = body["results"].as_array().unwrap();
    assert_eq!(results[1]["problem"]["index"], 1);
    assert_eq!(
        results[1]["problem"]["type"],
        "urn:truce:problem:malformed-json"
    );
    assert_eq!(results[3]["problem"]["index"], 3);
    assert_eq!(
        results[3]["problem"]["type"],
        "urn:truce:problem:bad-signature"
    );
    // The same observation twice in one batch is logged once.
    assert_eq!(results[2]["log_index"], results[5]["log_index"]);
    assert_eq!(results[5]["duplicate"], true);
    assert_eq!(h.size().await, size + 3);
    let logged: Vec<u64> = [0, 2, 4]
        .iter()
        .map(|i| results[*i]["log_index"].as_u64().unwrap())
        .collect();
    assert_eq!(logged, vec![size, size + 1, size + 2]);
}

#[tokio::test]
async fn resending_an_identical_envelope_returns_its_original_index() {
    let h = Harness::start().await;
    let (status, first) = h.post_one(&good(1)).await;
    assert_eq!(status, 201);
    let size = h.size().await;
    let (status, again) = h.post_one(&good(1)).await;
    assert_eq!(status, 200);
    assert_eq!(again["log_index"], first["log_index"]);
    assert_eq!(again["leaf_hash"], first["leaf_hash"]);
    assert_eq!(again["duplicate"], true);
    assert_eq!(h.size().await, size);
    // Once the sensor's key is revoked, what it signs is refused, but what it had logged
    // is still answered with its index: a client retrying after a lost answer is told the
    // truth.
    assert_eq!(h.revoke("ua-ac-1", "key lost").await, 200);
    let size = h.size().await;
    let (status, later) = h.post_one(&good(1)).await;
    assert_eq!(status, 200, "{later}");
    assert_eq!(later["log_index"], first["log_index"]);
    assert_eq!(later["duplicate"], true);
    let (status, problem) = h.post_one(&good(2)).await;
    assert_eq!(
        (status, problem["type"].as_str()),
        (403, Some("urn:truce:problem:key-revoked"))
    );
    // A different envelope reusing a logged seq is refused for the revoked key, not as
    // a replay.
    let mut other = payload("ua-ac-1", 1);
    other["data"]["backazimuth_deg"] = json!(20.0);
    let (status, problem) = h.post_one(&seal(&other, 1)).await;
    assert_eq!(
        (status, problem["type"].as_str()),
        (403, Some("urn:truce:problem:key-revoked"))
    );
    assert_eq!(h.size().await, size);
}

#[tokio::test]
async fn admin_operations_need_the_token_and_valid_input() {
    let h = Harness::start().await;
    let (status, problem) = h.register("ua-ac-9", 9, "wrong-token-wrong-token").await;
    assert_eq!(
        (status, problem["type"].as_str()),
        (401, Some("urn:truce:problem:unauthorized"))
    );
    let (status, problem) = h
        .send(
            "POST",
            "/v1/sensors",
            "application/json",
            b"{\"id\": \"\", \"kind\": \"sonar\"}".to_vec(),
            Some(TOKEN),
        )
        .await;
    assert_eq!(status, 422);
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["id", "kind", "operator", "public_key"]);
    // Registering the same sensor again is idempotent; with other details it conflicts.
    assert_eq!(h.register("ua-ac-1", 1, TOKEN).await.0, 200);
    let (status, problem) = h.register("ua-ac-1", 5, TOKEN).await;
    assert_eq!(
        (status, problem["type"].as_str()),
        (409, Some("urn:truce:problem:sensor-exists"))
    );
    let (status, _) = h
        .send(
            "DELETE",
            "/v1/sensors/ua-ac-1",
            "application/json",
            vec![],
            None,
        )
        .await;
    assert_eq!(status, 401);
    let sensors: Value = h.get("/v1/sensors").await.json().await.unwrap();
    assert_eq!(sensors.as_array().unwrap().len(), 3);
    assert_eq!(sensors[0]["status"], "active");
}

/// The data directory (the log's key, the private store, the blobs) is its owner's alone.
#[cfg(unix)]
#[tokio::test]
async fn the_data_directory_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    // A directory made as the umask allows (0755 usually), then the server's.
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    let config = ServerConfig {
        data: data.clone(),
        listen: "127.0.0.1:0".parse().unwrap(),
        admin_token: Some(TOKEN.into()),
        ..ServerConfig::default()
    };
    let server = truce_server::start(config, Arc::new(FixedClock(now())))
        .await
        .unwrap();
    let mode = std::fs::metadata(&data).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o700, "{mode:o}");
    drop(server);
}

/// A malformed query or path is refused with a problem document, like every other refusal,
/// not axum's `text/plain`.
#[tokio::test]
async fn malformed_queries_and_paths_are_problem_documents() {
    let h = Harness::start().await;
    for (path, status) in [
        ("/v1/entries/not-a-number", 404),
        ("/v1/proof/inclusion?index=x&size=1", 422),
        ("/v1/proof/consistency?old=-1&new=2", 422),
    ] {
        let r = h.get(path).await;
        assert_eq!(r.status().as_u16(), status, "{path}");
        let kind = r.headers()["content-type"].to_str().unwrap().to_string();
        assert_eq!(kind, "application/problem+json", "{path}");
        let problem: Value = r.json().await.unwrap();
        assert!(
            problem["type"]
                .as_str()
                .unwrap()
                .starts_with("urn:truce:problem:"),
            "{path}"
        );
    }
}

/// Keys that would let anyone sign for a sensor, or one key sign for two, are refused at
/// registration (the small-order and non-canonical encodings are the model crate's
/// `keys` tests; here, through the API).
#[tokio::test]
async fn weak_and_shared_keys_are_refused() {
    let h = Harness::start().await;
    let with_key = |id: &str, key: &[u8]| {
        json!({"id": id, "kind": "acoustic", "operator": "UA",
            "position": {"lat": 48.5, "lon": 37.2},
            "public_key": encode_base64(key), "timing_sigma_s": 0.002})
        .to_string()
        .into_bytes()
    };
    // The identity: with it, the signature 01 00..00 verifies for every message under
    // ZIP-215. And the point of order 2, and the identity spelled with y + p.
    let mut identity = [0u8; 32];
    identity[0] = 1;
    let mut order_two = [0xff; 32];
    order_two[0] = 0xec;
    order_two[31] = 0x7f;
    let mut identity_plus_p = [0xff; 32];
    identity_plus_p[0] = 0xee;
    identity_plus_p[31] = 0x7f;
    for key in [identity, order_two, identity_plus_p] {
        let (status, problem) = h
            .send(
                "POST",
                "/v1/sensors",
                "application/json",
                with_key("ua-weak", &key),
                Some(TOKEN),
            )
            .await;
        assert_eq!(status, 422, "{problem}");
        assert_eq!(problem["field"], "public_key", "{problem}");
    }
    // One key, one sensor.
    assert_eq!(h.register("ua-ac-50", 50, TOKEN).await.0, 201);
    let (status, problem) = h.register("ua-ac-51", 50, TOKEN).await;
    assert_eq!(status, 422, "{problem}");
    assert!(
        problem["detail"].as_str().unwrap().contains("ua-ac-50"),
        "{problem}"
    );
    assert_eq!(h.register("ua-ac-51", 51, TOKEN).await.0, 201);
}

#[tokio::test]
async fn entries_are_proved_against_signed_checkpoints() {
    let h = Harness::start().await;
    let first = h.checkpoint(3).await;
    let batch: Vec<Vec<u8>> = (1..=10).map(good).collect();
    assert_eq!(h.post_many(&batch).await.1["accepted"], 10);
    let cp = h.checkpoint(13).await;
    assert_eq!(cp.size, 13);
    for index in [0, 5, 12] {
        let entry: Value = h
            .get(&format!("/v1/entries/{index}"))
            .await
            .json()
            .await
            .unwrap();
        let data = decode_base64(entry["entry"].as_str().unwrap()).unwrap();
        let proof: Value = h
            .get(&format!("/v1/proof/inclusion?index={index}&tree_size=13"))
            .await
            .json()
            .await
            .unwrap();
        let hashes = proof_hashes(&proof);
        verify_inclusion(&leaf_hash(&data), index, 13, &hashes, &cp.root).unwrap();
    }
    let entry: Value = h.get("/v1/entries/5").await.json().await.unwrap();
    assert_eq!(entry["kind"], "observation");
    assert_eq!(entry["observation"]["seq"], 3);
    let proof: Value = h
        .get(&format!("/v1/proof/consistency?from={}&to=13", first.size))
        .await
        .json()
        .await
        .unwrap();
    let hashes = proof_hashes(&proof);
    verify_consistency(first.size, 13, &first.root, &cp.root, &hashes).unwrap();
    // Tiles: the partial level-0 tile holds 13 hashes; the entry bundle 13 entries.
    let tile = h.get("/tile/0/000.p/13").await;
    assert_eq!(tile.status(), 200);
    assert_eq!(tile.bytes().await.unwrap().len(), 13 * 32);
    let bundle = h.get("/tile/entries/000.p/13").await.bytes().await.unwrap();
    assert_eq!(
        truce_ledger::decode_entry_bundle(&bundle).unwrap().len(),
        13
    );
    assert_eq!(h.get("/tile/0/000").await.status(), 404);
    assert_eq!(h.get("/tile/0/000.p/14").await.status(), 404);
    assert_eq!(h.get("/tile/0/0000").await.status(), 404);
    let (status, _) = h
        .send(
            "GET",
            "/v1/proof/inclusion?index=13&tree_size=13",
            "application/json",
            vec![],
            None,
        )
        .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn the_openapi_document_lists_every_route() {
    let h = Harness::start().await;
    let doc: Value = h.get("/v1/openapi.json").await.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    // Every path the router serves, read from its source, is documented (the tiles under
    // their two documented forms; the dashboard's page and assets are not API).
    let router = include_str!("../src/lib.rs");
    let mut paths: Vec<&str> = router
        .split(".route(")
        .skip(1)
        .filter_map(|rest| rest.split('"').nth(1))
        .filter(|p| *p != "/" && !p.starts_with("/app/"))
        .flat_map(|p| match p {
            "/tile/{*path}" => vec!["/tile/{level}/{index}", "/tile/entries/{index}"],
            p => vec![p],
        })
        .collect();
    paths.sort_unstable();
    assert!(paths.len() >= 35, "{paths:?}");
    for path in paths {
        assert!(doc["paths"].get(path).is_some(), "{path} is not documented");
    }
}

#[tokio::test]
async fn a_restart_keeps_the_log_and_its_key() {
    let dir = tempfile::tempdir().unwrap();
    let config = ServerConfig {
        data: dir.path().to_path_buf(),
        listen: "127.0.0.1:0".parse().unwrap(),
        admin_token: Some(TOKEN.into()),
        origin: Some("example.org/truce".into()),
        ..ServerConfig::default()
    };
    let first = truce_server::start(config.clone(), Arc::new(FixedClock(now())))
        .await
        .unwrap();
    let vkey = first.vkey.clone();
    assert!(vkey.starts_with("example.org/truce+"));
    first.shutdown().await.unwrap();
    assert_eq!(
        std::fs::read_to_string(dir.path().join("log.vkey"))
            .unwrap()
            .trim(),
        vkey
    );
    let again = truce_server::start(
        ServerConfig {
            origin: None,
            ..config
        },
        Arc::new(FixedClock(now())),
    )
    .await
    .unwrap();
    assert_eq!(again.vkey, vkey);
    again.shutdown().await.unwrap();
}
