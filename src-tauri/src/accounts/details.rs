//! Naming an account and the details view (no token; decoded JWT claims only).

use super::{view, AccountView, Accounts};
use crate::errors::{ExitClass, UserError};
use serde::Serialize;

impl Accounts {
    /// Gives an account a name.
    pub fn rename(&self, id: &str, label: &str) -> Result<(), UserError> {
        let label = crate::text::plain_text(label.trim(), 80);
        let id = id.to_string();
        let found = self.vault.update_index(|idx| {
            idx.account_mut(&id)
                .map(|a| a.label = (!label.is_empty()).then_some(label))
                .is_some()
        })?;
        if found {
            Ok(())
        } else {
            Err(UserError::new(
                "unknown_account",
                "That account no longer exists.",
                "Reload the list.",
                ExitClass::Other,
            ))
        }
    }

    /// The details view: no token, but its decoded JWT claims when it is one (signature
    /// never shown).
    pub fn details(&self, id: &str) -> Result<AccountDetails, UserError> {
        let entry = self.account(id)?;
        let idx = self.vault.index()?;
        let rec = self.vault.read_record(id)?;
        let claims = rec
            .as_ref()
            .and_then(|r| jwt_claims(r.access_token.expose()));
        Ok(AccountDetails {
            account: view(
                &entry,
                crate::provider::find(&entry.provider, &idx.providers).as_ref(),
                crate::clock::now(),
            ),
            store: self.vault.store_description().to_string(),
            issued_at: rec.as_ref().map(|r| r.issued_at),
            has_refresh_token: rec.as_ref().is_some_and(|r| r.refresh_token.is_some()),
            stored: rec.is_some(),
            jwt_claims: claims,
            created: entry.created,
        })
    }
}

/// What the details view shows. No token (S22).
#[derive(Debug, Clone, Serialize)]
pub struct AccountDetails {
    /// The summary.
    pub account: AccountView,
    /// Where the secret lives, in words.
    pub store: String,
    /// When the current access token was issued.
    pub issued_at: Option<i64>,
    /// Whether a refresh token is stored.
    pub has_refresh_token: bool,
    /// Whether the credential store holds the record at all.
    pub stored: bool,
    /// Decoded JWT payload of the access token, if it is a JWT.
    pub jwt_claims: Option<serde_json::Value>,
    /// Unix seconds.
    pub created: i64,
}

/// Decodes a JWT's payload (the middle part) without verifying it; the signature is dropped.
pub fn jwt_claims(token: &str) -> Option<serde_json::Value> {
    use base64::Engine;
    let mut parts = token.split('.');
    let (_h, payload, _sig) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let v: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    v.is_object().then_some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jwt_claims_are_decoded_and_opaque_tokens_are_not() {
        let t = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSIsImV4cCI6MTcwMDAwMDAwMH0.c2lnbmF0dXJl";
        let c = jwt_claims(t).unwrap();
        assert_eq!(c["sub"], "alice");
        assert!(!c.to_string().contains("signature"));
        assert!(jwt_claims("tskdp_opaque").is_none());
        assert!(jwt_claims("a.b.c.d").is_none());
    }
}
