//! Whether a program may have an account's token without asking the person (issue 39), what
//! the person decided before, and the record of every hand-out.

use super::Accounts;
use crate::activity::{self, Decision, Entry};
use crate::errors::{ExitClass, UserError};
use crate::platform::caller::Program;
use crate::vault::index::{AccountEntry, Approval, Policy};

/// What the account's policy and remembered approvals say about one program.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Hand it out, recorded as this.
    Allow(Decision),
    /// The person must be asked.
    Ask,
    /// Refuse, recorded as this.
    Deny(Decision),
}

/// How long an approval holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Remember {
    /// This once only.
    Once,
    /// For an hour.
    Hour,
    /// Until the person revokes it.
    Always,
}

/// The one-line refusal a program gets (exit 5, nothing on stdout).
pub fn refusal(account: &str, program: &Program, decision: Decision) -> UserError {
    let who = match &program.path {
        Some(p) => format!("{} ({p})", program.name),
        None => program.name.clone(),
    };
    let (message, fix) = match decision {
        Decision::DeniedByPolicy => (
            format!("The account {account} gives its token to no program; {who} asked."),
            format!("Copy it from Latchkey's window, or allow programs with `latchkey policy {account} ask-new`."),
        ),
        Decision::NobodyToAsk => (
            format!("The account {account} asks you before {who} may use it, and there was no Latchkey window or terminal to ask on."),
            format!("Open Latchkey and run the command again, or let programs use it without asking: `latchkey policy {account} allow`."),
        ),
        Decision::TimedOut => (
            format!("Nobody answered whether {who} may use the account {account}."),
            "Run the command again and answer in Latchkey's window.".to_string(),
        ),
        _ => (
            format!("You did not let {who} use the account {account}."),
            format!("Run the command again to be asked again, or change what the account allows: `latchkey policy {account} …`."),
        ),
    };
    UserError::new("denied", message, fix, ExitClass::Denied)
}

/// What `a`'s policy and remembered approvals say about `program` now (no I/O: the hot path
/// passes the entry it already read).
pub fn verdict_for(a: &AccountEntry, program: &Program) -> Verdict {
    let now = crate::clock::now();
    let remembered = program.path.as_deref().is_some_and(|path| {
        a.approvals
            .iter()
            .any(|ap| ap.path == path && ap.until.is_none_or(|u| u > now))
    });
    match a.policy.unwrap_or(Policy::Allow) {
        Policy::Allow => Verdict::Allow(Decision::AllowedByPolicy),
        Policy::Deny => Verdict::Deny(Decision::DeniedByPolicy),
        Policy::AskNew if remembered => Verdict::Allow(Decision::Remembered),
        Policy::AskNew | Policy::AskAlways => Verdict::Ask,
    }
}

impl Accounts {
    /// Keeps the person's "Allow this program" (by executable path; a program whose path the
    /// OS would not tell is never remembered).
    pub fn remember(&self, id: &str, program: &Program, how: Remember) -> Result<(), UserError> {
        let (Some(path), Remember::Hour | Remember::Always) = (program.path.clone(), how) else {
            return Ok(());
        };
        let now = crate::clock::now();
        let until = (how == Remember::Hour).then_some(now + 3600);
        let name = program.name.clone();
        self.vault.update_index(move |idx| {
            if let Some(a) = idx.account_mut(id) {
                a.approvals.retain(|ap| ap.path != path);
                a.approvals.push(Approval {
                    path,
                    name,
                    at: now,
                    until,
                });
            }
        })?;
        Ok(())
    }

    /// Sets an account's policy. Moving to `allow` or `deny` keeps the approvals listed (they
    /// count again under `ask-new`).
    pub fn set_policy(&self, id: &str, policy: Policy) -> Result<(), UserError> {
        let found = self.vault.update_index(|idx| {
            idx.account_mut(id)
                .map(|a| a.policy = Some(policy))
                .is_some()
        })?;
        if found {
            Ok(())
        } else {
            Err(super::unknown_account(id))
        }
    }

    /// Sets the policy new accounts get.
    pub fn set_default_policy(&self, policy: Policy) -> Result<(), UserError> {
        self.vault
            .update_index(|idx| idx.settings.default_policy = policy)?;
        Ok(())
    }

    /// Forgets one remembered approval; false when there was none for `path`.
    pub fn revoke_approval(&self, id: &str, path: &str) -> Result<bool, UserError> {
        Ok(self.vault.update_index(|idx| {
            idx.account_mut(id).is_some_and(|a| {
                let before = a.approvals.len();
                a.approvals.retain(|ap| ap.path != path);
                a.approvals.len() != before
            })
        })?)
    }

    /// Records a hand-out or a refusal in the activity log. A log that cannot be written is
    /// said on stderr-bound logs, and never stops or changes the hand-out.
    pub fn record(&self, id: &str, what: &str, program: Program, decision: Decision) {
        let entry = Entry {
            at: crate::clock::now(),
            account: id.to_string(),
            what: what.to_string(),
            program,
            decision,
        };
        if let Err(e) = activity::record(self.vault.dir(), entry) {
            tracing::warn!(error = %e, "the activity log could not be written");
        }
    }

    /// The activity log, newest first, optionally for one account and since a time.
    pub fn activity(&self, id: Option<&str>, since: Option<i64>) -> Result<Vec<Entry>, UserError> {
        let all = activity::read(self.vault.dir()).map_err(|e| {
            UserError::new(
                "activity_unreadable",
                format!("The activity log could not be read ({e})."),
                "Check that the data folder belongs to you.",
                ExitClass::Other,
            )
        })?;
        Ok(all
            .into_iter()
            .rev()
            .filter(|e| id.is_none_or(|id| e.account == id))
            .filter(|e| since.is_none_or(|s| e.at >= s))
            .collect())
    }
}
