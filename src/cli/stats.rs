//! `hookwatch stats`: the stats API, read straight from the database.

use chrono::Utc;
use clap::Args;

use super::{BadFlag, GlobalArgs, offline_settings, open_existing, runtime};
use crate::query::{parse_time, view};

#[derive(Debug, Args)]
pub struct StatsArgs {
    /// Count from this time: RFC 3339 or an age (15m, 2h, 7d); default all time
    #[arg(long)]
    pub since: Option<String>,
    /// Print the JSON document of /api/stats
    #[arg(long)]
    pub json: bool,
}

pub fn run(global: &GlobalArgs, args: StatsArgs) -> anyhow::Result<()> {
    let settings = offline_settings(global)?;
    let since = match args.since.as_deref() {
        None => None,
        Some(text) => Some(parse_time(text, Utc::now()).ok_or_else(|| {
            BadFlag(format!(
                "since: `{text}` is not RFC 3339 or an age like 15m, 2h, 7d"
            ))
        })?),
    };
    let stats = runtime()?
        .block_on(async { anyhow::Ok(open_existing(&settings).await?.stats(since).await?) })?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&stats)?);
        return Ok(());
    }
    println!("events              {}", stats.total);
    println!("errors              {}", stats.errors);
    println!("duplicates          {}", stats.duplicates);
    println!("rejected            {}", stats.rejected);
    println!("signature failures  {}", stats.signature_failures);
    println!();
    println!("{:<24} {:>10}  LATEST", "SOURCE", "EVENTS");
    for (source, count) in &stats.by_source {
        let latest = stats
            .latest
            .get(source)
            .map(|t| view::time(*t))
            .unwrap_or_default();
        println!("{source:<24} {count:>10}  {latest}");
    }
    if !stats.by_type.is_empty() {
        println!();
        println!("{:<40} {:>10}", "TYPE", "EVENTS");
        let mut types: Vec<_> = stats.by_type.iter().collect();
        types.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        for (event_type, count) in types {
            println!("{event_type:<40} {count:>10}");
        }
    }
    Ok(())
}
