//! Validation of a parsed scenario: every problem, each with the field at fault.

use std::collections::BTreeSet;

use truce_agreement::Agreement;
use truce_model::Position;

use super::{ArraySensor, ScenarioFile};

mod script;

/// Collects every problem of a parsed scenario.
pub(super) fn validate(
    file: &ScenarioFile,
    arrays: &[ArraySensor],
    agreement: &Agreement,
    problems: &mut Vec<String>,
) {
    let mut p = |field: String, message: &str| problems.push(format!("{field}: {message}"));
    let h = &file.scenario;
    if h.name.trim().is_empty() {
        p("scenario.name".into(), "must not be empty");
    }
    if !(h.duration_s.is_finite() && h.duration_s > 0.0) {
        p("scenario.duration_s".into(), "must be greater than 0");
    }
    file.weather.validate(h.duration_s, &mut p);
    if let Some(report) = &file.met_report {
        let stations: Vec<&str> = file
            .network
            .met_sensors
            .iter()
            .map(|m| m.id.as_str())
            .collect();
        report.validate(&stations, h.duration_s, &mut p);
    }
    let f = &file.false_arrivals;
    if !(0.0..=10.0).contains(&f.fraction) {
        p("false_arrivals.fraction".into(), "must be between 0 and 10");
    } else if f.fraction > 0.0 && arrays.is_empty() {
        p(
            "false_arrivals.fraction".into(),
            "needs at least one acoustic, seismic or infrasound sensor",
        );
    }
    for (i, line) in file.network.sensor_lines.iter().enumerate() {
        line.validate(i, agreement, &mut p);
    }
    for (field, message) in sensor_ids(file, arrays) {
        p(field, &message);
    }
    for a in arrays {
        array(a, h.duration_s, &mut p);
    }
    script::script(file, agreement, &mut p);
}

/// Every sensor's id (unique across every kind), operator and position.
fn sensor_ids(file: &ScenarioFile, arrays: &[ArraySensor]) -> Vec<(String, String)> {
    let net = &file.network;
    let mut ids = BTreeSet::new();
    let mut sensor = |field: String, id: &str, operator: &str, at: Option<(f64, f64)>| {
        let mut out = Vec::new();
        if !truce_model::sensor::is_valid_id(id) {
            out.push((
                format!("{field}.id"),
                "is not a valid sensor id".to_string(),
            ));
        } else if !ids.insert(id.to_string()) {
            out.push((format!("{field}.id"), format!("{id} is used twice")));
        }
        if !valid_operator(operator) {
            out.push((
                format!("{field}.operator"),
                "must be an ISO 3166 alpha-2 code or a short name of 2-32 letters, digits, '-', '_' or '.'".into(),
            ));
        }
        if let Some((lat, lon)) = at
            && !Position::new(lat, lon).is_valid()
        {
            out.push((format!("{field}.lat"), "position out of range".into()));
        }
        out
    };
    let mut found = Vec::new();
    for (i, s) in net.sensors.iter().enumerate() {
        found.extend(sensor(
            format!("sensors[{i}]"),
            &s.id,
            &s.operator,
            Some((s.lat, s.lon)),
        ));
    }
    for (g, group) in net.sensor_groups.iter().enumerate() {
        for (i, m) in group.sensors.iter().enumerate() {
            found.extend(sensor(
                format!("sensor_groups[{g}].sensors[{i}]"),
                &m.id,
                &group.operator,
                Some((m.lat, m.lon)),
            ));
        }
    }
    // The arrays placed along the contact line follow those given one by one.
    let listed = net.sensors.len()
        + net
            .sensor_groups
            .iter()
            .map(|g| g.sensors.len())
            .sum::<usize>();
    for a in arrays.iter().skip(listed) {
        found.extend(sensor(
            format!("sensor_lines: {}", a.id),
            &a.id,
            &a.operator,
            None,
        ));
    }
    for (i, m) in net.met_sensors.iter().enumerate() {
        let field = format!("met_sensors[{i}]");
        found.extend(sensor(
            field.clone(),
            &m.id,
            &m.operator,
            Some((m.lat, m.lon)),
        ));
        if !(m.interval_s.is_finite() && m.interval_s > 0.0) {
            found.push((
                format!("{field}.interval_s"),
                "must be greater than 0".into(),
            ));
        }
    }
    for (i, d) in net.drones.iter().enumerate() {
        found.extend(sensor(format!("drones[{i}]"), &d.id, &d.operator, None));
    }
    for (i, s) in net.satellite_feeds.iter().enumerate() {
        let field = format!("satellite_feeds[{i}]");
        found.extend(sensor(field.clone(), &s.id, &s.operator, None));
        if !(s.latency_s.is_finite() && s.latency_s >= 0.0) {
            found.push((format!("{field}.latency_s"), "must not be negative".into()));
        }
        if s.satellite.trim().is_empty() || s.instrument.trim().is_empty() {
            found.push((field, "satellite and instrument must not be empty".into()));
        }
    }
    for (i, s) in net.infrastructure_sensors.iter().enumerate() {
        found.extend(sensor(
            format!("infrastructure_sensors[{i}]"),
            &s.id,
            &s.operator,
            None,
        ));
    }
    found
}

/// The settings and faults of one array, defaults resolved.
fn array(a: &ArraySensor, duration_s: f64, p: &mut dyn FnMut(String, &str)) {
    let field = format!("sensor {}", a.id);
    if !(a.timing_sigma_s.is_finite() && a.timing_sigma_s > 0.0) {
        p(format!("{field}.timing_sigma_s"), "must be greater than 0");
    }
    if a.backazimuth_sigma_deg
        .is_some_and(|s| !(s.is_finite() && s > 0.0))
    {
        p(
            format!("{field}.backazimuth_sigma_deg"),
            "must be greater than 0",
        );
    }
    if !(a.detection_range_m.is_finite() && a.detection_range_m > 0.0) {
        p(
            format!("{field}.detection_range_km"),
            "must be greater than 0",
        );
    }
    if !a.clock_offset_s.is_finite() || a.clock_offset_s.abs() > 60.0 {
        p(format!("{field}.clock_offset_s"), "must be within ±60 s");
    }
    for [from, until] in &a.outages {
        if !(from.is_finite() && until.is_finite() && from < until) {
            p(
                format!("{field}.outages"),
                "each outage is [from_s, until_s] with from_s < until_s",
            );
        }
    }
    if !(a.clock_drift_ppm.is_finite() && a.clock_drift_ppm.abs() <= 1000.0) {
        p(
            format!("{field}.clock_drift_ppm"),
            "must be within ±1000 ppm",
        );
    }
    if !(a.detection_probability > 0.0 && a.detection_probability <= 1.0) {
        p(
            format!("{field}.detection_probability"),
            "must be greater than 0 and at most 1",
        );
    }
    for b in &a.false_bursts {
        let ok = b.from_s >= 0.0
            && b.until_s <= duration_s
            && b.from_s < b.until_s
            && b.rate_per_s.is_finite()
            && (0.0..=100.0).contains(&b.rate_per_s);
        if !ok {
            p(
                format!("{field}.false_bursts"),
                "each burst is [from_s, until_s, rate_per_s] within the scenario, from_s < until_s, the rate between 0 and 100 per second",
            );
        }
    }
    if !a
        .registered_offset_m
        .iter()
        .all(|x| x.is_finite() && x.abs() <= 100_000.0)
    {
        p(
            format!("{field}.registered_offset_m"),
            "each component must be within ±100 km",
        );
    }
}

/// The registration rule for operators (see truce-model's sensor registration).
pub(super) fn valid_operator(text: &str) -> bool {
    (2..=32).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
}
