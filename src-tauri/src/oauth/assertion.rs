//! `private_key_jwt` client authentication (RFC 7523 §2.2, OpenID Connect Core §9): the client
//! proves itself with a short-lived JWT signed by a key pair of its own instead of a shared
//! secret. The private key is an ES256 key made by Latchkey and kept in the credential store
//! in the slot a client secret would use (`client-secret:<provider>:<client id>`), marked by
//! [`KEY_PREFIX`], so every path that finds, keeps or forgets a client's secret does the same
//! for its key; only the public half (a JWK) is ever shown (S38).

use super::dpop::{DpopKey, ALG};
use super::http::HttpError;
use crate::secret::Secret;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;

/// RFC 7523 §2.2's `client_assertion_type`.
pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// What marks a stored client credential as a key, not a secret the person typed.
pub const KEY_PREFIX: &str = "latchkey-client-key:ES256:";

/// How long an assertion is valid: long enough for one request, short enough that a copy is
/// useless soon after (S38).
pub const LIFETIME: i64 = 60;

/// A client's key pair.
pub struct ClientKey(DpopKey);

impl std::fmt::Debug for ClientKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ClientKey({})", self.0.thumbprint())
    }
}

impl ClientKey {
    /// A new random key.
    pub fn generate() -> Result<Self, String> {
        DpopKey::generate()
            .map(ClientKey)
            .map_err(|_| "could not make a client key".into())
    }

    /// True when a stored client credential is a key (else it is a client secret).
    pub fn is_key(stored: &Secret) -> bool {
        stored.expose().starts_with(KEY_PREFIX)
    }

    /// The key a stored credential holds, `None` for a client secret.
    pub fn from_stored(stored: &Secret) -> Option<Result<Self, String>> {
        let pkcs8 = stored.expose().strip_prefix(KEY_PREFIX)?;
        Some(
            DpopKey::from_secret(&Secret::new(pkcs8.to_string()))
                .map(ClientKey)
                .map_err(|_| "the client's stored key is damaged".into()),
        )
    }

    /// What goes into the credential store.
    pub fn to_stored(&self) -> Secret {
        Secret::new(format!("{KEY_PREFIX}{}", self.0.to_secret().expose()))
    }

    /// The key id: the RFC 7638 thumbprint.
    pub fn kid(&self) -> String {
        self.0.thumbprint()
    }

    /// The public key as a JWK to register at the server, with its id, use and algorithm.
    pub fn public_jwk(&self) -> serde_json::Value {
        let mut j = self.0.jwk();
        j["kid"] = self.kid().into();
        j["use"] = "sig".into();
        j["alg"] = ALG.into();
        j
    }

    /// A JWK Set holding the public key (RFC 7517 §5), for `jwks` in a registration or a file.
    pub fn jwks(&self) -> serde_json::Value {
        serde_json::json!({ "keys": [self.public_jwk()] })
    }

    /// A fresh assertion: `iss` = `sub` = the client id, one `aud`, `exp` [`LIFETIME`] after
    /// `iat`, and a random `jti` the server can use to refuse a replay (RFC 7523 §3).
    pub fn assertion(&self, client_id: &str, aud: &str, now: i64) -> Result<Secret, String> {
        let jti: [u8; 18] = crate::secret::random_bytes().map_err(|e| e.to_string())?;
        let header = serde_json::json!({"alg": ALG, "typ": "JWT", "kid": self.kid()});
        let claims = serde_json::json!({
            "iss": client_id,
            "sub": client_id,
            "aud": aud,
            "jti": B64.encode(jti),
            "iat": now,
            "exp": now + LIFETIME,
        });
        self.0
            .sign(&header, &claims)
            .map_err(|_| "could not sign the client assertion".into())
    }
}

/// The audience of this provider's assertions: the issuer where it has one (the value the
/// updated JWT client authentication draft and FAPI 2.0 require, and that OpenID providers
/// accept at every endpoint), else the token endpoint (RFC 7523 §3).
pub fn audience(p: &crate::provider::ProviderSpec) -> Option<String> {
    match p.assertion_audience {
        crate::provider::AssertionAudience::TokenEndpoint => p.token_url.clone(),
        crate::provider::AssertionAudience::Issuer => p.issuer.clone().or(p.token_url.clone()),
    }
}

/// The form pairs that authenticate a client with its key.
pub fn form_pairs(
    key: &ClientKey,
    client_id: &str,
    aud: &str,
) -> Result<[(&'static str, Secret); 2], String> {
    Ok([
        (
            "client_assertion_type",
            Secret::new(ASSERTION_TYPE.to_string()),
        ),
        (
            "client_assertion",
            key.assertion(client_id, aud, crate::clock::now())?,
        ),
    ])
}

/// Appends a fresh assertion to a form-encoded request body.
pub fn add_to_request(
    req: http::Request<Vec<u8>>,
    key: &ClientKey,
    client_id: &str,
    aud: &str,
) -> Result<http::Request<Vec<u8>>, HttpError> {
    let (parts, mut body) = req.into_parts();
    let mut form = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in form_pairs(key, client_id, aud).map_err(|_| HttpError::Other)? {
        form.append_pair(k, v.expose());
    }
    if !body.is_empty() {
        body.push(b'&');
    }
    body.extend_from_slice(form.finish().as_bytes());
    Ok(http::Request::from_parts(parts, body))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::signature::{UnparsedPublicKey, ECDSA_P256_SHA256_FIXED};

    fn part(jws: &str, i: usize) -> serde_json::Value {
        serde_json::from_slice(&B64.decode(jws.split('.').nth(i).unwrap()).unwrap()).unwrap()
    }

    /// S38: an assertion names the client as iss and sub, one audience, lives 60 s, carries a
    /// jti never repeated, and verifies with the public key Latchkey shows; the stored form
    /// is the same key and is never mistaken for a typed secret.
    #[test]
    fn assertions_follow_rfc_7523_and_the_stored_key_round_trips_s38() {
        let k = ClientKey::generate().unwrap();
        let stored = k.to_stored();
        assert!(ClientKey::is_key(&stored));
        assert!(!ClientKey::is_key(&Secret::new(
            "a-typed-secret".to_string()
        )));
        assert!(ClientKey::from_stored(&Secret::new("a-typed-secret".to_string())).is_none());
        let again = ClientKey::from_stored(&stored).unwrap().unwrap();
        assert_eq!(again.kid(), k.kid());
        let damaged = Secret::new(format!("{KEY_PREFIX}not-a-key"));
        assert!(ClientKey::from_stored(&damaged).unwrap().is_err());

        let a = k.assertion("cid", "https://as.example", 1000).unwrap();
        let b = k.assertion("cid", "https://as.example", 1000).unwrap();
        let (h, c) = (part(a.expose(), 0), part(a.expose(), 1));
        assert_eq!(h["alg"], "ES256");
        assert_eq!(h["kid"], k.kid());
        assert_eq!(
            (c["iss"].as_str(), c["sub"].as_str()),
            (Some("cid"), Some("cid"))
        );
        assert_eq!(c["aud"], "https://as.example", "one audience, not a list");
        assert_eq!(
            c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(),
            LIFETIME
        );
        assert_ne!(
            c["jti"],
            part(b.expose(), 1)["jti"],
            "a fresh jti each time"
        );
        assert!(c["jti"].as_str().unwrap().len() >= 22);

        // The signature verifies with the public JWK (x, y), and the JWK has no private part.
        let jwk = k.public_jwk();
        assert!(jwk.get("d").is_none(), "{jwk}");
        let mut point = vec![4u8];
        point.extend(B64.decode(jwk["x"].as_str().unwrap()).unwrap());
        point.extend(B64.decode(jwk["y"].as_str().unwrap()).unwrap());
        let (input, sig) = a.expose().rsplit_once('.').unwrap();
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &point)
            .verify(input.as_bytes(), &B64.decode(sig).unwrap())
            .expect("the assertion verifies with the registered key");
        assert_eq!(k.jwks()["keys"][0], jwk);
        assert!(!format!("{k:?}").contains(stored.expose()));
    }

    /// The assertion goes into the form body after what the request already says.
    #[test]
    fn the_assertion_is_appended_to_the_form() {
        let k = ClientKey::generate().unwrap();
        let req = http::Request::builder()
            .method("POST")
            .uri("https://as.example/token")
            .body(b"grant_type=client_credentials&client_id=cid".to_vec())
            .unwrap();
        let out = add_to_request(req, &k, "cid", "https://as.example").unwrap();
        let body = String::from_utf8(out.into_body()).unwrap();
        let pairs: std::collections::HashMap<_, _> = url::form_urlencoded::parse(body.as_bytes())
            .into_owned()
            .collect();
        assert_eq!(pairs["grant_type"], "client_credentials");
        assert_eq!(pairs["client_assertion_type"], ASSERTION_TYPE);
        assert_eq!(part(&pairs["client_assertion"], 1)["iss"], "cid");
        assert!(!pairs.contains_key("client_secret"));
    }
}
