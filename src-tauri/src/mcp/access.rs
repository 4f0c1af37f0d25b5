//! The HTTP half's access layer: the headers a request to the MCP server carries (the bound
//! account's token, a fresh DPoP proof), and what to do when the server refuses them: one
//! refresh through the shared lock for `invalid_token`, a remembered nonce for
//! `use_dpop_nonce`, a sign-in for the union of the scopes for `insufficient_scope`, and a
//! first sign-in when a server with no account asks for one.

use crate::accounts::{scope_union, Accounts};
use crate::errors::{ExitClass, UserError};
use crate::oauth::dpop::remember_nonce;
use crate::oauth::resource::challenge_param;
use crate::secret::Secret;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// A boxed future, for the object-safe [`Access`].
pub type BoxFut<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A refusal from the server, as the access layer needs it.
#[derive(Debug, Clone, Default)]
pub struct Refusal {
    /// 401 or 403.
    pub status: u16,
    /// The `WWW-Authenticate` header.
    pub challenge: Option<String>,
    /// The `DPoP-Nonce` header.
    pub dpop_nonce: Option<http::HeaderValue>,
}

/// Headers for the server, and a second chance after a refusal.
pub trait Access: Send + Sync {
    /// The headers a request to `url` with `method` carries (a name and a secret value).
    fn headers<'a>(
        &'a self,
        method: &'a str,
        url: &'a str,
    ) -> BoxFut<'a, Result<Vec<(String, Secret)>, UserError>>;
    /// The server refused the last request; `Ok(true)` means try once more.
    fn refused<'a>(&'a self, url: &'a str, r: Refusal) -> BoxFut<'a, Result<bool, UserError>>;
}

/// No account and no sign-in: for a server that needs no OAuth.
pub struct NoAccess;

impl Access for NoAccess {
    fn headers<'a>(
        &'a self,
        _: &'a str,
        _: &'a str,
    ) -> BoxFut<'a, Result<Vec<(String, Secret)>, UserError>> {
        Box::pin(async { Ok(Vec::new()) })
    }
    fn refused<'a>(&'a self, _: &'a str, _: Refusal) -> BoxFut<'a, Result<bool, UserError>> {
        Box::pin(async { Ok(false) })
    }
}

/// Why a sign-in is needed: the server's address, and the scopes to ask for (empty: what
/// the server's metadata lists).
#[derive(Debug, Clone)]
pub struct SignInFor {
    /// The MCP server's address.
    pub url: String,
    /// The scopes to ask for (a step-up asks for the union of granted and wanted).
    pub scopes: Vec<String>,
    /// The account signed in again (a step-up); `None` for a first sign-in.
    pub account: Option<String>,
}

/// Signs the person in for an address and returns the new account's id. The command line
/// hands this in: it is `latchkey login --resource URL`'s own path (browser, loopback, the
/// "another site" question).
pub type SignIn =
    Arc<dyn Fn(SignInFor) -> BoxFut<'static, Result<String, UserError>> + Send + Sync>;

/// Access through Latchkey's accounts.
pub struct AccountAccess {
    accounts: Accounts,
    url: String,
    named: Option<String>,
    sign_in: SignIn,
    state: tokio::sync::Mutex<State>,
}

#[derive(Default)]
struct State {
    account: Option<String>,
    last_token: Option<Secret>,
    /// The token last handed out and when it expires: used again while it has more than
    /// [`MIN_VALID`] left, so a call costs no credential-store read. A refresh by another
    /// process does not end it (an access token stays good until it expires); a refusal does.
    cached: Option<(String, crate::accounts::HandedToken)>,
}

/// A token with less than this left is renewed (through the shared lock) before it is sent.
const MIN_VALID: i64 = 30;

impl AccountAccess {
    /// Access for the server at `url`, through the account `named` or the one bound to it.
    pub fn new(accounts: Accounts, url: &str, named: Option<String>, sign_in: SignIn) -> Self {
        AccountAccess {
            accounts,
            url: url.to_string(),
            named,
            sign_in,
            state: tokio::sync::Mutex::new(State::default()),
        }
    }

    async fn bound(&self, st: &mut State) -> Result<Option<String>, UserError> {
        if st.account.is_none() {
            st.account = self
                .accounts
                .account_for_url(&self.url, self.named.as_deref())?;
            if st.account.is_none() {
                if let Some(n) = &self.named {
                    return Err(UserError::new(
                        "not_for_this_server",
                        format!(
                            "The account {n} is not for {}.",
                            crate::text::plain_text(&self.url, 200)
                        ),
                        format!("Connect it with: latchkey login --resource {}", self.url),
                        ExitClass::Other,
                    ));
                }
            }
        }
        Ok(st.account.clone())
    }
}

impl Access for AccountAccess {
    fn headers<'a>(
        &'a self,
        method: &'a str,
        url: &'a str,
    ) -> BoxFut<'a, Result<Vec<(String, Secret)>, UserError>> {
        Box::pin(async move {
            let mut st = self.state.lock().await;
            let Some(id) = self.bound(&mut st).await? else {
                return Ok(Vec::new());
            };
            let now = crate::clock::now();
            let reuse = st.cached.as_ref().filter(|(for_id, h)| {
                *for_id == id && h.expires_at.is_some_and(|e| e - now > MIN_VALID)
            });
            let handed = match reuse {
                Some((_, h)) => h.clone(),
                None => {
                    let h = self.accounts.handed_token(&id, MIN_VALID).await?;
                    st.cached = Some((id.clone(), h.clone()));
                    h
                }
            };
            st.last_token = Some(handed.token.clone());
            let fix = format!("Sign in again: latchkey login --resource {}", self.url);
            Ok(handed
                .request_headers(method, url, &fix)?
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect())
        })
    }

    fn refused<'a>(&'a self, url: &'a str, r: Refusal) -> BoxFut<'a, Result<bool, UserError>> {
        Box::pin(async move {
            let www = r.challenge.clone().unwrap_or_default();
            let error = challenge_param(&www, "error");
            if error.as_deref() == Some("use_dpop_nonce") {
                return Ok(remember_nonce(url, r.dpop_nonce.as_ref()));
            }
            let mut st = self.state.lock().await;
            st.cached = None;
            let account = self.bound(&mut st).await?;
            match account {
                Some(id) if error.as_deref() == Some("insufficient_scope") => {
                    let wanted: Vec<String> = challenge_param(&www, "scope")
                        .map(|s| {
                            s.split_whitespace()
                                .map(|x| crate::text::plain_text(x, 200))
                                .collect()
                        })
                        .unwrap_or_default();
                    let granted = self
                        .accounts
                        .account(&id)
                        .map(|e| e.scopes)
                        .unwrap_or_default();
                    if wanted.is_empty() || wanted.iter().all(|w| granted.contains(w)) {
                        return Ok(false);
                    }
                    let scopes = scope_union(&granted, &wanted);
                    eprintln!(
                        "latchkey: {} asks for more access ({}); signing in once more for it.",
                        crate::text::plain_text(&self.url, 200),
                        wanted.join(" ")
                    );
                    let new = (self.sign_in)(SignInFor {
                        url: self.url.clone(),
                        scopes,
                        account: Some(id.clone()),
                    })
                    .await?;
                    st.account = Some(new);
                    Ok(true)
                }
                Some(id) if r.status == 401 || error.as_deref() == Some("invalid_token") => {
                    let Some(rejected) = st.last_token.clone() else {
                        return Ok(false);
                    };
                    self.accounts.refresh_rejected(&id, &rejected).await?;
                    Ok(true)
                }
                None if r.status == 401 => {
                    let id = (self.sign_in)(SignInFor {
                        url: self.url.clone(),
                        scopes: Vec::new(),
                        account: None,
                    })
                    .await?;
                    st.account = Some(id);
                    Ok(true)
                }
                _ => Ok(false),
            }
        })
    }
}
