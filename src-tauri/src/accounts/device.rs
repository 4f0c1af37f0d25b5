//! Sign-in with a code on another device (RFC 8628), for machines with no browser.

use super::{oauth_user_error, AccountView, Accounts, LoginOptions};
use crate::errors::{ExitClass, UserError};
use crate::oauth;

impl Accounts {
    /// Signs in through the device flow (RFC 8628), for when no browser can be opened on
    /// this machine: `show` tells the person where to go and which code to type, then this
    /// polls until they approve, decline or the code expires.
    pub async fn device_login(
        &self,
        provider_id: &str,
        opts: LoginOptions,
        show: impl FnOnce(&oauth::DeviceStart),
    ) -> Result<AccountView, UserError> {
        let p = self.provider(provider_id)?;
        if !oauth::offers_device_flow(&p) {
            return Err(UserError::new(
                "no_device_flow",
                format!("{} does not offer sign-in with a code on another device.", p.name),
                format!("Run `latchkey login {provider_id} --no-browser` and open the address it prints on any device with a browser."),
                ExitClass::Other,
            ));
        }
        let client = self.client_for(&p, opts.client_id.as_deref()).await?;
        let scopes = self.scopes_for_sign_in(&p, &opts);
        let http = &self.http()?;
        let start = oauth::device_begin(http, &p, &client, &scopes, crate::clock::now())
            .await
            .map_err(|e| super::signin::sign_in_error(e, &p, &scopes))?;
        tracing::info!(provider = %p.id, "device sign-in started");
        show(&start);
        let dpop = oauth::dpop_key_for(&p).map_err(|e| oauth_user_error(e, &p.id))?;
        let mut rec =
            oauth::device_finish(http, &p, &client, &start, dpop.as_ref(), crate::clock::now)
                .await
                .map_err(|e| oauth_user_error(e, &p.id))?;
        if rec.scopes.is_empty() {
            rec.scopes = scopes;
        }
        let claims = self.check_resource_accepts(&p, &client, &rec).await?;
        let identity = self
            .identity(&p, &rec, &client.id)
            .await
            .with_claims(claims.as_ref());
        self.save_signed_in(&p, rec, identity, &client.id, opts)
            .await
    }
}
