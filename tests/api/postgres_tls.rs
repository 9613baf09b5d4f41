//! TLS to PostgreSQL, against a throwaway cluster that refuses plain TCP (`hostssl` only) and
//! presents a certificate for `localhost` signed by a CA made here with the `openssl` CLI.
//!
//! Needs `initdb` (skipped loudly without it, failed under `CI`) and `openssl`.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use hookwatch::app;
use hookwatch::config::{Overrides, Settings};
use tempfile::TempDir;
use tokio::process::Command;
use tokio_postgres::NoTls;

use crate::sse::SseReader;
use crate::support::*;
use crate::throwaway::{ServerTls, Setup, Throwaway};

const BIN: &str = env!("CARGO_BIN_EXE_hookwatch");
/// A new P-256 key: quick to make, and what managed services commonly use.
const EC_KEY: [&str; 4] = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"];

/// A certificate authority of the test's own: its certificate is the `sslrootcert` file.
struct TestCa {
    dir: TempDir,
}

impl TestCa {
    async fn new(name: &str) -> TestCa {
        let dir = tempfile::tempdir().expect("temp dir");
        succeed(
            openssl(dir.path(), &["req", "-x509", "-new", "-days", "2"])
                .args(EC_KEY)
                .arg("-nodes")
                .args(["-keyout", "ca.key", "-out", "ca.pem"])
                .args(["-subj", &format!("/CN=hookwatch test {name}")]),
        )
        .await;
        TestCa { dir }
    }

    fn cert(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// A server certificate valid for the DNS name `localhost` only (not for 127.0.0.1).
    async fn server_cert(&self) -> ServerTls {
        let dir = self.dir.path();
        let extensions = "subjectAltName = DNS:localhost\n\
                          basicConstraints = CA:FALSE\n\
                          extendedKeyUsage = serverAuth\n";
        std::fs::write(dir.join("server.ext"), extensions).expect("write extensions");
        succeed(
            openssl(dir, &["req", "-new", "-subj", "/CN=localhost", "-nodes"])
                .args(EC_KEY)
                .args(["-keyout", "server.key", "-out", "server.csr"]),
        )
        .await;
        succeed(
            openssl(dir, &["x509", "-req", "-in", "server.csr", "-days", "2"])
                .args(["-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial"])
                .args(["-extfile", "server.ext", "-out", "server.crt"]),
        )
        .await;
        ServerTls {
            cert: dir.join("server.crt"),
            key: dir.join("server.key"),
        }
    }
}

fn openssl(dir: &Path, args: &[&str]) -> Command {
    let mut command = Command::new("openssl");
    command.args(args).current_dir(dir);
    command
}

/// Runs a command, failing the test with its output when it fails.
async fn succeed(command: &mut Command) {
    let output = command.output().await.expect("run openssl");
    assert!(
        output.status.success(),
        "{command:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A TLS-only cluster and the CA that signed its certificate; `None` when skipped.
async fn tls_cluster() -> Option<(Throwaway, TestCa)> {
    let ca = TestCa::new("ca").await;
    let tls = Some(ca.server_cert().await);
    let cluster = Throwaway::start_with(Setup { tls }).await?;
    Some((cluster, ca))
}

/// The URL of the cluster on `host` with extra query parameters.
fn url_of(cluster: &Throwaway, host: &str, query: &str) -> String {
    format!(
        "postgres://postgres@{host}:{}/postgres?{query}",
        cluster.port()
    )
}

/// Resolves the settings and opens the store as `serve` does; the error as the user sees it.
async fn open(database: &str) -> Result<(), String> {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("hookwatch.toml");
    std::fs::write(&config, "").expect("write config");
    let overrides = Overrides {
        database: Some(database.to_string()),
        config: Some(config),
        ..Overrides::default()
    };
    let settings = Settings::resolve(&overrides).map_err(|e| e.to_string())?;
    app::open_store(&settings)
        .await
        .map(drop)
        .map_err(|e| e.to_string())
}

/// How many of hookwatch's sessions on the cluster are plain and how many in all, read over
/// the Unix socket (which `pg_hba.conf` leaves open to the test).
async fn hookwatch_sessions(cluster: &Throwaway) -> (i64, i64) {
    let (client, connection) = tokio_postgres::Config::new()
        .host_path(cluster.socket_dir())
        .port(cluster.port())
        .user("postgres")
        .dbname("postgres")
        .connect(NoTls)
        .await
        .expect("admin connection over the socket");
    tokio::spawn(connection);
    let row = client
        .query_one(
            "SELECT count(*) FILTER (WHERE NOT s.ssl), count(*) \
             FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid) \
             WHERE a.application_name = 'hookwatch'",
            &[],
        )
        .await
        .expect("pg_stat_ssl");
    (row.get(0), row.get(1))
}

#[tokio::test]
async fn with_sslmode_require_events_are_stored_read_back_and_streamed_over_tls_only() {
    let Some((cluster, _ca)) = tls_cluster().await else {
        return;
    };
    let database = url_of(&cluster, "127.0.0.1", "sslmode=require");
    let app = spawn_instance(&database).await;
    let mut stream = SseReader::open(&app.client, &app.url("/api/stream"), None).await;
    let response = app
        .post(
            "tls",
            &[("content-type", "application/json")],
            r#"{"type":"tls.ok"}"#,
        )
        .await;
    assert_eq!(response.status(), 200);
    let answer: serde_json::Value = response.json().await.expect("json");
    let id = answer["id"].as_i64().expect("an id");
    let listed = app.get_json("/api/events?source=tls").await;
    assert_eq!(listed["events"][0]["id"].as_i64(), Some(id), "{listed}");
    assert_eq!(listed["events"][0]["event_type"], "tls.ok");
    // The listener publishes from its own connection: it, too, had to get past hostssl.
    let streamed = stream.next_id(Duration::from_secs(5)).await;
    assert_eq!(streamed, Some(id), "the event reaches /api/stream");
    let (plain, all) = hookwatch_sessions(&cluster).await;
    assert_eq!(plain, 0, "every hookwatch session is encrypted");
    assert!(
        all >= 2,
        "the pool and the listener are connected ({all} sessions)"
    );
}

#[tokio::test]
async fn verify_full_needs_the_right_ca_and_host_name_and_plain_tcp_is_refused() {
    let Some((cluster, ca)) = tls_cluster().await else {
        return;
    };
    let root = |ca: &TestCa| format!("sslrootcert={}", ca.cert().display());
    // The name in the certificate is localhost; hostaddr keeps TCP on the cluster's address.
    let full = format!("hostaddr=127.0.0.1&sslmode=verify-full&{}", root(&ca));
    open(&url_of(&cluster, "localhost", &full))
        .await
        .expect("verify-full with the right CA and host name");
    let by_address = format!("sslmode=verify-full&{}", root(&ca));
    let error = open(&url_of(&cluster, "127.0.0.1", &by_address))
        .await
        .expect_err("127.0.0.1 is not a name in the certificate");
    assert!(error.contains("certificate"), "{error}");
    let chain_only = format!("sslmode=verify-ca&{}", root(&ca));
    open(&url_of(&cluster, "127.0.0.1", &chain_only))
        .await
        .expect("verify-ca checks the chain, not the name");

    let stranger = TestCa::new("stranger").await;
    let wrong = format!("hostaddr=127.0.0.1&sslmode=verify-full&{}", root(&stranger));
    let error = open(&url_of(&cluster, "localhost", &wrong))
        .await
        .expect_err("a certificate from another CA");
    assert!(
        error.contains("certificate") && error.contains("UnknownIssuer"),
        "{error}"
    );
    let required = format!("sslmode=require&{}", root(&stranger));
    let error = open(&url_of(&cluster, "127.0.0.1", &required))
        .await
        .expect_err("require with sslrootcert verifies like verify-ca");
    assert!(error.contains("UnknownIssuer"), "{error}");

    let error = open(&url_of(&cluster, "127.0.0.1", "sslmode=disable"))
        .await
        .expect_err("hostssl only");
    assert!(
        error.contains("pg_hba.conf") || error.contains("no encryption"),
        "{error}"
    );
}

/// `hookwatch serve` as a user runs it; its exit code and what it printed on stderr.
async fn serve(database: &str) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    let child = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--database", database])
        .current_dir(dir.path())
        .env_remove("HOOKWATCH_DATABASE")
        .env_remove("HOOKWATCH_CONFIG")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start hookwatch");
    let output = tokio::time::timeout(Duration::from_secs(30), child.wait_with_output())
        .await
        .expect("hookwatch exits in time")
        .expect("wait");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    (output.status.code(), stderr)
}

#[tokio::test]
async fn serve_refuses_a_wrong_ca_or_a_bad_root_file_clearly_without_a_panic_or_the_password() {
    let Some((cluster, _ca)) = tls_cluster().await else {
        return;
    };
    let stranger = TestCa::new("stranger").await;
    let query = format!(
        "hostaddr=127.0.0.1&sslmode=verify-full&sslrootcert={}",
        stranger.cert().display()
    );
    let url = url_of(&cluster, "localhost", &query).replace("postgres@", "postgres:s3cret@");
    let (code, stderr) = serve(&url).await;
    assert_eq!(code, Some(1), "cannot connect: a runtime failure\n{stderr}");
    assert!(stderr.contains("certificate"), "{stderr}");
    assert!(
        !stderr.contains("panicked") && !stderr.contains("s3cret"),
        "{stderr}"
    );

    let missing = stranger.dir.path().join("missing.pem");
    let query = format!("sslmode=verify-ca&sslrootcert={}", missing.display());
    let url = url_of(&cluster, "127.0.0.1", &query).replace("postgres@", "postgres:s3cret@");
    let (code, stderr) = serve(&url).await;
    assert_eq!(code, Some(2), "a configuration error\n{stderr}");
    assert!(
        stderr.contains("`database`") && stderr.contains("sslrootcert"),
        "{stderr}"
    );
    assert!(stderr.contains("missing.pem"), "names the file: {stderr}");
    assert!(
        !stderr.contains("panicked") && !stderr.contains("s3cret"),
        "{stderr}"
    );

    let (code, stderr) = serve(&url_of(&cluster, "127.0.0.1", "sslmode=verify")).await;
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("unknown sslmode `verify`"), "{stderr}");
}
