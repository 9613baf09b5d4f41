//! Where alerts go: a structured log line, Slack, any webhook, PagerDuty, email.
//!
//! Each configured sink runs as its own task behind its own bounded queue, so a slow or dead
//! sink never delays the evaluator, ingest or the other sinks: when its queue is full, new
//! alerts for it are dropped with a warning. Every attempt has a timeout; failures are
//! logged and retried with exponential backoff. One file per sink kind builds its request
//! (pure functions, tested with fixed alerts); this file owns queues, retries and errors.
//! Secrets (Slack and webhook URLs, routing keys, SMTP passwords) are held in `Secret`, which
//! never prints, and error texts are stripped of URLs.

pub mod email;
pub mod log;
pub mod pagerduty;
pub mod slack;
pub mod webhook;

use crate::metrics::Metrics;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::mpsc;

use crate::model::Alert;

/// Alerts waiting per sink before new ones are dropped.
const QUEUE_DEPTH: usize = 256;
/// The longest wait between two attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// A secret string (a URL with a token in it, a key, a password): `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: String) -> Secret {
        Secret(value)
    }

    /// The value, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[hidden]")
    }
}

/// Which sink, with its own settings.
#[derive(Debug, Clone)]
pub enum SinkKind {
    Log,
    Slack(slack::SlackConfig),
    Webhook(webhook::WebhookConfig),
    PagerDuty(pagerduty::PagerDutyConfig),
    Email(email::EmailConfig),
}

impl SinkKind {
    pub fn name(&self) -> &'static str {
        match self {
            SinkKind::Log => "log",
            SinkKind::Slack(_) => "slack",
            SinkKind::Webhook(_) => "webhook",
            SinkKind::PagerDuty(_) => "pagerduty",
            SinkKind::Email(_) => "email",
        }
    }
}

/// How hard to try: per-attempt timeout, retries after the first attempt, first backoff.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivery {
    pub timeout: Duration,
    pub retries: u32,
    pub backoff: Duration,
}

/// One configured sink.
#[derive(Debug, Clone)]
pub struct SinkConfig {
    pub kind: SinkKind,
    pub delivery: Delivery,
}

/// Why one attempt failed. Texts never carry a URL or a secret.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    #[error("request failed: {0}")]
    Request(String),
    #[error("answered HTTP {0}")]
    Status(u16),
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error("email: {0}")]
    Email(String),
}

impl From<reqwest::Error> for SinkError {
    fn from(e: reqwest::Error) -> SinkError {
        SinkError::Request(e.without_url().to_string())
    }
}

/// What to do once every sink is done with an alert (delivered it, or gave up after its
/// retries): the emitter ends the alert's sending lease there.
pub type OnDone = Box<dyn Fn() + Send + Sync>;

/// Counts the sinks still working on one alert; the last one runs `then`.
struct Done {
    remaining: AtomicUsize,
    then: OnDone,
}

impl Done {
    fn one(&self) {
        if self.remaining.fetch_sub(1, Ordering::SeqCst) == 1 {
            (self.then)();
        }
    }
}

/// An alert waiting for one sink, with the count it shares with the other sinks.
type Queued = (Arc<Alert>, Option<Arc<Done>>);

/// The running sinks; cheap to clone; dropping every clone ends their tasks once their
/// queues drain.
#[derive(Clone)]
pub struct Sinks {
    queues: Vec<(&'static str, mpsc::Sender<Queued>)>,
}

impl Sinks {
    /// Starts one task per sink. Must be called inside a tokio runtime.
    /// Each failed attempt counts in `metrics`.
    pub fn start(configs: Vec<SinkConfig>, metrics: &Metrics) -> Sinks {
        let client = reqwest::Client::new();
        let mut queues = Vec::new();
        for config in configs {
            let name = config.kind.name();
            let (sender, receiver) = mpsc::channel(QUEUE_DEPTH);
            let sink = Sink::new(config.kind, client.clone());
            tokio::spawn(run(sink, config.delivery, receiver, metrics.clone()));
            queues.push((name, sender));
        }
        Sinks { queues }
    }

    /// Hands an alert to every sink without waiting for any of them; `done` runs once every
    /// sink is done with it (at once when there are no sinks).
    pub fn send(&self, alert: &Arc<Alert>, done: Option<OnDone>) {
        let done = done.map(|then| {
            Arc::new(Done {
                remaining: AtomicUsize::new(self.queues.len() + 1),
                then,
            })
        });
        for (name, queue) in &self.queues {
            if queue.try_send((alert.clone(), done.clone())).is_err() {
                tracing::warn!(
                    sink = name,
                    alert = alert.id,
                    "Sink queue full; alert dropped for it."
                );
                done.iter().for_each(|d| d.one());
            }
        }
        // The count started one higher, so no sink can finish it before every one has it.
        done.iter().for_each(|d| d.one());
    }
}

/// A sink ready to send.
enum Sink {
    Log,
    Slack(slack::SlackConfig, reqwest::Client),
    Webhook(webhook::WebhookConfig, reqwest::Client),
    PagerDuty(pagerduty::PagerDutyConfig, reqwest::Client),
    Email(Box<email::Mailer>),
}

impl Sink {
    fn new(kind: SinkKind, client: reqwest::Client) -> Sink {
        match kind {
            SinkKind::Log => Sink::Log,
            SinkKind::Slack(c) => Sink::Slack(c, client),
            SinkKind::Webhook(c) => Sink::Webhook(c, client),
            SinkKind::PagerDuty(c) => Sink::PagerDuty(c, client),
            SinkKind::Email(c) => Sink::Email(Box::new(email::Mailer::new(c))),
        }
    }

    fn name(&self) -> &'static str {
        match self {
            Sink::Log => "log",
            Sink::Slack(..) => "slack",
            Sink::Webhook(..) => "webhook",
            Sink::PagerDuty(..) => "pagerduty",
            Sink::Email(_) => "email",
        }
    }

    async fn deliver(&self, alert: &Alert) -> Result<(), SinkError> {
        match self {
            Sink::Log => {
                log::write(alert);
                Ok(())
            }
            Sink::Slack(c, client) => {
                post_json(client, c.url.expose(), &slack::message(alert, c)).await
            }
            Sink::Webhook(c, client) => {
                post_json(client, c.url.expose(), &webhook::document(alert, c)).await
            }
            Sink::PagerDuty(c, client) => {
                post_json(client, &c.url, &pagerduty::event(alert, c)).await
            }
            Sink::Email(mailer) => mailer.send(alert).await,
        }
    }
}

async fn post_json(
    client: &reqwest::Client,
    url: &str,
    body: &serde_json::Value,
) -> Result<(), SinkError> {
    let response = client.post(url).json(body).send().await?;
    let status = response.status();
    if status.is_success() {
        Ok(())
    } else {
        Err(SinkError::Status(status.as_u16()))
    }
}

/// Sends each queued alert, retrying with backoff; gives up on an alert after the last retry.
async fn run(sink: Sink, delivery: Delivery, mut queue: mpsc::Receiver<Queued>, metrics: Metrics) {
    while let Some((alert, done)) = queue.recv().await {
        let mut backoff = delivery.backoff;
        for attempt in 1..=delivery.retries.saturating_add(1) {
            let result = match tokio::time::timeout(delivery.timeout, sink.deliver(&alert)).await {
                Ok(result) => result,
                Err(_) => Err(SinkError::Timeout(delivery.timeout)),
            };
            if result.is_err() {
                metrics.sink_failure(sink.name());
            }
            match result {
                Ok(()) => break,
                Err(error) if attempt <= delivery.retries => {
                    tracing::warn!(sink = sink.name(), alert = alert.id, attempt, error = %error, "Alert delivery failed; retrying.");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
                Err(error) => {
                    tracing::error!(sink = sink.name(), alert = alert.id, attempt, error = %error, "Alert delivery failed; giving up.");
                }
            }
        }
        done.iter().for_each(|d| d.one());
    }
}
