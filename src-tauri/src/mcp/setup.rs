//! `latchkey mcp add / list / remove` and the window's "Use in an AI app": which entry to
//! write for a server, what to do when the name is taken, and what to leave alone.

use super::app_config::{ConfigFile, Edit};
use super::apps::{bridge_of, cli_program, App, Bridge};
use crate::errors::{ExitClass, UserError};
use std::path::PathBuf;

/// One server to set up in an AI app.
#[derive(Debug, Clone)]
pub struct Setup {
    /// The name the AI app shows.
    pub name: String,
    /// The MCP server's address.
    pub url: String,
    /// `--account`, when one is named.
    pub account: Option<String>,
    /// `--header` lines, as given.
    pub headers: Vec<String>,
    /// `--transport`, when not `auto`.
    pub transport: Option<String>,
}

impl Setup {
    /// The arguments of `latchkey mcp connect` for this server.
    pub fn args(&self) -> Vec<String> {
        let mut args = vec!["mcp".to_string(), "connect".into(), self.url.clone()];
        if let Some(a) = &self.account {
            args.extend(["--account".into(), a.clone()]);
        }
        for h in &self.headers {
            args.extend(["--header".into(), h.clone()]);
        }
        if let Some(t) = &self.transport {
            args.extend(["--transport".into(), t.clone()]);
        }
        args
    }
}

/// What adding a server to one app comes to.
#[derive(Debug, Clone)]
pub enum Planned {
    /// The app already runs exactly this bridge under that name.
    Unchanged(PathBuf),
    /// The file's change.
    Edit(Edit),
}

/// Checks a server name: what every app accepts as a key and shows as a label.
pub fn check_name(name: &str) -> Result<(), UserError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(UserError::new(
            "usage",
            format!(
                "{:?} cannot be a server name.",
                crate::text::plain_text(name, 80)
            ),
            "Use up to 64 letters, digits, '-', '_' or '.', e.g. taskade.",
            ExitClass::Other,
        ))
    }
}

/// A name for the server at `url`: its host's first meaningful label (`mcp.taskade.com` →
/// `taskade`).
pub fn name_for(url: &str) -> String {
    let host = url::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
        .unwrap_or_default();
    if host.starts_with('[') || host.parse::<std::net::IpAddr>().is_ok() {
        return "mcp".into();
    }
    let labels: Vec<&str> = host.split('.').collect();
    let pick = match labels.as_slice() {
        [one] => one,
        [.., name, _tld] => name,
        _ => &"mcp",
    };
    let pick: String = pick
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect();
    if pick.is_empty() {
        "mcp".into()
    } else {
        pick.to_ascii_lowercase()
    }
}

/// Plans adding `setup` to `app`. A name taken by a Latchkey bridge is updated in place; a
/// name taken by anything else (say `npx mcp-remote`) only with `replace`.
pub fn plan_add(app: App, setup: &Setup, replace: bool) -> Result<Planned, UserError> {
    check_name(&setup.name)?;
    let file = ConfigFile::read(app)?;
    let program = cli_program().to_string_lossy().to_string();
    let entry = app.entry(&program, &setup.args());
    let existing = file.entries()?.into_iter().find(|(n, _)| *n == setup.name);
    if let Some((_, old)) = &existing {
        if *old == entry {
            return Ok(Planned::Unchanged(file.path));
        }
        if bridge_of(old).is_none() && !replace {
            let runs = old
                .get("command")
                .and_then(|c| c.as_str())
                .map(|c| format!(" (it runs {})", crate::text::plain_text(c, 120)))
                .unwrap_or_default();
            return Err(UserError::new(
                "name_taken",
                format!(
                    "{} already has a server named {}{runs}.",
                    app.name(),
                    setup.name
                ),
                "Add --replace to run it through Latchkey instead (the old entry is kept in the backup), or choose another name.",
                ExitClass::Other,
            ));
        }
    }
    Ok(Planned::Edit(file.with_entry(&setup.name, &entry)?))
}

/// Plans removing the Latchkey bridge `name` from `app`. An entry by that name that is not a
/// Latchkey bridge is refused: `mcp remove` undoes `mcp add`, nothing else.
pub fn plan_remove(app: App, name: &str) -> Result<Option<Edit>, UserError> {
    let file = ConfigFile::read(app)?;
    let Some((_, entry)) = file.entries()?.into_iter().find(|(n, _)| n == name) else {
        return Ok(None);
    };
    if bridge_of(&entry).is_none() {
        return Err(UserError::new(
            "not_a_bridge",
            format!(
                "{}'s server {name} does not run through Latchkey; Latchkey left it as it is.",
                app.name()
            ),
            format!(
                "Remove it in {} (or edit {}).",
                app.name(),
                file.path.display()
            ),
            ExitClass::Other,
        ));
    }
    file.without_entry(name)
}

/// One server an AI app is set up with.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Listed {
    /// The app's `--app` name.
    pub app: &'static str,
    /// The app's own name.
    pub app_name: &'static str,
    /// The server's name in the app.
    pub name: String,
    /// The settings file.
    pub file: PathBuf,
    /// What the entry runs (its command), or its URL for a remote entry.
    pub runs: String,
    /// The Latchkey bridge it runs, if it is one.
    pub bridge: Option<Bridge>,
}

/// Every server of every app in `apps`; a file that cannot be read is reported beside them.
pub fn list(apps: &[App]) -> (Vec<Listed>, Vec<UserError>) {
    let mut found = Vec::new();
    let mut broken = Vec::new();
    for &app in apps {
        let file = match ConfigFile::read(app) {
            Ok(f) => f,
            Err(e) => {
                broken.push(e);
                continue;
            }
        };
        match file.entries() {
            Ok(entries) => found.extend(entries.into_iter().map(|(name, e)| {
                let runs = runs_of(&e);
                Listed {
                    app: app.id(),
                    app_name: app.name(),
                    name,
                    file: file.path.clone(),
                    runs,
                    bridge: bridge_of(&e),
                }
            })),
            Err(e) => broken.push(e),
        }
    }
    (found, broken)
}

/// An AI app, as the window's "Use in an AI app" shows it for one account.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AppStatus {
    /// The app's `--app` name.
    pub app: &'static str,
    /// The app's own name.
    pub name: &'static str,
    /// True when the app looks installed here.
    pub found: bool,
    /// Its settings file, for people (`~/…` for a file in the home folder).
    pub file: Option<String>,
    /// The name of the entry that already runs this account's bridge, if one does.
    pub set_up_as: Option<String>,
    /// Why its file cannot be used (it does not parse), in words.
    pub problem: Option<String>,
}

/// Every AI app, found here or not, and whether it already reaches `url` through Latchkey.
pub fn apps_for(url: &str) -> Vec<AppStatus> {
    App::ALL
        .into_iter()
        .map(|app| {
            let file = ConfigFile::read(app);
            let entries = file
                .as_ref()
                .map_err(Clone::clone)
                .and_then(|f| f.entries());
            let (set_up_as, problem) = match entries {
                Ok(entries) => (
                    entries
                        .into_iter()
                        .find(|(_, e)| bridge_of(e).is_some_and(|b| same_url(&b.url, url)))
                        .map(|(n, _)| n),
                    None,
                ),
                Err(e) => (None, Some(format!("{} {}", e.message, e.fix))),
            };
            AppStatus {
                app: app.id(),
                name: app.name(),
                found: app.detected(),
                file: app.config_path().map(|p| shown(&p)),
                set_up_as,
                problem,
            }
        })
        .collect()
}

/// What the window's button did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Added {
    /// The entry's name in the app.
    pub name: String,
    /// The app's own name.
    pub app_name: &'static str,
    /// The settings file written, for people.
    pub file: String,
    /// The file as it was, kept beside it.
    pub backup: Option<PathBuf>,
}

/// Adds the bridge for `account` at `url` to `app` under a name made from the server's host
/// (`taskade`, or `taskade-2` when that name runs something else).
pub fn add_for_account(app: App, url: &str, account: &str) -> Result<Added, UserError> {
    let base = name_for(url);
    let file = ConfigFile::read(app)?;
    let entries = file.entries()?;
    let bridged = entries.iter().find(|(_, e)| {
        bridge_of(e).is_some_and(|b| same_url(&b.url, url) && b.account.as_deref() == Some(account))
    });
    if let Some((name, _)) = bridged {
        return Ok(Added {
            name: name.clone(),
            app_name: app.name(),
            file: shown(&file.path),
            backup: None,
        });
    }
    let taken: Vec<String> = entries.into_iter().map(|(n, _)| n).collect();
    let name = std::iter::once(base.clone())
        .chain((2..100).map(|i| format!("{base}-{i}")))
        .find(|n| !taken.contains(n))
        .unwrap_or_else(|| format!("{base}-latchkey"));
    let setup = Setup {
        name: name.clone(),
        url: url.to_string(),
        account: Some(account.to_string()),
        headers: Vec::new(),
        transport: None,
    };
    match plan_add(app, &setup, false)? {
        Planned::Unchanged(file) => Ok(Added {
            name,
            app_name: app.name(),
            file: shown(&file),
            backup: None,
        }),
        Planned::Edit(e) => {
            let backup = e.write()?;
            Ok(Added {
                name,
                app_name: app.name(),
                file: shown(&e.path),
                backup,
            })
        }
    }
}

/// A path for people: `~/…` for one under the home folder (not on Windows, where `~` means
/// nothing to the person).
pub fn shown(path: &std::path::Path) -> String {
    let home = dirs::home_dir().filter(|_| !cfg!(windows));
    match home.and_then(|h| path.strip_prefix(h).ok().map(PathBuf::from)) {
        Some(rest) => format!("~/{}", rest.display()),
        None => path.display().to_string(),
    }
}

fn same_url(a: &str, b: &str) -> bool {
    a.trim_end_matches('/') == b.trim_end_matches('/')
}

/// What an entry runs, in one line: its command and arguments, or its address.
fn runs_of(e: &serde_json::Value) -> String {
    let text = |v: Option<&serde_json::Value>| v.and_then(|c| c.as_str()).map(str::to_string);
    let line = match text(e.get("command")) {
        Some(command) => {
            let args = e.get("args").and_then(|a| a.as_array());
            let args = args.into_iter().flatten().filter_map(|a| a.as_str());
            std::iter::once(command.as_str())
                .chain(args)
                .collect::<Vec<_>>()
                .join(" ")
        }
        None => text(e.get("url").or_else(|| e.get("serverUrl"))).unwrap_or_default(),
    };
    crate::text::plain_text(&line, 160)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_comes_from_the_host() {
        assert_eq!(name_for("https://mcp.taskade.com/mcp"), "taskade");
        assert_eq!(name_for("http://localhost:8080/mcp"), "localhost");
        assert_eq!(name_for("https://api.example.co/x"), "example");
        assert_eq!(name_for("http://127.0.0.1:9/mcp"), "mcp");
        assert!(check_name("taskade-2").is_ok());
        assert!(check_name("my server").is_err());
        assert!(check_name("").is_err());
    }

    #[test]
    fn the_arguments_name_only_what_was_given() {
        let s = Setup {
            name: "t".into(),
            url: "https://a/mcp".into(),
            account: Some("acc".into()),
            headers: vec!["X-Team: ${TEAM}".into()],
            transport: None,
        };
        assert_eq!(
            s.args(),
            [
                "mcp",
                "connect",
                "https://a/mcp",
                "--account",
                "acc",
                "--header",
                "X-Team: ${TEAM}"
            ]
        );
    }
}
