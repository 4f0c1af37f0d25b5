//! Opening the authorization URL in the person's browser (never a webview, S1).
//!
//! `LATCHKEY_BROWSER` or the browser-command setting wins: the URL is passed as the
//! command's last argument, or in place of `%s`, never spliced into command text (how each OS
//! reads the command: [`crate::platform::browser_command`]).

use crate::secret::Secret;
use std::process::{Command, Stdio};
use std::time::Duration;

/// Environment variable naming a browser command.
pub const BROWSER_ENV: &str = "LATCHKEY_BROWSER";

/// The configured browser command, if any (environment first, then the setting).
pub fn configured_command(setting: Option<&str>) -> Option<String> {
    std::env::var(BROWSER_ENV)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .or_else(|| setting.map(str::to_string).filter(|v| !v.trim().is_empty()))
}

/// Whether a browser could plausibly be opened here: a configured command, or the OS's
/// default handler where one can show a browser (not over SSH or on a headless server, where
/// sign-in falls back to the device flow).
pub fn can_open(setting: Option<&str>) -> bool {
    configured_command(setting).is_some() || crate::platform::can_open_url()
}

/// Starts the browser: the configured command, or the OS's default handler. A command that
/// fails to start, or exits non-zero within two seconds, is reported so the caller can offer
/// "Copy link" instead.
pub fn open(url: &Secret, setting: Option<&str>) -> Result<(), String> {
    match configured_command(setting) {
        Some(c) => spawn_watched(crate::platform::browser_command(&c, url)?),
        None => crate::platform::open_url(url),
    }
}

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

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    /// S1: the URL reaches the browser command as one argument, never as shell text.
    #[test]
    fn url_is_passed_as_an_argument_not_as_shell_text_s1() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let url = Secret::new("https://idp.example/auth?a=1&b=$(touch /tmp/latchkey-pwned);x");
        let st = crate::platform::browser_command(&format!("echo %s > {}", out.display()), &url)
            .unwrap()
            .status()
            .unwrap();
        assert!(st.success());
        assert_eq!(
            std::fs::read_to_string(&out).unwrap(),
            format!("{}\n", url.expose())
        );
        let st = crate::platform::browser_command(
            &format!("sh -c 'echo \"$0\" >> {}'", out.display()),
            &url,
        )
        .unwrap()
        .status()
        .unwrap();
        assert!(st.success());
        assert!(std::fs::read_to_string(&out)
            .unwrap()
            .ends_with(&format!("{}\n", url.expose())));
        assert!(!std::path::Path::new("/tmp/latchkey-pwned").exists());
    }

    #[test]
    fn failing_browser_command_is_reported() {
        std::env::remove_var(BROWSER_ENV);
        let e = open(&Secret::new("https://idp.example/"), Some("false")).unwrap_err();
        assert!(e.contains("failed"), "{e}");
        assert!(open(&Secret::new("https://idp.example/"), Some("true")).is_ok());
    }
}
