//! One connection on the ask channel, the same on every OS: one request line in, the question
//! shown through the app's handler with the program found from the peer's process, one answer
//! line out.

use super::{Handler, Question, Request};
use crate::platform::caller::{find_caller, process_info, Program};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Answers the request on `read` / `write` from the `latchkey` process `pid`.
pub(super) async fn answer_one(
    read: impl AsyncRead + Unpin,
    mut write: impl AsyncWrite + Unpin,
    id: u64,
    pid: u32,
    handler: Handler,
) {
    let mut line = String::new();
    let mut reader = tokio::io::BufReader::new(read.take(64 * 1024));
    if reader.read_line(&mut line).await.unwrap_or(0) == 0 {
        return;
    }
    let Ok(req) = serde_json::from_str::<Request>(line.trim()) else {
        return;
    };
    let answer = handler(Question {
        id,
        account: req.account,
        account_name: None,
        what: crate::text::plain_text(&req.what, 40),
        address: req.address.map(|a| crate::text::plain_text(&a, 300)),
        site: req.site.map(|a| crate::text::plain_text(&a, 300)),
        program: program_of(pid),
    })
    .await;
    let mut out = serde_json::to_string(&answer).unwrap_or_default();
    out.push('\n');
    let _ = write.write_all(out.as_bytes()).await;
}

/// The program behind the `latchkey` process `pid` that connected, from the OS.
fn program_of(pid: u32) -> Program {
    process_info(pid)
        .and_then(|me| find_caller(me.ppid, process_info))
        .unwrap_or(Program {
            name: "an unknown program".into(),
            path: None,
            pid,
            cwd: None,
            via: None,
        })
}
