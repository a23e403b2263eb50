//! WGS 84 positions.

use serde::{Deserialize, Serialize};

/// A WGS 84 position: latitude and longitude in degrees, optional altitude in metres.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Position {
    pub lat: f64,
    pub lon: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alt_m: Option<f64>,
}

impl Position {
    pub fn new(lat: f64, lon: f64) -> Self {
        Self {
            lat,
            lon,
            alt_m: None,
        }
    }

    /// Whether latitude is within [-90, 90], longitude within [-180, 180] and all values finite.
    pub fn is_valid(&self) -> bool {
        self.lat.is_finite()
            && self.lon.is_finite()
            && (-90.0..=90.0).contains(&self.lat)
            && (-180.0..=180.0).contains(&self.lon)
            && self
                .alt_m
                .is_none_or(|a| a.is_finite() && (-12_000.0..=1.0e8).contains(&a))
    }
}
