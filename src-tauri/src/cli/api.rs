//! `latchkey api`: a request to the account's own API with its token (like `gh api`).

use super::output::out_err;
use super::runtime::runtime;
use crate::accounts::Accounts;
use crate::errors::{ExitClass, UserError};
use clap::Args;
use std::io::{Read, Write};

#[derive(Args, Debug)]
pub(super) struct ApiArgs {
    /// Account to use.
    account: String,
    /// Path relative to the provider's API base (or a full URL on that base).
    path: String,
    /// HTTP method.
    #[arg(short = 'X', long = "method", default_value = "GET")]
    method: String,
    /// Extra header, 'Name: value' (repeatable).
    #[arg(short = 'H', long = "header")]
    headers: Vec<String>,
    /// Body: text, @file, or @- for stdin.
    #[arg(short = 'd', long = "data")]
    data: Option<String>,
    /// Print the status line and response headers before the body.
    #[arg(short = 'i', long)]
    include: bool,
}

pub(super) fn api(a: ApiArgs) -> Result<i32, UserError> {
    let mut headers = Vec::new();
    for h in &a.headers {
        let (k, v) = h.split_once(':').ok_or_else(|| {
            UserError::new(
                "bad_header",
                format!("{h:?} is not a header."),
                "Use -H 'Name: value'.",
                ExitClass::Other,
            )
        })?;
        headers.push((k.trim().to_string(), v.trim().to_string()));
    }
    let body = match a.data.as_deref() {
        None => None,
        Some("@-") => {
            let mut b = Vec::new();
            std::io::stdin().read_to_end(&mut b).map_err(|_| {
                UserError::new(
                    "stdin",
                    "Could not read the body from stdin.",
                    "Pipe the body in.",
                    ExitClass::Other,
                )
            })?;
            Some(b)
        }
        Some(s) if s.starts_with('@') => Some(std::fs::read(&s[1..]).map_err(|e| {
            UserError::new(
                "body_file",
                format!("Could not read {}: {e}", &s[1..]),
                "Check the file path.",
                ExitClass::Other,
            )
        })?),
        Some(s) => Some(s.as_bytes().to_vec()),
    };
    let accounts = Accounts::open()?;
    let id = accounts.resolve(Some(&a.account))?;
    super::consent::gate(&accounts, &id, "api")?;
    let resp = runtime()?.block_on(accounts.api_call(&id, &a.method, &a.path, &headers, body))?;
    let mut o = std::io::stdout().lock();
    if a.include {
        writeln!(o, "HTTP {}", resp.status).map_err(out_err)?;
        for (k, v) in &resp.headers {
            writeln!(o, "{k}: {v}").map_err(out_err)?;
        }
        writeln!(o).map_err(out_err)?;
    }
    let pretty = serde_json::from_str::<serde_json::Value>(&resp.body)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok());
    writeln!(o, "{}", pretty.unwrap_or(resp.body)).map_err(out_err)?;
    if resp.status >= 400 {
        eprintln!("latchkey: the API answered {}", resp.status);
        return Ok(if resp.status == 401 {
            ExitClass::NeedsSignIn as i32
        } else {
            ExitClass::Network as i32
        });
    }
    Ok(0)
}
