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
}

fn bearer() -> String {
    "Bearer".into()
}

impl TokenRecord {
    /// True when the access token stays valid for at least `min_valid` more seconds.
    pub fn valid_for(&self, min_valid: i64, now: i64) -> bool {
        self.expires_at.is_none_or(|exp| exp - now >= min_valid)
    }
}
