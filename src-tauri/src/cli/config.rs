//! `latchkey config browser`: the one setting only the command line may change (it runs a
//! program, S21).

use super::println_out;
use crate::accounts::Accounts;
use crate::errors::{ExitClass, UserError};
use clap::Subcommand;

#[derive(Subcommand, Debug)]
pub(super) enum ConfigCmd {
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
    /// The client metadata document Latchkey names as its client id where a server takes one
    /// (no registration needed). Without URL, shows the current one.
    ClientMetadataUrl {
        /// An https address of a document describing Latchkey as a native public client.
        url: Option<String>,
        /// Back to Latchkey's own document.
        #[arg(long, conflicts_with_all = ["url", "off"])]
        reset: bool,
        /// Never use one: register, or ask for a client id, instead.
        #[arg(long, conflicts_with = "url")]
        off: bool,
    },
}

pub(super) fn config_client_metadata_url(
    url: Option<String>,
    reset: bool,
    off: bool,
) -> Result<i32, UserError> {
    let accounts = Accounts::open()?;
    if !reset && !off && url.as_deref().is_none_or(|u| u.trim().is_empty()) {
        let s = accounts.vault().index()?.settings;
        let shown = if s.client_metadata_off {
            "(off)".to_string()
        } else {
            s.client_metadata_url
                .unwrap_or_else(|| crate::provider::DEFAULT_CLIENT_METADATA_URL.into())
        };
        println_out(&shown)?;
        return Ok(0);
    }
    let url = url.map(|u| u.trim().to_string()).filter(|u| !u.is_empty());
    if let Some(u) = &url {
        crate::provider::check_client_metadata_url(u).map_err(|why| {
            UserError::new(
                "bad_client_metadata_url",
                crate::errors::capitalize(&why),
                "Nothing was changed. Give the https address of the document itself, e.g. https://example.com/oauth/client.json.",
                ExitClass::Other,
            )
        })?;
    }
    let said = url.clone();
    accounts.vault().update_index(|idx| {
        idx.settings.client_metadata_off = off;
        idx.settings.client_metadata_url = if reset {
            None
        } else {
            url.or(idx.settings.client_metadata_url.take())
        };
    })?;
    match (off, said) {
        (true, _) => eprintln!("Latchkey will not use a client metadata document."),
        (false, Some(u)) => {
            eprintln!("Servers that take client metadata documents will be given {u}.")
        }
        (false, None) => eprintln!("Back to Latchkey's own client metadata document."),
    }
    Ok(0)
}

pub(super) fn config_browser(command: Option<String>, reset: bool) -> Result<i32, UserError> {
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
    if let Some(c) = &new {
        crate::platform::check_browser_command(c).map_err(|why| {
            UserError::new(
                "bad_browser_command",
                why,
                "Nothing was changed; run the command again with a browser program.",
                ExitClass::Other,
            )
        })?;
    }
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
