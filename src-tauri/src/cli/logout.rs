//! `latchkey logout`: revoke where the provider can, remove locally, and say which (S17).

use super::runtime;
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
