//! The desktop shell: the ONLY module that imports `tauri`. It wires IPC commands, the tray,
//! deep links and single-instance to the `accounts` service, and owns windows, the clipboard
//! and notifications. No event it emits carries a token, code or state (S19, S22).

mod clipboard;
mod commands;
mod links;
mod notify;
mod signin;
mod tray;

pub use links::{complete_callback, receive_link};
pub use notify::{notify, on_refresh_report};

use links::{cold_link_from_plugin, register_scheme};
use notify::{background_hint, first_close_hint};

use crate::accounts::{AccountView, Accounts};
use crate::errors::UserError;
use crate::refresh::Refresher;
use crate::secret::Secret;
use serde::Serialize;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tauri::{AppHandle, Emitter, Manager, RunEvent, WebviewUrl, WebviewWindowBuilder};

/// The main window's label.
pub const MAIN_WINDOW: &str = "main";
/// Event: the account list changed. Carries nothing.
pub const EVT_ACCOUNTS_CHANGED: &str = "accounts-changed";
/// Event: a sign-in finished (success or a plain-words error). Carries no secret.
pub const EVT_LOGIN_FINISHED: &str = "login-finished";

/// A sign-in the window is waiting for.
pub struct PendingLogin {
    provider_name: String,
    authorize_url: Secret,
    task: Option<tauri::async_runtime::JoinHandle<()>>,
}

/// Shared state behind every IPC command.
pub struct AppState {
    /// `Ok` when the vault opened; otherwise the error the window shows.
    pub accounts: Result<Accounts, UserError>,
    /// The background refresher, when the vault opened.
    pub refresher: Option<Refresher>,
    logins: Mutex<HashMap<String, PendingLogin>>,
    clipboard: clipboard::SensitiveClipboard,
}

impl AppState {
    /// True when the vault is unusable or an account needs sign-in: the tray shows a badge.
    pub fn needs_attention(&self) -> bool {
        match &self.accounts {
            Err(_) => true,
            Ok(a) => a
                .list()
                .map(|l| l.iter().any(AccountView::needs_attention))
                .unwrap_or(true),
        }
    }
}

/// What the window hears when a sign-in ends.
#[derive(Clone, Serialize)]
pub struct LoginFinished {
    handle: String,
    account: Option<AccountView>,
    error: Option<UserError>,
}

pub(super) fn state(app: &AppHandle) -> Arc<AppState> {
    app.state::<Arc<AppState>>().inner().clone()
}

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
        ])
        .setup(move |app| {
            // Registering runs `update-desktop-database` and `xdg-mime` (tens of ms): off the
            // start-up path, on a thread of its own.
            let handle = app.handle().clone();
            std::thread::spawn(move || register_scheme(&handle));
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

/// Seconds between refresher ticks: 30, or `LATCHKEY_REFRESH_TICK_SECS` (tests use 1).
fn tick_interval() -> std::time::Duration {
    let secs = std::env::var("LATCHKEY_REFRESH_TICK_SECS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .filter(|s| *s > 0);
    secs.map_or(crate::refresh::TICK, std::time::Duration::from_secs)
}

/// Builds the tray menu and starts the refresher, once per process: after the window's page
/// has loaded (its skeleton is on screen), so neither delays the first paint.
fn start_background(app: &AppHandle) {
    static STARTED: std::sync::Once = std::sync::Once::new();
    STARTED.call_once(|| {
        tracing::debug!("window loaded; starting the tray and the refresher");
        let app = app.clone();
        let for_main = app.clone();
        let run = move || {
            if let Err(e) = tray::create(&for_main) {
                tracing::warn!(error = %e, "could not create the tray icon");
            }
            start_refresher(&for_main);
        };
        if let Err(e) = app.run_on_main_thread(run) {
            tracing::warn!(error = %e, "could not start the tray and the refresher");
        }
    });
}

fn start_refresher(app: &AppHandle) {
    let Some(r) = state(app).refresher.clone() else {
        return;
    };
    let app = app.clone();
    tauri::async_runtime::spawn(r.run(tick_interval(), move |report| {
        on_refresh_report(&app, report)
    }));
}

/// Sends an event to the webview and logs its exact payload at debug level, so the canary
/// check over the logs covers everything the webview is told (S19, S22).
pub fn emit_event<S: serde::Serialize + Clone>(app: &AppHandle, name: &str, payload: S) {
    if tracing::enabled!(tracing::Level::DEBUG) {
        let json = serde_json::to_string(&payload).unwrap_or_default();
        tracing::debug!(event = name, payload = %json, "event to the webview");
    }
    let _ = app.emit(name, payload);
}

/// Tells the window and tray the accounts changed. The event carries no data.
pub fn accounts_changed(app: &AppHandle) {
    emit_event(app, EVT_ACCOUNTS_CHANGED, ());
    tray::refresh(app);
}

/// Opens the authorization URL: the configured browser command, else the system browser
/// through the opener plugin. Never a webview (S1).
fn open_browser(app: &AppHandle, url: &Secret) -> Result<(), String> {
    let setting = state(app)
        .accounts
        .as_ref()
        .ok()
        .and_then(|a| a.vault().index().ok())
        .and_then(|i| i.settings.browser_command);
    if crate::browser::configured_command(setting.as_deref()).is_some() {
        return crate::browser::open(url, setting.as_deref());
    }
    use tauri_plugin_opener::OpenerExt;
    app.opener()
        .open_url(url.expose(), None::<&str>)
        .map_err(|e| format!("could not open your browser ({e})"))
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
        .inner_size(720.0, 680.0)
        .min_inner_size(420.0, 560.0)
        .on_page_load(|webview, payload| {
            if matches!(payload.event(), tauri::webview::PageLoadEvent::Finished) {
                start_background(webview.app_handle());
            }
        })
        .build();
    match built {
        Ok(w) => tune_webview(&w),
        Err(e) => tracing::error!(error = %e, "could not open the Latchkey window"),
    }
}

/// Tunes WebKit for what this window is: one local page of text and buttons.
/// - The page never navigates, so WebKit's page and memory caches only cost memory;
///   "document viewer" is WebKit's cache model for exactly that.
/// - On a machine with no GPU (a VM, a remote desktop, a headless session) WebKit would
///   emulate one on the CPU through Mesa's llvmpipe. Rendering the page on the CPU directly
///   draws the same pixels with about 80 MiB less in the web process (BENCHMARKS.md, P3).
///   Where a GPU exists WebKit keeps its default. `LATCHKEY_WEBVIEW_GPU=1` or `=0` forces
///   either way.
fn tune_webview(w: &tauri::WebviewWindow) {
    #[cfg(target_os = "linux")]
    let r = w.with_webview(|pw| {
        use webkit2gtk::{
            CacheModel, HardwareAccelerationPolicy, SettingsExt, WebContextExt, WebViewExt,
        };
        let view = pw.inner();
        if let Some(ctx) = view.context() {
            ctx.set_cache_model(CacheModel::DocumentViewer);
        }
        let forced = std::env::var_os("LATCHKEY_WEBVIEW_GPU");
        let gpu = gpu_rendering(forced.as_deref(), machine_has_gpu);
        tracing::debug!(gpu, "webview rendering");
        if !gpu {
            if let Some(settings) = WebViewExt::settings(&view) {
                settings.set_hardware_acceleration_policy(HardwareAccelerationPolicy::Never);
            }
        }
    });
    #[cfg(not(target_os = "linux"))]
    let r: tauri::Result<()> = {
        let _ = w;
        Ok(())
    };
    if let Err(e) = r {
        tracing::warn!(error = %e, "could not tune the webview");
    }
}

/// Whether the webview keeps WebKit's GPU rendering: as `LATCHKEY_WEBVIEW_GPU` says (`1`,
/// `true`, `yes`, `on` or `0`, `false`, `no`, `off`), else when the machine has a GPU.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
fn gpu_rendering(forced: Option<&std::ffi::OsStr>, has_gpu: impl FnOnce() -> bool) -> bool {
    let v = forced
        .and_then(|v| v.to_str())
        .map(|v| v.trim().to_ascii_lowercase());
    match v.as_deref() {
        Some("1" | "true" | "yes" | "on") => true,
        Some("0" | "false" | "no" | "off") => false,
        _ => has_gpu(),
    }
}

/// Whether this machine has a GPU that WebKit could render with: a DRM render node in /dev/dri.
pub fn machine_has_gpu() -> bool {
    has_render_node(std::path::Path::new("/dev/dri"))
}

/// Whether `dir` (normally /dev/dri) holds a DRM render node, which every GPU driver that
/// Mesa or a vendor's GL can use provides. Without one, GL is software emulation.
fn has_render_node(dir: &std::path::Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|entries| {
        entries
            .flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with("renderD"))
    })
}

/// Turns start-at-login on or off through the official autostart plugin.
pub fn set_start_at_login(app: &AppHandle, on: bool) -> Result<(), String> {
    use tauri_plugin_autostart::ManagerExt;
    let r = if on {
        app.autolaunch().enable()
    } else {
        app.autolaunch().disable()
    };
    r.map_err(|e| e.to_string())?;
    tracing::info!(on, "start at login changed");
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::{gpu_rendering, has_render_node};
    use std::ffi::OsStr;

    #[test]
    fn the_webview_uses_the_gpu_only_where_there_is_one_unless_told() {
        assert!(gpu_rendering(None, || true));
        assert!(!gpu_rendering(None, || false));
        assert!(!gpu_rendering(Some(OsStr::new("")), || false));
        for on in ["1", "true", "Yes", " on "] {
            assert!(gpu_rendering(Some(OsStr::new(on)), || false), "{on:?}");
        }
        for off in ["0", "false", "No", "off"] {
            assert!(!gpu_rendering(Some(OsStr::new(off)), || true), "{off:?}");
        }
    }

    #[test]
    fn a_render_node_means_a_gpu() {
        let d = std::env::temp_dir().join(format!("latchkey-dri-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        assert!(!has_render_node(&d.join("missing")));
        std::fs::write(d.join("card0"), "").unwrap();
        assert!(!has_render_node(&d), "a card node alone is no render node");
        std::fs::write(d.join("renderD128"), "").unwrap();
        assert!(has_render_node(&d));
        std::fs::remove_dir_all(&d).unwrap();
    }
}
