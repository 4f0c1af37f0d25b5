//! Personal access tokens: adding a pasted one after one validating call, and re-checking it.

use super::save::NewAccount;
use super::{needs_sign_in, oauth_user_error, AccountView, Accounts};
use crate::errors::{ExitClass, UserError};
use crate::oauth::OAuthError;
use crate::secret::Secret;
use crate::vault::index::{AccountKind, AccountStatus, RefreshNote};
use crate::vault::TokenRecord;

impl Accounts {
    /// Adds a pasted personal access token after one validating API call.
    pub async fn add_token(
        &self,
        provider_id: &str,
        token: Secret,
        label: Option<String>,
    ) -> Result<AccountView, UserError> {
        let p = self.provider(provider_id)?;
        let token = Secret::new(token.expose().trim().to_string());
        if token.is_empty() {
            return Err(UserError::new(
                "empty_token",
                "No token was given.",
                "Paste the token (for scripts: pipe it to `latchkey add-token PROVIDER`).",
                ExitClass::Other,
            ));
        }
        // The checking call is a token's journey like any other: only where the provider's
        // tokens may go (S11).
        let Some(check) = p
            .presets
            .first()
            .and_then(|pre| p.api_url(&pre.path))
            .filter(|u| p.may_receive_token(u))
        else {
            return Err(UserError::new(
                "cannot_validate",
                format!(
                    "Latchkey can't check a token for {} because it has no API address.",
                    p.name
                ),
                "Add the provider with --api-base.",
                ExitClass::Other,
            ));
        };
        let resp = self
            .http()?
            .get(&check, Some(token.expose()))
            .await
            .map_err(|e| {
                oauth_user_error(
                    OAuthError::Network {
                        provider: p.name.clone(),
                        source: e,
                    },
                    &p.id,
                )
            })?;
        if resp.status().as_u16() == 401 || resp.status().as_u16() == 403 {
            return Err(UserError::new(
                "token_rejected",
                format!("{} did not accept this token.", p.name),
                p.pat_help.clone().unwrap_or_else(|| {
                    "Check that you copied the whole token, or create a new one.".into()
                }),
                ExitClass::Other,
            ));
        }
        if !resp.status().is_success() {
            return Err(UserError::new(
                "token_check_failed",
                format!(
                    "{} answered {} when Latchkey checked the token.",
                    p.name,
                    resp.status().as_u16()
                ),
                "Try again in a moment.",
                ExitClass::Network,
            ));
        }
        let v: serde_json::Value = serde_json::from_slice(resp.body()).unwrap_or_default();
        let identity = ["handle", "login", "preferred_username", "email", "sub"]
            .iter()
            .find_map(|k| {
                v.get(k)
                    .and_then(|x| x.as_str())
                    .map(|s| crate::text::plain_text(s, 120))
            });
        let now = crate::clock::now();
        let rec = TokenRecord {
            access_token: token,
            refresh_token: None,
            expires_at: None,
            token_type: "Bearer".into(),
            scopes: Vec::new(),
            issued_at: now,
            id_token: None,
            dpop_key: None,
        };
        self.save_new(
            &p,
            rec,
            NewAccount {
                identity,
                subject: None,
                label,
                reauth_of: None,
                kind: AccountKind::PersonalToken,
                client_id: None,
            },
        )
        .await
    }

    /// Re-validates a personal token with one API call; a rejected one is flagged (S15-like:
    /// no retries until the person acts).
    pub async fn check_personal_token(&self, id: &str) -> Result<(), UserError> {
        let entry = self.account(id)?;
        let p = self.bound_provider(&entry)?;
        let key = id.to_string();
        let Some(rec) = self.blocking(move |v| v.read_record(&key)).await? else {
            return Err(needs_sign_in(id, &p.id));
        };
        let Some(url) = p
            .presets
            .first()
            .and_then(|pre| p.api_url(&pre.path))
            .filter(|u| p.may_receive_token(u))
        else {
            return Ok(());
        };
        let now = crate::clock::now();
        let (status, outcome, detail) = match self
            .http()?
            .get(&url, Some(rec.access_token.expose()))
            .await
        {
            Ok(r) if r.status().as_u16() == 401 => (
                AccountStatus::NeedsSignIn,
                "needs_sign_in",
                Some(format!("{} no longer accepts this token", p.name)),
            ),
            Ok(r) if r.status().is_success() => (AccountStatus::Valid, "refreshed", None),
            Ok(r) => (
                AccountStatus::Offline,
                "transient",
                Some(format!("{} answered {}", p.name, r.status().as_u16())),
            ),
            Err(e) => (AccountStatus::Offline, "transient", Some(e.to_string())),
        };
        let key = id.to_string();
        let (o, d) = (outcome.to_string(), detail.clone());
        self.blocking(move |v| {
            v.update_index(|idx| {
                if let Some(a) = idx.account_mut(&key) {
                    a.status = status;
                    a.last_refresh = Some(RefreshNote {
                        at: now,
                        outcome: o,
                        detail: d,
                    });
                }
            })
        })
        .await?;
        match status {
            AccountStatus::NeedsSignIn => Err(UserError::new(
                "token_rejected",
                format!("{} no longer accepts the personal token of {id}.", p.name),
                p.pat_help
                    .clone()
                    .unwrap_or_else(|| "Create a new token and add it again.".into()),
                ExitClass::NeedsSignIn,
            )),
            AccountStatus::Offline => Err(UserError::new(
                "network",
                format!("Could not check the token: {}", detail.unwrap_or_default()),
                "Latchkey retries later.",
                ExitClass::Network,
            )),
            AccountStatus::Valid => Ok(()),
        }
    }
}
