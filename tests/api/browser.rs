//! Real headless Chromium for the dashboard tests, driven over the DevTools protocol.
//!
//! `launch()` finds Debian's `chromium` (or `$HOOKWATCH_CHROMIUM`); without one it fails loudly
//! when `CI` is set and skips with a loud message otherwise. Each browser gets a fresh profile
//! and records every JavaScript dialog, so a test can assert that none opened.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chromiumoxide::cdp::browser_protocol::page::{
    EventJavascriptDialogOpening, HandleJavaScriptDialogParams,
};
use chromiumoxide::cdp::js_protocol::runtime::EvaluateParams;
use chromiumoxide::handler::viewport::Viewport;
use chromiumoxide::{BrowserConfig, Page};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use tempfile::TempDir;

/// The flags every test browser runs with: headless, offline-quiet, no first-run noise.
const FLAGS: &[&str] = &[
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
    "--disable-dev-shm-usage",
];

/// Runs before any page script (DevTools is exempt from the page's CSP): records every
/// Content-Security-Policy violation, so a test can assert the page never even tried.
const WATCH_CSP: &str = "window.__csp = []; document.addEventListener('securitypolicyviolation', \
    (e) => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI + ' ' + e.sample));";

/// A running headless Chromium; closed when dropped.
pub struct Browser {
    browser: chromiumoxide::Browser,
    handler: tokio::task::JoinHandle<()>,
    _profile: TempDir,
}

/// One tab, and every dialog it tried to open.
pub struct Tab {
    pub page: Page,
    pub dialogs: Arc<Mutex<Vec<String>>>,
}

fn executable() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("HOOKWATCH_CHROMIUM") {
        return Some(PathBuf::from(path));
    }
    [
        "/usr/bin/chromium",
        "/usr/bin/chromium-browser",
        "/usr/bin/google-chrome",
    ]
    .into_iter()
    .map(PathBuf::from)
    .find(|p| p.exists())
}

/// Starts Chromium, or `None` (after a loud message) on a machine without it outside CI.
pub async fn launch() -> Option<Browser> {
    let Some(path) = executable() else {
        if std::env::var_os("CI").is_some() {
            panic!("CI is set but Chromium is missing: apt-get install -y chromium");
        }
        eprintln!("\n!!! SKIPPING a browser test: no Chromium (apt-get install -y chromium) !!!\n");
        return None;
    };
    let profile = tempfile::tempdir().expect("profile dir");
    let config = BrowserConfig::builder()
        .chrome_executable(path)
        .no_sandbox()
        .user_data_dir(profile.path())
        .args(FLAGS.iter().copied())
        .viewport(Viewport {
            width: 1280,
            height: 900,
            ..Viewport::default()
        })
        .window_size(1280, 900)
        .build()
        .expect("browser config");
    let (browser, mut handler) = chromiumoxide::Browser::launch(config)
        .await
        .expect("launch chromium");
    let handler = tokio::spawn(async move { while handler.next().await.is_some() {} });
    Some(Browser {
        browser,
        handler,
        _profile: profile,
    })
}

impl Browser {
    /// A new tab at `url` that dismisses and records every dialog.
    pub async fn open(&self, url: &str) -> Tab {
        let page = self.browser.new_page("about:blank").await.expect("new tab");
        let dialogs = Arc::new(Mutex::new(Vec::new()));
        let mut opening = page
            .event_listener::<EventJavascriptDialogOpening>()
            .await
            .expect("dialog listener");
        let (seen, tab) = (dialogs.clone(), page.clone());
        tokio::spawn(async move {
            while let Some(dialog) = opening.next().await {
                seen.lock().unwrap().push(dialog.message.clone());
                let _ = tab.execute(HandleJavaScriptDialogParams::new(false)).await;
            }
        });
        page.evaluate_on_new_document(WATCH_CSP)
            .await
            .expect("CSP watcher");
        page.goto(url).await.expect("navigate");
        Tab { page, dialogs }
    }

    pub async fn close(mut self) {
        let _ = self.browser.close().await;
        let _ = self.browser.wait().await;
        self.handler.abort();
    }
}

impl Tab {
    /// Evaluates a JavaScript expression (awaiting a promise) and returns its JSON value.
    pub async fn eval<T: DeserializeOwned>(&self, expression: &str) -> T {
        let params = EvaluateParams::builder()
            .expression(expression)
            .await_promise(true)
            .return_by_value(true)
            .build()
            .expect("evaluate params");
        let result = self
            .page
            .evaluate_expression(params)
            .await
            .unwrap_or_else(|e| panic!("evaluate `{expression}`: {e}"));
        result
            .into_value()
            .unwrap_or_else(|e| panic!("value of `{expression}`: {e}"))
    }

    /// Waits until a JavaScript expression is true, with a deadline; fails with `what`.
    pub async fn until(&self, what: &str, expression: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        let check = format!(
            "(() => {{ try {{ return !!({expression}); }} catch (_) {{ return false; }} }})()"
        );
        while Instant::now() < deadline {
            if self.eval::<bool>(&check).await {
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        let body: String = self
            .eval("document.body ? document.body.innerText : ''")
            .await;
        panic!("timed out waiting for: {what}\n--- page text ---\n{body}");
    }

    /// The dialogs the page tried to open so far.
    pub fn dialogs(&self) -> Vec<String> {
        self.dialogs.lock().unwrap().clone()
    }

    /// Presses a key in whatever has the focus.
    pub async fn press(&self, key: &str) {
        let body = self.page.find_element("body").await.expect("body");
        body.press_key(key).await.expect("key press");
    }

    /// Asserts the page opened no dialog, broke no CSP rule and ran no injected script.
    pub async fn assert_nothing_ran(&self) {
        assert_eq!(self.dialogs(), Vec::<String>::new(), "dialogs opened");
        let violations: Vec<String> = self.eval("window.__csp || []").await;
        assert_eq!(violations, Vec::<String>::new(), "CSP violations");
        let pwned: bool = self.eval("window.__pwned !== undefined").await;
        assert!(!pwned, "an injected script ran");
        let title: String = self.eval("document.title").await;
        assert_eq!(title, "hookwatch");
    }

    /// Logs in through the form, as a person would.
    pub async fn log_in(&self, token: &str) {
        self.until("the login form", "document.querySelector('#token')")
            .await;
        let input = self.page.find_element("#token").await.expect("token input");
        input.click().await.expect("focus token");
        input.type_str(token).await.expect("type token");
        input.press_key("Enter").await.expect("submit");
        self.until(
            "the dashboard after login",
            "document.querySelector('#events')",
        )
        .await;
    }
}

/// A JavaScript string literal for `text`.
pub fn js(text: &str) -> String {
    serde_json::to_string(text).expect("string")
}
