//! `latchkey exec`: run a command with a fresh token in its environment.

use super::runtime::runtime;
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
    super::consent::gate(&accounts, &id, "exec")?;
    let (t, token_type) = {
        let entry = accounts.account(&id)?;
        match accounts.vault().read_record(&id)? {
            Some(rec)
                if entry.status != AccountStatus::NeedsSignIn
                    && rec.fresh_enough(60, crate::clock::now()) =>
            {
                let kind = if rec.is_dpop() { "DPoP" } else { "Bearer" };
                (rec.access_token, kind)
            }
            _ => {
                let h = runtime()?.block_on(accounts.handed_token(&id, 60))?;
                (
                    h.token,
                    if h.dpop_key.is_some() {
                        "DPoP"
                    } else {
                        "Bearer"
                    },
                )
            }
        }
    };
    if token_type == "DPoP" {
        eprintln!("latchkey: note: {id}'s token is bound to a key (DPoP): a request needs a proof too. Get both headers with `latchkey header {id} --method M --url URL`.");
    }
    let (prog, args) = command.split_first().ok_or_else(|| {
        UserError::new(
            "no_command",
            "No command to run.",
            "Put it after --, e.g. latchkey exec taskade -- curl ...",
            ExitClass::Other,
        )
    })?;
    let mut cmd = std::process::Command::new(prog);
    cmd.args(args)
        .env(env_name, t.expose())
        .env("LATCHKEY_TOKEN_TYPE", token_type);
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
