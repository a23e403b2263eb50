//! Sound in the air: speed from temperature, and the effective speed along a path with wind
//! (DESIGN.md section 6).

/// The speed of sound in dry air at `temperature_c` °C: 331.3·√(1 + T/273.15) m/s.
pub fn sound_speed(temperature_c: f64) -> f64 {
    331.3 * (1.0 + temperature_c / 273.15).sqrt()
}

/// The medium sound travels through: the speed of sound and the wind.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Medium {
    /// Speed of sound in still air, m/s.
    pub speed: f64,
    /// The wind vector, pointing where the wind blows to: metres per second east and north.
    pub wind: [f64; 2],
}

impl Medium {
    /// The ICAO standard atmosphere at sea level: 15 °C, no wind.
    pub fn standard() -> Self {
        Self::from_weather(15.0, 0.0, 0.0)
    }

    /// From a surface weather report: temperature, wind speed and the direction the wind
    /// blows from (meteorological convention, degrees from north).
    pub fn from_weather(temperature_c: f64, wind_speed_mps: f64, wind_from_deg: f64) -> Self {
        let towards = (wind_from_deg + 180.0).to_radians();
        Self {
            speed: sound_speed(temperature_c),
            wind: [
                wind_speed_mps * towards.sin(),
                wind_speed_mps * towards.cos(),
            ],
        }
    }

    /// The effective speed along the direction of `v` (east, north), of length `length`
    /// (no trigonometry: the fast form of [`Medium::effective`] for the grid search).
    pub fn effective_along(&self, v: [f64; 2], length: f64) -> f64 {
        if length > 0.0 {
            self.speed + (self.wind[0] * v[0] + self.wind[1] * v[1]) / length
        } else {
            self.speed
        }
    }

    /// The effective speed of sound along a straight path leaving the source at `azimuth`
    /// degrees: the still-air speed plus the wind's component along the path.
    pub fn effective(&self, azimuth_deg: f64) -> f64 {
        let a = azimuth_deg.to_radians();
        self.speed + self.wind[0] * a.sin() + self.wind[1] * a.cos()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn speeds() {
        assert!((sound_speed(15.0) - 340.2751).abs() < 1e-3);
        assert!((sound_speed(0.0) - 331.3).abs() < 1e-12);
        let m = Medium::from_weather(15.0, 8.0, 270.0); // a west wind blows east
        assert!((m.effective(90.0) - (sound_speed(15.0) + 8.0)).abs() < 1e-9);
        assert!((m.effective(270.0) - (sound_speed(15.0) - 8.0)).abs() < 1e-9);
        assert!((m.effective(0.0) - sound_speed(15.0)).abs() < 1e-9);
        for azimuth in [0.0, 33.0, 90.0, 200.0, 311.0] {
            let a: f64 = f64::to_radians(azimuth);
            let v = [3.0 * a.sin(), 3.0 * a.cos()];
            assert!((m.effective_along(v, 3.0) - m.effective(azimuth)).abs() < 1e-9);
        }
    }
}
