//! `latchkey logout`: revoke where the provider can, remove locally, and say which (S17).

use super::runtime::runtime;
use crate::accounts::Accounts;
use crate::errors::UserError;

/// Removes the account and prints what happened at the provider.
pub(super) fn logout(account: &str) -> Result<i32, UserError> {
    let accounts = Accounts::open()?;
    let id = accounts.resolve(Some(account))?;
    let report = runtime()?.block_on(accounts.remove(&id))?;
    eprintln!("{}", report.summary);
    Ok(0)
}

/// Removes every account, one after another; a failure is reported and the rest still go.
/// The exit code is the first failure's, or 0.
pub(super) fn logout_all() -> Result<i32, UserError> {
    let accounts = Accounts::open()?;
    let rt = runtime()?;
    let mut code = 0;
    let all = accounts.list()?;
    if all.is_empty() {
        eprintln!("No accounts to remove.");
    }
    for view in all {
        match rt.block_on(accounts.remove(&view.id)) {
            Ok(report) => eprintln!("{}: {}", view.id, report.summary),
            Err(e) => {
                eprintln!("{}: {e}", view.id);
                if code == 0 {
                    code = e.class as i32;
                }
            }
        }
    }
    Ok(code)
}
