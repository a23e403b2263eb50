//! `truce import firms`: real NASA FIRMS files (tests/fixtures/firms, see SOURCE.md there)
//! are signed as `satellite.thermal` observations of one `satellite_feed` sensor per
//! satellite and logged by a real server; importing them again adds nothing; broken files
//! are reported by file and line and their bad rows are not logged.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::Duration;

use common::{Server, TOKEN, http, truce_bin};
use serde_json::json;

/// Every feed the fixtures can need (T has no rows in them, but is registered anyway).
const FEEDS: &[&str] = &["firms-n", "firms-n20", "firms-n21", "firms-t", "firms-a"];

/// Detections in the fixture files, as counted when they were copied (MANIFEST.txt).
const EXPECTED_ROWS: usize = 317;

fn fixtures() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/firms");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "csv"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 12, "fixture files in {}", dir.display());
    files
}

/// Data lines of a file: non-blank lines after the header.
fn data_lines(path: &Path) -> usize {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .count()
}

/// Generates a key per feed with `truce keygen`, registers each feed as a `satellite_feed`
/// sensor of operator NASA, and writes the --keys file.
async fn setup_feeds(server: &Server, dir: &Path) -> PathBuf {
    let client = http();
    let mut keys = BTreeMap::new();
    for feed in FEEDS {
        let prefix = dir.join(feed);
        let keygen = tokio::process::Command::new(truce_bin())
            .args(["keygen", "--name", feed, "--out"])
            .arg(&prefix)
            .output()
            .await
            .unwrap();
        assert!(keygen.status.success(), "keygen {feed}");
        let secret = std::fs::read_to_string(prefix.with_extension("key")).unwrap();
        let public = std::fs::read_to_string(prefix.with_extension("pub")).unwrap();
        keys.insert(feed.to_string(), secret.trim().to_string());
        let body = json!({"id": feed, "kind": "satellite_feed", "operator": "NASA",
                          "public_key": public.trim()});
        let response = client
            .post(server.url("/v1/sensors"))
            .bearer_auth(TOKEN)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        assert!(status.is_success(), "registering {feed}: {status} {text}");
    }
    let path = dir.join("keys.json");
    std::fs::write(&path, serde_json::to_string_pretty(&keys).unwrap()).unwrap();
    path
}

async fn import(server: &Server, keys: &Path, files: &[PathBuf]) -> Output {
    let run = tokio::process::Command::new(truce_bin())
        .args(["import", "firms", "--url", &server.url, "--keys"])
        .arg(keys)
        .args(files)
        .env("TRUCE_LOG", "warn")
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    tokio::time::timeout(common::WAIT, run)
        .await
        .expect("`truce import firms` finished in time")
        .unwrap()
}

fn text(output: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// The checkpoint size once it has settled (no growth over a few checkpoint intervals).
async fn settled_size(server: &Server, at_least: u64) -> u64 {
    let client = http();
    server.wait_checkpoint(&client, at_least).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    server.checkpoint(&client).await.0.size
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_firms_files_are_logged_once_and_reimport_adds_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(&tmp.path().join("data"), 50).await;
    let keys = setup_feeds(&server, tmp.path()).await;
    let files = fixtures();
    let counted: Vec<usize> = files.iter().map(|f| data_lines(f)).collect();
    assert_eq!(counted.iter().sum::<usize>(), EXPECTED_ROWS);

    let first = import(&server, &keys, &files).await;
    let (stdout, stderr) = text(&first);
    assert!(
        first.status.success(),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(stderr.trim().is_empty(), "no errors expected:\n{stderr}");
    for (file, rows) in files.iter().zip(&counted) {
        let want = format!(
            "{}: {rows} rows, {rows} imported, 0 already logged, 0 bad",
            file.display()
        );
        assert!(stdout.contains(&want), "{want:?} not in\n{stdout}");
    }
    assert!(
        stdout.contains(&format!(
            "total: 12 files, {EXPECTED_ROWS} rows, {EXPECTED_ROWS} imported, 0 already logged, 0 bad, 0 bad files"
        )),
        "{stdout}"
    );
    let registrations = FEEDS.len() as u64;
    let size = settled_size(&server, registrations + EXPECTED_ROWS as u64).await;
    assert_eq!(size, registrations + EXPECTED_ROWS as u64);

    // Again: byte-identical envelopes, all already logged, the log does not grow.
    let again = import(&server, &keys, &files).await;
    let (stdout, stderr) = text(&again);
    assert!(
        again.status.success(),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    for (file, rows) in files.iter().zip(&counted) {
        let want = format!(
            "{}: {rows} rows, 0 imported, {rows} already logged, 0 bad",
            file.display()
        );
        assert!(stdout.contains(&want), "{want:?} not in\n{stdout}");
    }
    assert_eq!(settled_size(&server, size).await, size);

    // A dry run sends nothing and needs no keys.
    let dry = tokio::process::Command::new(truce_bin())
        .args([
            "import",
            "firms",
            "--dry-run",
            "--url",
            "http://127.0.0.1:9",
        ])
        .args(&files)
        .output()
        .await
        .unwrap();
    let (stdout, stderr) = text(&dry);
    assert!(dry.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("34 rows, 34 valid, 0 bad (dry run"),
        "{stdout}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_files_are_reported_by_file_and_line_and_bad_rows_are_not_logged() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(&tmp.path().join("data"), 50).await;
    let keys = setup_feeds(&server, tmp.path()).await;
    let registrations = FEEDS.len() as u64;

    let header = "latitude,longitude,bright_ti4,scan,track,acq_date,acq_time,satellite,confidence,version,bright_ti5,frp,daynight,instrument";
    let no_columns = tmp.path().join("no_columns.csv");
    std::fs::write(
        &no_columns,
        "latitude,longitude,bright_ti4,scan,track,acq_date,satellite,confidence\n\
         47.8,35.1,325.4,0.6,0.53,2026-01-05,N20,nominal\n",
    )
    .unwrap();
    let mixed = tmp.path().join("mixed.csv");
    std::fs::write(
        &mixed,
        format!(
            "{header}\n\
             47.87903,35.19487,325.43,0.6,0.53,2026-01-05,938,N20,n,2.0NRT,272.06,4.07,D,VIIRS\n\
             91.5,35.19487,325.43,0.6,0.53,2026-01-05,0938,N20,nominal,2.0NRT,272.06,4.07,D,VIIRS\n\
             48.1,37.2,330.1,0.4,0.37,2026-01-05,09:40:00,N20,high,2.0NRT,280.00,7.5,D,VIIRS\n"
        ),
    )
    .unwrap();
    let header_only = tmp.path().join("header_only.csv");
    std::fs::write(&header_only, format!("{header}\n")).unwrap();

    let output = import(
        &server,
        &keys,
        &[no_columns.clone(), mixed.clone(), header_only.clone()],
    )
    .await;
    let (stdout, stderr) = text(&output);
    assert!(
        !output.status.success(),
        "bad input must fail:\n{stdout}\n{stderr}"
    );
    let missing = format!(
        "{}:1: header: missing required column(s)",
        no_columns.display()
    );
    assert!(stderr.contains(&missing), "{missing:?} not in\n{stderr}");
    assert!(
        stderr.contains("acq_time") && stderr.contains("frp"),
        "{stderr}"
    );
    assert_eq!(
        stderr.matches(&no_columns.display().to_string()).count(),
        1,
        "{stderr}"
    );
    let bad_row = format!("{}:3: latitude: 91.5 is out of range", mixed.display());
    assert!(stderr.contains(&bad_row), "{bad_row:?} not in\n{stderr}");
    assert!(
        stdout.contains(&format!(
            "{}: 3 rows, 2 imported, 0 already logged, 1 bad",
            mixed.display()
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "{}: 0 rows, 0 imported, 0 already logged, 0 bad",
            header_only.display()
        )),
        "{stdout}"
    );
    assert!(
        stderr.contains("error: 1 bad rows, 1 bad files"),
        "{stderr}"
    );
    // Only the two good rows were logged.
    let size = settled_size(&server, registrations + 2).await;
    assert_eq!(size, registrations + 2);
}

/// `--watch DIR`: files dropped into the directory are imported as they appear; a copy of
/// one already imported adds nothing; a file that grows is imported again and only its
/// new rows are added.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watched_directory_imports_new_files_once() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(&tmp.path().join("data"), 50).await;
    let keys = setup_feeds(&server, tmp.path()).await;
    let inbox = tmp.path().join("inbox");
    std::fs::create_dir(&inbox).unwrap();
    let mut watcher = tokio::process::Command::new(truce_bin())
        .args(["import", "firms", "--url", &server.url, "--poll-ms", "100"])
        .arg("--keys")
        .arg(&keys)
        .arg("--watch")
        .arg(&inbox)
        .env("TRUCE_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let registrations = FEEDS.len() as u64;
    let files = fixtures();
    let (first, second) = (&files[0], &files[1]);
    let (n1, n2) = (data_lines(first) as u64, data_lines(second) as u64);
    assert!(n1 > 0 && n2 > 1, "the first two fixtures have rows");

    std::fs::copy(first, inbox.join("a.csv")).unwrap();
    assert_eq!(
        settled_size(&server, registrations + n1).await,
        registrations + n1
    );
    // The same file under another name: nothing new.
    std::fs::copy(first, inbox.join("a-again.csv")).unwrap();
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(
        settled_size(&server, registrations + n1).await,
        registrations + n1
    );
    // A file written in two steps: its first rows, then all of them.
    let text = std::fs::read_to_string(second).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let head = format!("{}\n{}\n", lines[0], lines[1]);
    std::fs::write(inbox.join("b.csv"), &head).unwrap();
    assert_eq!(
        settled_size(&server, registrations + n1 + 1).await,
        registrations + n1 + 1
    );
    tokio::time::sleep(Duration::from_millis(50)).await;
    std::fs::write(inbox.join("b.csv"), &text).unwrap();
    assert_eq!(
        settled_size(&server, registrations + n1 + n2).await,
        registrations + n1 + n2
    );
    watcher.start_kill().unwrap();
    let out = watcher.wait_with_output().await.unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!(
            "a-again.csv: {n1} rows, 0 imported, {n1} already logged, 0 bad"
        )),
        "{stdout}"
    );
}
