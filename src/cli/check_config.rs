//! `hookwatch check-config`: resolve the configuration exactly as `serve` would, print the
//! effective settings with every secret masked, and exit 2 on any problem.

use super::GlobalArgs;
use super::serve::ServeArgs;
use crate::config::{OnInvalid, Settings, SourceSettings};

pub fn run(global: &GlobalArgs, args: ServeArgs) -> anyhow::Result<()> {
    let settings = Settings::resolve(&args.overrides(global))?;
    print!("{}", render(&settings));
    Ok(())
}

/// The effective settings as TOML-like text; secrets appear only as a count.
pub fn render(s: &Settings) -> String {
    let mut out = String::new();
    match &s.config_path {
        Some(path) => out += &format!("# config file: {}\n", path.display()),
        None => out += "# no config file\n",
    }
    out += &format!("listen = \"{}\"\n", s.listen);
    out += &format!("database = \"{}\"\n", s.database.display_safe());
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
    for (name, source) in &s.sources {
        out += &format!("\n[sources.{name}]\n{}", render_source(source));
    }
    out
}

fn render_source(s: &SourceSettings) -> String {
    let mut out = String::new();
    if let Some(p) = s.rules.provider {
        out += &format!("provider = \"{}\"\n", p.as_str());
    }
    match &s.verifier {
        Some(v) => {
            out += &format!("secrets = \"({} set, hidden)\"\n", v.secrets.len());
            out += &format!("tolerance_secs = {}\n", v.tolerance_secs);
        }
        None => out += "secrets = \"(none: events are unverified)\"\n",
    }
    let policy = match s.on_invalid {
        OnInvalid::Reject => "reject",
        OnInvalid::Accept => "accept",
    };
    out += &format!("on_invalid = \"{policy}\"\n");
    if let Some(rule) = &s.rules.event_type {
        out += &format!("event_type = \"{rule}\"\n");
    }
    if let Some(rule) = &s.rules.delivery_id {
        out += &format!("delivery_id = \"{rule}\"\n");
    }
    if let Some(url) = &s.public_url {
        out += &format!("public_url = \"{url}\"\n");
    }
    out
}
