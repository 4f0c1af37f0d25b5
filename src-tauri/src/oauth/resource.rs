//! Protected resource metadata (RFC 9728): from an API's address to the authorization server
//! that guards it. The metadata must name that exact API (§3.3) or nothing is used.

use super::http::{Http, HttpError};
use crate::text::plain_text;
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
    /// The scopes the API's 401 challenge asked for (`scope=`), if it named any.
    #[serde(skip)]
    pub challenge_scopes: Vec<String>,
}

impl ResourceMetadata {
    /// The scopes to ask for: the challenge's; the API's list only when the challenge names
    /// none. Never more than the API itself asked for.
    pub fn scopes_to_ask(&self) -> Vec<String> {
        if self.challenge_scopes.is_empty() {
            self.scopes_supported.clone()
        } else {
            self.challenge_scopes.clone()
        }
    }
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
    /// A document of a public API pointed at this computer or a private network.
    #[error("{0} points to a private or local address ({1}), which Latchkey follows only for an API on this computer")]
    Private(String, String),
    /// The network failed.
    #[error("could not reach {0}: {1}")]
    Network(String, HttpError),
}

/// True when a URL's host is this computer or a private network: `localhost`, a loopback,
/// private (RFC 1918, shared CGNAT), link-local, unique-local or unspecified address. Names are
/// not resolved; a public name that resolves to a private address is not caught here.
pub fn is_private_address(url: &str) -> bool {
    let Ok(u) = url::Url::parse(url) else {
        return false;
    };
    match u.host() {
        Some(url::Host::Domain(d)) => {
            let d = d.trim_end_matches('.').to_ascii_lowercase();
            d == "localhost" || d.ends_with(".localhost")
        }
        Some(url::Host::Ipv4(ip)) => {
            let [a, b, ..] = ip.octets();
            ip.is_loopback()
                || ip.is_private()
                || ip.is_link_local()
                || ip.is_unspecified()
                || (a == 100 && (64..128).contains(&b))
        }
        Some(url::Host::Ipv6(ip)) => {
            let first = ip.segments()[0];
            ip.is_loopback()
                || ip.is_unspecified()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || ip
                    .to_ipv4_mapped()
                    .is_some_and(|v4| is_private_address(&format!("http://{v4}/")))
        }
        None => false,
    }
}

/// A document found for the API at `typed` may lead to `found` (its metadata, its
/// authorization server, that server's endpoints): private and local addresses only when
/// the person typed a loopback address themselves (F1).
pub fn check_followable(typed: &str, found: &str) -> Result<(), ResourceError> {
    let typed_local = url::Url::parse(typed)
        .ok()
        .and_then(|u| u.host_str().map(crate::provider::is_loopback_host))
        .unwrap_or(false);
    if is_private_address(found) && !typed_local {
        return Err(ResourceError::Private(
            plain_text(typed, 200),
            plain_text(found, 200),
        ));
    }
    Ok(())
}

/// Whom a new token is for, as far as Latchkey can tell without sending it anywhere.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Audience {
    /// The token names this API.
    ThisApi,
    /// The token names other audiences only (plain text, for the message).
    Elsewhere(String),
    /// Nothing local says.
    Unknown,
}

/// Reads `aud` and `resource` (a string or a list) from a token's claims or an introspection
/// answer and compares them with the API's identifier.
pub fn audience_in(claims: &serde_json::Value, resource: &str) -> Audience {
    let want = resource.trim_end_matches('/');
    let mut named: Vec<&str> = Vec::new();
    for key in ["aud", "resource"] {
        match claims.get(key) {
            Some(serde_json::Value::String(s)) => named.push(s),
            Some(serde_json::Value::Array(a)) => named.extend(a.iter().filter_map(|v| v.as_str())),
            _ => {}
        }
    }
    if named.is_empty() {
        Audience::Unknown
    } else if named.iter().any(|n| n.trim_end_matches('/') == want) {
        Audience::ThisApi
    } else {
        Audience::Elsewhere(plain_text(&named.join(" "), 200))
    }
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

/// One parameter of a `WWW-Authenticate: Bearer …` challenge (quoted or not), matched as a
/// whole name: `scope` does not match inside another parameter's name.
pub fn challenge_param(www: &str, name: &str) -> Option<String> {
    let needle = format!("{name}=");
    let mut from = 0;
    while let Some(i) = www[from..].find(&needle) {
        let at = from + i;
        let boundary = www[..at]
            .chars()
            .next_back()
            .is_none_or(|c| c == ' ' || c == ',' || c == '\t');
        if boundary {
            let rest = &www[at + needle.len()..];
            let value = match rest.strip_prefix('"') {
                Some(q) => q.split('"').next()?,
                None => rest.split([',', ' ']).next()?,
            };
            return Some(value.to_string());
        }
        from = at + needle.len();
    }
    None
}

/// The `resource_metadata` parameter of a `WWW-Authenticate: Bearer …` challenge.
pub fn metadata_url_from_challenge(www: &str) -> Option<String> {
    challenge_param(www, "resource_metadata")
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

/// The challenge of an answer, when it is a 401 with `WWW-Authenticate`.
fn challenge_of(r: &::http::Response<Vec<u8>>) -> Option<String> {
    (r.status().as_u16() == 401)
        .then(|| r.headers().get("www-authenticate"))
        .flatten()
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// Whether metadata naming `named` may serve the typed `resource`: the same API, or (for the
/// root document) the origin or a path prefix of it on a segment boundary. The token is then
/// bound to `named`, the wider audience, which the person is shown.
pub fn covers(named: &str, resource: &str) -> bool {
    let named = named.trim_end_matches('/');
    if named == resource {
        return true;
    }
    let (Ok(n), Ok(r)) = (url::Url::parse(named), url::Url::parse(resource)) else {
        return false;
    };
    n.origin() == r.origin()
        && n.query().is_none()
        && (n.path() == "/"
            || r.path()
                .strip_prefix(n.path().trim_end_matches('/'))
                .is_some_and(|rest| rest.starts_with('/')))
}

/// Probes an API: one GET without a token, then (when it names no metadata) one POST with
/// an empty JSON body, as MCP clients send; then its metadata: the one the challenge or the
/// person names, else the path-inserted well-known document, else the root one. The
/// metadata must name the API or, for the root document, an address that contains it.
pub async fn probe(
    http: &Http,
    address: &str,
    metadata_url: Option<&str>,
) -> Result<ResourceMetadata, ResourceError> {
    let resource = resource_id(address)?;
    let net = |e| ResourceError::Network(resource.clone(), e);
    let mut challenge = None;
    if metadata_url.is_none() {
        let first = match http.get(&resource, None).await {
            Ok(r) => Some(r),
            // A 5xx from the API itself says nothing yet; the well-known documents may.
            Err(HttpError::Unavailable { .. }) => None,
            Err(e) => return Err(net(e)),
        };
        if first.as_ref().is_some_and(|r| r.status().is_success()) {
            return Err(ResourceError::Open(resource));
        }
        challenge = first.as_ref().and_then(challenge_of);
        // Servers that announce their metadata only to a POST (remote MCP servers).
        if challenge
            .as_deref()
            .and_then(metadata_url_from_challenge)
            .is_none()
        {
            if let Ok(r) = http.post_json(&resource, &serde_json::json!({})).await {
                if let Some(c) =
                    challenge_of(&r).filter(|c| metadata_url_from_challenge(c).is_some())
                {
                    challenge = Some(c);
                }
            }
        }
    }
    let named = metadata_url
        .map(str::to_string)
        .or_else(|| challenge.as_deref().and_then(metadata_url_from_challenge));
    let challenge_scopes: Vec<String> = challenge
        .as_deref()
        .and_then(|c| challenge_param(c, "scope"))
        .map(|s| s.split_whitespace().map(|s| plain_text(s, 200)).collect())
        .unwrap_or_default();
    let candidates = match named {
        Some(u) => vec![u],
        None => well_known_urls(&resource),
    };
    let mut wrong = None;
    for url in candidates {
        crate::provider::check_endpoint(&url).map_err(ResourceError::NotHttps)?;
        check_followable(&resource, &url)?;
        let r = match http.get(&url, None).await {
            Ok(r) if r.status().is_success() => r,
            Ok(_) | Err(HttpError::Unavailable { .. }) => continue,
            Err(e) => return Err(net(e)),
        };
        let meta: ResourceMetadata = serde_json::from_slice(r.body())
            .map_err(|_| ResourceError::BadMetadata(url.clone()))?;
        // RFC 9728 §3.3: the metadata must be for this API; the root document may describe
        // the origin (or a prefix), which then is the audience.
        if !covers(&meta.resource, &resource) {
            wrong.get_or_insert(ResourceError::WrongResource(
                url,
                plain_text(&meta.resource, 200),
            ));
            continue;
        }
        if meta.authorization_servers.is_empty() {
            return Err(ResourceError::BadMetadata(url));
        }
        check_followable(&resource, &meta.authorization_servers[0])?;
        // Provider-controlled words reach terminals: no control characters (S25).
        let scopes_supported = meta
            .scopes_supported
            .iter()
            .map(|s| plain_text(s, 200))
            .filter(|s| !s.is_empty())
            .collect();
        let bound = meta.resource.trim_end_matches('/').to_string();
        return Ok(ResourceMetadata {
            resource: bound,
            scopes_supported,
            challenge_scopes,
            ..meta
        });
    }
    Err(wrong.unwrap_or(ResourceError::NoMetadata(resource)))
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
        // F1: the challenge's scopes, matched as a whole parameter name.
        let www = r#"Bearer error="insufficient_scope", resource_metadata="https://a.example/m", scope="mcp:read mcp:admin""#;
        assert_eq!(
            challenge_param(www, "scope").as_deref(),
            Some("mcp:read mcp:admin")
        );
        assert_eq!(challenge_param(r#"Bearer other_scope="x""#, "scope"), None);
        assert_eq!(
            well_known_urls("https://a.example/v1/mcp"),
            [
                "https://a.example/.well-known/oauth-protected-resource/v1/mcp",
                "https://a.example/.well-known/oauth-protected-resource"
            ]
        );
        assert_eq!(well_known_urls("https://a.example").len(), 1);
    }

    /// F1: only the scopes the API's challenge asked for; its list only when it named none.
    #[test]
    fn scopes_asked_for_are_the_challenges_s32() {
        let mut m = ResourceMetadata {
            resource: "https://a.example/mcp".into(),
            authorization_servers: vec!["https://as.example".into()],
            scopes_supported: vec!["mcp:read".into(), "mcp:write".into(), "mcp:admin".into()],
            challenge_scopes: vec!["mcp:read".into()],
        };
        assert_eq!(m.scopes_to_ask(), ["mcp:read"]);
        m.challenge_scopes.clear();
        assert_eq!(m.scopes_to_ask().len(), 3);
    }

    /// F1: private and local addresses in a remote API's documents are followed only when
    /// the person typed a loopback address.
    #[test]
    fn private_addresses_are_followed_only_from_a_local_api_s32() {
        for private in [
            "http://127.0.0.1:8080/x",
            "http://localhost/x",
            "https://foo.localhost/x",
            "https://10.1.2.3/x",
            "https://172.20.0.1/x",
            "https://192.168.1.1/x",
            "https://169.254.169.254/latest",
            "https://100.64.0.1/x",
            "https://0.0.0.0/x",
            "https://[::1]/x",
            "https://[fd00::1]/x",
            "https://[fe80::1]/x",
            "https://[::ffff:10.0.0.1]/x",
        ] {
            assert!(is_private_address(private), "{private}");
            assert!(
                matches!(
                    check_followable("https://api.example.com/mcp", private),
                    Err(ResourceError::Private(..))
                ),
                "{private}"
            );
            assert!(check_followable("http://127.0.0.1:9/mcp", private).is_ok());
        }
        for public in [
            "https://as.example.com/",
            "https://8.8.8.8/",
            "https://[2001:db8::1]/",
        ] {
            assert!(!is_private_address(public), "{public}");
            assert!(check_followable("https://api.example.com/mcp", public).is_ok());
        }
    }

    /// F1: a token's audience is read from its claims or an introspection answer.
    #[test]
    fn audiences_are_read_from_claims_s32() {
        let r = "https://a.example/mcp";
        let v = |j: &str| serde_json::from_str::<serde_json::Value>(j).unwrap();
        assert_eq!(
            audience_in(&v(r#"{"aud":"https://a.example/mcp/"}"#), r),
            Audience::ThisApi
        );
        assert_eq!(
            audience_in(&v(r#"{"aud":["x","https://a.example/mcp"]}"#), r),
            Audience::ThisApi
        );
        assert_eq!(
            audience_in(&v(r#"{"resource":"https://a.example/mcp"}"#), r),
            Audience::ThisApi
        );
        assert_eq!(
            audience_in(&v(r#"{"aud":"https://as.example/api"}"#), r),
            Audience::Elsewhere("https://as.example/api".into())
        );
        assert_eq!(
            audience_in(&v(r#"{"aud":"https://a.example/mcp2"}"#), r),
            Audience::Elsewhere("https://a.example/mcp2".into())
        );
        assert_eq!(audience_in(&v(r#"{"sub":"alice"}"#), r), Audience::Unknown);
    }

    /// Issue 25, item 1: root metadata may describe the origin or a path prefix of the API,
    /// never another origin or a sibling path.
    #[test]
    fn root_metadata_covers_only_its_own_prefix() {
        let api = "https://a.example/v1/mcp";
        assert!(covers("https://a.example/v1/mcp/", api));
        assert!(covers("https://a.example", api));
        assert!(covers("https://a.example/", api));
        assert!(covers("https://a.example/v1", api));
        assert!(!covers("https://a.example/v", api));
        assert!(!covers("https://a.example/v1/mcp2", api));
        assert!(!covers("https://b.example", api));
        assert!(!covers("http://a.example", api));
        assert!(!covers("https://a.example:8443", api));
        assert!(!covers("https://a.example/?x=1", api));
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
