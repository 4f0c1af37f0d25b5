//! The vault on the real Secret Service: scale, large records, failure modes, processes
//! writing at once, and crash safety of the index.

use latchkey::secret::Secret;
use latchkey::vault::index::{AccountEntry, AccountKind, AccountStatus};
use latchkey::vault::TokenRecord;
use latchkey_e2e::*;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn entry(id: &str) -> AccountEntry {
    AccountEntry {
        id: id.into(),
        provider: "taskade".into(),
        label: None,
        identity: Some(format!("user-{id}")),
        scopes: vec!["api".into()],
        expires_at: Some(latchkey::clock::now() + 3600),
        status: AccountStatus::Valid,
        kind: AccountKind::Oauth,
        client_id: None,
        created: latchkey::clock::now(),
        updated: latchkey::clock::now(),
        last_refresh: None,
        binding: None,
        subject: None,
        policy: None,
        approvals: Vec::new(),
    }
}

fn record(token: &str) -> TokenRecord {
    TokenRecord {
        access_token: Secret::new(token),
        refresh_token: Some(Secret::new(format!("{token}-refresh"))),
        expires_at: Some(latchkey::clock::now() + 3600),
        token_type: "Bearer".into(),
        scopes: vec!["api".into()],
        issued_at: latchkey::clock::now(),
        id_token: None,
        dpop_key: None,
    }
}

#[test]
fn round_trip_overwrite_and_delete_on_the_real_store() {
    let home = TestHome::new();
    let acc = accounts_in(&home);
    let v = acc.vault();
    let id = format!("rt{}", free_port());
    v.add_account(entry(&id), &record("first")).unwrap();
    assert_eq!(
        v.read_record(&id).unwrap().unwrap().access_token.expose(),
        "first"
    );
    v.write_record(&id, &record("second")).unwrap();
    assert_eq!(
        v.read_record(&id).unwrap().unwrap().access_token.expose(),
        "second"
    );
    assert!(secret_tool_lookup(&format!("account:{id}"))
        .unwrap()
        .contains("second"));
    v.remove_account(&id).unwrap();
    assert!(v.read_record(&id).unwrap().is_none());
    assert_eq!(secret_tool_lookup(&format!("account:{id}")), None);
}

/// One Secret Service connection serves every call of a process. keyring v3 opened a new
/// connection and key exchange per call, and that churn crashed gnome-keyring under load.
#[test]
fn one_secret_service_connection_serves_every_call() {
    use latchkey::vault::store::{self, KeyringBackend, CHUNK_LIMIT};
    let b = KeyringBackend::new().unwrap();
    let key = format!("conn-test:{}", free_port());
    for i in 0..20 {
        // Every other value is chunked, so writes, sweeps and multi-item reads all go through.
        let v = if i % 2 == 0 {
            format!("v{i}")
        } else {
            "x".repeat(3000 + i)
        };
        store::put(&b, &key, &Secret::new(v.clone()), CHUNK_LIMIT).unwrap();
        assert_eq!(store::get(&b, &key).unwrap().unwrap().expose(), v);
    }
    assert!(store::remove(&b, &key).unwrap());
    assert!(store::get(&b, &key).unwrap().is_none());
    assert_eq!(b.connections_opened(), 1);
}

#[test]
fn fifty_accounts_and_an_8_kb_record_round_trip() {
    let home = TestHome::new();
    let acc = accounts_in(&home);
    let v = acc.vault();
    let base = free_port();
    for i in 0..50 {
        v.add_account(
            entry(&format!("f{base}-{i}")),
            &record(&format!("tok-{base}-{i}")),
        )
        .unwrap();
    }
    assert_eq!(acc.list().unwrap().len(), 50);
    for i in 0..50 {
        assert_eq!(
            v.read_record(&format!("f{base}-{i}"))
                .unwrap()
                .unwrap()
                .access_token
                .expose(),
            format!("tok-{base}-{i}")
        );
    }
    let mut big = record("big");
    big.id_token = Some(Secret::new("J".repeat(8 * 1024)));
    let id = format!("big{base}");
    v.add_account(entry(&id), &big).unwrap();
    assert_eq!(v.read_record(&id).unwrap().unwrap(), big);
    assert!(
        secret_tool_lookup(&format!("account:{id}#0.0")).is_some(),
        "stored in chunks in the real store"
    );
    v.remove_account(&id).unwrap();
    assert_eq!(
        secret_tool_lookup(&format!("account:{id}#0.0")),
        None,
        "chunks removed with the account"
    );
    for i in 0..50 {
        v.remove_account(&format!("f{base}-{i}")).unwrap();
    }
}

/// Runs `latchkey` in a fresh D-Bus session whose keyring daemon was started but never
/// unlocked, so the login collection is locked or missing.
#[test]
fn a_locked_keyring_gives_a_clear_error() {
    let home = TestHome::new();
    let script = format!(
        "gnome-keyring-daemon --start --components=secrets >/dev/null 2>&1; exec {} status",
        bin().display()
    );
    // An account in the index makes `status` read the store.
    let acc = accounts_in(&home);
    let id = format!("locked{}", free_port());
    acc.vault()
        .add_account(entry(&id), &record("kept-while-locked"))
        .unwrap();
    // A new runtime dir means a new daemon, which finds the session's login keyring on disk
    // but locked (nobody gave it the password).
    let runtime = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let o = Command::new("dbus-run-session")
        .args(["--", "sh", "-c", &script])
        .env("LATCHKEY_HOME", home.path())
        .env("XDG_RUNTIME_DIR", runtime.path())
        .env_remove("GNOME_KEYRING_CONTROL")
        .env_remove("DISPLAY")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map(|c| wait_output(c, Duration::from_secs(40)))
        .unwrap();
    let out = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(o.status.code(), Some(3), "{out}");
    assert!(
        out.contains("keyring is locked") || out.contains("did not answer"),
        "{out}"
    );
    assert!(
        out.to_lowercase().contains("unlock"),
        "names the fix: {out}"
    );
    // dbus-daemon writes its own notices to stderr; Latchkey's words are on stdout.
    let ours = String::from_utf8_lossy(&o.stdout);
    assert!(
        !ours.contains("NoStorageAccess") && !ours.contains("org.freedesktop"),
        "no raw D-Bus text: {ours}"
    );
    assert!(started.elapsed() < Duration::from_secs(40));
}

#[test]
fn no_dbus_session_gives_a_clear_error_within_the_timeout() {
    let home = TestHome::new();
    let acc = accounts_in(&home);
    acc.vault()
        .update_index(|idx| idx.accounts.push(entry("nodbus1")))
        .unwrap();
    for bus in [None, Some("unix:path=/nonexistent/bus")] {
        let started = Instant::now();
        let mut c = home.cli();
        c.env_remove("DBUS_SESSION_BUS_ADDRESS")
            .args(["token", "nodbus1"]);
        if let Some(b) = bus {
            c.env("DBUS_SESSION_BUS_ADDRESS", b);
        }
        let o = c.output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(3), "{err}");
        assert!(
            err.contains("there is no desktop session bus here"),
            "{err}"
        );
        assert!(
            err.contains("gnome-keyring") && err.contains("KeePassXC"),
            "names the ways to get one: {err}"
        );
        assert!(err.contains("never keeps tokens in a plain file"), "{err}");
        assert!(
            !err.contains("autolaunch") && !err.contains("PlatformFailure"),
            "{err}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(8),
            "within the 5 s store timeout"
        );
    }
}

#[test]
fn canary_token_never_reaches_the_index_logs_or_errors_s19() {
    let canary = "tskdp_CANARY_vault_91c2";
    let idp = Idp::start_with(IdpConfig {
        pats: vec![canary.into()],
        ..Default::default()
    });
    let home = TestHome::new();
    home.point_taskade_at(&idp);
    let mut c = home.cli();
    c.env("LATCHKEY_LOG", "trace")
        .args(["add-token", "taskade"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(canary.as_bytes())
        .unwrap();
    let o = wait_output(child, Duration::from_secs(30));
    assert!(o.status.success());
    let id = String::from_utf8_lossy(&o.stdout).trim().to_string();
    let mut seen = String::from_utf8_lossy(&o.stderr).to_string();
    for args in [
        vec!["list", "--json"],
        vec!["status", "--json"],
        vec!["status"],
        vec!["providers"],
    ] {
        let mut c = home.cli();
        let o = c.env("LATCHKEY_LOG", "trace").args(&args).output().unwrap();
        seen.push_str(&String::from_utf8_lossy(&o.stdout));
        seen.push_str(&String::from_utf8_lossy(&o.stderr));
    }
    assert!(
        seen.contains("add_token") || seen.contains("account saved"),
        "trace logging was on"
    );
    assert!(
        !seen.contains(canary),
        "S19: the canary leaked into output or logs"
    );
    for f in walk(home.path()) {
        let bytes = std::fs::read(&f).unwrap_or_default();
        assert!(
            !String::from_utf8_lossy(&bytes).contains(canary),
            "S18: canary in {}",
            f.display()
        );
    }
    assert!(secret_tool_lookup(&format!("account:{id}"))
        .unwrap()
        .contains(canary));
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

fn add_token_cmd(home: &TestHome, idp: &Idp, token: &str) -> std::process::Child {
    home.point_taskade_at(idp);
    let mut c = home.cli();
    c.args(["add-token", "taskade", "--label", token])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(token.as_bytes())
        .unwrap();
    child
}

#[test]
fn four_processes_adding_accounts_at_once_lose_none() {
    let pats: Vec<String> = (0..4)
        .flat_map(|p| (0..5).map(move |i| format!("tskdp_par_{p}_{i}")))
        .collect();
    let idp = Idp::start_with(IdpConfig {
        pats: pats.clone(),
        ..Default::default()
    });
    let home = TestHome::new();
    let mut workers = Vec::new();
    for p in 0..4 {
        let (home_path, issuer) = (home.path().to_path_buf(), idp.issuer.clone());
        let mine: Vec<String> = pats
            .iter()
            .filter(|t| t.starts_with(&format!("tskdp_par_{p}_")))
            .cloned()
            .collect();
        workers.push(std::thread::spawn(move || {
            for t in mine {
                let mut c = Command::new(bin());
                c.env("LATCHKEY_HOME", &home_path)
                    .env("LATCHKEY_TASKADE_BASE", &issuer)
                    .args(["add-token", "taskade", "--label", &t])
                    .stdin(Stdio::piped())
                    .stdout(Stdio::null())
                    .stderr(Stdio::piped());
                let mut child = c.spawn().unwrap();
                use std::io::Write;
                child.stdin.take().unwrap().write_all(t.as_bytes()).unwrap();
                let o = wait_output(child, Duration::from_secs(30));
                assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
            }
        }));
    }
    for w in workers {
        w.join().unwrap();
    }
    let index = home.index();
    let labels: std::collections::BTreeSet<String> = index["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a["label"].as_str().map(str::to_string))
        .collect();
    assert_eq!(
        labels.len(),
        20,
        "every one of the 20 accounts is in the index"
    );
    for a in index["accounts"].as_array().unwrap() {
        assert!(secret_tool_lookup(&format!("account:{}", a["id"].as_str().unwrap())).is_some());
    }
}

#[test]
fn kill_9_during_writes_never_leaves_a_damaged_or_missing_index() {
    let pats: Vec<String> = (0..30).map(|i| format!("tskdp_kill_{i}")).collect();
    let idp = Idp::start_with(IdpConfig {
        pats: pats.clone(),
        ..Default::default()
    });
    let home = TestHome::new();
    let mut ok = add_token_cmd(&home, &idp, &pats[0]);
    assert!(ok.wait().unwrap().success());
    let mut killed = 0;
    let mut seed: u64 = 0x9e3779b97f4a7c15;
    for t in &pats[1..] {
        let mut child = add_token_cmd(&home, &idp, t);
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        std::thread::sleep(Duration::from_millis(seed % 120));
        if child.try_wait().unwrap().is_none() {
            let _ = child.kill();
            killed += 1;
        }
        let _ = child.wait();
        let raw = std::fs::read(home.path().join("accounts.json")).expect("the index still exists");
        let v: serde_json::Value =
            serde_json::from_slice(&raw).expect("the index is never damaged");
        assert!(
            !v["accounts"].as_array().unwrap().is_empty(),
            "the first account is never lost"
        );
        assert!(!home
            .path()
            .read_dir()
            .unwrap()
            .flatten()
            .any(|e| e.file_name().to_string_lossy().contains("damaged")));
    }
    eprintln!(
        "kill -9 loop: {killed} of {} writers killed mid-run",
        pats.len() - 1
    );
    assert!(killed > 0, "the loop must actually interrupt writers");
}

/// Issue 28, item 3: over SSH into one's own desktop, `DBUS_SESSION_BUS_ADDRESS` is unset but
/// the session's bus is at `$XDG_RUNTIME_DIR/bus`: Latchkey finds it and uses that session's
/// unlocked keyring. A socket there owned by another user is never used.
#[test]
fn over_ssh_the_desktop_sessions_bus_is_found_by_its_usual_path() {
    use std::os::unix::fs::PermissionsExt;
    use std::process::{Command, Stdio};
    let idp = Idp::start_with(IdpConfig {
        pats: vec!["tskdp_over_ssh".into()],
        ..Default::default()
    });
    // "The desktop session": its own bus on a socket file and an unlocked keyring on it.
    let desk = tempfile::tempdir().unwrap();
    let runtime = desk.path().join("runtime");
    let keyrings = desk.path().join("home");
    std::fs::create_dir_all(&runtime).unwrap();
    std::fs::create_dir_all(&keyrings).unwrap();
    std::fs::set_permissions(&runtime, std::fs::Permissions::from_mode(0o700)).unwrap();
    let bus = runtime.join("bus");
    let address = format!("unix:path={}", bus.display());
    /// Ends the desktop session's processes however the test ends.
    struct Session(Vec<std::process::Child>);
    impl Drop for Session {
        fn drop(&mut self) {
            for c in self.0.iter_mut().rev() {
                let _ = c.kill();
                let _ = c.wait();
            }
        }
    }
    let mut session = Session(Vec::new());
    session.0.push(
        Command::new("dbus-daemon")
            .args(["--session", "--nofork", &format!("--address={address}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("dbus-daemon"),
    );
    let started = Instant::now();
    while !bus.exists() {
        assert!(started.elapsed() < Duration::from_secs(10), "no bus socket");
        std::thread::sleep(Duration::from_millis(50));
    }
    let desktop_env = |c: &mut Command| {
        c.env("DBUS_SESSION_BUS_ADDRESS", &address)
            .env("XDG_RUNTIME_DIR", &runtime)
            .env("HOME", &keyrings)
            .env("XDG_DATA_HOME", keyrings.join("data"));
    };
    let mut keyring = Command::new("sh");
    keyring
        .args([
            "-c",
            "printf pw | exec gnome-keyring-daemon --foreground --unlock --components=secrets",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    desktop_env(&mut keyring);
    session
        .0
        .push(keyring.spawn().expect("gnome-keyring-daemon"));
    // The daemon owns the Secret Service once its control socket is there; a client asking
    // earlier would make the bus start a second, prompting one.
    let started = Instant::now();
    while !runtime.join("keyring/control").exists() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "no keyring control socket"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut ready = false;
    for _ in 0..50 {
        let mut probe = Command::new("sh");
        probe.args([
            "-c",
            "printf probe | timeout 5 secret-tool store --label=probe purpose latchkey-ssh-probe",
        ]);
        desktop_env(&mut probe);
        if probe
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
        {
            ready = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(ready, "the desktop session's keyring did not start");

    // "The SSH shell": no bus address, the same runtime directory.
    let home = TestHome::new();
    home.point_taskade_at(&idp);
    let mut c = home.cli();
    c.env_remove("DBUS_SESSION_BUS_ADDRESS")
        .env("XDG_RUNTIME_DIR", &runtime)
        .args(["add-token", "taskade"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    std::io::Write::write_all(&mut stdin, b"tskdp_over_ssh\n").unwrap();
    drop(stdin);
    let o = wait_output(child, Duration::from_secs(60));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let id = String::from_utf8_lossy(&o.stdout).trim().to_string();
    let mut look = Command::new("timeout");
    look.args([
        "10",
        "secret-tool",
        "lookup",
        "service",
        "latchkey",
        "username",
        &format!("account:{id}"),
    ]);
    desktop_env(&mut look);
    let found = look.output().unwrap();
    assert!(
        String::from_utf8_lossy(&found.stdout).contains("tskdp_over_ssh"),
        "the token is in the desktop session's keyring"
    );
    assert_eq!(
        secret_tool_lookup(&format!("account:{id}")),
        None,
        "and not in the test session's"
    );
    let mut c = home.cli();
    c.env_remove("DBUS_SESSION_BUS_ADDRESS")
        .env("XDG_RUNTIME_DIR", &runtime)
        .args(["token", &id]);
    let o = c.output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "tskdp_over_ssh");

    // Another user's socket at that path is not used.
    let other = tempfile::tempdir().unwrap();
    let trap = std::os::unix::net::UnixListener::bind(other.path().join("bus")).unwrap();
    trap.set_nonblocking(true).unwrap();
    std::os::unix::fs::chown(other.path().join("bus"), Some(65534), Some(65534)).unwrap();
    let mut c = home.cli();
    c.env_remove("DBUS_SESSION_BUS_ADDRESS")
        .env("XDG_RUNTIME_DIR", other.path())
        .args(["token", &id]);
    let o = c.output().unwrap();
    assert_eq!(
        o.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        trap.accept().is_err(),
        "no connection to another user's socket"
    );
    let e = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(e.contains("no desktop session bus"), "{e}");

    // Each failure says what it is (issue 28, item 3), with the fix for an SSH shell.
    let ssh = |runtime: &std::path::Path, bus: Option<&str>| {
        let mut c = home.cli();
        c.env_remove("DBUS_SESSION_BUS_ADDRESS")
            .env("XDG_RUNTIME_DIR", runtime)
            .env("SSH_CONNECTION", "192.0.2.1 50000 192.0.2.2 22")
            .args(["token", &id]);
        if let Some(b) = bus {
            c.env("DBUS_SESSION_BUS_ADDRESS", b);
        }
        let o = c.output().unwrap();
        assert_eq!(o.status.code(), Some(3), "{o:?}");
        let e = String::from_utf8_lossy(&o.stderr).to_string();
        assert_eq!(e.trim().lines().count(), 1, "{e}");
        assert!(!e.contains("org.freedesktop"), "no D-Bus names: {e}");
        e
    };
    // No bus at all: not a timeout, not "a password prompt".
    let nothing = tempfile::tempdir().unwrap();
    let e = ssh(nothing.path(), None);
    assert!(e.contains("there is no desktop session bus here"), "{e}");
    assert!(e.contains("Log in to your desktop session"), "{e}");
    assert!(
        !e.contains("did not answer") && !e.contains("prompt"),
        "{e}"
    );
    // A bus with nothing offering the Secret Service (and nothing to start one).
    let bare = tempfile::tempdir().unwrap();
    let bare_bus = bare.path().join("bus");
    std::fs::create_dir(bare.path().join("services")).unwrap();
    std::fs::write(
        bare.path().join("bus.conf"),
        format!(
            r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN" "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig><type>session</type><listen>unix:path={}</listen><servicedir>{}</servicedir>
<policy context="default"><allow send_destination="*" eavesdrop="true"/><allow eavesdrop="true"/><allow own="*"/></policy></busconfig>"#,
            bare_bus.display(),
            bare.path().join("services").display()
        ),
    )
    .unwrap();
    session.0.push(
        Command::new("dbus-daemon")
            .args(["--nofork", "--config-file"])
            .arg(bare.path().join("bus.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("dbus-daemon"),
    );
    let started = Instant::now();
    while !bare_bus.exists() {
        assert!(started.elapsed() < Duration::from_secs(10), "no bare bus");
        std::thread::sleep(Duration::from_millis(50));
    }
    let e = ssh(bare.path(), None);
    assert!(e.contains("no keyring (Secret Service) is running"), "{e}");
    assert!(
        e.contains("KeePassXC") && e.contains("gnome-keyring"),
        "{e}"
    );
    // The desktop's keyring locked: said plainly, with the fix for an SSH shell.
    let mut lock = Command::new("gdbus");
    lock.args([
        "call",
        "--session",
        "--dest",
        "org.freedesktop.secrets",
        "--object-path",
        "/org/freedesktop/secrets",
        "--method",
        "org.freedesktop.Secret.Service.Lock",
        "['/org/freedesktop/secrets/collection/login']",
    ]);
    desktop_env(&mut lock);
    let locked = lock.output().unwrap();
    assert!(
        String::from_utf8_lossy(&locked.stdout).contains("/collection/login"),
        "{locked:?}"
    );
    let e = ssh(&runtime, None);
    assert!(e.contains("keyring is locked"), "{e}");
    assert!(e.contains("can't reach this SSH shell"), "{e}");
}
