//! Providers: the model, where an account's tokens may go (S24), and ids for new issuers. The
//! built-in presets, the discovery documents and how the client authenticates have modules
//! of their own.

mod client;
mod ids;
mod metadata;
mod presets;
mod spec;

pub use client::{check_client_metadata_url, DEFAULT_CLIENT_METADATA_URL};
pub use ids::{find, id_for_issuer, id_for_resource};

pub use metadata::{
    apply_metadata, check_endpoint, discovery_urls, is_loopback_host, loopback_name,
    parse_metadata, Metadata,
};
pub use presets::{github, google, microsoft, presets, taskade};
pub use spec::{
    ApiPreset, AssertionAudience, ClientAuth, Destinations, IdentitySource, ProviderSpec,
    RedirectKind, SCHEME, SCHEME_REDIRECT, TASKADE_BASE_ENV,
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn custom_scheme_is_reverse_dns_s3() {
        assert_eq!(SCHEME, "dev.latchkey");
        assert!(SCHEME_REDIRECT.starts_with("dev.latchkey:/"));
        // Reverse DNS of a domain we control: at least one dot, all lower-case.
        assert!(SCHEME.contains('.') && SCHEME == SCHEME.to_lowercase());
        let conf = include_str!("../../../tauri.conf.json");
        assert!(conf.contains("\"schemes\": [\"dev.latchkey\"]"));
    }

    /// A path that repeats the base's own path is not doubled.
    #[test]
    fn api_paths_are_not_doubled() {
        let mut p = ProviderSpec::new("x", "X");
        p.api_bases = vec!["https://a.example/api".into()];
        assert_eq!(p.api_url("/api/me").unwrap(), "https://a.example/api/me");
        assert_eq!(p.api_url("me").unwrap(), "https://a.example/api/me");
        assert_eq!(p.api_url("/me").unwrap(), "https://a.example/api/me");
        assert_eq!(
            p.api_url("/apis/x").unwrap(),
            "https://a.example/api/apis/x"
        );
        p.api_bases = vec!["https://a.example/".into()];
        assert_eq!(p.api_url("/api/me").unwrap(), "https://a.example/api/me");
    }

    /// A resource with a query covers only its own parameter values.
    #[test]
    fn a_query_in_a_resource_binds_its_values_s11() {
        let mut p = ProviderSpec::new("r", "R");
        p.api_bases = vec!["https://a.example/mcp?tenant=a".into()];
        assert!(p.may_receive_token("https://a.example/mcp?tenant=a"));
        assert!(p.may_receive_token("https://a.example/mcp/tools?tenant=a&x=1"));
        assert!(!p.may_receive_token("https://a.example/mcp?tenant=b"));
        assert!(!p.may_receive_token("https://a.example/mcp?tenant=a&tenant=b"));
        assert!(!p.may_receive_token("https://a.example/mcp"));
        p.api_bases = vec!["https://a.example/mcp".into()];
        assert!(
            p.may_receive_token("https://a.example/mcp?tenant=b"),
            "no query: any"
        );
    }

    /// F10: an API connected by its address never gets an id another entry holds, whatever
    /// that entry's issuer; the same API keeps its own.
    #[test]
    fn resource_ids_never_collide_s24() {
        let mut other = ProviderSpec::new("a-example-mcp", "A");
        other.issuer = Some("https://a.example/mcp".into());
        let id = id_for_resource("https://a.example/mcp", None, std::slice::from_ref(&other));
        assert_ne!(id, "a-example-mcp");
        assert!(id.starts_with("a-example-mcp-"), "{id}");
        let mut same = ProviderSpec::new("a-example-mcp", "A");
        same.resource = Some("https://a.example/mcp".into());
        assert_eq!(
            id_for_resource("https://a.example/mcp/", None, std::slice::from_ref(&same)),
            "a-example-mcp"
        );
        // The same API at another server (a migration) gets an id of its own.
        assert_ne!(
            id_for_resource(
                "https://a.example/mcp",
                Some("https://new.example"),
                &[same]
            ),
            "a-example-mcp"
        );
    }

    /// S11: an API base matches on a path-segment boundary only.
    #[test]
    fn api_base_prefix_matches_on_a_segment_boundary_s11() {
        let mut p = ProviderSpec::new("x", "X");
        p.api_bases = vec!["https://api.example/api/v1".into()];
        assert!(p.may_receive_token("https://api.example/api/v1"));
        assert!(p.may_receive_token("https://api.example/api/v1/"));
        assert!(p.may_receive_token("https://api.example/api/v1/workspaces"));
        assert!(!p.may_receive_token("https://api.example/api/v1evil"));
        assert!(!p.may_receive_token("https://api.example/api/v1evil/x"));
        assert!(!p.may_receive_token("https://api.example/api"));
        assert!(!p.may_receive_token("https://user:pw@api.example/api/v1/x"));
        p.api_bases = vec!["https://api.example/".into()];
        assert!(p.may_receive_token("https://api.example/anything"));
    }

    /// S24: the id comes from the whole issuer; a taken id with another issuer is never reused.
    #[test]
    fn provider_ids_from_issuers_never_collide_s24() {
        let mut taken = Vec::new();
        let add = |issuer: &str, taken: &mut Vec<ProviderSpec>| {
            let id = id_for_issuer(issuer, taken);
            let mut p = ProviderSpec::new(&id, &id);
            p.issuer = Some(issuer.into());
            if !taken.iter().any(|t| t.id == id) {
                taken.push(p);
            }
            id
        };
        let a = add("https://login.acme.com", &mut taken);
        let b = add("https://login-acme.com", &mut taken);
        let c = add("https://login.acme.com/tenant2", &mut taken);
        let d = add("https://login.acme.com:8443", &mut taken);
        assert_eq!(a, "login-acme-com");
        assert_ne!(a, b, "issuers that slug alike get distinct ids");
        assert!(b.starts_with("login-acme-com-"), "{b}");
        assert_eq!(c, "login-acme-com-tenant2");
        assert_eq!(d, "login-acme-com-8443");
        assert_eq!(
            add("https://login.acme.com/", &mut taken),
            a,
            "same issuer, same id"
        );
        assert_eq!(add("https://login-acme.com", &mut taken), b);
        assert_eq!(taken.len(), 4);
        // Built-in ids are never taken by an "Other" provider.
        assert_ne!(id_for_issuer("https://taskade", &[]), "taskade");
    }

    /// S10: a provider that does not promise `iss` gets a redirect of its own.
    #[test]
    fn providers_without_iss_get_their_own_redirect_s10() {
        let mut p = ProviderSpec::new("acme", "Acme");
        assert_eq!(
            p.redirect_uri(RedirectKind::Scheme, None),
            "dev.latchkey:/oauth/callback/acme"
        );
        assert_eq!(
            p.redirect_uri(RedirectKind::Loopback, Some(4000)),
            "http://127.0.0.1:4000/callback/acme"
        );
        p.iss_required = true;
        assert_eq!(p.redirect_uri(RedirectKind::Scheme, None), SCHEME_REDIRECT);
        assert_eq!(
            p.redirect_uri(RedirectKind::Loopback, Some(4000)),
            "http://127.0.0.1:4000/callback"
        );
    }
}
