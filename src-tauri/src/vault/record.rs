//! The secret half of an account, as one credential-store entry.

use crate::secret::Secret;
use serde::{Deserialize, Serialize};

/// The secret half of an account: one credential-store entry, so access and refresh tokens
/// always change together.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TokenRecord {
    /// The bearer token.
    pub access_token: Secret,
    /// The refresh token, when the grant has one.
    #[serde(default)]
    pub refresh_token: Option<Secret>,
    /// Expiry of the access token, unix seconds; `None` = no expiry known.
    #[serde(default)]
    pub expires_at: Option<i64>,
    /// Usually `Bearer`.
    #[serde(default = "bearer")]
    pub token_type: String,
    /// Granted scopes.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// When the access token was issued, unix seconds.
    pub issued_at: i64,
    /// An OpenID Connect ID token, kept for identity claims.
    #[serde(default)]
    pub id_token: Option<Secret>,
    /// The account's DPoP private key (base64url PKCS#8), when its tokens are bound to one
    /// (RFC 9449): kept with the tokens, in the credential store only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dpop_key: Option<Secret>,
}

impl TokenRecord {
    /// True when the token works only with a DPoP proof.
    pub fn is_dpop(&self) -> bool {
        self.token_type.eq_ignore_ascii_case("dpop") && self.dpop_key.is_some()
    }
}

fn bearer() -> String {
    "Bearer".into()
}

/// A token issued this recently counts as fresh even when its whole lifetime is shorter than
/// what a caller asked for: refreshing again would only bring another just like it.
pub const JUST_ISSUED: i64 = 5;

impl TokenRecord {
    /// True when the access token stays valid for at least `min_valid` more seconds.
    pub fn valid_for(&self, min_valid: i64, now: i64) -> bool {
        self.expires_at.is_none_or(|exp| exp - now >= min_valid)
    }

    /// True when the token may be handed out to a caller asking for `min_valid` seconds:
    /// valid that long, or a short-lived token (its whole lifetime under `min_valid`) issued
    /// in the last [`JUST_ISSUED`] seconds. Without the second rule a 30-second token would
    /// be refreshed on every call under the default `--min-valid 60`.
    pub fn fresh_enough(&self, min_valid: i64, now: i64) -> bool {
        self.valid_for(min_valid, now)
            || self.expires_at.is_some_and(|exp| {
                exp > now && exp - self.issued_at < min_valid && now - self.issued_at <= JUST_ISSUED
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(issued_at: i64, expires_at: Option<i64>) -> TokenRecord {
        TokenRecord {
            access_token: Secret::new("t"),
            refresh_token: None,
            expires_at,
            token_type: bearer(),
            scopes: vec![],
            issued_at,
            id_token: None,
            dpop_key: None,
        }
    }

    #[test]
    fn short_lived_tokens_count_as_fresh_just_after_issue() {
        let now = 1_000;
        // A 30-second token just issued satisfies --min-valid 60; ten seconds later it doesn't.
        assert!(rec(now - 1, Some(now + 29)).fresh_enough(60, now));
        assert!(!rec(now - 10, Some(now + 20)).fresh_enough(60, now));
        // A long-lived token is judged by what is left, as before.
        assert!(!rec(now - 1, Some(now + 50)).fresh_enough(30, now + 25));
        assert!(rec(now - 1, Some(now + 3600)).fresh_enough(60, now));
        assert!(rec(now, None).fresh_enough(60, now));
        // An expired token is never fresh.
        assert!(!rec(now - 1, Some(now)).fresh_enough(60, now));
    }
}
