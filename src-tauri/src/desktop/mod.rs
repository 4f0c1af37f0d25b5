//! The desktop shell: the ONLY module that imports `tauri`. It wires IPC commands, the tray,
//! deep links and single-instance to the `accounts` service, and owns windows.

mod commands;
mod tray;

use crate::accounts::Accounts;
use crate::errors::UserError;
use std::sync::Arc;
use tauri::{AppHandle, Manager, RunEvent, WebviewUrl, WebviewWindowBuilder};

/// The main window's label.
pub const MAIN_WINDOW: &str = "main";

/// Shared state behind every IPC command.
pub struct AppState {
    /// `Ok` when the vault opened; otherwise the error the window shows.
    pub accounts: Result<Accounts, UserError>,
}

impl AppState {
    /// True when the vault is unusable or an account needs sign-in: the tray shows a badge.
    pub fn needs_attention(&self) -> bool {
        match &self.accounts {
            Err(_) => true,
            Ok(a) => a
                .list()
                .map(|l| {
                    l.iter()
                        .any(|v| v.status == "needs_sign_in" || v.status == "expired")
                })
                .unwrap_or(true),
        }
    }
}

/// Starts the desktop app. `link` is a `dev.latchkey:` URL from argv (cold start).
/// Returns the process exit code.
pub fn run(link: Option<String>, minimized: bool) -> i32 {
    let state = AppState {
        accounts: Accounts::open(),
    };
    if let Err(e) = &state.accounts {
        tracing::warn!(code = %e.code, "vault unavailable at start-up");
    }
    let app = tauri::Builder::default()
        // single-instance must come first: a second process forwards its argv and exits
        // before any other plugin or window starts.
        .plugin(
            single_instance_builder()
                .callback(|app, argv, _cwd| {
                    tracing::info!(
                        args = argv.len(),
                        "another launch was forwarded to this instance"
                    );
                    match argv.get(1) {
                        Some(arg) if argv.len() == 2 && crate::link::looks_like_our_link(arg) => {
                            receive_link(app, arg)
                        }
                        _ => show_main_window(app),
                    }
                })
                .build(),
        )
        .plugin(tauri_plugin_deep_link::init())
        .manage(Arc::new(state))
        .invoke_handler(tauri::generate_handler![
            commands::app_info,
            commands::list_accounts
        ])
        .setup(move |app| {
            register_scheme(app.handle());
            let attention = app.state::<Arc<AppState>>().needs_attention();
            tray::create(app.handle(), attention)?;
            // Cold start: the link arrived as our only argument. get_current() reads the same
            // argv; we prefer our own validated copy and fall back to the plugin's.
            let cold = link.clone().or_else(|| cold_link_from_plugin(app.handle()));
            if !minimized || cold.is_some() {
                show_main_window(app.handle());
            }
            if let Some(url) = cold {
                receive_link(app.handle(), &url);
            }
            tracing::info!(version = env!("CARGO_PKG_VERSION"), "Latchkey started");
            Ok(())
        })
        .build(tauri::generate_context!("../tauri.conf.json"));
    let app = match app {
        Ok(app) => app,
        Err(e) => {
            eprintln!("latchkey: could not start the desktop app: {e}. If you are on a server or over SSH, use the command line instead (latchkey --help).");
            return 1;
        }
    };
    app.run(|_app, event| {
        // Closing the last window keeps the app in the tray; only Quit exits.
        if let RunEvent::ExitRequested {
            code: None, api, ..
        } = event
        {
            api.prevent_exit();
        }
    });
    0
}

/// One running app per data dir: the default home uses the app identifier; a custom
/// `LATCHKEY_HOME` (tests, portable setups) gets its own D-Bus name so two vaults never
/// forward links to each other.
fn single_instance_builder() -> tauri_plugin_single_instance::Builder<tauri::Wry> {
    let b = tauri_plugin_single_instance::Builder::new();
    match std::env::var_os(crate::paths::HOME_ENV).filter(|v| !v.is_empty()) {
        Some(home) => {
            use sha2::Digest;
            let digest = sha2::Sha256::digest(home.as_encoded_bytes());
            let tag: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
            b.dbus_id(format!("dev.latchkey.app.h{tag}"))
        }
        None => b,
    }
}

fn cold_link_from_plugin(app: &AppHandle) -> Option<String> {
    use tauri_plugin_deep_link::DeepLinkExt;
    let urls = app.deep_link().get_current().ok().flatten()?;
    urls.into_iter()
        .map(|u| u.to_string())
        .find(|u| crate::link::looks_like_our_link(u))
}

/// Registers `dev.latchkey:` with the desktop on Linux (and on Windows in debug builds).
fn register_scheme(app: &AppHandle) {
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

/// Takes a `dev.latchkey:` link from any route. Logs it without its query (S8).
pub fn receive_link(app: &AppHandle, url: &str) {
    match crate::link::validate(url) {
        Ok(()) => tracing::info!(link = %crate::link::describe(url), "received a sign-in link"),
        Err(_) => {
            tracing::warn!(link = %crate::link::describe(url), "ignored a malformed link");
            return;
        }
    }
    let _ = app;
}

/// Shows the main window, creating it if it was closed (closing destroys the webview so the
/// app in the tray costs little memory).
pub fn show_main_window(app: &AppHandle) {
    if let Some(w) = app.get_webview_window(MAIN_WINDOW) {
        let _ = w.unminimize();
        let _ = w.show();
        let _ = w.set_focus();
        return;
    }
    let built = WebviewWindowBuilder::new(app, MAIN_WINDOW, WebviewUrl::App("index.html".into()))
        .title("Latchkey")
        .inner_size(720.0, 640.0)
        .min_inner_size(420.0, 560.0)
        .build();
    if let Err(e) = built {
        tracing::error!(error = %e, "could not open the Latchkey window");
    }
}
