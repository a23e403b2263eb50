//! The sensor tables of a scenario or network file, the faults a sensor may have, and the
//! arrays with every default resolved.

use serde::{Deserialize, Serialize};
use truce_model::{Position, SensorKind};

use crate::physics::{self, Geodesic};

/// The kinds of arrays that report arrivals.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ArrayKind {
    Acoustic,
    Seismic,
    Infrasound,
}

impl ArrayKind {
    /// The registration kind.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Acoustic => "acoustic",
            Self::Seismic => "seismic",
            Self::Infrasound => "infrasound",
        }
    }

    /// The registry's sensor kind.
    pub fn sensor_kind(&self) -> SensorKind {
        match self {
            Self::Acoustic => SensorKind::Acoustic,
            Self::Seismic => SensorKind::Seismic,
            Self::Infrasound => SensorKind::Infrasound,
        }
    }

    /// The observation kind it reports.
    pub fn observation_kind(&self) -> &'static str {
        match self {
            Self::Acoustic => "acoustic.arrival",
            Self::Seismic => "seismic.arrival",
            Self::Infrasound => "infrasound.arrival",
        }
    }
}

pub(super) fn one() -> f64 {
    1.0
}

/// `[[sensors]]`: one acoustic, seismic or infrasound array.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArraySensorSpec {
    pub id: String,
    pub kind: ArrayKind,
    pub operator: String,
    pub lat: f64,
    pub lon: f64,
    pub timing_sigma_s: f64,
    #[serde(default)]
    pub backazimuth_sigma_deg: Option<f64>,
    /// Range of 50 % detection probability, km.
    pub detection_range_km: f64,
    /// The sensor clock's error: added to every arrival time it reports, seconds.
    #[serde(default)]
    pub clock_offset_s: f64,
    /// `[[from_s, until_s], ...]` relative to the start: the sensor hears nothing.
    #[serde(default)]
    pub outages: Vec<[f64; 2]>,
    /// The clock's rate error, parts per million: its error grows by this much from the
    /// start (3.6 ms per hour per ppm).
    #[serde(default)]
    pub clock_drift_ppm: f64,
    /// The largest detection probability (close by); multiplies the logistic in range.
    #[serde(default = "one")]
    pub detection_probability: f64,
    /// `[[from_s, until_s, rate_per_s], ...]`: false picks of this sensor.
    #[serde(default)]
    pub false_bursts: Vec<[f64; 3]>,
    /// `[east_m, north_m]`: the registration's position is this far off the true one.
    #[serde(default)]
    pub registered_offset_m: Option<[f64; 2]>,
}

/// `[[sensor_groups]]`: arrays sharing kind, operator and defaults; each member gives
/// `id`, `lat`, `lon` and may override any default.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SensorGroup {
    pub kind: ArrayKind,
    pub operator: String,
    pub timing_sigma_s: f64,
    #[serde(default)]
    pub backazimuth_sigma_deg: Option<f64>,
    pub detection_range_km: f64,
    #[serde(default)]
    pub clock_offset_s: f64,
    #[serde(default)]
    pub clock_drift_ppm: f64,
    #[serde(default = "one")]
    pub detection_probability: f64,
    #[serde(default)]
    pub false_bursts: Vec<[f64; 3]>,
    #[serde(default)]
    pub registered_offset_m: Option<[f64; 2]>,
    pub sensors: Vec<GroupMember>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupMember {
    pub id: String,
    pub lat: f64,
    pub lon: f64,
    #[serde(default)]
    pub timing_sigma_s: Option<f64>,
    #[serde(default)]
    pub backazimuth_sigma_deg: Option<f64>,
    #[serde(default)]
    pub detection_range_km: Option<f64>,
    #[serde(default)]
    pub clock_offset_s: Option<f64>,
    #[serde(default)]
    pub outages: Vec<[f64; 2]>,
    #[serde(default)]
    pub clock_drift_ppm: Option<f64>,
    #[serde(default)]
    pub detection_probability: Option<f64>,
    #[serde(default)]
    pub false_bursts: Option<Vec<[f64; 3]>>,
    #[serde(default)]
    pub registered_offset_m: Option<[f64; 2]>,
}

/// `[[sensor_faults]]`: faults given to arrays of the scenario or its network by id (`id`,
/// `ids` or both); each field given replaces each array's own.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SensorFaultSpec {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub ids: Vec<String>,
    #[serde(default)]
    pub clock_offset_s: Option<f64>,
    #[serde(default)]
    pub clock_drift_ppm: Option<f64>,
    #[serde(default)]
    pub detection_probability: Option<f64>,
    #[serde(default)]
    pub false_bursts: Option<Vec<[f64; 3]>>,
    #[serde(default)]
    pub registered_offset_m: Option<[f64; 2]>,
}

/// `[[met_sensors]]`: weather stations reporting the weather at their position as
/// `met.surface` every `interval_s`, the first report at the start.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetSensorSpec {
    pub id: String,
    pub operator: String,
    pub lat: f64,
    pub lon: f64,
    pub interval_s: f64,
}

/// `[[drones]]`: a drone sensor (mobile: registered without a position).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DroneSpec {
    pub id: String,
    pub operator: String,
}

/// `[[satellite_feeds]]`: a FIRMS-style feed of thermal hotspots.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SatelliteFeedSpec {
    pub id: String,
    pub operator: String,
    /// FIRMS satellite code, e.g. `N20`.
    #[serde(default = "default_satellite")]
    pub satellite: String,
    #[serde(default = "default_instrument")]
    pub instrument: String,
    /// Delay from acquisition to delivery, seconds.
    #[serde(default = "default_latency")]
    pub latency_s: f64,
}

/// `[[infrastructure_sensors]]`: a utility's status reporter (registered without a
/// position: it reports on the sites the script names).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InfrastructureSensorSpec {
    pub id: String,
    pub operator: String,
}

fn default_satellite() -> String {
    "N20".into()
}
fn default_instrument() -> String {
    "VIIRS".into()
}
fn default_latency() -> f64 {
    600.0
}

/// A window of false picks from one sensor: `rate_per_s` × (until − from) picks (rounded)
/// at uniform random times in [from_s, until_s).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct FalseBurst {
    pub from_s: f64,
    pub until_s: f64,
    pub rate_per_s: f64,
}

impl SensorFaultSpec {
    /// The ids of the arrays it applies to.
    pub fn targets(&self) -> impl Iterator<Item = &str> {
        self.id.iter().chain(&self.ids).map(String::as_str)
    }
}

impl FalseBurst {
    pub(super) fn from_triple([from_s, until_s, rate_per_s]: [f64; 3]) -> Self {
        Self {
            from_s,
            until_s,
            rate_per_s,
        }
    }

    /// The number of picks of the window.
    pub fn count(&self) -> usize {
        (self.rate_per_s * (self.until_s - self.from_s))
            .round()
            .max(0.0) as usize
    }
}

/// A clock offset of more than this many timing σ is a fault; within it, the offset is
/// lost in the pick noise.
pub const CLOCK_OFFSET_FAULT_SIGMAS: f64 = 3.0;

/// An acoustic, seismic or infrasound array with every default resolved.
#[derive(Clone, Debug, PartialEq)]
pub struct ArraySensor {
    pub id: String,
    pub kind: ArrayKind,
    pub operator: String,
    /// Where the array really is: the physics uses this.
    pub position: Position,
    pub timing_sigma_s: f64,
    pub backazimuth_sigma_deg: Option<f64>,
    pub detection_range_m: f64,
    pub clock_offset_s: f64,
    pub outages: Vec<[f64; 2]>,
    pub clock_drift_ppm: f64,
    /// The largest detection probability, 1 for a healthy array.
    pub detection_probability: f64,
    pub false_bursts: Vec<FalseBurst>,
    /// `[east_m, north_m]` from the true position to the registered one.
    pub registered_offset_m: [f64; 2],
}

impl ArraySensor {
    /// Whether the sensor is out at `t_s` seconds after the start.
    pub fn is_out(&self, t_s: f64) -> bool {
        self.outages
            .iter()
            .any(|[from, until]| *from <= t_s && t_s < *until)
    }

    /// The error of the sensor's clock at `t_s` seconds after the start: its offset plus
    /// the drift accumulated since the start.
    pub fn clock_error_s(&self, t_s: f64) -> f64 {
        self.clock_offset_s + self.clock_drift_ppm * 1e-6 * t_s
    }

    /// The position in its registration: the true one, or off by `registered_offset_m`
    /// (rounded to 1e-7 degrees).
    pub fn registered_position(&self, geodesic: &Geodesic) -> Position {
        let [east, north] = self.registered_offset_m;
        if east == 0.0 && north == 0.0 {
            return self.position;
        }
        let p = physics::offset(geodesic, &self.position, east, north);
        let round = |x: f64| (x * 1e7).round() / 1e7;
        Position::new(round(p.lat), round(p.lon))
    }

    /// The faults that make its reports wrong, by name: `clock_offset` (more than
    /// [`CLOCK_OFFSET_FAULT_SIGMAS`] timing σ), `clock_drift`, `false_bursts`,
    /// `registered_offset`. Empty for a healthy array.
    pub fn faults(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        if self.clock_offset_s.abs() > CLOCK_OFFSET_FAULT_SIGMAS * self.timing_sigma_s {
            out.push("clock_offset");
        }
        if self.clock_drift_ppm != 0.0 {
            out.push("clock_drift");
        }
        if self.false_bursts.iter().any(|b| b.count() > 0) {
            out.push("false_bursts");
        }
        if self.registered_offset_m != [0.0, 0.0] {
            out.push("registered_offset");
        }
        out
    }

    /// Replaces its fault fields by those `[[sensor_faults]]` gives.
    pub(super) fn apply(&mut self, f: &SensorFaultSpec) {
        if let Some(v) = f.clock_offset_s {
            self.clock_offset_s = v;
        }
        if let Some(v) = f.clock_drift_ppm {
            self.clock_drift_ppm = v;
        }
        if let Some(v) = f.detection_probability {
            self.detection_probability = v;
        }
        if let Some(v) = &f.false_bursts {
            self.false_bursts = v.iter().copied().map(FalseBurst::from_triple).collect();
        }
        if let Some(v) = f.registered_offset_m {
            self.registered_offset_m = v;
        }
    }
}

/// The arrays of `[[sensors]]` then of each group, defaults resolved.
pub(super) fn resolve_specs(
    sensors: &[ArraySensorSpec],
    groups: &[SensorGroup],
) -> Vec<ArraySensor> {
    let bursts = |v: &[[f64; 3]]| v.iter().copied().map(FalseBurst::from_triple).collect();
    let mut arrays: Vec<ArraySensor> = sensors
        .iter()
        .map(|s| ArraySensor {
            id: s.id.clone(),
            kind: s.kind,
            operator: s.operator.clone(),
            position: Position::new(s.lat, s.lon),
            timing_sigma_s: s.timing_sigma_s,
            backazimuth_sigma_deg: s.backazimuth_sigma_deg,
            detection_range_m: s.detection_range_km * 1000.0,
            clock_offset_s: s.clock_offset_s,
            outages: s.outages.clone(),
            clock_drift_ppm: s.clock_drift_ppm,
            detection_probability: s.detection_probability,
            false_bursts: bursts(&s.false_bursts),
            registered_offset_m: s.registered_offset_m.unwrap_or_default(),
        })
        .collect();
    for g in groups {
        arrays.extend(g.sensors.iter().map(|m| {
            ArraySensor {
                id: m.id.clone(),
                kind: g.kind,
                operator: g.operator.clone(),
                position: Position::new(m.lat, m.lon),
                timing_sigma_s: m.timing_sigma_s.unwrap_or(g.timing_sigma_s),
                backazimuth_sigma_deg: m.backazimuth_sigma_deg.or(g.backazimuth_sigma_deg),
                detection_range_m: m.detection_range_km.unwrap_or(g.detection_range_km) * 1000.0,
                clock_offset_s: m.clock_offset_s.unwrap_or(g.clock_offset_s),
                outages: m.outages.clone(),
                clock_drift_ppm: m.clock_drift_ppm.unwrap_or(g.clock_drift_ppm),
                detection_probability: m.detection_probability.unwrap_or(g.detection_probability),
                false_bursts: bursts(m.false_bursts.as_deref().unwrap_or(&g.false_bursts)),
                registered_offset_m: m
                    .registered_offset_m
                    .or(g.registered_offset_m)
                    .unwrap_or_default(),
            }
        }));
    }
    arrays
}
