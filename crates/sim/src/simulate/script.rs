//! The script: launches, impacts, strikes on sites, weapons seen by drones and fires seen
//! by satellites become true events (and the drones' and satellites' reports). Barrages
//! and salvos are in `volleys`.

use geographiclib_rs::{DirectGeodesic, InverseGeodesic};
use sha2::{Digest, Sha256};
use truce_agreement::SiteShape;
use truce_model::{Position, Timestamp, WeaponClass};

use super::{
    Data, DetectionData, Draft, Engine, EventDraft, EvidenceData, Owner, StatusData, ThermalData,
    round, rounded_position, seconds_to_ns,
};
use crate::physics;
use crate::rng::Rng;
use crate::scenario::{MEAN_PROJECTILE_SPEED_MPS, ScriptEvent};

impl Engine<'_> {
    fn event(&mut self, e: EventDraft) -> usize {
        self.events.push(e);
        self.events.len() - 1
    }

    pub(super) fn launch(
        &mut self,
        id: String,
        time_ns: i64,
        at: Position,
        wc: Option<WeaponClass>,
    ) -> usize {
        self.event(EventDraft {
            id,
            event_type: "launch",
            time_ns,
            position: at,
            weapon_class: wc,
            object_class: None,
            launch: None,
            site: None,
        })
    }

    pub(super) fn impact(
        &mut self,
        id: String,
        time_ns: i64,
        at: Position,
        wc: Option<WeaponClass>,
        launch: Option<usize>,
        site: Option<String>,
    ) -> usize {
        self.event(EventDraft {
            id,
            event_type: "impact",
            time_ns,
            position: at,
            weapon_class: wc,
            object_class: None,
            launch,
            site,
        })
    }

    /// The flight time from `from` to `to`: given, or the distance at the mean projectile
    /// speed (at least 3 s).
    pub(super) fn flight_time_s(&self, given: Option<f64>, from: &Position, to: &Position) -> f64 {
        given.unwrap_or_else(|| {
            let d: f64 = self.geodesic.inverse(from.lat, from.lon, to.lat, to.lon);
            (d / MEAN_PROJECTILE_SPEED_MPS).max(3.0)
        })
    }

    /// Turns the script into true events, drone detections and satellite detections.
    pub(super) fn script(&mut self) {
        let scenario = self.scenario;
        for (i, entry) in scenario.file.events.iter().enumerate() {
            let label = format!("s{:02}", i + 1);
            match entry {
                ScriptEvent::Launch {
                    time_s,
                    lat,
                    lon,
                    weapon_class,
                    impact,
                } => {
                    let from = Position::new(*lat, *lon);
                    let t = self.at(*time_s);
                    let l = self.launch(format!("{label}-launch"), t, from, *weapon_class);
                    if let Some(imp) = impact {
                        let to = Position::new(imp.lat, imp.lon);
                        let flight = self.flight_time_s(imp.flight_time_s, &from, &to);
                        self.impact(
                            format!("{label}-impact"),
                            t + seconds_to_ns(flight),
                            to,
                            *weapon_class,
                            Some(l),
                            None,
                        );
                    }
                }
                ScriptEvent::Impact {
                    time_s,
                    lat,
                    lon,
                    weapon_class,
                } => {
                    let t = self.at(*time_s);
                    self.impact(
                        format!("{label}-impact"),
                        t,
                        Position::new(*lat, *lon),
                        *weapon_class,
                        None,
                        None,
                    );
                }
                ScriptEvent::Barrage { .. } => self.barrage(&label, entry),
                ScriptEvent::Salvo { .. } => self.salvo(&label, entry),
                ScriptEvent::WeaponMove { .. } => self.weapon_move(&label, entry),
                ScriptEvent::SiteStrike {
                    time_s,
                    site,
                    lat,
                    lon,
                    weapon_class,
                    flight_time_s,
                } => {
                    let mut rng = Rng::stream(self.seed, &label);
                    let Some(s) = self.agreement.site(site) else {
                        continue;
                    };
                    let [clon, clat] = s.centre();
                    let limit = match &s.shape {
                        SiteShape::Circle { radius_m, .. } => *radius_m * 0.8,
                        SiteShape::Polygon { .. } => 50.0,
                    };
                    let spread = (limit / 3.0).min(100.0);
                    let (mut e, mut n) = (rng.normal() * spread, rng.normal() * spread);
                    let d = e.hypot(n);
                    if d > limit {
                        e *= limit / d;
                        n *= limit / d;
                    }
                    let to = physics::offset(&self.geodesic, &Position::new(clat, clon), e, n);
                    let from = Position::new(*lat, *lon);
                    let t = self.at(*time_s);
                    let l = self.launch(format!("{label}-launch"), t, from, *weapon_class);
                    let flight = self.flight_time_s(*flight_time_s, &from, &to);
                    self.impact(
                        format!("{label}-impact"),
                        t + seconds_to_ns(flight),
                        to,
                        *weapon_class,
                        Some(l),
                        Some(site.clone()),
                    );
                }
                ScriptEvent::Fire { .. } => self.fire(&label, entry),
                ScriptEvent::SiteStatus { .. } => self.site_status(entry),
            }
        }
    }

    /// A weapon moving along a path, reported by a drone every interval.
    fn weapon_move(&mut self, label: &str, entry: &ScriptEvent) {
        let ScriptEvent::WeaponMove {
            time_s,
            object_class,
            calibre_mm,
            weapon_class,
            count,
            path,
            speed_mps,
            drone,
            report_interval_s,
            position_sigma_m,
            confidence,
        } = entry
        else {
            return;
        };
        let net = &self.scenario.file.network;
        let Some(d) = net.drones.iter().position(|x| &x.id == drone) else {
            return;
        };
        let sensor = self.drone_base + d;
        let weapon_class = weapon_class.or_else(|| default_weapon_class(object_class, *calibre_mm));
        // Segments: start, azimuth at the start, length.
        let segments: Vec<(Position, f64, f64)> = path
            .windows(2)
            .map(|w| {
                let (a, b) = (
                    Position::new(w[0][0], w[0][1]),
                    Position::new(w[1][0], w[1][1]),
                );
                let (s12, azi1, _azi2, _a12): (f64, f64, f64, f64) =
                    self.geodesic.inverse(a.lat, a.lon, b.lat, b.lon);
                (a, azi1, s12)
            })
            .collect();
        let length: f64 = segments.iter().map(|s| s.2).sum();
        let travel_s = length / speed_mps;
        let mut rng = Rng::stream(self.seed, label);
        let duration = self.scenario.file.scenario.duration_s;
        let mut k = 0u32;
        loop {
            let dt = f64::from(k) * report_interval_s;
            if dt > travel_s || time_s + dt > duration {
                break;
            }
            k += 1;
            // Where the weapon is after `dt` seconds, and its heading there.
            let mut along = dt * speed_mps;
            let mut here = (segments[0].0, segments[0].1);
            for (start, azi, len) in &segments {
                if along <= *len {
                    let (lat, lon, azi2): (f64, f64, f64) =
                        self.geodesic.direct(start.lat, start.lon, *azi, along);
                    here = (Position::new(lat, lon), azi2);
                    break;
                }
                along -= len;
                let (lat, lon, azi2): (f64, f64, f64) =
                    self.geodesic.direct(start.lat, start.lon, *azi, *len);
                here = (Position::new(lat, lon), azi2);
            }
            let (truth_at, heading) = here;
            let (e, n) = (rng.normal(), rng.normal());
            let heading_noise = rng.normal();
            let seen = physics::offset(
                &self.geodesic,
                &truth_at,
                e * position_sigma_m,
                n * position_sigma_m,
            );
            let id = format!("{label}-sighting-{k:02}");
            let t = self.at(time_s + dt);
            let evidence = Sha256::new()
                .chain_update(b"truce-sim evidence\0")
                .chain_update(self.seed.to_be_bytes())
                .chain_update(id.as_bytes())
                .finalize();
            let event = self.event(EventDraft {
                id,
                event_type: "weapon_presence",
                time_ns: t,
                position: truth_at,
                weapon_class,
                object_class: Some(object_class.clone()),
                launch: None,
                site: None,
            });
            self.drafts.push(Draft {
                sensor,
                observed_ns: t,
                kind: "drone.detection",
                data: Data::Detection(DetectionData {
                    object_class: object_class.clone(),
                    position: rounded_position(seen, 6),
                    position_sigma_m: *position_sigma_m,
                    count: *count,
                    confidence: *confidence,
                    calibre_mm: *calibre_mm,
                    heading_deg: round(physics::wrap_degrees(heading + 3.0 * heading_noise), 1),
                    speed_mps: round(*speed_mps, 1),
                    evidence: vec![EvidenceData {
                        sha256: hex::encode(evidence),
                        media_type: "image/jpeg",
                    }],
                }),
                owner: Owner::Event(event),
            });
        }
    }

    /// A utility's status report on a site.
    fn site_status(&mut self, entry: &ScriptEvent) {
        let ScriptEvent::SiteStatus {
            time_s,
            reporter,
            site,
            service,
            status,
            households_affected,
        } = entry
        else {
            return;
        };
        let Some(r) = self
            .scenario
            .file
            .network
            .infrastructure_sensors
            .iter()
            .position(|x| &x.id == reporter)
        else {
            return;
        };
        self.drafts.push(Draft {
            sensor: self.infrastructure_base + r,
            observed_ns: self.at(*time_s),
            kind: "infrastructure.status",
            data: Data::Status(StatusData {
                site_id: site.clone(),
                service: service.clone(),
                status: status.clone(),
                households_affected: *households_affected,
            }),
            owner: Owner::Unlinked,
        });
    }

    /// A fire, and the satellite pass that sees it.
    fn fire(&mut self, label: &str, entry: &ScriptEvent) {
        let ScriptEvent::Fire {
            time_s,
            lat,
            lon,
            satellite_feed,
            pass_s,
            frp_mw,
            brightness_k,
        } = entry
        else {
            return;
        };
        let at = Position::new(*lat, *lon);
        let event = self.event(EventDraft {
            id: format!("{label}-fire"),
            event_type: "fire",
            time_ns: self.at(*time_s),
            position: at,
            weapon_class: None,
            object_class: None,
            launch: None,
            site: None,
        });
        let net = &self.scenario.file.network;
        let Some(f) = net
            .satellite_feeds
            .iter()
            .position(|x| &x.id == satellite_feed)
        else {
            return;
        };
        if pass_s < time_s {
            return;
        }
        let feed = &net.satellite_feeds[f];
        let mut rng = Rng::stream(self.seed, label);
        let seen = physics::offset(
            &self.geodesic,
            &at,
            120.0 * rng.normal(),
            120.0 * rng.normal(),
        );
        let acquired_ns = self.at(*pass_s);
        let brightness = round(brightness_k + 4.0 * rng.normal(), 2);
        // Local solar time decides day or night, as FIRMS does.
        let utc_hours = (acquired_ns.div_euclid(1_000_000_000)).rem_euclid(86_400) as f64 / 3600.0;
        let solar = (utc_hours + lon / 15.0).rem_euclid(24.0);
        let data = ThermalData {
            position: rounded_position(seen, 5),
            acquired_at: Timestamp::from_unix_nanos(acquired_ns),
            satellite: feed.satellite.clone(),
            instrument: feed.instrument.clone(),
            scan_km: round(rng.uniform(0.36, 0.6), 2),
            track_km: round(rng.uniform(0.36, 0.5), 2),
            brightness_k: brightness,
            frp_mw: round((frp_mw * (1.0 + 0.15 * rng.normal())).max(0.1), 2),
            confidence: if brightness >= 360.0 {
                "high"
            } else {
                "nominal"
            },
            daynight: if (6.0..18.0).contains(&solar) {
                "D"
            } else {
                "N"
            },
        };
        self.drafts.push(Draft {
            sensor: self.feed_base + f,
            observed_ns: acquired_ns + seconds_to_ns(feed.latency_s),
            kind: "satellite.thermal",
            data: Data::Thermal(data),
            owner: Owner::Event(event),
        });
    }
}

/// The weapon class a sighted object belongs to, when the script does not say.
fn default_weapon_class(object_class: &str, calibre_mm: Option<f64>) -> Option<WeaponClass> {
    match object_class {
        "mlrs" if calibre_mm.is_some_and(|c| c >= 220.0) => Some(WeaponClass::HeavyMlrs),
        "mlrs" => Some(WeaponClass::Mlrs),
        "howitzer" | "gun" if calibre_mm.is_some_and(|c| c < 100.0) => {
            Some(WeaponClass::ArtilleryUnder100mm)
        }
        "howitzer" | "gun" => Some(WeaponClass::Artillery100mmPlus),
        "mortar" => Some(WeaponClass::Mortar),
        "tank" => Some(WeaponClass::Tank),
        _ => None,
    }
}
