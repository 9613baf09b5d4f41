//! `scheme = "hmac" | "basic" | "api_key"` in a `[sources.NAME]` table: a verification scheme
//! described in config, resolved into a typed [`Scheme`] at start-up, so an unknown placeholder,
//! algorithm or encoding stops start-up naming the key instead of failing every delivery.
//!
//! A key that belongs to another scheme (`algorithm` on a basic source, `keys` without
//! `scheme`) is an error too: a setting that would be silently ignored is a setting the user
//! believes in and does not have.

use super::file::SourceFile;
use super::source::Problem;
use crate::verify::{
    Algorithm, ApiKeyScheme, BasicScheme, Encoding, HmacScheme, Part, Scheme, Template,
    is_header_name,
};

/// The configurable scheme of a source and its secrets, or `None` when `scheme` is not set.
pub(super) fn resolve(
    raw: &SourceFile,
    public_url: Option<&str>,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Option<(Scheme, Vec<String>)>, Problem> {
    let Some(name) = raw.scheme.as_deref() else {
        return refuse_foreign(raw, "", &[]).map(|()| None);
    };
    let (scheme, secrets) = match name {
        "hmac" => hmac(raw, public_url, env)?,
        "basic" => basic(raw, env)?,
        "api_key" => api_key(raw, env)?,
        other => {
            return Err((
                "scheme",
                format!("unknown scheme `{other}` (one of hmac, basic, api_key)"),
            ));
        }
    };
    if secrets.iter().any(String::is_empty) {
        return Err(("secrets", "a secret is empty".into()));
    }
    Ok(Some((scheme, secrets)))
}

/// Keys that only some schemes read; `allowed` lists the ones `scheme` reads.
fn refuse_foreign(raw: &SourceFile, scheme: &str, allowed: &[&str]) -> Result<(), Problem> {
    let present = [
        ("header", raw.header.is_some()),
        ("algorithm", raw.algorithm.is_some()),
        ("encoding", raw.encoding.is_some()),
        ("prefix", raw.prefix.is_some()),
        ("timestamp_header", raw.timestamp_header.is_some()),
        ("signed", raw.signed.is_some()),
        ("user", raw.user.is_some()),
        ("password", raw.password.is_some()),
        ("password_env", raw.password_env.is_some()),
        ("query", raw.query.is_some()),
        ("keys", raw.keys.is_some()),
        ("secrets", raw.secrets.is_some() && !scheme.is_empty()),
    ];
    match present
        .iter()
        .find(|(key, set)| *set && !allowed.contains(key))
    {
        None => Ok(()),
        Some((key, _)) if scheme.is_empty() => Err((
            key,
            "only read with `scheme = \"hmac\"`, \"basic\" or \"api_key\"; set `scheme`".into(),
        )),
        Some((key, _)) => Err((key, format!("not read by `scheme = \"{scheme}\"`"))),
    }
}

fn hmac(
    raw: &SourceFile,
    public_url: Option<&str>,
    env: impl Fn(&str) -> Option<String>,
) -> Result<(Scheme, Vec<String>), Problem> {
    let allowed = [
        "header",
        "algorithm",
        "encoding",
        "prefix",
        "timestamp_header",
        "signed",
        "secrets",
    ];
    refuse_foreign(raw, "hmac", &allowed)?;
    let header = header_name("header", raw.header.as_deref())?.ok_or((
        "header",
        "`scheme = \"hmac\"` needs the signature's header".into(),
    ))?;
    let algorithm = match raw.algorithm.as_deref() {
        None => Algorithm::Sha256,
        Some(name) => Algorithm::parse(name).ok_or_else(|| {
            (
                "algorithm",
                format!("unknown algorithm `{name}` (one of sha1, sha256, sha512)"),
            )
        })?,
    };
    let encoding = match raw.encoding.as_deref() {
        None => Encoding::Hex,
        Some(name) => Encoding::parse(name).ok_or_else(|| {
            (
                "encoding",
                format!("unknown encoding `{name}` (one of hex, base64)"),
            )
        })?,
    };
    let timestamp_header = header_name("timestamp_header", raw.timestamp_header.as_deref())?;
    let signed = Template::parse(raw.signed.as_deref().unwrap_or("{body}"))
        .map_err(|e| ("signed", e.to_string()))?;
    if signed.uses(&Part::Timestamp) && timestamp_header.is_none() {
        return Err((
            "signed",
            "`{timestamp}` needs `timestamp_header`, the header it is read from".into(),
        ));
    }
    if signed.uses(&Part::Url) && public_url.is_none() {
        return Err((
            "signed",
            "`{url}` needs `public_url` (here or at the top level), the URL senders call".into(),
        ));
    }
    let secrets = secrets(raw, &env)?;
    if secrets.is_empty() {
        return Err((
            "secrets",
            "`scheme = \"hmac\"` needs `secrets` or `secret_env`".into(),
        ));
    }
    let scheme = HmacScheme {
        header,
        algorithm,
        encoding,
        prefix: raw.prefix.clone().filter(|p| !p.is_empty()),
        timestamp_header,
        signed,
    };
    Ok((Scheme::Hmac(Box::new(scheme)), secrets))
}

fn basic(
    raw: &SourceFile,
    env: impl Fn(&str) -> Option<String>,
) -> Result<(Scheme, Vec<String>), Problem> {
    refuse_foreign(raw, "basic", &["user", "password", "password_env"])?;
    if raw.secret_env.is_some() {
        return Err((
            "secret_env",
            "use `password_env` with `scheme = \"basic\"`".into(),
        ));
    }
    let user = raw
        .user
        .clone()
        .ok_or(("user", "`scheme = \"basic\"` needs `user`".to_string()))?;
    if user.contains(':') {
        return Err(("user", "a basic-auth user name cannot contain `:`".into()));
    }
    let mut passwords: Vec<String> = raw.password.iter().cloned().collect();
    if let Some(var) = &raw.password_env {
        passwords.push(env(var).ok_or_else(|| ("password_env", unset(var)))?);
    }
    if passwords.is_empty() {
        return Err((
            "password",
            "`scheme = \"basic\"` needs `password` or `password_env`".into(),
        ));
    }
    Ok((Scheme::Basic(BasicScheme { user }), passwords))
}

fn api_key(
    raw: &SourceFile,
    env: impl Fn(&str) -> Option<String>,
) -> Result<(Scheme, Vec<String>), Problem> {
    refuse_foreign(raw, "api_key", &["header", "query", "keys"])?;
    let header = header_name("header", raw.header.as_deref())?;
    let query = raw.query.clone().filter(|q| !q.is_empty());
    if header.is_none() && query.is_none() {
        return Err((
            "header",
            "`scheme = \"api_key\"` needs `header` or `query`, where the key is sent".into(),
        ));
    }
    let mut keys = raw.keys.clone().unwrap_or_default();
    if let Some(var) = &raw.secret_env {
        keys.push(env(var).ok_or_else(|| ("secret_env", unset(var)))?);
    }
    if keys.is_empty() {
        return Err((
            "keys",
            "`scheme = \"api_key\"` needs `keys` or `secret_env`".into(),
        ));
    }
    Ok((Scheme::ApiKey(ApiKeyScheme { header, query }), keys))
}

/// `secrets` plus `secret_env`.
fn secrets(
    raw: &SourceFile,
    env: &impl Fn(&str) -> Option<String>,
) -> Result<Vec<String>, Problem> {
    let mut secrets = raw.secrets.clone().unwrap_or_default();
    if let Some(var) = &raw.secret_env {
        secrets.push(env(var).ok_or_else(|| ("secret_env", unset(var)))?);
    }
    Ok(secrets)
}

fn unset(var: &str) -> String {
    format!("environment variable {var} is not set or not valid UTF-8")
}

/// A header name from config, lower-cased; an error names the key when it is not one.
fn header_name(key: &'static str, name: Option<&str>) -> Result<Option<String>, Problem> {
    match name {
        None => Ok(None),
        Some(name) if is_header_name(name) => Ok(Some(name.to_ascii_lowercase())),
        Some(name) => Err((key, format!("`{name}` is not an HTTP header name"))),
    }
}
