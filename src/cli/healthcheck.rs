//! `hookwatch healthcheck`: exit 0 when the server's `/healthz` answers 200, else 1, within
//! a short timeout, for container health checks. Needs no token (`/healthz` is open).

use std::time::Duration;

use anyhow::bail;
use clap::Args;
use reqwest::Url;

use super::remote::{DEFAULT_SERVER, Server, cause, http_url};
use super::runtime;

/// Longer than a healthy server ever takes, shorter than an orchestrator's check interval.
const TIMEOUT: Duration = Duration::from_secs(3);

#[derive(Debug, Args)]
pub struct HealthcheckArgs {
    /// The running hookwatch to check
    #[arg(long, value_name = "URL", default_value = DEFAULT_SERVER, value_parser = http_url)]
    pub server: Url,
}

pub fn run(args: HealthcheckArgs) -> anyhow::Result<()> {
    let server = Server::new(args.server, None);
    let client = reqwest::Client::builder().timeout(TIMEOUT).build()?;
    let status = runtime()?.block_on(async {
        client
            .get(server.url("healthz"))
            .send()
            .await
            .map(|r| r.status())
    });
    match status {
        Ok(status) if status == reqwest::StatusCode::OK => {
            println!("ok");
            Ok(())
        }
        Ok(status) => bail!("{} answered {status}", server.url("healthz")),
        Err(error) => bail!("cannot reach {}: {}", server.url("healthz"), cause(&error)),
    }
}
