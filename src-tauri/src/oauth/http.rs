//! The one HTTP client: rustls, no redirects followed (S13), connect and total timeouts, a cap
//! on response bodies, `latchkey/<version>` as user agent, and the person's network settings
//! (trusted roots and proxy, [`super::network`]).

use crate::network_settings::{Network, Proxy};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

pub use super::network::CA_ENV;

/// Largest response body we read (token, discovery and API answers are far smaller).
pub const BODY_CAP: usize = 2 * 1024 * 1024;
/// Environment variable overriding the total request timeout, in seconds.
pub const TIMEOUT_ENV: &str = "LATCHKEY_HTTP_TIMEOUT";

/// Set by the command line: say the trust note on stderr when a client trusting extra CAs is
/// built (the window shows it in a banner instead).
static SAY_TRUST_ON_STDERR: AtomicBool = AtomicBool::new(false);
static TRUST_SAID: AtomicBool = AtomicBool::new(false);

/// The command line calls this once at start.
pub fn say_trust_note_on_stderr() {
    SAY_TRUST_ON_STDERR.store(true, Ordering::Relaxed);
}

/// The trust note for the default settings (the environment only).
pub fn trust_note() -> Option<String> {
    super::network::trust_note(&Network::default())
}

/// How long an idle connection is kept for reuse: shorter than the shortest common server
/// keep-alive (Node's 5 s), so the app never sends a request on a connection the server is
/// closing at that moment ("connection closed before message completed").
pub const POOL_IDLE: Duration = Duration::from_secs(4);

/// Why an HTTP exchange failed. Never carries a URL query or a body.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum HttpError {
    /// No answer in time.
    #[error("the server did not answer in time")]
    Timeout,
    /// Could not connect (DNS, refused, the proxy).
    #[error("could not connect to {0}")]
    Connect(String),
    /// The connection worked but the server's certificate was refused.
    #[error("the certificate of {host} {reason}")]
    Certificate {
        /// host:port.
        host: String,
        /// Why, in words ("is signed by a certificate authority Latchkey does not trust").
        reason: String,
    },
    /// 5xx or 429: the server is having trouble; try later.
    #[error("the server answered {status}")]
    Unavailable {
        /// HTTP status.
        status: u16,
        /// Seconds from Retry-After, when given.
        retry_after: Option<u64>,
    },
    /// The body exceeded [`BODY_CAP`].
    #[error("the server sent more than {} MB", BODY_CAP / 1024 / 1024)]
    TooLarge,
    /// Anything else at the transport level.
    #[error("the connection failed")]
    Other,
}

impl HttpError {
    /// True for failures that may pass on their own (S15).
    pub fn is_transient(&self) -> bool {
        !matches!(self, HttpError::TooLarge)
    }

    /// What to do, in words. A certificate problem is named as one, not as a lost connection:
    /// on a company network it is usually a TLS-inspecting CA that Latchkey must be told about.
    pub fn fix(&self) -> String {
        match self {
            HttpError::Certificate { reason, .. } if reason.contains("does not trust") => "If your network checks encrypted connections with its own certificate authority (common at companies), install that authority in the system's certificate store, or choose its file in Settings → Network (latchkey config ca-file PATH). Latchkey keeps your tokens and retries.".into(),
            HttpError::Certificate { .. } => "Check this computer's date and the server's address. If your network checks encrypted connections, ask its administrators for their certificate authority and choose it in Settings → Network (latchkey config ca-file PATH).".into(),
            HttpError::Connect(_) | HttpError::Timeout | HttpError::Other => "Check your internet connection, and your proxy if you use one (Settings → Network, or latchkey config proxy). Latchkey keeps your tokens and retries.".into(),
            HttpError::Unavailable { .. } | HttpError::TooLarge => "The server is having trouble. Latchkey keeps your tokens and retries.".into(),
        }
    }
}

/// An answer whose body is read piece by piece as it arrives.
pub struct Streaming {
    /// The HTTP status.
    pub status: u16,
    /// The answer's headers.
    pub headers: http::HeaderMap,
    resp: reqwest::Response,
}

impl Streaming {
    /// The next piece of the body; `None` at its end.
    pub async fn chunk(&mut self) -> Result<Option<Vec<u8>>, HttpError> {
        match self.resp.chunk().await {
            Ok(c) => Ok(c.map(|b| b.to_vec())),
            Err(e) if e.is_timeout() => Err(HttpError::Timeout),
            Err(_) => Err(HttpError::Other),
        }
    }
}

fn request_error(e: &reqwest::Error, host: &str) -> HttpError {
    if let Some(reason) = certificate_problem(e) {
        HttpError::Certificate {
            host: host.to_string(),
            reason,
        }
    } else if e.is_timeout() {
        HttpError::Timeout
    } else if e.is_connect() {
        HttpError::Connect(host.to_string())
    } else {
        HttpError::Other
    }
}

/// Name resolution with `localhost` and `*.localhost` pinned to 127.0.0.1 and ::1; every
/// other name goes to the system's resolver, as reqwest's default does.
struct LoopbackNames;

impl reqwest::dns::Resolve for LoopbackNames {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_string();
        Box::pin(async move {
            if crate::provider::loopback_name(&host) {
                let addrs: Vec<std::net::SocketAddr> = loopback_addrs();
                return Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs);
            }
            let found = tokio::net::lookup_host((host.as_str(), 0)).await?;
            Ok(Box::new(found.collect::<Vec<_>>().into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// Where `localhost` goes: 127.0.0.1 first, then ::1.
pub fn loopback_addrs() -> Vec<std::net::SocketAddr> {
    vec![
        std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
        std::net::SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, 0)),
    ]
}

/// A configured client.
#[derive(Clone)]
pub struct Http {
    client: reqwest::Client,
}

fn host_of(url: &reqwest::Url) -> String {
    url.host_str()
        .map(|h| {
            format!(
                "{h}{}",
                url.port().map(|p| format!(":{p}")).unwrap_or_default()
            )
        })
        .unwrap_or_else(|| "the server".into())
}

impl Http {
    /// Builds the client for the default network settings (the environment and the OS); an
    /// unreadable CA bundle is reported, not ignored. The total timeout is 30 s, or
    /// `LATCHKEY_HTTP_TIMEOUT` seconds (1–600) for slow links and tests.
    pub fn new() -> Result<Self, String> {
        Self::with_network(&Network::default())
    }

    /// Builds the client for these network settings.
    pub fn with_network(net: &Network) -> Result<Self, String> {
        let total = std::env::var(TIMEOUT_ENV)
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok())
            .filter(|s| (1..=600).contains(s))
            .unwrap_or(30);
        Self::build(
            net,
            Duration::from_secs(10.min(total)),
            Duration::from_secs(total),
        )
    }

    /// Builds the client with explicit timeouts (tests use short ones).
    pub fn with_timeouts(connect: Duration, total: Duration) -> Result<Self, String> {
        Self::build(&Network::default(), connect, total)
    }

    fn build(net: &Network, connect: Duration, total: Duration) -> Result<Self, String> {
        let mut b = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(connect)
            .timeout(total)
            .pool_idle_timeout(POOL_IDLE)
            .user_agent(concat!("latchkey/", env!("CARGO_PKG_VERSION")))
            .https_only(false);
        // Trust: the bundled roots (reqwest's default), the OS store, then extra CA files.
        for der in super::network::system_roots().certs {
            if let Ok(c) = reqwest::Certificate::from_der(&der) {
                b = b.add_root_certificate(c);
            }
        }
        for (path, from) in super::network::extra_ca_files(net) {
            let pem = std::fs::read(&path)
                .map_err(|e| format!("could not read the CA file {path} ({from}): {e}"))?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem)
                .ok()
                .filter(|c| !c.is_empty())
                .ok_or_else(|| format!("{path} ({from}) is not a PEM certificate bundle"))?;
            for c in certs {
                b = b.add_root_certificate(c);
            }
        }
        // The environment's CA bundle is said by the CLI at start; a file from the settings is
        // said here, when a client that trusts it is built.
        if let Some(note) = super::network::trust_note(net).filter(|_| net.ca_file.is_some()) {
            if SAY_TRUST_ON_STDERR.load(Ordering::Relaxed)
                && !TRUST_SAID.swap(true, Ordering::Relaxed)
            {
                eprintln!("latchkey: note: {note}");
            }
        }
        // Proxy: decided in one place; reqwest's own reading of the environment is replaced by
        // it, except where the OS decides (Windows' and macOS's settings).
        let plan = super::proxy::plan_proxy(net);
        if !plan.os_decides {
            b = b.no_proxy();
            let direct = reqwest::NoProxy::from_string(&plan.direct.join(","));
            for (url, https) in [(&plan.https, true), (&plan.http, false)] {
                if let Some(u) = url {
                    let p = if https {
                        reqwest::Proxy::https(u)
                    } else {
                        reqwest::Proxy::http(u)
                    }
                    .map_err(|_| format!("the proxy address {u} ({}) is not valid", plan.from))?;
                    b = b.proxy(p.no_proxy(direct.clone()));
                }
            }
        } else if matches!(net.proxy, Proxy::Off) {
            b = b.no_proxy();
        }
        // `localhost` and `*.localhost` go to loopback only, never through a resolver or a
        // hosts file (S20, issue 38): that is what lets them be plain http like 127.0.0.1.
        b = b.dns_resolver(std::sync::Arc::new(LoopbackNames));
        Ok(Http {
            client: b
                .build()
                .map_err(|e| format!("could not set up HTTPS: {e}"))?,
        })
    }

    /// Sends a request and reads the body up to the cap. 5xx and 429 become
    /// [`HttpError::Unavailable`] so every caller classifies them as transient.
    pub async fn send(
        &self,
        req: http::Request<Vec<u8>>,
    ) -> Result<http::Response<Vec<u8>>, HttpError> {
        let req = reqwest::Request::try_from(req).map_err(|_| HttpError::Other)?;
        let host = host_of(req.url());
        let mut resp = self
            .client
            .execute(req)
            .await
            .map_err(|e| request_error(&e, &host))?;
        let status = resp.status();
        if status.is_server_error() || status.as_u16() == 429 {
            let retry_after = resp
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse().ok());
            return Err(HttpError::Unavailable {
                status: status.as_u16(),
                retry_after,
            });
        }
        if resp.content_length().is_some_and(|l| l as usize > BODY_CAP) {
            return Err(HttpError::TooLarge);
        }
        let mut builder = http::Response::builder().status(status);
        for (k, v) in resp.headers() {
            builder = builder.header(k, v);
        }
        let mut body = Vec::new();
        loop {
            match resp.chunk().await {
                Ok(Some(c)) => {
                    if body.len() + c.len() > BODY_CAP {
                        return Err(HttpError::TooLarge);
                    }
                    body.extend_from_slice(&c);
                }
                Ok(None) => break,
                Err(e) if e.is_timeout() => return Err(HttpError::Timeout),
                Err(_) => return Err(HttpError::Other),
            }
        }
        builder.body(body).map_err(|_| HttpError::Other)
    }

    /// Sends a request and hands back the answer with its body still to read, for event
    /// streams: `timeout` replaces the client's total timeout (`None`: no limit, for a stream
    /// that stays open). No status is turned into an error here; the caller reads it.
    pub async fn open(
        &self,
        req: http::Request<Vec<u8>>,
        timeout: Option<Duration>,
    ) -> Result<Streaming, HttpError> {
        let mut req = reqwest::Request::try_from(req).map_err(|_| HttpError::Other)?;
        // reqwest has no "no limit": a day stands for it.
        *req.timeout_mut() = Some(timeout.unwrap_or(Duration::from_secs(86_400)));
        let host = host_of(req.url());
        let resp = self
            .client
            .execute(req)
            .await
            .map_err(|e| request_error(&e, &host))?;
        Ok(Streaming {
            status: resp.status().as_u16(),
            headers: resp.headers().clone(),
            resp,
        })
    }

    /// GET with optional bearer token; used for discovery, identity and API calls.
    pub async fn get(
        &self,
        url: &str,
        bearer: Option<&str>,
    ) -> Result<http::Response<Vec<u8>>, HttpError> {
        let mut b = http::Request::builder()
            .method("GET")
            .uri(url)
            .header("accept", "application/json");
        if let Some(t) = bearer {
            b = b.header("authorization", format!("Bearer {t}"));
        }
        self.send(b.body(Vec::new()).map_err(|_| HttpError::Other)?)
            .await
    }

    /// JSON POST without credentials (dynamic client registration).
    pub async fn post_json(
        &self,
        url: &str,
        body: &serde_json::Value,
    ) -> Result<http::Response<Vec<u8>>, HttpError> {
        let req = http::Request::builder()
            .method("POST")
            .uri(url)
            .header("content-type", "application/json")
            .header("accept", "application/json")
            .body(serde_json::to_vec(body).map_err(|_| HttpError::Other)?)
            .map_err(|_| HttpError::Other)?;
        self.send(req).await
    }
}

/// The certificate failure inside a request error, in words, if that is what it was.
fn certificate_problem(e: &(dyn std::error::Error + 'static)) -> Option<String> {
    use rustls::CertificateError as C;
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        // hyper wraps rustls' error in an io::Error inside another io::Error, and an
        // io::Error's `source()` skips the error it wraps: unwrap those by hand.
        let mut tls = err.downcast_ref::<rustls::Error>();
        let mut io = err.downcast_ref::<std::io::Error>();
        while let (None, Some(e)) = (tls, io) {
            let inner = e.get_ref();
            tls = inner.and_then(|i| i.downcast_ref::<rustls::Error>());
            io = inner.and_then(|i| i.downcast_ref::<std::io::Error>());
        }
        if let Some(rustls::Error::InvalidCertificate(c)) = tls {
            return Some(
                match c {
                    C::UnknownIssuer => {
                        "is signed by a certificate authority Latchkey does not trust"
                    }
                    C::Expired | C::ExpiredContext { .. } => "has expired",
                    C::NotValidYet | C::NotValidYetContext { .. } => {
                        "is not valid yet (check this computer's clock)"
                    }
                    C::NotValidForName | C::NotValidForNameContext { .. } => "is for another name",
                    C::Revoked => "has been revoked",
                    C::BadSignature => "has a bad signature",
                    _ => "was refused",
                }
                .to_string(),
            );
        }
        cur = err.source();
    }
    None
}

/// A boxed, `Send` HTTP exchange.
pub type SendFuture<'c> = std::pin::Pin<
    Box<dyn std::future::Future<Output = Result<oauth2::HttpResponse, HttpError>> + Send + 'c>,
>;

/// `oauth2` talks HTTP through this: a named type keeps the futures `Send` for spawned tasks,
/// which closures with borrowed clients do not.
impl<'c> oauth2::AsyncHttpClient<'c> for Http {
    type Error = HttpError;
    type Future = SendFuture<'c>;

    fn call(&'c self, request: oauth2::HttpRequest) -> Self::Future {
        Box::pin(self.send(request))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// S41: `localhost` and `*.localhost` are answered by Latchkey itself, only with
    /// loopback addresses; no resolver is asked (the system's resolver knows no
    /// `mcp.localhost`), so a hosts file or DNS can never send them elsewhere.
    #[tokio::test]
    async fn localhost_names_resolve_only_to_loopback_s41() {
        use reqwest::dns::Resolve;
        use std::str::FromStr;
        for name in ["localhost", "mcp.localhost", "A.B.LOCALHOST"] {
            let addrs: Vec<std::net::SocketAddr> = LoopbackNames
                .resolve(reqwest::dns::Name::from_str(name).unwrap())
                .await
                .unwrap()
                .collect();
            assert!(
                !addrs.is_empty() && addrs.iter().all(|a| a.ip().is_loopback()),
                "{name}: {addrs:?}"
            );
        }
    }
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A keep-alive server that counts the connections it accepts.
    async fn counting_server() -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let n = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let count = n.clone();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = l.accept().await {
                count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                tokio::spawn(async move {
                    let mut buf = [0u8; 4096];
                    while let Ok(k) = s.read(&mut buf).await {
                        if k == 0 {
                            break;
                        }
                        let _ = s
                            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: keep-alive\r\n\r\n{}")
                            .await;
                    }
                });
            }
        });
        (format!("http://{addr}/"), n)
    }

    #[tokio::test]
    async fn idle_connections_are_dropped_before_servers_close_them() {
        let (url, n) = counting_server().await;
        let http = Http::new().unwrap();
        http.get(&url, None).await.unwrap();
        http.get(&url, None).await.unwrap();
        assert_eq!(
            n.load(std::sync::atomic::Ordering::SeqCst),
            1,
            "reused at once"
        );
        tokio::time::sleep(POOL_IDLE + Duration::from_millis(700)).await;
        http.get(&url, None).await.unwrap();
        assert_eq!(
            n.load(std::sync::atomic::Ordering::SeqCst),
            2,
            "an idle connection older than POOL_IDLE is not reused"
        );
    }
}
