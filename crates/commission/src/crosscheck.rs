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
//! - **not corroborated** when nothing is found within twice the window.
//!
//! The evidence **contradicts** an allegation (said in `contradicts`, with why) when
//!
//! - it is corroborated or partly corroborated by an event whose origin the findings
//!   attribute to a party other than the one the allegation accuses (the event happened;
//!   the evidence names someone else), or
//! - nothing is found although sensors that hear such events, of at least
//!   [`CONTRADICTING_OPERATORS`] operators other than the alleging party, are registered
//!   (and not revoked) within their detection range of the place. Without such coverage, "not
//!   corroborated" only says that the mechanism could not see the place, and the assessment
//!   says so.

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
    /// Why the evidence contradicts the allegation, when it does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contradicts: Option<String>,
    /// The sensors able to hear an event at the alleged place (ids), when nothing was found.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub coverage: Vec<String>,
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

/// What the cross-check knows beside the events and observations.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Context {
    /// Per event id, the party the findings attribute the event's origin to (events whose
    /// origin is undetermined are absent).
    pub responsible: std::collections::BTreeMap<String, String>,
    /// Sensors that hear launches and explosions (acoustic, seismic, infrasound). The server
    /// passes those registered and not revoked when the allegation is checked; whether each
    /// was reporting at the alleged time is for the reviewer (the day's bulletin lists the
    /// sensors silent for hours).
    pub listeners: Vec<Listener>,
    /// The range within which a listener hears an event (the association's detection range).
    pub detection_range_m: f64,
}

/// A sensor able to hear an event.
#[derive(Clone, Debug, PartialEq)]
pub struct Listener {
    pub id: String,
    pub operator: String,
    pub position: Position,
}

/// Operators other than the alleging party whose silent sensors must cover the place for
/// the silence to contradict an allegation.
pub const CONTRADICTING_OPERATORS: usize = 2;

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
/// `observations`, with the findings' attributions and the sensors in `context`.
pub fn crosscheck(
    earth: &Earth,
    allegation: &Allegation,
    events: &[Event],
    observations: &[Located],
    context: &Context,
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
    let mut detail = match best {
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
    let mut contradicts = None;
    let mut coverage = Vec::new();
    if let (Some(0 | 1), Some(accused)) = (best, &allegation.against)
        && let Some(named) = context.responsible.get(&found[0].2.id)
        && named != accused
    {
        contradicts = Some(format!(
            "the findings attribute the origin of event {} to {named}, not {accused}",
            found[0].2.id
        ));
    }
    if outcome == Outcome::NotCorroborated && hears(&allegation.category) {
        let near: Vec<&Listener> = context
            .listeners
            .iter()
            .filter(|l| {
                earth.distance(
                    [allegation.position.lon, allegation.position.lat],
                    [l.position.lon, l.position.lat],
                ) <= context.detection_range_m
            })
            .collect();
        let mut others: Vec<&str> = near
            .iter()
            .map(|l| l.operator.as_str())
            .filter(|o| *o != allegation.party)
            .collect();
        others.sort_unstable();
        others.dedup();
        let km = context.detection_range_m / 1000.0;
        if others.len() >= CONTRADICTING_OPERATORS {
            contradicts = Some(format!(
                "{} sensor(s) of {} are registered within {km:.0} km of the place and \
                 located nothing there",
                near.len(),
                others.join(", ")
            ));
        } else {
            detail.push_str(&format!(
                "; sensors of fewer than {CONTRADICTING_OPERATORS} operators other than {} lie \
                 within {km:.0} km of the place: the silence neither supports nor contradicts \
                 the allegation",
                allegation.party
            ));
        }
        coverage = near.iter().map(|l| l.id.clone()).collect();
        coverage.sort();
    }
    Assessment {
        outcome,
        events: found.iter().map(|f| f.2.id.clone()).collect(),
        observations: seen.into_iter().map(|s| s.1).collect(),
        detail,
        contradicts,
        coverage,
        results: None,
    }
}

/// Whether the allegation describes something acoustic sensors hear (fire, explosions).
fn hears(category: &str) -> bool {
    matches!(category, "shelling" | "strike" | "drone_strike")
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
        let got = crosscheck(&earth(), &a, &events, &[], &Context::default());
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
        let got = crosscheck(&earth(), &a, &own, &[], &Context::default());
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
        let got = crosscheck(&earth(), &a, &fire, &[], &Context::default());
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
        let got = crosscheck(&earth(), &a, &outside, &[], &Context::default());
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
        let got = crosscheck(
            &earth(),
            &allegation("weapon_presence"),
            &[],
            &seen,
            &Context::default(),
        );
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
        let got = crosscheck(&earth(), &a, &events, &[], &Context::default());
        assert_eq!(got.outcome, Outcome::NotCorroborated);
        assert!(got.events.is_empty());
        assert!(got.detail.contains("2 event(s)"), "{}", got.detail);
        // No sensor covers the place: the silence says nothing either way.
        assert_eq!(got.contradicts, None);
        assert!(
            got.detail.contains("neither supports nor contradicts"),
            "{}",
            got.detail
        );
    }

    fn listener(id: &str, operator: &str, lat: f64, lon: f64) -> Listener {
        Listener {
            id: id.into(),
            operator: operator.into(),
            position: Position::new(lat, lon),
        }
    }

    #[test]
    fn silence_where_others_listen_contradicts() {
        let a = allegation("shelling");
        let mut context = Context {
            detection_range_m: 25_000.0,
            // About 11 km and 5.6 km from the place; one 60 km away.
            listeners: vec![
                listener("fr-1", "FR", 48.40, 37.90),
                listener("ua-1", "UA", 48.25, 37.90),
                listener("us-far", "US", 48.84, 37.90),
            ],
            ..Context::default()
        };
        // Only FR besides the alleging party's own: not enough to contradict.
        let got = crosscheck(&earth(), &a, &[], &[], &context);
        assert_eq!(got.outcome, Outcome::NotCorroborated);
        assert_eq!(got.contradicts, None);
        assert_eq!(got.coverage, ["fr-1", "ua-1"]);
        // FR and GB listen within range and heard nothing.
        context.listeners.push(listener("gb-1", "GB", 48.30, 38.00));
        let got = crosscheck(&earth(), &a, &[], &[], &context);
        assert_eq!(got.outcome, Outcome::NotCorroborated);
        let why = got.contradicts.expect("contradicted");
        assert!(why.contains("FR, GB"), "{why}");
        assert_eq!(got.coverage, ["fr-1", "gb-1", "ua-1"]);
        // Nothing to hear in a weapon-presence allegation: silence contradicts nothing.
        let got = crosscheck(&earth(), &allegation("weapon_presence"), &[], &[], &context);
        assert_eq!(got.contradicts, None);
        assert!(got.coverage.is_empty());
    }

    #[test]
    fn an_event_fired_by_someone_else_contradicts_the_accusation() {
        let a = allegation("shelling"); // UA accuses RU
        let events = [event(
            "near",
            EventType::Impact,
            48.3018,
            37.90,
            "2026-01-08T02:10:40Z",
            &["FR", "UA"],
        )];
        let mut context = Context::default();
        context.responsible.insert("near".into(), "RU".into());
        let got = crosscheck(&earth(), &a, &events, &[], &context);
        assert_eq!(got.outcome, Outcome::Corroborated);
        assert_eq!(got.contradicts, None);
        context.responsible.insert("near".into(), "UA".into());
        let got = crosscheck(&earth(), &a, &events, &[], &context);
        // The shelling happened; the evidence names UA's own fire.
        assert_eq!(got.outcome, Outcome::Corroborated);
        let why = got.contradicts.expect("contradicted");
        assert!(why.contains("to UA, not RU"), "{why}");
    }
}
