//! Opening the authorization URL in the person's browser (never a webview, S1).
//!
//! `LATCHKEY_BROWSER` or the browser-command setting wins: the URL is passed as the
//! command's last argument, or in place of `%s`, never spliced into command text (how each OS
//! reads the command: [`crate::platform::browser_command`]).

use crate::secret::Secret;

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
        Some(c) => crate::platform::spawn_watched(crate::platform::browser_command(&c, url)?),
        None => crate::platform::open_url(url),
    }
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
