//! The simulator: realistic, signed input for truce and the ground truth behind it.
//!
//! A scenario describes a sensor network, the weather and a script of events (launches,
//! impacts, barrages, salvos, weapon moves seen by drones, strikes on protected sites,
//! utilities' reports on those sites, fires seen by satellites), and the faults that make
//! the input imperfect: a weather that varies in time and space, weather stations that
//! misreport it, clocks off or drifting, bursts of false picks, arrays registered at the
//! wrong place, arrays that miss signals, false arrivals. [`simulate`] turns a scenario
//! and a seed into:
//!
//! - the sensors' registrations (as `POST /v1/sensors` takes them) and their secret keys,
//!   derived from the seed and the sensor id ([`sensor_key`]);
//! - the observations as DSSE envelopes signed by each sensor's key, in arrival order (by
//!   each sensor's reported time), each sensor's `seq` counting from 1;
//! - the ground truth: every event, where and when it happened, whose area it was in, and
//!   which observations it caused; the true weather; and every fault.
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
//! clock error (its offset plus its drift times the time since the start) plus normal
//! noise of its timing σ; its back-azimuth (for arrays with a back-azimuth σ) is the
//! geodesic azimuth at the sensor towards the source plus normal noise. The observation's
//! `observed_at` is its reported arrival time. An array with a largest detection
//! probability p hears a signal with p times the logistic.
//!
//! When the weather varies ([`weather`]), T is the temperature at the emission time and the
//! wind is the mean of the winds at the source, the midpoint of the path and the sensor,
//! all at the emission time. Without keyframes and gradient the results are exactly those
//! of the constant weather.
//!
//! An array registered with an offset reports from where it really is: only its
//! registration's position is wrong. False picks (of `[false_arrivals]` and of a sensor's
//! bursts) carry a random back-azimuth and a low SNR. Every random draw of a fault comes
//! from a stream of its own: a clock, burst or registration fault of one array leaves the
//! observations of every other array unchanged.
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
//! [weather]                # the true weather; default 15 °C, calm, constant
//! temperature_c = 5.0
//! wind_speed_mps = 8.0
//! wind_from_deg = 270.0    # meteorological: where the wind blows FROM
//!
//! [[weather.keyframes]]    # optional: the weather at given times, linearly interpolated
//! time_s = 0               # (the wind as a vector); before the first and after the last
//! wind_speed_mps = 4.0     # it holds; a field not given is [weather]'s
//!
//! [[weather.keyframes]]
//! time_s = 3600
//! temperature_c = 3.0
//! wind_speed_mps = 9.0
//! wind_from_deg = 250.0
//!
//! [weather.gradient]       # optional: the wind vector changes linearly across the sector
//! lat = 48.45              # reference point: there the wind is the keyframes' or [weather]'s
//! lon = 37.55
//! per_100km_east_mps = [0.0, 2.0]    # (east, north) m/s added per 100 km east of it
//! per_100km_north_mps = [-1.5, 0.0]  # (east, north) m/s added per 100 km north of it
//!
//! [met_report]             # optional: how the weather stations misreport the weather
//! sensors = ["ua-met-001"] # the stations concerned; default every one
//! wind_offset_mps = [2.4, 3.2]       # (east, north) added to the true wind vector
//! wind_speed_error_mps = 0.0         # then added to its speed (at least 0)
//! wind_direction_error_deg = 0.0     # and to its direction
//! temperature_offset_c = 0.0
//! stale_s = 0              # each report gives the weather of stale_s seconds before
//! stop_after_s = 3000      # no report after this time
//!
//! [false_arrivals]         # optional
//! fraction = 0.1           # false arrivals per true arrival (1.0: half of all arrivals
//! class = "unknown"        # are false), at random arrays and times; class "unknown" or
//!                          # "random" (launch, impact or unknown)
//!
//! [[met_sensors]]          # report the true weather at their position (or what
//! id = "ua-met-001"        # [met_report] says) as met.surface every interval_s, from
//! operator = "UA"          # the start; no station at all is fine
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
//! # Faults, all optional:
//! clock_drift_ppm = 0.0         # clock rate error: 1 ppm adds 3.6 ms an hour from the start
//! detection_probability = 1.0   # largest detection probability (times the logistic)
//! false_bursts = [[1200, 1500, 0.5]]  # [from_s, until_s, rate_per_s]: rate × width false
//!                               # picks (rounded) at uniform times in each window
//! registered_offset_m = [0.0, 0.0]    # [east_m, north_m]: the registration's position is
//!                               # this far off; the arrivals follow the true position
//!
//! [[sensor_groups]]        # arrays sharing kind, operator and defaults
//! kind = "seismic"
//! operator = "FR"
//! timing_sigma_s = 0.01
//! detection_range_km = 20
//! # backazimuth_sigma_deg, clock_offset_s, clock_drift_ppm, detection_probability,
//! # false_bursts, registered_offset_m: optional defaults
//! sensors = [              # each member may override any default, and add outages
//!   { id = "fr-se-001", lat = 48.55, lon = 37.35 },
//!   { id = "fr-se-002", lat = 48.66, lon = 37.62, clock_offset_s = -0.003 },
//! ]
//!
//! [[sensor_lines]]         # arrays along the agreement's contact line, both sides
//! id_prefix = "ln"         # ids ln-l001, ln-r001, ...: station k (from 1), l(eft) or
//!                          # r(ight) of the line walking from its first position
//! kind = "acoustic"
//! operators = { UA = "UA", RU = "RU" }  # party whose area holds the array → operator
//! spacing_km = 10          # station k at from_km + (k − ½) · spacing_km along the line
//! offset_km = 8            # each array this far from the line
//! from_km = 600            # optional: the stretch of the line, default all of it
//! until_km = 620
//! timing_sigma_s = 0.005
//! detection_range_km = 30
//! # backazimuth_sigma_deg, detection_probability: optional
//!
//! [[sensor_faults]]        # faults of arrays listed above or in the network file: each
//! ids = ["ua-ac-001"]      # field given replaces theirs (`id = "..."` for one array)
//! clock_offset_s = 0.06
//! # clock_drift_ppm, detection_probability, false_bursts, registered_offset_m
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
//! type = "salvo"           # rounds from one position at a steady cadence: round k (from
//! start_s = 900            # 0) at start_s + (k + ½) · duration_s / rounds + jitter
//! duration_s = 20
//! rounds = 40
//! lat = 48.33
//! lon = 37.62
//! jitter_s = 0.05          # optional: uniform in ±jitter_s, default a tenth of the spacing
//! target = [48.50, 37.52]  # optional, with target_spread_m (default 150)
//! weapon_class = "mlrs"    # optional; flight_time_s optional
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
//! (at least 3 s). Batteries firing together are salvos or barrages overlapping in time. A weapon move's weapon class defaults from its object class (MLRS of
//! 220 mm and more: heavy MLRS; howitzers and guns: artillery ≥ 100 mm unless a smaller
//! calibre is given). Quiet periods are simply gaps in the script.
//!
//! # Ground truth
//!
//! [`Truth`] (`truth.json`): the scenario, seed, start, `weather` (at the start) and the
//! events in time order, each with id, type, time, position, party (the agreement's side
//! at the position), `fired_by` for an impact (the side of its launch), weapon or object
//! class, `launch` (an impact's launch id), `site` (for a site strike's impact), `heard_by`
//! and `observations` (0-based positions in the observation list of its true arrivals or
//! detections); and `false_arrivals`, the positions of every false arrival (the bursts'
//! included). The faults add, each only when the scenario has it:
//!
//! - `weather_model`: `keyframes` (time, temperature, wind as `wind_east_mps`,
//!   `wind_north_mps`, `wind_speed_mps`, `wind_from_deg`, and `sound_speed_mps`) and
//!   `gradient` (`origin`, `per_100km_east_mps`, `per_100km_north_mps`); then each launch
//!   and impact has `weather`, the true weather at its position and time (same fields);
//! - `met_report`: the misreporting stations (`sensors`), the report's parameters and the
//!   positions of their reports (`observations`);
//! - `sensor_faults`: one entry per faulty array (an array not listed is healthy) with
//!   `sensor`, `faults` (any of `clock_offset` — an offset of more than three timing σ —,
//!   `clock_drift`, `false_bursts`, `registered_offset`), `clock_offset_s`,
//!   `clock_drift_ppm`, `false_bursts` (each `from_s`, `until_s`, `rate_per_s` and the
//!   `observations` it made), `registered_offset_m`, `position` (true) and
//!   `registered_position`;
//! - `sensor_detection`: the arrays whose `detection_probability` is under 1.

pub mod physics;
pub mod rng;
pub mod scenario;
pub mod simulate;
pub mod truth;
pub mod weather;

pub use physics::Weather;
pub use rng::Rng;
pub use scenario::{MEAN_PROJECTILE_SPEED_MPS, Scenario, ScenarioError, ScenarioFile};
pub use simulate::{SimSensor, Simulation, sensor_key, simulate};
pub use truth::{Summary, Truth, TruthEvent, TruthWeather};
pub use weather::WeatherModel;

#[cfg(test)]
mod tests;
