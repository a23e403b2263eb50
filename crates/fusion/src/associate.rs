//! Association under dense fire: which arrivals belong to one source.
//!
//! Seeds are taken in time order. For a seed arrival, candidate sources are the nodes of a
//! coarse grid (500 m) around the seed's sensor, restricted to where that sensor is among
//! the nearest (the first arrival of an event is usually at its nearest sensor). At each
//! node the seed fixes an origin time; every other sensor within reach is asked for an
//! unused arrival near the time the node predicts, and the node scores the number of
//! sensors that answer. In dense fire many wrong nodes score well by chance, so the best
//! coarse nodes are each refined on a fine grid (100 m) with a tolerance tight enough to
//! tell rounds apart; the best fine node's arrivals go to the locator, which removes
//! outliers. An event is kept when enough sensors remain and its likelihood score, which
//! also counts the sensors that should have heard it and did not, is positive. Its
//! arrivals are then removed, and the next seed is taken.
//!
//! Where arrivals are dense (several batteries firing at once: a sensor hears a round
//! every second or less), the coarse grid's tolerance gathers arrivals of other rounds at
//! every node, and the true node is lost among them. There the search solves candidate
//! sources exactly from the seed and one arrival at each of two neighbouring stations, and
//! scores each with a tight tolerance ([`search_triplets`]); an event must rest on more
//! sensors there ([`DENSE_EXTRA_ANYWHERE`]). Where sources were located shortly before,
//! [`form_at`] searches around them first.

use truce_agreement::{Earth, LonLat};

use crate::locate::{Location, Pick, locate_robust, locate_robust_with};
use crate::physics::Medium;
use crate::propagation::{Propagation, locate_in_uncertain_medium};

/// A sensor that reports arrivals.
#[derive(Clone, Debug, PartialEq)]
pub struct Station {
    pub position: LonLat,
    /// Which sensor this is: a moving sensor is one station per place it reported from,
    /// all with the same `sensor`, and an event counts each sensor once.
    pub sensor: u32,
}

/// An arrival: which sensor, when, how precise; `id` is the caller's (for example a log
/// index).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Arrival {
    pub id: u64,
    pub station: usize,
    /// Seconds after the caller's reference instant.
    pub time: f64,
    pub sigma_s: f64,
    pub backazimuth: Option<(f64, f64)>,
}

/// Tuning of the association.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// The fewest sensors an event must rest on.
    pub min_sensors: usize,
    /// Farthest a sensor is assumed to hear, metres.
    pub reach_m: f64,
    /// Range at which a sensor hears half the events (for the missed-detection score).
    pub detection_range_m: f64,
    /// Probability that an arrival is false, for the likelihood score.
    pub false_arrival_probability: f64,
    pub coarse_grid_m: f64,
    pub fine_grid_m: f64,
    /// How many of the best coarse nodes are refined.
    pub candidates: usize,
    /// Largest normalised time residual the locator keeps.
    pub max_residual: f64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            min_sensors: 5,
            reach_m: 40_000.0,
            detection_range_m: 25_000.0,
            false_arrival_probability: 0.05,
            coarse_grid_m: 500.0,
            fine_grid_m: 100.0,
            candidates: 16,
            max_residual: 4.0,
        }
    }
}

/// An associated, located event.
#[derive(Clone, Debug, PartialEq)]
pub struct Associated {
    pub location: Location,
    /// The ids of its arrivals.
    pub arrivals: Vec<u64>,
    /// Log-likelihood ratio of "a source here" against "noise", from the sensors that heard
    /// it and those in reach that did not.
    pub score: f64,
    /// The medium it was located in: the one given, or, where that was uncertain, the one
    /// solved with it.
    pub medium: Medium,
}

/// A station's search region: its coarse nodes, nearest first, each with the stations in
/// reach of it, and the stations that could share an event with it.
#[derive(Clone, Debug)]
struct Region {
    /// A node and the range of `in_reach` that lists the other stations in reach of it.
    nodes: Vec<([f64; 2], std::ops::Range<usize>)>,
    /// The stations in reach of each node, the region's own station left out, node after
    /// node (in station order, the order a node is scored in).
    in_reach: Vec<u32>,
    /// The stations within twice the reach.
    nearby: Vec<usize>,
    /// Travel times in the medium they were computed for: per node, to the region's
    /// station; per entry of `in_reach`, to that station.
    travel: Option<(Medium, Vec<f64>, Vec<f64>)>,
}

impl Region {
    /// Computes the travel times for `medium` unless they are already for it.
    fn travel_in(&mut self, medium: &Medium, xy: &[[f64; 2]], station: usize) {
        if self.travel.as_ref().is_some_and(|(m, _, _)| m == medium) {
            return;
        }
        let mut to_station = Vec::with_capacity(self.nodes.len());
        let mut to_others = Vec::with_capacity(self.in_reach.len());
        for (g, range) in &self.nodes {
            to_station.push(travel(medium, *g, xy[station], f64::INFINITY).unwrap_or(0.0));
            to_others.extend(
                self.in_reach[range.clone()]
                    .iter()
                    .map(|&s| travel(medium, *g, xy[s as usize], f64::INFINITY).unwrap_or(0.0)),
            );
        }
        self.travel = Some((*medium, to_station, to_others));
    }
}

/// The stations in one tangent plane, with each station's search region once computed.
/// Kept by a caller that associates many batches of arrivals over the same stations (the
/// regions cost more than a batch); rebuilt when the stations change.
#[derive(Clone, Debug)]
pub struct Plane {
    centre: LonLat,
    /// Sensor positions in the plane of `centre`.
    xy: Vec<[f64; 2]>,
    /// The sensor of each station.
    sensor: Vec<u32>,
    /// Whether a station's sensor has other stations too (it moved).
    shared: Vec<bool>,
    /// Per station, once computed: the coarse nodes where it is among the nearest sensors,
    /// and the sensors that could share an event with it.
    regions: Vec<Option<Region>>,
}

impl Plane {
    pub fn new(earth: &Earth, stations: &[Station]) -> Self {
        Self::centred(earth, centroid(stations), stations)
    }

    /// A plane centred on `centre` (which should lie amid the stations to come).
    pub fn centred(earth: &Earth, centre: LonLat, stations: &[Station]) -> Self {
        Self {
            centre,
            xy: stations
                .iter()
                .map(|s| earth.local_xy(centre, s.position))
                .collect(),
            sensor: stations.iter().map(|s| s.sensor).collect(),
            shared: stations
                .iter()
                .map(|s| stations.iter().filter(|o| o.sensor == s.sensor).count() > 1)
                .collect(),
            regions: vec![None; stations.len()],
        }
    }

    /// The plane's centre.
    pub fn centre(&self) -> LonLat {
        self.centre
    }

    /// A station's position in the plane.
    pub fn xy(&self, station: usize) -> [f64; 2] {
        self.xy[station]
    }

    /// Adds a station, keeping the plane's centre: only the regions of stations that could
    /// share an event with it are computed again.
    pub fn add(&mut self, earth: &Earth, station: &Station, config: &Config) {
        let xy = earth.local_xy(self.centre, station.position);
        let reach2 = 4.0 * config.reach_m * config.reach_m;
        for (region, other) in self.regions.iter_mut().zip(&self.xy) {
            if dist2(*other, xy) <= reach2 {
                *region = None;
            }
        }
        self.xy.push(xy);
        let mut shared = false;
        for (sensor, other) in self.sensor.iter().zip(&mut self.shared) {
            if *sensor == station.sensor {
                *other = true;
                shared = true;
            }
        }
        self.sensor.push(station.sensor);
        self.shared.push(shared);
        self.regions.push(None);
    }
}

struct Index<'a> {
    earth: &'a Earth,
    plane: &'a mut Plane,
    /// Per station: positions in `arrivals`, by time, and their times (contiguous, for the
    /// binary search).
    by_station: Vec<Vec<usize>>,
    times: Vec<Vec<f64>>,
    /// Where the binary search of `times` starts: per station, per second from the first
    /// arrival, the position of the first arrival at or after it.
    seconds: Seconds,
    arrivals: &'a [Arrival],
    used: Vec<bool>,
    /// Per station, the timing σ of its first arrival (the tolerance's floor).
    sigma: Vec<f64>,
    /// The arrivals taken by this run's events, in the order they were taken.
    taken: Vec<usize>,
}

impl<'a> Index<'a> {
    /// The index of `arrivals` (some already taken), and their positions in time order.
    fn new(
        earth: &'a Earth,
        plane: &'a mut Plane,
        stations: &[Station],
        arrivals: &'a [Arrival],
        taken: &[bool],
    ) -> (Self, Vec<usize>) {
        let mut by_station = vec![Vec::new(); stations.len()];
        let mut order: Vec<usize> = (0..arrivals.len()).collect();
        order.sort_by(|&a, &b| {
            arrivals[a]
                .time
                .total_cmp(&arrivals[b].time)
                .then(arrivals[a].id.cmp(&arrivals[b].id))
        });
        for &k in &order {
            if let Some(list) = by_station.get_mut(arrivals[k].station) {
                list.push(k);
            }
        }
        let times: Vec<Vec<f64>> = by_station
            .iter()
            .map(|list| list.iter().map(|&k| arrivals[k].time).collect())
            .collect();
        let sigma = by_station
            .iter()
            .map(|list: &Vec<usize>| list.first().map_or(0.01, |&k| arrivals[k].sigma_s))
            .collect();
        let seconds = Seconds::new(&times);
        let index = Index {
            earth,
            plane,
            by_station,
            times,
            seconds,
            arrivals,
            used: taken.to_vec(),
            sigma,
            taken: Vec::new(),
        };
        (index, order)
    }

    /// The unused arrival at `station` nearest to `time`, if within `tolerance`.
    fn nearest(&self, station: usize, time: f64, tolerance: f64) -> Option<(usize, f64)> {
        let list = &self.by_station[station];
        let times = &self.times[station];
        let from = time - tolerance;
        let mut at = self.seconds.first_at(station, from);
        while at < times.len() && times[at] < from {
            at += 1;
        }
        list[at..]
            .iter()
            .zip(&times[at..])
            .take_while(|(_, t)| **t <= time + tolerance)
            .filter(|(k, _)| !self.used[**k])
            .map(|(k, t)| (*k, (t - time).abs()))
            .min_by(|a, b| a.1.total_cmp(&b.1))
    }

    /// Matches for a source consistent with the seed, given the travel time from the source
    /// to the seed's station and to each of `stations` (at most `bound` of them): the
    /// count and the sum of squared residuals over tolerance; the matched arrivals are left
    /// in `matched` (the seed first), their sensors in `sensors`. The scan stops as soon as
    /// the count cannot reach `need` any more (the count returned is then below it).
    #[allow(clippy::too_many_arguments)]
    fn score(
        &self,
        seed: usize,
        to_seed: f64,
        stations: impl Iterator<Item = (usize, f64)>,
        bound: usize,
        tolerance: f64,
        need: usize,
        matched: &mut Vec<usize>,
        sensors: &mut Vec<u32>,
    ) -> (usize, f64) {
        let a = &self.arrivals[seed];
        let t0 = a.time - to_seed;
        matched.clear();
        sensors.clear();
        matched.push(seed);
        sensors.push(self.plane.sensor[a.station]);
        let mut misfit = 0.0;
        let mut left = bound;
        for (s, t) in stations {
            if matched.len() + left < need {
                break;
            }
            left = left.saturating_sub(1);
            // (Only a sensor with several stations can have answered already.)
            if s == a.station || (self.plane.shared[s] && sensors.contains(&self.plane.sensor[s])) {
                continue;
            }
            let tol = tolerance + 3.0 * self.sigma[s];
            if let Some((k, r)) = self.nearest(s, t0 + t, tol) {
                matched.push(k);
                sensors.push(self.plane.sensor[s]);
                misfit += (r / tol).powi(2);
            }
        }
        (matched.len(), misfit)
    }

    /// [`Index::score`] for a source at `g`, over the stations of `nearby` in reach of it.
    #[allow(clippy::too_many_arguments)]
    fn score_at(
        &self,
        g: [f64; 2],
        seed: usize,
        nearby: &[usize],
        medium: &Medium,
        tolerance: f64,
        reach: f64,
        need: usize,
        matched: &mut Vec<usize>,
        sensors: &mut Vec<u32>,
    ) -> (usize, f64) {
        let xy = &self.plane.xy;
        let to_seed =
            travel(medium, g, xy[self.arrivals[seed].station], f64::INFINITY).unwrap_or(0.0);
        let stations = nearby
            .iter()
            .filter_map(|&s| Some((s, travel(medium, g, xy[s], reach * reach)?)));
        self.score(
            seed,
            to_seed,
            stations,
            nearby.len(),
            tolerance,
            need,
            matched,
            sensors,
        )
    }
}

/// Per station, per whole second from the earliest arrival (`start`), the position of the
/// first arrival at or after that second: a search for a time starts there and scans at
/// most one second's arrivals.
struct Seconds {
    start: f64,
    /// Seconds covered; the last entry of each station is past all its arrivals.
    span: usize,
    first: Vec<u32>,
}

impl Seconds {
    fn new(times: &[Vec<f64>]) -> Self {
        let first_time = times
            .iter()
            .filter_map(|t| t.first().copied())
            .fold(f64::INFINITY, f64::min);
        let last_time = times
            .iter()
            .filter_map(|t| t.last().copied())
            .fold(f64::NEG_INFINITY, f64::max);
        if !first_time.is_finite() || first_time > last_time {
            return Self {
                start: 0.0,
                span: 0,
                first: Vec::new(),
            };
        }
        let span = (last_time - first_time).ceil() as usize + 2;
        let mut first = Vec::with_capacity(span * times.len());
        for list in times {
            let mut at = 0;
            for second in 0..span {
                let edge = first_time + second as f64;
                while at < list.len() && list[at] < edge {
                    at += 1;
                }
                first.push(at as u32);
            }
        }
        Self {
            start: first_time,
            span,
            first,
        }
    }

    /// A position in `station`'s times at or before the first time at or after `time`.
    fn first_at(&self, station: usize, time: f64) -> usize {
        if self.span == 0 {
            return 0;
        }
        let offset = time - self.start;
        if offset.is_nan() || offset < 0.0 {
            return 0;
        }
        // (Truncation is the floor here: the offset is not negative.)
        let mut second = (offset as usize).min(self.span - 1);
        // The edge as [`Seconds::new`] computed it must not lie after `time`: rounding can
        // put it past by an ulp, never by a second.
        if second > 0 && self.start + second as f64 > time {
            second -= 1;
        }
        self.first[station * self.span + second] as usize
    }
}

/// The travel time of sound from `g` to `to`, when `to` lies within `reach2` (a squared
/// distance) of it.
fn travel(medium: &Medium, g: [f64; 2], to: [f64; 2], reach2: f64) -> Option<f64> {
    let (v, d2) = offset(g, to);
    if d2 > reach2 {
        return None;
    }
    let d = d2.sqrt();
    Some(d / medium.effective_along(v, d))
}

/// The offset from `from` to `to` and its length squared.
fn offset(from: [f64; 2], to: [f64; 2]) -> ([f64; 2], f64) {
    let v = [to[0] - from[0], to[1] - from[1]];
    (v, v[0] * v[0] + v[1] * v[1])
}

/// The best nodes so far, as far as pruning needs them: how many scored each count.
struct Best {
    keep: usize,
    floor: usize,
    by_count: Vec<usize>,
    need: usize,
}

impl Best {
    fn new(keep: usize, floor: usize) -> Self {
        Self {
            keep,
            floor,
            by_count: Vec::new(),
            need: floor,
        }
    }

    /// The count a node needs to be among the `keep` best: `floor`, or once `keep` nodes
    /// have scored, the lowest count among the best `keep` (ties are kept).
    fn need(&self) -> usize {
        self.need
    }

    fn add(&mut self, count: usize) {
        if self.by_count.len() <= count {
            self.by_count.resize(count + 1, 0);
        }
        self.by_count[count] += 1;
        let mut at_least = 0;
        for c in (self.floor..self.by_count.len()).rev() {
            at_least += self.by_count[c];
            if at_least >= self.keep {
                self.need = c;
                return;
            }
        }
    }
}

/// Associates and locates. `arrivals` may come in any order; the result is ordered by
/// origin time. `medium_at(position, time)` gives the medium valid there and then.
pub fn associate(
    earth: &Earth,
    stations: &[Station],
    arrivals: &[Arrival],
    medium_at: &dyn Fn(LonLat, f64) -> Propagation,
    config: &Config,
) -> Vec<Associated> {
    let mut plane = Plane::new(earth, stations);
    associate_in(earth, &mut plane, stations, arrivals, medium_at, config)
}

/// Tries `arrivals[seed]` as the first arrival of a new source; arrivals marked `taken`
/// serve only as signs that their sensors were working. Arrivals are known up to
/// `known_until`: a sensor the sound cannot have reached by then has missed nothing.
/// With `dense` (the caller sees arrivals dense around the seed), candidates are solved
/// from triplets of arrivals instead of the grid search, and the event needs
/// [`DENSE_EXTRA_ANYWHERE`] more sensors.
#[allow(clippy::too_many_arguments)]
pub fn form(
    earth: &Earth,
    plane: &mut Plane,
    stations: &[Station],
    arrivals: &[Arrival],
    taken: &[bool],
    seed: usize,
    known_until: f64,
    medium_at: &dyn Fn(LonLat, f64) -> Propagation,
    config: &Config,
    dense: bool,
) -> Option<Associated> {
    if stations.is_empty() || arrivals[seed].station >= stations.len() {
        return None;
    }
    let (mut index, _) = Index::new(earth, plane, stations, arrivals, taken);
    let mut config = config.clone();
    if dense {
        config.min_sensors += DENSE_EXTRA_ANYWHERE;
    }
    try_seed(
        &mut index,
        seed,
        stations,
        medium_at,
        &config,
        Some(known_until),
        dense,
    )
    .filter(|e| !dense || fits_closely(e, arrivals))
}

/// Whether an event's arrivals fit it as closely as their timing allows (a root mean square
/// residual within [`DENSE_MAX_RMS`] times their median σ): in dense fire, arrivals of
/// neighbouring rounds can be gathered into an event that fits them loosely.
fn fits_closely(event: &Associated, arrivals: &[Arrival]) -> bool {
    let mut sigmas: Vec<f64> = arrivals
        .iter()
        .filter(|a| event.arrivals.binary_search(&a.id).is_ok())
        .map(|a| a.sigma_s)
        .collect();
    if sigmas.is_empty() {
        return false;
    }
    sigmas.sort_by(f64::total_cmp);
    event.location.rms_residual_s <= DENSE_MAX_RMS * sigmas[sigmas.len() / 2]
}

/// See [`fits_closely`].
const DENSE_MAX_RMS: f64 = 2.0;

/// Tries `arrivals[seed]` as the first arrival of another source at (or near) one of
/// `places`, where sources were located shortly before: guns fire again and again from
/// where they stand, and rockets of one salvo land close together. Around each place a
/// small fine grid is searched with tolerances as tight as the timing allows, so rounds
/// half a second apart are told apart where the open search's wide first pass would gather
/// arrivals of every round. Places are tried in the order given; the best node over all of
/// them is located, and kept as [`form`] keeps an event.
#[allow(clippy::too_many_arguments)]
pub fn form_at(
    earth: &Earth,
    plane: &mut Plane,
    stations: &[Station],
    arrivals: &[Arrival],
    taken: &[bool],
    seed: usize,
    known_until: f64,
    medium_at: &dyn Fn(LonLat, f64) -> Propagation,
    config: &Config,
    places: &[LonLat],
) -> Option<Associated> {
    if stations.is_empty() || places.is_empty() || arrivals[seed].station >= stations.len() {
        return None;
    }
    let (mut index, _) = Index::new(earth, plane, stations, arrivals, taken);
    let a = index.arrivals[seed];
    let propagation = medium_at(stations[a.station].position, a.time);
    let medium = propagation.medium;
    if index.plane.regions[a.station].is_none() {
        index.plane.regions[a.station] = Some(region_of(&index.plane.xy, a.station, config));
    }
    let nearby = index.plane.regions[a.station].as_ref()?.nearby.clone();
    let reach = config.reach_m;
    let seed_xy = index.plane.xy[a.station];
    // Tight: the node's own spread, the timing, and what is left of the medium's error.
    let tol = |step: f64| step * std::f64::consts::FRAC_1_SQRT_2 / medium.speed + REPEAT_SLACK_S;
    let mut matched = Vec::new();
    let mut sensors = Vec::new();
    // A first pass at a spacing whose tolerance still tells rounds apart, then the best
    // few nodes refined at the fine spacing.
    let mut scan = |centres: &[[f64; 2]], step: f64, half: i32, keep: usize| {
        let mut best = Best::new(keep, config.min_sensors);
        let mut scored: Vec<(usize, f64, [f64; 2])> = Vec::new();
        for centre in centres {
            for i in -half..=half {
                for j in -half..=half {
                    let g = [
                        centre[0] + f64::from(i) * step,
                        centre[1] + f64::from(j) * step,
                    ];
                    let (count, misfit) = index.score_at(
                        g,
                        seed,
                        &nearby,
                        &medium,
                        tol(step),
                        reach,
                        best.need(),
                        &mut matched,
                        &mut sensors,
                    );
                    if count >= best.need() {
                        scored.push((count, misfit, g));
                        best.add(count);
                    }
                }
            }
        }
        scored.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.total_cmp(&b.1)));
        scored.truncate(keep);
        scored
    };
    let centres: Vec<[f64; 2]> = places
        .iter()
        .map(|p| earth.local_xy(index.plane.centre, *p))
        .filter(|c| dist(*c, seed_xy) <= reach + REPEAT_RADIUS_M)
        .collect();
    let half = (REPEAT_RADIUS_M / REPEAT_FIRST_M).round() as i32;
    let first: Vec<[f64; 2]> = scan(&centres, REPEAT_FIRST_M, half, 8)
        .into_iter()
        .map(|(_, _, g)| g)
        .collect();
    let half = (REPEAT_FIRST_M / REPEAT_GRID_M).ceil() as i32;
    let found = scan(&first, REPEAT_GRID_M, half, 1).first().copied();
    let (_, _, node) = found?;
    let mut config = config.clone();
    config.min_sensors += DENSE_EXTRA_AT_PLACES;
    conclude(
        &mut index,
        seed,
        stations,
        node,
        &medium,
        None,
        &config,
        Some(known_until),
        tol(REPEAT_GRID_M),
    )
    .filter(|e| fits_closely(e, arrivals))
}

/// Sensors more than `config.min_sensors` an event needs in dense fire where sources were
/// located shortly before ([`form_at`]), and anywhere else ([`form`] with `dense`).
/// Measured on the robust suite's four batteries: with none, chance events of six or seven
/// sensors far outnumber the true ones (F1 0.05); with these, F1 0.98.
const DENSE_EXTRA_AT_PLACES: usize = 1;
const DENSE_EXTRA_ANYWHERE: usize = 3;

/// Half the side of the square searched around a place sources came from, metres: a
/// battery's guns stand a few hundred metres apart, a salvo's rockets land within that.
const REPEAT_RADIUS_M: f64 = 400.0;
/// Its first grid's spacing, metres, then the fine grid's around the best nodes of the first.
const REPEAT_FIRST_M: f64 = 40.0;
const REPEAT_GRID_M: f64 = 20.0;
/// Added to every tolerance of that search, seconds.
const REPEAT_SLACK_S: f64 = 0.015;

/// [`associate`]'s passes over one plane.
fn associate_in(
    earth: &Earth,
    plane: &mut Plane,
    stations: &[Station],
    arrivals: &[Arrival],
    medium_at: &dyn Fn(LonLat, f64) -> Propagation,
    config: &Config,
) -> Vec<Associated> {
    if stations.is_empty() || arrivals.is_empty() {
        return Vec::new();
    }
    let (mut index, order) = Index::new(
        earth,
        plane,
        stations,
        arrivals,
        &vec![false; arrivals.len()],
    );
    let mut events = Vec::new();
    // Passes over the unused arrivals until one finds nothing: a seed that failed while its
    // neighbours' arrivals were still in play may succeed once they are taken.
    for _ in 0..4 {
        let before = events.len();
        for &seed in &order {
            if index.used[seed] || arrivals[seed].station >= stations.len() {
                continue;
            }
            if let Some(event) =
                try_seed(&mut index, seed, stations, medium_at, config, None, false)
            {
                events.push(event);
            }
        }
        if events.len() == before {
            break;
        }
    }
    events.sort_by(|a, b| {
        a.location
            .origin_time
            .total_cmp(&b.location.origin_time)
            .then(a.arrivals.cmp(&b.arrivals))
    });
    events
}

fn centroid(stations: &[Station]) -> LonLat {
    let n = stations.len() as f64;
    let lon = stations.iter().map(|s| s.position[0]).sum::<f64>() / n;
    let lat = stations.iter().map(|s| s.position[1]).sum::<f64>() / n;
    [lon, lat]
}

/// How much farther than the second nearest sensor a node may lie from a station and still
/// be in its region, metres.
const REGION_SLACK_M: f64 = 5_000.0;

/// How many sensors nearer to a node than a station may be out without the node leaving
/// every working sensor's search region.
const SPARE: usize = 1;

/// The coarse nodes within reach of `station` where it is among the nearest sensors (within
/// 5 km of the second nearest), nearest first, with the stations in reach of each, and the
/// stations within twice the reach of it.
fn region_of(xy: &[[f64; 2]], station: usize, config: &Config) -> Region {
    let origin = xy[station];
    let reach = config.reach_m;
    let nearby: Vec<usize> = (0..xy.len())
        .filter(|&s| dist2(xy[s], origin) <= 4.0 * reach * reach)
        .collect();
    let step = config.coarse_grid_m;
    let n = (reach / step).ceil() as i64;
    let mut nodes = Vec::new();
    for i in -n..=n {
        for j in -n..=n {
            let g = [
                (origin[0] / step).round() * step + i as f64 * step,
                (origin[1] / step).round() * step + j as f64 * step,
            ];
            let d_seed = dist2(g, origin).sqrt();
            if d_seed > reach {
                continue;
            }
            // Among the nearest: no farther than 5 km beyond the second nearest sensor, so
            // that a node stays in some working sensor's region when the sensor nearest to
            // it is out (an out sensor must not blind its surroundings: a seed is always a
            // sensor that heard). Two spares cost 40 % more time on the barrage for a
            // quarter of a percent of recall; one costs 8 %.
            let mut near: [f64; SPARE + 1] = [f64::INFINITY; SPARE + 1];
            for &s in &nearby {
                let d = dist2(g, xy[s]);
                if d < near[SPARE] {
                    near[SPARE] = d;
                    near.sort_by(f64::total_cmp);
                }
            }
            let nearest = near[SPARE.min(nearby.len().saturating_sub(1))].sqrt();
            if d_seed <= nearest + REGION_SLACK_M {
                nodes.push((g, d_seed));
            }
        }
    }
    nodes.sort_by(|a, b| {
        a.1.total_cmp(&b.1)
            .then(a.0[0].total_cmp(&b.0[0]))
            .then(a.0[1].total_cmp(&b.0[1]))
    });
    let reach2 = reach * reach;
    let mut in_reach = Vec::new();
    let nodes = nodes
        .into_iter()
        .map(|(g, _)| {
            let start = in_reach.len();
            in_reach.extend(
                nearby
                    .iter()
                    .filter(|&&s| s != station && offset(g, xy[s]).1 <= reach2)
                    .map(|&s| s as u32),
            );
            (g, start..in_reach.len())
        })
        .collect();
    Region {
        nodes,
        in_reach,
        nearby,
        travel: None,
    }
}

/// Wind uncertainty (σ of a component, m/s) above which the search also tries the wind
/// shifted by about that much in each direction: a report several m/s off predicts
/// travel times wrong by more than the search's tolerance, so no node would gather the
/// event's arrivals under it.
const HYPOTHESES_ABOVE_MPS: f64 = 1.5;
/// The largest shift tried, m/s.
const LARGEST_SHIFT_MPS: f64 = 6.0;
/// Uncertainty of the effective speed (m/s) above which a new event is located jointly
/// with the medium rather than in it: no report, or a stale one (a fresh report's prior is
/// below it, and so is an estimate from the events).
const SOLVE_MEDIUM_ABOVE_MPS: f64 = 4.0;

/// The media a search tries when the given one finds nothing while the wind is uncertain:
/// the wind shifted by about its uncertainty east, west, north, south and diagonally.
fn hypotheses(propagation: &Propagation) -> Vec<Medium> {
    let sigma = propagation.sigma_wind();
    if sigma <= HYPOTHESES_ABOVE_MPS {
        return Vec::new();
    }
    let h = sigma.min(LARGEST_SHIFT_MPS);
    [
        (1, 0),
        (-1, 0),
        (0, 1),
        (0, -1),
        (1, 1),
        (1, -1),
        (-1, 1),
        (-1, -1),
    ]
    .into_iter()
    .map(|(i, j)| {
        let mut m = propagation.medium;
        m.wind[0] += f64::from(i) * h;
        m.wind[1] += f64::from(j) * h;
        m
    })
    .collect()
}

fn try_seed(
    index: &mut Index<'_>,
    seed: usize,
    stations: &[Station],
    medium_at: &dyn Fn(LonLat, f64) -> Propagation,
    config: &Config,
    known_until: Option<f64>,
    dense: bool,
) -> Option<Associated> {
    let a = index.arrivals[seed];
    let propagation = medium_at(stations[a.station].position, a.time);
    if index.plane.regions[a.station].is_none() {
        index.plane.regions[a.station] = Some(region_of(&index.plane.xy, a.station, config));
    }
    // Dense fire: sources solved from triplets of arrivals, scored with tight tolerances.
    let conclude_tolerance = |medium: &Medium| {
        if dense {
            TRIPLET_TOLERANCE_S * 2.0
        } else {
            tolerance(config.fine_grid_m, medium)
        }
    };
    let search = |index: &mut Index<'_>, medium: &Medium, cached: bool| {
        if dense {
            search_triplets(index, seed, medium, config, TRIPLET_TOLERANCE_S)
        } else {
            search(index, seed, medium, config, cached)
        }
    };
    // The medium given first (its travel times cached with the region); a medium that is
    // only roughly known (no report) is solved with each new event.
    let solve = propagation.sigma_effective() > SOLVE_MEDIUM_ABOVE_MPS;
    if let Some((_, _, node)) = search(index, &propagation.medium, true) {
        let found = conclude(
            index,
            seed,
            stations,
            node,
            &propagation.medium,
            solve.then_some(&propagation),
            config,
            known_until,
            conclude_tolerance(&propagation.medium),
        );
        if found.is_some() {
            return found;
        }
    }
    // Nothing there: while the wind is uncertain, other winds are tried, and the best
    // (most sensors, then the smallest misfit) is located jointly with the medium.
    let mut best: Option<(usize, f64, [f64; 2], Medium)> = None;
    for medium in hypotheses(&propagation) {
        let Some((count, misfit, node)) = search(index, &medium, false) else {
            continue;
        };
        if best
            .as_ref()
            .is_none_or(|b| count > b.0 || (count == b.0 && misfit < b.1))
        {
            best = Some((count, misfit, node, medium));
        }
    }
    let (_, _, node, medium) = best?;
    let prior = Propagation {
        medium,
        ..propagation
    };
    conclude(
        index,
        seed,
        stations,
        node,
        &medium,
        Some(&prior),
        config,
        known_until,
        conclude_tolerance(&medium),
    )
}

/// The event at a search's best node: its arrivals located (in `medium`, or jointly with
/// the medium from `solve`'s prior), kept if enough remain and its likelihood is positive;
/// its arrivals are then taken.
#[allow(clippy::too_many_arguments)]
fn conclude(
    index: &mut Index<'_>,
    seed: usize,
    stations: &[Station],
    node: [f64; 2],
    medium: &Medium,
    solve: Option<&Propagation>,
    config: &Config,
    known_until: Option<f64>,
    tolerance: f64,
) -> Option<Associated> {
    let station = index.arrivals[seed].station;
    let nearby = index.plane.regions[station].as_ref()?.nearby.clone();
    let mut matched = Vec::new();
    let mut sensors = Vec::new();
    index.score_at(
        node,
        seed,
        &nearby,
        medium,
        tolerance,
        config.reach_m,
        0,
        &mut matched,
        &mut sensors,
    );
    let picks: Vec<Pick> = matched
        .iter()
        .map(|&k| {
            let arrival = &index.arrivals[k];
            Pick {
                sensor: stations[arrival.station].position,
                time: arrival.time,
                sigma_s: arrival.sigma_s,
                backazimuth: arrival.backazimuth,
            }
        })
        .collect();
    let start = index.earth.from_local_xy(index.plane.centre, node);
    let (location, medium) = match solve {
        Some(prior) => locate_robust_with(
            index.earth,
            &picks,
            start,
            config.min_sensors,
            config.max_residual,
            &|subset: &[Pick], at: LonLat| {
                locate_in_uncertain_medium(index.earth, subset, prior, at)
            },
        )?,
        None => (
            locate_robust(
                index.earth,
                &picks,
                medium,
                start,
                config.min_sensors,
                config.max_residual,
            )?,
            *medium,
        ),
    };
    let kept: Vec<usize> = location.used.iter().map(|&i| matched[i]).collect();
    // Solved with the medium, an event has three unknowns more (the wind and the speed of
    // sound, loosely held by their prior): it needs as many arrivals more, or a few
    // arrivals of different sources fit exactly (measured: without this, half the
    // suite's events at once, with no met report, F1 0.04; with it, 0.64).
    let unknowns = if solve.is_some() { 3 } else { 0 };
    if kept.len() < config.min_sensors + unknowns {
        return None;
    }
    let score = likelihood(
        index,
        &kept,
        &location,
        &nearby,
        config,
        known_until,
        tolerance,
    );
    if score <= 0.0 {
        return None;
    }
    for &k in &kept {
        index.used[k] = true;
    }
    index.taken.extend(&kept);
    let mut ids: Vec<u64> = kept.iter().map(|&k| index.arrivals[k].id).collect();
    ids.sort_unstable();
    Some(Associated {
        location,
        arrivals: ids,
        score,
        medium,
    })
}

/// The search's time tolerance at a grid spacing: half the diagonal's travel time, and
/// 50 ms.
fn tolerance(spacing: f64, medium: &Medium) -> f64 {
    spacing * std::f64::consts::FRAC_1_SQRT_2 / medium.speed + 0.05
}

/// The grid search for a source whose first arrival is `seed`, in `medium`: the best fine
/// node, with its count and misfit. With `cached`, the coarse nodes' travel times are the
/// region's cached ones (computed for this medium if they are not).
fn search(
    index: &mut Index<'_>,
    seed: usize,
    medium: &Medium,
    config: &Config,
    cached: bool,
) -> Option<(usize, f64, [f64; 2])> {
    let station = index.arrivals[seed].station;
    let reach = config.reach_m;
    let step = config.coarse_grid_m;
    if cached {
        let xy = &index.plane.xy;
        if let Some(region) = index.plane.regions[station].as_mut() {
            region.travel_in(medium, xy, station);
        }
    }
    let region = index.plane.regions[station].as_ref()?;
    let nearby = &region.nearby;
    let mut matched = Vec::new();
    let mut sensors = Vec::new();
    // Nodes that cannot be among the best are dropped as soon as that is clear.
    let mut coarse: Vec<(usize, f64, [f64; 2])> = Vec::new();
    let mut best = Best::new(config.candidates, config.min_sensors);
    let travel_cache = if cached { region.travel.as_ref() } else { None };
    let xy = &index.plane.xy;
    let mut to_others_buf = Vec::new();
    for (n, (g, stations)) in region.nodes.iter().enumerate() {
        let (to_seed, to_others): (f64, &[f64]) =
            match travel_cache {
                Some((_, to_station, to_others)) => (to_station[n], &to_others[stations.clone()]),
                None => {
                    to_others_buf.clear();
                    to_others_buf.extend(region.in_reach[stations.clone()].iter().map(|&s| {
                        travel(medium, *g, xy[s as usize], f64::INFINITY).unwrap_or(0.0)
                    }));
                    (
                        travel(medium, *g, xy[station], f64::INFINITY).unwrap_or(0.0),
                        &to_others_buf,
                    )
                }
            };
        let others = region.in_reach[stations.clone()]
            .iter()
            .zip(to_others)
            .map(|(&s, &t)| (s as usize, t));
        let (count, misfit) = index.score(
            seed,
            to_seed,
            others,
            stations.len(),
            tolerance(step, medium),
            best.need(),
            &mut matched,
            &mut sensors,
        );
        if count >= best.need() {
            coarse.push((count, misfit, *g));
            best.add(count);
        }
    }
    let best_first = |list: &mut Vec<(usize, f64, [f64; 2])>, keep: usize| {
        list.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.total_cmp(&b.1)));
        list.truncate(keep);
    };
    best_first(&mut coarse, config.candidates);
    // Refine: around each candidate a 3×3 grid at a spacing between the coarse and the fine
    // one, with a tolerance to match; around the best few of those, 3×3 at the fine
    // spacing; the best fine node's arrivals go to the locator.
    let fine = config.fine_grid_m;
    let middle = (step * fine).sqrt();
    let mut refine = |centres: &[(usize, f64, [f64; 2])], spacing: f64, keep: usize| {
        let mut scored = Vec::new();
        let mut best = Best::new(keep, config.min_sensors);
        for (_, _, g) in centres {
            for i in -1..=1 {
                for j in -1..=1 {
                    let h = [g[0] + f64::from(i) * spacing, g[1] + f64::from(j) * spacing];
                    let (count, misfit) = index.score_at(
                        h,
                        seed,
                        nearby,
                        medium,
                        tolerance(spacing, medium),
                        reach,
                        best.need(),
                        &mut matched,
                        &mut sensors,
                    );
                    if count >= best.need() {
                        scored.push((count, misfit, h));
                        best.add(count);
                    }
                }
            }
        }
        best_first(&mut scored, keep);
        scored
    };
    let refined = refine(&coarse, middle, config.candidates.div_ceil(4));
    refine(&refined, fine, 1).first().copied()
}

/// The search for a source in dense fire, where the grid search's first pass gathers
/// arrivals of other rounds at every node: candidate sources are solved exactly from the
/// seed and one arrival at each of two neighbouring stations (three arrival times fix a
/// position and an origin time), and each is scored with a tight `tolerance` over the
/// stations in reach. The candidate with the most sensors (then the smallest misfit) wins.
///
/// The seed is taken to be the event's first arrival, so a neighbour's arrival comes after
/// it by at most the travel time between the two stations. The neighbours are the
/// [`NEIGHBOURS`] nearest working stations: a pair of them is tried at a time, so an event
/// is found while any two of them heard it. Cost grows with the square of the arrival rate
/// at those stations, and with nothing else.
fn search_triplets(
    index: &Index<'_>,
    seed: usize,
    medium: &Medium,
    config: &Config,
    tolerance: f64,
) -> Option<(usize, f64, [f64; 2])> {
    let a = index.arrivals[seed];
    let station = a.station;
    let region = index.plane.regions[station].as_ref()?;
    let xy = &index.plane.xy;
    let origin = xy[station];
    let reach = config.reach_m;
    let slowest = (medium.speed - medium.wind[0].hypot(medium.wind[1])).max(200.0);
    let mut neighbours: Vec<(f64, usize)> = region
        .nearby
        .iter()
        .filter(|&&s| {
            s != station
                && index.plane.sensor[s] != index.plane.sensor[station]
                && !index.times[s].is_empty()
        })
        .map(|&s| (dist(xy[s], origin), s))
        .filter(|(d, _)| *d <= reach)
        .collect();
    neighbours.sort_by(|x, y| x.0.total_cmp(&y.0).then(x.1.cmp(&y.1)));
    neighbours.truncate(NEIGHBOURS);
    // Each neighbour's unused arrivals that can belong to an event first heard at the seed.
    let candidates: Vec<Vec<(usize, f64)>> = neighbours
        .iter()
        .map(|&(d, s)| {
            let from = a.time - TRIPLET_SLACK_S;
            let to = a.time + d / slowest + TRIPLET_SLACK_S;
            let times = &index.times[s];
            let mut at = index.seconds.first_at(s, from);
            while at < times.len() && times[at] < from {
                at += 1;
            }
            index.by_station[s][at..]
                .iter()
                .zip(&times[at..])
                .take_while(|(_, t)| **t <= to)
                .filter(|(k, _)| !index.used[**k])
                .map(|(_, t)| (s, *t - a.time))
                .collect()
        })
        .collect();
    let mut matched = Vec::new();
    let mut sensors = Vec::new();
    let mut best: Option<(usize, f64, [f64; 2])> = None;
    let reach2 = reach * reach;
    for i in 0..neighbours.len() {
        for j in i + 1..neighbours.len() {
            let p = [
                [
                    xy[neighbours[i].1][0] - origin[0],
                    xy[neighbours[i].1][1] - origin[1],
                ],
                [
                    xy[neighbours[j].1][0] - origin[0],
                    xy[neighbours[j].1][1] - origin[1],
                ],
            ];
            // Stations nearly in a line fix no position.
            let det = p[0][0] * p[1][1] - p[0][1] * p[1][0];
            if det.abs() < 0.05 * neighbours[i].0 * neighbours[j].0 {
                continue;
            }
            for &(_, tau_i) in &candidates[i] {
                for &(_, tau_j) in &candidates[j] {
                    for g in solve_triplet(medium, p, [tau_i, tau_j], det)
                        .into_iter()
                        .flatten()
                    {
                        let g = [origin[0] + g[0], origin[1] + g[1]];
                        if dist2(g, origin) > reach2 {
                            continue;
                        }
                        let need = best.map_or(config.min_sensors, |b| b.0.max(config.min_sensors));
                        let (count, misfit) = index.score_at(
                            g,
                            seed,
                            &region.nearby,
                            medium,
                            tolerance,
                            reach,
                            need,
                            &mut matched,
                            &mut sensors,
                        );
                        if count >= need
                            && best.is_none_or(|b| count > b.0 || (count == b.0 && misfit < b.1))
                        {
                            best = Some((count, misfit, g));
                        }
                    }
                }
            }
        }
    }
    best
}

/// The tolerance of [`search_triplets`]' score, seconds (three times the station's timing
/// σ is added); its conclusion takes twice that.
const TRIPLET_TOLERANCE_S: f64 = 0.03;
/// How many neighbouring stations [`search_triplets`] pairs up.
const NEIGHBOURS: usize = 4;
/// How early a neighbour's arrival may come before the seed's, and how late after the
/// travel time between them, seconds (timing errors).
const TRIPLET_SLACK_S: f64 = 0.05;

/// The sources (relative to the seed's station, at the origin) whose sound reaches the
/// stations at `p` later than the seed's station by `tau` seconds: the closed form in still
/// air, then [`NEWTON_STEPS`] Newton steps in `medium` (the wind shifts a 10 km path by up
/// to half a second). `det` is the determinant of `p`. At most two.
fn solve_triplet(
    medium: &Medium,
    p: [[f64; 2]; 2],
    tau: [f64; 2],
    det: f64,
) -> [Option<[f64; 2]>; 2] {
    let c = medium.speed;
    // |x − p_k| = r + c·τ_k and |x| = r give p_k·x = (|p_k|² − c²τ_k²)/2 − r·c·τ_k: x is
    // linear in r, x = u + r·v, and |x| = r is a quadratic in r.
    let rhs = |k: usize| (p[k][0].powi(2) + p[k][1].powi(2) - (c * tau[k]).powi(2)) / 2.0;
    let inverse = |b: [f64; 2]| {
        [
            (b[0] * p[1][1] - b[1] * p[0][1]) / det,
            (p[0][0] * b[1] - p[1][0] * b[0]) / det,
        ]
    };
    let u = inverse([rhs(0), rhs(1)]);
    let v = inverse([-c * tau[0], -c * tau[1]]);
    let qa = v[0] * v[0] + v[1] * v[1] - 1.0;
    let qb = 2.0 * (u[0] * v[0] + u[1] * v[1]);
    let qc = u[0] * u[0] + u[1] * u[1];
    let roots = if qa.abs() < 1e-12 {
        [(qb.abs() > 1e-12).then(|| -qc / qb), None]
    } else {
        let disc = qb * qb - 4.0 * qa * qc;
        if disc >= 0.0 {
            let sq = disc.sqrt();
            [Some((-qb + sq) / (2.0 * qa)), Some((-qb - sq) / (2.0 * qa))]
        } else {
            [None, None]
        }
    };
    roots.map(|root| {
        let r = root.filter(|r| *r >= 0.0)?;
        let mut x = [u[0] + r * v[0], u[1] + r * v[1]];
        for _ in 0..NEWTON_STEPS {
            x = newton_step(medium, p, tau, x)?;
        }
        Some(x)
    })
}

/// Enough for a metre in a wind of 10 m/s (the steps leave the wind out of the gradient,
/// so each cuts the error by about the wind over the speed of sound).
const NEWTON_STEPS: usize = 4;

/// One Newton step on the two travel-time differences in `medium`.
fn newton_step(medium: &Medium, p: [[f64; 2]; 2], tau: [f64; 2], x: [f64; 2]) -> Option<[f64; 2]> {
    // Travel time from x to a station at q, and its gradient with respect to x (the
    // effective speed's change with direction left out: the wind is small beside c).
    let time = |q: [f64; 2]| {
        let v = [q[0] - x[0], q[1] - x[1]];
        let d = v[0].hypot(v[1]).max(1.0);
        let c = medium.effective_along(v, d);
        (d / c, [-v[0] / (d * c), -v[1] / (d * c)])
    };
    let (t0, g0) = time([0.0, 0.0]);
    let (t1, g1) = time(p[0]);
    let (t2, g2) = time(p[1]);
    let f = [t1 - t0 - tau[0], t2 - t0 - tau[1]];
    let j = [
        [g1[0] - g0[0], g1[1] - g0[1]],
        [g2[0] - g0[0], g2[1] - g0[1]],
    ];
    let det = j[0][0] * j[1][1] - j[0][1] * j[1][0];
    if det.abs() < 1e-18 {
        return None;
    }
    let dx = (f[0] * j[1][1] - f[1] * j[0][1]) / det;
    let dy = (j[0][0] * f[1] - j[1][0] * f[0]) / det;
    Some([x[0] - dx, x[1] - dy])
}

/// Log-likelihood ratio: each sensor that heard the event adds ln(p/p_false), each sensor
/// in reach that was working (it reported something within five minutes) and did not hear
/// it adds ln(1 − p), where p is its detection probability at that range.
///
/// Where arrivals are dense (a barrage), a sensor often has some arrival within the
/// search's `tolerance` of any prediction: its chance of a false match is then the chance
/// of an arrival falling in that window at the rate the sensor reports around the event,
/// and hearing counts for that much less.
fn likelihood(
    index: &Index<'_>,
    kept: &[usize],
    location: &Location,
    nearby: &[usize],
    config: &Config,
    known_until: Option<f64>,
    tolerance: f64,
) -> f64 {
    let at = index.earth.local_xy(index.plane.centre, location.position);
    let heard: Vec<usize> = kept.iter().map(|&k| index.arrivals[k].station).collect();
    let r50 = config.detection_range_m;
    let p = |d: f64| 1.0 / (1.0 + ((d - r50) / (0.1 * r50)).exp());
    let mut score = 0.0;
    for &s in nearby {
        let d = dist(index.plane.xy[s], at);
        if d > config.reach_m {
            continue;
        }
        let pd = p(d).clamp(1e-6, 1.0 - 1e-6);
        // A sensor the sound cannot have reached yet has missed nothing (300 m/s: slower
        // than any air this side of −40 °C, so no sensor is charged too early).
        let due = location.origin_time + d / 300.0;
        if known_until.is_some_and(|k| due > k) && !heard.contains(&s) {
            continue;
        }
        if heard.contains(&s) {
            let expected = location.origin_time + d / 340.0;
            let times = &index.times[s];
            let around = times.partition_point(|&t| t < expected + DENSITY_WINDOW_S)
                - times.partition_point(|&t| t < expected - DENSITY_WINDOW_S);
            let rate = around as f64 / (2.0 * DENSITY_WINDOW_S);
            let window = 2.0 * (tolerance + 3.0 * index.sigma[s]);
            let chance = (1.0 - (-rate * window).exp()).max(config.false_arrival_probability);
            score += (pd / chance).ln();
        } else {
            let list = &index.by_station[s];
            let t = location.origin_time;
            let working = list
                .iter()
                .any(|&k| (index.arrivals[k].time - t).abs() < 300.0);
            if working {
                score += (1.0 - pd).ln();
            }
        }
    }
    score
}

/// Half the window over which a sensor's arrival rate is counted, seconds.
const DENSITY_WINDOW_S: f64 = 30.0;

fn dist2(a: [f64; 2], b: [f64; 2]) -> f64 {
    (a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)
}

fn dist(a: [f64; 2], b: [f64; 2]) -> f64 {
    dist2(a, b).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Gen(u64);
    impl Gen {
        fn unit(&mut self) -> f64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            ((self.0 >> 11) as f64 + 0.5) / (1u64 << 53) as f64
        }
        fn normal(&mut self) -> f64 {
            let (u, v) = (self.unit(), self.unit());
            (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
        }
    }

    #[test]
    fn the_seconds_index_finds_what_a_binary_search_finds() {
        let mut r = Gen(0x5eed_0001);
        // Three stations: a busy one, a sparse one with fractional start, an empty one.
        let mut busy: Vec<f64> = (0..500).map(|_| 12.25 + 300.0 * r.unit()).collect();
        busy.sort_by(f64::total_cmp);
        let sparse = vec![-3.7, -3.7, 40.0, 40.000_000_000_001, 299.5];
        let times = vec![busy, sparse, Vec::new()];
        let seconds = Seconds::new(&times);
        let mut queries: Vec<f64> = (0..5_000).map(|_| -20.0 + 360.0 * r.unit()).collect();
        // Exactly on arrivals and on the index's own second edges, and far outside.
        queries.extend(times.iter().flatten().copied());
        queries.extend((0..330).map(|k| -3.7 + f64::from(k)));
        queries.extend([f64::NEG_INFINITY, -1e9, 1e9, f64::INFINITY]);
        for (station, list) in times.iter().enumerate() {
            for &q in &queries {
                let mut at = seconds.first_at(station, q);
                assert!(at <= list.partition_point(|&t| t < q), "{station} {q}");
                while at < list.len() && list[at] < q {
                    at += 1;
                }
                assert_eq!(at, list.partition_point(|&t| t < q), "{station} {q}");
            }
        }
        // No arrivals at all.
        assert_eq!(Seconds::new(&[Vec::new()]).first_at(0, 5.0), 0);
    }

    #[test]
    fn the_best_nodes_need_the_lowest_count_among_the_best() {
        let mut best = Best::new(3, 5);
        assert_eq!(best.need(), 5);
        best.add(9);
        best.add(7);
        assert_eq!(best.need(), 5, "fewer than three nodes so far");
        best.add(6);
        assert_eq!(best.need(), 6);
        best.add(8);
        assert_eq!(best.need(), 7);
        best.add(8);
        assert_eq!(best.need(), 8, "ties at the lowest count are kept");
        best.add(12);
        assert_eq!(best.need(), 8);
    }

    /// A 4×4 grid of sensors 10 km apart, and rounds fired from `sources` at `times`, heard
    /// by every sensor within 25 km, with 5 ms timing noise; plus `false_fraction` false
    /// arrivals at random sensors and times.
    fn scene(
        earth: &Earth,
        rounds: &[(LonLat, f64)],
        false_fraction: f64,
        seed: u64,
    ) -> (Vec<Station>, Vec<Arrival>) {
        let centre = [37.5, 48.3];
        let stations: Vec<Station> = (0..16)
            .map(|k| Station {
                sensor: k as u32,
                position: earth.from_local_xy(
                    centre,
                    [
                        (k % 4) as f64 * 10_000.0 - 15_000.0,
                        (k / 4) as f64 * 10_000.0 - 15_000.0,
                    ],
                ),
            })
            .collect();
        let medium = Medium::standard();
        let mut g = Gen(seed);
        let mut arrivals = Vec::new();
        for (source, t) in rounds {
            for (s, station) in stations.iter().enumerate() {
                let (d, az, _) = earth.inverse_both(*source, station.position);
                if d <= 25_000.0 {
                    arrivals.push(Arrival {
                        id: 0,
                        station: s,
                        time: t + d / medium.effective(az) + 0.005 * g.normal(),
                        sigma_s: 0.005,
                        backazimuth: None,
                    });
                }
            }
        }
        let span = rounds.iter().map(|r| r.1).fold(0.0, f64::max) + 100.0;
        let n_false = (arrivals.len() as f64 * false_fraction).round() as usize;
        for _ in 0..n_false {
            arrivals.push(Arrival {
                id: 0,
                station: (g.unit() * 16.0) as usize % 16,
                time: g.unit() * span,
                sigma_s: 0.005,
                backazimuth: None,
            });
        }
        for (i, a) in arrivals.iter_mut().enumerate() {
            a.id = i as u64;
        }
        (stations, arrivals)
    }

    fn matched(earth: &Earth, rounds: &[(LonLat, f64)], events: &[Associated]) -> usize {
        rounds
            .iter()
            .filter(|(p, t)| {
                events.iter().any(|e| {
                    (e.location.origin_time - t).abs() < 0.5
                        && earth.distance(e.location.position, *p) < 1_000.0
                })
            })
            .count()
    }

    #[test]
    fn two_overlapping_barrages_are_told_apart() {
        let earth = Earth::default();
        let centre = [37.5, 48.3];
        let a = earth.from_local_xy(centre, [-4_000.0, 2_000.0]);
        let b = earth.from_local_xy(centre, [5_000.0, -3_000.0]);
        // 30 rounds from each, every 3 s, the second barrage 1.5 s out of step.
        let mut rounds = Vec::new();
        for k in 0..30 {
            rounds.push((a, 3.0 * k as f64));
            rounds.push((b, 1.5 + 3.0 * k as f64));
        }
        let (stations, arrivals) = scene(&earth, &rounds, 0.1, 42);
        let medium = |_: LonLat, _: f64| Propagation::prior(Medium::standard(), 0.0, 0.0);
        let events = associate(&earth, &stations, &arrivals, &medium, &Config::default());
        let found = matched(&earth, &rounds, &events);
        assert!(
            found >= 57,
            "{found} of 60 rounds found, {} events",
            events.len()
        );
        assert!(events.len() <= 62, "{} events for 60 rounds", events.len());
        for e in &events {
            assert!(e.arrivals.len() >= 5);
        }
    }

    /// Forms events one after the other as the fuser does: each seed in time order, first
    /// at the places located so far (`form_at`), else anywhere (`form`).
    fn form_in_order(
        earth: &Earth,
        stations: &[Station],
        arrivals: &[Arrival],
        dense: bool,
    ) -> Vec<Associated> {
        let medium = |_: LonLat, _: f64| Propagation::prior(Medium::standard(), 0.0, 0.0);
        let mut plane = Plane::new(earth, stations);
        let mut taken = vec![false; arrivals.len()];
        let mut order: Vec<usize> = (0..arrivals.len()).collect();
        order.sort_by(|&a, &b| arrivals[a].time.total_cmp(&arrivals[b].time));
        let known = arrivals.iter().map(|a| a.time).fold(0.0, f64::max);
        let mut events: Vec<Associated> = Vec::new();
        for seed in order {
            if taken[seed] {
                continue;
            }
            let places: Vec<LonLat> = events
                .iter()
                .rev()
                .take(4)
                .map(|e| e.location.position)
                .collect();
            let config = Config::default();
            let found = form_at(
                earth, &mut plane, stations, arrivals, &taken, seed, known, &medium, &config,
                &places,
            )
            .or_else(|| {
                form(
                    earth, &mut plane, stations, arrivals, &taken, seed, known, &medium, &config,
                    dense,
                )
            });
            if let Some(e) = found {
                for id in &e.arrivals {
                    taken[*id as usize] = true;
                }
                events.push(e);
            }
        }
        events
    }

    #[test]
    fn rounds_half_a_second_apart_from_one_launcher_are_told_apart_at_its_place() {
        let earth = Earth::default();
        let centre = [37.5, 48.3];
        let launcher = earth.from_local_xy(centre, [-3_000.0, 1_500.0]);
        // A salvo: 40 rockets in 20 s.
        let rounds: Vec<(LonLat, f64)> = (0..40).map(|k| (launcher, 0.5 * k as f64)).collect();
        let (stations, arrivals) = scene(&earth, &rounds, 0.1, 7);
        let at_places = form_in_order(&earth, &stations, &arrivals, false);
        let found = matched(&earth, &rounds, &at_places);
        assert!(
            found >= 38,
            "{found} of 40 rounds, {} events",
            at_places.len()
        );
        assert!(at_places.len() <= 41, "{} events", at_places.len());
        for e in &at_places {
            assert!(earth.distance(e.location.position, launcher) < 100.0);
        }
        // Every round after the first was found at the place.
        assert!(at_places.iter().skip(1).all(|e| e.arrivals.len() >= 8));
    }

    #[test]
    fn a_triplet_of_arrivals_fixes_the_source_in_the_wind() {
        let medium = Medium::from_weather(10.0, 8.0, 250.0);
        let p = [[9_000.0, 2_000.0], [-1_500.0, 11_000.0]];
        let time = |from: [f64; 2], to: [f64; 2]| {
            let (v, d2) = offset(from, to);
            d2.sqrt() / medium.effective_along(v, d2.sqrt())
        };
        for source in [
            [3_000.0, -4_000.0],
            [-6_000.0, -2_500.0],
            [2_500.0, 3_000.0],
        ] {
            let t0 = time(source, [0.0, 0.0]);
            let tau = [time(source, p[0]) - t0, time(source, p[1]) - t0];
            let det = p[0][0] * p[1][1] - p[0][1] * p[1][0];
            let solutions = solve_triplet(&medium, p, tau, det);
            let best = solutions
                .iter()
                .flatten()
                .map(|g| dist(*g, source))
                .fold(f64::INFINITY, f64::min);
            assert!(best < 1.0, "{source:?}: {solutions:?}");
        }
    }

    #[test]
    fn four_batteries_firing_at_once_are_told_apart() {
        let earth = Earth::default();
        let centre = [37.5, 48.3];
        let batteries = [
            [-6_000.0, 4_000.0],
            [7_000.0, 3_000.0],
            [-2_000.0, -7_000.0],
            [4_000.0, -3_000.0],
        ]
        .map(|xy| earth.from_local_xy(centre, xy));
        // Each fires 30 rounds 1-1.5 s apart, the four within 3 s of each other: three
        // rounds a second over the network, every sensor hearing most of them, and a
        // quarter as many false arrivals besides.
        let mut rounds = Vec::new();
        let mut g = Gen(9);
        for (b, place) in batteries.iter().enumerate() {
            let mut t = b as f64 * 0.8;
            for _ in 0..30 {
                rounds.push((*place, t));
                t += 1.0 + 0.5 * g.unit();
            }
        }
        let (stations, arrivals) = scene(&earth, &rounds, 0.25, 11);
        let events = form_in_order(&earth, &stations, &arrivals, true);
        let found = matched(&earth, &rounds, &events);
        assert!(
            found >= 114,
            "{found} of 120 rounds, {} events",
            events.len()
        );
        assert!(
            events.len() <= 126,
            "{} events for 120 rounds",
            events.len()
        );
        let elsewhere = events
            .iter()
            .filter(|e| {
                batteries
                    .iter()
                    .all(|b| earth.distance(e.location.position, *b) > 100.0)
            })
            .count();
        assert!(elsewhere <= 3, "{elsewhere} events away from every battery");
    }

    #[test]
    fn one_sensor_in_many_places_counts_once() {
        let earth = Earth::default();
        let centre = [37.5, 48.3];
        let rounds: Vec<(LonLat, f64)> = (0..5)
            .map(|k| {
                (
                    earth.from_local_xy(centre, [1_000.0 * k as f64, 500.0]),
                    9.0 * k as f64,
                )
            })
            .collect();
        let (mut stations, arrivals) = scene(&earth, &rounds, 0.0, 5);
        let medium = |_: LonLat, _: f64| Propagation::prior(Medium::standard(), 0.0, 0.0);
        let honest = associate(&earth, &stations, &arrivals, &medium, &Config::default());
        assert_eq!(honest.len(), 5);
        // The same 16 places reported by only four sensors: no event rests on five.
        for (k, s) in stations.iter_mut().enumerate() {
            s.sensor = (k % 4) as u32;
        }
        let faked = associate(&earth, &stations, &arrivals, &medium, &Config::default());
        assert!(faked.is_empty(), "{} events from four sensors", faked.len());
    }

    #[test]
    fn a_sensor_that_is_out_does_not_blind_its_surroundings() {
        let earth = Earth::default();
        let centre = [37.5, 48.3];
        // 800 m from sensor 5 (at −5 km, −5 km); every other sensor is 9 km or more away.
        let source = earth.from_local_xy(centre, [-5_600.0, -5_500.0]);
        let rounds: Vec<(LonLat, f64)> = (0..5).map(|k| (source, 20.0 * k as f64)).collect();
        let (stations, mut arrivals) = scene(&earth, &rounds, 0.0, 11);
        let medium = |_: LonLat, _: f64| Propagation::prior(Medium::standard(), 0.0, 0.0);
        let all = associate(&earth, &stations, &arrivals, &medium, &Config::default());
        assert_eq!(matched(&earth, &rounds, &all), 5);
        // Sensor 5 is out: it reports nothing.
        arrivals.retain(|a| a.station != 5);
        let without = associate(&earth, &stations, &arrivals, &medium, &Config::default());
        assert_eq!(
            matched(&earth, &rounds, &without),
            5,
            "{} events without the nearest sensor",
            without.len()
        );
    }

    #[test]
    fn false_arrivals_alone_make_no_event() {
        let earth = Earth::default();
        let (stations, mut arrivals) = scene(&earth, &[], 0.0, 7);
        let mut g = Gen(99);
        for i in 0..300 {
            arrivals.push(Arrival {
                id: i,
                station: (g.unit() * 16.0) as usize % 16,
                time: g.unit() * 600.0,
                sigma_s: 0.005,
                backazimuth: None,
            });
        }
        let medium = |_: LonLat, _: f64| Propagation::prior(Medium::standard(), 0.0, 0.0);
        let events = associate(&earth, &stations, &arrivals, &medium, &Config::default());
        assert!(events.is_empty(), "{} events from noise", events.len());
    }

    #[test]
    fn association_does_not_depend_on_input_order() {
        let earth = Earth::default();
        let centre = [37.5, 48.3];
        let rounds: Vec<(LonLat, f64)> = (0..10)
            .map(|k| {
                (
                    earth.from_local_xy(centre, [1_000.0 * k as f64, -2_000.0]),
                    7.0 * k as f64,
                )
            })
            .collect();
        let (stations, arrivals) = scene(&earth, &rounds, 0.1, 3);
        let medium = |_: LonLat, _: f64| Propagation::prior(Medium::standard(), 0.0, 0.0);
        let forward = associate(&earth, &stations, &arrivals, &medium, &Config::default());
        let mut reversed = arrivals.clone();
        reversed.reverse();
        let backward = associate(&earth, &stations, &reversed, &medium, &Config::default());
        assert_eq!(forward, backward);
        assert_eq!(matched(&earth, &rounds, &forward), 10);
    }
}
