//! The provider model: what a provider is (its endpoints, client, presets, where an
//! account's tokens may go, S24) and how its client authenticates at the token endpoint.

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

/// How the client authenticates at the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ClientAuth {
    /// Public client (PKCE only); `client_id` in the body.
    #[default]
    None,
    /// HTTP Basic with id and secret.
    ClientSecretBasic,
    /// id and secret in the form body.
    ClientSecretPost,
    /// A JWT signed by the client's own key (RFC 7523 §2.2); the key is in the credential
    /// store, and only its public half is registered at the server.
    PrivateKeyJwt,
}

/// The `aud` of a `private_key_jwt` assertion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum AssertionAudience {
    /// The issuer (FAPI 2.0 and the updated JWT client authentication rules); the token
    /// endpoint when the provider has no issuer.
    #[default]
    Issuer,
    /// The token endpoint (RFC 7523 §3; what some servers, Okta among them, insist on).
    TokenEndpoint,
}

impl ClientAuth {
    /// The RFC 7591 / RFC 8414 name of the method.
    pub fn name(self) -> &'static str {
        match self {
            ClientAuth::None => "none",
            ClientAuth::ClientSecretBasic => "client_secret_basic",
            ClientAuth::ClientSecretPost => "client_secret_post",
            ClientAuth::PrivateKeyJwt => "private_key_jwt",
        }
    }

    /// The method a metadata or registration name stands for, when Latchkey speaks it.
    pub fn from_name(name: &str) -> Option<ClientAuth> {
        match name {
            "none" => Some(ClientAuth::None),
            "client_secret_basic" => Some(ClientAuth::ClientSecretBasic),
            "client_secret_post" => Some(ClientAuth::ClientSecretPost),
            "private_key_jwt" => Some(ClientAuth::PrivateKeyJwt),
            _ => None,
        }
    }
}
