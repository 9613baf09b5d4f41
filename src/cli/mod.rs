//! The command line (SPEC §7): argument definitions and dispatch, one file per command.
//!
//! Exit codes: 0 success, 1 runtime failure, 2 bad usage or configuration.

mod alerts;
mod check_config;
mod events;
mod serve;
mod stats;
mod trigger;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::config::{ConfigError, Overrides, Settings};

/// hookwatch: receive, keep, verify and watch webhooks.
#[derive(Debug, Parser)]
#[command(name = "hookwatch", version, about)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command understands.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Database URL: sqlite://PATH or postgres://…
    #[arg(long, global = true, env = "HOOKWATCH_DATABASE")]
    pub database: Option<String>,
    /// Config file (default: ./hookwatch.toml when it exists)
    #[arg(long, global = true, env = "HOOKWATCH_CONFIG")]
    pub config: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server: receive webhooks, serve the API and the dashboard
    Serve(serve::ServeArgs),
    /// List stored events, newest first, straight from the database
    Events(events::EventsArgs),
    /// Show counts straight from the database
    Stats(stats::StatsArgs),
    /// List stored alerts, newest first, straight from the database
    Alerts(alerts::AlertsArgs),
    /// Check the configuration and print it with secrets masked (exit 2 on problems)
    CheckConfig(serve::ServeArgs),
    /// Send a signed sample delivery of a provider's event type (`--list` lists them)
    Trigger(trigger::TriggerArgs),
}

/// Parses the command line and runs the command.
pub fn run() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve::run(&cli.global, args),
        Command::Events(args) => events::run(&cli.global, args),
        Command::Stats(args) => stats::run(&cli.global, args),
        Command::Alerts(args) => alerts::run(&cli.global, args),
        Command::CheckConfig(args) => check_config::run(&cli.global, args),
        Command::Trigger(args) => trigger::run(&cli.global, args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("hookwatch: {error:#}");
            let config_error = error.downcast_ref::<ConfigError>().is_some()
                || error.downcast_ref::<trigger::UsageError>().is_some();
            ExitCode::from(if config_error { 2 } else { 1 })
        }
    }
}

/// Settings for the commands that only read the database (no listener, no token checks).
fn offline_settings(global: &GlobalArgs) -> anyhow::Result<Settings> {
    let overrides = Overrides {
        database: global.database.clone(),
        config: global.config.clone(),
        ..Overrides::default()
    };
    Ok(Settings::resolve_for_reading(&overrides)?)
}

/// A current-thread runtime for the offline commands.
fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}
