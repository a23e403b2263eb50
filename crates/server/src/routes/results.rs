//! `GET /v1/results`, `/v1/events` and `/v1/findings`: what fusion and the rules made of the
//! log up to its latest checkpoint, with the digest to compare with `truce replay`.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use truce_model::{ProblemType, Timestamp};
use truce_pipeline::Results;

use truce_commission::roles::Scope;

use super::commission::allowed;
use crate::error::ApiError;
use crate::extract::ApiQuery;
use crate::state::AppState;

const DEFAULT_LIMIT: usize = 1000;
const MAX_LIMIT: usize = 10_000;

fn latest(state: &AppState) -> Option<Arc<Results>> {
    state.results.borrow().clone()
}

fn empty() -> Arc<Results> {
    Arc::new(Results {
        size: 0,
        sensors: 0,
        observations: 0,
        events: Vec::new(),
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

/// The size and digest of the latest results, and their counts.
pub async fn summary(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Err(e) = allowed(&state, &headers, Scope::Read) {
        return e.into_response();
    }
    let computed = latest(&state);
    let r = computed.clone().unwrap_or_else(empty);
    Json(json!({
        "size": r.size,
        "digest": if computed.is_some() { Some(&r.digest) } else { None },
        "sensors": r.sensors,
        "observations": r.observations,
        "events": r.events.len(),
        "findings": r.findings.len(),
        "unjudged": r.unjudged,
        "late_arrivals": r.late,
        "medium": r.medium,
        "health": r.health,
        "agreement": state.agreement_id.as_deref(),
    }))
    .into_response()
}

#[derive(Debug, Deserialize)]
pub struct Filter {
    /// Event type (`launch`, `impact`, ...).
    #[serde(rename = "type")]
    kind: Option<String>,
    from: Option<String>,
    to: Option<String>,
    clause: Option<String>,
    party: Option<String>,
    state: Option<String>,
    /// `min_lon,min_lat,max_lon,max_lat`.
    bbox: Option<String>,
    limit: Option<usize>,
    offset: Option<usize>,
}

fn time(text: &Option<String>, field: &str) -> Result<Option<Timestamp>, ApiError> {
    text.as_deref()
        .map(|t| {
            Timestamp::parse(t).map_err(|e| {
                ApiError::new(ProblemType::InvalidField, format!("{field}: {e}")).field(field)
            })
        })
        .transpose()
}

/// The bounding box of `bbox`, or every place when absent.
fn bbox(text: &Option<String>) -> Result<impl Fn(&truce_model::Position) -> bool, ApiError> {
    let bad = || {
        ApiError::new(
            ProblemType::InvalidField,
            "bbox must be min_lon,min_lat,max_lon,max_lat in degrees",
        )
        .field("bbox")
    };
    let b: Option<[f64; 4]> = match text {
        None => None,
        Some(t) => {
            let v: Vec<f64> = t
                .split(',')
                .map(|x| x.trim().parse::<f64>())
                .collect::<Result<_, _>>()
                .map_err(|_| bad())?;
            match v[..] {
                [a, b, c, d] if a <= c && b <= d && v.iter().all(|x| x.is_finite()) => {
                    Some([a, b, c, d])
                }
                _ => return Err(bad()),
            }
        }
    };
    Ok(move |p: &truce_model::Position| {
        b.is_none_or(|[a, b, c, d]| (a..=c).contains(&p.lon) && (b..=d).contains(&p.lat))
    })
}

fn page<T: serde::Serialize>(
    r: &Results,
    filter: &Filter,
    items: Vec<&T>,
    name: &str,
) -> Result<Response, ApiError> {
    let limit = filter.limit.unwrap_or(DEFAULT_LIMIT);
    if limit == 0 || limit > MAX_LIMIT {
        return Err(ApiError::new(
            ProblemType::InvalidField,
            format!("limit must be between 1 and {MAX_LIMIT}"),
        )
        .field("limit"));
    }
    let offset = filter.offset.unwrap_or(0);
    let total = items.len();
    let shown: Vec<&T> = items.into_iter().skip(offset).take(limit).collect();
    Ok(Json(json!({
        "size": r.size,
        "digest": r.digest,
        "total": total,
        "offset": offset,
        name: shown,
    }))
    .into_response())
}

/// Events, oldest first, filtered by type and origin time.
pub async fn events(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiQuery(filter): ApiQuery<Filter>,
) -> Response {
    let run = || -> Result<Response, ApiError> {
        allowed(&state, &headers, Scope::Read)?;
        let (from, to) = (time(&filter.from, "from")?, time(&filter.to, "to")?);
        let inside = bbox(&filter.bbox)?;
        let r = latest(&state).unwrap_or_else(empty);
        let items = r
            .events
            .iter()
            .filter(|e| inside(&e.event.location))
            .filter(|e| {
                filter
                    .kind
                    .as_deref()
                    .is_none_or(|k| e.event.kind.as_str() == k)
            })
            .filter(|e| from.is_none_or(|f| e.event.origin_time >= f))
            .filter(|e| to.is_none_or(|t| e.event.origin_time < t))
            .collect();
        page(&r, &filter, items, "events")
    };
    run().unwrap_or_else(IntoResponse::into_response)
}

/// Findings, oldest first, filtered by clause, attributed party, state and time.
pub async fn findings(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiQuery(filter): ApiQuery<Filter>,
) -> Response {
    let run = || -> Result<Response, ApiError> {
        allowed(&state, &headers, Scope::Read)?;
        let (from, to) = (time(&filter.from, "from")?, time(&filter.to, "to")?);
        let inside = bbox(&filter.bbox)?;
        let r = latest(&state).unwrap_or_else(empty);
        let reviewed = state.desk.reviewed(&r.findings);
        let items = reviewed
            .iter()
            .filter(|f| inside(&f.location))
            .filter(|f| filter.clause.as_deref().is_none_or(|c| f.clause == c))
            .filter(|f| filter.party_is(f.attribution.party.as_deref()))
            .filter(|f| {
                filter.state.as_deref().is_none_or(|s| {
                    serde_json::to_value(f.state)
                        .ok()
                        .and_then(|v| v.as_str().map(|x| x == s))
                        == Some(true)
                })
            })
            .filter(|f| {
                filter
                    .kind
                    .as_deref()
                    .is_none_or(|k| f.event_type.as_str() == k)
            })
            .filter(|f| from.is_none_or(|t| f.time >= t))
            .filter(|f| to.is_none_or(|t| f.time < t))
            .collect();
        page(&r, &filter, items, "findings")
    };
    run().unwrap_or_else(IntoResponse::into_response)
}

/// An incident with its findings' review states counted.
pub(crate) fn incident_view(
    state: &AppState,
    r: &Results,
    incident: &truce_pipeline::incidents::Incident,
) -> serde_json::Value {
    let mut by_state = std::collections::BTreeMap::new();
    state.desk.read(|c| {
        for id in &incident.findings {
            let s = serde_json::to_value(c.state_of(id)).unwrap_or_default();
            *by_state
                .entry(s.as_str().unwrap_or("").to_string())
                .or_insert(0usize) += 1;
        }
    });
    let mut v = json!(incident);
    v["finding_states"] = json!(by_state);
    v["size"] = json!(r.size);
    v
}

impl Filter {
    /// Whether `party` (none: undetermined) passes the `party` filter.
    fn party_is(&self, party: Option<&str>) -> bool {
        self.party.as_deref().is_none_or(|p| match p {
            "undetermined" => party.is_none(),
            p => party == Some(p),
        })
    }
}

/// `GET /v1/incidents`: the salvos and barrages of the latest results (events from one
/// place close in time), each with its rounds, duration, party and findings; `from` and
/// `to` bound its first round's time, `party` and `type` filter.
pub async fn incidents(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiQuery(filter): ApiQuery<Filter>,
) -> Response {
    let run = || -> Result<Response, ApiError> {
        allowed(&state, &headers, Scope::Read)?;
        let (from, to) = (time(&filter.from, "from")?, time(&filter.to, "to")?);
        let r = latest(&state).unwrap_or_else(empty);
        let items: Vec<serde_json::Value> = r
            .incidents
            .iter()
            .filter(|i| from.is_none_or(|t| i.first >= t))
            .filter(|i| to.is_none_or(|t| i.first < t))
            .filter(|i| filter.party_is(i.party.as_deref()))
            .filter(|i| {
                filter
                    .kind
                    .as_deref()
                    .is_none_or(|k| i.event_type.as_str() == k)
            })
            .map(|i| incident_view(&state, &r, i))
            .collect();
        Ok(Json(json!({"size": r.size, "incidents": items})).into_response())
    };
    run().unwrap_or_else(IntoResponse::into_response)
}

/// `GET /v1/incidents/{id}`: one incident.
pub async fn incident(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let run = || -> Result<Response, ApiError> {
        allowed(&state, &headers, Scope::Read)?;
        let r = latest(&state).unwrap_or_else(empty);
        let found = r
            .incidents
            .iter()
            .find(|i| i.id == id)
            .ok_or_else(|| ApiError::new(ProblemType::NotFound, format!("no incident {id}")))?;
        Ok(Json(incident_view(&state, &r, found)).into_response())
    };
    run().unwrap_or_else(IntoResponse::into_response)
}

/// `GET /v1/stream`: server-sent events. On connecting, a `results` message (size and
/// digest); then, whenever new results are computed or a review changes a finding's state:
/// an `event` message per event that is new or changed (more evidence, a link to its
/// launch), a `finding` message per finding that is new or changed (with its review
/// state), a `removed` message (`{"events": [ids], "findings": [ids]}`) for those no
/// longer in the results, and a `results` message when the results moved. History is at
/// `/v1/events` and `/v1/findings`.
pub async fn stream(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<
    axum::response::sse::Sse<
        impl futures_util::Stream<Item = Result<axum::response::sse::Event, std::convert::Infallible>>,
    >,
    ApiError,
> {
    let reader = allowed(&state, &headers, Scope::Read)?.id;
    use axum::response::sse::{Event, KeepAlive, Sse};
    use std::collections::VecDeque;

    use crate::views::{Texts, View, changed};

    /// What this client has been sent: the view it was last brought up to.
    struct Follow {
        rx: crate::results::Latest,
        /// Actions applied: a review changes a finding without changing the results.
        applied: tokio::sync::watch::Receiver<u64>,
        /// The server's shutdown: the stream ends with it.
        stopping: tokio::sync::watch::Receiver<bool>,
        sent: Option<Arc<View>>,
        queue: VecDeque<Event>,
    }
    let summary = |r: &Results| {
        Event::default()
            .event("results")
            .data(json!({"size": r.size, "digest": r.digest}).to_string())
    };
    let view = {
        let state = state.clone();
        move |r: &Arc<Results>| state.views.of(r, state.clock.now())
    };
    let mut rx = state.results.clone();
    let current = rx.borrow_and_update().clone();
    let mut follow = Follow {
        rx,
        applied: state.desk.watch_applied(),
        stopping: state.stopping.clone(),
        sent: None,
        queue: VecDeque::new(),
    };
    if let Some(r) = &current {
        follow.sent = Some(view(r));
        follow.queue.push_back(summary(r));
    }
    let accounts = state.desk.clone();
    let stream = futures_util::stream::unfold(follow, move |mut f| {
        let view = view.clone();
        let (accounts, reader) = (accounts.clone(), reader.clone());
        async move {
            loop {
                if let Some(next) = f.queue.pop_front() {
                    return Some((Ok(next), f));
                }
                let woken = tokio::select! {
                    c = f.rx.changed() => c,
                    c = f.applied.changed() => c,
                    _ = f.stopping.wait_for(|stop| *stop) => return None,
                };
                if woken.is_err() {
                    return None;
                }
                // Disabling an account is logged, so the results move on after it: the
                // stream of an account that may no longer read ends there.
                if !accounts.may(&reader, Scope::Read) {
                    tracing::info!(account = %reader, "stream closed: the account may no longer read");
                    return None;
                }
                f.applied.borrow_and_update();
                let Some(r) = f.rx.borrow_and_update().clone() else {
                    continue;
                };
                let now = view(&r);
                if f.sent.as_ref().is_some_and(|s| Arc::ptr_eq(s, &now)) {
                    continue;
                }
                let moved = f.sent.as_ref().is_none_or(|s| !Arc::ptr_eq(&s.results, &r));
                let empty = Texts::new();
                let mut removed = json!({"events": [], "findings": []});
                for (name, old, new) in [
                    (
                        "event",
                        f.sent.as_ref().map_or(&empty, |v| &v.events),
                        &now.events,
                    ),
                    (
                        "finding",
                        f.sent.as_ref().map_or(&empty, |v| &v.findings),
                        &now.findings,
                    ),
                ] {
                    for (id, text) in new {
                        if changed(old.get(id), text) {
                            f.queue
                                .push_back(Event::default().event(name).data(&**text));
                        }
                    }
                    let gone: Vec<&String> =
                        old.keys().filter(|id| !new.contains_key(*id)).collect();
                    removed[format!("{name}s")] = json!(gone);
                }
                if removed["events"].as_array().is_some_and(|a| !a.is_empty())
                    || removed["findings"]
                        .as_array()
                        .is_some_and(|a| !a.is_empty())
                {
                    f.queue
                        .push_back(Event::default().event("removed").data(removed.to_string()));
                }
                f.sent = Some(now);
                if moved {
                    f.queue.push_back(summary(&r));
                }
            }
        }
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}
