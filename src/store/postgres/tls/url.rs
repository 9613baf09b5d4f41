//! Takes libpq's TLS parameters out of a `postgres://` URL.
//!
//! tokio-postgres knows `sslmode=disable|prefer|require` only and rejects `verify-ca`,
//! `verify-full` and `sslrootcert`, which users copy from their provider's console. So this
//! module removes `sslmode` and `sslrootcert` from the query string, leaves every other
//! parameter exactly as written (tokio-postgres still parses and checks those), and returns
//! what was asked for as a `TlsRequest`. Pure: no I/O; the root file is read by the caller.
//!
//! Grammar: `postgres[ql]://…[?key=value(&key=value)*]`; values are percent-decoded; when a
//! key repeats, the last one wins (as in libpq). `sslrootcert=system` means the platform's
//! roots (libpq 16). Client certificates (`sslcert`, `sslkey`, …) are refused by name.

use std::path::PathBuf;

use percent_encoding::percent_decode_str;

use super::PgUrlError;

/// How hard to insist on TLS, with libpq's names and meanings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SslMode {
    /// Plain TCP only.
    Disable,
    /// TLS when the server offers it, else plain; libpq's and tokio-postgres' default.
    #[default]
    Prefer,
    /// TLS or fail; the certificate is not checked (managed services often use their own CA)
    /// unless `sslrootcert` names the roots to check it against.
    Require,
    /// TLS, and the server's chain must lead to a trusted root.
    VerifyCa,
    /// As `VerifyCa`, and the certificate must also name the host connected to.
    VerifyFull,
}

impl SslMode {
    fn parse(value: &str) -> Result<SslMode, PgUrlError> {
        match value {
            "disable" => Ok(SslMode::Disable),
            "prefer" => Ok(SslMode::Prefer),
            "require" => Ok(SslMode::Require),
            "verify-ca" => Ok(SslMode::VerifyCa),
            "verify-full" => Ok(SslMode::VerifyFull),
            // `allow` (plain first, TLS on refusal) has no tokio-postgres counterpart.
            other => Err(PgUrlError::UnknownMode(other.to_string())),
        }
    }
}

/// Where trusted roots come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RootSource {
    /// The operating system's store (`sslrootcert=system`, or `verify-*` without a file).
    System,
    /// A PEM file holding one or more CA certificates.
    File(PathBuf),
}

/// The TLS part of a URL, before any file is read.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TlsRequest {
    pub mode: SslMode,
    /// `sslrootcert`, when given.
    pub root_cert: Option<RootSource>,
}

impl TlsRequest {
    /// The roots to verify the server against, or `None` when the certificate is not checked.
    /// Like libpq, naming `sslrootcert` turns on chain verification for `prefer` and `require`.
    pub fn roots(&self) -> Option<RootSource> {
        match (self.mode, &self.root_cert) {
            (SslMode::Disable, _) => None,
            (SslMode::VerifyCa | SslMode::VerifyFull, None) => Some(RootSource::System),
            (_, root_cert) => root_cert.clone(),
        }
    }

    /// Whether the certificate must also name the host (`verify-full` only).
    pub fn checks_host_name(&self) -> bool {
        self.mode == SslMode::VerifyFull
    }
}

/// Parameters that need a client certificate, which hookwatch does not support yet.
const UNSUPPORTED: [&str; 4] = ["sslcert", "sslkey", "sslpassword", "sslcrl"];

/// Splits `url` into the URL for tokio-postgres (without `sslmode`/`sslrootcert`) and the
/// TLS request. Never puts the URL itself in an error: it may carry a password.
pub fn split(url: &str) -> Result<(String, TlsRequest), PgUrlError> {
    let Some((base, query)) = url.split_once('?') else {
        return Ok((url.to_string(), TlsRequest::default()));
    };
    let mut request = TlsRequest::default();
    let mut kept = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, raw) = pair.split_once('=').unwrap_or((pair, ""));
        match key {
            "sslmode" => request.mode = SslMode::parse(&decode(key, raw)?)?,
            "sslrootcert" => request.root_cert = Some(root_source(&decode(key, raw)?)?),
            key if UNSUPPORTED.contains(&key) => {
                return Err(PgUrlError::Unsupported(key.to_string()));
            }
            _ => kept.push(pair),
        }
    }
    let url = match kept.is_empty() {
        true => base.to_string(),
        false => format!("{base}?{}", kept.join("&")),
    };
    Ok((url, request))
}

fn decode(key: &str, raw: &str) -> Result<String, PgUrlError> {
    percent_decode_str(raw)
        .decode_utf8()
        .map(|value| value.into_owned())
        .map_err(|_| PgUrlError::NotUtf8(key.to_string()))
}

fn root_source(value: &str) -> Result<RootSource, PgUrlError> {
    match value {
        "" => Err(PgUrlError::EmptyRootCert),
        "system" => Ok(RootSource::System),
        path => Ok(RootSource::File(PathBuf::from(path))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(mode: SslMode, root_cert: Option<RootSource>) -> TlsRequest {
        TlsRequest { mode, root_cert }
    }

    #[test]
    fn a_url_without_a_query_is_left_alone_and_prefers_tls() {
        let url = "postgres://app:s3cret@db:5432/hooks";
        assert_eq!(
            split(url).unwrap(),
            (url.to_string(), TlsRequest::default())
        );
    }

    #[test]
    fn sslmode_and_sslrootcert_are_taken_out_and_the_rest_kept_as_written() {
        let (url, tls) = split(
            "postgres://h/db?application_name=a%20b&sslmode=verify-full\
             &sslrootcert=%2Fetc%2Fca%20x.pem&connect_timeout=3",
        )
        .unwrap();
        assert_eq!(
            url,
            "postgres://h/db?application_name=a%20b&connect_timeout=3"
        );
        let file = RootSource::File("/etc/ca x.pem".into());
        assert_eq!(tls, request(SslMode::VerifyFull, Some(file)));
    }

    #[test]
    fn a_query_of_only_tls_parameters_leaves_no_question_mark() {
        let (url, tls) = split("postgresql://h/db?sslmode=require").unwrap();
        assert_eq!(url, "postgresql://h/db");
        assert_eq!(tls.mode, SslMode::Require);
    }

    #[test]
    fn every_libpq_mode_but_allow_is_understood_and_the_last_one_wins() {
        for (text, mode) in [
            ("disable", SslMode::Disable),
            ("prefer", SslMode::Prefer),
            ("require", SslMode::Require),
            ("verify-ca", SslMode::VerifyCa),
            ("verify-full", SslMode::VerifyFull),
        ] {
            let url = format!("postgres://h/db?sslmode=disable&sslmode={text}");
            assert_eq!(split(&url).unwrap().1.mode, mode, "{text}");
        }
    }

    #[test]
    fn an_unknown_sslmode_is_an_error_naming_it() {
        let error = split("postgres://u:pw@h/db?sslmode=allow").unwrap_err();
        let message = error.to_string();
        assert!(
            message.contains("sslmode") && message.contains("`allow`"),
            "{message}"
        );
        assert!(!message.contains("pw"), "{message}");
    }

    #[test]
    fn client_certificates_and_empty_roots_are_refused_by_name() {
        let error = split("postgres://h/db?sslcert=c.pem").unwrap_err();
        assert!(error.to_string().contains("sslcert"), "{error}");
        let error = split("postgres://h/db?sslrootcert=").unwrap_err();
        assert!(error.to_string().contains("sslrootcert"), "{error}");
    }

    #[test]
    fn roots_are_checked_when_asked_for_or_named_as_libpq_does() {
        let file = || Some(RootSource::File("ca.pem".into()));
        let system = Some(RootSource::System);
        assert_eq!(request(SslMode::Prefer, None).roots(), None);
        assert_eq!(request(SslMode::Require, None).roots(), None);
        assert_eq!(request(SslMode::Require, file()).roots(), file());
        assert_eq!(request(SslMode::Disable, file()).roots(), None);
        assert_eq!(request(SslMode::VerifyCa, None).roots(), system);
        assert_eq!(request(SslMode::VerifyFull, file()).roots(), file());
        let named_system = split("postgres://h/db?sslmode=verify-ca&sslrootcert=system");
        assert_eq!(named_system.unwrap().1.roots(), Some(RootSource::System));
        assert!(request(SslMode::VerifyFull, None).checks_host_name());
        assert!(!request(SslMode::VerifyCa, file()).checks_host_name());
    }
}
