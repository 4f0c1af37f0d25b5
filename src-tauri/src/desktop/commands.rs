//! Thin IPC commands. Only `reveal_token` returns a token (S22); errors arrive as
//! `{code, message, fix}`. Each command is also listed in build.rs and the capability.

use super::{accounts_changed, open_browser, state, AppState, PendingLogin};
use crate::accounts::{AccountDetails, AccountView, ApiResponse, LoginOptions, RemovalReport};
use crate::errors::{ExitClass, UserError};
use crate::provider::RedirectKind;
use crate::secret::Secret;
use crate::vault::index::Settings;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;
use tauri::{AppHandle, State};

type Shared<'a> = State<'a, Arc<AppState>>;

fn accounts(s: &AppState) -> Result<crate::accounts::Accounts, UserError> {
    s.accounts.clone()
}

fn bad(msg: &str) -> UserError {
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
}

/// Version, data dir, where secrets are kept, and a start-up problem if any.
#[tauri::command]
pub fn app_info(state: Shared<'_>) -> AppInfo {
    AppInfo {
        version: env!("CARGO_PKG_VERSION"),
        data_dir: crate::paths::data_dir().display().to_string(),
        store: state
            .accounts
            .as_ref()
            .ok()
            .map(|a| a.vault().store_description().to_string()),
        redirect_uri: crate::provider::SCHEME_REDIRECT,
        loopback_redirect: "http://127.0.0.1/callback",
        problem: state.accounts.as_ref().err().cloned(),
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

/// Options from the add-account view.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct BeginLogin {
    provider: String,
    client_id: Option<String>,
    client_secret: Option<String>,
    redirect: Option<String>,
    reauth_of: Option<String>,
    label: Option<String>,
    issuer: Option<String>,
    /// Space-separated scopes from the "Other…" form; the provider's defaults when empty.
    scopes: Option<String>,
}

/// The waiting view's data. No URL, no state (S19).
#[derive(Serialize)]
pub struct LoginStarted {
    handle: String,
    provider_name: String,
    expires: i64,
    browser_error: Option<String>,
}

/// Starts a sign-in; the authorization URL is built and opened in Rust (S1, S21).
#[tauri::command]
pub async fn begin_login(
    app: AppHandle,
    state: Shared<'_>,
    options: BeginLogin,
) -> Result<LoginStarted, UserError> {
    let a = accounts(&state)?;
    let mut provider_id = options.provider.clone();
    let mut client_id = None;
    if let Some(issuer) = options
        .issuer
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        // An API's address (RFC 9728) or a sign-in server's: the accounts service tells.
        (provider_id, client_id) = a
            .add_provider_by_address(issuer, options.client_id.as_deref())
            .await?;
    } else if let Some(client_id) = options
        .client_id
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        // "Use my own OAuth app": remember the client for this provider.
        let redirect = match options.redirect.as_deref() {
            Some("scheme") => RedirectKind::Scheme,
            _ => RedirectKind::Loopback,
        };
        let secret = options
            .client_secret
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(Secret::new);
        a.set_own_client(&provider_id, client_id, secret, redirect)
            .await?;
    }
    let opts = LoginOptions {
        reauth_of: options.reauth_of.clone(),
        label: options.label.clone(),
        client_id,
        scopes: options
            .scopes
            .as_deref()
            .unwrap_or("")
            .split_whitespace()
            .map(str::to_string)
            .collect(),
        ..Default::default()
    };
    let start = a.begin_login(&provider_id, opts).await?;
    let handle = start.handle.clone();
    let wait = Duration::from_secs((start.expires - crate::now()).max(1) as u64);
    let task = {
        let app = app.clone();
        let handle = handle.clone();
        match start.loopback {
            Some(lb) => tauri::async_runtime::spawn(async move {
                let h = handle.clone();
                let url = lb
                    .serve_until_callback(wait, move |u| {
                        crate::oauth::parse_callback(u)
                            .ok()
                            .and_then(|cb| cb.state)
                            .is_some_and(|s| crate::oauth::handle_for_state(s.expose()) == h)
                    })
                    .await;
                match url {
                    Some((u, reply)) => {
                        let outcome = super::complete_callback(&app, &u).await;
                        reply.send(outcome).await;
                    }
                    None => expire(&app, &handle).await,
                }
            }),
            None => tauri::async_runtime::spawn(async move {
                tokio::time::sleep(wait).await;
                expire(&app, &handle).await;
            }),
        }
    };
    // Registered (and its listener serving) before the browser opens: a fast browser can
    // deliver the callback before this command even returns.
    let url = start.authorize_url.clone();
    state.logins.lock().map_err(|_| bad("busy"))?.insert(
        handle.clone(),
        PendingLogin {
            provider_name: start.provider_name.clone(),
            authorize_url: start.authorize_url,
            task: Some(task),
        },
    );
    let browser_error = open_browser(&app, &url).err();
    if let Some(e) = &browser_error {
        tracing::warn!(error = %e, "the browser did not open; the window offers Copy link");
    }
    Ok(LoginStarted {
        handle,
        provider_name: start.provider_name,
        expires: start.expires,
        browser_error,
    })
}

/// A sign-in ran out of time: its state and verifier leave the keyring, and the window hears.
async fn expire(app: &AppHandle, handle: &str) {
    let st = state(app);
    if let Ok(a) = &st.accounts {
        if let Err(e) = a.cancel_login(handle).await {
            tracing::warn!(code = %e.code, "could not forget an expired sign-in; it is pruned later");
        }
    }
    let was_pending = st
        .logins
        .lock()
        .map(|mut l| l.remove(handle).is_some())
        .unwrap_or(false);
    if was_pending {
        let e = UserError::new(
            "login_expired",
            "The sign-in took longer than 10 minutes and expired.",
            "Click Try again to start over.",
            ExitClass::Other,
        );
        super::emit_event(
            app,
            super::EVT_LOGIN_FINISHED,
            super::LoginFinished {
                handle: handle.into(),
                account: None,
                error: Some(e),
            },
        );
    }
}

/// Cancels a pending sign-in: its transaction is deleted, so a late callback does nothing.
#[tauri::command]
pub async fn cancel_login(state: Shared<'_>, handle: String) -> Result<(), UserError> {
    super::links::finish_pending(&state, &handle);
    accounts(&state)?.cancel_login(&handle).await
}

/// The link and provider name of a sign-in the window is still waiting for.
fn pending_login(state: &AppState, handle: &str) -> Result<(Secret, String), UserError> {
    let logins = state.logins.lock().map_err(|_| bad("busy"))?;
    let p = logins.get(handle).ok_or_else(|| {
        UserError::new(
            "login_gone",
            "That sign-in is no longer waiting.",
            "Start the sign-in again.",
            ExitClass::Other,
        )
    })?;
    Ok((p.authorize_url.clone(), p.provider_name.clone()))
}

fn clipboard_error(m: String) -> UserError {
    UserError::new(
        "clipboard",
        format!("Could not copy: {m}"),
        "Try again.",
        ExitClass::Other,
    )
}

/// Copies the pending sign-in's link (for a browser on another profile or machine).
#[tauri::command]
pub fn copy_login_link(state: Shared<'_>, handle: String) -> Result<(), UserError> {
    let (url, _) = pending_login(&state, &handle)?;
    let clear = clear_after(&state);
    state.clipboard.copy(&url, clear).map_err(clipboard_error)
}

/// Opens the pending sign-in's link in the browser again.
#[tauri::command]
pub fn open_login_again(
    app: AppHandle,
    state: Shared<'_>,
    handle: String,
) -> Result<(), UserError> {
    let (url, name) = pending_login(&state, &handle)?;
    open_browser(&app, &url).map_err(|m| {
        UserError::new(
            "browser_failed",
            format!("Couldn't open your browser to sign in to {name}: {m}."),
            "Click Copy link and paste it into your browser.",
            ExitClass::Other,
        )
    })
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

fn clear_after(state: &AppState) -> Duration {
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

/// What the window shows for a sign-in on another device (RFC 8628). The user code is meant
/// to be read and typed by the person; the device code never leaves Rust.
#[derive(Serialize)]
pub struct DeviceLoginStarted {
    handle: String,
    provider_name: String,
    user_code: String,
    verification_uri: String,
    verification_uri_complete: Option<String>,
    expires: i64,
}

type DeviceReply = tokio::sync::oneshot::Sender<Result<DeviceLoginStarted, UserError>>;

/// "Sign in on another device": starts the device flow and answers with the code to show;
/// polling goes on in the background and ends with `login-finished` like a browser sign-in.
#[tauri::command]
pub async fn begin_device_login(
    app: AppHandle,
    state: Shared<'_>,
    provider: String,
) -> Result<DeviceLoginStarted, UserError> {
    let a = accounts(&state)?;
    let provider_name = a.provider(&provider)?.name;
    let handle = {
        use rand::RngCore;
        let mut b = [0u8; 16];
        rand::rng().fill_bytes(&mut b);
        b.iter().map(|x| format!("{x:02x}")).collect::<String>()
    };
    let (tx, rx) = tokio::sync::oneshot::channel();
    let reply: Arc<std::sync::Mutex<Option<DeviceReply>>> =
        Arc::new(std::sync::Mutex::new(Some(tx)));
    state.logins.lock().map_err(|_| bad("busy"))?.insert(
        handle.clone(),
        PendingLogin {
            provider_name: provider_name.clone(),
            authorize_url: Secret::new(String::new()),
            task: None,
        },
    );
    let task = {
        let (app, handle, reply, name) =
            (app.clone(), handle.clone(), reply.clone(), provider_name);
        tauri::async_runtime::spawn(async move {
            let shown = reply.clone();
            let h = handle.clone();
            let r = a
                .device_login(&provider, LoginOptions::default(), move |start| {
                    if let Some(tx) = shown.lock().ok().and_then(|mut s| s.take()) {
                        let _ = tx.send(Ok(DeviceLoginStarted {
                            handle: h,
                            provider_name: name,
                            user_code: start.user_code.clone(),
                            verification_uri: start.verification_uri.clone(),
                            verification_uri_complete: start.verification_uri_complete.clone(),
                            expires: start.expires,
                        }));
                    }
                })
                .await;
            // Failed before there was a code to show: the command answers with the error.
            let unshown = reply.lock().ok().and_then(|mut s| s.take());
            match (r, unshown) {
                (Err(e), Some(tx)) => {
                    let _ = tx.send(Err(e));
                    super::links::finish_pending(&super::state(&app), &handle);
                }
                (r, _) => {
                    super::links::finish_pending(&super::state(&app), &handle);
                    if r.is_ok() {
                        accounts_changed(&app);
                    }
                    let (account, error) = match r {
                        Ok(v) => (Some(v), None),
                        Err(e) => (None, Some(e)),
                    };
                    let app = &app;
                    super::emit_event(
                        app,
                        super::EVT_LOGIN_FINISHED,
                        super::LoginFinished {
                            handle,
                            account,
                            error,
                        },
                    );
                }
            }
        })
    };
    if let Some(p) = state
        .logins
        .lock()
        .map_err(|_| bad("busy"))?
        .get_mut(&handle)
    {
        p.task = Some(task);
    }
    rx.await.map_err(|_| bad("the device sign-in stopped"))?
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
            Secret::new(client_secret),
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
    let token = accounts(&state)?.fresh_token(&id, 60).await;
    accounts_changed(&app);
    let token = token?;
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
    let t = accounts(&state)?.fresh_token(&id, 60).await?;
    tracing::info!(account = %id, "token revealed at the person's request");
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
    let was = a.vault().index()?.settings.start_at_login;
    if was != settings.start_at_login {
        super::set_start_at_login(&app, settings.start_at_login).map_err(|m| {
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
        // S21: the browser command runs programs, so the webview can't set it; only
        // `latchkey config browser` (or LATCHKEY_BROWSER) can.
        let browser = idx.settings.browser_command.take();
        idx.settings = settings;
        idx.settings.tray_hint_shown = hint;
        idx.settings.browser_command = browser;
        idx.settings.refresh_margin_secs = idx.settings.refresh_margin_secs.clamp(60, 3600);
    })?;
    Ok(())
}
