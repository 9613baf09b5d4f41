//! `hookwatch check-config`: resolve the configuration exactly as `serve` would, print the
//! effective settings with every secret masked, and exit 2 on any problem.

use clap::Args;

use super::GlobalArgs;
use crate::config::{OnInvalid, Overrides, Settings, SourceSettings};

#[derive(Debug, Args)]
pub struct CheckConfigArgs {
    /// The address serve would listen on (checked like serve does)
    #[arg(long, env = "HOOKWATCH_LISTEN")]
    pub listen: Option<String>,
    /// The token serve would use (only whether it is set is printed)
    #[arg(long, env = "HOOKWATCH_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    #[arg(long)]
    pub insecure_no_auth: bool,
}

pub fn run(global: &GlobalArgs, args: CheckConfigArgs) -> anyhow::Result<()> {
    let overrides = Overrides {
        listen: args.listen,
        database: global.database.clone(),
        config: global.config.clone(),
        token: args.token,
        insecure_no_auth: args.insecure_no_auth,
        pool_size: None,
    };
    let settings = Settings::resolve(&overrides)?;
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
