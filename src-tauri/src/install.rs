//! How this copy of Latchkey was installed. A package (the .deb or .rpm) installs the desktop
//! entry that makes Latchkey the `dev.latchkey:` link handler; a portable or development run has
//! none, so the app registers itself in the person's own applications folder at start.

use std::path::{Path, PathBuf};

/// The app id (tauri.conf.json's identifier): the desktop entry's name, the icon's name and
/// the window's WM_CLASS.
pub const APP_ID: &str = "dev.latchkey.app";

/// The desktop entry's file name, as the packages install it.
pub const DESKTOP_ENTRY: &str = "dev.latchkey.app.desktop";

/// The desktop app's program, installed next to `latchkey`.
pub const DESKTOP_BIN: &str = "latchkey-desktop";

/// The desktop entry a package installed for this very program, if there is one: some
/// `DIR/applications/dev.latchkey.app.desktop` in the XDG data dirs whose sibling
/// `DIR/../bin/<program>` is `exe` (e.g. /usr/share and /usr/bin). A build run from its
/// target folder, or a copy elsewhere, has none, even when a package is installed too.
pub fn packaged_entry(exe: &Path, data_dirs: &[PathBuf]) -> Option<PathBuf> {
    let exe = exe.canonicalize().ok()?;
    let name = exe.file_name()?;
    data_dirs.iter().find_map(|dir| {
        let entry = dir.join("applications").join(DESKTOP_ENTRY);
        let bin = dir.parent()?.join("bin").join(name);
        (entry.is_file() && bin.canonicalize().ok()? == exe).then_some(entry)
    })
}

/// `XDG_DATA_DIRS`, or its default when unset or empty (the XDG Base Directory spec).
pub fn data_dirs() -> Vec<PathBuf> {
    let raw = std::env::var("XDG_DATA_DIRS").unwrap_or_default();
    let dirs: Vec<PathBuf> = raw
        .split(':')
        .filter(|d| Path::new(d).is_absolute())
        .map(PathBuf::from)
        .collect();
    if dirs.is_empty() {
        vec![
            PathBuf::from("/usr/local/share"),
            PathBuf::from("/usr/share"),
        ]
    } else {
        dirs
    }
}

/// The desktop entry a package installed for the running program, if any.
pub fn installed_by_package() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    packaged_entry(&exe, &data_dirs())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prefix_with(entry: bool) -> (tempfile::TempDir, PathBuf) {
        let d = tempfile::tempdir().unwrap();
        let usr = d.path().join("usr");
        std::fs::create_dir_all(usr.join("bin")).unwrap();
        std::fs::create_dir_all(usr.join("share/applications")).unwrap();
        std::fs::write(usr.join("bin/latchkey-desktop"), b"").unwrap();
        if entry {
            std::fs::write(usr.join("share/applications").join(DESKTOP_ENTRY), b"").unwrap();
        }
        (d, usr)
    }

    #[test]
    fn a_program_next_to_its_packaged_entry_is_installed() {
        let (_d, usr) = prefix_with(true);
        let dirs = vec![PathBuf::from("/nonexistent/share"), usr.join("share")];
        assert_eq!(
            packaged_entry(&usr.join("bin/latchkey-desktop"), &dirs),
            Some(usr.join("share/applications").join(DESKTOP_ENTRY))
        );
    }

    #[test]
    fn a_program_elsewhere_registers_itself_even_when_a_package_is_installed() {
        let (_d, usr) = prefix_with(true);
        let other = tempfile::tempdir().unwrap();
        let dev = other.path().join("latchkey-desktop");
        std::fs::write(&dev, b"").unwrap();
        assert_eq!(packaged_entry(&dev, &[usr.join("share")]), None);
    }

    #[test]
    fn a_prefix_without_the_entry_is_not_a_package() {
        let (_d, usr) = prefix_with(false);
        assert_eq!(
            packaged_entry(&usr.join("bin/latchkey-desktop"), &[usr.join("share")]),
            None
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_symlink_to_the_installed_program_counts_as_installed() {
        let (_d, usr) = prefix_with(true);
        let other = tempfile::tempdir().unwrap();
        let link = other.path().join("latchkey-desktop");
        std::os::unix::fs::symlink(usr.join("bin/latchkey-desktop"), &link).unwrap();
        assert!(packaged_entry(&link, &[usr.join("share")]).is_some());
    }
}
