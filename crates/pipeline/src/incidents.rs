//! Incidents: the events of one salvo or barrage taken together.
//!
//! A gun or a launcher fires again from where it stands, and a barrage lands again where it
//! is aimed: launches from one place close in time are one incident, and so are impacts (or
//! explosions) on one place. An analyst verifies a 40-round salvo once, not 40 times; a
//! bulletin counts it as one incident of 40 rounds.
//!
//! The grouping reads the events in time order (origin time, then id). An event joins the
//! open incident of its type whose centre is nearest, when that centre lies within
//! [`RADIUS_M`] plus three times the event's σ and the incident's latest event is at most
//! [`GAP_S`] before it; else it starts a new group. A group of two events or more is an
//! incident. Its id comes from its first event's, so it stays as the log grows. Pure: the
//! same events give the same incidents.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};
use truce_agreement::{Earth, LonLat};
use truce_fusion::FusedEvent;
use truce_model::{EventType, Finding, Position, Timestamp};

/// How far from an incident's centre an event may lie (plus three times its own σ).
pub const RADIUS_M: f64 = 300.0;
/// The longest pause between two rounds of one incident.
pub const GAP_S: f64 = 120.0;

/// Events from one place close in time.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Incident {
    /// `inc-` and 20 hex digits of the SHA-256 of its first event's id.
    pub id: String,
    #[serde(rename = "type")]
    pub event_type: EventType,
    /// The mean position of its events, and the largest distance of one from it, metres.
    pub position: Position,
    pub radius_m: f64,
    /// Its events by id, in time order: one a round (a launch, or an impact).
    pub events: Vec<String>,
    pub rounds: usize,
    pub first: Timestamp,
    pub last: Timestamp,
    pub duration_s: f64,
    /// The party most of its attributed findings name, if any finding names one.
    pub party: Option<String>,
    /// Its findings by id.
    pub findings: Vec<String>,
    /// True while one of its events is provisional.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub provisional: bool,
}

struct Group<'a> {
    events: Vec<&'a FusedEvent>,
    centre: LonLat,
    last_ns: i64,
}

fn groupable(t: EventType) -> bool {
    matches!(
        t,
        EventType::Launch | EventType::Impact | EventType::Explosion
    )
}

fn lon_lat(p: &Position) -> LonLat {
    [p.lon, p.lat]
}

/// The incidents among `events`, and each finding's incident id set in `findings`.
pub fn group(events: &[FusedEvent], findings: &mut [Finding]) -> Vec<Incident> {
    let earth = Earth::default();
    let mut order: Vec<&FusedEvent> = events.iter().filter(|e| groupable(e.event.kind)).collect();
    order.sort_by(|a, b| {
        a.event
            .origin_time
            .cmp(&b.event.origin_time)
            .then_with(|| a.event.id.cmp(&b.event.id))
    });
    let gap_ns = (GAP_S * 1e9) as i64;
    let mut open: Vec<Group> = Vec::new();
    let mut done: Vec<Group> = Vec::new();
    for e in order {
        let t = e.event.origin_time.unix_nanos();
        // Groups whose latest round is too long ago are closed.
        let (still, closed): (Vec<Group>, Vec<Group>) =
            open.into_iter().partition(|g| t - g.last_ns <= gap_ns);
        done.extend(closed);
        open = still;
        let c = e.event.covariance_m2;
        let sigma = (c[0][0] + c[1][1]).max(0.0).sqrt();
        let here = lon_lat(&e.event.location);
        let nearest = open
            .iter()
            .enumerate()
            .filter(|(_, g)| g.events[0].event.kind == e.event.kind)
            .map(|(k, g)| (k, earth.distance(g.centre, here)))
            .filter(|&(_, d)| d <= RADIUS_M + 3.0 * sigma)
            .min_by(|a, b| a.1.total_cmp(&b.1));
        match nearest {
            Some((k, _)) => {
                let g = &mut open[k];
                g.events.push(e);
                let n = g.events.len() as f64;
                // The running mean of the positions (degrees: the places are a few hundred
                // metres apart).
                g.centre = [
                    g.centre[0] + (here[0] - g.centre[0]) / n,
                    g.centre[1] + (here[1] - g.centre[1]) / n,
                ];
                g.last_ns = t;
            }
            None => open.push(Group {
                events: vec![e],
                centre: here,
                last_ns: t,
            }),
        }
    }
    done.extend(open);
    let mut of_event: BTreeMap<&str, usize> = BTreeMap::new();
    let mut incidents: Vec<Incident> = Vec::new();
    for g in done.into_iter().filter(|g| g.events.len() >= 2) {
        let first = g.events[0];
        let last = g.events[g.events.len() - 1];
        let id = format!(
            "inc-{}",
            &hex::encode(Sha256::digest(first.event.id.as_bytes()))[..20]
        );
        let radius_m = g
            .events
            .iter()
            .map(|e| earth.distance(g.centre, lon_lat(&e.event.location)))
            .fold(0.0, f64::max);
        for e in &g.events {
            of_event.insert(&e.event.id, incidents.len());
        }
        incidents.push(Incident {
            id,
            event_type: first.event.kind,
            position: Position::new(g.centre[1], g.centre[0]),
            radius_m,
            events: g.events.iter().map(|e| e.event.id.clone()).collect(),
            rounds: g.events.len(),
            first: first.event.origin_time,
            last: last.event.origin_time,
            duration_s: (last.event.origin_time.unix_nanos() - first.event.origin_time.unix_nanos())
                as f64
                * 1e-9,
            party: None,
            findings: Vec::new(),
            provisional: g.events.iter().any(|e| e.event.provisional),
        });
    }
    let mut parties: Vec<BTreeMap<String, usize>> = vec![BTreeMap::new(); incidents.len()];
    for f in findings.iter_mut() {
        if let Some(&k) = of_event.get(f.event.as_str()) {
            f.incident = Some(incidents[k].id.clone());
            incidents[k].findings.push(f.id.clone());
            if let Some(p) = &f.attribution.party {
                *parties[k].entry(p.clone()).or_default() += 1;
            }
        }
    }
    for (incident, counts) in incidents.iter_mut().zip(parties) {
        incident.party = counts
            .into_iter()
            .max_by(|a, b| a.1.cmp(&b.1).then_with(|| b.0.cmp(&a.0)))
            .map(|(p, _)| p);
    }
    incidents.sort_by(|a, b| a.first.cmp(&b.first).then_with(|| a.id.cmp(&b.id)));
    incidents
}

#[cfg(test)]
mod tests {
    use super::*;
    use truce_model::Event;

    fn event(id: &str, kind: EventType, at_s: i64, lat: f64, lon: f64) -> FusedEvent {
        let t0 = Timestamp::parse("2026-01-07T08:30:00Z").unwrap();
        FusedEvent {
            event: Event::new(
                id,
                kind,
                t0.plus_nanos(at_s * 1_000_000_000),
                Position::new(lat, lon),
                [[100.0, 0.0], [0.0, 100.0]],
            ),
            crb_m: None,
            ellipse_90: [20.0, 20.0, 0.0],
            score: None,
        }
    }

    /// About `m` metres north of 48.0 N.
    fn north(m: f64) -> f64 {
        48.0 + m / 111_200.0
    }

    #[test]
    fn a_salvo_is_one_incident_and_a_battery_elsewhere_another() {
        let mut events = Vec::new();
        // Ten rounds from one launcher, 2 s apart, scattered by 50 m.
        for k in 0..10 {
            events.push(event(
                &format!("a{k}"),
                EventType::Launch,
                2 * k,
                north(50.0 * (k % 2) as f64),
                37.5,
            ));
        }
        // Five rounds from a battery 5 km away, at the same time.
        for k in 0..5 {
            events.push(event(
                &format!("b{k}"),
                EventType::Launch,
                3 * k,
                north(5000.0),
                37.5,
            ));
        }
        // Their impacts, each round on a target 200 m across: one incident each side.
        for k in 0..5 {
            events.push(event(
                &format!("i{k}"),
                EventType::Impact,
                30 + 3 * k,
                north(-20_000.0 + 40.0 * k as f64),
                37.6,
            ));
        }
        // A lone round: no incident.
        events.push(event("lone", EventType::Launch, 500, north(40_000.0), 37.5));
        let incidents = group(&events, &mut []);
        let sizes: Vec<(EventType, usize)> =
            incidents.iter().map(|i| (i.event_type, i.rounds)).collect();
        assert_eq!(
            sizes,
            vec![
                (EventType::Launch, 10),
                (EventType::Launch, 5),
                (EventType::Impact, 5)
            ]
        );
        assert_eq!(incidents[0].duration_s, 18.0);
        assert!(incidents[0].radius_m < 60.0, "{}", incidents[0].radius_m);
    }

    #[test]
    fn a_pause_longer_than_the_gap_starts_a_new_incident() {
        let events: Vec<FusedEvent> = [0, 60, 120, 400, 450]
            .iter()
            .enumerate()
            .map(|(k, &t)| event(&format!("e{k}"), EventType::Launch, t, 48.0, 37.5))
            .collect();
        let incidents = group(&events, &mut []);
        let rounds: Vec<usize> = incidents.iter().map(|i| i.rounds).collect();
        assert_eq!(rounds, vec![3, 2]);
        // Ids come from the first event, so they stay as later rounds come in.
        let fewer = group(&events[..2], &mut []);
        assert_eq!(fewer[0].id, incidents[0].id);
    }
}
