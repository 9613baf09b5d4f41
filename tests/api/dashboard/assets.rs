//! The embedded page itself: small, self-contained, no inline script or style, nothing from
//! another origin, never `innerHTML` or `eval`.

use hookwatch::dashboard::assets::{ASSETS, INDEX_HTML, LOGIN_HTML, page_weight};

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
