//! The main window: shown or created on demand, WebKit tuned for one local page, and the
//! tray and refresher started once the page is on screen.

use super::notify::on_refresh_report;
use super::state::{state, MAIN_WINDOW};
use super::tray;
use tauri::{AppHandle, Manager, WebviewUrl, WebviewWindowBuilder};

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
pub(super) fn start_background(app: &AppHandle) {
    static STARTED: std::sync::Once = std::sync::Once::new();
    STARTED.call_once(|| {
        tracing::debug!("window loaded; starting the tray and the refresher");
        let app = app.clone();
        let for_main = app.clone();
        let run = move || {
            let actions = tray::TrayActions {
                open_window: show_main_window,
                on_refresh: on_refresh_report,
            };
            if let Err(e) = tray::create(&for_main, actions) {
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
