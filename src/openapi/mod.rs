//! The OpenAPI 3.1 document of the HTTP interface, generated from the handlers.
//!
//! Each handler under `/webhook`, `/api`, `/healthz` and `/metrics` carries its own
//! `#[utoipa::path]` next to its code, and its query parameters derive `IntoParams` from the
//! very struct the handler parses, so the document follows the code. [`ApiDoc`] lists them;
//! a test fails when the router serves a path the document lacks, and the suite checks live
//! answers against it (schemathesis). `http` serves the document and the page that shows it.

pub mod http;
pub mod schemas;

use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{RefOr, Required};
use utoipa::{Modify, OpenApi};

/// The document: every documented route, the answer shapes and the bearer token.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "hookwatch",
        description = "A self-hosted webhook monitor. Routes under /api and /metrics need the \
            token when one is set (`Authorization: Bearer TOKEN`, or the dashboard's session \
            cookie); /webhook and /healthz never do.",
    ),
    paths(
        crate::ingest::http::receive,
        crate::query::http::list_events,
        crate::query::http::get_event,
        crate::query::http::get_raw,
        crate::enrich::http::enrich_event,
        crate::query::http::stats,
        crate::query::http::sources,
        crate::query::http::stream,
        crate::alert::http::list,
        crate::forward::http::attempts,
        crate::forward::http::list,
        crate::forward::http::targets,
        crate::forward::http::pause,
        crate::forward::http::resume,
        crate::forward::http::replay,
        crate::dashboard::http::meta,
        crate::query::http::healthz,
        crate::metrics::http::scrape,
    ),
    components(schemas(schemas::Time)),
    modifiers(&BearerToken, &OneIdPerOperation, &Throttled),
    security(("token" = [])),
    tags(
        (name = "ingest", description = "Webhooks in"),
        (name = "read", description = "Events, stats, sources, the live stream, alerts"),
        (name = "forwarding", description = "Deliveries to forwarding targets, replay, pause"),
        (name = "operations", description = "Health and metrics"),
    )
)]
pub struct ApiDoc;

/// Declares the token as an HTTP bearer scheme named `token`.
struct BearerToken;

impl Modify for BearerToken {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let scheme = SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer));
        components.add_security_scheme("token", scheme);
    }
}

/// A handler serving several methods (ingest: POST, PUT, PATCH) is one operation per method,
/// and OpenAPI wants their ids unique: each gets its method appended.
struct OneIdPerOperation;

impl Modify for OneIdPerOperation {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for item in openapi.paths.paths.values_mut() {
            let methods = [
                ("put", &mut item.put),
                ("post", &mut item.post),
                ("patch", &mut item.patch),
            ];
            let operations: Vec<_> = methods
                .into_iter()
                .filter_map(|(name, op)| op.as_mut().map(|op| (name, op)))
                .collect();
            if operations.len() < 2 {
                continue;
            }
            for (name, op) in operations {
                if let Some(id) = &mut op.operation_id {
                    *id = format!("{id}_{name}");
                }
                // A webhook may come without a body.
                if let Some(RefOr::T(body)) = &mut op.request_body {
                    body.required = Some(Required::False);
                }
            }
        }
    }
}

/// Every route behind the token answers `429` to a client address that sent too many wrong
/// tokens; said once here rather than on each handler.
struct Throttled;

impl Modify for Throttled {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let throttled = utoipa::openapi::ResponseBuilder::new()
            .description("Too many wrong tokens from this address; try again later")
            .content(
                "application/json",
                utoipa::openapi::ContentBuilder::new()
                    .schema(Some(utoipa::openapi::Ref::from_schema_name("ErrorBody")))
                    .build(),
            )
            .build();
        for (path, item) in openapi.paths.paths.iter_mut() {
            if !(path.starts_with("/api/") || path == "/metrics") {
                continue;
            }
            let operations = [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.patch,
            ];
            for op in operations.into_iter().flatten() {
                op.responses
                    .responses
                    .insert("429".to_string(), RefOr::T(throttled.clone()));
            }
        }
    }
}

/// The document as JSON, with the running version.
pub fn document() -> String {
    let mut doc = ApiDoc::openapi();
    doc.info.version = env!("CARGO_PKG_VERSION").to_string();
    doc.info.license = None; // the package names none
    doc.to_pretty_json().unwrap_or_default()
}
