//! The desktop shell's shared state (the accounts service, the refresher, pending sign-ins,
//! the clipboard) and the events it sends the webview. Every other desktop file builds on it.

use super::clipboard;
use crate::accounts::{AccountView, Accounts};
use crate::errors::UserError;
use crate::refresh::Refresher;
use crate::secret::Secret;
use serde::Serialize;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tauri::{AppHandle, Emitter, Manager};

/// The main window's label.
pub const MAIN_WINDOW: &str = "main";
/// Event: the account list changed. Carries nothing.
pub const EVT_ACCOUNTS_CHANGED: &str = "accounts-changed";
/// Event: a sign-in finished (success or a plain-words error). Carries no secret.
pub const EVT_LOGIN_FINISHED: &str = "login-finished";

/// A sign-in the window is waiting for.
pub struct PendingLogin {
    pub(super) provider_name: String,
    pub(super) authorize_url: Secret,
    pub(super) task: Option<tauri::async_runtime::JoinHandle<()>>,
}

/// Shared state behind every IPC command.
pub struct AppState {
    /// `Ok` when the vault opened; otherwise the error the window shows.
    pub accounts: Result<Accounts, UserError>,
    /// The background refresher, when the vault opened.
    pub refresher: Option<Refresher>,
    pub(super) logins: Mutex<HashMap<String, PendingLogin>>,
    pub(super) clipboard: clipboard::SensitiveClipboard,
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
    pub(super) handle: String,
    pub(super) account: Option<AccountView>,
    pub(super) error: Option<UserError>,
}

pub(super) fn state(app: &AppHandle) -> Arc<AppState> {
    app.state::<Arc<AppState>>().inner().clone()
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
