//! The tray icon and its menu.

use tauri::image::Image;
use tauri::menu::{Menu, MenuItem, PredefinedMenuItem};
use tauri::tray::TrayIconBuilder;
use tauri::AppHandle;

/// Tray icon when every account is fine.
pub const ICON_OK: &[u8] = include_bytes!("../../../icons/tray-ok.png");
/// Tray icon when an account needs attention.
pub const ICON_ATTENTION: &[u8] = include_bytes!("../../../icons/tray-attention.png");

/// Builds the tray: Open Latchkey, Quit. `attention` picks the badged icon.
pub fn create(app: &AppHandle, attention: bool) -> tauri::Result<()> {
    let open = MenuItem::with_id(app, "open", "Open Latchkey", true, None::<&str>)?;
    let quit = MenuItem::with_id(app, "quit", "Quit Latchkey", true, None::<&str>)?;
    let menu = Menu::with_items(app, &[&open, &PredefinedMenuItem::separator(app)?, &quit])?;
    TrayIconBuilder::with_id("main")
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
        .menu(&menu)
        .on_menu_event(|app, event| match event.id().as_ref() {
            "open" => super::show_main_window(app),
            "quit" => {
                tracing::info!("quit from the tray");
                app.exit(0);
            }
            _ => {}
        })
        .build(app)?;
    Ok(())
}
