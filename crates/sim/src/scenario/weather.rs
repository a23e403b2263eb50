//! `[weather]` (the true weather, with its optional keyframes and gradient) and
//! `[met_report]` (how the weather stations misreport it).

use serde::Deserialize;
use truce_model::Position;

use crate::physics::{self, Weather};
use crate::weather::{Gradient, Keyframe, WeatherModel};

/// `[weather]`: the weather the sound travels in. Default: 15 °C, no wind, constant.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WeatherSpec {
    pub temperature_c: f64,
    #[serde(default)]
    pub wind_speed_mps: f64,
    #[serde(default)]
    pub wind_from_deg: f64,
    /// `[[weather.keyframes]]`: the weather at given times, interpolated between them.
    #[serde(default)]
    pub keyframes: Vec<KeyframeSpec>,
    /// `[weather.gradient]`: the wind changing across the sector.
    #[serde(default)]
    pub gradient: Option<GradientSpec>,
}

impl Default for WeatherSpec {
    fn default() -> Self {
        let w = Weather::STANDARD;
        Self {
            temperature_c: w.temperature_c,
            wind_speed_mps: w.wind_speed_mps,
            wind_from_deg: w.wind_from_deg,
            keyframes: Vec::new(),
            gradient: None,
        }
    }
}

/// `[[weather.keyframes]]`: the weather at `time_s`; a field not given is `[weather]`'s.
#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyframeSpec {
    pub time_s: f64,
    #[serde(default)]
    pub temperature_c: Option<f64>,
    #[serde(default)]
    pub wind_speed_mps: Option<f64>,
    #[serde(default)]
    pub wind_from_deg: Option<f64>,
}

/// `[weather.gradient]`: the wind vector changes linearly with the distance east and
/// north of (`lat`, `lon`).
#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GradientSpec {
    pub lat: f64,
    pub lon: f64,
    /// (east, north) m/s added per 100 km east of the reference.
    #[serde(default)]
    pub per_100km_east_mps: [f64; 2],
    /// (east, north) m/s added per 100 km north of the reference.
    #[serde(default)]
    pub per_100km_north_mps: [f64; 2],
}

impl WeatherSpec {
    /// The constant part: `[weather]` itself.
    pub fn weather(&self) -> Weather {
        Weather {
            temperature_c: self.temperature_c,
            wind_speed_mps: self.wind_speed_mps,
            wind_from_deg: self.wind_from_deg,
        }
    }

    /// The whole true weather: keyframes sorted by time.
    pub fn model(&self) -> WeatherModel {
        let base = self.weather();
        let mut keyframes: Vec<Keyframe> = self
            .keyframes
            .iter()
            .map(|k| Keyframe {
                time_s: k.time_s,
                temperature_c: k.temperature_c.unwrap_or(base.temperature_c),
                wind_mps: physics::wind_vector_mps(
                    k.wind_speed_mps.unwrap_or(base.wind_speed_mps),
                    k.wind_from_deg.unwrap_or(base.wind_from_deg),
                ),
            })
            .collect();
        keyframes.sort_by(|a, b| a.time_s.total_cmp(&b.time_s));
        WeatherModel {
            base,
            keyframes,
            gradient: self.gradient.map(|g| Gradient {
                origin: Position::new(g.lat, g.lon),
                per_100km_east_mps: g.per_100km_east_mps,
                per_100km_north_mps: g.per_100km_north_mps,
            }),
        }
    }

    /// Every problem of the section, each with its field.
    pub(super) fn validate(&self, duration_s: f64, p: &mut dyn FnMut(String, &str)) {
        check_weather(
            "weather",
            Some(self.temperature_c),
            Some(self.wind_speed_mps),
            Some(self.wind_from_deg),
            p,
        );
        for (i, k) in self.keyframes.iter().enumerate() {
            let field = format!("weather.keyframes[{i}]");
            if !(k.time_s.is_finite() && (0.0..=duration_s).contains(&k.time_s)) {
                p(format!("{field}.time_s"), "must be within the scenario");
            }
            check_weather(
                &field,
                k.temperature_c,
                k.wind_speed_mps,
                k.wind_from_deg,
                p,
            );
        }
        let mut times: Vec<f64> = self.keyframes.iter().map(|k| k.time_s).collect();
        times.sort_by(f64::total_cmp);
        if times.windows(2).any(|w| w[0] == w[1]) {
            p(
                "weather.keyframes".into(),
                "two keyframes have the same time",
            );
        }
        if let Some(g) = &self.gradient {
            if !Position::new(g.lat, g.lon).is_valid() {
                p("weather.gradient.lat".into(), "position out of range");
            }
            let steep = |v: [f64; 2]| v.iter().any(|x| !(x.is_finite() && x.abs() <= 20.0));
            if steep(g.per_100km_east_mps) || steep(g.per_100km_north_mps) {
                p(
                    "weather.gradient".into(),
                    "each component must be within ±20 m/s per 100 km",
                );
            }
        }
    }
}

fn check_weather(
    field: &str,
    temperature_c: Option<f64>,
    wind_speed_mps: Option<f64>,
    wind_from_deg: Option<f64>,
    p: &mut dyn FnMut(String, &str),
) {
    if temperature_c.is_some_and(|t| !(-90.0..=60.0).contains(&t)) {
        p(
            format!("{field}.temperature_c"),
            "must be between -90 and 60",
        );
    }
    if wind_speed_mps.is_some_and(|w| !(0.0..=100.0).contains(&w)) {
        p(
            format!("{field}.wind_speed_mps"),
            "must be between 0 and 100",
        );
    }
    if wind_from_deg.is_some_and(|d| !(0.0..=360.0).contains(&d)) {
        p(
            format!("{field}.wind_from_deg"),
            "must be between 0 and 360",
        );
    }
}

/// `[met_report]`: how the weather stations misreport the true weather. Every field is
/// optional; the section applies to the stations in `sensors` (all when empty).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetReportSpec {
    /// The met sensors that misreport; empty: every one.
    #[serde(default)]
    pub sensors: Vec<String>,
    /// (east, north) m/s added to the true wind vector.
    #[serde(default)]
    pub wind_offset_mps: [f64; 2],
    /// Added to the reported wind speed (after the vector offset; at least 0).
    #[serde(default)]
    pub wind_speed_error_mps: f64,
    /// Added to the reported wind direction.
    #[serde(default)]
    pub wind_direction_error_deg: f64,
    #[serde(default)]
    pub temperature_offset_c: f64,
    /// Each report gives the weather as it was this many seconds earlier.
    #[serde(default)]
    pub stale_s: f64,
    /// No reports after this time (seconds after the start).
    #[serde(default)]
    pub stop_after_s: Option<f64>,
}

impl MetReportSpec {
    /// Whether station `id` misreports.
    pub fn applies_to(&self, id: &str) -> bool {
        self.sensors.is_empty() || self.sensors.iter().any(|s| s == id)
    }

    /// The report of a station that misreports, given the true weather where and when it
    /// measures (`stale_s` earlier): rounded as a station would send it.
    pub fn report(&self, truth: &crate::weather::LocalWeather) -> Weather {
        let wind = [
            truth.wind_mps[0] + self.wind_offset_mps[0],
            truth.wind_mps[1] + self.wind_offset_mps[1],
        ];
        let speed = (wind[0].hypot(wind[1]) + self.wind_speed_error_mps).max(0.0);
        let from = physics::wrap_degrees(
            crate::weather::wind_from_deg(wind) + self.wind_direction_error_deg,
        );
        rounded(Weather {
            temperature_c: truth.temperature_c + self.temperature_offset_c,
            wind_speed_mps: speed,
            wind_from_deg: from,
        })
    }

    pub(super) fn validate(
        &self,
        stations: &[&str],
        duration_s: f64,
        p: &mut dyn FnMut(String, &str),
    ) {
        for id in &self.sensors {
            if !stations.contains(&id.as_str()) {
                p(
                    "met_report.sensors".into(),
                    &format!("no sensor {id} in [[met_sensors]]"),
                );
            }
        }
        let within = |x: f64, limit: f64| x.is_finite() && x.abs() <= limit;
        if !self.wind_offset_mps.iter().all(|x| within(*x, 50.0)) {
            p(
                "met_report.wind_offset_mps".into(),
                "each component must be within ±50",
            );
        }
        if !within(self.wind_speed_error_mps, 50.0) {
            p(
                "met_report.wind_speed_error_mps".into(),
                "must be within ±50",
            );
        }
        if !within(self.wind_direction_error_deg, 180.0) {
            p(
                "met_report.wind_direction_error_deg".into(),
                "must be within ±180",
            );
        }
        if !within(self.temperature_offset_c, 50.0) {
            p(
                "met_report.temperature_offset_c".into(),
                "must be within ±50",
            );
        }
        if !(self.stale_s.is_finite() && self.stale_s >= 0.0) {
            p("met_report.stale_s".into(), "must not be negative");
        }
        if self
            .stop_after_s
            .is_some_and(|s| !(s.is_finite() && (0.0..=duration_s).contains(&s)))
        {
            p(
                "met_report.stop_after_s".into(),
                "must be within the scenario",
            );
        }
    }
}

/// A report as a station sends it: 0.01 °C, 0.01 m/s, 0.1°.
pub fn rounded(w: Weather) -> Weather {
    let r = |x: f64, k: f64| (x * k).round() / k;
    Weather {
        temperature_c: r(w.temperature_c, 100.0),
        wind_speed_mps: r(w.wind_speed_mps, 100.0),
        wind_from_deg: r(w.wind_from_deg, 10.0) % 360.0,
    }
}
