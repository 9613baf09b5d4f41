//! Where the log goes and how it looks: stderr, filtered by `HOOKWATCH_LOG` (`info` when
//! unset), as text or, with `HOOKWATCH_LOG_FORMAT=json`, one JSON object per line for a log
//! collector.
//!
//! Text gets colour codes only when stderr is a terminal (and `NO_COLOR` is not set), so a
//! file or journald never receives escape sequences. A value hookwatch does not know stops
//! start-up (exit 2) rather than being ignored: an operator who asked for JSON and got text
//! would lose every line their collector cannot parse.
//!
//! What is logged never holds a secret: the call sites log names, counts and redacted URLs,
//! never tokens, session ids, signing secrets, API keys or passwords.
//!
//! Entry points: [`LogSettings::from_values`] (pure), [`init`].

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// The variable that picks the format.
pub const FORMAT_VAR: &str = "HOOKWATCH_LOG_FORMAT";
/// The variable that holds the filter (`info`, `debug`, `hookwatch=debug,tower=warn`…).
pub const FILTER_VAR: &str = "HOOKWATCH_LOG";

/// How each line is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines; coloured on a terminal.
    Text,
    /// One JSON object per line.
    Json,
}

/// Why the log cannot be set up as asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LogSetupError {
    #[error("{FORMAT_VAR}: unknown format `{0}` (use text or json)")]
    UnknownFormat(String),
    #[error("{FILTER_VAR}: `{value}` is not a log filter like info or hookwatch=debug: {problem}")]
    BadFilter { value: String, problem: String },
    #[error("{0}: the value is not valid UTF-8")]
    NotUnicode(&'static str),
}

/// The log's settings, resolved from the environment.
#[derive(Debug)]
pub struct LogSettings {
    pub format: LogFormat,
    pub filter: EnvFilter,
    /// Whether text lines carry colour codes.
    pub colour: bool,
}

impl LogSettings {
    /// From the two variables' values (`None` when unset), whether stderr is a terminal, and
    /// whether `NO_COLOR` asks for no colour.
    pub fn from_values(
        format: Option<&str>,
        filter: Option<&str>,
        terminal: bool,
        no_colour: bool,
    ) -> Result<LogSettings, LogSetupError> {
        let format = match format {
            None | Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(other) => return Err(LogSetupError::UnknownFormat(other.to_string())),
        };
        let filter = EnvFilter::try_new(filter.unwrap_or("info")).map_err(|error| {
            LogSetupError::BadFilter {
                value: filter.unwrap_or_default().to_string(),
                problem: error.to_string(),
            }
        })?;
        Ok(LogSettings {
            format,
            filter,
            colour: format == LogFormat::Text && terminal && !no_colour,
        })
    }

    /// From this process's environment and stderr.
    pub fn from_env() -> Result<LogSettings, LogSetupError> {
        let var = |name: &'static str| match std::env::var(name) {
            Ok(value) => Ok(Some(value)),
            Err(std::env::VarError::NotPresent) => Ok(None),
            Err(std::env::VarError::NotUnicode(_)) => Err(LogSetupError::NotUnicode(name)),
        };
        let no_colour = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        LogSettings::from_values(
            var(FORMAT_VAR)?.as_deref(),
            var(FILTER_VAR)?.as_deref(),
            std::io::stderr().is_terminal(),
            no_colour,
        )
    }
}

/// Installs the process's log writer on stderr as the environment says.
pub fn init() -> Result<(), LogSetupError> {
    let settings = LogSettings::from_env()?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(settings.filter)
        .with_writer(std::io::stderr)
        .with_ansi(settings.colour);
    match settings.format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().flatten_event(true).init(),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_the_default_and_coloured_only_on_a_terminal_without_no_color() {
        let on_terminal = LogSettings::from_values(None, None, true, false).unwrap();
        assert_eq!(on_terminal.format, LogFormat::Text);
        assert!(on_terminal.colour);
        assert!(
            !LogSettings::from_values(Some("text"), None, false, false)
                .unwrap()
                .colour
        );
        assert!(
            !LogSettings::from_values(None, None, true, true)
                .unwrap()
                .colour
        );
        let json = LogSettings::from_values(Some("json"), Some("debug"), true, false).unwrap();
        assert_eq!(json.format, LogFormat::Json);
        assert!(!json.colour, "JSON never carries colour codes");
    }

    #[test]
    fn an_unknown_format_or_filter_is_an_error_naming_the_variable() {
        for format in ["JSON", "yaml", "", " json"] {
            let error = LogSettings::from_values(Some(format), None, false, false).unwrap_err();
            assert!(error.to_string().starts_with(FORMAT_VAR), "{error}");
        }
        let error =
            LogSettings::from_values(None, Some("hookwatch=loud"), false, false).unwrap_err();
        assert!(error.to_string().starts_with("HOOKWATCH_LOG:"), "{error}");
    }
}
