//! `hookwatch check-config`: resolve the configuration exactly as `serve` would, print the
//! effective settings with every secret masked, and exit 2 on any problem.
//!
//! The text form is TOML; `--json` is that same document converted, so both show the same
//! values masked the same way (there is one renderer, `render`).

use clap::Args;

use super::GlobalArgs;
use super::serve::ServeArgs;
use crate::alert::sink::{SinkConfig, SinkKind};
use crate::config::{OnInvalid, Settings, SourceSettings};
use crate::enrich::{EnrichSettings, Kind};
use crate::forward::rule::SourceMatch;
use crate::forward::settings::TargetSettings;
use crate::model::AlertKind;
use crate::retention::Retention;
use crate::store::TypeMatch;

/// `check-config`'s flags: those of `serve`, and the output format.
#[derive(Debug, Args)]
pub struct CheckConfigArgs {
    #[command(flatten)]
    pub serve: ServeArgs,
    /// Print the effective configuration as one JSON document (secrets masked as in the text)
    #[arg(long)]
    pub json: bool,
}

/// The text form did not parse as TOML: a value the renderer did not quote as TOML needs.
#[derive(Debug, thiserror::Error)]
#[error("cannot show the configuration as JSON: its text form is not valid TOML ({0})")]
pub struct NotToml(String);

pub fn run(global: &GlobalArgs, args: CheckConfigArgs) -> anyhow::Result<()> {
    let settings = Settings::resolve(&args.serve.overrides(global))?;
    match args.json {
        true => println!("{:#}", render_json(&settings)?),
        false => print!("{}", render(&settings)),
    }
    Ok(())
}

/// The effective settings as one JSON object: the text form's document, plus `config_file`
/// (the path that was read, or null) in place of its comment.
pub fn render_json(s: &Settings) -> Result<serde_json::Value, NotToml> {
    let table: toml::Table = render(s).parse().map_err(|e| NotToml(format!("{e}")))?;
    let config_file = s.config_path.as_ref().map(|p| p.display().to_string());
    let mut document = serde_json::Map::new();
    document.insert("config_file".into(), config_file.into());
    for (key, value) in table {
        let value = serde_json::to_value(value).map_err(|e| NotToml(e.to_string()))?;
        document.insert(key, value);
    }
    Ok(document.into())
}

/// The effective settings as TOML-like text; secrets appear only as a count.
pub fn render(s: &Settings) -> String {
    let mut out = String::new();
    match &s.config_path {
        Some(path) => out += &format!("# config file: {}\n", path.display()),
        None => out += "# no config file\n",
    }
    out += &format!("listen = {}\n", q(s.listen));
    out += &format!("database = {}\n", q(s.database.url_safe()));
    out += &format!(
        "token = {}\n",
        if s.token.is_some() {
            "\"(set, hidden)\""
        } else {
            "\"(none)\""
        }
    );
    out += &format!("max_body_bytes = {}\n", s.max_body_bytes);
    out += &format!("pool_size = {}\n", s.pool_size);
    out += &format!("session_idle = {}\n", q(age(s.session_idle)));
    out += &format!(
        "header_timeout_secs = {}\nbody_idle_timeout_secs = {}\nmax_connections = {}\n",
        s.limits.header_timeout.as_secs(),
        s.limits.body_idle_timeout.as_secs(),
        s.limits.max_connections
    );
    if let Some(url) = &s.public_url {
        out += &format!("public_url = {}\n", q(url));
    }
    if s.sources.is_empty() {
        out += "\n# no [sources.NAME]: every source is accepted and stored unverified\n";
    }
    for (name, source) in &s.sources {
        out += &format!("\n[sources.{name}]\n{}", render_source(source));
        if let Some(age) = s.retention.sources.get(name) {
            out += &format!("retention = {}\n", q(age_of(*age)));
        }
    }
    out += &render_retention(&s.retention);
    match &s.enrichment {
        Some(enrichment) => {
            out += &format!("\n[enrichment]\n{}", render_enrichment(enrichment));
        }
        None => out += "\n# no [enrichment]: events are not enriched\n",
    }
    if s.alerts.rules.is_empty() {
        out += "\n# no [[alerts.rules]]: no alerts are raised\n";
    }
    for rule in &s.alerts.rules {
        out += &format!(
            "\n[[alerts.rules]]\nname = {}\nkind = {}\n",
            q(&rule.name),
            q(rule.kind.as_str()),
        );
        out += &match rule.kind {
            AlertKind::ForwardFailures => format!(
                "target = {}\n",
                q(rule.target.as_deref().unwrap_or("(every target)"))
            ),
            _ => format!(
                "source = {}\n",
                q(rule.source.as_deref().unwrap_or("(every source)"))
            ),
        };
        if let Some(t) = &rule.event_type {
            let pattern = match t {
                TypeMatch::Exact(text) => text.clone(),
                TypeMatch::Prefix(prefix) => format!("{prefix}*"),
            };
            out += &format!("type = {}\n", q(pattern));
        }
        out += &format!(
            "threshold = {}\nwindow_secs = {}\ncooldown_secs = {}\n",
            rule.threshold, rule.window_secs, rule.cooldown_secs
        );
    }
    if s.alerts.sinks.is_empty() && !s.alerts.rules.is_empty() {
        out += "\n# no [[alerts.sinks]]: alerts are stored and shown, not sent\n";
    }
    for sink in &s.alerts.sinks {
        out += &render_sink(sink);
    }
    if s.forward.is_empty() {
        out += "\n# no [[forward]]: events are not forwarded\n";
    }
    for target in &s.forward {
        out += &render_forward(target);
    }
    out
}

/// One `[[forward]]` rule as resolved, defaults and its name included; `to` masked, and the
/// values of `add_headers` hidden (an `Authorization` there is a credential).
fn render_forward(t: &TargetSettings) -> String {
    let source = match &t.rule.source {
        SourceMatch::Any => "*",
        SourceMatch::Named(name) => name,
    };
    let mut out = format!(
        "\n[[forward]]\nname = {}\nsource = {}\n",
        q(&t.name),
        q(source)
    );
    if let Some(pattern) = &t.rule.event_type {
        let pattern = match pattern {
            TypeMatch::Exact(text) => text.clone(),
            TypeMatch::Prefix(prefix) => format!("{prefix}*"),
        };
        out += &format!("type = {}\n", q(pattern));
    }
    out += &format!(
        "to = {}\ntimeout_secs = {}\nmax_attempts = {}\nmax_in_flight = {}\nresign = {}\n",
        q(crate::redact::url(&t.to)),
        t.timeout.as_secs(),
        t.max_attempts,
        t.max_in_flight,
        t.resign
    );
    if let Some(rate) = t.rate_per_sec {
        out += &format!("rate_per_sec = {rate:?}\n");
    }
    if !t.rule.filter.is_empty() {
        let conditions: Vec<String> = t.rule.filter.iter().map(|f| q(f.to_string())).collect();
        out += &format!("filter = [{}]\n", conditions.join(", "));
    }
    if t.create_stream {
        out += "create_stream = true\n";
    }
    if !t.add_headers.is_empty() {
        let pairs: Vec<String> = t
            .add_headers
            .iter()
            .map(|(name, _)| format!("{} = \"(set, hidden)\"", q(name)))
            .collect();
        out += &format!("add_headers = {{ {} }}\n", pairs.join(", "));
    }
    out
}

/// `[enrichment]` as resolved, defaults included; the key only as "set, hidden".
fn render_enrichment(e: &EnrichSettings) -> String {
    let mut out = format!("kind = {}\nurl = {}\n", q(e.kind.name()), q(&e.url));
    if let Some(var) = &e.api_key_env {
        out += &format!("api_key_env = {}\n", q(var));
    }
    if e.api_key.is_some() {
        out += "api_key = \"(set, hidden)\"\n";
    }
    out += &format!("query = {}\n", q(e.query.as_str()));
    out += &format!("when_types = {}\n", list(&e.rule.types));
    out += &format!("when_errors = {}\n", e.rule.errors);
    match &e.kind {
        Kind::SwiftSearch {
            max_results,
            auto_scrape_top,
        } => {
            out += &format!("max_results = {max_results}\nauto_scrape_top = {auto_scrape_top}\n");
        }
        Kind::Http { include_body } => out += &format!("include_body = {include_body}\n"),
    }
    out += &format!(
        "cache_secs = {}\nmax_calls_per_day = {}\ntimeout_secs = {}\nqueue_size = {}\n",
        e.cache_secs, e.max_calls_per_day, e.timeout_secs, e.queue_size
    );
    out
}

/// A sink with every secret masked: webhook URLs show only scheme and host.
fn render_sink(sink: &SinkConfig) -> String {
    let mut out = format!("\n[[alerts.sinks]]\nkind = {}\n", q(sink.kind.name()));
    let host_only = |url: &str| {
        reqwest::Url::parse(url)
            .ok()
            .map(|u| {
                format!(
                    "{}://{}/… (path hidden)",
                    u.scheme(),
                    u.host_str().unwrap_or("")
                )
            })
            .unwrap_or_else(|| "(hidden)".into())
    };
    match &sink.kind {
        SinkKind::Log => {}
        SinkKind::Slack(c) => out += &format!("url = {}\n", q(host_only(c.url.expose()))),
        SinkKind::Webhook(c) => out += &format!("url = {}\n", q(host_only(c.url.expose()))),
        SinkKind::PagerDuty(c) => {
            out += &format!(
                "url = {}\nrouting_key = \"(set, hidden)\"\nseverity = {}\n",
                q(&c.url),
                q(&c.severity)
            );
        }
        SinkKind::Email(c) => {
            let to: Vec<String> = c.to.iter().map(|m| m.to_string()).collect();
            out += &format!(
                "host = {}\nport = {}\ntls = {}\nfrom = {}\nto = {}\npassword = {}\n",
                q(&c.host),
                c.port,
                q(format!("{:?}", c.tls)),
                q(&c.from),
                list(&to),
                q(if c.password.is_some() {
                    "(set, hidden)"
                } else {
                    "(none)"
                })
            );
        }
    }
    let d = sink.delivery;
    out += &format!(
        "timeout_secs = {}\nretries = {}\nbackoff_ms = {}\n",
        d.timeout.as_secs(),
        d.retries,
        d.backoff.as_millis()
    );
    out
}

fn render_source(s: &SourceSettings) -> String {
    let mut out = String::new();
    if let Some(p) = s.rules.provider {
        out += &format!("provider = {}\n", q(p.as_str()));
    }
    match &s.verifier {
        Some(v) => {
            if let Some(name) = v.scheme.config_name() {
                out += &format!("scheme = {}\n", q(name));
            }
            out += &format!("secrets = \"({} set, hidden)\"\n", v.secrets.len());
            out += &format!("tolerance_secs = {}\n", v.tolerance_secs);
        }
        None => out += "secrets = \"(none: events are unverified)\"\n",
    }
    let policy = match s.on_invalid {
        OnInvalid::Reject => "reject",
        OnInvalid::Accept => "accept",
    };
    out += &format!("on_invalid = {}\n", q(policy));
    if let Some(rule) = &s.rules.event_type {
        out += &format!("event_type = {}\n", q(rule));
    }
    if let Some(rule) = &s.rules.delivery_id {
        out += &format!("delivery_id = {}\n", q(rule));
    }
    if let Some(url) = &s.public_url {
        out += &format!("public_url = {}\n", q(url));
    }
    if s.allow_ips.is_some() {
        out += "allow_ips = \"(set)\"\n";
    }
    if let Some(r) = &s.response {
        out += &format!("response.status = {}\n", r.status);
        out += &format!("response.delay_ms = {}\n", r.delay.as_millis());
    }
    out
}

/// `[retention]` as resolved; what is absent keeps everything.
fn render_retention(r: &Retention) -> String {
    if r.max_age.is_none() && r.max_events.is_none() {
        return "\n# no [retention]: events are kept until deleted with `hookwatch prune`\n".into();
    }
    let mut out = "\n[retention]\n".to_string();
    if let Some(age) = r.max_age {
        out += &format!("max_age = {}\n", q(age_of(age)));
    }
    if let Some(count) = r.max_events {
        out += &format!("max_events = {count}\n");
    }
    out
}

/// A retention age as the config file writes it.
fn age_of(retention: chrono::Duration) -> String {
    retention.to_std().map(age).unwrap_or_default()
}

/// `text` as a TOML string, quotes and escapes included, so any value reads back as written.
fn q(text: impl std::fmt::Display) -> String {
    toml::Value::String(text.to_string()).to_string()
}

/// Strings as a TOML array.
fn list(items: &[String]) -> String {
    let items = items.iter().map(|item| toml::Value::String(item.clone()));
    toml::Value::Array(items.collect()).to_string()
}

/// A duration as the config file writes it: `12h`, `30m`, `7d`, else seconds.
fn age(duration: std::time::Duration) -> String {
    let secs = duration.as_secs();
    match secs {
        s if s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s % 3600 == 0 => format!("{}h", s / 3600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}
