//! Sample deliveries built into the binary, for `hookwatch trigger`: for each provider, a few
//! realistic event types shaped like the provider's own (the fixtures under `tests/fixtures`
//! are the models), with the delivery id where that provider puts it.
//!
//! Pure: the caller passes a fresh id and the time, so every sample is a new delivery (never a
//! duplicate) and tests are repeatable. Signing is `verify::sign`'s job.

use serde_json::{Value, json};

use crate::model::{Header, Provider};

/// The event types each provider has a sample of, as `trigger --list` shows them.
pub const TYPES: [(Provider, &[&str]); 6] = [
    (
        Provider::Stripe,
        &[
            "charge.succeeded",
            "charge.failed",
            "payment_intent.succeeded",
            "customer.created",
            "invoice.paid",
            "checkout.session.completed",
        ],
    ),
    (
        Provider::Github,
        &[
            "push",
            "ping",
            "issues.opened",
            "pull_request.opened",
            "workflow_run.completed",
            "check_suite.completed",
        ],
    ),
    (
        Provider::Slack,
        &[
            "message",
            "app_mention",
            "reaction_added",
            "member_joined_channel",
            "app_home_opened",
            "url_verification",
        ],
    ),
    (
        Provider::Shopify,
        &[
            "orders/create",
            "orders/paid",
            "orders/cancelled",
            "products/update",
            "customers/create",
            "app/uninstalled",
        ],
    ),
    (
        Provider::Standard,
        &[
            "contact.created",
            "invoice.paid",
            "invoice.payment_failed",
            "subscription.updated",
            "user.deleted",
        ],
    ),
    (
        Provider::Twilio,
        &["queued", "sent", "delivered", "undelivered", "failed"],
    ),
];

/// One sample delivery, unsigned.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub content_type: &'static str,
    /// The provider's own headers (event type, delivery id), without signatures.
    pub headers: Vec<Header>,
    pub body: Vec<u8>,
}

/// The sample of `provider` and `event_type`, with delivery id `id` at `now` (Unix seconds);
/// `None` when there is no such sample (see [`TYPES`]).
pub fn sample(provider: Provider, event_type: &str, id: &str, now: i64) -> Option<Sample> {
    let known = TYPES
        .iter()
        .any(|(p, types)| *p == provider && types.contains(&event_type));
    if !known {
        return None;
    }
    let h = |pairs: &[(&str, String)]| -> Vec<Header> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    };
    let json_sample = |headers: Vec<Header>, body: Value| Sample {
        content_type: "application/json",
        headers,
        body: body.to_string().into_bytes(),
    };
    Some(match provider {
        Provider::Stripe => json_sample(Vec::new(), stripe(event_type, id, now)),
        Provider::Github => {
            let (event, action) = event_type.split_once('.').unwrap_or((event_type, ""));
            let headers = h(&[
                ("x-github-event", event.to_string()),
                ("x-github-delivery", id.to_string()),
                ("user-agent", "GitHub-Hookshot/hookwatch-trigger".into()),
            ]);
            json_sample(headers, github(event, action, now))
        }
        Provider::Slack => json_sample(Vec::new(), slack(event_type, id, now)),
        Provider::Shopify => {
            let headers = h(&[
                ("x-shopify-topic", event_type.to_string()),
                ("x-shopify-webhook-id", id.to_string()),
                (
                    "x-shopify-shop-domain",
                    "hookwatch-demo.myshopify.com".into(),
                ),
                ("x-shopify-api-version", "2024-07".into()),
            ]);
            json_sample(headers, shopify(event_type, now))
        }
        Provider::Standard => {
            let headers = h(&[("webhook-id", format!("msg_{id}"))]);
            let body = json!({
                "type": event_type,
                "timestamp": iso(now),
                "data": standard_data(event_type),
            });
            json_sample(headers, body)
        }
        Provider::Twilio => Sample {
            content_type: "application/x-www-form-urlencoded",
            headers: h(&[("i-twilio-idempotency-token", id.to_string())]),
            body: twilio(event_type, id).into_bytes(),
        },
        Provider::Generic => return None,
    })
}

fn iso(now: i64) -> String {
    chrono::DateTime::from_timestamp(now, 0)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn stripe(event_type: &str, id: &str, now: i64) -> Value {
    let object = match event_type {
        "charge.succeeded" | "charge.failed" => {
            let failed = event_type == "charge.failed";
            json!({
                "id": format!("ch_{id}"), "object": "charge", "amount": 2000,
                "currency": "usd", "paid": !failed,
                "status": if failed { "failed" } else { "succeeded" },
                "failure_code": if failed { json!("card_declined") } else { Value::Null },
                "failure_message": if failed { json!("Your card was declined.") } else { Value::Null },
                "payment_method": "pm_card_visa",
            })
        }
        "payment_intent.succeeded" => json!({
            "id": format!("pi_{id}"), "object": "payment_intent", "amount": 2000,
            "amount_received": 2000, "currency": "usd", "status": "succeeded",
        }),
        "customer.created" => json!({
            "id": format!("cus_{id}"), "object": "customer",
            "email": "jenny.rosen@example.com", "name": "Jenny Rosen",
        }),
        "invoice.paid" => json!({
            "id": format!("in_{id}"), "object": "invoice", "amount_paid": 4200,
            "currency": "usd", "status": "paid", "customer": "cus_NffrFeUfNV2Hib",
        }),
        _ => json!({
            "id": format!("cs_test_{id}"), "object": "checkout.session", "amount_total": 2000,
            "currency": "usd", "mode": "payment", "payment_status": "paid", "status": "complete",
        }),
    };
    json!({
        "id": format!("evt_{id}"), "object": "event", "api_version": "2024-06-20",
        "created": now, "livemode": false, "pending_webhooks": 1,
        "request": { "id": Value::Null, "idempotency_key": Value::Null },
        "type": event_type, "data": { "object": object },
    })
}

fn github(event: &str, action: &str, now: i64) -> Value {
    let repository = json!({
        "id": 1296269, "name": "hello-world", "full_name": "octocat/hello-world",
        "private": false, "html_url": "https://github.com/octocat/hello-world",
    });
    let sender = json!({ "login": "octocat", "id": 1, "type": "User" });
    let mut body = match event {
        "push" => json!({
            "ref": "refs/heads/main", "before": "6113728f27ae82c7b1a177c8d03f9e96e0adf246",
            "after": "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c",
            "commits": [{ "id": "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c",
                          "message": "Update README", "timestamp": iso(now) }],
        }),
        "ping" => json!({ "zen": "Keep it logically awesome.", "hook_id": 30 }),
        "issues" => json!({
            "issue": { "number": 1347, "title": "Found a bug", "state": "open" },
        }),
        "pull_request" => json!({
            "number": 42,
            "pull_request": { "number": 42, "title": "Add webhooks", "state": "open" },
        }),
        "workflow_run" => json!({
            "workflow_run": { "id": 30433642, "name": "CI", "status": "completed",
                              "conclusion": "success", "head_branch": "main" },
        }),
        _ => json!({
            "check_suite": { "id": 118578147, "status": "completed",
                             "conclusion": "success", "head_branch": "main" },
        }),
    };
    if let Some(map) = body.as_object_mut() {
        if !action.is_empty() {
            map.insert("action".into(), json!(action));
        }
        map.insert("repository".into(), repository);
        map.insert("sender".into(), sender);
    }
    body
}

fn slack(event_type: &str, id: &str, now: i64) -> Value {
    if event_type == "url_verification" {
        return json!({
            "token": "Jhj5dZrVaK7ZwHHjRyZWjbDl",
            "challenge": format!("challenge-{id}"),
            "type": "url_verification",
        });
    }
    let ts = format!("{now}.000100");
    let event = match event_type {
        "message" | "app_mention" => json!({
            "type": event_type, "channel": "C123ABC456", "user": "U123ABC456",
            "text": "Live long and prospect.", "ts": ts, "event_ts": ts,
        }),
        "reaction_added" => json!({
            "type": event_type, "user": "U123ABC456", "reaction": "thumbsup",
            "item": { "type": "message", "channel": "C123ABC456", "ts": ts }, "event_ts": ts,
        }),
        "member_joined_channel" => json!({
            "type": event_type, "user": "W06GH7XHN", "channel": "C0698JE0H",
            "channel_type": "C", "team": "T123ABC456", "event_ts": ts,
        }),
        _ => json!({
            "type": event_type, "user": "U123ABC456", "channel": "D0LAN2Q65",
            "tab": "home", "event_ts": ts,
        }),
    };
    json!({
        "token": "Jhj5dZrVaK7ZwHHjRyZWjbDl", "team_id": "T123ABC456", "api_app_id": "A123ABC456",
        "event": event, "type": "event_callback", "event_id": format!("Ev{id}"),
        "event_time": now,
    })
}

fn shopify(topic: &str, now: i64) -> Value {
    let at = iso(now);
    match topic.split('/').next().unwrap_or("") {
        "orders" => json!({
            "id": 820982911946154508_u64, "name": "#9999", "email": "jon@example.com",
            "created_at": at, "currency": "USD", "total_price": "403.00",
            "financial_status": if topic == "orders/paid" { "paid" } else { "pending" },
            "cancelled_at": if topic == "orders/cancelled" { json!(at) } else { Value::Null },
            "line_items": [{ "id": 866550311766439020_u64, "title": "IPod Nano - 8GB",
                             "quantity": 1, "price": "199.00" }],
        }),
        "products" => json!({
            "id": 788032119674292922_u64, "title": "Example T-Shirt", "vendor": "Acme",
            "updated_at": at, "status": "active",
        }),
        "customers" => json!({
            "id": 706405506930370084_u64, "email": "bob@biller.com", "first_name": "Bob",
            "last_name": "Biller", "created_at": at,
        }),
        _ => json!({
            "id": 548380009, "name": "Super Toys", "domain": "hookwatch-demo.myshopify.com",
        }),
    }
}

fn standard_data(event_type: &str) -> Value {
    match event_type {
        "contact.created" => json!({ "id": "ct_1", "email": "ada@example.com" }),
        "invoice.paid" | "invoice.payment_failed" => json!({
            "id": "inv_1", "amount": 4200, "currency": "eur",
            "status": if event_type == "invoice.paid" { "paid" } else { "failed" },
        }),
        "subscription.updated" => json!({ "id": "sub_1", "plan": "pro", "seats": 5 }),
        _ => json!({ "id": "user_1", "deleted": true }),
    }
}

fn twilio(status: &str, id: &str) -> String {
    let mut form = form_urlencoded::Serializer::new(String::new());
    form.append_pair("AccountSid", "ACXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX")
        .append_pair("ApiVersion", "2010-04-01")
        .append_pair("From", "+15017122661")
        .append_pair("MessageSid", &format!("SM{id}"))
        .append_pair("MessageStatus", status)
        .append_pair("SmsSid", &format!("SM{id}"))
        .append_pair("SmsStatus", status)
        .append_pair("To", "+15558675310");
    if matches!(status, "failed" | "undelivered") {
        form.append_pair("ErrorCode", "30003");
    }
    form.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::{SourceRules, facts};

    #[test]
    fn every_listed_sample_reads_back_as_its_provider_type_and_id() {
        for (provider, types) in TYPES {
            assert!(types.len() >= 5, "{provider:?}");
            for event_type in types {
                let s = sample(provider, event_type, "abc123", 1_767_225_600).unwrap();
                let rules = SourceRules {
                    provider: Some(provider),
                    ..SourceRules::default()
                };
                let parsed = rules.parse(Some(s.content_type), &s.body);
                let f = facts(&rules, &s.headers, parsed.as_ref());
                let where_ = format!("{provider:?} {event_type}");
                if !(provider == Provider::Slack && *event_type == "url_verification") {
                    assert_eq!(f.event_type.as_deref(), Some(*event_type), "{where_}");
                    let id = f.delivery_id.unwrap_or_default();
                    assert!(id.contains("abc123"), "{where_}: {id}");
                }
            }
        }
    }

    #[test]
    fn an_unknown_type_or_the_generic_provider_has_no_sample() {
        assert_eq!(sample(Provider::Stripe, "charge.exploded", "1", 0), None);
        assert_eq!(sample(Provider::Generic, "event", "1", 0), None);
    }
}
