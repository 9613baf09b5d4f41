//! `hookwatch tail`: follows a running (possibly remote) hookwatch over `/api/stream`, prints
//! each event, and with `--forward-to` re-sends it to a local application.
//!
//! Nothing is lost or shown twice: before the first connection `tail` asks for the newest
//! event id and opens the stream after it, so even a disconnect before the first event leaves
//! a resume point; after any disconnect it reconnects with `Last-Event-ID` set to the last
//! event it handled, and it drops any id not above that one (unless the server's ids start
//! again: see `connection`). An event counts as handled once
//! it is printed and, with `--forward-to`, sent; while the server cannot give an event's
//! body, `tail` waits and asks again rather than skip it.
//!
//! Layout: `sse` decodes the stream, `show` formats lines, `forward` re-sends; this file runs
//! the connection loop. Depends on the server's HTTP API only, never on the store.

mod forward;
mod show;
mod sse;

use std::io::Write;
use std::time::Duration;

use clap::Args;
use futures_util::StreamExt;
use reqwest::Url;
use reqwest::header::{ACCEPT, CONTENT_TYPE};

use super::remote::{DEFAULT_SERVER, Failure, Server, cause, http_url};
use super::runtime;
use forward::Forwarder;
use show::{AlertLine, Forwarded, Summary};

#[derive(Debug, Args)]
pub struct TailArgs {
    /// The running hookwatch to follow
    #[arg(long, value_name = "URL", default_value = DEFAULT_SERVER, value_parser = http_url)]
    pub server: Url,
    /// The server's API token
    #[arg(long, env = "HOOKWATCH_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Only events from this source
    #[arg(long)]
    pub source: Option<String>,
    /// Only events of this type; a trailing * matches by prefix (charge.*)
    #[arg(long = "type")]
    pub event_type: Option<String>,
    /// One JSON summary per line instead of a readable line
    #[arg(long)]
    pub json: bool,
    /// Re-send every received (not rejected) event to this URL, byte for byte
    #[arg(long, value_name = "URL", value_parser = http_url)]
    pub forward_to: Option<Url>,
}

pub fn run(args: TailArgs) -> anyhow::Result<()> {
    let forwarder = args.forward_to.clone().map(Forwarder::new).transpose()?;
    let client = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        // The server sends a keep-alive every 15 s: silence for longer is a dead connection.
        .read_timeout(Duration::from_secs(45))
        .build()?;
    let mut tail = Tail {
        server: Server::new(args.server.clone(), args.token.clone()),
        client,
        forwarder,
        args,
        last_id: None,
        backoff: Backoff::default(),
        connected_before: false,
    };
    runtime()?.block_on(tail.follow())
}

struct Tail {
    server: Server,
    client: reqwest::Client,
    forwarder: Option<Forwarder>,
    args: TailArgs,
    /// The last event handled; `None` until the starting point is known.
    last_id: Option<i64>,
    backoff: Backoff,
    connected_before: bool,
}

/// Why a connection ended.
enum End {
    /// Reconnect after the backoff.
    Retry(String),
    /// Stop with this error (exit 1).
    Stop(anyhow::Error),
    /// Stdout is gone (`tail | head`): stop quietly.
    OutputClosed,
}

impl From<Failure> for End {
    fn from(failure: Failure) -> End {
        match failure {
            Failure::NotFound(url) => End::Stop(anyhow::anyhow!(
                "{url} was not found (404): is it hookwatch?"
            )),
            f if f.is_temporary() => End::Retry(f.to_string()),
            f => End::Stop(f.into()),
        }
    }
}

impl Tail {
    async fn follow(&mut self) -> anyhow::Result<()> {
        loop {
            let why = match self.connection().await {
                End::Retry(why) => why,
                End::Stop(error) => return Err(error),
                End::OutputClosed => return Ok(()),
            };
            let wait = self.backoff.next_delay();
            let again = if self.connected_before {
                "reconnecting"
            } else {
                "trying again"
            };
            eprintln!(
                "hookwatch tail: {why}; {again} in {:.1} s",
                wait.as_secs_f32()
            );
            tokio::time::sleep(wait).await;
        }
    }

    /// One connection: settle the resume point against the server's newest event, open the
    /// stream after it, handle messages until it ends.
    async fn connection(&mut self) -> End {
        let newest = match self.newest_id().await {
            Ok(id) => id,
            Err(failure) => return failure.into(),
        };
        let last_id = match self.last_id {
            // Normally the newest stored id is at least the last one handled. When it is
            // lower, the server's data was replaced or emptied and its ids start again:
            // resuming from the old id would hide every new event.
            Some(last) if newest < last => {
                eprintln!(
                    "hookwatch tail: the server's newest event is {newest}, older than the \
                     last one shown ({last}): its data was replaced; following from there"
                );
                *self.last_id.insert(newest)
            }
            Some(last) => last,
            None => *self.last_id.insert(newest),
        };
        let filters: Vec<(&str, &str)> = [
            ("source", &self.args.source),
            ("type", &self.args.event_type),
        ]
        .into_iter()
        .filter_map(|(name, value)| Some((name, value.as_deref()?)))
        .collect();
        let request = self
            .server
            .get(&self.client, "api/stream", &filters)
            .header(ACCEPT, "text/event-stream")
            .header("last-event-id", last_id.to_string());
        let response = match self.server.send(request).await {
            Ok(response) => response,
            Err(failure) => return failure.into(),
        };
        let is_sse = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/event-stream"));
        if !is_sse {
            return End::Stop(anyhow::anyhow!(
                "{} did not answer with an event stream: is it hookwatch?",
                self.server.base()
            ));
        }
        self.backoff.reset();
        if self.connected_before {
            eprintln!("hookwatch tail: reconnected; resuming after event {last_id}");
        } else {
            eprintln!(
                "hookwatch tail: following {} (Ctrl-C to stop)",
                self.server.base()
            );
            self.connected_before = true;
        }
        let mut decoder = sse::Decoder::default();
        let mut body = response.bytes_stream();
        while let Some(chunk) = body.next().await {
            let chunk = match chunk {
                Ok(chunk) => chunk,
                Err(error) => return End::Retry(format!("the stream broke: {}", cause(&error))),
            };
            let messages = match decoder.push(&chunk) {
                Ok(messages) => messages,
                Err(error) => return End::Retry(error.to_string()),
            };
            for message in messages {
                if let Err(end) = self.handle(message).await {
                    return end;
                }
            }
        }
        End::Retry("the server closed the stream".into())
    }

    /// The newest stored event's id (0 when there is none): where the first stream starts.
    async fn newest_id(&self) -> Result<i64, Failure> {
        let request = self
            .server
            .get(&self.client, "api/events", &[("limit", "1")]);
        let list = self.server.json(request).await?;
        Ok(list["events"][0]["id"].as_i64().unwrap_or(0))
    }

    async fn handle(&mut self, message: sse::Message) -> Result<(), End> {
        match message.event.as_str() {
            "webhook" => {
                let summary: Summary = serde_json::from_str(&message.data).map_err(|e| {
                    End::Stop(anyhow::anyhow!("the server sent an unreadable event: {e}"))
                })?;
                if self.last_id.is_some_and(|last| summary.id <= last) {
                    return Ok(());
                }
                let line = if self.args.json {
                    message.data.clone()
                } else {
                    show::event_line(&summary)
                };
                print(&line)?;
                if self.forwarder.is_some() {
                    let outcome = self.forward(&summary).await?;
                    let line = show::forward_line(summary.id, &outcome);
                    if self.args.json {
                        eprintln!("{}", line.trim_start());
                    } else {
                        print(&line)?;
                    }
                }
                self.last_id = Some(summary.id);
            }
            "alert" if !self.args.json => {
                if let Ok(alert) = serde_json::from_str::<AlertLine>(&message.data) {
                    print(&show::alert_line(&alert))?;
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Fetches the event and sends it to the application; waits out a server that cannot
    /// answer (the event must not be skipped), not an application that cannot.
    async fn forward(&self, summary: &Summary) -> Result<Forwarded, End> {
        let Some(forwarder) = &self.forwarder else {
            return Ok(Forwarded::SkippedRejected);
        };
        if summary.is_rejected() {
            return Ok(Forwarded::SkippedRejected);
        }
        let mut backoff = Backoff::default();
        loop {
            match forwarder
                .fetch(&self.server, &self.client, summary.id)
                .await
            {
                Ok((headers, body)) => return Ok(forwarder.send(summary, headers, body).await),
                Err(Failure::NotFound(_)) => return Ok(Forwarded::SkippedGone),
                Err(failure) if !failure.is_temporary() => return Err(End::Stop(failure.into())),
                Err(why) => {
                    let wait = backoff.next_delay();
                    eprintln!(
                        "hookwatch tail: cannot fetch event {} to forward it ({why}); \
                         trying again in {:.1} s",
                        summary.id,
                        wait.as_secs_f32()
                    );
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }
}

/// Writes one line to stdout; a closed stdout ends `tail` quietly.
fn print(line: &str) -> Result<(), End> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}")
        .and_then(|()| out.flush())
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::BrokenPipe => End::OutputClosed,
            _ => End::Stop(anyhow::anyhow!("cannot write to stdout: {e}")),
        })
}

/// Reconnection delays: 0.5 s, doubling, at most [`Backoff::MAX`]; back to the start once a
/// connection succeeds.
#[derive(Debug, Default)]
struct Backoff {
    failures: u32,
}

impl Backoff {
    const FIRST: Duration = Duration::from_millis(500);
    const MAX: Duration = Duration::from_secs(5);

    fn next_delay(&mut self) -> Duration {
        let delay = Self::FIRST.saturating_mul(1 << self.failures.min(8));
        self.failures = self.failures.saturating_add(1);
        delay.min(Self::MAX)
    }

    fn reset(&mut self) {
        self.failures = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reconnection_delays_double_up_to_a_cap_and_reset_after_a_connection() {
        let mut backoff = Backoff::default();
        let delays: Vec<u128> = (0..7).map(|_| backoff.next_delay().as_millis()).collect();
        assert_eq!(delays, [500, 1000, 2000, 4000, 5000, 5000, 5000]);
        backoff.reset();
        assert_eq!(backoff.next_delay(), Duration::from_millis(500));
    }
}
