//! Logging setup. Only redacted forms of secrets ever reach `tracing` (S19).

use tracing_subscriber::EnvFilter;

/// Environment variable that sets the log filter (`debug`, `info`, `latchkey=trace`…).
pub const LOG_ENV: &str = "LATCHKEY_LOG";

/// The desktop app logs at `info` to stderr unless `LATCHKEY_LOG` says otherwise.
pub fn init_desktop() {
    let filter = EnvFilter::try_from_env(LOG_ENV).unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(crate::platform::stderr_ansi())
        .with_target(false)
        .try_init();
}

/// The command line is silent unless `LATCHKEY_LOG` is set; logs go to stderr only.
pub fn init_cli() {
    if let Ok(filter) = EnvFilter::try_from_env(LOG_ENV) {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .with_ansi(crate::platform::stderr_ansi())
            .with_target(false)
            .try_init();
    }
}
