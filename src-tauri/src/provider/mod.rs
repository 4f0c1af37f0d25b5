//! Providers: the model, where an account's tokens may go (S24), and ids for new issuers. The
//! built-in presets, the discovery documents and how the client authenticates have modules
//! of their own.

mod client;
mod metadata;
mod presets;

pub use client::{
    check_client_metadata_url, AssertionAudience, ClientAuth, DEFAULT_CLIENT_METADATA_URL,
};

pub use metadata::{
    apply_metadata, check_endpoint, discovery_urls, is_loopback_host, parse_metadata, Metadata,
};
pub use presets::{github, google, microsoft, presets, taskade};

use serde::{Deserialize, Serialize};

/// The custom-scheme redirect every native client registers (RFC 8252 §7.1, reverse DNS).
pub const SCHEME_REDIRECT: &str = "dev.latchkey:/oauth/callback";
/// The custom URL scheme.
pub const SCHEME: &str = "dev.latchkey";
/// Environment override for the Taskade base URL (tests point it at the local IdP).
pub const TASKADE_BASE_ENV: &str = "LATCHKEY_TASKADE_BASE";

/// Where the browser sends the person back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum RedirectKind {
    /// `dev.latchkey:/oauth/callback`, through the OS deep-link handler.
    Scheme,
    /// `http://127.0.0.1:<port>/callback`, a one-shot local listener.
    #[default]
    Loopback,
}

/// How to learn who an account belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum IdentitySource {
    /// Taskade: `GET /oauth2/ping` answers `{handle}`.
    TaskadePing,
    /// OIDC userinfo: `preferred_username`, else `email`, else `sub`.
    Userinfo,
    /// GitHub: `GET https://api.github.com/user` answers `{login}`.
    GithubUser,
    /// No identity lookup.
    #[default]
    None,
}

/// A read-only request offered as "Test API call".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiPreset {
    /// Button label.
    pub label: String,
    /// HTTP method.
    pub method: String,
    /// Absolute URL or a path relative to the first API base.
    pub path: String,
}

/// Everything Latchkey needs to talk to one provider. Holds no secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderSpec {
    /// Stable id (`taskade`, `github`, or one the person chose).
    pub id: String,
    /// Display name.
    pub name: String,
    /// The issuer, compared with `iss` on callbacks (RFC 9207).
    #[serde(default)]
    pub issuer: Option<String>,
    /// Authorization endpoint.
    #[serde(default)]
    pub authorize_url: Option<String>,
    /// Token endpoint.
    #[serde(default)]
    pub token_url: Option<String>,
    /// RFC 7009 revocation endpoint.
    #[serde(default)]
    pub revocation_url: Option<String>,
    /// RFC 7591 registration endpoint.
    #[serde(default)]
    pub registration_url: Option<String>,
    /// RFC 7662 introspection endpoint (used to check a new token's audience).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub introspection_url: Option<String>,
    /// OIDC userinfo endpoint.
    #[serde(default)]
    pub userinfo_url: Option<String>,
    /// RFC 8628 device authorization endpoint.
    #[serde(default)]
    pub device_url: Option<String>,
    /// Base URLs where test calls and `latchkey api` may send this provider's tokens (S11).
    #[serde(default)]
    pub api_bases: Vec<String>,
    /// How to find the account's identity.
    #[serde(default)]
    pub identity: IdentitySource,
    /// Scopes requested when the person names none.
    #[serde(default)]
    pub default_scopes: Vec<String>,
    /// A client id configured for this provider (a secret, if any, is in the vault).
    #[serde(default)]
    pub client_id: Option<String>,
    /// Token endpoint authentication.
    #[serde(default)]
    pub client_auth: ClientAuth,
    /// Preferred redirect.
    #[serde(default)]
    pub redirect: RedirectKind,
    /// The provider promises `iss` on every authorization response (RFC 9207).
    #[serde(default)]
    pub iss_required: bool,
    /// Personal access tokens can be pasted.
    #[serde(default)]
    pub supports_pat: bool,
    /// Where to create a personal token, in words.
    #[serde(default)]
    pub pat_help: Option<String>,
    /// How to register one's own OAuth app there, step by step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_help: Option<String>,
    /// Test-call presets.
    #[serde(default)]
    pub presets: Vec<ApiPreset>,
    /// Password/implicit grants allowed (only ever for user-added providers, S23).
    #[serde(default)]
    pub insecure_grants: bool,
    /// The token-endpoint authentication methods the server lists
    /// (`token_endpoint_auth_methods_supported`), when discovery said.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub token_auth_methods: Vec<String>,
    /// The server takes a client metadata document's URL as a client id (no registration).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub client_metadata_documents: bool,
    /// RFC 9449: the DPoP proof algorithms the server lists; with ES256 among them Latchkey
    /// binds this provider's tokens to a key of each account's.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dpop_algs: Vec<String>,
    /// RFC 9126: the pushed authorization request endpoint. When set, every browser sign-in
    /// pushes its request there first and the browser carries only `client_id` and
    /// `request_uri`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub par_url: Option<String>,
    /// RFC 9126: the server requires pushed requests.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub par_required: bool,
    /// The person requires DPoP for this provider (`provider add --dpop`): a server that
    /// doesn't offer it, or answers with a Bearer token, is an error.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dpop_required: bool,
    /// The scopes the server lists (`scopes_supported`), when discovery said.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes_supported: Vec<String>,
    /// The grants the server lists (`grant_types_supported`), when discovery said.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub grant_types: Vec<String>,
    /// The protected API this provider entry signs in for (RFC 9728), named with `resource=`
    /// in every token request (RFC 8707) so its tokens are valid only there. Its API base.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    /// The entry for the same API at the authorization server it used before (migration):
    /// the first sign-in here takes over that entry's account and revokes its grant there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub migrated_from: Option<String>,
    /// The audience of this provider's `private_key_jwt` assertions.
    #[serde(default, skip_serializing_if = "is_default")]
    pub assertion_audience: AssertionAudience,
}

fn is_default<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}

impl ProviderSpec {
    /// A provider with nothing configured yet: public client, loopback redirect, no grants
    /// beyond authorization code.
    pub fn new(id: &str, name: &str) -> Self {
        ProviderSpec {
            id: id.into(),
            name: name.into(),
            issuer: None,
            authorize_url: None,
            token_url: None,
            revocation_url: None,
            registration_url: None,
            introspection_url: None,
            userinfo_url: None,
            device_url: None,
            api_bases: Vec::new(),
            identity: IdentitySource::None,
            default_scopes: Vec::new(),
            client_id: None,
            client_auth: ClientAuth::None,
            redirect: RedirectKind::Loopback,
            iss_required: false,
            supports_pat: false,
            pat_help: None,
            app_help: None,
            presets: Vec::new(),
            insecure_grants: false,
            token_auth_methods: Vec::new(),
            client_metadata_documents: false,
            dpop_algs: Vec::new(),
            dpop_required: false,
            par_url: None,
            par_required: false,
            scopes_supported: Vec::new(),
            grant_types: Vec::new(),
            resource: None,
            migrated_from: None,
            assertion_audience: AssertionAudience::Issuer,
        }
    }

    /// Resolves a preset path against the first API base.
    pub fn api_url(&self, path: &str) -> Option<String> {
        if path.starts_with("https://") || path.starts_with("http://") {
            return Some(path.to_string());
        }
        let base = self.api_bases.first()?;
        // A path that already starts with the base's own path (`/api/me` on `…/api`) is
        // taken from the base's origin, not appended to it (`/api/api/me`).
        if let Ok(b) = url::Url::parse(base) {
            let prefix = b.path().trim_end_matches('/');
            let starts = !prefix.is_empty()
                && path.strip_prefix(prefix).is_some_and(|rest| {
                    rest.is_empty() || rest.starts_with('/') || rest.starts_with('?')
                });
            if path.starts_with('/') && starts {
                return Some(format!("{}{path}", b.origin().ascii_serialization()));
            }
        }
        Some(format!(
            "{}/{}",
            base.trim_end_matches('/'),
            path.trim_start_matches('/')
        ))
    }

    /// True when `url` lies under one of this provider's API bases or its own endpoints (S11).
    /// "Under" means on a path-segment boundary: `/api/v1evil` is not under `/api/v1`. A base
    /// with a query (a resource such as `…/mcp?tenant=a`) covers only URLs whose values for
    /// each of its parameters are exactly its own: `?tenant=b` is another API.
    pub fn may_receive_token(&self, url: &str) -> bool {
        let Ok(target) = url::Url::parse(url) else {
            return false;
        };
        let own = self.api_bases.iter().chain(self.userinfo_url.iter());
        own.filter_map(|b| url::Url::parse(b).ok()).any(|base| {
            let prefix = base.path().trim_end_matches('/');
            let path = target.path();
            base.scheme() == target.scheme()
                && base.host_str() == target.host_str()
                && base.port_or_known_default() == target.port_or_known_default()
                && target.username().is_empty()
                && target.password().is_none()
                && (path == prefix
                    || path
                        .strip_prefix(prefix)
                        .is_some_and(|rest| rest.starts_with('/')))
                && same_query_values(&base, &target)
        })
    }

    /// Every place this provider's tokens may travel to, as recorded on an account at
    /// sign-in (S24).
    pub fn destinations(&self) -> Destinations {
        Destinations {
            issuer: self.issuer.clone(),
            token_url: self.token_url.clone(),
            revocation_url: self.revocation_url.clone(),
            userinfo_url: self.userinfo_url.clone(),
            api_bases: self.api_bases.clone(),
            resource: self.resource.clone(),
        }
    }

    /// The redirect URI this provider's sign-ins use. A provider that does not promise `iss`
    /// gets a path of its own, so an answer meant for another provider arrives on the wrong
    /// redirect and is refused (RFC 9700 §4.4.2, S10). `port` is the loopback listener's.
    pub fn redirect_uri(&self, kind: RedirectKind, port: Option<u16>) -> String {
        let own = (!self.iss_required).then(|| format!("/{}", self.id));
        let own = own.as_deref().unwrap_or("");
        match (kind, port) {
            (RedirectKind::Loopback, Some(port)) => {
                format!("http://127.0.0.1:{port}/callback{own}")
            }
            (RedirectKind::Loopback, None) => format!("http://127.0.0.1/callback{own}"),
            (RedirectKind::Scheme, _) => format!("{SCHEME_REDIRECT}{own}"),
        }
    }
}

/// Where an account's tokens may go, fixed when the person signs in (S24). A provider entry
/// that no longer matches gets nothing: the account asks for sign-in instead.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Destinations {
    /// The issuer at sign-in.
    pub issuer: Option<String>,
    /// The token endpoint at sign-in (refresh tokens and client secrets go here).
    pub token_url: Option<String>,
    /// The revocation endpoint at sign-in.
    pub revocation_url: Option<String>,
    /// The userinfo endpoint at sign-in.
    pub userinfo_url: Option<String>,
    /// The API bases at sign-in.
    pub api_bases: Vec<String>,
    /// The protected API the tokens are bound to (RFC 8707), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
}

/// For each parameter in `base`'s query, `target` carries exactly the same values.
fn same_query_values(base: &url::Url, target: &url::Url) -> bool {
    let values = |u: &url::Url, key: &str| -> Vec<String> {
        u.query_pairs()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.into_owned())
            .collect()
    };
    base.query_pairs()
        .all(|(k, _)| values(base, &k) == values(target, &k))
}

/// A provider id for an issuer, derived from the whole issuer (host, port and path). When
/// that id is taken by a provider with another issuer, a suffix from the issuer's hash keeps
/// the two apart; an existing provider is never replaced by another issuer (S24).
pub fn id_for_issuer(issuer: &str, taken: &[ProviderSpec]) -> String {
    let issuer = issuer.trim_end_matches('/');
    let same_issuer =
        |p: &ProviderSpec| p.issuer.as_deref().map(|i| i.trim_end_matches('/')) == Some(issuer);
    id_for(issuer, taken, same_issuer)
}

/// A provider id for an API connected by its address: never one that another provider entry
/// holds, whatever its issuer (F10), so no older entry shadows the API's.
pub fn id_for_resource(resource: &str, issuer: Option<&str>, taken: &[ProviderSpec]) -> String {
    let resource = resource.trim_end_matches('/');
    let issuer = issuer.map(|i| i.trim_end_matches('/'));
    id_for(resource, taken, |p| {
        p.resource.as_deref() == Some(resource)
            && p.issuer.as_deref().map(|i| i.trim_end_matches('/')) == issuer
    })
}

/// The readable id for `source` (host, port and path), or that id with a hash suffix when a
/// preset or an entry that `reusable` does not accept holds it.
fn id_for(
    source: &str,
    taken: &[ProviderSpec],
    reusable: impl Fn(&ProviderSpec) -> bool,
) -> String {
    use sha2::Digest;
    let issuer = source;
    let readable = url::Url::parse(issuer)
        .ok()
        .map(|u| {
            let mut s = u.host_str().unwrap_or("other").to_string();
            if let Some(port) = u.port() {
                s.push_str(&format!("-{port}"));
            }
            s.push_str(u.path().trim_end_matches('/'));
            s
        })
        .unwrap_or_else(|| "other".into());
    let mut base = String::new();
    for c in readable.chars() {
        let c = if c.is_ascii_alphanumeric() {
            c.to_ascii_lowercase()
        } else {
            '-'
        };
        if !(c == '-' && (base.is_empty() || base.ends_with('-'))) {
            base.push(c);
        }
    }
    let base: String = base.trim_end_matches('-').chars().take(48).collect();
    let base = if base.is_empty() {
        "other".into()
    } else {
        base
    };
    let free = |id: &str| {
        let user = taken.iter().find(|p| p.id == id);
        match user {
            Some(p) => reusable(p),
            None => !presets().iter().any(|p| p.id == id),
        }
    };
    if free(&base) {
        return base;
    }
    let digest = sha2::Sha256::digest(issuer.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    for len in [6, 12, 64] {
        let id = format!("{base}-{}", &hex[..len]);
        if free(&id) {
            return id;
        }
    }
    format!("{base}-{hex}-x")
}

/// Finds a provider by id among the presets and the person's own.
pub fn find(id: &str, user: &[ProviderSpec]) -> Option<ProviderSpec> {
    user.iter()
        .find(|p| p.id == id)
        .cloned()
        .or_else(|| presets().into_iter().find(|p| p.id == id))
}

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
