//! The token endpoint: the code exchange (once, S12), refresh with its outcome classified (S14,
//! S15), and the client-credentials grant. Lifetimes are clamped (S13).

use super::dpop::DpopKey;
use super::http::{Http, HttpError};
use super::sender::sender;
use super::{
    base_client, classify_token_error, endpoint, url_err, ClientConfig, OAuthError, OClient,
    TokenResp, Transaction,
};
use crate::provider::ProviderSpec;
use crate::secret::Secret;
use crate::vault::TokenRecord;
use oauth2::{
    AuthorizationCode, EndpointNotSet, PkceCodeVerifier, RedirectUrl, RefreshToken, Scope,
    TokenResponse, TokenUrl,
};

pub(super) fn record_from(
    resp: &TokenResp,
    previous_refresh: Option<&Secret>,
    now: i64,
) -> TokenRecord {
    TokenRecord {
        access_token: Secret::new(resp.access_token().secret().clone()),
        // S14: a refresh response without a new refresh token keeps the old one.
        refresh_token: resp
            .refresh_token()
            .map(|r| Secret::new(r.secret().clone()))
            .or_else(|| previous_refresh.cloned()),
        expires_at: resp.expires_in().map(|d| expiry(now, d.as_secs())),
        // RFC 9449: a DPoP-bound token says so; anything else is used as a bearer token.
        token_type: match resp.token_type() {
            oauth2::basic::BasicTokenType::Extension(t) if t.eq_ignore_ascii_case("dpop") => {
                "DPoP".into()
            }
            _ => "Bearer".into(),
        },
        // Provider-controlled words shown in terminals and the window: no control
        // characters (S25, F5).
        scopes: resp
            .scopes()
            .map(|s| {
                s.iter()
                    .map(|x| crate::text::plain_text(x, 200))
                    .filter(|x| !x.is_empty())
                    .collect()
            })
            .unwrap_or_default(),
        issued_at: now,
        id_token: resp.extra_fields().id_token.clone().map(Secret::new),
        dpop_key: None,
    }
}

/// The longest lifetime Latchkey believes: ten years. A hostile `expires_in` can't overflow.
const MAX_LIFETIME: u64 = 10 * 365 * 24 * 3600;

/// `now + expires_in`, clamped to [`MAX_LIFETIME`] (S13).
pub fn expiry(now: i64, expires_in: u64) -> i64 {
    now.saturating_add(expires_in.min(MAX_LIFETIME) as i64)
}

pub(super) fn token_client(
    p: &ProviderSpec,
    client: &ClientConfig,
) -> Result<OClient<EndpointNotSet, EndpointNotSet, oauth2::EndpointSet>, OAuthError> {
    let t = endpoint(p, &p.token_url, "token endpoint")?;
    Ok(base_client(client).set_token_uri(TokenUrl::new(t).map_err(url_err("token endpoint"))?))
}

/// Exchanges a code once (S12): no automatic retry, even when the answer is lost.
pub async fn exchange_code(
    http: &Http,
    p: &ProviderSpec,
    client: &ClientConfig,
    tx: &Transaction,
    code: &Secret,
    dpop: Option<&DpopKey>,
    now: i64,
) -> Result<TokenRecord, OAuthError> {
    let c = token_client(p, client)?.set_redirect_uri(
        RedirectUrl::new(tx.redirect_uri.clone()).map_err(url_err("redirect URI"))?,
    );
    let mut req = c
        .exchange_code(AuthorizationCode::new(code.expose().to_string()))
        .set_pkce_verifier(PkceCodeVerifier::new(tx.verifier.expose().to_string()));
    if let Some(r) = &tx.resource {
        req = req.add_extra_param("resource", r.clone());
    }
    let resp = req
        .request_async(&sender(http, p, client, dpop)?)
        .await
        .map_err(|e| classify_token_error(&p.name, e))?;
    let mut rec = settle_dpop(p, record_from(&resp, None, now), dpop)?;
    if rec.scopes.is_empty() {
        rec.scopes = tx.scopes.clone();
    }
    Ok(rec)
}

/// What a refresh came to (pizauth-style classification).
#[derive(Debug)]
pub enum RefreshOutcome {
    /// New tokens; save them before anything uses them (S14).
    Refreshed(TokenRecord),
    /// The grant is gone (`invalid_grant`): the account needs sign-in (S15).
    NeedsSignIn(OAuthError),
    /// Network or 5xx: keep the tokens and retry later (S15).
    Transient {
        /// What happened.
        error: OAuthError,
        /// Server-suggested wait in seconds.
        retry_after: Option<u64>,
    },
    /// Anything else (bad configuration, unreadable answer).
    Failed(OAuthError),
}

/// Uses the refresh token once.
pub async fn refresh(
    http: &Http,
    p: &ProviderSpec,
    client: &ClientConfig,
    current: &TokenRecord,
    now: i64,
) -> RefreshOutcome {
    let Some(rt) = &current.refresh_token else {
        return RefreshOutcome::NeedsSignIn(OAuthError::Provider {
            provider: p.name.clone(),
            code: "invalid_grant".into(),
            description: Some("this account has no refresh token".into()),
        });
    };
    let c = match token_client(p, client) {
        Ok(c) => c,
        Err(e) => return RefreshOutcome::Failed(e),
    };
    let rt_token = RefreshToken::new(rt.expose().to_string());
    let mut req = c.exchange_refresh_token(&rt_token);
    // RFC 8707: every refresh names the API again, so the audience is kept.
    if let Some(r) = &p.resource {
        req = req.add_extra_param("resource", r.clone());
    }
    // A DPoP-bound grant refreshes with the same key (RFC 9449 §5).
    let key = match current.dpop_key.as_ref().map(DpopKey::from_secret) {
        Some(Ok(k)) => Some(k),
        Some(Err(m)) => {
            return RefreshOutcome::Failed(OAuthError::Dpop {
                provider: p.name.clone(),
                problem: m,
            })
        }
        None => None,
    };
    let to = match sender(http, p, client, key.as_ref()) {
        Ok(s) => s,
        Err(e) => return RefreshOutcome::Failed(e),
    };
    let answer = req.request_async(&to).await;
    match answer {
        Ok(resp) => {
            let rec = match settle_dpop(p, record_from(&resp, Some(rt), now), key.as_ref()) {
                Ok(r) => r,
                Err(e) => return RefreshOutcome::Failed(e),
            };
            let mut rec = rec;
            if rec.scopes.is_empty() {
                rec.scopes = current.scopes.clone();
            }
            if rec.id_token.is_none() {
                rec.id_token = current.id_token.clone();
            }
            RefreshOutcome::Refreshed(rec)
        }
        Err(e) => {
            let e = classify_token_error(&p.name, e);
            if e.needs_sign_in() {
                RefreshOutcome::NeedsSignIn(e)
            } else if e.is_transient() {
                let retry_after = match &e {
                    OAuthError::Network {
                        source: HttpError::Unavailable { retry_after, .. },
                        ..
                    } => *retry_after,
                    _ => None,
                };
                RefreshOutcome::Transient {
                    error: e,
                    retry_after,
                }
            } else if matches!(&e, OAuthError::Provider { code, .. } if code == "temporarily_unavailable" || code == "server_error")
            {
                RefreshOutcome::Transient {
                    error: e,
                    retry_after: None,
                }
            } else {
                RefreshOutcome::Failed(e)
            }
        }
    }
}

/// Client-credentials grant: a fresh token for a machine account.
pub async fn client_credentials(
    http: &Http,
    p: &ProviderSpec,
    client: &ClientConfig,
    scopes: &[String],
    dpop: Option<&DpopKey>,
    now: i64,
) -> Result<TokenRecord, OAuthError> {
    let c = token_client(p, client)?;
    let mut req = c.exchange_client_credentials();
    for s in scopes {
        req = req.add_scope(Scope::new(s.clone()));
    }
    // RFC 8707: machine tokens, first and renewed, are for the API alone too (F2).
    if let Some(r) = &p.resource {
        req = req.add_extra_param("resource", r.clone());
    }
    let resp = req
        .request_async(&sender(http, p, client, dpop)?)
        .await
        .map_err(|e| classify_token_error(&p.name, e))?;
    settle_dpop(p, record_from(&resp, None, now), dpop)
}

/// Whether this provider's sign-ins use DPoP, with a new key when they do: when the server
/// lists ES256, or the person requires it (then a server that doesn't offer it is an error).
pub fn dpop_key_for(p: &ProviderSpec) -> Result<Option<DpopKey>, OAuthError> {
    let offered = p.dpop_algs.iter().any(|a| a == super::dpop::ALG);
    if !offered && !p.dpop_required {
        return Ok(None);
    }
    if !offered {
        return Err(OAuthError::Dpop {
            provider: p.name.clone(),
            problem: if p.dpop_algs.is_empty() {
                "does not offer DPoP (its metadata lists no dpop_signing_alg_values_supported), which this provider is set to require".into()
            } else {
                format!(
                    "takes DPoP proofs only in {}, and Latchkey signs them with ES256",
                    p.dpop_algs.join(", ")
                )
            },
        });
    }
    DpopKey::generate().map(Some).map_err(|m| OAuthError::Dpop {
        provider: p.name.clone(),
        problem: m,
    })
}

/// Keeps the key with a DPoP-bound token; a Bearer answer to a DPoP request is taken only
/// when the person did not require DPoP (RFC 9449 §5: the server decides).
pub(super) fn settle_dpop(
    p: &ProviderSpec,
    mut rec: TokenRecord,
    key: Option<&DpopKey>,
) -> Result<TokenRecord, OAuthError> {
    match key {
        Some(k) if rec.token_type == "DPoP" => rec.dpop_key = Some(k.to_secret()),
        Some(_) if p.dpop_required => {
            return Err(OAuthError::Dpop {
                provider: p.name.clone(),
                problem: "answered with a Bearer token though this provider is set to require DPoP"
                    .into(),
            })
        }
        _ => rec.dpop_key = None,
    }
    Ok(rec)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// S13: a hostile `expires_in` can't overflow the expiry; it is clamped to ten years.
    #[test]
    fn hostile_expires_in_is_clamped_s13() {
        let now = 1_700_000_000;
        let resp: TokenResp = serde_json::from_str(
            r#"{"access_token":"a","token_type":"bearer","expires_in":18446744073709551615}"#,
        )
        .unwrap();
        let rec = record_from(&resp, None, now);
        assert_eq!(rec.expires_at, Some(now + MAX_LIFETIME as i64));
        assert_eq!(expiry(i64::MAX - 5, 3600), i64::MAX);
        assert_eq!(expiry(now, 3600), now + 3600);
    }

    /// S36: DPoP is used where the server offers ES256 or the person requires it; a required
    /// DPoP at a server without it, or with other algorithms only, is an error; a Bearer answer
    /// to a DPoP request is taken only when DPoP was not required (and then no key is kept).
    #[test]
    fn dpop_is_used_as_offered_or_required_s36() {
        let mut p = ProviderSpec::new("p", "P");
        assert!(
            dpop_key_for(&p).unwrap().is_none(),
            "not offered, not required"
        );
        p.dpop_algs = vec!["RS256".into()];
        assert!(dpop_key_for(&p).unwrap().is_none());
        p.dpop_required = true;
        let e = dpop_key_for(&p).unwrap_err().to_string();
        assert!(e.contains("only in RS256"), "{e}");
        p.dpop_algs.clear();
        assert!(dpop_key_for(&p)
            .unwrap_err()
            .to_string()
            .contains("does not offer DPoP"));
        p.dpop_algs = vec!["ES256".into(), "EdDSA".into()];
        let key = dpop_key_for(&p).unwrap().expect("a key");

        let bearer: TokenResp =
            serde_json::from_str(r#"{"access_token":"a","token_type":"Bearer"}"#).unwrap();
        let dpop: TokenResp =
            serde_json::from_str(r#"{"access_token":"a","token_type":"DPoP"}"#).unwrap();
        let rec = settle_dpop(&p, record_from(&dpop, None, 1), Some(&key)).unwrap();
        assert!(rec.is_dpop());
        assert!(
            settle_dpop(&p, record_from(&bearer, None, 1), Some(&key)).is_err(),
            "required, and the server dropped DPoP"
        );
        p.dpop_required = false;
        let rec = settle_dpop(&p, record_from(&bearer, None, 1), Some(&key)).unwrap();
        assert_eq!(rec.token_type, "Bearer");
        assert!(rec.dpop_key.is_none(), "no key kept with a bearer token");
    }

    /// S25 (F5): the granted scopes a server returns lose their control characters.
    #[test]
    fn granted_scopes_lose_control_characters_s25() {
        let resp: TokenResp = serde_json::from_str(
            r#"{"access_token":"a","token_type":"bearer","scope":"read \u001b[2J\u001b]0;pwned\u0007"}"#,
        )
        .unwrap();
        let rec = record_from(&resp, None, 1);
        assert_eq!(rec.scopes, ["read", "[2J]0;pwned"]);
    }
}
