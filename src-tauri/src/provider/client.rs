//! How Latchkey authenticates as a client: the methods it speaks at a token endpoint, the
//! audience of its signed assertions, which method a secret-bearing client uses, and the
//! address of its own client metadata document.

use super::metadata;
use super::spec::{ClientAuth, ProviderSpec};

/// Latchkey's own client metadata document (the OAuth Client ID Metadata Document draft),
/// published on the project's website; `latchkey config client-metadata-url` changes it.
/// The repository keeps the document in `src-tauri/packaging/website/oauth/client.json`.
pub const DEFAULT_CLIENT_METADATA_URL: &str = "https://latchkey.dev/oauth/client.json";

/// Checks a client metadata document address: https with a path (http only on a loopback
/// IP, for testing), no fragment and no user name.
pub fn check_client_metadata_url(u: &str) -> Result<(), String> {
    let parsed = url::Url::parse(u).map_err(|_| format!("{u} is not a web address"))?;
    let loopback_http =
        parsed.scheme() == "http" && parsed.host_str().is_some_and(metadata::is_loopback_host);
    if parsed.scheme() != "https" && !loopback_http {
        return Err(format!(
            "{u} is not an https address; a client metadata document must be served over https"
        ));
    }
    if parsed.path() == "/" || parsed.fragment().is_some() || !parsed.username().is_empty() {
        return Err(format!(
            "{u} must name the document itself (a path, no #fragment, no user name)"
        ));
    }
    Ok(())
}

impl ProviderSpec {
    /// How a client with a secret authenticates here when nothing else says: the provider's
    /// own setting, else what the server lists, preferring `client_secret_basic`, which
    /// RFC 6749 §2.3.1 requires every server to support (and so the default when the server
    /// lists nothing). Sign-in, refresh, renewal and revocation all use it.
    pub fn secret_auth(&self) -> ClientAuth {
        if matches!(
            self.client_auth,
            ClientAuth::ClientSecretBasic | ClientAuth::ClientSecretPost
        ) {
            return self.client_auth;
        }
        let listed = |m: &str| self.token_auth_methods.iter().any(|x| x == m);
        if !listed("client_secret_basic") && listed("client_secret_post") {
            ClientAuth::ClientSecretPost
        } else {
            ClientAuth::ClientSecretBasic
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::RedirectKind;

    /// Item 2 of issue 25: a secret-bearing client authenticates the way the server lists,
    /// Basic first and by default.
    #[test]
    fn secret_clients_use_what_the_server_lists() {
        let mut p = ProviderSpec::new("x", "X");
        assert_eq!(p.secret_auth(), ClientAuth::ClientSecretBasic);
        p.token_auth_methods = vec!["client_secret_post".into(), "none".into()];
        assert_eq!(p.secret_auth(), ClientAuth::ClientSecretPost);
        p.token_auth_methods.push("client_secret_basic".into());
        assert_eq!(p.secret_auth(), ClientAuth::ClientSecretBasic);
        p.client_auth = ClientAuth::ClientSecretPost;
        assert_eq!(p.secret_auth(), ClientAuth::ClientSecretPost);
    }

    /// Issue 25, item 6: the repository's client metadata document names Latchkey's own
    /// address, the two redirects its document-based sign-ins use, and no secret.
    #[test]
    fn the_client_metadata_document_describes_latchkey() {
        let doc: serde_json::Value =
            serde_json::from_str(include_str!("../../packaging/website/oauth/client.json"))
                .unwrap();
        assert_eq!(doc["client_id"], DEFAULT_CLIENT_METADATA_URL);
        assert_eq!(doc["token_endpoint_auth_method"], "none");
        assert_eq!(doc["application_type"], "native");
        let mut p = ProviderSpec::new("x", "X");
        p.iss_required = true;
        let uris = doc["redirect_uris"].to_string();
        for kind in [RedirectKind::Loopback, RedirectKind::Scheme] {
            let r = p.redirect_uri(kind, None);
            assert!(uris.contains(&format!("\"{r}\"")), "{r} in {uris}");
        }
        assert!(doc.get("client_secret").is_none());
        assert!(check_client_metadata_url(DEFAULT_CLIENT_METADATA_URL).is_ok());
        assert!(check_client_metadata_url("http://example.com/c.json").is_err());
        assert!(check_client_metadata_url("https://example.com/").is_err());
        assert!(check_client_metadata_url("https://example.com/c.json#x").is_err());
        assert!(check_client_metadata_url("http://127.0.0.1:9/c.json").is_ok());
    }
}
