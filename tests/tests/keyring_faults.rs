//! Credential-store faults: the session's one gnome-keyring daemon is stopped, hidden and
//! locked, so this file holds a single test and runs alone (cargo runs test files one after
//! another). Each fault: one clear line, exit code 3, nothing lost or written in plain text,
//! and everything works again afterwards.

use latchkey_e2e::*;
use std::process::Command;
use std::time::Duration;

fn signal(pid: u32, sig: &str) {
    assert!(Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .unwrap()
        .success());
}

#[test]
fn a_hanging_absent_or_locked_keyring_is_a_clear_error_and_recovers() {
    let idp = Idp::start();
    let home = TestHome::new();
    let id = cli_login(&home, &idp);
    let (o, _) = run_timed(&home, &idp, &["token", &id], &[]);
    assert!(o.status.success());
    let token = String::from_utf8_lossy(&o.stdout).trim().to_string();
    let index_before = std::fs::read(home.path().join("accounts.json")).unwrap();
    // A long-lived process (the app) keeps one connection; it must survive the daemon restart.
    let kept = latchkey::vault::store::KeyringBackend::new().unwrap();
    let record_key = latchkey::vault::account_key(&id);
    let record_before = latchkey::vault::store::get(&kept, &record_key)
        .unwrap()
        .unwrap();
    assert_eq!(kept.connections_opened(), 1);

    // Hanging: the daemon is stopped mid-session. The store worker gives up after 5 s.
    let pid = keyring_daemon_pid();
    signal(pid, "-STOP");
    let (o, took) = run_timed(&home, &idp, &["token", &id], &[]);
    signal(pid, "-CONT");
    assert_eq!(o.status.code(), Some(3), "{}", stderr_of(&o));
    assert!(took < Duration::from_secs(15), "gave up after {took:?}");
    let e = stderr_of(&o);
    assert_eq!(e.trim().lines().count(), 1, "{e}");
    assert!(
        e.to_lowercase().contains("keyring") || e.contains("credential store"),
        "{e}"
    );
    assert!(!e.contains(&token));

    // Absent: no session bus at all (a bare SSH login).
    let (o, _) = run_timed(
        &home,
        &idp,
        &["token", &id],
        &[("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus")],
    );
    assert_eq!(o.status.code(), Some(3), "{}", stderr_of(&o));
    assert_eq!(stderr_of(&o).trim().lines().count(), 1, "{}", stderr_of(&o));

    // Locked: the collection is locked and no unlock prompt can be shown here. A locked
    // store makes Secret Service clients wait for a prompt; the worker gives up after 5 s.
    let o = Command::new("gdbus")
        .args([
            "call",
            "--session",
            "--dest",
            "org.freedesktop.secrets",
            "--object-path",
            "/org/freedesktop/secrets",
            "--method",
            "org.freedesktop.Secret.Service.Lock",
            "['/org/freedesktop/secrets/collection/login']",
        ])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("/collection/login"),
        "{o:?}"
    );
    let (o, took) = run_timed(&home, &idp, &["token", &id], &[]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr_of(&o));
    assert!(took < Duration::from_secs(15), "took {took:?}");
    assert_eq!(stderr_of(&o).trim().lines().count(), 1, "{}", stderr_of(&o));
    // The person unlocks it (here: the daemon restarts and unlocks with the password).
    assert!(Command::new("sh")
        .arg("-c")
        // In the foreground, as tests/session.sh starts it, for the suites that follow.
        .arg("(printf pw | gnome-keyring-daemon --replace --foreground --unlock --components=secrets >>\"$LATCHKEY_SESSION_ROOT/keyring.log\" 2>&1 &); sleep 1")
        .status()
        .unwrap()
        .success());
    std::thread::sleep(Duration::from_millis(500));

    // Nothing was lost or written in plain text, and everything works again.
    assert_eq!(
        std::fs::read(home.path().join("accounts.json")).unwrap(),
        index_before
    );
    assert!(canary_hits(home.path()).is_empty());
    let (o, _) = run_timed(&home, &idp, &["token", &id], &[]);
    assert!(o.status.success(), "{}", stderr_of(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), token);
    assert_eq!(idp.check_token(&token), 200);
    // The kept connection died with the old daemon; the next call reconnects once.
    let record_after = latchkey::vault::store::get(&kept, &record_key)
        .unwrap()
        .unwrap();
    assert_eq!(record_after.expose(), record_before.expose());
    assert_eq!(kept.connections_opened(), 2);
}
