//! Token revocation (RFC 7009): the refresh token first, then the access token (S17).

use super::http::Http;
use super::{ClientConfig, OAuthError};
use crate::provider::{ClientAuth, ProviderSpec};
use crate::secret::Secret;
use crate::text::plain_text;
use crate::vault::TokenRecord;
use serde::Serialize;

/// What revocation achieved, for the removal report (S17).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Revocation {
    /// The provider confirmed (HTTP 200) every token we sent.
    Revoked,
    /// The provider has no revocation endpoint.
    NotSupported,
    /// It failed; the local wipe still happens. Plain-words reason.
    Failed(String),
}

/// RFC 7009: revoke the refresh token first, then the access token. 200 is success whatever
/// the body. Sent directly rather than through `oauth2`, whose revocation request refuses
/// every non-https URL, including the loopback endpoints S20 allows.
pub async fn revoke(
    http: &Http,
    p: &ProviderSpec,
    client: &ClientConfig,
    rec: &TokenRecord,
) -> Revocation {
    let Some(url) = p.revocation_url.clone() else {
        return Revocation::NotSupported;
    };
    if let Err(e) = crate::provider::check_endpoint(&url) {
        return Revocation::Failed(e);
    }
    let mut tokens = Vec::new();
    if let Some(rt) = &rec.refresh_token {
        tokens.push((rt, "refresh_token"));
    }
    tokens.push((&rec.access_token, "access_token"));
    for (token, hint) in tokens {
        let req = match revocation_request(p, &url, client, token, hint) {
            Ok(r) => r,
            Err(why) => return Revocation::Failed(why),
        };
        match http.send(req).await {
            Ok(r) if r.status().is_success() => {}
            Ok(r) => {
                let code = serde_json::from_slice::<serde_json::Value>(r.body())
                    .ok()
                    .and_then(|v| {
                        v.get("error")
                            .and_then(|e| e.as_str())
                            .map(|e| plain_text(e, 64))
                    });
                return Revocation::Failed(format!(
                    "{} answered {}{}",
                    p.name,
                    r.status().as_u16(),
                    code.map(|c| format!(" ({c})")).unwrap_or_default()
                ));
            }
            Err(e) => return Revocation::Failed(format!("could not reach {}: {e}", p.name)),
        }
    }
    Revocation::Revoked
}

/// The RFC 7009 request with the client's authentication (RFC 6749 §2.3.1).
fn revocation_request(
    p: &ProviderSpec,
    url: &str,
    client: &ClientConfig,
    token: &Secret,
    hint: &str,
) -> Result<::http::Request<Vec<u8>>, String> {
    client_form_request(
        p,
        url,
        client,
        &[("token", token.expose()), ("token_type_hint", hint)],
    )
    .map_err(|e| format!("could not build the revocation request: {e}"))
}

/// A form POST to one of the server's endpoints (revocation, introspection) with the client's
/// authentication (RFC 6749 §2.3.1): Basic, the secret in the body, or the public client's id.
pub(crate) fn client_form_request(
    p: &ProviderSpec,
    url: &str,
    client: &ClientConfig,
    pairs: &[(&str, &str)],
) -> Result<::http::Request<Vec<u8>>, OAuthError> {
    let bad = |_| OAuthError::BadEndpoint(format!("{url} is not a valid endpoint address"));
    let enc = |s: &str| -> String { url::form_urlencoded::byte_serialize(s.as_bytes()).collect() };
    let mut form = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        form.append_pair(k, v);
    }
    let mut b = ::http::Request::builder()
        .method("POST")
        .uri(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("accept", "application/json");
    match (&client.secret, client.auth) {
        (Some(_), ClientAuth::PrivateKeyJwt) => {
            let (key, id, aud) = client.key_for(p)?.ok_or(OAuthError::Missing {
                provider: p.name.clone(),
                what: "client key",
            })?;
            form.append_pair("client_id", &id);
            let pairs = super::assertion::form_pairs(&key, &id, &aud).map_err(|m| {
                OAuthError::ClientKey {
                    provider: p.name.clone(),
                    problem: m,
                }
            })?;
            for (k, v) in pairs {
                form.append_pair(k, v.expose());
            }
        }
        (Some(secret), ClientAuth::ClientSecretBasic) => {
            use base64::Engine;
            let pair = format!("{}:{}", enc(&client.id), enc(secret.expose()));
            b = b.header(
                "authorization",
                format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(pair)
                ),
            );
        }
        (Some(secret), _) => {
            form.append_pair("client_id", &client.id)
                .append_pair("client_secret", secret.expose());
        }
        (None, _) => {
            form.append_pair("client_id", &client.id);
        }
    }
    b.body(form.finish().into_bytes()).map_err(bad)
}

/// RFC 7662: what the server says about one of its own tokens, when it has an introspection
/// endpoint and answers this client. `None` when it cannot tell (no endpoint, refused, not
/// JSON); the caller then decides another way.
pub async fn introspect(
    http: &Http,
    p: &ProviderSpec,
    client: &ClientConfig,
    token: &Secret,
) -> Option<serde_json::Value> {
    let url = p.introspection_url.as_deref()?;
    crate::provider::check_endpoint(url).ok()?;
    let req = client_form_request(
        p,
        url,
        client,
        &[
            ("token", token.expose()),
            ("token_type_hint", "access_token"),
        ],
    )
    .ok()?;
    let r = http.send(req).await.ok()?;
    if !r.status().is_success() {
        return None;
    }
    let v: serde_json::Value = serde_json::from_slice(r.body()).ok()?;
    (v.get("active") == Some(&serde_json::Value::Bool(true))).then_some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// S17/S20: revocation sends the token in the form body only, with client auth.
    #[test]
    fn revocation_request_carries_token_in_the_body_only() {
        let mut spec = ProviderSpec::new("p", "P");
        spec.issuer = Some("https://idp.example".into());
        let public = ClientConfig {
            id: "cid".into(),
            secret: None,
            auth: ClientAuth::None,
        };
        let r = revocation_request(
            &spec,
            "https://idp.example/revoke",
            &public,
            &Secret::new("TOK"),
            "refresh_token",
        )
        .unwrap();
        assert_eq!(r.method(), "POST");
        assert_eq!(
            String::from_utf8(r.body().clone()).unwrap(),
            "token=TOK&token_type_hint=refresh_token&client_id=cid"
        );
        assert!(!r.uri().to_string().contains("TOK"));
        let basic = ClientConfig {
            id: "c id".into(),
            secret: Some(Secret::new("s:e")),
            auth: ClientAuth::ClientSecretBasic,
        };
        let r = revocation_request(
            &spec,
            "https://idp.example/revoke",
            &basic,
            &Secret::new("TOK"),
            "access_token",
        )
        .unwrap();
        use base64::Engine;
        let expect = base64::engine::general_purpose::STANDARD.encode("c+id:s%3Ae");
        assert_eq!(
            r.headers()["authorization"],
            format!("Basic {expect}").as_str()
        );
        assert!(!String::from_utf8(r.body().clone())
            .unwrap()
            .contains("s%3Ae"));

        // S38: a client with a key sends its id and a fresh assertion for the issuer, and
        // never its stored key.
        let key = super::super::assertion::ClientKey::generate().unwrap();
        let keyed = ClientConfig::from_stored(
            "cid".into(),
            Some(key.to_stored()),
            ClientAuth::ClientSecretBasic,
            ClientAuth::None,
        );
        assert_eq!(keyed.auth, ClientAuth::PrivateKeyJwt);
        let r = revocation_request(
            &spec,
            "https://idp.example/revoke",
            &keyed,
            &Secret::new("TOK"),
            "access_token",
        )
        .unwrap();
        assert!(r.headers().get("authorization").is_none());
        let body = String::from_utf8(r.body().clone()).unwrap();
        let pairs: std::collections::HashMap<_, _> = url::form_urlencoded::parse(body.as_bytes())
            .into_owned()
            .collect();
        assert_eq!(pairs["client_id"], "cid");
        assert_eq!(
            pairs["client_assertion_type"],
            super::super::assertion::ASSERTION_TYPE
        );
        let claims: serde_json::Value = serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(pairs["client_assertion"].split('.').nth(1).unwrap())
                .unwrap(),
        )
        .unwrap();
        assert_eq!(claims["aud"], "https://idp.example");
        let stored = key.to_stored();
        let pkcs8 = stored.expose().rsplit(':').next().unwrap();
        assert!(!body.contains(pkcs8), "the private key never leaves");
    }
}
