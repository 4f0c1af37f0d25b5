//! Samples of the security batteries (the full runs: `./dev.sh battery`). Each sample runs the
//! `latchkey-battery` program in a session of its own (own D-Bus and gnome-keyring), because
//! killing clients in the middle of Secret Service calls has been seen to make
//! gnome-keyring-daemon abort on a GLib assertion a little later, which would take the shared
//! session's keyring away from the suites that follow.

use latchkey_e2e::*;
use std::process::Command;

/// One nested session at a time (each picks the first free X display).
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn battery(which: &str, env: &[(&str, &str)]) -> String {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let mut c = Command::new(root().join("tests/session.sh"));
    c.arg(profile_dir().join("latchkey-battery")).arg(which);
    for (k, v) in env {
        c.env(k, v);
    }
    let o = c.output().expect("tests/session.sh");
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(
        o.status.success(),
        "{which} battery failed:\n{out}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    out
}

/// S8: forged callbacks of every kind, through every door, while real sign-ins are pending:
/// no token request, nothing changed, and the real sign-ins still complete.
#[test]
fn forged_links_through_every_door_change_nothing_s8() {
    let out = battery(
        "links",
        &[
            ("BATTERY_LINKS", "450"),
            ("BATTERY_LOOPBACK", "180"),
            ("BATTERY_FORWARD", "27"),
            ("BATTERY_COLD", "2"),
        ],
    );
    eprintln!("{out}");
    assert!(out.contains("token requests at the IdP: 0"), "{out}");
    assert!(out.contains("unchanged: true"), "{out}");
    assert!(
        out.contains("real sign-ins completed afterwards: true"),
        "{out}"
    );
    for kind in latchkey_e2e::battery::KINDS {
        assert!(
            out.contains(&format!("kind {kind}: ")),
            "{kind} not sent: {out}"
        );
    }
}

/// kill -9 during refresh and save, in the command line and in the app: the index always
/// reads, and the account is usable or plainly needs sign-in.
#[test]
fn kill_9_during_refresh_never_damages_the_index_or_strands_an_account() {
    let out = battery("crash", &[("BATTERY_CRASH_RUNS", "12")]);
    eprintln!("{out}");
    assert!(out.contains("Crash runs: 12"), "{out}");
    assert!(out.contains("broken 0"), "{out}");
}
