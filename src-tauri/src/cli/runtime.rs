//! The async runtime a command runs on: one thread, made per command.

use crate::errors::{ExitClass, UserError};

/// A current-thread runtime, or an error in words.
pub(super) fn runtime() -> Result<tokio::runtime::Runtime, UserError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            UserError::new(
                "runtime",
                format!("Could not start: {e}"),
                "Try again.",
                ExitClass::Other,
            )
        })
}
