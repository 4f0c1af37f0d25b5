//! The one error shape people see: `{code, message, fix}`, plus the CLI's exit classes.

use crate::vault::store::StoreError;
use crate::vault::VaultError;
use serde::Serialize;

/// Exit codes of the command line (documented in the README).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ExitClass {
    /// 1: usage or anything else.
    Other = 1,
    /// 2: the account needs sign-in.
    NeedsSignIn = 2,
    /// 3: no usable credential store.
    Store = 3,
    /// 4: network or provider trouble.
    Network = 4,
    /// 5: the person (or the account's policy) did not let this program have the token.
    Denied = 5,
}

/// An error in plain words, with the action that fixes it. Never holds a secret.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct UserError {
    /// Stable machine-readable code.
    pub code: String,
    /// What happened.
    pub message: String,
    /// What to do next (often an exact command).
    pub fix: String,
    /// Which exit code the CLI uses.
    #[serde(skip)]
    pub class: ExitClass,
    /// A site the person must agree to before the action can go on (the window asks, then
    /// repeats the action with this value). Public information only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confirm: Option<String>,
}

impl UserError {
    /// Builds an error.
    pub fn new(
        code: &str,
        message: impl Into<String>,
        fix: impl Into<String>,
        class: ExitClass,
    ) -> Self {
        UserError {
            code: code.into(),
            message: message.into(),
            fix: fix.into(),
            class,
            confirm: None,
        }
    }

    /// The same error, asking the person to agree to `site` first.
    pub fn with_confirm(mut self, site: String) -> Self {
        self.confirm = Some(site);
        self
    }
}

impl std::fmt::Display for UserError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} — {}", self.message, self.fix)
    }
}

impl std::error::Error for UserError {}

impl From<crate::secret::NoRandomness> for UserError {
    fn from(e: crate::secret::NoRandomness) -> Self {
        UserError::new(
            crate::secret::NoRandomness::CODE,
            capitalize(&e.to_string()),
            crate::secret::NoRandomness::FIX,
            ExitClass::Other,
        )
    }
}

impl From<VaultError> for UserError {
    fn from(e: VaultError) -> Self {
        let class = match &e {
            VaultError::Store(StoreError::Corrupt(_)) | VaultError::BadRecord => {
                ExitClass::NeedsSignIn
            }
            VaultError::Store(_) => ExitClass::Store,
            _ => ExitClass::Other,
        };
        let message = match &e {
            VaultError::Store(s) => format!("Latchkey can't use your credential store: {s}"),
            other => capitalize(&other.to_string()),
        };
        UserError::new(e.code(), message, e.fix(), class)
    }
}

/// The sentence with a capital first letter, unless it starts with an address
/// (`http://…`), which is left exactly as written.
pub fn capitalize(s: &str) -> String {
    let first_word = s.split_whitespace().next().unwrap_or("");
    if first_word.contains("://") {
        return s.to_string();
    }
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A random source that fails is an error in words that names the fix, from both paths
    /// that can meet it (a new account's id; a sign-in's state and verifier).
    #[test]
    fn no_randomness_is_an_error_in_words_with_a_fix() {
        let u = UserError::from(crate::secret::NoRandomness);
        assert_eq!(u.code, "no_randomness");
        assert_eq!(
            u.message,
            "The system's random number source did not answer"
        );
        assert!(u.fix.starts_with("Latchkey makes a new random secret"));
        let o = crate::oauth::OAuthError::from(crate::secret::NoRandomness);
        assert_eq!(o.code(), "no_randomness");
        assert_eq!(o.fix(), u.fix);
        assert!(!o.is_transient() && !o.needs_sign_in());
    }

    /// A message that starts with an address keeps the address as written.
    #[test]
    fn sentences_are_capitalised_but_addresses_are_not() {
        assert_eq!(capitalize("the store is locked"), "The store is locked");
        assert_eq!(
            capitalize("http://127.0.0.1:40161/mcp does not say how to sign in"),
            "http://127.0.0.1:40161/mcp does not say how to sign in"
        );
        assert_eq!(capitalize(""), "");
    }
}
