//! `latchkey add-token`: a personal access token from stdin, never from argv.

use super::output::{println_out, read_stdin_secret};
use super::runtime::runtime;
use crate::accounts::Accounts;
use crate::errors::UserError;

/// Reads the token from stdin, checks it with one API call, and saves it.
pub(super) fn add_token(provider: &str, label: Option<String>) -> Result<i32, UserError> {
    let token = read_stdin_secret("personal access token")?;
    let accounts = Accounts::open()?;
    let v = runtime()?.block_on(accounts.add_token(provider, token, label))?;
    eprintln!(
        "Added {} account {}.",
        v.provider_name,
        v.identity.as_deref().unwrap_or(&v.id)
    );
    println_out(&v.id)?;
    Ok(0)
}
