//! The true weather varying in time and space, and the weather stations' misreports.

use std::collections::BTreeMap;

use geographiclib_rs::Geodesic;
use truce_model::{Observation, ObservationData, Position};

use super::{calm, payloads, scenario};
use crate::physics::{self, Weather};
use crate::simulate;

/// Forty launches over 1100 s from positions all around the unit network.
const SPREAD: &str = r#"
[[events]]
type = "barrage"
start_s = 50
duration_s = 1100
rounds = 40
positions = [[48.30, 37.70], [48.55, 37.60], [48.45, 37.35], [48.40, 37.55]]
"#;

/// A westerly rising from calm at the start to 20 m/s at 1200 s.
const RISING: &str = r#"
[[weather.keyframes]]
time_s = 0
wind_speed_mps = 0

[[weather.keyframes]]
time_s = 1200
wind_speed_mps = 20
wind_from_deg = 270
"#;

fn met_reports(obs: &[Observation]) -> Vec<(&str, i64, [f64; 3])> {
    obs.iter()
        .filter_map(|o| match o.data {
            ObservationData::Met {
                temperature_c,
                wind_speed_mps,
                wind_from_deg,
                ..
            } => Some((
                o.sensor.as_str(),
                o.observed_at.unix_nanos(),
                [temperature_c, wind_speed_mps, wind_from_deg],
            )),
            _ => None,
        })
        .collect()
}

#[test]
fn a_wind_keyframe_changes_the_travel_times() {
    let s = scenario(calm(), 0.0, &format!("{SPREAD}{RISING}"));
    let sim = simulate(&s, 12);
    let obs = payloads(&sim);
    let g = Geodesic::wgs84();
    let at: BTreeMap<&str, Position> = s
        .arrays
        .iter()
        .map(|a| (a.id.as_str(), a.position))
        .collect();
    let (mut checked, mut shifted) = (0, 0);
    for e in sim.truth.events.iter().filter(|e| e.is_acoustic()) {
        let t = (e.time.unix_nanos() - s.start.unix_nanos()) as f64 / 1e9;
        let windy = Weather {
            temperature_c: 5.0,
            wind_speed_mps: 20.0 * t / 1200.0,
            wind_from_deg: 270.0,
        };
        let truth = e
            .weather
            .expect("a varying weather is in the truth of each event");
        assert!((truth.wind_east_mps - windy.wind_speed_mps).abs() < 1e-9);
        assert!(truth.wind_north_mps.abs() < 1e-9);
        for &i in &e.observations {
            let ObservationData::Arrival { arrival_time, .. } = &obs[i].data else {
                panic!()
            };
            let receiver = at[obs[i].sensor.as_str()];
            let offset = if obs[i].sensor == "ua-ac-001" {
                0.003
            } else {
                0.0
            };
            let took = (arrival_time.unix_nanos() - e.time.unix_nanos()) as f64 / 1e9 - offset;
            let expected = physics::travel_time_s(&g, &windy, &e.position, &receiver);
            assert!(
                (took - expected).abs() < 0.05,
                "{}: {took} {expected}",
                e.id
            );
            let still = physics::travel_time_s(&g, &Weather::STANDARD, &e.position, &receiver);
            let still = still * physics::sound_speed_mps(15.0) / physics::sound_speed_mps(5.0);
            if (took - still).abs() > 0.1 {
                shifted += 1;
            }
            checked += 1;
        }
    }
    assert!(checked > 100 && shifted > 30, "{checked} {shifted}");
    let model = sim.truth.weather_model.as_ref().unwrap();
    assert_eq!(model.keyframes.len(), 2);
    assert_eq!(model.keyframes[1].weather.wind_speed_mps, 20.0);
    // The stations report the true (varying) weather, rounded.
    let reports = met_reports(&obs);
    assert_eq!(reports.len(), 5);
    assert_eq!(reports[2].2, [5.0, 10.0, 270.0]);
}

#[test]
fn the_met_report_carries_its_offsets_staleness_and_stop() {
    let weather = "temperature_c = 5.0\nwind_speed_mps = 8.0\nwind_from_deg = 270.0";
    let report = r#"
[met_report]
wind_offset_mps = [3.0, 4.0]
temperature_offset_c = -1.5
stop_after_s = 600
"#;
    let sim = simulate(&scenario(weather, 0.0, &format!("{SPREAD}{report}")), 13);
    let obs = payloads(&sim);
    let reports = met_reports(&obs);
    // Reports at 0, 300 and 600 s only; the true (8, 0) plus (3, 4) is 11.70 m/s from 250°.
    assert_eq!(reports.len(), 3);
    let speed = (121f64 + 16.0).sqrt();
    let from = physics::wrap_degrees((-11f64).atan2(-4.0).to_degrees());
    for (_, _, [t, s, d]) in &reports {
        assert_eq!(*t, 3.5);
        assert!((s - speed).abs() < 0.006, "{s}");
        assert!((d - from).abs() < 0.06, "{d} {from}");
    }
    let truth = sim.truth.met_report.as_ref().unwrap();
    assert_eq!(truth.sensors, ["ua-met-001"]);
    assert_eq!(truth.wind_offset_mps, [3.0, 4.0]);
    assert_eq!(truth.observations.len(), 3);
    for &i in &truth.observations {
        assert_eq!(obs[i].kind, "met.surface");
    }
    // The true weather stays in the truth, unchanged by the report.
    assert_eq!(sim.truth.weather.wind_speed_mps, 8.0);
}

#[test]
fn a_stale_station_reports_the_weather_of_earlier() {
    let report = "[met_report]\nstale_s = 600\n";
    let sim = simulate(&scenario(calm(), 0.0, &format!("{RISING}{report}")), 14);
    let obs = payloads(&sim);
    let reports = met_reports(&obs);
    let speeds: Vec<f64> = reports.iter().map(|r| r.2[1]).collect();
    // At 0, 300, 600, 900 and 1200 s it reports the wind of 600 s before (calm before 0).
    assert_eq!(speeds, [0.0, 0.0, 0.0, 5.0, 10.0]);
}

#[test]
fn without_weather_stations_nothing_reports_the_weather() {
    let s = scenario(calm(), 0.0, SPREAD);
    let text = super::scenario_text(calm(), 0.0, SPREAD).replace(
        "[[met_sensors]]\nid = \"ua-met-001\"\noperator = \"UA\"\nlat = 48.55\nlon = 37.45\ninterval_s = 300\n",
        "",
    );
    let bare = crate::Scenario::parse(&text, None, super::agreement()).unwrap();
    assert!(bare.file.network.met_sensors.is_empty());
    let sim = simulate(&bare, 15);
    assert!(sim.kinds.iter().all(|k| *k != "met.surface"));
    // The arrivals are those of the network with its station.
    let with = simulate(&s, 15);
    assert_eq!(sim.summary().true_arrivals, with.summary().true_arrivals);
}

#[test]
fn a_wind_gradient_makes_the_path_wind_the_mean_along_the_path() {
    // No wind at the reference, 6 m/s more westerly per 100 km east.
    let gradient = r#"
[weather.gradient]
lat = 48.45
lon = 37.55
per_100km_east_mps = [6.0, 0.0]
"#;
    let s = scenario(calm(), 0.0, &format!("{SPREAD}{gradient}"));
    let sim = simulate(&s, 16);
    let obs = payloads(&sim);
    let g = Geodesic::wgs84();
    let origin = Position::new(48.45, 37.55);
    // The east wind at a position: 6 m/s per 100 km of its distance east of the origin.
    let east_wind = |p: &Position| {
        let r = physics::ray(&g, &origin, p);
        6.0 * r.distance_m * r.azimuth_deg.to_radians().sin() / 100_000.0
    };
    let at: BTreeMap<&str, Position> = s
        .arrays
        .iter()
        .map(|a| (a.id.as_str(), a.position))
        .collect();
    for e in sim.truth.events.iter().filter(|e| e.is_acoustic()) {
        let w = e.weather.unwrap();
        assert!((w.wind_east_mps - east_wind(&e.position)).abs() < 1e-9);
        for &i in &e.observations {
            let ObservationData::Arrival { arrival_time, .. } = &obs[i].data else {
                panic!()
            };
            let receiver = at[obs[i].sensor.as_str()];
            let ray = physics::ray(&g, &e.position, &receiver);
            let middle =
                physics::destination(&g, &e.position, ray.azimuth_deg, ray.distance_m / 2.0);
            let mean = (east_wind(&e.position) + east_wind(&middle) + east_wind(&receiver)) / 3.0;
            let c = physics::sound_speed_mps(5.0) + mean * ray.azimuth_deg.to_radians().sin();
            let offset = if obs[i].sensor == "ua-ac-001" {
                0.003
            } else {
                0.0
            };
            let took = (arrival_time.unix_nanos() - e.time.unix_nanos()) as f64 / 1e9 - offset;
            assert!((took - ray.distance_m / c).abs() < 0.05, "{}", e.id);
        }
    }
    assert!(sim.truth.weather_model.as_ref().unwrap().gradient.is_some());
}

#[test]
fn a_constant_weather_leaves_the_truth_without_a_weather_model() {
    let sim = simulate(&scenario(calm(), 0.0, SPREAD), 17);
    assert!(sim.truth.weather_model.is_none() && sim.truth.met_report.is_none());
    assert!(sim.truth.events.iter().all(|e| e.weather.is_none()));
    let json = serde_json::to_value(&sim.truth).unwrap();
    for absent in [
        "weather_model",
        "met_report",
        "sensor_faults",
        "sensor_detection",
    ] {
        assert!(json.get(absent).is_none(), "{absent}");
    }
}

#[test]
fn weather_fields_are_checked() {
    let extra = r#"
[[weather.keyframes]]
time_s = 99999
wind_speed_mps = 200

[weather.gradient]
lat = 48.0
lon = 37.0
per_100km_north_mps = [50.0, 0.0]

[met_report]
sensors = ["nobody"]
stale_s = -5
"#;
    let text = super::scenario_text(calm(), 0.0, extra);
    let Err(crate::ScenarioError::Invalid(problems)) =
        crate::Scenario::parse(&text, None, super::agreement())
    else {
        panic!("should fail")
    };
    let text = problems.join("\n");
    for needle in [
        "weather.keyframes[0].time_s",
        "weather.keyframes[0].wind_speed_mps",
        "weather.gradient: each component",
        "met_report.sensors: no sensor nobody",
        "met_report.stale_s",
    ] {
        assert!(text.contains(needle), "{needle} not in:\n{text}");
    }
}
