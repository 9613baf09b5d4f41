//! The search languages of the read side, pure and free of HTTP and storage: `text` is the
//! full-text `q` (what is indexed and what a query asks for), `field` the `POINTER OP VALUE`
//! filters. Kept apart from `query` so other features (forwarding rules) can use them too.

pub mod field;
pub mod text;

pub use field::{FieldError, FieldFilter};
pub use text::{TextError, TextQuery};
