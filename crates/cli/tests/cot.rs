//! Cursor-on-Target input over UDP and TLS, driven by the real third-party clients (pytak
//! and takproto from PyPI): a drone ground station's detections arrive as UDP datagrams,
//! unicast (XML and the TAK mesh protobuf framing) and on a multicast group, and a TAK
//! client connects over TLS with a client certificate whose common name is its account.
//! What is unauthenticated, unregistered or malformed logs nothing.
//! (TCP with a token, the output side and the protobuf negotiation are tested in
//! commission.rs.)

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{Server, TOKEN, get_json, get_text, http, repo};
use serde_json::{Value, json};
use truce_ledger::NoteSigner;
use truce_model::envelope::encode_base64;

const DRONE: &str = "tr-dr-901";
const PYTHON_PACKAGES: [&str; 2] = ["pytak==7.6.1", "takproto==3.0.1"];

/// A data directory and the adapter's key file holding the drone's key.
struct Site {
    work: tempfile::TempDir,
    keys: PathBuf,
    drone: NoteSigner,
}

fn site() -> Site {
    let work = tempfile::tempdir().unwrap();
    let drone = NoteSigner::new(DRONE, [9; 32]).unwrap();
    let keys = work.path().join("cot-keys.json");
    std::fs::write(&keys, json!({ DRONE: drone.skey() }).to_string()).unwrap();
    Site { work, keys, drone }
}

/// Registers the drone (a sensor whose detections truce takes); the log size after it.
async fn register_drone(server: &Server, client: &reqwest::Client, drone: &NoteSigner) -> u64 {
    let body = json!({
        "id": DRONE,
        "kind": "drone",
        "operator": "FR",
        "position": {"lat": 48.1, "lon": 37.8},
        "public_key": encode_base64(&drone.public_key()),
    });
    let response = client
        .post(server.url("/v1/sensors"))
        .bearer_auth(TOKEN)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(
        response.status().is_success(),
        "{}",
        response.text().await.unwrap()
    );
    let index = response.json::<Value>().await.unwrap()["log_index"]
        .as_u64()
        .unwrap();
    index + 1
}

/// Runs one of the Python clients; its standard output.
async fn python(script: &str, args: &[&str]) -> String {
    let python = common::python_with(&PYTHON_PACKAGES);
    let run = tokio::process::Command::new(&python)
        .arg(repo(&format!("crates/cli/tests/py/{script}")))
        .args(args)
        .env("PYTHONWARNINGS", "ignore")
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(120), run)
        .await
        .expect("the client finished")
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{script}: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// The CoT datagram counters of `/metrics`: logged, refused, ignored, not_allowed.
async fn datagrams(server: &Server, client: &reqwest::Client) -> [u64; 4] {
    let text = get_text(client, &server.url("/metrics")).await;
    ["logged", "refused", "ignored", "not_allowed"].map(|outcome| {
        let name = format!("truce_cot_datagrams_total{{outcome=\"{outcome}\"}} ");
        text.lines()
            .find_map(|l| l.strip_prefix(&name))
            .map_or(0, |v| v.trim().parse().unwrap())
    })
}

/// Waits until `total` datagrams have been counted.
async fn wait_datagrams(server: &Server, client: &reqwest::Client, total: u64) -> [u64; 4] {
    let mut seen = [0; 4];
    for _ in 0..300 {
        seen = datagrams(server, client).await;
        if seen.iter().sum::<u64>() >= total {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    seen
}

/// The observation at `index` and its raw evidence's media type.
async fn observation(server: &Server, client: &reqwest::Client, index: u64) -> Value {
    let entry = get_json(client, &server.url(&format!("/v1/entries/{index}"))).await;
    assert_eq!(
        entry["envelope"]["signatures"][0]["keyid"], DRONE,
        "{entry}"
    );
    entry["observation"].clone()
}

#[tokio::test]
async fn a_ground_station_sends_detections_over_udp_unicast_and_multicast() {
    let site = site();
    let client = http();
    let port = common::free_port();
    // Only 127.0.0.1 may send: the client's datagram from 127.0.0.2 is refused.
    let server = Server::start_with(
        &site.work.path().join("unicast"),
        100,
        &[
            "--cot-keys",
            site.keys.to_str().unwrap(),
            "--cot-udp",
            &format!("127.0.0.1:{port}"),
            "--cot-udp-allow",
            "127.0.0.1/32",
        ],
    )
    .await;
    let size = register_drone(&server, &client, &site.drone).await;
    let sent: u64 = python("cot_udp.py", &["127.0.0.1", &port.to_string(), DRONE])
        .await
        .trim()
        .parse()
        .unwrap();
    assert_eq!(sent, 7);
    let [logged, refused, ignored, not_allowed] = wait_datagrams(&server, &client, sent).await;
    assert_eq!(
        (logged, not_allowed),
        (2, 1),
        "the XML and the mesh detections are logged, the outsider's datagram is not"
    );
    // The unregistered source, the malformed XML, the version-2 frame and the truncated
    // frame (cut inside its event, whose length then overruns the datagram) are refused.
    assert_eq!((refused, ignored), (4, 0));
    let (checkpoint, _) = server.wait_checkpoint(&client, size + 2).await;
    assert_eq!(checkpoint.size, size + 2, "two entries and no more");
    let xml = observation(&server, &client, size).await;
    assert_eq!(xml["kind"], "drone.detection");
    assert_eq!(xml["data"]["object_class"], "mlrs");
    assert_eq!(
        xml["data"]["gateway"],
        json!({"transport": "udp", "from": "127.0.0.1"})
    );
    assert_eq!(
        xml["data"]["evidence"][0]["media_type"],
        "application/cot+xml"
    );
    let mesh = observation(&server, &client, size + 1).await;
    assert_eq!(mesh["data"]["object_class"], "tank");
    assert_eq!(
        mesh["data"]["evidence"][0]["media_type"],
        "application/x-tak-protobuf"
    );
    drop(server);

    // TAK's multicast convention: the server joins the group on the loopback interface.
    let port = common::free_port();
    let server = Server::start_with(
        &site.work.path().join("multicast"),
        100,
        &[
            "--cot-keys",
            site.keys.to_str().unwrap(),
            "--cot-udp",
            &format!("239.2.3.1:{port}"),
            "--cot-udp-interface",
            "127.0.0.1",
        ],
    )
    .await;
    let size = register_drone(&server, &client, &site.drone).await;
    let out = python(
        "cot_udp.py",
        &["239.2.3.1", &port.to_string(), DRONE, "127.0.0.1"],
    )
    .await;
    assert_eq!(out.trim(), "1");
    assert_eq!(wait_datagrams(&server, &client, 1).await, [1, 0, 0, 0]);
    server.wait_checkpoint(&client, size + 1).await;
    let seen = observation(&server, &client, size).await;
    assert_eq!(seen["data"]["object_class"], "mlrs");
}

/// A certificate authority and what it issues, written as PEM files into a directory.
struct Pki {
    ca: rcgen::CertificateParams,
    ca_key: rcgen::KeyPair,
    dir: PathBuf,
}

impl Pki {
    fn new(dir: &Path, name: &str) -> Pki {
        let mut params = rcgen::CertificateParams::new(Vec::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let ca = params.self_signed(&ca_key).unwrap();
        std::fs::write(dir.join(format!("{name}.pem")), ca.pem()).unwrap();
        Pki {
            ca: params,
            ca_key,
            dir: dir.to_path_buf(),
        }
    }

    fn ca_file(&self, name: &str) -> String {
        self.dir.join(format!("{name}.pem")).display().to_string()
    }

    /// A certificate for `cn` (and the names `sans`): the paths of its PEM and key files.
    fn issue(&self, cn: &str, sans: &[&str], client: bool) -> (String, String) {
        let mut params =
            rcgen::CertificateParams::new(sans.iter().map(|s| s.to_string()).collect::<Vec<_>>())
                .unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, cn);
        params.extended_key_usages = vec![if client {
            rcgen::ExtendedKeyUsagePurpose::ClientAuth
        } else {
            rcgen::ExtendedKeyUsagePurpose::ServerAuth
        }];
        let key = rcgen::KeyPair::generate().unwrap();
        let issuer = rcgen::Issuer::from_params(&self.ca, &self.ca_key);
        let cert = params.signed_by(&key, &issuer).unwrap();
        let cert_file = self.dir.join(format!("{cn}.crt"));
        let key_file = self.dir.join(format!("{cn}.key"));
        std::fs::write(&cert_file, cert.pem()).unwrap();
        std::fs::write(&key_file, key.serialize_pem()).unwrap();
        (
            cert_file.display().to_string(),
            key_file.display().to_string(),
        )
    }
}

#[tokio::test]
async fn tak_clients_connect_over_tls_with_certificates_naming_their_accounts() {
    let site = site();
    let pki_dir = site.work.path().join("pki");
    let rogue_dir = site.work.path().join("rogue");
    std::fs::create_dir_all(&pki_dir).unwrap();
    std::fs::create_dir_all(&rogue_dir).unwrap();
    let pki = Pki::new(&pki_dir, "truce-ca");
    let rogue = Pki::new(&rogue_dir, "rogue-ca");
    let (server_cert, server_key) = pki.issue("truce-server", &["127.0.0.1", "localhost"], false);
    let port = common::free_port();
    let server = Server::start_with(
        &site.work.path().join("data"),
        100,
        &[
            "--cot-keys",
            site.keys.to_str().unwrap(),
            "--cot-tls-listen",
            &format!("127.0.0.1:{port}"),
            "--cot-tls-cert",
            &server_cert,
            "--cot-tls-key",
            &server_key,
            "--cot-tls-client-ca",
            &pki.ca_file("truce-ca"),
        ],
    )
    .await;
    let client = http();
    register_drone(&server, &client, &site.drone).await;
    for (id, role) in [("gs-tls", "gateway"), ("au-tls", "auditor")] {
        let made = client
            .post(server.url("/v1/accounts"))
            .bearer_auth(TOKEN)
            .json(&json!({"id": id, "name": id, "role": role}))
            .send()
            .await
            .unwrap();
        assert!(made.status().is_success());
    }
    // Accounts are log entries too: the detection will be the next one.
    let size = get_json(&client, &server.url("/healthz")).await["log_size"]
        .as_u64()
        .unwrap();

    // Each client sends a detection by the drone as soon as it is connected.
    let connect = |cert: (String, String)| {
        let (port, ca) = (port.to_string(), pki.ca_file("truce-ca"));
        async move {
            let out = python(
                "cot_tls.py",
                &["127.0.0.1", &port, &ca, &cert.0, &cert.1, DRONE],
            )
            .await;
            serde_json::from_str::<Value>(out.trim()).unwrap()
        }
    };
    // A gateway account's certificate: admitted, offered protobuf, its detection logged
    // with the account that passed it.
    let admitted = connect(pki.issue("gs-tls", &[], true)).await;
    assert_eq!(admitted["first"], "t-x-takp-v", "{admitted}");
    assert_eq!(
        admitted["note"],
        format!("truce: logged observation {size}"),
        "{admitted}"
    );
    let seen = observation(&server, &client, size).await;
    assert_eq!(
        seen["data"]["evidence"][0]["media_type"],
        "application/cot+xml"
    );
    assert_eq!(
        seen["data"]["gateway"],
        json!({"transport": "tls", "account": "gs-tls"})
    );
    // An auditor's: admitted to read, but its detection is refused.
    let reader = connect(pki.issue("au-tls", &[], true)).await;
    assert_eq!(reader["first"], "t-x-takp-v", "{reader}");
    assert!(
        reader["note"]
            .as_str()
            .is_some_and(|n| n.contains("refused: account au-tls may not report detections")),
        "{reader}"
    );
    // A certificate of the right authority for no account: told why, then closed.
    let stranger = connect(pki.issue("nobody", &[], true)).await;
    assert!(
        stranger["refused"]
            .as_str()
            .is_some_and(|r| r.contains("\"nobody\" is no enabled account")),
        "{stranger}"
    );
    // Nor do the built-in accounts hold certificates, even from the right authority.
    for builtin in ["admin", "system"] {
        let pretender = connect(pki.issue(builtin, &[], true)).await;
        assert!(
            pretender["refused"]
                .as_str()
                .is_some_and(|r| r.contains(&format!(
                    "{builtin:?} is no enabled account that takes certificates"
                ))),
            "{pretender}"
        );
    }
    // A certificate of another authority, for the same account: the handshake fails.
    let forged = connect(rogue.issue("gs-tls", &[], true)).await;
    assert!(
        forged["tls_error"]
            .as_str()
            .is_some_and(|e| e.to_lowercase().contains("unknown ca")),
        "{forged}"
    );
    // No certificate at all: the handshake fails too.
    let bare = connect(("-".into(), "-".into())).await;
    assert!(
        bare["tls_error"].is_string() && bare.get("first").is_none(),
        "{bare}"
    );
    // A disabled account's certificate is refused from then on.
    let disabled = client
        .delete(server.url("/v1/accounts/gs-tls"))
        .bearer_auth(TOKEN)
        .json(&json!({"reason": "the ground station was lost"}))
        .send()
        .await
        .unwrap();
    assert!(disabled.status().is_success());
    let shut_out = connect(pki.issue("gs-tls", &[], true)).await;
    assert!(
        shut_out["refused"]
            .as_str()
            .is_some_and(|r| r.contains("\"gs-tls\" is no enabled account")),
        "{shut_out}"
    );
    // One detection logged, and the disabling: nothing else.
    server.wait_checkpoint(&client, size + 2).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(server.checkpoint(&client).await.0.size, size + 2);
}
