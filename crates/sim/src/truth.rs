//! The ground truth of a simulation and its summary.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;
use truce_model::{Position, Timestamp, WeaponClass};

mod faults;
pub use faults::{
    TruthBurst, TruthDetection, TruthKeyframe, TruthLocalWeather, TruthMetReport, TruthSensorFault,
    TruthWeatherModel,
};

/// What really happened: `truth.json`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Truth {
    pub scenario: String,
    pub seed: u64,
    pub start: Timestamp,
    pub duration_s: f64,
    /// The weather at the start (at the gradient's reference point when it has one).
    pub weather: TruthWeather,
    /// How the weather varies in time and across the sector; absent when it is constant
    /// (`weather` everywhere and always).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weather_model: Option<TruthWeatherModel>,
    /// How the weather stations misreport; absent when they report the truth.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub met_report: Option<TruthMetReport>,
    pub events: Vec<TruthEvent>,
    /// 0-based positions in `observations.ndjson` of the false arrivals (those of the
    /// bursts of faulty sensors included).
    pub false_arrivals: Vec<usize>,
    /// The arrays whose reports are wrong, by id; an array not listed is healthy. Absent
    /// when every array is healthy.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sensor_faults: Vec<TruthSensorFault>,
    /// The arrays that detect less than the logistic in range says (a largest detection
    /// probability under 1). Absent when none does.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sensor_detection: Vec<TruthDetection>,
}

/// The weather the sound travelled through.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct TruthWeather {
    pub temperature_c: f64,
    pub wind_speed_mps: f64,
    pub wind_from_deg: f64,
    /// c(T) = 331.3 · √(1 + T / 273.15).
    pub sound_speed_mps: f64,
}

/// One true event.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TruthEvent {
    pub id: String,
    /// `launch`, `impact`, `weapon_presence` or `fire`.
    #[serde(rename = "type")]
    pub event_type: &'static str,
    pub time: Timestamp,
    pub position: Position,
    /// The party whose area holds the position (`null` outside every area).
    pub party: Option<String>,
    /// For an impact with a known launch: the party whose area holds the launch position.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fired_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weapon_class: Option<WeaponClass>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub object_class: Option<String>,
    /// For an impact: the id of its launch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub launch: Option<String>,
    /// For an impact on a protected site: the site's id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub site: Option<String>,
    /// For a launch or an impact when the weather varies: the true weather at its
    /// position and time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weather: Option<TruthLocalWeather>,
    /// Number of sensors that detected it.
    pub heard_by: usize,
    /// 0-based positions in `observations.ndjson` of its true arrivals or detections.
    pub observations: Vec<usize>,
}

impl TruthEvent {
    /// Whether sensors hear it: a launch, impact or airburst.
    pub fn is_acoustic(&self) -> bool {
        matches!(self.event_type, "launch" | "impact" | "airburst")
    }
}

/// What a simulation produced, in numbers.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Summary {
    pub scenario: String,
    pub seed: u64,
    /// kind → operator → sensors.
    pub sensors: BTreeMap<String, BTreeMap<String, usize>>,
    /// type → events.
    pub events: BTreeMap<String, usize>,
    pub observations: usize,
    pub true_arrivals: usize,
    pub false_arrivals: usize,
    /// Observation kind → count, for everything that is not an arrival.
    pub other_observations: BTreeMap<String, usize>,
    pub acoustic_events: usize,
    /// Mean number of sensors hearing each launch, impact or airburst.
    pub mean_heard_by: f64,
    pub min_heard_by: usize,
    pub max_heard_by: usize,
    /// Acoustic events heard by fewer than three sensors (too few to locate).
    pub heard_by_fewer_than_3: usize,
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "scenario {} (seed {})", self.scenario, self.seed)?;
        let total: usize = self.sensors.values().flat_map(|m| m.values()).sum();
        writeln!(f, "sensors: {total}")?;
        for (kind, operators) in &self.sensors {
            let n: usize = operators.values().sum();
            let list: Vec<String> = operators.iter().map(|(o, c)| format!("{o} {c}")).collect();
            writeln!(f, "  {kind:<17} {n:>5}  ({})", list.join(", "))?;
        }
        let total: usize = self.events.values().sum();
        writeln!(f, "events: {total}")?;
        for (kind, n) in &self.events {
            writeln!(f, "  {kind:<17} {n:>5}")?;
        }
        writeln!(f, "observations: {}", self.observations)?;
        writeln!(
            f,
            "  arrivals          {:>5} true, {} false ({:.1} % of true)",
            self.true_arrivals,
            self.false_arrivals,
            if self.true_arrivals == 0 {
                0.0
            } else {
                100.0 * self.false_arrivals as f64 / self.true_arrivals as f64
            }
        )?;
        for (kind, n) in &self.other_observations {
            writeln!(f, "  {kind:<17} {n:>5}")?;
        }
        write!(
            f,
            "hearing: {} acoustic events heard by {:.1} sensors on average (min {}, max {}); {} heard by fewer than 3",
            self.acoustic_events,
            self.mean_heard_by,
            self.min_heard_by,
            self.max_heard_by,
            self.heard_by_fewer_than_3
        )
    }
}
