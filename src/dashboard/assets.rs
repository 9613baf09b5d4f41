//! The dashboard's files, embedded in the binary so it works offline and needs no build step
//! (no Node.js): the page, the login form, the stylesheet and the scripts.

/// One embedded file.
#[derive(Debug, Clone, Copy)]
pub struct Asset {
    pub name: &'static str,
    pub content_type: &'static str,
    pub body: &'static str,
    /// Whether the file may be fetched before logging in (the login page needs its CSS).
    pub public: bool,
}

const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

macro_rules! asset {
    ($name:literal, $type:expr, $public:expr) => {
        Asset {
            name: $name,
            content_type: $type,
            body: include_str!(concat!("assets/", $name)),
            public: $public,
        }
    };
}

/// Everything served under `/assets/`.
pub const ASSETS: &[Asset] = &[
    asset!("app.css", CSS, true),
    asset!("app.js", JS, false),
    asset!("dom.js", JS, false),
    asset!("feed.js", JS, false),
    asset!("list.js", JS, false),
    asset!("filters.js", JS, false),
    asset!("glance.js", JS, false),
    asset!("chart.js", JS, false),
    asset!("detail.js", JS, false),
    asset!("link.js", JS, false),
    asset!("json.js", JS, false),
    asset!("curl.js", JS, false),
    asset!("alerts.js", JS, false),
    asset!("forwards.js", JS, false),
    asset!("deliveries.js", JS, false),
];

/// The dashboard page.
pub const INDEX_HTML: &str = include_str!("assets/index.html");

/// The login page; `<!--error-->` marks where a failed attempt's message goes.
pub const LOGIN_HTML: &str = include_str!("assets/login.html");

/// The embedded file called `name`, if any.
pub fn find(name: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|a| a.name == name)
}

/// Bytes the browser downloads for the page: HTML, CSS and every script.
pub fn page_weight() -> usize {
    INDEX_HTML.len() + ASSETS.iter().map(|a| a.body.len()).sum::<usize>()
}
