//! Connecting a protected API by its address (RFC 9728, RFC 8707): find its authorization
//! server from the API's own metadata, set up a provider entry bound to that API, and check
//! after sign-in that the API accepts the token. Each API is its own provider and account.

use super::{capitalize, Accounts};
use crate::errors::{ExitClass, UserError};
use crate::oauth::resource::{self, ResourceError};
use crate::provider::{self, ApiPreset, IdentitySource, ProviderSpec};
use crate::secret::Secret;
use crate::{oauth, vault::TokenRecord};

fn resource_error(e: ResourceError) -> UserError {
    let (code, fix, class) = match &e {
        ResourceError::NotHttps(_) => ("not_https", "Use the API's https:// address (plain http only for 127.0.0.1).", ExitClass::Other),
        ResourceError::Open(_) => ("no_sign_in_needed", "This address needs no sign-in: call it without a token. If you meant its sign-in server, connect that address instead.", ExitClass::Other),
        ResourceError::NoMetadata(_) => ("no_resource_metadata", "Check the address: it should be the API itself (for example https://api.example.com/mcp). For a sign-in server, use `latchkey provider add ID --issuer URL`.", ExitClass::Other),
        ResourceError::WrongResource(..) => ("resource_mismatch", "The API's metadata names another address, so Latchkey won't use it. Check the address, or tell the API's operator.", ExitClass::Other),
        ResourceError::BadMetadata(_) => ("bad_resource_metadata", "The API's metadata is incomplete. Tell the API's operator.", ExitClass::Other),
        ResourceError::Network(..) => ("network", "Check your connection and the address, then try again.", ExitClass::Network),
    };
    UserError::new(
        code,
        oauth::plain_text(&capitalize(&e.to_string()), 400),
        fix,
        class,
    )
}

impl Accounts {
    /// Sets up the provider entry for the API at `address`: its metadata must name it, its
    /// authorization server must be discoverable; nothing is stored otherwise. The same API
    /// again reuses its entry. Returns the provider id.
    pub async fn add_resource_provider(&self, address: &str) -> Result<String, UserError> {
        let http = self.http()?;
        let meta = resource::probe(http, address)
            .await
            .map_err(resource_error)?;
        let issuer = meta.authorization_servers[0]
            .trim_end_matches('/')
            .to_string();
        let as_meta = oauth::discover(http, &issuer).await.map_err(|e| {
            UserError::new(
                "resource_server_unusable",
                format!(
                    "{} is protected by {issuer}, but Latchkey couldn't read its sign-in settings: {e}",
                    meta.resource
                ),
                "Try again later; if it keeps failing, tell the API's operator.",
                ExitClass::Network,
            )
        })?;
        let name = url::Url::parse(&meta.resource)
            .map(|u| {
                format!(
                    "{}{}",
                    u.host_str().unwrap_or(""),
                    u.path().trim_end_matches('/')
                )
            })
            .unwrap_or_else(|_| meta.resource.clone());
        let mut fresh = ProviderSpec::new("pending", &name);
        provider::apply_metadata(&mut fresh, &as_meta).map_err(|m| {
            UserError::new(
                "bad_provider",
                m,
                "Tell the API's operator.",
                ExitClass::Other,
            )
        })?;
        // The token is bound to the API and goes only there (S11, S27): no userinfo call with
        // it, no other API base.
        fresh.resource = Some(meta.resource.clone());
        fresh.api_bases = vec![meta.resource.clone()];
        fresh.identity = IdentitySource::None;
        fresh.presets = vec![ApiPreset {
            label: "Call the API".into(),
            method: "GET".into(),
            path: meta.resource.clone(),
        }];
        // The API's own scopes first; the server's list when the API names none.
        if !meta.scopes_supported.is_empty() {
            fresh.default_scopes = meta.scopes_supported.clone();
        }
        let resource_id = meta.resource.clone();
        let id = self.vault.update_index(move |idx| {
            if let Some(p) = idx
                .providers
                .iter()
                .find(|p| p.resource.as_deref() == Some(resource_id.as_str()))
            {
                return p.id.clone();
            }
            let id = provider::id_for_issuer(&resource_id, &idx.providers);
            fresh.id = id.clone();
            idx.providers.push(fresh);
            id
        })?;
        tracing::info!(provider = %id, "a protected API was connected by its address");
        Ok(id)
    }

    /// "Another service…": an API's address (RFC 9728) or a sign-in server's (issuer). The
    /// API reading is tried first; an address that is not a protected API is discovered as
    /// an issuer. Returns the provider id and the client id to name on this sign-in.
    pub async fn add_provider_by_address(
        &self,
        address: &str,
        client_id: Option<&str>,
    ) -> Result<(String, Option<String>), UserError> {
        match self.add_resource_provider(address).await {
            Ok(id) => Ok((
                id,
                client_id
                    .map(str::to_string)
                    .filter(|c| !c.trim().is_empty()),
            )),
            Err(e) if e.code == "no_resource_metadata" || e.code == "no_sign_in_needed" => self
                .add_discovered_provider(address, client_id)
                .await
                .map_err(|d| if e.code == "no_sign_in_needed" { e } else { d }),
            Err(e) => Err(e),
        }
    }

    /// After a sign-in for a protected API: the API must accept the token its server issued.
    /// A server that ignores `resource` hands out a token for someone else; then nothing is
    /// saved and the person hears why.
    pub(super) async fn check_resource_accepts(
        &self,
        p: &ProviderSpec,
        rec: &TokenRecord,
    ) -> Result<(), UserError> {
        let Some(resource) = &p.resource else {
            return Ok(());
        };
        let token: &Secret = &rec.access_token;
        let r = self
            .http()?
            .get(resource, Some(token.expose()))
            .await
            .map_err(|e| {
                UserError::new(
                    "network",
                    format!("Could not reach {resource} to check the new token: {e}"),
                    "Check your connection, then sign in again.",
                    ExitClass::Network,
                )
            })?;
        if r.status().as_u16() == 401 {
            return Err(UserError::new(
                "resource_ignored",
                format!("{resource} refused the token its sign-in server just issued for it; the server seems to ignore resource indicators (RFC 8707), so its tokens are not bound to this API."),
                "Nothing was saved. Tell the API's operator; until then, use a personal token if the API offers one.",
                ExitClass::Other,
            ));
        }
        Ok(())
    }
}
