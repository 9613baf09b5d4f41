//! The event filters the list API takes, as flags: shared by `events`, `export` and `replay`,
//! so the three read them alike.

use clap::Args;

use crate::query::ListParams;

#[derive(Debug, Clone, Args)]
pub struct FilterArgs {
    /// Only events of this source
    #[arg(long)]
    pub source: Option<String>,
    /// Event type; a trailing * matches by prefix (charge.*)
    #[arg(long = "type")]
    pub event_type: Option<String>,
    /// received or rejected
    #[arg(long)]
    pub status: Option<String>,
    /// valid, invalid, missing or unverified
    #[arg(long)]
    pub signature: Option<String>,
    /// true for errors only, false for non-errors
    #[arg(long)]
    pub error: Option<String>,
    /// Only events received since this time: RFC 3339 or an age (15m, 2h, 7d)
    #[arg(long)]
    pub since: Option<String>,
    /// Only events received before this time: RFC 3339 or an age (15m, 2h, 7d)
    #[arg(long)]
    pub until: Option<String>,
}

impl FilterArgs {
    /// The list parameters these flags set; the others are left unset.
    pub fn params(self) -> ListParams {
        ListParams {
            source: self.source,
            event_type: self.event_type,
            status: self.status,
            signature: self.signature,
            error: self.error,
            since: self.since,
            until: self.until,
            ..ListParams::default()
        }
    }

    /// The flags given, as query-string pairs of the list API.
    pub fn pairs(&self) -> Vec<(&'static str, String)> {
        [
            ("source", &self.source),
            ("type", &self.event_type),
            ("status", &self.status),
            ("signature", &self.signature),
            ("error", &self.error),
            ("since", &self.since),
            ("until", &self.until),
        ]
        .into_iter()
        .filter_map(|(name, value)| value.clone().map(|v| (name, v)))
        .collect()
    }
}
