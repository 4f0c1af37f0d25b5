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
    /// Linux: no D-Bus session bus to find a Secret Service on (an SSH login with no desktop
    /// session, a container, WSL, a server).
    #[error("there is no desktop session bus here, so no keyring can be reached")]
    NoSessionBus,
    /// Linux: a session bus, but nothing on it offers the Secret Service.
    #[error("no keyring (Secret Service) is running on this session's bus")]
    NoSecretService,
    /// Linux: the keyring is locked and its unlock prompt is waiting (on the desktop).
    #[error("the keyring is locked and is waiting for its password")]
    PromptWaiting,
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
            StoreError::NoSessionBus => "no_session_bus",
            StoreError::NoSecretService => "no_secret_service",
            StoreError::PromptWaiting => "keyring_prompt_waiting",
            StoreError::Locked => "keyring_locked",
            StoreError::Timeout(_) => "store_timeout",
            StoreError::TooLarge => "record_too_large",
            StoreError::PermissionDenied => "store_permission_denied",
            StoreError::Corrupt(_) => "record_corrupt",
            StoreError::NotPersistent => "store_not_persistent",
            StoreError::Other => "store_failure",
        }
    }

    /// What the person can do about it, for the kind of machine this is (issue 28).
    pub fn fix(&self) -> String {
        use crate::platform::MachineKind as K;
        let kind = crate::platform::machine_kind();
        let headless = "start a keyring for this shell with dbus-run-session and gnome-keyring-daemon --unlock, or use KeePassXC's Secret Service integration (the README's \"Networks and headless machines\" has the commands). Latchkey never keeps tokens in a plain file.";
        match self {
            StoreError::Unavailable => "Start your desktop's keyring (GNOME Keyring or KWallet) and log in to a desktop session; on a headless machine run Latchkey inside `dbus-run-session` with gnome-keyring-daemon started.".into(),
            StoreError::NoSessionBus => match kind {
                K::Wsl => format!("WSL has no keyring of its own. Use Windows' Latchkey from here (latchkey.exe token ACCOUNT works through WSL's Windows interop), or {headless}"),
                K::Container => format!("A container has no keyring. Run Latchkey on the host, or install gnome-keyring and dbus in the container and {headless}"),
                K::Ssh => format!("Log in to your desktop session on this computer and unlock its keyring: Latchkey finds it from SSH. Or {headless}"),
                K::Desktop | K::Headless => format!("Log in to a desktop session, or {headless}"),
            },
            StoreError::NoSecretService => "Install and start a keyring that offers the Secret Service: GNOME Keyring (package gnome-keyring), KWallet 5.97 or newer, or KeePassXC with Settings → Secret Service Integration on. Then try again.".into(),
            StoreError::Locked | StoreError::PromptWaiting if kind == K::Ssh => "Unlock your keyring in your desktop session (for example in the \"Passwords and Keys\" app); a password prompt can't reach this SSH shell. Then try again.".into(),
            StoreError::PromptWaiting => "Answer the keyring's password prompt on your desktop (or unlock the keyring in the \"Passwords and Keys\" app), then try again.".into(),
            StoreError::Locked => "Unlock your keyring (for example with the \"Passwords and Keys\" app, or `gnome-keyring-daemon --unlock`), then try again.".into(),
            StoreError::Timeout(_) => "Your keyring is not answering. Try again; if it keeps happening, restart it (log out and in), or answer a password prompt if one is open.".into(),
            StoreError::TooLarge => "This provider's tokens are unusually large. Report it to the Latchkey maintainers.".into(),
            StoreError::PermissionDenied => "Allow Latchkey to use your keychain when your system asks, then try again.".into(),
            StoreError::Corrupt(_) => "Sign in to this account again; Latchkey will replace the damaged record.".into(),
            StoreError::NotPersistent => "Install and start a persistent credential store such as GNOME Keyring (package gnome-keyring).".into(),
            StoreError::Other => "Try again. If it keeps failing, run with LATCHKEY_LOG=debug and report the log.".into(),
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
    /// Turns a vague failure (unavailable, no answer, locked) into the precise one, looking
    /// at the store from outside the worker (which may be stuck). The default keeps it.
    fn diagnoser(&self) -> fn(StoreError) -> StoreError {
        |e| e
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_has_a_code_and_a_fix() {
        for e in [
            StoreError::Unavailable,
            StoreError::NoSessionBus,
            StoreError::NoSecretService,
            StoreError::PromptWaiting,
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
