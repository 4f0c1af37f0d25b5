//! Where Latchkey keeps its files: the platform config dir, or `LATCHKEY_HOME`.

use std::path::PathBuf;

/// The environment variable that moves all of Latchkey's files (tests, portable setups).
pub const HOME_ENV: &str = "LATCHKEY_HOME";

/// The data directory: `$LATCHKEY_HOME`, else `<config dir>/latchkey`. `None` when this
/// user has no config folder: Latchkey then refuses to start rather than keep its list in a
/// shared temporary folder another user could have prepared.
pub fn data_dir() -> Option<PathBuf> {
    data_dir_from(std::env::var_os(HOME_ENV), dirs::config_dir())
}

fn data_dir_from(home: Option<std::ffi::OsString>, config: Option<PathBuf>) -> Option<PathBuf> {
    if let Some(home) = home.filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(home));
    }
    Some(config?.join("latchkey"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// No config folder and no LATCHKEY_HOME: no data folder at all, never a shared
    /// temporary one.
    #[test]
    fn without_a_config_folder_there_is_no_data_folder() {
        assert_eq!(data_dir_from(None, None), None);
        assert_eq!(data_dir_from(Some("".into()), None), None);
        assert_eq!(
            data_dir_from(None, Some("/home/a/.config".into())),
            Some(PathBuf::from("/home/a/.config/latchkey"))
        );
        assert_eq!(
            data_dir_from(Some("/x".into()), None),
            Some(PathBuf::from("/x"))
        );
    }
}
