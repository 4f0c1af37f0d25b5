//! Opening the authorization URL in the person's browser (never a webview, S1).
//!
//! `LATCHKEY_BROWSER` or the browser-command setting wins: the URL is passed as the
//! command's last argument, or in place of `%s`. The URL is handed to the shell as a
//! positional parameter, never spliced into the command text.

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

/// Builds the process for a browser command and URL.
pub fn command_for(cmd: &str, url: &Secret) -> Command {
    #[cfg(unix)]
    {
        let script = if cmd.contains("%s") {
            cmd.replace("%s", "\"$1\"")
        } else {
            format!("{cmd} \"$1\"")
        };
        let mut c = Command::new("sh");
        c.arg("-c")
            .arg(script)
            .arg("latchkey-browser")
            .arg(url.expose());
        c
    }
    #[cfg(not(unix))]
    {
        let mut parts = cmd.split_whitespace();
        let mut c = Command::new(parts.next().unwrap_or("cmd"));
        let mut used = false;
        for p in parts {
            if p.contains("%s") {
                c.arg(p.replace("%s", url.expose()));
                used = true;
            } else {
                c.arg(p);
            }
        }
        if !used {
            c.arg(url.expose());
        }
        c
    }
}

/// The platform's default opener, for the command line (the app uses the opener plugin).
pub fn default_command(url: &Secret) -> Command {
    #[cfg(target_os = "macos")]
    let mut c = Command::new("open");
    #[cfg(target_os = "windows")]
    let mut c = {
        let mut c = Command::new("rundll32");
        c.arg("url.dll,FileProtocolHandler");
        c
    };
    #[cfg(not(any(target_os = "macos", target_os = "windows")))]
    let mut c = Command::new("xdg-open");
    c.arg(url.expose());
    c
}

/// Whether a browser could plausibly be opened here: a configured command, or on Linux and
/// the BSDs a graphical session (`DISPLAY` or `WAYLAND_DISPLAY`) with `xdg-open` on the PATH.
/// Over SSH or on a headless server this is false, and sign-in falls back to the device flow.
pub fn can_open(setting: Option<&str>) -> bool {
    if configured_command(setting).is_some() {
        return true;
    }
    #[cfg(any(target_os = "macos", target_os = "windows"))]
    {
        true
    }
    #[cfg(not(any(target_os = "macos", target_os = "windows")))]
    {
        let graphical = ["DISPLAY", "WAYLAND_DISPLAY"]
            .iter()
            .any(|v| std::env::var_os(v).is_some_and(|x| !x.is_empty()));
        let opener = std::env::var_os("PATH")
            .is_some_and(|path| std::env::split_paths(&path).any(|d| d.join("xdg-open").is_file()));
        graphical && opener
    }
}

/// Starts the browser. A command that fails to start, or exits non-zero within two seconds,
/// is reported so the caller can offer "Copy link" instead.
pub fn open(url: &Secret, setting: Option<&str>) -> Result<(), String> {
    let mut cmd = match configured_command(setting) {
        Some(c) => command_for(&c, url),
        None => default_command(url),
    };
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
            Err(e) => return Err(format!("could not watch the browser command ({e})")),
        }
    }
    // Still running after two seconds: a browser that stays open. Reap it in the background.
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
        let st = command_for(&format!("echo %s > {}", out.display()), &url)
            .status()
            .unwrap();
        assert!(st.success());
        assert_eq!(
            std::fs::read_to_string(&out).unwrap(),
            format!("{}\n", url.expose())
        );
        let st = command_for(&format!("sh -c 'echo \"$0\" >> {}'", out.display()), &url)
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
