//! Forged deliveries (rejected for their signature) count as rejected and as signature
//! failures, never as errors: a forger must not be able to raise the error count or alert.

use serde_json::Value;

use crate::support::*;

const CONFIG: &str = "[sources.stripe]\nprovider = \"stripe\"\nsecrets = [\"whsec_dGVzdHNlY3JldA==\"]\n\n\
    [[alerts.rules]]\nname = \"forged errors\"\nkind = \"errors\"\nsource = \"stripe\"\nthreshold = 1\nwindow_secs = 60\n\n\
    [[alerts.rules]]\nname = \"plain errors\"\nkind = \"errors\"\nsource = \"plain\"\nthreshold = 1\nwindow_secs = 60\n";

fn source<'a>(sources: &'a Value, name: &str) -> &'a Value {
    sources["sources"]
        .as_array()
        .expect("sources")
        .iter()
        .find(|s| s["source"] == name)
        .unwrap_or_else(|| panic!("{name} in {sources}"))
}

#[tokio::test]
async fn forged_failed_deliveries_count_as_rejected_and_never_as_errors_or_an_errors_alert() {
    let app = spawn_app_with(CONFIG).await;
    for n in 0..3 {
        let body = format!(r#"{{"id":"evt_{n}","type":"charge.failed","status":"failed"}}"#);
        let forged = app
            .post("stripe", &[("stripe-signature", "t=1,v1=00")], body)
            .await;
        assert_eq!(forged.status(), 401);
    }
    // A genuine failure on another source, after the forged ones: once its alert is stored,
    // the alert engine has seen every forged delivery (the feed is in commit order).
    let plain = app
        .post(
            "plain",
            &[("content-type", "application/json")],
            r#"{"status":"failed"}"#,
        )
        .await;
    assert_eq!(plain.status(), 200);
    eventually("the genuine failure's alert", || async {
        let alerts = app.get_json("/api/alerts").await;
        alerts["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["rule"] == "plain errors")
    })
    .await;
    let alerts = app.get_json("/api/alerts").await;
    assert!(
        !alerts["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["rule"] == "forged errors"),
        "forged deliveries raised an errors alert: {alerts}"
    );

    let stats = app.get_json("/api/stats").await;
    assert_eq!(stats["errors"], 1, "only the genuine failure: {stats}");
    assert_eq!(stats["rejected"], 3, "{stats}");
    assert_eq!(stats["signature_failures"], 3, "{stats}");
    assert_eq!(stats["total"], 4, "{stats}");
    let sources = app.get_json("/api/sources").await;
    assert_eq!(source(&sources, "stripe")["errors"], 0, "{sources}");
    assert_eq!(source(&sources, "stripe")["count"], 3, "{sources}");
    assert_eq!(source(&sources, "plain")["errors"], 1, "{sources}");
    let errors = app.get_json("/api/events?error=true").await;
    assert_eq!(errors["events"].as_array().unwrap().len(), 1, "{errors}");
}
