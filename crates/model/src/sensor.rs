//! Sensors: registration and revocation, the two log entries that govern whose
//! observations are accepted.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::envelope::decode_base64;
use crate::fields::{self, FieldError, Fields, Raw};
use crate::position::Position;
use crate::time::Timestamp;

/// What a sensor is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SensorKind {
    Acoustic,
    Seismic,
    Infrasound,
    Camera,
    Radar,
    Drone,
    SatelliteFeed,
    Patrol,
    Infrastructure,
    Met,
}

impl SensorKind {
    pub const ALL: [SensorKind; 10] = [
        Self::Acoustic,
        Self::Seismic,
        Self::Infrasound,
        Self::Camera,
        Self::Radar,
        Self::Drone,
        Self::SatelliteFeed,
        Self::Patrol,
        Self::Infrastructure,
        Self::Met,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Acoustic => "acoustic",
            Self::Seismic => "seismic",
            Self::Infrasound => "infrasound",
            Self::Camera => "camera",
            Self::Radar => "radar",
            Self::Drone => "drone",
            Self::SatelliteFeed => "satellite_feed",
            Self::Patrol => "patrol",
            Self::Infrastructure => "infrastructure",
            Self::Met => "met",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == text)
    }

    /// Whether a sensor of this kind may report observations of `kind`. Ground arrays
    /// commonly carry a weather station, so they may also report `met.surface`.
    pub fn may_report(&self, kind: &str) -> bool {
        let allowed: &[&str] = match self {
            Self::Acoustic => &["acoustic.arrival", "met.surface"],
            Self::Seismic => &["seismic.arrival", "met.surface"],
            Self::Infrasound => &["infrasound.arrival", "met.surface"],
            Self::Camera => &["camera.detection"],
            Self::Radar => &["radar.detection"],
            Self::Drone => &["drone.detection"],
            Self::SatelliteFeed => &["satellite.thermal", "satellite.change"],
            Self::Patrol => &["report.patrol", "report.allegation"],
            Self::Infrastructure => &["infrastructure.status"],
            Self::Met => &["met.surface"],
        };
        allowed.contains(&kind)
    }
}

/// A sensor registration (`POST /v1/sensors`), DESIGN.md section 4a.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SensorRegistration {
    pub id: String,
    pub kind: SensorKind,
    pub operator: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<Position>,
    /// Base64 of the 32-byte Ed25519 public key.
    pub public_key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timing_sigma_s: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backazimuth_sigma_deg: Option<f64>,
}

impl SensorRegistration {
    /// Validates a registration request, reporting every bad field.
    pub fn from_value(value: &Value) -> Result<Self, Vec<FieldError>> {
        Self::parse(value.to_string().as_bytes())
    }

    /// Parses and validates a registration request, reporting every bad field.
    pub fn parse(bytes: &[u8]) -> Result<Self, Vec<FieldError>> {
        let value: &Raw = serde_json::from_slice(bytes)
            .map_err(|e| vec![FieldError::new("", format!("not JSON: {e}"))])?;
        let mut errors = Vec::new();
        let registration = (|| {
            let mut f = Fields::object(value, "", &mut errors)?;
            let id = f.required("id", sensor_id);
            let kind = f.required("kind", |v| {
                fields::string(v)
                    .and_then(|s| SensorKind::parse(&s))
                    .ok_or_else(|| {
                        let names: Vec<_> = SensorKind::ALL.iter().map(|k| k.as_str()).collect();
                        format!("must be one of: {}", names.join(", "))
                    })
            });
            let operator = f.required("operator", operator);
            let position = f.position("position", false);
            let public_key = f.required("public_key", |v| {
                let text = fields::string(v).ok_or("must be a base64 string")?;
                public_key_bytes(&text).map(|_| text.into_owned())
            });
            let timing_sigma_s = f.optional("timing_sigma_s", fields::positive);
            let backazimuth_sigma_deg = f.optional("backazimuth_sigma_deg", fields::positive);
            Some(Self {
                id: id?,
                kind: kind?,
                operator: operator?,
                position,
                public_key: public_key?,
                timing_sigma_s,
                backazimuth_sigma_deg,
            })
        })();
        match registration {
            Some(r) if errors.is_empty() => Ok(r),
            _ => Err(errors),
        }
    }

    /// The decoded public key. Valid after [`Self::from_value`].
    pub fn public_key_bytes(&self) -> Result<[u8; 32], String> {
        public_key_bytes(&self.public_key)
    }
}

/// A key revocation: from its log index on, the sensor's key signs nothing that is accepted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SensorRevocation {
    pub sensor: String,
    /// Base64 of the revoked public key.
    pub public_key: String,
    pub revoked_at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The account that revoked it (absent in entries logged before it was recorded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_by: Option<String>,
}

/// A sensor id: 1–64 characters of `a-z`, `A-Z`, `0-9`, `.`, `_`, `-`, starting alphanumeric.
pub(crate) fn sensor_id(value: &Raw) -> Result<String, String> {
    let text = fields::string(value).ok_or("must be a string")?;
    if is_valid_id(&text) {
        Ok(text.to_string())
    } else {
        Err("must be 1-64 characters of letters, digits, '.', '_' or '-', starting with a letter or digit".into())
    }
}

/// Whether `text` is a valid sensor id (see [`sensor_id`]).
pub fn is_valid_id(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 64
        && text.as_bytes()[0].is_ascii_alphanumeric()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-')
}

/// An operator: an ISO 3166 alpha-2 code or an organisation's short name (2–32 characters).
fn operator(value: &Raw) -> Result<String, String> {
    let text = fields::string(value).ok_or("must be a string")?;
    let ok = (2..=32).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.');
    if ok {
        Ok(text.to_string())
    } else {
        Err("must be an ISO 3166 alpha-2 code or a short name of 2-32 letters, digits, '-', '_' or '.'".into())
    }
}

fn public_key_bytes(text: &str) -> Result<[u8; 32], String> {
    let bytes = decode_base64(text).map_err(|_| "must be base64".to_string())?;
    let key = <[u8; 32]>::try_from(bytes.as_slice())
        .map_err(|_| format!("must be 32 bytes, got {}", bytes.len()))?;
    crate::keys::check_public_key(&key).map_err(|why| format!("the Ed25519 key {why}"))?;
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn validates_the_design_example() {
        use curve25519_dalek_ng::constants::ED25519_BASEPOINT_POINT;
        use curve25519_dalek_ng::scalar::Scalar;
        let key = (ED25519_BASEPOINT_POINT * Scalar::from(7u64))
            .compress()
            .to_bytes();
        let v = json!({"id": "ua-ac-017", "kind": "acoustic", "operator": "UA",
            "position": {"lat": 48.5, "lon": 37.2}, "public_key": crate::envelope::encode_base64(&key),
            "timing_sigma_s": 0.002, "backazimuth_sigma_deg": 2.0});
        let r = SensorRegistration::from_value(&v).unwrap();
        assert_eq!(r.kind, SensorKind::Acoustic);
        assert_eq!(r.public_key_bytes().unwrap(), key);
        // The identity, a point of small order, is refused.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        let mut v = v;
        v["public_key"] = json!(crate::envelope::encode_base64(&identity));
        let errors = SensorRegistration::from_value(&v).unwrap_err();
        assert_eq!(errors[0].field, "public_key");
    }

    #[test]
    fn lists_every_problem() {
        let v = json!({"id": "", "kind": "sonar", "operator": "U", "public_key": "AAAA"});
        let errors = SensorRegistration::from_value(&v).unwrap_err();
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["id", "kind", "operator", "public_key"]);
    }
}

/// A sensor as the registry holds it: its registration and where the log recorded it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SensorRecord {
    #[serde(flatten)]
    pub registration: SensorRegistration,
    pub status: SensorStatus,
    /// Log index of the registration entry.
    pub registered_index: u64,
    /// Log index of the revocation entry, once revoked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_index: Option<u64>,
    /// The keys this sensor was registered with before, every one revoked (oldest first):
    /// none of them may be registered again, for this sensor or any other.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub earlier_keys: Vec<String>,
}

impl SensorRecord {
    /// The public keys of this record that are revoked: the earlier ones, and the current
    /// one once the sensor is revoked.
    pub fn revoked_keys(&self) -> impl Iterator<Item = &str> {
        let current =
            (self.status == SensorStatus::Revoked).then_some(self.registration.public_key.as_str());
        self.earlier_keys.iter().map(String::as_str).chain(current)
    }
}

/// Whether a sensor's key is still accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SensorStatus {
    Active,
    Revoked,
}
