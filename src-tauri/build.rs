/// App commands the webview may call; anything not listed here is denied (S21).
const COMMANDS: &[&str] = &[
    "app_info",
    "list_accounts",
    "list_providers",
    "begin_login",
    "cancel_login",
    "copy_login_link",
    "open_login_again",
    "add_token",
    "add_machine_account",
    "begin_device_login",
    "copy_token",
    "reveal_token",
    "refresh_account",
    "remove_account",
    "rename_account",
    "account_details",
    "api_call",
    "get_settings",
    "set_settings",
    "network_report",
    "ai_apps",
    "ai_app_add",
    "answer_ask",
    "pending_asks",
    "activity",
    "account_policy",
    "set_policy",
    "revoke_approval",
];

fn main() {
    let attrs = tauri_build::Attributes::new()
        .config_path("../tauri.conf.json")
        .app_manifest(tauri_build::AppManifest::new().commands(COMMANDS));
    if let Err(e) = tauri_build::try_build(attrs) {
        panic!("tauri build configuration (../tauri.conf.json): {e:#}");
    }
}
