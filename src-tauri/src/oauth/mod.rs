//! OAuth 2.0 flows on top of the `oauth2` crate: sign-in transactions (state, PKCE, issuer,
//! exact redirect, expiry), callback parsing, code exchange, refresh, revocation, client
//! credentials, dynamic registration and discovery. No HTTP redirect is ever followed.

pub mod http;
pub mod insecure;
pub mod loopback;

use crate::provider::{ClientAuth, Metadata, ProviderSpec};
use crate::secret::Secret;
use crate::vault::TokenRecord;
use http::{Http, HttpError};
use oauth2::basic::{
    BasicErrorResponse, BasicRevocationErrorResponse, BasicTokenIntrospectionResponse,
    BasicTokenType,
};
use oauth2::{
    AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken,
    DeviceAuthorizationUrl, EmptyExtraDeviceAuthorizationFields, EndpointNotSet, ErrorResponseType,
    ExtraTokenFields, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RefreshToken,
    RequestTokenError, Scope, StandardDeviceAuthorizationResponse, StandardErrorResponse,
    StandardRevocableToken, StandardTokenResponse, TokenResponse, TokenUrl,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// How long a sign-in may stay pending (S7).
pub const TRANSACTION_TTL: i64 = 600;

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
    pub secret: Option<Secret>,
    /// Token endpoint authentication.
    pub auth: ClientAuth,
}

fn base_client(c: &ClientConfig) -> OClient {
    let mut client: OClient = oauth2::Client::new(ClientId::new(c.id.clone()));
    if let Some(s) = &c.secret {
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
    /// The provider's answer was not what OAuth promises.
    #[error("{provider} sent an answer Latchkey could not read")]
    BadResponse {
        /// Provider name.
        provider: String,
    },
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
            OAuthError::BadEndpoint(_) => "Check the provider's URLs: they must start with https:// (plain http is only allowed for 127.0.0.1).".into(),
            OAuthError::UnknownState | OAuthError::Expired => "Start the sign-in again from Latchkey.".into(),
            OAuthError::RedirectMismatch | OAuthError::IssuerMismatch | OAuthError::Malformed => "Start the sign-in again from Latchkey. If it happens again, someone may be trying to trick you: don't approve sign-ins you didn't start.".into(),
            OAuthError::Denied(_) => "Click \"Try again\" and choose Allow at the provider.".into(),
            OAuthError::Provider { code, .. } => match code.as_str() {
                "invalid_grant" => "Sign in to this account again.".into(),
                "invalid_client" | "unauthorized_client" => "Check the client ID and secret for this provider, or remove them to let Latchkey register its own.".into(),
                "invalid_scope" => "Ask for fewer or different scopes.".into(),
                "temporarily_unavailable" | "server_error" => "The provider is having trouble. Try again in a few minutes.".into(),
                _ => "Try again. If it keeps happening, check the provider's settings.".into(),
            },
            OAuthError::Network { .. } => "Check your internet connection. Latchkey keeps your tokens and retries.".into(),
            OAuthError::BadResponse { .. } => "The provider may be misconfigured. Try again later, or check its issuer URL.".into(),
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

/// Provider text for display: control characters dropped, length capped. The UI renders it
/// as text, never HTML (S9).
pub fn plain_text(s: &str, max: usize) -> String {
    s.chars().filter(|c| !c.is_control()).take(max).collect()
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

// ---- transactions ----------------------------------------------------------------------------

/// A pending sign-in. Stored in the vault (the verifier and state are secrets) so a sign-in
/// approved after the app was quit completes on the next start.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Transaction {
    /// Non-secret handle: hex of SHA-256(state), truncated; names the vault entry.
    pub handle: String,
    /// 32 random bytes, base64url (S7).
    pub state: Secret,
    /// PKCE verifier from 32 random bytes (S6).
    pub verifier: Secret,
    /// Provider id.
    pub provider: String,
    /// Issuer the `iss` parameter must equal (S10).
    pub issuer: Option<String>,
    /// `iss` must be present (RFC 9207 metadata said so).
    pub iss_required: bool,
    /// The exact redirect URI sent in the request; repeated byte for byte (S5).
    pub redirect_uri: String,
    /// Client used.
    pub client_id: String,
    /// Requested scopes.
    pub scopes: Vec<String>,
    /// Label for the new account.
    pub label: Option<String>,
    /// Account being re-authenticated, if any.
    pub reauth_of: Option<String>,
    /// Unix seconds.
    pub created: i64,
    /// Unix seconds (created + 10 min).
    pub expires: i64,
}

/// Derives the handle under which a transaction with `state` is stored.
pub fn handle_for_state(state: &str) -> String {
    let d = Sha256::digest(state.as_bytes());
    d.iter().take(16).map(|b| format!("{b:02x}")).collect()
}

fn random_b64(bytes: usize) -> String {
    use base64::Engine;
    use rand::RngCore;
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf)
}

/// What `begin` hands back: the transaction to store, and the URL to open.
pub struct Begun {
    /// The new transaction.
    pub transaction: Transaction,
    /// The authorization URL (carries state and challenge, so treated as a secret).
    pub authorize_url: Secret,
}

/// Starts a sign-in: new state and verifier every time, S256 only, exact redirect recorded.
pub fn begin(
    p: &ProviderSpec,
    client: &ClientConfig,
    redirect_uri: &str,
    scopes: &[String],
    now: i64,
) -> Result<Begun, OAuthError> {
    let auth = endpoint(p, &p.authorize_url, "authorization endpoint")?;
    let state = random_b64(32);
    let verifier = PkceCodeVerifier::new(random_b64(32));
    let challenge = PkceCodeChallenge::from_code_verifier_sha256(&verifier);
    let c = base_client(client)
        .set_auth_uri(AuthUrl::new(auth).map_err(url_err("authorization endpoint"))?)
        .set_redirect_uri(
            RedirectUrl::new(redirect_uri.to_string()).map_err(url_err("redirect URI"))?,
        );
    let st = state.clone();
    let mut req = c
        .authorize_url(move || CsrfToken::new(st))
        .set_pkce_challenge(challenge);
    for s in scopes {
        req = req.add_scope(Scope::new(s.clone()));
    }
    let (url, _) = req.url();
    let transaction = Transaction {
        handle: handle_for_state(&state),
        state: Secret::new(state),
        verifier: Secret::new(verifier.secret().to_string()),
        provider: p.id.clone(),
        issuer: p.issuer.clone(),
        iss_required: p.iss_required,
        redirect_uri: redirect_uri.to_string(),
        client_id: client.id.clone(),
        scopes: scopes.to_vec(),
        label: None,
        reauth_of: None,
        created: now,
        expires: now + TRANSACTION_TTL,
    };
    Ok(Begun {
        transaction,
        authorize_url: Secret::new(url.to_string()),
    })
}

// ---- callbacks -------------------------------------------------------------------------------

/// The parts of a callback. Secrets stay wrapped.
#[derive(Debug)]
pub struct Callback {
    /// Redirect the link arrived on, without query (`dev.latchkey:/oauth/callback` or
    /// `http://127.0.0.1:PORT/callback`).
    pub arrived_on: String,
    /// `state`.
    pub state: Option<Secret>,
    /// `code`.
    pub code: Option<Secret>,
    /// `iss` (RFC 9207).
    pub iss: Option<String>,
    /// `error`.
    pub error: Option<String>,
    /// `error_description`, plain text.
    pub error_description: Option<String>,
}

/// One parser for custom-scheme links and loopback requests.
pub fn parse_callback(raw: &str) -> Result<Callback, OAuthError> {
    if raw.len() > 16 * 1024 {
        return Err(OAuthError::Malformed);
    }
    let u = url::Url::parse(raw).map_err(|_| OAuthError::Malformed)?;
    let arrived_on = redirect_base(&u).ok_or(OAuthError::Malformed)?;
    let mut cb = Callback {
        arrived_on,
        state: None,
        code: None,
        iss: None,
        error: None,
        error_description: None,
    };
    for (k, v) in u.query_pairs() {
        // A repeated parameter is a sign of tampering (RFC 6749 §3.1).
        let dup = match k.as_ref() {
            "state" => cb.state.replace(Secret::new(v.into_owned())).is_some(),
            "code" => cb.code.replace(Secret::new(v.into_owned())).is_some(),
            "iss" => cb.iss.replace(v.into_owned()).is_some(),
            "error" => cb.error.replace(plain_text(&v, 64)).is_some(),
            "error_description" => cb.error_description.replace(plain_text(&v, 300)).is_some(),
            _ => false,
        };
        if dup {
            return Err(OAuthError::Malformed);
        }
    }
    Ok(cb)
}

/// The redirect URI a URL arrived on, normalised for comparison: scheme, host, port, path.
fn redirect_base(u: &url::Url) -> Option<String> {
    match u.scheme() {
        "http" => Some(format!(
            "http://{}:{}{}",
            u.host_str()?,
            u.port()?,
            u.path()
        )),
        // S5: `dev.latchkey:/path` only; any authority (host, user, port) makes it another
        // address, never the registered redirect.
        s if s.eq_ignore_ascii_case(crate::provider::SCHEME) && !u.has_authority() => {
            Some(format!("{}:{}", crate::provider::SCHEME, u.path()))
        }
        _ => None,
    }
}

/// Checks a callback against its transaction: redirect (S5), error (S9), `iss` (S10).
/// Returns the code to exchange.
pub fn check_callback(
    tx: &Transaction,
    cb: &Callback,
    provider_name: &str,
) -> Result<Secret, OAuthError> {
    let expected = url::Url::parse(&tx.redirect_uri)
        .ok()
        .and_then(|u| redirect_base(&u))
        .ok_or(OAuthError::RedirectMismatch)?;
    if cb.arrived_on != expected {
        return Err(OAuthError::RedirectMismatch);
    }
    match (&cb.iss, &tx.issuer) {
        (Some(iss), Some(issuer)) if iss != issuer => return Err(OAuthError::IssuerMismatch),
        (Some(_), None) => return Err(OAuthError::IssuerMismatch),
        (None, _) if tx.iss_required => return Err(OAuthError::IssuerMismatch),
        _ => {}
    }
    if let Some(error) = &cb.error {
        if error == "access_denied" {
            return Err(OAuthError::Denied(provider_name.into()));
        }
        return Err(OAuthError::Provider {
            provider: provider_name.into(),
            code: error.clone(),
            description: cb.error_description.clone(),
        });
    }
    cb.code.clone().ok_or(OAuthError::Malformed)
}

// ---- token endpoint --------------------------------------------------------------------------

fn record_from(resp: &TokenResp, previous_refresh: Option<&Secret>, now: i64) -> TokenRecord {
    TokenRecord {
        access_token: Secret::new(resp.access_token().secret().clone()),
        // S14: a refresh response without a new refresh token keeps the old one.
        refresh_token: resp
            .refresh_token()
            .map(|r| Secret::new(r.secret().clone()))
            .or_else(|| previous_refresh.cloned()),
        expires_at: resp.expires_in().map(|d| expiry(now, d.as_secs())),
        token_type: "Bearer".into(),
        scopes: resp
            .scopes()
            .map(|s| s.iter().map(|x| x.to_string()).collect())
            .unwrap_or_default(),
        issued_at: now,
        id_token: resp.extra_fields().id_token.clone().map(Secret::new),
    }
}

/// The longest lifetime Latchkey believes: ten years. A hostile `expires_in` can't overflow.
const MAX_LIFETIME: u64 = 10 * 365 * 24 * 3600;

/// `now + expires_in`, clamped to [`MAX_LIFETIME`] (S13).
pub fn expiry(now: i64, expires_in: u64) -> i64 {
    now.saturating_add(expires_in.min(MAX_LIFETIME) as i64)
}

fn token_client(
    p: &ProviderSpec,
    client: &ClientConfig,
) -> Result<OClient<EndpointNotSet, EndpointNotSet, oauth2::EndpointSet>, OAuthError> {
    let t = endpoint(p, &p.token_url, "token endpoint")?;
    Ok(base_client(client).set_token_uri(TokenUrl::new(t).map_err(url_err("token endpoint"))?))
}

/// Exchanges a code once (S12): no automatic retry, even when the answer is lost.
pub async fn exchange_code(
    http: &Http,
    p: &ProviderSpec,
    client: &ClientConfig,
    tx: &Transaction,
    code: &Secret,
    now: i64,
) -> Result<TokenRecord, OAuthError> {
    let c = token_client(p, client)?.set_redirect_uri(
        RedirectUrl::new(tx.redirect_uri.clone()).map_err(url_err("redirect URI"))?,
    );
    let resp = c
        .exchange_code(AuthorizationCode::new(code.expose().to_string()))
        .set_pkce_verifier(PkceCodeVerifier::new(tx.verifier.expose().to_string()))
        .request_async(http)
        .await
        .map_err(|e| classify_token_error(&p.name, e))?;
    let mut rec = record_from(&resp, None, now);
    if rec.scopes.is_empty() {
        rec.scopes = tx.scopes.clone();
    }
    Ok(rec)
}

/// What a refresh came to (pizauth-style classification).
#[derive(Debug)]
pub enum RefreshOutcome {
    /// New tokens; save them before anything uses them (S14).
    Refreshed(TokenRecord),
    /// The grant is gone (`invalid_grant`): the account needs sign-in (S15).
    NeedsSignIn(OAuthError),
    /// Network or 5xx: keep the tokens and retry later (S15).
    Transient {
        /// What happened.
        error: OAuthError,
        /// Server-suggested wait in seconds.
        retry_after: Option<u64>,
    },
    /// Anything else (bad configuration, unreadable answer).
    Failed(OAuthError),
}

/// Uses the refresh token once.
pub async fn refresh(
    http: &Http,
    p: &ProviderSpec,
    client: &ClientConfig,
    current: &TokenRecord,
    now: i64,
) -> RefreshOutcome {
    let Some(rt) = &current.refresh_token else {
        return RefreshOutcome::NeedsSignIn(OAuthError::Provider {
            provider: p.name.clone(),
            code: "invalid_grant".into(),
            description: Some("this account has no refresh token".into()),
        });
    };
    let c = match token_client(p, client) {
        Ok(c) => c,
        Err(e) => return RefreshOutcome::Failed(e),
    };
    match c
        .exchange_refresh_token(&RefreshToken::new(rt.expose().to_string()))
        .request_async(http)
        .await
    {
        Ok(resp) => {
            let mut rec = record_from(&resp, Some(rt), now);
            if rec.scopes.is_empty() {
                rec.scopes = current.scopes.clone();
            }
            if rec.id_token.is_none() {
                rec.id_token = current.id_token.clone();
            }
            RefreshOutcome::Refreshed(rec)
        }
        Err(e) => {
            let e = classify_token_error(&p.name, e);
            if e.needs_sign_in() {
                RefreshOutcome::NeedsSignIn(e)
            } else if e.is_transient() {
                let retry_after = match &e {
                    OAuthError::Network {
                        source: HttpError::Unavailable { retry_after, .. },
                        ..
                    } => *retry_after,
                    _ => None,
                };
                RefreshOutcome::Transient {
                    error: e,
                    retry_after,
                }
            } else if matches!(&e, OAuthError::Provider { code, .. } if code == "temporarily_unavailable" || code == "server_error")
            {
                RefreshOutcome::Transient {
                    error: e,
                    retry_after: None,
                }
            } else {
                RefreshOutcome::Failed(e)
            }
        }
    }
}

/// Client-credentials grant: a fresh token for a machine account.
pub async fn client_credentials(
    http: &Http,
    p: &ProviderSpec,
    client: &ClientConfig,
    scopes: &[String],
    now: i64,
) -> Result<TokenRecord, OAuthError> {
    let c = token_client(p, client)?;
    let mut req = c.exchange_client_credentials();
    for s in scopes {
        req = req.add_scope(Scope::new(s.clone()));
    }
    let resp = req
        .request_async(http)
        .await
        .map_err(|e| classify_token_error(&p.name, e))?;
    Ok(record_from(&resp, None, now))
}

// ---- device authorization (RFC 8628) -----------------------------------------------------------

/// A started device sign-in: what to show the person, and what to poll with.
pub struct DeviceStart {
    /// The short code the person types at the provider. Meant to be shown; it is useless
    /// without the device code, which never leaves this struct.
    pub user_code: String,
    /// Where to type it.
    pub verification_uri: String,
    /// The same page with the code filled in, when the provider offers it.
    pub verification_uri_complete: Option<String>,
    /// Unix seconds after which the codes are dead.
    pub expires: i64,
    details: StandardDeviceAuthorizationResponse,
}

impl std::fmt::Debug for DeviceStart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceStart")
            .field("verification_uri", &self.verification_uri)
            .field("expires", &self.expires)
            .finish_non_exhaustive()
    }
}

/// The RFC 8628 grant type, asked for when registering a client at a provider with the flow.
pub const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// Whether the provider offers the device flow.
pub fn offers_device_flow(p: &ProviderSpec) -> bool {
    p.device_url.is_some() && p.token_url.is_some()
}

/// Asks for a device code and a user code.
pub async fn device_begin(
    http: &Http,
    p: &ProviderSpec,
    client: &ClientConfig,
    scopes: &[String],
    now: i64,
) -> Result<DeviceStart, OAuthError> {
    let d = endpoint(p, &p.device_url, "device authorization endpoint")?;
    let c = base_client(client).set_device_authorization_url(
        DeviceAuthorizationUrl::new(d).map_err(url_err("device authorization endpoint"))?,
    );
    let mut req = c.exchange_device_code();
    for s in scopes {
        req = req.add_scope(Scope::new(s.clone()));
    }
    let details: StandardDeviceAuthorizationResponse = req
        .request_async(http)
        .await
        .map_err(|e| classify_token_error(&p.name, e))?;
    // The person opens this page themselves: it must be a web page, not some other scheme.
    let page = details.verification_uri().as_str();
    if !(page.starts_with("https://") || crate::provider::check_endpoint(page).is_ok()) {
        return Err(OAuthError::BadResponse {
            provider: p.name.clone(),
        });
    }
    // Both addresses are printed to a terminal: no control characters (escape sequences).
    let page = plain_text(page, 2048);
    Ok(DeviceStart {
        user_code: plain_text(details.user_code().secret(), 64),
        verification_uri_complete: details
            .verification_uri_complete()
            .map(|u| plain_text(u.secret(), 2048))
            .filter(|u| u.starts_with(&page)),
        verification_uri: page,
        expires: expiry(now, details.expires_in().as_secs()),
        details,
    })
}

/// Polls the token endpoint at the provider's pace (`slow_down` honoured) until the person
/// approves, declines or the codes expire.
pub async fn device_finish(
    http: &Http,
    p: &ProviderSpec,
    client: &ClientConfig,
    start: &DeviceStart,
    now: impl Fn() -> i64,
) -> Result<TokenRecord, OAuthError> {
    let c = token_client(p, client)?;
    let left = (start.expires - now()).max(1) as u64;
    let resp = c
        .exchange_device_access_token::<EmptyExtraDeviceAuthorizationFields>(&start.details)
        .request_async(
            http,
            tokio::time::sleep,
            Some(std::time::Duration::from_secs(left)),
        )
        .await
        .map_err(|e| match classify_token_error(&p.name, e) {
            OAuthError::Provider { code, .. } if code == "access_denied" => {
                OAuthError::Denied(p.name.clone())
            }
            OAuthError::Provider { code, .. } if code == "expired_token" => OAuthError::Expired,
            // oauth2 reports its own timeout as a non-HTTP failure.
            OAuthError::BadResponse { .. } if now() >= start.expires => OAuthError::Expired,
            other => other,
        })?;
    Ok(record_from(&resp, None, now()))
}

/// What revocation achieved, for the removal report (S17).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Revocation {
    /// The provider confirmed (HTTP 200) every token we sent.
    Revoked,
    /// The provider has no revocation endpoint.
    NotSupported,
    /// It failed; the local wipe still happens. Plain-words reason.
    Failed(String),
}

/// RFC 7009: revoke the refresh token first, then the access token. 200 is success whatever
/// the body. Sent directly rather than through `oauth2`, whose revocation request refuses
/// every non-https URL, including the loopback endpoints S20 allows.
pub async fn revoke(
    http: &Http,
    p: &ProviderSpec,
    client: &ClientConfig,
    rec: &TokenRecord,
) -> Revocation {
    let Some(url) = p.revocation_url.clone() else {
        return Revocation::NotSupported;
    };
    if let Err(e) = crate::provider::check_endpoint(&url) {
        return Revocation::Failed(e);
    }
    let mut tokens = Vec::new();
    if let Some(rt) = &rec.refresh_token {
        tokens.push((rt, "refresh_token"));
    }
    tokens.push((&rec.access_token, "access_token"));
    for (token, hint) in tokens {
        let req = match revocation_request(&url, client, token, hint) {
            Ok(r) => r,
            Err(why) => return Revocation::Failed(why),
        };
        match http.send(req).await {
            Ok(r) if r.status().is_success() => {}
            Ok(r) => {
                let code = serde_json::from_slice::<serde_json::Value>(r.body())
                    .ok()
                    .and_then(|v| {
                        v.get("error")
                            .and_then(|e| e.as_str())
                            .map(|e| plain_text(e, 64))
                    });
                return Revocation::Failed(format!(
                    "{} answered {}{}",
                    p.name,
                    r.status().as_u16(),
                    code.map(|c| format!(" ({c})")).unwrap_or_default()
                ));
            }
            Err(e) => return Revocation::Failed(format!("could not reach {}: {e}", p.name)),
        }
    }
    Revocation::Revoked
}

/// The RFC 7009 request with the client's authentication (RFC 6749 §2.3.1).
fn revocation_request(
    url: &str,
    client: &ClientConfig,
    token: &Secret,
    hint: &str,
) -> Result<::http::Request<Vec<u8>>, String> {
    let enc = |s: &str| -> String { url::form_urlencoded::byte_serialize(s.as_bytes()).collect() };
    let mut form = url::form_urlencoded::Serializer::new(String::new());
    form.append_pair("token", token.expose())
        .append_pair("token_type_hint", hint);
    let mut b = ::http::Request::builder()
        .method("POST")
        .uri(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("accept", "application/json");
    match (&client.secret, client.auth) {
        (Some(secret), ClientAuth::ClientSecretBasic) => {
            use base64::Engine;
            let pair = format!("{}:{}", enc(&client.id), enc(secret.expose()));
            b = b.header(
                "authorization",
                format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(pair)
                ),
            );
        }
        (Some(secret), _) => {
            form.append_pair("client_id", &client.id)
                .append_pair("client_secret", secret.expose());
        }
        (None, _) => {
            form.append_pair("client_id", &client.id);
        }
    }
    b.body(form.finish().into_bytes())
        .map_err(|_| "could not build the revocation request".to_string())
}

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

#[cfg(test)]
mod tests {
    use super::*;

    fn provider() -> ProviderSpec {
        let mut p = crate::provider::taskade();
        p.issuer = Some("https://idp.example".into());
        p.authorize_url = Some("https://idp.example/authorize".into());
        p.token_url = Some("https://idp.example/token".into());
        p
    }

    fn client() -> ClientConfig {
        ClientConfig {
            id: "cid".into(),
            secret: None,
            auth: ClientAuth::None,
        }
    }

    /// S6: the RFC 7636 Appendix B known answer.
    #[test]
    fn pkce_s256_known_answer_s6() {
        let v = PkceCodeVerifier::new("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk".into());
        assert_eq!(
            PkceCodeChallenge::from_code_verifier_sha256(&v).as_str(),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    /// S6, S7: S256 always, 32-byte verifier and state, new every time, 10-minute expiry.
    #[test]
    fn every_request_has_fresh_state_and_s256_challenge_s6_s7() {
        let a = begin(
            &provider(),
            &client(),
            "http://127.0.0.1:5555/callback",
            &["openid".into()],
            1000,
        )
        .unwrap();
        let b = begin(
            &provider(),
            &client(),
            "http://127.0.0.1:5555/callback",
            &["openid".into()],
            1000,
        )
        .unwrap();
        let url = url::Url::parse(a.authorize_url.expose()).unwrap();
        let q: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
        assert_eq!(q["code_challenge_method"], "S256");
        assert_eq!(q["response_type"], "code");
        assert_eq!(q["redirect_uri"], "http://127.0.0.1:5555/callback");
        assert_eq!(q["state"], a.transaction.state.expose());
        assert_eq!(a.transaction.state.len(), 43, "32 random bytes, base64url");
        assert_eq!(
            a.transaction.verifier.len(),
            43,
            "32 random bytes, base64url"
        );
        assert_ne!(a.transaction.state, b.transaction.state);
        assert_ne!(a.transaction.verifier, b.transaction.verifier);
        assert_eq!(a.transaction.expires - a.transaction.created, 600);
        let expect = PkceCodeChallenge::from_code_verifier_sha256(&PkceCodeVerifier::new(
            a.transaction.verifier.expose().into(),
        ));
        assert_eq!(q["code_challenge"], expect.as_str());
        assert!(!format!("{:?}", a.transaction).contains(a.transaction.state.expose()));
    }

    fn tx(redirect: &str, issuer: Option<&str>, required: bool) -> Transaction {
        let mut t = begin(&provider(), &client(), redirect, &[], 0)
            .unwrap()
            .transaction;
        t.issuer = issuer.map(str::to_string);
        t.iss_required = required;
        t
    }

    /// S5: a callback on a different redirect than the transaction's is rejected.
    #[test]
    fn callback_on_another_redirect_is_rejected_s5() {
        let t = tx("http://127.0.0.1:5555/callback", None, false);
        let ok = parse_callback("http://127.0.0.1:5555/callback?code=c&state=s").unwrap();
        assert!(check_callback(&t, &ok, "X").is_ok());
        for bad in [
            "http://127.0.0.1:5556/callback?code=c&state=s",
            "http://127.0.0.1:5555/other?code=c&state=s",
            "dev.latchkey:/oauth/callback?code=c&state=s",
        ] {
            let cb = parse_callback(bad).unwrap();
            assert_eq!(
                check_callback(&t, &cb, "X").unwrap_err(),
                OAuthError::RedirectMismatch,
                "{bad}"
            );
        }
        // A custom-scheme link with an authority is never the registered redirect.
        let t = tx("dev.latchkey:/oauth/callback", None, false);
        let ok = parse_callback("dev.latchkey:/oauth/callback?code=c&state=s").unwrap();
        assert!(check_callback(&t, &ok, "X").is_ok());
        for bad in [
            "dev.latchkey://any.host/oauth/callback?code=c&state=s",
            "dev.latchkey://u:p@h:1/oauth/callback?code=c&state=s",
        ] {
            assert!(parse_callback(bad).is_err(), "{bad}");
        }
        // S10: a provider without `iss` has its own path; another provider's is refused.
        let t = tx("dev.latchkey:/oauth/callback/acme", None, false);
        let other = parse_callback("dev.latchkey:/oauth/callback/evil?code=c&state=s").unwrap();
        assert_eq!(
            check_callback(&t, &other, "X").unwrap_err(),
            OAuthError::RedirectMismatch
        );
    }

    /// S10: `iss` must equal the issuer by simple string comparison, and is required when the
    /// metadata says so.
    #[test]
    fn iss_is_checked_and_required_when_advertised_s10() {
        let t = tx(
            "dev.latchkey:/oauth/callback",
            Some("https://idp.example"),
            false,
        );
        let good = parse_callback(
            "dev.latchkey:/oauth/callback?code=c&state=s&iss=https%3A%2F%2Fidp.example",
        )
        .unwrap();
        assert!(check_callback(&t, &good, "X").is_ok());
        let bad = parse_callback(
            "dev.latchkey:/oauth/callback?code=c&state=s&iss=https%3A%2F%2Fidp.example%2F",
        )
        .unwrap();
        assert_eq!(
            check_callback(&t, &bad, "X").unwrap_err(),
            OAuthError::IssuerMismatch
        );
        let missing = parse_callback("dev.latchkey:/oauth/callback?code=c&state=s").unwrap();
        assert!(check_callback(&t, &missing, "X").is_ok());
        let t2 = tx(
            "dev.latchkey:/oauth/callback",
            Some("https://idp.example"),
            true,
        );
        assert_eq!(
            check_callback(&t2, &missing, "X").unwrap_err(),
            OAuthError::IssuerMismatch
        );
    }

    /// S9: an error callback yields plain text, and `access_denied` reads as a cancellation.
    #[test]
    fn error_callbacks_become_plain_words_s9() {
        let t = tx("dev.latchkey:/oauth/callback", None, false);
        let denied =
            parse_callback("dev.latchkey:/oauth/callback?error=access_denied&state=s").unwrap();
        let e = check_callback(&t, &denied, "Taskade").unwrap_err();
        assert_eq!(e.to_string(), "you cancelled the sign-in at Taskade");
        let other = parse_callback("dev.latchkey:/oauth/callback?error=server_error&error_description=%3Cb%3Ehi%3C%2Fb%3E%0A&state=s").unwrap();
        match check_callback(&t, &other, "Taskade").unwrap_err() {
            OAuthError::Provider {
                code, description, ..
            } => {
                assert_eq!(code, "server_error");
                assert_eq!(
                    description.as_deref(),
                    Some("<b>hi</b>"),
                    "kept as text, control chars dropped"
                );
            }
            e => panic!("{e:?}"),
        }
    }

    #[test]
    fn repeated_parameters_and_garbage_are_malformed() {
        assert!(parse_callback("dev.latchkey:/oauth/callback?state=a&state=b&code=c").is_err());
        assert!(parse_callback("https://evil.example/cb?code=x").is_err());
        assert!(parse_callback("not a url").is_err());
        assert!(parse_callback(&format!(
            "dev.latchkey:/oauth/callback?code={}",
            "x".repeat(20000)
        ))
        .is_err());
    }

    /// S17/S20: revocation sends the token in the form body only, with client auth.
    #[test]
    fn revocation_request_carries_token_in_the_body_only() {
        let public = ClientConfig {
            id: "cid".into(),
            secret: None,
            auth: ClientAuth::None,
        };
        let r = revocation_request(
            "https://idp.example/revoke",
            &public,
            &Secret::new("TOK"),
            "refresh_token",
        )
        .unwrap();
        assert_eq!(r.method(), "POST");
        assert_eq!(
            String::from_utf8(r.body().clone()).unwrap(),
            "token=TOK&token_type_hint=refresh_token&client_id=cid"
        );
        assert!(!r.uri().to_string().contains("TOK"));
        let basic = ClientConfig {
            id: "c id".into(),
            secret: Some(Secret::new("s:e")),
            auth: ClientAuth::ClientSecretBasic,
        };
        let r = revocation_request(
            "https://idp.example/revoke",
            &basic,
            &Secret::new("TOK"),
            "access_token",
        )
        .unwrap();
        use base64::Engine;
        let expect = base64::engine::general_purpose::STANDARD.encode("c+id:s%3Ae");
        assert_eq!(
            r.headers()["authorization"],
            format!("Basic {expect}").as_str()
        );
        assert!(!String::from_utf8(r.body().clone())
            .unwrap()
            .contains("s%3Ae"));
    }

    /// S13: a hostile `expires_in` can't overflow the expiry; it is clamped to ten years.
    #[test]
    fn hostile_expires_in_is_clamped_s13() {
        let now = 1_700_000_000;
        let resp: TokenResp = serde_json::from_str(
            r#"{"access_token":"a","token_type":"bearer","expires_in":18446744073709551615}"#,
        )
        .unwrap();
        let rec = record_from(&resp, None, now);
        assert_eq!(rec.expires_at, Some(now + MAX_LIFETIME as i64));
        assert_eq!(expiry(i64::MAX - 5, 3600), i64::MAX);
        assert_eq!(expiry(now, 3600), now + 3600);
    }

    #[test]
    fn state_handle_is_stable_and_reveals_nothing() {
        let h = handle_for_state("abc");
        assert_eq!(h, handle_for_state("abc"));
        assert_eq!(h.len(), 32);
        assert!(!h.contains("abc"));
    }
}
