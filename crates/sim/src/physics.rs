//! The propagation and detection model. The fusion engine locates events with the same
//! model, so these functions are the contract between the two: change them together.
//!
//! - sound speed in still air: c(T) = 331.3 · √(1 + T / 273.15) m/s, T in °C;
//! - wind: a vector w pointing *towards* `wind_from_deg + 180°` (meteorological direction);
//! - for a source S and a receiver R: d = WGS 84 geodesic distance S→R, α = geodesic
//!   azimuth at S towards R, u = (sin α, cos α) in east/north, c_eff = c(T) + w·u, and the
//!   travel time is d / c_eff;
//! - detection probability p(d) = 1 / (1 + exp((d − R50) / (0.1 · R50))), with R50 the
//!   range at which half the signals are detected.

use geographiclib_rs::{DirectGeodesic, InverseGeodesic};
use truce_model::Position;

/// The geodesic solver these functions take (`Geodesic::wgs84()`).
pub use geographiclib_rs::Geodesic;

/// Surface weather: air temperature and wind.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Weather {
    pub temperature_c: f64,
    pub wind_speed_mps: f64,
    /// Meteorological direction: where the wind blows *from*, degrees clockwise from north.
    pub wind_from_deg: f64,
}

impl Weather {
    /// The ICAO standard atmosphere at sea level: 15 °C, no wind.
    pub const STANDARD: Weather = Weather {
        temperature_c: 15.0,
        wind_speed_mps: 0.0,
        wind_from_deg: 0.0,
    };

    /// Still-air sound speed at this temperature, m/s.
    pub fn sound_speed_mps(&self) -> f64 {
        sound_speed_mps(self.temperature_c)
    }

    /// The wind vector (east, north) in m/s.
    pub fn wind_mps(&self) -> [f64; 2] {
        wind_vector_mps(self.wind_speed_mps, self.wind_from_deg)
    }
}

/// Speed of sound in dry air at `temperature_c` °C: 331.3 · √(1 + T / 273.15) m/s.
pub fn sound_speed_mps(temperature_c: f64) -> f64 {
    331.3 * (1.0 + temperature_c / 273.15).sqrt()
}

/// The wind as an (east, north) vector in m/s. `from_deg` is meteorological (the wind
/// blows from there), so the vector points towards `from_deg + 180°`.
pub fn wind_vector_mps(speed_mps: f64, from_deg: f64) -> [f64; 2] {
    let towards = (from_deg + 180.0).to_radians();
    [speed_mps * towards.sin(), speed_mps * towards.cos()]
}

/// The effective sound speed along a ray leaving the source at geodesic azimuth
/// `azimuth_deg`: c(T) + w·u with u = (sin α, cos α).
pub fn effective_sound_speed_mps(weather: &Weather, azimuth_deg: f64) -> f64 {
    let a = azimuth_deg.to_radians();
    let [we, wn] = weather.wind_mps();
    weather.sound_speed_mps() + we * a.sin() + wn * a.cos()
}

/// The geodesic from a source to a receiver.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Ray {
    /// WGS 84 geodesic distance, metres.
    pub distance_m: f64,
    /// Geodesic azimuth at the source towards the receiver, degrees (−180, 180].
    pub azimuth_deg: f64,
}

/// The WGS 84 geodesic from `source` to `receiver` (`Geodesic::wgs84().inverse`).
pub fn ray(geodesic: &Geodesic, source: &Position, receiver: &Position) -> Ray {
    let (distance_m, azimuth_deg, _azi2, _a12): (f64, f64, f64, f64) =
        geodesic.inverse(source.lat, source.lon, receiver.lat, receiver.lon);
    Ray {
        distance_m,
        azimuth_deg,
    }
}

/// Travel time of sound along a ray, seconds: d / (c(T) + w·u).
pub fn ray_travel_time_s(ray: &Ray, weather: &Weather) -> f64 {
    ray.distance_m / effective_sound_speed_mps(weather, ray.azimuth_deg)
}

/// Travel time of sound from `source` to `receiver`, seconds: d / c_eff with d the WGS 84
/// geodesic distance and c_eff the effective sound speed along the azimuth at the source.
pub fn travel_time_s(
    geodesic: &Geodesic,
    weather: &Weather,
    source: &Position,
    receiver: &Position,
) -> f64 {
    ray_travel_time_s(&ray(geodesic, source, receiver), weather)
}

/// The back-azimuth a receiver measures: the geodesic azimuth at `receiver` towards
/// `source`, degrees in [0, 360).
pub fn backazimuth_deg(geodesic: &Geodesic, receiver: &Position, source: &Position) -> f64 {
    let (azimuth, _azi2, _a12): (f64, f64, f64) =
        geodesic.inverse(receiver.lat, receiver.lon, source.lat, source.lon);
    wrap_degrees(azimuth)
}

/// An angle in degrees wrapped to [0, 360).
pub fn wrap_degrees(deg: f64) -> f64 {
    let w = deg.rem_euclid(360.0);
    if w >= 360.0 { 0.0 } else { w }
}

/// Probability that a sensor detects a signal from `distance_m` away:
/// 1 / (1 + exp((d − R50) / (0.1 · R50))), where R50 = `range_50_m` is the range of
/// 50 % detection probability.
pub fn detection_probability(distance_m: f64, range_50_m: f64) -> f64 {
    1.0 / (1.0 + ((distance_m - range_50_m) / (0.1 * range_50_m)).exp())
}

/// The position `distance_m` from `from` along geodesic azimuth `azimuth_deg`.
pub fn destination(
    geodesic: &Geodesic,
    from: &Position,
    azimuth_deg: f64,
    distance_m: f64,
) -> Position {
    let (lat, lon): (f64, f64) = geodesic.direct(from.lat, from.lon, azimuth_deg, distance_m);
    Position::new(lat, lon)
}

/// `from` moved by `east_m` and `north_m` metres (along the geodesic of that azimuth).
pub fn offset(geodesic: &Geodesic, from: &Position, east_m: f64, north_m: f64) -> Position {
    let distance = east_m.hypot(north_m);
    if distance == 0.0 {
        return *from;
    }
    destination(geodesic, from, east_m.atan2(north_m).to_degrees(), distance)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g() -> Geodesic {
        Geodesic::wgs84()
    }

    #[test]
    fn sound_speed_at_15_c_is_340_3() {
        assert!((sound_speed_mps(15.0) - 340.3).abs() < 0.05);
        assert!((sound_speed_mps(0.0) - 331.3).abs() < 1e-12);
        assert!((Weather::STANDARD.sound_speed_mps() - 340.27).abs() < 0.01);
    }

    #[test]
    fn wind_from_the_west_blows_east() {
        let [e, n] = wind_vector_mps(8.0, 270.0);
        assert!((e - 8.0).abs() < 1e-9 && n.abs() < 1e-9);
        let [e, n] = wind_vector_mps(5.0, 0.0);
        assert!(e.abs() < 1e-9 && (n + 5.0).abs() < 1e-9);
    }

    #[test]
    fn travel_time_without_wind_is_distance_over_c() {
        let weather = Weather {
            temperature_c: 5.0,
            wind_speed_mps: 0.0,
            wind_from_deg: 0.0,
        };
        let s = Position::new(48.30, 37.60);
        let r = Position::new(48.45, 37.41);
        let d: f64 = g().inverse(s.lat, s.lon, r.lat, r.lon);
        let t = travel_time_s(&g(), &weather, &s, &r);
        assert!((t - d / sound_speed_mps(5.0)).abs() < 1e-12);
        assert!(d > 20_000.0 && d < 25_000.0, "{d}");
    }

    #[test]
    fn downwind_arrivals_are_earlier_than_upwind_by_the_expected_amount() {
        // Source in the middle; one receiver 20 km east (downwind of a westerly), one
        // 20 km west (upwind).
        let weather = Weather {
            temperature_c: 5.0,
            wind_speed_mps: 8.0,
            wind_from_deg: 270.0,
        };
        let s = Position::new(48.4, 37.6);
        let east = destination(&g(), &s, 90.0, 20_000.0);
        let west = destination(&g(), &s, 270.0, 20_000.0);
        let c = sound_speed_mps(5.0);
        let down = travel_time_s(&g(), &weather, &s, &east);
        let up = travel_time_s(&g(), &weather, &s, &west);
        let expected_down = 20_000.0 / (c + 8.0);
        let expected_up = 20_000.0 / (c - 8.0);
        assert!(
            (down - expected_down).abs() < 1e-6,
            "{down} {expected_down}"
        );
        assert!((up - expected_up).abs() < 1e-6, "{up} {expected_up}");
        // About 2.8 s at 20 km: far above any pick uncertainty.
        let gap = up - down;
        assert!((gap - (expected_up - expected_down)).abs() < 1e-6);
        assert!(gap > 2.7 && gap < 2.9, "{gap}");
        // Crosswind (north): c_eff = c, the wind only changes the speed along the ray.
        let north = destination(&g(), &s, 0.0, 20_000.0);
        let cross = travel_time_s(&g(), &weather, &s, &north);
        assert!((cross - 20_000.0 / c).abs() < 1e-3, "{cross}");
    }

    #[test]
    fn backazimuth_points_back_at_the_source() {
        let s = Position::new(48.4, 37.6);
        let r = destination(&g(), &s, 45.0, 15_000.0);
        let baz = backazimuth_deg(&g(), &r, &s);
        assert!((baz - 225.0).abs() < 0.2, "{baz}");
        assert_eq!(wrap_degrees(-10.0), 350.0);
        assert_eq!(wrap_degrees(360.0), 0.0);
    }

    #[test]
    fn detection_probability_is_one_half_at_r50_and_falls_with_range() {
        let r50 = 25_000.0;
        assert!((detection_probability(r50, r50) - 0.5).abs() < 1e-12);
        assert!(detection_probability(10_000.0, r50) > 0.99);
        assert!(detection_probability(40_000.0, r50) < 0.01);
        let mut last = 1.0;
        for km in 0..60 {
            let p = detection_probability(km as f64 * 1000.0, r50);
            assert!(p <= last);
            last = p;
        }
    }

    #[test]
    fn offsets_move_by_the_given_metres() {
        let p = Position::new(48.4, 37.6);
        let q = offset(&g(), &p, 300.0, -400.0);
        let (d, azi, _, _): (f64, f64, f64, f64) = g().inverse(p.lat, p.lon, q.lat, q.lon);
        assert!((d - 500.0).abs() < 1e-6);
        assert!((wrap_degrees(azi) - wrap_degrees(300f64.atan2(-400.0).to_degrees())).abs() < 1e-6);
    }
}
