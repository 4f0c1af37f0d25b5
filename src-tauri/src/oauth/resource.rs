//! Protected resource metadata (RFC 9728): from an API's address to the authorization server
//! that guards it. The metadata must name that exact API (§3.3) or nothing is used.

use super::http::{Http, HttpError};
use super::plain_text;
use serde::Deserialize;

/// What an API says about its own authorization.
#[derive(Debug, Clone, Deserialize)]
pub struct ResourceMetadata {
    /// The API's resource identifier; must equal the address it was found for.
    pub resource: String,
    /// Authorization servers that issue tokens for it.
    #[serde(default)]
    pub authorization_servers: Vec<String>,
    /// Scopes the API understands.
    #[serde(default)]
    pub scopes_supported: Vec<String>,
}

/// Why an address could not be connected by its metadata. Plain words, no query.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResourceError {
    /// Not https (loopback aside).
    #[error("{0}")]
    NotHttps(String),
    /// The address answered without asking for a token.
    #[error("{0} answered without asking for a sign-in")]
    Open(String),
    /// No challenge and no metadata document: not an API that announces its authorization.
    #[error("{0} does not say how to sign in to it (no WWW-Authenticate resource_metadata and no /.well-known/oauth-protected-resource document)")]
    NoMetadata(String),
    /// The metadata is for another API.
    #[error("the metadata at {0} is for another address ({1})")]
    WrongResource(String, String),
    /// The metadata names no authorization server, or could not be read.
    #[error("the metadata at {0} names no authorization server Latchkey can use")]
    BadMetadata(String),
    /// The network failed.
    #[error("could not reach {0}: {1}")]
    Network(String, HttpError),
}

/// The resource identifier for an address: the URL without its fragment, and without a
/// trailing slash so `…/mcp` and `…/mcp/` name one API.
pub fn resource_id(address: &str) -> Result<String, ResourceError> {
    let mut u = url::Url::parse(address.trim())
        .map_err(|_| ResourceError::NotHttps(format!("{address} is not a web address")))?;
    u.set_fragment(None);
    let s = u.to_string();
    crate::provider::check_endpoint(&s).map_err(ResourceError::NotHttps)?;
    Ok(s.trim_end_matches('/').to_string())
}

/// The `resource_metadata` parameter of a `WWW-Authenticate: Bearer …` challenge.
pub fn metadata_url_from_challenge(www: &str) -> Option<String> {
    let at = www.find("resource_metadata=")? + "resource_metadata=".len();
    let rest = &www[at..];
    let value = match rest.strip_prefix('"') {
        Some(q) => q.split('"').next()?,
        None => rest.split([',', ' ']).next()?,
    };
    Some(value.to_string())
}

/// The two well-known places to look when the challenge names none: path-inserted, then root.
pub fn well_known_urls(resource: &str) -> Vec<String> {
    let Ok(u) = url::Url::parse(resource) else {
        return Vec::new();
    };
    let origin = u.origin().ascii_serialization();
    let path = u.path().trim_end_matches('/');
    let mut out = vec![format!(
        "{origin}/.well-known/oauth-protected-resource{path}"
    )];
    let root = format!("{origin}/.well-known/oauth-protected-resource");
    if !out.contains(&root) {
        out.push(root);
    }
    out
}

/// Probes an API: one request without a token, then its metadata, which must name it.
pub async fn probe(http: &Http, address: &str) -> Result<ResourceMetadata, ResourceError> {
    let resource = resource_id(address)?;
    let net = |e| ResourceError::Network(resource.clone(), e);
    let first = match http.get(&resource, None).await {
        Ok(r) => Some(r),
        // A 5xx from the API itself says nothing yet; the well-known documents may.
        Err(HttpError::Unavailable { .. }) => None,
        Err(e) => return Err(net(e)),
    };
    if first.as_ref().is_some_and(|r| r.status().is_success()) {
        return Err(ResourceError::Open(resource));
    }
    let named = first
        .as_ref()
        .filter(|r| r.status().as_u16() == 401)
        .and_then(|r| r.headers().get("www-authenticate"))
        .and_then(|v| v.to_str().ok())
        .and_then(metadata_url_from_challenge);
    let candidates = match named {
        Some(u) => vec![u],
        None => well_known_urls(&resource),
    };
    for url in candidates {
        crate::provider::check_endpoint(&url).map_err(ResourceError::NotHttps)?;
        let r = match http.get(&url, None).await {
            Ok(r) if r.status().is_success() => r,
            Ok(_) | Err(HttpError::Unavailable { .. }) => continue,
            Err(e) => return Err(net(e)),
        };
        let meta: ResourceMetadata = serde_json::from_slice(r.body())
            .map_err(|_| ResourceError::BadMetadata(url.clone()))?;
        // RFC 9728 §3.3: the metadata must be for exactly this API.
        if meta.resource.trim_end_matches('/') != resource {
            return Err(ResourceError::WrongResource(
                url,
                plain_text(&meta.resource, 200),
            ));
        }
        if meta.authorization_servers.is_empty() {
            return Err(ResourceError::BadMetadata(url));
        }
        return Ok(ResourceMetadata { resource, ..meta });
    }
    Err(ResourceError::NoMetadata(resource))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_and_well_known_places_are_read() {
        assert_eq!(
            metadata_url_from_challenge(r#"Bearer resource_metadata="https://a.example/.well-known/oauth-protected-resource/mcp", error="invalid_token""#).as_deref(),
            Some("https://a.example/.well-known/oauth-protected-resource/mcp")
        );
        assert_eq!(
            metadata_url_from_challenge("Bearer resource_metadata=https://a.example/m, realm=x")
                .as_deref(),
            Some("https://a.example/m")
        );
        assert!(metadata_url_from_challenge(r#"Bearer error="invalid_token""#).is_none());
        assert_eq!(
            well_known_urls("https://a.example/v1/mcp"),
            [
                "https://a.example/.well-known/oauth-protected-resource/v1/mcp",
                "https://a.example/.well-known/oauth-protected-resource"
            ]
        );
        assert_eq!(well_known_urls("https://a.example").len(), 1);
    }

    /// S27: only https (or loopback) addresses, fragments dropped, one spelling per API.
    #[test]
    fn resource_identifiers_are_https_and_normalised_s27() {
        assert_eq!(
            resource_id("https://a.example/mcp/#x").unwrap(),
            "https://a.example/mcp"
        );
        assert_eq!(
            resource_id("http://127.0.0.1:9/mcp").unwrap(),
            "http://127.0.0.1:9/mcp"
        );
        assert!(matches!(
            resource_id("http://a.example/mcp"),
            Err(ResourceError::NotHttps(_))
        ));
        assert!(resource_id("not a url").is_err());
    }
}
