//! The relay loop between the two transports: lines from the AI app go to the server, and
//! everything the server says goes back, one line each. Requests run side by side (a long
//! tool call does not hold up the next); notifications and answers go in order.

use super::access::Access;
use super::message;
use super::remote::{Remote, SendError};
use super::stdio::{self, Line, Out};
use crate::oauth::http::Http;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncBufReadExt;

/// Which transport the server speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// Streamable HTTP, falling back to HTTP+SSE when the first POST gets 404 or 405.
    Auto,
    /// Streamable HTTP only.
    Http,
    /// The 2024-11-05 HTTP+SSE transport only.
    Sse,
}

/// What the bridge was asked to do.
pub struct Options {
    /// The MCP server's address.
    pub url: String,
    /// Which transport.
    pub transport: Transport,
    /// Static headers from `--header`.
    pub headers: Vec<(String, String)>,
}

fn tell(out: &Out, m: &Value, why: &str) {
    let errors = message::errors_for(m, message::BRIDGE_ERROR, why);
    if errors.is_empty() {
        eprintln!("latchkey: {why}");
    }
    for e in errors {
        out.send(e);
    }
}

/// Runs the bridge on this process's stdin and stdout until stdin closes. Returns the exit
/// code.
pub async fn run(http: Http, access: Arc<dyn Access>, opts: Options) -> i32 {
    let (out, writer) = stdio::writer(tokio::io::stdout());
    let code = relay(http, access, opts, tokio::io::stdin(), out).await;
    let _ = writer.await;
    code
}

/// The loop itself, over any reader (the tests give it a pipe).
pub async fn relay<R: tokio::io::AsyncRead + Unpin>(
    http: Http,
    access: Arc<dyn Access>,
    opts: Options,
    input: R,
    out: Out,
) -> i32 {
    let remote = Arc::new(Remote::new(
        http,
        &opts.url,
        access,
        opts.headers.clone(),
        out.clone(),
    ));
    let mut legacy_stream = None;
    if opts.transport == Transport::Sse {
        match remote.connect_legacy().await {
            Ok(task) => legacy_stream = Some(task),
            Err(why) => {
                eprintln!("latchkey: {why}");
                return 1;
            }
        }
    }
    let mut lines = tokio::io::BufReader::new(input).lines();
    let mut requests = tokio::task::JoinSet::new();
    let mut listening: Option<tokio::task::JoinHandle<()>> = None;
    loop {
        let line = match lines.next_line().await {
            Ok(Some(l)) => l,
            Ok(None) => break,
            Err(e) => {
                // Not UTF-8, most likely: the line is lost, the bridge stays up.
                out.send(message::parse_error(&format!("unreadable input: {e}")));
                continue;
            }
        };
        let m = match stdio::read_line(&line) {
            Line::Blank => continue,
            Line::Bad(why) => {
                out.send(message::parse_error(&why));
                continue;
            }
            Line::Message(m) => m,
        };
        while requests.try_join_next().is_some() {}
        if message::is_initialize(&m) {
            // In order: everything after it needs the session it opens.
            match remote.send(&m).await {
                Ok(()) => {}
                Err(SendError::NotStreamableHttp(status))
                    if opts.transport == Transport::Auto && legacy_stream.is_none() =>
                {
                    tracing::info!(
                        status,
                        "no Streamable HTTP here; trying the HTTP+SSE transport"
                    );
                    match remote.connect_legacy().await {
                        Ok(task) => {
                            legacy_stream = Some(task);
                            if let Err(e) = remote.send(&m).await {
                                tell(&out, &m, &failed(e));
                            }
                        }
                        Err(why) => tell(&out, &m, &why),
                    }
                }
                Err(e) => tell(&out, &m, &failed(e)),
            }
            if legacy_stream.is_none() && listening.is_none() {
                let r = Arc::clone(&remote);
                listening = Some(tokio::spawn(async move { r.listen().await }));
            }
        } else if message::is_request(&m) || m.is_array() {
            let (r, o) = (Arc::clone(&remote), out.clone());
            requests.spawn(async move {
                if let Err(e) = r.send(&m).await {
                    tell(&o, &m, &failed(e));
                }
            });
        } else if let Err(e) = remote.send(&m).await {
            tell(&out, &m, &failed(e));
        }
    }
    // The AI app closed stdin: nobody is left to answer. Requests still running get a
    // moment, then the session is ended.
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        while requests.join_next().await.is_some() {}
    })
    .await;
    requests.abort_all();
    if let Some(l) = listening {
        l.abort();
    }
    if let Some(l) = legacy_stream {
        l.abort();
    }
    remote.close().await;
    0
}

fn failed(e: SendError) -> String {
    match e {
        SendError::Failed(why) => why,
        SendError::NotStreamableHttp(s) => format!(
            "The MCP server answered {s} to its first message; it may speak the older HTTP+SSE transport (try --transport sse)."
        ),
    }
}
