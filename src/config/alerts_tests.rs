//! Resolving `[alerts]`: defaults, checks and the names in error messages.

use super::*;
use crate::alert::sink::SinkKind;
use crate::store::TypeMatch;

fn parse(text: &str, public_url: Option<&str>) -> Result<AlertSettings, Problem> {
    let file: AlertsFile = toml::from_str(text).expect("valid TOML");
    resolve(Some(&file), public_url)
}

#[test]
fn rules_get_defaults_and_a_type_prefix() {
    let settings = parse(
        "[[rules]]\nname = \"a\"\nkind = \"burst\"\nthreshold = 5\nwindow_secs = 60\ntype = \"charge.*\"\n\
         [[rules]]\nname = \"b\"\nkind = \"silence\"\nwindow_secs = 30\n",
        None,
    )
    .unwrap();
    let [a, b] = &settings.rules[..] else {
        panic!("two rules")
    };
    assert_eq!(a.cooldown_secs, 300);
    assert_eq!(a.source, None);
    assert_eq!(a.event_type, Some(TypeMatch::Prefix("charge.".into())));
    assert_eq!(
        (b.kind, b.threshold),
        (AlertKind::Silence, 1),
        "silence needs no threshold"
    );
}

#[test]
fn problems_name_the_rule_by_index_and_name() {
    let two = |second: &str| {
        format!(
            "[[rules]]\nname = \"ok\"\nkind = \"errors\"\nthreshold = 1\nwindow_secs = 1\n[[rules]]\n{second}"
        )
    };
    let cases = [
        (
            "name = \"x\"\nkind = \"burst\"\nwindow_secs = 1\n",
            "alerts.rules[1] \"x\"",
            "missing `threshold`",
        ),
        (
            "name = \"x\"\nkind = \"burst\"\nthreshold = 0\nwindow_secs = 1\n",
            "alerts.rules[1] \"x\"",
            "at least 1",
        ),
        (
            "name = \"ok\"\nkind = \"burst\"\nthreshold = 1\nwindow_secs = 1\n",
            "alerts.rules[1] \"ok\"",
            "same name",
        ),
        ("kind = \"burst\"\n", "alerts.rules[1]", "missing `name`"),
        (
            "name = \"x\"\nkind = \"burst\"\nthreshold = 200000\nwindow_secs = 1\n",
            "alerts.rules[1] \"x\"",
            "at most",
        ),
        (
            "name = \"x\"\nkind = \"burst\"\nthreshold = 1\nwindow_secs = 1\nsource = \"a b\"\n",
            "alerts.rules[1] \"x\"",
            "not a source name",
        ),
    ];
    for (second, item, problem) in cases {
        let (got_item, got_problem) = parse(&two(second), None).unwrap_err();
        assert_eq!(got_item, item, "{second}");
        assert!(got_problem.contains(problem), "{second}: {got_problem}");
    }
}

#[test]
fn sinks_take_the_dashboard_from_public_url_and_check_urls() {
    let settings = parse(
        "[[sinks]]\nkind = \"slack\"\nurl = \"https://hooks.slack.com/services/x\"\n\
         [[sinks]]\nkind = \"email\"\nhost = \"smtp\"\nfrom = \"a@b.c\"\nto = \"d@e.f\"\ntls = \"tls\"\n",
        Some("https://hooks.example.com/"),
    )
    .unwrap();
    match &settings.sinks[0].kind {
        SinkKind::Slack(c) => {
            assert_eq!(
                c.dashboard_url.as_deref(),
                Some("https://hooks.example.com")
            )
        }
        other => panic!("{other:?}"),
    }
    match &settings.sinks[1].kind {
        SinkKind::Email(c) => assert_eq!(c.port, 465),
        other => panic!("{other:?}"),
    }
    assert_eq!(settings.sinks[0].delivery.retries, 3);
    for (sink, problem) in [
        ("kind = \"webhook\"\nurl = \"ftp://x\"\n", "not an http"),
        ("kind = \"sms\"\n", "unknown kind `sms`"),
        (
            "kind = \"email\"\nhost = \"h\"\nfrom = \"nope\"\nto = \"a@b.c\"\n",
            "not an email address",
        ),
        (
            "kind = \"email\"\nhost = \"h\"\nfrom = \"a@b.c\"\n",
            "missing `to`",
        ),
        ("kind = \"log\"\ntimeout_secs = 0\n", "timeout_secs"),
    ] {
        let (item, got) = parse(&format!("[[sinks]]\n{sink}"), None).unwrap_err();
        assert!(item.starts_with("alerts.sinks[0]"), "{item}");
        assert!(got.contains(problem), "{sink}: {got}");
    }
}
