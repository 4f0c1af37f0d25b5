//! Dynamic client registration (RFC 7591): a PKCE client for one-click sign-in, public where
//! the server allows it, else with the secret and method the server hands out.

use super::assertion::ClientKey;
use super::device::DEVICE_GRANT;
use super::http::Http;
use super::{endpoint, network, OAuthError};
use crate::provider::{ClientAuth, ProviderSpec};
use crate::secret::Secret;
use crate::text::plain_text;

/// What a registration gave: the client id, and a secret with its method where the server
/// registered a confidential client.
#[derive(Debug)]
pub struct Registered {
    /// The client id the server issued.
    pub client_id: String,
    /// The client secret, when the server issued one (kept in the credential store).
    pub secret: Option<Secret>,
    /// How this client authenticates at the token endpoint.
    pub auth: ClientAuth,
}

/// The method to ask for: `none` where the server lists it (or lists nothing), as RFC 8252
/// expects of native apps; else `private_key_jwt` where listed, a key that never leaves the
/// credential store rather than a secret sent with every request; else `client_secret_basic`,
/// else `client_secret_post`.
pub fn method_to_register(p: &ProviderSpec) -> ClientAuth {
    let listed = |m: &str| p.token_auth_methods.iter().any(|x| x == m);
    if p.token_auth_methods.is_empty() || listed("none") {
        ClientAuth::None
    } else if listed("private_key_jwt") {
        ClientAuth::PrivateKeyJwt
    } else {
        p.secret_auth()
    }
}

/// RFC 7591: registers a PKCE client with a loopback redirect.
pub async fn register_client(
    http: &Http,
    p: &ProviderSpec,
    redirect_uri: &str,
) -> Result<Registered, OAuthError> {
    let url = endpoint(p, &p.registration_url, "registration endpoint")?;
    let mut grants = vec!["authorization_code", "refresh_token"];
    if p.device_url.is_some() {
        grants.push(DEVICE_GRANT);
    }
    let method = method_to_register(p);
    let mut body = serde_json::json!({
        "client_name": "Latchkey",
        "application_type": "native",
        "redirect_uris": [redirect_uri],
        "grant_types": grants,
        "response_types": ["code"],
        "token_endpoint_auth_method": method.name(),
    });
    // private_key_jwt: a key of this installation's, its public half sent as `jwks`.
    let key = if method == ClientAuth::PrivateKeyJwt {
        let k = ClientKey::generate().map_err(|m| OAuthError::ClientKey {
            provider: p.name.clone(),
            problem: m,
        })?;
        body["jwks"] = k.jwks();
        body["token_endpoint_auth_signing_alg"] = super::dpop::ALG.into();
        Some(k)
    } else {
        None
    };
    let resp = http
        .post_json(&url, &body)
        .await
        .map_err(|e| network(&p.name, e))?;
    let v: serde_json::Value =
        serde_json::from_slice(resp.body()).map_err(|_| OAuthError::BadResponse {
            provider: p.name.clone(),
        })?;
    if !resp.status().is_success() {
        return Err(OAuthError::Provider {
            provider: p.name.clone(),
            code: plain_text(
                v.get("error")
                    .and_then(|e| e.as_str())
                    .unwrap_or("registration_failed"),
                64,
            ),
            description: v
                .get("error_description")
                .and_then(|e| e.as_str())
                .map(|d| plain_text(d, 300)),
        });
    }
    registered(&v, method, key.as_ref()).ok_or(OAuthError::BadResponse {
        provider: p.name.clone(),
    })
}

/// Reads a registration response: a client id, and for a confidential client its secret and
/// method (RFC 7591 §3.2.1; a secret without a method means `client_secret_basic`), or the
/// key it was registered with. `None` for an answer without a client id, a secret method
/// without a secret, a key method without the key, or a method Latchkey does not speak.
fn registered(
    v: &serde_json::Value,
    asked: ClientAuth,
    key: Option<&ClientKey>,
) -> Option<Registered> {
    let client_id = v.get("client_id")?.as_str()?.to_string();
    let secret = v
        .get("client_secret")
        .and_then(|s| s.as_str())
        .filter(|s| !s.is_empty())
        .map(Secret::new);
    let auth = match v.get("token_endpoint_auth_method").and_then(|m| m.as_str()) {
        Some(m) => ClientAuth::from_name(m)?,
        None if secret.is_some() && asked == ClientAuth::None => ClientAuth::ClientSecretBasic,
        None => asked,
    };
    if auth == ClientAuth::PrivateKeyJwt {
        return Some(Registered {
            client_id,
            secret: Some(key?.to_stored()),
            auth,
        });
    }
    if auth != ClientAuth::None && secret.is_none() {
        return None;
    }
    Some(Registered {
        client_id,
        secret: secret.filter(|_| auth != ClientAuth::None),
        auth,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The server's own client authentication: ask for `none` only where it is listed, and
    /// keep the secret and method the registration returns.
    #[test]
    fn registration_follows_the_servers_client_authentication() {
        let mut p = ProviderSpec::new("x", "X");
        assert_eq!(method_to_register(&p), ClientAuth::None);
        p.token_auth_methods = vec!["client_secret_basic".into(), "private_key_jwt".into()];
        assert_eq!(
            method_to_register(&p),
            ClientAuth::PrivateKeyJwt,
            "a key over a secret"
        );
        p.token_auth_methods = vec!["client_secret_basic".into()];
        assert_eq!(method_to_register(&p), ClientAuth::ClientSecretBasic);
        p.token_auth_methods = vec!["client_secret_post".into()];
        assert_eq!(method_to_register(&p), ClientAuth::ClientSecretPost);
        p.token_auth_methods = vec!["client_secret_post".into(), "none".into()];
        assert_eq!(method_to_register(&p), ClientAuth::None);

        let j = |s: &str| serde_json::from_str::<serde_json::Value>(s).unwrap();
        let r = registered(&j(r#"{"client_id":"c"}"#), ClientAuth::None, None).unwrap();
        assert_eq!((r.client_id.as_str(), r.auth), ("c", ClientAuth::None));
        let r = registered(
            &j(r#"{"client_id":"c","client_secret":"s","token_endpoint_auth_method":"client_secret_post"}"#),
            ClientAuth::ClientSecretBasic,
            None,
        )
        .unwrap();
        assert_eq!(r.auth, ClientAuth::ClientSecretPost);
        assert_eq!(r.secret.unwrap().expose(), "s");
        let r = registered(
            &j(r#"{"client_id":"c","client_secret":"s"}"#),
            ClientAuth::None,
            None,
        )
        .unwrap();
        assert_eq!(r.auth, ClientAuth::ClientSecretBasic, "RFC 7591 default");
        assert!(registered(&j(r#"{"client_secret":"s"}"#), ClientAuth::None, None).is_none());
        assert!(
            registered(
                &j(r#"{"client_id":"c","token_endpoint_auth_method":"client_secret_basic"}"#),
                ClientAuth::ClientSecretBasic,
                None
            )
            .is_none(),
            "a secret method without a secret"
        );
        assert!(
            registered(
                &j(r#"{"client_id":"c","client_secret":"s","token_endpoint_auth_method":"private_key_jwt"}"#),
                ClientAuth::None,
                None
            )
            .is_none(),
            "a key method without a key of Latchkey's"
        );
        let key = ClientKey::generate().unwrap();
        let r = registered(
            &j(r#"{"client_id":"c","token_endpoint_auth_method":"private_key_jwt"}"#),
            ClientAuth::PrivateKeyJwt,
            Some(&key),
        )
        .unwrap();
        assert_eq!(r.auth, ClientAuth::PrivateKeyJwt);
        assert!(
            ClientKey::is_key(r.secret.as_ref().unwrap()),
            "the key is kept as the client's credential"
        );
    }
}
