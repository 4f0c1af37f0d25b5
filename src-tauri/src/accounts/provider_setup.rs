//! Setting providers up: "Other…" by issuer discovery, and "Use my own OAuth app". A provider
//! in use is never retargeted (S24).

use super::Accounts;
use crate::errors::{ExitClass, UserError};
use crate::provider::{ClientAuth, ProviderSpec, RedirectKind};
use crate::secret::Secret;
use crate::{oauth, provider, vault};

impl Accounts {
    /// "Other provider": discovers an issuer and stores it as the person's provider. Returns
    /// the provider id (derived from the whole issuer) and the client id this sign-in should
    /// name explicitly, if any.
    ///
    /// S24: an existing provider is never retargeted. The same issuer again keeps its entry
    /// (and its accounts' clients); another issuer whose id would collide gets an id of its own.
    pub async fn add_discovered_provider(
        &self,
        issuer: &str,
        client_id: Option<&str>,
    ) -> Result<(String, Option<String>), UserError> {
        let issuer = issuer.trim().trim_end_matches('/').to_string();
        let client_id = client_id
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(str::to_string);
        let meta = oauth::discover(&self.http()?, &issuer).await.map_err(|e| {
            UserError::new(&e.code(), format!("Couldn't find sign-in settings at {issuer}: {e}"), "Check the issuer URL (it usually looks like https://login.example.com), or fill in the endpoints by hand.", ExitClass::Network)
        })?;
        let host = url::Url::parse(&issuer)
            .ok()
            .and_then(|u| u.host_str().map(str::to_string))
            .unwrap_or_else(|| "other".into());
        let mut fresh = ProviderSpec::new("pending", &host);
        fresh.client_id = client_id.clone();
        provider::apply_metadata(&mut fresh, &meta).map_err(|m| {
            UserError::new("bad_provider", m, "Check the issuer URL.", ExitClass::Other)
        })?;
        if let Some(u) = fresh.userinfo_url.clone() {
            fresh.api_bases.push(u);
        }
        let chosen = self.vault.update_index(move |idx| {
            let id = provider::id_for_issuer(&issuer, &idx.providers);
            let in_use = idx.accounts.iter().any(|a| a.provider == id);
            match idx.providers.iter_mut().find(|x| x.id == id) {
                // The same issuer again: keep the entry. A new client id replaces the old
                // only while no account uses the provider; otherwise it is named on this
                // sign-in alone and recorded on the new account.
                Some(existing) => match &client_id {
                    Some(c) if existing.client_id.as_ref() != Some(c) && in_use => {
                        (id, Some(c.clone()))
                    }
                    Some(c) => {
                        existing.client_id = Some(c.clone());
                        (id, None)
                    }
                    None => (id, None),
                },
                None => {
                    fresh.id = id.clone();
                    idx.providers.push(fresh);
                    (id, None)
                }
            }
        })?;
        tracing::info!(provider = %chosen.0, "provider from an issuer is ready");
        Ok(chosen)
    }

    /// "Use my own OAuth app": remembers a client id (and an entered secret, in the vault)
    /// for a provider, overriding the preset's.
    pub async fn set_own_client(
        &self,
        provider_id: &str,
        client_id: &str,
        secret: Option<Secret>,
        redirect: RedirectKind,
    ) -> Result<(), UserError> {
        let mut p = self.provider(provider_id)?;
        let client_id = client_id.trim().to_string();
        p.client_id = Some(client_id.clone());
        p.redirect = redirect;
        p.client_auth = if secret.is_some() {
            ClientAuth::ClientSecretPost
        } else {
            ClientAuth::None
        };
        let key = vault::client_secret_key(provider_id, &client_id);
        self.blocking(move |v| {
            match &secret {
                Some(s) => v.put_secret(&key, s)?,
                None => {
                    v.delete_secret(&key)?;
                }
            }
            v.update_index(|idx| {
                let before = provider::find(&p.id, &idx.providers).and_then(|x| x.client_id);
                // Accounts from before 0.2 recorded no client: pin them to the one they used.
                for a in idx.accounts.iter_mut().filter(|a| a.provider == p.id) {
                    if a.client_id.is_none() {
                        a.client_id = before.clone();
                    }
                }
                idx.providers.retain(|x| x.id != p.id);
                idx.providers.push(p);
            })
        })
        .await
    }
}

impl Accounts {
    /// Sets one of the person's providers to require DPoP ("Another service…" → Advanced).
    /// Refused, and nothing changed, when its server doesn't offer DPoP with ES256.
    pub fn require_dpop(&self, provider_id: &str) -> Result<(), UserError> {
        let mut p = self
            .vault
            .index()?
            .providers
            .into_iter()
            .find(|p| p.id == provider_id)
            .ok_or_else(|| {
                UserError::new(
                    "unknown_provider",
                    format!("There is no provider of yours called {provider_id:?}."),
                    "Built-in providers keep their own settings; add the service by its address.",
                    ExitClass::Other,
                )
            })?;
        p.dpop_required = true;
        crate::oauth::dpop_key_for(&p).map_err(|e| super::oauth_user_error(e, &p.id))?;
        self.vault.update_index(|idx| {
            if let Some(x) = idx.providers.iter_mut().find(|x| x.id == provider_id) {
                x.dpop_required = true;
            }
        })?;
        Ok(())
    }
}
