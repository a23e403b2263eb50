//! Validation of a parsed scenario: every problem, each with the field at fault.

use std::collections::BTreeSet;

use truce_agreement::Agreement;
use truce_model::Position;

use super::{ArraySensor, OBJECT_CLASSES, ScenarioFile, ScriptEvent};

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
    let w = &file.weather;
    if !(-90.0..=60.0).contains(&w.temperature_c) {
        p("weather.temperature_c".into(), "must be between -90 and 60");
    }
    if !(0.0..=100.0).contains(&w.wind_speed_mps) {
        p("weather.wind_speed_mps".into(), "must be between 0 and 100");
    }
    if !(0.0..=360.0).contains(&w.wind_from_deg) {
        p("weather.wind_from_deg".into(), "must be between 0 and 360");
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

    // Sensors: ids unique across every kind, operators and positions valid.
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
    for (field, message) in found {
        p(field, &message);
    }
    for a in arrays {
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
    }

    // The script.
    let duration = h.duration_s;
    let drones: BTreeSet<&str> = net.drones.iter().map(|d| d.id.as_str()).collect();
    let feeds: BTreeSet<&str> = net.satellite_feeds.iter().map(|s| s.id.as_str()).collect();
    let reporters: BTreeSet<&str> = net
        .infrastructure_sensors
        .iter()
        .map(|s| s.id.as_str())
        .collect();
    let time = |t: f64| t.is_finite() && (0.0..=duration).contains(&t);
    let pos = |lat: f64, lon: f64| Position::new(lat, lon).is_valid();
    let flight = |f: Option<f64>| f.is_none_or(|f| f.is_finite() && f > 0.0);
    for (i, e) in file.events.iter().enumerate() {
        let field = format!("events[{i}]");
        let mut bad = |what: &str, message: &str| {
            p(format!("{field}.{what}"), message);
        };
        match e {
            ScriptEvent::Launch {
                time_s,
                lat,
                lon,
                impact,
                ..
            } => {
                if !time(*time_s) {
                    bad("time_s", "must be within the scenario");
                }
                if !pos(*lat, *lon) {
                    bad("lat", "position out of range");
                }
                if let Some(i) = impact {
                    if !pos(i.lat, i.lon) {
                        bad("impact.lat", "position out of range");
                    }
                    if !flight(i.flight_time_s) {
                        bad("impact.flight_time_s", "must be greater than 0");
                    }
                }
            }
            ScriptEvent::Impact {
                time_s, lat, lon, ..
            } => {
                if !time(*time_s) {
                    bad("time_s", "must be within the scenario");
                }
                if !pos(*lat, *lon) {
                    bad("lat", "position out of range");
                }
            }
            ScriptEvent::Barrage {
                start_s,
                duration_s,
                rounds,
                positions,
                targets,
                target_spread_m,
                flight_time_s,
                ..
            } => {
                if !time(*start_s) {
                    bad("start_s", "must be within the scenario");
                }
                if !(duration_s.is_finite() && *duration_s >= 0.0 && time(start_s + duration_s)) {
                    bad("duration_s", "the barrage must end within the scenario");
                }
                if *rounds == 0 {
                    bad("rounds", "must be at least 1");
                }
                if positions.is_empty() {
                    bad("positions", "must list at least one [lat, lon]");
                }
                if positions.iter().chain(targets).any(|[a, o]| !pos(*a, *o)) {
                    bad("positions", "a position is out of range");
                }
                if !(target_spread_m.is_finite() && *target_spread_m >= 0.0) {
                    bad("target_spread_m", "must not be negative");
                }
                if !flight(*flight_time_s) {
                    bad("flight_time_s", "must be greater than 0");
                }
            }
            ScriptEvent::WeaponMove {
                time_s,
                object_class,
                calibre_mm,
                count,
                path,
                speed_mps,
                drone,
                report_interval_s,
                position_sigma_m,
                confidence,
                ..
            } => {
                if !time(*time_s) {
                    bad("time_s", "must be within the scenario");
                }
                if !OBJECT_CLASSES.contains(&object_class.as_str()) {
                    bad(
                        "object_class",
                        &format!("must be one of: {}", OBJECT_CLASSES.join(", ")),
                    );
                }
                if calibre_mm.is_some_and(|c| !(c.is_finite() && c > 0.0)) {
                    bad("calibre_mm", "must be greater than 0");
                }
                if *count == 0 {
                    bad("count", "must be at least 1");
                }
                if path.len() < 2 || path.iter().any(|[a, o]| !pos(*a, *o)) {
                    bad("path", "must list at least two valid [lat, lon]");
                }
                if !(speed_mps.is_finite() && *speed_mps > 0.0) {
                    bad("speed_mps", "must be greater than 0");
                }
                if !drones.contains(drone.as_str()) {
                    bad("drone", &format!("no drone {drone} in [[drones]]"));
                }
                if !(report_interval_s.is_finite() && *report_interval_s > 0.0) {
                    bad("report_interval_s", "must be greater than 0");
                }
                if !(position_sigma_m.is_finite() && *position_sigma_m > 0.0) {
                    bad("position_sigma_m", "must be greater than 0");
                }
                if !(0.0..=1.0).contains(confidence) {
                    bad("confidence", "must be between 0 and 1");
                }
            }
            ScriptEvent::SiteStrike {
                time_s,
                site,
                lat,
                lon,
                flight_time_s,
                ..
            } => {
                if !time(*time_s) {
                    bad("time_s", "must be within the scenario");
                }
                if agreement.site(site).is_none() {
                    bad(
                        "site",
                        &format!("the agreement has no protected site {site}"),
                    );
                }
                if !pos(*lat, *lon) {
                    bad("lat", "position out of range");
                }
                if !flight(*flight_time_s) {
                    bad("flight_time_s", "must be greater than 0");
                }
            }
            ScriptEvent::SiteStatus {
                time_s,
                reporter,
                site,
                service,
                status,
                ..
            } => {
                if !time(*time_s) {
                    bad("time_s", "must be within the scenario");
                }
                if !reporters.contains(reporter.as_str()) {
                    bad(
                        "reporter",
                        &format!("no sensor {reporter} in [[infrastructure_sensors]]"),
                    );
                }
                if agreement.site(site).is_none() {
                    bad(
                        "site",
                        &format!("the agreement has no protected site {site}"),
                    );
                }
                if !["power", "water", "gas", "heating"].contains(&service.as_str()) {
                    bad("service", "must be power, water, gas or heating");
                }
                if !["operational", "degraded", "outage"].contains(&status.as_str()) {
                    bad("status", "must be operational, degraded or outage");
                }
            }
            ScriptEvent::Fire {
                time_s,
                lat,
                lon,
                satellite_feed,
                pass_s,
                frp_mw,
                brightness_k,
            } => {
                if !time(*time_s) {
                    bad("time_s", "must be within the scenario");
                }
                if !pos(*lat, *lon) {
                    bad("lat", "position out of range");
                }
                if !feeds.contains(satellite_feed.as_str()) {
                    bad(
                        "satellite_feed",
                        &format!("no feed {satellite_feed} in [[satellite_feeds]]"),
                    );
                }
                if !time(*pass_s) {
                    bad("pass_s", "must be within the scenario");
                }
                if !(frp_mw.is_finite() && *frp_mw >= 0.0) {
                    bad("frp_mw", "must not be negative");
                }
                if !(brightness_k.is_finite() && *brightness_k > 0.0) {
                    bad("brightness_k", "must be greater than 0");
                }
            }
        }
    }
}

/// The registration rule for operators (see truce-model's sensor registration).
fn valid_operator(text: &str) -> bool {
    (2..=32).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
}
