//! Server-sent events (the WHATWG event-stream format), parsed as bytes arrive: the answers of
//! a Streamable HTTP server and the legacy HTTP+SSE transport's stream.

/// One dispatched event.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Event {
    /// The `event:` field; `message` when the server named none.
    pub event: String,
    /// The `data:` lines joined with new lines.
    pub data: String,
    /// The `id:` field, when this event had one.
    pub id: Option<String>,
    /// The `retry:` field (milliseconds), when this event had one.
    pub retry: Option<u64>,
}

/// The largest event kept: a server that never ends a line or an event is cut off here.
pub const EVENT_CAP: usize = 16 * 1024 * 1024;

/// An incremental parser: feed it chunks, get whole events.
#[derive(Debug, Default)]
pub struct Parser {
    line: Vec<u8>,
    after_cr: bool,
    started: bool,
    event: String,
    data: String,
    has_data: bool,
    id: Option<String>,
    retry: Option<u64>,
    last_id: Option<String>,
    too_large: bool,
}

impl Parser {
    /// A new parser.
    pub fn new() -> Self {
        Self::default()
    }

    /// The last event id seen (for `Last-Event-ID` when the stream is resumed).
    pub fn last_event_id(&self) -> Option<&str> {
        self.last_id.as_deref()
    }

    /// True once an event or a line passed [`EVENT_CAP`]: the stream should be dropped.
    pub fn too_large(&self) -> bool {
        self.too_large
    }

    /// Feeds bytes; returns the events they completed.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<Event> {
        let mut out = Vec::new();
        for &b in bytes {
            if self.after_cr {
                self.after_cr = false;
                if b == b'\n' {
                    continue;
                }
            }
            match b {
                b'\r' => {
                    self.after_cr = true;
                    self.end_line(&mut out);
                }
                b'\n' => self.end_line(&mut out),
                _ => {
                    if self.line.len() + self.data.len() >= EVENT_CAP {
                        self.too_large = true;
                        continue;
                    }
                    self.line.push(b);
                }
            }
        }
        out
    }

    fn end_line(&mut self, out: &mut Vec<Event>) {
        let mut line = std::mem::take(&mut self.line);
        if !self.started {
            self.started = true;
            if line.starts_with(&[0xEF, 0xBB, 0xBF]) {
                line.drain(..3);
            }
        }
        if line.is_empty() {
            self.dispatch(out);
            return;
        }
        let text = String::from_utf8_lossy(&line);
        if text.starts_with(':') {
            return;
        }
        let (field, value) = match text.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (text.as_ref(), ""),
        };
        match field {
            "event" => self.event = value.to_string(),
            "data" => {
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(value);
                self.has_data = true;
            }
            "id" if !value.contains('\0') => {
                self.id = Some(value.to_string());
                self.last_id = Some(value.to_string());
            }
            "retry" if !value.is_empty() && value.bytes().all(|c| c.is_ascii_digit()) => {
                self.retry = value.parse().ok();
            }
            _ => {}
        }
    }

    fn dispatch(&mut self, out: &mut Vec<Event>) {
        let event = std::mem::take(&mut self.event);
        let data = std::mem::take(&mut self.data);
        let id = self.id.take();
        let retry = self.retry.take();
        if !std::mem::take(&mut self.has_data) {
            return;
        }
        out.push(Event {
            event: if event.is_empty() {
                "message".into()
            } else {
                event
            },
            data,
            id,
            retry,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(chunks: &[&[u8]]) -> Vec<Event> {
        let mut p = Parser::new();
        chunks.iter().flat_map(|c| p.push(c)).collect()
    }

    #[test]
    fn events_are_found_whatever_the_line_endings_and_chunking() {
        let text = b"\xEF\xBB\xBF: a comment\nid: 7\nevent: message\ndata: {\"a\":\ndata: 1}\n\ndata:x\r\n\r\nevent: endpoint\rdata: /post?s=1\r\r";
        let whole = all(&[text]);
        assert_eq!(whole.len(), 3, "{whole:?}");
        assert_eq!(whole[0].data, "{\"a\":\n1}");
        assert_eq!(whole[0].id.as_deref(), Some("7"));
        assert_eq!(whole[1].event, "message");
        assert_eq!(whole[1].data, "x");
        assert_eq!(whole[2].event, "endpoint");
        assert_eq!(whole[2].data, "/post?s=1");
        // Byte by byte, a CR LF split across chunks included, gives the same events.
        let bytes: Vec<&[u8]> = text.chunks(1).collect();
        assert_eq!(all(&bytes), whole);
    }

    #[test]
    fn ids_retry_and_empty_events_follow_the_format() {
        let mut p = Parser::new();
        let ev = p.push(b"id: 1\nretry: 2500\n\nid\ndata\n\nretry: x\ndata: y\n\n");
        // An event with no data is not dispatched, but its id is remembered.
        assert_eq!(ev.len(), 2, "{ev:?}");
        assert_eq!(ev[0].data, "");
        assert_eq!(ev[0].id.as_deref(), Some(""));
        assert_eq!(ev[1].retry, None);
        assert_eq!(p.last_event_id(), Some(""));
        let mut p = Parser::new();
        let ev = p.push(b"retry: 2500\ndata: z\n\n");
        assert_eq!(ev[0].retry, Some(2500));
    }

    #[test]
    fn a_line_that_never_ends_is_cut_off() {
        let mut p = Parser::new();
        let big = vec![b'a'; 1024 * 1024];
        for _ in 0..20 {
            assert!(p.push(&big).is_empty());
        }
        assert!(p.too_large());
    }
}
