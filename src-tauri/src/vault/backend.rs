//! What every credential-store backend shares: the service name, the backend trait, and its
//! errors in words a person can act on. The store and the Secret Service client both use it.

use crate::secret::Secret;

/// The keyring service name every Latchkey entry uses.
pub const SERVICE: &str = "latchkey";

/// A credential-store failure, already classified into something a person can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// No Secret Service / Keychain / Credential Manager could be reached.
    #[error("no credential store is running")]
    Unavailable,
    /// The store is there but locked.
    #[error("the keyring is locked")]
    Locked,
    /// The store did not answer in time.
    #[error("the credential store did not answer within {0} s")]
    Timeout(u64),
    /// A value exceeded the store's size limit even after chunking.
    #[error("the record is too large for the credential store")]
    TooLarge,
    /// The store refused access.
    #[error("the credential store denied access")]
    PermissionDenied,
    /// A stored value failed its length or checksum check.
    #[error("a stored record is damaged ({0})")]
    Corrupt(&'static str),
    /// The backend forgets items (a mock, or a session-only store).
    #[error("the credential store does not keep items after a restart")]
    NotPersistent,
    /// Anything else; the detail is logged, never shown.
    #[error("the credential store failed")]
    Other,
}

impl StoreError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            StoreError::Unavailable => "store_unavailable",
            StoreError::Locked => "keyring_locked",
            StoreError::Timeout(_) => "store_timeout",
            StoreError::TooLarge => "record_too_large",
            StoreError::PermissionDenied => "store_permission_denied",
            StoreError::Corrupt(_) => "record_corrupt",
            StoreError::NotPersistent => "store_not_persistent",
            StoreError::Other => "store_failure",
        }
    }

    /// What the person can do about it.
    pub fn fix(&self) -> &'static str {
        match self {
            StoreError::Unavailable => "Start your desktop's keyring (GNOME Keyring or KWallet) and log in to a desktop session; on a headless machine run Latchkey inside `dbus-run-session` with gnome-keyring-daemon started.",
            StoreError::Locked => "Unlock your keyring (for example with the \"Passwords and Keys\" app, or `gnome-keyring-daemon --unlock`), then try again.",
            StoreError::Timeout(_) => "Your keyring may be waiting for a password prompt. Answer it or unlock the keyring, then try again.",
            StoreError::TooLarge => "This provider's tokens are unusually large. Report it to the Latchkey maintainers.",
            StoreError::PermissionDenied => "Allow Latchkey to use your keychain when your system asks, then try again.",
            StoreError::Corrupt(_) => "Sign in to this account again; Latchkey will replace the damaged record.",
            StoreError::NotPersistent => "Install and start a persistent credential store such as GNOME Keyring (package gnome-keyring).",
            StoreError::Other => "Try again. If it keeps failing, run with LATCHKEY_LOG=debug and report the log.",
        }
    }
}

/// A backend: one string value per key. Implementations are synchronous and may block.
pub trait Backend: Send {
    /// Reads a value; `Ok(None)` when there is no entry.
    fn get(&self, key: &str) -> Result<Option<Secret>, StoreError>;
    /// Creates or replaces a value.
    fn set(&self, key: &str, value: &Secret) -> Result<(), StoreError>;
    /// Deletes a value; `Ok(false)` when there was none.
    fn delete(&self, key: &str) -> Result<bool, StoreError>;
    /// Human name of where secrets go, e.g. "GNOME Keyring via Secret Service".
    fn describe(&self) -> String;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_has_a_code_and_a_fix() {
        for e in [
            StoreError::Unavailable,
            StoreError::Locked,
            StoreError::Timeout(5),
            StoreError::TooLarge,
            StoreError::PermissionDenied,
            StoreError::Corrupt("x"),
            StoreError::NotPersistent,
            StoreError::Other,
        ] {
            assert!(!e.code().is_empty());
            assert!(e.fix().len() > 20);
            assert!(!e.to_string().to_lowercase().contains("dbus"));
        }
    }
}
