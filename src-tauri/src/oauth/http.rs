//! The one HTTP client: rustls, no redirects followed (S13), connect and total timeouts, a cap
//! on response bodies, `latchkey/<version>` as user agent, HTTPS_PROXY/NO_PROXY honoured, and an
//! optional extra CA bundle (`LATCHKEY_CA_BUNDLE`).

use std::time::Duration;

/// Largest response body we read (token, discovery and API answers are far smaller).
pub const BODY_CAP: usize = 2 * 1024 * 1024;
/// Environment variable overriding the total request timeout, in seconds.
pub const TIMEOUT_ENV: &str = "LATCHKEY_HTTP_TIMEOUT";
/// Environment variable naming a PEM bundle of extra trusted CAs.
pub const CA_ENV: &str = "LATCHKEY_CA_BUNDLE";
/// What the person should know about whom Latchkey trusts, when it is not the default:
/// extra certificate authorities from [`CA_ENV`] (F9). Said on stderr by the CLI and in the
/// window, so a variable set long ago, or by someone else, is never silent.
pub fn trust_note() -> Option<String> {
    let path = std::env::var_os(CA_ENV).filter(|v| !v.is_empty())?;
    Some(format!(
        "Latchkey also trusts the certificate authorities in {} ({CA_ENV}). Unset it unless your network needs it.",
        crate::oauth::plain_text(&path.to_string_lossy(), 300)
    ))
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
    /// Could not connect (DNS, refused, TLS).
    #[error("could not connect to {0}")]
    Connect(String),
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
    /// Builds the client; an unreadable CA bundle is reported, not ignored. The total
    /// timeout is 30 s, or `LATCHKEY_HTTP_TIMEOUT` seconds (1–600) for slow links and tests.
    pub fn new() -> Result<Self, String> {
        let total = std::env::var(TIMEOUT_ENV)
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok())
            .filter(|s| (1..=600).contains(s))
            .unwrap_or(30);
        Self::with_timeouts(
            Duration::from_secs(10.min(total)),
            Duration::from_secs(total),
        )
    }

    /// Builds the client with explicit timeouts (tests use short ones).
    pub fn with_timeouts(connect: Duration, total: Duration) -> Result<Self, String> {
        let mut b = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(connect)
            .timeout(total)
            .pool_idle_timeout(POOL_IDLE)
            .user_agent(concat!("latchkey/", env!("CARGO_PKG_VERSION")))
            .https_only(false);
        if let Some(path) = std::env::var_os(CA_ENV).filter(|v| !v.is_empty()) {
            let pem = std::fs::read(&path).map_err(|e| {
                format!(
                    "could not read the CA bundle {}: {e}",
                    path.to_string_lossy()
                )
            })?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|_| {
                format!("{} is not a PEM certificate bundle", path.to_string_lossy())
            })?;
            for c in certs {
                b = b.add_root_certificate(c);
            }
        }
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
        let mut resp = self.client.execute(req).await.map_err(|e| {
            if e.is_timeout() {
                HttpError::Timeout
            } else if e.is_connect() {
                HttpError::Connect(host.clone())
            } else {
                HttpError::Other
            }
        })?;
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
