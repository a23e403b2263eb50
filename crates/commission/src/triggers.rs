//! Which commitments a verified finding or an adopted ruling engages, and how: an
//! activation when the commitment binds and its activation condition holds, otherwise a
//! notice to consult, with the reason.

use truce_model::{Finding, Timestamp};

use crate::action::{Escalation, EscalationKind, Obligation};
use crate::guarantees::{Activation, Commitment, Guarantees, Required, SEVERITIES};

/// A finding's severity, from its rule kind: `critical` for a strike on a protected site,
/// `high` for fire across the line, `medium` for other fire and heavy weapons in a
/// withdrawal zone, `low` for entries into the buffer zone and airspace crossings.
pub fn severity(finding: &Finding) -> &'static str {
    match finding.rule.as_str() {
        "protected_site_strike" => "critical",
        "cross_line_fire" => "high",
        "no_fire" | "weapon_in_withdrawal_zone" => "medium",
        _ => "low",
    }
}

fn rank(severity: &str) -> usize {
    SEVERITIES
        .iter()
        .position(|s| *s == severity)
        .unwrap_or(SEVERITIES.len())
}

/// Whether the finding is of a kind, clause and severity the commitment's trigger names.
fn matches(commitment: &Commitment, finding: &Finding) -> bool {
    let t = &commitment.trigger;
    (t.rules.is_empty() || t.rules.contains(&finding.rule))
        && (t.clauses.is_empty() || t.clauses.contains(&finding.clause))
        && rank(severity(finding)) >= rank(&t.min_severity)
}

/// The escalations a finding verified at `at` opens: one per commitment whose
/// `verified` trigger it meets.
pub fn for_verified_finding(
    guarantees: &Guarantees,
    entry_into_force: Timestamp,
    finding: &Finding,
    at: Timestamp,
) -> Vec<Escalation> {
    guarantees
        .commitments
        .iter()
        .filter(|c| c.trigger.state == Required::Verified && matches(c, finding))
        .filter(|c| !c.trigger.attribution_required || finding.attribution.party.is_some())
        .map(|c| {
            let reason = format!(
                "finding {} ({}, clause {}, severity {}) verified",
                finding.id,
                finding.rule,
                finding.clause,
                severity(finding)
            );
            open(
                c,
                Some(finding.id.clone()),
                None,
                vec![finding.id.clone()],
                finding.time >= entry_into_force,
                reason,
                at,
            )
        })
        .collect()
}

/// The escalations a ruling adopted at `at` (proposed at index `ruling`) opens: one per
/// commitment whose `ruled` trigger one of its findings meets.
pub fn for_ruling(
    guarantees: &Guarantees,
    entry_into_force: Timestamp,
    ruling: u64,
    findings: &[&Finding],
    attribution: Option<&str>,
    at: Timestamp,
) -> Vec<Escalation> {
    guarantees
        .commitments
        .iter()
        .filter(|c| c.trigger.state == Required::Ruled)
        .filter(|c| !c.trigger.attribution_required || attribution.is_some())
        .filter_map(|c| {
            let matching: Vec<&&Finding> = findings.iter().filter(|f| matches(c, f)).collect();
            let first = matching.first()?;
            let reason = format!(
                "ruling {ruling} on {} finding(s) ({}, clause {}, severity {}) attributed to {}",
                findings.len(),
                first.rule,
                first.clause,
                severity(first),
                attribution.unwrap_or("no party (undetermined)")
            );
            let in_force = matching.iter().any(|f| f.time >= entry_into_force);
            Some(open(
                c,
                None,
                Some(ruling),
                findings.iter().map(|f| f.id.clone()).collect(),
                in_force,
                reason,
                at,
            ))
        })
        .collect()
}

fn open(
    commitment: &Commitment,
    finding: Option<String>,
    ruling: Option<u64>,
    findings: Vec<String>,
    after_entry_into_force: bool,
    trigger: String,
    at: Timestamp,
) -> Escalation {
    let condition = match commitment.activation {
        Activation::CeasefireInForce => after_entry_into_force,
        Activation::Always => true,
    };
    let (kind, reason) = match (commitment.ratification.binds(), condition) {
        (true, true) => (
            EscalationKind::Activation,
            format!("{trigger}; commitment in force"),
        ),
        (false, _) => (
            EscalationKind::Consultation,
            format!(
                "{trigger}; the commitment is not binding yet (ratification: {}), so this \
                 is a notice to consult, not an activation",
                crate::name(&commitment.ratification)
            ),
        ),
        (true, false) => (
            EscalationKind::Consultation,
            format!(
                "{trigger}; the activation condition (the ceasefire in force) does not hold \
                 for it, so this is a notice to consult, not an activation"
            ),
        ),
    };
    let obligations = commitment
        .deadlines()
        .into_iter()
        .map(|(action, hours, met_by)| Obligation {
            action,
            due: at.plus_nanos(i64::from(hours) * 3_600_000_000_000),
            met_by,
        })
        .collect();
    Escalation {
        commitment: commitment.id.clone(),
        guarantor: commitment.guarantor.clone(),
        finding,
        ruling,
        findings,
        kind,
        reason,
        obligations,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::collections::BTreeMap;

    use truce_model::{Attribution, EventType, Position, VerificationState};

    use super::*;
    use crate::action::MetBy;

    pub(crate) fn finding(id: &str, rule: &str, party: Option<&str>, time: &str) -> Finding {
        Finding {
            id: id.into(),
            agreement: "sample-ceasefire-2026".into(),
            clause: "2".into(),
            rule: rule.into(),
            event: format!("ev-{id}"),
            event_type: EventType::Launch,
            time: Timestamp::parse(time).unwrap(),
            generic_type: "Shelling/artillery/missile attack".into(),
            sub_type: "explosion_impact".into(),
            weapon_class: None,
            location: Position::new(48.3, 37.9),
            distance_to_line_m: 9_000.0,
            side: party.map(str::to_string),
            zones: Vec::new(),
            attribution: Attribution {
                party: party.map(str::to_string),
                probabilities: BTreeMap::new(),
                threshold: 0.95,
                basis: "origin".into(),
            },
            state: VerificationState::Candidate,
            protected_sites: Vec::new(),
            observations: vec![1, 2, 3],
            operators: vec!["FR".into(), "UA".into()],
            modalities: vec!["acoustic".into()],
            detail: String::new(),
            provisional: false,
            incident: None,
        }
    }

    pub(crate) fn sample() -> Guarantees {
        Guarantees::from_toml(crate::guarantees::tests::SAMPLE).unwrap()
    }

    const EIF: &str = "2026-01-08T00:00:00Z";

    #[test]
    fn a_verified_attributed_cross_line_attack_engages_the_verified_triggers() {
        let g = sample();
        let eif = Timestamp::parse(EIF).unwrap();
        let at = Timestamp::parse("2026-01-08T03:00:00Z").unwrap();
        let f = finding("f1", "cross_line_fire", Some("RU"), "2026-01-08T02:00:00Z");
        let opened = for_verified_finding(&g, eif, &f, at);
        let ids: Vec<&str> = opened.iter().map(|e| e.commitment.as_str()).collect();
        assert_eq!(
            ids,
            [
                "us-monitoring",
                "gb-multinational-force",
                "fr-multinational-force"
            ]
        );
        let kinds: Vec<EscalationKind> = opened.iter().map(|e| e.kind).collect();
        // France's commitment is only submitted for ratification: a consultation notice.
        assert_eq!(
            kinds,
            [
                EscalationKind::Activation,
                EscalationKind::Activation,
                EscalationKind::Consultation
            ]
        );
        assert!(
            opened[2].reason.contains("submitted"),
            "{}",
            opened[2].reason
        );
        let gb = &opened[1];
        assert_eq!(gb.obligations[0].action, "consult");
        assert_eq!(gb.obligations[0].met_by, MetBy::Acknowledgement);
        assert_eq!(
            gb.obligations[0].due,
            Timestamp::parse("2026-01-09T03:00:00Z").unwrap()
        );
        assert_eq!(gb.obligations[1].met_by, MetBy::Response);
        assert_eq!(gb.key(), "gb-multinational-force/finding/f1");
    }

    #[test]
    fn what_does_not_match_engages_nothing() {
        let g = sample();
        let eif = Timestamp::parse(EIF).unwrap();
        let at = Timestamp::parse("2026-01-08T03:00:00Z").unwrap();
        // Unattributed: only the commitments that do not need a party.
        let f = finding("f2", "cross_line_fire", None, "2026-01-08T02:00:00Z");
        assert!(for_verified_finding(&g, eif, &f, at).is_empty());
        // Too low a severity for every trigger.
        let f = finding(
            "f3",
            "airspace_crossing",
            Some("RU"),
            "2026-01-08T02:00:00Z",
        );
        assert!(for_verified_finding(&g, eif, &f, at).is_empty());
        // A protected-site strike engages Canada's commitment even unattributed.
        let f = finding("f4", "protected_site_strike", None, "2026-01-08T02:00:00Z");
        let ids: Vec<String> = for_verified_finding(&g, eif, &f, at)
            .into_iter()
            .map(|e| e.commitment)
            .collect();
        assert_eq!(ids, ["ca-intelligence-sanctions"]);
        // Before entry into force: consultation only, and it says why.
        let f = finding("f5", "cross_line_fire", Some("RU"), "2026-01-07T23:00:00Z");
        let opened = for_verified_finding(&g, eif, &f, at);
        assert!(
            opened
                .iter()
                .all(|e| e.kind == EscalationKind::Consultation)
        );
        assert!(opened[0].reason.contains("activation condition"));
    }

    #[test]
    fn a_ruling_engages_the_ruled_triggers() {
        let g = sample();
        let eif = Timestamp::parse(EIF).unwrap();
        let at = Timestamp::parse("2026-01-10T12:00:00Z").unwrap();
        let f = finding("f1", "cross_line_fire", Some("RU"), "2026-01-08T02:00:00Z");
        let opened = for_ruling(&g, eif, 42, &[&f], Some("RU"), at);
        let ids: Vec<(&str, EscalationKind)> = opened
            .iter()
            .map(|e| (e.commitment.as_str(), e.kind))
            .collect();
        assert_eq!(
            ids,
            [
                ("us-backstop", EscalationKind::Consultation),
                ("de-sanctions-logistics", EscalationKind::Activation),
                ("pl-logistics", EscalationKind::Consultation),
            ]
        );
        assert_eq!(opened[0].ruling, Some(42));
        assert_eq!(opened[0].key(), "us-backstop/ruling/42");
        assert!(for_ruling(&g, eif, 42, &[&f], None, at).is_empty());
    }
}
