//! The Commission's API: accounts and tokens, the verification policy, the review queue
//! and reviews, allegations, rulings and votes, escalations and their answers. Every
//! change is a signed action in the log (`crate::desk`); every route needs a token, and
//! each change the scope of its role.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use truce_commission::roles::{ADMIN, SYSTEM, Scope};
use truce_commission::{Account, Action, Intent, Measure, Policy, Verdict, Vote, What, crosscheck};
use truce_model::{Finding, ProblemType, VerificationState};

use truce_commission::crosscheck::Located;

use crate::blobs::Blobs;
use crate::desk::{Subject, token_hash};
use crate::error::ApiError;
use crate::extract::ApiPath;
use crate::state::AppState;

/// The account of the request's bearer token: 401 without one that is valid.
pub fn caller(state: &AppState, headers: &HeaderMap) -> Result<Account, ApiError> {
    let token = super::bearer(headers);
    let unauthorized = || {
        ApiError::new(
            ProblemType::Unauthorized,
            "this needs an account's token as `Authorization: Bearer <token>`",
        )
    };
    if token.is_empty() {
        return Err(unauthorized());
    }
    state
        .desk
        .account_for(super::is_admin_token(state, token), token)?
        .ok_or_else(unauthorized)
}

/// The caller's account when its role has `scope`: 401 or 403 otherwise.
pub fn allowed(state: &AppState, headers: &HeaderMap, scope: Scope) -> Result<Account, ApiError> {
    let account = caller(state, headers)?;
    if account.role.may(scope) {
        Ok(account)
    } else {
        Err(ApiError::new(
            ProblemType::Forbidden,
            format!("a {} may not do this", account.role.as_str()),
        ))
    }
}

fn body<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes)
        .map_err(|e| ApiError::new(ProblemType::InvalidField, format!("bad request body: {e}")))
}

fn findings(state: &AppState) -> Vec<Finding> {
    state
        .results
        .borrow()
        .as_ref()
        .map(|r| r.findings.clone())
        .unwrap_or_default()
}

async fn act(state: &AppState, actor: &Account, what: What) -> Result<u64, ApiError> {
    state
        .desk
        .act(&state.sequencer, state.clock.as_ref(), &actor.id, what)
        .await
}

fn new_token() -> Result<String, ApiError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(ApiError::internal)?;
    Ok(format!("truce_{}", hex::encode(bytes)))
}

fn issue_token(state: &AppState, account: &str) -> Result<String, ApiError> {
    let token = new_token()?;
    state
        .desk
        .private
        .add_token(&token_hash(&token), account, &state.clock.now().to_string())?;
    Ok(token)
}

/// `POST /v1/accounts`: a new account and its token, shown this once.
pub async fn create_account(
    State(state): State<AppState>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    let admin = allowed(&state, &headers, Scope::Administer)?;
    let account: Account = body(&bytes)?;
    let id = account.id.clone();
    let index = act(&state, &admin, What::AccountCreate { account }).await?;
    let token = issue_token(&state, &id)?;
    let account = state.desk.read(|c| c.account(&id).cloned());
    Ok((
        StatusCode::CREATED,
        Json(json!({"log_index": index, "account": account, "token": token})),
    )
        .into_response())
}

/// `POST /v1/accounts/{id}/tokens`: another token for an account (a lost one stays valid
/// until the account is disabled), logged as `token_issue` with who issued it.
pub async fn create_token(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let admin = allowed(&state, &headers, Scope::Administer)?;
    if id == ADMIN || id == SYSTEM || state.desk.read(|c| c.account(&id).is_none()) {
        return Err(ApiError::new(
            ProblemType::NotFound,
            format!("no enabled account {id:?} that takes tokens"),
        ));
    }
    // Logged before the token exists: a token nobody can see was made cannot be.
    let index = act(
        &state,
        &admin,
        What::TokenIssue {
            account: id.clone(),
        },
    )
    .await?;
    let token = issue_token(&state, &id)?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"log_index": index, "account": id, "token": token})),
    )
        .into_response())
}

#[derive(Deserialize)]
struct Reasoned {
    reason: String,
}

/// `DELETE /v1/accounts/{id}`: disables an account; its past actions stand.
pub async fn disable_account(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    bytes: Bytes,
) -> Result<Json<Value>, ApiError> {
    let admin = allowed(&state, &headers, Scope::Administer)?;
    let Reasoned { reason } = body(&bytes)?;
    let index = act(
        &state,
        &admin,
        What::AccountDisable {
            account: id,
            reason,
        },
    )
    .await?;
    Ok(Json(json!({"log_index": index})))
}

/// `GET /v1/accounts`.
pub async fn accounts(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    allowed(&state, &headers, Scope::Read)?;
    Ok(Json(
        state.desk.read(|c| json!(c.accounts().collect::<Vec<_>>())),
    ))
}

/// `PUT /v1/policy`: the automatic verification policy from now on; the candidate
/// findings it admits are verified at once (and later ones as the results come).
pub async fn set_policy(
    State(state): State<AppState>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Result<Json<Value>, ApiError> {
    let admin = allowed(&state, &headers, Scope::Administer)?;
    let policy: Policy = body(&bytes)?;
    let index = act(&state, &admin, What::PolicySet { policy }).await?;
    let verified = crate::policy::apply(&state).await?;
    Ok(Json(json!({"log_index": index, "verified": verified})))
}

/// `GET /v1/review/queue`: final findings not yet verified or discounted, oldest first,
/// with their reviews so far (`items`); and the cross-checked allegations not yet verified
/// or discounted, with theirs (`allegations`).
pub async fn queue(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    allowed(&state, &headers, Scope::Read)?;
    let all = findings(&state);
    let items: Vec<Value> = state.desk.read(|c| {
        all.iter()
            .filter(|f| {
                !f.provisional
                    && !matches!(
                        c.state_of(&f.id),
                        VerificationState::Verified | VerificationState::Discounted
                    )
            })
            .map(|f| {
                let mut f = f.clone();
                f.state = c.state_of(&f.id);
                json!({"finding": f, "reviews": c.history(&f.id)})
            })
            .collect()
    });
    let allegations: Vec<Value> = state.desk.read(|c| {
        c.allegations()
            .iter()
            .filter(|(_, r)| {
                r.assessment.is_some()
                    && !matches!(
                        r.state(),
                        VerificationState::Verified | VerificationState::Discounted
                    )
            })
            .map(|(index, r)| json!({"index": index, "state": r.state(), "allegation": r}))
            .collect()
    });
    Ok(Json(
        json!({"count": items.len(), "items": items, "allegations": allegations}),
    ))
}

/// `POST /v1/allegations/{index}/review`: an analyst's verdict on a cross-checked
/// allegation.
pub async fn review_allegation(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiPath(allegation): ApiPath<u64>,
    bytes: Bytes,
) -> Result<Json<Value>, ApiError> {
    let analyst = allowed(&state, &headers, Scope::Review)?;
    let ReviewBody { verdict, reason } = body(&bytes)?;
    let what = What::AllegationReview {
        allegation,
        verdict,
        reason,
    };
    let index = act(&state, &analyst, what).await?;
    Ok(Json(json!({"log_index": index})))
}

#[derive(Deserialize)]
struct ReviewBody {
    verdict: Verdict,
    #[serde(default)]
    reason: Option<String>,
}

/// `POST /v1/findings/{id}/review`: an analyst's verdict; verifying opens the escalations
/// the finding's triggers call for.
pub async fn review(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    bytes: Bytes,
) -> Result<Json<Value>, ApiError> {
    let analyst = allowed(&state, &headers, Scope::Review)?;
    let ReviewBody { verdict, reason } = body(&bytes)?;
    let what = What::Review {
        finding: id,
        verdict,
        reason,
        policy: None,
    };
    known(&state, &what)?;
    let index = act(&state, &analyst, what.clone()).await?;
    Ok(Json(follow_up(&state, &what, index).await?))
}

/// `POST /v1/incidents/{id}/review`: one verdict on a salvo or barrage as a whole. Each of
/// its findings not already in the state the verdict leads to gets the verdict, as its own
/// review action in the log (its reason names the incident), with the escalations a
/// verified finding opens; the incident must be final.
pub async fn review_incident(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    bytes: Bytes,
) -> Result<Json<Value>, ApiError> {
    let analyst = allowed(&state, &headers, Scope::Review)?;
    let ReviewBody { verdict, reason } = body(&bytes)?;
    let incident = state
        .results
        .borrow()
        .as_ref()
        .and_then(|r| r.incidents.iter().find(|i| i.id == id).cloned())
        .ok_or_else(|| ApiError::new(ProblemType::NotFound, format!("no incident {id}")))?;
    if incident.provisional {
        return Err(ApiError::new(
            ProblemType::Conflict,
            format!(
                "incident {id} is provisional: one of its events is still open to new \
                 observations; review it once it is final"
            ),
        ));
    }
    let target = verdict.state();
    let reason = Some(match reason {
        Some(r) => format!("{r} (incident {id}, {} rounds)", incident.rounds),
        None => format!("incident {id}, {} rounds", incident.rounds),
    });
    let mut reviews = Vec::new();
    let mut unchanged = 0;
    for finding in &incident.findings {
        if state.desk.read(|c| c.state_of(finding)) == target {
            unchanged += 1;
            continue;
        }
        let what = What::Review {
            finding: finding.clone(),
            verdict,
            reason: reason.clone(),
            policy: None,
        };
        known(&state, &what)?;
        let index = act(&state, &analyst, what.clone()).await?;
        let mut done = follow_up(&state, &what, index).await?;
        done["finding"] = json!(finding);
        reviews.push(done);
    }
    Ok(Json(json!({
        "incident": id,
        "rounds": incident.rounds,
        "reviews": reviews,
        "unchanged": unchanged,
    })))
}

/// `POST /v1/allegations`: a liaison's allegation, cross-checked at once against the
/// events around it; the assessment is logged too.
pub async fn allege(
    State(state): State<AppState>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    let liaison = allowed(&state, &headers, Scope::Allege)?;
    let what = What::AllegationFile {
        allegation: body(&bytes)?,
    };
    known(&state, &what)?;
    let index = act(&state, &liaison, what.clone()).await?;
    Ok((
        StatusCode::CREATED,
        Json(follow_up(&state, &what, index).await?),
    )
        .into_response())
}

/// What the Commission's fold cannot know: a reviewed finding must be among the current
/// results, and final (a provisional one may yet change, or give way to another).
fn known(state: &AppState, what: &What) -> Result<(), ApiError> {
    match what {
        What::Review { finding, .. } => match findings(state).iter().find(|f| f.id == *finding) {
            None => Err(ApiError::new(
                ProblemType::NotFound,
                format!("no finding {finding}"),
            )),
            Some(f) if f.provisional => Err(ApiError::new(
                ProblemType::Conflict,
                format!(
                    "finding {finding} is provisional: its event is still open to new \
                         observations; review it once it is final"
                ),
            )),
            Some(_) => Ok(()),
        },
        What::AllegationFile { allegation } => {
            let blobs = Blobs::new(&state.config.data);
            match allegation.evidence.iter().find(|e| !blobs.has(&e.sha256)) {
                Some(missing) => Err(ApiError::new(
                    ProblemType::InvalidField,
                    format!(
                        "no blob {}: upload the evidence to /v1/blobs first",
                        missing.sha256
                    ),
                )
                .field("evidence")),
                None => Ok(()),
            }
        }
        What::RulingPropose {
            attribution: Some(party),
            ..
        } => match &state.agreement {
            Some(a) if !a.parties.iter().any(|p| p.id == *party) => Err(ApiError::new(
                ProblemType::InvalidField,
                format!(
                    "{party:?} is not a party to agreement {} (leave the attribution out for \
                     undetermined)",
                    a.id
                ),
            )
            .field("attribution")),
            _ => Ok(()),
        },
        _ => Ok(()),
    }
}

/// `POST /v1/blobs` (any account): stores evidence bytes; their SHA-256, which an
/// allegation's `evidence` names.
pub async fn put_blob(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Result<Response, ApiError> {
    use futures_util::StreamExt;
    caller(&state, &headers)?;
    let limit = state.config.max_body_bytes;
    let too_large = || {
        ApiError::new(
            ProblemType::BodyTooLarge,
            format!("a blob is at most {limit} bytes"),
        )
    };
    if super::guard::declared_length(&headers).is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    // Streamed to disk as it comes: a blob never sits in memory whole.
    let mut upload = Blobs::new(&state.config.data)
        .upload()
        .await
        .map_err(ApiError::internal)?;
    let mut stream = body.into_data_stream();
    while let Some(data) = stream.next().await {
        let data = data.map_err(|e| ApiError::new(ProblemType::BadRequest, e.to_string()))?;
        if upload.size() + data.len() as u64 > limit as u64 {
            return Err(too_large());
        }
        upload.write(&data).await.map_err(ApiError::internal)?;
    }
    let (sha256, size) = upload.finish().await.map_err(ApiError::internal)?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"sha256": sha256, "size": size})),
    )
        .into_response())
}

/// `GET /v1/blobs/{sha256}` (any account): the stored bytes.
pub async fn get_blob(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(sha256): Path<String>,
) -> Result<Response, ApiError> {
    caller(&state, &headers)?;
    match Blobs::new(&state.config.data)
        .get(&sha256)
        .map_err(ApiError::internal)?
    {
        Some(bytes) => {
            Ok(([(header::CONTENT_TYPE, "application/octet-stream")], bytes).into_response())
        }
        None => Err(ApiError::new(
            ProblemType::NotFound,
            format!("no blob {sha256}"),
        )),
    }
}

/// What an action sets off, as extra fields of the answer (with its `log_index`): a
/// verification or an adopted ruling opens escalations (and queues their
/// notifications); an allegation is cross-checked against the events around it, and the
/// assessment logged.
pub(crate) async fn follow_up(
    state: &AppState,
    what: &What,
    index: u64,
) -> Result<Value, ApiError> {
    let mut answer = json!({"log_index": index});
    let escalations = match what {
        What::Review {
            finding,
            verdict: Verdict::Verify,
            ..
        } => Some(escalate(state, Subject::Finding(finding.clone())).await?),
        What::RulingPropose { .. } => Some(escalate(state, Subject::Ruling(index)).await?),
        What::RulingVote { ruling, .. } => Some(escalate(state, Subject::Ruling(*ruling)).await?),
        What::AllegationFile { allegation } => {
            let (events, located, read, responsible) = state
                .results
                .borrow()
                .as_ref()
                .map(|r| {
                    let events: Vec<truce_model::Event> =
                        r.events.iter().map(|e| e.event.clone()).collect();
                    let located: Vec<Located> = r
                        .located
                        .iter()
                        .map(|o| Located {
                            index: o.index,
                            position: o.position,
                            sigma_m: o.sigma_m,
                            time: o.time,
                            operator: o.operator.clone(),
                        })
                        .collect();
                    let read = truce_commission::ResultsAt {
                        size: r.size,
                        digest: r.digest.clone(),
                    };
                    // The party each event's breach is attributed to (its first finding
                    // that names one, in the findings' published order).
                    let mut responsible = std::collections::BTreeMap::new();
                    for f in &r.findings {
                        if let Some(party) = &f.attribution.party {
                            responsible
                                .entry(f.event.clone())
                                .or_insert_with(|| party.clone());
                        }
                    }
                    (events, located, Some(read), responsible)
                })
                .unwrap_or_default();
            let context = truce_commission::Context {
                responsible,
                listeners: listeners(state).await?,
                detection_range_m: truce_fusion::associate::Config::default().detection_range_m,
            };
            let earth = truce_agreement::Earth::default();
            let mut assessment = crosscheck(&earth, allegation, &events, &located, &context);
            assessment.results = read;
            let system = state
                .desk
                .read(|c| c.account(SYSTEM).cloned())
                .ok_or_else(|| ApiError::internal("the server's account is missing"))?;
            let assessed = act(
                state,
                &system,
                What::AllegationAssess {
                    allegation: index,
                    assessment: assessment.clone(),
                },
            )
            .await?;
            answer["assessment_index"] = json!(assessed);
            answer["assessment"] = json!(assessment);
            None
        }
        _ => None,
    };
    if let Some(e) = escalations {
        answer["escalations"] = json!(e);
    }
    Ok(answer)
}

/// The active sensors that hear launches and explosions, for an allegation's cross-check.
async fn listeners(state: &AppState) -> Result<Vec<truce_commission::Listener>, ApiError> {
    use truce_model::{SensorKind, SensorStatus};
    let store = state.store.clone();
    let sensors = tokio::task::spawn_blocking(move || store.read(|r| r.sensors()))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::from)?;
    Ok(sensors
        .into_iter()
        .filter(|s| s.status == SensorStatus::Active)
        .filter(|s| {
            matches!(
                s.registration.kind,
                SensorKind::Acoustic | SensorKind::Seismic | SensorKind::Infrasound
            )
        })
        .filter_map(|s| {
            Some(truce_commission::Listener {
                position: s.registration.position?,
                id: s.registration.id,
                operator: s.registration.operator,
            })
        })
        .collect())
}

/// `GET /v1/allegations`.
pub async fn allegations(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    allowed(&state, &headers, Scope::Read)?;
    Ok(Json(state.desk.read(|c| json!(c.allegations()))))
}

#[derive(Deserialize)]
struct Proposal {
    findings: Vec<String>,
    attribution: Option<String>,
    intent: Intent,
    remedy: String,
}

/// `POST /v1/rulings`: a commissioner proposes a ruling (and concurs).
pub async fn propose(
    State(state): State<AppState>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    let commissioner = allowed(&state, &headers, Scope::Rule)?;
    let p: Proposal = body(&bytes)?;
    let what = What::RulingPropose {
        findings: p.findings,
        attribution: p.attribution,
        intent: p.intent,
        remedy: p.remedy,
    };
    known(&state, &what)?;
    let index = act(&state, &commissioner, what.clone()).await?;
    Ok((
        StatusCode::CREATED,
        Json(follow_up(&state, &what, index).await?),
    )
        .into_response())
}

#[derive(Deserialize)]
struct VoteBody {
    vote: Vote,
    #[serde(default)]
    reason: Option<String>,
}

/// `POST /v1/rulings/{index}/votes`: a commissioner's vote; the one that reaches the
/// quorum adopts the ruling and opens its escalations.
pub async fn vote(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiPath(ruling): ApiPath<u64>,
    bytes: Bytes,
) -> Result<Json<Value>, ApiError> {
    let commissioner = allowed(&state, &headers, Scope::Rule)?;
    let VoteBody { vote, reason } = body(&bytes)?;
    let what = What::RulingVote {
        ruling,
        vote,
        reason,
    };
    let index = act(&state, &commissioner, what.clone()).await?;
    Ok(Json(follow_up(&state, &what, index).await?))
}

/// Opens the escalations `subject` calls for and queues their notifications.
pub(crate) async fn escalate(state: &AppState, subject: Subject) -> Result<Vec<u64>, ApiError> {
    let opened = state
        .desk
        .escalate(
            &state.sequencer,
            state.clock.as_ref(),
            &findings(state),
            subject,
        )
        .await?;
    crate::notify::enqueue(state, Some(&opened))?;
    Ok(opened)
}

/// `GET /v1/rulings`.
pub async fn rulings(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    allowed(&state, &headers, Scope::Read)?;
    Ok(Json(state.desk.read(|c| json!(c.rulings()))))
}

/// `GET /v1/escalations`: every escalation with its deadlines judged now.
pub async fn escalations(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    allowed(&state, &headers, Scope::Read)?;
    let now = state.clock.now();
    Ok(Json(state.desk.read(
        |c| json!({"now": now, "escalations": c.escalations(), "deadlines": c.deadlines(now)}),
    )))
}

#[derive(Deserialize)]
struct Answer {
    #[serde(default)]
    measures: Vec<Measure>,
    #[serde(default)]
    note: Option<String>,
}

/// `POST /v1/escalations/{index}/ack`: the guarantor acknowledges; it stops the clock of
/// the obligations an acknowledgement meets.
pub async fn acknowledge(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiPath(escalation): ApiPath<u64>,
    bytes: Bytes,
) -> Result<Json<Value>, ApiError> {
    let guarantor = allowed(&state, &headers, Scope::Answer)?;
    let Answer { note, .. } = if bytes.is_empty() {
        Answer {
            measures: Vec::new(),
            note: None,
        }
    } else {
        body(&bytes)?
    };
    let index = act(&state, &guarantor, What::EscalationAck { escalation, note }).await?;
    Ok(Json(json!({"log_index": index})))
}

/// `POST /v1/escalations/{index}/respond`: the guarantor's measures.
pub async fn respond(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiPath(escalation): ApiPath<u64>,
    bytes: Bytes,
) -> Result<Json<Value>, ApiError> {
    let guarantor = allowed(&state, &headers, Scope::Answer)?;
    let Answer { measures, note } = body(&bytes)?;
    let index = act(
        &state,
        &guarantor,
        What::EscalationRespond {
            escalation,
            measures,
            note,
        },
    )
    .await?;
    Ok(Json(json!({"log_index": index})))
}

/// `POST /v1/actions`: an action signed by its actor's own key (a DSSE envelope of payload
/// type `application/vnd.truce.action.v1+json`), logged as received. The token must be
/// the actor's.
pub async fn submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    let caller = caller(&state, &headers)?;
    let claimed: Option<Action> = serde_json::from_slice::<truce_model::envelope::Envelope>(&bytes)
        .ok()
        .and_then(|e| truce_model::envelope::decode_base64(&e.payload).ok())
        .and_then(|p| serde_json::from_slice(&p).ok());
    match claimed {
        Some(a) if a.actor == caller.id => known(&state, &a.what)?,
        Some(_) => {
            return Err(ApiError::new(
                ProblemType::Forbidden,
                "the token is not the actor's",
            ));
        }
        None => {
            return Err(ApiError::new(
                ProblemType::InvalidField,
                "not a DSSE envelope of a truce action",
            ));
        }
    }
    let (index, action) = state
        .desk
        .submit(
            &state.sequencer,
            state.clock.as_ref(),
            &bytes,
            state.config.max_future_skew_s.max(300.0),
        )
        .await?;
    let answer = follow_up(&state, &action.what, index).await?;
    Ok((StatusCode::CREATED, Json(answer)).into_response())
}
