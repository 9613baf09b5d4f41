//! `hookwatch events`: the list API's filters, read straight from the database.

use chrono::Utc;
use clap::Args;

use super::filters::FilterArgs;
use super::{BadFlag, GlobalArgs, offline_settings, open_existing, runtime};
use crate::query::{ListParams, select, view};

#[derive(Debug, Args)]
pub struct EventsArgs {
    #[command(flatten)]
    pub filters: FilterArgs,
    /// At most this many events (1–1000)
    #[arg(long)]
    pub limit: Option<String>,
    /// Only events with a smaller id (paging)
    #[arg(long)]
    pub before: Option<String>,
    /// Full-text search over body and type: all words must occur; card* by prefix,
    /// "card declined" as a phrase
    #[arg(long)]
    pub q: Option<String>,
    /// POINTER OP VALUE on a body field or header, e.g. /data/object/amount>=1000 or
    /// header:x-github-event=push (OP: = != > >= < <= ~=); repeatable, all must hold
    #[arg(long)]
    pub field: Vec<String>,
    /// One JSON summary per line instead of a table
    #[arg(long)]
    pub json: bool,
}

pub fn run(global: &GlobalArgs, args: EventsArgs) -> anyhow::Result<()> {
    let settings = offline_settings(global)?;
    let params = ListParams {
        limit: args.limit,
        before: args.before,
        q: args.q,
        field: args.field,
        ..args.filters.params()
    };
    let filter = params
        .parse(Utc::now())
        .map_err(|e| BadFlag(e.to_string()))?;
    let fields = params.parse_fields().map_err(|e| BadFlag(e.to_string()))?;
    let events = runtime()?.block_on(async {
        let store = open_existing(&settings).await?;
        anyhow::Ok(select::page(&store, filter, &fields).await?.events)
    })?;
    if args.json {
        for event in &events {
            println!("{}", view::summary(event));
        }
        return Ok(());
    }
    println!(
        "{:>8}  {:<27}  {:<16}  {:<32}  {:<10}  {:<8}  {:>3}  {:>4}  {:>8}",
        "ID", "RECEIVED", "SOURCE", "TYPE", "SIGNATURE", "STATUS", "ERR", "DUP", "BYTES"
    );
    for e in &events {
        let n = &e.new;
        println!(
            "{:>8}  {:<27}  {:<16}  {:<32}  {:<10}  {:<8}  {:>3}  {:>4}  {:>8}",
            e.id,
            view::time(n.received_at),
            clip(&n.source, 16),
            clip(n.event_type.as_deref().unwrap_or("-"), 32),
            n.signature.as_str(),
            n.status.as_str(),
            if n.is_error { "yes" } else { "" },
            e.duplicates,
            e.size
        );
    }
    if events.is_empty() {
        eprintln!("no events match");
    }
    Ok(())
}

/// Shortens text for a table column, on a character boundary.
fn clip(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_string();
    }
    let kept: String = text.chars().take(width - 1).collect();
    format!("{kept}…")
}
