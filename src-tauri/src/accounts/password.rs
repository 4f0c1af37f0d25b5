//! The insecure password grant, only behind its switch on a provider the person added (S23).

use super::{oauth_user_error, requested_scopes, AccountView, Accounts, LoginOptions};
use crate::errors::{ExitClass, UserError};
use crate::oauth;
use crate::provider::ProviderSpec;
use crate::secret::Secret;

impl Accounts {
    /// The provider, if password sign-in is switched on for it (S23); a clear refusal if not.
    pub fn password_provider(&self, provider_id: &str) -> Result<ProviderSpec, UserError> {
        let p = self.provider(provider_id)?;
        if !oauth::insecure::password_grant_allowed(&p) {
            return Err(UserError::new(
                "password_grant_off",
                format!("Signing in with a password is switched off for {}.", p.name),
                format!("Run `latchkey login {provider_id}` to sign in through your browser. Password sign-in exists only for providers you add with --insecure-password-grant, and only for servers that offer nothing better."),
                ExitClass::Other,
            ));
        }
        Ok(p)
    }

    /// Signs in with a username and password (RFC 6749 §4.3). Only for a provider the person
    /// added with the insecure switch on (S23); refused before any request otherwise.
    pub async fn password_login(
        &self,
        provider_id: &str,
        username: &str,
        password: Secret,
        opts: LoginOptions,
    ) -> Result<AccountView, UserError> {
        let p = self.password_provider(provider_id)?;
        let client = self.client_for(&p, opts.client_id.as_deref()).await?;
        let scopes = requested_scopes(&p, &opts);
        let rec = oauth::insecure::password_grant(
            &self.http()?,
            &p,
            &client,
            username,
            &password,
            &scopes,
            crate::clock::now(),
        )
        .await
        .map_err(|e| oauth_user_error(e, &p.id))?;
        drop(password);
        let mut identity = self.identity(&p, &rec, &client.id).await;
        if identity.name.is_none() {
            identity.name = Some(crate::text::plain_text(username, 120));
        }
        self.save_signed_in(&p, rec, identity, &client.id, opts)
            .await
    }
}
