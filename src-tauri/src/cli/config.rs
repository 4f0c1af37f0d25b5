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
