//! `truce bench fusion --suite DIR --peer pyocto` end to end on one scenario (the robust
//! `misplaced` one): truce and the PyOcto peer on the same simulation, in one row.
//!
//! Needs the package index (PyPI) on its first run: the bench makes the peer's Python
//! environment under the target directory then (`peers/pyocto-venv`) and keeps it. After
//! that it takes a few seconds (debug build).

mod common;

use std::path::{Path, PathBuf};

use common::{repo, run};

/// The target directory these tests were built in (`CARGO_TARGET_TMPDIR` is its `tmp`), so
/// that the bench keeps the peer's environment where a release run will find it.
fn target_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("the target directory")
        .to_path_buf()
}

/// `examples/scenarios/robust/misplaced.toml` with its agreement and network named by
/// absolute path, alone in `dir`.
fn misplaced_suite(dir: &Path) {
    let text = std::fs::read_to_string(repo("examples/scenarios/robust/misplaced.toml")).unwrap();
    let text = text
        .replace(
            "\"../../agreement/agreement.toml\"",
            &format!("{:?}", repo("examples/agreement/agreement.toml")),
        )
        .replace(
            "\"zaporizhzhia-network.toml\"",
            &format!(
                "{:?}",
                repo("examples/scenarios/robust/zaporizhzhia-network.toml")
            ),
        );
    std::fs::write(dir.join("misplaced.toml"), text).unwrap();
}

fn unit_interval(value: &serde_json::Value, what: &str) -> f64 {
    let x = value.as_f64().unwrap_or_else(|| panic!("{what}: {value}"));
    assert!((0.0..=1.0).contains(&x), "{what}: {x}");
    x
}

#[test]
fn pyocto_peer_shares_the_row_and_scores_like_truce() {
    let suite = tempfile::tempdir().unwrap();
    misplaced_suite(suite.path());
    let agreement = repo("examples/agreement/agreement.toml");
    let out = std::process::Command::new(common::truce_bin())
        .args(["bench", "fusion", "--suite"])
        .arg(suite.path())
        .args(["--agreement", &agreement, "--no-latency", "--json"])
        .args(["--peer", "pyocto", "--peer-time-limit", "120"])
        .env("CARGO_TARGET_DIR", target_dir())
        .output()
        .expect("run truce");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "truce bench fusion --peer pyocto: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The table: truce's twelve columns and the peer's three, in one row.
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(lines[0].ends_with("| PyOcto F1 | PyOcto median error m | PyOcto CPU µs per pick |"));
    let row = lines
        .iter()
        .find(|l| l.starts_with("| misplaced |"))
        .expect("a row for the scenario");
    let cells: Vec<&str> = row.trim_matches('|').split('|').map(str::trim).collect();
    assert_eq!(cells.len(), 15, "{row}");
    let f1_cell: f64 = cells[12].parse().expect("the peer's F1 is a number");
    assert!((0.0..=1.0).contains(&f1_cell), "{row}");

    // The JSON: the peer answered, on every arrival, with figures in range.
    let rows: serde_json::Value = serde_json::from_str(lines.last().unwrap()).expect("JSON");
    let report = &rows[0];
    let peer = &report["peer"];
    assert_eq!(peer["answered"], true, "{peer}");
    assert_eq!(peer["picks"], report["arrivals"]);
    let f1 = unit_interval(&peer["f1"], "F1");
    unit_interval(&peer["precision"], "precision");
    unit_interval(&peer["recall"], "recall");
    // Well above nothing: a unit slip (metres given as kilometres) would find no event.
    assert!(f1 > 0.3, "PyOcto F1 {f1}");
    let error = peer["error_median_m"].as_f64().expect("a median error");
    assert!((0.0..=1000.0).contains(&error), "median error {error} m");
    assert!(peer["cpu_us_per_pick"].as_f64().unwrap() > 0.0);

    // The peer's scoring is truce's: on truce's own events it gives what `truce eval` does.
    let sim = suite.path().join("sim");
    let scenario = suite.path().join("misplaced.toml");
    run(&[
        "sim",
        "--scenario",
        scenario.to_str().unwrap(),
        "--out",
        sim.to_str().unwrap(),
    ]);
    let events = sim.join("events.ndjson");
    run(&[
        "fuse",
        "--sensors",
        sim.join("sensors.json").to_str().unwrap(),
        "--observations",
        sim.join("observations.ndjson").to_str().unwrap(),
        "--out",
        events.to_str().unwrap(),
    ]);
    let truce: serde_json::Value = serde_json::from_str(&run(&[
        "eval",
        "--truth",
        sim.join("truth.json").to_str().unwrap(),
        "--events",
        events.to_str().unwrap(),
        "--json",
    ]))
    .unwrap();
    let python = target_dir().join("peers/pyocto-venv/bin/python");
    let scored = std::process::Command::new(python)
        .arg(repo("tools/pyocto_peer.py"))
        .arg(&sim)
        .arg("--score-events")
        .arg(&events)
        .output()
        .expect("run the peer program");
    assert!(
        scored.status.success(),
        "{}",
        String::from_utf8_lossy(&scored.stderr)
    );
    let peer: serde_json::Value = serde_json::from_slice(&scored.stdout).unwrap();
    for key in [
        "truth_locatable",
        "fused_events",
        "matched",
        "matched_locatable",
    ] {
        assert_eq!(peer[key], truce[key], "{key}");
    }
    for key in ["precision", "recall", "f1", "error_median_m", "error_p90_m"] {
        let (a, b) = (peer[key].as_f64().unwrap(), truce[key].as_f64().unwrap());
        assert!((a - b).abs() < 1e-9, "{key}: peer {a}, truce {b}");
    }
}
