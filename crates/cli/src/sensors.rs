//! `truce sensors register|list|revoke`.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use reqwest::Method;
use serde_json::json;

use crate::client::Client;

#[derive(Debug, Subcommand)]
pub enum SensorsCommand {
    /// Register a sensor from a JSON file (DESIGN.md section 4a) or a JSON string.
    Register {
        #[command(flatten)]
        admin: Admin,
        /// The registration JSON, or a file holding it.
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
            let value = client
                .admin(Method::POST, "/v1/sensors", body, &token)
                .await?;
            println!("{}", serde_json::to_string_pretty(&value)?);
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
