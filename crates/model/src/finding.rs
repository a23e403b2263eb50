//! Findings: an event judged against a clause of the agreement (DESIGN.md section 4).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{EventType, Position, Timestamp, WeaponClass};

/// Where a finding stands in review. Every finding the rules produce starts as `candidate`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VerificationState {
    Candidate,
    UnderReview,
    Verified,
    Contested,
    Discounted,
}

/// Who is held responsible, with the probabilities it rests on.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Attribution {
    /// The party, when its probability reaches the threshold; `null` means undetermined.
    pub party: Option<String>,
    /// Probability, per party, that the attributed point lies in that party's area; the
    /// key `none` holds the mass outside every party's area. Empty when no point could be
    /// attributed (an impact whose firing position is not located).
    pub probabilities: BTreeMap<String, f64>,
    pub threshold: f64,
    /// What was attributed: `origin` (the firing position), `presence` (where the weapon or
    /// object was seen) or `not_located` (no attributable point).
    pub basis: String,
}

/// A protected site an event falls on.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SiteHit {
    pub id: String,
    pub category: String,
    /// Geodesic distance from the event to the site's position (0 inside a site's polygon).
    pub distance_m: f64,
}

/// A violation record: one clause of one agreement, breached by one event.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// A stable id: the same agreement, clause and event give the same id.
    pub id: String,
    pub agreement: String,
    pub clause: String,
    /// The clause's rule kind (`no_fire`, `cross_line_fire`, ...).
    pub rule: String,
    pub event: String,
    pub event_type: EventType,
    pub time: Timestamp,
    /// ACLED-compatible sub-event type (`Shelling/artillery/missile attack`, `Air/drone
    /// strike`, ...).
    pub generic_type: String,
    /// OSCE-style sub-type (`explosion_impact`, `weapon_in_violation`, ...).
    pub sub_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weapon_class: Option<WeaponClass>,
    pub location: Position,
    /// Geodesic distance from the event's location to the contact line.
    pub distance_to_line_m: f64,
    /// The party whose area holds the event's location, if any.
    pub side: Option<String>,
    /// Zones (by id) that hold the event's location.
    pub zones: Vec<String>,
    pub attribution: Attribution,
    pub state: VerificationState,
    pub protected_sites: Vec<SiteHit>,
    /// Log indices of the evidence.
    pub observations: Vec<u64>,
    pub operators: Vec<String>,
    pub modalities: Vec<String>,
    /// Why the rule fired, in a sentence.
    pub detail: String,
    /// True while its event is provisional (it may still change or be replaced as the log
    /// grows): such a finding is shown but not reviewed. Absent once final.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub provisional: bool,
    /// The incident (a salvo, a barrage: events from one place close in time) its event
    /// belongs to, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incident: Option<String>,
}
