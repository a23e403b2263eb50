//! Fusion over a growing log, one entry at a time, with work that follows the new arrivals
//! rather than the size of the log.
//!
//! Each arrival, as it is logged, joins the open event that predicts it best (its time
//! within `max_residual` σ of the prediction, the location's own uncertainty included),
//! and the event is located again with it. An arrival no event explains waits: once the
//! log's watermark (the latest `observed_at` logged so far) is `mature_s` past it, the
//! sound has reached the sensors around it, and it is tried as the first arrival of a new
//! event (the grid search of [`associate`]); still unexplained another `mature_s` later,
//! when events found meanwhile have taken their arrivals, it is tried once more.
//!
//! An event becomes final when the watermark passes its origin by the longest travel time
//! within a sensor's reach plus `lateness_s`. An arrival timed before that point when it is
//! logged is *late*: it is kept in the log and counted, but moves no event.
//!
//! Every step happens as an entry is pushed, in log order, and depends only on the entries
//! pushed before: the events for a log prefix are a pure function of that prefix, so the
//! live server, which pushes entries as they are logged and asks for events at each
//! checkpoint, and a replay, which pushes them all and asks once, agree.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::Arc;

use truce_agreement::{Earth, LonLat};
use truce_model::{
    Event, EventType, ObservationData, Position, Quality, SensorRegistration, SignalClass,
    Timestamp,
};

use crate::associate::{self, Arrival, Associated, Plane, Station};
use crate::locate::{Location, Pick, cramer_rao_m, ellipse_90, locate, locate_robust};
use crate::physics::Medium;
use crate::pipeline::{FusedEvent, FusionConfig, Logged, event_id, finish};
use crate::propagation::{Calibration, Propagation, estimate};

/// The name from `names`, added the first time: arrivals share one copy of each.
fn intern(names: &mut BTreeSet<Arc<str>>, name: &str) -> Arc<str> {
    if let Some(known) = names.get(name) {
        return known.clone();
    }
    let name: Arc<str> = name.into();
    names.insert(name.clone());
    name
}

/// A new arrival is first tried as another source at a place located within this many
/// seconds before it…
const REPEAT_WINDOW_S: f64 = 600.0;
/// …places closer than this to a more recent one counting once…
const REPEAT_MERGE_M: f64 = 150.0;
/// …and at most this many.
const REPEAT_MAX_PLACES: usize = 12;

/// Final events with at least this many sensors calibrate the medium.
const CALIBRATION_MIN_SENSORS: usize = 6;
/// Only events whose rms residual is at most this many typical timing σ calibrate (in the
/// medium they were located in: a wrong report still lets them fit, once solved with it).
const CALIBRATION_MAX_RMS: f64 = 3.0;
/// Nor events around which the sensors report more than this many arrivals per second
/// each (counted over a minute from `DENSITY_WINDOW_S` before the origin)…
const CALIBRATION_MAX_RATE: f64 = 0.3;
/// Events on at least this many sensors (and an azimuthal gap within
/// [`CALIBRATION_MAX_GAP_DEG`]) give their sensors' residuals for health, and those of the
/// sensors in reach they left out, searched within [`HEALTH_SEARCH_S`] (see
/// `record_residuals`).
const HEALTH_MIN_SENSORS: usize = 7;
const HEALTH_SEARCH_S: f64 = 1.0;
/// A sensor's arrivals over the [`BURST_WINDOW_S`] before its latest arrival, less the
/// last [`BURST_LAG_S`] (the sounds it heard then may not have reached the others yet),
/// against those of the [`BURST_NEIGHBOURS`] nearest sensors within [`BURST_RADIUS_M`]
/// over the whole window, scaled to the same length.
const BURST_WINDOW_S: f64 = 60.0;
const BURST_LAG_S: f64 = 30.0;
const BURST_RADIUS_M: f64 = 20_000.0;
const BURST_NEIGHBOURS: usize = 4;
/// The largest azimuthal gap of an event that calibrates the medium, degrees.
const CALIBRATION_MAX_GAP_DEG: f64 = 180.0;
/// Fire is dense where the sensors report more than this many arrivals per second each.
const DENSE_RATE: f64 = 0.2;
/// Or where a sensor within [`LOCAL_RADIUS_M`] of the seed's reports more than
/// [`LOCAL_DENSE_RATE`] arrivals per second within [`LOCAL_WINDOW_S`] of it.
const LOCAL_DENSE_RATE: f64 = 0.3;
const LOCAL_WINDOW_S: f64 = 10.0;
const LOCAL_RADIUS_M: f64 = 15_000.0;
const DENSITY_WINDOW_S: f64 = 30.0;
/// The estimate replaces the prior once it rests on this many events.
const CALIBRATION_MIN_EVENTS: usize = 5;
/// At most this many events, from the last half hour of origin times, calibrate.
const CALIBRATION_MAX_EVENTS: usize = 60;
const CALIBRATION_WINDOW_S: f64 = 1800.0;
/// The smallest σ the estimate is given for the speed and each wind component, m/s.
const ESTIMATE_FLOOR_MPS: f64 = 0.3;

/// One logged arrival, as fusion keeps it.
#[derive(Clone, Debug)]
struct Logged1 {
    index: u64,
    time_ns: i64,
    station: usize,
    sigma_s: f64,
    backazimuth: Option<(f64, f64)>,
    class: SignalClass,
    operator: Arc<str>,
    modality: &'static str,
    /// The clock correction subtracted from the reported time to give `time_ns`, seconds
    /// (see [`crate::health`]).
    correction_s: f64,
}

/// The arrivals still needed, addressed by their position among all arrivals pushed:
/// those whose events are long final are dropped from the front, so memory follows the
/// open part of the log, not its size.
#[derive(Debug, Default)]
struct Arrivals {
    /// Positions of the arrivals dropped so far.
    base: usize,
    items: VecDeque<Logged1>,
}

impl Arrivals {
    /// The position the next arrival will have.
    fn len(&self) -> usize {
        self.base + self.items.len()
    }

    fn push(&mut self, arrival: Logged1) {
        self.items.push_back(arrival);
    }
}

impl std::ops::Index<usize> for Arrivals {
    type Output = Logged1;

    fn index(&self, position: usize) -> &Logged1 {
        &self.items[position - self.base]
    }
}

/// A weather report from the log.
#[derive(Clone, Debug)]
struct MetReport {
    sensor: String,
    position: LonLat,
    from_ns: i64,
    medium: Medium,
}

/// An event still open to new arrivals.
#[derive(Clone, Debug)]
struct OpenEvent {
    /// Times in seconds after the fuser's epoch.
    assoc: Associated,
    /// Positions in `arrivals`.
    positions: Vec<usize>,
    sensors: Vec<u32>,
    xy: [f64; 2],
    medium: Medium,
}

/// Fusion state over a log read in order. See the module documentation.
#[derive(Debug)]
pub struct Fuser {
    config: FusionConfig,
    earth: Earth,
    registry: BTreeMap<String, SensorRegistration>,
    /// Observations other than arrivals and weather (detections, thermal, reports).
    others: Vec<Logged>,
    observations: usize,
    stations: Vec<Station>,
    /// Per sensor, its stations by position in micro-degrees.
    station_of: HashMap<String, Vec<([i64; 2], usize)>>,
    /// Operator names, each held once for all the arrivals that name it.
    operator_names: BTreeSet<Arc<str>>,
    sensor_numbers: BTreeMap<String, u32>,
    /// The same by number.
    sensor_names: Vec<String>,
    plane: Option<Plane>,
    arrivals: Arrivals,
    /// (arrival time, log index) → position in `arrivals`.
    by_time: BTreeMap<(i64, u64), usize>,
    /// The same arrivals per sensor (number), for the rate a sensor reports at.
    by_sensor: BTreeMap<u32, BTreeSet<(i64, u64)>>,
    met: Vec<MetReport>,
    watermark_ns: Option<i64>,
    /// Final events.
    closed: Vec<FusedEvent>,
    late: usize,
    /// Open events, the instant their seconds count from, the arrivals events have
    /// explained, and the origin time before which events are final.
    open_events: Vec<OpenEvent>,
    epoch_ns: Option<i64>,
    pos_of: HashMap<u64, usize>,
    explained: HashSet<usize>,
    final_before_ns: Option<i128>,
    /// Per pass, arrivals timed up to here have been tried as first arrivals.
    matured_ns: [Option<i64>; 2],
    /// Final events that constrain the medium well, the most recent ones (by origin time),
    /// and the medium estimated from them (see [`crate::propagation`]).
    calibration: VecDeque<Calibration>,
    propagation: Option<Propagation>,
    /// Residuals of each sensor's arrivals in final events (see [`crate::health`]).
    health: crate::health::Health,
}

impl Fuser {
    pub fn new(config: FusionConfig) -> Self {
        Self {
            config,
            earth: Earth::default(),
            registry: BTreeMap::new(),
            others: Vec::new(),
            observations: 0,
            stations: Vec::new(),
            station_of: HashMap::new(),
            operator_names: BTreeSet::new(),
            sensor_numbers: BTreeMap::new(),
            sensor_names: Vec::new(),
            plane: None,
            arrivals: Arrivals::default(),
            by_time: BTreeMap::new(),
            by_sensor: BTreeMap::new(),
            met: Vec::new(),
            watermark_ns: None,
            closed: Vec::new(),
            late: 0,
            open_events: Vec::new(),
            epoch_ns: None,
            pos_of: HashMap::new(),
            explained: HashSet::new(),
            final_before_ns: None,
            matured_ns: [None; 2],
            calibration: VecDeque::new(),
            propagation: None,
            health: crate::health::Health::default(),
        }
    }

    /// What each sensor's residuals in the final events so far say (see [`crate::health`]).
    pub fn health(&self) -> Vec<crate::health::SensorHealth> {
        self.health.all()
    }

    /// Every change of a sensor's health state so far, in order.
    pub fn health_changes(&self) -> &[crate::health::Change] {
        self.health.changes()
    }

    /// The residual of each arrival of a final event resting on enough sensors around it:
    /// its time, before correction, less the time the event located by the other sensors
    /// predicts at its sensor (left out, one sensor cannot bend the event towards its own
    /// fault), with that prediction's σ added to the arrival's.
    fn record_residuals(&mut self, e: &OpenEvent) {
        let well_placed = e.sensors.len() >= HEALTH_MIN_SENSORS
            && e.assoc.location.azimuthal_gap_deg <= CALIBRATION_MAX_GAP_DEG;
        if !well_placed {
            return;
        }
        // The predicted time at `position` from `location`, and its σ.
        let predict = |location: &Location, position: LonLat| {
            let (d, az, _) = self.earth.inverse_both(location.position, position);
            let speed = e.medium.effective(az);
            let u = [az.to_radians().sin(), az.to_radians().cos()];
            let c = location.covariance_m2;
            let along =
                u[0] * (c[0][0] * u[0] + c[0][1] * u[1]) + u[1] * (c[1][0] * u[0] + c[1][1] * u[1]);
            let sigma =
                (along.max(0.0) / (speed * speed) + location.origin_time_sigma_s.powi(2)).sqrt();
            (d, location.origin_time + d / speed, sigma)
        };
        let picks: Vec<Pick> = e.positions.iter().map(|&p| self.pick(p)).collect();
        let mut residuals: Vec<(u32, f64, f64, f64)> = Vec::with_capacity(e.positions.len());
        for (i, &p) in e.positions.iter().enumerate() {
            let others: Vec<Pick> = picks
                .iter()
                .enumerate()
                .filter(|&(k, _)| k != i)
                .map(|(_, pick)| *pick)
                .collect();
            let Some(located) = locate(&self.earth, &others, &e.medium, e.assoc.location.position)
            else {
                continue;
            };
            let a = &self.arrivals[p];
            let station = &self.stations[a.station];
            let (_, predicted, sigma) = predict(&located, station.position);
            let t = self.seconds(a.time_ns);
            residuals.push((
                station.sensor,
                t,
                t - predicted + a.correction_s,
                a.sigma_s.hypot(sigma),
            ));
        }
        // A sensor whose clock or position is off has its arrivals left out of the event
        // (the locator removes outliers): the arrival of each other sensor in reach
        // within [`HEALTH_SEARCH_S`] of the time predicted, when it is the only one, gives
        // its residual too.
        let mut seen: BTreeSet<u32> = e.sensors.iter().copied().collect();
        for station in &self.stations {
            if !seen.insert(station.sensor) {
                continue;
            }
            let (d, predicted, sigma) = predict(&e.assoc.location, station.position);
            if d > self.config.association.detection_range_m {
                continue;
            }
            let Some(set) = self.by_sensor.get(&station.sensor) else {
                continue;
            };
            let predicted_ns = clamp(self.epoch() + (predicted * 1e9).round() as i128);
            if self.rate_at(station.sensor, predicted_ns) > LOCAL_DENSE_RATE {
                continue;
            }
            let at = |s: f64| clamp(self.epoch() + (s * 1e9).round() as i128);
            // Only where the sensor reports sparsely, and an arrival alone in the search
            // window: in dense fire the nearest is as likely another round's.
            let mut near = set.range(
                (at(predicted - HEALTH_SEARCH_S), 0)..=(at(predicted + HEALTH_SEARCH_S), u64::MAX),
            );
            if let (Some(&(t, index)), None) = (near.next(), near.next())
                && let Some(&p) = self.pos_of.get(&index)
            {
                let a = &self.arrivals[p];
                let residual = self.seconds(t) - predicted;
                residuals.push((
                    station.sensor,
                    predicted + residual,
                    residual + a.correction_s,
                    a.sigma_s.hypot(sigma),
                ));
            }
        }
        let mut judged = BTreeSet::new();
        for (sensor, t, residual, sigma) in residuals {
            self.health.record(sensor, t, residual, sigma);
            judged.insert(sensor);
        }
        for sensor in judged {
            if let Some(name) = self.name_of(sensor) {
                let name = name.to_string();
                self.health.judge(sensor, &name);
            }
        }
    }

    fn name_of(&self, sensor: u32) -> Option<&str> {
        self.sensor_names.get(sensor as usize).map(|n| n.as_ref())
    }

    /// Counts an arrival of `sensor` at `t_ns` for its health, and measures its rate
    /// against the sensors around it.
    fn count_arrival(&mut self, station: usize, t_ns: i64) {
        let sensor = self.stations[station].sensor;
        self.health.arrival(sensor);
        let Some(plane) = &self.plane else {
            return;
        };
        let from = t_ns.saturating_sub((BURST_WINDOW_S * 1e9) as i64);
        let lagged = t_ns.saturating_sub((BURST_LAG_S * 1e9) as i64);
        let count = |s: u32, until: i64| {
            self.by_sensor
                .get(&s)
                .map_or(0, |set| set.range((from, 0)..(until, 0)).count())
        };
        let here = plane.xy(station);
        // The nearest sensors (one distance each, the nearest of its stations).
        let mut around: BTreeMap<u32, f64> = BTreeMap::new();
        for (k, other) in self.stations.iter().enumerate() {
            if other.sensor != sensor && !self.health.quarantined(other.sensor) {
                let xy = plane.xy(k);
                let d = (xy[0] - here[0]).hypot(xy[1] - here[1]);
                if d <= BURST_RADIUS_M {
                    let e = around.entry(other.sensor).or_insert(d);
                    *e = e.min(d);
                }
            }
        }
        let mut nearest: Vec<(f64, u32)> = around.into_iter().map(|(s, d)| (d, s)).collect();
        nearest.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        nearest.truncate(BURST_NEIGHBOURS);
        let around: Vec<u32> = nearest.into_iter().map(|(_, s)| s).collect();
        let mut counts: Vec<usize> = around.iter().map(|&s| count(s, t_ns)).collect();
        counts.sort_unstable();
        let scale = (BURST_WINDOW_S - BURST_LAG_S) / BURST_WINDOW_S;
        let neighbours_median = scale
            * match counts.len() {
                0 => 0.0,
                n if n % 2 == 1 => counts[n / 2] as f64,
                n => 0.5 * (counts[n / 2 - 1] + counts[n / 2]) as f64,
            };
        let rate = crate::health::Rate {
            count: count(sensor, lagged),
            neighbours_median,
            neighbours: counts.len(),
        };
        if let Some(name) = self.name_of(sensor) {
            let name = name.to_string();
            self.health.rate(sensor, &name, rate);
        }
    }

    /// The medium as estimated from the events so far, if any event constrained it.
    pub fn propagation(&self) -> Option<&Propagation> {
        self.propagation.as_ref()
    }

    /// A sensor registration, at its place in the log: it stands for the sensor from here
    /// on (an arrival keeps the position registered when it was logged).
    pub fn register(&mut self, registration: SensorRegistration) {
        self.registry.insert(registration.id.clone(), registration);
    }

    /// The registry as it stands.
    pub fn registry(&self) -> impl Iterator<Item = &SensorRegistration> {
        self.registry.values()
    }

    /// The observations pushed that are not arrivals or weather (detections, hotspots,
    /// reports, ...), in log order.
    pub fn others(&self) -> &[Logged] {
        &self.others
    }

    /// Observations pushed so far.
    pub fn observations(&self) -> usize {
        self.observations
    }

    /// Arrivals logged after the events they could belong to had become final.
    pub fn late(&self) -> usize {
        self.late
    }

    fn travel_ns(&self) -> i128 {
        (self.config.association.reach_m / self.config.slowest_sound_mps * 1e9).ceil() as i128
    }

    fn lateness_ns(&self) -> i128 {
        (self.config.lateness_s * 1e9).round().max(0.0) as i128
    }

    /// The next observation in log order (indices must increase).
    pub fn push(&mut self, logged: Logged) {
        self.observations += 1;
        let o = &logged.observation;
        let observed_ns = o.observed_at.unix_nanos();
        let registered = |id: &str| self.registry.get(id).and_then(|r| r.position);
        match &o.data {
            ObservationData::Arrival {
                arrival_time,
                arrival_sigma_s,
                class,
                backazimuth_deg,
                backazimuth_sigma_deg,
                position,
                ..
            } => {
                if let Some(p) = position.or_else(|| registered(&o.sensor)) {
                    let registration = self.registry.get(o.sensor.as_str());
                    let backazimuth = backazimuth_deg.and_then(|b| {
                        backazimuth_sigma_deg
                            .or(registration.and_then(|r| r.backazimuth_sigma_deg))
                            .map(|s| (b, s))
                    });
                    let operator = intern(
                        &mut self.operator_names,
                        registration.map_or("", |r| &r.operator),
                    );
                    let modality = match o.kind.split('.').next() {
                        Some("seismic") => "seismic",
                        Some("infrasound") => "infrasound",
                        _ => "acoustic",
                    };
                    let station = self.station(&o.sensor, [p.lon, p.lat]);
                    let reported_ns = arrival_time.unix_nanos();
                    self.epoch_ns.get_or_insert(reported_ns);
                    let correction_s = self
                        .health
                        .correction_s(self.stations[station].sensor, self.seconds(reported_ns));
                    let record = Logged1 {
                        index: logged.index,
                        time_ns: clamp(
                            i128::from(reported_ns) - (correction_s * 1e9).round() as i128,
                        ),
                        station,
                        sigma_s: *arrival_sigma_s,
                        backazimuth,
                        class: *class,
                        operator,
                        modality,
                        correction_s,
                    };
                    let late = self
                        .final_before_ns
                        .is_some_and(|c| i128::from(record.time_ns) < c);
                    let position = self.arrivals.len();
                    self.by_time
                        .insert((record.time_ns, record.index), position);
                    self.by_sensor
                        .entry(self.stations[station].sensor)
                        .or_default()
                        .insert((record.time_ns, record.index));
                    self.pos_of.insert(record.index, position);
                    let time_ns = record.time_ns;
                    self.arrivals.push(record);
                    self.count_arrival(station, time_ns);
                    if late {
                        self.late += 1;
                    } else {
                        self.arrival(position);
                    }
                }
            }
            ObservationData::Met {
                temperature_c,
                wind_speed_mps,
                wind_from_deg,
                ..
            } => {
                if let Some(p) = registered(&o.sensor) {
                    self.met.push(MetReport {
                        sensor: o.sensor.clone(),
                        position: [p.lon, p.lat],
                        from_ns: observed_ns,
                        medium: Medium::from_weather(
                            *temperature_c,
                            *wind_speed_mps,
                            *wind_from_deg,
                        ),
                    });
                }
            }
            _ => self.others.push(logged.clone()),
        }
        if self.watermark_ns.is_none_or(|w| observed_ns > w) {
            self.watermark_ns = Some(observed_ns);
            self.finalise();
        }
    }

    /// The station for a sensor at a place: a moving sensor is a new station wherever it
    /// reports from, but counts as one sensor.
    fn station(&mut self, sensor: &str, p: LonLat) -> usize {
        let key = [(p[0] * 1e6).round() as i64, (p[1] * 1e6).round() as i64];
        if let Some(&(_, s)) = self
            .station_of
            .get(sensor)
            .and_then(|places| places.iter().find(|(k, _)| *k == key))
        {
            return s;
        }
        let next = self.sensor_numbers.len() as u32;
        let number = *self
            .sensor_numbers
            .entry(sensor.to_string())
            .or_insert(next);
        if number == next {
            self.sensor_names.push(sensor.to_string());
        }
        let station = Station {
            position: p,
            sensor: number,
        };
        match &mut self.plane {
            Some(plane) => plane.add(&self.earth, &station, &self.config.association),
            None => {
                // Centred amid the sensors registered so far (usually all of them), else on
                // this first station; kept as stations are added.
                let placed: Vec<LonLat> = self
                    .registry
                    .values()
                    .filter_map(|r| r.position.map(|p| [p.lon, p.lat]))
                    .collect();
                let centre = if placed.is_empty() {
                    p
                } else {
                    let n = placed.len() as f64;
                    [
                        placed.iter().map(|q| q[0]).sum::<f64>() / n,
                        placed.iter().map(|q| q[1]).sum::<f64>() / n,
                    ]
                };
                self.plane = Some(Plane::centred(
                    &self.earth,
                    centre,
                    std::slice::from_ref(&station),
                ));
            }
        }
        self.stations.push(station);
        self.station_of
            .entry(sensor.to_string())
            .or_default()
            .push((key, self.stations.len() - 1));
        self.stations.len() - 1
    }

    fn event_of(
        &self,
        a: &Associated,
        by_id: &BTreeMap<u64, &Logged1>,
        medium: &Medium,
        at: &dyn Fn(f64) -> Timestamp,
        seconds: &dyn Fn(i64) -> f64,
    ) -> FusedEvent {
        let mut classes: BTreeMap<EventType, usize> = BTreeMap::new();
        let mut operators = BTreeSet::new();
        let mut modalities = BTreeSet::new();
        let mut picks = Vec::new();
        for id in &a.arrivals {
            let Some(arrival) = by_id.get(id) else {
                continue;
            };
            let kind = match arrival.class {
                SignalClass::Launch => Some(EventType::Launch),
                SignalClass::Impact => Some(EventType::Impact),
                SignalClass::Airburst => Some(EventType::Airburst),
                SignalClass::Unknown => None,
            };
            if let Some(k) = kind {
                *classes.entry(k).or_default() += 1;
            }
            if !arrival.operator.is_empty() {
                operators.insert(arrival.operator.to_string());
            }
            modalities.insert(arrival.modality.to_string());
            picks.push(Pick {
                sensor: self.stations[arrival.station].position,
                time: seconds(arrival.time_ns),
                sigma_s: arrival.sigma_s,
                backazimuth: arrival.backazimuth,
            });
        }
        let kind = majority(&classes).unwrap_or(EventType::Explosion);
        let crb_m = cramer_rao_m(&self.earth, &picks, a.location.position, medium);
        let (major, minor, azimuth) = ellipse_90(a.location.covariance_m2);
        let p = a.location.position;
        let mut event = Event::new(
            event_id(&a.arrivals),
            kind,
            at(a.location.origin_time),
            Position::new(p[1], p[0]),
            a.location.covariance_m2,
        );
        event.origin_time_sigma_s = a.location.origin_time_sigma_s;
        event.observations = a.arrivals.clone();
        event.operators = operators.into_iter().collect();
        event.modalities = modalities.into_iter().collect();
        event.quality = Some(Quality {
            sensors: a.arrivals.len() as u32,
            rms_residual_s: Some(a.location.rms_residual_s),
            azimuthal_gap_deg: Some(a.location.azimuthal_gap_deg),
        });
        FusedEvent {
            event,
            crb_m,
            ellipse_90: [major, minor, azimuth],
            score: Some(a.score),
        }
    }

    /// The events of the log so far (final and open), then launch–impact pairs, presence
    /// tracks, corroboration and fires; ordered by origin time and id.
    /// Events still open are marked provisional, as are tracks and fires that an
    /// observation logged later could still change.
    pub fn events(&self) -> Vec<FusedEvent> {
        let mut events = self.closed.clone();
        events.extend(self.open_events.iter().map(|e| {
            let mut event = self.open_event(e);
            event.event.provisional = true;
            event
        }));
        let registry: BTreeMap<&str, &SensorRegistration> =
            self.registry.iter().map(|(k, v)| (k.as_str(), v)).collect();
        let final_before = self
            .final_before_ns
            .map(|ns| Timestamp::from_unix_nanos(clamp(ns)));
        finish(
            &self.earth,
            &self.config,
            &registry,
            &self.others,
            final_before,
            events,
        )
    }

    fn epoch(&self) -> i128 {
        i128::from(self.epoch_ns.unwrap_or(0))
    }

    fn seconds(&self, t_ns: i64) -> f64 {
        (i128::from(t_ns) - self.epoch()) as f64 * 1e-9
    }

    fn pick(&self, position: usize) -> Pick {
        let a = &self.arrivals[position];
        Pick {
            sensor: self.stations[a.station].position,
            time: self.seconds(a.time_ns),
            sigma_s: a.sigma_s,
            backazimuth: a.backazimuth,
        }
    }

    /// A new arrival: joins the open event that predicts it best, if any
    /// predicts it within `max_residual` σ (the location's uncertainty included) and the
    /// event, located again with it, keeps it; else it waits to be tried as a first arrival.
    fn arrival(&mut self, position: usize) {
        let Some(plane) = &self.plane else {
            return;
        };
        let a = &self.arrivals[position];
        let t = self.seconds(a.time_ns);
        let station_xy = plane.xy(a.station);
        let sensor = self.stations[a.station].sensor;
        if self.health.quarantined(sensor) {
            return;
        }
        let reach = self.config.association.reach_m;
        let longest = reach / self.config.slowest_sound_mps;
        let mut best: Option<(f64, usize)> = None;
        for (n, e) in self.open_events.iter().enumerate() {
            let origin = e.assoc.location.origin_time;
            if t < origin || t > origin + longest || e.sensors.contains(&sensor) {
                continue;
            }
            let v = [station_xy[0] - e.xy[0], station_xy[1] - e.xy[1]];
            let d = v[0].hypot(v[1]);
            if d > reach || d <= 0.0 {
                continue;
            }
            let speed = e.medium.effective_along(v, d);
            let u = [v[0] / d, v[1] / d];
            let c = e.assoc.location.covariance_m2;
            let along =
                u[0] * (c[0][0] * u[0] + c[0][1] * u[1]) + u[1] * (c[1][0] * u[0] + c[1][1] * u[1]);
            let sigma = (a.sigma_s.powi(2)
                + along.max(0.0) / (speed * speed)
                + e.assoc.location.origin_time_sigma_s.powi(2))
            .sqrt()
            .max(1e-3);
            let z = (t - origin - d / speed).abs() / sigma;
            if z <= self.config.association.max_residual && best.is_none_or(|(b, _)| z < b) {
                best = Some((z, n));
            }
        }
        if let Some((_, n)) = best {
            self.attach(n, position);
        }
    }

    /// Locates open event `n` again with the arrival at `position`; keeps it if the
    /// locator does.
    fn attach(&mut self, n: usize, position: usize) {
        let e = &self.open_events[n];
        let mut picks: Vec<Pick> = e.positions.iter().map(|&p| self.pick(p)).collect();
        picks.push(self.pick(position));
        let Some(location) = locate_robust(
            &self.earth,
            &picks,
            &e.medium,
            e.assoc.location.position,
            self.config.association.min_sensors,
            self.config.association.max_residual,
        ) else {
            return;
        };
        if location.used.len() != picks.len() {
            return;
        }
        let id = self.arrivals[position].index;
        let sensor = self.stations[self.arrivals[position].station].sensor;
        let xy = match &self.plane {
            Some(plane) => self.earth.local_xy(plane.centre(), location.position),
            None => e.xy,
        };
        let e = &mut self.open_events[n];
        e.assoc.location = location;
        e.assoc.arrivals.push(id);
        e.assoc.arrivals.sort_unstable();
        e.positions.push(position);
        e.sensors.push(sensor);
        e.xy = xy;
        self.explained.insert(position);
    }

    /// Tries the arrival at `position` as the first arrival of a new event, among the
    /// arrivals within the longest travel time before it and twice that after it (those
    /// already explained only show that their sensors work).
    fn seek(&mut self, position: usize) {
        let a = &self.arrivals[position];
        let from = clamp(i128::from(a.time_ns) - self.travel_ns());
        let to = clamp(i128::from(a.time_ns) + 2 * self.travel_ns());
        let final_before = self.final_before_ns;
        let positions: Vec<usize> = self
            .by_time
            .range((from, 0)..=(to, u64::MAX))
            .map(|(_, &p)| p)
            .filter(|&p| final_before.is_none_or(|c| i128::from(self.arrivals[p].time_ns) >= c))
            .filter(|&p| {
                !self
                    .health
                    .quarantined(self.stations[self.arrivals[p].station].sensor)
            })
            .collect();
        let Some(this) = positions.iter().position(|&p| p == position) else {
            return;
        };
        let seed = &self.arrivals[position];
        let dense = self.rate_around(seed.time_ns) > DENSE_RATE
            || self.local_rate(seed.station, seed.time_ns) > LOCAL_DENSE_RATE;
        let Some(mut plane) = self.plane.take() else {
            return;
        };
        let arrivals: Vec<Arrival> = positions
            .iter()
            .map(|&p| {
                let r = &self.arrivals[p];
                Arrival {
                    id: r.index,
                    station: r.station,
                    time: self.seconds(r.time_ns),
                    sigma_s: r.sigma_s,
                    backazimuth: r.backazimuth,
                }
            })
            .collect();
        let taken: Vec<bool> = positions
            .iter()
            .map(|p| self.explained.contains(p))
            .collect();
        let t = arrivals[this].time;
        let epoch = self.epoch();
        let medium_at =
            |p: LonLat, s: f64| self.medium_at(p, clamp(epoch + (s * 1e9).round() as i128));
        let known_until = self.watermark_ns.map_or(t, |w| self.seconds(w).max(t));
        // A new event must rest on more sensors than an event may keep: a few arrivals of
        // different rounds can coincide by chance, and more of them rarely do.
        let mut formation = self.config.association.clone();
        formation.min_sensors = formation.min_sensors.max(self.config.form_min_sensors);
        // In dense fire, first where sources were located in the last minutes (a gun fires
        // again from where it stands) with tolerances tight enough to tell rounds apart
        // (the open search's wide first pass gathers arrivals of every round there); then,
        // and elsewhere only, anywhere.
        let places = self.recent_places(self.arrivals[position].time_ns);
        let first = if dense {
            associate::form_at(
                &self.earth,
                &mut plane,
                &self.stations,
                &arrivals,
                &taken,
                this,
                known_until,
                &medium_at,
                &formation,
                &places,
            )
        } else {
            None
        };
        let found = first.or_else(|| {
            associate::form(
                &self.earth,
                &mut plane,
                &self.stations,
                &arrivals,
                &taken,
                this,
                known_until,
                &medium_at,
                &formation,
                dense,
            )
        });
        let centre = plane.centre();
        self.plane = Some(plane);
        let Some(assoc) = found else {
            return;
        };
        let medium = assoc.medium;
        let positions: Vec<usize> = assoc
            .arrivals
            .iter()
            .filter_map(|id| self.pos_of.get(id).copied())
            .collect();
        let sensors = positions
            .iter()
            .map(|&p| self.stations[self.arrivals[p].station].sensor)
            .collect();
        self.explained.extend(positions.iter().copied());
        let event = OpenEvent {
            xy: self.earth.local_xy(centre, assoc.location.position),
            assoc,
            positions,
            sensors,
            medium,
        };
        self.calibrate(&event);
        self.open_events.push(event);
    }

    /// Tries matured arrivals; then events whose arrivals can no longer come (origin before the watermark
    /// less the longest travel time and the lateness) become final.
    fn finalise(&mut self) {
        let Some(w) = self.watermark_ns else {
            return;
        };
        // Arrivals still unexplained once the sound has had time to reach the sensors
        // around them are tried as the first arrival of an event; those still unexplained
        // later (events found meanwhile have taken their arrivals) are tried again.
        for pass in 0..self.matured_ns.len() {
            let age = (self.config.mature_s * (pass + 1) as f64 * 1e9) as i128;
            let ripe = clamp(i128::from(w) - age);
            let from = self.matured_ns[pass].map_or(i64::MIN, |m| m.saturating_add(1));
            if ripe < from {
                continue;
            }
            let due: Vec<usize> = self
                .by_time
                .range((from, 0)..=(ripe, u64::MAX))
                .map(|(_, &p)| p)
                .collect();
            self.matured_ns[pass] = Some(ripe);
            for p in due {
                let late = self
                    .final_before_ns
                    .is_some_and(|c| i128::from(self.arrivals[p].time_ns) < c);
                if !late && !self.explained.contains(&p) {
                    self.seek(p);
                }
            }
        }
        let before = i128::from(w) - self.travel_ns() - self.lateness_ns();
        self.final_before_ns = Some(before);
        let cut = (before - self.epoch()) as f64 * 1e-9;
        let (done, open): (Vec<OpenEvent>, Vec<OpenEvent>) = std::mem::take(&mut self.open_events)
            .into_iter()
            .partition(|e| e.assoc.location.origin_time < cut);
        self.open_events = open;
        for e in done {
            self.record_residuals(&e);
            let event = self.open_event(&e);
            self.closed.push(event);
        }
        // No search reaches further back than the longest travel time before an arrival
        // that is not late: arrivals before that are dropped (in log order; one logged
        // out of time order waits for those before it).
        let drop_before = before - self.travel_ns();
        let droppable = |f: &Logged1| i128::from(f.time_ns) < drop_before;
        if !self.arrivals.items.front().is_some_and(droppable) {
            return;
        }
        let held = self
            .open_events
            .iter()
            .flat_map(|e| e.positions.iter().copied())
            .min()
            .unwrap_or(usize::MAX);
        while let Some(front) = self.arrivals.items.front()
            && i128::from(front.time_ns) < drop_before
            && self.arrivals.base < held
        {
            let position = self.arrivals.base;
            self.by_time.remove(&(front.time_ns, front.index));
            let sensor = self.stations[front.station].sensor;
            if let Some(set) = self.by_sensor.get_mut(&sensor) {
                set.remove(&(front.time_ns, front.index));
                if set.is_empty() {
                    self.by_sensor.remove(&sensor);
                }
            }
            self.pos_of.remove(&front.index);
            self.explained.remove(&position);
            self.arrivals.items.pop_front();
            self.arrivals.base += 1;
        }
    }

    /// Arrivals per second that `sensor` reports within [`LOCAL_WINDOW_S`] of `t_ns`: where
    /// one battery fires a short salvo at the edge of a large network, the sensors near it
    /// hear dense fire while the network's mean over a minute and a half stays low.
    fn rate_at(&self, sensor: u32, t_ns: i64) -> f64 {
        let w = LOCAL_WINDOW_S;
        let window = (w * 1e9) as i64;
        self.by_sensor.get(&sensor).map_or(0.0, |set| {
            let around = set
                .range((t_ns.saturating_sub(window), 0)..=(t_ns.saturating_add(window), u64::MAX))
                .count();
            around as f64 / (2.0 * w)
        })
    }

    /// The highest rate ([`Fuser::rate_at`]) among the sensors within [`LOCAL_RADIUS_M`]
    /// of `station`.
    fn local_rate(&self, station: usize, t_ns: i64) -> f64 {
        let Some(plane) = &self.plane else {
            return 0.0;
        };
        let here = plane.xy(station);
        let mut seen = BTreeSet::new();
        self.stations
            .iter()
            .enumerate()
            .filter(|(k, _)| {
                let xy = plane.xy(*k);
                (xy[0] - here[0]).hypot(xy[1] - here[1]) <= LOCAL_RADIUS_M
            })
            .map(|(_, s)| s)
            .filter(|s| !self.health.quarantined(s.sensor) && seen.insert(s.sensor))
            .map(|s| self.rate_at(s.sensor, t_ns))
            .fold(0.0, f64::max)
    }

    /// Arrivals per second per sensor over the minute and a half from `DENSITY_WINDOW_S`
    /// before `t_ns`.
    fn rate_around(&self, t_ns: i64) -> f64 {
        let window = (DENSITY_WINDOW_S * 1e9) as i64;
        let around = self
            .by_time
            .range((t_ns.saturating_sub(window), 0)..=(t_ns.saturating_add(2 * window), u64::MAX))
            .count();
        around as f64 / (3.0 * DENSITY_WINDOW_S) / self.sensor_numbers.len().max(1) as f64
    }

    /// Where events were located shortly before `t_ns` (open ones, and final ones of the
    /// last [`REPEAT_WINDOW_S`]), most recent first, those within [`REPEAT_MERGE_M`] of a
    /// more recent one left out.
    fn recent_places(&self, t_ns: i64) -> Vec<LonLat> {
        let since = i128::from(t_ns) - (REPEAT_WINDOW_S * 1e9) as i128;
        let epoch = self.epoch();
        let mut recent: Vec<(f64, LonLat)> = self
            .open_events
            .iter()
            .map(|e| (e.assoc.location.origin_time, e.assoc.location.position))
            .collect();
        for e in self.closed.iter().rev() {
            let origin = i128::from(e.event.origin_time.unix_nanos());
            if origin < since {
                break;
            }
            if e.score.is_some() {
                let p = [e.event.location.lon, e.event.location.lat];
                recent.push(((origin - epoch) as f64 * 1e-9, p));
            }
        }
        recent.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1[0].total_cmp(&b.1[0])));
        let mut places: Vec<LonLat> = Vec::new();
        for (_, p) in recent {
            if places.len() >= REPEAT_MAX_PLACES {
                break;
            }
            if places
                .iter()
                .all(|q| self.earth.distance(*q, p) > REPEAT_MERGE_M)
            {
                places.push(p);
            }
        }
        places
    }

    /// The medium at a place and time, with its uncertainty: the estimate from the events
    /// once enough have been located, the met report's (or the standard atmosphere's)
    /// prior before.
    fn medium_at(&self, p: LonLat, t_ns: i64) -> Propagation {
        let prior = prior_at(&self.earth, &self.met, self.config.met_radius_m, p, t_ns);
        match &self.propagation {
            Some(estimate) if estimate.events >= CALIBRATION_MIN_EVENTS => {
                if prior.sigma_wind() > FRESH_REPORT_SIGMA_WIND_MPS || contradicts(estimate, &prior)
                {
                    *estimate
                } else {
                    // The events confirm the report: its medium, known as well as the
                    // estimate knows it.
                    Propagation {
                        medium: prior.medium,
                        ..*estimate
                    }
                }
            }
            _ => prior,
        }
    }

    /// A new event joins the calibration set if it constrains the medium (enough sensors:
    /// an event is formed once the sound has passed the sensors around it, so it has most
    /// of its arrivals), and the medium is estimated again over the set.
    fn calibrate(&mut self, e: &OpenEvent) {
        // Nor does a source outside the sensors (an azimuthal gap over a half turn):
        // there its range and the speed of sound trade off, and a chance event there
        // fits any medium.
        if e.sensors.len() < CALIBRATION_MIN_SENSORS
            || e.assoc.location.azimuthal_gap_deg > CALIBRATION_MAX_GAP_DEG
        {
            return;
        }
        let picks: Vec<Pick> = e.positions.iter().map(|&p| self.pick(p)).collect();
        // An event whose arrivals fit badly (a round taken for its neighbour, an arrival
        // of another source) would teach a wrong medium: only close fits calibrate.
        let mut sigmas: Vec<f64> = picks.iter().map(|p| p.sigma_s).collect();
        sigmas.sort_by(f64::total_cmp);
        let typical = sigmas[sigmas.len() / 2];
        if e.assoc.location.rms_residual_s > CALIBRATION_MAX_RMS * typical {
            return;
        }
        // Nor do events amid dense fire, where a round may be taken for its neighbour and
        // still fit: only events whose sensors report at a modest rate around them.
        let origin_ns = clamp(self.epoch() + (e.assoc.location.origin_time * 1e9).round() as i128);
        if self.rate_around(origin_ns) > CALIBRATION_MAX_RATE {
            return;
        }
        self.calibration.push_back(Calibration {
            picks,
            position: e.assoc.location.position,
            origin_time: e.assoc.location.origin_time,
        });
        let newest = e.assoc.location.origin_time;
        while self.calibration.len() > CALIBRATION_MAX_EVENTS
            || self
                .calibration
                .front()
                .is_some_and(|c| c.origin_time < newest - CALIBRATION_WINDOW_S)
        {
            self.calibration.pop_front();
        }
        let centre = self
            .plane
            .as_ref()
            .map_or(e.assoc.location.position, |p| p.centre());
        let at = clamp(self.epoch() + (newest * 1e9).round() as i128);
        let prior = prior_at(&self.earth, &self.met, self.config.met_radius_m, centre, at);
        let events = self.calibration.make_contiguous();
        let mut solved = estimate(&self.earth, events, &prior, 6);
        // The estimate is of a medium that changes over the sector and the hour: it is
        // never taken as better known than a floor.
        for k in 0..3 {
            solved.covariance[k][k] = solved.covariance[k][k].max(ESTIMATE_FLOOR_MPS.powi(2));
        }
        solved.events = events.len();
        self.propagation = Some(solved);
    }

    fn open_event(&self, e: &OpenEvent) -> FusedEvent {
        let by_id: BTreeMap<u64, &Logged1> = e
            .positions
            .iter()
            .map(|&p| (self.arrivals[p].index, &self.arrivals[p]))
            .collect();
        let epoch = self.epoch();
        let at = |s: f64| Timestamp::from_unix_nanos(clamp(epoch + (s * 1e9).round() as i128));
        let seconds = |t_ns: i64| self.seconds(t_ns);
        self.event_of(&e.assoc, &by_id, &e.medium, &at, &seconds)
    }
}

/// Per met sensor, its latest report at or before `t_ns`; then the nearest sensor's within
/// `radius`, with its age in nanoseconds; none when no report is valid there.
fn met_at(
    earth: &Earth,
    met: &[MetReport],
    radius: f64,
    p: LonLat,
    t_ns: i64,
) -> Option<(Medium, i64)> {
    let mut latest: BTreeMap<&str, &MetReport> = BTreeMap::new();
    for r in met {
        if r.from_ns <= t_ns
            && latest
                .get(r.sensor.as_str())
                .is_none_or(|l| l.from_ns <= r.from_ns)
        {
            latest.insert(&r.sensor, r);
        }
    }
    latest
        .values()
        .map(|r| (earth.distance(r.position, p), r))
        .filter(|(d, _)| *d <= radius)
        .min_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, r)| (r.medium, t_ns.saturating_sub(r.from_ns)))
}

/// The σ of the wind a fresh report is given (see [`prior_at`]).
const FRESH_REPORT_SIGMA_WIND_MPS: f64 = 2.0;

/// Whether the events' estimate contradicts a report: the two differ by more than
/// `CONTRADICTION_MPS` in the effective speed along some direction, and by more than
/// four of the estimate's σ. A report the events agree with is kept as it is: it is
/// exact where it is right, and the estimate carries the small biases of the sensors.
fn contradicts(estimate: &Propagation, report: &Propagation) -> bool {
    let d = [
        estimate.medium.speed - report.medium.speed,
        estimate.medium.wind[0] - report.medium.wind[0],
        estimate.medium.wind[1] - report.medium.wind[1],
    ];
    let worst = d[0].abs() + d[1].hypot(d[2]);
    let c = nalgebra::Matrix3::from_fn(|i, j| estimate.covariance[i][j]);
    let v = nalgebra::Vector3::from(d);
    let distance2 = c
        .try_inverse()
        .map_or(f64::INFINITY, |inv| (v.transpose() * inv * v)[0]);
    worst > CONTRADICTION_MPS && distance2 > 16.0
}

/// How far (m/s of effective speed) the events must put the medium from a report to set
/// it aside.
const CONTRADICTION_MPS: f64 = 0.75;

/// What is believed about the medium before the events speak: a fresh met report, to a
/// few m/s (a report measures the wind at one place near the ground, sound travels
/// through the air above the whole sector); an old one, to more; without one, the
/// standard atmosphere, to as much as any wind the sector sees.
fn prior_at(earth: &Earth, met: &[MetReport], radius: f64, p: LonLat, t_ns: i64) -> Propagation {
    const FRESH_NS: i64 = 2 * 3600 * 1_000_000_000;
    match met_at(earth, met, radius, p, t_ns) {
        Some((medium, age)) if age <= FRESH_NS => {
            Propagation::prior(medium, 2.0, FRESH_REPORT_SIGMA_WIND_MPS)
        }
        Some((medium, _)) => Propagation::prior(medium, 3.0, 5.0),
        None => Propagation::prior(Medium::standard(), 6.0, 8.0),
    }
}

fn clamp(ns: i128) -> i64 {
    ns.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
}

fn majority(counts: &BTreeMap<EventType, usize>) -> Option<EventType> {
    let best = counts.values().copied().max()?;
    let winners: Vec<EventType> = counts
        .iter()
        .filter(|(_, c)| **c == best)
        .map(|(k, _)| *k)
        .collect();
    (winners.len() == 1).then(|| winners[0])
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use truce_model::{Observation, SensorKind};

    fn registration(id: &str, p: LonLat) -> SensorRegistration {
        SensorRegistration {
            id: id.into(),
            kind: SensorKind::Acoustic,
            operator: ["UA", "FR", "US"][id.len() % 3].into(),
            position: Some(Position::new(p[1], p[0])),
            public_key: String::new(),
            timing_sigma_s: Some(0.003),
            backazimuth_sigma_deg: None,
        }
    }

    /// A launch arrival at `at`, 3 ms σ, where the sensor is registered.
    pub(crate) fn arrival(sensor: &str, seq: u64, at: Timestamp) -> Observation {
        Observation {
            sensor: sensor.into(),
            seq,
            observed_at: at,
            kind: "acoustic.arrival",
            data: ObservationData::Arrival {
                arrival_time: at,
                arrival_sigma_s: 0.003,
                class: SignalClass::Launch,
                backazimuth_deg: None,
                backazimuth_sigma_deg: None,
                snr: None,
                position: None,
            },
        }
    }

    /// A 4×4 network 10 km apart and `rounds` sources (offset east, north in metres; origin
    /// seconds after 10:00) heard by every sensor within 25 km with a few ms of timing
    /// noise; the arrivals in time order.
    fn scene(rounds: &[([f64; 2], f64)]) -> (Vec<SensorRegistration>, Vec<Observation>) {
        let earth = Earth::default();
        let centre = [37.6, 48.4];
        let registry: Vec<SensorRegistration> = (0..16)
            .map(|k| {
                let xy = [
                    (k % 4) as f64 * 10_000.0 - 15_000.0,
                    (k / 4) as f64 * 10_000.0 - 15_000.0,
                ];
                registration(&format!("ac-{k:02}"), earth.from_local_xy(centre, xy))
            })
            .collect();
        let t0 = Timestamp::parse("2026-01-08T10:00:00Z").unwrap();
        let medium = Medium::standard();
        let mut timed = Vec::new();
        for (n, (offset, origin)) in rounds.iter().enumerate() {
            let source = earth.from_local_xy(centre, *offset);
            for (k, r) in registry.iter().enumerate() {
                let p = r.position.unwrap();
                let d = earth.distance(source, [p.lon, p.lat]);
                if d > 25_000.0 {
                    continue;
                }
                let noise = ((n * 7 + k * 13) % 7) as f64 - 3.0;
                let at = origin + d / medium.speed + noise * 0.001;
                timed.push((at, r.id.clone()));
            }
        }
        timed.sort_by(|a, b| a.0.total_cmp(&b.0));
        let observations = timed
            .into_iter()
            .enumerate()
            .map(|(seq, (at, sensor))| {
                arrival(&sensor, seq as u64, t0.plus_nanos((at * 1e9) as i64))
            })
            .collect();
        (registry, observations)
    }

    fn rounds() -> Vec<([f64; 2], f64)> {
        // Twenty rounds 17 s apart from three places, their arrivals interleaved.
        (0..20)
            .map(|n| {
                let place = [[-4_000.0, 3_000.0], [6_000.0, -2_000.0], [1_000.0, 8_000.0]][n % 3];
                (place, 5.0 + 17.0 * n as f64)
            })
            .collect()
    }

    /// Standard weather reported ten minutes after the last of `observations`: it moves
    /// the watermark past every round of the scene.
    fn ten_minutes_after(observations: &[Observation]) -> Observation {
        let last = observations.last().unwrap().observed_at;
        let mut met = arrival("ac-00", 9_999, last.plus_nanos(600_000_000_000));
        met.kind = "met.surface";
        met.data = ObservationData::Met {
            temperature_c: 15.0,
            wind_speed_mps: 0.0,
            wind_from_deg: 0.0,
            pressure_hpa: None,
            relative_humidity: None,
        };
        met
    }

    fn feed(fuser: &mut Fuser, registry: &[SensorRegistration], observations: &[Observation]) {
        let first = registry.len() as u64;
        for r in registry {
            fuser.register(r.clone());
        }
        for (i, o) in observations.iter().enumerate() {
            fuser.push(Logged {
                index: first + i as u64,
                observation: o.clone(),
            });
        }
    }

    #[test]
    fn every_round_is_found_once() {
        let rounds = rounds();
        let (registry, observations) = scene(&rounds);
        let mut fuser = Fuser::new(FusionConfig::default());
        feed(&mut fuser, &registry, &observations);
        let events = fuser.events();
        assert_eq!(events.len(), rounds.len(), "{events:#?}");
        let t0 = Timestamp::parse("2026-01-08T10:00:00Z").unwrap();
        for (e, (_, origin)) in events.iter().zip(&rounds) {
            let t = (e.event.origin_time.unix_nanos() - t0.unix_nanos()) as f64 * 1e-9;
            assert!((t - origin).abs() < 0.05, "{t} against {origin}");
        }
        // No arrival serves two events.
        let mut all: Vec<u64> = events
            .iter()
            .flat_map(|e| e.event.observations.clone())
            .collect();
        let n = all.len();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), n);
    }

    #[test]
    fn events_for_a_prefix_do_not_depend_on_when_they_were_asked_for() {
        let (registry, observations) = scene(&rounds());
        for cut in [
            observations.len() / 3,
            observations.len() * 2 / 3,
            observations.len(),
        ] {
            let mut asked_often = Fuser::new(FusionConfig::default());
            for r in &registry {
                asked_often.register(r.clone());
            }
            for (i, o) in observations[..cut].iter().enumerate() {
                asked_often.push(Logged {
                    index: registry.len() as u64 + i as u64,
                    observation: o.clone(),
                });
                if i % 23 == 0 {
                    asked_often.events();
                }
            }
            let mut asked_once = Fuser::new(FusionConfig::default());
            feed(&mut asked_once, &registry, &observations[..cut]);
            assert_eq!(asked_often.events(), asked_once.events(), "prefix of {cut}");
        }
    }

    #[test]
    fn an_event_is_provisional_until_the_watermark_passes_it() {
        let rounds = rounds();
        let (registry, observations) = scene(&rounds);
        let mut fuser = Fuser::new(FusionConfig::default());
        feed(&mut fuser, &registry, &observations);
        let events = fuser.events();
        assert_eq!(events.len(), rounds.len());
        // The early rounds are final; the last ones, whose arrivals may still come, not.
        assert!(!events[0].event.provisional);
        assert!(events.last().unwrap().event.provisional);
        let open: Vec<&str> = events
            .iter()
            .filter(|e| e.event.provisional)
            .map(|e| e.event.id.as_str())
            .collect();
        assert!(open.len() < rounds.len(), "{open:?}");
        // Weather ten minutes later moves the watermark past every round: all are final,
        // the same events with the same ids.
        let met = ten_minutes_after(&observations);
        fuser.push(Logged {
            index: 100_000,
            observation: met,
        });
        let after = fuser.events();
        assert!(after.iter().all(|e| !e.event.provisional));
        let ids = |v: &[FusedEvent]| v.iter().map(|e| e.event.id.clone()).collect::<Vec<_>>();
        assert_eq!(ids(&after), ids(&events));
    }

    #[test]
    fn a_final_event_stays_and_a_late_arrival_is_counted() {
        let rounds = rounds();
        let (registry, mut observations) = scene(&rounds);
        // Weather ten minutes after the last round moves the watermark past every event.
        let met = ten_minutes_after(&observations);
        observations.push(met);
        let mut fuser = Fuser::new(FusionConfig::default());
        feed(&mut fuser, &registry, &observations);
        let before = fuser.events();
        assert_eq!(before.len(), rounds.len());
        assert_eq!(fuser.late(), 0);
        // Only the arrivals a search could still reach are kept.
        assert!(
            fuser.arrivals.items.is_empty(),
            "{}",
            fuser.arrivals.items.len()
        );
        assert!(fuser.by_time.is_empty() && fuser.pos_of.is_empty());
        // An arrival for the first round, logged now, is late: it changes nothing.
        let first = &observations[0];
        fuser.push(Logged {
            index: 100_000,
            observation: arrival("ac-15", 10_000, first.observed_at.plus_nanos(3_000_000)),
        });
        assert_eq!(fuser.late(), 1);
        assert_eq!(fuser.events(), before);
    }

    #[test]
    fn an_arrival_stays_where_its_sensor_was_when_it_was_logged() {
        let earth = Earth::default();
        let mut fuser = Fuser::new(FusionConfig::default());
        let t = Timestamp::parse("2026-01-08T10:00:00Z").unwrap();
        fuser.register(registration("ac-1", [37.5, 48.0]));
        fuser.push(Logged {
            index: 1,
            observation: arrival("ac-1", 1, t),
        });
        fuser.register(registration("ac-1", [37.5, 48.5]));
        fuser.push(Logged {
            index: 3,
            observation: arrival("ac-1", 2, t.plus_nanos(1_000_000_000)),
        });
        let lats: Vec<f64> = fuser.stations.iter().map(|s| s.position[1]).collect();
        assert_eq!(lats, vec![48.0, 48.5]);
        // Two places, one sensor.
        assert_eq!(fuser.stations[0].sensor, fuser.stations[1].sensor);
        assert!(earth.distance(fuser.stations[0].position, fuser.stations[1].position) > 50_000.0);
    }
}
