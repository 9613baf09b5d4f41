//! Forwarding: handing every received event on to the applications and brokers that need it,
//! after the `200` and never on the ingest path.
//!
//! The pieces here are pure, so the rules that decide what is sent where, and when a failed
//! delivery is tried again, are tested with fixed inputs and a fixed clock:
//!
//! - [`rule`]: which events a `[[forward]]` rule takes (a source or `*`, an optional type
//!   pattern; never a rejected record, whose content is not trusted).
//! - [`target`]: the rule's `to` — its kind (HTTP or a broker), its display form with
//!   credentials masked, its default name, and the loop check against hookwatch's own
//!   `/webhook/`.
//! - [`outbound`]: what an HTTP delivery carries — the original headers minus the hop-by-hop
//!   ones, the original query string, and hookwatch's own `X-Hookwatch-*` headers.
//! - [`schedule`]: the verdict on one attempt (delivered, dead, or retry after a backoff with
//!   jitter that honours `Retry-After`).
//!
//! Forwarding is not wired into the server yet: a `[[forward]]` section is still refused at
//! start-up, so nobody believes events are being forwarded while they are not.

pub mod outbound;
pub mod rule;
pub mod schedule;
pub mod settings;
pub mod target;
