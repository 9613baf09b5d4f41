//! Retention: which stored events are old enough, or many enough, to go.
//!
//! The rules (`[retention] max_age`, `max_events`, a source's own `retention`) are turned into
//! a `Plan` for one moment (`Retention::plan(now)`), a pure step tested with fixed times; the
//! background task (`task`) carries a plan out in small deletions, and `hookwatch prune` uses
//! the same store calls for a one-off age. Stats are never reduced by pruning: they live in
//! the rollups, which only lose minutes older than `STATS_KEPT_DAYS`.
//! Depends on `store` for the shape of a cut; knows nothing of HTTP.

pub mod task;

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};

use crate::store::AgeCut;

/// How long the per-minute counts behind `/api/stats` are kept.
pub const STATS_KEPT_DAYS: i64 = 400;

/// The retention rules as configured; all absent means keep everything.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Retention {
    /// `[retention] max_age`: events older than this go, unless their source says otherwise.
    pub max_age: Option<Duration>,
    /// `[retention] max_events`: beyond this many, the oldest go.
    pub max_events: Option<u64>,
    /// `sources.NAME.retention`: that source's own age, in place of `max_age`.
    pub sources: BTreeMap<String, Duration>,
}

/// What to delete at one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// Events older than a cut go, one cut per rule of age.
    pub cuts: Vec<AgeCut>,
    /// Keep only this many of the newest events.
    pub keep_newest: Option<u64>,
    /// Per-minute counts before this time go.
    pub minutes_before: DateTime<Utc>,
}

impl Retention {
    /// Whether any rule deletes events.
    pub fn deletes_events(&self) -> bool {
        self.max_age.is_some() || self.max_events.is_some() || !self.sources.is_empty()
    }

    /// The cuts in force at `now`: one per source with its own retention, and one for every
    /// other source when `max_age` is set.
    pub fn plan(&self, now: DateTime<Utc>) -> Plan {
        let mut cuts: Vec<AgeCut> = self
            .sources
            .iter()
            .map(|(source, age)| AgeCut {
                before: now - *age,
                only: Some(source.clone()),
                except: Vec::new(),
            })
            .collect();
        if let Some(age) = self.max_age {
            cuts.push(AgeCut {
                before: now - age,
                only: None,
                except: self.sources.keys().cloned().collect(),
            });
        }
        Plan {
            cuts,
            keep_newest: self.max_events,
            minutes_before: now - Duration::days(STATS_KEPT_DAYS),
        }
    }
}

/// An AGE: a whole number above zero followed by `s`, `m`, `h`, `d` or `w` (`30d`, `12h`).
pub fn parse_age(text: &str) -> Result<Duration, String> {
    crate::query::parse_age(text)
        .filter(|age| *age > Duration::zero())
        .ok_or_else(|| {
            format!(
                "`{text}` is not an age like 30d, 12h or 2w (a number above 0 with s, m, h, d or w)"
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-28T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn ages_take_every_unit_and_refuse_zero_negative_and_words() {
        assert_eq!(parse_age("90s"), Ok(Duration::seconds(90)));
        assert_eq!(parse_age("2w"), Ok(Duration::days(14)));
        assert_eq!(parse_age("30d"), Ok(Duration::days(30)));
        for bad in ["0d", "-1", "-1d", "abc", "", "d", "1y", "1.5d"] {
            assert!(parse_age(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn nothing_configured_deletes_no_event_but_still_ages_out_old_minutes() {
        let plan = Retention::default().plan(now());
        assert!(!Retention::default().deletes_events());
        assert_eq!(plan.cuts, vec![]);
        assert_eq!(plan.keep_newest, None);
        assert_eq!(plan.minutes_before, now() - Duration::days(400));
    }

    #[test]
    fn a_source_of_its_own_is_cut_at_its_age_and_left_out_of_the_general_cut() {
        let retention = Retention {
            max_age: Some(Duration::days(30)),
            max_events: Some(1000),
            sources: BTreeMap::from([("stripe".to_string(), Duration::days(90))]),
        };
        let plan = retention.plan(now());
        assert_eq!(
            plan.cuts,
            vec![
                AgeCut {
                    before: now() - Duration::days(90),
                    only: Some("stripe".into()),
                    except: vec![],
                },
                AgeCut {
                    before: now() - Duration::days(30),
                    only: None,
                    except: vec!["stripe".into()],
                },
            ]
        );
        assert_eq!(plan.keep_newest, Some(1000));
    }

    #[test]
    fn a_source_age_alone_touches_only_that_source() {
        let retention = Retention {
            sources: BTreeMap::from([("github".to_string(), Duration::hours(12))]),
            ..Retention::default()
        };
        let plan = retention.plan(now());
        assert_eq!(plan.cuts.len(), 1);
        assert_eq!(plan.cuts[0].only.as_deref(), Some("github"));
        assert!(retention.deletes_events());
    }
}
