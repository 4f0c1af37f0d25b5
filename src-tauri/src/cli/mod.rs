//! The `latchkey` command line (clap) over the `accounts` service. It never starts GTK or
//! WebKit, and `token` on a fresh token starts no async runtime at all. The clap definition
//! and the dispatch live here; the output helpers and each command have files of their own.

mod activity;
mod add_token;
mod api;
mod config;
mod consent;
mod exec;
mod helpers;
mod list;
mod login;
mod logout;
mod mcp;
mod mcp_apps;
mod mcp_server;
mod output;
mod providers;
mod refresh;
mod runtime;
mod status;
mod token;

use crate::accounts::LoginOptions;
use crate::errors::{ExitClass, UserError};
use crate::provider::RedirectKind;
use api::ApiArgs;
use clap::{CommandFactory, Parser, Subcommand};
use config::ConfigCmd;
use login::LoginVia;
use output::terminal_safe;
use providers::ProviderCmd;
use std::ffi::OsString;

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
        #[arg(required_unless_present = "resource", conflicts_with = "resource")]
        provider: Option<String>,
        /// Connect a protected API by its address (RFC 9728): Latchkey finds its sign-in
        /// server, registers if needed, and asks for tokens valid only for that API (RFC 8707).
        #[arg(long, value_name = "URL", conflicts_with = "username")]
        resource: Option<String>,
        /// With --resource: the API's metadata address, when you already know it (from a
        /// challenge your own client received); Latchkey then asks the API nothing.
        #[arg(long, value_name = "URL", requires = "resource")]
        resource_metadata: Option<String>,
        /// With --resource: agree without being asked when the API's sign-in server is another
        /// site or one you already use (without a terminal, Latchkey refuses otherwise).
        #[arg(long, requires = "resource")]
        yes: bool,
        /// Use your own OAuth app's client id.
        #[arg(long)]
        client_id: Option<String>,
        /// With --client-id: the client is confidential; read its secret from stdin (or type
        /// it, not shown) and keep it in the credential store.
        #[arg(long, requires = "client_id", conflicts_with = "client_credentials")]
        client_secret_stdin: bool,
        /// With --client-id: the client authenticates with a key pair instead of a secret
        /// (private_key_jwt, RFC 7523). The first time, Latchkey makes the key, keeps it in
        /// the credential store and prints its public JWK to register at the server.
        #[arg(long, requires = "client_id", conflicts_with = "client_secret_stdin")]
        private_key_jwt: bool,
        /// With --private-key-jwt: also write the public key as a JWKS file here.
        #[arg(long, value_name = "PATH", requires = "private_key_jwt")]
        jwks_file: Option<std::path::PathBuf>,
        /// Scope to request (repeatable); the provider's defaults otherwise.
        #[arg(long = "scope")]
        scopes: Vec<String>,
        /// A name for the account.
        #[arg(long)]
        label: Option<String>,
        /// Print the sign-in URL instead of opening a browser.
        #[arg(long, conflicts_with = "device")]
        no_browser: bool,
        /// Machine access: the client-credentials grant with --client-id and its secret, read
        /// from stdin (or typed, not shown) and kept in the credential store. No person signs
        /// in; when the token expires Latchkey asks the provider for a new one.
        #[arg(long, requires = "client_id", conflicts_with_all = ["device", "no_browser", "username"])]
        client_credentials: bool,
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
    /// Print a token valid for at least --min-valid seconds (refreshing first if needed).
    Token {
        /// Account id, provider:handle, provider, or unique prefix.
        account: Option<String>,
        /// The token printed stays valid at least this many seconds; it is refreshed first
        /// when it would not. If the refresh fails (provider down) and the stored token has
        /// less left, nothing is printed and the exit code is 4. A token whose whole lifetime
        /// is shorter than this counts as fresh for 5 s after it was issued, so short-lived
        /// tokens are not refreshed on every call.
        #[arg(long, default_value_t = 60)]
        min_valid: i64,
        /// Print {"access_token", "token_type", "expires_at", "scopes"} instead of the bare
        /// token.
        #[arg(long)]
        json: bool,
    },
    /// The headers a request with ACCOUNT's token needs: `Authorization: Bearer …`, or for a
    /// DPoP-bound account `Authorization: DPoP …` and a `DPoP:` proof for that method and
    /// address (RFC 9449). The address must be one the account may send tokens to.
    Header {
        /// Account id, provider:handle, provider, or unique prefix.
        account: String,
        /// The request's method (for the proof).
        #[arg(long, default_value = "GET")]
        method: String,
        /// The request's address (required for a DPoP-bound account).
        #[arg(long)]
        url: Option<String>,
        /// Print {"Authorization": …, "DPoP": …} for tools that take a header command.
        #[arg(long)]
        json: bool,
    },
    /// git's credential helper: set up with `latchkey git-credential --setup HOST`; git then
    /// runs `latchkey git-credential get` and gets a fresh token for hosts an account may
    /// send tokens to (nothing for any other host).
    GitCredential {
        /// What git asks: get, store (ignored) or erase (refreshes once; never deletes).
        #[arg(required_unless_present = "setup", value_parser = ["get", "store", "erase"])]
        action: Option<String>,
        /// Write the helper line for HOST (or a URL such as https://git.example.com/org) into
        /// your global git config.
        #[arg(long, value_name = "HOST")]
        setup: Option<String>,
        /// Answer only with this account.
        #[arg(long)]
        account: Option<String>,
        /// The user name sent with the token to git servers that take it as a password
        /// (default: x-access-token for GitHub, oauth2 otherwise).
        #[arg(long)]
        username: Option<String>,
    },
    /// Kubernetes' exec credential plugin: prints an ExecCredential for ACCOUNT; `--setup`
    /// prints the kubeconfig part that runs it.
    KubeCredential {
        /// Account id, provider:handle, provider, or unique prefix.
        account: String,
        /// Print the kubeconfig user and context to paste instead.
        #[arg(long, requires = "cluster")]
        setup: bool,
        /// With --setup: the kubeconfig cluster name.
        #[arg(long)]
        cluster: Option<String>,
        /// The cluster's address, for clients that don't pass it (provideClusterInfo); the
        /// account must be allowed to send tokens there.
        #[arg(long, value_name = "URL")]
        server: Option<String>,
    },
    /// docker's credential helper protocol, which the installed `docker-credential-latchkey`
    /// runs: `get` reads a registry address on stdin and prints {"Username", "Secret"} for
    /// registries an account may send tokens to; `list`; `store` and `erase` do nothing.
    DockerCredential {
        /// get, list, store or erase.
        action: String,
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
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        account: Option<String>,
        /// Every account (before removing Latchkey, say): each is revoked where supported
        /// and removed; the others are still tried when one fails.
        #[arg(long)]
        all: bool,
    },
    /// Change a setting that the window does not offer.
    #[command(subcommand)]
    Config(ConfigCmd),
    /// Which programs got a token, and when (newest first).
    Activity(activity::ActivityArgs),
    /// Who gets an account's token without asking you: allow, ask-new, ask-always or deny.
    Policy(activity::PolicyArgs),
    /// Connect AI apps to remote MCP servers through your accounts.
    #[command(subcommand)]
    Mcp(mcp::McpCmd),
    /// Print a shell completion script.
    Completions {
        /// bash, zsh or fish.
        shell: clap_complete::Shell,
    },
}

/// Runs the CLI with `args` (without the program name); returns the exit code.
pub fn main(args: Vec<OsString>) -> i32 {
    crate::platform::harden_cli();
    // Over SSH into one's own desktop: its session bus (and keyring) by its usual path.
    let bus = crate::platform::find_session_bus();
    crate::logging::init_cli();
    if let Some(bus) = bus {
        tracing::debug!(bus = %bus.display(), "using the desktop session's bus");
    }
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
    if let Some(note) = crate::oauth::http::trust_note() {
        eprintln!("latchkey: note: {note}");
    }
    crate::oauth::http::say_trust_note_on_stderr();
    match dispatch(cli.command) {
        Ok(code) => code,
        Err(e) => {
            eprintln!(
                "latchkey: {} — {}",
                terminal_safe(&e.message),
                terminal_safe(&e.fix)
            );
            e.class as i32
        }
    }
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
        Command::Providers { json } => providers::providers(json),
        Command::Provider(ProviderCmd::Add(a)) => providers::provider_add(*a),
        Command::Provider(ProviderCmd::Remove { id }) => providers::provider_remove(&id),
        Command::List { json } => list::list(json),
        Command::Status { account, json } => status::status(account.as_deref(), json),
        Command::Token {
            account,
            min_valid,
            json: false,
        } => token::token(account.as_deref(), min_valid),
        Command::Token {
            account,
            min_valid,
            json: true,
        } => helpers::token_json(account.as_deref(), min_valid),
        Command::GitCredential {
            setup: Some(host),
            account,
            ..
        } => helpers::git_setup(&host, account.as_deref()),
        Command::GitCredential {
            action,
            account,
            username,
            ..
        } => helpers::git_credential(
            action.as_deref().unwrap_or("get"),
            account.as_deref(),
            username.as_deref(),
        ),
        Command::KubeCredential {
            account,
            setup: true,
            cluster,
            server,
        } => helpers::kube_setup(
            &account,
            cluster.as_deref().unwrap_or("default"),
            server.as_deref(),
        ),
        Command::KubeCredential {
            account, server, ..
        } => helpers::kube_credential(&account, server.as_deref()),
        Command::DockerCredential { action } => helpers::docker_credential(&action),
        Command::Header {
            account,
            method,
            url,
            json,
        } => helpers::header(&account, &method, url.as_deref(), json),
        Command::Login {
            provider,
            resource,
            resource_metadata,
            yes,
            client_id: Some(client_id),
            scopes,
            label,
            client_credentials: true,
            private_key_jwt,
            jwks_file,
            ..
        } => login::machine_login(
            &login::which_provider(provider, resource, resource_metadata, yes)?,
            &client_id,
            private_key_jwt.then_some(jwks_file),
            scopes,
            label,
        ),
        Command::Login {
            provider,
            resource,
            client_id,
            scopes,
            label,
            no_browser,
            device,
            username,
            yes,
            resource_metadata,
            client_secret_stdin,
            private_key_jwt,
            jwks_file,
            ..
        } => {
            let provider = login::which_provider(provider, resource, resource_metadata, yes)?;
            if let (true, Some(id)) = (private_key_jwt, &client_id) {
                if login::new_client_key(&provider, id, jwks_file.as_deref())? {
                    return Ok(0);
                }
            }
            login::login(
                &login::with_client_secret(provider, client_id.as_deref(), client_secret_stdin)?,
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
            )
        }
        Command::AddToken { provider, label } => add_token::add_token(&provider, label),
        Command::Refresh { account, all } => refresh::refresh(account.as_deref(), all),
        Command::Api(a) => api::api(a),
        Command::Exec {
            account,
            env_name,
            command,
        } => exec::exec(&account, &env_name, command),
        Command::Mcp(c) => mcp::mcp(c),
        Command::Activity(a) => activity::activity(a),
        Command::Policy(a) => activity::policy(a),
        Command::Config(ConfigCmd::Browser { command, reset }) => {
            config::config_browser(command, reset)
        }
        Command::Config(ConfigCmd::ClientMetadataUrl { url, reset, off }) => {
            config::config_client_metadata_url(url, reset, off)
        }
        Command::Config(ConfigCmd::Proxy { url, system, off }) => {
            config::config_proxy(url, system, off)
        }
        Command::Config(ConfigCmd::NoProxy { list, reset }) => config::config_no_proxy(list, reset),
        Command::Config(ConfigCmd::CaFile { path, reset }) => config::config_ca_file(path, reset),
        Command::Logout { account, all } => match account {
            Some(a) if !all => logout::logout(&a),
            _ => logout::logout_all(),
        },
    }
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
}
