//! Saving a signed-in account: the secret first, then the index, under the account's lock
//! (S14); identity lookup; which account a sign-in replaces.

use super::{new_account_id, view, AccountView, Accounts, LoginOptions, LOCK_WAIT};
use crate::errors::UserError;
use crate::oauth;
use crate::provider::{IdentitySource, ProviderSpec};
use crate::secret::Secret;
use crate::vault::index::{AccountEntry, AccountKind, AccountStatus};
use crate::vault::TokenRecord;

/// The non-secret facts about an account being saved.
pub(super) struct NewAccount {
    pub(super) identity: Option<String>,
    pub(super) label: Option<String>,
    pub(super) reauth_of: Option<String>,
    pub(super) kind: AccountKind,
    pub(super) client_id: Option<String>,
}

impl Accounts {
    /// Saves an OAuth sign-in (code, device or password grant). The client id is always kept
    /// on the account, so a later change of the provider's client (a re-added issuer, "Use
    /// my own OAuth app") never makes its refresh use another client.
    pub(super) async fn save_signed_in(
        &self,
        p: &ProviderSpec,
        rec: TokenRecord,
        identity: Option<String>,
        client_id_used: &str,
        opts: LoginOptions,
    ) -> Result<AccountView, UserError> {
        let explicit_client = Some(client_id_used.to_string());
        self.save_new(
            p,
            rec,
            NewAccount {
                identity,
                label: opts.label,
                reauth_of: opts.reauth_of,
                kind: AccountKind::Oauth,
                client_id: explicit_client,
            },
        )
        .await
    }

    /// Saves tokens for a new or re-authenticated account: secret first, then the index.
    pub(super) async fn save_new(
        &self,
        p: &ProviderSpec,
        rec: TokenRecord,
        new: NewAccount,
    ) -> Result<AccountView, UserError> {
        let NewAccount {
            identity,
            label,
            reauth_of,
            kind,
            client_id,
        } = new;
        let idx = self.vault.index()?;
        let existing = match reauth_of {
            Some(id) => Some(self.replaceable(&id, &p.id, kind)?),
            None => None,
        };
        let existing = existing.or_else(|| {
            identity.as_ref().and_then(|who| {
                idx.accounts
                    .iter()
                    .find(|a| {
                        a.provider == p.id && a.identity.as_deref() == Some(who) && a.kind == kind
                    })
                    .cloned()
            })
        });
        let now = crate::now();
        let entry = AccountEntry {
            id: existing
                .as_ref()
                .map_or_else(|| new_account_id(&p.id), |a| a.id.clone()),
            provider: p.id.clone(),
            label: label.or_else(|| existing.as_ref().and_then(|a| a.label.clone())),
            identity: identity.or_else(|| existing.as_ref().and_then(|a| a.identity.clone())),
            scopes: rec.scopes.clone(),
            expires_at: rec.expires_at,
            status: AccountStatus::Valid,
            kind,
            client_id: client_id.or_else(|| existing.as_ref().and_then(|a| a.client_id.clone())),
            created: existing.as_ref().map_or(now, |a| a.created),
            updated: now,
            last_refresh: None,
            binding: Some(p.destinations()),
        };
        let saved = entry.clone();
        // The same lock a refresh takes: a sign-in never overwrites a refresh in flight (S14).
        let lock = self
            .vault
            .lock_account(&entry.id, LOCK_WAIT)
            .await
            .map_err(UserError::from)?;
        self.blocking(move |v| v.add_account_holding(entry, &rec, lock))
            .await?;
        tracing::info!(account = %saved.id, provider = %p.id, "account saved");
        Ok(view(&saved, &idx.providers, now))
    }

    /// Looks up who a token belongs to. Failures are logged, not fatal.
    pub(super) async fn identity(&self, p: &ProviderSpec, token: &Secret) -> Option<String> {
        let url = match &p.identity {
            IdentitySource::TaskadePing => p.presets.first().and_then(|pre| p.api_url(&pre.path)),
            IdentitySource::Userinfo => p.userinfo_url.clone(),
            IdentitySource::GithubUser => p.api_url("user"),
            IdentitySource::None => None,
        }?;
        if !p.may_receive_token(&url) {
            return None;
        }
        let resp = self
            .http()
            .ok()?
            .get(&url, Some(token.expose()))
            .await
            .ok()?;
        if !resp.status().is_success() {
            tracing::warn!(status = resp.status().as_u16(), provider = %p.id, "identity lookup failed");
            return None;
        }
        let v: serde_json::Value = serde_json::from_slice(resp.body()).ok()?;
        ["handle", "login", "preferred_username", "email", "sub"]
            .iter()
            .find_map(|k| {
                v.get(k)
                    .and_then(|x| x.as_str())
                    .map(|s| oauth::plain_text(s, 120))
            })
    }
}
