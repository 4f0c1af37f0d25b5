//! `latchkey list`: the connected accounts and their status.

use super::output::{json_out, println_out};
use super::status::status_phrase;
use crate::accounts::Accounts;
use crate::errors::UserError;

pub(super) fn list(json: bool) -> Result<i32, UserError> {
    let accounts = Accounts::open()?;
    let all = accounts.list()?;
    if json {
        json_out(&all)?;
        return Ok(0);
    }
    if all.is_empty() {
        println_out("No accounts yet. Connect one with `latchkey login taskade` or open the app.")?;
        return Ok(0);
    }
    for a in &all {
        println_out(&format!(
            "{:<18} {:<10} {:<24} {}",
            a.id,
            a.provider,
            a.identity
                .as_deref()
                .or(a.resource.as_deref())
                .unwrap_or("(unknown)"),
            status_phrase(a)
        ))?;
    }
    Ok(0)
}
