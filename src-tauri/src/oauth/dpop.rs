//! DPoP (RFC 9449): a key pair per account and the proofs that bind its tokens to it.
//!
//! The key is an ECDSA P-256 key (ES256) made with ring; its PKCS#8 form is kept inside the
//! account's credential-store record, never on disk, and goes with the account. Every request
//! that carries the token (or asks for one) gets a fresh proof: a JWS over `htm`, `htu`
//! (without query and fragment), `iat`, a random `jti`, the server's nonce when it gave one,
//! and `ath` (the token's SHA-256) at an API. Server nonces (§8, §9) are remembered per origin
//! for the life of the process; a `use_dpop_nonce` answer is retried once.

use super::http::{Http, HttpError};
use crate::secret::Secret;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Mutex;

/// The one algorithm Latchkey signs proofs with.
pub const ALG: &str = "ES256";

/// An account's DPoP key.
pub struct DpopKey {
    pair: EcdsaKeyPair,
    pkcs8: Secret,
}

impl std::fmt::Debug for DpopKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DpopKey({})", self.thumbprint())
    }
}

impl DpopKey {
    /// A new random key.
    pub fn generate() -> Result<Self, String> {
        let rng = SystemRandom::new();
        let doc = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .map_err(|_| "could not make a DPoP key".to_string())?;
        Self::from_secret(&Secret::new(B64.encode(doc.as_ref())))
    }

    /// The key kept in a record (base64url PKCS#8).
    pub fn from_secret(s: &Secret) -> Result<Self, String> {
        let der = B64
            .decode(s.expose())
            .map_err(|_| "the stored DPoP key is damaged".to_string())?;
        let pair =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &der, &SystemRandom::new())
                .map_err(|_| "the stored DPoP key is damaged".to_string())?;
        Ok(DpopKey {
            pair,
            pkcs8: s.clone(),
        })
    }

    /// What goes into the record.
    pub fn to_secret(&self) -> Secret {
        self.pkcs8.clone()
    }

    /// The public key as a JWK, members in the order RFC 7638 hashes them.
    pub fn jwk(&self) -> serde_json::Value {
        let point = self.pair.public_key().as_ref();
        // Uncompressed: 0x04 || X (32) || Y (32).
        serde_json::json!({
            "crv": "P-256",
            "kty": "EC",
            "x": B64.encode(&point[1..33]),
            "y": B64.encode(&point[33..65]),
        })
    }

    /// RFC 7638 thumbprint (base64url SHA-256), the `jkt` a server binds tokens to.
    pub fn thumbprint(&self) -> String {
        let j = self.jwk();
        let canonical = format!(
            r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
            j["x"].as_str().unwrap_or_default(),
            j["y"].as_str().unwrap_or_default()
        );
        B64.encode(Sha256::digest(canonical.as_bytes()))
    }

    /// A proof for one request. `htu` loses its query and fragment (§4.2).
    pub fn proof(
        &self,
        htm: &str,
        htu: &str,
        nonce: Option<&str>,
        token: Option<&str>,
    ) -> Result<Secret, String> {
        let header = serde_json::json!({"typ": "dpop+jwt", "alg": ALG, "jwk": self.jwk()});
        let jti: [u8; 16] = crate::secret::random_bytes().map_err(|e| e.to_string())?;
        let mut claims = serde_json::json!({
            "jti": B64.encode(jti),
            "htm": htm,
            "htu": htu_of(htu),
            "iat": crate::clock::now(),
        });
        if let Some(n) = nonce {
            claims["nonce"] = n.into();
        }
        if let Some(t) = token {
            claims["ath"] = B64.encode(Sha256::digest(t.as_bytes())).into();
        }
        self.sign(&header, &claims)
            .map_err(|_| "could not sign a DPoP proof".to_string())
    }

    /// A compact JWS over `claims` with this key (ES256). Also signs client assertions
    /// (`assertion.rs`), which use the same kind of key.
    pub fn sign(
        &self,
        header: &serde_json::Value,
        claims: &serde_json::Value,
    ) -> Result<Secret, String> {
        let input = format!(
            "{}.{}",
            B64.encode(header.to_string()),
            B64.encode(claims.to_string())
        );
        let sig = self
            .pair
            .sign(&SystemRandom::new(), input.as_bytes())
            .map_err(|_| "could not sign".to_string())?;
        Ok(Secret::new(format!("{input}.{}", B64.encode(sig.as_ref()))))
    }
}

/// The `htu` of a URL: scheme, host, port and path (§4.2).
pub fn htu_of(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) => {
            u.set_query(None);
            u.set_fragment(None);
            u.to_string()
        }
        Err(_) => url.to_string(),
    }
}

/// Server nonces by origin, for this process.
static NONCES: Mutex<Option<HashMap<String, String>>> = Mutex::new(None);

fn origin_of(url: &str) -> String {
    url::Url::parse(url).map_or_else(|_| url.to_string(), |u| u.origin().ascii_serialization())
}

/// The nonce a server last gave, if any.
pub fn nonce_for(url: &str) -> Option<String> {
    NONCES
        .lock()
        .ok()
        .and_then(|m| m.as_ref().and_then(|m| m.get(&origin_of(url)).cloned()))
}

/// Remembers a nonce from a `DPoP-Nonce` header. Only NQCHAR text of sane length is taken
/// (§8.1); anything else is ignored, so a malformed answer can't get into a proof.
pub fn remember_nonce(url: &str, value: Option<&http::HeaderValue>) -> bool {
    let Some(v) = value.and_then(|v| v.to_str().ok()) else {
        return false;
    };
    if v.is_empty()
        || v.len() > 512
        || !v
            .chars()
            .all(|c| c == '!' || ('#'..='[').contains(&c) || (']'..='~').contains(&c))
    {
        tracing::debug!("ignored a malformed DPoP-Nonce");
        return false;
    }
    if let Ok(mut m) = NONCES.lock() {
        m.get_or_insert_with(HashMap::new)
            .insert(origin_of(url), v.to_string());
    }
    true
}

/// True for a token-endpoint answer asking for a nonce (400, `error=use_dpop_nonce`).
fn token_endpoint_wants_nonce(resp: &http::Response<Vec<u8>>) -> bool {
    resp.status().as_u16() == 400
        && serde_json::from_slice::<serde_json::Value>(resp.body())
            .ok()
            .is_some_and(|v| v["error"] == "use_dpop_nonce")
}

/// True for an API answer asking for a nonce (401, `WWW-Authenticate: DPoP error="use_dpop_nonce"`).
pub fn api_wants_nonce(resp: &http::Response<Vec<u8>>) -> bool {
    resp.status().as_u16() == 401
        && resp
            .headers()
            .get_all("www-authenticate")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|v| v.to_ascii_lowercase().starts_with("dpop") && v.contains("use_dpop_nonce"))
}

/// Sends a request with a DPoP proof, retrying once with the server's nonce when it asks for
/// one. `token` adds `ath` (requests to an API).
pub async fn send_with_proof(
    http: &Http,
    key: &DpopKey,
    req: http::Request<Vec<u8>>,
    token: Option<&str>,
) -> Result<http::Response<Vec<u8>>, HttpError> {
    let url = req.uri().to_string();
    let method = req.method().as_str().to_string();
    let (parts, body) = req.into_parts();
    let mut asked_again = false;
    loop {
        let proof = key
            .proof(&method, &url, nonce_for(&url).as_deref(), token)
            .map_err(|_| HttpError::Other)?;
        let mut r = http::Request::builder()
            .method(parts.method.clone())
            .uri(parts.uri.clone());
        for (k, v) in &parts.headers {
            r = r.header(k, v);
        }
        let r = r
            .header("dpop", proof.expose())
            .body(body.clone())
            .map_err(|_| HttpError::Other)?;
        let resp = http.send(r).await?;
        let fresh = remember_nonce(&url, resp.headers().get("dpop-nonce"));
        let wants = if token.is_some() {
            api_wants_nonce(&resp)
        } else {
            token_endpoint_wants_nonce(&resp)
        };
        if wants && fresh && !asked_again {
            asked_again = true;
            continue;
        }
        return Ok(resp);
    }
}

/// Sends `req` with the token: `Authorization: Bearer`, or `Authorization: DPoP` and a fresh
/// proof (with `ath`) when the account has a key.
pub async fn send_authorized(
    http: &Http,
    req: http::Request<Vec<u8>>,
    token: &Secret,
    key: Option<&DpopKey>,
) -> Result<http::Response<Vec<u8>>, HttpError> {
    let (mut parts, body) = req.into_parts();
    let scheme = if key.is_some() { "DPoP" } else { "Bearer" };
    let value = http::HeaderValue::from_str(&format!("{scheme} {}", token.expose()))
        .map_err(|_| HttpError::Other)?;
    parts.headers.insert(http::header::AUTHORIZATION, value);
    let req = http::Request::from_parts(parts, body);
    match key {
        Some(k) => send_with_proof(http, k, req, Some(token.expose())).await,
        None => http.send(req).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(jws: &str, i: usize) -> serde_json::Value {
        serde_json::from_slice(&B64.decode(jws.split('.').nth(i).unwrap()).unwrap()).unwrap()
    }

    #[test]
    fn proofs_carry_the_method_the_address_the_nonce_and_the_token_hash_s36() {
        let k = DpopKey::generate().unwrap();
        let again = DpopKey::from_secret(&k.to_secret()).unwrap();
        assert_eq!(
            k.thumbprint(),
            again.thumbprint(),
            "the stored key is the same key"
        );
        let p = k
            .proof(
                "POST",
                "https://as.example/token?x=1#f",
                Some("n-1"),
                Some("tok"),
            )
            .unwrap();
        let p = p.expose();
        let h = part(p, 0);
        assert_eq!(h["typ"], "dpop+jwt");
        assert_eq!(h["alg"], "ES256");
        assert!(h["jwk"].get("d").is_none(), "no private part in the proof");
        let c = part(p, 1);
        assert_eq!(c["htm"], "POST");
        assert_eq!(c["htu"], "https://as.example/token");
        assert_eq!(c["nonce"], "n-1");
        assert_eq!(c["ath"], B64.encode(Sha256::digest(b"tok")));
        let q = k
            .proof("POST", "https://as.example/token", None, None)
            .unwrap();
        assert_ne!(
            part(q.expose(), 1)["jti"],
            c["jti"],
            "a fresh jti per proof"
        );
        assert!(part(q.expose(), 1).get("ath").is_none());
        // The signature verifies with the public key in the header.
        let pk = ring::signature::UnparsedPublicKey::new(
            &ring::signature::ECDSA_P256_SHA256_FIXED,
            k.pair.public_key().as_ref().to_vec(),
        );
        let (input, sig) = p.rsplit_once('.').unwrap();
        pk.verify(input.as_bytes(), &B64.decode(sig).unwrap())
            .unwrap();
        assert!(!format!("{k:?}").contains(k.to_secret().expose()));
    }

    #[test]
    fn malformed_nonces_are_ignored_s36() {
        let hv = |s: &str| http::HeaderValue::from_str(s).unwrap();
        assert!(!remember_nonce(
            "https://a.example/x",
            Some(&hv("has space"))
        ));
        assert!(!remember_nonce("https://a.example/x", Some(&hv("quote\""))));
        assert!(!remember_nonce(
            "https://a.example/x",
            Some(&hv(&"n".repeat(600)))
        ));
        assert!(remember_nonce(
            "https://a.example/x",
            Some(&hv("eyJ7S_zG.eyJH0-Z.HX4w-7v"))
        ));
        assert_eq!(
            nonce_for("https://a.example/other").as_deref(),
            Some("eyJ7S_zG.eyJH0-Z.HX4w-7v")
        );
        assert_eq!(nonce_for("https://b.example/"), None);
    }
}
