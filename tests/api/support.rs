//! The test harness: the real app on a loopback port with a real SQLite file (or a fresh
//! PostgreSQL database, see `pg`), and helpers to send fixture payloads the way their
//! providers do.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use hookwatch::app::{self, ServeOptions};
use hookwatch::config::{Overrides, Settings};
use serde_json::Value;
use tempfile::TempDir;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use crate::pg::{self, TestDb};

/// A running server and what a test needs to talk to it.
pub struct TestApp {
    pub addr: SocketAddr,
    pub client: reqwest::Client,
    pub db_path: PathBuf,
    pub dir: TempDir,
    /// The `--database` URL the app runs on.
    pub database: String,
    /// The PostgreSQL database this app owns (dropped with it), when it runs on PostgreSQL.
    pub pg: Option<TestDb>,
    /// What it was started with, to start it again on the same data and address.
    overrides: Overrides,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

/// Starts the app with no config file.
pub async fn spawn_app() -> TestApp {
    spawn_app_with("").await
}

/// Starts the app with the given config file text (may be empty).
pub async fn spawn_app_with(toml: &str) -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    spawn_in(dir, toml, None).await
}

/// Which store a test app runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Starts the app on `backend` with the given config; `None` when PostgreSQL is unreachable
/// and the test is skipped (never under CI, see `pg`).
pub async fn spawn_on(backend: Backend, toml: &str) -> Option<TestApp> {
    let dir = tempfile::tempdir().expect("temp dir");
    match backend {
        Backend::Sqlite => Some(spawn_in(dir, toml, None).await),
        Backend::Postgres => {
            let db = pg::fresh_db().await?;
            let mut app = spawn_at(dir, toml, None, &db.url.clone()).await;
            app.pg = Some(db);
            Some(app)
        }
    }
}

/// Starts the app in `dir` (reusing its database), with a config and an optional token.
pub async fn spawn_in(dir: TempDir, toml: &str, token: Option<&str>) -> TestApp {
    let database = format!("sqlite://{}", dir.path().join("hookwatch.db").display());
    spawn_at(dir, toml, token, &database).await
}

/// An app without a config file or token on the database at `database`, in a temporary
/// directory of its own: an instance of a cluster sharing that database.
pub async fn spawn_instance(database: &str) -> TestApp {
    spawn_at(tempfile::tempdir().expect("dir"), "", None, database).await
}

/// Starts the app in `dir` on the given database URL (several apps may share one PostgreSQL).
pub async fn spawn_at(dir: TempDir, toml: &str, token: Option<&str>, database: &str) -> TestApp {
    let config = dir.path().join("hookwatch.toml");
    std::fs::write(&config, toml).expect("write config");
    let overrides = Overrides {
        database: Some(database.to_string()),
        config: Some(config),
        token: token.map(str::to_string),
        ..Overrides::default()
    };
    spawn_with_overrides(dir, overrides).await
}

/// Starts the app configured like `serve --listen 0.0.0.0:8080 --insecure-no-auth` (no token
/// on a public address), though it still listens on loopback.
pub async fn spawn_insecure() -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("hookwatch.toml");
    std::fs::write(&config, "").expect("write config");
    let overrides = Overrides {
        database: Some(format!(
            "sqlite://{}",
            dir.path().join("hookwatch.db").display()
        )),
        config: Some(config),
        listen: Some("0.0.0.0:8080".into()),
        insecure_no_auth: true,
        ..Overrides::default()
    };
    spawn_with_overrides(dir, overrides).await
}

async fn spawn_with_overrides(dir: TempDir, overrides: Overrides) -> TestApp {
    spawn_bound(dir, overrides, "127.0.0.1:0".parse().expect("address")).await
}

async fn spawn_bound(dir: TempDir, overrides: Overrides, address: SocketAddr) -> TestApp {
    let db_path = dir.path().join("hookwatch.db");
    let database = overrides.database.clone().unwrap_or_default();
    let settings = Settings::resolve(&overrides).expect("settings");
    let store = app::open_store(&settings).await.expect("store");
    let listener = TcpListener::bind(address).await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (tx, rx) = oneshot::channel::<()>();
    let options = ServeOptions::from_settings(settings, store);
    let task = tokio::spawn(app::serve(listener, options, async move {
        let _ = rx.await;
    }));
    TestApp {
        addr,
        client: reqwest::Client::new(),
        db_path,
        dir,
        database,
        pg: None,
        overrides,
        shutdown: Some(tx),
        task: Some(task),
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Stops the server gracefully and starts it again on the same data, config and address,
    /// as a user restarting hookwatch would (open pages reconnect to the same URL). For SQLite
    /// apps: a PostgreSQL app's database goes away with it.
    pub async fn restart(self) -> TestApp {
        let (address, overrides) = (self.addr, self.overrides.clone());
        let dir = self.stop().await;
        spawn_bound(dir, overrides, address).await
    }

    /// Stops the server gracefully and gives back its directory (to restart on the same data).
    pub async fn stop(mut self) -> TempDir {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.expect("server task").expect("server result");
        }
        let dir = tempfile::tempdir().expect("temp dir");
        std::mem::replace(&mut self.dir, dir)
    }

    pub async fn post(
        &self,
        source: &str,
        headers: &[(&str, &str)],
        body: impl Into<reqwest::Body>,
    ) -> reqwest::Response {
        let mut request = self
            .client
            .post(self.url(&format!("/webhook/{source}")))
            .body(body);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.send().await.expect("request")
    }

    /// Posts a fixture with its provider's headers; returns the status and JSON answer.
    pub async fn post_fixture(&self, source: &str, fixture: &Fixture) -> (u16, Value) {
        let headers: Vec<(&str, &str)> = fixture
            .headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let response = self.post(source, &headers, fixture.body.clone()).await;
        let status = response.status().as_u16();
        let text = response.text().await.expect("body");
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    pub async fn get_json(&self, path: &str) -> Value {
        let response = self
            .client
            .get(self.url(path))
            .send()
            .await
            .expect("request");
        assert!(
            response.status().is_success(),
            "GET {path}: {}",
            response.status()
        );
        response.json().await.expect("json")
    }

    pub async fn get_status(&self, path: &str) -> u16 {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request")
            .status()
            .as_u16()
    }
}

/// A fixture payload with the headers its provider sends.
pub struct Fixture {
    pub name: String,
    pub body: Vec<u8>,
    pub headers: BTreeMap<String, String>,
    pub expect: Value,
}

pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// Every payload in `index.json`.
pub fn all_fixtures() -> Vec<Fixture> {
    let index: Value =
        serde_json::from_slice(&std::fs::read(fixtures_dir().join("payloads/index.json")).unwrap())
            .unwrap();
    index["payloads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| {
            load(
                entry["file"].as_str().unwrap(),
                entry["headers_file"].as_str().unwrap(),
                entry["expect"].clone(),
            )
        })
        .collect()
}

/// One payload by its file path under `tests/fixtures` (e.g. `payloads/stripe/charge.failed.json`).
pub fn fixture(file: &str) -> Fixture {
    all_fixtures()
        .into_iter()
        .find(|f| f.name == file)
        .unwrap_or_else(|| panic!("no fixture {file}"))
}

fn load(file: &str, headers_file: &str, expect: Value) -> Fixture {
    let body = std::fs::read(fixtures_dir().join(file)).unwrap();
    let headers: BTreeMap<String, String> =
        serde_json::from_slice(&std::fs::read(fixtures_dir().join(headers_file)).unwrap()).unwrap();
    Fixture {
        name: file.to_string(),
        body,
        headers,
        expect,
    }
}

/// Waits for a condition with a deadline instead of sleeping a fixed time.
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("timed out waiting for: {what}");
}
