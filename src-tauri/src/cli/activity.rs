//! `latchkey activity` and `latchkey policy` (issue 39): which programs used an account, and
//! who may without asking.

use super::output::{json_out, println_out, terminal_safe};
use crate::accounts::Accounts;
use crate::errors::{ExitClass, UserError};
use crate::vault::index::Policy;
use clap::{Args, ValueEnum};

/// `latchkey activity`'s arguments.
#[derive(Args, Debug)]
pub struct ActivityArgs {
    /// Only this account.
    pub account: Option<String>,
    /// Only since this long ago: 30s, 15m, 1h, 7d.
    #[arg(long)]
    pub since: Option<String>,
    /// Print JSON lines' entries as one JSON array, newest first.
    #[arg(long)]
    pub json: bool,
}

/// A policy, as the command line names it.
#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum PolicyArg {
    /// Every program gets the token without asking.
    Allow,
    /// Ask the first time each program asks, and remember the answer.
    AskNew,
    /// Ask every time.
    AskAlways,
    /// Only you, in Latchkey's window.
    Deny,
}

impl From<PolicyArg> for Policy {
    fn from(p: PolicyArg) -> Policy {
        match p {
            PolicyArg::Allow => Policy::Allow,
            PolicyArg::AskNew => Policy::AskNew,
            PolicyArg::AskAlways => Policy::AskAlways,
            PolicyArg::Deny => Policy::Deny,
        }
    }
}

/// `latchkey policy`'s arguments.
#[derive(Args, Debug)]
pub struct PolicyArgs {
    /// The account; without one (and without --default) every account's policy is listed.
    pub account: Option<String>,
    /// The policy to set; without one the account's policy and approvals are shown.
    #[arg(value_enum)]
    pub policy: Option<PolicyArg>,
    /// Set the policy new accounts get.
    #[arg(long, value_enum, conflicts_with_all = ["account", "policy"])]
    pub default: Option<PolicyArg>,
    /// Forget the approval of the program at this path.
    #[arg(
        long,
        value_name = "PATH",
        requires = "account",
        conflicts_with = "policy"
    )]
    pub revoke: Option<String>,
}

/// Reads `30s`, `15m`, `1h`, `7d` as seconds.
fn parse_since(s: &str) -> Result<i64, UserError> {
    let s = s.trim();
    let (n, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: i64 = n.parse().map_err(|_| since_error(s))?;
    let mult = match unit {
        "s" | "" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86400,
        _ => return Err(since_error(s)),
    };
    Ok(n.saturating_mul(mult))
}

fn since_error(s: &str) -> UserError {
    UserError::new(
        "usage",
        format!("--since {:?} is not a length of time.", terminal_safe(s)),
        "Write it as 30s, 15m, 1h or 7d.",
        ExitClass::Other,
    )
}

fn when(t: i64) -> String {
    super::helpers::rfc3339(t)
}

/// `latchkey activity`.
pub(super) fn activity(a: ActivityArgs) -> Result<i32, UserError> {
    let accounts = Accounts::open()?;
    let id = match &a.account {
        Some(name) => Some(accounts.resolve(Some(name))?),
        None => None,
    };
    let since = match &a.since {
        Some(s) => Some(crate::clock::now() - parse_since(s)?),
        None => None,
    };
    let entries = accounts.activity(id.as_deref(), since)?;
    if a.json {
        return json_out(&entries).map(|_| 0);
    }
    if entries.is_empty() {
        println_out("No program has asked for a token yet.")?;
        return Ok(0);
    }
    for e in &entries {
        let path = e.program.path.as_deref().unwrap_or("path unknown");
        let via = e
            .program
            .via
            .as_deref()
            .map(|v| format!(" in {v}"))
            .unwrap_or_default();
        println_out(&format!(
            "{}  {:<20} {:<10} {} ({path}, pid {}{via}): {}",
            when(e.at),
            terminal_safe(&e.account),
            e.what,
            terminal_safe(&e.program.name),
            e.program.pid,
            e.decision.words()
        ))?;
    }
    Ok(0)
}

/// `latchkey policy`.
pub(super) fn policy(a: PolicyArgs) -> Result<i32, UserError> {
    let accounts = Accounts::open()?;
    if let Some(p) = a.default {
        let p: Policy = p.into();
        accounts.set_default_policy(p)?;
        eprintln!(
            "New accounts get the policy {}; accounts you have keep theirs.",
            p.name()
        );
        return Ok(0);
    }
    let Some(name) = &a.account else {
        let idx = accounts.vault().index()?;
        println_out(&format!(
            "default for new accounts: {}",
            idx.settings.default_policy.name()
        ))?;
        for acc in &idx.accounts {
            println_out(&format!(
                "{:<24} {}",
                terminal_safe(&acc.id),
                acc.policy.unwrap_or_default().name()
            ))?;
        }
        return Ok(0);
    };
    let id = accounts.resolve(Some(name))?;
    if let Some(path) = &a.revoke {
        if !accounts.revoke_approval(&id, path)? {
            return Err(UserError::new(
                "not_found",
                format!("{id} has no approval for {}.", terminal_safe(path)),
                format!("See its approvals with `latchkey policy {id}`."),
                ExitClass::Other,
            ));
        }
        eprintln!(
            "{} must ask again before it gets {id}'s token.",
            terminal_safe(path)
        );
        return Ok(0);
    }
    if let Some(p) = a.policy {
        let p: Policy = p.into();
        accounts.set_policy(&id, p)?;
        eprintln!("{id}: {}.", describe(p));
        return Ok(0);
    }
    let entry = accounts.account(&id)?;
    let p = entry.policy.unwrap_or_default();
    println_out(&format!("{id}: {} ({})", p.name(), describe(p)))?;
    let now = crate::clock::now();
    for ap in entry
        .approvals
        .iter()
        .filter(|ap| ap.until.is_none_or(|u| u > now))
    {
        let until = ap.until.map(when).unwrap_or_else(|| "always".into());
        println_out(&format!(
            "  allowed: {} ({}) until {until}",
            terminal_safe(&ap.name),
            terminal_safe(&ap.path)
        ))?;
    }
    Ok(0)
}

fn describe(p: Policy) -> &'static str {
    match p {
        Policy::Allow => "every program gets its token without asking",
        Policy::AskNew => "you are asked the first time each program asks",
        Policy::AskAlways => "you are asked every time",
        Policy::Deny => "only you, in Latchkey's window, get its token",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_of_time_are_read_and_nonsense_refused() {
        assert_eq!(parse_since("90s").unwrap(), 90);
        assert_eq!(parse_since("15m").unwrap(), 900);
        assert_eq!(parse_since("1h").unwrap(), 3600);
        assert_eq!(parse_since("7d").unwrap(), 604800);
        assert!(parse_since("1w").is_err());
        assert!(parse_since("h").is_err());
    }
}
