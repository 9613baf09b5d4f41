//! A Server-Sent Events decoder: bytes as they arrive in, whole messages out.
//!
//! Pure (no I/O), so the framing rules are tested with fixed inputs: lines end with LF, CRLF
//! or CR, even when a chunk ends between the CR and the LF; a blank line ends a message;
//! `:` starts a comment (the server's keep-alives); one space after the field's colon is
//! dropped; several `data:` lines join with LF; a block without data is not a message.
//! `retry:` is ignored: the caller keeps its own backoff.
//!
//! A line longer than [`MAX_LINE`] is an error rather than a growing buffer, so a broken or
//! hostile server cannot make the client hold unbounded memory.

/// The longest line kept; a summary is a few hundred bytes, a long query string a few KiB.
pub const MAX_LINE: usize = 4 * 1024 * 1024;

/// One dispatched message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// `event:`; `message` when the server named none.
    pub event: String,
    pub data: String,
    /// The `id:` given in this message's own block, if any.
    pub id: Option<String>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("the server sent a line longer than {MAX_LINE} bytes")]
pub struct LineTooLong;

/// The decoder's state between chunks.
#[derive(Debug, Default)]
pub struct Decoder {
    line: Vec<u8>,
    /// The previous chunk ended on a CR: an LF at the start of the next one belongs to it.
    after_cr: bool,
    event: Option<String>,
    data: Option<String>,
    id: Option<String>,
}

impl Decoder {
    /// Feeds a chunk; gives the messages it completed, in order.
    pub fn push(&mut self, chunk: &[u8]) -> Result<Vec<Message>, LineTooLong> {
        let mut out = Vec::new();
        for &byte in chunk {
            let after_cr = std::mem::take(&mut self.after_cr);
            match byte {
                b'\n' if after_cr => {}
                b'\n' | b'\r' => {
                    self.after_cr = byte == b'\r';
                    let line = std::mem::take(&mut self.line);
                    out.extend(self.line_done(&String::from_utf8_lossy(&line)));
                }
                _ if self.line.len() >= MAX_LINE => return Err(LineTooLong),
                _ => self.line.push(byte),
            }
        }
        Ok(out)
    }

    fn line_done(&mut self, line: &str) -> Option<Message> {
        if line.is_empty() {
            return self.dispatch();
        }
        if line.starts_with(':') {
            return None;
        }
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line, ""),
        };
        match field {
            "event" => self.event = Some(value.to_string()),
            "data" => {
                // Each line ends with LF; `dispatch` drops the last one.
                let data = self.data.get_or_insert_with(String::new);
                data.push_str(value);
                data.push('\n');
            }
            "id" if !value.contains('\0') => self.id = Some(value.to_string()),
            _ => {}
        }
        None
    }

    fn dispatch(&mut self) -> Option<Message> {
        let event = self.event.take();
        let id = self.id.take();
        let mut data = self.data.take()?;
        data.pop(); // the LF after the last data line
        Some(Message {
            event: event
                .filter(|e| !e.is_empty())
                .unwrap_or_else(|| "message".into()),
            data,
            id,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(chunks: &[&[u8]]) -> Vec<Message> {
        let mut decoder = Decoder::default();
        chunks
            .iter()
            .flat_map(|c| decoder.push(c).unwrap())
            .collect()
    }

    fn webhook(id: &str, data: &str) -> Message {
        Message {
            event: "webhook".into(),
            data: data.into(),
            id: Some(id.into()),
        }
    }

    #[test]
    fn a_message_is_its_fields_up_to_a_blank_line() {
        let got = decode(&[b"event: webhook\nid: 7\ndata: {\"id\":7}\n\n"]);
        assert_eq!(got, vec![webhook("7", "{\"id\":7}")]);
    }

    #[test]
    fn every_line_ending_works_even_split_between_chunks() {
        let crlf = decode(&[b"event: webhook\r\nid: 1\r\ndata: a\r", b"\n\r", b"\n"]);
        assert_eq!(crlf, vec![webhook("1", "a")]);
        let cr = decode(&[b"event: webhook\rid: 1\rdata: a\r\r"]);
        assert_eq!(cr, vec![webhook("1", "a")]);
    }

    #[test]
    fn a_message_split_at_every_byte_decodes_the_same() {
        let text = b": keep-alive\n\nretry: 1000\n\nevent: webhook\nid: 3\ndata: x\n\n";
        let chunks: Vec<&[u8]> = text.chunks(1).collect();
        assert_eq!(decode(&chunks), vec![webhook("3", "x")]);
    }

    #[test]
    fn comments_retry_and_blocks_without_data_are_not_messages() {
        assert!(decode(&[b":\n\nretry: 1000\n\nid: 5\n\nevent: x\n\n"]).is_empty());
    }

    #[test]
    fn data_lines_join_with_newlines_and_keep_extra_spaces() {
        let got = decode(&[b"data:  a\ndata\ndata:b\n\n"]);
        assert_eq!(got[0].data, " a\n\nb");
        assert_eq!(got[0].event, "message");
        assert_eq!(got[0].id, None);
    }

    #[test]
    fn a_message_without_an_id_does_not_inherit_the_previous_one() {
        let got = decode(&[b"id: 1\ndata: a\n\nevent: alert\ndata: b\n\n"]);
        assert_eq!(got[1].id, None);
        assert_eq!(got[1].event, "alert");
    }

    #[test]
    fn an_endless_line_is_an_error_not_a_growing_buffer() {
        let mut decoder = Decoder::default();
        let chunk = vec![b'a'; 64 * 1024];
        let mut result = Ok(Vec::new());
        for _ in 0..=(MAX_LINE / chunk.len()) {
            result = decoder.push(&chunk);
            if result.is_err() {
                break;
            }
        }
        assert_eq!(result, Err(LineTooLong));
    }
}
