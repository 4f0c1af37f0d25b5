//! Who may have an account's token without asking (issue 39), kept with the account in the
//! index.

use serde::{Deserialize, Serialize};

/// Who gets an account's token without asking the person (issue 39).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Policy {
    /// Every program, without asking (as before policies).
    #[default]
    Allow,
    /// Ask the first time each program asks, and remember the answer.
    AskNew,
    /// Ask every time.
    AskAlways,
    /// Only the person, in Latchkey's window.
    Deny,
}

impl Policy {
    /// The name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Policy::Allow => "allow",
            Policy::AskNew => "ask-new",
            Policy::AskAlways => "ask-always",
            Policy::Deny => "deny",
        }
    }
}

/// A program the person allowed to get an account's token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approval {
    /// The program's executable path, from the OS.
    pub path: String,
    /// Its name when approved, for people.
    pub name: String,
    /// Unix seconds it was approved.
    pub at: i64,
    /// Unix seconds it holds until; `None`: always.
    #[serde(default)]
    pub until: Option<i64>,
}
