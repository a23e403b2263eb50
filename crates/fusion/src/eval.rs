//! Evaluation against ground truth (DESIGN.md section 6, NET-VISA style): fused events are
//! matched one-to-one to true events within 5 s and 1 km, nearest pairs first (in place and
//! time together: rounds of a salvo share a place); precision,
//! recall, F1, location error, error over the Cramér–Rao bound, attribution accuracy.

use serde::{Deserialize, Serialize};
use truce_agreement::Agreement;
use truce_model::{Located, Position, Timestamp};

use crate::pipeline::FusedEvent;

/// A true event, as the simulator writes it in `truth.json` (other fields are ignored).
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct TruthEvent {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub time: Timestamp,
    pub position: Position,
    /// The party whose area holds the event's position.
    #[serde(default)]
    pub party: Option<String>,
    /// For an impact or airburst, the party whose area holds the launch that fired it.
    #[serde(default)]
    pub fired_by: Option<String>,
    /// For an impact or airburst, the id of the launch that fired it.
    #[serde(default)]
    pub launch: Option<String>,
    #[serde(default)]
    pub heard_by: usize,
}

impl TruthEvent {
    /// Launches, impacts and airbursts: what arrivals locate.
    pub fn is_acoustic(&self) -> bool {
        matches!(self.kind.as_str(), "launch" | "impact" | "airburst")
    }
}

/// `truth.json`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct Truth {
    pub events: Vec<TruthEvent>,
}

/// The figures of one evaluation.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Evaluation {
    /// True acoustic events, and those heard by at least `min_heard` sensors.
    pub truth_events: usize,
    pub truth_locatable: usize,
    pub min_heard: usize,
    /// Fused events located from arrivals.
    pub fused_events: usize,
    pub matched: usize,
    pub matched_locatable: usize,
    pub precision: f64,
    /// Over the locatable true events.
    pub recall: f64,
    pub f1: f64,
    /// Over every true acoustic event.
    pub recall_all: f64,
    pub error_median_m: f64,
    pub error_p90_m: f64,
    /// Median over matched events of location error / Cramér–Rao bound.
    pub crb_ratio_median: f64,
    /// Attribution of the location (DESIGN.md section 6: the probability mass of the
    /// event's location inside each party's area): matched events whose true position lies
    /// more than 3σ (the larger axis of the estimated covariance) from the contact line, and
    /// those whose estimated location is attributed to the party whose area holds the true
    /// one. For an impact that is the party that was hit, not the one that fired: see
    /// `responsibility_*`. The accuracy is null when no event is eligible.
    pub attribution_eligible: usize,
    pub attribution_correct: usize,
    pub attribution_accuracy: f64,
    /// Attribution of responsibility, as the findings state it: the party named for the
    /// event's origin (a launch's own location; for an impact, the launch fusion paired it
    /// with, else undetermined) against the party that truly fired. Eligible: matched events
    /// whose true firer is known and whose true firing position lies more than 3σ from the
    /// line (σ of the estimated origin, else of the event). Each is correct, wrong (another
    /// party named) or undetermined. The accuracy (correct over eligible) is null when none
    /// is eligible.
    pub responsibility_eligible: usize,
    pub responsibility_correct: usize,
    pub responsibility_wrong: usize,
    pub responsibility_undetermined: usize,
    pub responsibility_accuracy: f64,
}

/// The larger semi-axis (1σ) of a 2x2 covariance, in metres.
fn major_sigma(cov: [[f64; 2]; 2]) -> f64 {
    ((cov[0][0] + cov[1][1]) / 2.0
        + (((cov[0][0] - cov[1][1]) / 2.0).powi(2) + cov[0][1].powi(2)).sqrt())
    .sqrt()
}

/// The party an attribution names at the agreement's threshold, if any.
fn attributed(agreement: &Agreement, located: &Located) -> Option<String> {
    agreement
        .party_probabilities(located)
        .unwrap_or_default()
        .into_iter()
        .find(|(k, p)| k.as_str() != truce_agreement::NONE && *p >= agreement.attribution_threshold)
        .map(|(k, _)| k)
}

fn median_and_p90(values: &mut [f64]) -> (f64, f64) {
    if values.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    values.sort_by(f64::total_cmp);
    let at = |q: f64| values[((values.len() - 1) as f64 * q).round() as usize];
    (at(0.5), at(0.9))
}

/// Evaluates `fused` against `truth`; with an agreement, also attribution.
pub fn evaluate(
    truth: &[TruthEvent],
    fused: &[FusedEvent],
    agreement: Option<&Agreement>,
    min_heard: usize,
) -> Evaluation {
    let earth = truce_agreement::Earth::default();
    let truths: Vec<&TruthEvent> = truth.iter().filter(|t| t.is_acoustic()).collect();
    let located: Vec<&FusedEvent> = fused.iter().filter(|f| f.score.is_some()).collect();
    let mut pairs: Vec<(f64, f64, usize, usize)> = Vec::new();
    for (i, t) in truths.iter().enumerate() {
        for (j, f) in located.iter().enumerate() {
            let dt = (f.event.origin_time.unix_nanos() - t.time.unix_nanos()) as f64 * 1e-9;
            if dt.abs() > 5.0 {
                continue;
            }
            let d = earth.distance(
                [t.position.lon, t.position.lat],
                [f.event.location.lon, f.event.location.lat],
            );
            if d <= 1_000.0 {
                // Matched on time as well as place: rounds of a salvo come from one place
                // half a second apart, and by place alone a fused round could take its
                // neighbour's truth and leave its own unmatched.
                pairs.push((d / 1_000.0 + dt.abs() / 5.0, d, i, j));
            }
        }
    }
    pairs.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.2.cmp(&b.2)).then(a.3.cmp(&b.3)));
    let mut truth_taken = vec![false; truths.len()];
    let mut fused_taken = vec![false; located.len()];
    let mut matches = Vec::new();
    for (_, d, i, j) in pairs {
        if !truth_taken[i] && !fused_taken[j] {
            truth_taken[i] = true;
            fused_taken[j] = true;
            matches.push((d, i, j));
        }
    }
    let locatable = truths.iter().filter(|t| t.heard_by >= min_heard).count();
    let matched_locatable = matches
        .iter()
        .filter(|(_, i, _)| truths[*i].heard_by >= min_heard)
        .count();
    let precision = ratio(matches.len(), located.len());
    let recall = ratio(matched_locatable, locatable);
    let f1 = if precision + recall > 0.0 {
        2.0 * precision * recall / (precision + recall)
    } else {
        0.0
    };
    let mut errors: Vec<f64> = matches.iter().map(|m| m.0).collect();
    let (error_median_m, error_p90_m) = median_and_p90(&mut errors);
    let mut ratios: Vec<f64> = matches
        .iter()
        .filter_map(|(d, _, j)| located[*j].crb_m.map(|c| d / c))
        .collect();
    let (crb_ratio_median, _) = median_and_p90(&mut ratios);
    let (mut eligible, mut correct) = (0, 0);
    let mut responsibility = [0usize; 4]; // eligible, correct, wrong, undetermined
    if let Some(a) = agreement {
        let by_id: std::collections::BTreeMap<&str, &TruthEvent> =
            truth.iter().map(|t| (t.id.as_str(), t)).collect();
        for (_, i, j) in &matches {
            let t = truths[*i];
            let f = &located[*j].event;
            let sigma = major_sigma(f.covariance_m2);
            if let Some(party) = &t.party
                && a.place(&t.position).distance_to_line_m > 3.0 * sigma
            {
                eligible += 1;
                if attributed(a, &f.located()).as_ref() == Some(party) {
                    correct += 1;
                }
            }
            // Who fired, and from where.
            let (firer, from) = if t.kind == "launch" {
                (t.party.as_ref(), Some(&t.position))
            } else {
                let launch = t.launch.as_deref().and_then(|id| by_id.get(id));
                (t.fired_by.as_ref(), launch.map(|l| &l.position))
            };
            let (Some(firer), Some(from)) = (firer, from) else {
                continue;
            };
            let origin = f.origin();
            let sigma = major_sigma(origin.map_or(f.covariance_m2, |o| o.covariance_m2));
            if a.place(from).distance_to_line_m <= 3.0 * sigma {
                continue;
            }
            responsibility[0] += 1;
            match origin.and_then(|o| attributed(a, &o)) {
                Some(named) if &named == firer => responsibility[1] += 1,
                Some(_) => responsibility[2] += 1,
                None => responsibility[3] += 1,
            }
        }
    }
    Evaluation {
        truth_events: truths.len(),
        truth_locatable: locatable,
        min_heard,
        fused_events: located.len(),
        matched: matches.len(),
        matched_locatable,
        precision,
        recall,
        f1,
        recall_all: ratio(matches.len(), truths.len()),
        error_median_m,
        error_p90_m,
        crb_ratio_median,
        attribution_eligible: eligible,
        attribution_correct: correct,
        attribution_accuracy: share(correct, eligible),
        responsibility_eligible: responsibility[0],
        responsibility_correct: responsibility[1],
        responsibility_wrong: responsibility[2],
        responsibility_undetermined: responsibility[3],
        responsibility_accuracy: share(responsibility[1], responsibility[0]),
    }
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 { 1.0 } else { a as f64 / b as f64 }
}

/// `a / b`, NaN (null in JSON) when there is nothing to count.
fn share(a: usize, b: usize) -> f64 {
    if b == 0 {
        f64::NAN
    } else {
        a as f64 / b as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use truce_model::{Event, EventType};

    /// The contact line is the meridian 36° E; Ukraine holds the west, Russia the east.
    const STRAIGHT: &str = r#"
[agreement]
id = "straight"
entry_into_force = "2026-01-07T00:00:00Z"
[[parties]]
id = "UA"
[[parties]]
id = "RU"
[contact_line]
geometry = { type = "LineString", coordinates = [[36.0, 46.0], [36.0, 50.0]] }
[[areas.party]]
party = "UA"
geometry = { type = "Polygon", coordinates = [[[33.0, 45.5], [36.0, 45.5], [36.0, 50.5], [33.0, 50.5], [33.0, 45.5]]] }
[[areas.party]]
party = "RU"
geometry = { type = "Polygon", coordinates = [[[36.0, 45.5], [39.0, 45.5], [39.0, 50.5], [36.0, 50.5], [36.0, 45.5]]] }
[[clauses]]
id = "fire"
rule = "no_fire"
text = "no fire"
"#;

    fn agreement() -> Agreement {
        let no_files = |name: &str| Err(format!("no file {name}"));
        Agreement::parse("straight.toml", STRAIGHT, &no_files).expect("a valid agreement")
    }

    const T0: i64 = 1_767_787_200_000_000_000; // 2026-01-07T12:00:00Z

    fn truth(id: &str, kind: &str, t_s: f64, lon: f64, launch: Option<&str>) -> TruthEvent {
        let side = |lon: f64| if lon < 36.0 { "UA" } else { "RU" };
        TruthEvent {
            id: id.into(),
            kind: kind.into(),
            time: Timestamp::from_unix_nanos(T0 + (t_s * 1e9) as i64),
            position: Position::new(48.0, lon),
            party: Some(side(lon).into()),
            // An impact's round came from across the line.
            fired_by: launch.map(|_| side(72.0 - lon).into()),
            launch: launch.map(Into::into),
            heard_by: 8,
        }
    }

    fn fused(kind: EventType, t_s: f64, lon: f64, sigma_m: f64) -> FusedEvent {
        let event = Event::new(
            format!("ev-{t_s}"),
            kind,
            Timestamp::from_unix_nanos(T0 + (t_s * 1e9) as i64),
            Position::new(48.0, lon),
            [[sigma_m * sigma_m, 0.0], [0.0, sigma_m * sigma_m]],
        );
        FusedEvent {
            event,
            crb_m: Some(10.0),
            ellipse_90: [0.0; 3],
            score: Some(1.0),
        }
    }

    #[test]
    fn matches_one_to_one_within_five_seconds_and_a_kilometre() {
        let truths = [
            truth("a", "launch", 0.0, 36.2, None),
            truth("b", "launch", 100.0, 36.2, None),
        ];
        let events = [
            // Near "a" in space (about 70 m east) and time.
            fused(EventType::Launch, 0.5, 36.201, 50.0),
            // A second candidate for "a": one-to-one leaves it unmatched.
            fused(EventType::Launch, 1.0, 36.202, 50.0),
            // "b"'s place, 6 s late: no match.
            fused(EventType::Launch, 106.0, 36.2, 50.0),
        ];
        let e = evaluate(&truths, &events, None, 6);
        assert_eq!(e.matched, 1);
        assert!((e.precision - 1.0 / 3.0).abs() < 1e-12);
        assert!((e.recall - 0.5).abs() < 1e-12);
        assert!(
            (e.error_median_m - 74.0).abs() < 2.0,
            "{}",
            e.error_median_m
        );
        // Without an agreement nothing is eligible for attribution: null, not a perfect score.
        assert_eq!(e.attribution_eligible, 0);
        assert!(e.attribution_accuracy.is_nan());
        assert!(serde_json::to_value(&e).unwrap()["attribution_accuracy"].is_null());
    }

    #[test]
    fn rounds_from_one_place_are_matched_by_time() {
        // Two rounds from one launcher half a second apart. The first fused round is as near
        // in place to either truth; the second, 4.8 s after its truth, can match only that
        // one. Matched by place alone the first would take the second's truth (the tie going
        // to the earlier-listed truth) and leave a round of each unmatched.
        let truths = [
            truth("second", "launch", 0.5, 36.2, None),
            truth("first", "launch", 0.0, 36.2, None),
        ];
        let events = [
            fused(EventType::Launch, 0.01, 36.200015, 5.0),
            fused(EventType::Launch, 5.3, 36.20003, 5.0),
        ];
        let e = evaluate(&truths, &events, None, 6);
        assert_eq!(e.matched, 2);
        assert!((e.recall - 1.0).abs() < 1e-12);
    }

    #[test]
    fn an_impact_is_the_firers_responsibility_not_the_side_it_hit() {
        let a = agreement();
        // RU fires from 36.2° E at 0 s; the round lands at 35.8° E (UA side) 40 s later.
        let truths = [
            truth("launch", "launch", 0.0, 36.2, None),
            truth("impact", "impact", 40.0, 35.8, Some("launch")),
        ];
        let launch = fused(EventType::Launch, 0.0, 36.2, 100.0);
        let mut impact = fused(EventType::Impact, 40.0, 35.8, 100.0);
        let e = evaluate(&truths, &[launch.clone(), impact.clone()], Some(&a), 6);
        // Location attribution: each event lies where it lies.
        assert_eq!((e.attribution_eligible, e.attribution_correct), (2, 2));
        // Responsibility: the launch names RU; the unpaired impact names nobody.
        assert_eq!(e.responsibility_eligible, 2);
        assert_eq!(e.responsibility_correct, 1);
        assert_eq!(e.responsibility_undetermined, 1);
        assert_eq!(e.responsibility_wrong, 0);
        assert!((e.responsibility_accuracy - 0.5).abs() < 1e-12);

        // Paired with its launch, the impact is RU's.
        impact.event.fired_from = Some(launch.event.located());
        let e = evaluate(&truths, &[launch.clone(), impact.clone()], Some(&a), 6);
        assert_eq!((e.responsibility_correct, e.responsibility_wrong), (2, 0));

        // Paired with a wrong launch on the UA side, it is counted wrong.
        let mut elsewhere = launch.event.located();
        elsewhere.location = Position::new(48.0, 35.7);
        impact.event.fired_from = Some(elsewhere);
        let e = evaluate(&truths, &[launch, impact], Some(&a), 6);
        assert_eq!((e.responsibility_correct, e.responsibility_wrong), (1, 1));
    }

    #[test]
    fn events_within_three_sigma_of_the_line_are_not_judged() {
        let a = agreement();
        // 0.01° of longitude at 48° N is about 745 m: within 3σ of 1 km.
        let truths = [truth("near", "launch", 0.0, 36.01, None)];
        let e = evaluate(
            &truths,
            &[fused(EventType::Launch, 0.0, 36.01, 1_000.0)],
            Some(&a),
            6,
        );
        assert_eq!(e.matched, 1);
        assert_eq!((e.attribution_eligible, e.responsibility_eligible), (0, 0));
    }
}
