//! RFC 8414 / OpenID Connect discovery documents: where to find them, reading one, and applying
//! it to a provider; and the endpoint rule (https, or http on loopback only, S20).

use super::spec::{ApiPreset, IdentitySource, ProviderSpec};
use serde::Deserialize;

/// The subset of RFC 8414 / OIDC discovery metadata Latchkey uses.
#[derive(Debug, Clone, Deserialize)]
pub struct Metadata {
    /// Must equal the issuer we asked for.
    pub issuer: String,
    /// Authorization endpoint.
    pub authorization_endpoint: Option<String>,
    /// Token endpoint.
    pub token_endpoint: Option<String>,
    /// Revocation endpoint.
    pub revocation_endpoint: Option<String>,
    /// Registration endpoint.
    pub registration_endpoint: Option<String>,
    /// Userinfo endpoint.
    pub userinfo_endpoint: Option<String>,
    /// Device authorization endpoint.
    pub device_authorization_endpoint: Option<String>,
    /// RFC 7662 introspection endpoint.
    #[serde(default)]
    pub introspection_endpoint: Option<String>,
    /// RFC 9207.
    #[serde(default)]
    pub authorization_response_iss_parameter_supported: bool,
    /// PKCE methods.
    #[serde(default)]
    pub code_challenge_methods_supported: Vec<String>,
    /// Scopes.
    #[serde(default)]
    pub scopes_supported: Vec<String>,
    /// Grant types.
    #[serde(default)]
    pub grant_types_supported: Vec<String>,
    /// RFC 8414 `token_endpoint_auth_methods_supported`.
    #[serde(default)]
    pub token_endpoint_auth_methods_supported: Vec<String>,
    /// The server accepts a client id that is the URL of a client metadata document (the
    /// OAuth Client ID Metadata Document draft).
    #[serde(default)]
    pub client_id_metadata_document_supported: bool,
    /// RFC 9449: the algorithms the server takes DPoP proofs in.
    #[serde(default)]
    pub dpop_signing_alg_values_supported: Vec<String>,
    /// RFC 9126: where to push authorization requests.
    #[serde(default)]
    pub pushed_authorization_request_endpoint: Option<String>,
    /// RFC 9126: the server takes only pushed authorization requests.
    #[serde(default)]
    pub require_pushed_authorization_requests: bool,
}

impl Metadata {
    /// Merges a second document for the same issuer field by field: an endpoint or value the
    /// first document lacks is taken from the second; lists are joined. Both documents have
    /// already passed the issuer check, so no endpoint comes from another issuer (RFC 8414 §3).
    pub fn merge(mut self, other: Metadata) -> Metadata {
        fn join(a: &mut Vec<String>, b: Vec<String>) {
            for x in b {
                if !a.contains(&x) {
                    a.push(x);
                }
            }
        }
        self.authorization_endpoint = self.authorization_endpoint.or(other.authorization_endpoint);
        self.token_endpoint = self.token_endpoint.or(other.token_endpoint);
        self.revocation_endpoint = self.revocation_endpoint.or(other.revocation_endpoint);
        self.registration_endpoint = self.registration_endpoint.or(other.registration_endpoint);
        self.userinfo_endpoint = self.userinfo_endpoint.or(other.userinfo_endpoint);
        self.device_authorization_endpoint = self
            .device_authorization_endpoint
            .or(other.device_authorization_endpoint);
        self.introspection_endpoint = self.introspection_endpoint.or(other.introspection_endpoint);
        self.pushed_authorization_request_endpoint = self
            .pushed_authorization_request_endpoint
            .or(other.pushed_authorization_request_endpoint);
        self.require_pushed_authorization_requests |= other.require_pushed_authorization_requests;
        join(
            &mut self.dpop_signing_alg_values_supported,
            other.dpop_signing_alg_values_supported,
        );
        self.authorization_response_iss_parameter_supported |=
            other.authorization_response_iss_parameter_supported;
        join(
            &mut self.code_challenge_methods_supported,
            other.code_challenge_methods_supported,
        );
        join(&mut self.scopes_supported, other.scopes_supported);
        join(&mut self.grant_types_supported, other.grant_types_supported);
        join(
            &mut self.token_endpoint_auth_methods_supported,
            other.token_endpoint_auth_methods_supported,
        );
        self.client_id_metadata_document_supported |= other.client_id_metadata_document_supported;
        self
    }
}

/// The well-known documents to read for an issuer, all of them, in the order their fields
/// win: RFC 8414's path-inserted form, OpenID Connect's, then the RFC 8414 suffix form some
/// servers publish (`{issuer}/.well-known/oauth-authorization-server`).
pub fn discovery_urls(issuer: &str) -> Vec<String> {
    let issuer = issuer.trim_end_matches('/');
    let mut out = Vec::new();
    if let Ok(u) = url::Url::parse(issuer) {
        let path = u.path().trim_end_matches('/');
        let origin = u.origin().ascii_serialization();
        // RFC 8414 §3: the well-known segment goes between host and path.
        out.push(format!(
            "{origin}/.well-known/oauth-authorization-server{path}"
        ));
    }
    out.push(format!("{issuer}/.well-known/openid-configuration"));
    let suffix = format!("{issuer}/.well-known/oauth-authorization-server");
    if !out.contains(&suffix) {
        out.push(suffix);
    }
    out
}

/// Parses a discovery document and checks it belongs to `issuer`.
pub fn parse_metadata(issuer: &str, body: &[u8]) -> Result<Metadata, String> {
    let m: Metadata = serde_json::from_slice(body)
        .map_err(|e| format!("the discovery document is not valid JSON metadata ({e})"))?;
    if m.issuer.trim_end_matches('/') != issuer.trim_end_matches('/') {
        return Err(format!(
            "the discovery document names issuer {} instead of {}",
            crate::text::plain_text(&m.issuer, 200),
            crate::text::plain_text(issuer, 200)
        ));
    }
    Ok(m)
}

/// Fills a provider's endpoints from metadata. Endpoints must be https unless loopback (S20).
pub fn apply_metadata(p: &mut ProviderSpec, m: &Metadata) -> Result<(), String> {
    for u in [
        &m.authorization_endpoint,
        &m.token_endpoint,
        &m.revocation_endpoint,
        &m.registration_endpoint,
        &m.userinfo_endpoint,
        &m.device_authorization_endpoint,
        &m.introspection_endpoint,
        &m.pushed_authorization_request_endpoint,
    ]
    .into_iter()
    .flatten()
    {
        check_endpoint(u)?;
    }
    if !m.code_challenge_methods_supported.is_empty()
        && !m
            .code_challenge_methods_supported
            .iter()
            .any(|c| c == "S256")
    {
        return Err(
            "this provider does not support PKCE with S256, which Latchkey requires".into(),
        );
    }
    p.issuer = Some(m.issuer.clone());
    p.authorize_url = m.authorization_endpoint.clone().or(p.authorize_url.take());
    p.token_url = m.token_endpoint.clone().or(p.token_url.take());
    p.revocation_url = m.revocation_endpoint.clone().or(p.revocation_url.take());
    p.registration_url = m
        .registration_endpoint
        .clone()
        .or(p.registration_url.take());
    p.userinfo_url = m.userinfo_endpoint.clone().or(p.userinfo_url.take());
    p.introspection_url = m
        .introspection_endpoint
        .clone()
        .or(p.introspection_url.take());
    p.device_url = m
        .device_authorization_endpoint
        .clone()
        .or(p.device_url.take());
    p.iss_required = m.authorization_response_iss_parameter_supported;
    p.par_url = m
        .pushed_authorization_request_endpoint
        .clone()
        .or(p.par_url.take());
    p.par_required = m.require_pushed_authorization_requests;
    p.dpop_algs = m
        .dpop_signing_alg_values_supported
        .iter()
        .map(|a| crate::text::plain_text(a, 20))
        .collect();
    if p.identity == IdentitySource::None && p.userinfo_url.is_some() {
        p.identity = IdentitySource::Userinfo;
    }
    // Shown in terminals and the window: no control characters (S25, F5).
    let words = |v: &[String]| -> Vec<String> {
        v.iter()
            .map(|s| crate::text::plain_text(s, 200))
            .filter(|s| !s.is_empty())
            .collect()
    };
    p.scopes_supported = words(&m.scopes_supported);
    p.grant_types = words(&m.grant_types_supported);
    p.token_auth_methods = words(&m.token_endpoint_auth_methods_supported);
    p.client_metadata_documents = m.client_id_metadata_document_supported;
    // Only scopes the server lists: OpenID's identity scopes, and offline_access for a
    // refresh token where the server has it. A server that lists none gets no scope.
    let listed = |s: &str| m.scopes_supported.iter().any(|x| x == s);
    if p.default_scopes.is_empty() && listed("openid") {
        p.default_scopes = ["openid", "email", "profile", "offline_access"]
            .into_iter()
            .filter(|s| listed(s))
            .map(str::to_string)
            .collect();
    }
    if p.presets.is_empty() {
        if let Some(u) = &p.userinfo_url {
            p.presets.push(ApiPreset {
                label: "Who am I (userinfo)".into(),
                method: "GET".into(),
                path: u.clone(),
            });
        }
    }
    Ok(())
}

/// S20: production endpoints must be https; only loopback may use plain http.
pub fn check_endpoint(u: &str) -> Result<(), String> {
    let parsed = url::Url::parse(u).map_err(|_| format!("{u} is not a valid URL"))?;
    match parsed.scheme() {
        "https" => Ok(()),
        "http" if is_loopback_host(parsed.host_str().unwrap_or("")) => Ok(()),
        _ => Err(format!(
            "{u} must use https (plain http is only allowed for 127.0.0.1, ::1 or localhost)"
        )),
    }
}

/// True for 127.0.0.0/8 and ::1 written as addresses, and for `localhost` and `*.localhost`
/// the way browsers treat them: Latchkey's HTTP client resolves those names itself, only to
/// 127.0.0.1 and ::1 and never through a resolver or hosts file ([`loopback_name`]), so they
/// are loopback whatever the machine's name resolution says. Redirect URIs stay IP literals
/// (RFC 8252 §8.3).
pub fn is_loopback_host(h: &str) -> bool {
    h.trim_matches(|c| c == '[' || c == ']')
        .parse::<std::net::IpAddr>()
        .is_ok_and(|ip| ip.is_loopback())
        || loopback_name(h)
}

/// `localhost`, `*.localhost` (any case, with or without the final dot).
pub fn loopback_name(h: &str) -> bool {
    let h = h.trim_end_matches('.').to_ascii_lowercase();
    h == "localhost" || (h.ends_with(".localhost") && h.len() > ".localhost".len())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// S20: only loopback may use plain http.
    #[test]
    fn plain_http_is_refused_except_loopback_s20() {
        assert!(check_endpoint("https://idp.example/token").is_ok());
        assert!(check_endpoint("http://127.0.0.1:8080/token").is_ok());
        assert!(check_endpoint("http://[::1]:8080/token").is_ok());
        assert!(check_endpoint("http://idp.example/token").is_err());
        // `localhost` and `*.localhost` are loopback the way browsers treat them: Latchkey's
        // client resolves them only to 127.0.0.1 and ::1 (oauth::http, issue 38).
        assert!(check_endpoint("http://localhost:8080/token").is_ok());
        assert!(check_endpoint("http://LocalHost./mcp").is_ok());
        assert!(check_endpoint("http://mcp.localhost:3000/mcp").is_ok());
        assert!(check_endpoint("https://localhost:8080/token").is_ok());
        // Look-alikes are not.
        assert!(check_endpoint("http://localhost.example/token").is_err());
        assert!(check_endpoint("http://notlocalhost/token").is_err());
        assert!(check_endpoint("http://.localhost/token").is_err());
        assert!(check_endpoint("http://127.0.0.1.nip.io/token").is_err());
        assert!(check_endpoint("ftp://idp.example/token").is_err());
        assert!(check_endpoint("javascript:alert(1)").is_err());
    }

    #[test]
    fn discovery_tries_rfc8414_then_oidc() {
        assert_eq!(
            discovery_urls("https://idp.example/tenant1"),
            vec![
                "https://idp.example/.well-known/oauth-authorization-server/tenant1",
                "https://idp.example/tenant1/.well-known/openid-configuration",
                "https://idp.example/tenant1/.well-known/oauth-authorization-server"
            ]
        );
        assert_eq!(discovery_urls("https://idp.example").len(), 2);
        assert_eq!(
            discovery_urls("https://idp.example/")[0],
            "https://idp.example/.well-known/oauth-authorization-server"
        );
    }

    #[test]
    fn metadata_for_another_issuer_is_rejected_s10() {
        let body =
            br#"{"issuer":"https://evil.example","token_endpoint":"https://evil.example/token"}"#;
        assert!(parse_metadata("https://idp.example", body).is_err());
        assert!(parse_metadata("https://idp.example", b"<html>").is_err());
    }

    #[test]
    fn metadata_without_s256_is_refused_s6() {
        let m: Metadata = serde_json::from_str(
            r#"{"issuer":"https://i.example","code_challenge_methods_supported":["plain"]}"#,
        )
        .unwrap();
        let mut p = ProviderSpec::new("x", "X");
        assert!(apply_metadata(&mut p, &m).unwrap_err().contains("S256"));
    }

    fn doc(json: &str) -> Metadata {
        parse_metadata("https://i.example", json.as_bytes()).unwrap()
    }

    /// S25 (F5): the scopes and grants a server lists, and a wrong issuer it names, reach
    /// terminals without control characters.
    #[test]
    fn metadata_words_lose_control_characters_s25() {
        let m = doc(
            r#"{"issuer":"https://i.example","token_endpoint":"https://i.example/t","scopes_supported":["read \u001b[2J\u001b]0;pwned\u0007","\u001b"],"grant_types_supported":["client_credentials\u0007"]}"#,
        );
        let mut p = ProviderSpec::new("x", "X");
        apply_metadata(&mut p, &m).unwrap();
        assert_eq!(p.scopes_supported, ["read [2J]0;pwned"]);
        assert_eq!(p.grant_types, ["client_credentials"]);
        let e = parse_metadata(
            "https://i.example",
            br#"{"issuer":"https://evil.example\u001b]0;pwned\u0007"}"#,
        )
        .unwrap_err();
        assert!(!e.chars().any(|c| c.is_control()), "{e:?}");
    }

    /// Both documents count: each fills what the other lacks, and lists are joined.
    #[test]
    fn documents_merge_field_by_field() {
        let rfc8414 = doc(
            r#"{"issuer":"https://i.example","token_endpoint":"https://i.example/t","revocation_endpoint":"https://i.example/r","scopes_supported":["api"]}"#,
        );
        let oidc = doc(
            r#"{"issuer":"https://i.example","token_endpoint":"https://other.example/t","userinfo_endpoint":"https://i.example/me","scopes_supported":["openid","api"],"grant_types_supported":["client_credentials"]}"#,
        );
        let m = rfc8414.merge(oidc);
        assert_eq!(
            m.token_endpoint.as_deref(),
            Some("https://i.example/t"),
            "the first wins"
        );
        assert_eq!(
            m.revocation_endpoint.as_deref(),
            Some("https://i.example/r")
        );
        assert_eq!(m.userinfo_endpoint.as_deref(), Some("https://i.example/me"));
        assert_eq!(m.scopes_supported, ["api", "openid"]);
        assert_eq!(m.grant_types_supported, ["client_credentials"]);
    }

    /// Only listed scopes are asked for by default; offline_access where listed.
    #[test]
    fn default_scopes_are_only_listed_ones() {
        let mut p = ProviderSpec::new("x", "X");
        apply_metadata(&mut p, &doc(r#"{"issuer":"https://i.example","scopes_supported":["openid","offline_access","api"]}"#)).unwrap();
        assert_eq!(p.default_scopes, ["openid", "offline_access"]);
        let mut p = ProviderSpec::new("x", "X");
        apply_metadata(
            &mut p,
            &doc(
                r#"{"issuer":"https://i.example","scopes_supported":["openid","email","profile"]}"#,
            ),
        )
        .unwrap();
        assert_eq!(p.default_scopes, ["openid", "email", "profile"]);
        let mut p = ProviderSpec::new("x", "X");
        apply_metadata(&mut p, &doc(r#"{"issuer":"https://i.example"}"#)).unwrap();
        assert!(p.default_scopes.is_empty());
    }
}
