//! `hookwatch alerts`: stored alert firings and resolutions, newest first, straight from the
//! database (no server needed).

use clap::Args;

use super::{BadFlag, GlobalArgs, offline_settings, open_existing, runtime};
use crate::alert::http::parse_limit;
use crate::query::view;

#[derive(Debug, Args)]
pub struct AlertsArgs {
    /// At most this many alerts (1–1000, default 50)
    #[arg(long)]
    pub limit: Option<String>,
    /// One JSON alert per line (as /api/alerts shows them) instead of a table
    #[arg(long)]
    pub json: bool,
}

pub fn run(global: &GlobalArgs, args: AlertsArgs) -> anyhow::Result<()> {
    let settings = offline_settings(global)?;
    let limit = parse_limit(args.limit.as_deref()).map_err(BadFlag)?;
    let alerts = runtime()?
        .block_on(async { anyhow::Ok(open_existing(&settings).await?.alerts(limit).await?) })?;
    if args.json {
        for alert in &alerts {
            println!("{}", view::alert(alert));
        }
        return Ok(());
    }
    println!(
        "{:>6}  {:<27}  {:<24}  {:<18}  {:<16}  {:<8}  {:>6}  {:>7}",
        "ID", "AT", "RULE", "KIND", "SOURCE", "STATE", "COUNT", "WINDOW"
    );
    for alert in &alerts {
        let a = &alert.new;
        println!(
            "{:>6}  {:<27}  {:<24}  {:<18}  {:<16}  {:<8}  {:>6}  {:>6}s",
            alert.id,
            view::time(a.at),
            a.rule,
            a.kind.as_str(),
            a.source,
            a.state.as_str(),
            a.count,
            a.window_secs
        );
    }
    if alerts.is_empty() {
        eprintln!("no alerts");
    }
    Ok(())
}
