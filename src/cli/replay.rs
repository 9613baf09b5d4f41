//! `hookwatch replay`: asks a running server to send stored events again, through its
//! forwarding queue (`POST /api/events/{id}/replay`), by id or by the filters of `events`.
//!
//! The filtered form first pages through `/api/events` (so the set is fixed before the first
//! replay), then replays each event with a progress bar on stderr when it is a terminal, and
//! prints the count. Depends on the server's HTTP API only, never on the store.

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use reqwest::Url;
use serde_json::{Value, json};

use super::BadFlag;
use super::filters::FilterArgs;
use super::forwards::RemoteArgs;
use super::remote::{Failure, Server, http_url};
use super::runtime;

#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// Event ids to replay; without any, the filters choose the events
    #[arg(value_name = "ID")]
    pub ids: Vec<i64>,
    /// Send to this URL instead of the targets whose rules take each event
    #[arg(long, value_name = "URL", value_parser = http_url)]
    pub to: Option<Url>,
    #[command(flatten)]
    pub remote: RemoteArgs,
    #[command(flatten)]
    pub filters: FilterArgs,
}

/// How many were queued, and how many no rule took.
#[derive(Debug, Default)]
struct Tally {
    events: usize,
    deliveries: usize,
    untaken: usize,
}

pub fn run(args: ReplayArgs) -> anyhow::Result<()> {
    let filters = args.filters.pairs();
    match (args.ids.is_empty(), filters.is_empty()) {
        (true, true) => {
            return Err(BadFlag(
                "give event ids, or filters (--source, --type, --since, …) to choose them".into(),
            )
            .into());
        }
        (false, false) => {
            return Err(BadFlag("give event ids or filters, not both".into()).into());
        }
        _ => {}
    }
    let server = args.remote.server();
    let body = args.to.as_ref().map(|to| json!({ "to": to.as_str() }));
    runtime()?.block_on(async {
        let client = reqwest::Client::new();
        if !args.ids.is_empty() {
            return by_id(&client, &server, &args.ids, body.as_ref()).await;
        }
        let ids = matching(&client, &server, &filters).await?;
        let progress = ProgressBar::new(ids.len() as u64);
        progress.set_style(
            ProgressStyle::with_template("{bar:40} {pos}/{len} events")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        let mut tally = Tally::default();
        for id in ids {
            match replay(&client, &server, id, body.as_ref()).await {
                Ok(queued) => {
                    tally.events += 1;
                    tally.deliveries += queued.len();
                }
                Err(Failure::Refused { status, .. }) if status.as_u16() == 409 => {
                    tally.untaken += 1
                }
                Err(Failure::NotFound(_)) => {}
                Err(failure) => {
                    progress.abandon();
                    return Err(failure.into());
                }
            }
            progress.inc(1);
        }
        progress.finish_and_clear();
        println!(
            "replayed {} events ({} deliveries queued); {} taken by no rule",
            tally.events, tally.deliveries, tally.untaken
        );
        Ok(())
    })
}

/// Replays each id, saying where it went; fails at the end when any could not be replayed.
async fn by_id(
    client: &reqwest::Client,
    server: &Server,
    ids: &[i64],
    body: Option<&Value>,
) -> anyhow::Result<()> {
    let mut failed = 0;
    for &id in ids {
        match replay(client, server, id, body).await {
            Ok(targets) => println!("event {id}: queued to {}", targets.join(", ")),
            Err(failure) => {
                failed += 1;
                eprintln!("hookwatch: event {id}: {failure}");
            }
        }
    }
    match failed {
        0 => Ok(()),
        n => Err(anyhow::anyhow!(
            "{n} of {} events were not replayed",
            ids.len()
        )),
    }
}

/// Queues one replay; answers the targets it was queued to.
async fn replay(
    client: &reqwest::Client,
    server: &Server,
    id: i64,
    body: Option<&Value>,
) -> Result<Vec<String>, Failure> {
    let path = format!("api/events/{id}/replay");
    let answer = server.json(server.post(client, &path, body)).await?;
    let queued = answer["queued"].as_array().cloned().unwrap_or_default();
    Ok(queued
        .iter()
        .filter_map(|q| q["target"].as_str().map(str::to_string))
        .collect())
}

/// The ids of every event the filters select, newest first.
async fn matching(
    client: &reqwest::Client,
    server: &Server,
    filters: &[(&'static str, String)],
) -> Result<Vec<i64>, Failure> {
    let mut ids = Vec::new();
    let mut before: Option<String> = None;
    loop {
        let mut query: Vec<(&str, &str)> = filters.iter().map(|(n, v)| (*n, v.as_str())).collect();
        query.push(("limit", "1000"));
        if let Some(before) = &before {
            query.push(("before", before));
        }
        let page = server
            .json(server.get(client, "api/events", &query))
            .await?;
        let events = page["events"].as_array().cloned().unwrap_or_default();
        ids.extend(events.iter().filter_map(|e| e["id"].as_i64()));
        match page["next_before"].as_i64() {
            Some(next) => before = Some(next.to_string()),
            None => return Ok(ids),
        }
    }
}
