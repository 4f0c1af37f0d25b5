//! Removing an account: revoke at the provider where it can, wipe locally whatever happened
//! there, and say which (S17).

use super::Accounts;
use crate::errors::UserError;
use crate::oauth::Revocation;
use crate::vault::index::AccountKind;
use crate::{oauth, provider, vault};
use serde::Serialize;

/// What removing an account did (S17).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct RemovalReport {
    /// Revocation at the provider.
    pub revocation: Revocation,
    /// Local credentials wiped.
    pub wiped: bool,
    /// One sentence for the person.
    pub summary: String,
}

impl Accounts {
    /// Revokes at the provider (refresh token, then access token) and wipes locally whatever
    /// happened there (S17).
    ///
    /// The account's lock is held throughout (F6): a refresh in flight finishes first, so the
    /// tokens read and revoked here are the newest, and no refresh can write them back after
    /// the wipe.
    pub async fn remove(&self, id: &str) -> Result<RemovalReport, UserError> {
        self.account(id)?;
        let lock = self
            .vault
            .lock_account(id, super::LOCK_WAIT)
            .await
            .map_err(UserError::from)?;
        let entry = self.account(id)?;
        let key = id.to_string();
        let rec = self
            .blocking(move |v| v.read_record(&key))
            .await
            .ok()
            .flatten();
        let revocation = match (&rec, self.bound_provider(&entry)) {
            (Some(rec), Ok(p)) if entry.kind != AccountKind::PersonalToken => {
                match self.client_for(&p, entry.client_id.as_deref()).await {
                    Ok(client) => oauth::revoke(&self.http()?, &p, &client, rec).await,
                    Err(e) => Revocation::Failed(e.message),
                }
            }
            (Some(_), _) if entry.kind == AccountKind::PersonalToken => Revocation::NotSupported,
            (Some(_), Err(e)) if e.code == "provider_changed" => Revocation::Failed(
                "the provider's settings changed since sign-in, so no token was sent there".into(),
            ),
            _ => Revocation::Failed("no stored token to revoke".into()),
        };
        // A machine account's client secret goes with its last account, unless it is the
        // provider's own client: one read of the index after the removal decides.
        let key = id.to_string();
        let machine_client = (entry.kind == AccountKind::ClientCredentials)
            .then(|| entry.client_id.clone())
            .flatten();
        self.blocking(move |v| {
            v.remove_account(&key)?;
            let Some(client_id) = machine_client else {
                return Ok(());
            };
            let idx = v.index()?;
            let still_used =
                idx.accounts.iter().any(|a| {
                    a.provider == entry.provider && a.client_id.as_ref() == Some(&client_id)
                }) || provider::find(&entry.provider, &idx.providers)
                    .is_some_and(|p| p.client_id.as_ref() == Some(&client_id));
            if !still_used {
                v.delete_secret(&vault::client_secret_key(&entry.provider, &client_id))?;
            }
            Ok(())
        })
        .await?;
        drop(lock);
        let summary = match &revocation {
            Revocation::Revoked => "Signed out at the provider and removed from this computer.".to_string(),
            Revocation::NotSupported => "Removed from this computer. The provider offers no way to revoke tokens remotely; revoke access in its settings if you want.".to_string(),
            Revocation::Failed(why) => format!("Removed from this computer, but revoking at the provider failed ({why}). Revoke access in the provider's settings to be sure."),
        };
        tracing::info!(account = %id, revoked = matches!(revocation, Revocation::Revoked), "account removed");
        Ok(RemovalReport {
            revocation,
            wiped: true,
            summary,
        })
    }
}
