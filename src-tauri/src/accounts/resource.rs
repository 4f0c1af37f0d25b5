//! Connecting a protected API by its address (RFC 9728, RFC 8707): find its authorization
//! server from the API's own metadata, set up a provider entry bound to that API, and check
//! after sign-in that the API accepts the token. Each API is its own provider and account.

use super::{capitalize, Accounts};
use crate::errors::{ExitClass, UserError};
use crate::oauth::resource::{self, ResourceError};
use crate::provider::{self, ApiPreset, IdentitySource, ProviderSpec};
use crate::secret::Secret;
use crate::{oauth, vault::TokenRecord};

/// Whether the person agreed to sign in at the server an API names (F1).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Confirm {
    /// Not yet: when the server is another site, or one the person already uses, stop and
    /// ask (the error carries the server to confirm).
    #[default]
    Ask,
    /// The person agreed to this server (the window's confirmation names it).
    Server(String),
    /// `--yes`: agreed to whatever server the API names.
    Yes,
}

/// The origin (scheme, host, port) of a URL.
fn origin(u: &str) -> Option<String> {
    url::Url::parse(u)
        .ok()
        .map(|u| u.origin().ascii_serialization())
}

/// Why signing in at `issuer` for `resource` needs the person's yes: another site, or a
/// server whose accounts the person has (a built-in provider, a provider in use).
fn reason_to_ask(resource: &str, issuer: &str, known: &[String]) -> Option<&'static str> {
    let same = |a: &str, b: &str| a.trim_end_matches('/') == b.trim_end_matches('/');
    if known
        .iter()
        .any(|k| same(k, issuer) || origin(k) == origin(issuer))
    {
        return Some("known");
    }
    (origin(resource) != origin(issuer)).then_some("other_site")
}

/// Issuers and token endpoints of the built-in providers and of providers accounts use.
fn known_servers(idx: &crate::vault::index::Index) -> Vec<String> {
    let mut out = Vec::new();
    let mut add = |p: &ProviderSpec| {
        out.extend(p.issuer.clone());
        out.extend(p.token_url.clone());
    };
    for p in provider::presets() {
        add(&p);
    }
    for a in &idx.accounts {
        if let Some(p) = provider::find(&a.provider, &idx.providers) {
            add(&p);
        }
    }
    out
}

fn resource_error(e: ResourceError) -> UserError {
    let (code, fix, class) = match &e {
        ResourceError::NotHttps(_) => ("not_https", "Use the API's https:// address (plain http only for 127.0.0.1, ::1 or localhost).", ExitClass::Other),
        ResourceError::Open(_) => ("no_sign_in_needed", "This address needs no sign-in: call it without a token. If you meant its sign-in server, connect that address instead.", ExitClass::Other),
        ResourceError::NoMetadata(_) => ("no_resource_metadata", "Check the address: it should be the API itself (for example https://api.example.com/mcp). For a sign-in server, use `latchkey provider add ID --issuer URL`.", ExitClass::Other),
        ResourceError::WrongResource(..) => ("resource_mismatch", "The API's metadata names another address, so Latchkey won't use it. Check the address, or tell the API's operator.", ExitClass::Other),
        ResourceError::BadMetadata(_) => ("bad_resource_metadata", "The API's metadata is incomplete. Tell the API's operator.", ExitClass::Other),
        ResourceError::Private(..) => ("private_address", "Connect an API on the internet only when its documents point to the internet. If you run this API yourself, tell its operator (you) to publish public addresses.", ExitClass::Other),
        ResourceError::Network(..) => ("network", "Check your connection and the address, then try again.", ExitClass::Network),
    };
    UserError::new(
        code,
        crate::text::plain_text(&capitalize(&e.to_string()), 400),
        fix,
        class,
    )
}

impl Accounts {
    /// Sets up the provider entry for the API at `address`: its metadata must name it, its
    /// authorization server must be discoverable; nothing is stored otherwise. The same API
    /// again reuses its entry. Returns the provider id.
    ///
    /// An API whose sign-in server is another site, or a server the person already has
    /// accounts at, needs the person's yes first (F1): without it the error
    /// `confirm_sign_in_server` names both and carries the server to confirm.
    ///
    /// `surely_an_api`: the person said this is an API (`login --resource`), so an API that
    /// publishes no resource metadata may use its origin's server. "Another service…" takes
    /// sign-in servers too, whose own address must never be taken for an API.
    pub async fn add_resource_provider(
        &self,
        address: &str,
        metadata_url: Option<&str>,
        surely_an_api: bool,
        confirm: &Confirm,
    ) -> Result<String, UserError> {
        let http = &self.http()?;
        let meta = match resource::probe(http, address, metadata_url).await {
            Ok(m) => m,
            // Servers written for the 2025-03-26 MCP spec publish no resource metadata; their
            // origin is the authorization server. Used only when the origin really publishes
            // authorization-server metadata, with the same confirmation rules.
            Err(ResourceError::NoMetadata(r)) if surely_an_api => {
                let origin = url::Url::parse(&r)
                    .map(|u| u.origin().ascii_serialization())
                    .unwrap_or_default();
                if oauth::discover(http, &origin).await.is_err() {
                    return Err(resource_error(ResourceError::NoMetadata(r)));
                }
                tracing::info!("no resource metadata; the API's origin is its sign-in server");
                resource::ResourceMetadata {
                    resource: r,
                    authorization_servers: vec![origin],
                    scopes_supported: Vec::new(),
                    challenge_scopes: Vec::new(),
                }
            }
            Err(e) => return Err(resource_error(e)),
        };
        let issuer = meta.authorization_servers[0]
            .trim_end_matches('/')
            .to_string();
        crate::provider::check_endpoint(&issuer).map_err(|m| {
            resource_error(ResourceError::NotHttps(crate::text::plain_text(&m, 300)))
        })?;
        let idx = self.vault.index()?;
        // Connected before, at this same server: the person agreed then.
        let before = idx.providers.iter().any(|p| {
            p.resource.as_deref() == Some(meta.resource.as_str())
                && p.issuer.as_deref().map(|i| i.trim_end_matches('/')) == Some(issuer.as_str())
        });
        // Migration: the API now names another server than the one its account uses.
        let moved_from = idx
            .providers
            .iter()
            .find(|p| {
                p.resource.as_deref() == Some(meta.resource.as_str())
                    && p.issuer.as_deref().map(|i| i.trim_end_matches('/')) != Some(issuer.as_str())
            })
            .map(|p| (p.id.clone(), p.issuer.clone().unwrap_or_default()));
        let known = known_servers(&idx);
        let why = if moved_from.is_some() && !before {
            Some("moved")
        } else {
            reason_to_ask(&meta.resource, &issuer, &known).filter(|_| !before)
        };
        if let Some(why) = why {
            let agreed = match confirm {
                Confirm::Yes => true,
                Confirm::Server(s) => s.trim_end_matches('/') == issuer,
                Confirm::Ask => false,
            };
            if !agreed {
                let shown = crate::text::plain_text(&issuer, 300);
                let moved = moved_from
                    .as_ref()
                    .map(|(_, old)| format!("a new sign-in server for it (it used {}); your account there will be moved and its old sign-in revoked", crate::text::plain_text(old, 200)))
                    .unwrap_or_default();
                let which = match why {
                    "known" => "a server you already use (or one Latchkey knows), so the API would get a sign-in there",
                    "moved" => moved.as_str(),
                    _ => "another site the API chose",
                };
                return Err(UserError::new(
                    "confirm_sign_in_server",
                    format!(
                        "To connect {}, Latchkey would sign you in at {shown}, {which}.",
                        meta.resource
                    ),
                    format!("Continue only if you trust {shown} with this API. On the command line, add --yes to agree."),
                    ExitClass::Other,
                )
                .with_confirm(shown));
            }
        }
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
        for u in [
            &as_meta.authorization_endpoint,
            &as_meta.token_endpoint,
            &as_meta.registration_endpoint,
            &as_meta.revocation_endpoint,
            &as_meta.device_authorization_endpoint,
            &as_meta.introspection_endpoint,
        ]
        .into_iter()
        .flatten()
        {
            resource::check_followable(&meta.resource, u).map_err(resource_error)?;
        }
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
        // What the API's challenge asked for; the API's list when it named none; the
        // server's defaults when the API says nothing (F1: never wider than the API asked).
        let scopes = meta.scopes_to_ask();
        if !scopes.is_empty() {
            fresh.default_scopes = scopes;
        }
        let resource_id = meta.resource.clone();
        let at = issuer.clone();
        fresh.migrated_from = moved_from.map(|(old, _)| old);
        let id = self.vault.update_index(move |idx| {
            let same_server = |p: &&ProviderSpec| {
                p.resource.as_deref() == Some(resource_id.as_str())
                    && p.issuer.as_deref().map(|i| i.trim_end_matches('/')) == Some(at.as_str())
            };
            if let Some(p) = idx.providers.iter().find(same_server) {
                return p.id.clone();
            }
            let id = provider::id_for_resource(&resource_id, Some(&at), &idx.providers);
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
        confirm: &Confirm,
    ) -> Result<(String, Option<String>), UserError> {
        match self
            .add_resource_provider(address, None, false, confirm)
            .await
        {
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

    /// After any grant for a protected API: the token must be for that API (F1, F2, S27).
    /// Decided locally where possible, so the token goes nowhere new: a JWT's `aud` (or
    /// `resource`) claim, else the server's introspection answer (RFC 7662). Only when
    /// neither says is the token sent to the API itself, which must accept it. A token for
    /// anything else is revoked and nothing is saved. Returns the claims that decided (their
    /// `sub` tells people apart at the API).
    pub(super) async fn check_resource_accepts(
        &self,
        p: &ProviderSpec,
        client: &oauth::ClientConfig,
        rec: &TokenRecord,
    ) -> Result<Option<serde_json::Value>, UserError> {
        let Some(resource) = &p.resource else {
            return Ok(None);
        };
        let token: &Secret = &rec.access_token;
        let mut claims = super::jwt_claims(token.expose());
        let mut verdict = claims
            .as_ref()
            .map(|c| resource::audience_in(c, resource))
            .unwrap_or(resource::Audience::Unknown);
        if verdict == resource::Audience::Unknown {
            if let Some(answer) = oauth::introspect(&self.http()?, p, client, token).await {
                verdict = resource::audience_in(&answer, resource);
                claims = Some(answer);
            }
        }
        let refused = match verdict {
            resource::Audience::ThisApi => return Ok(claims),
            resource::Audience::Elsewhere(aud) => Some(aud),
            resource::Audience::Unknown => {
                // A DPoP-bound token is shown with its proof, or the API would refuse it for
                // that alone.
                let req = http::Request::builder()
                    .method("GET")
                    .uri(resource.as_str())
                    .header("accept", "application/json")
                    .body(Vec::new())
                    .map_err(|_| super::internal())?;
                let key = super::dpop_key_of(rec);
                let r = oauth::dpop::send_authorized(&self.http()?, req, token, key.as_ref())
                    .await
                    .map_err(|e| {
                        UserError::new(
                            "network",
                            format!("Could not reach {resource} to check the new token: {e}"),
                            "Check your connection, then sign in again.",
                            ExitClass::Network,
                        )
                    })?;
                (r.status().as_u16() == 401).then(String::new)
            }
        };
        let Some(aud) = refused else {
            return Ok(None);
        };
        // Not for this API: the server ignored `resource`. The fresh grant is revoked.
        let revoked = oauth::revoke(&self.http()?, p, client, rec).await;
        tracing::warn!(provider = %p.id, revoked = ?revoked, "a token not bound to its API was refused");
        let said = if aud.is_empty() {
            format!("{resource} refused the token its sign-in server just issued for it")
        } else {
            format!(
                "The token {} just issued for {resource} is for {aud} instead",
                p.name
            )
        };
        Err(UserError::new(
            "resource_ignored",
            format!("{said}; the server seems to ignore resource indicators (RFC 8707), so its tokens are not bound to this API."),
            "Nothing was saved, and the new tokens were revoked where the server allows. Tell the API's operator; until then, use a personal token if the API offers one.",
            ExitClass::Other,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// F1: the person is asked when the API's sign-in server is another site, or a server
    /// Latchkey knows (a built-in provider, one in use), even on the API's own site.
    #[test]
    fn another_site_or_a_known_server_needs_a_yes_s32() {
        let none: Vec<String> = Vec::new();
        assert_eq!(
            reason_to_ask(
                "https://api.example.com/mcp",
                "https://api.example.com",
                &none
            ),
            None
        );
        assert_eq!(
            reason_to_ask(
                "https://api.example.com/mcp",
                "https://login.other.com",
                &none
            ),
            Some("other_site")
        );
        assert_eq!(
            reason_to_ask(
                "https://api.example.com/mcp",
                "https://api.example.com:8443",
                &none
            ),
            Some("other_site")
        );
        assert_eq!(
            reason_to_ask(
                "http://api.example.com/mcp",
                "https://api.example.com",
                &none
            ),
            Some("other_site")
        );
        let known = known_servers(&crate::vault::index::Index::default());
        assert!(known.iter().any(|k| k.contains("github.com")), "{known:?}");
        assert_eq!(
            reason_to_ask(
                "https://evil.example/mcp",
                "https://github.com/login/oauth",
                &known
            ),
            Some("known")
        );
        let google = crate::provider::google().issuer.unwrap();
        assert_eq!(
            reason_to_ask("https://accounts.google.com/mcp", &google, &known),
            Some("known")
        );
    }
}
