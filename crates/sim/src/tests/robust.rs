//! The robust scenarios (examples/scenarios/robust/): each loads, simulates, has enough
//! true acoustic events and the faults it names; the network's arrays lie on their
//! operators' sides of the line.

use std::collections::BTreeMap;

use super::repo;
use crate::{Scenario, simulate};

pub(super) const ROBUST: [&str; 10] = [
    "salvo",
    "batteries",
    "wrong-wind",
    "no-met",
    "clock-faults",
    "false-bursts",
    "misplaced",
    "clutter",
    "whole-line",
    "everything",
];

pub(super) fn load(name: &str) -> Scenario {
    let path = repo().join(format!("examples/scenarios/robust/{name}.toml"));
    Scenario::load(&path).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn every_robust_scenario_loads_simulates_and_has_enough_events() {
    for name in ROBUST {
        let s = load(name);
        let sim = simulate(&s, 1);
        let summary = sim.summary();
        println!("{name}: {} arrays\n{summary}\n", s.arrays.len());
        assert!(summary.acoustic_events >= 40, "{name}: {summary}");
        for e in sim.truth.events.iter().filter(|e| e.is_acoustic()) {
            assert!(e.party.is_some(), "{name}: {} outside every area", e.id);
        }
    }
}

#[test]
fn the_robust_network_lies_on_its_operators_sides() {
    let s = load("salvo");
    let side: BTreeMap<&str, &str> = [("UA", "UA"), ("FR", "UA"), ("RU", "RU"), ("TR", "RU")]
        .into_iter()
        .collect();
    assert_eq!(s.arrays.len(), 24);
    for a in &s.arrays {
        let place = s.agreement.place(&a.position);
        assert_eq!(
            place.side.as_deref(),
            Some(side[a.operator.as_str()]),
            "{}",
            a.id
        );
        assert!(place.distance_to_line_m > 2_000.0, "{}: {place:?}", a.id);
        assert!(
            a.faults().is_empty(),
            "{} is faulty in the network file",
            a.id
        );
    }
    for m in &s.file.network.met_sensors {
        let place = s.agreement.place(&truce_model::Position::new(m.lat, m.lon));
        assert_eq!(place.side.as_deref(), Some(m.operator.as_str()), "{}", m.id);
    }
}

/// The faulty arrays of a run, by id, with their faults.
fn faulty(
    name: &str,
) -> (
    Scenario,
    crate::Simulation,
    BTreeMap<String, Vec<&'static str>>,
) {
    let s = load(name);
    let sim = simulate(&s, 1);
    let faults = sim
        .truth
        .sensor_faults
        .iter()
        .map(|f| (f.sensor.clone(), f.faults.clone()))
        .collect();
    (s, sim, faults)
}

#[test]
fn each_robust_scenario_has_the_faults_it_names() {
    let (_, _, f) = faulty("clock-faults");
    let expected: BTreeMap<String, Vec<&str>> = [
        ("fr-zp-002", "clock_offset"),
        ("ru-zp-002", "clock_drift"),
        ("ru-zp-004", "clock_offset"),
        ("ua-zp-003", "clock_offset"),
    ]
    .into_iter()
    .map(|(id, kind)| (id.to_string(), vec![kind]))
    .collect();
    assert_eq!(f, expected);

    let (_, sim, f) = faulty("false-bursts");
    assert_eq!(f.keys().collect::<Vec<_>>(), ["ru-zp-003"]);
    assert_eq!(sim.truth.false_arrivals.len(), 350);

    let (_, sim, f) = faulty("misplaced");
    assert_eq!(f["ua-zp-003"], ["registered_offset"]);
    let m = &sim.truth.sensor_faults[0];
    let g = crate::physics::Geodesic::wgs84();
    let off = crate::physics::ray(&g, &m.position, &m.registered_position).distance_m;
    assert!((off - 300.0).abs() < 0.1, "{off}");

    for name in [
        "salvo",
        "batteries",
        "wrong-wind",
        "no-met",
        "clutter",
        "whole-line",
    ] {
        let (_, sim, f) = faulty(name);
        assert!(f.is_empty(), "{name}: {f:?}");
        assert!(sim.truth.sensor_detection.is_empty(), "{name}");
    }
    let (_, sim, _) = faulty("no-met");
    assert!(sim.kinds.iter().all(|k| *k != "met.surface"));
    let summary = faulty("clutter").1.summary();
    assert_eq!(summary.false_arrivals, summary.true_arrivals);
}

#[test]
fn the_wrong_wind_report_is_four_metres_a_second_off() {
    let (s, sim, _) = faulty("wrong-wind");
    let report = sim.truth.met_report.as_ref().unwrap();
    let [e, n] = report.wind_offset_mps;
    assert!((e.hypot(n) - 4.0).abs() < 1e-9);
    assert_eq!(report.sensors.len(), 2);
    assert_eq!(report.observations.len(), 20);
    let truth = s.weather().wind_mps();
    let obs = super::payloads(&sim);
    for &i in &report.observations {
        let truce_model::ObservationData::Met {
            wind_speed_mps,
            wind_from_deg,
            ..
        } = obs[i].data
        else {
            panic!()
        };
        let [re, rn] = crate::physics::wind_vector_mps(wind_speed_mps, wind_from_deg);
        let error = (re - truth[0]).hypot(rn - truth[1]);
        assert!((error - 4.0).abs() < 0.02, "{error}");
    }
}

#[test]
fn the_everything_scenario_combines_every_fault() {
    let (_, sim, f) = faulty("everything");
    let count = |kind: &str| f.values().filter(|k| k.contains(&kind)).count();
    assert_eq!(count("clock_offset"), 3);
    assert_eq!(count("clock_drift"), 1);
    assert_eq!(count("false_bursts"), 1);
    assert_eq!(count("registered_offset"), 1);
    assert_eq!(sim.truth.sensor_detection.len(), 24);
    assert!(sim.truth.met_report.is_some());
    let summary = sim.summary();
    let share =
        summary.false_arrivals as f64 / (summary.false_arrivals + summary.true_arrivals) as f64;
    assert!((0.25..=0.5).contains(&share), "{share}");
    let launches = sim
        .truth
        .events
        .iter()
        .filter(|e| e.event_type == "launch")
        .count();
    assert_eq!(launches, 160 + 48);
}

#[test]
fn the_batteries_fire_160_rounds_in_about_80_seconds() {
    let (s, sim, _) = faulty("batteries");
    let start = s.start.unix_nanos();
    let mut per_battery: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    for e in sim.truth.events.iter().filter(|e| e.event_type == "launch") {
        let t = (e.time.unix_nanos() - start) as f64 / 1e9;
        per_battery.entry(&e.id[..3]).or_default().push(t);
    }
    assert_eq!(per_battery.len(), 4);
    let all: Vec<f64> = per_battery.values().flatten().copied().collect();
    let span =
        all.iter().copied().fold(f64::MIN, f64::max) - all.iter().copied().fold(f64::MAX, f64::min);
    assert_eq!(all.len(), 160);
    assert!(span < 95.0, "{span}");
    for (battery, times) in &per_battery {
        for w in times.windows(2) {
            assert!((1.0..=2.5).contains(&(w[1] - w[0])), "{battery}: {w:?}");
        }
    }
}

#[test]
fn the_whole_line_network_spans_the_front() {
    let (s, sim, _) = faulty("whole-line");
    assert!((200..=230).contains(&s.arrays.len()), "{}", s.arrays.len());
    for a in &s.arrays {
        assert!(
            a.id.starts_with("wl-l") || a.id.starts_with("wl-r"),
            "{}",
            a.id
        );
        let place = s.agreement.place(&a.position);
        assert_eq!(place.side.as_deref(), Some(a.operator.as_str()), "{}", a.id);
        assert!(place.distance_to_line_m >= 8_000.0, "{}", a.id);
    }
    let launches: Vec<_> = sim
        .truth
        .events
        .iter()
        .filter(|e| e.event_type == "launch")
        .collect();
    assert_eq!(launches.len(), 150);
    for e in &launches {
        let place = s.agreement.place(&e.position);
        assert!(place.distance_to_line_m > 2_000.0, "{}", e.id);
    }
    // From one end of the line to the other.
    let lons: Vec<f64> = s.arrays.iter().map(|a| a.position.lon).collect();
    let (west, east) = (
        lons.iter().copied().fold(f64::MAX, f64::min),
        lons.iter().copied().fold(f64::MIN, f64::max),
    );
    assert!(west < 33.0 && east > 38.0, "{west} {east}");
}
