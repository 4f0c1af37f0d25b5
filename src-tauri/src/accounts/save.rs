//! Saving a signed-in account: the secret first, then the index, under the account's lock
//! (S14); identity lookup; which account a sign-in replaces.

use super::{new_account_id, view, AccountView, Accounts, LoginOptions, LOCK_WAIT};
use crate::errors::UserError;
use crate::provider::{IdentitySource, ProviderSpec};
use crate::vault::index::{AccountEntry, AccountKind, AccountStatus};
use crate::vault::TokenRecord;

/// Who signed in, as far as the provider told.
#[derive(Debug, Default)]
pub(super) struct Who {
    /// A name to show: handle, login, preferred_username, email, name or sub.
    pub(super) name: Option<String>,
    /// The subject (`sub`) at the provider's issuer.
    pub(super) subject: Option<String>,
}

impl Who {
    /// Fills the subject (and a name, when there is none) from the claims that showed a token
    /// is for its API (a JWT's or the server's introspection answer), so two people at one
    /// API stay two accounts (F10).
    pub(super) fn with_claims(mut self, claims: Option<&serde_json::Value>) -> Self {
        let get = |k: &str| {
            claims
                .and_then(|c| c.get(k))
                .and_then(|v| v.as_str())
                .map(|s| crate::text::plain_text(s, 120))
                .filter(|s| !s.is_empty())
        };
        if self.subject.is_none() {
            self.subject = get("sub");
        }
        if self.name.is_none() {
            self.name = get("username");
        }
        self
    }
}

/// The claims of an ID token from the token endpoint, if they are for this client from this
/// issuer and not expired (OIDC Core §3.1.3.7: over TLS the signature may go unchecked).
pub fn id_token_claims(
    token: &str,
    p: &ProviderSpec,
    client_id: &str,
    now: i64,
) -> Option<serde_json::Value> {
    let c = super::jwt_claims(token)?;
    let issuer = p.issuer.as_deref()?;
    let iss_ok = c.get("iss").and_then(|v| v.as_str()) == Some(issuer);
    let aud_ok = match c.get("aud") {
        Some(serde_json::Value::String(a)) => a == client_id,
        Some(serde_json::Value::Array(a)) => a.iter().any(|x| x.as_str() == Some(client_id)),
        _ => false,
    };
    let exp_ok = c
        .get("exp")
        .and_then(|v| v.as_i64())
        .is_some_and(|e| e > now);
    if !(iss_ok && aud_ok && exp_ok) {
        tracing::warn!(provider = %p.id, iss_ok, aud_ok, exp_ok, "ignored an ID token that is not for this sign-in");
        return None;
    }
    Some(c)
}

/// The non-secret facts about an account being saved.
pub(super) struct NewAccount {
    pub(super) identity: Option<String>,
    /// The person's `sub` at the issuer, when known: a second sign-in of the same person
    /// finds their account by it even when no name is known.
    pub(super) subject: Option<String>,
    pub(super) label: Option<String>,
    pub(super) reauth_of: Option<String>,
    pub(super) kind: AccountKind,
    pub(super) client_id: Option<String>,
}

impl Accounts {
    /// Saves an OAuth sign-in (code, device or password grant). The client id is always kept
    /// on the account, so a later change of the provider's client (a re-added issuer, "Use
    /// my own OAuth app") never makes its refresh use another client.
    pub(super) async fn save_signed_in(
        &self,
        p: &ProviderSpec,
        rec: TokenRecord,
        who: Who,
        client_id_used: &str,
        opts: LoginOptions,
    ) -> Result<AccountView, UserError> {
        let explicit_client = Some(client_id_used.to_string());
        self.save_new(
            p,
            rec,
            NewAccount {
                identity: who.name,
                subject: who.subject,
                label: opts.label,
                reauth_of: opts.reauth_of,
                kind: AccountKind::Oauth,
                client_id: explicit_client,
            },
        )
        .await
    }

    /// Saves tokens for a new or re-authenticated account: secret first, then the index.
    pub(super) async fn save_new(
        &self,
        p: &ProviderSpec,
        rec: TokenRecord,
        new: NewAccount,
    ) -> Result<AccountView, UserError> {
        let NewAccount {
            identity,
            subject,
            label,
            reauth_of,
            kind,
            client_id,
        } = new;
        let idx = self.vault.index()?;
        let existing = match reauth_of {
            Some(id) => Some(self.replaceable(&id, &p.id, kind)?),
            None => None,
        };
        // The same person again: same provider (so the same issuer) and kind, and the same
        // subject or, failing that, the same name.
        let existing = existing.or_else(|| {
            let same = |a: &&AccountEntry| a.provider == p.id && a.kind == kind;
            let by_subject = subject.as_ref().and_then(|sub| {
                idx.accounts
                    .iter()
                    .filter(same)
                    .find(|a| a.subject.as_ref() == Some(sub))
            });
            let by_name = identity.as_ref().and_then(|who| {
                idx.accounts
                    .iter()
                    .filter(same)
                    .find(|a| a.identity.as_deref() == Some(who))
            });
            // An API connected by its address is one account when nothing tells people apart:
            // only a sign-in with neither subject nor name updates it (F10); one with a
            // subject never replaces another person's account.
            let unknown = subject.is_none() && identity.is_none();
            let by_resource = p.resource.as_ref().filter(|_| unknown).and_then(|_| {
                idx.accounts
                    .iter()
                    .rev()
                    .filter(same)
                    .find(|a| a.subject.is_none() && a.identity.is_none())
            });
            by_subject.or(by_name).or(by_resource).cloned()
        });
        // Migration (an API that moved to another server): its one account at the old
        // server becomes this one, same id, and the old grant is revoked there first.
        let moved = match (&existing, &p.migrated_from) {
            (None, Some(old)) => {
                let olds: Vec<&AccountEntry> = idx
                    .accounts
                    .iter()
                    .filter(|a| &a.provider == old && a.kind == kind)
                    .collect();
                match olds.as_slice() {
                    [one] => Some((*one).clone()),
                    _ => None,
                }
            }
            _ => None,
        };
        // A new account's id is drawn before anything changes, so a failure leaves all as it was.
        let id = match existing.as_ref().or(moved.as_ref()) {
            Some(a) => a.id.clone(),
            None => new_account_id(&p.id)?,
        };
        if let Some(old) = &moved {
            self.revoke_quietly(old).await;
        }
        let existing = existing.or(moved);
        let now = crate::clock::now();
        let entry = AccountEntry {
            id,
            provider: p.id.clone(),
            label: label.or_else(|| existing.as_ref().and_then(|a| a.label.clone())),
            identity: identity.or_else(|| existing.as_ref().and_then(|a| a.identity.clone())),
            subject: subject.or_else(|| existing.as_ref().and_then(|a| a.subject.clone())),
            scopes: rec.scopes.clone(),
            expires_at: rec.expires_at,
            status: AccountStatus::Valid,
            kind,
            client_id: client_id.or_else(|| existing.as_ref().and_then(|a| a.client_id.clone())),
            created: existing.as_ref().map_or(now, |a| a.created),
            updated: now,
            last_refresh: None,
            binding: Some(p.destinations()),
            // A new account gets the default the person chose; a sign-in again keeps its own.
            policy: match &existing {
                Some(a) => a.policy,
                None => Some(idx.settings.default_policy),
            },
            approvals: existing
                .as_ref()
                .map(|a| a.approvals.clone())
                .unwrap_or_default(),
        };
        let saved = entry.clone();
        // The same lock a refresh takes: a sign-in never overwrites a refresh in flight (S14).
        let lock = self
            .vault
            .lock_account(&entry.id, LOCK_WAIT)
            .await
            .map_err(UserError::from)?;
        self.blocking(move |v| v.add_account_holding(entry, &rec, lock))
            .await?;
        if let Some(old) = p.migrated_from.clone() {
            self.finish_migration(&p.id, &old).await?;
        }
        tracing::info!(account = %saved.id, provider = %p.id, "account saved");
        Ok(view(
            &saved,
            crate::provider::find(&saved.provider, &idx.providers).as_ref(),
            now,
        ))
    }

    /// Revokes an account's tokens at its provider, best effort (a migration's old grant).
    async fn revoke_quietly(&self, a: &AccountEntry) {
        let key = a.id.clone();
        let Ok(Some(rec)) = self.blocking(move |v| v.read_record(&key)).await else {
            return;
        };
        let Ok(old) = self.bound_provider(a) else {
            return;
        };
        if let (Ok(client), Ok(http)) = (
            self.client_for(&old, a.client_id.as_deref()).await,
            self.http(),
        ) {
            let r = crate::oauth::revoke(&http, &old, &client, &rec).await;
            tracing::info!(account = %a.id, revocation = ?r, "the old server's grant was revoked (migration)");
        }
    }

    /// After a migrated API's first sign-in: the old server's entry goes once no account
    /// uses it (with its registration and that client's secret), and the new entry forgets
    /// where it came from.
    async fn finish_migration(&self, new_id: &str, old_id: &str) -> Result<(), UserError> {
        let (new_id, old_id) = (new_id.to_string(), old_id.to_string());
        self.blocking(move |v| {
            let reg = v.update_index(|idx| {
                if let Some(n) = idx.providers.iter_mut().find(|p| p.id == new_id) {
                    n.migrated_from = None;
                }
                if idx.accounts.iter().any(|a| a.provider == old_id) {
                    return None;
                }
                idx.providers.retain(|p| p.id != old_id);
                idx.registrations.remove(&old_id)
            })?;
            if let Some(reg) = reg {
                v.delete_secret(&crate::vault::client_secret_key(&old_id, &reg.client_id))?;
            }
            Ok(())
        })
        .await
    }

    /// Who signed in: the provider's own identity answer (Taskade's ping, userinfo, GitHub's
    /// user), else the ID token the token endpoint returned, which OIDC Core §3.1.3.7 lets a
    /// client trust over TLS in the code flow once `iss`, `aud` and `exp` check out. Failures
    /// are logged, not fatal.
    pub(super) async fn identity(
        &self,
        p: &ProviderSpec,
        rec: &TokenRecord,
        client_id: &str,
    ) -> Who {
        let answer = self.identity_answer(p, rec).await;
        let id_token = rec
            .id_token
            .as_ref()
            .and_then(|t| id_token_claims(t.expose(), p, client_id, crate::clock::now()));
        let pick = |v: &serde_json::Value, keys: &[&str]| {
            keys.iter().find_map(|k| {
                v.get(k)
                    .and_then(|x| x.as_str())
                    .map(|s| crate::text::plain_text(s, 120))
            })
        };
        const NAMES: [&str; 6] = [
            "handle",
            "login",
            "preferred_username",
            "email",
            "name",
            "sub",
        ];
        let name = answer
            .as_ref()
            .and_then(|v| pick(v, &NAMES))
            .or_else(|| id_token.as_ref().and_then(|v| pick(v, &NAMES[2..])));
        let subject = answer
            .as_ref()
            .and_then(|v| pick(v, &["sub"]))
            .or_else(|| id_token.as_ref().and_then(|v| pick(v, &["sub"])));
        Who { name, subject }
    }

    async fn identity_answer(
        &self,
        p: &ProviderSpec,
        rec: &crate::vault::TokenRecord,
    ) -> Option<serde_json::Value> {
        let url = match &p.identity {
            IdentitySource::TaskadePing => p.presets.first().and_then(|pre| p.api_url(&pre.path)),
            IdentitySource::Userinfo => p.userinfo_url.clone(),
            IdentitySource::GithubUser => p.api_url("user"),
            IdentitySource::None => None,
        }?;
        if !p.may_receive_token(&url) {
            return None;
        }
        let req = http::Request::builder()
            .method("GET")
            .uri(&url)
            .header("accept", "application/json")
            .body(Vec::new())
            .ok()?;
        let key = super::dpop_key_of(rec);
        let resp = crate::oauth::dpop::send_authorized(
            &self.http().ok()?,
            req,
            &rec.access_token,
            key.as_ref(),
        )
        .await
        .ok()?;
        if !resp.status().is_success() {
            tracing::warn!(status = resp.status().as_u16(), provider = %p.id, "identity lookup failed");
            return None;
        }
        serde_json::from_slice(resp.body()).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    fn jwt(claims: serde_json::Value) -> String {
        let b = |v: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
        format!(
            "{}.{}.sig",
            b(b"{\"alg\":\"RS256\"}"),
            b(claims.to_string().as_bytes())
        )
    }

    /// S10: an ID token names the person only when it is from this issuer, for this client,
    /// and not expired.
    #[test]
    fn id_tokens_are_trusted_only_for_this_client_and_issuer_s10() {
        let mut p = ProviderSpec::new("x", "X");
        p.issuer = Some("https://i.example".into());
        let now = 1_700_000_000;
        let good = serde_json::json!({"iss": "https://i.example", "aud": "cid", "exp": now + 60, "sub": "u1", "preferred_username": "ann"});
        assert_eq!(
            id_token_claims(&jwt(good.clone()), &p, "cid", now).unwrap()["sub"],
            "u1"
        );
        let mut list_aud = good.clone();
        list_aud["aud"] = serde_json::json!(["other", "cid"]);
        assert!(id_token_claims(&jwt(list_aud), &p, "cid", now).is_some());
        for (field, value) in [
            ("iss", serde_json::json!("https://evil.example")),
            ("aud", serde_json::json!("someone-else")),
            ("exp", serde_json::json!(now - 1)),
        ] {
            let mut bad = good.clone();
            bad[field] = value;
            assert!(
                id_token_claims(&jwt(bad), &p, "cid", now).is_none(),
                "{field}"
            );
        }
        p.issuer = None;
        assert!(
            id_token_claims(&jwt(good), &p, "cid", now).is_none(),
            "no issuer to check against"
        );
    }
}
