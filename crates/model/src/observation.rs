//! The observation payload (DESIGN.md section 4a) and its validation, kind by kind.

use serde_json::Value;

use std::collections::BTreeMap;

use crate::fields::{self, FieldError, Fields, Raw};
use crate::position::Position;
use crate::time::Timestamp;

/// Every observation kind of wire format version 1.
pub const KINDS: &[&str] = &[
    "acoustic.arrival",
    "seismic.arrival",
    "infrasound.arrival",
    "drone.detection",
    "camera.detection",
    "radar.detection",
    "satellite.thermal",
    "satellite.change",
    "report.patrol",
    "report.allegation",
    "infrastructure.status",
    "met.surface",
];

/// A validated observation payload.
#[derive(Clone, Debug, PartialEq)]
pub struct Observation {
    pub sensor: String,
    pub seq: u64,
    pub observed_at: Timestamp,
    /// One of [`KINDS`].
    pub kind: &'static str,
    pub data: ObservationData,
}

impl Observation {
    /// Where and when the observation places something, with the position's σ in metres:
    /// a detection (its position at `observed_at`), a thermal hotspot (at `acquired_at`, σ
    /// half the larger pixel side) or a patrol report (at its `event_time`). `None` for
    /// arrivals, changes, allegations, status reports and weather.
    pub fn located(&self) -> Option<(Position, f64, Timestamp)> {
        match &self.data {
            ObservationData::Detection {
                position,
                position_sigma_m,
                ..
            } => Some((*position, *position_sigma_m, self.observed_at)),
            ObservationData::Thermal {
                position,
                acquired_at,
                scan_km,
                track_km,
                ..
            } => Some((*position, scan_km.max(*track_km) * 500.0, *acquired_at)),
            ObservationData::Report {
                position,
                position_sigma_m,
                event_time,
                ..
            } if self.kind == "report.patrol" => Some((*position, *position_sigma_m, *event_time)),
            _ => None,
        }
    }
}

/// What the signal was, as the sensor classified it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignalClass {
    Launch,
    Impact,
    Airburst,
    Unknown,
}

/// A piece of evidence stored as a blob: its digest and media type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Evidence {
    pub sha256: String,
    pub media_type: String,
}

/// FIRMS confidence: a level for VIIRS, a percentage for MODIS.
#[derive(Clone, Debug, PartialEq)]
pub enum ThermalConfidence {
    Level(String),
    Percent(f64),
}

/// The `data` of an observation, by kind.
#[derive(Clone, Debug, PartialEq)]
pub enum ObservationData {
    /// `acoustic.arrival`, `seismic.arrival`, `infrasound.arrival`.
    Arrival {
        arrival_time: Timestamp,
        arrival_sigma_s: f64,
        class: SignalClass,
        backazimuth_deg: Option<f64>,
        backazimuth_sigma_deg: Option<f64>,
        snr: Option<f64>,
        position: Option<Position>,
    },
    /// `drone.detection`, `camera.detection`, `radar.detection`.
    Detection {
        object_class: String,
        position: Position,
        position_sigma_m: f64,
        count: u64,
        confidence: f64,
        calibre_mm: Option<f64>,
        heading_deg: Option<f64>,
        speed_mps: Option<f64>,
        platform_position: Option<Position>,
        evidence: Vec<Evidence>,
    },
    /// `satellite.thermal`.
    Thermal {
        position: Position,
        acquired_at: Timestamp,
        satellite: String,
        instrument: String,
        scan_km: f64,
        track_km: f64,
        brightness_k: f64,
        frp_mw: f64,
        confidence: ThermalConfidence,
        daynight: String,
    },
    /// `satellite.change`.
    Change {
        geometry: Value,
        change_class: String,
        acquired_before: Timestamp,
        acquired_after: Timestamp,
        before_sha256: String,
        after_sha256: String,
    },
    /// `report.patrol`, `report.allegation`.
    Report {
        summary: String,
        category: String,
        position: Position,
        position_sigma_m: f64,
        event_time: Timestamp,
        time_sigma_s: f64,
        evidence: Vec<Evidence>,
    },
    /// `infrastructure.status`.
    Infrastructure {
        site_id: String,
        service: String,
        status: String,
        households_affected: Option<u64>,
    },
    /// `met.surface`.
    Met {
        temperature_c: f64,
        wind_speed_mps: f64,
        wind_from_deg: f64,
        pressure_hpa: Option<f64>,
        relative_humidity: Option<f64>,
    },
}

/// Why a payload is not a valid observation.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ObservationError {
    #[error("payload is not JSON: {0}")]
    Json(String),
    #[error("{} invalid field(s), first: {} {}", .0.len(), .0[0].field, .0[0].message)]
    Fields(Vec<FieldError>),
}

/// The object classes of a detection (DESIGN.md section 4a).
pub const OBJECT_CLASSES: &[&str] = &[
    "mlrs",
    "howitzer",
    "gun",
    "mortar",
    "tank",
    "apc",
    "vehicle",
    "personnel",
    "aircraft",
    "drone",
    "other",
];
const CHANGE_CLASSES: &[&str] = &[
    "crater",
    "earthworks",
    "damaged_structure",
    "vehicle_concentration",
];
const SIGNAL_CLASSES: &[&str] = &["launch", "impact", "airburst", "unknown"];
const SERVICES: &[&str] = &["power", "water", "gas", "heating"];
const STATUSES: &[&str] = &["operational", "degraded", "outage"];
const THERMAL_LEVELS: &[&str] = &["low", "nominal", "high"];

impl Observation {
    /// Parses and validates payload bytes, reporting every invalid field.
    ///
    /// Fields are read straight from the bytes (no intermediate JSON tree), each with the
    /// same rules, so every invalid field is reported with its path.
    pub fn parse(bytes: &[u8]) -> Result<Self, ObservationError> {
        let value: &Raw =
            serde_json::from_slice(bytes).map_err(|e| ObservationError::Json(e.to_string()))?;
        let mut errors = Vec::new();
        let observation = Self::read(value, &mut errors);
        match observation {
            Some(o) if errors.is_empty() => Ok(o),
            _ => {
                if errors.is_empty() {
                    errors.push(FieldError::new("", "invalid observation"));
                }
                Err(ObservationError::Fields(errors))
            }
        }
    }

    /// Validates an already-parsed payload, reporting every invalid field.
    pub fn from_value(value: &Value) -> Result<Self, ObservationError> {
        Self::parse(value.to_string().as_bytes())
    }

    fn read(value: &Raw, errors: &mut Vec<FieldError>) -> Option<Self> {
        let mut top = Fields::object(value, "", errors)?;
        let sensor = top.required("sensor", crate::sensor::sensor_id);
        let seq = top.required("seq", fields::count);
        let observed_at = top.required("observed_at", fields::timestamp);
        let kind = top.required("kind", |v| fields::one_of(v, KINDS));
        let data = match (kind, top.raw("data")) {
            (_, None) => {
                top.fail("data", "is required");
                None
            }
            (Some(kind), Some(data)) => read_data(kind, data, top.errors),
            (None, Some(_)) => None,
        };
        Some(Self {
            sensor: sensor?,
            seq: seq?,
            observed_at: observed_at?,
            kind: kind?,
            data: data?,
        })
    }

    /// The time the observation is about, for checks against the clock: the arrival,
    /// acquisition or event time where the kind has one, else `observed_at`.
    pub fn times(&self) -> Vec<(&'static str, Timestamp)> {
        let mut times = vec![("observed_at", self.observed_at)];
        match &self.data {
            ObservationData::Arrival { arrival_time, .. } => {
                times.push(("data.arrival_time", *arrival_time))
            }
            ObservationData::Thermal { acquired_at, .. } => {
                times.push(("data.acquired_at", *acquired_at))
            }
            ObservationData::Change { acquired_after, .. } => {
                times.push(("data.acquired_after", *acquired_after))
            }
            ObservationData::Report { event_time, .. } => {
                times.push(("data.event_time", *event_time))
            }
            _ => {}
        }
        times
    }
}

fn read_data(kind: &str, value: &Raw, errors: &mut Vec<FieldError>) -> Option<ObservationData> {
    let mut f = Fields::object(value, "data", errors)?;
    let data = match kind {
        "acoustic.arrival" | "seismic.arrival" | "infrasound.arrival" => {
            let arrival_time = f.required("arrival_time", fields::timestamp);
            let arrival_sigma_s = f.required("arrival_sigma_s", fields::positive);
            let class = f.required("class", |v| {
                fields::one_of(v, SIGNAL_CLASSES).map(|c| match c {
                    "launch" => SignalClass::Launch,
                    "impact" => SignalClass::Impact,
                    "airburst" => SignalClass::Airburst,
                    _ => SignalClass::Unknown,
                })
            });
            let backazimuth_deg = f.optional("backazimuth_deg", fields::degrees);
            let backazimuth_sigma_deg = f.optional("backazimuth_sigma_deg", fields::positive);
            let snr = f.optional("snr", fields::non_negative);
            let position = f.position("position", false);
            ObservationData::Arrival {
                arrival_time: arrival_time?,
                arrival_sigma_s: arrival_sigma_s?,
                class: class?,
                backazimuth_deg,
                backazimuth_sigma_deg,
                snr,
                position,
            }
        }
        "drone.detection" | "camera.detection" | "radar.detection" => {
            let object_class = f.required("object_class", |v| {
                fields::one_of(v, OBJECT_CLASSES).map(str::to_string)
            });
            let position = f.position("position", true);
            let position_sigma_m = f.required("position_sigma_m", fields::positive);
            let count = f.required("count", fields::count);
            let confidence = f.required("confidence", fields::unit_interval);
            let calibre_mm = f.optional("calibre_mm", fields::positive);
            let heading_deg = f.optional("heading_deg", fields::degrees);
            let speed_mps = f.optional("speed_mps", fields::non_negative);
            let platform_position = f.position("platform_position", false);
            let evidence = read_evidence(&mut f);
            ObservationData::Detection {
                object_class: object_class?,
                position: position?,
                position_sigma_m: position_sigma_m?,
                count: count?,
                confidence: confidence?,
                calibre_mm,
                heading_deg,
                speed_mps,
                platform_position,
                evidence,
            }
        }
        "satellite.thermal" => {
            let position = f.position("position", true);
            let acquired_at = f.required("acquired_at", fields::timestamp);
            let satellite = f.required("satellite", fields::text);
            let instrument = f.required("instrument", fields::text);
            let scan_km = f.required("scan_km", fields::positive);
            let track_km = f.required("track_km", fields::positive);
            let brightness_k = f.required("brightness_k", fields::positive);
            let frp_mw = f.required("frp_mw", fields::non_negative);
            let confidence = f.required("confidence", |v| {
                match (fields::one_of(v, THERMAL_LEVELS), fields::number(v)) {
                    (Ok(level), _) => Ok(ThermalConfidence::Level(level.to_string())),
                    (_, Ok(_)) => fields::number_in(v, 0.0, 100.0).map(ThermalConfidence::Percent),
                    _ => Err("must be low, nominal, high or a number from 0 to 100".into()),
                }
            });
            let daynight = f.required("daynight", |v| {
                fields::one_of(v, &["D", "N"]).map(str::to_string)
            });
            ObservationData::Thermal {
                position: position?,
                acquired_at: acquired_at?,
                satellite: satellite?,
                instrument: instrument?,
                scan_km: scan_km?,
                track_km: track_km?,
                brightness_k: brightness_k?,
                frp_mw: frp_mw?,
                confidence: confidence?,
                daynight: daynight?,
            }
        }
        "satellite.change" => {
            let geometry = f.required("geometry", polygon);
            let change_class = f.required("change_class", |v| {
                fields::one_of(v, CHANGE_CLASSES).map(str::to_string)
            });
            let acquired_before = f.required("acquired_before", fields::timestamp);
            let acquired_after = f.required("acquired_after", fields::timestamp);
            let before_sha256 = f.required("before_sha256", fields::sha256_hex);
            let after_sha256 = f.required("after_sha256", fields::sha256_hex);
            if let (Some(b), Some(a)) = (acquired_before, acquired_after)
                && b > a
            {
                f.fail("acquired_after", "must not be before acquired_before");
            }
            ObservationData::Change {
                geometry: geometry?,
                change_class: change_class?,
                acquired_before: acquired_before?,
                acquired_after: acquired_after?,
                before_sha256: before_sha256?,
                after_sha256: after_sha256?,
            }
        }
        "report.patrol" | "report.allegation" => {
            let summary = f.required("summary", fields::text);
            let category = f.required("category", fields::text);
            let position = f.position("position", true);
            let position_sigma_m = f.required("position_sigma_m", fields::positive);
            let event_time = f.required("event_time", fields::timestamp);
            let time_sigma_s = f.required("time_sigma_s", fields::non_negative);
            let evidence = read_evidence(&mut f);
            ObservationData::Report {
                summary: summary?,
                category: category?,
                position: position?,
                position_sigma_m: position_sigma_m?,
                event_time: event_time?,
                time_sigma_s: time_sigma_s?,
                evidence,
            }
        }
        "infrastructure.status" => {
            let site_id = f.required("site_id", fields::text);
            let service = f.required("service", |v| {
                fields::one_of(v, SERVICES).map(str::to_string)
            });
            let status = f.required("status", |v| {
                fields::one_of(v, STATUSES).map(str::to_string)
            });
            let households_affected = f.optional("households_affected", fields::count);
            ObservationData::Infrastructure {
                site_id: site_id?,
                service: service?,
                status: status?,
                households_affected,
            }
        }
        "met.surface" => {
            let temperature_c = f.required("temperature_c", |v| fields::number_in(v, -90.0, 60.0));
            let wind_speed_mps = f.required("wind_speed_mps", |v| fields::number_in(v, 0.0, 100.0));
            let wind_from_deg = f.required("wind_from_deg", fields::degrees);
            let pressure_hpa = f.optional("pressure_hpa", |v| fields::number_in(v, 300.0, 1100.0));
            let relative_humidity =
                f.optional("relative_humidity", |v| fields::number_in(v, 0.0, 100.0));
            ObservationData::Met {
                temperature_c: temperature_c?,
                wind_speed_mps: wind_speed_mps?,
                wind_from_deg: wind_from_deg?,
                pressure_hpa,
                relative_humidity,
            }
        }
        _ => return None,
    };
    Some(data)
}

fn read_evidence(f: &mut Fields<'_, '_>) -> Vec<Evidence> {
    f.optional("evidence", |v| {
        let items: Vec<&Raw> = serde_json::from_str(v.get()).map_err(|_| "must be an array")?;
        items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                let item: BTreeMap<String, &Raw> = serde_json::from_str(item.get())
                    .map_err(|_| format!("[{i}] must be an object"))?;
                let sha256 = item
                    .get("sha256")
                    .ok_or(format!("[{i}].sha256 is required"))
                    .and_then(|d| fields::sha256_hex(d).map_err(|m| format!("[{i}].sha256 {m}")))?;
                let media_type = item
                    .get("media_type")
                    .ok_or(format!("[{i}].media_type is required"))
                    .and_then(|d| fields::text(d).map_err(|m| format!("[{i}].media_type {m}")))?;
                Ok(Evidence { sha256, media_type })
            })
            .collect()
    })
    .unwrap_or_default()
}

/// A GeoJSON Polygon (RFC 7946): closed linear rings of at least four valid positions.
fn polygon(raw: &Raw) -> Result<Value, String> {
    let value = fields::tree(raw)?;
    if value.get("type").and_then(Value::as_str) != Some("Polygon") {
        return Err("must be a GeoJSON Polygon".into());
    }
    let rings = value
        .get("coordinates")
        .and_then(Value::as_array)
        .filter(|r| !r.is_empty())
        .ok_or("must have coordinates: a non-empty array of rings")?;
    for (i, ring) in rings.iter().enumerate() {
        let points = ring
            .as_array()
            .ok_or(format!("ring {i} must be an array"))?;
        if points.len() < 4 {
            return Err(format!("ring {i} must have at least 4 positions"));
        }
        let mut coords = Vec::with_capacity(points.len());
        for p in points {
            let lon = p.get(0).and_then(Value::as_f64);
            let lat = p.get(1).and_then(Value::as_f64);
            match (lon, lat) {
                (Some(lon), Some(lat)) if Position::new(lat, lon).is_valid() => {
                    coords.push((lon, lat))
                }
                _ => return Err(format!("ring {i} has a position out of range")),
            }
        }
        if coords.first() != coords.last() {
            return Err(format!("ring {i} is not closed"));
        }
    }
    Ok(value)
}

/// One valid `data` object per kind, for tests and documentation.
pub fn examples() -> Vec<(&'static str, Value)> {
    use serde_json::json;
    let pos = json!({"lat": 48.5, "lon": 37.9});
    let hash = "a".repeat(64);
    vec![
        (
            "acoustic.arrival",
            json!({"arrival_time": "2026-01-07T00:00:00.5Z", "arrival_sigma_s": 0.002, "class": "impact"}),
        ),
        (
            "seismic.arrival",
            json!({"arrival_time": "2026-01-07T00:00:00.5Z", "arrival_sigma_s": 0.01, "class": "unknown", "backazimuth_deg": 10.0, "backazimuth_sigma_deg": 3.0}),
        ),
        (
            "infrasound.arrival",
            json!({"arrival_time": "2026-01-07T00:00:00.5Z", "arrival_sigma_s": 0.05, "class": "airburst", "position": pos}),
        ),
        (
            "drone.detection",
            json!({"object_class": "howitzer", "position": pos, "position_sigma_m": 15.0, "count": 1, "confidence": 0.8, "calibre_mm": 152, "evidence": [{"sha256": hash, "media_type": "image/jpeg"}]}),
        ),
        (
            "camera.detection",
            json!({"object_class": "tank", "position": pos, "position_sigma_m": 30.0, "count": 3, "confidence": 0.6}),
        ),
        (
            "radar.detection",
            json!({"object_class": "drone", "position": pos, "position_sigma_m": 50.0, "count": 1, "confidence": 0.7, "heading_deg": 270.0, "speed_mps": 40.0}),
        ),
        (
            "satellite.thermal",
            json!({"position": pos, "acquired_at": "2026-01-07T00:00:00Z", "satellite": "N20", "instrument": "VIIRS", "scan_km": 0.39, "track_km": 0.36, "brightness_k": 330.1, "frp_mw": 4.2, "confidence": "nominal", "daynight": "N"}),
        ),
        (
            "satellite.change",
            json!({"geometry": {"type": "Polygon", "coordinates": [[[37.0, 48.0], [37.1, 48.0], [37.1, 48.1], [37.0, 48.0]]]}, "change_class": "crater", "acquired_before": "2026-01-06T00:00:00Z", "acquired_after": "2026-01-07T00:00:00Z", "before_sha256": hash, "after_sha256": hash}),
        ),
        (
            "report.patrol",
            json!({"summary": "two explosions heard", "category": "shelling", "position": pos, "position_sigma_m": 500.0, "event_time": "2026-01-06T23:50:00Z", "time_sigma_s": 60.0}),
        ),
        (
            "report.allegation",
            json!({"summary": "strike on a school", "category": "shelling", "position": pos, "position_sigma_m": 200.0, "event_time": "2026-01-06T23:00:00Z", "time_sigma_s": 600.0}),
        ),
        (
            "infrastructure.status",
            json!({"site_id": "zaporizhzhia-npp", "service": "power", "status": "outage", "households_affected": 12000}),
        ),
        (
            "met.surface",
            json!({"temperature_c": -3.5, "wind_speed_mps": 8.0, "wind_from_deg": 270.0, "pressure_hpa": 1012.0}),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn arrival() -> Value {
        json!({"sensor": "ua-ac-017", "seq": 1234, "observed_at": "2026-01-07T03:04:05.123456789Z",
               "kind": "acoustic.arrival",
               "data": {"arrival_time": "2026-01-07T03:04:05.1Z", "arrival_sigma_s": 0.002,
                        "class": "launch", "backazimuth_deg": 120.5, "snr": 14.0}})
    }

    #[test]
    fn detections_hotspots_and_patrols_are_located_the_rest_not() {
        use serde_json::json;
        let mut located = Vec::new();
        for (kind, data) in examples() {
            let value = json!({"sensor": "s-1", "seq": 1, "observed_at": "2026-01-07T00:00:01Z",
                "kind": kind, "data": data});
            let o = Observation::from_value(&value).unwrap();
            if let Some((position, sigma, time)) = o.located() {
                assert!((position.lat - 48.5).abs() < 1e-9, "{kind}");
                located.push((kind, sigma, time.to_string()));
            }
        }
        assert_eq!(
            located,
            [
                ("drone.detection", 15.0, "2026-01-07T00:00:01Z".to_string()),
                ("camera.detection", 30.0, "2026-01-07T00:00:01Z".to_string()),
                ("radar.detection", 50.0, "2026-01-07T00:00:01Z".to_string()),
                (
                    "satellite.thermal",
                    195.0,
                    "2026-01-07T00:00:00Z".to_string()
                ),
                ("report.patrol", 500.0, "2026-01-06T23:50:00Z".to_string()),
            ]
        );
    }

    #[test]
    fn parses_the_design_example() {
        let o = Observation::from_value(&arrival()).unwrap();
        assert_eq!(o.sensor, "ua-ac-017");
        assert_eq!(o.kind, "acoustic.arrival");
        assert!(matches!(
            o.data,
            ObservationData::Arrival {
                class: SignalClass::Launch,
                ..
            }
        ));
    }

    #[test]
    fn reports_every_bad_field_with_its_path() {
        let mut v = arrival();
        v["data"]["arrival_sigma_s"] = json!(-1);
        v["data"]["backazimuth_deg"] = json!(400);
        v["data"].as_object_mut().unwrap().remove("class");
        let Err(ObservationError::Fields(errors)) = Observation::from_value(&v) else {
            panic!("should fail")
        };
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            ["data.arrival_sigma_s", "data.class", "data.backazimuth_deg"]
        );
    }

    #[test]
    fn an_object_that_repeats_a_member_is_refused() {
        // serde_json keeps the last of two; other parsers keep the first: refuse both.
        let text = arrival().to_string();
        let twice = text.replacen("\"seq\":", "\"seq\":99,\"seq\":", 1);
        let Err(ObservationError::Fields(errors)) = Observation::parse(twice.as_bytes()) else {
            panic!("should fail: {twice}")
        };
        assert_eq!(errors[0].field, "seq");
        assert!(errors[0].message.contains("more than once"), "{errors:?}");
        // Inside `data` too, named by its path; an escaped spelling is the same name.
        let twice = text.replacen("\"class\":", "\"cl\\u0061ss\":\"impact\",\"class\":", 1);
        let Err(ObservationError::Fields(errors)) = Observation::parse(twice.as_bytes()) else {
            panic!("should fail: {twice}")
        };
        assert_eq!(errors[0].field, "data.class");
        Observation::parse(text.as_bytes()).unwrap();
    }

    #[test]
    fn checks_coordinates_and_kinds() {
        let v = json!({"sensor": "ua-dr-1", "seq": 1, "observed_at": "2026-01-07T03:04:05Z",
            "kind": "drone.detection", "data": {"object_class": "mlrs",
            "position": {"lat": 91.0, "lon": 37.0}, "position_sigma_m": 20, "count": 2, "confidence": 0.9}});
        let Err(ObservationError::Fields(errors)) = Observation::from_value(&v) else {
            panic!()
        };
        assert_eq!(errors[0].field, "data.position.lat");
        let mut v = arrival();
        v["kind"] = json!("acoustic.whistle");
        let Err(ObservationError::Fields(errors)) = Observation::from_value(&v) else {
            panic!()
        };
        assert_eq!(errors[0].field, "kind");
    }

    #[test]
    fn every_kind_has_a_valid_example() {
        for (kind, data) in crate::observation::examples() {
            let v = json!({"sensor": "s-1", "seq": 0, "observed_at": "2026-01-07T00:00:00Z",
                           "kind": kind, "data": data});
            Observation::from_value(&v).unwrap_or_else(|e| panic!("{kind}: {e}"));
        }
    }

    #[test]
    fn reads_escaped_keys_and_strings_and_treats_null_as_absent() {
        let bytes =
            br#"{"sens\u006fr": "ua-ac-017", "seq": 7, "observed_at": "2026-01-07T03:04:05Z",
            "kind": "acoustic\u002earrival", "data": {"arrival_time": "2026-01-07T03:04:05Z",
            "arrival_sigma_s": 0.01, "class": "launch", "snr": null}}"#;
        let o = Observation::parse(bytes).unwrap();
        assert_eq!(
            (o.sensor.as_str(), o.seq, o.kind),
            ("ua-ac-017", 7, "acoustic.arrival")
        );
        assert!(matches!(o.data, ObservationData::Arrival { snr: None, .. }));
    }

    #[test]
    fn thermal_confidence_is_a_level_or_a_percentage() {
        let (_, mut data) = examples().remove(6);
        let payload = |data: &Value| {
            json!({"sensor": "s-1", "seq": 0, "observed_at": "2026-01-07T00:00:00Z",
                   "kind": "satellite.thermal", "data": data})
        };
        data["confidence"] = json!(87);
        assert!(matches!(
            Observation::from_value(&payload(&data)).unwrap().data,
            ObservationData::Thermal { confidence: ThermalConfidence::Percent(p), .. } if p == 87.0
        ));
        data["confidence"] = json!("extreme");
        assert!(Observation::from_value(&payload(&data)).is_err());
        data["confidence"] = json!(101);
        assert!(Observation::from_value(&payload(&data)).is_err());
    }

    #[test]
    fn rejects_non_objects_and_bad_json_clearly() {
        assert!(
            matches!(Observation::parse(b"[1,2]"), Err(ObservationError::Fields(e)) if e[0].message == "must be a JSON object")
        );
        assert!(matches!(
            Observation::parse(b"{\"a\":"),
            Err(ObservationError::Json(_))
        ));
    }
}
