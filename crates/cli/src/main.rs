//! `truce`: the one binary. Argument parsing, wiring and exit codes; the work is in the
//! library crates.

mod agreement;
mod bench;
mod bench_agreement;
mod bench_fusion;
mod bench_latency;
mod bulletin;
mod client;
mod commission;
mod demo;
mod firms;
mod fusion;
mod keys;
mod replay;
mod sample;
mod sensors;
mod serve;
mod sim;
mod submit;
mod verify;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "truce",
    version,
    about = "Ceasefire monitoring: a verifiable log of signed sensor observations"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server: ingest, log, checkpoints, tiles, proofs.
    Serve(Box<serve::ServeArgs>),
    /// Write a new Ed25519 key pair (for a sensor or a log).
    Keygen(keys::KeygenArgs),
    /// Manage the sensor registry of a running server.
    #[command(subcommand)]
    Sensors(sensors::SensorsCommand),
    /// The Special Commission: accounts, policy, reviews, allegations, rulings, votes,
    /// escalations and their answers (docs/guarantees-format.md).
    Commission(commission::CommissionArgs),
    /// Publish the daily bulletin of a date and write its JSON, HTML, GeoJSON and CSV.
    Bulletin(bulletin::BulletinArgs),
    /// Sign (if needed) and submit observations from an NDJSON file.
    Submit(submit::SubmitArgs),
    /// Import observations from other systems' files (NASA FIRMS CSV), signed and submitted.
    #[command(subcommand)]
    Import(firms::ImportCommand),
    /// Audit a log: signature, consistency with what was seen before, tiles, inclusion.
    Verify(verify::VerifyArgs),
    /// Recompute every event and finding from a log (checked against its signed
    /// checkpoint) and print their digest.
    Replay(replay::ReplayArgs),
    /// Fuse a file of observations into events (NDJSON).
    Fuse(fusion::FuseArgs),
    /// Evaluate fused events against a simulator's ground truth.
    Eval(fusion::EvalArgs),
    /// Validate, describe and query a ceasefire agreement; judge events against it.
    #[command(subcommand)]
    Agreement(agreement::AgreementCommand),
    /// Measure throughput.
    #[command(subcommand)]
    Bench(bench::BenchCommand),
    /// Start a server, register sample sensors, submit a sample batch and audit the log.
    Demo(demo::DemoArgs),
    /// Simulate a scenario: write sensors, keys, signed observations and ground truth.
    Sim(sim::SimArgs),
}

/// Exits quietly when standard output is a closed pipe (`truce agreement show | head`):
/// `println!` panics on EPIPE, and a reader that stopped early is not an error.
fn quiet_on_broken_pipe() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if message.contains("failed printing to stdout") && message.contains("Broken pipe") {
            std::process::exit(141);
        }
        default(info);
    }));
}

fn main() -> ExitCode {
    quiet_on_broken_pipe();
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("TRUCE_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Serve(args) => serve::run(*args).await,
            Command::Keygen(args) => keys::run(args),
            Command::Sensors(cmd) => sensors::run(cmd).await,
            Command::Commission(args) => commission::run(args).await,
            Command::Bulletin(args) => bulletin::run(args).await,
            Command::Submit(args) => submit::run(args).await,
            Command::Import(cmd) => firms::run(cmd).await,
            Command::Verify(args) => verify::run(args).await,
            Command::Agreement(cmd) => agreement::run(cmd),
            Command::Fuse(args) => fusion::run_fuse(args),
            Command::Replay(args) => replay::run(args).await,
            Command::Eval(args) => fusion::run_eval(args),
            Command::Bench(cmd) => bench::run(cmd).await,
            Command::Demo(args) => demo::run(args).await,
            Command::Sim(args) => sim::run(args),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Reads a file, or returns the argument itself when it is not a path to a file.
pub fn text_or_file(arg: &str) -> anyhow::Result<String> {
    let path = PathBuf::from(arg);
    if path.is_file() {
        Ok(std::fs::read_to_string(&path)?.trim().to_string())
    } else {
        Ok(arg.trim().to_string())
    }
}
