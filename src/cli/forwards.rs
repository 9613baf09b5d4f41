//! `hookwatch forwards`: the deliveries of a running server (`/api/forwards`), and
//! `forwards pause NAME` / `forwards resume NAME` for its targets.

use clap::{Args, Subcommand};
use reqwest::Url;
use serde_json::Value;

use super::remote::{DEFAULT_SERVER, Server, http_url};
use super::runtime;

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct ForwardsArgs {
    #[command(subcommand)]
    pub action: Option<Action>,
    #[command(flatten)]
    pub remote: RemoteArgs,
    /// Only deliveries in this state: pending, delivered or dead
    #[arg(long)]
    pub state: Option<String>,
    /// Only deliveries to this target (a rule's name)
    #[arg(long)]
    pub target: Option<String>,
    /// Only deliveries of events from this source
    #[arg(long)]
    pub source: Option<String>,
    /// At most this many, newest first (default 50, at most 1000)
    #[arg(long)]
    pub limit: Option<String>,
    /// One JSON delivery per line, as /api/forwards shows it
    #[arg(long)]
    pub json: bool,
}

/// The running server and its token, for every command that talks to one.
#[derive(Debug, Args, Clone)]
pub struct RemoteArgs {
    /// The running hookwatch
    #[arg(long, value_name = "URL", default_value = DEFAULT_SERVER, value_parser = http_url)]
    pub server: Url,
    /// The server's API token
    #[arg(long, env = "HOOKWATCH_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
}

impl RemoteArgs {
    pub fn server(&self) -> Server {
        Server::new(self.server.clone(), self.token.clone())
    }
}

#[derive(Debug, Subcommand)]
pub enum Action {
    /// Pause a target: its deliveries wait, none is dropped or counted as an attempt
    Pause {
        /// The target's name (a rule's `name`, or its default like `localhost-1`)
        name: String,
        #[command(flatten)]
        remote: RemoteArgs,
    },
    /// Resume a paused target
    Resume {
        /// The target's name
        name: String,
        #[command(flatten)]
        remote: RemoteArgs,
    },
}

pub fn run(args: ForwardsArgs) -> anyhow::Result<()> {
    runtime()?.block_on(async {
        let client = reqwest::Client::new();
        match &args.action {
            Some(Action::Pause { name, remote }) => set(&client, remote, name, "pause").await,
            Some(Action::Resume { name, remote }) => set(&client, remote, name, "resume").await,
            None => list(&client, &args).await,
        }
    })
}

async fn set(
    client: &reqwest::Client,
    remote: &RemoteArgs,
    name: &str,
    action: &str,
) -> anyhow::Result<()> {
    let server = remote.server();
    let path = format!("api/forwards/targets/{}/{action}", encode(name));
    let answer = server.json(server.post(client, &path, None)).await?;
    println!(
        "{}: {}",
        answer["target"].as_str().unwrap_or(name),
        answer["state"].as_str().unwrap_or("?")
    );
    Ok(())
}

async fn list(client: &reqwest::Client, args: &ForwardsArgs) -> anyhow::Result<()> {
    let server = args.remote.server();
    let mut query: Vec<(&str, &str)> = Vec::new();
    for (name, value) in [
        ("state", &args.state),
        ("target", &args.target),
        ("source", &args.source),
        ("limit", &args.limit),
    ] {
        if let Some(value) = value {
            query.push((name, value));
        }
    }
    let answer = server
        .json(server.get(client, "api/forwards", &query))
        .await?;
    let forwards = answer["forwards"].as_array().cloned().unwrap_or_default();
    for forward in &forwards {
        match args.json {
            true => println!("{forward}"),
            false => println!("{}", line(forward)),
        }
    }
    if forwards.is_empty() && !args.json {
        eprintln!("no deliveries");
    }
    Ok(())
}

/// One delivery as a readable line: event, source, target, state, attempts, and what is next
/// or what went wrong last.
fn line(f: &Value) -> String {
    let text = |key: &str| match &f[key] {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        other => other.to_string(),
    };
    let last = match (&f["last_status"], &f["last_error"]) {
        (_, Value::String(error)) => error.clone(),
        (Value::Number(status), _) => format!("HTTP {status}"),
        _ => "-".into(),
    };
    format!(
        "{:>8}  {:<16} {:<24} {:<9} {:>3}  next {:<27} last {}",
        text("event_id"),
        text("source"),
        text("target"),
        text("state"),
        text("attempts"),
        text("next_at"),
        last
    )
}

/// A target name as one path segment.
fn encode(name: &str) -> String {
    percent_encoding::utf8_percent_encode(name, percent_encoding::NON_ALPHANUMERIC).to_string()
}
