//! Daily bulletins: published by an admin (`POST /v1/bulletins`), each a signed action in
//! the log naming the SHA-256 of its documents (kept as blobs), and read by anyone
//! (`GET /v1/bulletins/{date}?format=json|html|geojson|csv`).

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use truce_commission::bulletin;
use truce_commission::roles::Scope;
use truce_commission::{Published, What};
use truce_model::{Finding, ObservationData, ProblemType, SensorRevocation};

use super::commission::allowed;
use crate::blobs::Blobs;
use crate::error::ApiError;
use crate::extract::ApiQuery;
use crate::state::AppState;

#[derive(Deserialize)]
struct PublishBody {
    date: String,
}

/// The latest findings, each in the state its reviews have brought it to.
pub fn reviewed_findings(state: &AppState) -> (u64, String, Vec<Finding>) {
    let results = state.results.borrow().clone();
    let Some(r) = results else {
        return (0, String::new(), Vec::new());
    };
    (r.size, r.digest.clone(), state.desk.reviewed(&r.findings))
}

/// The monitoring's restrictions on `date`, from the registry and every entry of the log up
/// to `size` (read in blocks; the bulletin is written once a day): the sensors silent for six
/// hours or more (from the times of the observations), the sensors revoked (from the
/// key-revocation entries) and the services reported out or degraded (from the
/// `infrastructure.status` observations).
async fn restrictions(
    state: &AppState,
    size: u64,
    date: &str,
) -> Result<bulletin::Restrictions, ApiError> {
    const BLOCK: u64 = 4096;
    let store = state.store.clone();
    let agreement = state.agreement.clone();
    let date = date.to_string();
    tokio::task::spawn_blocking(move || {
        store.read(|r| {
            let records = r.sensors()?;
            let revoked_now: std::collections::BTreeSet<&str> = records
                .iter()
                .filter(|s| s.status == truce_model::SensorStatus::Revoked)
                .map(|s| s.registration.id.as_str())
                .collect();
            let sensors: Vec<(String, String, String)> = records
                .iter()
                .map(|s| {
                    let kind = s.registration.kind.as_str().to_string();
                    (
                        s.registration.id.clone(),
                        kind,
                        s.registration.operator.clone(),
                    )
                })
                .collect();
            let mut reports = Vec::new();
            let mut statuses = Vec::new();
            let mut revoked = Vec::new();
            let mut start = 0;
            while start < size {
                for data in r.entries(start, BLOCK.min(size - start))? {
                    let Ok(entry) = truce_model::Entry::decode(&data) else {
                        continue;
                    };
                    match entry.kind {
                        truce_model::EntryKind::Observation => {
                            let Ok(o) = truce_pipeline::decode_envelope(entry.body) else {
                                continue;
                            };
                            if let ObservationData::Infrastructure {
                                site_id,
                                service,
                                status,
                                households_affected,
                            } = o.data
                            {
                                statuses.push(bulletin::Outage {
                                    at: o.observed_at,
                                    sensor: o.sensor.clone(),
                                    site: site_id,
                                    site_name: None,
                                    area: None,
                                    service,
                                    status,
                                    households_affected,
                                });
                            }
                            reports.push((o.sensor, o.observed_at));
                        }
                        truce_model::EntryKind::KeyRevocation => {
                            if let Some(r) = entry.sensor_record().ok().and_then(|e| {
                                serde_json::from_slice::<SensorRevocation>(&e.record).ok()
                            }) {
                                revoked.push(r);
                            }
                        }
                        _ => {}
                    }
                }
                start += BLOCK;
            }
            // The sensors revoked for good, since their latest revocation.
            let mut until = std::collections::BTreeMap::new();
            for r in revoked
                .iter()
                .filter(|r| revoked_now.contains(r.sensor.as_str()))
            {
                until.insert(r.sensor.clone(), r.revoked_at);
            }
            Ok(bulletin::Restrictions {
                reporting_gaps: bulletin::reporting_gaps(&sensors, &reports, &until, &date),
                revocations: bulletin::revocations(&sensors, &revoked, &date),
                outages: bulletin::outages(&statuses, &date, agreement.as_deref()),
                ..Default::default()
            })
        })
    })
    .await
    .map_err(ApiError::internal)?
    .map_err(ApiError::from)
}

/// The sensors fusion corrects or quarantines, for the bulletin's restrictions.
fn sensor_health_notes(
    health: &[truce_fusion::health::SensorHealth],
) -> Vec<bulletin::SensorHealthNote> {
    health
        .iter()
        .filter(|h| !matches!(h.state, "healthy" | "unknown"))
        .map(|h| bulletin::SensorHealthNote {
            sensor: h.sensor.clone(),
            state: h.state.to_string(),
            quarantined: h.quarantined,
            correction_s: h.correction.map(|c| c.offset_s),
            since_arrivals: h.since_arrivals,
            arrivals: h.arrivals,
            reason: h.reason.clone(),
        })
        .collect()
}

/// `POST /v1/bulletins` (admin): builds and publishes the bulletin of `{"date": ...}`.
pub async fn publish(
    State(state): State<AppState>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    let admin = allowed(&state, &headers, Scope::Administer)?;
    let PublishBody { date } = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::new(ProblemType::InvalidField, format!("bad request body: {e}")))?;
    if bulletin::day(&date).is_none() {
        return Err(ApiError::new(ProblemType::InvalidField, "a date is YYYY-MM-DD").field("date"));
    }
    // One snapshot of the results for everything the bulletin says (the log may grow
    // while the restrictions are read).
    let snapshot = state.results.borrow().clone();
    let (size, digest, findings) = match &snapshot {
        Some(r) => (r.size, r.digest.clone(), state.desk.reviewed(&r.findings)),
        None => (0, String::new(), Vec::new()),
    };
    let now = state.clock.now();
    let mut restrictions = restrictions(&state, size, &date).await?;
    // Fusion's judgement of the sensors and of the medium.
    if let Some(r) = &snapshot {
        restrictions.sensor_health = sensor_health_notes(&r.health);
        restrictions.medium = r.medium.as_ref().and_then(|m| serde_json::to_value(m).ok());
    }
    let agreement = state.agreement.as_deref();
    let inputs = bulletin::Inputs {
        date: &date,
        log_size: size,
        digest: &digest,
        findings: &findings,
        agreement,
    };
    let mut b = state
        .desk
        .read(|c| bulletin::build(inputs, c, now, restrictions));
    // The day's incidents.
    if let (Some(r), Some((from, to))) = (&snapshot, bulletin::day(&date)) {
        b.incidents = r
            .incidents
            .iter()
            .filter(|i| i.first >= from && i.first < to)
            .map(|i| super::results::incident_view(&state, r, i))
            .collect();
    }
    let todays = bulletin::of_day(&findings, &date);
    let documents = [
        (
            "json",
            serde_json::to_vec_pretty(&b).map_err(ApiError::internal)?,
        ),
        ("html", bulletin::html(&b, &todays, agreement).into_bytes()),
        (
            "geojson",
            serde_json::to_vec(&bulletin::geojson(&todays, agreement))
                .map_err(ApiError::internal)?,
        ),
        ("csv", bulletin::csv(&todays, agreement).into_bytes()),
    ];
    let blobs = Blobs::new(&state.config.data);
    let stored = tokio::task::spawn_blocking(move || {
        documents
            .into_iter()
            .map(|(k, bytes)| blobs.put(&bytes).map(|sha| (k.to_string(), sha)))
            .collect::<std::io::Result<std::collections::BTreeMap<String, String>>>()
    })
    .await
    .map_err(ApiError::internal)?
    .map_err(ApiError::internal)?;
    let published = Published {
        date,
        log_size: size,
        digest,
        findings: b.findings,
        documents: stored,
    };
    let index = state
        .desk
        .act(
            &state.sequencer,
            state.clock.as_ref(),
            &admin.id,
            What::BulletinPublish {
                bulletin: published.clone(),
            },
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"log_index": index, "published": published, "bulletin": b})),
    )
        .into_response())
}

#[derive(Deserialize)]
pub struct Format {
    format: Option<String>,
}

/// `GET /v1/bulletins/{date}` (public): a published bulletin in one of its formats.
pub async fn show(
    State(state): State<AppState>,
    Path(date): Path<String>,
    ApiQuery(Format { format }): ApiQuery<Format>,
) -> Result<Response, ApiError> {
    let format = format.unwrap_or_else(|| "json".into());
    let content_type = match format.as_str() {
        "json" => "application/json",
        "html" => "text/html; charset=utf-8",
        "geojson" => "application/geo+json",
        "csv" => "text/csv; charset=utf-8",
        _ => {
            return Err(ApiError::new(
                ProblemType::InvalidField,
                "format is json, html, geojson or csv",
            )
            .field("format"));
        }
    };
    let sha256 = state
        .desk
        .read(|c| {
            c.bulletins()
                .get(&date)
                .and_then(|(_, p)| p.documents.get(&format).cloned())
        })
        .ok_or_else(|| {
            ApiError::new(
                ProblemType::NotFound,
                format!("no bulletin published for {date}"),
            )
        })?;
    let bytes = Blobs::new(&state.config.data)
        .get(&sha256)
        .map_err(ApiError::internal)?
        .ok_or_else(|| ApiError::internal(format!("blob {sha256} of the bulletin is missing")))?;
    Ok(([(header::CONTENT_TYPE, content_type)], bytes).into_response())
}
