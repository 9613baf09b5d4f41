use proptest::prelude::*;
use serde_json::json;

use super::*;

fn parse(text: &str) -> FieldFilter {
    FieldFilter::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn holds(filter: &str, body: Value) -> bool {
    parse(filter).matches(Some(&body), &[])
}

#[test]
fn the_pointer_ends_at_the_first_operator() {
    let f = parse("/data/object/amount>=1000");
    assert_eq!(f.target, Target::Pointer("/data/object/amount".into()));
    assert_eq!((f.op, f.value.as_str()), (Op::Ge, "1000"));
    let f = parse("/a~1b~0c!=x=y");
    assert_eq!(f.target, Target::Pointer("/a~1b~0c".into()));
    assert_eq!((f.op, f.value.as_str()), (Op::Ne, "x=y"));
    let f = parse("header:X-GitHub-Event=push");
    assert_eq!(f.target, Target::Header("x-github-event".into()));
    let f = parse("/note~=Hello");
    assert_eq!((f.op, f.value.as_str()), (Op::Contains, "Hello"));
    assert_eq!(
        parse("/a=").value,
        "",
        "an empty value compares with empty text"
    );
}

#[test]
fn malformed_filters_say_what_is_wrong() {
    let cases = [
        ("/a", FieldError::NoOperator),
        ("", FieldError::NoOperator),
        ("=x", FieldError::EmptyPointer),
        ("a=x", FieldError::BadPointer("a".into())),
        ("/a~2=x", FieldError::BadPointer("/a~2".into())),
        ("/a~", FieldError::NoOperator),
        ("/a=>1", FieldError::UnknownOperator("=>".into())),
        ("/a<>1", FieldError::UnknownOperator("<>".into())),
        ("/a==1", FieldError::UnknownOperator("==".into())),
        ("header:=x", FieldError::NoHeaderName),
    ];
    for (text, want) in cases {
        assert_eq!(FieldFilter::parse(text), Err(want), "{text}");
    }
    for text in ["/a>x", "/a<=", "/a>inf", "/a<NaN", "/a>=1,5"] {
        assert!(
            matches!(FieldFilter::parse(text), Err(FieldError::NotNumeric { .. })),
            "{text}"
        );
    }
}

#[test]
fn equality_compares_text_as_written_and_case_sensitively() {
    let body: Value = serde_json::from_str(
        r#"{"s": "Paid", "n": 1000, "f": 10.50, "t": true, "z": null, "o": {"a": 1}}"#,
    )
    .unwrap();
    assert!(holds("/s=Paid", body.clone()));
    assert!(!holds("/s=paid", body.clone()));
    assert!(holds("/n=1000", body.clone()));
    assert!(holds("/f=10.50", body.clone()), "a number as written");
    assert!(holds("/t=true", body.clone()));
    assert!(holds("/z=null", body.clone()));
    assert!(holds(r#"/o={"a":1}"#, body.clone()));
    assert!(holds("/s!=paid", body.clone()));
    assert!(!holds("/s!=Paid", body.clone()));
}

#[test]
fn a_missing_field_differs_from_everything_and_equals_nothing() {
    let body = json!({"a": {"b": [1, 2]}});
    assert!(holds("/nothing!=x", body.clone()));
    assert!(holds("/a/b/5!=", body.clone()));
    assert!(!holds("/nothing=", body.clone()));
    assert!(!holds("/nothing>0", body.clone()));
    assert!(!holds("/nothing~=", body.clone()));
    assert!(holds("/a/b/1=2", body.clone()), "array indexes");
    assert!(parse("/a!=x").matches(None, &[]), "no body at all");
    assert!(!parse("/a=x").matches(None, &[]));
}

#[test]
fn numeric_comparisons_take_numbers_and_numeric_strings_only() {
    let body = json!({"n": 1000, "s": "2.5e3", "t": "lots", "b": true});
    assert!(holds("/n>=1000", body.clone()));
    assert!(!holds("/n>1000", body.clone()));
    assert!(holds("/n<1000.5", body.clone()));
    assert!(holds("/s>2000", body.clone()));
    assert!(holds("/s<=2500", body.clone()));
    assert!(!holds("/t>0", body.clone()));
    assert!(!holds("/t<0", body.clone()));
    assert!(!holds("/b>0", body.clone()));
}

#[test]
fn contains_ignores_case_for_all_of_unicode() {
    let body = json!({"m": "Carte REFUSÉE à Paris"});
    assert!(holds("/m~=refusée", body.clone()));
    assert!(holds("/m~=SÉE À", body.clone()));
    assert!(!holds("/m~=berlin", body.clone()));
}

#[test]
fn headers_match_by_name_in_any_case_and_any_of_their_values() {
    let headers = vec![
        ("x-github-event".to_string(), "push".to_string()),
        ("x-tag".to_string(), "a".to_string()),
        ("x-tag".to_string(), "b".to_string()),
    ];
    let check = |f: &str| parse(f).matches(None, &headers);
    assert!(check("header:X-GitHub-Event=push"));
    assert!(!check("header:x-github-event=Push"));
    assert!(check("header:x-tag=b"));
    assert!(!check("header:x-tag!=b"));
    assert!(check("header:x-missing!=b"));
}

#[test]
fn form_bodies_are_addressed_like_objects() {
    let body = crate::provider::parse_body(
        Some("application/x-www-form-urlencoded"),
        b"MessageStatus=delivered&To=%2B15551234567",
    );
    let filter = parse("/MessageStatus=delivered");
    assert!(filter.matches(body.as_ref(), &[]));
    assert!(parse("/To=+15551234567").matches(body.as_ref(), &[]));
}

fn segment() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9_ ./~é-]{0,8}".prop_map(|s| s.replace('~', "~0").replace('/', "~1"))
}

fn target() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::collection::vec(segment(), 1..4).prop_map(|s| format!("/{}", s.join("/"))),
        "[a-z][a-z0-9-]{0,12}".prop_map(|n| format!("header:{n}")),
    ]
}

fn filter_text() -> impl Strategy<Value = String> {
    let text_op = prop_oneof![Just("="), Just("!="), Just("~=")];
    let num_op = prop_oneof![Just(">"), Just(">="), Just("<"), Just("<=")];
    prop_oneof![
        (target(), text_op, "([^=<>!~].*)?").prop_map(|(t, o, v)| format!("{t}{o}{v}")),
        (target(), num_op, -1e9f64..1e9).prop_map(|(t, o, v)| format!("{t}{o}{v}")),
    ]
}

proptest! {
    #[test]
    fn parsing_what_display_writes_gives_the_same_filter(text in filter_text()) {
        let filter = FieldFilter::parse(&text).unwrap();
        prop_assert_eq!(filter.to_string(), text.clone());
        prop_assert_eq!(FieldFilter::parse(&filter.to_string()).unwrap(), filter);
    }

    #[test]
    fn any_input_parses_or_is_refused_without_panicking(text in ".{0,64}") {
        if let Ok(filter) = FieldFilter::parse(&text) {
            let _ = filter.matches(Some(&json!({"a": [1, "2"]})), &[]);
        }
    }

    #[test]
    fn not_equal_is_exactly_not_equal(value in "[a-z0-9]{0,3}", have in "[a-z0-9]{0,3}") {
        let body = json!({"k": have});
        let eq = parse(&format!("/k={value}")).matches(Some(&body), &[]);
        let ne = parse(&format!("/k!={value}")).matches(Some(&body), &[]);
        prop_assert_eq!(eq, !ne);
    }
}
