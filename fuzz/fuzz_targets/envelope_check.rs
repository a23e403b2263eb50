#![no_main]
//! `check_one` on arbitrary bytes, with a registry of one acoustic sensor whose key is
//! `SigningKey::from([1; 32])`. Never panics; an accepted envelope is logged byte for byte
//! under the observation header.

use ed25519_consensus::SigningKey;
use libfuzzer_sys::fuzz_target;
use truce_ingest::{IngestPolicy, SensorKey, check_one};
use truce_model::{Entry, EntryKind, SensorKind, Timestamp};

/// The one registered sensor (the seeds in fuzz/seeds/envelope_check are signed by it).
const SENSOR: &str = "ua-ac-017";

fuzz_target!(|data: &[u8]| {
    let public_key = SigningKey::from([1u8; 32]).verification_key().to_bytes();
    let directory = |sensor: &str| {
        (sensor == SENSOR).then_some(SensorKey {
            public_key,
            kind: SensorKind::Acoustic,
            revoked: false,
        })
    };
    // 2026-01-07T12:00:00Z
    let now = Timestamp::from_unix_nanos(1_767_787_200_000_000_000);
    if let Ok(accepted) = check_one(data, &directory, now, &IngestPolicy::default()) {
        assert!(accepted.entry.ends_with(data));
        assert_eq!(accepted.sensor(), SENSOR);
        assert_eq!(accepted.public_key, public_key);
        assert_eq!(accepted.leaf_hash, truce_ledger::leaf_hash(&accepted.entry));
        let entry = Entry::decode(&accepted.entry).expect("accepted entry decodes");
        assert_eq!(entry.kind, EntryKind::Observation);
        assert_eq!(entry.version, 1);
        assert_eq!(entry.body, data);
    }
});
