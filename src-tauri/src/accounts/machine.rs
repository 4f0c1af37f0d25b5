//! Machine accounts: the client-credentials grant with a client secret kept in the store.

use super::save::NewAccount;
use super::{oauth_user_error, AccountView, Accounts};
use crate::errors::{ExitClass, UserError};
use crate::oauth::ClientConfig;
use crate::provider::ProviderSpec;
use crate::secret::Secret;
use crate::vault::index::AccountKind;
use crate::{oauth, vault};

impl Accounts {
    /// Adds a client-credentials (machine) account.
    pub async fn add_client_credentials(
        &self,
        provider_id: &str,
        client_id: &str,
        secret: Option<Secret>,
        scopes: Vec<String>,
        label: Option<String>,
    ) -> Result<AccountView, UserError> {
        let p = self.provider(provider_id)?;
        if !offers_client_credentials(&p) {
            return Err(UserError::new(
                "no_client_credentials",
                format!(
                    "{} does not offer machine access (the client-credentials grant).",
                    p.name
                ),
                format!("Sign in as a person instead: latchkey login {}", p.id),
                ExitClass::Other,
            ));
        }
        let client_id = client_id.trim();
        if client_id.is_empty() || secret.as_ref().is_some_and(|s| s.is_empty()) {
            return Err(UserError::new(
                "client_required",
                "Machine access needs a client ID and its secret.",
                "Copy both from the app you registered at the provider.",
                ExitClass::Other,
            ));
        }
        if let Some(s) = &secret {
            super::client::refuse_key_lookalike(s)?;
        }
        // Without a secret, the client's key (private_key_jwt), made beforehand.
        let credential = match &secret {
            Some(s) => s.clone(),
            None => self.client_key(&p.id, client_id).await?.0.to_stored(),
        };
        // The same method its renewals and revocation use (client_for).
        let client = ClientConfig::from_stored(
            client_id.into(),
            Some(credential),
            p.secret_auth(),
            p.client_auth,
        );
        let dpop = oauth::dpop_key_for(&p).map_err(|e| oauth_user_error(e, &p.id))?;
        let rec = oauth::client_credentials(
            &self.http()?,
            &p,
            &client,
            &scopes,
            dpop.as_ref(),
            crate::clock::now(),
        )
        .await
        .map_err(|e| oauth_user_error(e, &p.id))?;
        self.check_resource_accepts(&p, &client, &rec).await?;
        if let Some(secret) = secret {
            let key = vault::client_secret_key(&p.id, client_id);
            self.blocking(move |v| v.put_secret(&key, &secret)).await?;
        }
        let who = NewAccount {
            identity: Some(client_id.to_string()),
            subject: None,
            label,
            reauth_of: None,
            kind: AccountKind::ClientCredentials,
            client_id: Some(client_id.to_string()),
        };
        self.save_new(&p, rec, who).await
    }
}

/// Whether machine access can be offered: the provider lists the grant, or lists no grants
/// at all (then only trying tells).
pub fn offers_client_credentials(p: &ProviderSpec) -> bool {
    p.token_url.is_some()
        && (p.grant_types.is_empty() || p.grant_types.iter().any(|g| g == "client_credentials"))
}
