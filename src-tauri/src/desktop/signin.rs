//! The sign-in commands: a browser sign-in (scheme link or loopback), cancelling it, its link
//! copied or opened again, and a sign-in on another device. The authorization URL is built
//! and opened in Rust (S1, S21); nothing the window receives carries a secret.

use super::commands::{accounts, bad, clear_after, clipboard_error, Shared};
use super::state::{emit_event, state, AppState, LoginFinished, PendingLogin, EVT_LOGIN_FINISHED};
use super::tray::accounts_changed;
use crate::accounts::LoginOptions;
use crate::errors::{ExitClass, UserError};
use crate::provider::RedirectKind;
use crate::secret::Secret;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;
use tauri::AppHandle;

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
    /// The sign-in server the person agreed to in the window's confirmation (F1).
    confirmed_server: Option<String>,
    /// "Another service…" → Advanced: the API's metadata address, when the person knows it.
    resource_metadata: Option<String>,
    /// "Another service…" → Advanced: require DPoP (RFC 9449) for this service.
    require_dpop: Option<bool>,
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
        let confirm = options.confirmed_server.clone().map_or(
            crate::accounts::Confirm::Ask,
            crate::accounts::Confirm::Server,
        );
        let wanted_client = options
            .client_id
            .as_deref()
            .map(str::trim)
            .filter(|c| !c.is_empty());
        match options
            .resource_metadata
            .as_deref()
            .map(str::trim)
            .filter(|m| !m.is_empty())
        {
            Some(meta) => {
                provider_id = a
                    .add_resource_provider(issuer, Some(meta), true, &confirm)
                    .await?;
                client_id = wanted_client.map(str::to_string);
            }
            None => {
                (provider_id, client_id) = a
                    .add_provider_by_address(issuer, wanted_client, &confirm)
                    .await?;
            }
        }
        if options.require_dpop == Some(true) {
            a.require_dpop(&provider_id)?;
        }
        // A confidential client's secret (Advanced), kept in the store for that client.
        let secret = options
            .client_secret
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty());
        if let (Some(secret), Some(cid)) = (secret, wanted_client) {
            a.keep_client_secret(&provider_id, cid, Secret::new(secret))
                .await?;
        }
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
    let wait = Duration::from_secs((start.expires - crate::clock::now()).max(1) as u64);
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
                        let outcome = super::links::complete_callback(&app, &u).await;
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
        emit_event(
            app,
            EVT_LOGIN_FINISHED,
            LoginFinished {
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
    let handle = crate::secret::random_bytes::<16>()?
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect::<String>();
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
                    super::links::finish_pending(&super::state::state(&app), &handle);
                }
                (r, _) => {
                    super::links::finish_pending(&super::state::state(&app), &handle);
                    if r.is_ok() {
                        accounts_changed(&app);
                    }
                    let (account, error) = match r {
                        Ok(v) => (Some(v), None),
                        Err(e) => (None, Some(e)),
                    };
                    let app = &app;
                    emit_event(
                        app,
                        EVT_LOGIN_FINISHED,
                        LoginFinished {
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
