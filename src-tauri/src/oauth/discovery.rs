//! Discovery: every well-known document an issuer publishes (RFC 8414 and OpenID Connect),
//! each checked for the issuer, merged field by field.

use super::http::Http;
use super::{network, OAuthError};
use crate::provider::Metadata;

/// Reads RFC 8414 metadata (path-inserted and suffix forms) and OpenID Connect discovery for
/// an issuer, and merges the documents that name this issuer. Servers often publish both with
/// different fields (revocation in one, userinfo in the other); a document naming another
/// issuer is never used, not even in part (RFC 8414 §3, S10).
pub async fn discover(http: &Http, issuer: &str) -> Result<Metadata, OAuthError> {
    crate::provider::check_endpoint(issuer).map_err(OAuthError::BadEndpoint)?;
    let mut last = OAuthError::BadResponse {
        provider: issuer.into(),
    };
    let mut merged: Option<Metadata> = None;
    for url in crate::provider::discovery_urls(issuer) {
        match http.get(&url, None).await {
            Ok(r) if r.status().is_success() => {
                match crate::provider::parse_metadata(issuer, r.body()) {
                    Ok(m) => {
                        merged = Some(match merged {
                            Some(first) => first.merge(m),
                            None => m,
                        })
                    }
                    Err(e) => {
                        tracing::warn!(document = %url, "a discovery document was refused: {e}");
                        last = OAuthError::BadEndpoint(e);
                    }
                }
            }
            Ok(_) => {}
            Err(e) => last = network(issuer, e),
        }
    }
    merged.ok_or(last)
}
