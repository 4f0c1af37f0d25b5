//! Which OAuth client a sign-in or refresh uses: the person's, the provider's, a remembered
//! registration, or a new RFC 7591 registration (one-click Taskade).

use super::{oauth_user_error, Accounts};
use crate::errors::{ExitClass, UserError};
use crate::oauth::assertion::ClientKey;
use crate::oauth::ClientConfig;
use crate::provider::{ClientAuth, ProviderSpec, RedirectKind};
use crate::vault::index::ClientRegistration;
use crate::{oauth, vault};

impl Accounts {
    /// Keeps a confidential client's secret (the person typed it) for `provider`'s client
    /// `client_id`; sign-ins, refreshes and revocation with that client then use it.
    pub async fn keep_client_secret(
        &self,
        provider: &str,
        client_id: &str,
        secret: crate::secret::Secret,
    ) -> Result<(), UserError> {
        refuse_key_lookalike(&secret)?;
        let key = vault::client_secret_key(provider, client_id);
        self.blocking(move |v| v.put_secret(&key, &secret)).await
    }

    /// The `private_key_jwt` key of `provider`'s client `client_id`, made and kept in the
    /// credential store when there is none yet (a secret or a damaged key in its place is
    /// replaced: the person asked for a key). True when it is new, and so not yet registered
    /// at the server.
    pub async fn client_key(
        &self,
        provider: &str,
        client_id: &str,
    ) -> Result<(ClientKey, bool), UserError> {
        let slot = vault::client_secret_key(provider, client_id.trim());
        let fresh = ClientKey::generate().map_err(|m| {
            UserError::new(
                "client_key",
                format!("Could not make a client key: {m}."),
                "Try again.",
                ExitClass::Other,
            )
        })?;
        self.blocking(move |v| {
            if let Some(Some(Ok(key))) = v.get_secret(&slot)?.as_ref().map(ClientKey::from_stored) {
                return Ok((key, false));
            }
            let key = fresh;
            v.put_secret(&slot, &key.to_stored())?;
            Ok((key, true))
        })
        .await
    }

    /// The client to use at `p`: explicit id, the provider's, a remembered registration, or a
    /// new RFC 7591 registration (one-click Taskade).
    pub(super) async fn client_for(
        &self,
        p: &ProviderSpec,
        explicit: Option<&str>,
    ) -> Result<ClientConfig, UserError> {
        if let Some(id) = explicit.map(str::to_string).or_else(|| p.client_id.clone()) {
            let key = vault::client_secret_key(&p.id, &id);
            // The old per-provider key can only hold the secret of the provider's own,
            // confidential client; public clients (the common case) skip that second read.
            let legacy = (p.client_id.as_deref() == Some(id.as_str())
                && p.client_auth != ClientAuth::None)
                .then(|| vault::legacy_client_secret_key(&p.id));
            let secret = self
                .blocking(move |v| match v.get_secret(&key)? {
                    Some(s) => Ok(Some(s)),
                    None => legacy.map_or(Ok(None), |l| v.get_secret(&l)),
                })
                .await?;
            // A key means private_key_jwt; a secret with no method set, the one the server
            // lists, Basic first (the same for the first grant, every renewal and revocation).
            return Ok(ClientConfig::from_stored(
                id,
                secret,
                p.secret_auth(),
                p.client_auth,
            ));
        }
        // A client metadata document where the server takes one (no registration at all),
        // for providers that promise `iss`: the document lists one loopback redirect and the
        // scheme one, not the per-provider paths of the others (S10).
        if p.client_metadata_documents && p.iss_required {
            let settings = self.vault.index()?.settings;
            if !settings.client_metadata_off {
                let id = settings
                    .client_metadata_url
                    .unwrap_or_else(|| crate::provider::DEFAULT_CLIENT_METADATA_URL.into());
                return Ok(ClientConfig {
                    id,
                    secret: None,
                    auth: ClientAuth::None,
                });
            }
        }
        // Dynamically registered clients get any loopback port (RFC 8252 §7.3) on this
        // provider's own path; a registration for another path is replaced.
        let registered_loopback = p.redirect_uri(RedirectKind::Loopback, None);
        if let Some(reg) = self.vault.index()?.registrations.get(&p.id).cloned() {
            if reg.redirect_uri == registered_loopback {
                let secret = if reg.auth == ClientAuth::None {
                    None
                } else {
                    let key = vault::client_secret_key(&p.id, &reg.client_id);
                    self.blocking(move |v| v.get_secret(&key)).await?
                };
                // A confidential registration whose secret is gone is registered afresh.
                if reg.auth == ClientAuth::None || secret.is_some() {
                    return Ok(ClientConfig {
                        id: reg.client_id,
                        secret,
                        auth: reg.auth,
                    });
                }
            }
        }
        if p.registration_url.is_none() {
            return Err(UserError::new(
                "client_id_required",
                format!("{} needs a client ID to sign in.", p.name),
                format!("Register an OAuth app at {} with redirect URI {} (or {}), then pass --client-id.", p.name, p.redirect_uri(RedirectKind::Scheme, None), registered_loopback),
                ExitClass::Other,
            ));
        }
        let got = oauth::register_client(&self.http()?, p, &registered_loopback)
            .await
            .map_err(|e| oauth_user_error(e, &p.id))?;
        let reg = ClientRegistration {
            client_id: got.client_id.clone(),
            redirect_uri: registered_loopback,
            registered_at: crate::clock::now(),
            auth: got.auth,
        };
        let pid = p.id.clone();
        let secret = got.secret.clone();
        // The secret first, then the index that points to it.
        self.blocking(move |v| {
            if let Some(s) = &secret {
                v.put_secret(&vault::client_secret_key(&pid, &reg.client_id), s)?;
            }
            v.update_index(|idx| {
                idx.registrations.insert(pid, reg);
            })
        })
        .await?;
        tracing::info!(provider = %p.id, method = got.auth.name(), "registered a client for this provider");
        Ok(ClientConfig {
            id: got.client_id,
            secret: got.secret,
            auth: got.auth,
        })
    }
}

/// A typed client secret can't pass for a stored key (S38).
pub(super) fn refuse_key_lookalike(secret: &crate::secret::Secret) -> Result<(), UserError> {
    if ClientKey::is_key(secret) {
        return Err(UserError::new(
            "bad_client_secret",
            "That is not a client secret Latchkey can keep.",
            "Paste the secret your OAuth app shows; for a client with a key, use --private-key-jwt instead.",
            ExitClass::Other,
        ));
    }
    Ok(())
}
