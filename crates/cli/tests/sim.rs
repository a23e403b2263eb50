//! `truce sim` on the example scenarios: the files it writes are deterministic, every
//! envelope passes ingest with the registered keys, the truth points at real arrivals, and
//! the networks hear what they should.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use truce_ingest::{IngestPolicy, SensorKey, check_batch};
use truce_model::envelope::decode_base64;
use truce_model::{Envelope, Observation, ObservationData, SensorRegistration, Timestamp};
use truce_sim::physics::{self, Geodesic, Weather};

const FILES: [&str; 4] = [
    "sensors.json",
    "keys.json",
    "truth.json",
    "observations.ndjson",
];

fn scenario(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../../examples/scenarios/{name}.toml"))
}

/// Runs `truce sim`; returns its output directory (kept alive by the TempDir) and stdout.
fn sim(name: &str, seed: u64) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_truce"))
        .arg("sim")
        .arg("--scenario")
        .arg(scenario(name))
        .args(["--seed", &seed.to_string(), "--out"])
        .arg(dir.path())
        .output()
        .expect("run truce sim");
    assert!(
        out.status.success(),
        "{name}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (dir, String::from_utf8_lossy(&out.stdout).into_owned())
}

fn read(dir: &Path, file: &str) -> Vec<u8> {
    std::fs::read(dir.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"))
}

fn json(dir: &Path, file: &str) -> Value {
    serde_json::from_slice(&read(dir, file)).unwrap()
}

/// The observations of a run, each parsed and validated.
fn observations(dir: &Path) -> (Vec<Vec<u8>>, Vec<Observation>) {
    let text = read(dir, "observations.ndjson");
    let lines: Vec<Vec<u8>> = text
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(<[u8]>::to_vec)
        .collect();
    let parsed = lines
        .iter()
        .map(|line| {
            let envelope: Envelope = serde_json::from_slice(line).unwrap();
            Observation::parse(&decode_base64(&envelope.payload).unwrap()).unwrap()
        })
        .collect();
    (lines, parsed)
}

fn registry(dir: &Path) -> BTreeMap<String, SensorRegistration> {
    let sensors: Vec<Value> = serde_json::from_value(json(dir, "sensors.json")).unwrap();
    sensors
        .iter()
        .map(|v| {
            let r = SensorRegistration::from_value(v).unwrap();
            (r.id.clone(), r)
        })
        .collect()
}

fn arrival_ns(o: &Observation) -> Option<i64> {
    match &o.data {
        ObservationData::Arrival { arrival_time, .. } => Some(arrival_time.unix_nanos()),
        _ => None,
    }
}

/// Checks one run end to end; returns (true arrivals, false arrivals, mean heard by).
fn check_run(name: &str, dir: &Path, stdout: &str) -> (usize, usize, f64) {
    for needle in ["sensors:", "events:", "arrivals", "heard by"] {
        assert!(
            stdout.contains(needle),
            "{name}: summary lacks {needle}:\n{stdout}"
        );
    }
    let sensors = registry(dir);
    let keys: BTreeMap<String, String> = serde_json::from_value(json(dir, "keys.json")).unwrap();
    assert_eq!(
        keys.keys().collect::<Vec<_>>(),
        sensors.keys().collect::<Vec<_>>()
    );
    for (id, skey) in &keys {
        let signer = truce_ledger::NoteSigner::from_skey(skey).unwrap();
        assert_eq!(
            signer.public_key(),
            sensors[id].public_key_bytes().unwrap(),
            "{id}"
        );
    }

    // Every envelope passes ingest (signature, payload, kind allowed for the sensor).
    let (lines, obs) = observations(dir);
    let directory = |id: &str| {
        sensors.get(id).map(|r| SensorKey {
            public_key: r.public_key_bytes().unwrap(),
            kind: r.kind,
            revoked: false,
        })
    };
    let items: Vec<&[u8]> = lines.iter().map(Vec::as_slice).collect();
    let now = Timestamp::parse("2026-06-01T00:00:00Z").unwrap();
    for (i, verdict) in check_batch(&items, &directory, now, &IngestPolicy::default())
        .into_iter()
        .enumerate()
    {
        let accepted = verdict.unwrap_or_else(|p| panic!("{name} line {i}: {p:?}"));
        assert_eq!(accepted.sensor(), obs[i].sensor);
    }
    // Arrival order, and each sensor's seq counts from 1.
    let mut seqs: BTreeMap<&str, u64> = BTreeMap::new();
    for (i, o) in obs.iter().enumerate() {
        let last = seqs.entry(o.sensor.as_str()).or_insert(0);
        assert_eq!(o.seq, *last + 1, "{name} line {i}");
        *last = o.seq;
        if i > 0 {
            assert!(obs[i - 1].observed_at <= o.observed_at, "{name} line {i}");
        }
    }

    // The truth points at the right observations.
    let truth = json(dir, "truth.json");
    let events = truth["events"].as_array().unwrap();
    let mut claimed = vec![false; obs.len()];
    let mut heard = Vec::new();
    for e in events {
        let id = e["id"].as_str().unwrap();
        let kind = e["type"].as_str().unwrap();
        let list: Vec<usize> = e["observations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as usize)
            .collect();
        let mut sensors_heard: Vec<&str> = Vec::new();
        for &i in &list {
            assert!(i < obs.len(), "{name} {id}: observation {i} does not exist");
            assert!(!claimed[i], "{name}: observation {i} claimed twice");
            claimed[i] = true;
            let o = &obs[i];
            sensors_heard.push(&o.sensor);
            let expected = match kind {
                "launch" | "impact" => "arrival",
                "weapon_presence" => "detection",
                "fire" => "thermal",
                other => panic!("{name}: unexpected event type {other}"),
            };
            assert!(o.kind.contains(expected), "{name} {id}: {} at {i}", o.kind);
            if let ObservationData::Arrival { class, .. } = &o.data {
                assert_eq!(
                    format!("{class:?}").to_lowercase(),
                    kind,
                    "{name} {id} at {i}"
                );
                // Heard after it happened.
                let at = Timestamp::parse(e["time"].as_str().unwrap()).unwrap();
                assert!(arrival_ns(o).unwrap() > at.unix_nanos() - 100_000_000);
            }
        }
        sensors_heard.sort_unstable();
        sensors_heard.dedup();
        assert_eq!(
            e["heard_by"].as_u64().unwrap() as usize,
            sensors_heard.len()
        );
        if matches!(kind, "launch" | "impact") {
            heard.push(sensors_heard.len());
            assert!(e["party"].is_string(), "{name} {id}: no party");
        }
        if kind == "impact" && e.get("launch").is_some() {
            assert!(e["fired_by"].is_string(), "{name} {id}");
        }
    }
    let false_arrivals: Vec<usize> = truth["false_arrivals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as usize)
        .collect();
    for &i in &false_arrivals {
        assert!(!claimed[i], "{name}: false arrival {i} is also true");
        assert!(arrival_ns(&obs[i]).is_some());
        claimed[i] = true;
    }
    // Every arrival is true or false; only met reports belong to no event.
    for (i, o) in obs.iter().enumerate() {
        assert!(
            claimed[i] || o.kind == "met.surface",
            "{name}: {i} unexplained"
        );
    }
    let true_arrivals =
        obs.iter().filter(|o| arrival_ns(o).is_some()).count() - false_arrivals.len();
    let mean = heard.iter().sum::<usize>() as f64 / heard.len() as f64;
    (true_arrivals, false_arrivals.len(), mean)
}

#[test]
fn the_three_scenarios_give_valid_signed_input_and_consistent_truth() {
    for name in ["sparse", "barrage", "wind"] {
        let (dir, stdout) = sim(name, 1);
        let (true_arrivals, false_arrivals, mean) = check_run(name, dir.path(), &stdout);
        assert!(mean >= 6.0, "{name}: mean heard by {mean}");
        let fraction = false_arrivals as f64 / true_arrivals as f64;
        if name == "barrage" {
            assert!((fraction - 0.1).abs() < 0.005, "{name}: {fraction}");
            let truth = json(dir.path(), "truth.json");
            let events = truth["events"].as_array().unwrap();
            let launches = events.iter().filter(|e| e["type"] == "launch").count();
            assert_eq!(launches, 200);
        } else {
            assert_eq!(false_arrivals, 0, "{name}");
        }
        if name == "sparse" {
            let truth = json(dir.path(), "truth.json");
            let events = truth["events"].as_array().unwrap();
            let types: std::collections::BTreeSet<&str> =
                events.iter().map(|e| e["type"].as_str().unwrap()).collect();
            for t in ["launch", "impact", "weapon_presence", "fire"] {
                assert!(types.contains(t), "sparse lacks {t}");
            }
            assert!(
                events
                    .iter()
                    .any(|e| e["site"] == "kramatorsk-chp" && e["fired_by"] == "RU")
            );
            for party in ["UA", "RU"] {
                assert!(
                    events
                        .iter()
                        .any(|e| e["type"] == "launch" && e["party"] == party),
                    "no launch from {party}"
                );
            }
        }
    }
}

#[test]
fn same_seed_same_files_other_seed_other_files() {
    let (a, _) = sim("barrage", 1);
    let (b, _) = sim("barrage", 1);
    for file in FILES {
        assert!(
            read(a.path(), file) == read(b.path(), file),
            "{file} differs between two runs with seed 1"
        );
    }
    let (c, _) = sim("barrage", 2);
    for file in ["keys.json", "truth.json", "observations.ndjson"] {
        assert!(
            read(a.path(), file) != read(c.path(), file),
            "{file} is the same with seeds 1 and 2"
        );
    }
}

#[test]
fn a_westerly_wind_brings_downwind_arrivals_earlier_by_the_expected_amount() {
    // sparse and wind run the same script with the same seed, so each arrival differs only
    // by the wind: d/(c + w·u) − d/c.
    let (calm_dir, _) = sim("sparse", 1);
    let (wind_dir, _) = sim("wind", 1);
    let truth = json(calm_dir.path(), "truth.json");
    let wind_truth = json(wind_dir.path(), "truth.json");
    assert_eq!(wind_truth["weather"]["wind_from_deg"], 270.0);
    let sensors = registry(calm_dir.path());
    let (_, calm_obs) = observations(calm_dir.path());
    let (_, wind_obs) = observations(wind_dir.path());
    let g = Geodesic::wgs84();
    let calm = Weather {
        temperature_c: 5.0,
        wind_speed_mps: 0.0,
        wind_from_deg: 0.0,
    };
    let windy = Weather {
        wind_speed_mps: 8.0,
        wind_from_deg: 270.0,
        ..calm
    };
    let by_id = |t: &Value| -> BTreeMap<String, Value> {
        t["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| (e["id"].as_str().unwrap().to_string(), e.clone()))
            .collect()
    };
    let (calm_events, wind_events) = (by_id(&truth), by_id(&wind_truth));
    let (mut compared, mut earlier_east, mut later_west) = (0, 0, 0);
    for (id, e) in &calm_events {
        if !matches!(e["type"].as_str(), Some("launch" | "impact")) {
            continue;
        }
        let source: truce_model::Position = serde_json::from_value(e["position"].clone()).unwrap();
        let arrivals = |event: &Value, obs: &[Observation]| -> BTreeMap<String, i64> {
            event["observations"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| {
                    let o = &obs[i.as_u64().unwrap() as usize];
                    (o.sensor.clone(), arrival_ns(o).unwrap())
                })
                .collect()
        };
        let a = arrivals(e, &calm_obs);
        let b = arrivals(&wind_events[id], &wind_obs);
        for (sensor, t_calm) in &a {
            let Some(t_wind) = b.get(sensor) else {
                continue;
            };
            let receiver = sensors[sensor].position.unwrap();
            let expected = physics::travel_time_s(&g, &windy, &source, &receiver)
                - physics::travel_time_s(&g, &calm, &source, &receiver);
            let got = (t_wind - t_calm) as f64 / 1e9;
            assert!(
                (got - expected).abs() < 2e-9,
                "{id} at {sensor}: {got} s, expected {expected} s"
            );
            let east = receiver.lon > source.lon + 0.05;
            let west = receiver.lon < source.lon - 0.05;
            earlier_east += usize::from(east && got < 0.0);
            later_west += usize::from(west && got > 0.0);
            compared += 1;
        }
    }
    assert!(compared > 500, "{compared}");
    assert!(
        earlier_east > 100 && later_west > 100,
        "{earlier_east} {later_west}"
    );
}
