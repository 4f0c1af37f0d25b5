//! The smallest app with Latchkey's shell: the same plugins, a tray icon, one window.
use tauri::tray::TrayIconBuilder;
use tauri::{Manager, WebviewUrl, WebviewWindowBuilder};

fn main() {
    let minimized = std::env::args().any(|a| a == "--minimized");
    tauri::Builder::default()
        .plugin(tauri_plugin_single_instance::init(|_, _, _| {}))
        .plugin(tauri_plugin_deep_link::init())
        .plugin(tauri_plugin_opener::init())
        .plugin(tauri_plugin_notification::init())
        .plugin(tauri_plugin_autostart::init(
            tauri_plugin_autostart::MacosLauncher::LaunchAgent,
            Some(vec!["--minimized"]),
        ))
        .setup(move |app| {
            let icon = app.default_window_icon().cloned().expect("icon");
            TrayIconBuilder::new().icon(icon).build(app)?;
            if !minimized {
                let w = WebviewWindowBuilder::new(app, "main", WebviewUrl::App("index.html".into()))
                    .title("Bare")
                    .inner_size(720.0, 680.0)
                    .build()?;
                // Reference only (P3): the bare app with the CPU rendering Latchkey uses on
                // machines without a GPU, so the benchmark can show what the setting alone saves.
                #[cfg(target_os = "linux")]
                if std::env::var_os("BARE_CPU_RENDERING").is_some() {
                    w.with_webview(|pw| {
                        use webkit2gtk::{HardwareAccelerationPolicy, SettingsExt, WebViewExt};
                        if let Some(s) = WebViewExt::settings(&pw.inner()) {
                            s.set_hardware_acceleration_policy(HardwareAccelerationPolicy::Never);
                        }
                    })?;
                }
                #[cfg(not(target_os = "linux"))]
                let _ = w;
            }
            let _ = app.get_webview_window("main");
            Ok(())
        })
        .build(tauri::generate_context!())
        .expect("bare app")
        .run(|_, event| {
            if let tauri::RunEvent::ExitRequested { code: None, api, .. } = event {
                api.prevent_exit();
            }
        });
}
