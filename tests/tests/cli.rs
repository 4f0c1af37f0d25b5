//! The `latchkey` command line against the real IdP and Secret Service, with no display.

use latchkey_e2e::*;
use std::io::Write;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

/// Runs the CLI against `idp` with optional stdin.
fn run(home: &TestHome, idp: &Idp, args: &[&str], stdin: Option<&str>) -> Output {
    run_against(home, idp, args, stdin, &[])
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

#[test]
fn one_click_taskade_login_registers_once_and_prints_the_account_id() {
    let idp = Idp::start();
    let home = TestHome::new();
    let id = cli_login(&home, &idp);
    assert!(id.starts_with("taskade-"), "{id}");
    assert_eq!(
        idp.stats()["registrations"],
        1,
        "a public client was registered (RFC 7591)"
    );
    assert_eq!(
        home.index()["registrations"]["taskade"]["redirect_uri"],
        "http://127.0.0.1/callback/taskade"
    );
    // A second sign-in reuses the registration and the same account (same handle).
    let again = cli_login(&home, &idp);
    assert_eq!(again, id);
    assert_eq!(idp.stats()["registrations"], 1);
    let token = run(&home, &idp, &["token", &id], None);
    assert!(token.status.success(), "{}", stderr_of(&token));
    let t = stdout(&token);
    assert_eq!(idp.check_token(&t), 200);
    assert_eq!(
        String::from_utf8_lossy(&token.stdout),
        format!("{t}\n"),
        "only the token and a newline"
    );
    let list = run(&home, &idp, &["list", "--json"], None);
    let v: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    assert_eq!(v[0]["identity"], "alice");
    assert_eq!(v[0]["provider"], "taskade");
    assert!(
        !String::from_utf8_lossy(&list.stdout).contains(&t),
        "S22: list never prints a token"
    );
}

#[test]
fn personal_token_comes_from_stdin_and_never_from_argv() {
    let pat = "tskdp_canary_cli_7781";
    let idp = Idp::start_with(IdpConfig {
        pats: vec![pat.into()],
        ..Default::default()
    });
    let home = TestHome::new();
    home.point_taskade_at(&idp);
    let mut c = home.cli();
    c.args(["add-token", "taskade", "--label", "work"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    std::thread::sleep(Duration::from_millis(150));
    let cmdline = std::fs::read(format!("/proc/{}/cmdline", child.id())).unwrap_or_default();
    assert!(
        !String::from_utf8_lossy(&cmdline).contains(pat),
        "the token is not in argv (ps)"
    );
    child
        .stdin
        .take()
        .unwrap()
        .write_all(pat.as_bytes())
        .unwrap();
    let o = wait_output(child, Duration::from_secs(30));
    assert!(o.status.success(), "{}", stderr_of(&o));
    let id = stdout(&o);
    let index = std::fs::read_to_string(home.path().join("accounts.json")).unwrap();
    assert!(!index.contains(pat), "the token is not in the index");
    assert!(secret_tool_lookup(&format!("account:{id}"))
        .unwrap()
        .contains(pat));
    assert_eq!(stdout(&run(&home, &idp, &["token", &id], None)), pat);
    // A rejected token: a clear message, nothing saved.
    let bad = run(
        &home,
        &idp,
        &["add-token", "taskade"],
        Some("tskdp_not_valid"),
    );
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        stderr_of(&bad).contains("Taskade did not accept this token"),
        "{}",
        stderr_of(&bad)
    );
    assert!(stderr_of(&bad).contains("Settings → API"));
    assert!(!stderr_of(&bad).contains("tskdp_not_valid"));
    assert_eq!(home.index()["accounts"].as_array().unwrap().len(), 1);
}

#[test]
fn exit_codes_follow_the_documented_classes() {
    let idp = Idp::start_with(IdpConfig {
        access_ttl: 2,
        ..Default::default()
    });
    let home = TestHome::new();
    let id = cli_login(&home, &idp);
    // 1: usage, unknown account.
    let o = run(&home, &idp, &["token", "nobody"], None);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr_of(&o).contains("latchkey list"), "{}", stderr_of(&o));
    // 3: credential store unavailable (no D-Bus session), within the timeout.
    let started = Instant::now();
    let mut c = home.cli();
    let o = c
        .env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus")
        .args(["token", &id])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(3), "{}", stderr_of(&o));
    assert!(started.elapsed() < Duration::from_secs(15));
    let e = stderr_of(&o);
    assert!(
        e.contains("credential store") && e.contains("keyring"),
        "{e}"
    );
    assert!(
        !e.to_lowercase().contains("org.freedesktop"),
        "no D-Bus jargon: {e}"
    );
    assert_eq!(e.trim().lines().count(), 1);
    // 4: the provider is unreachable and the token has expired.
    std::thread::sleep(Duration::from_secs(3));
    drop(idp);
    let mut c = home.cli();
    let o = c.args(["token", &id]).output().unwrap();
    assert_eq!(o.status.code(), Some(4), "{}", stderr_of(&o));
    assert!(
        stderr_of(&o).contains("Check your internet connection"),
        "{}",
        stderr_of(&o)
    );
}

#[test]
fn needs_sign_in_exits_2_with_the_login_command() {
    let idp = Idp::start_with(IdpConfig {
        access_ttl: 2,
        ..Default::default()
    });
    let home = TestHome::new();
    let id = cli_login(&home, &idp);
    let rec = accounts_in(&home)
        .vault()
        .read_record(&id)
        .unwrap()
        .unwrap();
    reqwest::blocking::Client::new()
        .post(format!("{}/oauth2/revoke", idp.issuer))
        .form(&[
            ("token", rec.refresh_token.as_ref().unwrap().expose()),
            (
                "client_id",
                home.index()["registrations"]["taskade"]["client_id"]
                    .as_str()
                    .unwrap(),
            ),
        ])
        .send()
        .unwrap();
    std::thread::sleep(Duration::from_secs(3));
    let o = run(&home, &idp, &["token", &id], None);
    assert_eq!(o.status.code(), Some(2), "{}", stderr_of(&o));
    assert!(
        stderr_of(&o).contains("run: latchkey login taskade")
            || stderr_of(&o).contains("Run: latchkey login taskade"),
        "{}",
        stderr_of(&o)
    );
    let st = run(&home, &idp, &["status", &id], None);
    assert_eq!(st.status.code(), Some(2));
    let text = stdout(&st);
    assert!(
        text.contains("✗") && text.contains("latchkey login taskade"),
        "{text}"
    );
    assert!(
        text.contains("Stored in: GNOME Keyring via Secret Service"),
        "{text}"
    );
}

#[test]
fn exec_puts_the_token_in_the_environment_and_passes_the_exit_code() {
    let idp = Idp::start();
    let home = TestHome::new();
    let id = cli_login(&home, &idp);
    let t = stdout(&run(&home, &idp, &["token", &id], None));
    let script = format!("test \"$LATCHKEY_TOKEN\" = '{t}' && exit 7; exit 9");
    let o = run(&home, &idp, &["exec", &id, "--", "sh", "-c", &script], None);
    assert_eq!(o.status.code(), Some(7));
    let script = format!("test \"$MY_TOKEN\" = '{t}' && exit 0; exit 9");
    let o = run(
        &home,
        &idp,
        &["exec", &id, "--env", "MY_TOKEN", "--", "sh", "-c", &script],
        None,
    );
    assert_eq!(o.status.code(), Some(0));
}

#[test]
fn api_calls_the_provider_and_refuses_other_hosts_s11() {
    let idp = Idp::start();
    let home = TestHome::new();
    let id = cli_login(&home, &idp);
    let o = run(&home, &idp, &["api", &id, "workspaces"], None);
    assert!(o.status.success(), "{}", stderr_of(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["items"][0]["name"], "Home");
    let o = run(&home, &idp, &["api", &id, "-i", "me/projects"], None);
    assert!(stdout(&o).starts_with("HTTP 200"), "{}", stdout(&o));
    let o = run(
        &home,
        &idp,
        &["api", &id, "https://evil.example/api/v1/workspaces"],
        None,
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr_of(&o).contains("only sends your Taskade token to Taskade's own API"),
        "{}",
        stderr_of(&o)
    );
}

#[test]
fn logout_revokes_and_wipes_s17() {
    let idp = Idp::start();
    let home = TestHome::new();
    let id = cli_login(&home, &idp);
    let t = stdout(&run(&home, &idp, &["token", &id], None));
    let o = run(&home, &idp, &["logout", &id], None);
    assert!(o.status.success(), "{}", stderr_of(&o));
    assert!(
        stderr_of(&o).contains("Signed out at the provider"),
        "{}",
        stderr_of(&o)
    );
    assert_eq!(idp.check_token(&t), 401);
    // The refresh token and then the access token (S17).
    assert_eq!(idp.stats()["revocations"], 2);
    assert_eq!(secret_tool_lookup(&format!("account:{id}")), None);
    assert!(stdout(&run(&home, &idp, &["list"], None)).contains("No accounts yet"));
}

/// F6: logging out while a refresh is in flight waits for it, revokes the tokens it
/// produced and leaves nothing in the keyring (the refresh's write used to recreate the
/// record after the wipe, with a live grant the person believed signed out).
#[test]
fn logout_during_a_refresh_leaves_no_live_grant_s17() {
    let idp = Idp::start_with(IdpConfig {
        rotate: true,
        ..Default::default()
    });
    let home = TestHome::new();
    let id = cli_login(&home, &idp);
    idp.set_mode(serde_json::json!({ "tokenReplyDelayMs": 3000 }));
    let refresh = home
        .cli()
        .args(["refresh", &id])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The refresh has reached the IdP (which has rotated) and waits for its answer.
    let t0 = std::time::Instant::now();
    while idp.stats()["token_requests"].as_u64().unwrap() < 2 {
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "the refresh never reached the IdP"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let before = idp.stats()["revocations"].as_u64().unwrap();
    let o = run(&home, &idp, &["logout", &id], None);
    let r = wait_output(refresh, Duration::from_secs(60));
    idp.set_mode(serde_json::json!({ "tokenReplyDelayMs": 0 }));
    assert!(o.status.success(), "{}", stderr_of(&o));
    assert!(
        stderr_of(&o).contains("Signed out at the provider"),
        "{}",
        stderr_of(&o)
    );
    assert!(
        r.status.success(),
        "the refresh finished first: {}",
        stderr_of(&r)
    );
    assert_eq!(
        idp.stats()["revocations"].as_u64().unwrap() - before,
        2,
        "the refreshed refresh token and access token were revoked"
    );
    assert_eq!(
        secret_tool_lookup(&format!("account:{id}")),
        None,
        "nothing written back after the wipe"
    );
    assert!(stdout(&run(&home, &idp, &["list"], None)).contains("No accounts yet"));
}

#[test]
fn logout_all_revokes_and_wipes_every_account() {
    let idp = Idp::start_with(IdpConfig {
        pats: vec!["tskdp_all_test".into()],
        ..Default::default()
    });
    let home = TestHome::new();
    let id = cli_login(&home, &idp);
    let t = stdout(&run(&home, &idp, &["token", &id], None));
    let o = run(
        &home,
        &idp,
        &["add-token", "taskade"],
        Some("tskdp_all_test"),
    );
    assert!(o.status.success(), "{}", stderr_of(&o));
    let pat = stdout(&o);
    assert_ne!(pat, id);
    let o = run(&home, &idp, &["logout", "--all"], None);
    assert!(o.status.success(), "{}", stderr_of(&o));
    let err = stderr_of(&o);
    assert!(
        err.contains(&format!("{id}: Signed out at the provider")),
        "{err}"
    );
    assert_eq!(idp.check_token(&t), 401);
    assert_eq!(secret_tool_lookup(&format!("account:{id}")), None);
    assert!(err.contains(&format!("{pat}: ")), "{err}");
    assert_eq!(secret_tool_lookup(&format!("account:{pat}")), None);
    assert!(stdout(&run(&home, &idp, &["list"], None)).contains("No accounts yet"));
    let o = run(&home, &idp, &["logout", "--all"], None);
    assert!(o.status.success());
    assert!(stderr_of(&o).contains("No accounts to remove"));
    // An account or --all, not both, not neither.
    assert!(!home.run(&["logout"], None).status.success());
    assert!(!home.run(&["logout", "x", "--all"], None).status.success());
}

#[test]
fn completions_generate_for_every_shell() {
    let home = TestHome::new();
    for shell in ["bash", "zsh", "fish"] {
        let o = home.run(&["completions", shell], None);
        assert!(o.status.success());
        assert!(
            String::from_utf8_lossy(&o.stdout).contains("add-token"),
            "{shell}"
        );
    }
}

#[test]
fn provider_add_discovers_endpoints_from_an_issuer() {
    let idp = Idp::start();
    let home = TestHome::new();
    let o = run(
        &home,
        &idp,
        &[
            "provider",
            "add",
            "corp",
            "--issuer",
            &idp.issuer,
            "--client-id",
            "latchkey-public",
        ],
        None,
    );
    assert!(o.status.success(), "{}", stderr_of(&o));
    let p = &home.index()["providers"][0];
    assert_eq!(p["token_url"], format!("{}/oauth2/token", idp.issuer));
    assert_eq!(p["iss_required"], true);
    let o = run(&home, &idp, &["login", "corp"], None);
    assert!(o.status.success(), "{}", stderr_of(&o));
    let o = run(&home, &idp, &["provider", "remove", "corp"], None);
    assert_eq!(o.status.code(), Some(1), "in use");
    assert!(stderr_of(&o).contains("latchkey logout"));
    // A confidential client: its secret comes from stdin, is kept for that client only, and
    // goes when the provider does.
    let add = |id: &str, client: Option<&str>| {
        let mut args = vec!["provider", "add", id, "--issuer", idp.issuer.as_str()];
        args.extend(client.map(|c| ["--client-id", c]).into_iter().flatten());
        args.push("--client-secret-stdin");
        run(&home, &idp, &args, Some("basic-secret-value\n"))
    };
    let o = add("nosecretclient", None);
    assert!(!o.status.success());
    assert!(stderr_of(&o).contains("--client-id"), "{}", stderr_of(&o));
    let o = add("corp2", Some("latchkey-basic"));
    assert!(o.status.success(), "{}", stderr_of(&o));
    assert!(secret_tool_lookup("client-secret:corp2:latchkey-basic")
        .is_some_and(|s| s.trim_end().ends_with("basic-secret-value")));
    let o = run(&home, &idp, &["login", "corp2"], None);
    assert!(o.status.success(), "basic auth sign-in: {}", stderr_of(&o));
    let o = run(&home, &idp, &["logout", stdout(&o).as_str()], None);
    assert!(o.status.success(), "{}", stderr_of(&o));
    let o = run(&home, &idp, &["provider", "remove", "corp2"], None);
    assert!(o.status.success(), "{}", stderr_of(&o));
    assert!(secret_tool_lookup("client-secret:corp2:latchkey-basic").is_none());
    let bad = run(
        &home,
        &idp,
        &[
            "provider",
            "add",
            "insecure",
            "--auth-url",
            "http://idp.example/a",
            "--token-url",
            "http://idp.example/t",
        ],
        None,
    );
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        stderr_of(&bad).contains("https"),
        "S20: {}",
        stderr_of(&bad)
    );
}

/// Over SSH or on a server there is no browser to open: with no display and no browser
/// command, `login` switches to the device flow by itself, shows the address and code on
/// stderr, and finishes once the person approves elsewhere. `--device` asks for it directly.
#[test]
fn login_without_a_browser_falls_back_to_the_device_flow() {
    use std::io::{BufRead, BufReader};
    let idp = Idp::start();
    let home = TestHome::new();
    let o = run(
        &home,
        &idp,
        &[
            "provider",
            "add",
            "corp",
            "--issuer",
            &idp.issuer,
            "--client-id",
            "latchkey-public",
        ],
        None,
    );
    assert!(o.status.success(), "{}", stderr_of(&o));
    assert_eq!(
        home.index()["providers"][0]["device_url"],
        format!("{}/oauth2/device", idp.issuer),
        "discovered from the metadata"
    );
    for args in [&["login", "corp"][..], &["login", "corp", "--device"][..]] {
        let mut c = home.cli();
        c.env_remove("LATCHKEY_BROWSER")
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = c.spawn().unwrap();
        let mut err = BufReader::new(child.stderr.take().unwrap());
        let mut seen = String::new();
        let (page, code) = loop {
            let mut line = String::new();
            assert!(
                err.read_line(&mut line).unwrap() > 0,
                "stderr ended: {seen}"
            );
            seen.push_str(&line);
            if let Some(rest) = line.trim().strip_prefix("To sign in, open ") {
                let (page, code) = rest
                    .split_once(" on any device and enter the code: ")
                    .unwrap();
                break (page.to_string(), code.to_string());
            }
        };
        assert_eq!(page, format!("{}/device", idp.issuer));
        // The person types the code by hand on the plain page.
        let done = approve_device(&page, &code);
        assert!(done.contains("Sign-in Success"));
        let o = wait_output(child, Duration::from_secs(60));
        assert!(o.status.success(), "{seen}{}", stderr_of(&o));
        let id = stdout(&o);
        assert!(id.starts_with("corp-"), "{id}");
        let t = run(&home, &idp, &["token", &id], None);
        assert_eq!(idp.check_token(&stdout(&t)), 200);
    }
    let o = run(&home, &idp, &["login", "taskade", "--device"], None);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr_of(&o).contains("--no-browser"), "{}", stderr_of(&o));
}

/// S23: the password grant exists only behind `provider add --insecure-password-grant`.
/// Without the switch `login --username` is refused before any request; with it, the
/// password is read from stdin, sent once, and stored nowhere.
#[test]
fn password_sign_in_only_behind_the_insecure_switch_s23() {
    let idp = Idp::start();
    let home = TestHome::new();
    let add = |id: &str, insecure: bool| {
        let mut args = vec![
            "provider",
            "add",
            id,
            "--issuer",
            &idp.issuer,
            "--client-id",
            "latchkey-public",
            "--scope",
            "openid",
        ];
        if insecure {
            args.push("--insecure-password-grant");
        }
        let o = run(&home, &idp, &args, None);
        assert!(o.status.success(), "{}", stderr_of(&o));
        o
    };
    let o = add("legacy", true);
    assert!(stderr_of(&o).contains("insecure"), "{}", stderr_of(&o));
    add("modern", false);
    for provider in ["modern", "taskade"] {
        let o = run(
            &home,
            &idp,
            &["login", provider, "--username", "alice"],
            Some("wonderland\n"),
        );
        assert_eq!(o.status.code(), Some(1), "{}", stderr_of(&o));
        assert!(
            stderr_of(&o).contains("--insecure-password-grant"),
            "{}",
            stderr_of(&o)
        );
    }
    assert_eq!(
        idp.stats()["token_requests"],
        0,
        "refused before any request"
    );

    let o = run(
        &home,
        &idp,
        &["login", "legacy", "--username", "alice"],
        Some("not-the-password\n"),
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr_of(&o));
    assert!(
        stderr_of(&o).contains("wrong username or password"),
        "{}",
        stderr_of(&o)
    );

    let o = run(
        &home,
        &idp,
        &["login", "legacy", "--username", "alice"],
        Some("wonderland\n"),
    );
    assert!(o.status.success(), "{}", stderr_of(&o));
    assert!(stderr_of(&o).contains("Warning"), "{}", stderr_of(&o));
    let id = stdout(&o);
    let t = run(&home, &idp, &["token", &id], None);
    assert_eq!(idp.check_token(&stdout(&t)), 200);
    let r = run(&home, &idp, &["refresh", &id], None);
    assert!(r.status.success(), "{}", stderr_of(&r));
    let index = std::fs::read_to_string(home.path().join("accounts.json")).unwrap();
    assert!(!index.contains("wonderland"));
    let stored = secret_tool_lookup(&format!("account:{id}")).unwrap();
    assert!(
        !stored.contains("wonderland"),
        "the password is never stored"
    );
}

/// S24: `provider add` never retargets a provider that accounts use; it names them and the fix.
#[test]
fn provider_add_refuses_to_retarget_a_provider_in_use_s24() {
    let idp = Idp::start();
    let other = Idp::start();
    let home = TestHome::new();
    let add = |issuer: &str| {
        run(
            &home,
            &idp,
            &[
                "provider",
                "add",
                "corp",
                "--issuer",
                issuer,
                "--client-id",
                "latchkey-public",
            ],
            None,
        )
    };
    assert!(add(&idp.issuer).status.success());
    // Before any account uses it, the entry may still be changed.
    assert!(add(&other.issuer).status.success());
    assert!(add(&idp.issuer).status.success());
    let o = run(&home, &idp, &["login", "corp"], None);
    assert!(o.status.success(), "{}", stderr_of(&o));
    let account = stdout(&o);
    let before = home.index()["providers"].clone();
    let o = add(&other.issuer);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr_of(&o);
    assert!(err.contains(&account), "names the account: {err}");
    assert!(err.contains("latchkey logout"), "names the fix: {err}");
    assert_eq!(home.index()["providers"], before, "nothing changed");
    let o = run(&home, &idp, &["refresh", &account], None);
    assert!(o.status.success(), "{}", stderr_of(&o));
    assert_eq!(other.stats()["token_requests"], 0);
}

/// S18: Ctrl+C while waiting for the browser forgets the sign-in's state and verifier, and so
/// do SIGTERM (a service manager, `kill`) and SIGHUP (the terminal closed).
#[test]
fn ctrl_c_during_sign_in_leaves_no_secret_behind_s18() {
    let idp = Idp::start();
    for signal in ["-INT", "-TERM", "-HUP"] {
        interrupted_sign_in_leaves_no_secret(&idp, signal);
    }
}

fn interrupted_sign_in_leaves_no_secret(idp: &Idp, signal: &str) {
    use std::io::BufRead;
    let home = TestHome::new();
    home.point_taskade_at(idp);
    let mut c = home.cli();
    c.args(["login", "taskade", "--no-browser"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    let mut err = std::io::BufReader::new(child.stderr.take().unwrap());
    loop {
        let mut line = String::new();
        assert!(err.read_line(&mut line).unwrap() > 0, "no URL printed");
        if line.starts_with("http") {
            break;
        }
    }
    let handle = home.index()["pending"][0]["handle"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(secret_tool_lookup(&format!("pending:{handle}")).is_some());
    let pid = child.id().to_string();
    assert!(std::process::Command::new("kill")
        .args([signal, &pid])
        .status()
        .unwrap()
        .success());
    let started = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{signal} ignored"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut rest = String::new();
    let _ = std::io::Read::read_to_string(&mut err, &mut rest);
    assert_eq!(status.code(), Some(1), "{signal}: {rest}");
    assert!(rest.contains("cancelled"), "{signal}: {rest}");
    assert!(secret_tool_lookup(&format!("pending:{handle}")).is_none());
    assert!(home.index()["pending"].as_array().unwrap().is_empty());
}

/// Replacing an unused provider with `provider add` leaves nothing of the old one behind:
/// neither its client secret nor its dynamic registration.
#[test]
fn replacing_an_unused_provider_forgets_its_secret_and_registration() {
    let idp = Idp::start();
    let other = Idp::start();
    let home = TestHome::new();
    let o = run(
        &home,
        &idp,
        &[
            "provider",
            "add",
            "corp",
            "--issuer",
            &idp.issuer,
            "--client-id",
            "conf",
            "--client-secret-stdin",
        ],
        Some("old-secret-value"),
    );
    assert!(o.status.success(), "{}", stderr_of(&o));
    assert!(secret_tool_lookup("client-secret:corp:conf").is_some());
    // Without a client id: a sign-in registers one (RFC 7591); it is abandoned here.
    let o = run(
        &home,
        &idp,
        &["provider", "add", "corp", "--issuer", &idp.issuer],
        None,
    );
    assert!(o.status.success(), "{}", stderr_of(&o));
    assert_eq!(
        secret_tool_lookup("client-secret:corp:conf"),
        None,
        "the old secret went"
    );
    printed_sign_in_url(&home, "corp");
    assert!(
        home.index()["registrations"]["corp"].is_object(),
        "{}",
        home.index()
    );
    let o = run(
        &home,
        &other,
        &["provider", "add", "corp", "--issuer", &other.issuer],
        None,
    );
    assert!(o.status.success(), "{}", stderr_of(&o));
    assert!(
        home.index()["registrations"]["corp"].is_null(),
        "the old server's registration went: {}",
        home.index()
    );
}

/// A server that authenticates registered clients one way only (Basic, or the secret in the
/// body): Latchkey registers a confidential client with that method, keeps its secret in
/// the keyring, and uses the same method to sign in, refresh and revoke.
#[test]
fn registered_clients_authenticate_the_way_the_server_says() {
    for method in ["client_secret_basic", "client_secret_post"] {
        let idp = Idp::start_with(IdpConfig {
            auth_methods: Some(vec![method]),
            ..Default::default()
        });
        let home = TestHome::new();
        let o = run(
            &home,
            &idp,
            &["provider", "add", "corp-auth", "--issuer", &idp.issuer],
            None,
        );
        assert!(o.status.success(), "{method}: {}", stderr_of(&o));
        let o = run(&home, &idp, &["login", "corp-auth"], None);
        assert!(o.status.success(), "{method}: login: {}", stderr_of(&o));
        let id = stdout(&o);
        let reg = home.index()["registrations"]["corp-auth"].clone();
        assert_eq!(reg["auth"], method, "{reg}");
        let client = reg["client_id"].as_str().unwrap().to_string();
        assert!(
            secret_tool_lookup(&format!("client-secret:corp-auth:{client}")).is_some(),
            "the registered secret is in the keyring"
        );
        let o = run(&home, &idp, &["refresh", &id], None);
        assert!(o.status.success(), "{method}: refresh: {}", stderr_of(&o));
        let o = run(&home, &idp, &["logout", &id], None);
        assert!(
            stderr_of(&o).contains("Signed out at the provider"),
            "{method}: {}",
            stderr_of(&o)
        );
        assert_eq!(idp.stats()["revocations"], 2, "{method}");
    }
}

/// A machine account on a server that takes only client_secret_basic (the test IdP's
/// machine client) renews after expiry and is revoked at logout with the same method; it
/// used to renew with the secret in the body and die at its first expiry.
#[test]
fn a_machine_account_renews_and_revokes_with_its_own_method() {
    let idp = Idp::start_with(IdpConfig {
        access_ttl: 2,
        auth_methods: Some(vec!["client_secret_basic", "none"]),
        ..Default::default()
    });
    let home = TestHome::new();
    let o = run(
        &home,
        &idp,
        &["provider", "add", "mach-renew", "--issuer", &idp.issuer],
        None,
    );
    assert!(o.status.success(), "{}", stderr_of(&o));
    let o = run(
        &home,
        &idp,
        &[
            "login",
            "mach-renew",
            "--client-credentials",
            "--client-id",
            "latchkey-machine",
        ],
        Some("machine-secret-value"),
    );
    assert!(o.status.success(), "{}", stderr_of(&o));
    let id = stdout(&o);
    let first = stdout(&run(&home, &idp, &["token", &id], None));
    std::thread::sleep(Duration::from_secs(3));
    let o = run(&home, &idp, &["token", &id, "--min-valid", "60"], None);
    assert!(
        o.status.success(),
        "renewal after expiry: {}",
        stderr_of(&o)
    );
    let renewed = stdout(&o);
    assert_ne!(renewed, first);
    assert_eq!(idp.stats()["invalid_grant"], 0);
    let o = run(&home, &idp, &["logout", &id], None);
    assert!(
        stderr_of(&o).contains("Signed out at the provider"),
        "{}",
        stderr_of(&o)
    );
    assert_eq!(
        idp.stats()["revocations"],
        1,
        "the renewed token was revoked"
    );
    assert_eq!(idp.check_token(&renewed), 401);
}

/// The second, independent server (django-oauth-toolkit) taking one client authentication
/// method only: a machine account gets its first token, renews after expiry and is revoked
/// at logout with that method, Basic-only and post-only alike.
#[test]
fn machine_accounts_use_the_servers_one_method_on_the_second_server() {
    for method in ["client_secret_basic", "client_secret_post"] {
        let idp = Idp::start_django(IdpConfig {
            access_ttl: 2,
            auth_methods: Some(vec![method]),
            ..Default::default()
        });
        let home = TestHome::new();
        let o = run(
            &home,
            &idp,
            &["provider", "add", "dot-machine", "--issuer", &idp.issuer],
            None,
        );
        assert!(o.status.success(), "{method}: {}", stderr_of(&o));
        let o = run(
            &home,
            &idp,
            &[
                "login",
                "dot-machine",
                "--client-credentials",
                "--client-id",
                "latchkey-machine",
            ],
            Some("machine-secret-value"),
        );
        assert!(o.status.success(), "{method}: {}", stderr_of(&o));
        let id = stdout(&o);
        let first = stdout(&run(&home, &idp, &["token", &id], None));
        std::thread::sleep(Duration::from_secs(3));
        let o = run(&home, &idp, &["token", &id, "--min-valid", "60"], None);
        assert!(o.status.success(), "{method}: renewal: {}", stderr_of(&o));
        assert_ne!(stdout(&o), first, "{method}");
        let o = run(&home, &idp, &["logout", &id], None);
        assert!(
            stderr_of(&o).contains("Signed out at the provider"),
            "{method}: {}",
            stderr_of(&o)
        );
    }
}

/// A machine account whose secret the server no longer takes gets a machine's fix (add it
/// again with the current secret), not a person's ("sign in again").
#[test]
fn a_refused_machine_account_is_told_how_to_fix_it() {
    let idp = Idp::start_with(IdpConfig {
        access_ttl: 2,
        ..Default::default()
    });
    let home = TestHome::new();
    let o = run(
        &home,
        &idp,
        &["provider", "add", "mach-refused", "--issuer", &idp.issuer],
        None,
    );
    assert!(o.status.success(), "{}", stderr_of(&o));
    let o = run(
        &home,
        &idp,
        &[
            "login",
            "mach-refused",
            "--client-credentials",
            "--client-id",
            "latchkey-machine",
        ],
        Some("machine-secret-value"),
    );
    assert!(o.status.success(), "{}", stderr_of(&o));
    let id = stdout(&o);
    accounts_in(&home)
        .vault()
        .put_secret(
            "client-secret:mach-refused:latchkey-machine",
            &latchkey::secret::Secret::new("a-revoked-secret"),
        )
        .unwrap();
    std::thread::sleep(Duration::from_secs(3));
    let o = run(&home, &idp, &["token", &id, "--min-valid", "60"], None);
    assert_eq!(o.status.code(), Some(2), "{}", stderr_of(&o));
    let e = stderr_of(&o);
    assert!(
        e.contains("Machine account")
            && e.contains("--client-credentials --client-id latchkey-machine"),
        "{e}"
    );
}

/// Issue 25, item 6: where the server takes client metadata documents, Latchkey names its
/// document's address as the client id and registers nothing; the server fetches and checks
/// the repository's document (served over https on loopback). A non-https address is
/// refused and changes nothing; `--off` goes back to registration.
#[test]
fn a_server_that_takes_client_metadata_documents_needs_no_registration() {
    let idp = Idp::start_with(IdpConfig {
        client_metadata: true,
        ..Default::default()
    });
    let home = TestHome::new();
    let o = run(
        &home,
        &idp,
        &["config", "client-metadata-url", "http://example.com/c.json"],
        None,
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr_of(&o));
    assert!(
        stderr_of(&o).contains("not an https address"),
        "{}",
        stderr_of(&o)
    );
    let o = run(&home, &idp, &["config", "client-metadata-url"], None);
    assert_eq!(
        stdout(&o),
        "https://latchkey.dev/oauth/client.json",
        "unchanged"
    );
    let o = run(
        &home,
        &idp,
        &["config", "client-metadata-url", &idp.client_metadata_url],
        None,
    );
    assert!(o.status.success(), "{}", stderr_of(&o));

    let o = run(
        &home,
        &idp,
        &["provider", "add", "corp-cimd", "--issuer", &idp.issuer],
        None,
    );
    assert!(o.status.success(), "{}", stderr_of(&o));
    assert_eq!(
        home.index()["providers"][0]["client_metadata_documents"],
        true
    );
    let o = run(&home, &idp, &["login", "corp-cimd"], None);
    assert!(o.status.success(), "login: {}", stderr_of(&o));
    let id = stdout(&o);
    assert_eq!(idp.stats()["registrations"], 0, "no registration");
    assert!(
        idp.stats()["cimd_fetches"].as_u64().unwrap() >= 1,
        "the server read the document"
    );
    let acct = home.index()["accounts"][0].clone();
    assert_eq!(
        acct["client_id"],
        idp.client_metadata_url.as_str(),
        "{acct}"
    );
    let o = run(&home, &idp, &["refresh", &id], None);
    assert!(o.status.success(), "refresh: {}", stderr_of(&o));

    let o = run(
        &home,
        &idp,
        &["config", "client-metadata-url", "--off"],
        None,
    );
    assert!(o.status.success(), "{}", stderr_of(&o));
    let o = run(&home, &idp, &["login", "corp-cimd"], None);
    assert!(o.status.success(), "login without: {}", stderr_of(&o));
    assert_eq!(idp.stats()["registrations"], 1, "registered instead");
}

/// Issue 25, item 8: an address with no discovery documents says so, names where Latchkey
/// looked and how to fix it, and never blames https for an allowed loopback address.
#[test]
fn an_issuer_without_discovery_gets_a_hint_that_points_the_right_way() {
    let idp = Idp::start();
    let home = TestHome::new();
    let issuer = format!("{}/nothing-here", idp.issuer);
    let o = run(
        &home,
        &idp,
        &["provider", "add", "corp-nodisc", "--issuer", &issuer],
        None,
    );
    assert!(!o.status.success());
    let e = stderr_of(&o);
    assert!(e.contains("found no usable discovery document"), "{e}");
    assert!(e.contains("HTTP 404"), "{e}");
    assert!(
        e.contains(&format!(
            "{}/.well-known/oauth-authorization-server/nothing-here",
            idp.issuer
        )),
        "{e}"
    );
    assert!(
        !e.contains("must start with https"),
        "no https advice for a loopback address: {e}"
    );
    assert!(home.index()["providers"]
        .as_array()
        .is_none_or(|p| p.is_empty()));
}

/// S26: both programs switch core dumps off, so a crash writes no token to disk.
#[test]
fn both_programs_switch_core_dumps_off_s26() {
    let idp = Idp::start();
    let home = TestHome::new();
    let core_limit = |pid: u32| {
        let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
        limits
            .lines()
            .find(|l| l.starts_with("Max core file size"))
            .map(|l| {
                l.split_whitespace()
                    .skip(4)
                    .take(2)
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .unwrap()
    };
    // The command line, waiting for a sign-in.
    home.point_taskade_at(&idp);
    let mut c = home.cli();
    c.args(["login", "taskade", "--no-browser"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    let started = Instant::now();
    while home.index()["pending"]
        .as_array()
        .is_none_or(|p| p.is_empty())
    {
        assert!(started.elapsed() < Duration::from_secs(30));
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(core_limit(child.id()), "0 0", "latchkey");
    let _ = child.kill();
    let _ = child.wait();
    // The desktop program.
    let app = AppProcess::start(&home, &["--minimized"], &[]);
    app.wait_log("Latchkey started", Duration::from_secs(60));
    assert_eq!(core_limit(app.pid()), "0 0", "latchkey-desktop");
}

/// S21: the browser command, which runs a program, is set from the command line only.
#[test]
fn the_browser_command_is_set_from_the_command_line_s21() {
    let home = TestHome::new();
    let o = home.run(&["config", "browser", "firefox --private-window %s"], None);
    assert!(o.status.success(), "{}", stderr_of(&o));
    assert_eq!(
        home.index()["settings"]["browser_command"],
        "firefox --private-window %s"
    );
    let o = home.run(&["config", "browser"], None);
    assert_eq!(stdout(&o), "firefox --private-window %s");
    let o = home.run(&["config", "browser", "--reset"], None);
    assert!(o.status.success());
    assert!(home.index()["settings"]["browser_command"].is_null());
}

/// `provider add --device-url` gives a provider whose metadata names no device endpoint the
/// device flow: `login --device` prints an address and a code, and approving there signs in.
#[test]
fn provider_add_takes_a_device_url() {
    use std::io::BufRead;
    let idp = Idp::start();
    let home = TestHome::new();
    let i = idp.issuer.as_str();
    let o = run(
        &home,
        &idp,
        &[
            "provider",
            "add",
            "plain",
            "--auth-url",
            &format!("{i}/oauth2/authorize"),
            "--token-url",
            &format!("{i}/oauth2/token"),
            "--device-url",
            &format!("{i}/oauth2/device"),
            "--client-id",
            "latchkey-public",
            "--scope",
            "openid",
        ],
        None,
    );
    assert!(o.status.success(), "{}", stderr_of(&o));
    assert_eq!(
        home.index()["providers"][0]["device_url"],
        format!("{i}/oauth2/device")
    );
    let mut c = home.cli();
    c.args(["login", "plain", "--device"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    let mut err = std::io::BufReader::new(child.stderr.take().unwrap());
    let (page, code) = loop {
        let mut line = String::new();
        assert!(err.read_line(&mut line).unwrap() > 0, "no code printed");
        if let Some(rest) = line.trim().strip_prefix("To sign in, open ") {
            let (page, code) = rest
                .split_once(" on any device and enter the code: ")
                .unwrap();
            break (page.to_string(), code.to_string());
        }
    };
    std::thread::spawn(move || {
        let mut sink = String::new();
        let _ = std::io::Read::read_to_string(&mut err, &mut sink);
    });
    approve_device(&page, &code);
    let out = wait_output(child, Duration::from_secs(60));
    assert!(out.status.success(), "device login");
    assert!(!stdout(&out).is_empty(), "the account id is printed");
}
