//! The true weather the sound travels in: the constant `[weather]`, optionally varying in
//! time (keyframes, interpolated linearly, the wind as a vector) and across the sector (a
//! linear gradient of the wind vector around a reference point).
//!
//! A ray's effective wind is the mean of the wind at its source, at its midpoint and at its
//! receiver, all at the emission time; the travel time is d / (c(T) + w̄·u), T the
//! temperature at the emission time and u the unit vector of the geodesic azimuth at the
//! source. When the weather neither varies in time nor in space this is exactly
//! [`physics::ray_travel_time_s`] with the constant weather.

use geographiclib_rs::{Geodesic, InverseGeodesic};
use serde::Serialize;
use truce_model::Position;

use crate::physics::{self, Ray, Weather};

/// The weather at one time: temperature and wind vector.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Keyframe {
    /// Seconds after the scenario start.
    pub time_s: f64,
    pub temperature_c: f64,
    /// The wind as an (east, north) vector, m/s.
    pub wind_mps: [f64; 2],
}

/// A wind that changes linearly with the distance east and north of a reference point.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Gradient {
    /// The reference point: there the wind is the keyframes' (or `[weather]`'s).
    pub origin: Position,
    /// (east, north) m/s added to the wind per 100 km east of the origin.
    pub per_100km_east_mps: [f64; 2],
    /// (east, north) m/s added to the wind per 100 km north of the origin.
    pub per_100km_north_mps: [f64; 2],
}

/// The weather at a place and time: what a perfect station there would measure.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LocalWeather {
    pub temperature_c: f64,
    /// (east, north), m/s.
    pub wind_mps: [f64; 2],
}

impl LocalWeather {
    /// The same weather as a [`Weather`] (speed and meteorological direction).
    pub fn weather(&self) -> Weather {
        let [e, n] = self.wind_mps;
        Weather {
            temperature_c: self.temperature_c,
            wind_speed_mps: e.hypot(n),
            wind_from_deg: wind_from_deg(self.wind_mps),
        }
    }
}

/// Where a wind vector blows from, degrees clockwise from north in [0, 360); 0 when calm.
pub fn wind_from_deg([east, north]: [f64; 2]) -> f64 {
    if east == 0.0 && north == 0.0 {
        return 0.0;
    }
    physics::wrap_degrees((-east).atan2(-north).to_degrees())
}

/// The true weather of a scenario.
#[derive(Clone, Debug, PartialEq)]
pub struct WeatherModel {
    /// `[weather]`: the weather everywhere and always unless keyframes or a gradient say
    /// otherwise.
    pub base: Weather,
    /// In time order; empty: the base weather at all times.
    pub keyframes: Vec<Keyframe>,
    pub gradient: Option<Gradient>,
}

impl WeatherModel {
    /// The constant weather `base`.
    pub fn constant(base: Weather) -> Self {
        Self {
            base,
            keyframes: Vec::new(),
            gradient: None,
        }
    }

    /// Whether the weather is the same everywhere and always (the base weather).
    pub fn is_uniform(&self) -> bool {
        self.keyframes.is_empty() && self.gradient.is_none()
    }

    /// The weather at the gradient's origin (anywhere without a gradient) at `t_s`: the
    /// keyframes interpolated linearly (the first before it, the last after it).
    pub fn at_time(&self, t_s: f64) -> LocalWeather {
        let (first, last) = match (self.keyframes.first(), self.keyframes.last()) {
            (Some(f), Some(l)) => (f, l),
            _ => {
                return LocalWeather {
                    temperature_c: self.base.temperature_c,
                    wind_mps: self.base.wind_mps(),
                };
            }
        };
        let of = |k: &Keyframe| LocalWeather {
            temperature_c: k.temperature_c,
            wind_mps: k.wind_mps,
        };
        if t_s <= first.time_s {
            return of(first);
        }
        if t_s >= last.time_s {
            return of(last);
        }
        let i = self.keyframes.partition_point(|k| k.time_s <= t_s);
        let (a, b) = (&self.keyframes[i - 1], &self.keyframes[i]);
        let f = (t_s - a.time_s) / (b.time_s - a.time_s);
        let mix = |x: f64, y: f64| x + f * (y - x);
        LocalWeather {
            temperature_c: mix(a.temperature_c, b.temperature_c),
            wind_mps: [
                mix(a.wind_mps[0], b.wind_mps[0]),
                mix(a.wind_mps[1], b.wind_mps[1]),
            ],
        }
    }

    /// The weather at `position` at `t_s`.
    pub fn at(&self, geodesic: &Geodesic, t_s: f64, position: &Position) -> LocalWeather {
        let mut w = self.at_time(t_s);
        if let Some(g) = &self.gradient {
            let [de, dn] = g.wind_change_mps(geodesic, position);
            w.wind_mps = [w.wind_mps[0] + de, w.wind_mps[1] + dn];
        }
        w
    }

    /// The travel time of sound along `ray` from `source` to `receiver`, emitted at `t_s`
    /// seconds after the start.
    pub fn travel_time_s(
        &self,
        geodesic: &Geodesic,
        ray: &Ray,
        source: &Position,
        receiver: &Position,
        t_s: f64,
    ) -> f64 {
        if self.is_uniform() {
            return physics::ray_travel_time_s(ray, &self.base);
        }
        let at_source = self.at(geodesic, t_s, source);
        let wind = match &self.gradient {
            None => at_source.wind_mps,
            Some(_) => {
                let middle =
                    physics::destination(geodesic, source, ray.azimuth_deg, ray.distance_m / 2.0);
                let [a, b, c] = [source, &middle, receiver].map(|p| self.at(geodesic, t_s, p));
                [0, 1].map(|k| (a.wind_mps[k] + b.wind_mps[k] + c.wind_mps[k]) / 3.0)
            }
        };
        let u = ray.azimuth_deg.to_radians();
        let c_eff = physics::sound_speed_mps(at_source.temperature_c)
            + wind[0] * u.sin()
            + wind[1] * u.cos();
        ray.distance_m / c_eff
    }
}

impl Gradient {
    /// The wind added at `position`: the gradient times its distance east and north of the
    /// origin (along the geodesic from the origin).
    pub fn wind_change_mps(&self, geodesic: &Geodesic, position: &Position) -> [f64; 2] {
        let (d, azimuth, _, _): (f64, f64, f64, f64) =
            geodesic.inverse(self.origin.lat, self.origin.lon, position.lat, position.lon);
        let a = azimuth.to_radians();
        let (east_100km, north_100km) = (d * a.sin() / 100_000.0, d * a.cos() / 100_000.0);
        [0, 1].map(|k| {
            self.per_100km_east_mps[k] * east_100km + self.per_100km_north_mps[k] * north_100km
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(keyframes: Vec<Keyframe>, gradient: Option<Gradient>) -> WeatherModel {
        WeatherModel {
            base: Weather::STANDARD,
            keyframes,
            gradient,
        }
    }

    #[test]
    fn wind_direction_round_trips() {
        for from in [0.0, 45.0, 90.0, 200.0, 270.0, 359.0] {
            let w = physics::wind_vector_mps(6.0, from);
            assert!((wind_from_deg(w) - from).abs() < 1e-9, "{from}");
        }
        assert_eq!(wind_from_deg([0.0, 0.0]), 0.0);
    }

    #[test]
    fn keyframes_interpolate_the_wind_as_a_vector_and_hold_at_the_ends() {
        let m = model(
            vec![
                Keyframe {
                    time_s: 100.0,
                    temperature_c: 0.0,
                    wind_mps: [8.0, 0.0],
                },
                Keyframe {
                    time_s: 300.0,
                    temperature_c: 10.0,
                    wind_mps: [0.0, 8.0],
                },
            ],
            None,
        );
        assert_eq!(m.at_time(0.0).wind_mps, [8.0, 0.0]);
        assert_eq!(m.at_time(1000.0).temperature_c, 10.0);
        let mid = m.at_time(200.0);
        assert_eq!(mid.wind_mps, [4.0, 4.0]);
        assert_eq!(mid.temperature_c, 5.0);
        // The vector mean is weaker than either end: no speed interpolation.
        assert!((mid.weather().wind_speed_mps - 32f64.sqrt()).abs() < 1e-12);
        assert!((mid.weather().wind_from_deg - 225.0).abs() < 1e-9);
    }

    #[test]
    fn a_gradient_changes_the_wind_with_distance_from_its_origin() {
        let g = Geodesic::wgs84();
        let origin = Position::new(47.5, 35.5);
        let m = model(
            Vec::new(),
            Some(Gradient {
                origin,
                per_100km_east_mps: [0.0, 2.0],
                per_100km_north_mps: [-4.0, 0.0],
            }),
        );
        assert_eq!(m.at(&g, 0.0, &origin).wind_mps, [0.0, 0.0]);
        let east = physics::destination(&g, &origin, 90.0, 50_000.0);
        let w = m.at(&g, 0.0, &east).wind_mps;
        assert!(w[0].abs() < 1e-6 && (w[1] - 1.0).abs() < 1e-3, "{w:?}");
        let north = physics::destination(&g, &origin, 0.0, 25_000.0);
        let w = m.at(&g, 0.0, &north).wind_mps;
        assert!((w[0] + 1.0).abs() < 1e-6 && w[1].abs() < 1e-6, "{w:?}");
    }

    #[test]
    fn the_path_wind_is_the_mean_of_source_midpoint_and_receiver() {
        let g = Geodesic::wgs84();
        let origin = Position::new(47.5, 35.5);
        // The east wind grows by 3 m/s per 100 km east: along a 40 km ray eastward from
        // the origin, the mean of 0, 0.6 and 1.2 m/s is 0.6 m/s.
        let m = model(
            Vec::new(),
            Some(Gradient {
                origin,
                per_100km_east_mps: [3.0, 0.0],
                per_100km_north_mps: [0.0, 0.0],
            }),
        );
        let r = physics::destination(&g, &origin, 90.0, 40_000.0);
        let ray = physics::ray(&g, &origin, &r);
        let t = m.travel_time_s(&g, &ray, &origin, &r, 0.0);
        let c = physics::sound_speed_mps(15.0);
        let expected = 40_000.0 / (c + 0.6);
        assert!((t - expected).abs() < 1e-5, "{t} {expected}");
    }

    #[test]
    fn a_uniform_model_is_the_constant_weather_exactly() {
        let g = Geodesic::wgs84();
        let base = Weather {
            temperature_c: 3.0,
            wind_speed_mps: 7.0,
            wind_from_deg: 250.0,
        };
        let m = WeatherModel::constant(base);
        let (s, r) = (Position::new(47.4, 35.6), Position::new(47.6, 35.9));
        let ray = physics::ray(&g, &s, &r);
        assert_eq!(
            m.travel_time_s(&g, &ray, &s, &r, 123.0),
            physics::ray_travel_time_s(&ray, &base)
        );
    }
}
