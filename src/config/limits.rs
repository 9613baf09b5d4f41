//! How long a client may take and how many may be connected at once: the defences against
//! slow and greedy clients (a slow-loris holding connections open a byte at a time).
//!
//! Read from three top-level keys of the config file; each must be at least 1, since a zero
//! would either cut every client or none and is more likely a mistake than a wish.

use std::time::Duration;

use super::ConfigFile;

/// Seconds a client has to send a whole request head (the request line and headers).
pub const DEFAULT_HEADER_TIMEOUT_SECS: u64 = 10;
/// Seconds a request body may go without progress before the request is cut with `408`.
pub const DEFAULT_BODY_IDLE_TIMEOUT_SECS: u64 = 30;
/// Connections served at once; further ones wait in the listen backlog.
pub const DEFAULT_MAX_CONNECTIONS: usize = 10_000;
/// Longer than any sane timeout, short enough that the sum cannot overflow a clock.
const MAX_TIMEOUT_SECS: u64 = 86_400;
/// The most connections a single process can keep track of without running out of files.
const MAX_CONNECTIONS: usize = 1_000_000;

/// The resolved connection limits, handed to the server's accept loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Time to receive a complete request head; also how long an idle keep-alive
    /// connection is kept.
    pub header_timeout: Duration,
    /// Time a request body may go without progress (a trickle of a few bytes is none).
    pub body_idle_timeout: Duration,
    pub max_connections: usize,
}

impl Default for ConnectionLimits {
    fn default() -> ConnectionLimits {
        ConnectionLimits {
            header_timeout: Duration::from_secs(DEFAULT_HEADER_TIMEOUT_SECS),
            body_idle_timeout: Duration::from_secs(DEFAULT_BODY_IDLE_TIMEOUT_SECS),
            max_connections: DEFAULT_MAX_CONNECTIONS,
        }
    }
}

/// Reads the three keys from the file; the error is the key and what is wrong with it.
pub fn resolve(file: &ConfigFile) -> Result<ConnectionLimits, (&'static str, String)> {
    let seconds = |key: &'static str, value: Option<u64>, default: u64| match value {
        None => Ok(Duration::from_secs(default)),
        Some(secs @ 1..=MAX_TIMEOUT_SECS) => Ok(Duration::from_secs(secs)),
        Some(secs) => Err((
            key,
            format!("{secs} is out of range: use 1 to {MAX_TIMEOUT_SECS} seconds"),
        )),
    };
    let max_connections = match file.max_connections {
        None => DEFAULT_MAX_CONNECTIONS,
        Some(n @ 1..=MAX_CONNECTIONS) => n,
        Some(n) => {
            return Err((
                "max_connections",
                format!("{n} is out of range: use 1 to {MAX_CONNECTIONS} connections"),
            ));
        }
    };
    Ok(ConnectionLimits {
        header_timeout: seconds(
            "header_timeout_secs",
            file.header_timeout_secs,
            DEFAULT_HEADER_TIMEOUT_SECS,
        )?,
        body_idle_timeout: seconds(
            "body_idle_timeout_secs",
            file.body_idle_timeout_secs,
            DEFAULT_BODY_IDLE_TIMEOUT_SECS,
        )?,
        max_connections,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<ConnectionLimits, (&'static str, String)> {
        resolve(&ConfigFile::parse(text).expect("toml"))
    }

    #[test]
    fn absent_keys_take_the_defaults() {
        assert_eq!(parse(""), Ok(ConnectionLimits::default()));
    }

    #[test]
    fn each_key_is_read() {
        let limits =
            parse("header_timeout_secs = 2\nbody_idle_timeout_secs = 3\nmax_connections = 50\n")
                .unwrap();
        assert_eq!(limits.header_timeout, Duration::from_secs(2));
        assert_eq!(limits.body_idle_timeout, Duration::from_secs(3));
        assert_eq!(limits.max_connections, 50);
    }

    #[test]
    fn zero_is_an_error_naming_the_key() {
        for key in [
            "header_timeout_secs",
            "body_idle_timeout_secs",
            "max_connections",
        ] {
            let (named, problem) = parse(&format!("{key} = 0\n")).unwrap_err();
            assert_eq!(named, key);
            assert!(problem.contains("out of range"), "{problem}");
        }
    }

    #[test]
    fn absurd_values_are_refused_too() {
        assert_eq!(
            parse("header_timeout_secs = 100000\n").unwrap_err().0,
            "header_timeout_secs"
        );
        assert_eq!(
            parse("max_connections = 2000000\n").unwrap_err().0,
            "max_connections"
        );
    }
}
