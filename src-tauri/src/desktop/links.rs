//! Sign-in links from every door: argv at cold start, the single-instance forward and the
//! loopback listener all end in `complete_callback`. A link for no waiting sign-in changes
//! nothing visible (S8).

use super::state::{emit_event, state, AppState, LoginFinished, EVT_LOGIN_FINISHED};
use super::tray::accounts_changed;
use super::window::show_main_window;
use crate::oauth::loopback::PageOutcome;
use tauri::AppHandle;

pub(super) fn cold_link_from_plugin(app: &AppHandle) -> Option<String> {
    use tauri_plugin_deep_link::DeepLinkExt;
    let urls = app.deep_link().get_current().ok().flatten()?;
    urls.into_iter()
        .map(|u| u.to_string())
        .find(|u| crate::link::looks_like_our_link(u))
}

/// Registers `dev.latchkey:` with the desktop on Linux (and on Windows in debug builds) when
/// no package did. An installed Latchkey leaves it to the package's desktop entry, and drops
/// the handler an earlier portable or development run wrote into the person's own
/// applications folder, which would otherwise win over the package's.
pub(super) fn register_scheme(app: &AppHandle) {
    #[cfg(target_os = "linux")]
    if let Some(entry) = crate::install::installed_by_package() {
        drop_portable_handler(app);
        tracing::info!(entry = %entry.display(), "installed by a package; its desktop entry handles dev.latchkey: links");
        return;
    }
    #[cfg(any(target_os = "linux", all(debug_assertions, windows)))]
    {
        use tauri_plugin_deep_link::DeepLinkExt;
        match app.deep_link().register_all() {
            Ok(()) => tracing::info!("registered the dev.latchkey: link handler"),
            Err(e) => {
                tracing::warn!(error = %e, "could not register the dev.latchkey: link handler; sign-in will use the loopback redirect")
            }
        }
    }
    #[cfg(not(any(target_os = "linux", all(debug_assertions, windows))))]
    let _ = app;
}

/// Removes the `dev.latchkey:` association of a handler that a portable run registered (the
/// deep-link plugin's `latchkey-desktop-handler.desktop`), if there is one.
#[cfg(target_os = "linux")]
fn drop_portable_handler(app: &AppHandle) {
    use tauri::Manager;
    use tauri_plugin_deep_link::DeepLinkExt;
    let Ok(data) = app.path().data_dir() else {
        return;
    };
    let portable = data
        .join("applications")
        .join("latchkey-desktop-handler.desktop");
    if !portable.exists() {
        return;
    }
    match app.deep_link().unregister("dev.latchkey") {
        Ok(()) => {
            tracing::info!(file = %portable.display(), "dropped the link handler of an earlier portable run")
        }
        Err(e) => {
            tracing::warn!(error = %e, file = %portable.display(), "could not drop the link handler of an earlier portable run")
        }
    }
}

/// Takes a `dev.latchkey:` link from any route. Logs it without its query (S8).
pub fn receive_link(app: &AppHandle, url: &str) {
    match crate::link::validate(url) {
        Ok(()) => tracing::info!(link = %crate::link::describe(url), "received a sign-in link"),
        Err(_) => {
            tracing::warn!(link = %crate::link::describe(url), "ignored a malformed link");
            return;
        }
    }
    let app = app.clone();
    let url = url.to_string();
    tauri::async_runtime::spawn(async move {
        complete_callback(&app, &url).await;
    });
}

/// Finishes a sign-in from any route and says how it ended (for the loopback page). A link
/// for no pending sign-in (forged, reused or expired) changes nothing visible: one log line
/// without its query (S8).
pub async fn complete_callback(app: &AppHandle, url: &str) -> PageOutcome {
    let st = state(app);
    let Ok(accounts) = st.accounts.clone() else {
        return PageOutcome::Failed;
    };
    let handle = crate::oauth::parse_callback(url)
        .ok()
        .and_then(|cb| cb.state)
        .map(|s| crate::oauth::handle_for_state(s.expose()));
    match accounts.complete_login(url).await {
        Ok(view) => {
            tracing::info!(account = %view.id, "sign-in completed");
            if let Some(r) = &st.refresher {
                r.reset(&view.id);
            }
            let h = handle.unwrap_or_default();
            finish_pending(&st, &h);
            emit_event(
                app,
                EVT_LOGIN_FINISHED,
                LoginFinished {
                    handle: h,
                    account: Some(view),
                    error: None,
                },
            );
            accounts_changed(app);
            show_main_window(app);
            PageOutcome::SignedIn
        }
        // S8: a link for no waiting sign-in, or for one that already expired (the window was
        // told when it expired), changes nothing visible.
        Err(e)
            if e.code == "unknown_state"
                || e.code == "malformed_callback"
                || e.code == "login_expired" =>
        {
            tracing::warn!(link = %crate::link::describe(url), "ignored a link that matches no pending sign-in");
            PageOutcome::Failed
        }
        Err(e) => {
            tracing::warn!(code = %e.code, "sign-in failed");
            let outcome = if e.code == "access_denied" {
                PageOutcome::Cancelled
            } else {
                PageOutcome::Failed
            };
            let h = handle.unwrap_or_default();
            finish_pending(&st, &h);
            emit_event(
                app,
                EVT_LOGIN_FINISHED,
                LoginFinished {
                    handle: h,
                    account: None,
                    error: Some(e),
                },
            );
            show_main_window(app);
            outcome
        }
    }
}

pub(super) fn finish_pending(st: &AppState, handle: &str) {
    if let Ok(mut l) = st.logins.lock() {
        if let Some(p) = l.remove(handle) {
            if let Some(t) = p.task {
                t.abort();
            }
        }
    }
}
