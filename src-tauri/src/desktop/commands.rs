//! Thin IPC commands. None returns a token (S22); errors arrive as `{code, message, fix}`.

use super::AppState;
use crate::accounts::AccountView;
use crate::errors::UserError;
use serde::Serialize;
use std::sync::Arc;
use tauri::State;

/// What the window needs to know about the app itself.
#[derive(Serialize)]
pub struct AppInfo {
    version: &'static str,
    data_dir: String,
    store: Option<String>,
}

/// Version, data dir and where secrets are kept.
#[tauri::command]
pub fn app_info(state: State<'_, Arc<AppState>>) -> AppInfo {
    AppInfo {
        version: env!("CARGO_PKG_VERSION"),
        data_dir: crate::paths::data_dir().display().to_string(),
        store: state
            .accounts
            .as_ref()
            .ok()
            .map(|a| a.vault().store_description().to_string()),
    }
}

/// Every connected account, without tokens.
#[tauri::command]
pub async fn list_accounts(state: State<'_, Arc<AppState>>) -> Result<Vec<AccountView>, UserError> {
    let accounts = state.accounts.clone()?;
    tauri::async_runtime::spawn_blocking(move || accounts.list())
        .await
        .map_err(|_| {
            UserError::new(
                "internal",
                "Latchkey hit an internal error.",
                "Try again.",
                crate::errors::ExitClass::Other,
            )
        })?
}
