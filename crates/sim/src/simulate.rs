//! From a scenario and a seed to sensors, keys, signed observations and ground truth.

use std::collections::BTreeMap;

use geographiclib_rs::Geodesic;
use serde::Serialize;
use sha2::{Digest, Sha256};
use truce_agreement::Agreement;
use truce_ledger::NoteSigner;
use truce_model::envelope::encode_base64;
use truce_model::{Position, SensorKind, SensorRegistration, Timestamp, WeaponClass};

use crate::physics::Weather;
use crate::scenario::Scenario;
use crate::truth::{Summary, Truth};
use crate::weather::WeatherModel;

mod arrivals;
mod finish;
mod met;
mod script;
mod volleys;

/// One simulated sensor: its registration and its key.
#[derive(Debug)]
pub struct SimSensor {
    pub registration: SensorRegistration,
    /// Derived from the seed and the sensor id: reproducible, not for real use.
    pub key: NoteSigner,
}

impl SimSensor {
    pub fn id(&self) -> &str {
        &self.registration.id
    }

    /// The registration as `POST /v1/sensors` takes it.
    pub fn registration_json(&self) -> serde_json::Value {
        serde_json::to_value(&self.registration).unwrap_or_default()
    }
}

/// Everything a simulation produces.
#[derive(Debug)]
pub struct Simulation {
    pub sensors: Vec<SimSensor>,
    pub truth: Truth,
    /// DSSE envelopes (JSON bytes, one per observation) in arrival order.
    pub observations: Vec<Vec<u8>>,
    /// The kind of each observation, by position.
    pub kinds: Vec<&'static str>,
}

impl Simulation {
    /// `{sensor id: secret key}` in the text form `truce keygen` writes, by id.
    pub fn keys(&self) -> BTreeMap<String, String> {
        self.sensors
            .iter()
            .map(|s| (s.id().to_string(), s.key.skey()))
            .collect()
    }

    pub fn summary(&self) -> Summary {
        let mut s = Summary {
            scenario: self.truth.scenario.clone(),
            seed: self.truth.seed,
            observations: self.observations.len(),
            false_arrivals: self.truth.false_arrivals.len(),
            ..Summary::default()
        };
        for sensor in &self.sensors {
            let r = &sensor.registration;
            *s.sensors
                .entry(r.kind.as_str().to_string())
                .or_default()
                .entry(r.operator.clone())
                .or_default() += 1;
        }
        for kind in &self.kinds {
            if kind.ends_with(".arrival") {
                s.true_arrivals += 1;
            } else {
                *s.other_observations.entry(kind.to_string()).or_default() += 1;
            }
        }
        s.true_arrivals -= s.false_arrivals;
        let mut heard = Vec::new();
        for e in &self.truth.events {
            *s.events.entry(e.event_type.to_string()).or_default() += 1;
            if e.is_acoustic() {
                heard.push(e.heard_by);
            }
        }
        s.acoustic_events = heard.len();
        if !heard.is_empty() {
            s.mean_heard_by = heard.iter().sum::<usize>() as f64 / heard.len() as f64;
            s.min_heard_by = heard.iter().copied().min().unwrap_or(0);
            s.max_heard_by = heard.iter().copied().max().unwrap_or(0);
        }
        s.heard_by_fewer_than_3 = heard.iter().filter(|h| **h < 3).count();
        s
    }
}

/// The key of sensor `id` under `seed`: the Ed25519 seed is SHA-256(seed (8 bytes, big
/// endian) ‖ id), as for `truce demo`'s sample sensors.
pub fn sensor_key(seed: u64, id: &str) -> NoteSigner {
    let digest: [u8; 32] = Sha256::new()
        .chain_update(seed.to_be_bytes())
        .chain_update(id.as_bytes())
        .finalize()
        .into();
    NoteSigner::new(id, digest).expect("validated sensor ids are valid key names")
}

/// Runs the scenario with `seed`. Pure: the same scenario and seed give the same bytes.
pub fn simulate(scenario: &Scenario, seed: u64) -> Simulation {
    let mut sim = Engine::new(scenario, seed);
    sim.script();
    sim.arrivals();
    sim.false_arrivals();
    sim.false_bursts();
    sim.met();
    sim.finish()
}

/// An observation before it has a `seq` and a signature.
struct Draft {
    sensor: usize,
    observed_ns: i64,
    kind: &'static str,
    data: Data,
    owner: Owner,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Owner {
    /// A true arrival or detection of this event (index into the events).
    Event(usize),
    /// A false arrival.
    False,
    /// A false pick of burst `.1` of array `.0` (indices into the arrays and its bursts).
    Burst(usize, usize),
    /// A weather or infrastructure report.
    Unlinked,
}

#[derive(Serialize)]
#[serde(untagged)]
enum Data {
    Arrival(ArrivalData),
    Detection(DetectionData),
    Thermal(ThermalData),
    Met(MetData),
    Status(StatusData),
}

#[derive(Serialize)]
struct StatusData {
    site_id: String,
    service: String,
    status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    households_affected: Option<u64>,
}

#[derive(Serialize)]
struct ArrivalData {
    arrival_time: Timestamp,
    arrival_sigma_s: f64,
    class: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    backazimuth_deg: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    backazimuth_sigma_deg: Option<f64>,
    snr: f64,
}

#[derive(Serialize)]
struct DetectionData {
    object_class: String,
    position: Position,
    position_sigma_m: f64,
    count: u64,
    confidence: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    calibre_mm: Option<f64>,
    heading_deg: f64,
    speed_mps: f64,
    evidence: Vec<EvidenceData>,
}

#[derive(Serialize)]
struct EvidenceData {
    sha256: String,
    media_type: &'static str,
}

#[derive(Serialize)]
struct ThermalData {
    position: Position,
    acquired_at: Timestamp,
    satellite: String,
    instrument: String,
    scan_km: f64,
    track_km: f64,
    brightness_k: f64,
    frp_mw: f64,
    confidence: &'static str,
    daynight: &'static str,
}

#[derive(Serialize)]
struct MetData {
    temperature_c: f64,
    wind_speed_mps: f64,
    wind_from_deg: f64,
}

#[derive(Serialize)]
struct Payload<'a> {
    sensor: &'a str,
    seq: u64,
    observed_at: Timestamp,
    kind: &'a str,
    data: &'a Data,
}

/// A true event before sorting: times in ns since the Unix epoch.
struct EventDraft {
    id: String,
    event_type: &'static str,
    time_ns: i64,
    position: Position,
    weapon_class: Option<WeaponClass>,
    object_class: Option<String>,
    /// The launch (index into the events) of an impact.
    launch: Option<usize>,
    site: Option<String>,
}

struct Engine<'a> {
    scenario: &'a Scenario,
    agreement: &'a Agreement,
    seed: u64,
    geodesic: Geodesic,
    /// The constant `[weather]`.
    weather: Weather,
    /// The true weather, varying or not.
    model: WeatherModel,
    start_ns: i64,
    sensors: Vec<SimSensor>,
    /// Index in `sensors` of the first met sensor, drone and feed.
    met_base: usize,
    drone_base: usize,
    feed_base: usize,
    infrastructure_base: usize,
    events: Vec<EventDraft>,
    drafts: Vec<Draft>,
}

/// Rounds to `digits` decimals.
fn round(x: f64, digits: i32) -> f64 {
    let k = 10f64.powi(digits);
    (x * k).round() / k
}

fn seconds_to_ns(s: f64) -> i64 {
    (s * 1e9).round() as i64
}

fn rounded_position(p: Position, digits: i32) -> Position {
    Position::new(round(p.lat, digits), round(p.lon, digits))
}

impl<'a> Engine<'a> {
    fn new(scenario: &'a Scenario, seed: u64) -> Self {
        let net = &scenario.file.network;
        let registration = |id: &str,
                            kind: SensorKind,
                            operator: &str,
                            position: Option<Position>,
                            timing: Option<f64>,
                            backazimuth_sigma: Option<f64>| SimSensor {
            key: sensor_key(seed, id),
            registration: SensorRegistration {
                id: id.to_string(),
                kind,
                operator: operator.to_string(),
                position,
                public_key: String::new(),
                timing_sigma_s: timing,
                backazimuth_sigma_deg: backazimuth_sigma,
            },
        };
        let mut sensors: Vec<SimSensor> = Vec::new();
        let geodesic = Geodesic::wgs84();
        for a in &scenario.arrays {
            sensors.push(registration(
                &a.id,
                a.kind.sensor_kind(),
                &a.operator,
                Some(a.registered_position(&geodesic)),
                Some(a.timing_sigma_s),
                a.backazimuth_sigma_deg,
            ));
        }
        let met_base = sensors.len();
        for m in &net.met_sensors {
            sensors.push(registration(
                &m.id,
                SensorKind::Met,
                &m.operator,
                Some(Position::new(m.lat, m.lon)),
                None,
                None,
            ));
        }
        // The sensors registered without a position, each kind after the last.
        let mut positionless = |kind: SensorKind, members: Vec<(&str, &str)>| {
            let base = sensors.len();
            for (id, operator) in members {
                sensors.push(registration(id, kind, operator, None, None, None));
            }
            base
        };
        let drone_base = positionless(
            SensorKind::Drone,
            net.drones
                .iter()
                .map(|d| (d.id.as_str(), d.operator.as_str()))
                .collect(),
        );
        let feed_base = positionless(
            SensorKind::SatelliteFeed,
            net.satellite_feeds
                .iter()
                .map(|f| (f.id.as_str(), f.operator.as_str()))
                .collect(),
        );
        let infrastructure_base = positionless(
            SensorKind::Infrastructure,
            net.infrastructure_sensors
                .iter()
                .map(|r| (r.id.as_str(), r.operator.as_str()))
                .collect(),
        );
        for s in &mut sensors {
            s.registration.public_key = encode_base64(&s.key.public_key());
        }
        Self {
            scenario,
            agreement: &scenario.agreement,
            seed,
            geodesic,
            weather: scenario.weather(),
            model: scenario.weather_model(),
            start_ns: scenario.start.unix_nanos(),
            sensors,
            met_base,
            drone_base,
            feed_base,
            infrastructure_base,
            events: Vec::new(),
            drafts: Vec::new(),
        }
    }

    fn at(&self, t_s: f64) -> i64 {
        self.start_ns + seconds_to_ns(t_s)
    }
}
