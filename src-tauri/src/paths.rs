//! Where Latchkey keeps its files: the platform config dir, or `LATCHKEY_HOME`.

use std::path::PathBuf;

/// The environment variable that moves all of Latchkey's files (tests, portable setups).
pub const HOME_ENV: &str = "LATCHKEY_HOME";

/// The data directory: `$LATCHKEY_HOME`, else `<config dir>/latchkey`.
pub fn data_dir() -> PathBuf {
    if let Some(home) = std::env::var_os(HOME_ENV).filter(|v| !v.is_empty()) {
        return PathBuf::from(home);
    }
    dirs::config_dir()
        .unwrap_or_else(|| std::env::temp_dir().join("latchkey-no-config-dir"))
        .join("latchkey")
}
