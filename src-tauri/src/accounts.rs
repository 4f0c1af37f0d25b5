//! The accounts service that the window, the tray, the refresher and the CLI all call: list,
//! sign-in, personal tokens, `fresh_token`, refresh, removal and test API calls.

use crate::errors::{ExitClass, UserError};
use crate::oauth::http::{Http, HttpError};
use crate::oauth::loopback::Loopback;
use crate::oauth::{self, ClientConfig, OAuthError, RefreshOutcome, Revocation, Transaction};
use crate::provider::{self, ClientAuth, IdentitySource, ProviderSpec, RedirectKind};
use crate::secret::Secret;
use crate::vault::index::{
    AccountEntry, AccountKind, AccountStatus, ClientRegistration, RefreshNote,
};
use crate::vault::{self, TokenRecord, Vault, VaultError};
use serde::Serialize;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

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
    pub kind: AccountKind,
    /// When the last refresh ran and how it went.
    pub last_refresh: Option<RefreshNote>,
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

fn view(a: &AccountEntry, providers: &[ProviderSpec], now: i64) -> AccountView {
    let p = provider::find(&a.provider, providers);
    let status = if binding_broken(a, p.as_ref()) {
        "provider_changed"
    } else {
        status_word(a, now)
    };
    AccountView {
        id: a.id.clone(),
        provider: a.provider.clone(),
        provider_name: p.map_or_else(|| a.provider.clone(), |p| p.name),
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

/// A started sign-in.
pub struct LoginStart {
    /// Non-secret handle of the transaction.
    pub handle: String,
    /// Provider display name.
    pub provider_name: String,
    /// The URL to open in the browser (secret: it carries state and challenge).
    pub authorize_url: Secret,
    /// The listener when the redirect is loopback; the caller serves it.
    pub loopback: Option<Loopback>,
    /// When the transaction expires, unix seconds.
    pub expires: i64,
}

/// What removing an account did (S17).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct RemovalReport {
    /// Revocation at the provider.
    pub revocation: Revocation,
    /// Local credentials wiped.
    pub wiped: bool,
    /// One sentence for the person.
    pub summary: String,
}

/// The non-secret facts about an account being saved.
struct NewAccount {
    identity: Option<String>,
    label: Option<String>,
    reauth_of: Option<String>,
    kind: AccountKind,
    client_id: Option<String>,
}

/// A test API call's result.
#[derive(Debug, Clone, Serialize)]
pub struct ApiResponse {
    /// HTTP status.
    pub status: u16,
    /// Wall time in milliseconds.
    pub millis: u64,
    /// Response headers (no request headers, so no token).
    pub headers: Vec<(String, String)>,
    /// Body as text (lossy UTF-8).
    pub body: String,
    /// Whether a refresh-and-retry happened after a 401 (S16).
    pub retried_after_refresh: bool,
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
    let mut message = crate::oauth::plain_text(&capitalize(&e.to_string()), 400);
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

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
        .unwrap_or_default()
}

fn needs_sign_in(id: &str, provider_id: &str) -> UserError {
    UserError::new(
        "needs_sign_in",
        format!("Account {id} needs you to sign in again."),
        format!("Run: latchkey login {provider_id} (or click \"Sign in again\" in the app)"),
        ExitClass::NeedsSignIn,
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

fn new_account_id(provider_id: &str) -> String {
    use rand::RngCore;
    let mut b = [0u8; 3];
    rand::rng().fill_bytes(&mut b);
    format!("{provider_id}-{:02x}{:02x}{:02x}", b[0], b[1], b[2])
}

/// True when `state` belongs to a sign-in listed as waiting in `idx` and not yet expired.
pub fn is_pending_in(idx: &crate::vault::index::Index, state: &str) -> bool {
    let handle = oauth::handle_for_state(state);
    let now = crate::now();
    idx.pending
        .iter()
        .any(|p| p.handle == handle && p.expires > now)
}

/// The service.
#[derive(Clone)]
pub struct Accounts {
    vault: Arc<Vault>,
    http: Arc<OnceLock<Http>>,
}

impl Accounts {
    /// Wraps a vault.
    pub fn new(vault: Arc<Vault>) -> Self {
        Accounts {
            vault,
            http: Arc::new(OnceLock::new()),
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

    /// The HTTP client, built on first use (the `token` fast path never builds it).
    fn http(&self) -> Result<&Http, UserError> {
        if let Some(h) = self.http.get() {
            return Ok(h);
        }
        let h = Http::new().map_err(|m| {
            UserError::new(
                "http_setup",
                m,
                "Check LATCHKEY_CA_BUNDLE and your proxy settings.",
                ExitClass::Other,
            )
        })?;
        Ok(self.http.get_or_init(|| h))
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

    /// All accounts, oldest first.
    pub fn list(&self) -> Result<Vec<AccountView>, UserError> {
        let idx = self.vault.index()?;
        let now = crate::now();
        Ok(idx
            .accounts
            .iter()
            .map(|a| view(a, &idx.providers, now))
            .collect())
    }

    /// Built-in providers followed by the person's own.
    pub fn providers(&self) -> Result<Vec<ProviderSpec>, UserError> {
        let idx = self.vault.index()?;
        let mut all = provider::presets();
        all.retain(|p| !idx.providers.iter().any(|u| u.id == p.id));
        all.extend(idx.providers);
        Ok(all)
    }

    /// One provider by id, with a fix naming the available ones.
    pub fn provider(&self, id: &str) -> Result<ProviderSpec, UserError> {
        let idx = self.vault.index()?;
        provider::find(id, &idx.providers).ok_or_else(|| {
            UserError::new(
                "unknown_provider",
                format!("There is no provider called {id:?}."),
                "Run `latchkey providers` to see them, or add one with `latchkey provider add`.",
                ExitClass::Other,
            )
        })
    }

    /// The account a sign-in may replace ("Sign in again"): only one of the same provider and
    /// kind (S24), whatever the window asked for.
    fn replaceable(
        &self,
        id: &str,
        provider_id: &str,
        kind: AccountKind,
    ) -> Result<AccountEntry, UserError> {
        let a = self.account(id)?;
        if a.provider != provider_id || a.kind != kind {
            tracing::warn!(account = %id, "refused to replace an account of another provider or kind");
            return Err(UserError::new(
                "wrong_account",
                format!("Account {id} belongs to another provider or kind of sign-in, so this sign-in can't replace it."),
                format!("Sign in again from that account's own menu, or run: latchkey login {}", a.provider),
                ExitClass::Other,
            ));
        }
        Ok(a)
    }

    /// The provider an account may use: its entry must still match where the account's
    /// tokens were allowed to go at sign-in (S24).
    pub fn bound_provider(&self, entry: &AccountEntry) -> Result<ProviderSpec, UserError> {
        let idx = self.vault.index()?;
        let p = provider::find(&entry.provider, &idx.providers);
        if binding_broken(entry, p.as_ref()) {
            tracing::warn!(account = %entry.id, provider = %entry.provider, "the provider entry changed since sign-in; nothing is sent");
            return Err(provider_changed(&entry.id, &entry.provider));
        }
        p.ok_or_else(|| provider_changed(&entry.id, &entry.provider))
    }

    /// One account's index entry.
    pub fn account(&self, id: &str) -> Result<AccountEntry, UserError> {
        self.vault.index()?.account(id).cloned().ok_or_else(|| {
            UserError::new(
                "unknown_account",
                format!("There is no account {id:?}."),
                "Run `latchkey list` to see your accounts.",
                ExitClass::Other,
            )
        })
    }

    /// Picks an account from a name: id, `provider:handle`, unique prefix, the provider's only
    /// account, or the default. Ambiguity lists the candidates.
    pub fn resolve(&self, name: Option<&str>) -> Result<String, UserError> {
        let idx = self.vault.index()?;
        let ids = |v: &[&AccountEntry]| {
            v.iter()
                .map(|a| a.id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let Some(name) = name else {
            return match (idx.accounts.as_slice(), &idx.default_account) {
                ([only], _) => Ok(only.id.clone()),
                (_, Some(d)) if idx.account(d).is_some() => Ok(d.clone()),
                ([], _) => Err(UserError::new(
                    "no_accounts",
                    "You have no accounts yet.",
                    "Run: latchkey login taskade (or add-token)",
                    ExitClass::Other,
                )),
                (all, _) => Err(UserError::new(
                    "ambiguous_account",
                    format!(
                        "Which account? You have {}: {}.",
                        all.len(),
                        ids(&all.iter().collect::<Vec<_>>())
                    ),
                    "Name one, e.g. `latchkey token ID`.",
                    ExitClass::Other,
                )),
            };
        };
        if idx.account(name).is_some() {
            return Ok(name.to_string());
        }
        if let Some((p, who)) = name.split_once(':') {
            let m: Vec<_> = idx
                .accounts
                .iter()
                .filter(|a| a.provider == p && a.identity.as_deref() == Some(who))
                .collect();
            if let [one] = m.as_slice() {
                return Ok(one.id.clone());
            }
        }
        let by_provider: Vec<_> = idx.accounts.iter().filter(|a| a.provider == name).collect();
        if let [one] = by_provider.as_slice() {
            return Ok(one.id.clone());
        }
        let by_prefix: Vec<_> = idx
            .accounts
            .iter()
            .filter(|a| a.id.starts_with(name))
            .collect();
        match (by_prefix.as_slice(), by_provider.as_slice()) {
            ([one], _) => Ok(one.id.clone()),
            (_, [_, _, ..]) | ([_, _, ..], _) => {
                let c = if by_provider.len() > 1 {
                    &by_provider
                } else {
                    &by_prefix
                };
                Err(UserError::new(
                    "ambiguous_account",
                    format!("{name:?} matches {} accounts: {}.", c.len(), ids(c)),
                    "Use the full account id.",
                    ExitClass::Other,
                ))
            }
            _ => Err(UserError::new(
                "unknown_account",
                format!("There is no account {name:?}."),
                "Run `latchkey list` to see your accounts.",
                ExitClass::Other,
            )),
        }
    }

    /// The client to use at `p`: explicit id, the provider's, a remembered registration, or a
    /// new RFC 7591 registration (one-click Taskade).
    async fn client_for(
        &self,
        p: &ProviderSpec,
        explicit: Option<&str>,
    ) -> Result<ClientConfig, UserError> {
        if let Some(id) = explicit.map(str::to_string).or_else(|| p.client_id.clone()) {
            let key = vault::client_secret_key(&p.id, &id);
            // The old per-provider key can only hold the secret of the provider's own,
            // confidential client; public clients (the common case) skip that second read.
            let legacy = (p.client_id.as_deref() == Some(id.as_str())
                && p.client_auth != ClientAuth::None)
                .then(|| vault::legacy_client_secret_key(&p.id));
            let secret = self
                .blocking(move |v| match v.get_secret(&key)? {
                    Some(s) => Ok(Some(s)),
                    None => legacy.map_or(Ok(None), |l| v.get_secret(&l)),
                })
                .await?;
            let auth = if secret.is_some() && p.client_auth == ClientAuth::None {
                ClientAuth::ClientSecretPost
            } else {
                p.client_auth
            };
            return Ok(ClientConfig { id, secret, auth });
        }
        // Dynamically registered clients get any loopback port (RFC 8252 §7.3) on this
        // provider's own path; a registration for another path is replaced.
        let registered_loopback = p.redirect_uri(RedirectKind::Loopback, None);
        if let Some(reg) = self.vault.index()?.registrations.get(&p.id) {
            if reg.redirect_uri == registered_loopback {
                return Ok(ClientConfig {
                    id: reg.client_id.clone(),
                    secret: None,
                    auth: ClientAuth::None,
                });
            }
        }
        if p.registration_url.is_none() {
            return Err(UserError::new(
                "client_id_required",
                format!("{} needs a client ID to sign in.", p.name),
                format!("Register an OAuth app at {} with redirect URI {} (or {}), then pass --client-id.", p.name, p.redirect_uri(RedirectKind::Scheme, None), registered_loopback),
                ExitClass::Other,
            ));
        }
        let id = oauth::register_client(self.http()?, p, &registered_loopback)
            .await
            .map_err(|e| oauth_user_error(e, &p.id))?;
        let reg = ClientRegistration {
            client_id: id.clone(),
            redirect_uri: registered_loopback,
            registered_at: crate::now(),
        };
        let pid = p.id.clone();
        self.blocking(move |v| {
            v.update_index(|idx| {
                idx.registrations.insert(pid, reg);
            })
        })
        .await?;
        tracing::info!(provider = %p.id, "registered a public client for this provider");
        Ok(ClientConfig {
            id,
            secret: None,
            auth: ClientAuth::None,
        })
    }

    /// Starts a sign-in: a new transaction stored in the vault, and the URL to open.
    pub async fn begin_login(
        &self,
        provider_id: &str,
        opts: LoginOptions,
    ) -> Result<LoginStart, UserError> {
        let p = self.provider(provider_id)?;
        if let Some(old) = &opts.reauth_of {
            self.replaceable(old, &p.id, AccountKind::Oauth)?;
        }
        let dynamic =
            opts.client_id.is_none() && p.client_id.is_none() && p.registration_url.is_some();
        // Dynamically registered clients are limited to loopback redirects.
        let kind = if dynamic {
            RedirectKind::Loopback
        } else {
            opts.redirect.unwrap_or(p.redirect)
        };
        let loopback = match kind {
            RedirectKind::Loopback => Some(Loopback::bind().map_err(|e| {
                UserError::new(
                    "loopback",
                    format!("Could not listen on 127.0.0.1 for the sign-in ({e})."),
                    "Try again; if it persists, check your firewall.",
                    ExitClass::Other,
                )
            })?),
            RedirectKind::Scheme => None,
        };
        let redirect = p.redirect_uri(kind, loopback.as_ref().map(Loopback::port));
        let client = self.client_for(&p, opts.client_id.as_deref()).await?;
        let scopes = requested_scopes(&p, &opts);
        let mut begun = oauth::begin(&p, &client, &redirect, &scopes, crate::now())
            .map_err(|e| oauth_user_error(e, &p.id))?;
        begun.transaction.label = opts.label.clone();
        begun.transaction.reauth_of = opts.reauth_of.clone();
        let tx = begun.transaction.clone();
        let expires = tx.expires;
        let handle = tx.handle.clone();
        self.prune_pending().await?;
        self.blocking(move |v| {
            let json = Secret::new(serde_json::to_string(&tx).map_err(|_| VaultError::BadRecord)?);
            v.put_secret(&vault::pending_key(&tx.handle), &json)?;
            v.update_index(|idx| {
                idx.pending.push(crate::vault::index::PendingNote {
                    handle: tx.handle.clone(),
                    provider: tx.provider.clone(),
                    expires: tx.expires,
                });
            })
        })
        .await?;
        tracing::info!(provider = %p.id, redirect = ?kind, "sign-in started");
        Ok(LoginStart {
            handle,
            provider_name: p.name,
            authorize_url: begun.authorize_url,
            loopback,
            expires,
        })
    }

    /// Forgets sign-ins that were abandoned (timed out, cancelled, Ctrl-C, window closed):
    /// their state and verifier leave the credential store with their index note.
    pub async fn prune_pending(&self) -> Result<(), UserError> {
        self.blocking(|v| {
            let now = crate::now();
            let stale: Vec<String> = v
                .index()?
                .pending
                .iter()
                .filter(|p| p.expires <= now)
                .map(|p| p.handle.clone())
                .collect();
            if stale.is_empty() {
                return Ok(());
            }
            for h in &stale {
                v.delete_secret(&vault::pending_key(h))?;
            }
            v.update_index(|idx| idx.pending.retain(|p| !stale.contains(&p.handle)))?;
            tracing::info!(count = stale.len(), "forgot abandoned sign-ins");
            Ok(())
        })
        .await
    }

    /// True when a link's state belongs to a sign-in that is waiting and not yet expired.
    /// Reads the index only: nothing on disk changes (S8).
    pub fn is_pending(&self, state: &str) -> bool {
        is_pending_in(&self.vault.index().unwrap_or_default(), state)
    }

    /// Uses a pending transaction at most once (S7, S8): lock, read, delete. A state that no
    /// sign-in is waiting for touches nothing on disk, not even a lock file.
    async fn take_transaction(&self, state: &Secret) -> Result<Transaction, OAuthError> {
        let handle = oauth::handle_for_state(state.expose());
        let listed = self
            .vault
            .index()
            .is_ok_and(|i| i.pending.iter().any(|p| p.handle == handle));
        if !listed {
            return Err(OAuthError::UnknownState);
        }
        let state = state.clone();
        let v = self.vault.clone();
        let r = tokio::task::spawn_blocking(move || -> Result<Option<Transaction>, VaultError> {
            let lock_name = format!("pending-{handle}");
            let _lock = v.lock_account_blocking(&lock_name, LOCK_WAIT)?;
            let key = vault::pending_key(&handle);
            let Some(raw) = v.get_secret(&key)? else {
                return Ok(None);
            };
            let tx: Transaction =
                serde_json::from_str(raw.expose()).map_err(|_| VaultError::BadRecord)?;
            if tx.state != state {
                return Ok(None);
            }
            v.delete_secret(&key)?;
            v.update_index(|idx| idx.pending.retain(|p| p.handle != handle))?;
            v.forget_lock_file(&lock_name);
            Ok(Some(tx))
        })
        .await;
        match r {
            Ok(Ok(Some(tx))) if tx.expires < crate::now() => Err(OAuthError::Expired),
            Ok(Ok(Some(tx))) => Ok(tx),
            _ => Err(OAuthError::UnknownState),
        }
    }

    /// Finishes a sign-in from a callback URL (deep link or loopback). An unknown, used or
    /// expired state changes nothing and makes no request (S8).
    pub async fn complete_login(&self, url: &str) -> Result<AccountView, UserError> {
        let cb = oauth::parse_callback(url).map_err(|e| oauth_user_error(e, ""))?;
        let Some(state) = cb.state.as_ref() else {
            return Err(oauth_user_error(OAuthError::UnknownState, ""));
        };
        let tx = self
            .take_transaction(state)
            .await
            .map_err(|e| oauth_user_error(e, ""))?;
        let p = self.provider(&tx.provider)?;
        let code =
            oauth::check_callback(&tx, &cb, &p.name).map_err(|e| oauth_user_error(e, &p.id))?;
        let client = self.client_for(&p, Some(&tx.client_id)).await?;
        let now = crate::now();
        let rec = oauth::exchange_code(self.http()?, &p, &client, &tx, &code, now)
            .await
            .map_err(|e| oauth_user_error(e, &p.id))?;
        let identity = self.identity(&p, &rec.access_token).await;
        let opts = LoginOptions {
            label: tx.label.clone(),
            reauth_of: tx.reauth_of.clone(),
            ..Default::default()
        };
        self.save_signed_in(&p, rec, identity, &tx.client_id, opts)
            .await
    }

    /// Signs in through the device flow (RFC 8628), for when no browser can be opened on
    /// this machine: `show` tells the person where to go and which code to type, then this
    /// polls until they approve, decline or the code expires.
    pub async fn device_login(
        &self,
        provider_id: &str,
        opts: LoginOptions,
        show: impl FnOnce(&oauth::DeviceStart),
    ) -> Result<AccountView, UserError> {
        let p = self.provider(provider_id)?;
        if !oauth::offers_device_flow(&p) {
            return Err(UserError::new(
                "no_device_flow",
                format!("{} does not offer sign-in with a code on another device.", p.name),
                format!("Run `latchkey login {provider_id} --no-browser` and open the address it prints on any device with a browser."),
                ExitClass::Other,
            ));
        }
        let client = self.client_for(&p, opts.client_id.as_deref()).await?;
        let scopes = requested_scopes(&p, &opts);
        let http = self.http()?;
        let start = oauth::device_begin(http, &p, &client, &scopes, crate::now())
            .await
            .map_err(|e| oauth_user_error(e, &p.id))?;
        tracing::info!(provider = %p.id, "device sign-in started");
        show(&start);
        let mut rec = oauth::device_finish(http, &p, &client, &start, crate::now)
            .await
            .map_err(|e| oauth_user_error(e, &p.id))?;
        if rec.scopes.is_empty() {
            rec.scopes = scopes;
        }
        let identity = self.identity(&p, &rec.access_token).await;
        self.save_signed_in(&p, rec, identity, &client.id, opts)
            .await
    }

    /// The provider, if password sign-in is switched on for it (S23); a clear refusal if not.
    pub fn password_provider(&self, provider_id: &str) -> Result<ProviderSpec, UserError> {
        let p = self.provider(provider_id)?;
        if !oauth::insecure::password_grant_allowed(&p) {
            return Err(UserError::new(
                "password_grant_off",
                format!("Signing in with a password is switched off for {}.", p.name),
                format!("Run `latchkey login {provider_id}` to sign in through your browser. Password sign-in exists only for providers you add with --insecure-password-grant, and only for servers that offer nothing better."),
                ExitClass::Other,
            ));
        }
        Ok(p)
    }

    /// Signs in with a username and password (RFC 6749 §4.3). Only for a provider the person
    /// added with the insecure switch on (S23); refused before any request otherwise.
    pub async fn password_login(
        &self,
        provider_id: &str,
        username: &str,
        password: Secret,
        opts: LoginOptions,
    ) -> Result<AccountView, UserError> {
        let p = self.password_provider(provider_id)?;
        let client = self.client_for(&p, opts.client_id.as_deref()).await?;
        let scopes = requested_scopes(&p, &opts);
        let rec = oauth::insecure::password_grant(
            self.http()?,
            &p,
            &client,
            username,
            &password,
            &scopes,
            crate::now(),
        )
        .await
        .map_err(|e| oauth_user_error(e, &p.id))?;
        drop(password);
        let identity = Some(
            self.identity(&p, &rec.access_token)
                .await
                .unwrap_or_else(|| oauth::plain_text(username, 120)),
        );
        self.save_signed_in(&p, rec, identity, &client.id, opts)
            .await
    }

    /// Saves an OAuth sign-in (code, device or password grant). The client id is always kept
    /// on the account, so a later change of the provider's client (a re-added issuer, "Use
    /// my own OAuth app") never makes its refresh use another client.
    async fn save_signed_in(
        &self,
        p: &ProviderSpec,
        rec: TokenRecord,
        identity: Option<String>,
        client_id_used: &str,
        opts: LoginOptions,
    ) -> Result<AccountView, UserError> {
        let explicit_client = Some(client_id_used.to_string());
        self.save_new(
            p,
            rec,
            NewAccount {
                identity,
                label: opts.label,
                reauth_of: opts.reauth_of,
                kind: AccountKind::Oauth,
                client_id: explicit_client,
            },
        )
        .await
    }

    /// Saves tokens for a new or re-authenticated account: secret first, then the index.
    async fn save_new(
        &self,
        p: &ProviderSpec,
        rec: TokenRecord,
        new: NewAccount,
    ) -> Result<AccountView, UserError> {
        let NewAccount {
            identity,
            label,
            reauth_of,
            kind,
            client_id,
        } = new;
        let idx = self.vault.index()?;
        let existing = match reauth_of {
            Some(id) => Some(self.replaceable(&id, &p.id, kind)?),
            None => None,
        };
        let existing = existing.or_else(|| {
            identity.as_ref().and_then(|who| {
                idx.accounts
                    .iter()
                    .find(|a| {
                        a.provider == p.id && a.identity.as_deref() == Some(who) && a.kind == kind
                    })
                    .cloned()
            })
        });
        let now = crate::now();
        let entry = AccountEntry {
            id: existing
                .as_ref()
                .map_or_else(|| new_account_id(&p.id), |a| a.id.clone()),
            provider: p.id.clone(),
            label: label.or_else(|| existing.as_ref().and_then(|a| a.label.clone())),
            identity: identity.or_else(|| existing.as_ref().and_then(|a| a.identity.clone())),
            scopes: rec.scopes.clone(),
            expires_at: rec.expires_at,
            status: AccountStatus::Valid,
            kind,
            client_id: client_id.or_else(|| existing.as_ref().and_then(|a| a.client_id.clone())),
            created: existing.as_ref().map_or(now, |a| a.created),
            updated: now,
            last_refresh: None,
            binding: Some(p.destinations()),
        };
        let saved = entry.clone();
        // The same lock a refresh takes: a sign-in never overwrites a refresh in flight (S14).
        let lock = self
            .vault
            .lock_account(&entry.id, LOCK_WAIT)
            .await
            .map_err(UserError::from)?;
        self.blocking(move |v| v.add_account_holding(entry, &rec, lock))
            .await?;
        tracing::info!(account = %saved.id, provider = %p.id, "account saved");
        Ok(view(&saved, &idx.providers, now))
    }

    /// Looks up who a token belongs to. Failures are logged, not fatal.
    async fn identity(&self, p: &ProviderSpec, token: &Secret) -> Option<String> {
        let url = match &p.identity {
            IdentitySource::TaskadePing => p.presets.first().and_then(|pre| p.api_url(&pre.path)),
            IdentitySource::Userinfo => p.userinfo_url.clone(),
            IdentitySource::GithubUser => p.api_url("user"),
            IdentitySource::None => None,
        }?;
        if !p.may_receive_token(&url) {
            return None;
        }
        let resp = self
            .http()
            .ok()?
            .get(&url, Some(token.expose()))
            .await
            .ok()?;
        if !resp.status().is_success() {
            tracing::warn!(status = resp.status().as_u16(), provider = %p.id, "identity lookup failed");
            return None;
        }
        let v: serde_json::Value = serde_json::from_slice(resp.body()).ok()?;
        ["handle", "login", "preferred_username", "email", "sub"]
            .iter()
            .find_map(|k| {
                v.get(k)
                    .and_then(|x| x.as_str())
                    .map(|s| oauth::plain_text(s, 120))
            })
    }

    /// Adds a pasted personal access token after one validating API call.
    pub async fn add_token(
        &self,
        provider_id: &str,
        token: Secret,
        label: Option<String>,
    ) -> Result<AccountView, UserError> {
        let p = self.provider(provider_id)?;
        let token = Secret::new(token.expose().trim().to_string());
        if token.is_empty() {
            return Err(UserError::new(
                "empty_token",
                "No token was given.",
                "Paste the token (for scripts: pipe it to `latchkey add-token PROVIDER`).",
                ExitClass::Other,
            ));
        }
        let Some(check) = p.presets.first().and_then(|pre| p.api_url(&pre.path)) else {
            return Err(UserError::new(
                "cannot_validate",
                format!(
                    "Latchkey can't check a token for {} because it has no API address.",
                    p.name
                ),
                "Add the provider with --api-base.",
                ExitClass::Other,
            ));
        };
        let resp = self
            .http()?
            .get(&check, Some(token.expose()))
            .await
            .map_err(|e| {
                oauth_user_error(
                    OAuthError::Network {
                        provider: p.name.clone(),
                        source: e,
                    },
                    &p.id,
                )
            })?;
        if resp.status().as_u16() == 401 || resp.status().as_u16() == 403 {
            return Err(UserError::new(
                "token_rejected",
                format!("{} did not accept this token.", p.name),
                p.pat_help.clone().unwrap_or_else(|| {
                    "Check that you copied the whole token, or create a new one.".into()
                }),
                ExitClass::Other,
            ));
        }
        if !resp.status().is_success() {
            return Err(UserError::new(
                "token_check_failed",
                format!(
                    "{} answered {} when Latchkey checked the token.",
                    p.name,
                    resp.status().as_u16()
                ),
                "Try again in a moment.",
                ExitClass::Network,
            ));
        }
        let v: serde_json::Value = serde_json::from_slice(resp.body()).unwrap_or_default();
        let identity = ["handle", "login", "preferred_username", "email", "sub"]
            .iter()
            .find_map(|k| {
                v.get(k)
                    .and_then(|x| x.as_str())
                    .map(|s| oauth::plain_text(s, 120))
            });
        let now = crate::now();
        let rec = TokenRecord {
            access_token: token,
            refresh_token: None,
            expires_at: None,
            token_type: "Bearer".into(),
            scopes: Vec::new(),
            issued_at: now,
            id_token: None,
        };
        self.save_new(
            &p,
            rec,
            NewAccount {
                identity,
                label,
                reauth_of: None,
                kind: AccountKind::PersonalToken,
                client_id: None,
            },
        )
        .await
    }

    /// A token valid for at least `min_valid` seconds, refreshing first if needed. Follows the
    /// read → lock → read again → refresh → save → release pattern (S14).
    pub async fn fresh_token(&self, id: &str, min_valid: i64) -> Result<Secret, UserError> {
        let entry = self.account(id)?;
        let key = id.to_string();
        let rec = self.blocking(move |v| v.read_record(&key)).await?;
        let now = crate::now();
        match &rec {
            // S15: once the grant is dead, no more refresh attempts until the person signs in.
            None => return Err(needs_sign_in(id, &entry.provider)),
            Some(_) if entry.status == AccountStatus::NeedsSignIn => {
                return Err(needs_sign_in(id, &entry.provider))
            }
            Some(r) if r.valid_for(min_valid, now) => return Ok(r.access_token.clone()),
            _ => {}
        }
        self.refresh_locked(id, Some(min_valid)).await
    }

    /// Refreshes now, whatever the expiry ("Refresh now", `latchkey refresh`).
    pub async fn refresh_now(&self, id: &str) -> Result<Secret, UserError> {
        self.refresh_locked(id, None).await
    }

    async fn refresh_locked(&self, id: &str, min_valid: Option<i64>) -> Result<Secret, UserError> {
        let lock = self
            .vault
            .lock_account(id, LOCK_WAIT)
            .await
            .map_err(UserError::from)?;
        let entry = self.account(id)?;
        let key = id.to_string();
        let Some(current) = self.blocking(move |v| v.read_record(&key)).await? else {
            return Err(needs_sign_in(id, &entry.provider));
        };
        let now = crate::now();
        // Another process may have refreshed, or found the grant dead, while we waited.
        if let Some(m) = min_valid {
            if entry.status == AccountStatus::NeedsSignIn {
                return Err(needs_sign_in(id, &entry.provider));
            }
            if current.valid_for(m, now) {
                return Ok(current.access_token);
            }
        }
        let p = self.bound_provider(&entry)?;
        let outcome = match entry.kind {
            AccountKind::PersonalToken => return Ok(current.access_token),
            AccountKind::ClientCredentials => {
                let client = self.client_for(&p, entry.client_id.as_deref()).await?;
                match oauth::client_credentials(self.http()?, &p, &client, &current.scopes, now)
                    .await
                {
                    Ok(r) => RefreshOutcome::Refreshed(r),
                    Err(e) if e.is_transient() => RefreshOutcome::Transient {
                        error: e,
                        retry_after: None,
                    },
                    Err(e) if e.needs_sign_in() => RefreshOutcome::NeedsSignIn(e),
                    Err(e) => RefreshOutcome::Failed(e),
                }
            }
            AccountKind::Oauth => {
                let client = self.client_for(&p, entry.client_id.as_deref()).await?;
                oauth::refresh(self.http()?, &p, &client, &current, now).await
            }
        };
        self.apply_outcome(id, &p, current, outcome, lock).await
    }

    /// Saves what a refresh produced. New tokens are stored before they are returned, and
    /// the account's lock is released only once that write has settled (S14).
    async fn apply_outcome(
        &self,
        id: &str,
        p: &ProviderSpec,
        current: TokenRecord,
        outcome: RefreshOutcome,
        lock: vault::AccountLock,
    ) -> Result<Secret, UserError> {
        let now = crate::now();
        let key = id.to_string();
        match outcome {
            RefreshOutcome::Refreshed(rec) => {
                let token = rec.access_token.clone();
                let expires = rec.expires_at;
                let scopes = rec.scopes.clone();
                self.blocking(move |v| {
                    let _lock = v.write_record_holding(&key, &rec, lock)?;
                    v.update_index_batched(move |idx| {
                        if let Some(a) = idx.account_mut(&key) {
                            a.expires_at = expires;
                            a.scopes = scopes;
                            a.status = AccountStatus::Valid;
                            a.updated = now;
                            a.last_refresh = Some(RefreshNote {
                                at: now,
                                outcome: "refreshed".into(),
                                detail: None,
                            });
                        }
                    })
                })
                .await?;
                tracing::info!(account = %id, "refreshed");
                Ok(token)
            }
            RefreshOutcome::NeedsSignIn(e) => {
                let detail = e.to_string();
                self.blocking(move |v| {
                    v.update_index_batched(move |idx| {
                        if let Some(a) = idx.account_mut(&key) {
                            a.status = AccountStatus::NeedsSignIn;
                            a.updated = now;
                            a.last_refresh = Some(RefreshNote {
                                at: now,
                                outcome: "needs_sign_in".into(),
                                detail: Some(detail),
                            });
                        }
                    })
                })
                .await?;
                tracing::warn!(account = %id, code = %e.code(), "the provider refused the refresh; the account needs sign-in");
                Err(needs_sign_in(id, &p.id))
            }
            RefreshOutcome::Transient { error, .. } | RefreshOutcome::Failed(error) => {
                let transient = error.is_transient()
                    || matches!(&error, OAuthError::Provider { code, .. } if code == "temporarily_unavailable" || code == "server_error");
                let detail = error.to_string();
                let status = if transient {
                    AccountStatus::Offline
                } else {
                    AccountStatus::Valid
                };
                self.blocking(move |v| {
                    v.update_index_batched(move |idx| {
                        if let Some(a) = idx.account_mut(&key) {
                            a.status = status;
                            a.updated = now;
                            a.last_refresh = Some(RefreshNote {
                                at: now,
                                outcome: "transient".into(),
                                detail: Some(detail),
                            });
                        }
                    })
                })
                .await?;
                tracing::warn!(account = %id, code = %error.code(), "refresh failed; tokens kept");
                // The stored token still works for a while: hand it out rather than fail.
                if current.valid_for(1, now) {
                    return Ok(current.access_token);
                }
                Err(oauth_user_error(error, &p.id))
            }
        }
    }

    /// Revokes at the provider (refresh token, then access token) and wipes locally whatever
    /// happened there (S17).
    pub async fn remove(&self, id: &str) -> Result<RemovalReport, UserError> {
        let entry = self.account(id)?;
        let key = id.to_string();
        let rec = self
            .blocking(move |v| v.read_record(&key))
            .await
            .ok()
            .flatten();
        let revocation = match (&rec, self.bound_provider(&entry)) {
            (Some(rec), Ok(p)) if entry.kind != AccountKind::PersonalToken => {
                match self.client_for(&p, entry.client_id.as_deref()).await {
                    Ok(client) => oauth::revoke(self.http()?, &p, &client, rec).await,
                    Err(e) => Revocation::Failed(e.message),
                }
            }
            (Some(_), _) if entry.kind == AccountKind::PersonalToken => Revocation::NotSupported,
            (Some(_), Err(e)) if e.code == "provider_changed" => Revocation::Failed(
                "the provider's settings changed since sign-in, so no token was sent there".into(),
            ),
            _ => Revocation::Failed("no stored token to revoke".into()),
        };
        // A machine account's client secret goes with its last account, unless it is the
        // provider's own client: one read of the index after the removal decides.
        let key = id.to_string();
        let machine_client = (entry.kind == AccountKind::ClientCredentials)
            .then(|| entry.client_id.clone())
            .flatten();
        self.blocking(move |v| {
            v.remove_account(&key)?;
            let Some(client_id) = machine_client else {
                return Ok(());
            };
            let idx = v.index()?;
            let still_used =
                idx.accounts.iter().any(|a| {
                    a.provider == entry.provider && a.client_id.as_ref() == Some(&client_id)
                }) || provider::find(&entry.provider, &idx.providers)
                    .is_some_and(|p| p.client_id.as_ref() == Some(&client_id));
            if !still_used {
                v.delete_secret(&vault::client_secret_key(&entry.provider, &client_id))?;
            }
            Ok(())
        })
        .await?;
        let summary = match &revocation {
            Revocation::Revoked => "Signed out at the provider and removed from this computer.".to_string(),
            Revocation::NotSupported => "Removed from this computer. The provider offers no way to revoke tokens remotely; revoke access in its settings if you want.".to_string(),
            Revocation::Failed(why) => format!("Removed from this computer, but revoking at the provider failed ({why}). Revoke access in the provider's settings to be sure."),
        };
        tracing::info!(account = %id, revoked = matches!(revocation, Revocation::Revoked), "account removed");
        Ok(RemovalReport {
            revocation,
            wiped: true,
            summary,
        })
    }

    /// Sends an API request with the account's token, only to its provider's API hosts (S11),
    /// with at most one refresh-and-retry on 401 (S16).
    pub async fn api_call(
        &self,
        id: &str,
        method: &str,
        path: &str,
        headers: &[(String, String)],
        body: Option<Vec<u8>>,
    ) -> Result<ApiResponse, UserError> {
        let entry = self.account(id)?;
        let p = self.bound_provider(&entry)?;
        let url = p.api_url(path).ok_or_else(|| {
            UserError::new(
                "no_api_base",
                format!("{} has no API address configured.", p.name),
                "Add one with `latchkey provider add ... --api-base URL`.",
                ExitClass::Other,
            )
        })?;
        if !p.may_receive_token(&url) {
            return Err(UserError::new(
                "foreign_host",
                format!(
                    "Latchkey only sends your {} token to {}'s own API.",
                    p.name, p.name
                ),
                format!("Use a path under {}.", p.api_bases.join(" or ")),
                ExitClass::Other,
            ));
        }
        let method =
            http::Method::from_bytes(method.to_ascii_uppercase().as_bytes()).map_err(|_| {
                UserError::new(
                    "bad_method",
                    format!("{method:?} is not an HTTP method."),
                    "Use GET, POST, PUT, PATCH or DELETE.",
                    ExitClass::Other,
                )
            })?;
        let mut token = self.fresh_token(id, 30).await?;
        let mut retried = false;
        loop {
            let mut b = http::Request::builder()
                .method(method.clone())
                .uri(&url)
                .header("accept", "application/json");
            for (k, v) in headers {
                // The token and the host are Latchkey's to set (S11): a caller's `Host` could
                // route the token to another virtual host on the same address.
                if k.eq_ignore_ascii_case("authorization") || k.eq_ignore_ascii_case("host") {
                    continue;
                }
                b = b.header(k.as_str(), v.as_str());
            }
            b = b.header("authorization", format!("Bearer {}", token.expose()));
            if body.is_some()
                && !headers
                    .iter()
                    .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
            {
                b = b.header("content-type", "application/json");
            }
            let req = b.body(body.clone().unwrap_or_default()).map_err(|_| {
                UserError::new(
                    "bad_header",
                    "A header is not valid.",
                    "Use the form 'Name: value'.",
                    ExitClass::Other,
                )
            })?;
            let started = Instant::now();
            let resp = match self.http()?.send(req).await {
                Ok(r) => r,
                Err(HttpError::Unavailable { status, .. }) => {
                    return Ok(ApiResponse {
                        status,
                        millis: started.elapsed().as_millis() as u64,
                        headers: Vec::new(),
                        body: String::new(),
                        retried_after_refresh: retried,
                    })
                }
                Err(e) => {
                    return Err(oauth_user_error(
                        OAuthError::Network {
                            provider: p.name.clone(),
                            source: e,
                        },
                        &p.id,
                    ))
                }
            };
            let millis = started.elapsed().as_millis() as u64;
            let status = resp.status().as_u16();
            let www = resp
                .headers()
                .get("www-authenticate")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string();
            // S16: 401 invalid_token → one refresh and retry; 403 insufficient_scope never refreshes.
            if status == 401
                && !retried
                && entry.kind != AccountKind::PersonalToken
                && !www.contains("insufficient_scope")
            {
                retried = true;
                token = self.refresh_now(id).await?;
                continue;
            }
            let headers = resp
                .headers()
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
                .collect();
            return Ok(ApiResponse {
                status,
                millis,
                headers,
                body: String::from_utf8_lossy(resp.body()).into_owned(),
                retried_after_refresh: retried,
            });
        }
    }

    /// Adds a client-credentials (machine) account.
    pub async fn add_client_credentials(
        &self,
        provider_id: &str,
        client_id: &str,
        secret: Secret,
        scopes: Vec<String>,
        label: Option<String>,
    ) -> Result<AccountView, UserError> {
        let p = self.provider(provider_id)?;
        let client = ClientConfig {
            id: client_id.into(),
            secret: Some(secret.clone()),
            auth: if p.client_auth == ClientAuth::None {
                ClientAuth::ClientSecretBasic
            } else {
                p.client_auth
            },
        };
        let rec = oauth::client_credentials(self.http()?, &p, &client, &scopes, crate::now())
            .await
            .map_err(|e| oauth_user_error(e, &p.id))?;
        let key = vault::client_secret_key(&p.id, client_id);
        self.blocking(move |v| v.put_secret(&key, &secret)).await?;
        let who = NewAccount {
            identity: Some(client_id.to_string()),
            label,
            reauth_of: None,
            kind: AccountKind::ClientCredentials,
            client_id: Some(client_id.to_string()),
        };
        self.save_new(&p, rec, who).await
    }

    /// Re-validates a personal token with one API call; a rejected one is flagged (S15-like:
    /// no retries until the person acts).
    pub async fn check_personal_token(&self, id: &str) -> Result<(), UserError> {
        let entry = self.account(id)?;
        let p = self.bound_provider(&entry)?;
        let key = id.to_string();
        let Some(rec) = self.blocking(move |v| v.read_record(&key)).await? else {
            return Err(needs_sign_in(id, &p.id));
        };
        let Some(url) = p
            .presets
            .first()
            .and_then(|pre| p.api_url(&pre.path))
            .filter(|u| p.may_receive_token(u))
        else {
            return Ok(());
        };
        let now = crate::now();
        let (status, outcome, detail) = match self
            .http()?
            .get(&url, Some(rec.access_token.expose()))
            .await
        {
            Ok(r) if r.status().as_u16() == 401 => (
                AccountStatus::NeedsSignIn,
                "needs_sign_in",
                Some(format!("{} no longer accepts this token", p.name)),
            ),
            Ok(r) if r.status().is_success() => (AccountStatus::Valid, "refreshed", None),
            Ok(r) => (
                AccountStatus::Offline,
                "transient",
                Some(format!("{} answered {}", p.name, r.status().as_u16())),
            ),
            Err(e) => (AccountStatus::Offline, "transient", Some(e.to_string())),
        };
        let key = id.to_string();
        let (o, d) = (outcome.to_string(), detail.clone());
        self.blocking(move |v| {
            v.update_index(|idx| {
                if let Some(a) = idx.account_mut(&key) {
                    a.status = status;
                    a.last_refresh = Some(RefreshNote {
                        at: now,
                        outcome: o,
                        detail: d,
                    });
                }
            })
        })
        .await?;
        match status {
            AccountStatus::NeedsSignIn => Err(UserError::new(
                "token_rejected",
                format!("{} no longer accepts the personal token of {id}.", p.name),
                p.pat_help
                    .clone()
                    .unwrap_or_else(|| "Create a new token and add it again.".into()),
                ExitClass::NeedsSignIn,
            )),
            AccountStatus::Offline => Err(UserError::new(
                "network",
                format!("Could not check the token: {}", detail.unwrap_or_default()),
                "Latchkey retries later.",
                ExitClass::Network,
            )),
            AccountStatus::Valid => Ok(()),
        }
    }

    /// Cancels a pending sign-in: deletes its transaction so a late callback does nothing.
    pub async fn cancel_login(&self, handle: &str) -> Result<(), UserError> {
        let handle = handle.to_string();
        self.blocking(move |v| {
            v.delete_secret(&vault::pending_key(&handle))?;
            v.update_index(|idx| idx.pending.retain(|p| p.handle != handle))
        })
        .await
    }

    /// "Other provider": discovers an issuer and stores it as the person's provider. Returns
    /// the provider id (derived from the whole issuer) and the client id this sign-in should
    /// name explicitly, if any.
    ///
    /// S24: an existing provider is never retargeted. The same issuer again keeps its entry
    /// (and its accounts' clients); another issuer whose id would collide gets an id of its own.
    pub async fn add_discovered_provider(
        &self,
        issuer: &str,
        client_id: Option<&str>,
    ) -> Result<(String, Option<String>), UserError> {
        let issuer = issuer.trim().trim_end_matches('/').to_string();
        let client_id = client_id
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(str::to_string);
        let meta = oauth::discover(self.http()?, &issuer).await.map_err(|e| {
            UserError::new(&e.code(), format!("Couldn't find sign-in settings at {issuer}: {e}"), "Check the issuer URL (it usually looks like https://login.example.com), or fill in the endpoints by hand.", ExitClass::Network)
        })?;
        let host = url::Url::parse(&issuer)
            .ok()
            .and_then(|u| u.host_str().map(str::to_string))
            .unwrap_or_else(|| "other".into());
        let mut fresh = ProviderSpec::new("pending", &host);
        fresh.client_id = client_id.clone();
        provider::apply_metadata(&mut fresh, &meta).map_err(|m| {
            UserError::new("bad_provider", m, "Check the issuer URL.", ExitClass::Other)
        })?;
        if let Some(u) = fresh.userinfo_url.clone() {
            fresh.api_bases.push(u);
        }
        let chosen = self.vault.update_index(move |idx| {
            let id = provider::id_for_issuer(&issuer, &idx.providers);
            let in_use = idx.accounts.iter().any(|a| a.provider == id);
            match idx.providers.iter_mut().find(|x| x.id == id) {
                // The same issuer again: keep the entry. A new client id replaces the old
                // only while no account uses the provider; otherwise it is named on this
                // sign-in alone and recorded on the new account.
                Some(existing) => match &client_id {
                    Some(c) if existing.client_id.as_ref() != Some(c) && in_use => {
                        (id, Some(c.clone()))
                    }
                    Some(c) => {
                        existing.client_id = Some(c.clone());
                        (id, None)
                    }
                    None => (id, None),
                },
                None => {
                    fresh.id = id.clone();
                    idx.providers.push(fresh);
                    (id, None)
                }
            }
        })?;
        tracing::info!(provider = %chosen.0, "provider from an issuer is ready");
        Ok(chosen)
    }

    /// "Use my own OAuth app": remembers a client id (and an entered secret, in the vault)
    /// for a provider, overriding the preset's.
    pub async fn set_own_client(
        &self,
        provider_id: &str,
        client_id: &str,
        secret: Option<Secret>,
        redirect: RedirectKind,
    ) -> Result<(), UserError> {
        let mut p = self.provider(provider_id)?;
        let client_id = client_id.trim().to_string();
        p.client_id = Some(client_id.clone());
        p.redirect = redirect;
        p.client_auth = if secret.is_some() {
            ClientAuth::ClientSecretPost
        } else {
            ClientAuth::None
        };
        let key = vault::client_secret_key(provider_id, &client_id);
        self.blocking(move |v| {
            match &secret {
                Some(s) => v.put_secret(&key, s)?,
                None => {
                    v.delete_secret(&key)?;
                }
            }
            v.update_index(|idx| {
                let before = provider::find(&p.id, &idx.providers).and_then(|x| x.client_id);
                // Accounts from before 0.2 recorded no client: pin them to the one they used.
                for a in idx.accounts.iter_mut().filter(|a| a.provider == p.id) {
                    if a.client_id.is_none() {
                        a.client_id = before.clone();
                    }
                }
                idx.providers.retain(|x| x.id != p.id);
                idx.providers.push(p);
            })
        })
        .await
    }

    /// Gives an account a name.
    pub fn rename(&self, id: &str, label: &str) -> Result<(), UserError> {
        let label = crate::oauth::plain_text(label.trim(), 80);
        let id = id.to_string();
        let found = self.vault.update_index(|idx| {
            idx.account_mut(&id)
                .map(|a| a.label = (!label.is_empty()).then_some(label))
                .is_some()
        })?;
        if found {
            Ok(())
        } else {
            Err(UserError::new(
                "unknown_account",
                "That account no longer exists.",
                "Reload the list.",
                ExitClass::Other,
            ))
        }
    }

    /// The details view: no token, but its decoded JWT claims when it is one (signature
    /// never shown).
    pub fn details(&self, id: &str) -> Result<AccountDetails, UserError> {
        let entry = self.account(id)?;
        let idx = self.vault.index()?;
        let rec = self.vault.read_record(id)?;
        let claims = rec
            .as_ref()
            .and_then(|r| jwt_claims(r.access_token.expose()));
        Ok(AccountDetails {
            account: view(&entry, &idx.providers, crate::now()),
            store: self.vault.store_description().to_string(),
            issued_at: rec.as_ref().map(|r| r.issued_at),
            has_refresh_token: rec.as_ref().is_some_and(|r| r.refresh_token.is_some()),
            stored: rec.is_some(),
            jwt_claims: claims,
            created: entry.created,
        })
    }
}

/// What the details view shows. No token (S22).
#[derive(Debug, Clone, Serialize)]
pub struct AccountDetails {
    /// The summary.
    pub account: AccountView,
    /// Where the secret lives, in words.
    pub store: String,
    /// When the current access token was issued.
    pub issued_at: Option<i64>,
    /// Whether a refresh token is stored.
    pub has_refresh_token: bool,
    /// Whether the credential store holds the record at all.
    pub stored: bool,
    /// Decoded JWT payload of the access token, if it is a JWT.
    pub jwt_claims: Option<serde_json::Value>,
    /// Unix seconds.
    pub created: i64,
}

/// Decodes a JWT's payload (the middle part) without verifying it; the signature is dropped.
pub fn jwt_claims(token: &str) -> Option<serde_json::Value> {
    use base64::Engine;
    let mut parts = token.split('.');
    let (_h, payload, _sig) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let v: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    v.is_object().then_some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jwt_claims_are_decoded_and_opaque_tokens_are_not() {
        let t = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSIsImV4cCI6MTcwMDAwMDAwMH0.c2lnbmF0dXJl";
        let c = jwt_claims(t).unwrap();
        assert_eq!(c["sub"], "alice");
        assert!(!c.to_string().contains("signature"));
        assert!(jwt_claims("tskdp_opaque").is_none());
        assert!(jwt_claims("a.b.c.d").is_none());
    }
}
