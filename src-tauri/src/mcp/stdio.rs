//! The AI app's side of the bridge: one JSON-RPC message per line on stdin and stdout (the
//! MCP stdio transport). Nothing here knows about OAuth or the remote server. stdout carries
//! only protocol messages; everything else goes to stderr.

use super::message;
use serde_json::Value;
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;

/// What one line from the AI app is.
#[derive(Debug, PartialEq)]
pub enum Line {
    /// A JSON-RPC message (or batch).
    Message(Value),
    /// Not a message: the reason, for the parse-error answer.
    Bad(String),
    /// A blank line, ignored.
    Blank,
}

/// Reads one line.
pub fn read_line(line: &str) -> Line {
    let t = line.trim();
    if t.is_empty() {
        return Line::Blank;
    }
    match serde_json::from_str::<Value>(t) {
        Ok(v) => match message::check_shape(&v) {
            Ok(()) => Line::Message(v),
            Err(why) => Line::Bad(why.into()),
        },
        Err(e) => Line::Bad(format!("at column {}", e.column())),
    }
}

/// Where messages for the AI app go: one writer owns stdout, so lines never interleave.
#[derive(Clone)]
pub struct Out {
    tx: mpsc::UnboundedSender<Value>,
}

impl Out {
    /// Queues a message for stdout.
    pub fn send(&self, m: Value) {
        let _ = self.tx.send(m);
    }
}

/// Starts the stdout writer; it ends when every [`Out`] is dropped.
pub fn writer<W: tokio::io::AsyncWrite + Unpin + Send + 'static>(
    mut w: W,
) -> (Out, tokio::task::JoinHandle<()>) {
    let (tx, mut rx) = mpsc::unbounded_channel::<Value>();
    let task = tokio::spawn(async move {
        while let Some(m) = rx.recv().await {
            let mut line = serde_json::to_vec(&m).unwrap_or_default();
            line.push(b'\n');
            if w.write_all(&line).await.is_err() || w.flush().await.is_err() {
                // The AI app went away: nothing more can be said to it.
                break;
            }
        }
    });
    (Out { tx }, task)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_messages_blank_or_bad() {
        assert_eq!(read_line("  \r"), Line::Blank);
        assert!(matches!(
            read_line(r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#),
            Line::Message(_)
        ));
        assert!(matches!(read_line("not json"), Line::Bad(_)));
        assert!(matches!(read_line("42"), Line::Bad(_)));
        assert!(matches!(read_line("[]"), Line::Bad(_)));
    }

    #[tokio::test]
    async fn the_writer_puts_one_message_per_line() {
        let (a, mut b) = tokio::io::duplex(4096);
        let (out, task) = writer(a);
        out.send(serde_json::json!({"x": "a\nb"}));
        out.send(serde_json::json!({"y": 2}));
        drop(out);
        task.await.unwrap();
        let mut s = String::new();
        tokio::io::AsyncReadExt::read_to_string(&mut b, &mut s)
            .await
            .unwrap();
        assert_eq!(s, "{\"x\":\"a\\nb\"}\n{\"y\":2}\n");
    }
}
