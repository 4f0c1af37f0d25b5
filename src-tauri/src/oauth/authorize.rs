//! Starting a sign-in (RFC 6749 §4.1, RFC 7636): a new transaction with a 32-byte state, an S256
//! verifier, the issuer and the exact redirect, and the authorization URL to open.

use super::{base_client, endpoint, url_err, ClientConfig, OAuthError};
use crate::provider::ProviderSpec;
use crate::secret::Secret;
use oauth2::{AuthUrl, CsrfToken, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// How long a sign-in may stay pending (S7).
pub const TRANSACTION_TTL: i64 = 600;

/// A pending sign-in. Stored in the vault (the verifier and state are secrets) so a sign-in
/// approved after the app was quit completes on the next start.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Transaction {
    /// Non-secret handle: hex of SHA-256(state), truncated; names the vault entry.
    pub handle: String,
    /// 32 random bytes, base64url (S7).
    pub state: Secret,
    /// PKCE verifier from 32 random bytes (S6).
    pub verifier: Secret,
    /// Provider id.
    pub provider: String,
    /// Issuer the `iss` parameter must equal (S10).
    pub issuer: Option<String>,
    /// `iss` must be present (RFC 9207 metadata said so).
    pub iss_required: bool,
    /// The exact redirect URI sent in the request; repeated byte for byte (S5).
    pub redirect_uri: String,
    /// Client used.
    pub client_id: String,
    /// Requested scopes.
    pub scopes: Vec<String>,
    /// The protected API named with `resource=` (RFC 8707), if any.
    #[serde(default)]
    pub resource: Option<String>,
    /// Where the provider pointed when the sign-in began: the code goes only to that token
    /// endpoint, even if the provider entry changed meanwhile.
    #[serde(default)]
    pub destinations: Option<crate::provider::Destinations>,
    /// The DPoP key made for this sign-in (RFC 9449), whose thumbprint went out as
    /// `dpop_jkt`: the code exchange proves it, so the code is bound to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dpop_key: Option<Secret>,
    /// Label for the new account.
    pub label: Option<String>,
    /// Account being re-authenticated, if any.
    pub reauth_of: Option<String>,
    /// Unix seconds.
    pub created: i64,
    /// Unix seconds (created + 10 min).
    pub expires: i64,
}

/// Derives the handle under which a transaction with `state` is stored.
pub fn handle_for_state(state: &str) -> String {
    let d = Sha256::digest(state.as_bytes());
    d.iter().take(16).map(|b| format!("{b:02x}")).collect()
}

/// 32 random bytes as unpadded base64url (43 characters, RFC 7636 §4.1's recommendation).
/// The raw bytes are zeroed once encoded.
fn random_b64() -> Result<String, crate::secret::NoRandomness> {
    use base64::Engine;
    use zeroize::Zeroize;
    let mut buf = [0u8; 32];
    crate::secret::fill_random(&mut buf)?;
    let s = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf);
    buf.zeroize();
    Ok(s)
}

/// What `begin` hands back: the transaction to store, and the URL to open.
pub struct Begun {
    /// The new transaction.
    pub transaction: Transaction,
    /// The authorization URL (carries state and challenge, so treated as a secret).
    pub authorize_url: Secret,
}

/// Starts a sign-in: new state and verifier every time, S256 only, exact redirect recorded.
pub fn begin(
    p: &ProviderSpec,
    client: &ClientConfig,
    redirect_uri: &str,
    scopes: &[String],
    now: i64,
) -> Result<Begun, OAuthError> {
    let auth = endpoint(p, &p.authorize_url, "authorization endpoint")?;
    let state = random_b64()?;
    let verifier = PkceCodeVerifier::new(random_b64()?);
    let challenge = PkceCodeChallenge::from_code_verifier_sha256(&verifier);
    let c = base_client(client)
        .set_auth_uri(AuthUrl::new(auth).map_err(url_err("authorization endpoint"))?)
        .set_redirect_uri(
            RedirectUrl::new(redirect_uri.to_string()).map_err(url_err("redirect URI"))?,
        );
    let st = state.clone();
    let mut req = c
        .authorize_url(move || CsrfToken::new(st))
        .set_pkce_challenge(challenge);
    for s in scopes {
        req = req.add_scope(Scope::new(s.clone()));
    }
    // RFC 8707: the token is asked for one protected API only.
    if let Some(r) = &p.resource {
        req = req.add_extra_param("resource", r.clone());
    }
    // RFC 9449 §10: the code is bound to the key the exchange will prove.
    let dpop = super::dpop_key_for(p)?;
    if let Some(k) = &dpop {
        req = req.add_extra_param("dpop_jkt", k.thumbprint());
    }
    let (url, _) = req.url();
    let transaction = Transaction {
        handle: handle_for_state(&state),
        state: Secret::new(state),
        verifier: Secret::new(verifier.secret().to_string()),
        provider: p.id.clone(),
        issuer: p.issuer.clone(),
        iss_required: p.iss_required,
        redirect_uri: redirect_uri.to_string(),
        client_id: client.id.clone(),
        scopes: scopes.to_vec(),
        resource: p.resource.clone(),
        destinations: Some(p.destinations()),
        dpop_key: dpop.map(|k| k.to_secret()),
        label: None,
        reauth_of: None,
        created: now,
        expires: now + TRANSACTION_TTL,
    };
    Ok(Begun {
        transaction,
        authorize_url: Secret::new(url.to_string()),
    })
}

/// RFC 9126: pushes the authorization request `begun` made (its query, with the client's
/// authentication where it has any) to the server's PAR endpoint, and returns the address
/// the browser opens instead: only `client_id` and the `request_uri` the server gave. An
/// error from the push comes before any browser opens.
pub async fn push(
    http: &super::http::Http,
    p: &ProviderSpec,
    client: &ClientConfig,
    begun: &Begun,
) -> Result<Secret, OAuthError> {
    let Some(par) = &p.par_url else {
        return Ok(begun.authorize_url.clone());
    };
    crate::provider::check_endpoint(par).map_err(OAuthError::BadEndpoint)?;
    let full = url::Url::parse(begun.authorize_url.expose()).map_err(|_| {
        OAuthError::BadEndpoint("the authorization endpoint is not a valid URL".into())
    })?;
    let pairs: Vec<(String, String)> = full
        .query_pairs()
        .filter(|(k, _)| k != "client_id")
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let borrowed: Vec<(&str, &str)> = pairs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let req = super::revoke::client_form_request(p, par, client, &borrowed)?;
    let resp = http.send(req).await.map_err(|e| OAuthError::Network {
        provider: p.name.clone(),
        source: e,
    })?;
    let body: serde_json::Value = serde_json::from_slice(resp.body()).unwrap_or_default();
    if !resp.status().is_success() {
        return Err(OAuthError::Provider {
            provider: p.name.clone(),
            code: body["error"].as_str().map_or_else(
                || format!("par_http_{}", resp.status().as_u16()),
                |e| crate::text::plain_text(e, 64),
            ),
            description: body["error_description"]
                .as_str()
                .map(|d| crate::text::plain_text(d, 300)),
        });
    }
    let Some(request_uri) = body["request_uri"]
        .as_str()
        .filter(|u| !u.is_empty() && u.len() < 2048)
    else {
        return Err(OAuthError::BadResponse {
            provider: p.name.clone(),
        });
    };
    let mut browser = full.clone();
    browser
        .query_pairs_mut()
        .clear()
        .append_pair("client_id", &client.id)
        .append_pair("request_uri", request_uri);
    Ok(Secret::new(browser.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::test_support::*;

    /// S6: the RFC 7636 Appendix B known answer.
    #[test]
    fn pkce_s256_known_answer_s6() {
        let v = PkceCodeVerifier::new("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk".into());
        assert_eq!(
            PkceCodeChallenge::from_code_verifier_sha256(&v).as_str(),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    /// S6, S7: S256 always, 32-byte verifier and state, new every time, 10-minute expiry.
    #[test]
    fn every_request_has_fresh_state_and_s256_challenge_s6_s7() {
        let a = begin(
            &provider(),
            &client(),
            "http://127.0.0.1:5555/callback",
            &["openid".into()],
            1000,
        )
        .unwrap();
        let b = begin(
            &provider(),
            &client(),
            "http://127.0.0.1:5555/callback",
            &["openid".into()],
            1000,
        )
        .unwrap();
        let url = url::Url::parse(a.authorize_url.expose()).unwrap();
        let q: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
        assert_eq!(q["code_challenge_method"], "S256");
        assert_eq!(q["response_type"], "code");
        assert_eq!(q["redirect_uri"], "http://127.0.0.1:5555/callback");
        assert_eq!(q["state"], a.transaction.state.expose());
        assert_eq!(a.transaction.state.len(), 43, "32 random bytes, base64url");
        assert_eq!(
            a.transaction.verifier.len(),
            43,
            "32 random bytes, base64url"
        );
        assert_ne!(a.transaction.state, b.transaction.state);
        assert_ne!(a.transaction.verifier, b.transaction.verifier);
        assert_eq!(a.transaction.expires - a.transaction.created, 600);
        let expect = PkceCodeChallenge::from_code_verifier_sha256(&PkceCodeVerifier::new(
            a.transaction.verifier.expose().into(),
        ));
        assert_eq!(q["code_challenge"], expect.as_str());
        assert!(!format!("{:?}", a.transaction).contains(a.transaction.state.expose()));
    }

    #[test]
    fn state_handle_is_stable_and_reveals_nothing() {
        let h = handle_for_state("abc");
        assert_eq!(h, handle_for_state("abc"));
        assert_eq!(h.len(), 32);
        assert!(!h.contains("abc"));
    }
}
