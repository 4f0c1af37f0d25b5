//! `latchkey mcp add / list / remove`: writes the bridge into an AI app's own settings file
//! (issue 38), so the app runs `latchkey mcp connect URL` and its tokens stay in the OS store.

use super::login::trusted_provider;
use super::mcp_server::TransportArg;
use super::output::{json_out, println_out};
use crate::accounts::Accounts;
use crate::errors::{ExitClass, UserError};
use crate::mcp::apps::App;
use crate::mcp::setup::{list, plan_add, plan_remove, Planned, Setup};
use clap::{Args, ValueEnum};

/// An AI app, as `--app` names it.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum AppArg {
    /// Claude Desktop (claude_desktop_config.json).
    ClaudeDesktop,
    /// Claude Code (~/.claude.json, user scope).
    ClaudeCode,
    /// Cursor (~/.cursor/mcp.json).
    Cursor,
    /// VS Code (the user profile's mcp.json).
    Vscode,
    /// Windsurf (~/.codeium/windsurf/mcp_config.json).
    Windsurf,
    /// Zed (settings.json, context_servers).
    Zed,
}

impl From<AppArg> for App {
    fn from(a: AppArg) -> App {
        match a {
            AppArg::ClaudeDesktop => App::ClaudeDesktop,
            AppArg::ClaudeCode => App::ClaudeCode,
            AppArg::Cursor => App::Cursor,
            AppArg::Vscode => App::VsCode,
            AppArg::Windsurf => App::Windsurf,
            AppArg::Zed => App::Zed,
        }
    }
}

/// `latchkey mcp add`'s arguments.
#[derive(Args, Debug)]
pub struct AddArgs {
    /// The name the AI app shows for the server, e.g. taskade.
    pub name: String,
    /// The MCP server's address.
    pub url: String,
    /// The AI app to set up (repeat for several).
    #[arg(long = "app", value_enum, required = true)]
    pub apps: Vec<AppArg>,
    /// The account the bridge uses; default: the one connected for URL.
    #[arg(long)]
    pub account: Option<String>,
    /// A header for every request, 'Name: value' (a value written ${VAR} is read from the
    /// AI app's environment when the bridge starts).
    #[arg(long = "header", value_name = "NAME: VALUE")]
    pub headers: Vec<String>,
    /// Which MCP transport the server speaks (default: auto).
    #[arg(long, value_enum)]
    pub transport: Option<TransportArg>,
    /// Agree now, without asking, when the server's sign-in site is another site.
    #[arg(long)]
    pub yes: bool,
    /// Replace an entry of that name that does not run through Latchkey (e.g. mcp-remote).
    #[arg(long)]
    pub replace: bool,
    /// Print the change to each file without writing it (and without asking the server).
    #[arg(long)]
    pub dry_run: bool,
}

/// `latchkey mcp list`'s arguments.
#[derive(Args, Debug)]
pub struct ListArgs {
    /// Only these AI apps (repeat for several); default: all.
    #[arg(long = "app", value_enum)]
    pub apps: Vec<AppArg>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// `latchkey mcp remove`'s arguments.
#[derive(Args, Debug)]
pub struct RemoveArgs {
    /// The server's name in the AI app.
    pub name: String,
    /// Only these AI apps (repeat for several); default: every app that has it.
    #[arg(long = "app", value_enum)]
    pub apps: Vec<AppArg>,
    /// Print the change to each file without writing it.
    #[arg(long)]
    pub dry_run: bool,
}

fn apps_of(args: &[AppArg]) -> Vec<App> {
    if args.is_empty() {
        App::ALL.to_vec()
    } else {
        args.iter().map(|&a| a.into()).collect()
    }
}

/// Runs the server's discovery and the "another site" question now, while the person is at a
/// terminal, so the AI app's later starts never need it. A server that needs no account, or
/// cannot be reached now, is set up all the same.
fn check_server(a: &AddArgs) -> Result<(), UserError> {
    if a.headers.iter().any(|h| {
        h.split(':')
            .next()
            .is_some_and(|n| n.trim().eq_ignore_ascii_case("authorization"))
    }) {
        return Ok(());
    }
    let accounts = Accounts::open()?;
    if let Some(id) = accounts.account_for_url(&a.url, a.account.as_deref())? {
        eprintln!("The bridge will use your account {id}.");
        return Ok(());
    }
    match trusted_provider(&a.url, None, a.yes) {
        Ok(id) => {
            let p = accounts.provider(&id)?;
            eprintln!(
                "{} signs in at {}. The first time the AI app starts the bridge, your browser opens once to sign in (or run `latchkey login --resource {}` now).",
                a.url,
                p.issuer.as_deref().unwrap_or("its sign-in server"),
                a.url
            );
            Ok(())
        }
        Err(e)
            if matches!(
                e.code.as_str(),
                "no_sign_in_needed" | "no_resource_metadata"
            ) =>
        {
            eprintln!(
                "{} asks for no sign-in (it publishes no OAuth metadata); the bridge connects without an account.",
                a.url
            );
            Ok(())
        }
        Err(e) if e.code == "network" => {
            eprintln!(
                "Could not reach {} now ({}). The entry is written all the same; the bridge signs in when it first reaches the server.",
                a.url, e.message
            );
            Ok(())
        }
        Err(e) if e.confirm.is_some() => Err(UserError::new(
            &e.code,
            e.message,
            "Run this command in a terminal to answer, or add --yes if you trust that site.",
            ExitClass::Other,
        )),
        Err(e) => Err(e),
    }
}

/// `latchkey mcp add`.
pub(super) fn add(a: AddArgs) -> Result<i32, UserError> {
    let setup = Setup {
        name: a.name.trim().to_string(),
        url: a.url.trim().to_string(),
        account: a.account.clone(),
        headers: a.headers.clone(),
        transport: match a.transport {
            None | Some(TransportArg::Auto) => None,
            Some(TransportArg::Http) => Some("http".into()),
            Some(TransportArg::Sse) => Some("sse".into()),
        },
    };
    super::mcp_server::check_url(&setup.url)?;
    crate::mcp::setup::check_name(&setup.name)?;
    // Every file is read and planned before anything is written: one broken file stops all.
    let apps = apps_of(&a.apps);
    let plans = apps
        .iter()
        .map(|&app| plan_add(app, &setup, a.replace).map(|p| (app, p)))
        .collect::<Result<Vec<_>, _>>()?;
    if a.dry_run {
        for (app, plan) in &plans {
            match plan {
                Planned::Unchanged(path) => eprintln!(
                    "{} already runs {} through Latchkey ({}).",
                    app.name(),
                    setup.name,
                    path.display()
                ),
                Planned::Edit(e) => println_out(&e.diff())?,
            }
        }
        eprintln!("Nothing was written (--dry-run).");
        return Ok(0);
    }
    check_server(&a)?;
    for (app, plan) in plans {
        match plan {
            Planned::Unchanged(path) => eprintln!(
                "{} already runs {} through Latchkey ({}); nothing to change.",
                app.name(),
                setup.name,
                path.display()
            ),
            Planned::Edit(e) => {
                let backup = e.write()?;
                let kept = backup
                    .map(|b| format!("; the file as it was is kept as {}", b.display()))
                    .unwrap_or_default();
                eprintln!(
                    "Added {} to {} ({}{kept}). Restart {} (or reload its MCP servers) to use it.",
                    setup.name,
                    app.name(),
                    e.path.display(),
                    app.name()
                );
            }
        }
    }
    Ok(0)
}

/// `latchkey mcp list`.
pub(super) fn list_cmd(a: ListArgs) -> Result<i32, UserError> {
    let (found, broken) = list(&apps_of(&a.apps));
    for e in &broken {
        eprintln!("latchkey: {} {}", e.message, e.fix);
    }
    if a.json {
        json_out(&found)?;
    } else if found.is_empty() {
        println_out("No AI app here has MCP servers yet. Add one with `latchkey mcp add NAME URL --app APP`.")?;
    } else {
        for l in &found {
            let (server, via) = match &l.bridge {
                Some(b) => (b.url.as_str(), "latchkey"),
                None => (l.runs.as_str(), "other"),
            };
            println_out(&format!(
                "{:<15} {:<20} {:<9} {}",
                l.app,
                super::output::terminal_safe(&l.name),
                via,
                super::output::terminal_safe(server)
            ))?;
        }
    }
    Ok(if broken.is_empty() { 0 } else { 1 })
}

/// `latchkey mcp remove`.
pub(super) fn remove(a: RemoveArgs) -> Result<i32, UserError> {
    let mut edits = Vec::new();
    for app in apps_of(&a.apps) {
        if let Some(e) = plan_remove(app, &a.name)? {
            edits.push(e);
        }
    }
    if edits.is_empty() {
        return Err(UserError::new(
            "not_found",
            format!(
                "No AI app here runs a Latchkey server named {}.",
                super::output::terminal_safe(&a.name)
            ),
            "See the names with `latchkey mcp list`.",
            ExitClass::Other,
        ));
    }
    for e in edits {
        if a.dry_run {
            println_out(&e.diff())?;
            continue;
        }
        let backup = e.write()?;
        let kept = backup
            .map(|b| format!("; the file as it was is kept as {}", b.display()))
            .unwrap_or_default();
        eprintln!(
            "Removed {} from {} ({}{kept}).",
            a.name,
            e.app.name(),
            e.path.display()
        );
    }
    if a.dry_run {
        eprintln!("Nothing was written (--dry-run).");
    }
    Ok(0)
}
