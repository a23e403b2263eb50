//! A sample network and a sample batch of signed observations, deterministic from a seed.
//!
//! This is a stand-in until the simulator exists: a handful of acoustic arrays of three
//! operators near Pokrovsk, a weather station, a drone and a satellite feed; a few launches
//! heard by the arrays with straight-ray travel times; a drone sighting and a FIRMS-style
//! hotspot.

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use truce_ledger::NoteSigner;
use truce_model::{Position, Timestamp};

use crate::submit::envelope;

/// SplitMix64, shared with the simulator.
pub use truce_sim::Rng;

/// A sample sensor with its key.
#[derive(Debug)]
pub struct SampleSensor {
    pub id: String,
    pub kind: &'static str,
    pub operator: &'static str,
    pub position: Position,
    pub key: NoteSigner,
}

impl SampleSensor {
    /// The registration JSON (DESIGN.md section 4a).
    pub fn registration(&self) -> Value {
        let mut r = json!({
            "id": self.id, "kind": self.kind, "operator": self.operator,
            "position": {"lat": self.position.lat, "lon": self.position.lon},
            "public_key": crate::keys::public_key_base64(&self.key),
        });
        if self.kind == "acoustic" {
            r["timing_sigma_s"] = json!(0.002);
            r["backazimuth_sigma_deg"] = json!(2.0);
        }
        r
    }
}

/// A key derived from the seed and the sensor id: reproducible sample data, not for real use.
fn sample_key(seed: u64, id: &str) -> NoteSigner {
    let digest: [u8; 32] = Sha256::new()
        .chain_update(seed.to_be_bytes())
        .chain_update(id.as_bytes())
        .finalize()
        .into();
    NoteSigner::new(id, digest).unwrap_or_else(|_| unreachable!("sample ids are valid key names"))
}

/// The sample network.
pub fn sensors(seed: u64) -> Vec<SampleSensor> {
    let specs: [(&str, &str, &str, f64, f64); 9] = [
        ("ua-ac-001", "acoustic", "UA", 48.33, 37.05),
        ("ua-ac-002", "acoustic", "UA", 48.22, 37.30),
        ("fr-ac-001", "acoustic", "FR", 48.45, 37.22),
        ("fr-ac-002", "acoustic", "FR", 48.10, 37.10),
        ("us-ac-001", "acoustic", "US", 48.38, 37.45),
        ("us-ac-002", "acoustic", "US", 48.05, 37.40),
        ("ua-met-001", "met", "UA", 48.28, 37.18),
        ("gb-dr-001", "drone", "GB", 48.30, 37.30),
        ("firms-viirs-noaa20", "satellite_feed", "NASA", 48.30, 37.30),
    ];
    specs
        .into_iter()
        .map(|(id, kind, operator, lat, lon)| SampleSensor {
            id: id.to_string(),
            kind,
            operator,
            position: Position::new(lat, lon),
            key: sample_key(seed, id),
        })
        .collect()
}

/// Great-circle distance on a sphere of the WGS 84 mean radius, in metres (sample data only).
fn distance_m(a: Position, b: Position) -> f64 {
    let (la1, la2) = (a.lat.to_radians(), b.lat.to_radians());
    let dla = la2 - la1;
    let dlo = (b.lon - a.lon).to_radians();
    let h = (dla / 2.0).sin().powi(2) + la1.cos() * la2.cos() * (dlo / 2.0).sin().powi(2);
    2.0 * 6_371_008.8 * h.sqrt().asin()
}

/// Initial bearing from `a` to `b`, degrees clockwise from north.
fn bearing_deg(a: Position, b: Position) -> f64 {
    let (la1, la2) = (a.lat.to_radians(), b.lat.to_radians());
    let dlo = (b.lon - a.lon).to_radians();
    let y = dlo.sin() * la2.cos();
    let x = la1.cos() * la2.sin() - la1.sin() * la2.cos() * dlo.cos();
    (y.atan2(x).to_degrees() + 360.0) % 360.0
}

/// The sample batch: signed envelopes in arrival order, starting at `start`.
pub fn observations(seed: u64, sensors: &[SampleSensor], start: Timestamp) -> Vec<Vec<u8>> {
    let mut rng = Rng::new(seed);
    let mut seqs = std::collections::HashMap::<String, u64>::new();
    let mut out: Vec<(i64, Vec<u8>)> = Vec::new();
    let mut emit = |sensor: &SampleSensor, at: Timestamp, kind: &str, data: Value| {
        let seq = seqs.entry(sensor.id.clone()).or_insert(0);
        *seq += 1;
        let payload = json!({"sensor": sensor.id, "seq": *seq, "observed_at": at.to_string(),
                             "kind": kind, "data": data});
        let bytes = serde_json::to_vec(&payload).unwrap_or_default();
        out.push((at.unix_nanos(), envelope(&sensor.key, &sensor.id, &bytes)));
    };
    let by_kind = |kind: &'static str| sensors.iter().filter(move |s| s.kind == kind);
    let temperature_c = -4.0;
    let speed = 331.3 * (1.0 + temperature_c / 273.15_f64).sqrt();
    for met in by_kind("met") {
        emit(
            met,
            start,
            "met.surface",
            json!({"temperature_c": temperature_c,
            "wind_speed_mps": 3.0, "wind_from_deg": 250.0, "pressure_hpa": 1016.0}),
        );
    }
    for n in 0..12 {
        let origin = Position::new(48.18 + 0.2 * rng.unit(), 37.12 + 0.25 * rng.unit());
        let origin_time = start.plus_nanos((60 + n * 37) * 1_000_000_000);
        let class = if n % 3 == 2 { "impact" } else { "launch" };
        for sensor in by_kind("acoustic") {
            let distance = distance_m(sensor.position, origin);
            if distance > 40_000.0 {
                continue;
            }
            let travel_ns = (distance / speed * 1e9) as i64;
            let pick_ns = (rng.normal() * 0.002 * 1e9) as i64;
            let arrival = origin_time.plus_nanos(travel_ns + pick_ns);
            let backazimuth =
                (bearing_deg(sensor.position, origin) + 2.0 * rng.normal() + 360.0) % 360.0;
            emit(
                sensor,
                arrival.plus_nanos(150_000_000),
                "acoustic.arrival",
                json!({
                "arrival_time": arrival.to_string(), "arrival_sigma_s": 0.002, "class": class,
                "backazimuth_deg": (backazimuth * 10.0).round() / 10.0, "backazimuth_sigma_deg": 2.0,
                "snr": (8.0 + 20.0 * rng.unit()).round()}),
            );
        }
    }
    for drone in by_kind("drone") {
        emit(
            drone,
            start.plus_nanos(300_000_000_000),
            "drone.detection",
            json!({
            "object_class": "mlrs", "position": {"lat": 48.262, "lon": 37.318},
            "position_sigma_m": 25.0, "count": 2, "confidence": 0.85, "calibre_mm": 122}),
        );
    }
    for feed in by_kind("satellite_feed") {
        emit(
            feed,
            start.plus_nanos(600_000_000_000),
            "satellite.thermal",
            json!({
            "position": {"lat": 48.2412, "lon": 37.2705}, "acquired_at": start.plus_nanos(420_000_000_000).to_string(),
            "satellite": "N20", "instrument": "VIIRS", "scan_km": 0.39, "track_km": 0.36,
            "brightness_k": 341.2, "frp_mw": 6.8, "confidence": "nominal", "daynight": "N"}),
        );
    }
    out.sort_by_key(|(at, _)| *at);
    out.into_iter().map(|(_, e)| e).collect()
}
