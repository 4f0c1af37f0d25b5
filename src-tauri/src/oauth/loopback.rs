//! The loopback redirect listener (RFC 8252 §7.3, S4): `http://127.0.0.1:<ephemeral>/callback`,
//! bound to loopback only, without SO_REUSEADDR/SO_REUSEPORT. It answers until the callback
//! carrying its own state arrives, then closes. Pages load nothing external, send
//! `Referrer-Policy: no-referrer`, and never echo query values. The browser hears how the
//! sign-in ended only once Latchkey knows. On Linux and Windows, connections from another
//! user's processes are refused (`platform::same_user_peer`).

use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};

const STYLE: &str = "<style>body{font:16px system-ui,sans-serif;margin:15vh auto;max-width:32em;text-align:center;color:#1b1f24}@media(prefers-color-scheme:dark){body{background:#15181c;color:#e8eaed}}</style>";
const STRAY_PAGE: &str = "<!doctype html><meta charset=utf-8><title>Latchkey</title><style>body{font:16px system-ui,sans-serif;margin:15vh auto;max-width:32em;text-align:center}</style><h1>This link isn't one Latchkey is waiting for</h1><p>Start the sign-in again from Latchkey.</p>";

/// How a sign-in ended, for the page the browser shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageOutcome {
    /// The account is saved.
    SignedIn,
    /// The person declined at the provider.
    Cancelled,
    /// Anything else; Latchkey itself shows why and what to do.
    Failed,
}

impl PageOutcome {
    fn page(self) -> (u16, String) {
        let (status, title, text) = match self {
            PageOutcome::SignedIn => (200, "You're signed in", "Return to Latchkey. You can close this tab."),
            PageOutcome::Cancelled => (200, "Sign-in cancelled", "Nothing was connected. Return to Latchkey to try again. You can close this tab."),
            PageOutcome::Failed => (400, "The sign-in didn't finish", "Return to Latchkey: it says what happened and how to fix it. You can close this tab."),
        };
        (status, format!("<!doctype html><meta charset=utf-8><title>Latchkey</title>{STYLE}<h1>{title}</h1><p>{text}</p>"))
    }
}

/// The browser's request that carried the callback, waiting for the sign-in's outcome.
pub struct Reply {
    stream: TcpStream,
}

impl Reply {
    /// Answers the browser with the outcome and closes the connection.
    pub async fn send(mut self, outcome: PageOutcome) {
        let (status, page) = outcome.page();
        let _ = tokio::time::timeout(
            Duration::from_secs(5),
            respond(&mut self.stream, status, &page),
        )
        .await;
    }
}

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

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The listening socket's SO_REUSEADDR flag (for the S4 test).
    pub fn reuse_address(&self) -> bool {
        self.reuse_address
    }

    /// Serves requests until one reaches `/callback` (or `/callback/<provider>`) carrying a
    /// state accepted by `is_ours`, or `wait` passes. Returns that callback's full URL and the
    /// browser's connection, to be answered with the outcome; the listener closes on return.
    pub async fn serve_until_callback(
        self,
        wait: Duration,
        is_ours: impl Fn(&str) -> bool,
    ) -> Option<(String, Reply)> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let accepted = tokio::time::timeout_at(deadline, self.listener.accept()).await;
            let (mut stream, peer) = match accepted {
                Ok(Ok(s)) => s,
                Ok(Err(_)) => continue,
                Err(_) => return None,
            };
            // S4: on a shared machine another user could race the browser to this port.
            if !crate::platform::same_user_peer(peer, self.port) {
                tracing::warn!(
                    "loopback listener refused a connection from another user's process"
                );
                drop(stream);
                continue;
            }
            let Some(target) = read_request_target(&mut stream).await else {
                let _ = respond(&mut stream, 400, STRAY_PAGE).await;
                continue;
            };
            // `/callback`, or `/callback/<provider>` for providers without `iss`; the sign-in's
            // own check then compares the exact redirect (S5).
            let path = target.split('?').next().unwrap_or("");
            if !(path == "/callback" || path.starts_with("/callback/")) {
                let _ = respond(&mut stream, 404, STRAY_PAGE).await;
                continue;
            }
            let url = format!("http://127.0.0.1:{}{}", self.port, target);
            if is_ours(&url) {
                return Some((url, Reply { stream }));
            }
            tracing::warn!("loopback listener ignored a callback that is not for this sign-in (query not logged)");
            let _ = respond(&mut stream, 400, STRAY_PAGE).await;
        }
    }
}

/// Reads the request head (bounded) and returns the target of a GET.
async fn read_request_target(stream: &mut TcpStream) -> Option<String> {
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

async fn respond(stream: &mut TcpStream, status: u16, page: &str) -> std::io::Result<()> {
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
    /// then closed; pages send no-referrer and never echo the query. The browser hears the
    /// outcome only once it is known, never "signed in" before that.
    #[tokio::test]
    async fn loopback_listener_follows_rfc8252_s4() {
        let lb = Loopback::bind().unwrap();
        let port = lb.port();
        assert!(!lb.reuse_address(), "SO_REUSEADDR must not be set");
        let server = tokio::spawn(
            lb.serve_until_callback(Duration::from_secs(10), |u| u.contains("state=good")),
        );

        let stray = get(port, "/favicon.ico").await;
        assert!(stray.starts_with("HTTP/1.1 404"));
        let forged = get(port, "/callback?code=FORGEDCODE&state=bad").await;
        assert!(forged.starts_with("HTTP/1.1 400"));
        assert!(!forged.contains("FORGEDCODE"));
        let browser = tokio::spawn(get(port, "/callback/acme?code=REALCODE&state=good"));
        let (url, reply) = server.await.unwrap().unwrap();
        assert_eq!(
            url,
            format!("http://127.0.0.1:{port}/callback/acme?code=REALCODE&state=good")
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(
            !browser.is_finished(),
            "no answer before the outcome is known"
        );
        reply.send(PageOutcome::SignedIn).await;
        let real = browser.await.unwrap();
        assert!(real.starts_with("HTTP/1.1 200"));
        assert!(real.contains("signed in"));
        assert!(real.contains("Referrer-Policy: no-referrer"));
        assert!(!real.contains("REALCODE") && !real.contains("good"));
        assert!(
            !real.contains("http://") && !real.contains("https://"),
            "loads nothing external"
        );
        assert!(
            tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_err(),
            "closed after the callback"
        );
    }

    /// S4: a declined consent or a failed exchange never reads as "signed in".
    #[tokio::test]
    async fn the_page_tells_the_outcome_s4() {
        for (outcome, words, status) in [
            (PageOutcome::Cancelled, "cancelled", "200"),
            (PageOutcome::Failed, "didn't finish", "400"),
        ] {
            let lb = Loopback::bind().unwrap();
            let port = lb.port();
            let server = tokio::spawn(lb.serve_until_callback(Duration::from_secs(10), |_| true));
            let browser = tokio::spawn(get(port, "/callback?error=access_denied&state=s"));
            let (_, reply) = server.await.unwrap().unwrap();
            reply.send(outcome).await;
            let page = browser.await.unwrap();
            assert!(page.starts_with(&format!("HTTP/1.1 {status}")), "{page}");
            assert!(page.contains(words), "{page}");
            assert!(!page.contains("signed in"), "{page}");
        }
    }

    /// S4: the owner of the connecting socket is read from the kernel's table.
    /// S4: a connection from this user's own process is served (the real table).
    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn a_connection_from_this_user_is_served_s4() {
        let lb = Loopback::bind().unwrap();
        let port = lb.port();
        let server = tokio::spawn(lb.serve_until_callback(Duration::from_secs(5), |_| true));
        let browser = tokio::spawn(get(port, "/callback?state=s"));
        let (_, reply) = server.await.unwrap().expect("same user is served");
        reply.send(PageOutcome::SignedIn).await;
        assert!(browser.await.unwrap().starts_with("HTTP/1.1 200"));
    }

    /// S4: another user's process can't take the callback (run as root: the test connects as
    /// `nobody` through setpriv; as an ordinary user it can't switch users and says so).
    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn a_connection_from_another_user_is_refused_s4() {
        // SAFETY: getuid has no preconditions.
        if unsafe { libc::getuid() } != 0 {
            eprintln!("skipped: only root can connect as another user here");
            return;
        }
        let lb = Loopback::bind().unwrap();
        let port = lb.port();
        let server = tokio::spawn(lb.serve_until_callback(Duration::from_secs(3), |_| true));
        let script = format!("exec 3<>/dev/tcp/127.0.0.1/{port}; printf 'GET /callback?code=c&state=s HTTP/1.1\\r\\n\\r\\n' >&3; cat <&3");
        let o = tokio::process::Command::new("setpriv")
            .args([
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                "--",
                "bash",
                "-c",
                &script,
            ])
            .output()
            .await
            .expect("setpriv");
        assert!(
            o.stdout.is_empty(),
            "{}",
            String::from_utf8_lossy(&o.stdout)
        );
        assert!(
            server.await.unwrap().is_none(),
            "the other user's callback was not taken"
        );
    }

    /// F3: another user's client that writes its callback and resets the connection at once
    /// (SO_LINGER {1, 0}) has left the socket table when Latchkey looks; it is still refused.
    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn a_reset_connection_from_another_user_is_refused_s4() {
        // SAFETY: getuid has no preconditions.
        if unsafe { libc::getuid() } != 0 {
            eprintln!("skipped: only root can connect as another user here");
            return;
        }
        let lb = Loopback::bind().unwrap();
        let port = lb.port();
        let server = tokio::spawn(lb.serve_until_callback(Duration::from_secs(3), |_| true));
        let script = format!(
            "import socket, struct\n\
             s = socket.create_connection(('127.0.0.1', {port}))\n\
             s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))\n\
             s.sendall(b'GET /callback?code=c&state=s HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n')\n\
             s.close()\n"
        );
        // Five tries; once the listener has taken a callback it closes and later tries fail
        // to connect, which the final check reports.
        for _ in 0..5 {
            tokio::process::Command::new("setpriv")
                .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
                .args(["/usr/bin/python3", "-c", &script])
                .output()
                .await
                .expect("setpriv /usr/bin/python3");
        }
        assert!(
            server.await.unwrap().is_none(),
            "the other user's reset callback was not taken"
        );
    }

    #[tokio::test]
    async fn listener_gives_up_after_its_deadline() {
        let lb = Loopback::bind().unwrap();
        assert!(lb
            .serve_until_callback(Duration::from_millis(100), |_| true)
            .await
            .is_none());
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
