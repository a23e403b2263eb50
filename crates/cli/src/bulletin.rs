//! `truce bulletin --date D`: publishes the day's bulletin (a signed entry of the log),
//! writes its documents (JSON, HTML with a map, GeoJSON, CSV) beside each other and prints
//! its counts by area and party and the day's restrictions.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use reqwest::Method;
use serde_json::json;

use crate::client::Client;

#[derive(Debug, Args)]
pub struct BulletinArgs {
    /// The day (UTC), `YYYY-MM-DD`.
    #[arg(long)]
    date: String,
    #[arg(long, env = "TRUCE_URL", default_value = "http://127.0.0.1:7878")]
    url: String,
    /// An admin token (or a file holding it), to publish.
    #[arg(long, env = "TRUCE_TOKEN", hide_env_values = true)]
    token: String,
    /// Where to write `bulletin-DATE.{json,html,geojson,csv}`.
    #[arg(long, default_value = ".")]
    out: PathBuf,
}

pub async fn run(args: BulletinArgs) -> anyhow::Result<()> {
    let token = crate::text_or_file(&args.token)?;
    let client = Client::new(&args.url)?;
    let published = client
        .admin(
            Method::POST,
            "/v1/bulletins",
            serde_json::to_vec(&json!({"date": args.date}))?,
            &token,
        )
        .await?;
    std::fs::create_dir_all(&args.out)?;
    for format in ["json", "html", "geojson", "csv"] {
        let bytes = client
            .get_bytes(&format!("/v1/bulletins/{}?format={format}", args.date))
            .await?
            .with_context(|| format!("the {format} of the bulletin is missing"))?;
        let path = args.out.join(format!("bulletin-{}.{format}", args.date));
        std::fs::write(&path, bytes).with_context(|| format!("cannot write {}", path.display()))?;
        println!("wrote {}", path.display());
    }
    let b = &published["bulletin"];
    println!(
        "bulletin {}: {} finding(s), log entry {} (check it with `truce verify --entry {}`)",
        args.date,
        published["published"]["findings"],
        published["log_index"],
        published["log_index"]
    );
    // By area and party, as the OSCE's reports led with, and the day's restrictions.
    for (area, parties) in b["by_area"].as_object().into_iter().flatten() {
        let parties: Vec<String> = parties
            .as_object()
            .into_iter()
            .flatten()
            .map(|(party, n)| format!("{party} {n}"))
            .collect();
        println!("  {area}: {}", parties.join(", "));
    }
    let listed = |key: &str| b[key].as_array().map_or(0, Vec::len);
    println!(
        "  restrictions: {} sensor(s) silent for six hours or more, {} revoked, {} outage(s) reported, {} sensor(s) corrected or quarantined by fusion",
        listed("reporting_gaps"),
        listed("revocations"),
        listed("outages"),
        listed("sensor_health")
    );
    Ok(())
}
