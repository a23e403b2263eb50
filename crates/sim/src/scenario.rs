//! The scenario file (TOML): the network, the weather and the script. The format is
//! documented in the crate docs.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use truce_agreement::Agreement;
use truce_model::Timestamp;

use crate::physics::Weather;
use crate::weather::WeatherModel;

mod lines;
mod script;
mod sensors;
mod validate;
mod weather;

pub use lines::SensorLineSpec;
pub use script::{ImpactSpec, MEAN_PROJECTILE_SPEED_MPS, ScriptEvent};
pub use sensors::{
    ArrayKind, ArraySensor, ArraySensorSpec, CLOCK_OFFSET_FAULT_SIGMAS, DroneSpec, FalseBurst,
    GroupMember, InfrastructureSensorSpec, MetSensorSpec, SatelliteFeedSpec, SensorFaultSpec,
    SensorGroup,
};
pub use truce_model::observation::OBJECT_CLASSES;
use validate::validate;
pub use weather::{
    GradientSpec, KeyframeSpec, MetReportSpec, WeatherSpec, rounded as weather_rounding,
};

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

/// A scenario file: header, weather, how the weather stations misreport it, false
/// arrivals, its sensors (with those of its network file, if any, first), the faults given
/// to them by id, and the script.
#[derive(Clone, Debug)]
pub struct ScenarioFile {
    pub scenario: Header,
    pub weather: WeatherSpec,
    pub met_report: Option<MetReportSpec>,
    pub false_arrivals: FalseArrivals,
    pub network: Network,
    pub sensor_faults: Vec<SensorFaultSpec>,
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
    met_report: Option<MetReportSpec>,
    #[serde(default)]
    false_arrivals: FalseArrivals,
    #[serde(default)]
    sensors: Vec<ArraySensorSpec>,
    #[serde(default)]
    sensor_groups: Vec<SensorGroup>,
    #[serde(default)]
    sensor_lines: Vec<SensorLineSpec>,
    #[serde(default)]
    sensor_faults: Vec<SensorFaultSpec>,
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
    pub sensor_lines: Vec<SensorLineSpec>,
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
        self.sensor_lines.extend(other.sensor_lines);
        self.met_sensors.extend(other.met_sensors);
        self.drones.extend(other.drones);
        self.satellite_feeds.extend(other.satellite_feeds);
        self.infrastructure_sensors
            .extend(other.infrastructure_sensors);
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
        let arrays = resolve_arrays(&file, &agreement, &mut problems);
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

    /// The constant `[weather]` (the whole weather when it has no keyframes and no
    /// gradient).
    pub fn weather(&self) -> Weather {
        self.file.weather.weather()
    }

    /// The true weather: `[weather]` with its keyframes and gradient.
    pub fn weather_model(&self) -> WeatherModel {
        self.file.weather.model()
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
        met_report: raw.met_report,
        false_arrivals: raw.false_arrivals,
        network: Network {
            sensors: raw.sensors,
            sensor_groups: raw.sensor_groups,
            sensor_lines: raw.sensor_lines,
            met_sensors: raw.met_sensors,
            drones: raw.drones,
            satellite_feeds: raw.satellite_feeds,
            infrastructure_sensors: raw.infrastructure_sensors,
        },
        sensor_faults: raw.sensor_faults,
        events: raw.events,
    })
}

/// The arrays of `[[sensors]]`, of each group, then of each line, defaults resolved and
/// `[[sensor_faults]]` applied (a fault for an unknown id is a problem).
fn resolve_arrays(
    file: &ScenarioFile,
    agreement: &Agreement,
    problems: &mut Vec<String>,
) -> Vec<ArraySensor> {
    let net = &file.network;
    let mut arrays = sensors::resolve_specs(&net.sensors, &net.sensor_groups);
    for line in &net.sensor_lines {
        arrays.extend(line.arrays(agreement));
    }
    for (i, fault) in file.sensor_faults.iter().enumerate() {
        if fault.targets().next().is_none() {
            problems.push(format!("sensor_faults[{i}]: give id or ids"));
        }
        for id in fault.targets() {
            match arrays.iter_mut().find(|a| a.id == id) {
                Some(a) => a.apply(fault),
                None => problems.push(format!(
                    "sensor_faults[{i}].id: no acoustic, seismic or infrasound sensor {id}"
                )),
            }
        }
    }
    arrays
}
