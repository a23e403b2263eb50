//! The rules: an event judged against every clause of an agreement yields zero or more
//! findings. Pure functions of (agreement, events): no I/O, no clock, no randomness, and the
//! output does not depend on the order of the events.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};
use truce_agreement::{Agreement, BadCovariance, Clause, Place, Rule, ZoneKind};
use truce_model::{Attribution, Event, EventType, Finding, Located, SiteHit, VerificationState};

/// An event the rules cannot judge.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RulesError {
    #[error("event {event}: location {lat}, {lon} is not a WGS 84 position")]
    Position { event: String, lat: f64, lon: f64 },
    #[error("event {event}: {source}")]
    Covariance {
        event: String,
        #[source]
        source: BadCovariance,
    },
}

/// Judges every event against every clause. Findings come sorted by event time, event id
/// and the clause's place in the agreement, whatever the order of `events`.
pub fn evaluate_all(agreement: &Agreement, events: &[Event]) -> Result<Vec<Finding>, RulesError> {
    let (findings, mut errors) = evaluate_each(agreement, events);
    match errors.is_empty() {
        true => Ok(findings),
        false => Err(errors.swap_remove(0)),
    }
}

/// Like [`evaluate_all`], but an event the rules cannot judge is set aside with its error
/// instead of stopping the others: a log's results must not hinge on one bad event.
pub fn evaluate_each(agreement: &Agreement, events: &[Event]) -> (Vec<Finding>, Vec<RulesError>) {
    let mut findings = Vec::new();
    let mut errors = Vec::new();
    for event in events {
        match evaluate(agreement, event) {
            Ok(f) => findings.extend(f),
            Err(e) => errors.push(e),
        }
    }
    order(agreement, &mut findings);
    (findings, errors)
}

/// Puts findings in their published order (time, event, the clause's place in the
/// agreement, id) and drops repeats of an id.
pub fn order(agreement: &Agreement, findings: &mut Vec<Finding>) {
    let clause_rank: BTreeMap<&str, usize> = agreement
        .clauses
        .iter()
        .enumerate()
        .map(|(i, c)| (c.id.as_str(), i))
        .collect();
    findings.sort_by(|a, b| {
        (a.time, &a.event, clause_rank.get(a.clause.as_str()), &a.id).cmp(&(
            b.time,
            &b.event,
            clause_rank.get(b.clause.as_str()),
            &b.id,
        ))
    });
    findings.dedup_by(|a, b| a.id == b.id);
}

/// Judges one event against every clause of the agreement.
pub fn evaluate(agreement: &Agreement, event: &Event) -> Result<Vec<Finding>, RulesError> {
    for located in [Some(event.located()), event.fired_from, event.landed_at]
        .into_iter()
        .flatten()
    {
        if !located.location.is_valid() {
            return Err(RulesError::Position {
                event: event.id.clone(),
                lat: located.location.lat,
                lon: located.location.lon,
            });
        }
    }
    let judge = Judge::new(agreement, event)?;
    let mut findings = Vec::new();
    for clause in &agreement.clauses {
        if let Some(breach) = judge.breach(clause) {
            findings.push(judge.finding(clause, breach));
        }
    }
    Ok(findings)
}

/// What a rule found, before it is written up.
struct Breach {
    attribution: Attribution,
    detail: String,
    sites: Vec<SiteHit>,
}

/// One event's places, computed once and shared by the clauses.
struct Judge<'a> {
    agreement: &'a Agreement,
    event: &'a Event,
    place: Place,
    origin: Option<(Located, Place)>,
    destination: Option<(Located, Place)>,
}

impl<'a> Judge<'a> {
    fn new(agreement: &'a Agreement, event: &'a Event) -> Result<Self, RulesError> {
        let place = agreement.place(&event.location);
        let with_place = |l: Located| (l, agreement.place(&l.location));
        let judge = Self {
            agreement,
            event,
            origin: event.origin().map(with_place),
            destination: event.destination().map(with_place),
            place,
        };
        // Reject a bad covariance up front, whichever clause would have needed it.
        for located in [Some(event.located()), event.fired_from, event.landed_at]
            .into_iter()
            .flatten()
        {
            truce_agreement::attribution::Whitening::new(located.covariance_m2).map_err(
                |source| RulesError::Covariance {
                    event: event.id.clone(),
                    source,
                },
            )?;
        }
        Ok(judge)
    }

    /// Whether the clause applies at the event's time and place: inside one of its windows
    /// when it has windows, else from entry into force.
    fn applies(&self, clause: &Clause) -> bool {
        let at = self.event.origin_time;
        if clause.windows.is_empty() {
            return at >= self.agreement.entry_into_force;
        }
        let p = [self.event.location.lon, self.event.location.lat];
        clause.windows.iter().any(|id| {
            self.agreement
                .window(id)
                .is_some_and(|w| self.agreement.in_window(w, p, at))
        })
    }

    fn attribute(&self, located: Option<&Located>, basis: &str) -> Attribution {
        let threshold = self.agreement.attribution_threshold;
        let Some(located) = located else {
            return Attribution {
                party: None,
                probabilities: BTreeMap::new(),
                threshold,
                basis: "not_located".into(),
            };
        };
        // The covariance was checked in `new`.
        let probabilities = self
            .agreement
            .party_probabilities(located)
            .unwrap_or_default();
        let party = probabilities
            .iter()
            .filter(|(k, _)| k.as_str() != truce_agreement::NONE)
            .find(|(_, p)| **p >= threshold)
            .map(|(k, _)| k.clone());
        Attribution {
            party,
            probabilities,
            threshold,
            basis: basis.into(),
        }
    }

    fn by_origin(&self) -> Attribution {
        self.attribute(self.origin.as_ref().map(|(l, _)| l), "origin")
    }

    fn by_presence(&self) -> Attribution {
        self.attribute(Some(&self.event.located()), "presence")
    }

    /// Zones of `kind` named by the clause (all zones of that kind if it names none) that
    /// hold the event.
    fn zones_hit(&self, clause: &Clause, kind: ZoneKind) -> Vec<&'a truce_agreement::Zone> {
        self.agreement
            .zones
            .iter()
            .filter(|z| z.kind == kind)
            .filter(|z| clause.zones.is_empty() || clause.zones.contains(&z.id))
            .filter(|z| self.place.zones.contains(&z.id))
            .collect()
    }

    fn where_(&self) -> String {
        let km = self.place.distance_to_line_m / 1000.0;
        match &self.place.side {
            Some(side) => format!("{km:.1} km from the contact line on the {side} side"),
            None => format!("{km:.1} km from the contact line, outside every party's area"),
        }
    }

    fn breach(&self, clause: &Clause) -> Option<Breach> {
        if !self.applies(clause) {
            return None;
        }
        let event = self.event;
        let kind = event.kind;
        let when = if clause.windows.is_empty() {
            "after entry into force".to_string()
        } else {
            format!("inside window of silence {}", clause.windows.join(", "))
        };
        match clause.rule {
            Rule::NoFire if kind.is_fire() => Some(Breach {
                attribution: self.by_origin(),
                detail: format!("{} {}, {when}", kind.as_str(), self.where_()),
                sites: Vec::new(),
            }),
            Rule::CrossLineFire if kind.is_fire() => match (&self.origin, &self.destination) {
                (Some((_, from)), Some((_, to)))
                    if from.side.is_some() && to.side.is_some() && from.side != to.side =>
                {
                    Some(Breach {
                        attribution: self.by_origin(),
                        detail: format!(
                            "fired from the {} side ({:.1} km from the line) onto the {} side ({:.1} km from the line)",
                            from.side.as_deref().unwrap_or("?"),
                            from.distance_to_line_m / 1000.0,
                            to.side.as_deref().unwrap_or("?"),
                            to.distance_to_line_m / 1000.0
                        ),
                        sites: Vec::new(),
                    })
                }
                _ => None,
            },
            Rule::WeaponInWithdrawalZone => match (kind, event.weapon_class) {
                (EventType::WeaponPresence | EventType::Movement, Some(class)) => {
                    let zones: Vec<_> = self
                        .zones_hit(clause, ZoneKind::Withdrawal)
                        .into_iter()
                        .filter(|z| z.weapon_class == Some(class))
                        .collect();
                    zones.first().map(|zone| Breach {
                        attribution: self.by_presence(),
                        detail: format!(
                            "{} {}, inside withdrawal zone {} ({:.0} km)",
                            class.as_str(),
                            self.where_(),
                            zone.id,
                            zone.distance_m / 1000.0
                        ),
                        sites: Vec::new(),
                    })
                }
                _ => None,
            },
            Rule::EntryIntoBufferZone
                if matches!(kind, EventType::WeaponPresence | EventType::Movement) =>
            {
                self.zones_hit(clause, ZoneKind::Buffer)
                    .first()
                    .map(|zone| Breach {
                        attribution: self.by_presence(),
                        detail: format!(
                            "{} {}, inside buffer zone {}",
                            event.object_class.as_deref().unwrap_or("military presence"),
                            self.where_(),
                            zone.id
                        ),
                        sites: Vec::new(),
                    })
            }
            Rule::ProtectedSiteStrike => match &self.destination {
                Some((_, landed)) if kind.is_fire() => {
                    let sites: Vec<SiteHit> = landed
                        .sites
                        .iter()
                        .filter(|s| clause.sites.is_empty() || clause.sites.contains(&s.id))
                        .cloned()
                        .collect();
                    (!sites.is_empty()).then(|| Breach {
                        attribution: self.by_origin(),
                        detail: format!(
                            "{} on protected site {}",
                            kind.as_str(),
                            sites
                                .iter()
                                .map(|s| format!("{} ({:.0} m from it)", s.id, s.distance_m))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                        sites,
                    })
                }
                _ => None,
            },
            Rule::AirspaceCrossing if self.is_air() => self
                .zones_hit(clause, ZoneKind::DroneFree)
                .first()
                .map(|zone| Breach {
                    attribution: self.by_origin(),
                    detail: format!(
                        "{} in the air {}, inside drone-free zone {}",
                        event.object_class.as_deref().unwrap_or("aircraft"),
                        self.where_(),
                        zone.id
                    ),
                    sites: Vec::new(),
                }),
            _ => None,
        }
    }

    /// A drone or aircraft in the air.
    fn is_air(&self) -> bool {
        let airborne = matches!(
            self.event.object_class.as_deref(),
            Some("drone" | "aircraft")
        );
        self.event.kind == EventType::AirspaceEntry
            || (airborne
                && matches!(
                    self.event.kind,
                    EventType::WeaponPresence | EventType::Movement
                ))
    }

    fn finding(&self, clause: &Clause, breach: Breach) -> Finding {
        let event = self.event;
        let mut digest = Sha256::new();
        for part in [&self.agreement.id, &clause.id, &event.id] {
            digest.update(part.as_bytes());
            digest.update([0u8]);
        }
        let id = format!("f-{}", &hex::encode(digest.finalize())[..20]);
        let airborne = matches!(event.object_class.as_deref(), Some("drone" | "aircraft"));
        let generic_type = match event.kind {
            k if k.is_fire() && airborne => "Air/drone strike",
            k if k.is_fire() => "Shelling/artillery/missile attack",
            _ => "Change to group/activity",
        };
        let sub_type = match (event.kind, clause.rule) {
            (EventType::Launch, _) => "explosion_outgoing",
            (EventType::Impact, _) => "explosion_impact",
            (EventType::Airburst, _) => "explosion_airburst",
            (EventType::Explosion, _) => "explosion_undetermined",
            (_, Rule::WeaponInWithdrawalZone) => "weapon_in_violation",
            (_, Rule::AirspaceCrossing) => "airspace_violation",
            _ => "military_presence",
        };
        let sites = if breach.sites.is_empty() {
            match &self.destination {
                Some((_, landed)) => landed.sites.clone(),
                None => self.place.sites.clone(),
            }
        } else {
            breach.sites
        };
        let mut operators = event.operators.clone();
        operators.sort();
        operators.dedup();
        let mut modalities = event.modalities.clone();
        modalities.sort();
        modalities.dedup();
        let mut observations = event.observations.clone();
        observations.sort_unstable();
        observations.dedup();
        Finding {
            id,
            agreement: self.agreement.id.clone(),
            clause: clause.id.clone(),
            rule: clause.rule.as_str().to_string(),
            event: event.id.clone(),
            event_type: event.kind,
            time: event.origin_time,
            generic_type: generic_type.to_string(),
            sub_type: sub_type.to_string(),
            weapon_class: event.weapon_class,
            location: event.location,
            distance_to_line_m: self.place.distance_to_line_m,
            side: self.place.side.clone(),
            zones: self.place.zones.clone(),
            attribution: breach.attribution,
            state: VerificationState::Candidate,
            protected_sites: sites,
            observations,
            operators,
            modalities,
            detail: breach.detail,
            provisional: event.provisional,
            incident: None,
        }
    }
}
