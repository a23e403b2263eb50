//! The end of a simulation: the observations in arrival order, numbered and signed, and the
//! ground truth linked to them.

use truce_model::{Envelope, OBSERVATION_PAYLOAD_TYPE, Position, Timestamp};

use super::{Draft, Engine, EventDraft, Owner, Payload, SimSensor, Simulation};
use crate::truth::{
    Truth, TruthDetection, TruthEvent, TruthLocalWeather, TruthMetReport, TruthSensorFault,
    TruthWeather, TruthWeatherModel,
};

/// The signed observations and what each is linked to.
struct Signed {
    observations: Vec<Vec<u8>>,
    kinds: Vec<&'static str>,
    /// Per event: the positions of its observations.
    linked: Vec<Vec<usize>>,
    false_arrivals: Vec<usize>,
    /// Per array, per burst: the positions of its picks.
    bursts: Vec<Vec<Vec<usize>>>,
}

/// Numbers each sensor's drafts from 1 (in the order given) and signs them.
fn sign(drafts: &[Draft], sensors: &[SimSensor], events: usize, arrays: usize) -> Signed {
    let mut seqs = vec![0u64; sensors.len()];
    let mut out = Signed {
        observations: Vec::with_capacity(drafts.len()),
        kinds: Vec::with_capacity(drafts.len()),
        linked: vec![Vec::new(); events],
        false_arrivals: Vec::new(),
        bursts: vec![Vec::new(); arrays],
    };
    for (index, d) in drafts.iter().enumerate() {
        seqs[d.sensor] += 1;
        let sensor = &sensors[d.sensor];
        let payload = Payload {
            sensor: sensor.id(),
            seq: seqs[d.sensor],
            observed_at: Timestamp::from_unix_nanos(d.observed_ns),
            kind: d.kind,
            data: &d.data,
        };
        let bytes = serde_json::to_vec(&payload).unwrap_or_default();
        let envelope = Envelope::signed(OBSERVATION_PAYLOAD_TYPE, &bytes, sensor.id(), |m| {
            sensor.key.sign_bytes(m)
        });
        out.observations
            .push(serde_json::to_vec(&envelope).unwrap_or_default());
        out.kinds.push(d.kind);
        match d.owner {
            Owner::Event(e) => out.linked[e].push(index),
            Owner::False => out.false_arrivals.push(index),
            Owner::Burst(a, b) => {
                out.false_arrivals.push(index);
                let per_burst = &mut out.bursts[a];
                if per_burst.len() <= b {
                    per_burst.resize(b + 1, Vec::new());
                }
                per_burst[b].push(index);
            }
            Owner::Unlinked => {}
        }
    }
    out
}

impl Engine<'_> {
    /// Orders the observations as they arrive, numbers each sensor's from 1, signs them,
    /// and links the truth to their positions.
    pub(super) fn finish(mut self) -> Simulation {
        // Arrival order; ties by sensor then generation order (the sort is stable).
        self.drafts.sort_by_key(|d| (d.observed_ns, d.sensor));
        let arrays = &self.scenario.arrays;
        let signed = sign(&self.drafts, &self.sensors, self.events.len(), arrays.len());
        let mut truth_events: Vec<(i64, TruthEvent)> = self
            .events
            .iter()
            .zip(&signed.linked)
            .map(|(e, observations)| (e.time_ns, self.truth_event(e, observations.clone())))
            .collect();
        truth_events.sort_by_key(|(t, _)| *t);
        let sensor_faults = arrays
            .iter()
            .enumerate()
            .filter_map(|(i, a)| {
                let registered = self.sensors[i].registration.position.unwrap_or(a.position);
                TruthSensorFault::of(a, registered, &signed.bursts[i])
            })
            .collect();
        let sensor_detection = arrays
            .iter()
            .filter(|a| a.detection_probability < 1.0)
            .map(|a| TruthDetection {
                sensor: a.id.clone(),
                detection_probability: a.detection_probability,
            })
            .collect();
        let h = &self.scenario.file.scenario;
        let truth = Truth {
            scenario: h.name.clone(),
            seed: self.seed,
            start: self.scenario.start,
            duration_s: h.duration_s,
            weather: self.start_weather(),
            weather_model: TruthWeatherModel::of(&self.model),
            met_report: self.met_report_truth(),
            events: truth_events.into_iter().map(|(_, e)| e).collect(),
            false_arrivals: signed.false_arrivals,
            sensor_faults,
            sensor_detection,
        };
        Simulation {
            sensors: self.sensors,
            truth,
            observations: signed.observations,
            kinds: signed.kinds,
        }
    }

    /// The weather at the start: `[weather]`, or the model's at time 0 at its reference.
    fn start_weather(&self) -> TruthWeather {
        let w = if self.model.is_uniform() {
            self.weather
        } else {
            self.model.at_time(0.0).weather()
        };
        TruthWeather {
            temperature_c: w.temperature_c,
            wind_speed_mps: w.wind_speed_mps,
            wind_from_deg: w.wind_from_deg,
            sound_speed_mps: w.sound_speed_mps(),
        }
    }

    fn truth_event(&self, e: &EventDraft, observations: Vec<usize>) -> TruthEvent {
        let side = |p: &Position| self.agreement.place(p).side;
        let launch = e.launch.map(|l| &self.events[l]);
        let mut heard: Vec<usize> = observations
            .iter()
            .map(|o| self.drafts[*o].sensor)
            .collect();
        heard.sort_unstable();
        heard.dedup();
        let acoustic = matches!(e.event_type, "launch" | "impact");
        let weather = (acoustic && !self.model.is_uniform()).then(|| {
            let t_s = (e.time_ns - self.start_ns) as f64 / 1e9;
            TruthLocalWeather::from(self.model.at(&self.geodesic, t_s, &e.position))
        });
        TruthEvent {
            id: e.id.clone(),
            event_type: e.event_type,
            time: Timestamp::from_unix_nanos(e.time_ns),
            position: e.position,
            party: side(&e.position),
            fired_by: launch.and_then(|l| side(&l.position)),
            weapon_class: e.weapon_class,
            object_class: e.object_class.clone(),
            launch: launch.map(|l| l.id.clone()),
            site: e.site.clone(),
            weather,
            heard_by: heard.len(),
            observations,
        }
    }

    /// The misreporting stations and the positions of their reports.
    fn met_report_truth(&self) -> Option<TruthMetReport> {
        let spec = self.scenario.file.met_report.as_ref()?;
        let stations = &self.scenario.file.network.met_sensors;
        let faulty: Vec<usize> = (0..stations.len())
            .filter(|m| spec.applies_to(&stations[*m].id))
            .collect();
        let observations = self
            .drafts
            .iter()
            .enumerate()
            .filter(|(_, d)| {
                d.kind == "met.surface" && faulty.iter().any(|m| self.met_base + m == d.sensor)
            })
            .map(|(i, _)| i)
            .collect();
        let ids = faulty.iter().map(|m| stations[*m].id.clone()).collect();
        Some(TruthMetReport::new(spec, ids, observations))
    }
}
