//! Validation of the script: each entry's times within the scenario, positions valid, and
//! the sensors and sites it names present.

use std::collections::BTreeSet;

use truce_agreement::Agreement;
use truce_model::Position;

use crate::scenario::{OBJECT_CLASSES, ScenarioFile, ScriptEvent};

/// What the entries are checked against.
struct Context<'a> {
    duration_s: f64,
    agreement: &'a Agreement,
    drones: BTreeSet<&'a str>,
    feeds: BTreeSet<&'a str>,
    reporters: BTreeSet<&'a str>,
}

impl Context<'_> {
    fn time(&self, t: f64) -> bool {
        t.is_finite() && (0.0..=self.duration_s).contains(&t)
    }

    fn pos(&self, lat: f64, lon: f64) -> bool {
        Position::new(lat, lon).is_valid()
    }

    fn flight(&self, f: Option<f64>) -> bool {
        f.is_none_or(|f| f.is_finite() && f > 0.0)
    }
}

/// Every problem of the script.
pub(super) fn script(file: &ScenarioFile, agreement: &Agreement, p: &mut dyn FnMut(String, &str)) {
    let net = &file.network;
    let c = Context {
        duration_s: file.scenario.duration_s,
        agreement,
        drones: net.drones.iter().map(|d| d.id.as_str()).collect(),
        feeds: net.satellite_feeds.iter().map(|s| s.id.as_str()).collect(),
        reporters: net
            .infrastructure_sensors
            .iter()
            .map(|s| s.id.as_str())
            .collect(),
    };
    for (i, e) in file.events.iter().enumerate() {
        let field = format!("events[{i}]");
        let mut bad = |what: &str, message: &str| {
            p(format!("{field}.{what}"), message);
        };
        match e {
            ScriptEvent::Launch { .. }
            | ScriptEvent::Impact { .. }
            | ScriptEvent::SiteStrike { .. } => single(&c, e, &mut bad),
            ScriptEvent::Barrage { .. } | ScriptEvent::Salvo { .. } => volley(&c, e, &mut bad),
            ScriptEvent::WeaponMove { .. } => sighting(&c, e, &mut bad),
            ScriptEvent::SiteStatus { .. } | ScriptEvent::Fire { .. } => report(&c, e, &mut bad),
        }
    }
}

/// A launch, an impact or a strike on a site.
fn single(c: &Context, e: &ScriptEvent, bad: &mut dyn FnMut(&str, &str)) {
    match e {
        ScriptEvent::Launch {
            time_s,
            lat,
            lon,
            impact,
            ..
        } => {
            if !c.time(*time_s) {
                bad("time_s", "must be within the scenario");
            }
            if !c.pos(*lat, *lon) {
                bad("lat", "position out of range");
            }
            if let Some(i) = impact {
                if !c.pos(i.lat, i.lon) {
                    bad("impact.lat", "position out of range");
                }
                if !c.flight(i.flight_time_s) {
                    bad("impact.flight_time_s", "must be greater than 0");
                }
            }
        }
        ScriptEvent::Impact {
            time_s, lat, lon, ..
        } => {
            if !c.time(*time_s) {
                bad("time_s", "must be within the scenario");
            }
            if !c.pos(*lat, *lon) {
                bad("lat", "position out of range");
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
            if !c.time(*time_s) {
                bad("time_s", "must be within the scenario");
            }
            if c.agreement.site(site).is_none() {
                bad(
                    "site",
                    &format!("the agreement has no protected site {site}"),
                );
            }
            if !c.pos(*lat, *lon) {
                bad("lat", "position out of range");
            }
            if !c.flight(*flight_time_s) {
                bad("flight_time_s", "must be greater than 0");
            }
        }
        _ => {}
    }
}

/// A barrage or a salvo.
fn volley(c: &Context, e: &ScriptEvent, bad: &mut dyn FnMut(&str, &str)) {
    match e {
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
            if !c.time(*start_s) {
                bad("start_s", "must be within the scenario");
            }
            if !(duration_s.is_finite() && *duration_s >= 0.0 && c.time(start_s + duration_s)) {
                bad("duration_s", "the barrage must end within the scenario");
            }
            if *rounds == 0 {
                bad("rounds", "must be at least 1");
            }
            if positions.is_empty() {
                bad("positions", "must list at least one [lat, lon]");
            }
            if positions.iter().chain(targets).any(|[a, o]| !c.pos(*a, *o)) {
                bad("positions", "a position is out of range");
            }
            if !(target_spread_m.is_finite() && *target_spread_m >= 0.0) {
                bad("target_spread_m", "must not be negative");
            }
            if !c.flight(*flight_time_s) {
                bad("flight_time_s", "must be greater than 0");
            }
        }
        ScriptEvent::Salvo {
            start_s,
            duration_s,
            rounds,
            lat,
            lon,
            jitter_s,
            target,
            target_spread_m,
            flight_time_s,
            ..
        } => {
            if !c.time(*start_s) {
                bad("start_s", "must be within the scenario");
            }
            if !(duration_s.is_finite() && *duration_s >= 0.0 && c.time(start_s + duration_s)) {
                bad("duration_s", "the salvo must end within the scenario");
            }
            if *rounds == 0 {
                bad("rounds", "must be at least 1");
            }
            if !c.pos(*lat, *lon) {
                bad("lat", "position out of range");
            }
            if target.is_some_and(|[a, o]| !c.pos(a, o)) {
                bad("target", "position out of range");
            }
            let spacing = duration_s / f64::from((*rounds).max(1));
            if jitter_s.is_some_and(|j| !(j.is_finite() && j >= 0.0 && j <= spacing / 2.0)) {
                bad(
                    "jitter_s",
                    "must be between 0 and half the spacing of the rounds",
                );
            }
            if !(target_spread_m.is_finite() && *target_spread_m >= 0.0) {
                bad("target_spread_m", "must not be negative");
            }
            if !c.flight(*flight_time_s) {
                bad("flight_time_s", "must be greater than 0");
            }
        }
        _ => {}
    }
}

/// A weapon move seen by a drone.
fn sighting(c: &Context, e: &ScriptEvent, bad: &mut dyn FnMut(&str, &str)) {
    let ScriptEvent::WeaponMove {
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
    } = e
    else {
        return;
    };
    if !c.time(*time_s) {
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
    if path.len() < 2 || path.iter().any(|[a, o]| !c.pos(*a, *o)) {
        bad("path", "must list at least two valid [lat, lon]");
    }
    if !(speed_mps.is_finite() && *speed_mps > 0.0) {
        bad("speed_mps", "must be greater than 0");
    }
    if !c.drones.contains(drone.as_str()) {
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

/// A utility's report or a fire.
fn report(c: &Context, e: &ScriptEvent, bad: &mut dyn FnMut(&str, &str)) {
    match e {
        ScriptEvent::SiteStatus {
            time_s,
            reporter,
            site,
            service,
            status,
            ..
        } => {
            if !c.time(*time_s) {
                bad("time_s", "must be within the scenario");
            }
            if !c.reporters.contains(reporter.as_str()) {
                bad(
                    "reporter",
                    &format!("no sensor {reporter} in [[infrastructure_sensors]]"),
                );
            }
            if c.agreement.site(site).is_none() {
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
            if !c.time(*time_s) {
                bad("time_s", "must be within the scenario");
            }
            if !c.pos(*lat, *lon) {
                bad("lat", "position out of range");
            }
            if !c.feeds.contains(satellite_feed.as_str()) {
                bad(
                    "satellite_feed",
                    &format!("no feed {satellite_feed} in [[satellite_feeds]]"),
                );
            }
            if !c.time(*pass_s) {
                bad("pass_s", "must be within the scenario");
            }
            if !(frp_mw.is_finite() && *frp_mw >= 0.0) {
                bad("frp_mw", "must not be negative");
            }
            if !(brightness_k.is_finite() && *brightness_k > 0.0) {
                bad("brightness_k", "must be greater than 0");
            }
        }
        _ => {}
    }
}
