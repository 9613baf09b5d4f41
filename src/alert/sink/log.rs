//! The `log` sink: one structured tracing line per alert, for people who ship logs elsewhere.

use crate::alert::view;
use crate::model::Alert;

/// Writes the alert as a `warn` line (firing) or an `info` line (resolved).
pub fn write(alert: &Alert) {
    let a = &alert.new;
    let summary = view::summary(alert);
    match a.state {
        crate::model::AlertState::Firing => tracing::warn!(
            target: "hookwatch::alert",
            id = alert.id, rule = %a.rule, kind = a.kind.as_str(), source = %a.source,
            state = a.state.as_str(), count = a.count, window_secs = a.window_secs,
            summary = %summary, "Alert firing."
        ),
        crate::model::AlertState::Resolved => tracing::info!(
            target: "hookwatch::alert",
            id = alert.id, rule = %a.rule, kind = a.kind.as_str(), source = %a.source,
            state = a.state.as_str(), count = a.count, window_secs = a.window_secs,
            summary = %summary, "Alert resolved."
        ),
    }
}
