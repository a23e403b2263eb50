//! `truce commission ...`: the Special Commission's API from the command line — accounts,
//! the verification policy, the review queue and reviews, allegations, rulings and votes,
//! escalations and their answers. Each command prints the server's JSON answer.
//!
//! With `--key FILE` (a key from `truce keygen` whose public half the account was created
//! with), the action is signed here and sent to `POST /v1/actions`, so the log holds the
//! person's own signature; without it, the server signs on the person's behalf.

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use reqwest::Method;
use serde_json::{Value, json};
use truce_commission::ACTION_PAYLOAD_TYPE;
use truce_model::Timestamp;
use truce_model::envelope::Envelope;

use crate::client::Client;

#[derive(Debug, Args)]
pub struct CommissionArgs {
    #[arg(long, env = "TRUCE_URL", default_value = "http://127.0.0.1:7878")]
    url: String,
    /// The account's token (or a file holding it); the admin token for admin commands.
    #[arg(long, env = "TRUCE_TOKEN", hide_env_values = true)]
    token: String,
    /// Sign the action with this key (from `truce keygen`): for accounts created with a
    /// public key, which must sign their own actions.
    #[arg(long)]
    key: Option<PathBuf>,
    /// The account id the key belongs to (with `--key`).
    #[arg(long, requires = "key")]
    actor: Option<String>,
    #[command(subcommand)]
    command: CommissionCommand,
}

#[derive(Debug, Subcommand)]
pub enum CommissionCommand {
    /// Create an account (admin); prints its token, shown this once.
    CreateAccount {
        id: String,
        #[arg(long)]
        name: String,
        /// admin, analyst, commissioner, liaison, guarantor, auditor or gateway (a sensor gateway that sends CoT detections).
        #[arg(long)]
        role: String,
        /// The party a liaison speaks for.
        #[arg(long)]
        party: Option<String>,
        /// The country a guarantor answers for.
        #[arg(long)]
        country: Option<String>,
        /// Base64 of the person's Ed25519 public key.
        #[arg(long)]
        public_key: Option<String>,
    },
    /// Issue another token for an account (admin).
    Token { id: String },
    /// Disable an account (admin).
    DisableAccount {
        id: String,
        #[arg(long)]
        reason: String,
    },
    /// List the accounts.
    Accounts,
    /// Set the automatic verification policy (admin).
    Policy {
        #[arg(long)]
        min_operators: u32,
        #[arg(long)]
        min_modalities: u32,
        #[arg(long)]
        min_probability: Option<f64>,
        /// Rule kinds it covers (repeat; none: all).
        #[arg(long = "rule")]
        rules: Vec<String>,
    },
    /// The review queue.
    Queue,
    /// Review a finding (analyst): under_review, verify, contest or discount.
    Review {
        finding: String,
        #[arg(long)]
        verdict: String,
        #[arg(long)]
        reason: Option<String>,
    },
    /// File an allegation (liaison) from a JSON file or string (`party`, `summary`,
    /// `category`, `position`, `position_sigma_m`, `event_time`, `time_sigma_s`, ...).
    Allege { allegation: String },
    /// List allegations with their cross-checks.
    Allegations,
    /// Store a file as evidence (any account): prints its SHA-256, which an allegation's
    /// `evidence` then names (`[{"sha256": ..., "media_type": ...}]`).
    EvidencePut {
        file: PathBuf,
        /// Its media type.
        #[arg(long, default_value = "application/octet-stream")]
        media_type: String,
    },
    /// Fetch a stored piece of evidence by its SHA-256 and check that its bytes hash to it.
    EvidenceGet {
        sha256: String,
        /// Where to write it.
        #[arg(long)]
        out: PathBuf,
    },
    /// Review a cross-checked allegation (analyst), by the log index of its filing:
    /// under_review, verify, contest or discount.
    ReviewAllegation {
        allegation: u64,
        #[arg(long)]
        verdict: String,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Propose a ruling on verified findings (commissioner).
    Rule {
        /// A finding id (repeat for several).
        #[arg(long = "finding", required = true)]
        findings: Vec<String>,
        /// The party held responsible; omit for undetermined.
        #[arg(long)]
        attribution: Option<String>,
        /// deliberate, accidental or unknown.
        #[arg(long, default_value = "unknown")]
        intent: String,
        #[arg(long)]
        remedy: String,
    },
    /// Vote on a ruling (commissioner): concur or dissent.
    Vote {
        ruling: u64,
        #[arg(long)]
        vote: String,
        #[arg(long)]
        reason: Option<String>,
    },
    /// List rulings with their votes.
    Rulings,
    /// The escalation board: escalations and their deadlines now.
    Escalations,
    /// Acknowledge an escalation (its guarantor).
    Ack {
        escalation: u64,
        #[arg(long)]
        note: Option<String>,
    },
    /// Answer an escalation with measures (its guarantor).
    Respond {
        escalation: u64,
        /// A measure of the commitment's response menu (repeat).
        #[arg(long = "measure", required = true)]
        measures: Vec<String>,
        #[arg(long)]
        note: Option<String>,
    },
}

/// A request: method, path, JSON body; and, for an action a person may sign, the
/// action's fields (`action` and the rest) as the log records them.
struct Request {
    method: Method,
    path: String,
    body: Option<Value>,
    action: Option<Value>,
}

fn get(path: &str) -> Request {
    Request {
        method: Method::GET,
        path: path.into(),
        body: None,
        action: None,
    }
}

fn post(path: String, body: Value, action: Option<Value>) -> Request {
    Request {
        method: Method::POST,
        path,
        body: Some(body),
        action,
    }
}

fn request(command: CommissionCommand) -> anyhow::Result<Request> {
    use CommissionCommand::*;
    Ok(match command {
        CreateAccount {
            id,
            name,
            role,
            party,
            country,
            public_key,
        } => {
            let mut body = json!({"id": id, "name": name, "role": role});
            for (k, v) in [
                ("party", party),
                ("country", country),
                ("public_key", public_key),
            ] {
                if let Some(v) = v {
                    body[k] = json!(v);
                }
            }
            post("/v1/accounts".into(), body, None)
        }
        Token { id } => post(format!("/v1/accounts/{id}/tokens"), json!({}), None),
        DisableAccount { id, reason } => Request {
            method: Method::DELETE,
            path: format!("/v1/accounts/{id}"),
            body: Some(json!({"reason": reason})),
            action: None,
        },
        Accounts => get("/v1/accounts"),
        Policy {
            min_operators,
            min_modalities,
            min_probability,
            rules,
        } => Request {
            method: Method::PUT,
            path: "/v1/policy".into(),
            body: Some(
                json!({"min_operators": min_operators, "min_modalities": min_modalities,
                "min_probability": min_probability, "rules": rules}),
            ),
            action: None,
        },
        Queue => get("/v1/review/queue"),
        Review {
            finding,
            verdict,
            reason,
        } => {
            let body = json!({"verdict": verdict, "reason": reason});
            let action = json!({"action": "review", "finding": finding, "verdict": verdict,
                "reason": reason});
            post(format!("/v1/findings/{finding}/review"), body, Some(action))
        }
        Allege { allegation } => {
            let text = if PathBuf::from(&allegation).is_file() {
                std::fs::read_to_string(&allegation)?
            } else {
                allegation
            };
            let body: Value = serde_json::from_str(&text).context("the allegation is not JSON")?;
            let action = json!({"action": "allegation_file", "allegation": body});
            post("/v1/allegations".into(), body, Some(action))
        }
        Allegations => get("/v1/allegations"),
        EvidencePut { .. } | EvidenceGet { .. } => {
            anyhow::bail!("evidence is stored and fetched as raw bytes, not as a JSON request")
        }
        ReviewAllegation {
            allegation,
            verdict,
            reason,
        } => {
            let body = json!({"verdict": verdict, "reason": reason});
            let action = json!({"action": "allegation_review", "allegation": allegation,
                "verdict": verdict, "reason": reason});
            post(
                format!("/v1/allegations/{allegation}/review"),
                body,
                Some(action),
            )
        }
        Rule {
            findings,
            attribution,
            intent,
            remedy,
        } => {
            let body = json!({"findings": findings, "attribution": attribution,
                "intent": intent, "remedy": remedy});
            let mut action = body.clone();
            action["action"] = json!("ruling_propose");
            post("/v1/rulings".into(), body, Some(action))
        }
        Vote {
            ruling,
            vote,
            reason,
        } => {
            let body = json!({"vote": vote, "reason": reason});
            let action = json!({"action": "ruling_vote", "ruling": ruling, "vote": vote,
                "reason": reason});
            post(format!("/v1/rulings/{ruling}/votes"), body, Some(action))
        }
        Rulings => get("/v1/rulings"),
        Escalations => get("/v1/escalations"),
        Ack { escalation, note } => {
            let body = json!({"note": note});
            let action = json!({"action": "escalation_ack", "escalation": escalation,
                "note": note});
            post(
                format!("/v1/escalations/{escalation}/ack"),
                body,
                Some(action),
            )
        }
        Respond {
            escalation,
            measures,
            note,
        } => {
            let body = json!({"measures": measures, "note": note});
            let action = json!({"action": "escalation_respond", "escalation": escalation,
                "measures": measures, "note": note});
            post(
                format!("/v1/escalations/{escalation}/respond"),
                body,
                Some(action),
            )
        }
    })
}

/// Drops `null` fields (optional ones left out), as the server's records do.
fn without_nulls(mut value: Value) -> Value {
    if let Value::Object(map) = &mut value {
        map.retain(|_, v| !v.is_null());
    }
    value
}

pub async fn run(args: CommissionArgs) -> anyhow::Result<()> {
    let token = crate::text_or_file(&args.token)?;
    let client = Client::new(&args.url)?;
    let command = match args.command {
        CommissionCommand::EvidencePut { file, media_type } => {
            return evidence_put(&client, &token, &file, &media_type).await;
        }
        CommissionCommand::EvidenceGet { sha256, out } => {
            return evidence_get(client.with_token(&token), &sha256, &out).await;
        }
        other => other,
    };
    let request = request(command)?;
    let (method, path, body) = match (&args.key, request.action) {
        (Some(key), Some(action)) => {
            let signer = crate::keys::read(key)?;
            let actor = args
                .actor
                .context("--key needs --actor, the account the key belongs to")?;
            let mut action = without_nulls(action);
            action["actor"] = json!(actor);
            action["at"] = json!(Timestamp::from_datetime(chrono::Utc::now()));
            let payload = serde_json::to_vec(&action)?;
            let envelope = Envelope::signed(ACTION_PAYLOAD_TYPE, &payload, &actor, |m| {
                signer.sign_bytes(m)
            });
            (
                Method::POST,
                "/v1/actions".to_string(),
                Some(json!(envelope)),
            )
        }
        (Some(_), None) => bail!("this command is not an action a person signs"),
        (None, _) => (
            request.method,
            request.path,
            request.body.map(without_nulls),
        ),
    };
    let value = match body {
        Some(body) => {
            client
                .admin(method, &path, serde_json::to_vec(&body)?, &token)
                .await?
        }
        None => client.with_token(&token).get_json(&path).await?,
    };
    println!("{}", serde_json::to_string_pretty(&value)?);
    Ok(())
}

/// `evidence-put`: stores the file's bytes as a blob.
async fn evidence_put(
    client: &Client,
    token: &str,
    file: &std::path::Path,
    media_type: &str,
) -> anyhow::Result<()> {
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let (status, value) = client
        .send(Method::POST, "/v1/blobs", media_type, bytes, Some(token))
        .await?;
    if !status.is_success() {
        anyhow::bail!("POST /v1/blobs: {status}: {value}");
    }
    println!("{}", serde_json::to_string_pretty(&value)?);
    Ok(())
}

/// `evidence-get`: fetches a blob and checks its hash before writing it.
async fn evidence_get(client: Client, sha256: &str, out: &std::path::Path) -> anyhow::Result<()> {
    use sha2::Digest;
    let bytes = client
        .get_bytes(&format!("/v1/blobs/{sha256}"))
        .await?
        .with_context(|| format!("no evidence {sha256}"))?;
    let got = hex::encode(sha2::Sha256::digest(&bytes));
    if !got.eq_ignore_ascii_case(sha256) {
        anyhow::bail!("the server sent bytes whose SHA-256 is {got}, not {sha256}");
    }
    std::fs::write(out, &bytes).with_context(|| format!("cannot write {}", out.display()))?;
    println!(
        "{} bytes, SHA-256 {got}, written to {}",
        bytes.len(),
        out.display()
    );
    Ok(())
}
