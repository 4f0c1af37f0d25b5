//! The desktop shell: the ONLY module that imports `tauri`. It wires IPC commands, the tray,
//! deep links and single-instance to the `accounts` service, and owns windows, the clipboard
//! and notifications. No event it emits carries a token, code or state (S19, S22).

mod ai_apps;
mod clipboard;
mod commands;
mod links;
mod notify;
mod prompt;
mod signin;
mod state;
mod tray;
mod window;

pub use links::{complete_callback, receive_link};
pub use notify::{notify, on_refresh_report};

use links::{cold_link_from_plugin, register_scheme};
use notify::{background_hint, first_close_hint};

use state::{state, AppState};
use std::collections::HashMap;
use std::sync::Mutex;
use window::{show_main_window, start_background};

pub use state::{emit_event, EVT_ACCOUNTS_CHANGED, EVT_LOGIN_FINISHED, MAIN_WINDOW};
pub use tray::accounts_changed;
pub use window::machine_has_gpu;

use crate::accounts::Accounts;
use crate::refresh::Refresher;
use std::sync::Arc;
use tauri::{AppHandle, RunEvent};

/// Starts the desktop app. `link` is a `dev.latchkey:` URL from argv (cold start).
/// Returns the process exit code.
pub fn run(link: Option<String>, minimized: bool) -> i32 {
    // A desktop app needs few threads: two async workers whatever the core count (tokio's
    // default is one per core). Kept alive until the process ends.
    let _runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("latchkey-async")
        .enable_all()
        .build()
    {
        Ok(rt) => {
            tauri::async_runtime::set(rt.handle().clone());
            Some(rt)
        }
        Err(e) => {
            tracing::warn!(error = %e, "could not size the async runtime; using the default");
            None
        }
    };
    // The window's WM_CLASS and Wayland app id then name the desktop entry the packages install
    // (dev.latchkey.app.desktop, StartupWMClass), so docks show it under Latchkey's icon.
    #[cfg(target_os = "linux")]
    glib::set_prgname(Some(crate::install::APP_ID));
    let accounts = Accounts::open();
    if let Err(e) = &accounts {
        tracing::warn!(code = %e.code, "vault unavailable at start-up");
    }
    let refresher = accounts.as_ref().ok().map(|a| Refresher::new(a.clone()));
    let state = AppState {
        accounts,
        refresher,
        logins: Mutex::new(HashMap::new()),
        clipboard: clipboard::SensitiveClipboard::default(),
    };
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
        .plugin(tauri_plugin_opener::init())
        .plugin(tauri_plugin_notification::init())
        // Off by default; the Settings toggle turns it on. Login starts go straight to the tray.
        .plugin(tauri_plugin_autostart::init(
            tauri_plugin_autostart::MacosLauncher::LaunchAgent,
            Some(vec!["--minimized"]),
        ))
        .manage(Arc::new(state))
        .invoke_handler(tauri::generate_handler![
            commands::app_info,
            commands::list_accounts,
            commands::list_providers,
            signin::begin_login,
            signin::cancel_login,
            signin::copy_login_link,
            signin::open_login_again,
            commands::add_token,
            commands::add_machine_account,
            signin::begin_device_login,
            commands::copy_token,
            commands::reveal_token,
            commands::refresh_account,
            commands::remove_account,
            commands::rename_account,
            commands::account_details,
            commands::api_call,
            commands::get_settings,
            commands::set_settings,
            commands::network_report,
            ai_apps::ai_apps,
            ai_apps::ai_app_add,
            prompt::answer_ask,
            prompt::pending_asks,
            prompt::activity,
            prompt::account_policy,
            prompt::set_policy,
            prompt::revoke_approval,
        ])
        .setup(move |app| {
            // Registering runs `update-desktop-database` and `xdg-mime` (tens of ms): off the
            // start-up path, on a thread of its own.
            let handle = app.handle().clone();
            std::thread::spawn(move || register_scheme(&handle));
            // Programs asking for a token reach the person through this (issue 39).
            prompt::start(app.handle());
            if let Ok(a) = self::state(app.handle()).accounts.clone() {
                // Sign-ins abandoned while the app was closed leave the keyring now.
                tauri::async_runtime::spawn(async move {
                    let _ = a.prune_pending().await;
                });
            }
            // The tray and the refresher start after the window's first paint (see
            // start_background), or at once when there is no window to paint.
            // Cold start: the link arrived as our only argument. get_current() reads the same
            // argv; we prefer our own validated copy and fall back to the plugin's.
            let cold = link.clone().or_else(|| cold_link_from_plugin(app.handle()));
            if !minimized || cold.is_some() {
                show_main_window(app.handle());
                // In case the page never reports its load (a broken webview): start anyway.
                let handle = app.handle().clone();
                tauri::async_runtime::spawn(async move {
                    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
                    start_background(&handle);
                });
            } else {
                start_background(app.handle());
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
        Err(e)
            if e.to_string().contains("forward arguments")
                && std::env::var_os(RELAUNCH_ENV).is_none() =>
        {
            // The previous instance is still leaving the session bus (just quit or crashed):
            // its name answers nobody. Wait a moment and start again in a fresh process,
            // since the GUI event loop cannot be created twice in one.
            tracing::warn!("the previous Latchkey is still shutting down; starting again");
            std::thread::sleep(std::time::Duration::from_millis(800));
            return relaunch();
        }
        Err(e) => {
            eprintln!("latchkey: could not start the desktop app: {e}. If you are on a server or over SSH, use the command line instead (latchkey --help).");
            return 1;
        }
    };
    app.run(|app, event| match event {
        // Closing the last window keeps the app in the tray; only Quit exits. A desktop with
        // no tray (GNOME without the AppIndicator extension) gets the background or, if the
        // person chose so, an exit.
        RunEvent::ExitRequested {
            code: None, api, ..
        } => {
            if tray::host_present() {
                api.prevent_exit();
                first_close_hint(app);
            } else if quits_without_tray(app) {
                tracing::info!("no tray on this desktop; quitting as the settings ask");
            } else {
                api.prevent_exit();
                tracing::info!(
                    "no tray on this desktop; Latchkey keeps refreshing in the background"
                );
                background_hint(app);
            }
        }
        // macOS delivers links as Apple events, to a running app and at launch alike; they
        // take the same validated path as argv and the single-instance forward.
        #[cfg(any(target_os = "macos", target_os = "ios"))]
        RunEvent::Opened { urls } => {
            for url in urls {
                let url = url.to_string();
                if crate::link::looks_like_our_link(&url) {
                    receive_link(app, &url);
                } else {
                    tracing::warn!(link = %crate::link::describe(&url), "ignored a link of another kind");
                }
            }
        }
        RunEvent::WindowEvent {
            label,
            event: tauri::WindowEvent::Destroyed,
            ..
        } if label == MAIN_WINDOW => {
            tracing::info!("window closed; Latchkey keeps running in the tray");
        }
        _ => {}
    });
    0
}

/// Set on the one automatic relaunch so it can't loop.
const RELAUNCH_ENV: &str = "LATCHKEY_RELAUNCHED";

fn relaunch() -> i32 {
    let exe = match std::env::current_exe() {
        Ok(e) => e,
        Err(_) => return 1,
    };
    match std::process::Command::new(exe)
        .args(std::env::args_os().skip(1))
        .env(RELAUNCH_ENV, "1")
        .status()
    {
        Ok(st) => st.code().unwrap_or(1),
        Err(e) => {
            eprintln!("latchkey: could not start again ({e}); open Latchkey once more.");
            1
        }
    }
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

/// The person's choice for a desktop with no tray: quit on close instead of staying in the
/// background.
fn quits_without_tray(app: &AppHandle) -> bool {
    state(app)
        .accounts
        .as_ref()
        .ok()
        .and_then(|a| a.vault().index().ok())
        .is_some_and(|i| i.settings.quit_without_tray)
}
