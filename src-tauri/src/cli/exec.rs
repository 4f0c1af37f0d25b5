//! `latchkey exec`: run a command with a fresh token in its environment.

use super::runtime;
use crate::accounts::Accounts;
use crate::errors::{ExitClass, UserError};
use crate::vault::index::AccountStatus;
use std::ffi::OsString;

pub(super) fn exec(
    account: &str,
    env_name: &str,
    command: Vec<OsString>,
) -> Result<i32, UserError> {
    let accounts = Accounts::open()?;
    let id = accounts.resolve(Some(account))?;
    let t = {
        let entry = accounts.account(&id)?;
        match accounts.vault().read_record(&id)? {
            Some(rec)
                if entry.status != AccountStatus::NeedsSignIn
                    && rec.fresh_enough(60, crate::now()) =>
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
    let mut cmd = std::process::Command::new(prog);
    cmd.args(args).env(env_name, t.expose());
    drop(t);
    // Unix: exec(2), so the command keeps our pid and its own exit status; Windows: start,
    // wait and pass the exit code on (crate::platform).
    crate::platform::run_with_exit_code(cmd).map_err(|e| {
        UserError::new(
            "exec_failed",
            format!("Could not run {}: {e}", prog.to_string_lossy()),
            "Check the command name and your PATH.",
            ExitClass::Other,
        )
    })
}
