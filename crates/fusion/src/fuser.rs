//! Fusion over a growing log, one entry at a time, with work bounded by the rate of new
//! arrivals rather than the size of the log.
//!
//! Arrivals are associated in *slots* of origin time (`slot_s` wide). Slot `k` seeks the
//! sources whose origin falls in `[kB, (k+1)B)` among the arrivals timed from `kB` to
//! `(k+1)B + W`, where `W` is the longest travel time within a sensor's reach; arrivals
//! that earlier slots' events took are not offered again. Slots are taken in order, so an
//! earlier source claims its arrivals first, as in one pass over the whole log.
//!
//! A slot *closes* once the log's watermark (the latest `observed_at` logged so far) passes
//! its end by `W` plus `lateness_s`: its events are then final and never computed again. An
//! arrival logged after every slot it could belong to has closed is *late*: it is kept in
//! the log and counted, but no longer moves an event. Slots still open are associated again
//! from the log as it stands whenever events are asked for (and reused while their inputs
//! are unchanged), so the events for a log prefix are a pure function of that prefix: the
//! live server, which pushes entries as they are logged, and a replay, which pushes them
//! all and asks once, get the same events for the same prefix.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use sha2::{Digest, Sha256};
use truce_agreement::{Earth, LonLat};
use truce_model::{
    Event, EventType, ObservationData, Position, Quality, SensorRegistration, SignalClass,
    Timestamp,
};

use crate::associate::{self, Arrival, Associated, Plane, Search, Station};
use crate::locate::{Pick, cramer_rao_m, ellipse_90};
use crate::physics::Medium;
use crate::pipeline::{FusedEvent, FusionConfig, Logged, event_id, finish};

/// One logged arrival, as fusion keeps it.
#[derive(Clone, Debug)]
struct Logged1 {
    index: u64,
    time_ns: i64,
    station: usize,
    sigma_s: f64,
    backazimuth: Option<(f64, f64)>,
    class: SignalClass,
    operator: String,
    modality: &'static str,
}

/// A weather report from the log.
#[derive(Clone, Debug)]
struct MetReport {
    sensor: String,
    position: LonLat,
    from_ns: i64,
    medium: Medium,
}

/// What a slot found, and a fingerprint of what it was found from.
#[derive(Clone, Debug)]
struct SlotResult {
    fingerprint: [u8; 32],
    events: Vec<FusedEvent>,
    taken: Vec<u64>,
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
    station_of: BTreeMap<String, usize>,
    sensor_numbers: BTreeMap<String, u32>,
    plane: Option<Plane>,
    arrivals: Vec<Logged1>,
    /// (arrival time, log index) → position in `arrivals`.
    by_time: BTreeMap<(i64, u64), usize>,
    met: Vec<MetReport>,
    watermark_ns: Option<i64>,
    /// The first slot not closed; `None` before any closed.
    next_slot: Option<i64>,
    closed: Vec<FusedEvent>,
    /// Arrivals taken by the events of closed slots.
    taken: HashSet<u64>,
    late: usize,
    open: BTreeMap<i64, SlotResult>,
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
            station_of: BTreeMap::new(),
            sensor_numbers: BTreeMap::new(),
            plane: None,
            arrivals: Vec::new(),
            by_time: BTreeMap::new(),
            met: Vec::new(),
            watermark_ns: None,
            next_slot: None,
            closed: Vec::new(),
            taken: HashSet::new(),
            late: 0,
            open: BTreeMap::new(),
        }
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

    /// Observations pushed so far.
    pub fn observations(&self) -> usize {
        self.observations
    }

    /// Arrivals logged after every slot they could belong to had closed.
    pub fn late(&self) -> usize {
        self.late
    }

    /// The latest `observed_at` logged so far.
    pub fn watermark(&self) -> Option<Timestamp> {
        self.watermark_ns.map(Timestamp::from_unix_nanos)
    }

    fn slot_ns(&self) -> i128 {
        (self.config.slot_s * 1e9).round().max(1.0) as i128
    }

    fn travel_ns(&self) -> i128 {
        (self.config.association.reach_m / self.config.slowest_sound_mps * 1e9).ceil() as i128
    }

    fn margin_ns(&self) -> i128 {
        (self.config.slot_margin_s * 1e9).round().max(0.0) as i128
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
                    let operator = registration.map_or(String::new(), |r| r.operator.clone());
                    let modality = match o.kind.split('.').next() {
                        Some("seismic") => "seismic",
                        Some("infrasound") => "infrasound",
                        _ => "acoustic",
                    };
                    let station = self.station(&o.sensor, [p.lon, p.lat]);
                    let record = Logged1 {
                        index: logged.index,
                        time_ns: arrival_time.unix_nanos(),
                        station,
                        sigma_s: *arrival_sigma_s,
                        backazimuth,
                        class: *class,
                        operator,
                        modality,
                    };
                    if self.next_slot.is_some_and(|k| {
                        i128::from(record.time_ns) < i128::from(k) * self.slot_ns()
                    }) {
                        self.late += 1;
                    }
                    self.by_time
                        .insert((record.time_ns, record.index), self.arrivals.len());
                    self.arrivals.push(record);
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
            self.close_slots();
        }
    }

    /// The station for a sensor at a place: a moving sensor is a new station wherever it
    /// reports from, but counts as one sensor.
    fn station(&mut self, sensor: &str, p: LonLat) -> usize {
        let key = format!("{sensor}@{:.6},{:.6}", p[0], p[1]);
        if let Some(&s) = self.station_of.get(&key) {
            return s;
        }
        let next = self.sensor_numbers.len() as u32;
        let number = *self
            .sensor_numbers
            .entry(sensor.to_string())
            .or_insert(next);
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
        self.station_of.insert(key, self.stations.len() - 1);
        self.open.clear();
        self.stations.len() - 1
    }

    /// The first slot at or after `from` that any arrival belongs to.
    fn first_slot_from(&self, from: Option<i64>) -> Option<i64> {
        let b = self.slot_ns();
        let start = from.map_or(i64::MIN, |k| clamp(i128::from(k) * b - self.margin_ns()));
        let (&(t, _), _) = self.by_time.range((start, 0)..).next()?;
        // Slot k holds the arrivals timed in [kB − M, (k+1)B + M + W]: the first holding t
        // is ⌈(t − W − M − B) / B⌉.
        let lowest = -(-(i128::from(t) - self.travel_ns() - self.margin_ns() - b)).div_euclid(b);
        let k = match from {
            Some(f) => lowest.max(i128::from(f)),
            None => lowest,
        };
        Some(clamp(k))
    }

    fn close_slots(&mut self) {
        let Some(watermark) = self.watermark_ns else {
            return;
        };
        let b = self.slot_ns();
        while let Some(k) = self.first_slot_from(self.next_slot) {
            let closes_at =
                (i128::from(k) + 1) * b + self.margin_ns() + self.travel_ns() + self.lateness_ns();
            if i128::from(watermark) < closes_at {
                break;
            }
            let result = match self.open.remove(&k) {
                Some(r) if r.fingerprint == self.fingerprint(k, &[]) => r,
                _ => self.compute_slot(k, &[]),
            };
            self.taken.extend(result.taken.iter().copied());
            self.closed.extend(result.events);
            self.next_slot = Some(k + 1);
            self.open = self.open.split_off(&(k + 1));
        }
    }

    /// The positions in `arrivals` of slot `k`'s inputs, in time order.
    fn inputs(&self, k: i64) -> impl Iterator<Item = usize> + '_ {
        let b = self.slot_ns();
        let margin = self.margin_ns();
        let from = clamp(i128::from(k) * b - margin);
        let to = clamp((i128::from(k) + 1) * b + margin + self.travel_ns());
        self.by_time
            .range((from, 0)..=(to, u64::MAX))
            .map(|(_, &i)| i)
    }

    fn is_taken(&self, index: u64, extra: &[u64]) -> bool {
        self.taken.contains(&index) || extra.contains(&index)
    }

    fn fingerprint(&self, k: i64, extra: &[u64]) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(k.to_be_bytes());
        h.update((self.stations.len() as u64).to_be_bytes());
        h.update((self.met.len() as u64).to_be_bytes());
        for i in self.inputs(k) {
            let index = self.arrivals[i].index;
            h.update(index.to_be_bytes());
            h.update([u8::from(self.is_taken(index, extra))]);
        }
        h.finalize().into()
    }

    /// Associates slot `k` from the arrivals logged so far, `extra` being arrivals taken by
    /// open slots before it.
    fn compute_slot(&mut self, k: i64, extra: &[u64]) -> SlotResult {
        let fingerprint = self.fingerprint(k, extra);
        let reference = i128::from(k) * self.slot_ns();
        let seconds = |t_ns: i64| (i128::from(t_ns) - reference) as f64 * 1e-9;
        let inputs: Vec<usize> = self.inputs(k).collect();
        let arrivals: Vec<Arrival> = inputs
            .iter()
            .map(|&i| {
                let a = &self.arrivals[i];
                Arrival {
                    id: a.index,
                    station: a.station,
                    time: seconds(a.time_ns),
                    sigma_s: a.sigma_s,
                    backazimuth: a.backazimuth,
                }
            })
            .collect();
        let taken: Vec<bool> = inputs
            .iter()
            .map(|&i| self.is_taken(self.arrivals[i].index, extra))
            .collect();
        let met = &self.met;
        let earth = &self.earth;
        let radius = self.config.met_radius_m;
        let medium_at = |p: LonLat, t: f64| {
            let t_ns = clamp(reference + (t * 1e9).round() as i128);
            medium_at(earth, met, radius, p, t_ns)
        };
        // Sources are sought a margin beyond the slot on both sides, so that one just past
        // an edge takes its arrivals from a wrong one inside, as it would in one pass over
        // the log; only those inside are kept.
        let margin = self.config.slot_margin_s;
        let search = Search {
            taken: &taken,
            origins: Some([-margin, self.config.slot_s + margin]),
        };
        let Some(mut plane) = self.plane.take() else {
            // No station yet, so no arrival either.
            return SlotResult {
                fingerprint,
                events: Vec::new(),
                taken: Vec::new(),
            };
        };
        let found = associate::associate_in(
            &self.earth,
            &mut plane,
            &self.stations,
            &arrivals,
            &search,
            &medium_at,
            &self.config.association,
        );
        self.plane = Some(plane);
        let slot_s = self.config.slot_s;
        let found: Vec<Associated> = found
            .into_iter()
            .filter(|a| (0.0..slot_s).contains(&a.location.origin_time))
            .collect();
        let by_id: BTreeMap<u64, &Logged1> = inputs
            .iter()
            .map(|&i| (self.arrivals[i].index, &self.arrivals[i]))
            .collect();
        let at = |s: f64| Timestamp::from_unix_nanos(clamp(reference + (s * 1e9).round() as i128));
        let events = found
            .iter()
            .map(|a| {
                let medium = medium_at(a.location.position, a.location.origin_time);
                self.event_of(a, &by_id, &medium, &at, &seconds)
            })
            .collect();
        SlotResult {
            fingerprint,
            events,
            taken: found
                .iter()
                .flat_map(|a| a.arrivals.iter().copied())
                .collect(),
        }
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
                operators.insert(arrival.operator.clone());
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

    /// The events of the log so far: closed slots as they were closed, open slots associated
    /// now, then launch–impact pairs, presence tracks, corroboration and fires; ordered by
    /// origin time and id.
    pub fn events(&mut self) -> Vec<FusedEvent> {
        let mut events = self.closed.clone();
        let mut extra: Vec<u64> = Vec::new();
        let mut k = self.first_slot_from(self.next_slot);
        while let Some(slot) = k {
            let fingerprint = self.fingerprint(slot, &extra);
            let result = match self.open.get(&slot) {
                Some(r) if r.fingerprint == fingerprint => r.clone(),
                _ => {
                    let r = self.compute_slot(slot, &extra);
                    self.open.insert(slot, r.clone());
                    r
                }
            };
            extra.extend(result.taken.iter().copied());
            events.extend(result.events);
            k = self.first_slot_from(Some(slot + 1));
        }
        let registry: BTreeMap<&str, &SensorRegistration> =
            self.registry.iter().map(|(k, v)| (k.as_str(), v)).collect();
        finish(&self.earth, &self.config, &registry, &self.others, events)
    }
}

/// Per met sensor, its latest report at or before `t_ns`; then the nearest sensor's within
/// `radius`; else the standard atmosphere.
fn medium_at(earth: &Earth, met: &[MetReport], radius: f64, p: LonLat, t_ns: i64) -> Medium {
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
        .map_or(Medium::standard(), |(_, r)| r.medium)
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
        // Twenty rounds 17 s apart from three places: some fall near slot edges.
        (0..20)
            .map(|n| {
                let place = [[-4_000.0, 3_000.0], [6_000.0, -2_000.0], [1_000.0, 8_000.0]][n % 3];
                (place, 5.0 + 17.0 * n as f64)
            })
            .collect()
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
    fn every_round_is_found_once_across_slots() {
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
    fn a_closed_slot_is_final_and_a_late_arrival_is_counted() {
        let rounds = rounds();
        let (registry, mut observations) = scene(&rounds);
        // Weather ten minutes after the last round moves the watermark past every slot.
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
        observations.push(met);
        let mut fuser = Fuser::new(FusionConfig::default());
        feed(&mut fuser, &registry, &observations);
        let before = fuser.events();
        assert_eq!(before.len(), rounds.len());
        assert_eq!(fuser.late(), 0);
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
