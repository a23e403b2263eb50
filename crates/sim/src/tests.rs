//! Simulations of small scenarios on the sample agreement, checked against the model.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use geographiclib_rs::Geodesic;
use serde_json::Value;
use truce_agreement::Agreement;
use truce_ingest::{IngestPolicy, SensorKey, check_one};
use truce_model::envelope::decode_base64;
use truce_model::{Envelope, Observation, ObservationData, Position, SensorKind, Timestamp};

use crate::physics::{self, Weather};
use crate::{Scenario, ScenarioError, Simulation, simulate};

mod faults;
mod golden;
mod robust;
mod volleys;
mod weather;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn agreement() -> Agreement {
    Agreement::load(&repo().join("examples/agreement/agreement.toml")).unwrap()
}

/// Four arrays around Bakhmut-Horlivka, a weather station, a drone and a feed.
const NETWORK: &str = r#"
[[sensors]]
id = "ua-ac-001"
kind = "acoustic"
operator = "UA"
lat = 48.60
lon = 37.50
timing_sigma_s = 0.002
backazimuth_sigma_deg = 2.0
detection_range_km = 60
clock_offset_s = 0.003

[[sensor_groups]]
kind = "acoustic"
operator = "FR"
timing_sigma_s = 0.005
detection_range_km = 60
sensors = [
  { id = "fr-ac-001", lat = 48.50, lon = 37.30 },
  { id = "fr-ac-002", lat = 48.30, lon = 37.55, timing_sigma_s = 0.01 },
]

[[sensor_groups]]
kind = "seismic"
operator = "RU"
timing_sigma_s = 0.01
detection_range_km = 60
sensors = [
  { id = "ru-se-001", lat = 48.35, lon = 37.90, outages = [[0, 100000]] },
]

[[met_sensors]]
id = "ua-met-001"
operator = "UA"
lat = 48.55
lon = 37.45
interval_s = 300

[[drones]]
id = "tr-dr-001"
operator = "TR"

[[satellite_feeds]]
id = "firms-n20"
operator = "NASA"
latency_s = 900

[[infrastructure_sensors]]
id = "ua-inf-001"
operator = "UA"
"#;

fn scenario_text(weather: &str, false_fraction: f64, events: &str) -> String {
    format!(
        r#"
[scenario]
name = "unit"
agreement = "unused"
start = "2026-01-07T22:00:00Z"
duration_s = 1200

[weather]
{weather}

[false_arrivals]
fraction = {false_fraction}
class = "random"
{NETWORK}
{events}
"#
    )
}

const EVENTS: &str = r#"
[[events]]
type = "launch"
time_s = 60
lat = 48.30
lon = 37.75
weapon_class = "artillery_100mm_plus"
impact = { lat = 48.52, lon = 37.55, flight_time_s = 45 }

[[events]]
type = "impact"
time_s = 200.5
lat = 48.45
lon = 37.40

[[events]]
type = "barrage"
start_s = 300
duration_s = 60
rounds = 10
positions = [[48.30, 37.70], [48.55, 37.60]]
targets = [[48.50, 37.45], [48.35, 37.80]]

[[events]]
type = "weapon_move"
time_s = 400
object_class = "mlrs"
calibre_mm = 122
count = 2
path = [[48.20, 37.95], [48.22, 38.00], [48.25, 38.02]]
speed_mps = 10
drone = "tr-dr-001"
report_interval_s = 60

[[events]]
type = "site_strike"
time_s = 600
site = "kramatorsk-chp"
lat = 48.58
lon = 37.93

[[events]]
type = "fire"
time_s = 700
lat = 48.45
lon = 37.40
satellite_feed = "firms-n20"
pass_s = 900

[[events]]
type = "fire"
time_s = 1000
lat = 48.40
lon = 37.45
satellite_feed = "firms-n20"
pass_s = 900

[[events]]
type = "site_status"
time_s = 1100
reporter = "ua-inf-001"
site = "kramatorsk-chp"
service = "heating"
status = "outage"
households_affected = 42000
"#;

fn calm() -> &'static str {
    "temperature_c = 5.0"
}

fn scenario(weather: &str, false_fraction: f64, events: &str) -> Scenario {
    Scenario::parse(
        &scenario_text(weather, false_fraction, events),
        None,
        agreement(),
    )
    .unwrap()
}

/// Every observation's payload, parsed and validated.
fn payloads(sim: &Simulation) -> Vec<Observation> {
    sim.observations
        .iter()
        .map(|bytes| {
            let envelope: Envelope = serde_json::from_slice(bytes).unwrap();
            Observation::parse(&decode_base64(&envelope.payload).unwrap()).unwrap()
        })
        .collect()
}

fn positions(sim: &Simulation) -> BTreeMap<String, Position> {
    sim.sensors
        .iter()
        .filter_map(|s| Some((s.id().to_string(), s.registration.position?)))
        .collect()
}

#[test]
fn same_seed_same_bytes_other_seed_other_bytes() {
    let s = scenario(calm(), 0.1, EVENTS);
    let a = simulate(&s, 7);
    let b = simulate(&s, 7);
    assert_eq!(a.observations, b.observations);
    assert_eq!(a.truth, b.truth);
    assert_eq!(a.keys(), b.keys());
    let c = simulate(&s, 8);
    assert_ne!(a.observations, c.observations);
    assert_ne!(a.keys(), c.keys());
}

#[test]
fn every_envelope_passes_ingest_with_the_registered_keys() {
    let s = scenario(calm(), 0.1, EVENTS);
    let sim = simulate(&s, 3);
    let registry: BTreeMap<String, SensorKey> = sim
        .sensors
        .iter()
        .map(|s| {
            let r = truce_model::SensorRegistration::from_value(&s.registration_json()).unwrap();
            (
                r.id.clone(),
                SensorKey {
                    public_key: r.public_key_bytes().unwrap(),
                    kind: r.kind,
                    revoked: false,
                },
            )
        })
        .collect();
    let directory = |id: &str| registry.get(id).cloned();
    let now = Timestamp::parse("2026-01-09T00:00:00Z").unwrap();
    assert!(!sim.observations.is_empty());
    for (i, bytes) in sim.observations.iter().enumerate() {
        let accepted = check_one(bytes, &directory, now, &IngestPolicy::default())
            .unwrap_or_else(|p| panic!("observation {i}: {p:?}"));
        let envelope: Envelope = serde_json::from_slice(bytes).unwrap();
        assert_eq!(envelope.signatures[0].keyid, accepted.sensor());
    }
    // Every kind the script makes is there.
    let kinds: std::collections::BTreeSet<_> = sim.kinds.iter().copied().collect();
    for kind in [
        "acoustic.arrival",
        "drone.detection",
        "satellite.thermal",
        "met.surface",
        "infrastructure.status",
    ] {
        assert!(kinds.contains(kind), "{kind} missing: {kinds:?}");
    }
    // The utility's report says what the script says, when it says it.
    let status = payloads(&sim)
        .into_iter()
        .find(|o| o.kind == "infrastructure.status")
        .unwrap();
    assert_eq!(status.sensor, "ua-inf-001");
    assert_eq!(
        status.observed_at,
        Timestamp::parse("2026-01-07T22:18:20Z").unwrap()
    );
    assert_eq!(
        status.data,
        ObservationData::Infrastructure {
            site_id: "kramatorsk-chp".into(),
            service: "heating".into(),
            status: "outage".into(),
            households_affected: Some(42000),
        }
    );
}

#[test]
fn observations_arrive_in_order_and_each_sensor_counts_from_one() {
    let sim = simulate(&scenario(calm(), 0.2, EVENTS), 5);
    let obs = payloads(&sim);
    let mut last: BTreeMap<&str, u64> = BTreeMap::new();
    for pair in obs.windows(2) {
        assert!(pair[0].observed_at <= pair[1].observed_at);
    }
    for o in &obs {
        let seq = last.entry(o.sensor.as_str()).or_insert(0);
        assert_eq!(o.seq, *seq + 1, "{}", o.sensor);
        *seq = o.seq;
        if let ObservationData::Arrival { arrival_time, .. } = o.data {
            assert_eq!(arrival_time, o.observed_at);
        }
    }
}

#[test]
fn arrivals_follow_the_travel_time_model() {
    let weather = "temperature_c = 5.0\nwind_speed_mps = 8.0\nwind_from_deg = 270.0";
    let s = scenario(weather, 0.0, EVENTS);
    let sim = simulate(&s, 11);
    let obs = payloads(&sim);
    let at = positions(&sim);
    let g = Geodesic::wgs84();
    let w = Weather {
        temperature_c: 5.0,
        wind_speed_mps: 8.0,
        wind_from_deg: 270.0,
    };
    let mut checked = 0;
    for e in sim.truth.events.iter().filter(|e| e.is_acoustic()) {
        assert_eq!(e.heard_by, e.observations.len());
        for &i in &e.observations {
            let o = &obs[i];
            let ObservationData::Arrival {
                arrival_time,
                arrival_sigma_s,
                class,
                backazimuth_deg,
                ..
            } = &o.data
            else {
                panic!("{i} is not an arrival")
            };
            assert_eq!(
                format!("{class:?}").to_lowercase(),
                e.event_type,
                "class of {i}"
            );
            let receiver = at[&o.sensor];
            let travel = physics::travel_time_s(&g, &w, &e.position, &receiver);
            let offset = if o.sensor == "ua-ac-001" { 0.003 } else { 0.0 };
            let residual =
                (arrival_time.unix_nanos() - e.time.unix_nanos()) as f64 / 1e9 - travel - offset;
            assert!(
                residual.abs() < 5.0 * arrival_sigma_s + 2e-9,
                "{}: residual {residual} s at {}",
                e.id,
                o.sensor
            );
            if let Some(baz) = backazimuth_deg {
                let truth = physics::backazimuth_deg(&g, &receiver, &e.position);
                let diff = (baz - truth + 540.0).rem_euclid(360.0) - 180.0;
                assert!(diff.abs() < 10.0, "{baz} vs {truth}");
            }
            checked += 1;
        }
    }
    assert!(checked > 30, "{checked}");
    // The seismic station is out for the whole scenario.
    assert!(obs.iter().all(|o| o.sensor != "ru-se-001"));
}

#[test]
fn truth_links_launches_impacts_sites_and_parties() {
    let s = scenario(calm(), 0.0, EVENTS);
    let sim = simulate(&s, 2);
    let t = &sim.truth;
    let by_id: BTreeMap<&str, _> = t.events.iter().map(|e| (e.id.as_str(), e)).collect();
    // Events are in time order.
    assert!(t.events.windows(2).all(|w| w[0].time <= w[1].time));
    let first = by_id["s01-impact"];
    assert_eq!(first.launch.as_deref(), Some("s01-launch"));
    assert_eq!(first.fired_by.as_deref(), Some("RU"));
    assert_eq!(first.party.as_deref(), Some("UA"));
    assert_eq!(
        first.time.unix_nanos() - by_id["s01-launch"].time.unix_nanos(),
        45_000_000_000
    );
    assert_eq!(by_id["s02-impact"].launch, None);
    assert_eq!(by_id["s02-impact"].fired_by, None);
    // The barrage: ten launches, each with its impact, times within the span.
    let launches: Vec<_> = t
        .events
        .iter()
        .filter(|e| e.id.starts_with("s03-") && e.event_type == "launch")
        .collect();
    assert_eq!(launches.len(), 10);
    let start = Timestamp::parse("2026-01-07T22:05:00Z").unwrap();
    let end = Timestamp::parse("2026-01-07T22:06:00Z").unwrap();
    assert!(launches.iter().all(|l| l.time >= start && l.time < end));
    assert_eq!(
        t.events
            .iter()
            .filter(|e| e.launch.as_deref().is_some_and(|l| l.starts_with("s03-")))
            .count(),
        10
    );
    // The site strike lands on the site.
    let strike = by_id["s05-impact"];
    assert_eq!(strike.site.as_deref(), Some("kramatorsk-chp"));
    let place = s.agreement.place(&strike.position);
    assert!(
        place.sites.iter().any(|h| h.id == "kramatorsk-chp"),
        "{place:?}"
    );
    assert_eq!(strike.fired_by.as_deref(), Some("RU"));
}

#[test]
fn drones_and_satellites_report_what_they_see() {
    let s = scenario(calm(), 0.0, EVENTS);
    let sim = simulate(&s, 4);
    let obs = payloads(&sim);
    let sightings: Vec<_> = sim
        .truth
        .events
        .iter()
        .filter(|e| e.event_type == "weapon_presence")
        .collect();
    // A path of about 4.3 + 3.7 km at 10 m/s: about 800 s, a report a minute from 400 s
    // through 1180 s (the scenario ends at 1200 s): 14 reports.
    assert_eq!(sightings.len(), 14, "{sightings:?}");
    let g = Geodesic::wgs84();
    for e in &sightings {
        assert_eq!(e.object_class.as_deref(), Some("mlrs"));
        assert_eq!(e.weapon_class, Some(truce_model::WeaponClass::Mlrs));
        assert_eq!(e.observations.len(), 1);
        let ObservationData::Detection {
            position, count, ..
        } = &obs[e.observations[0]].data
        else {
            panic!()
        };
        assert_eq!(*count, 2);
        let d = physics::ray(&g, &e.position, position).distance_m;
        assert!(d < 150.0, "{d}");
        assert_eq!(e.party.as_deref(), Some("RU"));
    }
    let fires: Vec<_> = sim
        .truth
        .events
        .iter()
        .filter(|e| e.event_type == "fire")
        .collect();
    assert_eq!(fires.len(), 2);
    // The first fire burns before the pass and is seen; the second starts after it.
    assert_eq!(fires[0].observations.len(), 1);
    assert!(fires[1].observations.is_empty());
    let o = &obs[fires[0].observations[0]];
    let ObservationData::Thermal { acquired_at, .. } = &o.data else {
        panic!()
    };
    assert_eq!(acquired_at.to_string(), "2026-01-07T22:15:00Z");
    assert_eq!(o.observed_at.to_string(), "2026-01-07T22:30:00Z");
    // Weather: every 300 s from the start through 1200 s.
    assert_eq!(sim.kinds.iter().filter(|k| **k == "met.surface").count(), 5);
}

#[test]
fn false_arrivals_are_the_given_fraction_and_listed() {
    let s = scenario(calm(), 0.25, EVENTS);
    let sim = simulate(&s, 9);
    let summary = sim.summary();
    let expected = (0.25 * summary.true_arrivals as f64).round() as usize;
    assert_eq!(summary.false_arrivals, expected);
    assert!(expected > 5);
    let obs = payloads(&sim);
    let linked: std::collections::BTreeSet<usize> = sim
        .truth
        .events
        .iter()
        .flat_map(|e| e.observations.iter().copied())
        .collect();
    for &i in &sim.truth.false_arrivals {
        assert!(!linked.contains(&i));
        assert!(matches!(obs[i].data, ObservationData::Arrival { .. }));
    }
    // Every arrival is either true or false.
    let arrivals = obs
        .iter()
        .filter(|o| matches!(o.data, ObservationData::Arrival { .. }))
        .count();
    assert_eq!(arrivals, summary.true_arrivals + summary.false_arrivals);
}

#[test]
fn registrations_and_keys_are_usable() {
    let sim = simulate(&scenario(calm(), 0.0, EVENTS), 1);
    let keys = sim.keys();
    assert_eq!(keys.len(), sim.sensors.len());
    for s in &sim.sensors {
        let json = s.registration_json();
        let r = truce_model::SensorRegistration::from_value(&json).unwrap();
        let signer = truce_ledger::NoteSigner::from_skey(&keys[&r.id]).unwrap();
        assert_eq!(signer.public_key(), r.public_key_bytes().unwrap());
        match r.kind {
            SensorKind::Acoustic | SensorKind::Seismic => {
                assert!(r.position.is_some() && r.timing_sigma_s.is_some())
            }
            SensorKind::Drone | SensorKind::SatelliteFeed => assert!(r.position.is_none()),
            _ => {}
        }
    }
    let ua = sim.sensors.iter().find(|s| s.id() == "ua-ac-001").unwrap();
    assert_eq!(
        ua.registration_json()["backazimuth_sigma_deg"],
        Value::from(2.0)
    );
}

#[test]
fn bad_scenarios_list_every_problem() {
    let events = r#"
[[events]]
type = "site_strike"
time_s = 10
site = "no-such-site"
lat = 48.5
lon = 37.5

[[events]]
type = "weapon_move"
time_s = 5000
object_class = "spaceship"
path = [[48.2, 37.9]]
drone = "nobody"

[[events]]
type = "site_status"
time_s = 20
reporter = "nobody"
site = "kramatorsk-chp"
service = "steam"
status = "broken"
"#;
    let text = scenario_text(calm(), 0.0, events).replace("fr-ac-002", "fr-ac-001");
    let Err(ScenarioError::Invalid(problems)) = Scenario::parse(&text, None, agreement()) else {
        panic!("should fail")
    };
    let text = problems.join("\n");
    for needle in [
        "fr-ac-001 is used twice",
        "no protected site no-such-site",
        "events[1].time_s",
        "events[1].object_class",
        "events[1].path",
        "no drone nobody",
        "no sensor nobody in [[infrastructure_sensors]]",
        "events[2].service",
        "events[2].status",
    ] {
        assert!(text.contains(needle), "{needle} not in:\n{text}");
    }
    let unknown = scenario_text(calm(), 0.0, "").replace("duration_s", "colour = 1\nduration_s");
    assert!(matches!(
        Scenario::parse(&unknown, None, agreement()),
        Err(ScenarioError::Syntax { .. })
    ));
    let unknown_in_event = scenario_text(
        calm(),
        0.0,
        "[[events]]\ntype = \"impact\"\ntime_s = 1\nlat = 48.4\nlon = 37.5\ncolour = 1\n",
    );
    assert!(matches!(
        Scenario::parse(&unknown_in_event, None, agreement()),
        Err(ScenarioError::Syntax { .. })
    ));
}

#[test]
fn the_example_scenarios_load_and_are_heard_well() {
    for name in ["sparse", "barrage", "wind"] {
        let path = repo().join(format!("examples/scenarios/{name}.toml"));
        let s = Scenario::load(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
        let summary = simulate(&s, 1).summary();
        assert!(summary.mean_heard_by >= 6.0, "{name}: {summary}");
    }
}

#[test]
fn the_documented_scenario_format_parses() {
    let docs = include_str!("lib.rs");
    let start = docs.find("//! ```toml\n").unwrap() + "//! ```toml\n".len();
    let end = start + docs[start..].find("//! ```\n").unwrap();
    let text: String = docs[start..end]
        .lines()
        .map(|l| {
            l.strip_prefix("//! ")
                .or(l.strip_prefix("//!"))
                .unwrap_or(l)
        })
        .collect::<Vec<_>>()
        .join("\n");
    let s = Scenario::parse(&text, Some(("donetsk-network.toml", "")), agreement())
        .unwrap_or_else(|e| panic!("{e}\n{text}"));
    let sim = simulate(&s, 1);
    let types: std::collections::BTreeSet<_> =
        sim.truth.events.iter().map(|e| e.event_type).collect();
    assert_eq!(
        types.into_iter().collect::<Vec<_>>(),
        ["fire", "impact", "launch", "weapon_presence"]
    );
}
