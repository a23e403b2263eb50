//! The script of a scenario: launches, impacts, barrages, salvos, weapon moves, strikes on
//! sites, utilities' reports and fires.

use serde::Deserialize;
use truce_model::WeaponClass;

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
    /// `rounds` launches from one position over [start_s, start_s + duration_s): round k
    /// (from 0) at start_s + k · duration_s / rounds plus a uniform jitter in ±`jitter_s`
    /// (default a tenth of the spacing); with `target`, each lands near it (normal scatter
    /// of `target_spread_m`).
    Salvo {
        start_s: f64,
        duration_s: f64,
        rounds: u32,
        lat: f64,
        lon: f64,
        #[serde(default)]
        jitter_s: Option<f64>,
        #[serde(default)]
        target: Option<[f64; 2]>,
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
