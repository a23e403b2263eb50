//! What the arrays hear: the arrivals of every launch and impact, false arrivals, and the
//! false picks of faulty arrays' bursts.

use truce_model::{Position, Timestamp};

use super::{ArrivalData, Data, Draft, Engine, Owner, round, seconds_to_ns};
use crate::physics;
use crate::rng::Rng;
use crate::scenario::{ArraySensor, FalseClass};

impl Engine<'_> {
    /// The arrivals of every launch and impact at every array.
    pub(super) fn arrivals(&mut self) {
        let arrays = &self.scenario.arrays;
        for e in 0..self.events.len() {
            let event = &self.events[e];
            let class = match event.event_type {
                "launch" => "launch",
                "impact" => "impact",
                _ => continue,
            };
            let mut rng = Rng::stream(self.seed, &event.id);
            let (source, time_ns) = (event.position, event.time_ns);
            for (s, array) in arrays.iter().enumerate() {
                // A fixed number of draws per sensor, heard or not.
                let (u, pick, backazimuth_noise, snr) =
                    (rng.unit(), rng.normal(), rng.normal(), rng.normal());
                if let Some(draft) = self.arrival(
                    array,
                    &source,
                    time_ns,
                    class,
                    [u, pick, backazimuth_noise, snr],
                ) {
                    self.drafts.push(Draft {
                        sensor: s,
                        owner: Owner::Event(e),
                        ..draft
                    });
                }
            }
        }
    }

    /// The arrival of a signal from `source` at `array`, if it is heard.
    fn arrival(
        &self,
        array: &ArraySensor,
        source: &Position,
        time_ns: i64,
        class: &'static str,
        [u, pick, backazimuth_noise, snr]: [f64; 4],
    ) -> Option<Draft> {
        let ray = physics::ray(&self.geodesic, source, &array.position);
        let emitted_s = (time_ns - self.start_ns) as f64 / 1e9;
        let travel =
            self.model
                .travel_time_s(&self.geodesic, &ray, source, &array.position, emitted_s);
        let true_ns = time_ns + seconds_to_ns(travel);
        let arrived_s = (true_ns - self.start_ns) as f64 / 1e9;
        if array.is_out(arrived_s) {
            return None;
        }
        let p = array.detection_probability
            * physics::detection_probability(ray.distance_m, array.detection_range_m);
        if u >= p {
            return None;
        }
        let reported =
            true_ns + seconds_to_ns(array.clock_error_s(arrived_s) + array.timing_sigma_s * pick);
        let backazimuth_deg = array.backazimuth_sigma_deg.map(|sigma| {
            let b = physics::backazimuth_deg(&self.geodesic, &array.position, source);
            round(physics::wrap_degrees(b + sigma * backazimuth_noise), 2) % 360.0
        });
        let snr_db = 10.0 + 20.0 * (array.detection_range_m / ray.distance_m.max(1.0)).log10();
        Some(Draft {
            sensor: 0,
            observed_ns: reported,
            kind: array.kind.observation_kind(),
            data: Data::Arrival(ArrivalData {
                arrival_time: Timestamp::from_unix_nanos(reported),
                arrival_sigma_s: array.timing_sigma_s,
                class,
                backazimuth_deg,
                backazimuth_sigma_deg: array.backazimuth_sigma_deg,
                snr: round((snr_db + 2.0 * snr).clamp(0.0, 60.0), 1),
            }),
            owner: Owner::Unlinked,
        })
    }

    /// Picks that belong to no event: at random arrays and uniform random times.
    pub(super) fn false_arrivals(&mut self) {
        let f = self.scenario.file.false_arrivals;
        let arrays = &self.scenario.arrays;
        let true_arrivals = self
            .drafts
            .iter()
            .filter(|d| d.kind.ends_with(".arrival"))
            .count();
        let n = (f.fraction * true_arrivals as f64).round() as usize;
        if n == 0 || arrays.is_empty() {
            return;
        }
        let duration = self.scenario.file.scenario.duration_s;
        let mut rng = Rng::stream(self.seed, "false-arrivals");
        for _ in 0..n {
            // An array that is up at that time (give up on one that is always down).
            let mut pick = None;
            for _ in 0..100 {
                let s = rng.below(arrays.len());
                let t = rng.uniform(0.0, duration);
                if !arrays[s].is_out(t) {
                    pick = Some((s, t));
                    break;
                }
            }
            let Some((s, t)) = pick else { continue };
            let array = &arrays[s];
            let class = match f.class {
                FalseClass::Unknown => "unknown",
                FalseClass::Random => ["launch", "impact", "unknown"][rng.below(3)],
            };
            let random_backazimuth = rng.uniform(0.0, 360.0);
            let snr = rng.uniform(1.0, 8.0);
            let reported = self.at(t);
            self.drafts.push(Draft {
                sensor: s,
                observed_ns: reported,
                kind: array.kind.observation_kind(),
                data: Data::Arrival(ArrivalData {
                    arrival_time: Timestamp::from_unix_nanos(reported),
                    arrival_sigma_s: array.timing_sigma_s,
                    class,
                    backazimuth_deg: array
                        .backazimuth_sigma_deg
                        .map(|_| round(random_backazimuth, 2) % 360.0),
                    backazimuth_sigma_deg: array.backazimuth_sigma_deg,
                    snr: round(snr, 1),
                }),
                owner: Owner::False,
            });
        }
    }

    /// The false picks of each array's bursts: `rate × width` (rounded) at uniform random
    /// times in each window, none while the array is out; each array draws from its own
    /// stream, so that bursts leave everything else unchanged.
    pub(super) fn false_bursts(&mut self) {
        let arrays = &self.scenario.arrays;
        let class = self.scenario.file.false_arrivals.class;
        for (s, array) in arrays.iter().enumerate() {
            if array.false_bursts.is_empty() {
                continue;
            }
            let mut rng = Rng::stream(self.seed, &format!("false-bursts/{}", array.id));
            for (b, burst) in array.false_bursts.iter().enumerate() {
                for _ in 0..burst.count() {
                    let t = rng.uniform(burst.from_s, burst.until_s);
                    let class = match class {
                        FalseClass::Unknown => "unknown",
                        FalseClass::Random => ["launch", "impact", "unknown"][rng.below(3)],
                    };
                    let random_backazimuth = rng.uniform(0.0, 360.0);
                    let snr = rng.uniform(1.0, 8.0);
                    if array.is_out(t) {
                        continue;
                    }
                    let reported = self.at(t);
                    self.drafts.push(Draft {
                        sensor: s,
                        observed_ns: reported,
                        kind: array.kind.observation_kind(),
                        data: Data::Arrival(ArrivalData {
                            arrival_time: Timestamp::from_unix_nanos(reported),
                            arrival_sigma_s: array.timing_sigma_s,
                            class,
                            backazimuth_deg: array
                                .backazimuth_sigma_deg
                                .map(|_| round(random_backazimuth, 2) % 360.0),
                            backazimuth_sigma_deg: array.backazimuth_sigma_deg,
                            snr: round(snr, 1),
                        }),
                        owner: Owner::Burst(s, b),
                    });
                }
            }
        }
    }
}
