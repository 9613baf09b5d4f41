//! `hookwatch prune`: deletes events older than an age, straight on the database, in the same
//! small transactions as the background pruning (safe while a server runs on it).

use chrono::Utc;
use clap::Args;

use super::{BadFlag, GlobalArgs, offline_settings, open_existing, runtime};
use crate::model::is_valid_source_name;
use crate::retention::{parse_age, task};
use crate::store::AgeCut;

#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Delete events received longer ago than this AGE (30d, 12h, 2w)
    #[arg(long, value_name = "AGE")]
    pub older_than: String,
    /// Only events of this source
    #[arg(long)]
    pub source: Option<String>,
    /// Only count what would be deleted
    #[arg(long)]
    pub dry_run: bool,
}

pub fn run(global: &GlobalArgs, args: PruneArgs) -> anyhow::Result<()> {
    let settings = offline_settings(global)?;
    let age = parse_age(&args.older_than).map_err(|e| BadFlag(format!("older-than: {e}")))?;
    if let Some(source) = &args.source
        && !is_valid_source_name(source)
    {
        return Err(BadFlag(format!("source: `{source}` is not a source name")).into());
    }
    let cut = AgeCut {
        before: Utc::now() - age,
        only: args.source.clone(),
        except: Vec::new(),
    };
    let of_source = args
        .source
        .as_deref()
        .map(|s| format!(" of source {s}"))
        .unwrap_or_default();
    let older = &args.older_than;
    runtime()?.block_on(async {
        let store = open_existing(&settings).await?;
        if args.dry_run {
            let count = store.count_expired(&cut).await?;
            println!("would delete {count} events{of_source} older than {older} (dry run)");
            return anyhow::Ok(());
        }
        let mut deleted = 0;
        loop {
            let ids = store.expired_ids(&cut, task::BATCH).await?;
            if ids.is_empty() {
                break;
            }
            deleted += store.delete_events(&ids).await?;
        }
        println!("deleted {deleted} events{of_source} older than {older}");
        Ok(())
    })
}
