//! `latchkey providers` and `latchkey provider add|remove`. A provider in use is never
//! retargeted or removed (S24).

use super::output::{json_out, println_out, read_stdin_secret};
use super::runtime::runtime;
use crate::accounts::Accounts;
use crate::errors::{ExitClass, UserError};
use crate::provider::{self, ClientAuth, ProviderSpec, RedirectKind};
use clap::{Args, Subcommand, ValueEnum};

#[derive(Subcommand, Debug)]
pub(super) enum ProviderCmd {
    /// Add a provider from an issuer URL (discovery) or from endpoint URLs.
    Add(Box<ProviderAdd>),
    /// Remove one of your providers.
    Remove {
        /// Provider id.
        id: String,
    },
}

#[derive(Args, Debug)]
pub(super) struct ProviderAdd {
    /// Id you will use in commands.
    id: String,
    /// Issuer URL; endpoints are discovered (RFC 8414, then OpenID Connect).
    #[arg(long, conflicts_with_all = ["auth_url", "token_url"], required_unless_present_all = ["auth_url", "token_url"])]
    issuer: Option<String>,
    /// Authorization endpoint (without --issuer).
    #[arg(long, requires = "token_url")]
    auth_url: Option<String>,
    /// Token endpoint (without --issuer).
    #[arg(long, requires = "auth_url")]
    token_url: Option<String>,
    /// Device authorization endpoint (RFC 8628), for servers whose metadata lists the device
    /// grant but not where to start it. Enables `latchkey login ID --device`.
    #[arg(long)]
    device_url: Option<String>,
    /// Your OAuth app's client id.
    #[arg(long)]
    client_id: Option<String>,
    /// Read your OAuth app's client secret from stdin (kept in the credential store).
    #[arg(long, requires = "client_id")]
    client_secret_stdin: bool,
    /// With --client-id: the client authenticates with a key pair instead of a secret
    /// (private_key_jwt, RFC 7523). Latchkey makes the key (or keeps the one it has), keeps it
    /// in the credential store and prints the public JWK to register at the server.
    #[arg(long, requires = "client_id", conflicts_with = "client_secret_stdin")]
    private_key_jwt: bool,
    /// With --private-key-jwt: also write the public key as a JWKS file here.
    #[arg(long, value_name = "PATH", requires = "private_key_jwt")]
    jwks_file: Option<std::path::PathBuf>,
    /// With --private-key-jwt: the audience of the client's assertions. The issuer by default
    /// (FAPI 2.0, OpenID providers); some servers (Okta) want their token endpoint.
    #[arg(long, value_enum, requires = "private_key_jwt")]
    assertion_audience: Option<AudienceArg>,
    /// Default scope (repeatable).
    #[arg(long = "scope")]
    scopes: Vec<String>,
    /// Base URL where test calls and `latchkey api` may send this provider's tokens.
    #[arg(long = "api-base")]
    api_bases: Vec<String>,
    /// Redirect kind.
    #[arg(long, value_enum)]
    redirect: Option<RedirectArg>,
    /// Display name.
    #[arg(long)]
    name: Option<String>,
    /// INSECURE: allow `latchkey login ID --username U` to send your password to this
    /// provider (the resource-owner password grant, which RFC 9700 forbids). Only for old
    /// servers that offer nothing else.
    #[arg(long)]
    insecure_password_grant: bool,
    /// Require DPoP (RFC 9449): every token is bound to a key of the account's, kept in the
    /// credential store; a server that doesn't offer DPoP, or answers with a bearer token, is
    /// an error. Without it, DPoP is used wherever the server lists ES256.
    #[arg(long)]
    dpop: bool,
}

#[derive(ValueEnum, Clone, Copy, Debug)]
pub(super) enum AudienceArg {
    Issuer,
    TokenEndpoint,
}

#[derive(ValueEnum, Clone, Copy, Debug)]
pub(super) enum RedirectArg {
    Loopback,
    Scheme,
}

pub(super) fn providers(json: bool) -> Result<i32, UserError> {
    let accounts = Accounts::open()?;
    let user = accounts.vault().index()?.providers;
    let all = accounts.providers()?;
    if json {
        let v: Vec<_> = all
            .iter()
            .map(|p| {
                serde_json::json!({
                    "id": p.id, "name": p.name, "issuer": p.issuer, "builtin": !user.iter().any(|u| u.id == p.id),
                    "personal_tokens": p.supports_pat, "api_bases": p.api_bases,
                })
            })
            .collect();
        json_out(&v)?;
    } else {
        for p in &all {
            let origin = if user.iter().any(|u| u.id == p.id) {
                "yours"
            } else {
                "built-in"
            };
            println_out(&format!("{:<12} {:<12} {}", p.id, p.name, origin))?;
        }
    }
    Ok(0)
}

pub(super) fn provider_add(a: ProviderAdd) -> Result<i32, UserError> {
    let usage =
        |m: String, fix: &str| UserError::new("bad_provider", m, fix.to_string(), ExitClass::Other);
    if !a
        .id
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        || a.id.is_empty()
    {
        return Err(usage(
            format!("{:?} can't be a provider id.", a.id),
            "Use letters, digits, - and _ only.",
        ));
    }
    if provider::presets().iter().any(|p| p.id == a.id) {
        return Err(usage(
            format!("{} is a built-in provider.", a.id),
            "Choose another id.",
        ));
    }
    let secret = if a.client_secret_stdin {
        Some(read_stdin_secret("client secret")?)
    } else {
        None
    };
    let accounts = Accounts::open()?;
    let mut p = ProviderSpec::new(&a.id, a.name.as_deref().unwrap_or(&a.id));
    p.authorize_url = a.auth_url.clone();
    p.token_url = a.token_url.clone();
    p.api_bases = a.api_bases.clone();
    p.default_scopes = a.scopes.clone();
    p.client_id = a.client_id.clone();
    p.client_auth = if a.private_key_jwt {
        ClientAuth::PrivateKeyJwt
    } else if secret.is_some() {
        ClientAuth::ClientSecretBasic
    } else {
        ClientAuth::None
    };
    if let Some(AudienceArg::TokenEndpoint) = a.assertion_audience {
        p.assertion_audience = provider::AssertionAudience::TokenEndpoint;
    }
    p.redirect = match a.redirect {
        Some(RedirectArg::Scheme) => RedirectKind::Scheme,
        _ => RedirectKind::Loopback,
    };
    p.insecure_grants = a.insecure_password_grant;
    if p.insecure_grants {
        eprintln!("Warning: password sign-in is insecure (RFC 9700 §2.4): Latchkey, not {}, sees the password. It is on only for this provider.", p.name);
    }
    for u in p
        .authorize_url
        .iter()
        .chain(p.token_url.iter())
        .chain(p.api_bases.iter())
        .chain(a.device_url.iter())
    {
        provider::check_endpoint(u).map_err(|m| {
            usage(
                m,
                "Use https:// URLs (plain http only for 127.0.0.1, ::1 or localhost).",
            )
        })?;
    }
    if let Some(issuer) = &a.issuer {
        let net = accounts.vault().index()?.settings.network;
        let http = crate::oauth::http::Http::with_network(&net).map_err(|m| {
            usage(
                m,
                "Check Settings → Network (latchkey config ca-file / proxy) and LATCHKEY_CA_BUNDLE.",
            )
        })?;
        let meta = runtime()?
            .block_on(crate::oauth::discover(&http, issuer))
            .map_err(|e| {
                UserError::new(
                    &e.code(),
                    format!("Could not discover {issuer}: {e}"),
                    e.fix(),
                    ExitClass::Network,
                )
            })?;
        provider::apply_metadata(&mut p, &meta).map_err(|m| usage(m, "Check the issuer URL."))?;
        if p.api_bases.is_empty() {
            if let Some(u) = &p.userinfo_url {
                p.api_bases.push(u.clone());
            }
        }
    }
    if let Some(d) = &a.device_url {
        p.device_url = Some(d.clone());
    }
    p.dpop_required = a.dpop;
    // A provider set to require DPoP whose server doesn't offer it can't sign anyone in: say
    // so now, not after the browser.
    crate::oauth::dpop_key_for(&p).map_err(|e| usage(e.to_string(), &e.fix()))?;
    if accounts_using(&accounts.vault().index()?, &p.id).is_empty() {
        if let (Some(s), Some(client_id)) = (&secret, &p.client_id) {
            accounts
                .vault()
                .put_secret(&crate::vault::client_secret_key(&p.id, client_id), s)?;
        }
    }
    let id = p.id.clone();
    // S24: a provider that accounts use is never retargeted, as `provider remove` refuses.
    let new_client = p.client_id.clone();
    let (in_use, old_client, old_reg) = accounts.vault().update_index(|idx| {
        let users = accounts_using(idx, &p.id);
        let mut old_client = None;
        let mut old_reg = None;
        if users.is_empty() {
            // A replaced entry takes its registration and client secret with it: the new
            // settings start clean rather than sign in with the old server's client.
            old_client = idx
                .providers
                .iter()
                .find(|x| x.id == p.id)
                .map(|x| x.client_id.clone());
            old_reg = idx.registrations.remove(&p.id);
            idx.providers.retain(|x| x.id != p.id);
            idx.providers.push(p);
        }
        (users, old_client, old_reg)
    })?;
    if let Some(reg) = old_reg {
        accounts
            .vault()
            .delete_secret(&crate::vault::client_secret_key(&id, &reg.client_id))?;
    }
    if let Some(old) = old_client {
        let v = accounts.vault();
        v.delete_secret(&crate::vault::legacy_client_secret_key(&id))?;
        // The same client keeps its key when added again with --private-key-jwt.
        let kept = secret.is_some() || a.private_key_jwt;
        if let Some(old) = old.filter(|o| !kept || new_client.as_ref() != Some(o)) {
            v.delete_secret(&crate::vault::client_secret_key(&id, &old))?;
        }
    }
    if !in_use.is_empty() {
        return Err(UserError::new(
            "provider_in_use",
            format!(
                "Provider {id} is used by {}: {}. Changing it would send their tokens to the new settings.",
                if in_use.len() == 1 { "an account" } else { "accounts" },
                in_use.join(", ")
            ),
            format!(
                "Add it under another id (latchkey provider add {id}-2 …), or remove the accounts first: {}",
                in_use
                    .iter()
                    .map(|a| format!("latchkey logout {a}"))
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
            ExitClass::Other,
        ));
    }
    if let (true, Some(client_id)) = (a.private_key_jwt, &new_client) {
        let (key, new) = runtime()?.block_on(accounts.client_key(&id, client_id))?;
        let name = a.name.as_deref().unwrap_or(&id);
        if !new {
            eprintln!("Client {client_id} keeps the key it has:");
        }
        show_client_key(&key, name, client_id, a.jwks_file.as_deref())?;
    }
    eprintln!("Added provider {id}. Sign in with: latchkey login {id}");
    Ok(0)
}

/// Prints a client's public key (stdout, as a JWK) and where to register it; writes it as a
/// JWKS file on request. The private half never leaves the credential store (S38).
pub(super) fn show_client_key(
    key: &crate::oauth::assertion::ClientKey,
    provider_name: &str,
    client_id: &str,
    jwks_file: Option<&std::path::Path>,
) -> Result<(), UserError> {
    if let Some(path) = jwks_file {
        let text = serde_json::to_string_pretty(&key.jwks()).unwrap_or_default();
        std::fs::write(path, format!("{text}\n")).map_err(|e| {
            UserError::new(
                "jwks_file",
                format!("Could not write {}: {e}.", path.display()),
                "Choose a folder you can write to.",
                ExitClass::Other,
            )
        })?;
    }
    eprintln!(
        "Register this public key (key id {}) for client {client_id} at {provider_name}{}:",
        key.kid(),
        jwks_file
            .map(|p| format!(", as its JWK or the JWKS file {}", p.display()))
            .unwrap_or_default()
    );
    println_out(&serde_json::to_string_pretty(&key.public_jwk()).unwrap_or_default())?;
    eprintln!("The private key stays in this computer's credential store.");
    Ok(())
}

/// The accounts that use a provider.
pub(super) fn accounts_using(idx: &crate::vault::index::Index, provider: &str) -> Vec<String> {
    idx.accounts
        .iter()
        .filter(|a| a.provider == provider)
        .map(|a| a.id.clone())
        .collect()
}

pub(super) fn provider_remove(id: &str) -> Result<i32, UserError> {
    let accounts = Accounts::open()?;
    let idx = accounts.vault().index()?;
    if !idx.providers.iter().any(|p| p.id == id) {
        return Err(UserError::new(
            "unknown_provider",
            format!("{id} is not one of your providers."),
            "Run `latchkey providers`; built-in providers can't be removed.",
            ExitClass::Other,
        ));
    }
    if let Some(a) = idx.accounts.iter().find(|a| a.provider == id) {
        return Err(UserError::new(
            "provider_in_use",
            format!("Account {} still uses {id}.", a.id),
            format!("Remove it first: latchkey logout {}", a.id),
            ExitClass::Other,
        ));
    }
    let own_client = idx
        .providers
        .iter()
        .find(|p| p.id == id)
        .and_then(|p| p.client_id.clone());
    if let Some(client_id) = own_client {
        accounts
            .vault()
            .delete_secret(&crate::vault::client_secret_key(id, &client_id))?;
    }
    accounts
        .vault()
        .delete_secret(&crate::vault::legacy_client_secret_key(id))?;
    let reg = accounts.vault().update_index(|idx| {
        idx.providers.retain(|p| p.id != id);
        idx.registrations.remove(id)
    })?;
    if let Some(reg) = reg {
        accounts
            .vault()
            .delete_secret(&crate::vault::client_secret_key(id, &reg.client_id))?;
    }
    eprintln!("Removed provider {id}.");
    Ok(0)
}
