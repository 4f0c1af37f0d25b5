//! Discovery: RFC 8414 metadata, then OpenID Connect discovery, for an issuer.

use super::http::Http;
use super::{network, OAuthError};
use crate::provider::Metadata;

/// Fetches RFC 8414 metadata, then OIDC discovery, for an issuer.
pub async fn discover(http: &Http, issuer: &str) -> Result<Metadata, OAuthError> {
    crate::provider::check_endpoint(issuer).map_err(OAuthError::BadEndpoint)?;
    let mut last = OAuthError::BadResponse {
        provider: issuer.into(),
    };
    for url in crate::provider::discovery_urls(issuer) {
        match http.get(&url, None).await {
            Ok(r) if r.status().is_success() => {
                match crate::provider::parse_metadata(issuer, r.body()) {
                    Ok(m) => return Ok(m),
                    Err(e) => last = OAuthError::BadEndpoint(e),
                }
            }
            Ok(_) => {}
            Err(e) => last = network(issuer, e),
        }
    }
    Err(last)
}
