//! Config keys the product defines but this build does not implement yet.
//!
//! Such a key must stop start-up like a typo does, or a user would believe a setting applies
//! when nothing reads it. Listing them here, rather than letting serde call them unknown,
//! lets the message say what is really wrong: the key is right, this version lacks the
//! feature. When a feature lands, its entries go and its keys join the structs in `file`.
//! Pure: works on the parsed TOML value.

use toml::{Table, Value};

/// Key paths (`*` is any source name or any array item) and the feature each belongs to.
const NOT_BUILT: &[(&str, &str)] = &[
    ("forward.*.filter", "forward filters"),
    ("retention", "retention"),
    ("sources.*.retention", "retention"),
];

/// Values (at a key path) that name a feature this build lacks: the key itself is built.
const NOT_BUILT_VALUES: &[(&str, &str, &str)] = &[];

/// A key the file sets (or sets to a value) that this build does not implement.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "key `{key}` is for {feature}, which this version of hookwatch does not support; remove \
     it (nothing would read it)"
)]
pub struct NotBuilt {
    /// Where it is, e.g. `sources.acme.scheme` or `alerts.rules[0].target`.
    pub key: String,
    pub feature: &'static str,
}

/// The first key in `file` that names a feature this build lacks, in the order of the lists.
pub fn check(file: &Table) -> Result<(), NotBuilt> {
    for (pattern, feature) in NOT_BUILT {
        let segments: Vec<&str> = pattern.split('.').collect();
        if let Some(key) = find_in_table(file, &segments, "", &|_| true) {
            return Err(NotBuilt { key, feature });
        }
    }
    for (pattern, value, feature) in NOT_BUILT_VALUES {
        let segments: Vec<&str> = pattern.split('.').collect();
        let named = |found: &Value| found.as_str() == Some(value);
        if let Some(key) = find_in_table(file, &segments, "", &named) {
            return Err(NotBuilt {
                key: format!("{key} = \"{value}\""),
                feature,
            });
        }
    }
    Ok(())
}

/// What a path pattern looks for at its end.
type Wanted<'a> = &'a dyn Fn(&Value) -> bool;

/// The path of the first value at `pattern` under `table` that is `wanted`.
fn find_in_table(table: &Table, pattern: &[&str], at: &str, wanted: Wanted) -> Option<String> {
    let (first, rest) = pattern.split_first()?;
    let path = |key: &str| match at {
        "" => key.to_string(),
        _ => format!("{at}.{key}"),
    };
    if *first == "*" {
        return table
            .iter()
            .find_map(|(key, value)| find(value, rest, &path(key), wanted));
    }
    table
        .get(*first)
        .and_then(|value| find(value, rest, &path(first), wanted))
}

fn find(value: &Value, pattern: &[&str], at: &str, wanted: Wanted) -> Option<String> {
    if pattern.is_empty() {
        return wanted(value).then(|| at.to_string());
    }
    match value {
        Value::Table(table) => find_in_table(table, pattern, at, wanted),
        Value::Array(items) if pattern[0] == "*" => items
            .iter()
            .enumerate()
            .find_map(|(n, item)| find(item, &pattern[1..], &format!("{at}[{n}]"), wanted)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(text: &str) -> Option<NotBuilt> {
        check(&text.parse::<Table>().unwrap()).err()
    }

    #[test]
    fn top_level_sections_and_keys_are_found() {
        let filter = refused("[[forward]]\nsource = \"*\"\nfilter = [\"/a=1\"]\n").unwrap();
        assert_eq!(filter.key, "forward[0].filter");
        assert_eq!(filter.feature, "forward filters");
        assert_eq!(
            refused("[[forward]]\nsource = \"*\"\nto = \"http://x\"\n"),
            None
        );
        assert_eq!(
            refused("[retention]\nmax_age = \"30d\"\n").unwrap().key,
            "retention"
        );
        assert_eq!(
            refused("[sources.s]\nretention = \"90d\"\n").unwrap().key,
            "sources.s.retention"
        );
    }

    #[test]
    fn keys_inside_any_source_or_array_item_are_found_with_their_place() {
        let retention = refused("[sources.stripe]\n[sources.acme]\nretention = \"9d\"\n").unwrap();
        assert_eq!(retention.key, "sources.acme.retention");
        let filter = refused(
            "[[forward]]\nsource = \"a\"\n[[forward]]\nsource = \"b\"\nfilter = [\"/x=1\"]\n",
        )
        .unwrap();
        assert_eq!(filter.key, "forward[1].filter");
        assert!(filter.to_string().contains("does not support"));
    }

    #[test]
    fn built_keys_and_look_alikes_pass() {
        let text = "listen = \"127.0.0.1:8080\"\n[sources.forward]\nprovider = \"stripe\"\n\
                    [sources.scheme]\n[[alerts.rules]]\nname = \"r\"\nkind = \"burst\"\n\
                    [[alerts.rules]]\nname = \"f\"\nkind = \"forward_failures\"\ntarget = \"t\"\n";
        assert_eq!(refused(text), None);
        assert_eq!(refused("sources = 3\nalerts = []\n"), None);
    }
}
