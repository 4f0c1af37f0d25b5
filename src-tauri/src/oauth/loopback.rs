//! The loopback redirect listener (RFC 8252 §7.3, S4): `http://127.0.0.1:<ephemeral>/callback`,
//! bound to loopback only, without SO_REUSEADDR/SO_REUSEPORT. It answers until the callback
//! carrying its own state arrives, then closes. Pages load nothing external, send
//! `Referrer-Policy: no-referrer`, and never echo query values.

use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket};

const DONE_PAGE: &str = "<!doctype html><meta charset=utf-8><title>Latchkey</title><style>body{font:16px system-ui,sans-serif;margin:15vh auto;max-width:32em;text-align:center;color:#1b1f24}@media(prefers-color-scheme:dark){body{background:#15181c;color:#e8eaed}}</style><h1>You're signed in</h1><p>Return to Latchkey — you can close this tab.</p>";
const STRAY_PAGE: &str = "<!doctype html><meta charset=utf-8><title>Latchkey</title><style>body{font:16px system-ui,sans-serif;margin:15vh auto;max-width:32em;text-align:center}</style><h1>This link isn't one Latchkey is waiting for</h1><p>Start the sign-in again from Latchkey.</p>";

/// A bound, listening loopback socket.
pub struct Loopback {
    listener: TcpListener,
    port: u16,
    reuse_address: bool,
}

impl Loopback {
    /// Binds 127.0.0.1 on an ephemeral port. tokio's `TcpSocket` (unlike std's listener) does
    /// not set SO_REUSEADDR, so no other process can bind the same port alongside us.
    pub fn bind() -> std::io::Result<Self> {
        let socket = TcpSocket::new_v4()?;
        socket.bind(std::net::SocketAddr::from(([127, 0, 0, 1], 0)))?;
        let port = socket.local_addr()?.port();
        let reuse_address = socket.reuseaddr()?;
        let listener = socket.listen(16)?;
        Ok(Loopback {
            listener,
            port,
            reuse_address,
        })
    }

    /// The exact redirect URI for this listener.
    pub fn redirect_uri(&self) -> String {
        format!("http://127.0.0.1:{}/callback", self.port)
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The listening socket's SO_REUSEADDR flag (for the S4 test).
    pub fn reuse_address(&self) -> bool {
        self.reuse_address
    }

    /// Serves requests until one reaches `/callback` carrying a state accepted by `is_ours`,
    /// or `wait` passes. Returns that callback's full URL; the socket closes on return.
    pub async fn serve_until_callback(
        self,
        wait: Duration,
        is_ours: impl Fn(&str) -> bool,
    ) -> Option<String> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let accepted = tokio::time::timeout_at(deadline, self.listener.accept()).await;
            let (mut stream, _) = match accepted {
                Ok(Ok(s)) => s,
                Ok(Err(_)) => continue,
                Err(_) => return None,
            };
            let Some(target) = read_request_target(&mut stream).await else {
                let _ = respond(&mut stream, 400, STRAY_PAGE).await;
                continue;
            };
            let path = target.split('?').next().unwrap_or("");
            if path != "/callback" {
                let _ = respond(&mut stream, 404, STRAY_PAGE).await;
                continue;
            }
            let url = format!("http://127.0.0.1:{}{}", self.port, target);
            if is_ours(&url) {
                let _ = respond(&mut stream, 200, DONE_PAGE).await;
                return Some(url);
            }
            tracing::warn!("loopback listener ignored a callback that is not for this sign-in (query not logged)");
            let _ = respond(&mut stream, 400, STRAY_PAGE).await;
        }
    }
}

/// Reads the request head (bounded) and returns the target of a GET.
async fn read_request_target(stream: &mut tokio::net::TcpStream) -> Option<String> {
    let mut buf = Vec::with_capacity(2048);
    let mut chunk = [0u8; 2048];
    let read = async {
        loop {
            let n = stream.read(&mut chunk).await.ok()?;
            if n == 0 {
                return None;
            }
            buf.extend_from_slice(&chunk[..n]);
            if buf.windows(4).any(|w| w == b"\r\n\r\n") {
                return Some(());
            }
            if buf.len() > 32 * 1024 {
                return None;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(5), read)
        .await
        .ok()??;
    let head = std::str::from_utf8(&buf).ok()?;
    let mut parts = head.lines().next()?.split(' ');
    (parts.next()? == "GET").then_some(())?;
    let target = parts.next()?;
    target.starts_with('/').then(|| target.to_string())
}

async fn respond(
    stream: &mut tokio::net::TcpStream,
    status: u16,
    page: &str,
) -> std::io::Result<()> {
    let reason = match status {
        200 => "OK",
        404 => "Not Found",
        _ => "Bad Request",
    };
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nReferrer-Policy: no-referrer\r\nCache-Control: no-store\r\nContent-Security-Policy: default-src 'none'; style-src 'unsafe-inline'\r\nX-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\n",
        page.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(page.as_bytes()).await?;
    stream.shutdown().await
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn get(port: u16, target: &str) -> String {
        let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .unwrap();
        s.write_all(format!("GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").as_bytes())
            .await
            .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).await.unwrap();
        out
    }

    /// S4: loopback only, 127.0.0.1 literal, no SO_REUSEADDR, strays rejected, one callback,
    /// then closed; pages send no-referrer and never echo the query.
    #[tokio::test]
    async fn loopback_listener_follows_rfc8252_s4() {
        let lb = Loopback::bind().unwrap();
        let port = lb.port();
        assert!(lb.redirect_uri().starts_with("http://127.0.0.1:"));
        assert!(!lb.redirect_uri().contains("localhost"));
        assert!(!lb.reuse_address(), "SO_REUSEADDR must not be set");
        let server = tokio::spawn(
            lb.serve_until_callback(Duration::from_secs(10), |u| u.contains("state=good")),
        );

        let stray = get(port, "/favicon.ico").await;
        assert!(stray.starts_with("HTTP/1.1 404"));
        let forged = get(port, "/callback?code=FORGEDCODE&state=bad").await;
        assert!(forged.starts_with("HTTP/1.1 400"));
        assert!(!forged.contains("FORGEDCODE"));
        let real = get(port, "/callback?code=REALCODE&state=good").await;
        assert!(real.starts_with("HTTP/1.1 200"));
        assert!(real.contains("Referrer-Policy: no-referrer"));
        assert!(!real.contains("REALCODE") && !real.contains("good"));
        assert!(
            !real.contains("http://") && !real.contains("https://"),
            "loads nothing external"
        );
        let url = server.await.unwrap().unwrap();
        assert_eq!(
            url,
            format!("http://127.0.0.1:{port}/callback?code=REALCODE&state=good")
        );
        assert!(
            tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_err(),
            "closed after the callback"
        );
    }

    #[tokio::test]
    async fn listener_gives_up_after_its_deadline() {
        let lb = Loopback::bind().unwrap();
        assert_eq!(
            lb.serve_until_callback(Duration::from_millis(100), |_| true)
                .await,
            None
        );
    }

    #[test]
    fn listener_binds_only_to_loopback_s4() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let lb = Loopback::bind().unwrap();
            assert!(lb.listener.local_addr().unwrap().ip().is_loopback());
        });
    }
}
