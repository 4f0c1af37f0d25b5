//! Keeping tokens fresh: `fresh_token`, refresh under the account lock, and saving what the
//! provider answered before anything uses it (S14, S15).

use super::{needs_sign_in, needs_sign_in_for, oauth_user_error, Accounts, LOCK_WAIT};
use crate::errors::{ExitClass, UserError};
use crate::oauth::{OAuthError, RefreshOutcome};
use crate::provider::ProviderSpec;
use crate::secret::Secret;
use crate::vault::index::{AccountKind, AccountStatus, RefreshNote};
use crate::vault::TokenRecord;
use crate::{oauth, vault};

impl Accounts {
    /// A token valid for at least `min_valid` seconds, refreshing first if needed. Follows the
    /// read → lock → read again → refresh → save → release pattern (S14).
    pub async fn fresh_token(&self, id: &str, min_valid: i64) -> Result<Secret, UserError> {
        // One read of the index for both questions (`token` runs in scripts' loops).
        let idx = self.vault.index()?;
        let entry = idx
            .account(id)
            .cloned()
            .ok_or_else(|| super::unknown_account(id))?;
        // An account whose provider entry changed since sign-in hands out nothing, not even
        // a stored token that is still fresh (S24): `status` says its tokens go nowhere.
        if super::binding_broken(
            &entry,
            crate::provider::find(&entry.provider, &idx.providers).as_ref(),
        ) {
            return Err(super::provider_changed(id, &entry.provider));
        }
        let key = id.to_string();
        let rec = self.blocking(move |v| v.read_record(&key)).await?;
        let now = crate::clock::now();
        match &rec {
            // S15: once the grant is dead, no more refresh attempts until the person signs in.
            None => return Err(needs_sign_in_for(&entry)),
            Some(_) if entry.status == AccountStatus::NeedsSignIn => {
                return Err(needs_sign_in_for(&entry))
            }
            Some(r) if r.fresh_enough(min_valid, now) => return Ok(r.access_token.clone()),
            _ => {}
        }
        self.refresh_locked(id, Some(min_valid), None).await
    }

    /// Refreshes now, whatever the expiry ("Refresh now", `latchkey refresh`).
    pub async fn refresh_now(&self, id: &str) -> Result<Secret, UserError> {
        self.refresh_locked(id, None, None).await
    }

    /// After a server refused `rejected` (401 `invalid_token`): a new token, refreshed under
    /// the account's lock unless another process already replaced the rejected one while this
    /// one waited. N programs refused the same expired token make one refresh (S14).
    pub async fn refresh_rejected(&self, id: &str, rejected: &Secret) -> Result<Secret, UserError> {
        self.refresh_locked(id, None, Some(rejected)).await
    }

    async fn refresh_locked(
        &self,
        id: &str,
        min_valid: Option<i64>,
        rejected: Option<&Secret>,
    ) -> Result<Secret, UserError> {
        let lock = self
            .vault
            .lock_account(id, LOCK_WAIT)
            .await
            .map_err(UserError::from)?;
        let entry = self.account(id)?;
        let key = id.to_string();
        let Some(current) = self.blocking(move |v| v.read_record(&key)).await? else {
            return Err(needs_sign_in_for(&entry));
        };
        let now = crate::clock::now();
        if rejected.is_some_and(|r| r.expose() != current.access_token.expose())
            && entry.status != AccountStatus::NeedsSignIn
        {
            return Ok(current.access_token);
        }
        // Another process may have refreshed, or found the grant dead, while we waited.
        if let Some(m) = min_valid {
            if entry.status == AccountStatus::NeedsSignIn {
                return Err(needs_sign_in_for(&entry));
            }
            if current.fresh_enough(m, now) {
                return Ok(current.access_token);
            }
        }
        let p = self.bound_provider(&entry)?;
        if entry.kind == AccountKind::PersonalToken {
            return Ok(current.access_token);
        }
        let client = self.client_for(&p, entry.client_id.as_deref()).await?;
        let outcome = if entry.kind == AccountKind::ClientCredentials {
            // A machine account keeps its DPoP key across renewals.
            let key = match current
                .dpop_key
                .as_ref()
                .map(oauth::dpop::DpopKey::from_secret)
            {
                Some(Ok(k)) => Some(k),
                _ => oauth::dpop_key_for(&p).ok().flatten(),
            };
            match oauth::client_credentials(
                &self.http()?,
                &p,
                &client,
                &current.scopes,
                key.as_ref(),
                now,
            )
            .await
            {
                Ok(r) => RefreshOutcome::Refreshed(r),
                Err(e) if e.is_transient() => RefreshOutcome::Transient {
                    error: e,
                    retry_after: None,
                },
                Err(e) if e.needs_sign_in() => RefreshOutcome::NeedsSignIn(e),
                Err(e) => RefreshOutcome::Failed(e),
            }
        } else {
            oauth::refresh(&self.http()?, &p, &client, &current, now).await
        };
        self.apply_outcome(id, (&p, &client), current, outcome, lock, min_valid)
            .await
    }

    /// Saves what a refresh produced. New tokens are stored before they are returned, and
    /// the account's lock is released only once that write has settled (S14).
    async fn apply_outcome(
        &self,
        id: &str,
        (p, client): (&ProviderSpec, &oauth::ClientConfig),
        current: TokenRecord,
        outcome: RefreshOutcome,
        lock: vault::AccountLock,
        min_valid: Option<i64>,
    ) -> Result<Secret, UserError> {
        let now = crate::clock::now();
        let key = id.to_string();
        match outcome {
            RefreshOutcome::Refreshed(rec) => {
                // F6: removed while the provider answered (by a process that did not wait for
                // the lock): the new tokens are not written back; they are revoked.
                if self.vault.index()?.account(id).is_none() {
                    let _ = oauth::revoke(&self.http()?, p, client, &rec).await;
                    drop(lock);
                    return Err(UserError::new(
                        "unknown_account",
                        format!("Account {id} was removed while it was being refreshed."),
                        "Run `latchkey list` to see your accounts.",
                        ExitClass::Other,
                    ));
                }
                let token = rec.access_token.clone();
                let expires = rec.expires_at;
                let scopes = rec.scopes.clone();
                self.blocking(move |v| {
                    let _lock = v.write_record_holding(&key, &rec, lock)?;
                    v.update_index_batched(move |idx| {
                        if let Some(a) = idx.account_mut(&key) {
                            a.expires_at = expires;
                            a.scopes = scopes;
                            a.status = AccountStatus::Valid;
                            a.updated = now;
                            a.last_refresh = Some(RefreshNote {
                                at: now,
                                outcome: "refreshed".into(),
                                detail: None,
                            });
                        }
                    })
                })
                .await?;
                tracing::info!(account = %id, "refreshed");
                Ok(token)
            }
            RefreshOutcome::NeedsSignIn(e) => {
                let detail = e.to_string();
                self.blocking(move |v| {
                    v.update_index_batched(move |idx| {
                        if let Some(a) = idx.account_mut(&key) {
                            a.status = AccountStatus::NeedsSignIn;
                            a.updated = now;
                            a.last_refresh = Some(RefreshNote {
                                at: now,
                                outcome: "needs_sign_in".into(),
                                detail: Some(detail),
                            });
                        }
                    })
                })
                .await?;
                tracing::warn!(account = %id, code = %e.code(), "the provider refused the refresh; the account needs sign-in");
                Err(match self.account(id) {
                    Ok(entry) => needs_sign_in_for(&entry),
                    Err(_) => needs_sign_in(id, &p.id),
                })
            }
            RefreshOutcome::Transient { error, .. } | RefreshOutcome::Failed(error) => {
                let transient = error.is_transient()
                    || matches!(&error, OAuthError::Provider { code, .. } if code == "temporarily_unavailable" || code == "server_error");
                let detail = error.to_string();
                let status = if transient {
                    AccountStatus::Offline
                } else {
                    AccountStatus::Valid
                };
                self.blocking(move |v| {
                    v.update_index_batched(move |idx| {
                        if let Some(a) = idx.account_mut(&key) {
                            a.status = status;
                            a.updated = now;
                            a.last_refresh = Some(RefreshNote {
                                at: now,
                                outcome: "transient".into(),
                                detail: Some(detail),
                            });
                        }
                    })
                })
                .await?;
                tracing::warn!(account = %id, code = %error.code(), "refresh failed; tokens kept");
                // The stored token still works long enough: hand it out rather than fail.
                if current.fresh_enough(min_valid.unwrap_or(1), now) {
                    return Ok(current.access_token);
                }
                let left = current.expires_at.map_or(0, |e| e - now);
                match min_valid {
                    // It still works, but not for as long as the caller asked: say so.
                    Some(m) if left > 0 => Err(UserError::new(
                        "token_too_short",
                        format!("Couldn't refresh ({}); the stored token is valid for only {left} s, less than the {m} s asked for.", error),
                        format!("Try again when {} can be reached, or ask for less: --min-valid {}", p.name, left.max(1)),
                        ExitClass::Network,
                    )),
                    _ => Err(oauth_user_error(error, &p.id)),
                }
            }
        }
    }
}
