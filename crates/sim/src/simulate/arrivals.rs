//! What the arrays hear: the arrivals of every launch and impact, false arrivals, and the
//! weather stations' reports.

use truce_model::{Position, Timestamp};

use super::{ArrivalData, Data, Draft, Engine, MetData, Owner, round, seconds_to_ns};
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
        let travel = physics::ray_travel_time_s(&ray, &self.weather);
        let true_ns = time_ns + seconds_to_ns(travel);
        if array.is_out((true_ns - self.start_ns) as f64 / 1e9) {
            return None;
        }
        if u >= physics::detection_probability(ray.distance_m, array.detection_range_m) {
            return None;
        }
        let reported = true_ns + seconds_to_ns(array.clock_offset_s + array.timing_sigma_s * pick);
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

    /// Weather reports: every interval from the start.
    pub(super) fn met(&mut self) {
        let net = &self.scenario.file.network;
        let duration = self.scenario.file.scenario.duration_s;
        let w = self.weather;
        for (m, met) in net.met_sensors.iter().enumerate() {
            let mut k = 0u32;
            loop {
                let t = f64::from(k) * met.interval_s;
                if t > duration {
                    break;
                }
                k += 1;
                self.drafts.push(Draft {
                    sensor: self.met_base + m,
                    observed_ns: self.at(t),
                    kind: "met.surface",
                    data: Data::Met(MetData {
                        temperature_c: w.temperature_c,
                        wind_speed_mps: w.wind_speed_mps,
                        wind_from_deg: w.wind_from_deg,
                    }),
                    owner: Owner::Unlinked,
                });
            }
        }
    }
}
