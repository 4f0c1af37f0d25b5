//! Dynamic client registration (RFC 7591): a public PKCE client for one-click sign-in.

use super::device::DEVICE_GRANT;
use super::http::Http;
use super::{endpoint, network, plain_text, OAuthError};
use crate::provider::ProviderSpec;

/// RFC 7591: registers a public PKCE client with a loopback redirect; returns the client id.
pub async fn register_client(
    http: &Http,
    p: &ProviderSpec,
    redirect_uri: &str,
) -> Result<String, OAuthError> {
    let url = endpoint(p, &p.registration_url, "registration endpoint")?;
    let mut grants = vec!["authorization_code", "refresh_token"];
    if p.device_url.is_some() {
        grants.push(DEVICE_GRANT);
    }
    let body = serde_json::json!({
        "client_name": "Latchkey",
        "application_type": "native",
        "redirect_uris": [redirect_uri],
        "grant_types": grants,
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
    });
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
    v.get("client_id")
        .and_then(|c| c.as_str())
        .map(str::to_string)
        .ok_or(OAuthError::BadResponse {
            provider: p.name.clone(),
        })
}
