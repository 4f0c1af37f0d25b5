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
    let looked = crate::provider::discovery_urls(issuer);
    let mut network_error = None;
    // What the addresses said, most telling first: a refused document, then a status.
    let mut refused: Option<String> = None;
    let mut status: Option<u16> = None;
    let mut merged: Option<Metadata> = None;
    for url in &looked {
        match http.get(url, None).await {
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
                        refused.get_or_insert(e);
                    }
                }
            }
            Ok(r) => {
                status.get_or_insert(r.status().as_u16());
            }
            Err(e) => network_error = Some(network(issuer, e)),
        }
    }
    if let Some(m) = merged {
        return Ok(m);
    }
    let why = match (refused, status, network_error) {
        (Some(r), _, _) => r,
        (None, Some(code), _) => format!("the well-known addresses answered HTTP {code}"),
        (None, None, Some(e)) => return Err(e),
        (None, None, None) => "nothing answered".into(),
    };
    Err(OAuthError::NoDiscovery {
        issuer: crate::text::plain_text(issuer, 300),
        why: crate::text::plain_text(&why, 300),
        looked,
    })
}
