//! Helpers shared by the integration tests: start `truce serve` as a child process on a
//! loopback port, register seeded sensors, sign and submit observations, read checkpoints
//! and run `truce verify`.
//!
//! Everything is deterministic: sensor keys come from fixed seeds and observation times are
//! fixed (in the past); the wall clock is only used to bound waits.

#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use ed25519_consensus::SigningKey;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use truce_ledger::{Checkpoint, Hash, NoteVerifier};
use truce_model::envelope::{decode_base64, encode_base64};
use truce_model::{Envelope, OBSERVATION_PAYLOAD_TYPE};

/// The admin token every test server gets.
pub const TOKEN: &str = "integration-test-admin-token";

/// The fixed observation time (in the past, so never rejected as future).
pub const OBSERVED_AT: &str = "2026-01-07T03:00:00Z";

/// How long any wait may take before the test fails.
pub const WAIT: Duration = Duration::from_secs(30);

/// The `truce` binary under test.
pub fn truce_bin() -> &'static str {
    env!("CARGO_BIN_EXE_truce")
}

/// A free loopback port (bound, read, released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// An HTTP client for the tests.
pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .expect("HTTP client")
}

/// A running `truce serve` child process, killed when dropped.
pub struct Server {
    pub child: Child,
    pub url: String,
    pub dir: PathBuf,
    /// The vkey the server printed on stdout.
    pub vkey: String,
}

impl Server {
    /// Starts `truce serve` on `dir` and waits until `/healthz` answers.
    pub async fn start(dir: &Path, checkpoint_interval_ms: u64) -> Server {
        Self::start_with(dir, checkpoint_interval_ms, &[]).await
    }

    /// Starts `truce serve` with extra flags.
    pub async fn start_with(dir: &Path, checkpoint_interval_ms: u64, extra: &[&str]) -> Server {
        // The free port may be taken between probing and binding: retry a few times.
        let mut last_error = String::new();
        for _ in 0..5 {
            match Self::try_start(dir, checkpoint_interval_ms, extra).await {
                Ok(server) => return server,
                Err(e) => last_error = e,
            }
        }
        panic!("`truce serve` did not start: {last_error}");
    }

    async fn try_start(
        dir: &Path,
        checkpoint_interval_ms: u64,
        extra: &[&str],
    ) -> Result<Server, String> {
        let port = free_port();
        let mut command = Command::new(truce_bin());
        command
            .arg("serve")
            .arg("--data")
            .arg(dir)
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .args(["--admin-token", TOKEN])
            .args([
                "--checkpoint-interval-ms",
                &checkpoint_interval_ms.to_string(),
            ])
            .args(extra)
            .env("TRUCE_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        for var in [
            "TRUCE_CONFIG",
            "TRUCE_DATA",
            "TRUCE_LISTEN",
            "TRUCE_ADMIN_TOKEN",
            "TRUCE_ORIGIN",
            "TRUCE_CHECKPOINT_INTERVAL_MS",
            "TRUCE_MAX_BATCH_ITEMS",
            "TRUCE_MAX_BODY_BYTES",
            "TRUCE_MAX_FUTURE_SKEW_S",
            "TRUCE_AGREEMENT",
            "TRUCE_GUARANTEES",
            "TRUCE_WEBHOOK_POLL_MS",
            "TRUCE_WEBHOOK_RETRY_BASE_MS",
            "TRUCE_MQTT_URL",
            "TRUCE_MQTT_TOPIC",
            "TRUCE_MQTT_CLIENT_ID",
            "TRUCE_COT_LISTEN",
            "TRUCE_COT_KEYS",
            "TRUCE_COT_TLS_LISTEN",
            "TRUCE_COT_TLS_CERT",
            "TRUCE_COT_TLS_KEY",
            "TRUCE_COT_TLS_CLIENT_CA",
            "TRUCE_COT_UDP",
            "TRUCE_COT_UDP_INTERFACE",
            "TRUCE_COT_UDP_ALLOW",
        ] {
            command.env_remove(var);
        }
        let mut child = command.spawn().map_err(|e| format!("spawn: {e}"))?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let mut vkey = None;
        let mut url = None;
        let read = async {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(v) = line.strip_prefix("truce log verifier key: ") {
                    vkey = Some(v.trim().to_string());
                }
                if let Some(u) = line.strip_prefix("listening on ") {
                    url = Some(u.trim().to_string());
                    break;
                }
            }
        };
        if tokio::time::timeout(WAIT, read).await.is_err() {
            return Err("timed out waiting for `listening on`".into());
        }
        let (Some(vkey), Some(url)) = (vkey, url) else {
            let _ = child.kill().await;
            return Err("the server exited before listening (port taken?)".into());
        };
        // Keep draining stdout so the child never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        assert_eq!(
            url,
            format!("http://127.0.0.1:{port}"),
            "the server listens where it was told"
        );
        let server = Server {
            child,
            url,
            dir: dir.to_path_buf(),
            vkey,
        };
        let client = http();
        let healthy = async {
            loop {
                if let Ok(r) = client.get(server.url("/healthz")).send().await
                    && r.status().is_success()
                {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        };
        tokio::time::timeout(WAIT, healthy)
            .await
            .map_err(|_| "/healthz never answered".to_string())?;
        Ok(server)
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }

    /// SIGKILLs the server and waits for it to exit.
    pub async fn kill(&mut self) {
        self.child.kill().await.expect("kill the server");
    }

    /// Sends SIGTERM and waits (at most 30 s) for the server to exit; its exit status.
    pub async fn terminate(&mut self) -> std::process::ExitStatus {
        let pid = self.child.id().expect("running").to_string();
        let sent = tokio::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .await
            .unwrap();
        assert!(sent.success());
        tokio::time::timeout(Duration::from_secs(30), self.child.wait())
            .await
            .expect("the server stops within 30 s of SIGTERM")
            .unwrap()
    }

    pub fn verifier(&self) -> NoteVerifier {
        NoteVerifier::from_vkey(&self.vkey).expect("the server's vkey parses")
    }

    /// The current checkpoint, signature-checked against the server's printed vkey.
    pub async fn checkpoint(&self, client: &reqwest::Client) -> (Checkpoint, String) {
        let note = get_text(client, &self.url("/checkpoint")).await;
        let checkpoint = Checkpoint::open(&note, &self.verifier()).expect("a valid checkpoint");
        (checkpoint, note)
    }

    /// Polls until the checkpoint covers at least `size` entries.
    pub async fn wait_checkpoint(
        &self,
        client: &reqwest::Client,
        size: u64,
    ) -> (Checkpoint, String) {
        let wait = async {
            loop {
                let (checkpoint, note) = self.checkpoint(client).await;
                if checkpoint.size >= size {
                    return (checkpoint, note);
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        };
        tokio::time::timeout(WAIT, wait)
            .await
            .unwrap_or_else(|_| panic!("the checkpoint never reached size {size}"))
    }

    /// Registers `sensor`; returns its log index.
    pub async fn register(&self, client: &reqwest::Client, sensor: &Sensor) -> u64 {
        let body = json!({
            "id": sensor.id,
            "kind": "acoustic",
            "operator": "UA",
            "position": {"lat": sensor.lat, "lon": sensor.lon},
            "public_key": encode_base64(&sensor.public_key()),
        });
        let response = client
            .post(self.url("/v1/sensors"))
            .bearer_auth(TOKEN)
            .header("content-type", "application/json")
            .body(serde_json::to_vec(&body).unwrap())
            .send()
            .await
            .expect("POST /v1/sensors");
        let status = response.status();
        let value: Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
        assert!(
            status.is_success(),
            "registering {}: {status} {value}",
            sensor.id
        );
        value["log_index"].as_u64().expect("a log index")
    }

    /// POSTs envelopes as NDJSON.
    pub async fn submit(
        &self,
        client: &reqwest::Client,
        envelopes: &[Vec<u8>],
    ) -> Result<Value, String> {
        submit(client, &self.url, envelopes).await
    }

    /// Submits envelopes in batches and asserts that each one is newly accepted.
    pub async fn submit_all(&self, client: &reqwest::Client, envelopes: &[Vec<u8>]) -> Vec<Ack> {
        let mut acks = Vec::new();
        for chunk in envelopes.chunks(200) {
            let response = self.submit(client, chunk).await.expect("submit");
            let got = acks_of(&response, chunk).expect("every item accepted");
            acks.extend(got);
        }
        acks
    }
}

/// POSTs envelopes as NDJSON to `base`; the JSON answer or a description of the failure.
pub async fn submit(
    client: &reqwest::Client,
    base: &str,
    envelopes: &[Vec<u8>],
) -> Result<Value, String> {
    let mut body = Vec::new();
    for e in envelopes {
        body.extend_from_slice(e);
        body.push(b'\n');
    }
    let response = client
        .post(format!("{base}/v1/observations"))
        .header("content-type", "application/x-ndjson")
        .body(body)
        .send()
        .await
        .map_err(|e| format!("send: {e}"))?;
    let status = response.status();
    let bytes = response.bytes().await.map_err(|e| format!("body: {e}"))?;
    if status != reqwest::StatusCode::OK {
        return Err(format!("{status}: {}", String::from_utf8_lossy(&bytes)));
    }
    serde_json::from_slice(&bytes).map_err(|e| format!("not JSON: {e}"))
}

/// One acknowledged observation.
#[derive(Clone, Debug)]
pub struct Ack {
    pub log_index: u64,
    pub leaf_hash: String,
    pub envelope: Vec<u8>,
}

/// The acknowledgements in a batch answer, or an error if any item was not newly accepted.
pub fn acks_of(response: &Value, envelopes: &[Vec<u8>]) -> Result<Vec<Ack>, String> {
    let results = response["results"]
        .as_array()
        .ok_or_else(|| format!("no results: {response}"))?;
    if results.len() != envelopes.len() {
        return Err(format!(
            "{} results for {} items",
            results.len(),
            envelopes.len()
        ));
    }
    let mut acks = Vec::with_capacity(results.len());
    for item in results {
        if item.get("problem").is_some() || item["duplicate"].as_bool() == Some(true) {
            return Err(format!("item not newly accepted: {item}"));
        }
        let index = item["index"].as_u64().ok_or("no index")? as usize;
        acks.push(Ack {
            log_index: item["log_index"].as_u64().ok_or("no log_index")?,
            leaf_hash: item["leaf_hash"]
                .as_str()
                .ok_or("no leaf_hash")?
                .to_string(),
            envelope: envelopes
                .get(index)
                .ok_or("result index out of range")?
                .clone(),
        });
    }
    Ok(acks)
}

/// GETs `url` as the admin (public routes ignore the token; the results and the
/// Commission's routes need one).
pub async fn get_text(client: &reqwest::Client, url: &str) -> String {
    let response = client
        .get(url)
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let status = response.status();
    let text = response.text().await.expect("a body");
    assert!(status.is_success(), "GET {url}: {status}: {text}");
    text
}

pub async fn get_json(client: &reqwest::Client, url: &str) -> Value {
    serde_json::from_str(&get_text(client, url).await).expect("JSON")
}

/// A sensor with a key from a fixed seed.
pub struct Sensor {
    pub id: String,
    pub key: SigningKey,
    pub lat: f64,
    pub lon: f64,
}

impl Sensor {
    pub fn new(id: &str, seed: u8) -> Sensor {
        Sensor {
            id: id.to_string(),
            key: SigningKey::from([seed; 32]),
            lat: 48.0 + f64::from(seed) / 100.0,
            lon: 37.0 + f64::from(seed) / 100.0,
        }
    }

    pub fn public_key(&self) -> [u8; 32] {
        self.key.verification_key().to_bytes()
    }

    /// The payload of observation `seq`.
    pub fn payload(&self, seq: u64) -> Vec<u8> {
        serde_json::to_vec(&json!({
            "sensor": self.id,
            "seq": seq,
            "observed_at": OBSERVED_AT,
            "kind": "acoustic.arrival",
            "data": {
                "arrival_time": "2026-01-07T03:00:00.5Z",
                "arrival_sigma_s": 0.002,
                "class": "launch",
            },
        }))
        .unwrap()
    }

    /// The signed DSSE envelope of observation `seq`, as JSON bytes.
    pub fn envelope(&self, seq: u64) -> Vec<u8> {
        let envelope = Envelope::signed(
            OBSERVATION_PAYLOAD_TYPE,
            &self.payload(seq),
            &self.id,
            |m| self.key.sign(m).to_bytes(),
        );
        serde_json::to_vec(&envelope).unwrap()
    }

    /// Envelopes of observations `seqs`.
    pub fn envelopes(&self, seqs: std::ops::Range<u64>) -> Vec<Vec<u8>> {
        seqs.map(|s| self.envelope(s)).collect()
    }
}

/// The outcome of one `truce verify` run.
#[derive(Debug)]
pub struct VerifyOutcome {
    pub success: bool,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `truce verify --log URL --key KEY EXTRA...`.
pub async fn verify(url: &str, key: &Path, extra: &[&str]) -> VerifyOutcome {
    let output = Command::new(truce_bin())
        .arg("verify")
        .args(["--log", url])
        .arg("--key")
        .arg(key)
        .args(extra)
        .env("TRUCE_LOG", "warn")
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(WAIT, output)
        .await
        .expect("`truce verify` finished in time")
        .expect("`truce verify` ran");
    VerifyOutcome {
        success: output.status.success(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

impl VerifyOutcome {
    /// Asserts the audit passed.
    pub fn assert_ok(&self) {
        assert!(
            self.success && self.stdout.contains("OK: "),
            "`truce verify` should pass:\nstdout: {}\nstderr: {}",
            self.stdout,
            self.stderr
        );
    }

    /// Asserts the audit failed with `needle` in its error output.
    pub fn assert_fails_with(&self, needle: &str) {
        assert!(
            !self.success,
            "`truce verify` should fail with {needle:?}:\nstdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        assert!(
            self.stderr.contains(needle),
            "`truce verify` should name {needle:?}:\nstdout: {}\nstderr: {}",
            self.stdout,
            self.stderr
        );
        assert!(
            !self.stdout.contains("OK: "),
            "a failed audit must not print OK:\n{}",
            self.stdout
        );
    }
}

/// A base64 hash from a JSON value.
pub fn hash_of(value: &Value) -> Hash {
    let bytes = decode_base64(value.as_str().expect("a base64 string")).expect("base64");
    bytes.as_slice().try_into().expect("32 bytes")
}

/// Copies every file of a (stopped) data directory, SQLite WAL included.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() {
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
}

/// Runs `truce serve` on `dir` and expects it to refuse to start, saying `needle`.
pub async fn assert_serve_refuses(dir: &Path, needle: &str) {
    let output = Command::new(truce_bin())
        .arg("serve")
        .arg("--data")
        .arg(dir)
        .args(["--listen", "127.0.0.1:0"])
        .args(["--admin-token", TOKEN])
        .env("TRUCE_LOG", "warn")
        .stdin(Stdio::null())
        .output();
    let output = tokio::time::timeout(std::time::Duration::from_secs(30), output)
        .await
        .expect("`truce serve` should exit on a corrupt store")
        .expect("run truce serve");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "serve started on a corrupt store");
    assert!(stderr.contains(needle), "stderr lacks {needle:?}: {stderr}");
}

/// Runs `truce` with `args` and returns its standard output; fails the test if it fails.
pub fn run(args: &[&str]) -> String {
    let out = std::process::Command::new(truce_bin())
        .args(args)
        .output()
        .expect("run truce");
    assert!(
        out.status.success(),
        "truce {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A path of the repository, from the cli crate's tests.
pub fn repo(path: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path)
        .display()
        .to_string()
}

/// A Python with `packages` installed from PyPI (pinned versions), in a virtual
/// environment kept in the target directory between runs: real third-party clients for the
/// protocols truce speaks.
pub fn python_with(packages: &[&str]) -> std::path::PathBuf {
    let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "py-{}",
        packages.join("-").replace(['=', '.'], "_")
    ));
    let python = venv.join("bin/python");
    // One maker at a time, across the test binaries and their threads.
    std::fs::create_dir_all(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let lock = std::fs::File::create(venv.with_extension("lock")).unwrap();
    lock.lock().unwrap();
    // Written once pip has finished: a venv cut short is made again.
    let done = venv.join("truce-installed");
    if !done.exists() {
        let _ = std::fs::remove_dir_all(&venv);
        let made = std::process::Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .expect("python3 (the machine has 3.11)");
        assert!(made.success(), "python3 -m venv {}", venv.display());
        let pip = std::process::Command::new(venv.join("bin/pip"))
            .args(["install", "--quiet", "--disable-pip-version-check"])
            .args(packages)
            .status()
            .expect("pip");
        if !pip.success() {
            let _ = std::fs::remove_dir_all(&venv);
            panic!("pip install {packages:?} failed (PyPI is reachable on this machine)");
        }
        std::fs::write(&done, packages.join("\n")).unwrap();
    }
    python
}

/// Ten minutes with one round fired from the RU side 3.2 km from the line onto the UA
/// side (the first launch of `examples/scenarios/sparse.toml`), in the Donetsk sector:
/// alone in its minutes, its launch and impact are linked, and the launch breaches the
/// cross-line clause.
const CROSS_LINE: &str = r#"
[scenario]
name = "cross-line"
agreement = "AGREEMENT"
network = "NETWORK"
start = "2026-01-07T22:00:00Z"
duration_s = 600

[weather]
temperature_c = 5.0
wind_speed_mps = 0.0
wind_from_deg = 0.0

[[met_sensors]]
id = "ua-met-001"
operator = "UA"
lat = 48.62
lon = 37.45
interval_s = 600

[[events]]
type = "launch"
time_s = 20.859
lat = 48.4028
lon = 37.7226
weapon_class = "mlrs"
impact = { lat = 48.5303, lon = 37.7257 }
"#;

/// Writes the cross-line scenario (against the sample agreement and the Donetsk network)
/// to `dir/cross-line.toml` and returns its path.
pub fn cross_line_scenario(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("cross-line.toml");
    let text = CROSS_LINE
        .replace("AGREEMENT", &repo("examples/agreement/agreement.toml"))
        .replace("NETWORK", &repo("examples/scenarios/donetsk-network.toml"));
    std::fs::write(&path, text).unwrap();
    path
}

/// A simulation directory's sensor registrations (`sensors.json`).
pub fn simulated_sensors(sim: &Path) -> Vec<Value> {
    serde_json::from_str(&std::fs::read_to_string(sim.join("sensors.json")).unwrap()).unwrap()
}

/// A simulation directory's signed envelopes (`observations.ndjson`), in arrival order.
pub fn simulated_envelopes(sim: &Path) -> Vec<Vec<u8>> {
    std::fs::read_to_string(sim.join("observations.ndjson"))
        .unwrap()
        .lines()
        .map(|l| l.as_bytes().to_vec())
        .collect()
}
