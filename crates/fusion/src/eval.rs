//! Evaluation against ground truth (DESIGN.md section 6, NET-VISA style): fused events are
//! matched one-to-one to true events within 5 s and 1 km, nearest pairs first; precision,
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
    #[serde(default)]
    pub party: Option<String>,
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
    /// Matched events whose true position lies more than 3σ (the larger axis of the
    /// estimated covariance) from the contact line, and those attributed to the right party.
    pub attribution_eligible: usize,
    pub attribution_correct: usize,
    pub attribution_accuracy: f64,
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
    let mut pairs: Vec<(f64, usize, usize)> = Vec::new();
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
                pairs.push((d, i, j));
            }
        }
    }
    pairs.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
    let mut truth_taken = vec![false; truths.len()];
    let mut fused_taken = vec![false; located.len()];
    let mut matches = Vec::new();
    for (d, i, j) in pairs {
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
    if let Some(a) = agreement {
        for (_, i, j) in &matches {
            let t = truths[*i];
            let f = &located[*j].event;
            let cov = f.covariance_m2;
            let sigma = ((cov[0][0] + cov[1][1]) / 2.0
                + (((cov[0][0] - cov[1][1]) / 2.0).powi(2) + cov[0][1].powi(2)).sqrt())
            .sqrt();
            let place = a.place(&t.position);
            if place.distance_to_line_m <= 3.0 * sigma || t.party.is_none() {
                continue;
            }
            eligible += 1;
            let probabilities = a
                .party_probabilities(&Located {
                    location: f.location,
                    covariance_m2: cov,
                })
                .unwrap_or_default();
            let attributed = probabilities
                .iter()
                .find(|(k, p)| {
                    k.as_str() != truce_agreement::NONE && **p >= a.attribution_threshold
                })
                .map(|(k, _)| k.clone());
            if attributed == t.party {
                correct += 1;
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
        attribution_accuracy: ratio(correct, eligible),
    }
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 { 1.0 } else { a as f64 / b as f64 }
}
