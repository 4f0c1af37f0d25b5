//! The accounts service that the window, the tray, the refresher and the CLI all call: list,
//! sign-in, personal tokens, `fresh_token`, refresh, removal and test API calls. Each use case
//! has a module of its own; this one holds the service itself (the vault and the HTTP client
//! the modules borrow), the account view, and the plain-words errors they share.

mod api;
mod client;
pub mod consent;
mod details;
mod device;
mod freshness;
mod handout;
mod lookup;
mod machine;
mod password;
mod personal;
mod provider_setup;
mod removal;
mod resource;
mod save;
mod signin;

pub use api::ApiResponse;
pub use details::{jwt_claims, AccountDetails};
pub use handout::HandedToken;
pub use machine::offers_client_credentials;
pub use removal::RemovalReport;
pub use resource::Confirm;
pub use signin::{is_pending_in, LoginStart};

use crate::errors::{ExitClass, UserError};
use crate::oauth::http::Http;
use crate::oauth::OAuthError;
use crate::provider::{ProviderSpec, RedirectKind};
use crate::vault::index::{AccountEntry, AccountKind, AccountStatus, RefreshNote};
use crate::vault::{Vault, VaultError};
use serde::Serialize;
use std::sync::Arc;
use std::time::Duration;

/// How long a process waits for another one holding an account's lock.
const LOCK_WAIT: Duration = Duration::from_secs(30);

/// What the UI and `list --json` show about an account. Holds no secret (S22).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AccountView {
    /// Account id.
    pub id: String,
    /// Provider id.
    pub provider: String,
    /// Provider display name.
    pub provider_name: String,
    /// Handle or email.
    pub identity: Option<String>,
    /// The person's label.
    pub label: Option<String>,
    /// `valid`, `expired`, `needs_sign_in`, `offline`, `no_expiry` or `provider_changed`.
    pub status: String,
    /// Access-token expiry, unix seconds.
    pub expires_at: Option<i64>,
    /// Granted scopes.
    pub scopes: Vec<String>,
    /// `oauth`, `personal_token` or `client_credentials`.
    /// Its tokens are bound to a key (DPoP, RFC 9449): a token alone does not work.
    pub dpop: bool,
    pub kind: AccountKind,
    /// When the last refresh ran and how it went.
    pub last_refresh: Option<RefreshNote>,
    /// The API the tokens are bound to, for accounts connected by an API's address.
    pub resource: Option<String>,
}

impl AccountView {
    /// Whether the person must act: signed out, expired, or its provider changed since
    /// sign-in (its tokens go nowhere). The tray's badge counts these.
    pub fn needs_attention(&self) -> bool {
        matches!(
            self.status.as_str(),
            "needs_sign_in" | "expired" | "provider_changed"
        )
    }
}

/// Derives the status word from an index entry at time `now`.
pub fn status_word(a: &AccountEntry, now: i64) -> &'static str {
    match a.status {
        AccountStatus::NeedsSignIn => "needs_sign_in",
        AccountStatus::Offline => "offline",
        AccountStatus::Valid => match a.expires_at {
            None => "no_expiry",
            Some(t) if t <= now && a.kind == AccountKind::PersonalToken => "expired",
            Some(_) => "valid",
        },
    }
}

/// True when the account's provider entry no longer matches where its tokens were allowed
/// to go at sign-in (S24): then nothing is sent, and the account asks for sign-in.
pub fn binding_broken(a: &AccountEntry, p: Option<&ProviderSpec>) -> bool {
    match (&a.binding, p) {
        (Some(bound), Some(p)) => *bound != p.destinations(),
        (Some(_), None) => true,
        (None, _) => false,
    }
}

/// The window's and `list`'s view of an account, with its provider entry (`p`, looked up by
/// the caller: `list` looks each provider up once, not once per account).
fn view(a: &AccountEntry, p: Option<&ProviderSpec>, now: i64) -> AccountView {
    let status = if binding_broken(a, p) {
        "provider_changed"
    } else {
        status_word(a, now)
    };
    AccountView {
        id: a.id.clone(),
        provider: a.provider.clone(),
        resource: p.and_then(|p| p.resource.clone()),
        dpop: a.kind != AccountKind::PersonalToken
            && p.is_some_and(|p| {
                p.dpop_required || p.dpop_algs.iter().any(|x| x == crate::oauth::dpop::ALG)
            }),
        provider_name: p.map_or_else(|| a.provider.clone(), |p| p.name.clone()),
        identity: a.identity.clone(),
        label: a.label.clone(),
        status: status.into(),
        expires_at: a.expires_at,
        scopes: a.scopes.clone(),
        kind: a.kind,
        last_refresh: a.last_refresh.clone(),
    }
}

/// Options for starting a sign-in.
#[derive(Debug, Clone, Default)]
pub struct LoginOptions {
    /// Use this client id instead of the provider's or a registered one.
    pub client_id: Option<String>,
    /// Scopes; the provider's defaults when empty.
    pub scopes: Vec<String>,
    /// Label for the account.
    pub label: Option<String>,
    /// Redirect kind; the provider's preference when `None`.
    pub redirect: Option<RedirectKind>,
    /// Account to sign in again.
    pub reauth_of: Option<String>,
}

/// The scopes a sign-in asks for: the person's, or the provider's defaults.
fn requested_scopes(p: &ProviderSpec, opts: &LoginOptions) -> Vec<String> {
    if opts.scopes.is_empty() {
        p.default_scopes.clone()
    } else {
        opts.scopes.clone()
    }
}

impl Accounts {
    /// The scopes a sign-in asks for. Signing in again for more (a step-up: "Sign in again",
    /// or an API's only account with `--scope`) keeps the scopes the account was granted and
    /// adds the new ones, so more access never costs what it had.
    fn scopes_for_sign_in(&self, p: &ProviderSpec, opts: &LoginOptions) -> Vec<String> {
        let asked = requested_scopes(p, opts);
        if opts.scopes.is_empty() {
            return asked;
        }
        let Ok(idx) = self.vault.index() else {
            return asked;
        };
        let mine: Vec<&AccountEntry> = idx
            .accounts
            .iter()
            .filter(|a| a.provider == p.id && a.kind == crate::vault::index::AccountKind::Oauth)
            .collect();
        let before = match (&opts.reauth_of, mine.as_slice()) {
            (Some(id), _) => mine.iter().find(|a| &a.id == id).copied(),
            (None, [only]) if p.resource.is_some() => Some(*only),
            _ => None,
        };
        match before {
            Some(a) => scope_union(&a.scopes, &asked),
            None => asked,
        }
    }
}

fn internal() -> UserError {
    UserError::new(
        "internal",
        "Latchkey hit an internal error.",
        "Try again.",
        ExitClass::Other,
    )
}

fn oauth_user_error(e: OAuthError, provider_id: &str) -> UserError {
    let class = if e.needs_sign_in() {
        ExitClass::NeedsSignIn
    } else if matches!(
        e,
        OAuthError::Network { .. } | OAuthError::BadResponse { .. } | OAuthError::Provider { .. }
    ) {
        ExitClass::Network
    } else {
        ExitClass::Other
    };
    let mut message = crate::text::plain_text(&capitalize(&e.to_string()), 400);
    if let OAuthError::Provider {
        description: Some(d),
        ..
    } = &e
    {
        message = format!("{message} ({d})");
    }
    let fix = if e.needs_sign_in() {
        format!("{} Run: latchkey login {provider_id}", e.fix())
    } else {
        e.fix()
    };
    UserError::new(&e.code(), message, fix, class)
}

use crate::errors::capitalize;

fn needs_sign_in(id: &str, provider_id: &str) -> UserError {
    UserError::new(
        "needs_sign_in",
        format!("Account {id} needs you to sign in again."),
        format!("Run: latchkey login {provider_id} (or click \"Sign in again\" in the app)"),
        ExitClass::NeedsSignIn,
    )
}

/// [`needs_sign_in`] in words that fit the account: a machine account has no person to sign
/// in; its client secret was refused, and adding it again with the current one is the fix.
fn needs_sign_in_for(a: &AccountEntry) -> UserError {
    if a.kind != AccountKind::ClientCredentials {
        return needs_sign_in(&a.id, &a.provider);
    }
    let client = a.client_id.as_deref().unwrap_or("CLIENT_ID");
    UserError::new(
        "needs_sign_in",
        format!("Machine account {} was refused by its provider: its client secret may have been changed or revoked.", a.id),
        format!("Add it again with the current secret: latchkey login {} --client-credentials --client-id {client}", a.provider),
        ExitClass::NeedsSignIn,
    )
}

fn unknown_account(id: &str) -> UserError {
    UserError::new(
        "unknown_account",
        format!("There is no account {id:?}."),
        "Run `latchkey list` to see your accounts.",
        ExitClass::Other,
    )
}

fn provider_changed(id: &str, p: &str) -> UserError {
    UserError::new(
        "provider_changed",
        format!("The settings of provider {p} changed after account {id} signed in, so Latchkey sends its tokens nowhere."),
        format!("If you changed them, sign in again: latchkey login {p} (or \"Sign in again\" in the app). If you didn't, remove the provider you added last and check `latchkey providers`."),
        ExitClass::NeedsSignIn,
    )
}

fn new_account_id(provider_id: &str) -> Result<String, UserError> {
    let b: [u8; 3] = crate::secret::random_bytes()?;
    Ok(format!(
        "{provider_id}-{:02x}{:02x}{:02x}",
        b[0], b[1], b[2]
    ))
}

/// The service.
#[derive(Clone)]
pub struct Accounts {
    vault: Arc<Vault>,
    http: Arc<std::sync::Mutex<Option<(crate::network_settings::Network, Http)>>>,
}

impl Accounts {
    /// Wraps a vault.
    pub fn new(vault: Arc<Vault>) -> Self {
        Accounts {
            vault,
            http: Arc::new(std::sync::Mutex::new(None)),
        }
    }

    /// Opens the vault in the data dir with the OS credential store.
    pub fn open() -> Result<Self, UserError> {
        Ok(Accounts::new(Arc::new(Vault::open()?)))
    }

    /// The vault underneath.
    pub fn vault(&self) -> &Arc<Vault> {
        &self.vault
    }

    /// The HTTP client, built on first use (the `token` fast path never builds it) and again
    /// when the network settings change (in the window or by `latchkey config`, even while
    /// the other program runs): the settings are read on every use, which costs an index read
    /// next to a network request.
    pub fn http(&self) -> Result<Http, UserError> {
        let net = self.vault.index()?.settings.network;
        if let Some((_, h)) = self
            .http
            .lock()
            .ok()
            .and_then(|g| g.clone())
            .filter(|(was, _)| *was == net)
        {
            return Ok(h);
        }
        let h = Http::with_network(&net).map_err(|m| {
            UserError::new(
                "http_setup",
                crate::errors::capitalize(&m),
                "Check Settings → Network (latchkey config ca-file / proxy) and LATCHKEY_CA_BUNDLE.",
                ExitClass::Other,
            )
        })?;
        if let Ok(mut g) = self.http.lock() {
            *g = Some((net, h.clone()));
        }
        Ok(h)
    }

    /// Runs a vault operation on a blocking thread.
    async fn blocking<R: Send + 'static>(
        &self,
        f: impl FnOnce(&Vault) -> Result<R, VaultError> + Send + 'static,
    ) -> Result<R, UserError> {
        let v = self.vault.clone();
        tokio::task::spawn_blocking(move || f(&v))
            .await
            .map_err(|_| internal())?
            .map_err(UserError::from)
    }
}

/// The scopes already granted followed by the new ones, each once: what a step-up asks for,
/// so signing in for more never drops what the account had.
pub(crate) fn scope_union(granted: &[String], more: &[String]) -> Vec<String> {
    let mut all: Vec<String> = Vec::new();
    for s in granted.iter().chain(more) {
        if !all.contains(s) {
            all.push(s.clone());
        }
    }
    all
}

/// The DPoP key of a stored record, when its token is DPoP-bound: handed to `oauth` as a value.
pub(crate) fn dpop_key_of(rec: &crate::vault::TokenRecord) -> Option<crate::oauth::dpop::DpopKey> {
    if !rec.is_dpop() {
        return None;
    }
    rec.dpop_key
        .as_ref()
        .and_then(|s| crate::oauth::dpop::DpopKey::from_secret(s).ok())
}
