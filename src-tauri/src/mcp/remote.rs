//! The remote server's side of the bridge: MCP's Streamable HTTP transport (POST each message,
//! read a JSON or event-stream answer, keep `Mcp-Session-Id`, send `MCP-Protocol-Version`,
//! listen on the GET stream and resume it with `Last-Event-ID`, DELETE the session at the
//! end), and the 2024-11-05 HTTP+SSE transport for servers that predate it. Headers for
//! access come from an [`Access`]; this file knows no OAuth.

use super::access::{Access, Refusal};
use super::message;
use super::sse;
use super::stdio::Out;
use crate::errors::UserError;
use crate::oauth::http::{Http, HttpError, Streaming};
use crate::text::plain_text;
use serde_json::Value;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long one request may take before the AI app is told it failed.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(300);
/// The largest JSON answer read whole.
const ANSWER_CAP: usize = 16 * 1024 * 1024;

/// Why a message could not be delivered, in words that name the server.
#[derive(Debug)]
pub enum SendError {
    /// The server answered 404 or 405 to the first POST: it may speak the older transport.
    NotStreamableHttp(u16),
    /// Anything else, said in words.
    Failed(String),
}

/// The legacy transport's POST address, once its stream named it.
#[derive(Default)]
struct Legacy {
    endpoint: Option<String>,
}

/// One remote MCP server.
pub struct Remote {
    http: Http,
    url: String,
    host: String,
    access: Arc<dyn Access>,
    extra: Vec<(String, String)>,
    session: Mutex<Option<String>>,
    protocol: Mutex<Option<String>>,
    legacy: Mutex<Option<Legacy>>,
    out: Out,
}

fn host_of(url: &str) -> String {
    url::Url::parse(url)
        .ok()
        .and_then(|u| {
            u.host_str().map(|h| {
                format!(
                    "{h}{}",
                    u.port().map(|p| format!(":{p}")).unwrap_or_default()
                )
            })
        })
        .unwrap_or_else(|| "the MCP server".into())
}

fn words(e: &UserError) -> String {
    format!("{} {}", e.message, e.fix)
}

impl Remote {
    /// A server at `url`; messages it sends go to `out`.
    pub fn new(
        http: Http,
        url: &str,
        access: Arc<dyn Access>,
        extra: Vec<(String, String)>,
        out: Out,
    ) -> Self {
        Remote {
            http,
            host: host_of(url),
            url: url.to_string(),
            access,
            extra,
            session: Mutex::new(None),
            protocol: Mutex::new(None),
            legacy: Mutex::new(None),
            out,
        }
    }

    /// The session id the server gave, if any.
    pub fn session(&self) -> Option<String> {
        self.session.lock().ok().and_then(|s| s.clone())
    }

    fn network(&self, e: &HttpError) -> String {
        let why = match e {
            HttpError::Connect(_) => "it could not be reached; is it running?".to_string(),
            HttpError::Timeout => "it did not answer in time".to_string(),
            HttpError::Certificate { reason, .. } => {
                format!("its certificate was refused ({reason})")
            }
            HttpError::TooLarge => "its answer was too large".to_string(),
            _ => "the connection failed".to_string(),
        };
        format!("The MCP server at {}: {why}", self.host)
    }

    async fn request(
        &self,
        method: &str,
        url: &str,
        accept: &str,
        body: Option<Vec<u8>>,
        last_event_id: Option<&str>,
        timeout: Option<Duration>,
    ) -> Result<Streaming, String> {
        let mut attempts = 0;
        loop {
            let mut b = http::Request::builder()
                .method(method)
                .uri(url)
                .header("accept", accept);
            if body.is_some() {
                b = b.header("content-type", "application/json");
            }
            if let Some(s) = self.session() {
                b = b.header("mcp-session-id", s);
            }
            if let Some(v) = self.protocol.lock().ok().and_then(|p| p.clone()) {
                b = b.header("mcp-protocol-version", v);
            }
            if let Some(id) = last_event_id {
                b = b.header("last-event-id", id);
            }
            for (k, v) in &self.extra {
                b = b.header(k.as_str(), v.as_str());
            }
            for (k, v) in self
                .access
                .headers(method, url)
                .await
                .map_err(|e| words(&e))?
            {
                b = b.header(k.as_str(), v.expose());
            }
            let req = b.body(body.clone().unwrap_or_default()).map_err(|_| {
                "A header for the MCP server is not valid; check --header.".to_string()
            })?;
            let resp = self
                .http
                .open(req, timeout)
                .await
                .map_err(|e| self.network(&e))?;
            if (resp.status == 401 || resp.status == 403) && attempts < 2 {
                attempts += 1;
                let r = Refusal {
                    status: resp.status,
                    challenge: resp
                        .headers
                        .get("www-authenticate")
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_string),
                    dpop_nonce: resp.headers.get("dpop-nonce").cloned(),
                };
                if self.access.refused(url, r).await.map_err(|e| words(&e))? {
                    continue;
                }
            }
            return Ok(resp);
        }
    }

    /// Delivers one message from the AI app and relays what the server answers.
    pub async fn send(&self, m: &Value) -> Result<(), SendError> {
        let legacy_endpoint = self
            .legacy
            .lock()
            .ok()
            .and_then(|l| l.as_ref().map(|l| l.endpoint.clone()));
        if let Some(endpoint) = legacy_endpoint {
            return self.send_legacy(endpoint, m).await;
        }
        let body = serde_json::to_vec(m).unwrap_or_default();
        let first = self.session().is_none() && message::is_initialize(m);
        let mut resp = self
            .request(
                "POST",
                &self.url,
                "application/json, text/event-stream",
                Some(body),
                None,
                Some(REQUEST_TIMEOUT),
            )
            .await
            .map_err(SendError::Failed)?;
        if first && (resp.status == 404 || resp.status == 405) {
            return Err(SendError::NotStreamableHttp(resp.status));
        }
        if let Some(s) = resp
            .headers
            .get("mcp-session-id")
            .and_then(|v| v.to_str().ok())
        {
            let ok =
                !s.is_empty() && s.len() <= 512 && s.bytes().all(|b| (0x21..=0x7e).contains(&b));
            if ok {
                if let Ok(mut cur) = self.session.lock() {
                    if cur.is_none() {
                        *cur = Some(s.to_string());
                    }
                }
            }
        }
        match resp.status {
            200 | 201 => self.relay_answer(&mut resp, first).await,
            202 | 204 => Ok(()),
            404 if self.session().is_some() => {
                if let Ok(mut s) = self.session.lock() {
                    *s = None;
                }
                Err(SendError::Failed(format!(
                    "The MCP server at {} ended the session; restart the server in your AI app to start a new one.",
                    self.host
                )))
            }
            401 | 403 => Err(SendError::Failed(format!(
                "The MCP server at {} refused access ({}). Connect an account for it: latchkey login --resource {}",
                self.host, resp.status, self.url
            ))),
            s => {
                let detail = self.short_body(&mut resp).await;
                Err(SendError::Failed(format!("The MCP server at {} answered {s}{detail}.", self.host)))
            }
        }
    }

    async fn short_body(&self, resp: &mut Streaming) -> String {
        let mut body = Vec::new();
        while let Ok(Some(c)) = resp.chunk().await {
            body.extend_from_slice(&c);
            if body.len() > 2048 {
                break;
            }
        }
        let text = plain_text(String::from_utf8_lossy(&body).trim(), 200);
        if text.is_empty() {
            String::new()
        } else {
            format!(" ({text})")
        }
    }

    async fn relay_answer(&self, resp: &mut Streaming, first: bool) -> Result<(), SendError> {
        let ctype = resp
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase();
        if ctype.starts_with("text/event-stream") {
            let mut parser = sse::Parser::new();
            loop {
                let chunk = match resp.chunk().await {
                    Ok(Some(c)) => c,
                    Ok(None) => return Ok(()),
                    Err(e) => return Err(SendError::Failed(self.network(&e))),
                };
                for ev in parser.push(&chunk) {
                    self.forward_event(&ev, first);
                }
                if parser.too_large() {
                    return Err(SendError::Failed(format!(
                        "The MCP server at {} sent an event too large to relay.",
                        self.host
                    )));
                }
            }
        }
        let mut body = Vec::new();
        loop {
            match resp.chunk().await {
                Ok(Some(c)) => {
                    if body.len() + c.len() > ANSWER_CAP {
                        return Err(SendError::Failed(format!(
                            "The MCP server at {} sent an answer too large to relay.",
                            self.host
                        )));
                    }
                    body.extend_from_slice(&c);
                }
                Ok(None) => break,
                Err(e) => return Err(SendError::Failed(self.network(&e))),
            }
        }
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(());
        }
        match serde_json::from_slice::<Value>(&body) {
            Ok(v) if message::check_shape(&v).is_ok() => {
                self.forward(v, first);
                Ok(())
            }
            _ => Err(SendError::Failed(format!(
                "The MCP server at {} answered with something that is not JSON-RPC.",
                self.host
            ))),
        }
    }

    fn forward_event(&self, ev: &sse::Event, first: bool) {
        if ev.event != "message" || ev.data.trim().is_empty() {
            return;
        }
        match serde_json::from_str::<Value>(&ev.data) {
            Ok(v) if message::check_shape(&v).is_ok() => self.forward(v, first),
            _ => eprintln!(
                "latchkey: the MCP server at {} sent an event that is not JSON-RPC; skipped.",
                self.host
            ),
        }
    }

    fn forward(&self, v: Value, first: bool) {
        if first {
            if let Some(p) = message::protocol_version(&v) {
                if let Ok(mut cur) = self.protocol.lock() {
                    *cur = Some(p);
                }
            }
        }
        self.out.send(v);
    }

    /// Listens on the GET stream for messages the server starts (notifications, requests to
    /// the AI app), resuming with `Last-Event-ID` after a drop. Returns when the server offers
    /// no stream, or after repeated failures.
    pub async fn listen(&self) {
        let mut last_id: Option<String> = None;
        let mut failures = 0u32;
        let mut wait = Duration::from_millis(500);
        loop {
            let r = self
                .request(
                    "GET",
                    &self.url,
                    "text/event-stream",
                    None,
                    last_id.as_deref(),
                    None,
                )
                .await;
            match r {
                Ok(mut resp) if resp.status == 200 => {
                    failures = 0;
                    let mut parser = sse::Parser::new();
                    while let Ok(Some(chunk)) = resp.chunk().await {
                        for ev in parser.push(&chunk) {
                            if let Some(ms) = ev.retry {
                                wait = Duration::from_millis(ms.clamp(100, 60_000));
                            }
                            self.forward_event(&ev, false);
                        }
                        if parser.too_large() {
                            break;
                        }
                    }
                    if let Some(id) = parser.last_event_id() {
                        last_id = Some(id.to_string());
                    }
                    tracing::debug!("the MCP server's event stream ended; resuming");
                }
                // 405: this server sends nothing unasked.
                Ok(resp) if resp.status == 405 || resp.status == 404 => return,
                Ok(resp) => {
                    failures += 1;
                    tracing::debug!(
                        status = resp.status,
                        "the MCP server's event stream was refused"
                    );
                }
                Err(why) => {
                    failures += 1;
                    tracing::debug!(%why, "the MCP server's event stream failed");
                }
            }
            if failures >= 5 {
                eprintln!("latchkey: the MCP server at {} stopped offering its event stream; messages it starts may be missed.", self.host);
                return;
            }
            tokio::time::sleep(wait).await;
        }
    }

    /// Ends the session (DELETE), when there is one.
    pub async fn close(&self) {
        if self.session().is_none() {
            return;
        }
        match self
            .request(
                "DELETE",
                &self.url,
                "application/json",
                None,
                None,
                Some(Duration::from_secs(5)),
            )
            .await
        {
            Ok(r) => tracing::debug!(status = r.status, "session deleted"),
            Err(why) => tracing::debug!(%why, "could not delete the session"),
        }
    }

    /// Switches to the 2024-11-05 HTTP+SSE transport: opens the event stream, waits for the
    /// `endpoint` event (the POST address, which must be on the same origin: the token goes
    /// nowhere else), then relays the stream's messages until it ends.
    pub async fn connect_legacy(self: &Arc<Self>) -> Result<tokio::task::JoinHandle<()>, String> {
        let mut resp = self
            .request("GET", &self.url, "text/event-stream", None, None, None)
            .await?;
        if resp.status != 200 {
            return Err(format!(
                "The MCP server at {} answered {} to both MCP transports (Streamable HTTP and HTTP+SSE).",
                self.host, resp.status
            ));
        }
        let mut parser = sse::Parser::new();
        let endpoint = loop {
            let chunk = tokio::time::timeout(Duration::from_secs(30), resp.chunk())
                .await
                .map_err(|_| {
                    format!(
                        "The MCP server at {} opened its event stream but named no endpoint.",
                        self.host
                    )
                })?
                .map_err(|e| self.network(&e))?
                .ok_or_else(|| {
                    format!(
                        "The MCP server at {} closed its event stream before naming an endpoint.",
                        self.host
                    )
                })?;
            if let Some(ev) = parser
                .push(&chunk)
                .into_iter()
                .find(|e| e.event == "endpoint")
            {
                break ev.data;
            }
        };
        let base = url::Url::parse(&self.url)
            .map_err(|_| "The MCP server's address is not valid.".to_string())?;
        let joined = base.join(endpoint.trim()).map_err(|_| {
            format!(
                "The MCP server at {} named an endpoint that is not an address.",
                self.host
            )
        })?;
        if joined.origin() != base.origin() {
            return Err(format!(
                "The MCP server at {} named an endpoint on another site ({}); Latchkey sends its token nowhere else.",
                self.host,
                plain_text(&joined.origin().ascii_serialization(), 200)
            ));
        }
        if let Ok(mut l) = self.legacy.lock() {
            *l = Some(Legacy {
                endpoint: Some(joined.to_string()),
            });
        }
        let me = Arc::clone(self);
        Ok(tokio::spawn(async move {
            while let Ok(Some(chunk)) = resp.chunk().await {
                for ev in parser.push(&chunk) {
                    me.forward_event(&ev, true);
                }
            }
            eprintln!(
                "latchkey: the MCP server at {} closed its event stream.",
                me.host
            );
        }))
    }

    async fn send_legacy(&self, endpoint: Option<String>, m: &Value) -> Result<(), SendError> {
        let endpoint = endpoint.ok_or_else(|| {
            SendError::Failed("The MCP server's stream named no endpoint.".into())
        })?;
        let body = serde_json::to_vec(m).unwrap_or_default();
        let mut resp = self
            .request(
                "POST",
                &endpoint,
                "application/json",
                Some(body),
                None,
                Some(REQUEST_TIMEOUT),
            )
            .await
            .map_err(SendError::Failed)?;
        match resp.status {
            200..=299 => Ok(()),
            s => {
                let detail = self.short_body(&mut resp).await;
                Err(SendError::Failed(format!(
                    "The MCP server at {} answered {s}{detail}.",
                    self.host
                )))
            }
        }
    }
}
