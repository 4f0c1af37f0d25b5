//! `latchkey login`: browser sign-in through the loopback listener, the device flow where
//! no browser can open, and the insecure password grant behind its switch.

use super::output::{println_out, read_stdin_secret};
use super::runtime::runtime;
use crate::accounts::{AccountView, Accounts, Confirm, LoginOptions};
use crate::errors::{ExitClass, UserError};
use crate::oauth::loopback::PageOutcome;
use std::io::IsTerminal;
use std::time::Duration;

/// How `login` reaches the person.
#[derive(Clone, PartialEq, Eq)]
pub(super) enum LoginVia {
    /// `--username`: the insecure password grant.
    Password(String),
    /// Open the browser; fall back to the device flow when none can be opened.
    Browser,
    /// `--no-browser`: print the address.
    PrintUrl,
    /// `--device`.
    Device,
}

pub(super) fn login(
    provider_id: &str,
    opts: LoginOptions,
    via: LoginVia,
) -> Result<i32, UserError> {
    let view = login_view(provider_id, opts, via)?;
    eprintln!("Signed in to {} as {}.", view.provider_name, who(&view));
    println_out(&view.id)?;
    Ok(0)
}

/// Signs in and returns the new account, printing nothing on stdout (the MCP bridge's
/// stdout is the protocol); what happens is said on stderr.
pub(super) fn login_view(
    provider_id: &str,
    opts: LoginOptions,
    via: LoginVia,
) -> Result<AccountView, UserError> {
    let accounts = Accounts::open()?;
    let rt = runtime()?;
    if let LoginVia::Password(user) = &via {
        // Refuse before asking for the password.
        let p = accounts.password_provider(provider_id)?;
        eprintln!("Warning: {} will receive your password directly. Prefer `latchkey login {provider_id}` if it works.", p.name);
        let password = read_stdin_secret("password")?;
        return rt.block_on(accounts.password_login(provider_id, user, password, opts));
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
        let wait = Duration::from_secs((start.expires - crate::clock::now()).max(1) as u64);
        let served = loopback.serve_until_callback(wait, |u| {
            crate::oauth::parse_callback(u)
                .ok()
                .and_then(|cb| cb.state)
                .is_some_and(|s| crate::oauth::handle_for_state(s.expose()) == handle)
        });
        // Ctrl+C, SIGTERM, SIGHUP, a timeout and a refusal all forget the sign-in's state
        // and verifier.
        let served = tokio::select! {
            r = served => Some(r),
            _ = interrupted() => None,
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
    Ok(view)
}

/// RFC 8628: show the address and code on stderr, then wait for approval.
pub(super) async fn device_login(
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

pub(super) fn stop_spinner(spinner: tokio::task::JoinHandle<()>) {
    spinner.abort();
    if crate::platform::stderr_ansi() {
        eprint!("\r\x1b[K");
    }
}

pub(super) fn spinner_task(what: &'static str) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        if !crate::platform::stderr_ansi() {
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

/// `--client-credentials`: a machine account from a client id and its secret, or its key
/// (`--private-key-jwt`; `key` holds the `--jwks-file` path, if any).
pub(super) fn machine_login(
    provider_id: &str,
    client_id: &str,
    key: Option<Option<std::path::PathBuf>>,
    scopes: Vec<String>,
    label: Option<String>,
) -> Result<i32, UserError> {
    let accounts = Accounts::open()?;
    // Refuse before asking for the secret.
    let p = accounts.provider(provider_id)?;
    if !crate::accounts::offers_client_credentials(&p) {
        return Err(UserError::new(
            "no_client_credentials",
            format!(
                "{} does not offer machine access (the client-credentials grant).",
                p.name
            ),
            format!("Sign in as a person instead: latchkey login {provider_id}"),
            ExitClass::Other,
        ));
    }
    // With a key: the one kept for this client, made (and shown, to register) on the first
    // run; that run stops there, since the server can't know the key yet.
    let secret = if let Some(jwks_file) = key {
        if made_a_client_key(
            &accounts,
            &p,
            client_id,
            jwks_file.as_deref(),
            "get the first token",
        )? {
            return Ok(0);
        }
        None
    } else {
        Some(read_stdin_secret("client secret")?)
    };
    let view = runtime()?.block_on(accounts.add_client_credentials(
        provider_id,
        client_id,
        secret,
        scopes,
        label,
    ))?;
    eprintln!(
        "Added machine account {} at {}. When its token expires, Latchkey asks {} for a new one.",
        view.identity.as_deref().unwrap_or(&view.id),
        view.provider_name,
        view.provider_name
    );
    println_out(&view.id)?;
    Ok(0)
}

/// The provider to sign in to: the one named, or the one set up for `--resource URL`. An
/// API whose sign-in server is another site (or one the person uses) is asked about on a
/// terminal; without one it needs `--yes` (F1).
pub(super) fn which_provider(
    provider: Option<String>,
    resource: Option<String>,
    metadata: Option<String>,
    yes: bool,
) -> Result<String, UserError> {
    match (provider, resource) {
        (Some(p), _) => Ok(p),
        (None, Some(address)) => {
            let id = trusted_provider(&address, metadata, yes)?;
            let accounts = Accounts::open()?;
            let p = accounts.provider(&id)?;
            let bound = p.resource.as_deref().unwrap_or(&address);
            eprintln!(
                "{} is protected by {}; signing in for it.",
                bound,
                p.issuer.as_deref().unwrap_or("its sign-in server")
            );
            // Root metadata: the token is for the whole origin (or prefix) it describes.
            let typed = crate::oauth::resource::resource_id(&address).unwrap_or_default();
            if bound != typed {
                eprintln!("Its metadata describes all of {bound}: the new token will be valid there, not only at {typed}.");
            }
            Ok(id)
        }
        (None, None) => Err(UserError::new(
            "usage",
            "Name a provider or an API's address.",
            "Run `latchkey login PROVIDER` or `latchkey login --resource URL`.",
            ExitClass::Other,
        )),
    }
}

/// The provider set up for the API at `address`, from its metadata. A sign-in server on
/// another site (or one the person uses) is asked about on a terminal; without one it needs
/// `yes` (F1). The answer is kept with the provider, for that exact API and server.
pub(super) fn trusted_provider(
    address: &str,
    metadata: Option<String>,
    yes: bool,
) -> Result<String, UserError> {
    let address = address.to_string();
    let accounts = Accounts::open()?;
    let rt = runtime()?;
    let confirm = if yes { Confirm::Yes } else { Confirm::Ask };
    let meta = metadata.as_deref();
    let id = match rt.block_on(accounts.add_resource_provider(&address, meta, true, &confirm)) {
        Err(e) if e.confirm.is_some() => match asked_about_site(&accounts, &address, &e) {
            // Nobody to ask: the error names the site, and --yes.
            None => return Err(e),
            Some(false) => {
                return Err(UserError::new(
                    "cancelled",
                    "Nothing was connected.",
                    format!("Run `latchkey login --resource {address}` again when you are sure."),
                    ExitClass::Other,
                ))
            }
            Some(true) => {
                let site = e.confirm.clone().unwrap_or_default();
                rt.block_on(accounts.add_resource_provider(
                    &address,
                    meta,
                    true,
                    &Confirm::Server(site),
                ))?
            }
        },
        other => other?,
    };
    Ok(id)
}

/// Asks whether to sign in at the site `e` names for the API at `address`: in the running
/// app's window when there is one, else on the terminal. `None`: nobody to ask.
fn asked_about_site(accounts: &Accounts, address: &str, e: &UserError) -> Option<bool> {
    let site = e.confirm.clone().unwrap_or_default();
    let request = crate::ask::Request {
        account: String::new(),
        what: "sign-in-site".into(),
        address: Some(address.to_string()),
        site: Some(site.clone()),
    };
    let wait = crate::ask::answer_timeout() + std::time::Duration::from_secs(15);
    match super::consent::ask_app(accounts.vault().dir(), &request, wait) {
        Some(a) => Some(a == crate::ask::Answer::Once),
        None if Terminal::open().is_some() => {
            let question = format!("{}\nSign in at {site}? [y/N] ", e.message);
            ask_yes_no(&question).ok()
        }
        None => None,
    }
}

/// Resolves when the person or the system stops the command: Ctrl+C everywhere, and on
/// Unix also SIGTERM (`kill`, a service manager) and SIGHUP (the terminal closed).
async fn interrupted() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let (term, hup) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::hangup()),
        );
        if let (Ok(mut term), Ok(mut hup)) = (term, hup) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
                _ = hup.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

/// `--client-secret-stdin`: reads the confidential client's secret and keeps it in the
/// credential store under that client before the sign-in, which then authenticates with it
/// (the method the server lists, Basic first), as will every refresh and revocation.
pub(super) fn with_client_secret(
    provider_id: String,
    client_id: Option<&str>,
    read_secret: bool,
) -> Result<String, UserError> {
    if let (true, Some(client_id)) = (read_secret, client_id) {
        let secret = read_stdin_secret("client secret")?;
        if secret.is_empty() {
            return Err(UserError::new(
                "client_secret_required",
                "No client secret was given.",
                "Pipe the secret to the command, or type it when asked.",
                ExitClass::Other,
            ));
        }
        let accounts = Accounts::open()?;
        accounts.vault().put_secret(
            &crate::vault::client_secret_key(&provider_id, client_id.trim()),
            &secret,
        )?;
    }
    Ok(provider_id)
}

/// `--private-key-jwt` for a person's sign-in: makes the client's key when it has none and
/// shows it to register; true then (the sign-in waits for the registration).
pub(super) fn new_client_key(
    provider_id: &str,
    client_id: &str,
    jwks_file: Option<&std::path::Path>,
) -> Result<bool, UserError> {
    let accounts = Accounts::open()?;
    let p = accounts.provider(provider_id)?;
    made_a_client_key(&accounts, &p, client_id, jwks_file, "sign in")
}

/// Makes the client's key when it has none, shows it to register and says to run the command
/// again to `then`; true when it did (the server can't know a new key yet).
fn made_a_client_key(
    accounts: &Accounts,
    p: &crate::provider::ProviderSpec,
    client_id: &str,
    jwks_file: Option<&std::path::Path>,
    then: &str,
) -> Result<bool, UserError> {
    let (key, new) = runtime()?.block_on(accounts.client_key(&p.id, client_id))?;
    if new {
        super::providers::show_client_key(&key, &p.name, client_id, jwks_file)?;
        eprintln!("Then run this command again to {then}.");
    }
    Ok(new)
}

/// Where a question can be asked: the terminal on stdin, or on Unix the controlling terminal
/// when stdin carries something else (an AI app's protocol to the MCP bridge, a piped secret).
enum Terminal {
    Stdin,
    #[cfg(unix)]
    Tty(std::fs::File),
}

impl Terminal {
    fn open() -> Option<Terminal> {
        if std::io::stdin().is_terminal() {
            return Some(Terminal::Stdin);
        }
        #[cfg(unix)]
        {
            // Fails (ENXIO) for a process with no controlling terminal: nobody to ask.
            let tty = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open("/dev/tty")
                .ok()?;
            Some(Terminal::Tty(tty))
        }
        #[cfg(not(unix))]
        None
    }
}

/// Asks a yes/no question on the terminal; only "y" or "yes" is a yes.
fn ask_yes_no(question: &str) -> Result<bool, UserError> {
    use std::io::Write;
    let failed = |e: std::io::Error| {
        UserError::new(
            "io",
            format!("Could not read your answer: {e}"),
            "Run the command again, or add --yes.",
            ExitClass::Other,
        )
    };
    let mut line = String::new();
    match Terminal::open() {
        Some(Terminal::Stdin) => {
            eprint!("{question}");
            let _ = std::io::stderr().flush();
            std::io::stdin().read_line(&mut line).map_err(failed)?;
        }
        #[cfg(unix)]
        Some(Terminal::Tty(mut tty)) => {
            // The question goes to the terminal itself: stderr may be an AI app's log.
            use std::io::BufRead;
            tty.write_all(question.as_bytes()).map_err(failed)?;
            std::io::BufReader::new(tty)
                .read_line(&mut line)
                .map_err(failed)?;
        }
        None => return Ok(false),
    }
    Ok(matches!(
        line.trim().to_ascii_lowercase().as_str(),
        "y" | "yes"
    ))
}

/// Who an account is, for the "Signed in" line: the person, or the API its tokens are for.
fn who(view: &AccountView) -> String {
    match (&view.identity, &view.resource) {
        (Some(i), _) => i.clone(),
        (None, Some(r)) => format!("an account for {r} (its tokens work only there)"),
        (None, None) => "(unknown)".into(),
    }
}
