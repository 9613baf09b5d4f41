//! TLS to PostgreSQL: libpq's `sslmode` and `sslrootcert` over rustls.
//!
//! Managed PostgreSQL (RDS, Cloud SQL, Supabase, Neon…) hands out URLs ending in
//! `?sslmode=require` or `verify-full&sslrootcert=…`; they must keep working unchanged. `url`
//! takes those parameters out of the URL (tokio-postgres rejects the `verify-*` modes), and
//! this module turns them into the `tokio_postgres::Config` and one rustls connector that both
//! the pool and the listener's own connection use. The checks themselves are in `verifier`.
//! Uses the aws-lc-rs provider explicitly, the one reqwest and lettre already compile in.
//!
//! Entry point: `connect_options`. Called once when the settings are resolved (`check_url`),
//! so a bad `sslmode` or `sslrootcert` stops start-up as a configuration error, and again by
//! `PgStore::open`. Nothing here ever prints the URL: it may carry a password.

mod url;
mod verifier;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use rustls::{ClientConfig, RootCertStore};
use tokio_postgres::config::{Host, SslMode as WireMode};

pub use url::{RootSource, SslMode, TlsRequest};
use verifier::PgVerifier;

/// The connector every PostgreSQL connection of hookwatch is made with.
pub type Connector = tokio_postgres_rustls::MakeRustlsConnect;

/// What a `postgres://` URL resolves into: where and how to connect.
pub struct ConnectOptions {
    pub config: tokio_postgres::Config,
    pub tls: Connector,
}

/// Why a PostgreSQL URL cannot be used. The messages name the parameter, never the URL.
#[derive(Debug, thiserror::Error)]
pub enum PgUrlError {
    #[error("bad PostgreSQL URL: {0}")]
    Url(String),
    #[error("unknown sslmode `{0}`: use disable, prefer, require, verify-ca or verify-full")]
    UnknownMode(String),
    #[error("`{0}` (a client certificate) is not supported; the server's certificate is")]
    Unsupported(String),
    #[error("`{0}` is not UTF-8 once percent-decoded")]
    NotUtf8(String),
    #[error("sslrootcert is empty: name a PEM file of CA certificates, or `system`")]
    EmptyRootCert,
    #[error("sslrootcert {path}: {problem}")]
    RootFile { path: PathBuf, problem: String },
    #[error("no trusted root certificates on this system ({0}); name a PEM file in sslrootcert")]
    NoSystemRoots(String),
    #[error("setting up TLS: {0}")]
    Rustls(#[from] rustls::Error),
}

/// Resolves a `postgres://` URL, reading the `sslrootcert` file if it names one.
pub fn connect_options(url: &str) -> Result<ConnectOptions, PgUrlError> {
    let (url, request) = url::split(url)?;
    let mut config: tokio_postgres::Config = url
        .parse()
        .map_err(|e: tokio_postgres::Error| PgUrlError::Url(e.to_string()))?;
    config.ssl_mode(wire_mode(&config, request.mode));
    let tls = connector(&request)?;
    Ok(ConnectOptions { config, tls })
}

/// What tokio-postgres is told; the `verify-*` modes are `Require` plus our verifier.
fn wire_mode(config: &tokio_postgres::Config, mode: SslMode) -> WireMode {
    // PostgreSQL has no TLS on Unix sockets, and libpq ignores sslmode there: so do we.
    let hosts = config.get_hosts();
    if !hosts.is_empty() && hosts.iter().all(|h| !matches!(h, Host::Tcp(_))) {
        return WireMode::Disable;
    }
    match mode {
        SslMode::Disable => WireMode::Disable,
        SslMode::Prefer => WireMode::Prefer,
        SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => WireMode::Require,
    }
}

/// One rustls configuration for the whole pool: the roots are read once.
fn connector(request: &TlsRequest) -> Result<Connector, PgUrlError> {
    let roots = request
        .roots()
        .map(|source| load_roots(&source))
        .transpose()?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let verifier = PgVerifier::new(roots, request.checks_host_name(), provider.clone());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    Ok(Connector::new(config))
}

fn load_roots(source: &RootSource) -> Result<RootCertStore, PgUrlError> {
    match source {
        RootSource::System => system_roots(),
        RootSource::File(path) => file_roots(path),
    }
}

/// The CA certificates of a PEM file; an unreadable file, or one without a usable
/// certificate, is an error rather than an empty (trust-nothing) store.
fn file_roots(path: &Path) -> Result<RootCertStore, PgUrlError> {
    let problem = |problem: String| PgUrlError::RootFile {
        path: path.to_path_buf(),
        problem,
    };
    let pem = std::fs::read(path).map_err(|e| problem(format!("cannot read it: {e}")))?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| problem(format!("not valid PEM: {e}")))?;
    if certs.is_empty() {
        return Err(problem("no PEM certificate in it".into()));
    }
    let mut roots = RootCertStore::empty();
    for cert in certs {
        roots
            .add(cert)
            .map_err(|e| problem(format!("not a usable CA certificate: {e}")))?;
    }
    Ok(roots)
}

/// The operating system's trusted roots (on Linux `/etc/ssl/certs`, or `SSL_CERT_FILE`).
fn system_roots() -> Result<RootCertStore, PgUrlError> {
    let found = rustls_native_certs::load_native_certs();
    let mut roots = RootCertStore::empty();
    roots.add_parsable_certificates(found.certs);
    if roots.is_empty() {
        let errors: Vec<String> = found.errors.iter().map(ToString::to_string).collect();
        return Err(PgUrlError::NoSystemRoots(match errors.is_empty() {
            true => "none found".into(),
            false => errors.join("; "),
        }));
    }
    Ok(roots)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode_of(url: &str) -> WireMode {
        match connect_options(url) {
            Ok(options) => options.config.get_ssl_mode(),
            Err(error) => panic!("{url}: {error}"),
        }
    }

    fn error_of(url: &str) -> String {
        match connect_options(url) {
            Ok(_) => panic!("{url} was accepted"),
            Err(error) => error.to_string(),
        }
    }

    #[test]
    fn libpq_modes_map_onto_what_tokio_postgres_knows() {
        assert_eq!(mode_of("postgres://h/db"), WireMode::Prefer);
        assert_eq!(
            mode_of("postgres://h/db?sslmode=disable"),
            WireMode::Disable
        );
        assert_eq!(
            mode_of("postgres://h/db?sslmode=require"),
            WireMode::Require
        );
        let pem = std::env::temp_dir().join("hookwatch-no-such-ca.pem");
        let error = error_of(&format!(
            "postgres://h/db?sslmode=verify-full&sslrootcert={}",
            pem.display()
        ));
        assert!(
            error.contains("sslrootcert") && error.contains("cannot read"),
            "{error}"
        );
    }

    #[test]
    fn a_unix_socket_ignores_sslmode_as_libpq_does() {
        let url = "postgres://app@%2Fvar%2Frun%2Fpostgresql/hooks?sslmode=require";
        assert_eq!(mode_of(url), WireMode::Disable);
    }

    #[test]
    fn a_root_file_must_hold_a_pem_certificate() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ca.pem");
        std::fs::write(&path, "not a certificate\n").unwrap();
        let url = format!(
            "postgres://h/db?sslmode=require&sslrootcert={}",
            path.display()
        );
        let error = error_of(&url);
        assert!(error.contains("no PEM certificate"), "{error}");
        assert!(error.contains(&path.display().to_string()), "{error}");
        let garbled = "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n";
        std::fs::write(&path, garbled).unwrap();
        let error = error_of(&url);
        assert!(error.contains("not a usable CA certificate"), "{error}");
    }

    #[test]
    fn url_errors_never_show_the_password() {
        let error = error_of("postgres://app:s3cret@h/db?sslmode=bogus");
        assert!(
            error.contains("`bogus`") && !error.contains("s3cret"),
            "{error}"
        );
        let error = error_of("postgres://app:s3cret@h/db?nonsense=1");
        assert!(
            error.contains("PostgreSQL URL") && !error.contains("s3cret"),
            "{error}"
        );
    }
}
