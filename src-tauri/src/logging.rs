//! Logging setup. Only redacted forms of secrets ever reach `tracing` (S19).
//!
//! `LATCHKEY_LOG` takes tracing's target syntax (`debug`, `info,latchkey=debug`, `latchkey=trace`)
//! through `Targets`, which needs no regular-expression engine (`EnvFilter` linked one into both
//! programs for a feature nobody used: issue 29).

use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Environment variable that sets the log filter (`debug`, `info`, `latchkey=trace`…).
pub const LOG_ENV: &str = "LATCHKEY_LOG";

/// The filter `LATCHKEY_LOG` asks for, when it is set and readable.
fn filter_from_env() -> Option<Targets> {
    std::env::var(LOG_ENV).ok()?.parse().ok()
}

fn init(filter: Targets) {
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(crate::platform::stderr_ansi())
        .with_target(false)
        .with_max_level(LevelFilter::TRACE)
        .finish()
        .with(filter)
        .try_init();
}

/// The desktop app logs at `info` to stderr unless `LATCHKEY_LOG` says otherwise.
pub fn init_desktop() {
    init(filter_from_env().unwrap_or_else(|| Targets::new().with_default(LevelFilter::INFO)));
}

/// The command line is silent unless `LATCHKEY_LOG` is set; logs go to stderr only.
pub fn init_cli() {
    if let Some(filter) = filter_from_env() {
        init(filter);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing::Level;

    /// The syntax the tests and the README use keeps working without `EnvFilter`.
    #[test]
    fn log_filters_read_the_documented_syntax() {
        let t: Targets = "info,latchkey=debug".parse().unwrap();
        assert!(t.would_enable("latchkey::oauth", &Level::DEBUG));
        assert!(!t.would_enable("hyper", &Level::DEBUG));
        assert!(t.would_enable("hyper", &Level::INFO));
        let t: Targets = "trace".parse().unwrap();
        assert!(t.would_enable("anything", &Level::TRACE));
    }
}
