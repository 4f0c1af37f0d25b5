//! The `latchkey` command line (clap) over the `accounts` service. It never starts GTK or
//! WebKit, and `token` on a fresh token starts no async runtime at all.

use crate::accounts::{AccountView, Accounts, LoginOptions};
use crate::errors::{ExitClass, UserError};
use crate::oauth::loopback::PageOutcome;
use crate::provider::{self, ClientAuth, ProviderSpec, RedirectKind};
use crate::secret::Secret;
use crate::vault::index::AccountStatus;
use clap::{Args, CommandFactory, Parser, Subcommand, ValueEnum};
use std::ffi::OsString;
use std::io::{IsTerminal, Read, Write};
use std::time::Duration;

/// Latchkey keeps OAuth tokens fresh in your OS keyring and hands them to your tools.
#[derive(Parser, Debug)]
#[command(
    name = "latchkey",
    version,
    about = "Latchkey keeps OAuth 2.0 tokens fresh in your OS keyring and hands them to your tools.",
    after_help = "Run `latchkey` with no arguments to open the desktop app.\nExit codes: 0 ok, 1 usage or other error, 2 needs sign-in, 3 credential store unavailable, 4 network or provider error."
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// List the providers you can connect (built-in and your own).
    Providers {
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Add or remove your own provider.
    #[command(subcommand)]
    Provider(ProviderCmd),
    /// Sign in through your browser; prints the new account id.
    Login {
        /// Provider id (see `latchkey providers`).
        provider: String,
        /// Use your own OAuth app's client id.
        #[arg(long)]
        client_id: Option<String>,
        /// Scope to request (repeatable); the provider's defaults otherwise.
        #[arg(long = "scope")]
        scopes: Vec<String>,
        /// A name for the account.
        #[arg(long)]
        label: Option<String>,
        /// Print the sign-in URL instead of opening a browser.
        #[arg(long, conflicts_with = "device")]
        no_browser: bool,
        /// Sign in with a code on another device (RFC 8628 device flow). Used on its own when
        /// no browser can be opened here and the provider offers it.
        #[arg(long)]
        device: bool,
        /// INSECURE: sign in with this username and a password read from stdin. Only for
        /// providers added with --insecure-password-grant.
        #[arg(long, conflicts_with_all = ["device", "no_browser"])]
        username: Option<String>,
    },
    /// Add a personal access token, read from stdin (never from the command line).
    AddToken {
        /// Provider id.
        provider: String,
        /// A name for the account.
        #[arg(long)]
        label: Option<String>,
    },
    /// List connected accounts.
    List {
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Show where tokens are stored, who they belong to, and what is wrong with the fix.
    Status {
        /// Account id, provider:handle, provider, or unique prefix.
        account: Option<String>,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Print a token that is valid now (refreshing first if needed).
    Token {
        /// Account id, provider:handle, provider, or unique prefix.
        account: Option<String>,
        /// Refresh first if the token expires within this many seconds.
        #[arg(long, default_value_t = 60)]
        min_valid: i64,
    },
    /// Refresh an account's token now.
    Refresh {
        /// Account to refresh.
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        account: Option<String>,
        /// Refresh every account.
        #[arg(long)]
        all: bool,
    },
    /// Call the provider's API with the account's token (like `gh api`).
    Api(ApiArgs),
    /// Run a command with the token in its environment; passes its exit code through.
    Exec {
        /// Account to use.
        account: String,
        /// Environment variable for the token.
        #[arg(long = "env", default_value = "LATCHKEY_TOKEN")]
        env_name: String,
        /// The command and its arguments (after --).
        #[arg(last = true, required = true)]
        command: Vec<OsString>,
    },
    /// Revoke at the provider (where supported) and remove the account from this computer.
    Logout {
        /// Account to remove.
        account: String,
    },
    /// Change a setting that the window does not offer.
    #[command(subcommand)]
    Config(ConfigCmd),
    /// Print a shell completion script.
    Completions {
        /// bash, zsh or fish.
        shell: clap_complete::Shell,
    },
}

#[derive(Subcommand, Debug)]
enum ConfigCmd {
    /// Open sign-ins with this command instead of the default browser ("%s" is replaced by
    /// the address). Without COMMAND, shows the current one. Only the command line can set
    /// it, since it runs a program.
    Browser {
        /// e.g. "firefox --private-window %s".
        command: Option<String>,
        /// Go back to the default browser.
        #[arg(long, conflicts_with = "command")]
        reset: bool,
    },
}

#[derive(Subcommand, Debug)]
enum ProviderCmd {
    /// Add a provider from an issuer URL (discovery) or from endpoint URLs.
    Add(ProviderAdd),
    /// Remove one of your providers.
    Remove {
        /// Provider id.
        id: String,
    },
}

#[derive(Args, Debug)]
struct ProviderAdd {
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
    /// Your OAuth app's client id.
    #[arg(long)]
    client_id: Option<String>,
    /// Read your OAuth app's client secret from stdin (kept in the credential store).
    #[arg(long, requires = "client_id")]
    client_secret_stdin: bool,
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
}

#[derive(ValueEnum, Clone, Copy, Debug)]
enum RedirectArg {
    Loopback,
    Scheme,
}

#[derive(Args, Debug)]
struct ApiArgs {
    /// Account to use.
    account: String,
    /// Path relative to the provider's API base (or a full URL on that base).
    path: String,
    /// HTTP method.
    #[arg(short = 'X', long = "method", default_value = "GET")]
    method: String,
    /// Extra header, 'Name: value' (repeatable).
    #[arg(short = 'H', long = "header")]
    headers: Vec<String>,
    /// Body: text, @file, or @- for stdin.
    #[arg(short = 'd', long = "data")]
    data: Option<String>,
    /// Print the status line and response headers before the body.
    #[arg(short = 'i', long)]
    include: bool,
}

/// Runs the CLI with `args` (without the program name); returns the exit code.
pub fn main(args: Vec<OsString>) -> i32 {
    crate::logging::init_cli();
    // A lone URL of another scheme (or a broken one) is a link mistake, not a subcommand;
    // answer it without echoing it, since links carry codes and state.
    if let [one] = args.as_slice() {
        if let Some(s) = one.to_str().filter(|s| crate::link::scheme_of(s).is_some()) {
            if let Err(e) = crate::link::validate(s) {
                eprintln!("latchkey: {e}");
                return ExitClass::Other as i32;
            }
        }
    }
    let argv = std::iter::once(OsString::from("latchkey")).chain(args);
    let cli = match Cli::try_parse_from(argv) {
        Ok(c) => c,
        Err(e) => {
            use clap::error::ErrorKind;
            return match e.kind() {
                ErrorKind::DisplayHelp
                | ErrorKind::DisplayVersion
                | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
                    let _ = e.print();
                    if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
                        1
                    } else {
                        0
                    }
                }
                _ => {
                    // The first paragraph, on one line: clap lists missing arguments on
                    // the lines under its first.
                    let rendered = e.render().to_string();
                    let first = rendered
                        .lines()
                        .take_while(|l| !l.trim().is_empty())
                        .map(str::trim)
                        .collect::<Vec<_>>()
                        .join(" ");
                    let first = first.trim_start_matches("error: ");
                    let first = if first.is_empty() {
                        "invalid arguments"
                    } else {
                        first
                    };
                    eprintln!(
                        "latchkey: {} (run `latchkey --help` for usage)",
                        redact_quoted(first)
                    );
                    ExitClass::Other as i32
                }
            };
        }
    };
    match dispatch(cli.command) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("latchkey: {} — {}", e.message, e.fix);
            e.class as i32
        }
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, UserError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            UserError::new(
                "runtime",
                format!("Could not start: {e}"),
                "Try again.",
                ExitClass::Other,
            )
        })
}

fn out_err(_: std::io::Error) -> UserError {
    UserError::new(
        "output",
        "Could not write the output.",
        "Check that the output pipe is still open.",
        ExitClass::Other,
    )
}

fn println_out(s: &str) -> Result<(), UserError> {
    let mut o = std::io::stdout().lock();
    writeln!(o, "{s}").map_err(out_err)
}

fn json_out<T: serde::Serialize>(v: &T) -> Result<(), UserError> {
    println_out(
        &serde_json::to_string_pretty(v).map_err(|_| out_err(std::io::Error::other("json")))?,
    )
}

fn read_stdin_secret(what: &str) -> Result<Secret, UserError> {
    if std::io::stdin().is_terminal() {
        eprint!("Paste the {what} and press Enter (it is not shown): ");
        let _ = std::io::stderr().flush();
        let mut line = String::new();
        // No echo while the secret is typed or pasted; `stty` talks to the terminal on stdin.
        #[cfg(unix)]
        let echo_off = std::process::Command::new("stty")
            .arg("-echo")
            .status()
            .is_ok_and(|s| s.success());
        let read = std::io::stdin().read_line(&mut line);
        #[cfg(unix)]
        if echo_off {
            let _ = std::process::Command::new("stty").arg("echo").status();
            eprintln!();
        }
        read.map_err(|_| {
            UserError::new(
                "stdin",
                "Could not read the input.",
                "Try again.",
                ExitClass::Other,
            )
        })?;
        return Ok(Secret::new(line.trim().to_string()));
    }
    let mut s = String::new();
    std::io::stdin().read_to_string(&mut s).map_err(|_| {
        UserError::new(
            "stdin",
            "Could not read standard input.",
            "Pipe the value in, e.g. `pass show x | latchkey add-token taskade`.",
            ExitClass::Other,
        )
    })?;
    Ok(Secret::new(s.trim().to_string()))
}

fn dispatch(cmd: Command) -> Result<i32, UserError> {
    match cmd {
        Command::Completions { shell } => {
            clap_complete::generate(
                shell,
                &mut Cli::command(),
                "latchkey",
                &mut std::io::stdout(),
            );
            Ok(0)
        }
        Command::Providers { json } => providers(json),
        Command::Provider(ProviderCmd::Add(a)) => provider_add(a),
        Command::Provider(ProviderCmd::Remove { id }) => provider_remove(&id),
        Command::List { json } => list(json),
        Command::Status { account, json } => status(account.as_deref(), json),
        Command::Token { account, min_valid } => token(account.as_deref(), min_valid),
        Command::Login {
            provider,
            client_id,
            scopes,
            label,
            no_browser,
            device,
            username,
        } => login(
            &provider,
            LoginOptions {
                client_id,
                scopes,
                label,
                redirect: Some(RedirectKind::Loopback),
                reauth_of: None,
            },
            if let Some(u) = username {
                LoginVia::Password(u)
            } else if device {
                LoginVia::Device
            } else if no_browser {
                LoginVia::PrintUrl
            } else {
                LoginVia::Browser
            },
        ),
        Command::AddToken { provider, label } => {
            let token = read_stdin_secret("personal access token")?;
            let accounts = Accounts::open()?;
            let v = runtime()?.block_on(accounts.add_token(&provider, token, label))?;
            eprintln!(
                "Added {} account {}.",
                v.provider_name,
                v.identity.as_deref().unwrap_or(&v.id)
            );
            println_out(&v.id)?;
            Ok(0)
        }
        Command::Refresh { account, all } => refresh(account.as_deref(), all),
        Command::Api(a) => api(a),
        Command::Exec {
            account,
            env_name,
            command,
        } => exec(&account, &env_name, command),
        Command::Config(ConfigCmd::Browser { command, reset }) => config_browser(command, reset),
        Command::Logout { account } => {
            let accounts = Accounts::open()?;
            let id = accounts.resolve(Some(&account))?;
            let report = runtime()?.block_on(accounts.remove(&id))?;
            eprintln!("{}", report.summary);
            Ok(0)
        }
    }
}

fn config_browser(command: Option<String>, reset: bool) -> Result<i32, UserError> {
    let accounts = Accounts::open()?;
    let new = match (command, reset) {
        (_, true) => None,
        (Some(c), false) if !c.trim().is_empty() => Some(c.trim().to_string()),
        _ => {
            let now = accounts.vault().index()?.settings.browser_command;
            println_out(now.as_deref().unwrap_or("(the default browser)"))?;
            return Ok(0);
        }
    };
    let said = new.clone();
    accounts
        .vault()
        .update_index(|idx| idx.settings.browser_command = new)?;
    match said {
        Some(c) => eprintln!("Sign-ins now open with: {c}"),
        None => eprintln!("Sign-ins now open in your default browser."),
    }
    Ok(0)
}

fn providers(json: bool) -> Result<i32, UserError> {
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

fn provider_add(a: ProviderAdd) -> Result<i32, UserError> {
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
    p.client_auth = if secret.is_some() {
        ClientAuth::ClientSecretBasic
    } else {
        ClientAuth::None
    };
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
    {
        provider::check_endpoint(u)
            .map_err(|m| usage(m, "Use https:// URLs (plain http only for 127.0.0.1)."))?;
    }
    if let Some(issuer) = &a.issuer {
        let http =
            crate::oauth::http::Http::new().map_err(|m| usage(m, "Check LATCHKEY_CA_BUNDLE."))?;
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
    if accounts_using(&accounts.vault().index()?, &p.id).is_empty() {
        if let (Some(s), Some(client_id)) = (&secret, &p.client_id) {
            accounts
                .vault()
                .put_secret(&crate::vault::client_secret_key(&p.id, client_id), s)?;
        }
    }
    let id = p.id.clone();
    // S24: a provider that accounts use is never retargeted, as `provider remove` refuses.
    let in_use = accounts.vault().update_index(|idx| {
        let users = accounts_using(idx, &p.id);
        if users.is_empty() {
            idx.providers.retain(|x| x.id != p.id);
            idx.providers.push(p);
        }
        users
    })?;
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
    eprintln!("Added provider {id}. Sign in with: latchkey login {id}");
    Ok(0)
}

/// The accounts that use a provider.
fn accounts_using(idx: &crate::vault::index::Index, provider: &str) -> Vec<String> {
    idx.accounts
        .iter()
        .filter(|a| a.provider == provider)
        .map(|a| a.id.clone())
        .collect()
}

fn provider_remove(id: &str) -> Result<i32, UserError> {
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
    accounts.vault().update_index(|idx| {
        idx.providers.retain(|p| p.id != id);
        idx.registrations.remove(id);
    })?;
    eprintln!("Removed provider {id}.");
    Ok(0)
}

fn list(json: bool) -> Result<i32, UserError> {
    let accounts = Accounts::open()?;
    let all = accounts.list()?;
    if json {
        json_out(&all)?;
        return Ok(0);
    }
    if all.is_empty() {
        println_out("No accounts yet. Connect one with `latchkey login taskade` or open the app.")?;
        return Ok(0);
    }
    for a in &all {
        println_out(&format!(
            "{:<18} {:<10} {:<24} {}",
            a.id,
            a.provider,
            a.identity.as_deref().unwrap_or("(unknown)"),
            status_phrase(a)
        ))?;
    }
    Ok(0)
}

fn status_phrase(a: &AccountView) -> String {
    match a.status.as_str() {
        "valid" => match a.expires_at {
            Some(t) => format!("valid, expires in {}", human_secs(t - crate::now())),
            None => "valid".into(),
        },
        "no_expiry" => "valid, no expiry".into(),
        "needs_sign_in" => "needs sign-in".into(),
        "provider_changed" => "sends nothing: the provider's settings changed".into(),
        "offline" => "offline, will retry".into(),
        other => other.into(),
    }
}

fn human_secs(s: i64) -> String {
    match s {
        i64::MIN..=0 => "now (refreshes on next use)".into(),
        1..=89 => format!("{s} s"),
        90..=5399 => format!("{} min", (s + 30) / 60),
        _ => format!("{} h", (s + 1800) / 3600),
    }
}

fn status(account: Option<&str>, json: bool) -> Result<i32, UserError> {
    let accounts = Accounts::open()?;
    let store = accounts.vault().store_description().to_string();
    let all = accounts.list()?;
    let selected: Vec<AccountView> = match account {
        Some(name) => {
            let id = accounts.resolve(Some(name))?;
            all.into_iter().filter(|a| a.id == id).collect()
        }
        None => all,
    };
    let mut worst = 0;
    let mut report = Vec::new();
    for a in &selected {
        let record = accounts.vault().read_record(&a.id);
        let (problem, fix, code) = match (&record, a.status.as_str()) {
            (Err(e), _) => (
                Some(format!("can't read the token: {e}")),
                Some(e.fix()),
                ExitClass::Store as i32,
            ),
            (Ok(None), _) => (
                Some("the token is missing from the credential store".to_string()),
                Some(format!("run: latchkey login {}", a.provider)),
                ExitClass::NeedsSignIn as i32,
            ),
            (Ok(Some(_)), "needs_sign_in") => (
                Some("the provider no longer accepts this sign-in".to_string()),
                Some(format!("run: latchkey login {}", a.provider)),
                ExitClass::NeedsSignIn as i32,
            ),
            (Ok(Some(_)), "provider_changed") => (
                Some(format!("provider {}'s settings changed after this account signed in, so its tokens are sent nowhere", a.provider)),
                Some(format!("if you changed them, sign in again: latchkey login {}; if not, check `latchkey providers`", a.provider)),
                ExitClass::NeedsSignIn as i32,
            ),
            (Ok(Some(_)), "offline") => (
                Some("the last refresh could not reach the provider; tokens are kept".to_string()),
                Some(format!(
                    "check your connection, then run: latchkey refresh {}",
                    a.id
                )),
                0,
            ),
            _ => (None, None, 0),
        };
        worst = worst.max(code);
        if json {
            report.push(serde_json::json!({
                "id": a.id, "provider": a.provider, "identity": a.identity, "status": a.status, "expires_at": a.expires_at,
                "scopes": a.scopes, "kind": a.kind, "store": store, "problem": problem, "fix": fix,
            }));
            continue;
        }
        println_out(&format!(
            "{} ({}, {})",
            a.id,
            a.provider_name,
            a.identity.as_deref().unwrap_or("identity unknown")
        ))?;
        match &problem {
            None => println_out(&format!("  ✓ Token {}", status_phrase(a)))?,
            Some(p) => println_out(&format!("  ✗ {p}\n    {}", fix.clone().unwrap_or_default()))?,
        }
        println_out(&format!("  - Stored in: {store}"))?;
        println_out(&format!(
            "  - Scopes: {}",
            if a.scopes.is_empty() {
                "(none reported)".into()
            } else {
                a.scopes.join(", ")
            }
        ))?;
        if let Some(n) = &a.last_refresh {
            println_out(&format!(
                "  - Last refresh: {} ago, {}{}",
                human_secs(crate::now() - n.at),
                n.outcome.replace('_', " "),
                n.detail
                    .as_ref()
                    .map(|d| format!(" ({d})"))
                    .unwrap_or_default()
            ))?;
        }
    }
    if json {
        json_out(&report)?;
    } else if selected.is_empty() {
        println_out("No accounts yet. Connect one with `latchkey login taskade`.")?;
    }
    Ok(worst)
}

/// The hot path: a fresh token is read and printed with no async runtime and no HTTP client.
fn token(account: Option<&str>, min_valid: i64) -> Result<i32, UserError> {
    let accounts = Accounts::open()?;
    let id = accounts.resolve(account)?;
    let entry = accounts.account(&id)?;
    if entry.status != AccountStatus::NeedsSignIn {
        if let Some(rec) = accounts.vault().read_record(&id)? {
            if rec.valid_for(min_valid, crate::now()) {
                println_out(rec.access_token.expose())?;
                return Ok(0);
            }
        }
    }
    let t = runtime()?.block_on(accounts.fresh_token(&id, min_valid))?;
    println_out(t.expose())?;
    Ok(0)
}

fn refresh(account: Option<&str>, all: bool) -> Result<i32, UserError> {
    let accounts = Accounts::open()?;
    let ids: Vec<String> = if all {
        accounts.list()?.into_iter().map(|a| a.id).collect()
    } else {
        vec![accounts.resolve(account)?]
    };
    let rt = runtime()?;
    // Several accounts refresh at once, under the same cap as the app's refresher; each one
    // still takes its own lock, so a running app or another command never double-refreshes.
    let results = rt.block_on(async {
        let limit =
            std::sync::Arc::new(tokio::sync::Semaphore::new(crate::refresh::MAX_CONCURRENT));
        let mut set = tokio::task::JoinSet::new();
        for (i, id) in ids.iter().cloned().enumerate() {
            let (accounts, limit) = (accounts.clone(), limit.clone());
            set.spawn(async move {
                let _permit = limit.acquire_owned().await;
                (i, accounts.refresh_now(&id).await.map(|_| ()))
            });
        }
        let mut out = Vec::new();
        while let Some(r) = set.join_next().await {
            if let Ok(r) = r {
                out.push(r);
            }
        }
        out.sort_by_key(|(i, _)| *i);
        out
    });
    let mut worst = if results.len() == ids.len() { 0 } else { 1 };
    for (i, r) in results {
        match r {
            Ok(()) => eprintln!("{}: refreshed", ids[i]),
            Err(e) => {
                eprintln!("{}: {} — {}", ids[i], e.message, e.fix);
                worst = worst.max(e.class as i32);
            }
        }
    }
    Ok(worst)
}

fn api(a: ApiArgs) -> Result<i32, UserError> {
    let mut headers = Vec::new();
    for h in &a.headers {
        let (k, v) = h.split_once(':').ok_or_else(|| {
            UserError::new(
                "bad_header",
                format!("{h:?} is not a header."),
                "Use -H 'Name: value'.",
                ExitClass::Other,
            )
        })?;
        headers.push((k.trim().to_string(), v.trim().to_string()));
    }
    let body = match a.data.as_deref() {
        None => None,
        Some("@-") => {
            let mut b = Vec::new();
            std::io::stdin().read_to_end(&mut b).map_err(|_| {
                UserError::new(
                    "stdin",
                    "Could not read the body from stdin.",
                    "Pipe the body in.",
                    ExitClass::Other,
                )
            })?;
            Some(b)
        }
        Some(s) if s.starts_with('@') => Some(std::fs::read(&s[1..]).map_err(|e| {
            UserError::new(
                "body_file",
                format!("Could not read {}: {e}", &s[1..]),
                "Check the file path.",
                ExitClass::Other,
            )
        })?),
        Some(s) => Some(s.as_bytes().to_vec()),
    };
    let accounts = Accounts::open()?;
    let id = accounts.resolve(Some(&a.account))?;
    let resp = runtime()?.block_on(accounts.api_call(&id, &a.method, &a.path, &headers, body))?;
    let mut o = std::io::stdout().lock();
    if a.include {
        writeln!(o, "HTTP {}", resp.status).map_err(out_err)?;
        for (k, v) in &resp.headers {
            writeln!(o, "{k}: {v}").map_err(out_err)?;
        }
        writeln!(o).map_err(out_err)?;
    }
    let pretty = serde_json::from_str::<serde_json::Value>(&resp.body)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok());
    writeln!(o, "{}", pretty.unwrap_or(resp.body)).map_err(out_err)?;
    if resp.status >= 400 {
        eprintln!("latchkey: the API answered {}", resp.status);
        return Ok(if resp.status == 401 {
            ExitClass::NeedsSignIn as i32
        } else {
            ExitClass::Network as i32
        });
    }
    Ok(0)
}

fn exec(account: &str, env_name: &str, command: Vec<OsString>) -> Result<i32, UserError> {
    let accounts = Accounts::open()?;
    let id = accounts.resolve(Some(account))?;
    let t = {
        let entry = accounts.account(&id)?;
        match accounts.vault().read_record(&id)? {
            Some(rec)
                if entry.status != AccountStatus::NeedsSignIn
                    && rec.valid_for(60, crate::now()) =>
            {
                rec.access_token
            }
            _ => runtime()?.block_on(accounts.fresh_token(&id, 60))?,
        }
    };
    let (prog, args) = command.split_first().ok_or_else(|| {
        UserError::new(
            "no_command",
            "No command to run.",
            "Put it after --, e.g. latchkey exec taskade -- curl ...",
            ExitClass::Other,
        )
    })?;
    let status = std::process::Command::new(prog)
        .args(args)
        .env(env_name, t.expose())
        .status()
        .map_err(|e| {
            UserError::new(
                "exec_failed",
                format!("Could not run {}: {e}", prog.to_string_lossy()),
                "Check the command name and your PATH.",
                ExitClass::Other,
            )
        })?;
    Ok(status.code().unwrap_or(1))
}

/// How `login` reaches the person.
#[derive(Clone, PartialEq, Eq)]
enum LoginVia {
    /// `--username`: the insecure password grant.
    Password(String),
    /// Open the browser; fall back to the device flow when none can be opened.
    Browser,
    /// `--no-browser`: print the address.
    PrintUrl,
    /// `--device`.
    Device,
}

fn login(provider_id: &str, opts: LoginOptions, via: LoginVia) -> Result<i32, UserError> {
    let accounts = Accounts::open()?;
    let rt = runtime()?;
    if let LoginVia::Password(user) = &via {
        // Refuse before asking for the password.
        let p = accounts.password_provider(provider_id)?;
        eprintln!("Warning: {} will receive your password directly. Prefer `latchkey login {provider_id}` if it works.", p.name);
        let password = read_stdin_secret("password")?;
        let view = rt.block_on(accounts.password_login(provider_id, user, password, opts))?;
        eprintln!(
            "Signed in to {} as {}.",
            view.provider_name,
            view.identity.as_deref().unwrap_or("(unknown)")
        );
        println_out(&view.id)?;
        return Ok(0);
    }
    let setting = accounts.vault().index()?.settings.browser_command;
    let p = accounts.provider(provider_id)?;
    let device_ok = crate::oauth::offers_device_flow(&p);
    let use_device = match via {
        LoginVia::Device => true,
        LoginVia::Browser => device_ok && !crate::browser::can_open(setting.as_deref()),
        LoginVia::PrintUrl | LoginVia::Password(_) => false,
    };
    let view = rt.block_on(async {
        if use_device {
            return device_login(&accounts, provider_id, opts).await;
        }
        let start = accounts.begin_login(provider_id, opts.clone()).await?;
        let loopback = start.loopback.ok_or_else(|| {
            UserError::new(
                "internal",
                "Sign-in from the command line needs the loopback redirect.",
                "Try again.",
                ExitClass::Other,
            )
        })?;
        let handle = start.handle.clone();
        if via == LoginVia::PrintUrl {
            eprintln!(
                "Open this address in your browser to sign in to {}:\n{}",
                start.provider_name,
                start.authorize_url.expose()
            );
        } else if let Err(why) = crate::browser::open(&start.authorize_url, setting.as_deref()) {
            if device_ok {
                eprintln!("Couldn't open your browser ({why}); signing in with a code instead.");
                drop(loopback);
                let _ = accounts.cancel_login(&handle).await;
                return device_login(&accounts, provider_id, opts).await;
            }
            eprintln!(
                "Couldn't open your browser ({why}). Open this address yourself:\n{}",
                start.authorize_url.expose()
            );
        } else {
            eprintln!("Opened your browser to sign in to {}.", start.provider_name);
        }
        let spinner = spinner_task("Waiting for you to approve in your browser…");
        let wait = Duration::from_secs((start.expires - crate::now()).max(1) as u64);
        let served = loopback.serve_until_callback(wait, |u| {
            crate::oauth::parse_callback(u)
                .ok()
                .and_then(|cb| cb.state)
                .is_some_and(|s| crate::oauth::handle_for_state(s.expose()) == handle)
        });
        // Ctrl+C, a timeout and a refusal all forget the sign-in's state and verifier.
        let served = tokio::select! {
            r = served => Some(r),
            _ = tokio::signal::ctrl_c() => None,
        };
        stop_spinner(spinner);
        let Some(served) = served else {
            let _ = accounts.cancel_login(&handle).await;
            return Err(UserError::new(
                "cancelled",
                "Sign-in cancelled.",
                format!("Run `latchkey login {provider_id}` when you are ready."),
                ExitClass::Other,
            ));
        };
        let Some((url, reply)) = served else {
            let _ = accounts.cancel_login(&handle).await;
            return Err(UserError::new(
                "login_expired",
                "The sign-in took longer than 10 minutes and expired.",
                format!("Run: latchkey login {provider_id}"),
                ExitClass::Other,
            ));
        };
        let done = accounts.complete_login(&url).await;
        reply
            .send(match &done {
                Ok(_) => PageOutcome::SignedIn,
                Err(e) if e.code == "access_denied" => PageOutcome::Cancelled,
                Err(_) => PageOutcome::Failed,
            })
            .await;
        done
    })?;
    eprintln!(
        "Signed in to {} as {}.",
        view.provider_name,
        view.identity.as_deref().unwrap_or("(unknown)")
    );
    println_out(&view.id)?;
    Ok(0)
}

/// RFC 8628: show the address and code on stderr, then wait for approval.
async fn device_login(
    accounts: &Accounts,
    provider_id: &str,
    opts: LoginOptions,
) -> Result<AccountView, UserError> {
    let spinner = std::cell::Cell::new(None);
    let r = accounts
        .device_login(provider_id, opts, |start| {
            eprintln!(
                "To sign in, open {} on any device and enter the code: {}",
                start.verification_uri, start.user_code
            );
            if let Some(full) = &start.verification_uri_complete {
                eprintln!("Or open this address, which has the code filled in: {full}");
            }
            spinner.set(Some(spinner_task("Waiting for you to enter the code…")));
        })
        .await;
    if let Some(s) = spinner.take() {
        stop_spinner(s);
    }
    r
}

fn stop_spinner(spinner: tokio::task::JoinHandle<()>) {
    spinner.abort();
    if std::io::stderr().is_terminal() {
        eprint!("\r\x1b[K");
    }
}

fn spinner_task(what: &'static str) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        if !std::io::stderr().is_terminal() {
            return;
        }
        let frames = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
        let mut i = 0;
        loop {
            eprint!("\r{} {what} (Ctrl+C to cancel)", frames[i % frames.len()]);
            i += 1;
            tokio::time::sleep(Duration::from_millis(120)).await;
        }
    })
}

/// Hides long quoted values in clap's messages: a token pasted into argv by mistake must not
/// be echoed back (S19). Short words such as subcommand names stay readable.
fn redact_quoted(line: &str) -> String {
    let mut out = String::new();
    let mut parts = line.split('\'');
    if let Some(first) = parts.next() {
        out.push_str(first);
    }
    for (i, part) in parts.enumerate() {
        out.push('\'');
        if i % 2 == 0 && part.len() > 24 {
            out.push('…');
        } else {
            out.push_str(part);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_quoted_values_are_redacted_in_usage_errors_s19() {
        let l = redact_quoted("unexpected argument 'tskdp_abcdefghijklmnopqrstuvwxyz0123' found");
        assert_eq!(l, "unexpected argument '…' found");
        assert_eq!(
            redact_quoted("unrecognized subcommand 'bogus'"),
            "unrecognized subcommand 'bogus'"
        );
    }

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(human_secs(3000), "50 min");
        assert_eq!(human_secs(30), "30 s");
        assert_eq!(human_secs(7200), "2 h");
    }
}
