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
    asset!("detail.js", JS, false),
    asset!("json.js", JS, false),
    asset!("curl.js", JS, false),
    asset!("alerts.js", JS, false),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_whole_page_weighs_less_than_200_kb() {
        assert!(page_weight() < 200 * 1024, "{} bytes", page_weight());
    }

    #[test]
    fn no_asset_loads_anything_from_another_origin() {
        let all = ASSETS
            .iter()
            .map(|a| a.body)
            .chain([INDEX_HTML, LOGIN_HTML]);
        for body in all {
            let body = body.replace("http://www.w3.org/2000/svg", "");
            assert!(!body.contains("http://") && !body.contains("https://"));
            assert!(!body.contains("innerHTML") && !body.contains("eval("));
        }
    }

    /// ` onclick=`, ` onerror=`…: an attribute name starting with `on`.
    fn has_handler_attribute(html: &str) -> bool {
        html.match_indices(" on").any(|(at, _)| {
            let rest = &html[at + 3..];
            let name_len = rest.chars().take_while(char::is_ascii_alphabetic).count();
            name_len > 0 && rest[name_len..].starts_with('=')
        })
    }

    #[test]
    fn the_pages_have_no_inline_script_or_style() {
        for page in [INDEX_HTML, LOGIN_HTML] {
            assert!(!page.contains("style="), "inline style");
            assert!(!page.contains("<script>"), "inline script");
            assert!(!has_handler_attribute(page), "event handler attribute");
        }
    }
}
