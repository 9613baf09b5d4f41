//! The dashboard: access control and security headers over plain HTTP, then the page itself
//! in real headless Chromium (live feed, filters, detail, forwarding, hostile payloads,
//! screenshot).

mod access;
mod assets;
mod csrf;
mod curl;
mod forwarding;
mod hint;
mod hostile;
mod links;
mod live;
mod polish;
mod search;
