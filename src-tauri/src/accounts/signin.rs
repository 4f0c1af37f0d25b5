//! Browser sign-in: starting a transaction, finishing it from a callback exactly once (S7, S8),
//! cancelling it, and forgetting abandoned ones.

use crate::provider::ProviderSpec;

use super::{oauth_user_error, AccountView, Accounts, LoginOptions, LOCK_WAIT};
use crate::errors::{ExitClass, UserError};
use crate::oauth::loopback::Loopback;
use crate::oauth::{OAuthError, Transaction};
use crate::provider::RedirectKind;
use crate::secret::Secret;
use crate::vault::index::AccountKind;
use crate::vault::VaultError;
use crate::{oauth, vault};

/// A started sign-in.
pub struct LoginStart {
    /// Non-secret handle of the transaction.
    pub handle: String,
    /// Provider display name.
    pub provider_name: String,
    /// The URL to open in the browser (secret: it carries state and challenge).
    pub authorize_url: Secret,
    /// The listener when the redirect is loopback; the caller serves it.
    pub loopback: Option<Loopback>,
    /// When the transaction expires, unix seconds.
    pub expires: i64,
}

/// True when `state` belongs to a sign-in listed as waiting in `idx` and not yet expired.
pub fn is_pending_in(idx: &crate::vault::index::Index, state: &str) -> bool {
    let handle = oauth::handle_for_state(state);
    let now = crate::clock::now();
    idx.pending
        .iter()
        .any(|p| p.handle == handle && p.expires > now)
}

impl Accounts {
    /// Starts a sign-in: a new transaction stored in the vault, and the URL to open.
    pub async fn begin_login(
        &self,
        provider_id: &str,
        opts: LoginOptions,
    ) -> Result<LoginStart, UserError> {
        let p = self.provider(provider_id)?;
        if let Some(old) = &opts.reauth_of {
            self.replaceable(old, &p.id, AccountKind::Oauth)?;
        }
        let dynamic =
            opts.client_id.is_none() && p.client_id.is_none() && p.registration_url.is_some();
        // Dynamically registered clients are limited to loopback redirects.
        let kind = if dynamic {
            RedirectKind::Loopback
        } else {
            opts.redirect.unwrap_or(p.redirect)
        };
        let loopback = match kind {
            RedirectKind::Loopback => Some(Loopback::bind().map_err(|e| {
                UserError::new(
                    "loopback",
                    format!("Could not listen on 127.0.0.1 for the sign-in ({e})."),
                    "Try again; if it persists, check your firewall.",
                    ExitClass::Other,
                )
            })?),
            RedirectKind::Scheme => None,
        };
        let redirect = p.redirect_uri(kind, loopback.as_ref().map(Loopback::port));
        let client = self.client_for(&p, opts.client_id.as_deref()).await?;
        let scopes = self.scopes_for_sign_in(&p, &opts);
        let mut begun = oauth::begin(&p, &client, &redirect, &scopes, crate::clock::now())
            .map_err(|e| oauth_user_error(e, &p.id))?;
        begun.transaction.label = opts.label.clone();
        begun.transaction.reauth_of = opts.reauth_of.clone();
        // RFC 9126: push the request first where the server takes pushed requests; its errors
        // are shown before any browser opens.
        begun.authorize_url = oauth::push(&self.http()?, &p, &client, &begun)
            .await
            .map_err(|e| sign_in_error(e, &p, &scopes))?;
        let tx = begun.transaction.clone();
        let expires = tx.expires;
        let handle = tx.handle.clone();
        self.prune_pending().await?;
        self.blocking(move |v| {
            let json = Secret::new(serde_json::to_string(&tx).map_err(|_| VaultError::BadRecord)?);
            v.put_secret(&vault::pending_key(&tx.handle), &json)?;
            v.update_index(|idx| {
                idx.pending.push(crate::vault::index::PendingNote {
                    handle: tx.handle.clone(),
                    provider: tx.provider.clone(),
                    expires: tx.expires,
                });
            })
        })
        .await?;
        tracing::info!(provider = %p.id, redirect = ?kind, "sign-in started");
        Ok(LoginStart {
            handle,
            provider_name: p.name,
            authorize_url: begun.authorize_url,
            loopback,
            expires,
        })
    }

    /// Forgets sign-ins that were abandoned (timed out, cancelled, Ctrl-C, window closed):
    /// their state and verifier leave the credential store with their index note.
    pub async fn prune_pending(&self) -> Result<(), UserError> {
        self.blocking(|v| {
            let now = crate::clock::now();
            let stale: Vec<String> = v
                .index()?
                .pending
                .iter()
                .filter(|p| p.expires <= now)
                .map(|p| p.handle.clone())
                .collect();
            if stale.is_empty() {
                return Ok(());
            }
            for h in &stale {
                v.delete_secret(&vault::pending_key(h))?;
            }
            v.update_index(|idx| idx.pending.retain(|p| !stale.contains(&p.handle)))?;
            tracing::info!(count = stale.len(), "forgot abandoned sign-ins");
            Ok(())
        })
        .await
    }

    /// Uses a pending transaction at most once (S7, S8): lock, read, delete. A state that no
    /// sign-in is waiting for touches nothing on disk, not even a lock file.
    async fn take_transaction(&self, state: &Secret) -> Result<Transaction, OAuthError> {
        let handle = oauth::handle_for_state(state.expose());
        let listed = self
            .vault
            .index()
            .is_ok_and(|i| i.pending.iter().any(|p| p.handle == handle));
        if !listed {
            return Err(OAuthError::UnknownState);
        }
        let state = state.clone();
        let v = self.vault.clone();
        let r = tokio::task::spawn_blocking(move || -> Result<Option<Transaction>, VaultError> {
            let lock_name = format!("pending-{handle}");
            let _lock = v.lock_account_blocking(&lock_name, LOCK_WAIT)?;
            let key = vault::pending_key(&handle);
            let Some(raw) = v.get_secret(&key)? else {
                return Ok(None);
            };
            let tx: Transaction =
                serde_json::from_str(raw.expose()).map_err(|_| VaultError::BadRecord)?;
            if tx.state != state {
                return Ok(None);
            }
            v.delete_secret(&key)?;
            v.update_index(|idx| idx.pending.retain(|p| p.handle != handle))?;
            v.forget_lock_file(&lock_name);
            Ok(Some(tx))
        })
        .await;
        match r {
            Ok(Ok(Some(tx))) if tx.expires < crate::clock::now() => Err(OAuthError::Expired),
            Ok(Ok(Some(tx))) => Ok(tx),
            _ => Err(OAuthError::UnknownState),
        }
    }

    /// Finishes a sign-in from a callback URL (deep link or loopback). An unknown, used or
    /// expired state changes nothing and makes no request (S8).
    pub async fn complete_login(&self, url: &str) -> Result<AccountView, UserError> {
        let cb = oauth::parse_callback(url).map_err(|e| oauth_user_error(e, ""))?;
        let Some(state) = cb.state.as_ref() else {
            return Err(oauth_user_error(OAuthError::UnknownState, ""));
        };
        let tx = self
            .take_transaction(state)
            .await
            .map_err(|e| oauth_user_error(e, ""))?;
        let p = self.provider(&tx.provider)?;
        let code = oauth::check_callback(&tx, &cb, &p.name)
            .map_err(|e| sign_in_error(e, &p, &tx.scopes))?;
        // The code goes only where the provider pointed when the sign-in began.
        if tx
            .destinations
            .as_ref()
            .is_some_and(|d| *d != p.destinations())
        {
            return Err(UserError::new(
                "provider_changed",
                format!("{}'s settings changed while you were signing in, so Latchkey did not use the answer.", p.name),
                format!("Sign in again: latchkey login {}", p.id),
                ExitClass::Other,
            ));
        }
        let client = self.client_for(&p, Some(&tx.client_id)).await?;
        let now = crate::clock::now();
        // The key whose thumbprint the authorization request carried (dpop_jkt).
        let dpop = match &tx.dpop_key {
            Some(k) => Some(oauth::dpop::DpopKey::from_secret(k).map_err(|m| {
                sign_in_error(
                    OAuthError::Dpop {
                        provider: p.name.clone(),
                        problem: m,
                    },
                    &p,
                    &tx.scopes,
                )
            })?),
            None => oauth::dpop_key_for(&p).map_err(|e| sign_in_error(e, &p, &tx.scopes))?,
        };
        let rec = oauth::exchange_code(&self.http()?, &p, &client, &tx, &code, dpop.as_ref(), now)
            .await
            .map_err(|e| sign_in_error(e, &p, &tx.scopes))?;
        let claims = self.check_resource_accepts(&p, &client, &rec).await?;
        let identity = self
            .identity(&p, &rec, &tx.client_id)
            .await
            .with_claims(claims.as_ref());
        let opts = LoginOptions {
            label: tx.label.clone(),
            reauth_of: tx.reauth_of.clone(),
            ..Default::default()
        };
        self.save_signed_in(&p, rec, identity, &tx.client_id, opts)
            .await
    }

    /// Cancels a pending sign-in: deletes its transaction so a late callback does nothing.
    pub async fn cancel_login(&self, handle: &str) -> Result<(), UserError> {
        let handle = handle.to_string();
        self.blocking(move |v| {
            v.delete_secret(&vault::pending_key(&handle))?;
            v.update_index(|idx| idx.pending.retain(|p| p.handle != handle))
        })
        .await
    }
}

/// A sign-in's error in plain words; a refused scope names what was asked and what the
/// server lists, and how to choose.
pub(super) fn sign_in_error(e: OAuthError, p: &ProviderSpec, asked: &[String]) -> UserError {
    if e.code() != "invalid_scope" {
        return oauth_user_error(e, &p.id);
    }
    let asked = if asked.is_empty() {
        "(none)".to_string()
    } else {
        asked.join(" ")
    };
    let detail = match &e {
        OAuthError::Provider {
            description: Some(d),
            ..
        } => format!(" ({d})"),
        _ => String::new(),
    };
    let listed = if p.scopes_supported.is_empty() {
        String::new()
    } else {
        format!(" It lists: {}.", p.scopes_supported.join(" "))
    };
    UserError::new(
        "invalid_scope",
        format!("{} refused the scopes Latchkey asked for: {asked}{detail}.", p.name),
        format!("{listed} Choose the scopes yourself: latchkey login {} --scope SCOPE (repeatable), or the Scopes field under \"Another service…\" in the app.", p.id).trim().to_string(),
        ExitClass::Other,
    )
}
