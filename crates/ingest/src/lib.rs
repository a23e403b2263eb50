//! Ingest checks: from the bytes of a DSSE envelope to a log entry ready to append, or an
//! RFC 9457 problem naming the field at fault.
//!
//! Checking needs nothing but the sensor registry ([`SensorDirectory`]) and the time
//! (passed in), so any number of ingest nodes can run it. Signatures are Ed25519 under
//! ZIP-215 rules (`ed25519-consensus`); a batch is verified in one multiscalar
//! multiplication, and only when that fails is each signature checked alone, which gives
//! the same verdicts as single verification.

mod check;
mod signature;

pub use check::{
    Accepted, IngestPolicy, MAX_ENVELOPE_BYTES, SensorDirectory, SensorKey, check_batch, check_one,
};
pub use signature::{SignatureCheck, verify_all};
