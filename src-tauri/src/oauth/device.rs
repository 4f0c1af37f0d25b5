//! The device authorization grant (RFC 8628): a code to type on another device, then polling.

use super::exchange::{expiry, record_from, token_client};
use super::http::Http;
use super::{base_client, classify_token_error, endpoint, url_err, ClientConfig, OAuthError};
use crate::provider::ProviderSpec;
use crate::text::plain_text;
use crate::vault::TokenRecord;
use oauth2::{
    DeviceAuthorizationUrl, EmptyExtraDeviceAuthorizationFields, Scope,
    StandardDeviceAuthorizationResponse,
};

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
    // RFC 8707 with RFC 8628: the API is named on the device request and on every poll (F2).
    if let Some(r) = &p.resource {
        req = req.add_extra_param("resource", r.clone());
    }
    // The device request is client-authenticated like a token request (RFC 8628 §3.1).
    let details: StandardDeviceAuthorizationResponse = req
        .request_async(&super::sender::sender(http, p, client, None)?)
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
    dpop: Option<&super::dpop::DpopKey>,
    now: impl Fn() -> i64,
) -> Result<TokenRecord, OAuthError> {
    let c = token_client(p, client)?;
    let left = (start.expires - now()).max(1) as u64;
    let mut req =
        c.exchange_device_access_token::<EmptyExtraDeviceAuthorizationFields>(&start.details);
    if let Some(r) = &p.resource {
        req = req.add_extra_param("resource", r.clone());
    }
    let wait = Some(std::time::Duration::from_secs(left));
    let to = super::sender::sender(http, p, client, dpop)?;
    let resp = req
        .request_async(&to, tokio::time::sleep, wait)
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
    super::exchange::settle_dpop(p, record_from(&resp, None, now()), dpop)
}
