//! Real headless Chromium for the dashboard tests, driven over the DevTools protocol.
//!
//! `launch()` finds Debian's `chromium` (or `$HOOKWATCH_CHROMIUM`); without one it fails loudly
//! when `CI` is set and skips with a loud message otherwise. Each browser gets a fresh profile;
//! each tab records every JavaScript dialog and every CSP violation, so a test can assert that
//! nothing hostile ran.

mod cdp;

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use cdp::Cdp;

/// The flags every test browser runs with: headless, no network of its own, fresh profile.
const FLAGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
    "--disable-dev-shm-usage",
    "--remote-debugging-port=0",
    "--window-size=1280,900",
];

/// Runs before any page script (DevTools is exempt from the page's CSP): records every
/// Content-Security-Policy violation, so a test can assert the page never even tried.
const WATCH_CSP: &str = "window.__csp = []; document.addEventListener('securitypolicyviolation', \
    (e) => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI + ' ' + e.sample));";

/// A running headless Chromium; killed when dropped.
pub struct Browser {
    cdp: Arc<Cdp>,
    _child: Child,
    _profile: TempDir,
}

/// One tab, and every dialog it tried to open.
pub struct Tab {
    cdp: Arc<Cdp>,
    session: String,
    dialogs: Arc<Mutex<Vec<String>>>,
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
        if std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "false") {
            panic!("CI is set but Chromium is missing: apt-get install -y chromium");
        }
        eprintln!("\n!!! SKIPPING a browser test: no Chromium (apt-get install -y chromium) !!!\n");
        return None;
    };
    let profile = tempfile::tempdir().expect("profile dir");
    let mut child = Command::new(&path)
        .args(FLAGS)
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("about:blank")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("start {}: {e}", path.display()));
    let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
    let find_url = async {
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(url) = line.strip_prefix("DevTools listening on ") {
                return url.trim().to_string();
            }
        }
        panic!("Chromium exited before it listened for DevTools");
    };
    let url = tokio::time::timeout(Duration::from_secs(30), find_url)
        .await
        .expect("Chromium did not start in 30 s");
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Some(Browser {
        cdp: Cdp::connect(&url).await,
        _child: child,
        _profile: profile,
    })
}

impl Browser {
    /// A new tab at `url` that dismisses and records every dialog.
    pub async fn open(&self, url: &str) -> Tab {
        let target = self
            .cdp
            .call(None, "Target.createTarget", json!({"url": "about:blank"}))
            .await;
        let target_id = target.expect("new tab")["targetId"].clone();
        let attach = json!({"targetId": target_id, "flatten": true});
        let attached = self.cdp.call(None, "Target.attachToTarget", attach).await;
        let session = attached.expect("attach")["sessionId"]
            .as_str()
            .expect("session")
            .to_string();
        let tab = Tab {
            cdp: self.cdp.clone(),
            session,
            dialogs: Arc::default(),
        };
        tab.watch_dialogs();
        tab.call("Page.enable", json!({})).await;
        tab.call("Runtime.enable", json!({})).await;
        tab.add_init_script(WATCH_CSP).await;
        let metrics =
            json!({"width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": false});
        tab.call("Emulation.setDeviceMetricsOverride", metrics)
            .await;
        tab.goto(url).await;
        tab
    }

    pub async fn close(self) {
        let _ = self.cdp.call(None, "Browser.close", json!({})).await;
    }
}

impl Tab {
    async fn call(&self, method: &str, params: Value) -> Value {
        self.cdp
            .call(Some(&self.session), method, params)
            .await
            .unwrap_or_else(|e| panic!("{method}: {e}"))
    }

    fn watch_dialogs(&self) {
        let mut events = self.cdp.events();
        let (cdp, session, seen) = (self.cdp.clone(), self.session.clone(), self.dialogs.clone());
        tokio::spawn(async move {
            while let Ok(event) = events.recv().await {
                if event["method"] == "Page.javascriptDialogOpening"
                    && event["sessionId"] == session.as_str()
                {
                    let message = event["params"]["message"]
                        .as_str()
                        .unwrap_or("")
                        .to_string();
                    seen.lock().unwrap().push(message);
                    let _ = cdp
                        .call(
                            Some(&session),
                            "Page.handleJavaScriptDialog",
                            json!({"accept": false}),
                        )
                        .await;
                }
            }
        });
    }

    /// Navigates and waits for the new document to load.
    pub async fn goto(&self, url: &str) {
        let _ = self.try_eval("window.__leaving = true").await;
        self.call("Page.navigate", json!({"url": url})).await;
        let loaded = "!window.__leaving && document.readyState === 'complete'";
        self.until(&format!("{url} to load"), loaded).await;
    }

    async fn try_eval(&self, expression: &str) -> Result<Value, String> {
        let params = json!({"expression": expression, "awaitPromise": true, "returnByValue": true});
        let answer = self
            .cdp
            .call(Some(&self.session), "Runtime.evaluate", params)
            .await?;
        if let Some(details) = answer.get("exceptionDetails") {
            return Err(details.to_string());
        }
        Ok(answer["result"]
            .get("value")
            .cloned()
            .unwrap_or(Value::Null))
    }

    /// Evaluates a JavaScript expression (awaiting a promise) and returns its JSON value.
    pub async fn eval<T: DeserializeOwned>(&self, expression: &str) -> T {
        let value = self
            .try_eval(expression)
            .await
            .unwrap_or_else(|e| panic!("evaluate `{expression}`: {e}"));
        serde_json::from_value(value).unwrap_or_else(|e| panic!("value of `{expression}`: {e}"))
    }

    /// Waits until a JavaScript expression is true, with a deadline; fails with `what`.
    pub async fn until(&self, what: &str, expression: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        let check = format!(
            "(() => {{ try {{ return !!({expression}); }} catch (_) {{ return false; }} }})()"
        );
        while Instant::now() < deadline {
            if self.try_eval(&check).await == Ok(Value::Bool(true)) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        let text = self
            .try_eval("document.body ? document.body.innerText : ''")
            .await;
        panic!("timed out waiting for: {what}\n--- page text ---\n{text:?}");
    }

    /// Presses a key (`Enter`, `Escape`) in whatever has the focus.
    pub async fn press(&self, key: &str) {
        let (code, text) = match key {
            "Enter" => (13, "\r"),
            "Escape" => (27, ""),
            other => panic!("no key code for {other}"),
        };
        let down = json!({"type": "keyDown", "key": key, "code": key, "windowsVirtualKeyCode": code, "text": text});
        self.call("Input.dispatchKeyEvent", down).await;
        let up = json!({"type": "keyUp", "key": key, "code": key, "windowsVirtualKeyCode": code});
        self.call("Input.dispatchKeyEvent", up).await;
    }

    /// Focuses the element and types into it, as a keyboard would.
    pub async fn type_into(&self, selector: &str, text: &str) {
        let focus = format!("document.querySelector({}).focus(), true", js(selector));
        self.eval::<bool>(&focus).await;
        self.call("Input.insertText", json!({"text": text})).await;
    }

    /// Runs `source` first in every document this tab loads from now on.
    pub async fn add_init_script(&self, source: &str) {
        self.call(
            "Page.addScriptToEvaluateOnNewDocument",
            json!({"source": source}),
        )
        .await;
    }

    /// Emulates a screen `width` × `height` CSS pixels (a phone when narrow).
    pub async fn resize(&self, width: u32, height: u32) {
        let metrics = json!({"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600});
        self.call("Emulation.setDeviceMetricsOverride", metrics)
            .await;
    }

    /// Emulates the reader's colour scheme (`"light"` or `"dark"`), as `prefers-color-scheme`.
    pub async fn color_scheme(&self, scheme: &str) {
        let features = json!({"features": [{"name": "prefers-color-scheme", "value": scheme}]});
        self.call("Emulation.setEmulatedMedia", features).await;
    }

    /// A PNG of the viewport.
    pub async fn screenshot(&self) -> Vec<u8> {
        let shot = self
            .call("Page.captureScreenshot", json!({"format": "png"}))
            .await;
        let data = shot["data"].as_str().expect("screenshot data");
        base64::engine::general_purpose::STANDARD
            .decode(data)
            .expect("base64 PNG")
    }

    /// The dialogs the page tried to open so far.
    pub fn dialogs(&self) -> Vec<String> {
        self.dialogs.lock().unwrap().clone()
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
        self.type_into("#token", token).await;
        self.press("Enter").await;
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
