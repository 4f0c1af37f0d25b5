//! The channel on Linux and macOS: a Unix socket, one JSON line each way.

use super::connection::answer_one;
use super::peer::{my_uid, peer};
use super::{socket_path, Answer, Handler, Request};
use std::io::{BufRead, BufReader, Read, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// Asks the desktop app serving `data_dir`. `None` when no app answers the channel (none
/// runs, or the socket is another user's); otherwise its answer, or `TimedOut` after `wait`.
pub fn ask_app(data_dir: &Path, request: &Request, wait: Duration) -> Option<Answer> {
    let path = socket_path(data_dir);
    let stream = std::os::unix::net::UnixStream::connect(&path).ok()?;
    // The app must be this user's: a socket someone else made answers nothing.
    match peer(stream.as_raw_fd()) {
        Some((uid, _)) if uid == my_uid() => {}
        _ => {
            tracing::warn!("the ask channel is not this user's; not used");
            return None;
        }
    }
    stream.set_read_timeout(Some(wait)).ok()?;
    let mut line = serde_json::to_string(request).ok()?;
    line.push('\n');
    (&stream).write_all(line.as_bytes()).ok()?;
    let mut answer = String::new();
    match BufReader::new(&stream).take(4096).read_line(&mut answer) {
        Ok(n) if n > 0 => serde_json::from_str(answer.trim())
            .ok()
            .or(Some(Answer::Deny)),
        // The app closed the channel (it quit) or the wait ran out.
        _ => Some(Answer::TimedOut),
    }
}

/// Serves the channel for `data_dir` until the process ends: each connection from this user
/// gets its question shown through `handler`; any other user's is closed unanswered.
pub async fn serve(data_dir: PathBuf, handler: Handler) -> std::io::Result<()> {
    let path = socket_path(&data_dir);
    let listener = match tokio::net::UnixListener::bind(&path) {
        Ok(l) => l,
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
            // A socket left by an app that ended: nobody answers it, so it is replaced.
            if std::os::unix::net::UnixStream::connect(&path).is_ok() {
                return Err(e);
            }
            std::fs::remove_file(&path)?;
            tokio::net::UnixListener::bind(&path)?
        }
        Err(e) => return Err(e),
    };
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    }
    tracing::info!("ask channel ready");
    let next = Arc::new(std::sync::atomic::AtomicU64::new(1));
    loop {
        let (stream, _) = listener.accept().await?;
        let Some((uid, pid)) = peer(stream.as_raw_fd()) else {
            continue;
        };
        if uid != my_uid() {
            tracing::warn!(uid, "the ask channel refused another user");
            continue;
        }
        let handler = handler.clone();
        let id = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let (read, write) = stream.into_split();
        tokio::spawn(answer_one(read, write, id, pid, handler));
    }
}
