//! Per-sensor faults: each is applied as the scenario says, listed in the truth, and leaves
//! the other sensors' observations as they were.

use std::collections::{BTreeMap, BTreeSet};

use geographiclib_rs::Geodesic;
use truce_model::{ObservationData, Position};

use super::{EVENTS, calm, payloads, scenario, scenario_text};
use crate::physics::{self, Weather};
use crate::{Scenario, Simulation, simulate};

/// Forty launches over 1100 s from positions all around the unit network.
const SPREAD: &str = r#"
[[events]]
type = "barrage"
start_s = 50
duration_s = 1100
rounds = 40
positions = [[48.30, 37.70], [48.55, 37.60], [48.45, 37.35], [48.40, 37.55]]
"#;

/// (sensor, arrival time after the start, residual) of every true arrival: the reported
/// time minus the event time and the travel time to the sensor's true position in calm
/// 5 °C air.
fn residuals(s: &Scenario, sim: &Simulation) -> Vec<(String, f64, f64)> {
    let obs = payloads(sim);
    let g = Geodesic::wgs84();
    let w = Weather {
        temperature_c: 5.0,
        wind_speed_mps: 0.0,
        wind_from_deg: 0.0,
    };
    let at: BTreeMap<&str, Position> = s
        .arrays
        .iter()
        .map(|a| (a.id.as_str(), a.position))
        .collect();
    let start = s.start.unix_nanos();
    let mut out = Vec::new();
    for e in sim.truth.events.iter().filter(|e| e.is_acoustic()) {
        for &i in &e.observations {
            let ObservationData::Arrival { arrival_time, .. } = &obs[i].data else {
                panic!("{i} is not an arrival")
            };
            let travel = physics::travel_time_s(&g, &w, &e.position, &at[obs[i].sensor.as_str()]);
            let residual = (arrival_time.unix_nanos() - e.time.unix_nanos()) as f64 / 1e9 - travel;
            let arrived = (arrival_time.unix_nanos() - start) as f64 / 1e9;
            out.push((obs[i].sensor.clone(), arrived, residual));
        }
    }
    out
}

/// The envelopes of every sensor but `except`, in order.
fn others(sim: &Simulation, except: &str) -> Vec<Vec<u8>> {
    let obs = payloads(sim);
    sim.observations
        .iter()
        .zip(&obs)
        .filter(|(_, o)| o.sensor != except)
        .map(|(bytes, _)| bytes.clone())
        .collect()
}

#[test]
fn a_drifting_clock_makes_the_residuals_grow_linearly() {
    let faults = "[[sensor_faults]]\nid = \"fr-ac-001\"\nclock_drift_ppm = 100.0\n";
    let s = scenario(calm(), 0.0, &format!("{SPREAD}{faults}"));
    let sim = simulate(&s, 5);
    let points: Vec<(f64, f64)> = residuals(&s, &sim)
        .into_iter()
        .filter(|(id, ..)| id == "fr-ac-001")
        .map(|(_, t, r)| (t, r))
        .collect();
    assert!(points.len() > 30, "{}", points.len());
    // Least squares: slope 100 ppm, intercept 0, scatter the timing σ (5 ms).
    let n = points.len() as f64;
    let (mt, mr) = (
        points.iter().map(|p| p.0).sum::<f64>() / n,
        points.iter().map(|p| p.1).sum::<f64>() / n,
    );
    let sxy: f64 = points.iter().map(|(t, r)| (t - mt) * (r - mr)).sum();
    let sxx: f64 = points.iter().map(|(t, _)| (t - mt).powi(2)).sum();
    let slope = sxy / sxx;
    assert!((slope - 100e-6).abs() < 10e-6, "slope {slope}");
    assert!(
        (mr - slope * mt).abs() < 0.005,
        "intercept {}",
        mr - slope * mt
    );
    for (t, r) in &points {
        assert!((r - 100e-6 * t).abs() < 0.025, "{t}: {r}");
    }
    // The other sensors keep their bytes; the truth lists the fault.
    let healthy = simulate(&scenario(calm(), 0.0, SPREAD), 5);
    assert_eq!(others(&sim, "fr-ac-001"), others(&healthy, "fr-ac-001"));
    let fault = &sim.truth.sensor_faults[0];
    assert_eq!(sim.truth.sensor_faults.len(), 1);
    assert_eq!(
        (fault.sensor.as_str(), fault.faults.as_slice()),
        ("fr-ac-001", &["clock_drift"][..])
    );
    assert_eq!(fault.clock_drift_ppm, 100.0);
    assert!(healthy.truth.sensor_faults.is_empty());
}

#[test]
fn a_clock_offset_beyond_three_sigma_is_a_fault_and_shifts_every_arrival() {
    // ua-ac-001's own 3 ms (1.5 σ) is not a fault; fr-ac-002's 60 ms (6 σ) is.
    let faults = "[[sensor_faults]]\nid = \"fr-ac-002\"\nclock_offset_s = 0.06\n";
    let s = scenario(calm(), 0.0, &format!("{SPREAD}{faults}"));
    let sim = simulate(&s, 6);
    let listed: Vec<&str> = sim
        .truth
        .sensor_faults
        .iter()
        .map(|f| f.sensor.as_str())
        .collect();
    assert_eq!(listed, ["fr-ac-002"]);
    assert_eq!(sim.truth.sensor_faults[0].faults, ["clock_offset"]);
    for (id, _, r) in residuals(&s, &sim) {
        let (offset, sigma) = match id.as_str() {
            "fr-ac-002" => (0.06, 0.01),
            "ua-ac-001" => (0.003, 0.002),
            _ => (0.0, 0.005),
        };
        assert!((r - offset).abs() < 5.0 * sigma, "{id}: {r}");
    }
}

#[test]
fn a_bursting_sensor_adds_false_picks_in_its_windows_only() {
    let faults = "[[sensor_faults]]\nid = \"fr-ac-001\"\nfalse_bursts = [[100, 200, 0.5], [600, 650, 2.0]]\n";
    let s = scenario(calm(), 0.0, &format!("{EVENTS}{faults}"));
    let sim = simulate(&s, 7);
    let obs = payloads(&sim);
    let fault = &sim.truth.sensor_faults[0];
    assert_eq!(fault.faults, ["false_bursts"]);
    let start = s.start.unix_nanos();
    let mut all = BTreeSet::new();
    for (burst, (from, until, count)) in fault
        .false_bursts
        .iter()
        .zip([(100.0, 200.0, 50), (600.0, 650.0, 100)])
    {
        assert_eq!(burst.observations.len(), count);
        for &i in &burst.observations {
            assert_eq!(obs[i].sensor, "fr-ac-001");
            let t = (obs[i].observed_at.unix_nanos() - start) as f64 / 1e9;
            assert!((from..until).contains(&t), "{t}");
            assert!(matches!(obs[i].data, ObservationData::Arrival { .. }));
            all.insert(i);
        }
    }
    // Every false arrival is a burst pick (the scenario has no other false arrivals).
    assert_eq!(all, sim.truth.false_arrivals.iter().copied().collect());
    let healthy = simulate(&scenario(calm(), 0.0, EVENTS), 7);
    assert_eq!(others(&sim, "fr-ac-001"), others(&healthy, "fr-ac-001"));
    let summary = sim.summary();
    assert_eq!(summary.false_arrivals, 150);
    assert_eq!(summary.true_arrivals, healthy.summary().true_arrivals);
}

#[test]
fn a_misregistered_sensor_is_registered_off_but_hears_at_its_true_position() {
    let faults = "[[sensor_faults]]\nid = \"fr-ac-001\"\nregistered_offset_m = [300.0, -400.0]\n";
    let s = scenario(calm(), 0.0, &format!("{SPREAD}{faults}"));
    let sim = simulate(&s, 8);
    let g = Geodesic::wgs84();
    let truth = Position::new(48.50, 37.30);
    let registered = sim
        .sensors
        .iter()
        .find(|x| x.id() == "fr-ac-001")
        .and_then(|x| x.registration.position)
        .unwrap();
    let ray = physics::ray(&g, &truth, &registered);
    assert!((ray.distance_m - 500.0).abs() < 0.05, "{}", ray.distance_m);
    let expected = physics::wrap_degrees(300f64.atan2(-400.0).to_degrees());
    assert!((physics::wrap_degrees(ray.azimuth_deg) - expected).abs() < 0.01);
    // Arrivals follow the true position: residuals against it are pick noise.
    for (id, _, r) in residuals(&s, &sim) {
        if id == "fr-ac-001" {
            assert!(r.abs() < 0.025, "{r}");
        }
    }
    let fault = &sim.truth.sensor_faults[0];
    assert_eq!(fault.faults, ["registered_offset"]);
    assert_eq!(fault.position, truth);
    assert_eq!(fault.registered_position, registered);
    assert_eq!(fault.registered_offset_m, [300.0, -400.0]);
}

#[test]
fn detection_probability_caps_the_share_of_signals_heard() {
    // 200 launches 5-25 km from the arrays (60 km of 50 % range: the logistic is above
    // 0.997): the capped array hears about 60 % of them, the others nearly all.
    let events = "[[events]]\ntype = \"barrage\"\nstart_s = 10\nduration_s = 1000\nrounds = 200\npositions = [[48.45, 37.45], [48.40, 37.60]]\n[[sensor_faults]]\nid = \"fr-ac-002\"\ndetection_probability = 0.6\n";
    let s = scenario(calm(), 0.0, events);
    let sim = simulate(&s, 9);
    let obs = payloads(&sim);
    let mut heard: BTreeMap<&str, usize> = BTreeMap::new();
    for e in &sim.truth.events {
        for &i in &e.observations {
            *heard.entry(obs[i].sensor.as_str()).or_default() += 1;
        }
    }
    assert!(
        heard["fr-ac-001"] >= 197 && heard["ua-ac-001"] >= 197,
        "{heard:?}"
    );
    let share = heard["fr-ac-002"] as f64 / 200.0;
    assert!((share - 0.6).abs() < 0.1, "{share}");
    assert_eq!(sim.truth.sensor_detection.len(), 1);
    assert_eq!(sim.truth.sensor_detection[0].sensor, "fr-ac-002");
    assert_eq!(sim.truth.sensor_detection[0].detection_probability, 0.6);
    // A cap is not a fault: the sensor's reports are right, only fewer.
    assert!(sim.truth.sensor_faults.is_empty());
}

#[test]
fn false_arrivals_can_be_half_of_all_arrivals() {
    let sim = simulate(&scenario(calm(), 1.0, EVENTS), 10);
    let summary = sim.summary();
    assert!(summary.true_arrivals > 50);
    assert_eq!(summary.false_arrivals, summary.true_arrivals);
    let text = scenario_text(calm(), 10.5, EVENTS);
    assert!(Scenario::parse(&text, None, super::agreement()).is_err());
}

#[test]
fn fault_fields_are_checked() {
    let events = r#"
[[sensor_faults]]
ids = ["fr-ac-001", "nobody"]
clock_drift_ppm = 5000
detection_probability = 1.5
false_bursts = [[300, 200, 1.0]]
registered_offset_m = [1e6, 0]

[[sensor_faults]]
clock_offset_s = 0.1
"#;
    let text = scenario_text(calm(), 0.0, events);
    let Err(crate::ScenarioError::Invalid(problems)) =
        Scenario::parse(&text, None, super::agreement())
    else {
        panic!("should fail")
    };
    let text = problems.join("\n");
    for needle in [
        "no acoustic, seismic or infrasound sensor nobody",
        "sensor_faults[1]: give id or ids",
        "sensor fr-ac-001.clock_drift_ppm",
        "sensor fr-ac-001.detection_probability",
        "sensor fr-ac-001.false_bursts",
        "sensor fr-ac-001.registered_offset_m",
    ] {
        assert!(text.contains(needle), "{needle} not in:\n{text}");
    }
}

#[test]
fn group_defaults_carry_the_faults_and_members_override_them() {
    let net = r#"
[[sensor_groups]]
kind = "acoustic"
operator = "GB"
timing_sigma_s = 0.004
detection_range_km = 30
clock_drift_ppm = 5.0
detection_probability = 0.9
false_bursts = [[10, 20, 1.0]]
sensors = [
  { id = "gb-ac-001", lat = 48.40, lon = 37.40 },
  { id = "gb-ac-002", lat = 48.45, lon = 37.45, clock_drift_ppm = 0.0, detection_probability = 1.0, false_bursts = [], registered_offset_m = [10.0, 0.0] },
]
"#;
    let s = scenario(calm(), 0.0, net);
    let a = s.arrays.iter().find(|a| a.id == "gb-ac-001").unwrap();
    assert_eq!(
        (
            a.clock_drift_ppm,
            a.detection_probability,
            a.false_bursts.len()
        ),
        (5.0, 0.9, 1)
    );
    assert_eq!(a.faults(), ["clock_drift", "false_bursts"]);
    let b = s.arrays.iter().find(|a| a.id == "gb-ac-002").unwrap();
    assert_eq!(
        (
            b.clock_drift_ppm,
            b.detection_probability,
            b.false_bursts.len()
        ),
        (0.0, 1.0, 0)
    );
    assert_eq!(b.faults(), ["registered_offset"]);
}
