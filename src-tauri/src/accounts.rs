//! The accounts service that the window, the tray, the refresher and the CLI all call.

use crate::errors::UserError;
use crate::vault::index::{AccountEntry, AccountKind, AccountStatus};
use crate::vault::Vault;
use serde::Serialize;
use std::sync::Arc;

/// What the UI and `list --json` show about an account. Holds no secret (S22).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AccountView {
    /// Account id.
    pub id: String,
    /// Provider id.
    pub provider: String,
    /// Provider display name.
    pub provider_name: String,
    /// Handle or email.
    pub identity: Option<String>,
    /// The person's label.
    pub label: Option<String>,
    /// `valid`, `expired`, `needs_sign_in`, `offline` or `no_expiry`.
    pub status: String,
    /// Access-token expiry, unix seconds.
    pub expires_at: Option<i64>,
    /// Granted scopes.
    pub scopes: Vec<String>,
    /// `oauth`, `personal_token` or `client_credentials`.
    pub kind: AccountKind,
}

/// Derives the status word from an index entry at time `now`.
pub fn status_word(a: &AccountEntry, now: i64) -> &'static str {
    match a.status {
        AccountStatus::NeedsSignIn => "needs_sign_in",
        AccountStatus::Offline => "offline",
        AccountStatus::Valid => match a.expires_at {
            None => "no_expiry",
            Some(t) if t <= now && a.kind == AccountKind::PersonalToken => "expired",
            Some(_) => "valid",
        },
    }
}

/// The service.
#[derive(Clone)]
pub struct Accounts {
    vault: Arc<Vault>,
}

impl Accounts {
    /// Wraps a vault.
    pub fn new(vault: Arc<Vault>) -> Self {
        Accounts { vault }
    }

    /// Opens the vault in the data dir with the OS credential store.
    pub fn open() -> Result<Self, UserError> {
        Ok(Accounts::new(Arc::new(Vault::open()?)))
    }

    /// The vault underneath.
    pub fn vault(&self) -> &Arc<Vault> {
        &self.vault
    }

    /// All accounts, oldest first.
    pub fn list(&self) -> Result<Vec<AccountView>, UserError> {
        let idx = self.vault.index()?;
        let now = crate::now();
        Ok(idx
            .accounts
            .iter()
            .map(|a| AccountView {
                id: a.id.clone(),
                provider: a.provider.clone(),
                provider_name: crate::provider::find(&a.provider, &idx.providers)
                    .map_or_else(|| a.provider.clone(), |p| p.name),
                identity: a.identity.clone(),
                label: a.label.clone(),
                status: status_word(a, now).into(),
                expires_at: a.expires_at,
                scopes: a.scopes.clone(),
                kind: a.kind,
            })
            .collect())
    }
}
