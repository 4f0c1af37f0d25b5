//! Asking the person (issue 39): the command line asks the running desktop app over a local
//! channel whether a program may have an account's token. On Linux and macOS the channel is a
//! Unix socket (0600, in `$XDG_RUNTIME_DIR` where there is one), and each side checks that the
//! other is the same user ([`peer`]). On Windows it is a named pipe whose security descriptor
//! admits only this user, local clients only; the app reads the client's process id with
//! `GetNamedPipeClientProcessId`, and the command line checks the server's user. The app
//! names the program from the OS, starting from the connecting process: nothing the caller
//! says about itself is shown.

mod connection;
mod peer;
#[cfg(unix)]
mod unix;
#[cfg(windows)]
mod windows;

use crate::platform::caller::Program;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Duration;

#[cfg(unix)]
pub use unix::{ask_app, serve};
#[cfg(windows)]
pub use windows::{ask_app, serve};

/// What the app does with a question: show it, and resolve with the person's answer.
pub type Handler = std::sync::Arc<
    dyn Fn(Question) -> std::pin::Pin<Box<dyn std::future::Future<Output = Answer> + Send>>
        + Send
        + Sync
        + 'static,
>;

/// What the command line asks.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Request {
    /// The account id (empty for a sign-in site question).
    pub account: String,
    /// What the program asks for (`token`, `header`, …), or `sign-in-site`: may Latchkey
    /// sign in at `site` for the API at `address` (issue 38's "another site" question).
    pub what: String,
    /// For `sign-in-site`: the API's address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// For `sign-in-site`: the sign-in site the API names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site: Option<String>,
}

/// A request as the app shows it: the program found from the OS.
#[derive(Debug, Clone, Serialize)]
pub struct Question {
    /// A number for the window's answer.
    pub id: u64,
    /// The account id.
    pub account: String,
    /// The account as the person knows it (its name or who it is), filled in by the app.
    pub account_name: Option<String>,
    /// What the program asks for.
    pub what: String,
    /// For `sign-in-site`: the API's address and the site it signs in at (public).
    pub address: Option<String>,
    /// The sign-in site.
    pub site: Option<String>,
    /// The program, from the OS.
    pub program: Program,
}

/// The person's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Answer {
    /// Allow once.
    Once,
    /// Allow this program for an hour.
    Hour,
    /// Allow this program until revoked.
    Always,
    /// Deny.
    Deny,
    /// Nobody answered in time (a Deny).
    TimedOut,
}

/// How long the window waits for an answer: 60 s, or `LATCHKEY_ASK_TIMEOUT_SECS` (read by
/// the desktop app only; the tests shorten it).
pub fn answer_timeout() -> Duration {
    let secs = std::env::var("LATCHKEY_ASK_TIMEOUT_SECS")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .filter(|s| (1..=600).contains(s))
        .unwrap_or(60);
    Duration::from_secs(secs)
}

/// A short name for a data folder: the channel's own.
fn tag(data_dir: &Path) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(data_dir.as_os_str().as_encoded_bytes());
    digest.iter().take(6).map(|b| format!("{b:02x}")).collect()
}

/// The Windows channel's pipe for the data folder `data_dir`.
pub fn pipe_name(data_dir: &Path) -> String {
    format!(r"\\.\pipe\latchkey-ask-{}", tag(data_dir))
}

/// The channel's address for the data folder `data_dir`: one per data folder, so two
/// Latchkey homes (and the tests) never answer each other.
pub fn socket_path(data_dir: &Path) -> PathBuf {
    let tag = tag(data_dir);
    match std::env::var_os("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute() && p.is_dir())
    {
        Some(run) => run.join(format!("latchkey-ask-{tag}.sock")),
        None => data_dir.join("ask.sock"),
    }
}
