//! What the live feeds send (`/v1/stream`, the CoT output), made once per results for
//! every connection rather than once per connection per change: each event's and
//! finding's JSON (findings in their reviewed state) and CoT. Each connection still
//! compares what it has sent with the latest view, but an item that did not change keeps
//! the same shared text from view to view, so the comparison is mostly a pointer compare.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use truce_cot::Cot;
use truce_model::Timestamp;
use truce_pipeline::Results;

use crate::desk::Desk;

/// Items by id, each with the text that tells whether it changed.
pub type Texts = BTreeMap<String, Arc<str>>;

/// The feeds' content for one results computation and one state of the Commission.
#[derive(Debug)]
pub struct View {
    pub results: Arc<Results>,
    /// The desk's count of applied actions when the review states were read.
    pub applied: u64,
    /// Each event's JSON, by event id.
    pub events: Texts,
    /// Each finding's JSON with its review state, by finding id.
    pub findings: Texts,
    /// Each event's and finding's CoT, by id, stamped when the view was made (send it
    /// [`Cot::restamped`]); with its key: what a change to it is (type, place, remarks).
    pub cots: Vec<(String, Arc<str>, Cot)>,
}

/// Shares the latest [`View`] between connections.
#[derive(Debug)]
pub struct Views {
    desk: Arc<Desk>,
    latest: Mutex<Option<Arc<View>>>,
}

impl Views {
    pub fn new(desk: Arc<Desk>) -> Self {
        Self {
            desk,
            latest: Mutex::new(None),
        }
    }

    /// The view of `results` with the review states as they are now: the shared one when
    /// it was made already, else made now (outside the lock) and shared, unless a newer
    /// one is by then.
    pub fn of(&self, results: &Arc<Results>, now: Timestamp) -> Arc<View> {
        let applied = self.desk.applied();
        let before = self
            .latest
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        if let Some(v) = &before
            && Arc::ptr_eq(&v.results, results)
            && v.applied == applied
        {
            return v.clone();
        }
        let reviewed = self.desk.reviewed(&results.findings);
        let view = Arc::new(View::make(
            results,
            applied,
            reviewed,
            before.as_deref(),
            now,
        ));
        let mut latest = self.latest.lock().unwrap_or_else(|e| e.into_inner());
        if latest
            .as_ref()
            .is_none_or(|v| (v.results.size, v.applied) <= (results.size, applied))
        {
            *latest = Some(view.clone());
        }
        view
    }
}

/// `text` as shared text: `before`'s when it is the same.
fn share(before: Option<&Arc<str>>, text: String) -> Arc<str> {
    match before {
        Some(b) if **b == *text => b.clone(),
        _ => Arc::from(text),
    }
}

impl View {
    /// The view of `results`, whose findings in their review state are `reviewed`, sharing
    /// the texts of `before` that did not change.
    fn make(
        results: &Arc<Results>,
        applied: u64,
        reviewed: Vec<truce_model::Finding>,
        before: Option<&View>,
        now: Timestamp,
    ) -> Self {
        let old = |texts: fn(&View) -> &Texts, id: &str| before.and_then(|b| texts(b).get(id));
        let events = results
            .events
            .iter()
            .map(|e| {
                let id = e.event.id.clone();
                let json = serde_json::to_string(e).unwrap_or_default();
                let json = share(old(|v| &v.events, &id), json);
                (id, json)
            })
            .collect();
        let findings = reviewed
            .iter()
            .map(|f| {
                let json = serde_json::to_string(f).unwrap_or_default();
                (f.id.clone(), share(old(|v| &v.findings, &f.id), json))
            })
            .collect();
        let old_keys: BTreeMap<&str, &Arc<str>> = before
            .map(|b| {
                b.cots
                    .iter()
                    .map(|(id, key, _)| (id.as_str(), key))
                    .collect()
            })
            .unwrap_or_default();
        let ce: BTreeMap<&str, f64> = results
            .events
            .iter()
            .map(|e| (e.event.id.as_str(), truce_cot::ce_of(e)))
            .collect();
        let cots = results
            .events
            .iter()
            .map(|e| (e.event.id.clone(), Cot::of_event(e, now)))
            .chain(reviewed.iter().map(|f| {
                let ce = ce.get(f.event.as_str()).copied();
                (f.id.clone(), Cot::of_finding(f, ce, now))
            }))
            .map(|(id, cot)| {
                let key = format!("{} {} {} {}", cot.kind, cot.lat, cot.lon, cot.remarks);
                let key = share(old_keys.get(id.as_str()).copied(), key);
                (id, key, cot)
            })
            .collect();
        Self {
            results: results.clone(),
            applied,
            events,
            findings,
            cots,
        }
    }
}

/// Whether a connection that sent `sent` must send `now` again.
pub fn changed(sent: Option<&Arc<str>>, now: &Arc<str>) -> bool {
    sent.is_none_or(|s| !Arc::ptr_eq(s, now) && **s != **now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use truce_fusion::FusedEvent;
    use truce_model::{Event, EventType, Position};

    fn event(id: &str, lat: f64) -> FusedEvent {
        let at = Timestamp::parse("2026-01-07T00:00:00Z").unwrap();
        FusedEvent {
            event: Event::new(
                id,
                EventType::Impact,
                at,
                Position::new(lat, 37.8),
                [[1e4, 0.0], [0.0, 1e4]],
            ),
            crb_m: None,
            ellipse_90: [200.0, 200.0, 0.0],
            score: None,
        }
    }

    fn results(size: u64, events: Vec<FusedEvent>) -> Arc<Results> {
        Arc::new(Results {
            size,
            sensors: 0,
            observations: 0,
            events,
            findings: Vec::new(),
            unjudged: Vec::new(),
            late: 0,
            located: Vec::new(),
            medium: None,
            health: Vec::new(),
            incidents: Vec::new(),
            digest: String::new(),
        })
    }

    #[test]
    fn unchanged_items_keep_their_shared_text_and_changed_ones_are_told() {
        let now = Timestamp::parse("2026-01-07T00:01:00Z").unwrap();
        let first = results(10, vec![event("a", 48.0), event("b", 48.1)]);
        let a = View::make(&first, 0, Vec::new(), None, now);
        // "a" stays, "b" moves, "c" is new.
        let second = results(
            20,
            vec![event("a", 48.0), event("b", 48.2), event("c", 48.3)],
        );
        let later = now.plus_nanos(60_000_000_000);
        let b = View::make(&second, 0, Vec::new(), Some(&a), later);
        assert!(Arc::ptr_eq(&a.events["a"], &b.events["a"]));
        assert!(!changed(a.events.get("a"), &b.events["a"]));
        assert!(changed(a.events.get("b"), &b.events["b"]));
        assert!(changed(a.events.get("c"), &b.events["c"]));
        // The same for CoT, whose time stamps do not count as changes.
        let key = |v: &View, id: &str| v.cots.iter().find(|c| c.0 == id).unwrap().1.clone();
        assert!(Arc::ptr_eq(&key(&a, "a"), &key(&b, "a")));
        assert!(changed(Some(&key(&a, "b")), &key(&b, "b")));
        // Equal texts made apart are equal, not changed.
        let again = View::make(&second, 0, Vec::new(), None, later);
        assert!(!changed(b.events.get("a"), &again.events["a"]));
        assert_eq!(b.cots.len(), 3);
    }

    #[test]
    fn a_cot_restamped_keeps_when_it_happened() {
        let now = Timestamp::parse("2026-01-07T00:01:00Z").unwrap();
        let view = View::make(
            &results(1, vec![event("a", 48.0)]),
            0,
            Vec::new(),
            None,
            now,
        );
        let later = now.plus_nanos(3_600_000_000_000);
        let cot = view.cots[0].2.clone().restamped(later);
        assert_eq!(cot.time, later);
        assert_eq!(cot.start, view.cots[0].2.start);
        assert!(cot.stale > later);
    }
}
