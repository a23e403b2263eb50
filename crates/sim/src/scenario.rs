//! The scenario file (TOML): the network, the weather and the script. The format is
//! documented in the crate docs.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use truce_agreement::Agreement;
use truce_model::{Position, SensorKind, Timestamp, WeaponClass};

use crate::physics::Weather;

mod validate;
use validate::validate;

/// Why a scenario could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Syntax { path: String, message: String },
    #[error("agreement: {0}")]
    Agreement(#[from] truce_agreement::LoadError),
    #[error("{} problem(s) in the scenario:\n{}", .0.len(), .0.join("\n"))]
    Invalid(Vec<String>),
}

/// A scenario file: header, weather, false arrivals, its sensors (with those of its network
/// file, if any, first) and the script.
#[derive(Clone, Debug)]
pub struct ScenarioFile {
    pub scenario: Header,
    pub weather: WeatherSpec,
    pub false_arrivals: FalseArrivals,
    pub network: Network,
    pub events: Vec<ScriptEvent>,
}

/// The scenario file as written (serde cannot deny unknown fields of a flattened struct).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScenarioFile {
    scenario: Header,
    #[serde(default)]
    weather: WeatherSpec,
    #[serde(default)]
    false_arrivals: FalseArrivals,
    #[serde(default)]
    sensors: Vec<ArraySensorSpec>,
    #[serde(default)]
    sensor_groups: Vec<SensorGroup>,
    #[serde(default)]
    met_sensors: Vec<MetSensorSpec>,
    #[serde(default)]
    drones: Vec<DroneSpec>,
    #[serde(default)]
    satellite_feeds: Vec<SatelliteFeedSpec>,
    #[serde(default)]
    infrastructure_sensors: Vec<InfrastructureSensorSpec>,
    #[serde(default)]
    events: Vec<ScriptEvent>,
}

/// `[scenario]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Header {
    pub name: String,
    /// The agreement file, relative to the scenario file.
    pub agreement: String,
    /// RFC 3339 UTC: the scenario's time zero.
    pub start: String,
    pub duration_s: f64,
    /// An optional network file (sensors only), relative to the scenario file.
    #[serde(default)]
    pub network: Option<String>,
}

/// `[weather]`: constant over the scenario. Default: 15 °C, no wind.
#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WeatherSpec {
    pub temperature_c: f64,
    #[serde(default)]
    pub wind_speed_mps: f64,
    #[serde(default)]
    pub wind_from_deg: f64,
}

impl Default for WeatherSpec {
    fn default() -> Self {
        let w = Weather::STANDARD;
        Self {
            temperature_c: w.temperature_c,
            wind_speed_mps: w.wind_speed_mps,
            wind_from_deg: w.wind_from_deg,
        }
    }
}

impl WeatherSpec {
    pub fn weather(&self) -> Weather {
        Weather {
            temperature_c: self.temperature_c,
            wind_speed_mps: self.wind_speed_mps,
            wind_from_deg: self.wind_from_deg,
        }
    }
}

/// `[false_arrivals]`: picks that belong to no event.
#[derive(Clone, Copy, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FalseArrivals {
    /// False arrivals as a fraction of the true arrivals (0.1: one false for ten true).
    #[serde(default)]
    pub fraction: f64,
    /// The class they are reported with.
    #[serde(default)]
    pub class: FalseClass,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FalseClass {
    /// Every false arrival is `unknown`.
    #[default]
    Unknown,
    /// Each false arrival is `launch`, `impact` or `unknown` at random.
    Random,
}

/// The sensors: in the scenario file itself or in a network file.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Network {
    #[serde(default)]
    pub sensors: Vec<ArraySensorSpec>,
    #[serde(default)]
    pub sensor_groups: Vec<SensorGroup>,
    #[serde(default)]
    pub met_sensors: Vec<MetSensorSpec>,
    #[serde(default)]
    pub drones: Vec<DroneSpec>,
    #[serde(default)]
    pub satellite_feeds: Vec<SatelliteFeedSpec>,
    #[serde(default)]
    pub infrastructure_sensors: Vec<InfrastructureSensorSpec>,
}

impl Network {
    fn append(&mut self, other: Network) {
        self.sensors.extend(other.sensors);
        self.sensor_groups.extend(other.sensor_groups);
        self.met_sensors.extend(other.met_sensors);
        self.drones.extend(other.drones);
        self.satellite_feeds.extend(other.satellite_feeds);
        self.infrastructure_sensors
            .extend(other.infrastructure_sensors);
    }
}

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
}

/// `[[met_sensors]]`: weather stations reporting `[weather]` as `met.surface` every
/// `interval_s`, the first report at the start.
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

/// Where a shell lands.
#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImpactSpec {
    pub lat: f64,
    pub lon: f64,
    /// Default: the distance over [`MEAN_PROJECTILE_SPEED_MPS`], at least 3 s.
    #[serde(default)]
    pub flight_time_s: Option<f64>,
}

/// The mean speed of a projectile over its flight, used when a flight time is not given.
pub const MEAN_PROJECTILE_SPEED_MPS: f64 = 400.0;

/// One entry of the script.
#[derive(Clone, Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ScriptEvent {
    /// A weapon fires; with `impact`, its shell lands there after the flight time.
    Launch {
        time_s: f64,
        lat: f64,
        lon: f64,
        #[serde(default)]
        weapon_class: Option<WeaponClass>,
        #[serde(default)]
        impact: Option<ImpactSpec>,
    },
    /// A round lands (fired from an unknown place).
    Impact {
        time_s: f64,
        lat: f64,
        lon: f64,
        #[serde(default)]
        weapon_class: Option<WeaponClass>,
    },
    /// `rounds` launches at uniform random times in [start_s, start_s + duration_s), spread
    /// round-robin over `positions`; round k of position i lands near `targets[i % n]`
    /// (normal scatter of `target_spread_m`) when targets are given.
    Barrage {
        start_s: f64,
        duration_s: f64,
        rounds: u32,
        positions: Vec<[f64; 2]>,
        #[serde(default)]
        targets: Vec<[f64; 2]>,
        #[serde(default = "default_spread")]
        target_spread_m: f64,
        #[serde(default)]
        flight_time_s: Option<f64>,
        #[serde(default)]
        weapon_class: Option<WeaponClass>,
    },
    /// A weapon system moves along `path` at `speed_mps`; `drone` reports it every
    /// `report_interval_s` from `time_s` until it reaches the end.
    WeaponMove {
        time_s: f64,
        object_class: String,
        #[serde(default)]
        calibre_mm: Option<f64>,
        #[serde(default)]
        weapon_class: Option<WeaponClass>,
        #[serde(default = "default_count")]
        count: u64,
        path: Vec<[f64; 2]>,
        #[serde(default = "default_speed")]
        speed_mps: f64,
        drone: String,
        #[serde(default = "default_report_interval")]
        report_interval_s: f64,
        #[serde(default = "default_position_sigma")]
        position_sigma_m: f64,
        #[serde(default = "default_confidence")]
        confidence: f64,
    },
    /// A strike on a protected site of the agreement, fired from `lat`/`lon`.
    SiteStrike {
        time_s: f64,
        site: String,
        lat: f64,
        lon: f64,
        #[serde(default)]
        weapon_class: Option<WeaponClass>,
        #[serde(default)]
        flight_time_s: Option<f64>,
    },
    /// A utility's report on a protected site: `reporter` (an infrastructure sensor) says
    /// its `service` is `status` (`operational`, `degraded` or `outage`).
    SiteStatus {
        time_s: f64,
        reporter: String,
        site: String,
        service: String,
        status: String,
        #[serde(default)]
        households_affected: Option<u64>,
    },
    /// A fire breaks out; `satellite_feed` sees it on its pass at `pass_s` (if the fire has
    /// started by then).
    Fire {
        time_s: f64,
        lat: f64,
        lon: f64,
        satellite_feed: String,
        pass_s: f64,
        #[serde(default = "default_frp")]
        frp_mw: f64,
        #[serde(default = "default_brightness")]
        brightness_k: f64,
    },
}

fn default_spread() -> f64 {
    150.0
}
fn default_count() -> u64 {
    1
}
fn default_speed() -> f64 {
    8.0
}
fn default_report_interval() -> f64 {
    60.0
}
fn default_position_sigma() -> f64 {
    20.0
}
fn default_confidence() -> f64 {
    0.85
}
fn default_frp() -> f64 {
    8.0
}
fn default_brightness() -> f64 {
    335.0
}

pub use truce_model::observation::OBJECT_CLASSES;

/// An acoustic, seismic or infrasound array with every default resolved.
#[derive(Clone, Debug, PartialEq)]
pub struct ArraySensor {
    pub id: String,
    pub kind: ArrayKind,
    pub operator: String,
    pub position: Position,
    pub timing_sigma_s: f64,
    pub backazimuth_sigma_deg: Option<f64>,
    pub detection_range_m: f64,
    pub clock_offset_s: f64,
    pub outages: Vec<[f64; 2]>,
}

impl ArraySensor {
    /// Whether the sensor is out at `t_s` seconds after the start.
    pub fn is_out(&self, t_s: f64) -> bool {
        self.outages
            .iter()
            .any(|[from, until]| *from <= t_s && t_s < *until)
    }
}

/// A loaded, validated scenario and its agreement.
#[derive(Debug)]
pub struct Scenario {
    pub file: ScenarioFile,
    pub start: Timestamp,
    pub arrays: Vec<ArraySensor>,
    pub agreement: Agreement,
}

impl Scenario {
    /// Reads the scenario at `path`, its network file if any, and its agreement (both
    /// relative to the scenario's directory), and validates them.
    pub fn load(path: &Path) -> Result<Self, ScenarioError> {
        let read = |p: &Path| {
            std::fs::read_to_string(p).map_err(|source| ScenarioError::Read {
                path: p.to_path_buf(),
                source,
            })
        };
        let text = read(path)?;
        let file = parse_file(&path.display().to_string(), &text)?;
        let dir = path.parent().unwrap_or(Path::new(""));
        let network = match &file.scenario.network {
            Some(name) => {
                let p = dir.join(name);
                Some((p.display().to_string(), read(&p)?))
            }
            None => None,
        };
        let agreement = Agreement::load(&dir.join(&file.scenario.agreement))?;
        Self::assemble(
            file,
            network.as_ref().map(|(n, t)| (n.as_str(), t.as_str())),
            agreement,
        )
    }

    /// A scenario from its text, the text of its network file (`(name, text)`, when the
    /// scenario names one) and its agreement, already loaded.
    pub fn parse(
        text: &str,
        network: Option<(&str, &str)>,
        agreement: Agreement,
    ) -> Result<Self, ScenarioError> {
        Self::assemble(parse_file("scenario", text)?, network, agreement)
    }

    fn assemble(
        mut file: ScenarioFile,
        network: Option<(&str, &str)>,
        agreement: Agreement,
    ) -> Result<Self, ScenarioError> {
        match (&file.scenario.network, network) {
            (Some(_), Some((name, text))) => {
                let extra: Network = toml::from_str(text).map_err(|e| ScenarioError::Syntax {
                    path: name.to_string(),
                    message: e.to_string(),
                })?;
                let own = std::mem::take(&mut file.network);
                file.network = extra;
                file.network.append(own);
            }
            (Some(name), None) => {
                return Err(ScenarioError::Invalid(vec![format!(
                    "scenario.network: the network file {name} was not given"
                )]));
            }
            (None, _) => {}
        }
        let mut problems = Vec::new();
        let start = match Timestamp::parse(&file.scenario.start) {
            Ok(t) => t,
            Err(e) => {
                problems.push(format!("scenario.start: {e}"));
                Timestamp::from_unix_nanos(0)
            }
        };
        let arrays = resolve_arrays(&file.network);
        validate(&file, &arrays, &agreement, &mut problems);
        if problems.is_empty() {
            Ok(Self {
                file,
                start,
                arrays,
                agreement,
            })
        } else {
            Err(ScenarioError::Invalid(problems))
        }
    }

    pub fn name(&self) -> &str {
        &self.file.scenario.name
    }

    pub fn weather(&self) -> Weather {
        self.file.weather.weather()
    }
}

fn parse_file(name: &str, text: &str) -> Result<ScenarioFile, ScenarioError> {
    let raw: RawScenarioFile = toml::from_str(text).map_err(|e| ScenarioError::Syntax {
        path: name.to_string(),
        message: e.to_string(),
    })?;
    Ok(ScenarioFile {
        scenario: raw.scenario,
        weather: raw.weather,
        false_arrivals: raw.false_arrivals,
        network: Network {
            sensors: raw.sensors,
            sensor_groups: raw.sensor_groups,
            met_sensors: raw.met_sensors,
            drones: raw.drones,
            satellite_feeds: raw.satellite_feeds,
            infrastructure_sensors: raw.infrastructure_sensors,
        },
        events: raw.events,
    })
}

/// The arrays of `[[sensors]]` then of each group, defaults resolved.
fn resolve_arrays(network: &Network) -> Vec<ArraySensor> {
    let mut arrays: Vec<ArraySensor> = network
        .sensors
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
        })
        .collect();
    for g in &network.sensor_groups {
        arrays.extend(g.sensors.iter().map(|m| ArraySensor {
            id: m.id.clone(),
            kind: g.kind,
            operator: g.operator.clone(),
            position: Position::new(m.lat, m.lon),
            timing_sigma_s: m.timing_sigma_s.unwrap_or(g.timing_sigma_s),
            backazimuth_sigma_deg: m.backazimuth_sigma_deg.or(g.backazimuth_sigma_deg),
            detection_range_m: m.detection_range_km.unwrap_or(g.detection_range_km) * 1000.0,
            clock_offset_s: m.clock_offset_s.unwrap_or(g.clock_offset_s),
            outages: m.outages.clone(),
        }));
    }
    arrays
}
