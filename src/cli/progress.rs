//! Progress on stderr for the long offline commands (`export`, `import`): shown only when
//! stderr is a terminal, so scripts and logs never see it.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressStyle};

/// Whether progress is shown at all.
pub fn wanted() -> bool {
    std::io::stderr().is_terminal()
}

/// What a bar counts.
#[derive(Debug, Clone, Copy)]
pub enum Unit {
    Bytes,
    Events,
}

/// A bar over `total` with rate and time left, or a counter when the total is not known;
/// `None` when stderr is not a terminal.
pub fn start(total: Option<u64>, unit: Unit) -> Option<ProgressBar> {
    if !wanted() {
        return None;
    }
    let template = match (total, unit) {
        (Some(_), Unit::Bytes) => {
            "{bar:30} {bytes}/{total_bytes} {binary_bytes_per_sec} ETA {eta} {msg}"
        }
        (Some(_), Unit::Events) => "{bar:30} {pos}/{len} events {per_sec} ETA {eta} {msg}",
        (None, _) => "{spinner} {pos} {per_sec} {msg}",
    };
    let style =
        ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar());
    let bar = match total {
        Some(total) => ProgressBar::new(total),
        None => ProgressBar::new_spinner(),
    };
    Some(bar.with_style(style))
}
