//! Thin IPC commands for accounts and settings (the sign-in ones are in `signin.rs`). Only
//! `reveal_token` returns a token (S22); errors arrive as `{code, message, fix}`. Each
//! command is also listed in build.rs and the capability.

use super::state::AppState;
use super::tray::accounts_changed;
use crate::accounts::{AccountDetails, AccountView, ApiResponse, RemovalReport};
use crate::errors::{ExitClass, UserError};
use crate::provider::RedirectKind;
use crate::secret::Secret;
use crate::vault::index::Settings;
use serde::Serialize;
use std::sync::Arc;
use std::time::Duration;
use tauri::{AppHandle, State};

pub(super) type Shared<'a> = State<'a, Arc<AppState>>;

pub(super) fn accounts(s: &AppState) -> Result<crate::accounts::Accounts, UserError> {
    s.accounts.clone()
}

pub(super) fn bad(msg: &str) -> UserError {
    UserError::new("internal", msg, "Try again.", ExitClass::Other)
}

/// What the window needs to know about the app itself.
#[derive(Serialize)]
pub struct AppInfo {
    version: &'static str,
    data_dir: String,
    store: Option<String>,
    redirect_uri: &'static str,
    loopback_redirect: &'static str,
    problem: Option<UserError>,
    /// Extra trusted certificate authorities, in words (F9).
    trust_note: Option<String>,
}

/// Version, data dir, where secrets are kept, and a start-up problem if any. Async, and the
/// index read on a blocking thread: a sync command runs on the main thread, which at start-up
/// is also serving the page its modules (the window asks for this before they have arrived).
#[tauri::command]
pub async fn app_info(state: Shared<'_>) -> Result<AppInfo, UserError> {
    let s = state.inner().clone();
    tauri::async_runtime::spawn_blocking(move || info_of(&s))
        .await
        .map_err(|_| bad("could not read the app's settings"))
}

fn info_of(state: &AppState) -> AppInfo {
    AppInfo {
        version: env!("CARGO_PKG_VERSION"),
        data_dir: crate::paths::data_dir()
            .map_or_else(|| "(none)".into(), |d| d.display().to_string()),
        store: state
            .accounts
            .as_ref()
            .ok()
            .map(|a| a.vault().store_description().to_string()),
        redirect_uri: crate::provider::SCHEME_REDIRECT,
        loopback_redirect: "http://127.0.0.1/callback",
        problem: state.accounts.as_ref().err().cloned(),
        trust_note: state
            .accounts
            .as_ref()
            .ok()
            .and_then(|a| a.vault().index().ok())
            .map_or_else(crate::oauth::http::trust_note, |idx| {
                crate::oauth::network::trust_note(&idx.settings.network)
            }),
    }
}

/// Every connected account, without tokens.
#[tauri::command]
pub async fn list_accounts(state: Shared<'_>) -> Result<Vec<AccountView>, UserError> {
    let a = accounts(&state)?;
    tauri::async_runtime::spawn_blocking(move || a.list())
        .await
        .map_err(|_| bad("list failed"))?
}

/// A provider as the add-account view shows it.
#[derive(Serialize)]
pub struct ProviderInfo {
    id: String,
    name: String,
    supports_pat: bool,
    pat_help: Option<String>,
    one_click: bool,
    has_client: bool,
    presets: Vec<crate::provider::ApiPreset>,
    api_base: Option<String>,
    redirect_scheme: String,
    redirect_loopback: String,
    /// The browser sign-in works as is (one click, or a client is set up).
    browser_ready: bool,
    /// Machine access (client credentials) can be offered.
    machine: bool,
    /// "Sign in on another device" (RFC 8628) can be offered.
    device: bool,
    /// How to register one's own OAuth app there, step by step.
    app_help: Option<String>,
}

/// Built-in providers first (Taskade leads), then the person's own.
#[tauri::command]
pub fn list_providers(state: Shared<'_>) -> Result<Vec<ProviderInfo>, UserError> {
    let a = accounts(&state)?;
    let regs = a.vault().index()?.registrations;
    Ok(a.providers()?
        .into_iter()
        .map(|p| ProviderInfo {
            one_click: p.client_id.is_none() && p.registration_url.is_some(),
            has_client: p.client_id.is_some() || regs.contains_key(&p.id),
            browser_ready: p.client_id.is_some()
                || p.registration_url.is_some()
                || regs.contains_key(&p.id),
            machine: crate::accounts::offers_client_credentials(&p),
            device: crate::oauth::offers_device_flow(&p)
                && (p.client_id.is_some()
                    || p.registration_url.is_some()
                    || regs.contains_key(&p.id)),
            app_help: p.app_help.clone(),
            redirect_scheme: p.redirect_uri(RedirectKind::Scheme, None),
            redirect_loopback: p.redirect_uri(RedirectKind::Loopback, None),
            id: p.id,
            name: p.name,
            supports_pat: p.supports_pat,
            pat_help: p.pat_help,
            presets: p.presets,
            api_base: p.api_bases.first().cloned(),
        })
        .collect())
}

pub(super) fn clipboard_error(m: String) -> UserError {
    UserError::new(
        "clipboard",
        format!("Could not copy: {m}"),
        "Try again.",
        ExitClass::Other,
    )
}

/// Adds a pasted personal token after one validating API call.
#[tauri::command]
pub async fn add_token(
    app: AppHandle,
    state: Shared<'_>,
    provider: String,
    token: String,
    label: Option<String>,
) -> Result<AccountView, UserError> {
    let v = accounts(&state)?
        .add_token(
            &provider,
            Secret::new(token),
            label.filter(|l| !l.trim().is_empty()),
        )
        .await?;
    accounts_changed(&app);
    Ok(v)
}

pub(super) fn clear_after(state: &AppState) -> Duration {
    let secs = state
        .accounts
        .as_ref()
        .ok()
        .and_then(|a| a.vault().index().ok())
        .map_or(30, |i| i.settings.clipboard_clear_secs);
    Duration::from_secs(secs)
}

/// What the toast says after a copy.
#[derive(Serialize)]
pub struct Copied {
    clear_after_secs: u64,
}

/// Adds a machine account (client credentials) from "Use my own OAuth app". The secret goes
/// to the credential store; nothing secret comes back.
#[tauri::command]
pub async fn add_machine_account(
    app: AppHandle,
    state: Shared<'_>,
    provider: String,
    client_id: String,
    client_secret: String,
    scopes: Option<String>,
    label: Option<String>,
) -> Result<AccountView, UserError> {
    let scopes = scopes
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_string)
        .collect();
    let v = accounts(&state)?
        .add_client_credentials(
            &provider,
            &client_id,
            Some(Secret::new(client_secret)),
            scopes,
            label.filter(|l| !l.trim().is_empty()),
        )
        .await?;
    accounts_changed(&app);
    Ok(v)
}

/// Copies a fresh token to the clipboard in Rust, marked sensitive (S22).
#[tauri::command]
pub async fn copy_token(
    app: AppHandle,
    state: Shared<'_>,
    id: String,
) -> Result<Copied, UserError> {
    let a = accounts(&state)?;
    let token = a.fresh_token(&id, 60).await;
    accounts_changed(&app);
    let token = token?;
    // The person's own Copy: allowed under every policy, and recorded as theirs.
    let program = crate::platform::caller::Program::you();
    a.record(&id, "copy", program, crate::activity::Decision::You);
    let clear = clear_after(&state);
    state
        .clipboard
        .copy(&token, clear)
        .map_err(clipboard_error)?;
    Ok(Copied {
        clear_after_secs: clear.as_secs(),
    })
}

/// The one command that returns a raw token: the explicit, confirmed "Reveal" (S22).
#[tauri::command]
pub async fn reveal_token(state: Shared<'_>, id: String) -> Result<String, UserError> {
    let a = accounts(&state)?;
    let t = a.fresh_token(&id, 60).await?;
    tracing::info!(account = %id, "token revealed at the person's request");
    let program = crate::platform::caller::Program::you();
    a.record(&id, "reveal", program, crate::activity::Decision::You);
    Ok(t.expose().to_string())
}

/// Refreshes one account now.
#[tauri::command]
pub async fn refresh_account(
    app: AppHandle,
    state: Shared<'_>,
    id: String,
) -> Result<(), UserError> {
    if let Some(r) = &state.refresher {
        r.reset(&id);
    }
    let r = accounts(&state)?.refresh_now(&id).await.map(|_| ());
    accounts_changed(&app);
    r
}

/// Revokes and wipes; the report says which happened (S17).
#[tauri::command]
pub async fn remove_account(
    app: AppHandle,
    state: Shared<'_>,
    id: String,
) -> Result<RemovalReport, UserError> {
    let r = accounts(&state)?.remove(&id).await;
    accounts_changed(&app);
    r
}

/// Names an account.
#[tauri::command]
pub fn rename_account(
    app: AppHandle,
    state: Shared<'_>,
    id: String,
    label: String,
) -> Result<(), UserError> {
    accounts(&state)?.rename(&id, &label)?;
    accounts_changed(&app);
    Ok(())
}

/// The details view (no token; JWT claims decoded in Rust).
#[tauri::command]
pub async fn account_details(state: Shared<'_>, id: String) -> Result<AccountDetails, UserError> {
    let a = accounts(&state)?;
    tauri::async_runtime::spawn_blocking(move || a.details(&id))
        .await
        .map_err(|_| bad("details failed"))?
}

/// A test API call to the provider's own API (S11), with one refresh-and-retry on 401 (S16).
#[tauri::command]
pub async fn api_call(
    app: AppHandle,
    state: Shared<'_>,
    id: String,
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Option<String>,
) -> Result<ApiResponse, UserError> {
    let r = accounts(&state)?
        .api_call(&id, &method, &path, &headers, body.map(String::into_bytes))
        .await;
    accounts_changed(&app);
    r
}

/// The trusted roots and the proxy in use, for Settings → Network.
#[tauri::command]
pub fn network_report(
    state: Shared<'_>,
) -> Result<crate::oauth::network::NetworkReport, UserError> {
    let net = accounts(&state)?.vault().index()?.settings.network;
    Ok(crate::oauth::network::report(&net))
}

/// Current settings.
#[tauri::command]
pub fn get_settings(state: Shared<'_>) -> Result<Settings, UserError> {
    Ok(accounts(&state)?.vault().index()?.settings)
}

/// Saves settings from the settings view; "start at login" goes through the autostart plugin.
#[tauri::command]
pub fn set_settings(
    app: AppHandle,
    state: Shared<'_>,
    settings: Settings,
) -> Result<(), UserError> {
    let a = accounts(&state)?;
    settings.network.check().map_err(|why| {
        UserError::new(
            "bad_network_setting",
            crate::errors::capitalize(&why),
            "Nothing was saved. Correct it in Settings → Network, or clear it.",
            ExitClass::Other,
        )
    })?;
    let was = a.vault().index()?.settings.start_at_login;
    if was != settings.start_at_login {
        set_start_at_login(&app, settings.start_at_login).map_err(|m| {
            UserError::new(
                "autostart",
                format!("Couldn't change start at login: {m}"),
                "Check that your home folder's autostart folder is writable.",
                ExitClass::Other,
            )
        })?;
    }
    a.vault().update_index(|idx| {
        let hint = idx.settings.tray_hint_shown;
        let background_hint = idx.settings.background_hint_shown;
        // S21: the browser command runs programs, so the webview can't set it; only
        // `latchkey config browser` (or LATCHKEY_BROWSER) can.
        let browser = idx.settings.browser_command.take();
        idx.settings = settings;
        idx.settings.tray_hint_shown = hint;
        idx.settings.background_hint_shown = background_hint;
        idx.settings.browser_command = browser;
        idx.settings.refresh_margin_secs = idx.settings.refresh_margin_secs.clamp(60, 3600);
    })?;
    Ok(())
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
