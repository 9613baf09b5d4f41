//! The command line: argument definitions and dispatch, one file per command.
//!
//! Exit codes: 0 success, 1 runtime failure, 2 bad usage, a bad flag value (`BadFlag`) or
//! a bad configuration (`ConfigError`).

mod alerts;
mod check_config;
mod completions;
mod events;
mod export;
mod filters;
mod forwards;
mod healthcheck;
mod import;
mod progress;
mod prune;
mod remote;
mod replay;
mod serve;
mod stats;
mod tail;
mod trigger;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::parser::ValueSource;
use clap::{ArgMatches, Args, CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::app::open_store;
use crate::config::{ConfigError, DatabaseUrl, Overrides, Settings};
use crate::store::{Causes, Store};

/// hookwatch: receive, keep, verify and watch webhooks.
#[derive(Debug, Parser)]
#[command(name = "hookwatch", version = env!("HOOKWATCH_VERSION"), about)]
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
    CheckConfig(check_config::CheckConfigArgs),
    /// Follow a running server live; optionally re-send each event to a local application
    Tail(tail::TailArgs),
    /// Exit 0 when a running server's /healthz answers 200, else 1
    Healthcheck(healthcheck::HealthcheckArgs),
    /// Print shell completions (bash, zsh or fish)
    Completions(completions::CompletionsArgs),
    /// Write stored events as NDJSON, one whole event per line, straight from the database
    Export(export::ExportArgs),
    /// Load an export (a file, or - for stdin) into the database, keeping ids
    Import(import::ImportArgs),
    /// Delete stored events older than an age, straight on the database
    Prune(prune::PruneArgs),
    /// Send a signed sample delivery of a provider's event type (`--list` lists them)
    Trigger(trigger::TriggerArgs),
    /// Ask a running server to send stored events again (by id, or by the filters of `events`)
    Replay(replay::ReplayArgs),
    /// List a running server's deliveries; `forwards pause NAME`, `forwards resume NAME`
    Forwards(forwards::ForwardsArgs),
}

/// Parses the command line and runs the command.
pub fn run() -> ExitCode {
    let matches = Cli::command().get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(error) => error.exit(),
    };
    let result = unused_globals(&cli.command, &matches).and_then(|()| dispatch(cli));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("hookwatch: {}", Causes(error.as_ref()));
            let usage = error.downcast_ref::<ConfigError>().is_some()
                || error.downcast_ref::<BadFlag>().is_some()
                || error.downcast_ref::<trigger::UsageError>().is_some();
            ExitCode::from(if usage { 2 } else { 1 })
        }
    }
}

/// Refuses a global flag given on the command line to a command that does not use it (the
/// commands that talk to a running server have no database; only `trigger` reads a config),
/// so it is never silently ignored. The same setting in the environment is ambient and
/// passes.
fn unused_globals(command: &Command, matches: &ArgMatches) -> anyhow::Result<()> {
    let (name, unused): (&str, &[&str]) = match command {
        Command::Tail(_)
        | Command::Healthcheck(_)
        | Command::Completions(_)
        | Command::Replay(_)
        | Command::Forwards(_) => (
            matches.subcommand_name().unwrap_or(""),
            &["database", "config"],
        ),
        Command::Trigger(_) => ("trigger", &["database"]),
        _ => return Ok(()),
    };
    let Some((_, sub)) = matches.subcommand() else {
        return Ok(());
    };
    for flag in unused {
        if sub.value_source(flag) == Some(ValueSource::CommandLine) {
            return Err(BadFlag(format!(
                "{flag}: `{name}` does not use it, so it would be ignored"
            ))
            .into());
        }
    }
    Ok(())
}

fn dispatch(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => serve::run(&cli.global, args),
        Command::Events(args) => events::run(&cli.global, args),
        Command::Stats(args) => stats::run(&cli.global, args),
        Command::Alerts(args) => alerts::run(&cli.global, args),
        Command::CheckConfig(args) => check_config::run(&cli.global, args),
        Command::Tail(args) => tail::run(args),
        Command::Healthcheck(args) => healthcheck::run(args),
        Command::Completions(args) => completions::run(args),
        Command::Trigger(args) => trigger::run(&cli.global, args),
        Command::Prune(args) => prune::run(&cli.global, args),
        Command::Export(args) => export::run(&cli.global, args),
        Command::Import(args) => import::run(&cli.global, args),
        Command::Replay(args) => replay::run(args),
        Command::Forwards(args) => forwards::run(args),
    }
}

/// A flag value that cannot be used, e.g. `--since 2x`; the text starts with the flag's name
/// (`since: …`). Exit code 2, like a value clap itself refuses.
#[derive(Debug, thiserror::Error)]
#[error("--{0}")]
pub struct BadFlag(pub String);

/// Settings for the commands that only read the database (no listener, no token checks).
fn offline_settings(global: &GlobalArgs) -> anyhow::Result<Settings> {
    let overrides = Overrides {
        database: global.database.clone(),
        config: global.config.clone(),
        ..Overrides::default()
    };
    Ok(Settings::resolve_for_reading(&overrides)?)
}

/// Opens the store for a command that only reads it. A SQLite file that does not exist is an
/// error (exit 1), so a mistyped path never becomes a new, empty database.
async fn open_existing(settings: &Settings) -> anyhow::Result<Store> {
    if let DatabaseUrl::Sqlite(path) = &settings.database
        && !path.exists()
    {
        anyhow::bail!(
            "no database at {} (set the right one with --database sqlite://PATH, \
             HOOKWATCH_DATABASE or `database` in the config file)",
            path.display()
        );
    }
    Ok(open_store(settings).await?)
}

/// A current-thread runtime for the offline commands.
fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::Cli;

    /// Every flag and argument of `command` and its subcommands that has no help text.
    fn without_help(command: &clap::Command, path: &str, missing: &mut Vec<String>) {
        if command.get_about().is_none() {
            missing.push(format!("{path} (the command itself)"));
        }
        for arg in command.get_arguments() {
            if arg.get_help().is_none() && arg.get_long_help().is_none() {
                missing.push(format!("{path} {}", arg.get_id()));
            }
        }
        for sub in command.get_subcommands() {
            without_help(sub, &format!("{path} {}", sub.get_name()), missing);
        }
    }

    #[test]
    fn every_flag_of_every_command_has_help_text() {
        let mut command = Cli::command();
        command.build();
        let mut missing = Vec::new();
        without_help(&command, "hookwatch", &mut missing);
        assert_eq!(missing, Vec::<String>::new(), "flags without help text");
    }
}
