//! truce's public data model, wire format version 1 (DESIGN.md section 4a).
//!
//! Everything a sensor maker or an auditor codes against lives here: the DSSE observation
//! envelope, the observation payload and its kinds, sensor registrations, the tagged log
//! entries, and the RFC 9457 problem types. The crate is pure: no I/O and no clock.

pub mod entry;
pub mod envelope;
pub mod event;
pub mod fields;
pub mod finding;
pub mod keys;
pub mod observation;
pub mod position;
pub mod problem;
pub mod sensor;
pub mod time;

pub use entry::{Entry, EntryError, EntryKind, SensorEntry, SignedRecord};
pub use envelope::{Envelope, EnvelopeSignature, OBSERVATION_PAYLOAD_TYPE, pae};
pub use event::{Event, EventType, Located, Quality, WeaponClass};
pub use fields::FieldError;
pub use finding::{Attribution, Finding, SiteHit, VerificationState};
pub use observation::{Observation, ObservationData, SignalClass};
pub use position::Position;
pub use problem::{Problem, ProblemType};
pub use sensor::{SensorKind, SensorRecord, SensorRegistration, SensorRevocation, SensorStatus};
pub use time::Timestamp;
