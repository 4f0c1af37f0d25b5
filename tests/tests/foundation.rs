//! Foundation: a real window, real deep-link forwarding, the real Secret Service, and a CLI
//! that never needs a display.

use latchkey_e2e::*;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn window_opens_with_first_run_empty_state() {
    let home = TestHome::new();
    let app = WebApp::start(&home, &[]);
    let empty = app.wait_for("[data-view=empty]", Duration::from_secs(30));
    assert_eq!(app.title(), "Latchkey");
    let text = app.text(&empty);
    assert!(text.contains("Connect Taskade"), "{text}");
    assert!(
        text.contains("keyring"),
        "the empty state says what Latchkey does: {text}"
    );
    app.screenshot("empty-state");
}

#[test]
fn link_is_forwarded_to_the_running_app_and_the_second_process_exits() {
    let home = TestHome::new();
    note_pending_state(&home, "SECRETSTATE");
    let mut app = AppProcess::start(&home, &[], &[]);
    app.wait_log("Latchkey started", Duration::from_secs(30));

    let started = Instant::now();
    let out = wait_output(
        Command::new(bin())
            .arg("dev.latchkey:/oauth/callback?code=SECRETCODE&state=SECRETSTATE")
            .env("LATCHKEY_HOME", home.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
        Duration::from_secs(20),
    );
    assert!(out.status.success(), "second launch exits 0: {out:?}");
    assert!(started.elapsed() < Duration::from_secs(10));

    let log = app.wait_log("received a sign-in link", Duration::from_secs(10));
    assert!(log.contains("another launch was forwarded"));
    assert!(
        !log.contains("SECRETCODE") && !log.contains("SECRETSTATE"),
        "S8: the log must not hold the query:\n{log}"
    );
    assert!(app.running(), "the first instance keeps running");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        app_pids(home.path()).len(),
        1,
        "no second process stays behind"
    );
}

#[test]
fn cold_start_with_a_link_starts_the_app_and_handles_it() {
    let home = TestHome::new();
    // A link for a waiting sign-in starts the app (one for none exits at once: see desktop.rs).
    note_pending_state(&home, "COLDSTATE");
    let mut app = AppProcess::start(
        &home,
        &["dev.latchkey:/oauth/callback?code=COLDCODE&state=COLDSTATE"],
        &[],
    );
    let log = app.wait_log("received a sign-in link", Duration::from_secs(30));
    assert!(
        !log.contains("COLDCODE") && !log.contains("COLDSTATE"),
        "{log}"
    );
    assert!(app.running());
}

#[test]
fn malformed_or_foreign_links_get_one_clear_line_and_exit_1() {
    let home = TestHome::new();
    for (arg, expect) in [
        (
            "https://evil.example/cb?code=LEAKME",
            "only dev.latchkey: sign-in links",
        ),
        (
            "dev.latchkey:/elsewhere?code=LEAKME",
            "unknown Latchkey link",
        ),
        ("frobnicate", "unrecognized subcommand"),
    ] {
        let out = home.run(&[arg], None);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{arg}: {err}");
        assert!(err.contains(expect), "{arg}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
        assert!(!err.contains("LEAKME"), "the query is never echoed: {err}");
    }
}

#[test]
fn version_and_help_work_without_a_display() {
    let home = TestHome::new();
    let v = home.run(&["--version"], None);
    assert!(v.status.success());
    assert!(String::from_utf8_lossy(&v.stdout).starts_with("latchkey "));
    let h = home.run(&["--help"], None);
    assert!(h.status.success());
    assert!(String::from_utf8_lossy(&h.stdout).contains("Usage: latchkey"));
    let l = home.run(&["list"], None);
    assert!(l.status.success(), "{l:?}");
    assert!(String::from_utf8_lossy(&l.stdout).contains("No accounts yet"));
}

/// The commands live in `latchkey` only (issue 29: the desktop program no longer carries the
/// command line). `latchkey-desktop` with a command names the program to run instead, runs
/// nothing, opens no window and writes nothing; `--version` still answers.
#[test]
fn the_desktop_program_points_commands_to_latchkey() {
    let home = TestHome::new();
    let desktop = |args: &[&str]| home.desktop_cli().args(args).output().unwrap();
    let v = desktop(&["--version"]);
    assert!(v.status.success(), "{v:?}");
    assert_eq!(
        String::from_utf8_lossy(&v.stdout).trim(),
        format!("latchkey-desktop {}", env!("CARGO_PKG_VERSION"))
    );
    for args in [
        &["list"][..],
        &["token", "work", "--min-valid", "60"],
        &["--help"],
    ] {
        let o = desktop(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {o:?}");
        assert!(o.stdout.is_empty(), "{args:?}: nothing on stdout");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains(&format!("latchkey {}", args.join(" "))),
            "{args:?}: names the command to run: {err}"
        );
        assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    }
    assert_eq!(
        std::fs::read_dir(home.path())
            .map(|d| d.count())
            .unwrap_or(0),
        0,
        "nothing written"
    );
}

#[test]
fn secret_written_by_the_vault_is_visible_to_secret_tool() {
    use latchkey::secret::Secret;
    use latchkey::vault::{store::KeyringBackend, Vault};
    let home = TestHome::new();
    let vault = Vault::open_with(
        home.path(),
        Box::new(KeyringBackend::new().expect("persistent backend")),
        Duration::from_secs(5),
    )
    .unwrap();
    let user = format!("account:e2e-{}", free_port());
    vault
        .put_secret(&user, &Secret::new("visible-to-secret-tool"))
        .unwrap();
    let seen = secret_tool_lookup(&user)
        .expect("secret-tool finds the item: the real Secret Service is in use");
    assert!(seen.contains("visible-to-secret-tool"), "{seen}");
    assert!(vault.delete_secret(&user).unwrap());
    assert_eq!(secret_tool_lookup(&user), None);
}

/// `latchkey token` is on the hot path of people's scripts: the command binary must not load
/// GTK or WebKit (the desktop app is the separate `latchkey-desktop`, which it execs).
#[cfg(target_os = "linux")]
#[test]
fn the_command_binary_links_no_gui_libraries() {
    let needed = |b: &std::path::Path| {
        let o = std::process::Command::new("readelf")
            .arg("-d")
            .arg(b)
            .output()
            .expect("readelf (binutils)");
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .filter(|l| l.contains("(NEEDED)"))
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    let cli = needed(&bin());
    assert!(!cli.is_empty(), "readelf found no dynamic section");
    for gui in ["gtk", "webkit", "gdk", "soup", "javascriptcore", "ayatana"] {
        assert!(
            !cli.iter().any(|l| l.contains(gui)),
            "latchkey links {gui}: {cli:#?}"
        );
    }
    let desktop = needed(&bin().with_file_name("latchkey-desktop"));
    assert!(desktop.iter().any(|l| l.contains("webkit")), "{desktop:#?}");
}
