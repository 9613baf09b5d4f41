//! `hookwatch serve`: resolve the settings, open the store, print the banner, serve until
//! SIGTERM or Ctrl-C, then drain.

use std::net::SocketAddr;

use clap::Args;
use tokio::net::TcpListener;

use super::GlobalArgs;
use crate::app::{self, ServeOptions};
use crate::config::{MIN_TOKEN_CHARS, Overrides, STRONG_TOKEN_HINT, Settings};

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on
    #[arg(long, env = "HOOKWATCH_LISTEN")]
    pub listen: Option<String>,
    /// API and dashboard token (required off loopback)
    #[arg(long, env = "HOOKWATCH_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Allow a non-loopback address without a token
    #[arg(long)]
    pub insecure_no_auth: bool,
    /// PostgreSQL connections per instance (default 16)
    #[arg(long, env = "HOOKWATCH_POOL_SIZE")]
    pub pool_size: Option<usize>,
}

impl ServeArgs {
    /// The command line's part of the settings; `check-config` takes the same flags, so it
    /// checks exactly what `serve` would run with.
    pub fn overrides(self, global: &GlobalArgs) -> Overrides {
        Overrides {
            listen: self.listen,
            database: global.database.clone(),
            config: global.config.clone(),
            token: self.token,
            insecure_no_auth: self.insecure_no_auth,
            pool_size: self.pool_size,
        }
    }
}

/// Serves on tokio's multi-threaded runtime: one worker per core, or `TOKIO_WORKER_THREADS`.
pub fn run(global: &GlobalArgs, args: ServeArgs) -> anyhow::Result<()> {
    let settings = Settings::resolve(&args.overrides(global))?;
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(serve(settings))
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    let shutdown = shutdown_signal()?;
    // Bound before the store is opened, so a taken address leaves no new database behind.
    let listener = bind(settings.listen).await?;
    let store = app::open_store(&settings).await?;
    let address = listener.local_addr()?;
    println!("hookwatch is listening on http://{address}");
    println!("  dashboard: http://{address}/");
    println!("  webhooks:  http://{address}/webhook/{{source}}");
    println!("  data:      {}", settings.database.display_safe());
    if let Some(path) = &settings.config_path {
        println!("  config:    {}", path.display());
    }
    if settings.token.is_none() && settings.insecure_no_auth && !address.ip().is_loopback() {
        println!(
            "  WARNING: no token set and listening off loopback: anyone can read your webhooks"
        );
    }
    if settings.weak_token() {
        println!(
            "  WARNING: the token is shorter than {MIN_TOKEN_CHARS} characters, so it is refused \
             off loopback; {STRONG_TOKEN_HINT}"
        );
    }
    tracing::info!(address = %address, "Serving.");
    app::serve(
        listener,
        ServeOptions::from_settings(settings, store),
        shutdown,
    )
    .await?;
    tracing::info!("Stopped; every acknowledged event is committed.");
    Ok(())
}

/// Binds the listening socket; the error names the address and how to choose another.
async fn bind(address: SocketAddr) -> anyhow::Result<TcpListener> {
    TcpListener::bind(address).await.map_err(|error| {
        let problem = match error.kind() {
            std::io::ErrorKind::AddrInUse => {
                "the address is already in use (is another hookwatch or another server \
                 running there?)"
                    .to_string()
            }
            _ => error.to_string(),
        };
        anyhow::anyhow!(
            "cannot listen on {address}: {problem}; choose another address with --listen ADDR \
             (or HOOKWATCH_LISTEN, or `listen` in the config file)"
        )
    })
}

/// Completes on Ctrl-C or SIGTERM. The handlers are installed before this returns, so a
/// signal sent right after the banner is printed is never missed.
fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => {},
            _ = terminate.recv() => {},
        }
    })
}
