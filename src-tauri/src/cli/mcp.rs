//! `latchkey mcp connect URL`: the bridge an AI app runs to reach a remote MCP server, with
//! the person's account for it from the OS credential store (issue 38). stdout carries only
//! the protocol; every word for the person goes to stderr.

use super::login::{login_view, which_provider, LoginVia};
use super::mcp_server::{check_url, usage, TransportArg};
use super::runtime::runtime;
use crate::accounts::{Accounts, LoginOptions};
use crate::errors::{ExitClass, UserError};
use crate::mcp::{Access, AccountAccess, NoAccess, Options, SignIn, SignInFor, Transport};
use crate::oauth::http::Http;
use crate::provider::RedirectKind;
use clap::{Args, Subcommand};
use std::sync::Arc;
use std::time::Duration;

/// `latchkey mcp …`.
#[derive(Subcommand, Debug)]
pub enum McpCmd {
    /// Relay an AI app's stdio to the MCP server at URL, with your account for it (this is
    /// the command an AI app's configuration runs).
    Connect(ConnectArgs),
    /// Set an AI app up to reach the MCP server at URL through Latchkey: writes the app's own
    /// settings entry (a backup of the file is kept).
    Add(super::mcp_apps::AddArgs),
    /// List the MCP servers each AI app here is set up with.
    List(super::mcp_apps::ListArgs),
    /// Take a server `latchkey mcp add` set up out of the AI apps' settings.
    Remove(super::mcp_apps::RemoveArgs),
}

/// `latchkey mcp connect`'s arguments.
#[derive(Args, Debug)]
pub struct ConnectArgs {
    /// The MCP server's address (https; plain http only on 127.0.0.1, ::1 or localhost).
    pub url: String,
    /// The account to use; default: the one connected for URL. With none, the bridge signs
    /// you in when the server asks, as `latchkey login --resource URL` does.
    #[arg(long)]
    pub account: Option<String>,
    /// A header for every request, 'Name: value'; a value written ${VAR} is read from the
    /// environment. An Authorization header replaces the account's token.
    #[arg(long = "header", value_name = "NAME: VALUE")]
    pub headers: Vec<String>,
    /// Which MCP transport the server speaks.
    #[arg(long, value_enum, default_value = "auto")]
    pub transport: TransportArg,
    /// Sign in at the server's sign-in site without asking, when it is another site (for a
    /// hand-written AI app configuration; `latchkey mcp add` asks once instead).
    #[arg(long)]
    pub yes: bool,
}

/// Reads `--header 'Name: value'` (a `${VAR}` value from the environment).
fn parse_headers(raw: &[String]) -> Result<Vec<(String, String)>, UserError> {
    raw.iter()
        .map(|h| {
            let (name, value) = h.split_once(':').ok_or_else(|| {
                usage(
                    format!("--header {:?} has no ':'.", crate::text::plain_text(h, 80)),
                    "Write it as 'Name: value'.",
                )
            })?;
            let name = name.trim();
            http::HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                usage(
                    format!("{:?} is not a header name.", crate::text::plain_text(name, 80)),
                    "Write it as 'Name: value'.",
                )
            })?;
            let value = value.trim();
            let value = match value.strip_prefix("${").and_then(|v| v.strip_suffix('}')) {
                Some(var) => std::env::var(var).map_err(|_| {
                    usage(
                        format!("The header {name} names the environment variable {var}, which is not set."),
                        "Set it in the AI app's configuration (its \"env\"), or write the value itself.",
                    )
                })?,
                None => value.to_string(),
            };
            http::HeaderValue::from_str(&value).map_err(|_| {
                usage(format!("The value of the header {name} is not valid."), "Use printable text only.")
            })?;
            Ok((name.to_string(), value))
        })
        .collect()
}

/// Runs a subcommand of `latchkey mcp`.
pub fn mcp(cmd: McpCmd) -> Result<i32, UserError> {
    match cmd {
        McpCmd::Connect(a) => connect(a),
        McpCmd::Add(a) => super::mcp_apps::add(a),
        McpCmd::List(a) => super::mcp_apps::list_cmd(a),
        McpCmd::Remove(a) => super::mcp_apps::remove(a),
    }
}

fn connect(a: ConnectArgs) -> Result<i32, UserError> {
    let url = a.url.trim().to_string();
    let parsed = check_url(&url)?;
    let headers = parse_headers(&a.headers)?;
    let own_authorization = headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("authorization"));
    let rt = runtime()?;
    let (http, access): (Http, Arc<dyn Access>) = match Accounts::open() {
        Ok(accounts) if !own_authorization => {
            // The AI app is the program the account's token goes to: asked about once, here.
            if let Some(id) = accounts.account_for_url(&url, a.account.as_deref())? {
                super::consent::gate(&accounts, &id, "mcp")?;
            }
            let http = accounts.http()?;
            let sign_in = sign_in_for(a.yes);
            let access = AccountAccess::new(accounts, &url, a.account.clone(), sign_in);
            (http, Arc::new(access))
        }
        Ok(accounts) => (accounts.http()?, Arc::new(NoAccess)),
        Err(e) => {
            // A server that needs no account still works; one that does is told why not.
            eprintln!(
                "latchkey: {} {} (Going on without an account.)",
                e.message, e.fix
            );
            (
                Http::new().map_err(|m| {
                    UserError::new("network", m, "Check Settings → Network.", ExitClass::Other)
                })?,
                Arc::new(NoAccess),
            )
        }
    };
    let transport = match a.transport {
        TransportArg::Auto => Transport::Auto,
        TransportArg::Http => Transport::Http,
        TransportArg::Sse => Transport::Sse,
    };
    tracing::info!(server = %parsed.origin().ascii_serialization(), "MCP bridge started");
    Ok(rt.block_on(crate::mcp::run(
        http,
        access,
        Options {
            url,
            transport,
            headers,
        },
    )))
}

/// The sign-in the bridge uses when a server asks for an account: `latchkey login --resource
/// URL`'s own path, on a thread of its own (it runs its own loop). One bridge signs in per
/// server at a time; the others wait for it and then use its account.
fn sign_in_for(yes: bool) -> SignIn {
    Arc::new(move |why: SignInFor| {
        Box::pin(async move {
            let done = tokio::task::spawn_blocking(move || {
                std::thread::spawn(move || sign_in_blocking(why, yes))
                    .join()
                    .unwrap_or_else(|_| Err(internal()))
            })
            .await
            .unwrap_or_else(|_| Err(internal()));
            if let Err(e) = &done {
                if e.code == "cancelled" {
                    // The AI app stopped the bridge during the sign-in: its state and
                    // verifier are already forgotten; nothing is left to relay.
                    std::process::exit(ExitClass::Other as i32);
                }
            }
            done
        })
    })
}

fn internal() -> UserError {
    UserError::new(
        "internal",
        "The sign-in stopped unexpectedly.",
        "Try again.",
        ExitClass::Other,
    )
}

fn sign_in_blocking(why: SignInFor, yes: bool) -> Result<String, UserError> {
    use sha2::Digest;
    let accounts = Accounts::open()?;
    let digest = sha2::Sha256::digest(why.url.as_bytes());
    let key: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    let key = format!("mcp-signin-{key}");
    let vault = accounts.vault();
    let _lock = match vault.lock_account_blocking(&key, Duration::ZERO) {
        Ok(l) => l,
        Err(_) => {
            eprintln!(
                "latchkey: another Latchkey bridge is signing in to {}; waiting for it…",
                crate::text::plain_text(&why.url, 200)
            );
            vault.lock_account_blocking(&key, Duration::from_secs(660))?
        }
    };
    // The bridge that held the lock may have done it already.
    if let Some(id) = accounts.account_for_url(&why.url, None)? {
        let granted = accounts.account(&id)?.scopes;
        if why.scopes.iter().all(|s| granted.contains(s))
            && (why.account.is_none() || !why.scopes.is_empty())
        {
            super::consent::gate(&accounts, &id, "mcp")?;
            return Ok(id);
        }
    }
    let provider = which_provider(None, Some(why.url.clone()), None, yes).map_err(|e| {
        if e.code != "confirm_sign_in_server" {
            return e;
        }
        // Said to the person through the AI app: the one thing to run, where it can ask.
        let site = e.confirm.clone().unwrap_or_default();
        let fix = format!(
            "Continue only if you trust {site} with this server: run `latchkey login --resource {}` once in a terminal (it asks you), or add --yes to the AI app's latchkey arguments.",
            why.url
        );
        UserError::new(&e.code, e.message.clone(), fix, ExitClass::Other)
    })?;
    let view = login_view(
        &provider,
        LoginOptions {
            client_id: None,
            scopes: why.scopes,
            label: None,
            redirect: Some(RedirectKind::Loopback),
            reauth_of: why.account,
        },
        LoginVia::Browser,
    )?;
    eprintln!(
        "latchkey: signed in to {} for {}.",
        view.provider_name,
        crate::text::plain_text(&why.url, 200)
    );
    super::consent::gate(&accounts, &view.id, "mcp")?;
    Ok(view.id)
}
