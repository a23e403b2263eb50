//! From a log's entries to events, findings and their digest. The server runs this on its
//! own log; `truce replay` runs it on a log fetched and checked against a signed checkpoint.
//! Both must get the same digest for the same entries: everything here is a pure function
//! of the entries and the agreement.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};
use truce_agreement::Agreement;
use truce_fusion::{FusedEvent, FusionConfig, Logged, fuse};
use truce_model::envelope::decode_base64;
use truce_model::{
    Entry, EntryKind, Envelope, Finding, Observation, ObservationData, SensorRegistration,
};

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
    /// See [`digest`].
    pub digest: String,
}

/// Decodes a logged DSSE envelope into its observation.
pub fn decode_envelope(bytes: &[u8]) -> Result<Observation, String> {
    let envelope: Envelope =
        serde_json::from_slice(bytes).map_err(|e| format!("not an envelope: {e}"))?;
    let payload =
        decode_base64(&envelope.payload).map_err(|e| format!("payload is not base64: {e}"))?;
    Observation::parse(&payload).map_err(|e| e.to_string())
}

/// The registry and the observations of a log, from its entries in order. A sensor's
/// latest registration stands for it.
pub fn inputs(
    entries: &[Vec<u8>],
) -> Result<(Vec<SensorRegistration>, Vec<Logged>), PipelineError> {
    #[derive(serde::Deserialize)]
    struct Registered {
        sensor: SensorRegistration,
    }
    let mut registry: BTreeMap<String, SensorRegistration> = BTreeMap::new();
    let mut observations = Vec::new();
    for (i, data) in entries.iter().enumerate() {
        let index = i as u64;
        let bad = |message: String| PipelineError::Entry { index, message };
        let entry = Entry::decode(data).map_err(|e| bad(e.to_string()))?;
        match entry.kind {
            EntryKind::Observation => {
                let mut observation = decode_envelope(entry.body).map_err(bad)?;
                // An arrival is where its sensor was registered when it was logged: a
                // later registration (a sensor moved) must not move past arrivals.
                if let ObservationData::Arrival { position, .. } = &mut observation.data
                    && position.is_none()
                {
                    *position = registry.get(&observation.sensor).and_then(|r| r.position);
                }
                observations.push(Logged { index, observation });
            }
            EntryKind::SensorRegistration => {
                let r: Registered =
                    serde_json::from_slice(entry.body).map_err(|e| bad(e.to_string()))?;
                registry.insert(r.sensor.id.clone(), r.sensor);
            }
            _ => {}
        }
    }
    Ok((registry.into_values().collect(), observations))
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
    let (registry, observations) = inputs(entries)?;
    let events = fuse(&registry, &observations, &FusionConfig::default());
    let (findings, unjudged) = match agreement {
        Some(a) => {
            let plain: Vec<_> = events.iter().map(|e| e.event.clone()).collect();
            let (findings, errors) = truce_rules::evaluate_each(a, &plain);
            (findings, errors.iter().map(ToString::to_string).collect())
        }
        None => (Vec::new(), Vec::new()),
    };
    let digest = digest(&events, &findings)?;
    Ok(Results {
        size: entries.len() as u64,
        sensors: registry.len(),
        observations: observations.len(),
        events,
        findings,
        unjudged,
        digest,
    })
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

    fn registration(lat: f64) -> Vec<u8> {
        let body = serde_json::json!({"sensor": {"id": "ua-ac-001", "kind": "acoustic",
            "operator": "UA", "position": {"lat": lat, "lon": 37.5},
            "public_key": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="},
            "registered_at": "2026-01-08T00:00:00Z"});
        Entry::v1(
            EntryKind::SensorRegistration,
            &serde_json::to_vec(&body).unwrap(),
        )
        .encode()
        .unwrap()
    }

    fn arrival(seq: u64) -> Vec<u8> {
        let payload = serde_json::json!({"sensor": "ua-ac-001", "seq": seq,
            "observed_at": "2026-01-08T10:00:00Z", "kind": "acoustic.arrival",
            "data": {"arrival_time": "2026-01-08T10:00:00Z", "arrival_sigma_s": 0.002,
                     "class": "launch"}});
        let envelope = Envelope::signed(
            truce_model::OBSERVATION_PAYLOAD_TYPE,
            &serde_json::to_vec(&payload).unwrap(),
            "ua-ac-001",
            |_| [0u8; 64],
        );
        Entry::v1(
            EntryKind::Observation,
            &serde_json::to_vec(&envelope).unwrap(),
        )
        .encode()
        .unwrap()
    }

    #[test]
    fn an_arrival_stays_where_its_sensor_was_when_it_was_logged() {
        // Registered at 48.0 N, one arrival, moved to 48.5 N, another arrival.
        let entries = vec![
            registration(48.0),
            arrival(1),
            registration(48.5),
            arrival(2),
        ];
        let (registry, observations) = inputs(&entries).unwrap();
        assert_eq!(registry.len(), 1);
        let lat = |o: &Logged| match &o.observation.data {
            ObservationData::Arrival { position, .. } => position.map(|p| p.lat),
            _ => None,
        };
        assert_eq!(lat(&observations[0]), Some(48.0));
        assert_eq!(lat(&observations[1]), Some(48.5));
    }

    #[test]
    fn a_foreign_entry_is_an_error_with_its_index() {
        let entries = vec![b"not an entry".to_vec()];
        match run(&entries, None) {
            Err(PipelineError::Entry { index: 0, .. }) => {}
            other => panic!("{other:?}"),
        }
    }
}
