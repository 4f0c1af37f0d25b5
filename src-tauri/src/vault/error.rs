//! Everything that can go wrong in the vault, with a stable code and a fix.

use super::index::IndexError;
use super::store::StoreError;

/// Everything that can go wrong in the vault.
#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    /// Credential store trouble.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Index file trouble.
    #[error(transparent)]
    Index(#[from] IndexError),
    /// Another process held the account lock for too long.
    #[error("another Latchkey process is busy with this account")]
    LockTimeout,
    /// The stored record could not be decoded.
    #[error("the stored record for this account is damaged")]
    BadRecord,
    /// No folder of this user's to keep the account list in.
    #[error("there is no configuration folder for this user (HOME and XDG_CONFIG_HOME are unset)")]
    NoDataDir,
}

impl VaultError {
    /// Stable code.
    pub fn code(&self) -> &'static str {
        match self {
            VaultError::Store(e) => e.code(),
            VaultError::Index(e) => e.code(),
            VaultError::LockTimeout => "account_busy",
            VaultError::BadRecord => "record_corrupt",
            VaultError::NoDataDir => "no_data_dir",
        }
    }

    /// What to do.
    pub fn fix(&self) -> String {
        match self {
            VaultError::Store(e) => e.fix(),
            VaultError::Index(e) => e.fix(),
            VaultError::LockTimeout => "Wait a moment and try again. If it persists, quit other Latchkey windows or scripts.".into(),
            VaultError::BadRecord => "Sign in to this account again; Latchkey will replace the damaged record.".into(),
            VaultError::NoDataDir => "Set HOME, or set LATCHKEY_HOME to a folder only you can write to.".into(),
        }
    }
}

/// The same error again, for every update of a batch whose write failed.
pub(super) fn duplicate(e: &VaultError) -> VaultError {
    match e {
        VaultError::Store(s) => VaultError::Store(s.clone()),
        VaultError::Index(IndexError::NewerSchema { found }) => {
            VaultError::Index(IndexError::NewerSchema { found: *found })
        }
        VaultError::Index(IndexError::Io {
            action,
            path,
            source,
        }) => VaultError::Index(IndexError::Io {
            action,
            path: path.clone(),
            source: std::io::Error::new(source.kind(), source.to_string()),
        }),
        VaultError::LockTimeout => VaultError::LockTimeout,
        VaultError::BadRecord => VaultError::BadRecord,
        VaultError::NoDataDir => VaultError::NoDataDir,
    }
}
