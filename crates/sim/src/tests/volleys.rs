//! Salvos, batteries firing together, and arrays placed along the whole contact line.

use std::collections::BTreeSet;

use geographiclib_rs::Geodesic;

use super::{agreement, calm, payloads, scenario};
use crate::physics;
use crate::{Scenario, simulate};

const SALVO: &str = r#"
[[events]]
type = "salvo"
start_s = 100
duration_s = 20
rounds = 40
lat = 48.30
lon = 37.70
target = [48.50, 37.45]
target_spread_m = 100
weapon_class = "mlrs"
"#;

#[test]
fn a_salvo_fires_its_rounds_from_one_position_at_an_even_cadence() {
    let s = scenario(calm(), 0.0, SALVO);
    let sim = simulate(&s, 20);
    let start = s.start.unix_nanos();
    let launches: Vec<_> = sim
        .truth
        .events
        .iter()
        .filter(|e| e.event_type == "launch")
        .collect();
    assert_eq!(launches.len(), 40);
    let times: Vec<f64> = launches
        .iter()
        .map(|e| (e.time.unix_nanos() - start) as f64 / 1e9)
        .collect();
    for (k, t) in times.iter().enumerate() {
        // Round k at 100 + (k + ½) · 0.5 s, give or take the default jitter of 0.05 s.
        let planned = 100.0 + (k as f64 + 0.5) * 0.5;
        assert!((t - planned).abs() <= 0.05 + 1e-9, "round {k}: {t}");
    }
    assert!(times.windows(2).all(|w| w[1] - w[0] >= 0.4 - 1e-9));
    assert!(launches.iter().all(|e| e.position == launches[0].position));
    assert_eq!(
        launches[0].weapon_class,
        Some(truce_model::WeaponClass::Mlrs)
    );
    // Each round lands near the target, after its flight, and is heard.
    let g = Geodesic::wgs84();
    let target = truce_model::Position::new(48.50, 37.45);
    let impacts: Vec<_> = sim
        .truth
        .events
        .iter()
        .filter(|e| e.event_type == "impact")
        .collect();
    assert_eq!(impacts.len(), 40);
    for i in &impacts {
        assert!(physics::ray(&g, &target, &i.position).distance_m < 500.0);
        assert!(i.launch.as_deref().is_some_and(|l| l.starts_with("s01-r")));
        assert!(i.heard_by >= 3, "{}", i.id);
    }
}

#[test]
fn batteries_firing_together_interleave_their_rounds() {
    // Two salvos and a barrage overlapping in time, from three places.
    let events = format!(
        "{SALVO}{}\n[[events]]\ntype = \"barrage\"\nstart_s = 95\nduration_s = 30\nrounds = 20\npositions = [[48.40, 37.55]]\n",
        SALVO
            .replace("start_s = 100", "start_s = 104")
            .replace("lat = 48.30\nlon = 37.70", "lat = 48.55\nlon = 37.62")
            .replace("target = [48.50, 37.45]", "target = [48.35, 37.80]")
    );
    let s = scenario(calm(), 0.0, &events);
    let sim = simulate(&s, 21);
    let ids: BTreeSet<&str> = sim.truth.events.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids.len(), sim.truth.events.len());
    let launches = sim
        .truth
        .events
        .iter()
        .filter(|e| e.event_type == "launch")
        .count();
    assert_eq!(launches, 100);
    // The arrivals of every battery reach each array mixed together, in time order.
    let obs = payloads(&sim);
    assert!(obs.windows(2).all(|w| w[0].observed_at <= w[1].observed_at));
    let at_one: Vec<&str> = sim
        .truth
        .events
        .iter()
        .flat_map(|e| e.observations.iter().map(move |i| (i, e.id.as_str())))
        .filter(|(i, _)| obs[**i].sensor == "fr-ac-001")
        .map(|(_, id)| &id[..3])
        .collect();
    for label in ["s01", "s02", "s03"] {
        assert!(at_one.contains(&label), "{label}");
    }
}

#[test]
fn salvo_fields_are_checked() {
    let bad = format!(
        "{}{}",
        SALVO
            .replace("rounds = 40", "rounds = 40\njitter_s = 5")
            .replace("start_s = 100", "start_s = 1190"),
        SALVO.replace("rounds = 40", "rounds = 0")
    );
    let text = super::scenario_text(calm(), 0.0, &bad);
    let Err(crate::ScenarioError::Invalid(problems)) = Scenario::parse(&text, None, agreement())
    else {
        panic!("should fail")
    };
    let text = problems.join("\n");
    for needle in [
        "events[0].duration_s",
        "events[0].jitter_s",
        "events[1].rounds",
    ] {
        assert!(text.contains(needle), "{needle} not in:\n{text}");
    }
}

const LINE: &str = r#"
[[sensor_lines]]
id_prefix = "ln"
kind = "acoustic"
operators = { UA = "UA", RU = "RU" }
spacing_km = 10
offset_km = 8
from_km = 300
until_km = 400
timing_sigma_s = 0.004
detection_range_km = 30
detection_probability = 0.9
"#;

#[test]
fn a_sensor_line_places_arrays_on_both_sides_with_steady_ids() {
    let s = scenario(calm(), 0.0, LINE);
    let line: Vec<_> = s
        .arrays
        .iter()
        .filter(|a| a.id.starts_with("ln-"))
        .collect();
    // Ten stations, two arrays each (where the line allows).
    assert!(line.len() >= 18 && line.len() <= 20, "{}", line.len());
    for a in &line {
        let place = s.agreement.place(&a.position);
        let side = if a.id.starts_with("ln-l") { "UA" } else { "RU" };
        assert_eq!(place.side.as_deref(), Some(side), "{}", a.id);
        assert_eq!(a.operator, side);
        assert!(
            place.distance_to_line_m >= 8_000.0 && place.distance_to_line_m < 8_500.0,
            "{}: {}",
            a.id,
            place.distance_to_line_m
        );
        let k: usize = a.id[4..].parse().unwrap();
        assert!((1..=10).contains(&k), "{}", a.id);
        assert_eq!(a.detection_probability, 0.9);
        assert_eq!(a.timing_sigma_s, 0.004);
    }
    // The same arrays every time; the registration is the true position.
    let again = scenario(calm(), 0.0, LINE);
    assert_eq!(s.arrays, again.arrays);
    let sim = simulate(&s, 22);
    let registered = sim
        .sensors
        .iter()
        .find(|x| x.id() == line[0].id.as_str())
        .unwrap();
    assert_eq!(registered.registration.position, Some(line[0].position));
}

#[test]
fn sensor_line_fields_are_checked() {
    let bad = LINE
        .replace("RU = \"RU\"", "XX = \"RU\"")
        .replace("spacing_km = 10", "spacing_km = 0")
        .replace("offset_km = 8", "offset_km = -1");
    let text = super::scenario_text(calm(), 0.0, &bad);
    let Err(crate::ScenarioError::Invalid(problems)) = Scenario::parse(&text, None, agreement())
    else {
        panic!("should fail")
    };
    let text = problems.join("\n");
    for needle in [
        "sensor_lines[0].operators: the agreement has no party XX",
        "sensor_lines[0].spacing_km",
        "sensor_lines[0].offset_km",
    ] {
        assert!(text.contains(needle), "{needle} not in:\n{text}");
    }
}
