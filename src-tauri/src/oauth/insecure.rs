//! The resource-owner password grant (RFC 6749 §4.3), kept apart because RFC 9700 §2.4 says
//! it MUST NOT be used: the person hands their password to Latchkey instead of to the
//! provider. It exists only for old in-house servers that offer nothing else, and is reachable
//! only through a provider the person added with the `--insecure-password-grant` switch (S23).
//! The password is sent once and never stored. The implicit grant is not implemented at all:
//! it returns the token in a URL, which S20 forbids.

use super::exchange::{record_from, token_client};
use super::{classify_token_error, ClientConfig, OAuthError};
use crate::provider::ProviderSpec;
use crate::secret::Secret;
use crate::vault::TokenRecord;
use oauth2::{ResourceOwnerPassword, ResourceOwnerUsername, Scope};

/// Whether `p` may use the password grant: the person switched it on for a provider they
/// added themselves. Built-in providers never qualify, whatever the index says.
pub fn password_grant_allowed(p: &ProviderSpec) -> bool {
    p.insecure_grants && !crate::provider::presets().iter().any(|b| b.id == p.id)
}

/// Exchanges a username and password for tokens, once.
pub async fn password_grant(
    http: &super::http::Http,
    p: &ProviderSpec,
    client: &ClientConfig,
    username: &str,
    password: &Secret,
    scopes: &[String],
    now: i64,
) -> Result<TokenRecord, OAuthError> {
    if !password_grant_allowed(p) {
        return Err(OAuthError::Missing {
            provider: p.name.clone(),
            what: "password sign-in switch (it is off)",
        });
    }
    let c = token_client(p, client)?;
    let user = ResourceOwnerUsername::new(username.to_string());
    let pass = ResourceOwnerPassword::new(password.expose().to_string());
    let mut req = c.exchange_password(&user, &pass);
    for s in scopes {
        req = req.add_scope(Scope::new(s.clone()));
    }
    let resp = req
        .request_async(http)
        .await
        .map_err(|e| classify_token_error(&p.name, e))?;
    let mut rec = record_from(&resp, None, now);
    if rec.scopes.is_empty() {
        rec.scopes = scopes.to_vec();
    }
    Ok(rec)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// S23: the switch works only on providers the person added; a built-in provider never
    /// qualifies, even if a hand-edited index turns the flag on for it.
    #[test]
    fn password_grant_needs_the_switch_and_a_user_added_provider_s23() {
        let mut own = ProviderSpec::new("corp", "Corp");
        assert!(!password_grant_allowed(&own), "off by default");
        own.insecure_grants = true;
        assert!(password_grant_allowed(&own));
        for mut p in crate::provider::presets() {
            p.insecure_grants = true;
            assert!(!password_grant_allowed(&p), "{}", p.id);
        }
    }
}
