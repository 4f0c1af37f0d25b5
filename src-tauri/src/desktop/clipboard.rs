//! Copying secrets: done in Rust (the webview never sees the token), marked sensitive for
//! clipboard managers, and cleared after the configured time only if the clipboard still
//! holds that exact value (S22).

use crate::secret::Secret;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Owns the platform clipboard for the app's lifetime (on X11 and Wayland the owner must stay
/// alive to serve what it copied).
#[derive(Default, Clone)]
pub struct SensitiveClipboard {
    inner: Arc<Mutex<Option<arboard::Clipboard>>>,
}

impl SensitiveClipboard {
    /// Copies `value` marked as a secret; schedules a conditional clear after `clear_after`
    /// (zero = never).
    pub fn copy(&self, value: &Secret, clear_after: Duration) -> Result<(), String> {
        {
            let mut guard = self
                .inner
                .lock()
                .map_err(|_| "the clipboard is busy".to_string())?;
            if guard.is_none() {
                *guard = Some(
                    arboard::Clipboard::new()
                        .map_err(|e| format!("the clipboard is unavailable ({e})"))?,
                );
            }
            let cb = guard.as_mut().ok_or("the clipboard is unavailable")?;
            let set = cb.set();
            #[cfg(target_os = "linux")]
            let set = {
                use arboard::SetExtLinux;
                set.exclude_from_history()
            };
            #[cfg(target_os = "macos")]
            let set = {
                use arboard::SetExtApple;
                set.exclude_from_history()
            };
            #[cfg(target_os = "windows")]
            let set = {
                use arboard::SetExtWindows;
                set.exclude_from_history()
            };
            set.text(value.expose().to_string())
                .map_err(|e| format!("could not copy ({e})"))?;
        }
        tracing::info!(
            clear_after_secs = clear_after.as_secs(),
            "copied a secret to the clipboard"
        );
        if !clear_after.is_zero() {
            let this = self.clone();
            let value = value.clone();
            std::thread::spawn(move || {
                std::thread::sleep(clear_after);
                this.clear_if_unchanged(&value);
            });
        }
        Ok(())
    }

    /// Clears the clipboard if it still holds `value`; leaves anything else alone.
    pub fn clear_if_unchanged(&self, value: &Secret) {
        let Ok(mut guard) = self.inner.lock() else {
            return;
        };
        let Some(cb) = guard.as_mut() else { return };
        match cb.get_text() {
            Ok(current) if current == value.expose() => {
                let _ = cb.clear();
                tracing::info!("cleared the copied secret from the clipboard");
            }
            _ => tracing::info!("the clipboard changed since the copy; left it alone"),
        }
    }
}
