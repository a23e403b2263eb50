//! The dashboard's side of the server: the page and its bundle served from the binary with
//! a policy that keeps every request on this server, the agreement as GeoJSON, the log's
//! key, and `GET /v1/me` by role; and the page's own proof code against the published
//! vectors (web/tests/proof.test.mjs, run with Node, which the build needs anyway).

use std::path::Path;
use std::sync::Arc;

use serde_json::{Value, json};
use truce_server::{FixedClock, ServerConfig};

const TOKEN: &str = "test-admin-token-0123456789";

fn repo() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

#[tokio::test]
async fn the_dashboard_and_what_it_reads_are_served() {
    let dir = tempfile::tempdir().unwrap();
    let config = ServerConfig {
        data: dir.path().to_path_buf(),
        listen: "127.0.0.1:0".parse().unwrap(),
        admin_token: Some(TOKEN.into()),
        agreement: Some(repo().join("examples/agreement/agreement.toml")),
        ..ServerConfig::default()
    };
    let now = truce_model::Timestamp::parse("2026-01-08T00:00:00Z").unwrap();
    let server = truce_server::start(config, Arc::new(FixedClock(now)))
        .await
        .unwrap();
    let base = format!("http://{}", server.addr);
    let http = reqwest::Client::new();
    let get = |path: &str, token: Option<&str>| {
        let mut request = http.get(format!("{base}{path}"));
        if let Some(t) = token {
            request = request.bearer_auth(t);
        }
        request.send()
    };

    let page = get("/", None).await.unwrap();
    assert_eq!(page.status(), 200);
    let csp = page.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.starts_with("default-src 'self'"), "{csp}");
    let html = page.text().await.unwrap();
    assert!(
        html.contains("/app/app.js"),
        "the built page, not the placeholder"
    );
    for (file, kind) in [
        ("app.js", "text/javascript"),
        ("app.css", "text/css"),
        ("basemap.json", "application/json"),
    ] {
        let r = get(&format!("/app/{file}"), None).await.unwrap();
        assert_eq!(r.status(), 200, "{file}");
        assert!(
            r.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with(kind)
        );
        assert!(r.bytes().await.unwrap().len() > 1000, "{file}");
    }
    assert_eq!(get("/app/nothing.js", None).await.unwrap().status(), 404);

    // The agreement, public: the line, both parties' areas, zones on each side, the sites.
    let map: Value = get("/v1/agreement", None)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let layers: Vec<&str> = map["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["properties"]["layer"].as_str().unwrap())
        .collect();
    assert_eq!(layers.iter().filter(|l| **l == "line").count(), 1);
    assert_eq!(layers.iter().filter(|l| **l == "area").count(), 2);
    assert!(layers.iter().filter(|l| **l == "zone").count() >= 9);
    assert!(layers.iter().filter(|l| **l == "site").count() >= 12);
    assert!(map["clauses"].as_array().unwrap().len() >= 6);

    let log: Value = get("/v1/log", None).await.unwrap().json().await.unwrap();
    assert_eq!(log["vkey"], json!(server.vkey));

    // Who am I: 401 without a token, the role and scopes with one.
    assert_eq!(get("/v1/me", None).await.unwrap().status(), 401);
    let admin: Value = get("/v1/me", Some(TOKEN))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(admin["admin"], true);
    let created: Value = http
        .post(format!("{base}/v1/accounts"))
        .bearer_auth(TOKEN)
        .json(&json!({"id": "an-1", "name": "An Analyst", "role": "analyst"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let analyst: Value = get("/v1/me", created["token"].as_str())
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(analyst["account"]["role"], "analyst");
    assert_eq!(analyst["admin"], false);
    assert_eq!(analyst["scopes"], json!(["read", "review"]));
    server.shutdown().await.unwrap();
}

#[test]
fn the_pages_proof_code_checks_the_published_vectors() {
    let out = std::process::Command::new("node")
        .args(["--test", "tests/proof.test.mjs"])
        .current_dir(repo().join("web"))
        .output()
        .expect("Node.js runs (the dashboard's build needs it too)");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("# pass 4"), "{text}");
}
