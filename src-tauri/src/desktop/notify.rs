//! Desktop notifications: once per account that needs sign-in, and the first-close hint. Text
//! from providers is escaped, since notification servers read markup (S25).

use super::state::state;
use super::tray::accounts_changed;
use crate::refresh::TickReport;
use tauri::AppHandle;

/// Reacts to a refresher tick: update window and tray; notify once per account that now
/// needs sign-in.
pub fn on_refresh_report(app: &AppHandle, report: TickReport) {
    tracing::info!(
        refreshed = report.refreshed.len(),
        transient = report.transient.len(),
        needs_sign_in = report.newly_needs_sign_in.len(),
        "refresh tick"
    );
    accounts_changed(app);
    for id in &report.newly_needs_sign_in {
        let who = state(app)
            .accounts
            .as_ref()
            .ok()
            .and_then(|a| a.account(id).ok())
            .map(|a| a.identity.unwrap_or(a.id))
            .unwrap_or_else(|| id.clone());
        notify(
            app,
            "Sign in again to keep this account working",
            &sign_in_again_body(&who),
        );
    }
}

/// The body of the "sign in again" notification. Notification servers read bodies as markup
/// (`<b>`, `<a href>`), and the identity comes from the provider: it is escaped (S25).
pub(super) fn sign_in_again_body(who: &str) -> String {
    format!(
        "{}: the provider no longer accepts Latchkey's sign-in. Open Latchkey and choose \"Sign in again\".",
        escape_markup(&crate::text::plain_text(who, 120))
    )
}

/// Escapes the characters notification markup gives meaning to.
pub(super) fn escape_markup(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Sends a desktop notification; failures are logged (no notification daemon is not fatal).
pub fn notify(app: &AppHandle, title: &str, body: &str) {
    use tauri_plugin_notification::NotificationExt;
    match app.notification().builder().title(title).body(body).show() {
        Ok(()) => tracing::info!(title, "notification sent"),
        Err(e) => tracing::warn!(error = %e, "could not show a notification"),
    }
}

/// Once, on a desktop with no tray: Latchkey goes on in the background, and how to reach it.
pub(super) fn background_hint(app: &AppHandle) {
    let Ok(accounts) = &state(app).accounts else {
        return;
    };
    let first = accounts
        .vault()
        .update_index(|idx| !std::mem::replace(&mut idx.settings.background_hint_shown, true))
        .unwrap_or(false);
    if first {
        notify(
            app,
            "Latchkey keeps your tokens fresh in the background",
            "This desktop shows no tray icons. Open Latchkey again from your app menu, or run `latchkey`. To quit on close instead, change it in Settings.",
        );
    }
}

pub(super) fn first_close_hint(app: &AppHandle) {
    let Ok(accounts) = &state(app).accounts else {
        return;
    };
    let first = accounts
        .vault()
        .update_index(|idx| !std::mem::replace(&mut idx.settings.tray_hint_shown, true))
        .unwrap_or(false);
    if first {
        notify(
            app,
            "Latchkey keeps your tokens fresh from the tray",
            "Open it again from the key icon in your system tray.",
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// S25: an identity from the provider can't become markup in a notification.
    #[test]
    fn notification_bodies_escape_the_identity_s25() {
        let body = sign_in_again_body("<a href=\"https://evil.example\">x</a>&\u{7}");
        assert!(!body.contains('<') && !body.contains('>'), "{body}");
        assert!(body.contains("&lt;a href=&quot;https://evil.example&quot;&gt;x&lt;/a&gt;&amp;"));
        assert!(!body.contains('\u{7}'));
        assert!(sign_in_again_body("alice@example.test").starts_with("alice@example.test: "));
    }
}
