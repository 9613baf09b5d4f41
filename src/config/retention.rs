//! `[retention]` and each source's `retention`, resolved into `retention::Retention`.
//!
//! Ages are read as raw TOML values so that a number where an age belongs (`max_age = -1`)
//! is reported with its key, like any other bad age.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Value;

use super::file::ConfigFile;
use crate::model::is_valid_source_name;
use crate::retention::{Retention, parse_age};

/// The `[retention]` table as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionFile {
    pub max_age: Option<Value>,
    pub max_events: Option<Value>,
}

/// The retention rules of the file; the error names the key and what is wrong with it.
pub fn resolve(file: &ConfigFile) -> Result<Retention, (String, String)> {
    let mut retention = Retention::default();
    if let Some(table) = &file.retention {
        if let Some(value) = &table.max_age {
            retention.max_age = Some(age(value).map_err(|e| ("retention.max_age".into(), e))?);
        }
        if let Some(value) = &table.max_events {
            retention.max_events =
                Some(count(value).map_err(|e| ("retention.max_events".into(), e))?);
        }
    }
    let mut sources = BTreeMap::new();
    for (name, source) in &file.sources {
        let Some(value) = &source.retention else {
            continue;
        };
        let key = format!("sources.{name}.retention");
        if !is_valid_source_name(name) {
            return Err((key, format!("`{name}` is not a source name")));
        }
        sources.insert(name.clone(), age(value).map_err(|e| (key, e))?);
    }
    retention.sources = sources;
    Ok(retention)
}

fn age(value: &Value) -> Result<chrono::Duration, String> {
    match value {
        Value::String(text) => parse_age(text),
        other => parse_age(&other.to_string()),
    }
}

fn count(value: &Value) -> Result<u64, String> {
    match value {
        Value::Integer(n) if *n >= 1 => Ok(*n as u64),
        other => Err(format!("`{other}` is not a number of events (1 or more)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolved(text: &str) -> Result<Retention, (String, String)> {
        resolve(&ConfigFile::parse(text).unwrap())
    }

    #[test]
    fn ages_and_counts_are_read_with_their_sources() {
        let retention = resolved(
            "[retention]\nmax_age = \"30d\"\nmax_events = 5000000\n\
             [sources.stripe]\nretention = \"2w\"\n[sources.github]\n",
        )
        .unwrap();
        assert_eq!(retention.max_age, Some(chrono::Duration::days(30)));
        assert_eq!(retention.max_events, Some(5_000_000));
        assert_eq!(
            retention.sources,
            BTreeMap::from([("stripe".to_string(), chrono::Duration::days(14))])
        );
    }

    #[test]
    fn a_bad_age_or_count_names_its_key() {
        for (text, key) in [
            ("[retention]\nmax_age = \"0d\"\n", "retention.max_age"),
            ("[retention]\nmax_age = -1\n", "retention.max_age"),
            ("[retention]\nmax_age = \"abc\"\n", "retention.max_age"),
            ("[retention]\nmax_events = -1\n", "retention.max_events"),
            ("[retention]\nmax_events = 0\n", "retention.max_events"),
            ("[retention]\nmax_events = \"9\"\n", "retention.max_events"),
            ("[sources.s]\nretention = \"-1\"\n", "sources.s.retention"),
        ] {
            let (found, problem) = resolved(text).unwrap_err();
            assert_eq!(found, key, "{text}: {problem}");
        }
    }
}
