//! The simulator: realistic, signed input for truce and the ground truth behind it.
//!
//! A scenario describes a sensor network, the weather and a script of events (launches,
//! impacts, barrages, weapon moves seen by drones, strikes on protected sites, utilities'
//! reports on those sites, fires seen by satellites). [`simulate`] turns a scenario and a seed into:
//!
//! - the sensors' registrations (DESIGN.md section 4a) and their secret keys, derived from
//!   the seed and the sensor id ([`sensor_key`]);
//! - the observations as DSSE envelopes signed by each sensor's key, in arrival order (by
//!   each sensor's reported time), each sensor's `seq` counting from 1;
//! - the ground truth: every event, where and when it happened, whose area it was in, and
//!   which observations it caused.
//!
//! The crate is pure: no clock, no I/O except [`Scenario::load`], and every random number
//! comes from SplitMix64 streams derived from the seed ([`Rng::stream`]), so the same
//! (scenario, seed) gives the same bytes.
//!
//! # Physics
//!
//! Sound travels at c(T) = 331.3 · √(1 + T/273.15) m/s plus the wind component along the
//! geodesic azimuth at the source; distances are WGS 84 geodesics; detection probability
//! falls off logistically around each array's 50 % range. See [`physics`]: the fusion
//! engine uses the same model. Seismic arrays report the air-coupled acoustic arrival (the
//! same travel time). An arrival's reported time is the true arrival plus the sensor's
//! clock offset plus normal noise of its timing σ; its back-azimuth (for arrays with a
//! back-azimuth σ) is the geodesic azimuth at the sensor towards the source plus normal
//! noise. The observation's `observed_at` is its reported arrival time.
//!
//! # Scenario file
//!
//! TOML; unknown fields are errors; times `*_s` are seconds after `start`; positions are
//! WGS 84 degrees, lists of positions are `[[lat, lon], ...]`.
//!
//! ```toml
//! [scenario]
//! name = "sparse"
//! agreement = "../agreement/agreement.toml"  # relative to this file
//! start = "2026-01-07T03:00:00Z"              # RFC 3339 UTC
//! duration_s = 3600
//! network = "donetsk-network.toml"            # optional: more sensors, same tables as below
//!
//! [weather]                # constant; default 15 °C, calm
//! temperature_c = 5.0
//! wind_speed_mps = 8.0
//! wind_from_deg = 270.0    # meteorological: where the wind blows FROM
//!
//! [false_arrivals]         # optional
//! fraction = 0.1           # false arrivals per true arrival, at random arrays and times
//! class = "unknown"        # or "random" (launch, impact or unknown)
//!
//! [[met_sensors]]          # report [weather] as met.surface every interval_s, from start
//! id = "ua-met-001"
//! operator = "UA"
//! lat = 48.62
//! lon = 37.45
//! interval_s = 600
//!
//! [[sensors]]              # one acoustic, seismic or infrasound array
//! id = "ua-ac-001"
//! kind = "acoustic"
//! operator = "UA"
//! lat = 48.71
//! lon = 37.30
//! timing_sigma_s = 0.005
//! backazimuth_sigma_deg = 3.0   # optional: the array reports back-azimuths
//! detection_range_km = 25       # range of 50 % detection probability
//! clock_offset_s = 0.002        # optional, default 0
//! outages = [[900, 1500]]       # optional: [from_s, until_s) it hears nothing
//!
//! [[sensor_groups]]        # arrays sharing kind, operator and defaults
//! kind = "seismic"
//! operator = "FR"
//! timing_sigma_s = 0.01
//! detection_range_km = 20
//! # backazimuth_sigma_deg, clock_offset_s: optional defaults
//! sensors = [              # each member may override any default, and add outages
//!   { id = "fr-se-001", lat = 48.55, lon = 37.35 },
//!   { id = "fr-se-002", lat = 48.66, lon = 37.62, clock_offset_s = -0.003 },
//! ]
//!
//! [[drones]]               # mobile: registered without a position
//! id = "gb-dr-001"
//! operator = "GB"
//!
//! [[satellite_feeds]]
//! id = "firms-viirs-noaa20"
//! operator = "NASA"
//! satellite = "N20"        # default N20
//! instrument = "VIIRS"     # default VIIRS
//! latency_s = 600          # acquisition to delivery, default 600
//!
//! [[infrastructure_sensors]]  # a utility's status reporter (registered without a position)
//! id = "ua-inf-001"
//! operator = "UA"
//!
//! # The script, one table per entry (or `events = [{ type = ... }, ...]`).
//! [[events]]
//! type = "launch"          # a launch; with `impact`, also the impact
//! time_s = 60
//! lat = 48.30
//! lon = 37.75
//! weapon_class = "artillery_100mm_plus"   # optional, the agreement's vocabulary
//! impact = { lat = 48.45, lon = 37.60, flight_time_s = 45 }  # flight time optional
//!
//! [[events]]
//! type = "impact"          # an impact of unknown origin
//! time_s = 120
//! lat = 48.50
//! lon = 37.60
//!
//! [[events]]
//! type = "barrage"         # rounds at uniform random times in [start_s, start_s+duration_s)
//! start_s = 30
//! duration_s = 600
//! rounds = 200             # spread round-robin over positions
//! positions = [[48.30, 37.60], [48.52, 37.62]]
//! targets = [[48.50, 37.55], [48.35, 37.70]]  # optional: position i fires at targets[i % n]
//! target_spread_m = 150    # optional: normal scatter around the target, default 150
//! flight_time_s = 40       # optional
//!
//! [[events]]
//! type = "weapon_move"     # a weapon moving along a path, seen by a drone
//! time_s = 300
//! object_class = "mlrs"    # mlrs, howitzer, gun, mortar, tank, apc, vehicle, ...
//! calibre_mm = 122         # optional
//! count = 2                # optional, default 1
//! path = [[48.60, 37.30], [48.62, 37.36]]
//! speed_mps = 8            # default 8
//! drone = "gb-dr-001"
//! report_interval_s = 60   # default 60
//! position_sigma_m = 20    # default 20
//! confidence = 0.85        # default 0.85
//!
//! [[events]]
//! type = "site_strike"     # an impact on a protected site of the agreement
//! time_s = 900
//! site = "kramatorsk-chp"
//! lat = 48.55              # fired from here
//! lon = 37.90
//!
//! [[events]]
//! type = "site_status"     # a utility's report on a protected site: infrastructure.status
//! time_s = 1500
//! reporter = "ua-inf-001"  # one of [[infrastructure_sensors]]
//! site = "kramatorsk-chp"
//! service = "heating"      # power, water, gas or heating
//! status = "outage"        # operational, degraded or outage
//! households_affected = 42000  # optional
//!
//! [[events]]
//! type = "fire"            # a fire, seen by a satellite pass (if it has started by then)
//! time_s = 1200
//! lat = 48.40
//! lon = 37.50
//! satellite_feed = "firms-viirs-noaa20"
//! pass_s = 2400
//! frp_mw = 8               # optional
//! brightness_k = 335       # optional
//! ```
//!
//! When a flight time is not given it is the distance at [`MEAN_PROJECTILE_SPEED_MPS`]
//! (at least 3 s). A weapon move's weapon class defaults from its object class (MLRS of
//! 220 mm and more: heavy MLRS; howitzers and guns: artillery ≥ 100 mm unless a smaller
//! calibre is given). Quiet periods are simply gaps in the script.
//!
//! # Ground truth
//!
//! [`Truth`] (`truth.json`): the scenario, seed, start, weather and the events in time
//! order, each with id, type, time, position, party (the agreement's side at the
//! position), `fired_by` for an impact (the side of its launch), weapon or object class,
//! `launch` (an impact's launch id), `site` (for a site strike's impact), `heard_by` and
//! `observations` (0-based positions in the observation list of its true arrivals or
//! detections); and `false_arrivals`, the positions of the false arrivals.

pub mod physics;
pub mod rng;
pub mod scenario;
pub mod simulate;
pub mod truth;

pub use physics::Weather;
pub use rng::Rng;
pub use scenario::{MEAN_PROJECTILE_SPEED_MPS, Scenario, ScenarioError, ScenarioFile};
pub use simulate::{SimSensor, Simulation, sensor_key, simulate};
pub use truth::{Summary, Truth, TruthEvent, TruthWeather};

#[cfg(test)]
mod tests;
