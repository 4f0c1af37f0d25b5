//! The platform room: every difference between Linux, macOS and Windows that the use cases
//! meet, one function per concern. Nothing outside this module (and the desktop shell's own
//! tray and link glue) tests the operating system; callers ask here.
//!
//! | concern | Linux and the BSDs | macOS | Windows |
//! |---|---|---|---|
//! | [`harden_process`] (S26) | core dumps off (`RLIMIT_CORE` 0) | the same | no Windows Error Reporting dialog, no heap in its reports, and an unhandled exception ends the process at once (S31) |
//! | [`harden_cli`] (S26, F4) | also not dumpable (`PR_SET_DUMPABLE` 0): no apport image, no same-user attach | [`harden_process`] | [`harden_process`] |
//! | [`find_session_bus`] (SSH) | `$XDG_RUNTIME_DIR/bus` when `DBUS_SESSION_BUS_ADDRESS` is unset and the socket is this user's | the same (no effect) | nothing |
//! | [`machine_kind`] (keyring advice) | WSL, a container, SSH, no display, or a desktop | SSH or a desktop | a desktop |
//! | [`stderr_ansi`] | a terminal | a terminal | a console that accepted virtual-terminal mode; never in a pipe |
//! | [`with_echo_off`] | `stty -echo` | the same | the console's echo bit |
//! | [`run_with_exit_code`] (`exec`) | `exec(2)`: same pid, signals and exit code | the same | start, wait and pass the exit code; Ctrl+C reaches the child, the parent waits it out |
//! | [`hand_off`] (to `latchkey-desktop`) | `exec(2)` | the same | start it and return |
//! | [`open_url`], [`browser_command`] (S1, S29) | `xdg-open`; a configured command gets the URL as `"$1"` | `open` | `ShellExecuteW`; a configured command is split by the Windows rules, the URL is one quoted argument, interpreters are refused |
//! | [`same_user_peer`] (S4, S30) | `/proc/net/tcp` owner uid | no check (see SECURITY.md) | `GetExtendedTcpTable` owner pid, then that process's user SID |
//! | [`secure_dir`], [`secure_file`] | modes 0700 and 0600 | the same | the profile's own ACL (`%APPDATA%` is the person's, SYSTEM's and Administrators' only) |
//! | [`caller`] (issue 39) | `/proc/PID/{stat,exe,cwd}` | `proc_pidinfo`, `proc_pidpath` | a process snapshot, `QueryFullProcessImageNameW` (no working directory) |
//! | [`read_shared`], [`replace_file`] (the index) | `read`, `rename(2)` | the same | readers share delete access; a replace refused while another program holds the file is retried for 3 s |

pub mod caller;
pub mod cmdline;
mod process;
mod process_info;
pub mod tcp;

#[cfg(unix)]
mod unix;
#[cfg(unix)]
use unix as imp;
#[cfg(windows)]
mod windows;
#[cfg(windows)]
pub mod windows_procs;
#[cfg(windows)]
use windows as imp;

pub use imp::{
    can_open_url, find_session_bus, hand_off, harden_cli, harden_process, open_url, read_shared,
    replace_file, run_with_exit_code, same_user_peer, secure_dir, secure_file, stderr_ansi,
    with_echo_off,
};

pub use process::spawn_watched;

use crate::secret::Secret;
use std::process::Command;

/// What kind of machine this is, for advice on getting a credential store (issue 28).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MachineKind {
    /// A desktop session.
    Desktop,
    /// Logged in over SSH.
    Ssh,
    /// Windows Subsystem for Linux.
    Wsl,
    /// Inside a container.
    Container,
    /// No display and no SSH: a server or a bare console.
    Headless,
}

/// This machine's kind, from its environment and a few well-known files.
pub fn machine_kind() -> MachineKind {
    if cfg!(windows) {
        return MachineKind::Desktop;
    }
    machine_kind_from(
        |n| {
            std::env::var_os(n)
                .filter(|v| !v.is_empty())
                .map(|v| v.to_string_lossy().into_owned())
        },
        |p| std::path::Path::new(p).exists(),
        std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default(),
    )
}

/// [`machine_kind`] over given facts (so it can be tested).
pub fn machine_kind_from(
    env: impl Fn(&str) -> Option<String>,
    exists: impl Fn(&str) -> bool,
    kernel_release: String,
) -> MachineKind {
    if env("WSL_DISTRO_NAME").is_some()
        || env("WSL_INTEROP").is_some()
        || exists("/proc/sys/fs/binfmt_misc/WSLInterop")
        || kernel_release.to_lowercase().contains("microsoft")
    {
        MachineKind::Wsl
    } else if env("SSH_CONNECTION").is_some() || env("SSH_TTY").is_some() {
        // Before the container check: people SSH into their own computers far more often
        // than into containers, and "log in to your desktop session" is the likelier fix.
        MachineKind::Ssh
    } else if exists("/.dockerenv") || exists("/run/.containerenv") || env("container").is_some() {
        MachineKind::Container
    } else if env("DISPLAY").is_none()
        && env("WAYLAND_DISPLAY").is_none()
        && !cfg!(target_os = "macos")
    {
        MachineKind::Headless
    } else {
        MachineKind::Desktop
    }
}

/// Builds the process for a configured browser command and the URL (S1): on Unix the command
/// is shell text and the URL its positional parameter; on Windows the command is a Windows
/// command line and the URL one quoted argument (S29). An unusable command is an error that
/// says how to fix it.
pub fn browser_command(cmd: &str, url: &Secret) -> Result<Command, String> {
    imp::browser_command(cmd, url)
}

/// Checks a browser command before it is saved, so `latchkey config browser` refuses what
/// would fail later (on Unix any shell text is accepted).
pub fn check_browser_command(cmd: &str) -> Result<(), String> {
    imp::browser_command(cmd, &Secret::new("https://example.invalid/")).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(vars: &[(&str, &str)], files: &[&str], release: &str) -> MachineKind {
        machine_kind_from(
            |n| {
                vars.iter()
                    .find(|(k, _)| *k == n)
                    .map(|(_, v)| v.to_string())
            },
            |p| files.contains(&p),
            release.into(),
        )
    }

    #[test]
    fn the_machine_kind_picks_the_advice_for_a_keyring() {
        assert_eq!(
            kind(&[("WSL_DISTRO_NAME", "Debian")], &[], "6.6"),
            MachineKind::Wsl
        );
        assert_eq!(
            kind(&[], &[], "5.15.167.4-microsoft-standard-WSL2"),
            MachineKind::Wsl
        );
        assert_eq!(kind(&[], &["/.dockerenv"], "6.1"), MachineKind::Container);
        assert_eq!(
            kind(&[("container", "podman")], &[], "6.1"),
            MachineKind::Container
        );
        assert_eq!(
            kind(
                &[("SSH_CONNECTION", "1 2 3 4"), ("DISPLAY", ":0")],
                &[],
                "6.1"
            ),
            MachineKind::Ssh
        );
        assert_eq!(
            kind(&[("WAYLAND_DISPLAY", "wayland-0")], &[], "6.1"),
            MachineKind::Desktop
        );
        if !cfg!(target_os = "macos") {
            assert_eq!(kind(&[], &[], "6.1"), MachineKind::Headless);
        }
    }
}
