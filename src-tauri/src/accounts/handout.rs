//! Handing a token to another tool (issue 27): which account may answer for an address (the
//! same binding `api` uses, S11), and a fresh token with its type, expiry and scopes for git,
//! Kubernetes clients, container registries and `token --json`.

use super::Accounts;
use crate::errors::{ExitClass, UserError};
use crate::oauth::dpop::{nonce_for, DpopKey};
use crate::provider;
use crate::secret::Secret;

/// A fresh token and what a tool needs to know about it.
#[derive(Debug, Clone)]
pub struct HandedToken {
    /// The account it belongs to.
    pub id: String,
    /// The account's provider id.
    pub provider: String,
    /// The access token.
    pub token: Secret,
    /// `Bearer` (or what the provider said).
    pub token_type: String,
    /// Unix seconds; `None` when the provider gave no expiry.
    pub expires_at: Option<i64>,
    /// Granted scopes.
    pub scopes: Vec<String>,
    /// The DPoP key the token is bound to (RFC 9449), when it is.
    pub dpop_key: Option<Secret>,
}

impl Accounts {
    /// The account that may receive a token for `url`: the `named` one if its provider may
    /// (never another), else the only account whose provider may, or the default account
    /// among several. `Ok(None)` when no account may: the tool gets nothing.
    pub fn account_for_url(
        &self,
        url: &str,
        named: Option<&str>,
    ) -> Result<Option<String>, UserError> {
        let idx = self.vault.index()?;
        let may = |provider_id: &str| {
            provider::find(provider_id, &idx.providers).is_some_and(|p| p.may_receive_token(url))
        };
        if let Some(name) = named {
            let id = super::lookup::resolve_in(&idx, Some(name))?;
            let entry = idx
                .account(&id)
                .ok_or_else(|| super::unknown_account(&id))?;
            return Ok(may(&entry.provider).then_some(id));
        }
        let candidates: Vec<&str> = idx
            .accounts
            .iter()
            .filter(|a| may(&a.provider))
            .map(|a| a.id.as_str())
            .collect();
        match candidates.as_slice() {
            [] => Ok(None),
            [one] => Ok(Some(one.to_string())),
            many => match &idx.default_account {
                Some(d) if many.contains(&d.as_str()) => Ok(Some(d.clone())),
                _ => Err(UserError::new(
                    "ambiguous_account",
                    format!(
                        "Several accounts may be used for {}: {}.",
                        crate::text::plain_text(url, 200),
                        many.join(", ")
                    ),
                    "Name one in the helper's setup (--account ID), or make one the default.",
                    ExitClass::Other,
                )),
            },
        }
    }

    /// A token valid for at least `min_valid` seconds (refreshed first if needed), with its
    /// type, expiry and scopes.
    pub async fn handed_token(&self, id: &str, min_valid: i64) -> Result<HandedToken, UserError> {
        let token = self.fresh_token(id, min_valid).await?;
        let entry = self.account(id)?;
        let key = id.to_string();
        let rec = self.blocking(move |v| v.read_record(&key)).await?;
        // Another process may have refreshed in between: describe the token handed out only.
        let rec = rec.filter(|r| r.access_token.expose() == token.expose());
        Ok(HandedToken {
            id: id.to_string(),
            provider: entry.provider,
            token_type: rec
                .as_ref()
                .map_or_else(|| "Bearer".into(), |r| r.token_type.clone()),
            expires_at: rec.as_ref().and_then(|r| r.expires_at),
            dpop_key: rec
                .as_ref()
                .filter(|r| r.is_dpop())
                .and_then(|r| r.dpop_key.clone()),
            scopes: rec.map(|r| r.scopes).unwrap_or_default(),
            token,
        })
    }
}

impl HandedToken {
    /// The DPoP key the token is bound to (RFC 9449), when it is. A key that can't be read
    /// means signing in again: `fix` says how.
    pub fn dpop_key(&self, fix: &str) -> Result<Option<DpopKey>, UserError> {
        self.dpop_key
            .as_ref()
            .map(|k| {
                DpopKey::from_secret(k).map_err(|m| {
                    UserError::new(
                        "dpop",
                        crate::errors::capitalize(&m),
                        fix,
                        ExitClass::NeedsSignIn,
                    )
                })
            })
            .transpose()
    }

    /// The headers a request with `method` to `url` carries: `Authorization: Bearer …`, or for
    /// a DPoP-bound token `Authorization: DPoP …` and a fresh `DPoP` proof for that method and
    /// address, with the nonce last remembered for it.
    pub fn request_headers(
        &self,
        method: &str,
        url: &str,
        fix: &str,
    ) -> Result<Vec<(&'static str, Secret)>, UserError> {
        let token = self.token.expose();
        Ok(match self.dpop_key(fix)? {
            None => vec![("authorization", Secret::new(format!("Bearer {token}")))],
            Some(key) => {
                let proof = key
                    .proof(method, url, nonce_for(url).as_deref(), Some(token))
                    .map_err(|m| {
                        UserError::new(
                            "dpop",
                            crate::errors::capitalize(&m),
                            "Try again.",
                            ExitClass::Other,
                        )
                    })?;
                vec![
                    ("authorization", Secret::new(format!("DPoP {token}"))),
                    ("dpop", proof),
                ]
            }
        })
    }
}
