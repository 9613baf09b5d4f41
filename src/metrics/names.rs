//! The labelled metrics' names and help, in one table: the registry registers them from it,
//! and [`describe_empty`] describes those that have no series yet, which the encoder leaves
//! out, so a scrape (and a dashboard built on it) sees every name from the start.

/// One labelled metric as registered (counters get `_total` when exported).
pub(super) struct Described {
    pub name: &'static str,
    pub help: &'static str,
    counter: bool,
}

const fn counter(name: &'static str, help: &'static str) -> Described {
    Described {
        name,
        help,
        counter: true,
    }
}

pub(super) const WEBHOOKS: Described =
    counter("hookwatch_webhooks", "Deliveries by source and outcome");
pub(super) const SIGNATURE_CHECKS: Described = counter(
    "hookwatch_signature_checks",
    "Signature checks by source and result",
);
pub(super) const FORWARD_ATTEMPTS: Described = counter(
    "hookwatch_forward_attempts",
    "Forwarding attempts by target and result",
);
pub(super) const FORWARD_PENDING: Described = Described {
    name: "hookwatch_forward_pending",
    help: "Events waiting to be forwarded, by target",
    counter: false,
};
pub(super) const ENRICHMENT_CALLS: Described =
    counter("hookwatch_enrichment_calls", "Enrichments by result");
pub(super) const ALERTS: Described =
    counter("hookwatch_alerts", "Alert transitions by rule and state");
pub(super) const SINK_FAILURES: Described = counter(
    "hookwatch_sink_failures",
    "Failed alert deliveries by sink kind",
);

const LABELLED: [Described; 7] = [
    WEBHOOKS,
    SIGNATURE_CHECKS,
    FORWARD_ATTEMPTS,
    FORWARD_PENDING,
    ENRICHMENT_CALLS,
    ALERTS,
    SINK_FAILURES,
];

/// Appends `# HELP` and `# TYPE` for every labelled metric the encoded `text` lacks.
pub(super) fn describe_empty(text: &mut String) {
    for metric in LABELLED {
        let (name, kind) = match metric.counter {
            true => (format!("{}_total", metric.name), "counter"),
            false => (metric.name.to_string(), "gauge"),
        };
        if !text.contains(&format!("# TYPE {name} ")) {
            let help = metric.help;
            text.push_str(&format!("# HELP {name} {help}.\n# TYPE {name} {kind}\n"));
        }
    }
}
