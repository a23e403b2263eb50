//! An allegation against the evidence: the fused events and the located observations in a
//! space-time window around what the party alleges.
//!
//! The window is three combined standard deviations (the allegation's stated uncertainty
//! and the event's own) plus a margin: 500 m and 30 s. An allegation is
//!
//! - **corroborated** when an event of a compatible type lies in the window and rests on at
//!   least one sensor not run by the alleging party;
//! - **partly corroborated** when only weaker evidence is found: a compatible event heard
//!   by the alleging party's own sensors alone, an event of another type in the window, a
//!   located observation (a drone sighting, a thermal detection, a patrol report) in the
//!   window, or an event just outside it (within twice the window);
//! - **not corroborated** when nothing is found within twice the window. That is not a
//!   refutation: the assessment lists what was searched so the reviewer can judge coverage.

use serde::{Deserialize, Serialize};
use truce_agreement::Earth;
use truce_model::{Event, EventType, Position, Timestamp};

use crate::action::Allegation;

/// The categories an allegation may have.
pub const CATEGORIES: [&str; 6] = [
    "shelling",
    "strike",
    "drone_strike",
    "weapon_presence",
    "incursion",
    "other",
];

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Corroborated,
    PartlyCorroborated,
    NotCorroborated,
}

/// The cross-check's result, logged with the allegation's index.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Assessment {
    pub outcome: Outcome,
    /// The events in the window (ids), best support first.
    pub events: Vec<String>,
    /// Located observations in the window (log indices).
    pub observations: Vec<u64>,
    /// What was searched and found, in a sentence or two.
    pub detail: String,
    /// The results the check read (set by the caller): the log size they rest on and their
    /// digest, what `truce replay` gives for a checkpoint of that size, so that anyone can
    /// redo the check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub results: Option<ResultsAt>,
}

/// Which results a check read.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResultsAt {
    pub size: u64,
    pub digest: String,
}

/// A located observation (a detection, a thermal hotspot, a patrol report).
#[derive(Clone, Debug, PartialEq)]
pub struct Located {
    pub index: u64,
    pub position: Position,
    pub sigma_m: f64,
    pub time: Timestamp,
    pub operator: String,
}

const MARGIN_M: f64 = 500.0;
const MARGIN_S: f64 = 30.0;

fn compatible(category: &str, kind: EventType) -> bool {
    use EventType::*;
    match category {
        "shelling" => matches!(kind, Launch | Impact | Airburst | Explosion),
        "strike" => matches!(kind, Impact | Airburst | Explosion | Fire),
        "drone_strike" => matches!(kind, Impact | Airburst | Explosion | AirspaceEntry),
        "weapon_presence" => matches!(kind, WeaponPresence | Movement),
        "incursion" => matches!(kind, Movement | WeaponPresence | AirspaceEntry),
        _ => true,
    }
}

/// How far, in units of the window, an event lies from the allegation (≤ 1: inside).
fn reach(
    earth: &Earth,
    allegation: &Allegation,
    position: Position,
    sigma_m: f64,
    time: Timestamp,
    sigma_s: f64,
) -> f64 {
    let d = earth.distance(
        [allegation.position.lon, allegation.position.lat],
        [position.lon, position.lat],
    );
    let space = 3.0 * allegation.position_sigma_m.hypot(sigma_m) + MARGIN_M;
    let dt = (time.unix_nanos() - allegation.event_time.unix_nanos()).abs() as f64 * 1e-9;
    let span = 3.0 * allegation.time_sigma_s.hypot(sigma_s) + MARGIN_S;
    (d / space).max(dt / span)
}

/// The event's location σ: the square root of the covariance's larger eigenvalue.
fn event_sigma(event: &Event) -> f64 {
    let [[a, b], [_, d]] = event.covariance_m2;
    let mean = (a + d) / 2.0;
    let spread = (((a - d) / 2.0).powi(2) + b * b).sqrt();
    (mean + spread).max(0.0).sqrt()
}

/// Cross-checks `allegation` (filed by `allegation.party`) against `events` and
/// `observations`.
pub fn crosscheck(
    earth: &Earth,
    allegation: &Allegation,
    events: &[Event],
    observations: &[Located],
) -> Assessment {
    // (grade, closeness, id): grade 0 best.
    let mut found: Vec<(u8, f64, &Event)> = Vec::new();
    for e in events {
        let r = reach(
            earth,
            allegation,
            e.location,
            event_sigma(e),
            e.origin_time,
            e.origin_time_sigma_s,
        );
        if r > 2.0 {
            continue;
        }
        let independent = e.operators.iter().any(|o| *o != allegation.party);
        let grade = match (
            r <= 1.0,
            compatible(&allegation.category, e.kind),
            independent,
        ) {
            (true, true, true) => 0,
            (true, true, false) => 1,
            (true, false, _) => 2,
            (false, _, _) => 3,
        };
        found.push((grade, r, e));
    }
    found.sort_by(|a, b| {
        a.0.cmp(&b.0)
            .then(a.1.total_cmp(&b.1))
            .then(a.2.id.cmp(&b.2.id))
    });
    let mut seen: Vec<(f64, u64)> = observations
        .iter()
        .filter_map(|o| {
            let r = reach(earth, allegation, o.position, o.sigma_m, o.time, 0.0);
            (r <= 1.0).then_some((r, o.index))
        })
        .collect();
    seen.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let best = found.first().map(|f| f.0);
    let outcome = match best {
        Some(0) => Outcome::Corroborated,
        Some(_) => Outcome::PartlyCorroborated,
        None if !seen.is_empty() => Outcome::PartlyCorroborated,
        None => Outcome::NotCorroborated,
    };
    let window_m = 3.0 * allegation.position_sigma_m + MARGIN_M;
    let window_s = 3.0 * allegation.time_sigma_s + MARGIN_S;
    let detail = match best {
        Some(0) => format!(
            "event {} ({:?}) lies within the window and was heard by sensors of operators \
             other than {}",
            found[0].2.id, found[0].2.kind, allegation.party
        ),
        Some(1) => format!(
            "event {} ({:?}) lies within the window but rests only on {}'s own sensors",
            found[0].2.id, found[0].2.kind, allegation.party
        ),
        Some(2) => format!(
            "event {} in the window is a {:?}, not what a {} allegation describes",
            found[0].2.id, found[0].2.kind, allegation.category
        ),
        Some(_) => format!(
            "no event within the window; event {} lies within twice it",
            found[0].2.id
        ),
        None if !seen.is_empty() => format!(
            "no fused event; {} located observation(s) in the window",
            seen.len()
        ),
        None => format!(
            "no event or located observation within {window_m:.0} m and {window_s:.0} s (and \
             twice that) of the allegation; {} event(s) and {} located observation(s) searched",
            events.len(),
            observations.len()
        ),
    };
    Assessment {
        outcome,
        events: found.iter().map(|f| f.2.id.clone()).collect(),
        observations: seen.into_iter().map(|s| s.1).collect(),
        detail,
        results: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn earth() -> Earth {
        Earth::default()
    }

    fn allegation(category: &str) -> Allegation {
        Allegation {
            party: "UA".into(),
            against: Some("RU".into()),
            summary: "shelling of the village school".into(),
            category: category.into(),
            position: Position::new(48.30, 37.90),
            position_sigma_m: 300.0,
            event_time: Timestamp::parse("2026-01-08T02:10:00Z").unwrap(),
            time_sigma_s: 60.0,
            evidence: Vec::new(),
        }
    }

    fn event(
        id: &str,
        kind: EventType,
        lat: f64,
        lon: f64,
        time: &str,
        operators: &[&str],
    ) -> Event {
        let mut e = Event::new(
            id,
            kind,
            Timestamp::parse(time).unwrap(),
            Position::new(lat, lon),
            [[25.0, 0.0], [0.0, 25.0]],
        );
        e.origin_time_sigma_s = 0.01;
        e.observations = vec![10, 11, 12];
        e.operators = operators.iter().map(|o| o.to_string()).collect();
        e
    }

    #[test]
    fn an_impact_heard_by_others_corroborates() {
        let a = allegation("shelling");
        let events = [
            event(
                "far",
                EventType::Impact,
                48.60,
                37.90,
                "2026-01-08T02:10:00Z",
                &["FR"],
            ),
            // 200 m and 40 s from the alleged place and time.
            event(
                "near",
                EventType::Impact,
                48.3018,
                37.90,
                "2026-01-08T02:10:40Z",
                &["FR", "UA"],
            ),
        ];
        let got = crosscheck(&earth(), &a, &events, &[]);
        assert_eq!(got.outcome, Outcome::Corroborated);
        assert_eq!(got.events, ["near"]);
        assert!(got.detail.contains("near"));
    }

    #[test]
    fn own_sensors_only_or_the_wrong_kind_partly_corroborate() {
        let a = allegation("shelling");
        let own = [event(
            "own",
            EventType::Impact,
            48.3018,
            37.90,
            "2026-01-08T02:10:40Z",
            &["UA"],
        )];
        let got = crosscheck(&earth(), &a, &own, &[]);
        assert_eq!(got.outcome, Outcome::PartlyCorroborated);
        assert!(got.detail.contains("own sensors"), "{}", got.detail);
        let fire = [event(
            "fire",
            EventType::Fire,
            48.3018,
            37.90,
            "2026-01-08T02:10:40Z",
            &["US"],
        )];
        let got = crosscheck(&earth(), &a, &fire, &[]);
        assert_eq!(got.outcome, Outcome::PartlyCorroborated);
        // Just outside the window (2.2 km away; the window is 3·300 m + 500 m in space).
        let outside = [event(
            "out",
            EventType::Impact,
            48.32,
            37.90,
            "2026-01-08T02:10:00Z",
            &["FR"],
        )];
        let got = crosscheck(&earth(), &a, &outside, &[]);
        assert_eq!(got.outcome, Outcome::PartlyCorroborated);
        assert!(got.detail.contains("twice"));
        // A drone sighting in the window, no event.
        let seen = [Located {
            index: 77,
            position: Position::new(48.301, 37.901),
            sigma_m: 50.0,
            time: Timestamp::parse("2026-01-08T02:09:00Z").unwrap(),
            operator: "GB".into(),
        }];
        let got = crosscheck(&earth(), &allegation("weapon_presence"), &[], &seen);
        assert_eq!(got.outcome, Outcome::PartlyCorroborated);
        assert_eq!(got.observations, [77]);
    }

    #[test]
    fn quiet_sensors_leave_it_uncorroborated() {
        let a = allegation("shelling");
        // Events elsewhere and at other times only.
        let events = [
            event(
                "elsewhere",
                EventType::Impact,
                48.60,
                37.90,
                "2026-01-08T02:10:00Z",
                &["FR"],
            ),
            event(
                "later",
                EventType::Impact,
                48.30,
                37.90,
                "2026-01-08T05:00:00Z",
                &["FR"],
            ),
        ];
        let got = crosscheck(&earth(), &a, &events, &[]);
        assert_eq!(got.outcome, Outcome::NotCorroborated);
        assert!(got.events.is_empty());
        assert!(got.detail.contains("2 event(s)"), "{}", got.detail);
    }
}
