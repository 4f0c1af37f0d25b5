//! How a process starts: what it was started to do (the desktop app, a sign-in link, or a
//! command), and the hand-over from `latchkey` to `latchkey-desktop`. The top of the house,
//! beside `cli` and `desktop`.

use crate::{accounts, cli, desktop, link, logging, oauth, paths, platform, vault};

/// Keeps tokens out of crash dumps and reports (S26, S31): see
/// [`platform::harden_process`].
pub fn no_core_dumps() {
    platform::harden_process();
}

/// What a process was started to do.
#[derive(Debug, PartialEq, Eq)]
pub enum LaunchMode {
    /// Open the desktop app (no arguments, or `--minimized` from autostart).
    Desktop { minimized: bool },
    /// Deliver a `dev.latchkey:` link: forward it to the running app, or start with it.
    Link(String),
    /// A command-line invocation; never touches GTK or WebKit.
    Cli,
}

/// Decides the launch mode from argv (without the program name).
pub fn launch_mode(args: &[std::ffi::OsString]) -> LaunchMode {
    match args {
        [] => LaunchMode::Desktop { minimized: false },
        [one] if one == "--minimized" => LaunchMode::Desktop { minimized: true },
        [one] => match one.to_str() {
            Some(s) if link::looks_like_our_link(s) => LaunchMode::Link(s.to_string()),
            _ => LaunchMode::Cli,
        },
        _ => LaunchMode::Cli,
    }
}

/// The name of the desktop program, installed next to `latchkey`.
pub use crate::install::DESKTOP_BIN;

/// The `latchkey` program: commands run here without loading the desktop stack; starting the
/// app or delivering a link execs `latchkey-desktop` with the same arguments.
pub fn run_command() -> i32 {
    no_core_dumps();
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    match launch_mode(&args) {
        LaunchMode::Cli => cli::main(args),
        LaunchMode::Link(url) => match link::validate(&url) {
            Ok(()) => hand_to_desktop(&args),
            Err(e) => {
                eprintln!("latchkey: {e}");
                1
            }
        },
        LaunchMode::Desktop { .. } => hand_to_desktop(&args),
    }
}

/// Hands over to `latchkey-desktop`: replaces this process on Unix (same pid and
/// environment); on Windows starts it and returns.
fn hand_to_desktop(args: &[std::ffi::OsString]) -> i32 {
    let exe = std::env::current_exe().ok().and_then(|p| {
        p.parent()
            .map(|d| d.join(format!("{DESKTOP_BIN}{}", std::env::consts::EXE_SUFFIX)))
    });
    let Some(exe) = exe.filter(|p| p.is_file()) else {
        eprintln!(
            "latchkey: the desktop app ({DESKTOP_BIN}) is not installed next to this program. Reinstall Latchkey, or run {DESKTOP_BIN} directly."
        );
        return 1;
    };
    let mut cmd = std::process::Command::new(&exe);
    cmd.args(args);
    platform::hand_off(cmd).unwrap_or_else(|e| {
        eprintln!("latchkey: could not start {} ({e}).", exe.display());
        1
    })
}

/// The `latchkey-desktop` program: returns the process exit code.
pub fn run() -> i32 {
    no_core_dumps();
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    match launch_mode(&args) {
        LaunchMode::Desktop { minimized } => {
            logging::init_desktop();
            desktop::run(None, minimized)
        }
        LaunchMode::Link(url) => match link::validate(&url) {
            Ok(()) if link_is_awaited(&url) => {
                logging::init_desktop();
                desktop::run(Some(url), false)
            }
            // S8: the desktop, not the person, started us with a link no sign-in is waiting
            // for (any web page can open one). Nothing is shown and nothing is written.
            Ok(()) => 0,
            Err(e) => {
                eprintln!("latchkey: {e}");
                1
            }
        },
        LaunchMode::Cli => not_the_command_line(&args),
    }
}

/// `latchkey-desktop` with anything but `--minimized` or a link: the commands live in the
/// `latchkey` program only, so the desktop program does not carry the command line's code
/// (issue 29: 1.75 MiB of the app's 20 MiB, measured at `opt-level` 3).
fn not_the_command_line(args: &[std::ffi::OsString]) -> i32 {
    match args.first().and_then(|a| a.to_str()) {
        Some("--version" | "-V") if args.len() == 1 => {
            println!("{DESKTOP_BIN} {}", env!("CARGO_PKG_VERSION"));
            0
        }
        _ => {
            let shown: Vec<String> = args
                .iter()
                .map(|a| a.to_string_lossy().into_owned())
                .collect();
            eprintln!(
                "{DESKTOP_BIN} opens the Latchkey app; it takes only --minimized or a dev.latchkey: link. Commands are run by the latchkey program: latchkey {}",
                shown.join(" ")
            );
            2
        }
    }
}

/// True when a link's state belongs to a sign-in waiting in this data folder. Reads the
/// index only, before any window, tray or lock exists.
pub fn link_is_awaited(url: &str) -> bool {
    let Some(state) = oauth::parse_callback(url).ok().and_then(|cb| cb.state) else {
        return false;
    };
    let Some(path) = paths::data_dir().map(|d| d.join("accounts.json")) else {
        return false;
    };
    match vault::index::load(&path) {
        Ok(loaded) => accounts::is_pending_in(&loaded.index, state.expose()),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsString;

    fn os(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    #[test]
    fn launch_mode_picks_desktop_link_or_cli() {
        assert_eq!(
            launch_mode(&os(&[])),
            LaunchMode::Desktop { minimized: false }
        );
        assert_eq!(
            launch_mode(&os(&["--minimized"])),
            LaunchMode::Desktop { minimized: true }
        );
        assert_eq!(
            launch_mode(&os(&["dev.latchkey:/oauth/callback?code=x&state=y"])),
            LaunchMode::Link("dev.latchkey:/oauth/callback?code=x&state=y".into())
        );
        assert_eq!(
            launch_mode(&os(&["DEV.LATCHKEY:/oauth/callback"])),
            LaunchMode::Link("DEV.LATCHKEY:/oauth/callback".into())
        );
        assert_eq!(launch_mode(&os(&["list"])), LaunchMode::Cli);
        assert_eq!(launch_mode(&os(&["--version"])), LaunchMode::Cli);
        assert_eq!(
            launch_mode(&os(&["https://evil.example/cb?code=x"])),
            LaunchMode::Cli
        );
        assert_eq!(
            launch_mode(&os(&["token", "dev.latchkey:/oauth/callback"])),
            LaunchMode::Cli
        );
    }
}
