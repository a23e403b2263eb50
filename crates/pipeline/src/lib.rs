//! From a log's entries to events, findings and their digest. The server runs this on its
//! own log as it grows ([`Pipeline`], entry by entry); `truce replay` runs it on a log
//! fetched and checked against a signed checkpoint ([`run`], all at once). Both must get
//! the same digest for the same entries: everything here is a pure function of the entries
//! and the agreement, whichever way they are fed.

pub mod incidents;

use std::collections::HashMap;

use sha2::{Digest, Sha256};
use truce_agreement::Agreement;
use truce_fusion::{FusedEvent, Fuser, FusionConfig, Logged};
use truce_model::envelope::decode_base64;
use truce_model::{Entry, EntryKind, Envelope, Finding, Observation, SensorRegistration};

/// A log entry the pipeline cannot read (the log only holds entries the server checked, so
/// this means a corrupt or foreign log).
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error("entry {index}: {message}")]
    Entry { index: u64, message: String },
    #[error("serialising the results: {0}")]
    Json(#[from] serde_json::Error),
}

/// What the pipeline computes from a log prefix.
#[derive(Clone, Debug, PartialEq)]
pub struct Results {
    /// The number of entries the results rest on.
    pub size: u64,
    pub sensors: usize,
    pub observations: usize,
    pub events: Vec<FusedEvent>,
    pub findings: Vec<Finding>,
    /// Events the rules could not judge, with why (they are still among `events`).
    pub unjudged: Vec<String>,
    /// Arrivals logged after fusion had closed the time they belong to (kept in the log,
    /// not fused).
    pub late: usize,
    /// Observations that place something somewhere at some time (detections, thermal
    /// hotspots, patrol reports), for cross-checks; not part of the digest.
    pub located: Vec<LocatedObservation>,
    /// The medium (sound speed and wind) fusion learned from the events so far, if any
    /// event constrained it (see the fusion crate's `propagation`); not part of the digest,
    /// though the events it located are.
    pub medium: Option<MediumEstimate>,
    /// What each sensor's residuals in the final events say (the fusion crate's `health`),
    /// by sensor id; not part of the digest.
    pub health: Vec<truce_fusion::health::SensorHealth>,
    /// The events of one salvo or barrage taken together (see [`incidents`]); their ids
    /// are in the findings, so in the digest.
    pub incidents: Vec<incidents::Incident>,
    /// See [`digest`].
    pub digest: String,
}

/// The medium as fusion estimated it from the events, with its uncertainty.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct MediumEstimate {
    /// The speed of sound in still air, m/s.
    pub sound_speed_mps: f64,
    pub wind_speed_mps: f64,
    /// Where the wind blows from, degrees clockwise from north.
    pub wind_from_deg: f64,
    /// The wind's components towards east and north, m/s.
    pub wind_east_mps: f64,
    pub wind_north_mps: f64,
    /// One σ of the sound speed and of each wind component, m/s.
    pub sound_speed_sigma_mps: f64,
    pub wind_east_sigma_mps: f64,
    pub wind_north_sigma_mps: f64,
    /// How many events and arrivals the estimate rests on.
    pub events: usize,
    pub arrivals: usize,
}

impl MediumEstimate {
    fn of(p: &truce_fusion::propagation::Propagation) -> Self {
        let [east, north] = p.medium.wind;
        let from = (-east).atan2(-north).to_degrees().rem_euclid(360.0);
        Self {
            sound_speed_mps: p.medium.speed,
            wind_speed_mps: east.hypot(north),
            wind_from_deg: from,
            wind_east_mps: east,
            wind_north_mps: north,
            sound_speed_sigma_mps: p.covariance[0][0].max(0.0).sqrt(),
            wind_east_sigma_mps: p.covariance[1][1].max(0.0).sqrt(),
            wind_north_sigma_mps: p.covariance[2][2].max(0.0).sqrt(),
            events: p.events,
            arrivals: p.picks,
        }
    }
}

/// Decodes a logged DSSE envelope into its observation.
pub fn decode_envelope(bytes: &[u8]) -> Result<Observation, String> {
    let envelope: Envelope =
        serde_json::from_slice(bytes).map_err(|e| format!("not an envelope: {e}"))?;
    let payload =
        decode_base64(&envelope.payload).map_err(|e| format!("payload is not base64: {e}"))?;
    Observation::parse(&payload).map_err(|e| e.to_string())
}

/// SHA-256 over `truce.results.v1`, then each event's JSON on its own line, a line `--`,
/// and each finding's JSON on its own line; lowercase hex.
pub fn digest(events: &[FusedEvent], findings: &[Finding]) -> Result<String, PipelineError> {
    let mut h = Sha256::new();
    h.update(b"truce.results.v1\n");
    for e in events {
        h.update(serde_json::to_vec(e)?);
        h.update(b"\n");
    }
    h.update(b"--\n");
    for f in findings {
        h.update(serde_json::to_vec(f)?);
        h.update(b"\n");
    }
    Ok(hex::encode(h.finalize()))
}

/// Fusion, then the rules when there is an agreement, over a log's entries.
pub fn run(entries: &[Vec<u8>], agreement: Option<&Agreement>) -> Result<Results, PipelineError> {
    let mut pipeline = Pipeline::default();
    for entry in entries {
        pipeline.push(entry)?;
    }
    pipeline.results(agreement)
}

/// The pipeline over a log read in order, one entry at a time: fusion keeps its state
/// ([`Fuser`]), and the rules judge only events that are new or changed since the last
/// results.
#[derive(Debug)]
pub struct Pipeline {
    fuser: Fuser,
    size: u64,
    /// Per event id: its JSON when last judged, and the judgement.
    judged: HashMap<String, Judged>,
}

/// An event's JSON when it was judged, and the findings or why it could not be judged.
type Judged = (Vec<u8>, Result<Vec<Finding>, String>);

impl Default for Pipeline {
    fn default() -> Self {
        Self::new(FusionConfig::default())
    }
}

impl Pipeline {
    pub fn new(config: FusionConfig) -> Self {
        Self {
            fuser: Fuser::new(config),
            size: 0,
            judged: HashMap::new(),
        }
    }

    /// The number of entries pushed.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The next entry of the log.
    pub fn push(&mut self, data: &[u8]) -> Result<(), PipelineError> {
        #[derive(serde::Deserialize)]
        struct Registered {
            sensor: SensorRegistration,
        }
        let index = self.size;
        let bad = |message: String| PipelineError::Entry { index, message };
        let entry = Entry::decode(data).map_err(|e| bad(e.to_string()))?;
        match entry.kind {
            EntryKind::Observation => {
                let observation = decode_envelope(entry.body).map_err(bad)?;
                self.push_observation(observation);
                return Ok(());
            }
            EntryKind::SensorRegistration => {
                // Version 1 or 2 alike: whoever replays checks version 2's signature with
                // the log's key (`truce replay` does).
                let record = entry.sensor_record().map_err(&bad)?.record;
                let r: Registered =
                    serde_json::from_slice(&record).map_err(|e| bad(e.to_string()))?;
                self.fuser.register(r.sensor);
            }
            _ => {}
        }
        self.size += 1;
        Ok(())
    }

    /// The next entry of the log, an observation entry, already decoded: the same as
    /// [`Pipeline::push`] of the entry when `observation` is what [`decode_envelope`] reads
    /// from its body. The server's ingest parsed the payload before logging it and hands
    /// the result on, rather than have live fusion parse every envelope a second time.
    pub fn push_observation(&mut self, observation: Observation) {
        self.fuser.push(Logged {
            index: self.size,
            observation,
        });
        self.size += 1;
    }

    /// Events and findings for the entries pushed so far.
    pub fn results(&mut self, agreement: Option<&Agreement>) -> Result<Results, PipelineError> {
        let events = self.fuser.events();
        let mut findings = Vec::new();
        let mut unjudged = Vec::new();
        if let Some(agreement) = agreement {
            let mut judged = HashMap::with_capacity(events.len());
            for e in &events {
                let json = serde_json::to_vec(&e.event)?;
                let verdict = match self.judged.remove(&e.event.id) {
                    Some((before, verdict)) if before == json => verdict,
                    _ => truce_rules::evaluate(agreement, &e.event).map_err(|e| e.to_string()),
                };
                match &verdict {
                    Ok(f) => findings.extend(f.iter().cloned()),
                    Err(why) => unjudged.push(why.clone()),
                }
                judged.insert(e.event.id.clone(), (json, verdict));
            }
            self.judged = judged;
            truce_rules::order(agreement, &mut findings);
        }
        let incidents = incidents::group(&events, &mut findings);
        let digest = digest(&events, &findings)?;
        Ok(Results {
            size: self.size,
            sensors: self.fuser.registry().count(),
            observations: self.fuser.observations(),
            events,
            findings,
            unjudged,
            late: self.fuser.late(),
            located: self.located(),
            medium: self.fuser.propagation().map(MediumEstimate::of),
            health: self.fuser.health(),
            incidents,
            digest,
        })
    }
}

/// An observation that places something: its log index, position and σ, time, and the
/// operator of its sensor.
#[derive(Clone, Debug, PartialEq)]
pub struct LocatedObservation {
    pub index: u64,
    pub kind: &'static str,
    pub position: truce_model::Position,
    pub sigma_m: f64,
    pub time: truce_model::Timestamp,
    pub operator: String,
}

impl Pipeline {
    fn located(&self) -> Vec<LocatedObservation> {
        let operators: HashMap<&str, &str> = self
            .fuser
            .registry()
            .map(|r| (r.id.as_str(), r.operator.as_str()))
            .collect();
        self.fuser
            .others()
            .iter()
            .filter_map(|l| {
                let (position, sigma_m, time) = l.observation.located()?;
                Some(LocatedObservation {
                    index: l.index,
                    kind: l.observation.kind,
                    position,
                    sigma_m,
                    time,
                    operator: operators
                        .get(l.observation.sensor.as_str())
                        .unwrap_or(&"")
                        .to_string(),
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_log_has_a_fixed_digest() {
        let results = run(&[], None).unwrap();
        assert_eq!(results.size, 0);
        assert!(results.events.is_empty() && results.findings.is_empty());
        let mut h = Sha256::new();
        h.update(b"truce.results.v1\n--\n");
        assert_eq!(results.digest, hex::encode(h.finalize()));
    }

    #[test]
    fn a_foreign_entry_is_an_error_with_its_index() {
        let entries = vec![b"not an entry".to_vec()];
        match run(&entries, None) {
            Err(PipelineError::Entry { index: 0, .. }) => {}
            other => panic!("{other:?}"),
        }
    }

    /// A simulated log: the sensors' registrations, then their observations.
    fn simulated_log() -> Vec<Vec<u8>> {
        let dir = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../examples/scenarios/sparse.toml"
        );
        let scenario = truce_sim::Scenario::load(std::path::Path::new(dir)).unwrap();
        let simulation = truce_sim::simulate(&scenario, 7);
        let registrations = simulation.sensors.iter().map(|s| {
            let body = serde_json::json!({"sensor": s.registration, "registered_at": "2026-01-01T00:00:00Z"});
            (EntryKind::SensorRegistration, serde_json::to_vec(&body).unwrap())
        });
        let observations = simulation
            .observations
            .iter()
            .map(|e| (EntryKind::Observation, e.clone()));
        registrations
            .chain(observations)
            .map(|(kind, body)| Entry::v1(kind, &body).encode().unwrap())
            .collect()
    }

    #[test]
    fn decoded_observations_give_the_same_results_as_their_entries() {
        let entries = simulated_log();
        let replayed = run(&entries, None).unwrap();
        assert!(
            !replayed.events.is_empty(),
            "the sample has events to compare"
        );
        // Every other observation handed on decoded, as the server's ingest does.
        let mut live = Pipeline::default();
        for (i, data) in entries.iter().enumerate() {
            let entry = Entry::decode(data).unwrap();
            if entry.kind == EntryKind::Observation && i % 2 == 0 {
                live.push_observation(decode_envelope(entry.body).unwrap());
            } else {
                live.push(data).unwrap();
            }
        }
        let live = live.results(None).unwrap();
        assert_eq!(live.size, replayed.size);
        assert_eq!(live.digest, replayed.digest);
    }
}
