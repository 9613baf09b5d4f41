//! `hookwatch export`: every matching event as one JSON line (`archive`), oldest first, read a
//! page at a time so memory stays flat at millions of events.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;

use chrono::Utc;
use clap::Args;

use super::filters::FilterArgs;
use super::{BadFlag, GlobalArgs, offline_settings, open_existing, progress, runtime};
use crate::archive;
use crate::forward;
use crate::store::{DeliveryFilter, EventFilter};

/// Events looked at a time.
const PAGE: u32 = 1000;
/// Most body bytes read from the store at a time (a body may be 25 MiB).
const PAGE_BYTES: i64 = 32 * 1024 * 1024;

#[derive(Debug, Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub filters: FilterArgs,
    /// Write to this file instead of stdout
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

pub fn run(global: &GlobalArgs, args: ExportArgs) -> anyhow::Result<()> {
    let settings = offline_settings(global)?;
    let params = args.filters.clone().params();
    let mut filter = params
        .parse(Utc::now())
        .map_err(|e| BadFlag(e.to_string()))?;
    filter.limit = PAGE;
    filter.after = Some(0);
    runtime()?.block_on(async {
        let store = open_existing(&settings).await?;
        let mut out: Box<dyn Write> = match &args.output {
            Some(path) => {
                Box::new(BufWriter::new(File::create(path).map_err(|e| {
                    anyhow::anyhow!("cannot write {}: {e}", path.display())
                })?))
            }
            None => Box::new(BufWriter::new(std::io::stdout().lock())),
        };
        let total = match progress::wanted() {
            true => Some(store.count_matching(filter.clone()).await?),
            false => None,
        };
        let bar = progress::start(total, progress::Unit::Events);
        // Deliveries are looked up per event only on a database that has any.
        let any = DeliveryFilter {
            limit: 1,
            ..DeliveryFilter::default()
        };
        let forwarded = !store.list_deliveries(any).await?.is_empty();
        let mut count: u64 = 0;
        loop {
            // The summaries say how large the bodies are, so whole events are read in runs
            // of at most PAGE_BYTES (or one event, when it alone is larger).
            let sizes: Vec<i64> = store
                .list(filter.clone())
                .await?
                .iter()
                .map(|e| e.size)
                .collect();
            if sizes.is_empty() {
                break;
            }
            for run in runs(&sizes) {
                let page = store
                    .export_page(EventFilter {
                        limit: run,
                        ..filter.clone()
                    })
                    .await?;
                let Some(last) = page.last() else { break };
                filter.after = Some(last.id);
                for event in &page {
                    let forwards = match forwarded {
                        true => store.deliveries_of_event(event.id).await?,
                        false => Vec::new(),
                    };
                    let forwards = forwards.iter().map(forward::view::forward).collect();
                    out.write_all(archive::to_line(event, forwards).as_bytes())?;
                    out.write_all(b"\n")?;
                }
                count += page.len() as u64;
            }
            if let Some(bar) = &bar {
                bar.set_position(count);
            }
        }
        out.flush()?;
        if let Some(bar) = bar {
            bar.finish_and_clear();
        }
        if args.output.is_some() {
            eprintln!("exported {count} events");
        }
        anyhow::Ok(())
    })
}

/// How many events each read takes, in order, so that no read holds more than `PAGE_BYTES`
/// of bodies unless one body alone is larger.
fn runs(sizes: &[i64]) -> Vec<u32> {
    let mut runs = Vec::new();
    let (mut events, mut bytes) = (0u32, 0i64);
    for &size in sizes {
        if events > 0 && bytes + size > PAGE_BYTES {
            runs.push(events);
            (events, bytes) = (0, 0);
        }
        events += 1;
        bytes += size;
    }
    runs.push(events);
    runs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_are_cut_where_the_bodies_would_pass_the_limit() {
        let mib = 1024 * 1024;
        assert_eq!(runs(&[10, 20, 30]), vec![3]);
        assert_eq!(
            runs(&[20 * mib, 20 * mib, 5, 40 * mib, 1]),
            vec![1, 2, 1, 1]
        );
    }
}
