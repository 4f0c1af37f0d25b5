//! Starting a helper program (a browser) and telling, for a short while, whether it failed:
//! the same on every OS.

use std::process::{Command, Stdio};
use std::time::Duration;

/// Starts a browser process and watches it for two seconds: a start failure or a non-zero
/// exit in that time is an error; a process still running then is a browser that stays open,
/// reaped in the background.
pub fn spawn_watched(mut cmd: Command) -> Result<(), String> {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("could not start the browser ({e})"))?;
    let started = std::time::Instant::now();
    while started.elapsed() < Duration::from_secs(2) {
        match child.try_wait() {
            Ok(Some(s)) if s.success() => return Ok(()),
            Ok(Some(s)) => return Err(format!("the browser command failed ({s})")),
            Ok(None) => std::thread::sleep(Duration::from_millis(50)),
            // Started, but not watchable (Wine cannot watch a Linux program it started):
            // the browser is open as far as anyone can tell.
            Err(e) => {
                tracing::debug!(error = %e, "could not watch the browser command");
                return Ok(());
            }
        }
    }
    std::thread::spawn(move || {
        let _ = child.wait();
    });
    Ok(())
}
