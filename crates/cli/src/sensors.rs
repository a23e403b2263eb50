//! `truce sensors register|list|revoke`.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand};
use reqwest::Method;
use serde_json::json;

use crate::client::Client;

#[derive(Debug, Subcommand)]
pub enum SensorsCommand {
    /// Register a sensor from a JSON file (DESIGN.md section 4a) or a JSON string; a JSON
    /// list registers each of its sensors in turn (as `truce sim` writes `sensors.json`).
    Register {
        #[command(flatten)]
        admin: Admin,
        /// The registration JSON (an object, or a list of them), or a file holding it.
        registration: String,
    },
    /// List the registered sensors.
    List {
        #[arg(long, env = "TRUCE_URL", default_value = "http://127.0.0.1:7878")]
        url: String,
    },
    /// Revoke a sensor's key.
    Revoke {
        #[command(flatten)]
        admin: Admin,
        id: String,
        #[arg(long)]
        reason: Option<String>,
    },
}

#[derive(Debug, Args)]
pub struct Admin {
    #[arg(long, env = "TRUCE_URL", default_value = "http://127.0.0.1:7878")]
    url: String,
    /// The admin token, or a file holding it.
    #[arg(long, env = "TRUCE_ADMIN_TOKEN", hide_env_values = true)]
    admin_token: String,
}

pub async fn run(command: SensorsCommand) -> anyhow::Result<()> {
    match command {
        SensorsCommand::Register {
            admin,
            registration,
        } => {
            let body = if PathBuf::from(&registration).is_file() {
                std::fs::read(&registration)?
            } else {
                registration.into_bytes()
            };
            let token = crate::text_or_file(&admin.admin_token)?;
            let client = Client::new(&admin.url)?;
            let parsed: Option<Vec<serde_json::Value>> = serde_json::from_slice(&body).ok();
            let Some(list) = parsed else {
                // One registration: the server judges its JSON and answers in full.
                let value = client
                    .admin(Method::POST, "/v1/sensors", body, &token)
                    .await?;
                println!("{}", serde_json::to_string_pretty(&value)?);
                return Ok(());
            };
            for (n, registration) in list.iter().enumerate() {
                let id = registration["id"].as_str().unwrap_or("?");
                let value = client
                    .admin(
                        Method::POST,
                        "/v1/sensors",
                        serde_json::to_vec(registration)?,
                        &token,
                    )
                    .await
                    .with_context(|| format!("sensor {id} (item {n} of the list)"))?;
                println!("{id}: registered in log entry {}", value["log_index"]);
            }
            println!("{} sensor(s) registered", list.len());
        }
        SensorsCommand::List { url } => {
            let value = Client::new(&url)?.get_json("/v1/sensors").await?;
            println!("{}", serde_json::to_string_pretty(&value)?);
        }
        SensorsCommand::Revoke { admin, id, reason } => {
            let token = crate::text_or_file(&admin.admin_token)?;
            let body = serde_json::to_vec(&json!({ "reason": reason }))?;
            let value = Client::new(&admin.url)?
                .admin(Method::DELETE, &format!("/v1/sensors/{id}"), body, &token)
                .await?;
            println!("{}", serde_json::to_string_pretty(&value)?);
        }
    }
    Ok(())
}
