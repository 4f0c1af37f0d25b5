//! OAuth 2.0 flows on top of the `oauth2` crate: sign-in transactions (state, PKCE, issuer,
//! exact redirect, expiry), callback parsing, code exchange, refresh, revocation, client
//! credentials, dynamic registration and discovery. No HTTP redirect is ever followed.
//! Each protocol piece has a file of its own; this one holds what they share: the client
//! configuration, the error type and the filter for provider text.

pub mod assertion;
mod authorize;
mod callback;
mod device;
mod discovery;
pub mod dpop;
mod exchange;
pub mod http;
pub mod insecure;
pub mod loopback;
pub mod network;
pub mod proxy;
mod registration;
pub mod resource;
mod revoke;
mod sender;

pub use authorize::{begin, handle_for_state, push, Begun, Transaction, TRANSACTION_TTL};
pub use callback::{check_callback, parse_callback, Callback};
pub use device::{device_begin, device_finish, offers_device_flow, DeviceStart, DEVICE_GRANT};
pub use discovery::discover;
pub use exchange::{
    client_credentials, dpop_key_for, exchange_code, expiry, refresh, RefreshOutcome,
};
pub use registration::{register_client, Registered};
pub use revoke::{introspect, revoke, Revocation};

use crate::provider::{ClientAuth, ProviderSpec};
use crate::secret::Secret;
use crate::text::plain_text;
use http::HttpError;
use oauth2::basic::{
    BasicErrorResponse, BasicRevocationErrorResponse, BasicTokenIntrospectionResponse,
    BasicTokenType,
};
use oauth2::{
    AuthType, ClientId, ClientSecret, EndpointNotSet, ErrorResponseType, ExtraTokenFields,
    RequestTokenError, StandardErrorResponse, StandardRevocableToken, StandardTokenResponse,
};
use serde::{Deserialize, Serialize};

/// OIDC's `id_token` rides along in token responses; it is kept secret like the rest.
#[derive(Clone, Serialize, Deserialize, Default)]
pub struct IdTokenField {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    id_token: Option<String>,
}

impl std::fmt::Debug for IdTokenField {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IdTokenField([redacted])")
    }
}

impl ExtraTokenFields for IdTokenField {}

type TokenResp = StandardTokenResponse<IdTokenField, BasicTokenType>;
type OClient<HA = EndpointNotSet, HR = EndpointNotSet, HT = EndpointNotSet> = oauth2::Client<
    BasicErrorResponse,
    TokenResp,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    HA,
    EndpointNotSet,
    EndpointNotSet,
    HR,
    HT,
>;

/// The client Latchkey uses at one provider.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Client id.
    pub id: String,
    /// A secret the person entered (kept in the vault); shipped secrets are never trusted (S2).
    /// For `private_key_jwt`, the stored key ([`assertion::ClientKey`]).
    pub secret: Option<Secret>,
    /// Token endpoint authentication.
    pub auth: ClientAuth,
}

impl ClientConfig {
    /// A client with what the credential store holds for it: a key means `private_key_jwt`;
    /// a secret means `secret_auth` (the provider's or the server's method); nothing means
    /// `public_auth`.
    pub fn from_stored(
        id: String,
        stored: Option<Secret>,
        secret_auth: ClientAuth,
        public_auth: ClientAuth,
    ) -> ClientConfig {
        let auth = match &stored {
            Some(s) if assertion::ClientKey::is_key(s) => ClientAuth::PrivateKeyJwt,
            Some(_) => secret_auth,
            None => public_auth,
        };
        ClientConfig {
            id,
            secret: stored,
            auth,
        }
    }

    /// The client's key, its id and the assertion audience, when it authenticates with a key.
    pub(crate) fn key_for(
        &self,
        p: &ProviderSpec,
    ) -> Result<Option<(assertion::ClientKey, String, String)>, OAuthError> {
        if self.auth != ClientAuth::PrivateKeyJwt {
            return Ok(None);
        }
        let problem = |m: String| OAuthError::ClientKey {
            provider: p.name.clone(),
            problem: m,
        };
        let key = self
            .secret
            .as_ref()
            .and_then(assertion::ClientKey::from_stored)
            .ok_or_else(|| problem("has no key in the credential store for this client".into()))?
            .map_err(problem)?;
        let aud = assertion::audience(p).ok_or(OAuthError::Missing {
            provider: p.name.clone(),
            what: "token endpoint",
        })?;
        Ok(Some((key, self.id.clone(), aud)))
    }
}

fn base_client(c: &ClientConfig) -> OClient {
    let mut client: OClient = oauth2::Client::new(ClientId::new(c.id.clone()));
    // A key-authenticated client sends `client_id` in the body and its assertion is added
    // by the sender (`sender::TokenSender`); its stored key is never a secret to send.
    if let Some(s) = c
        .secret
        .as_ref()
        .filter(|_| c.auth != ClientAuth::PrivateKeyJwt)
    {
        client = client.set_client_secret(ClientSecret::new(s.expose().to_string()));
    }
    client.set_auth_type(match c.auth {
        ClientAuth::ClientSecretBasic => AuthType::BasicAuth,
        _ => AuthType::RequestBody,
    })
}

/// Everything that can go wrong in a flow, classified for the person.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum OAuthError {
    /// The provider lacks an endpoint the flow needs.
    #[error("{provider} has no {what} configured")]
    Missing {
        /// Provider name.
        provider: String,
        /// Which endpoint or setting.
        what: &'static str,
    },
    /// A configured URL is invalid or not https (S20).
    #[error("{0}")]
    BadEndpoint(String),
    /// No pending sign-in matches the link's state (unknown, used or expired) (S7, S8).
    #[error("this sign-in link is not from a sign-in Latchkey is waiting for")]
    UnknownState,
    /// The pending sign-in expired (S7).
    #[error("the sign-in took longer than 10 minutes and expired")]
    Expired,
    /// The callback arrived on a redirect other than the one the sign-in started with (S5).
    #[error("the sign-in came back to the wrong address")]
    RedirectMismatch,
    /// `iss` differs from the transaction's issuer, or is missing where required (S10).
    #[error("the sign-in answer came from a different provider than the one you chose")]
    IssuerMismatch,
    /// The link has no code and no error.
    #[error("the sign-in link is incomplete")]
    Malformed,
    /// The person declined at the provider (`access_denied`).
    #[error("you cancelled the sign-in at {0}")]
    Denied(String),
    /// RFC 6749 §5.2 error from the provider.
    #[error("{provider} refused: {code}")]
    Provider {
        /// Provider name.
        provider: String,
        /// The `error` value.
        code: String,
        /// `error_description`, shown as plain text only.
        description: Option<String>,
    },
    /// Network trouble or 5xx (transient).
    #[error("could not reach {provider}: {source}")]
    Network {
        /// Provider name.
        provider: String,
        /// What happened.
        source: HttpError,
    },
    /// No discovery document at an issuer could be used.
    #[error("found no usable discovery document at {issuer}: {why}")]
    NoDiscovery {
        /// The issuer as typed.
        issuer: String,
        /// Why, in plain words (what the addresses answered).
        why: String,
        /// The addresses Latchkey looked at.
        looked: Vec<String>,
    },
    /// DPoP can't be used as the provider entry asks (RFC 9449).
    #[error("{provider} {problem}")]
    Dpop {
        /// Provider name.
        provider: String,
        /// What is wrong, in words.
        problem: String,
    },
    /// A `private_key_jwt` client's key is missing or damaged (RFC 7523).
    #[error("{provider} {problem}")]
    ClientKey {
        /// Provider name.
        provider: String,
        /// What is wrong, in words.
        problem: String,
    },
    /// The provider's answer was not what OAuth promises.
    #[error("{provider} sent an answer Latchkey could not read")]
    BadResponse {
        /// Provider name.
        provider: String,
    },
    /// No random bytes for the sign-in's state and verifier.
    #[error(transparent)]
    NoRandomness(#[from] crate::secret::NoRandomness),
}

impl OAuthError {
    /// Stable code.
    pub fn code(&self) -> String {
        match self {
            OAuthError::Missing { .. } => "provider_incomplete".into(),
            OAuthError::BadEndpoint(_) => "bad_endpoint".into(),
            OAuthError::UnknownState => "unknown_state".into(),
            OAuthError::Expired => "login_expired".into(),
            OAuthError::RedirectMismatch => "redirect_mismatch".into(),
            OAuthError::IssuerMismatch => "issuer_mismatch".into(),
            OAuthError::Malformed => "malformed_callback".into(),
            OAuthError::Denied(_) => "access_denied".into(),
            OAuthError::Provider { code, .. } => code.clone(),
            OAuthError::Network { .. } => "network".into(),
            OAuthError::BadResponse { .. } => "bad_response".into(),
            OAuthError::NoDiscovery { .. } => "no_discovery".into(),
            OAuthError::Dpop { .. } => "dpop".into(),
            OAuthError::ClientKey { .. } => "client_key".into(),
            OAuthError::NoRandomness(_) => crate::secret::NoRandomness::CODE.into(),
        }
    }

    /// True when retrying later may help (network, 5xx) (S15).
    pub fn is_transient(&self) -> bool {
        matches!(self, OAuthError::Network { source, .. } if source.is_transient())
    }

    /// True when the grant is dead and the person must sign in again.
    pub fn needs_sign_in(&self) -> bool {
        matches!(self, OAuthError::Provider { code, .. } if code == "invalid_grant" || code == "unauthorized_client" || code == "invalid_client")
    }

    /// What to do next, in plain words.
    pub fn fix(&self) -> String {
        match self {
            OAuthError::Missing { what, .. } => format!("Add the provider's {what} in its settings, or use \"Other\" with the provider's issuer URL so Latchkey can discover it."),
            OAuthError::BadEndpoint(_) => "Check the provider's URLs: they must start with https:// (plain http is only allowed for 127.0.0.1, ::1 or localhost).".into(),
            OAuthError::UnknownState | OAuthError::Expired => "Start the sign-in again from Latchkey.".into(),
            OAuthError::RedirectMismatch | OAuthError::IssuerMismatch | OAuthError::Malformed => "Start the sign-in again from Latchkey. If it happens again, someone may be trying to trick you: don't approve sign-ins you didn't start.".into(),
            OAuthError::Denied(_) => "Click \"Try again\" and choose Allow at the provider.".into(),
            OAuthError::Provider { code, .. } => match code.as_str() {
                "invalid_grant" => "Sign in to this account again.".into(),
                "invalid_client" | "unauthorized_client" => "Check the client ID and its secret or registered public key for this provider, or remove them to let Latchkey register its own. For a client with a key, a server that wants the token endpoint as the assertion's audience needs: latchkey provider add … --private-key-jwt --assertion-audience token-endpoint.".into(),
                "invalid_scope" => "Ask for fewer or different scopes.".into(),
                "temporarily_unavailable" | "server_error" => "The provider is having trouble. Try again in a few minutes.".into(),
                _ => "Try again. If it keeps happening, check the provider's settings.".into(),
            },
            OAuthError::Network { source, .. } => source.fix(),
            OAuthError::BadResponse { .. } => "The provider may be misconfigured. Try again later, or check its issuer URL.".into(),
            OAuthError::Dpop { .. } => "If the provider offers DPoP under another setting, turn it on there; otherwise add the provider again without --dpop (its tokens are then plain bearer tokens).".into(),
            OAuthError::ClientKey { .. } => "Make a new key with latchkey provider add PROVIDER --client-id ID --private-key-jwt, and register the public key it prints at the server.".into(),
            OAuthError::NoRandomness(_) => crate::secret::NoRandomness::FIX.into(),
            OAuthError::NoDiscovery { looked, .. } => format!("Check the issuer address: use exactly what the service calls its issuer (for example https://login.example.com, or https://example.com/realms/NAME), without a /.well-known part. Latchkey looked at {}. Or give the endpoints by hand: latchkey provider add ID --auth-url URL --token-url URL.", looked.join(", ")),
        }
    }
}

fn network(p: &str, source: HttpError) -> OAuthError {
    OAuthError::Network {
        provider: p.into(),
        source,
    }
}

/// Maps an `oauth2` token-request failure. Provider error codes survive; nothing secret does.
fn classify_token_error<T: ErrorResponseType + AsRef<str> + std::fmt::Display>(
    p: &str,
    e: RequestTokenError<HttpError, StandardErrorResponse<T>>,
) -> OAuthError {
    match e {
        RequestTokenError::ServerResponse(r) => OAuthError::Provider {
            provider: p.into(),
            code: plain_text(r.error().as_ref(), 64),
            description: r.error_description().map(|d| plain_text(d, 300)),
        },
        RequestTokenError::Request(h) => network(p, h),
        RequestTokenError::Parse(..) | RequestTokenError::Other(_) => {
            OAuthError::BadResponse { provider: p.into() }
        }
    }
}

fn url_err(what: &str) -> impl Fn(url::ParseError) -> OAuthError + '_ {
    move |_| OAuthError::BadEndpoint(format!("the {what} is not a valid URL"))
}

fn endpoint(
    p: &ProviderSpec,
    url: &Option<String>,
    what: &'static str,
) -> Result<String, OAuthError> {
    let u = url.clone().ok_or_else(|| OAuthError::Missing {
        provider: p.name.clone(),
        what,
    })?;
    crate::provider::check_endpoint(&u).map_err(OAuthError::BadEndpoint)?;
    Ok(u)
}

/// Shared test fixtures for the protocol pieces' unit tests.
#[cfg(test)]
pub(crate) mod test_support {
    use super::ClientConfig;
    use crate::provider::{ClientAuth, ProviderSpec};

    pub(crate) fn provider() -> ProviderSpec {
        let mut p = crate::provider::taskade();
        p.issuer = Some("https://idp.example".into());
        p.authorize_url = Some("https://idp.example/authorize".into());
        p.token_url = Some("https://idp.example/token".into());
        p
    }

    pub(crate) fn client() -> ClientConfig {
        ClientConfig {
            id: "cid".into(),
            secret: None,
            auth: ClientAuth::None,
        }
    }
}
