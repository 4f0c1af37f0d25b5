//! How token requests leave Latchkey: every grant (code, refresh, client credentials, device
//! polls) goes through one sender, which adds the client's assertion where the client has a
//! key (`private_key_jwt`, S38) and the account's DPoP proof where its tokens are bound.

use super::assertion::{add_to_request, ClientKey};
use super::dpop::DpopKey;
use super::http::{Http, HttpError};
use super::{ClientConfig, OAuthError};
use crate::provider::ProviderSpec;

/// How `oauth2` reaches the token endpoint: with a fresh client assertion in each request
/// when the client has a key, and a DPoP proof when the account has a DPoP key. Every grant
/// (code, refresh, client credentials, device polls) sends through this one type.
pub struct TokenSender<'a> {
    /// The client underneath.
    pub http: &'a Http,
    /// The account's DPoP key, if its tokens are bound to one.
    pub dpop: Option<&'a DpopKey>,
    /// The client's key, its id and the assertion audience, for `private_key_jwt`.
    pub client_key: Option<(ClientKey, String, String)>,
}

impl TokenSender<'_> {
    async fn send(
        &self,
        req: http::Request<Vec<u8>>,
    ) -> Result<http::Response<Vec<u8>>, HttpError> {
        let req = match &self.client_key {
            Some((key, id, aud)) => add_to_request(req, key, id, aud)?,
            None => req,
        };
        match self.dpop {
            Some(k) => super::dpop::send_with_proof(self.http, k, req, None).await,
            None => self.http.send(req).await,
        }
    }
}

impl<'c> oauth2::AsyncHttpClient<'c> for TokenSender<'_> {
    type Error = HttpError;
    type Future = super::http::SendFuture<'c>;

    fn call(&'c self, request: oauth2::HttpRequest) -> Self::Future {
        Box::pin(self.send(request))
    }
}

/// The sender for one grant's token requests: the client's assertion where it has a key, the
/// account's DPoP proof where it has one.
pub(super) fn sender<'a>(
    http: &'a Http,
    p: &ProviderSpec,
    client: &ClientConfig,
    dpop: Option<&'a DpopKey>,
) -> Result<TokenSender<'a>, OAuthError> {
    Ok(TokenSender {
        http,
        dpop,
        client_key: client.key_for(p)?,
    })
}
