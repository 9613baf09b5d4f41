//! Telling the sender from its headers, for sources that do not configure a `provider`.
//!
//! A provider is recognised by the presence of the header that only it sends, even
//! when that header is empty. When several match (a relay that adds its own signature, say), the
//! first in this order wins:
//!
//! 1. stripe (`stripe-signature`)
//! 2. github (`x-github-event`)
//! 3. slack (`x-slack-signature`)
//! 4. shopify (`x-shopify-topic`)
//! 5. twilio (`x-twilio-signature`)
//! 6. standard (`webhook-id` + `webhook-signature`, or `svix-id` + `svix-signature`)
//! 7. generic, otherwise
//!
//! Standard Webhooks comes last among the named ones because it is an open scheme any sender,
//! including the others, may emit beside its own headers; a provider's own header is the more
//! specific evidence. The rest follow the table in `docs/providers.md`.
//!
//! Pure: no I/O, no tokio, axum or SQL. Entry point: [`detect`].

use crate::model::{Header, Provider};

use super::field::has_header;

/// The single-header providers, in the order they are tried.
const BY_HEADER: [(&str, Provider); 5] = [
    ("stripe-signature", Provider::Stripe),
    ("x-github-event", Provider::Github),
    ("x-slack-signature", Provider::Slack),
    ("x-shopify-topic", Provider::Shopify),
    ("x-twilio-signature", Provider::Twilio),
];

/// The provider a delivery's headers identify, `Generic` when none does. Used only when the
/// source has no configured provider; see the module doc for the order when several match.
pub fn detect(headers: &[Header]) -> Provider {
    BY_HEADER
        .iter()
        .find(|(name, _)| has_header(headers, name))
        .map(|&(_, provider)| provider)
        .or_else(|| is_standard(headers).then_some(Provider::Standard))
        .unwrap_or(Provider::Generic)
}

/// Standard Webhooks needs both its id and its signature header, under either naming, so a
/// generic sender that happens to send a `webhook-id` alone is not taken for one.
fn is_standard(headers: &[Header]) -> bool {
    (has_header(headers, "webhook-id") && has_header(headers, "webhook-signature"))
        || (has_header(headers, "svix-id") && has_header(headers, "svix-signature"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(names: &[&str]) -> Vec<Header> {
        names
            .iter()
            .map(|n| (n.to_string(), "v".to_owned()))
            .collect()
    }

    #[test]
    fn svix_branded_headers_are_detected_as_standard() {
        let h = headers(&["svix-id", "svix-timestamp", "svix-signature"]);
        assert_eq!(detect(&h), Provider::Standard);
    }

    #[test]
    fn standard_webhook_headers_are_detected_as_standard() {
        let h = headers(&["webhook-id", "webhook-timestamp", "webhook-signature"]);
        assert_eq!(detect(&h), Provider::Standard);
    }

    #[test]
    fn an_id_header_without_its_signature_is_generic() {
        assert_eq!(detect(&headers(&["webhook-id"])), Provider::Generic);
        assert_eq!(
            detect(&headers(&["svix-id", "webhook-signature"])),
            Provider::Generic
        );
        assert_eq!(detect(&[]), Provider::Generic);
    }

    #[test]
    fn each_provider_header_is_recognised_in_any_case() {
        let cases = [
            ("Stripe-Signature", Provider::Stripe),
            ("X-GitHub-Event", Provider::Github),
            ("X-Slack-Signature", Provider::Slack),
            ("X-Shopify-Topic", Provider::Shopify),
            ("X-Twilio-Signature", Provider::Twilio),
        ];
        for (name, provider) in cases {
            assert_eq!(detect(&headers(&[name])), provider, "{name}");
        }
    }

    #[test]
    fn a_provider_header_beats_standard_webhook_headers() {
        let h = headers(&["webhook-id", "webhook-signature", "x-github-event"]);
        assert_eq!(detect(&h), Provider::Github);
        let h = headers(&["x-twilio-signature", "stripe-signature"]);
        assert_eq!(detect(&h), Provider::Stripe);
    }
}
