//! `truce agreement` as an analyst runs it: check, show, locate and judge.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn truce(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_truce"))
        .args(args)
        .output()
        .expect("run truce")
}

fn sample() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/agreement/agreement.toml")
        .display()
        .to_string()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn the_sample_agreement_passes_the_check() {
    let out = truce(&["agreement", "check", &sample()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout(&out).contains("ok"), "{}", stdout(&out));
}

/// A broken agreement: one of each kind of problem the check must find, in the TOML and in
/// a referenced GeoJSON file.
const BROKEN: &str = r#"[agreement]
id = "broken"
entry_into_force = "2026-01-07T00:00:00Z"

[[parties]]
id = "UA"
[[parties]]
id = "RU"

[contact_line]
geometry = { file = "line.geojson" }

[[areas.party]]
party = "UA"
geometry = { type = "Polygon", coordinates = [[[30.0, 45.0], [36.0, 51.0], [36.0, 45.0], [30.0, 51.0], [30.0, 45.0]]] }
[[areas.party]]
party = "XX"
geometry = { type = "Polygon", coordinates = [[[36.0, 45.0], [40.0, 45.0], [40.0, 51.0], [36.0, 45.0]]] }

[[zones]]
id = "artillery"
kind = "withdrawal"
weapon_class = "catapult"
distance_km = 50

[[zones]]
id = "buffer"
kind = "buffer"
distance_km = -15

[[clauses]]
id = "1"
rule = "no_fire"
text = "no fire"

[[clauses]]
id = "1"
rule = "cross_line_fire"
text = "again"

[[sectors]]
id = "north"
start = { lat = 48.0, lon = 36.0 }

[[sectors]]
id = "north"
start = { lat = 49.0, lon = 36.0 }
"#;

/// Line 5 holds a latitude out of range.
const BROKEN_LINE: &str = r#"{"type": "Feature", "properties": {},
 "geometry": {"type": "LineString", "coordinates": [
  [36.0, 46.0],
  [36.1, 47.0],
  [36.2, 147.0],
  [36.0, 50.0]]}}
"#;

fn write_broken(dir: &Path) -> PathBuf {
    std::fs::write(dir.join("line.geojson"), BROKEN_LINE).unwrap();
    let path = dir.join("broken.toml");
    std::fs::write(&path, BROKEN).unwrap();
    path
}

#[test]
fn a_broken_agreement_lists_every_problem_with_its_place() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_broken(dir.path());
    let out = truce(&["agreement", "check", path.to_str().unwrap()]);
    assert!(!out.status.success(), "a broken agreement must fail");
    let text = stdout(&out);
    let name = path.display().to_string();
    let expect = [
        // (file and line, field, words of the message)
        (
            "line.geojson:5:".to_string(),
            "geometry.coordinates[2]",
            "out of range",
        ),
        (
            format!("{name}:15:"),
            "areas.party[0].geometry.coordinates",
            "Self-intersection",
        ),
        (
            format!("{name}:17:"),
            "areas.party[1].party",
            "unknown party",
        ),
        (
            format!("{name}:23:"),
            "zones[0].weapon_class",
            "unknown weapon class",
        ),
        (
            format!("{name}:29:"),
            "zones[1].distance_km",
            "must be greater than zero, not negative",
        ),
        (
            format!("{name}:37:"),
            "clauses[1].id",
            "duplicate clause id",
        ),
        (
            format!("{name}:46:"),
            "sectors[1].id",
            "duplicate sector id",
        ),
    ];
    for (place, field, words) in &expect {
        let line = text
            .lines()
            .find(|l| l.contains(place.as_str()) && l.contains(field))
            .unwrap_or_else(|| panic!("no problem at {place} {field} in:\n{text}"));
        assert!(
            line.to_lowercase().contains(&words.to_lowercase()),
            "{line:?} should say {words:?}"
        );
    }
    assert!(
        text.lines().count() >= expect.len(),
        "every problem is listed:\n{text}"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("problem(s)"), "{stderr}");
}

#[test]
fn show_describes_the_sample() {
    let out = truce(&["agreement", "show", &sample(), "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let km = v["contact_line"]["length_km"].as_f64().unwrap();
    assert!((1090.0..1100.0).contains(&km), "{km}");
    assert_eq!(v["clauses"].as_array().unwrap().len(), 10);
    assert_eq!(v["sites"].as_array().unwrap().len(), 17);
    // A 50 km zone along a ~1,100 km line holds tens of thousands of km² per side.
    let ua = v["zones"][1]["area_km2"]["UA"].as_f64().unwrap();
    assert!((30_000.0..60_000.0).contains(&ua), "{ua}");
    // The monitoring sectors, in order along the line, share out its length.
    let sectors = v["sectors"].as_array().unwrap();
    let names: Vec<&str> = sectors
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "Kherson",
            "Zaporizhzhia",
            "Dnipropetrovsk",
            "Donetsk",
            "Luhansk",
            "Kharkiv"
        ]
    );
    let total: f64 = sectors
        .iter()
        .map(|s| s["length_km"].as_f64().unwrap())
        .sum();
    assert!((total - km).abs() < 0.5, "{total} vs {km}");
    let text = stdout(&truce(&["agreement", "show", &sample()]));
    assert!(text.contains("monitoring sectors"), "{text}");
}

#[test]
fn locate_reports_distance_side_zones_and_probabilities() {
    // 47.60 N 34.70 E: north of Enerhodar on the Ukrainian-held bank, 20 km from the
    // Zaporizhzhia NPP's window of silence centre.
    let out = truce(&[
        "agreement",
        "locate",
        &sample(),
        "--lat",
        "47.6",
        "--lon",
        "34.7",
        "--sigma-m",
        "500",
        "--time",
        "2026-01-05T09:00:00Z",
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let d = v["distance_to_line_m"].as_f64().unwrap();
    assert!((7000.0..8000.0).contains(&d), "{d}");
    assert_eq!(v["side"], "UA");
    let zones: Vec<&str> = v["zones"]
        .as_array()
        .unwrap()
        .iter()
        .map(|z| z.as_str().unwrap())
        .collect();
    assert!(zones.contains(&"security-zone") && zones.contains(&"drone-free"));
    assert!(v["party_probabilities"]["UA"].as_f64().unwrap() > 0.999);
    assert_eq!(v["attribution"]["party"], "UA");
    assert_eq!(
        v["sector"],
        serde_json::json!({"id": "zaporizhzhia", "name": "Zaporizhzhia"})
    );
    // Before entry into force, only the window of silence applies.
    let clauses: Vec<&str> = v["explosion_breaches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["clause"].as_str().unwrap())
        .collect();
    assert_eq!(clauses, ["7"]);

    // Half a kilometre from the line with a 2 km by 1 km ellipse: undetermined, with the
    // probabilities shown.
    let out = truce(&[
        "agreement",
        "locate",
        &sample(),
        "--lat",
        "47.55",
        "--lon",
        "34.64",
        "--cov",
        "4000000,0,1000000",
        "--time",
        "2026-01-08T00:00:00Z",
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let ua = v["party_probabilities"]["UA"].as_f64().unwrap();
    let ru = v["party_probabilities"]["RU"].as_f64().unwrap();
    assert!(ua > 0.05 && ru > 0.05, "UA {ua}, RU {ru}");
    assert!(v["attribution"]["party"].is_null(), "undetermined: {v}");
    assert_eq!(v["attribution"]["threshold"], 0.95);
    assert!((ua + ru + v["party_probabilities"]["none"].as_f64().unwrap() - 1.0).abs() < 1e-9);
    assert_eq!(
        v["covariance_m2"],
        serde_json::json!([[4.0e6, 0.0], [0.0, 1.0e6]])
    );
    let clauses: Vec<&str> = v["explosion_breaches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["clause"].as_str().unwrap())
        .collect();
    assert_eq!(clauses, ["1"], "in force: the general ceasefire");
}

#[test]
fn judge_prints_findings_for_events() {
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("events.ndjson");
    std::fs::write(
        &events,
        concat!(
            r#"{"id": "e1", "type": "launch", "origin_time": "2026-01-08T03:00:00Z", "location": {"lat": 48.0, "lon": 37.8}, "covariance_m2": [[250000, 0], [0, 250000]], "observations": [4, 9]}"#,
            "\n",
            r#"{"id": "e2", "type": "launch", "origin_time": "2026-01-06T03:00:00Z", "location": {"lat": 48.0, "lon": 37.8}, "covariance_m2": [[250000, 0], [0, 250000]]}"#,
            "\n"
        ),
    )
    .unwrap();
    let out = truce(&[
        "agreement",
        "judge",
        &sample(),
        "--events",
        events.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let findings: Vec<serde_json::Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(findings.len(), 1, "only e1 is after entry into force");
    assert_eq!(findings[0]["clause"], "1");
    assert_eq!(findings[0]["attribution"]["party"], "RU");
    assert_eq!(findings[0]["state"], "candidate");
}

#[test]
fn a_closed_pipe_ends_quietly() {
    use std::io::Read;
    let mut child = Command::new(env!("CARGO_BIN_EXE_truce"))
        .args(["agreement", "show", &sample()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Read one byte, then close the pipe, as `| head -c1` would.
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 1];
    stdout.read_exact(&mut first).unwrap();
    drop(stdout);
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let status = child.wait().unwrap();
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(matches!(status.code(), Some(141) | Some(0)), "{status:?}");
}
