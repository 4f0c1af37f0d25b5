//! RFC 8414 / OpenID Connect discovery documents: where to find them, reading one, and applying
//! it to a provider; and the endpoint rule (https, or http on loopback only, S20).

use super::{ApiPreset, IdentitySource, ProviderSpec};
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
    /// RFC 9207.
    #[serde(default)]
    pub authorization_response_iss_parameter_supported: bool,
    /// PKCE methods.
    #[serde(default)]
    pub code_challenge_methods_supported: Vec<String>,
    /// Scopes.
    #[serde(default)]
    pub scopes_supported: Vec<String>,
}

/// The two well-known documents to try for an issuer, RFC 8414 first.
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
    out
}

/// Parses a discovery document and checks it belongs to `issuer`.
pub fn parse_metadata(issuer: &str, body: &[u8]) -> Result<Metadata, String> {
    let m: Metadata = serde_json::from_slice(body)
        .map_err(|e| format!("the discovery document is not valid JSON metadata ({e})"))?;
    if m.issuer.trim_end_matches('/') != issuer.trim_end_matches('/') {
        return Err(format!(
            "the discovery document names issuer {} instead of {}",
            m.issuer, issuer
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
    p.device_url = m
        .device_authorization_endpoint
        .clone()
        .or(p.device_url.take());
    p.iss_required = m.authorization_response_iss_parameter_supported;
    if p.identity == IdentitySource::None && p.userinfo_url.is_some() {
        p.identity = IdentitySource::Userinfo;
    }
    if p.default_scopes.is_empty() && m.scopes_supported.iter().any(|s| s == "openid") {
        p.default_scopes = vec!["openid".into(), "email".into(), "profile".into()];
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
            "{u} must use https (plain http is only allowed for 127.0.0.1)"
        )),
    }
}

/// True for 127.0.0.0/8, ::1 and `localhost`.
pub fn is_loopback_host(h: &str) -> bool {
    h == "localhost"
        || h.trim_matches(|c| c == '[' || c == ']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
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
        assert!(check_endpoint("ftp://idp.example/token").is_err());
        assert!(check_endpoint("javascript:alert(1)").is_err());
    }

    #[test]
    fn discovery_tries_rfc8414_then_oidc() {
        assert_eq!(
            discovery_urls("https://idp.example/tenant1"),
            vec![
                "https://idp.example/.well-known/oauth-authorization-server/tenant1",
                "https://idp.example/tenant1/.well-known/openid-configuration"
            ]
        );
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
}
