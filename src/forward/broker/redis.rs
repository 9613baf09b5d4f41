//! Publishing to a Redis stream: one `XADD` per delivery, the body in field `body` and the
//! metadata as the other fields.
//!
//! The command's reply (the new entry's id) is the acknowledgement. With `maxlen` the stream
//! is trimmed approximately (`MAXLEN ~`), which Redis does cheaply by whole nodes, so it keeps
//! at least that many entries and a few more.

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use super::Message;
use super::address::RedisAddress;

/// One connection, re-established by the manager when it drops.
#[derive(Clone)]
pub struct Connection {
    manager: ConnectionManager,
}

/// Connects to `server` (a `redis://` URL with the database, without the query).
pub async fn open(server: &str) -> Result<Connection, String> {
    let client = redis::Client::open(server).map_err(|e| super::reason(&e))?;
    // One try: the caller tries again on its next delivery, so none waits on a down server.
    let config = ConnectionManagerConfig::new().set_number_of_retries(0);
    let manager = ConnectionManager::new_with_config(client, config)
        .await
        .map_err(|e| super::reason(&e))?;
    Ok(Connection { manager })
}

/// Appends `message` to `address.stream` and answers with the entry id.
pub async fn publish(
    connection: &Connection,
    address: &RedisAddress,
    message: &Message<'_>,
) -> Result<String, String> {
    let mut xadd = redis::cmd("XADD");
    xadd.arg(&address.stream);
    if let Some(maxlen) = address.maxlen {
        xadd.arg("MAXLEN").arg("~").arg(maxlen);
    }
    xadd.arg("*").arg("body").arg(message.body);
    for (name, value) in &message.metadata {
        xadd.arg(name).arg(value);
    }
    let id: String = xadd
        .query_async(&mut connection.manager.clone())
        .await
        .map_err(|e| super::reason(&e))?;
    Ok(format!("stream {} id {id}", address.stream))
}
