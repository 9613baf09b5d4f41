//! The `email` sink: SMTP through `lettre`, with STARTTLS (the default), implicit TLS, or
//! plain text for a relay on a trusted network. The subject is the alert's summary; the body
//! adds the details and a link to the dashboard.

use std::time::Duration;

use lettre::message::{Mailbox, header::ContentType};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::{Secret, SinkError};
use crate::alert::view;
use crate::model::Alert;

/// How the connection to the SMTP server is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmailTls {
    /// Plain connection upgraded with STARTTLS (required), usually port 587.
    StartTls,
    /// TLS from the first byte, usually port 465.
    Tls,
    /// No encryption: only for a relay on localhost or a trusted network.
    None,
}

#[derive(Debug, Clone)]
pub struct EmailConfig {
    pub host: String,
    pub port: u16,
    pub tls: EmailTls,
    pub from: Mailbox,
    pub to: Vec<Mailbox>,
    pub username: Option<String>,
    pub password: Option<Secret>,
    pub dashboard_url: Option<String>,
    /// Per-connection timeout inside lettre (the sink's own timeout covers the whole send).
    pub timeout: Duration,
}

/// A configured SMTP transport.
pub struct Mailer {
    config: EmailConfig,
    transport: Result<AsyncSmtpTransport<Tokio1Executor>, String>,
}

impl Mailer {
    pub fn new(config: EmailConfig) -> Mailer {
        let transport = transport(&config).map_err(|e| e.to_string());
        Mailer { config, transport }
    }

    pub async fn send(&self, alert: &Alert) -> Result<(), SinkError> {
        let transport = self
            .transport
            .as_ref()
            .map_err(|e| SinkError::Email(e.clone()))?;
        let message = message(alert, &self.config)?;
        transport
            .send(message)
            .await
            .map_err(|e| SinkError::Email(e.to_string()))?;
        Ok(())
    }
}

fn transport(
    c: &EmailConfig,
) -> Result<AsyncSmtpTransport<Tokio1Executor>, lettre::transport::smtp::Error> {
    let builder = match c.tls {
        EmailTls::StartTls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&c.host)?,
        EmailTls::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&c.host)?,
        EmailTls::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&c.host),
    };
    let mut builder = builder.port(c.port).timeout(Some(c.timeout));
    if let (Some(user), Some(password)) = (&c.username, &c.password) {
        builder = builder.credentials(Credentials::new(
            user.clone(),
            password.expose().to_string(),
        ));
    }
    Ok(builder.build())
}

/// The email: subject is the summary, body the details.
pub fn message(alert: &Alert, c: &EmailConfig) -> Result<Message, SinkError> {
    let a = &alert.new;
    let mut body = format!(
        "{}\n\nrule:    {}\nkind:    {}\nsource:  {}\nstate:   {}\ncount:   {}\nwindow:  {} s\nat:      {}\nsample event ids: {:?}\n",
        view::summary(alert),
        a.rule,
        a.kind.as_str(),
        a.source,
        a.state.as_str(),
        a.count,
        a.window_secs,
        crate::query::view::time(a.at),
        a.sample_event_ids,
    );
    if let Some(url) = &c.dashboard_url {
        body += &format!("\n{}\n", view::dashboard_link(url, alert));
    }
    let mut builder = Message::builder()
        .from(c.from.clone())
        .subject(format!("[hookwatch] {}", view::summary(alert)))
        .header(ContentType::TEXT_PLAIN);
    for to in &c.to {
        builder = builder.to(to.clone());
    }
    builder
        .body(body)
        .map_err(|e| SinkError::Email(e.to_string()))
}
