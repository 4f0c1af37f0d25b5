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
        secret: Secret,
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
        if client_id.is_empty() || secret.is_empty() {
            return Err(UserError::new(
                "client_required",
                "Machine access needs a client ID and its secret.",
                "Copy both from the app you registered at the provider.",
                ExitClass::Other,
            ));
        }
        let client = ClientConfig {
            id: client_id.into(),
            secret: Some(secret.clone()),
            // The same method its renewals and revocation use (client_for).
            auth: p.secret_auth(),
        };
        let dpop = oauth::dpop_key_for(&p).map_err(|e| oauth_user_error(e, &p.id))?;
        let rec = oauth::client_credentials(
            &self.http()?,
            &p,
            &client,
            &scopes,
            dpop.as_ref(),
            crate::now(),
        )
        .await
        .map_err(|e| oauth_user_error(e, &p.id))?;
        self.check_resource_accepts(&p, &client, &rec).await?;
        let key = vault::client_secret_key(&p.id, client_id);
        self.blocking(move |v| v.put_secret(&key, &secret)).await?;
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
