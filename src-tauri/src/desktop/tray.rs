//! The tray: Open, a submenu per account (status, Copy token, Refresh now), Refresh all,
//! Pause refresh, Quit. Its icon and tooltip say "all good" or "attention needed".

use super::state::{emit_event, state, EVT_ACCOUNTS_CHANGED};
use crate::refresh::TickReport;
use tauri::image::Image;
use tauri::menu::{CheckMenuItem, Menu, MenuItem, PredefinedMenuItem, Submenu};
use tauri::tray::TrayIconBuilder;
use tauri::{AppHandle, Wry};

/// Tray icon when every account is fine.
pub const ICON_OK: &[u8] = include_bytes!("../../../icons/tray-ok.png");
/// Tray icon when an account needs attention.
pub const ICON_ATTENTION: &[u8] = include_bytes!("../../../icons/tray-attention.png");
const TRAY_ID: &str = "main";

/// The bus name a tray host owns on Linux desktops (KDE, most others; GNOME only with the
/// AppIndicator extension).
#[cfg(target_os = "linux")]
pub const WATCHER: &str = "org.kde.StatusNotifierWatcher";

/// Linux: whether the AppIndicator library the tray needs can be loaded. Tauri's tray loads it
/// at run time and aborts the whole app when it is missing (seen on a minimal Debian 13), so
/// the tray is only created when this says yes; otherwise Latchkey runs as on a desktop
/// without a tray. The names are the ones libappindicator-sys tries.
#[cfg(target_os = "linux")]
pub fn library_present() -> bool {
    static PRESENT: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *PRESENT.get_or_init(|| {
        let found = [
            c"libayatana-appindicator3.so.1",
            c"libappindicator3.so.1",
            c"libayatana-appindicator3.so",
            c"libappindicator3.so",
        ]
        .iter()
        // SAFETY: dlopen with a valid C string; the handle is kept (the tray loads it again).
        .any(|name| !unsafe { libc::dlopen(name.as_ptr(), libc::RTLD_LAZY) }.is_null());
        if !found {
            tracing::warn!("no AppIndicator library (libayatana-appindicator3-1): no tray icon; Latchkey refreshes in the background");
        }
        found
    })
}

/// macOS and Windows: the tray is part of the OS.
#[cfg(not(target_os = "linux"))]
pub fn library_present() -> bool {
    true
}

/// True when the desktop shows tray icons. On Linux that means the tray library loads and a
/// StatusNotifierWatcher is on the session bus; asked each time the window closes, since one
/// can come and go.
#[cfg(target_os = "linux")]
pub fn host_present() -> bool {
    if !library_present() {
        return false;
    }
    let ask = || -> Result<bool, dbus::Error> {
        let c = dbus::blocking::Connection::new_session()?;
        let bus = c.with_proxy(
            "org.freedesktop.DBus",
            "/org/freedesktop/DBus",
            std::time::Duration::from_secs(2),
        );
        let (owned,): (bool,) =
            bus.method_call("org.freedesktop.DBus", "NameHasOwner", (WATCHER,))?;
        Ok(owned)
    };
    // Without an answer, assume a tray: the old behaviour, and never an unexpected exit.
    ask().unwrap_or(true)
}

/// macOS and Windows always have a menu bar or notification area.
#[cfg(not(target_os = "linux"))]
pub fn host_present() -> bool {
    true
}

fn status_words(status: &str, expires_at: Option<i64>) -> String {
    match status {
        "valid" => expires_at.map_or("Valid".into(), |t| {
            format!(
                "Valid · expires in {} min",
                ((t - crate::clock::now()).max(0) + 59) / 60
            )
        }),
        "no_expiry" => "Valid · no expiry".into(),
        "needs_sign_in" => "Needs sign-in".into(),
        "offline" => "Offline — will retry".into(),
        "expired" => "Expired".into(),
        "provider_changed" => "Provider changed — sign in again".into(),
        other => other.into(),
    }
}

fn build_menu(app: &AppHandle) -> tauri::Result<Menu<Wry>> {
    let st = state(app);
    let menu = Menu::new(app)?;
    menu.append(&MenuItem::with_id(
        app,
        "open",
        "Open Latchkey",
        true,
        None::<&str>,
    )?)?;
    menu.append(&PredefinedMenuItem::separator(app)?)?;
    let list = st
        .accounts
        .as_ref()
        .ok()
        .and_then(|a| a.list().ok())
        .unwrap_or_default();
    if list.is_empty() {
        menu.append(&MenuItem::with_id(
            app,
            "none",
            "No accounts yet",
            false,
            None::<&str>,
        )?)?;
    }
    for a in &list {
        let who = a
            .label
            .clone()
            .or(a.identity.clone())
            .unwrap_or(a.id.clone());
        let sub = Submenu::with_id(
            app,
            format!("acct:{}", a.id),
            format!("{} — {}", a.provider_name, who),
            true,
        )?;
        sub.append(&MenuItem::with_id(
            app,
            format!("status:{}", a.id),
            status_words(&a.status, a.expires_at),
            false,
            None::<&str>,
        )?)?;
        sub.append(&MenuItem::with_id(
            app,
            format!("copy:{}", a.id),
            "Copy token",
            a.status != "needs_sign_in" && a.status != "provider_changed",
            None::<&str>,
        )?)?;
        sub.append(&MenuItem::with_id(
            app,
            format!("refresh:{}", a.id),
            "Refresh now",
            true,
            None::<&str>,
        )?)?;
        menu.append(&sub)?;
    }
    menu.append(&PredefinedMenuItem::separator(app)?)?;
    menu.append(&MenuItem::with_id(
        app,
        "refresh-all",
        "Refresh all",
        !list.is_empty(),
        None::<&str>,
    )?)?;
    let paused = st.refresher.as_ref().is_some_and(|r| r.is_paused());
    menu.append(&CheckMenuItem::with_id(
        app,
        "pause",
        "Pause refresh",
        true,
        paused,
        None::<&str>,
    )?)?;
    menu.append(&PredefinedMenuItem::separator(app)?)?;
    menu.append(&MenuItem::with_id(
        app,
        "quit",
        "Quit Latchkey",
        true,
        None::<&str>,
    )?)?;
    Ok(menu)
}

fn on_menu(app: &AppHandle, id: &str, actions: TrayActions) {
    tracing::info!(item = %id.split(':').next().unwrap_or(""), "tray menu");
    let st = state(app);
    match id {
        "open" => (actions.open_window)(app),
        "quit" => app.exit(0),
        "pause" => {
            if let Some(r) = &st.refresher {
                r.set_paused(!r.is_paused());
                tracing::info!(paused = r.is_paused(), "background refresh toggled");
            }
            refresh(app);
        }
        "refresh-all" => {
            if let Some(r) = st.refresher.clone() {
                let app = app.clone();
                let on_refresh = actions.on_refresh;
                tauri::async_runtime::spawn(async move {
                    let report = r.tick(true).await;
                    on_refresh(&app, report);
                });
            }
        }
        other => {
            if let Some(acct) = other.strip_prefix("copy:") {
                let (app, acct) = (app.clone(), acct.to_string());
                tauri::async_runtime::spawn(async move {
                    let st = state(&app);
                    let Ok(a) = st.accounts.clone() else { return };
                    match a.fresh_token(&acct, 60).await {
                        Ok(t) => {
                            let clear = a
                                .vault()
                                .index()
                                .map_or(30, |i| i.settings.clipboard_clear_secs);
                            if let Err(e) =
                                st.clipboard.copy(&t, std::time::Duration::from_secs(clear))
                            {
                                tracing::warn!(error = %e, "tray copy failed");
                            }
                        }
                        Err(e) => tracing::warn!(code = %e.code, "tray copy: no token"),
                    }
                    accounts_changed(&app);
                });
            } else if let Some(acct) = other.strip_prefix("refresh:") {
                let (app, acct) = (app.clone(), acct.to_string());
                tauri::async_runtime::spawn(async move {
                    let st = state(&app);
                    if let Some(r) = &st.refresher {
                        r.reset(&acct);
                    }
                    if let Ok(a) = st.accounts.clone() {
                        if let Err(e) = a.refresh_now(&acct).await {
                            tracing::warn!(code = %e.code, "tray refresh failed");
                        }
                    }
                    accounts_changed(&app);
                });
            }
        }
    }
}

/// What the tray's menu does that lives above the tray: open the window, and report a
/// refresh the person asked for. Handed in by the window, so the tray imports neither.
#[derive(Clone, Copy)]
pub struct TrayActions {
    /// "Open Latchkey".
    pub open_window: fn(&AppHandle),
    /// After "Refresh all": notifications and the account list.
    pub on_refresh: fn(&AppHandle, TickReport),
}

/// Builds the tray icon.
pub fn create(app: &AppHandle, actions: TrayActions) -> tauri::Result<()> {
    if !library_present() {
        return Ok(());
    }
    let attention = state(app).needs_attention();
    TrayIconBuilder::with_id(TRAY_ID)
        .icon(Image::from_bytes(if attention {
            ICON_ATTENTION
        } else {
            ICON_OK
        })?)
        .tooltip(if attention {
            "Latchkey — attention needed"
        } else {
            "Latchkey — all good"
        })
        .menu(&build_menu(app)?)
        .on_menu_event(move |app, event| on_menu(app, event.id().as_ref(), actions))
        .build(app)?;
    Ok(())
}

/// Rebuilds the menu and the icon after a change.
pub fn refresh(app: &AppHandle) {
    let Some(tray) = app.tray_by_id(TRAY_ID) else {
        return;
    };
    let attention = state(app).needs_attention();
    if let Ok(menu) = build_menu(app) {
        let _ = tray.set_menu(Some(menu));
    }
    if let Ok(icon) = Image::from_bytes(if attention { ICON_ATTENTION } else { ICON_OK }) {
        let _ = tray.set_icon(Some(icon));
    }
    let _ = tray.set_tooltip(Some(if attention {
        "Latchkey — attention needed"
    } else {
        "Latchkey — all good"
    }));
}

/// Tells the window and tray the accounts changed. The event carries no data.
pub fn accounts_changed(app: &AppHandle) {
    emit_event(app, EVT_ACCOUNTS_CHANGED, ());
    refresh(app);
}
