//! `hookwatch import FILE|-`: loads an export into `--database`, keeping every event's id.
//!
//! Lines are read and stored in batches, each in one transaction, so memory stays flat and a
//! stop leaves whole batches: a line that is not a complete event stops the import with exit
//! 1 naming it, after the lines before it are stored. Events already there are skipped and
//! counted (and named when their content differs), so running an import again is harmless.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::sync::Arc;

use clap::Args;

use super::{GlobalArgs, offline_settings, progress, runtime};
use crate::app::open_store;
use crate::archive;
use crate::model::Event;
use crate::store::Store;

/// Most events stored in one transaction.
const BATCH: usize = 1000;
/// A batch is stored early once its bodies reach this size (a body may be 25 MiB).
const BATCH_BYTES: usize = 32 * 1024 * 1024;
/// Skipped events named one by one on stderr, at most.
const NAMED: u64 = 20;

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// An export from `hookwatch export`, or - for stdin
    pub file: String,
}

/// What an import did, for the closing line.
#[derive(Debug, Default)]
struct Tally {
    added: u64,
    /// Already stored with the same content.
    same: u64,
    /// Already stored with different content, kept as stored.
    different: u64,
    /// The same delivery is stored under another id.
    redelivered: u64,
}

impl Tally {
    fn summary(&self) -> String {
        format!(
            "imported {} events; skipped {} already stored ({} with different content, kept as \
             stored) and {} whose delivery is stored under another id",
            self.added,
            self.same + self.different,
            self.different,
            self.redelivered
        )
    }
}

pub fn run(global: &GlobalArgs, args: ImportArgs) -> anyhow::Result<()> {
    let settings = offline_settings(global)?;
    let (input, size): (Box<dyn Read>, Option<u64>) = match args.file.as_str() {
        "-" => (Box::new(std::io::stdin().lock()), None),
        path => {
            let file = File::open(path).map_err(|e| anyhow::anyhow!("cannot read {path}: {e}"))?;
            let size = file.metadata().ok().map(|m| m.len());
            (Box::new(file), size)
        }
    };
    runtime()?.block_on(async {
        let store = open_store(&settings).await?;
        let mut tally = Tally::default();
        let result = import(&store, BufReader::new(input), size, &mut tally).await;
        println!("{}", tally.summary());
        result
    })
}

async fn import(
    store: &Store,
    mut input: impl BufRead,
    size: Option<u64>,
    tally: &mut Tally,
) -> anyhow::Result<()> {
    let bar = progress::start(size, progress::Unit::Bytes);
    let mut batch: Vec<(usize, Event)> = Vec::new();
    let mut bytes = 0;
    let mut line = Vec::new();
    let mut number = 0;
    let mut read: u64 = 0;
    loop {
        line.clear();
        let n = input.read_until(b'\n', &mut line)?;
        if n == 0 {
            break;
        }
        number += 1;
        read += n as u64;
        let event = std::str::from_utf8(trim_newline(&line))
            .map_err(|_| "not UTF-8 text".to_string())
            .and_then(|text| archive::from_line(text).map_err(|e| e.to_string()));
        let event = match event {
            Ok(event) => event,
            Err(problem) => {
                store_batch(store, &mut batch, tally).await?;
                anyhow::bail!("line {number}: {problem}; the lines before it are imported");
            }
        };
        bytes += event.new.body.len();
        batch.push((number, event));
        if batch.len() >= BATCH || bytes >= BATCH_BYTES {
            store_batch(store, &mut batch, tally).await?;
            bytes = 0;
            if let Some(bar) = &bar {
                bar.set_position(read);
                bar.set_message(format!("{} events", tally.added));
            }
        }
    }
    store_batch(store, &mut batch, tally).await?;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    Ok(())
}

fn trim_newline(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Stores a batch in one transaction and accounts for the events it skipped.
async fn store_batch(
    store: &Store,
    batch: &mut Vec<(usize, Event)>,
    tally: &mut Tally,
) -> anyhow::Result<()> {
    if batch.is_empty() {
        return Ok(());
    }
    let (first, last) = (batch[0].0, batch[batch.len() - 1].0);
    let (numbers, events): (Vec<usize>, Vec<Event>) = batch.drain(..).unzip();
    let events: Arc<[Event]> = events.into();
    let added = store.import(events.clone()).await.map_err(|e| {
        anyhow::anyhow!(
            "storing lines {first}–{last}: {e}; nothing of them was imported, the lines before \
             them are"
        )
    })?;
    for ((number, event), added) in numbers.into_iter().zip(events.iter()).zip(added) {
        if added {
            tally.added += 1;
            continue;
        }
        match store.get(event.id).await? {
            Some(stored) if archive::to_value(&stored) == archive::to_value(event) => {
                tally.same += 1;
            }
            Some(_) => {
                tally.different += 1;
                if tally.different <= NAMED {
                    eprintln!(
                        "line {number}: event {} is already stored with different content; \
                         kept the stored one",
                        event.id
                    );
                }
            }
            None => {
                tally.redelivered += 1;
                if tally.redelivered <= NAMED {
                    eprintln!(
                        "line {number}: event {} not imported: its delivery ({}, {}) is \
                         already stored under another id",
                        event.id,
                        event.new.source,
                        event.new.delivery_id.as_deref().unwrap_or("")
                    );
                }
            }
        }
    }
    Ok(())
}
