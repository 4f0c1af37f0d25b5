//! `latchkey token`: a token valid for at least `--min-valid` seconds.

use super::output::println_out;
use super::runtime::runtime;
use crate::accounts::Accounts;
use crate::errors::UserError;
use crate::vault::index::AccountStatus;

/// The hot path: a fresh token is read and printed with no async runtime and no HTTP client.
pub(super) fn token(account: Option<&str>, min_valid: i64) -> Result<i32, UserError> {
    let accounts = Accounts::open()?;
    // One index read: the name, the entry and its provider binding (S24).
    let entry = accounts.account_to_hand_out(account)?;
    let id = entry.id.clone();
    super::consent::gate_entry(&accounts, &entry, "token")?;
    if entry.status != AccountStatus::NeedsSignIn {
        if let Some(rec) = accounts.vault().read_record(&id)? {
            if rec.fresh_enough(min_valid, crate::clock::now()) {
                println_out(rec.access_token.expose())?;
                return Ok(0);
            }
        }
    }
    let t = runtime()?.block_on(accounts.fresh_token(&id, min_valid))?;
    println_out(t.expose())?;
    Ok(0)
}
