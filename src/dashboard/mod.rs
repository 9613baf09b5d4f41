//! The live dashboard: one page, served at `/` by the same binary, that watches, filters and
//! inspects webhooks in the browser.
//!
//! The page is static HTML, CSS and JavaScript embedded at build time (`assets/`); everything
//! it shows comes from the public read API (`/api/*`) and the live stream, so this
//! module must not depend on the store or its internals. Every value from a webhook is put in
//! the page as text, and a strict Content-Security-Policy forbids inline script and style, so
//! a hostile payload cannot run in hookwatch's origin.
//!
//! Entry points: [`http::router`] (the routes: `/`, `/login`, `/logout`, `/assets/*`,
//! `/api/meta`) and [`assets::find`] (the embedded files).

pub mod assets;
pub mod http;
