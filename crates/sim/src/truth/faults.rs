//! The parts of the ground truth that describe what went wrong: the varying weather, the
//! weather stations' misreports and the faulty arrays.

use serde::Serialize;
use truce_model::Position;

use crate::physics;
use crate::scenario::{ArraySensor, MetReportSpec};
use crate::weather::{Gradient, LocalWeather, WeatherModel};

/// The weather at one place and time, as a vector and as speed and direction.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct TruthLocalWeather {
    pub temperature_c: f64,
    pub wind_east_mps: f64,
    pub wind_north_mps: f64,
    pub wind_speed_mps: f64,
    /// Meteorological: where the wind blows from.
    pub wind_from_deg: f64,
    /// c(T) = 331.3 · √(1 + T / 273.15).
    pub sound_speed_mps: f64,
}

impl From<LocalWeather> for TruthLocalWeather {
    fn from(w: LocalWeather) -> Self {
        let whole = w.weather();
        Self {
            temperature_c: w.temperature_c,
            wind_east_mps: w.wind_mps[0],
            wind_north_mps: w.wind_mps[1],
            wind_speed_mps: whole.wind_speed_mps,
            wind_from_deg: whole.wind_from_deg,
            sound_speed_mps: physics::sound_speed_mps(w.temperature_c),
        }
    }
}

/// One keyframe of the weather (at the gradient's reference point).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct TruthKeyframe {
    pub time_s: f64,
    #[serde(flatten)]
    pub weather: TruthLocalWeather,
}

/// `weather_model`: the keyframes (interpolated linearly in time, the wind as a vector) and
/// the gradient; the wind along a path is the mean of the wind at its source, midpoint
/// and receiver at the emission time.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TruthWeatherModel {
    pub keyframes: Vec<TruthKeyframe>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gradient: Option<Gradient>,
}

impl TruthWeatherModel {
    /// The model's truth, or `None` when the weather is constant.
    pub fn of(model: &WeatherModel) -> Option<Self> {
        if model.is_uniform() {
            return None;
        }
        Some(Self {
            keyframes: model
                .keyframes
                .iter()
                .map(|k| TruthKeyframe {
                    time_s: k.time_s,
                    weather: LocalWeather {
                        temperature_c: k.temperature_c,
                        wind_mps: k.wind_mps,
                    }
                    .into(),
                })
                .collect(),
            gradient: model.gradient,
        })
    }
}

/// `met_report`: the misreporting stations, what they get wrong, and their reports.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TruthMetReport {
    /// The met sensors that misreport.
    pub sensors: Vec<String>,
    pub wind_offset_mps: [f64; 2],
    pub wind_speed_error_mps: f64,
    pub wind_direction_error_deg: f64,
    pub temperature_offset_c: f64,
    pub stale_s: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_after_s: Option<f64>,
    /// 0-based positions in `observations.ndjson` of their (wrong) reports.
    pub observations: Vec<usize>,
}

impl TruthMetReport {
    pub fn new(spec: &MetReportSpec, sensors: Vec<String>, observations: Vec<usize>) -> Self {
        Self {
            sensors,
            wind_offset_mps: spec.wind_offset_mps,
            wind_speed_error_mps: spec.wind_speed_error_mps,
            wind_direction_error_deg: spec.wind_direction_error_deg,
            temperature_offset_c: spec.temperature_offset_c,
            stale_s: spec.stale_s,
            stop_after_s: spec.stop_after_s,
            observations,
        }
    }
}

/// A burst of false picks and the picks it made.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TruthBurst {
    pub from_s: f64,
    pub until_s: f64,
    pub rate_per_s: f64,
    /// 0-based positions in `observations.ndjson` (each also in `false_arrivals`).
    pub observations: Vec<usize>,
}

/// A faulty array: its faults by name and every fault parameter.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TruthSensorFault {
    pub sensor: String,
    /// `clock_offset`, `clock_drift`, `false_bursts` and/or `registered_offset`.
    pub faults: Vec<&'static str>,
    /// Added to every arrival time it reports.
    pub clock_offset_s: f64,
    /// Its clock's error grows by this many seconds per second from the start (× 1e-6).
    pub clock_drift_ppm: f64,
    pub false_bursts: Vec<TruthBurst>,
    /// From the true position to the registered one, metres east and north.
    pub registered_offset_m: [f64; 2],
    /// Where it is (the physics' position).
    pub position: Position,
    /// Where its registration says it is.
    pub registered_position: Position,
}

impl TruthSensorFault {
    /// The truth of `array`, or `None` when it is healthy; `bursts` holds the positions of
    /// its burst picks, in the order of its bursts.
    pub fn of(
        array: &ArraySensor,
        registered_position: Position,
        bursts: &[Vec<usize>],
    ) -> Option<Self> {
        let faults = array.faults();
        if faults.is_empty() {
            return None;
        }
        Some(Self {
            sensor: array.id.clone(),
            faults,
            clock_offset_s: array.clock_offset_s,
            clock_drift_ppm: array.clock_drift_ppm,
            false_bursts: array
                .false_bursts
                .iter()
                .enumerate()
                .map(|(i, b)| TruthBurst {
                    from_s: b.from_s,
                    until_s: b.until_s,
                    rate_per_s: b.rate_per_s,
                    observations: bursts.get(i).cloned().unwrap_or_default(),
                })
                .collect(),
            registered_offset_m: array.registered_offset_m,
            position: array.position,
            registered_position,
        })
    }
}

/// An array that misses more than the logistic in range says.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TruthDetection {
    pub sensor: String,
    /// Its largest detection probability: it multiplies the logistic in range.
    pub detection_probability: f64,
}
