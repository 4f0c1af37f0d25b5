//! Issue 39: who gets a token, from the OS, with the person deciding. Real process chains
//! (Python → sh → latchkey), real git, the real window's prompt driven by WebDriver, a real
//! terminal (a pty made by `script`), and the activity log under parallel writers.

use latchkey_e2e::*;
use serde_json::Value;
use std::io::Write;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

const T: Duration = Duration::from_secs(30);

/// The environment `home`'s own `latchkey` commands get (its data folder, where the Taskade
/// preset points), for commands started by other programs.
fn env_of(home: &TestHome) -> Vec<(std::ffi::OsString, std::ffi::OsString)> {
    home.cli()
        .get_envs()
        .filter_map(|(k, v)| v.map(|v| (k.to_os_string(), v.to_os_string())))
        .collect()
}

/// Runs `latchkey ARGS` as a child of `sh` as a child of Python, which first prints its own
/// pid and executable: the program the hand-out must be attributed to.
fn through_python(home: &TestHome, args: &[&str], env: &[(&str, &str)]) -> (Value, Output) {
    let cmd = std::iter::once(bin().display().to_string())
        .chain(args.iter().map(|a| format!("'{a}'")))
        .collect::<Vec<_>>()
        .join(" ");
    let script = format!(
        "import os, sys, subprocess\nprint(os.getpid(), os.path.realpath(sys.executable), flush=True)\nr = subprocess.run(['sh', '-c', {cmd:?}])\nsys.exit(r.returncode)\n"
    );
    let mut c = Command::new("python3");
    c.arg("-c")
        .arg(script)
        .envs(env_of(home))
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let o = wait_output(c.spawn().unwrap(), Duration::from_secs(120));
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    let mut first = out.lines().next().unwrap_or("").split(' ');
    let who = serde_json::json!({
        "pid": first.next().unwrap_or("").parse::<u64>().unwrap_or(0),
        "path": first.next().unwrap_or(""),
        "rest": out.lines().skip(1).collect::<Vec<_>>().join("\n"),
    });
    (who, o)
}

fn activity(home: &TestHome) -> Vec<Value> {
    let o = home.run(&["activity", "--json"], None);
    assert!(o.status.success(), "{}", stderr_of(&o));
    serde_json::from_slice::<Value>(&o.stdout)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

fn policy(home: &TestHome, id: &str, p: &str) {
    let o = home.run(&["policy", id, p], None);
    assert!(o.status.success(), "{}", stderr_of(&o));
}

/// A Python program runs `sh -c 'latchkey token A'`: the log names Python (its path and pid),
/// not sh; the line holds no token; the file is 0600.
#[test]
fn a_hand_out_is_attributed_to_the_program_behind_the_shell() {
    let idp = Idp::start();
    let home = TestHome::new();
    let id = cli_login(&home, &idp);
    let (who, o) = through_python(&home, &["token", &id], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr_of(&o));
    let token = who["rest"].as_str().unwrap().trim().to_string();
    assert_eq!(idp.check_token(&token), 200);
    let log = activity(&home);
    let e = &log[0];
    assert_eq!(e["account"], id.as_str());
    assert_eq!(e["what"], "token");
    assert_eq!(e["decision"], "allowed_by_policy");
    assert_eq!(e["program"]["pid"], who["pid"], "{e}");
    assert_eq!(e["program"]["path"], who["path"], "{e}");
    assert!(
        e["program"]["name"].as_str().unwrap().starts_with("python"),
        "{e}"
    );
    let file = home.path().join("activity.jsonl");
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(!text.contains(&token), "no token in the log");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let o = home.run(&["activity", &id, "--since", "1h"], None);
    let words = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(
        words.contains("python") && words.contains("allowed (policy: allow)"),
        "{words}"
    );
}

/// Real git asks through the credential helper: git is named.
#[test]
fn real_git_is_named_as_the_program() {
    let idp = Idp::start();
    let home = TestHome::new();
    let id = cli_login(&home, &idp);
    let input = format!(
        "protocol=http\nhost={}\npath=api/v1/repo.git\n\n",
        idp.issuer.trim_start_matches("http://")
    );
    let helper = format!("!'{}' git-credential --account {id}", bin().display());
    let mut c = Command::new("git");
    c.args([
        "-c",
        "credential.useHttpPath=true",
        "-c",
        &format!("credential.helper={helper}"),
        "credential",
        "fill",
    ])
    .envs(env_of(&home))
    .env("GIT_TERMINAL_PROMPT", "0")
    .stdin(Stdio::piped())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let o = wait_output(child, T);
    let log = activity(&home);
    assert!(
        !log.is_empty(),
        "{} / {}",
        String::from_utf8_lossy(&o.stdout),
        stderr_of(&o)
    );
    assert_eq!(log[0]["what"], "git");
    let name = log[0]["program"]["name"].as_str().unwrap();
    assert!(name.starts_with("git"), "{}", log[0]);
}

/// `deny`: exit 5, nothing on stdout, one line naming the account and the fix; logged.
/// `ask-always` with no window and no terminal: the same, "nobody to ask". A piped "o" on
/// stdin answers nothing.
#[test]
fn deny_and_nobody_to_ask_refuse_with_exit_5() {
    let idp = Idp::start();
    let home = TestHome::new();
    let id = cli_login(&home, &idp);
    policy(&home, &id, "deny");
    let o = home.run(&["token", &id], None);
    assert_eq!(o.status.code(), Some(5), "{}", stderr_of(&o));
    assert!(o.stdout.is_empty());
    let e = stderr_of(&o);
    assert_eq!(e.trim().lines().count(), 1, "{e}");
    assert!(e.contains(&id) && e.contains("latchkey policy"), "{e}");
    assert_eq!(activity(&home)[0]["decision"], "denied_by_policy");

    policy(&home, &id, "ask-always");
    for args in [vec!["token", id.as_str()], vec!["header", id.as_str()]] {
        let o = home.run(&args, Some("o\nalways\n"));
        assert_eq!(o.status.code(), Some(5), "{args:?}: {}", stderr_of(&o));
        assert!(o.stdout.is_empty());
        assert!(
            stderr_of(&o).contains("no Latchkey window or terminal"),
            "{}",
            stderr_of(&o)
        );
    }
    let log = activity(&home);
    assert_eq!(log[0]["decision"], "nobody_to_ask");
    assert_eq!(log[0]["what"], "header");
}

/// With a terminal (a pty, as a person at SSH has), the question is asked there; "o" allows
/// once, "n" refuses.
#[test]
fn a_terminal_is_asked_on_dev_tty() {
    let idp = Idp::start();
    let home = TestHome::new();
    let id = cli_login(&home, &idp);
    policy(&home, &id, "ask-new");
    let in_pty = |answer: &str| -> (Option<i32>, String) {
        let cmd = format!("'{}' token '{id}'", bin().display());
        let mut c = Command::new("script");
        c.args(["-qec", &cmd, "/dev/null"])
            .envs(env_of(&home))
            .env_remove("DISPLAY")
            .env_remove("WAYLAND_DISPLAY")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = c.spawn().unwrap();
        let mut stdin = child.stdin.take().unwrap();
        std::thread::sleep(Duration::from_millis(700));
        stdin.write_all(answer.as_bytes()).unwrap();
        drop(stdin);
        let o = wait_output(child, T);
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stdout).to_string(),
        )
    };
    let (code, out) = in_pty("n\n");
    assert!(out.contains("asks for the token of the account"), "{out}");
    assert_eq!(code, Some(5), "{out}");
    let (code, out) = in_pty("o\n");
    assert_eq!(code, Some(0), "{out}");
    let log = activity(&home);
    assert_eq!(log[0]["decision"], "approved");
    assert_eq!(log[1]["decision"], "denied");
    // "Once" is not remembered.
    let o = home.run(&["policy", &id], None);
    assert!(!String::from_utf8_lossy(&o.stdout).contains("allowed:"));
}

/// Eight `latchkey token` processes at once: eight whole lines, none lost or torn.
#[test]
fn the_log_survives_parallel_writers() {
    let idp = Idp::start();
    let home = TestHome::new();
    let id = cli_login(&home, &idp);
    let children: Vec<_> = (0..8)
        .map(|_| {
            home.cli()
                .args(["token", &id])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        assert!(wait_output(c, T).status.success());
    }
    let text = std::fs::read_to_string(home.path().join("activity.jsonl")).unwrap();
    assert_eq!(text.lines().count(), 8, "{text}");
    for l in text.lines() {
        let v: Value = serde_json::from_str(l).unwrap_or_else(|_| panic!("torn: {l}"));
        assert_eq!(v["account"], id.as_str());
    }
}

/// The window's prompt: Allow once (asked again next time), Deny (exit 5), Allow this program
/// for 1 hour (not asked again), another program asked under ask-new, no answer (a Deny after
/// the timeout); `deny` keeps the window's Copy, logged as the person's.
#[test]
fn the_window_asks_and_the_person_decides() {
    let idp = Idp::start();
    let home = TestHome::new();
    let id = cli_login(&home, &idp);
    policy(&home, &id, "ask-new");
    let app = WebApp::start(&home, &[("LATCHKEY_ASK_TIMEOUT_SECS", "4")]);
    app.wait_for(&format!("[data-account='{id}']"), T);
    let asking = |args: Vec<String>| {
        let env = env_of(&home);
        std::thread::spawn(move || {
            let a: Vec<&str> = args.iter().map(String::as_str).collect();
            let h = TestHomeRef(env);
            h.through_python(&a)
        })
    };
    let answer = |which: &str| {
        let el = app.wait_for("[data-ask]", T);
        let text = app.text(&el);
        assert!(
            text.contains("python") && text.contains("alice (Taskade)"),
            "{text}"
        );
        app.click_css(&format!("[data-answer={which}]"));
    };
    // Allow once.
    let t = asking(vec!["token".into(), id.clone()]);
    app.wait_for("[data-ask]", T);
    app.screenshot("window-ask");
    answer("once");
    let (code, out) = t.join().unwrap();
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(idp.check_token(out.trim()), 200);
    // Asked again; Deny.
    let t = asking(vec!["token".into(), id.clone()]);
    answer("deny");
    let (code, out) = t.join().unwrap();
    assert_eq!((code, out.trim()), (Some(5), ""));
    // Allow for an hour: the next call is not asked.
    let t = asking(vec!["token".into(), id.clone()]);
    answer("hour");
    assert_eq!(t.join().unwrap().0, Some(0));
    let (code, _) = asking(vec!["token".into(), id.clone()]).join().unwrap();
    assert_eq!(code, Some(0), "remembered for an hour");
    // Another program (perl) is asked about; nobody answers: a Deny after the timeout.
    let h = env_of(&home);
    let bin = bin();
    let id2 = id.clone();
    let perl = std::thread::spawn(move || {
        let o = Command::new("perl")
            .args([
                "-e",
                &format!(
                    "exit(system('sh', '-c', q('{}' token '{id2}')) >> 8)",
                    bin.display()
                ),
            ])
            .envs(h)
            .env_remove("DISPLAY")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        wait_output(o, T)
    });
    let el = app.wait_for("[data-ask]", T);
    assert!(app.text(&el).contains("perl"));
    let o = perl.join().unwrap();
    assert_eq!(o.status.code(), Some(5), "{}", stderr_of(&o));
    assert!(
        stderr_of(&o).contains("Nobody answered"),
        "{}",
        stderr_of(&o)
    );
    let log = activity(&home);
    let decisions: Vec<&str> = log
        .iter()
        .map(|e| e["decision"].as_str().unwrap())
        .collect();
    assert_eq!(
        decisions,
        ["timed_out", "remembered", "approved", "denied", "approved"],
        "{log:?}"
    );
    // deny: the window's Copy still works and is the person's.
    policy(&home, &id, "deny");
    app.click_css(&format!("[data-copy='{id}']"));
    let deadline = std::time::Instant::now() + T;
    while activity(&home)[0]["what"] != "copy" {
        assert!(std::time::Instant::now() < deadline, "copy not logged");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(activity(&home)[0]["decision"], "you");
    // The Activity view lists it all, newest first, with a filter.
    app.click_css("#open-activity");
    app.wait_for("[data-view=activity]", T);
    let text = app.wait_text("Approved by you", T);
    assert!(
        text.contains("You, in Latchkey") && text.contains("Denied (no answer)"),
        "{text}"
    );
    app.screenshot("window-activity");
    app.type_into("[data-input=activity-filter]", "perl");
    let shown = app.js("return document.querySelectorAll('[data-entry]').length");
    assert_eq!(shown, 1, "the filter keeps perl's one entry");
    // The details show who used it and the approval, which can be revoked.
    app.click_css(".topbar h1");
    app.click_css(&format!("[data-account='{id}'] [aria-haspopup=menu]"));
    app.click_css("[data-action=Details]");
    app.wait_for("[data-revoke]", T);
    let text = app.wait_text("Used by", T);
    assert!(text.contains("python"), "{text}");
    app.js("document.querySelector('[data-policy]').scrollIntoView()");
    app.screenshot("window-who-may-use");
    app.click_css("[data-revoke]");
    let deadline = std::time::Instant::now() + T;
    while !accounts_in(&home)
        .account(&id)
        .unwrap()
        .approvals
        .is_empty()
    {
        assert!(std::time::Instant::now() < deadline, "approval not revoked");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A home path usable from another thread.
struct TestHomeRef(Vec<(std::ffi::OsString, std::ffi::OsString)>);

impl TestHomeRef {
    fn through_python(&self, args: &[&str]) -> (Option<i32>, String) {
        let cmd = std::iter::once(bin().display().to_string())
            .chain(args.iter().map(|a| format!("'{a}'")))
            .collect::<Vec<_>>()
            .join(" ");
        let o = Command::new("python3")
            .args(["-c", &format!("import subprocess, sys\nsys.exit(subprocess.run(['sh', '-c', {cmd:?}]).returncode)")])
            .envs(self.0.iter().cloned())
            .env_remove("DISPLAY")
            .env_remove("WAYLAND_DISPLAY")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let o = wait_output(o, T);
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stdout).to_string(),
        )
    }
}

/// The channel answers only this user: a process of another user (Python as `nobody`,
/// reaching the socket by a second name the test made) is closed on unanswered and no prompt
/// is shown. As root only (CI runs as root), since only root can be another user here.
#[test]
fn the_channel_refuses_another_user() {
    use std::os::unix::fs::PermissionsExt;
    let me = String::from_utf8_lossy(&Command::new("id").arg("-u").output().unwrap().stdout)
        .trim()
        .to_string();
    if me != "0" {
        eprintln!("skipped: needs root to run a process as another user");
        return;
    }
    let idp = Idp::start();
    let home = TestHome::new();
    let id = cli_login(&home, &idp);
    policy(&home, &id, "ask-always");
    let app = WebApp::start(&home, &[]);
    app.wait_for(&format!("[data-account='{id}']"), T);
    let sock = latchkey::ask::socket_path(home.path());
    let deadline = std::time::Instant::now() + T;
    while !sock.exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "no socket at {}",
            sock.display()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&sock), 0o600, "the socket is the user's only");
    let set = |p: &std::path::Path, m: u32| {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap()
    };
    // A second name for the socket in a folder anyone may enter (a hard link: the same
    // socket), so the other user reaches it without opening the runtime folder.
    let open = tempfile::Builder::new()
        .prefix("lk-sock")
        .tempdir()
        .unwrap();
    set(open.path(), 0o711);
    let link = open.path().join("ask.sock");
    std::fs::hard_link(&sock, &link).unwrap();
    set(&link, 0o666);
    let script = format!(
        "import socket, time\ns = socket.socket(socket.AF_UNIX)\ns.connect({:?})\ntime.sleep(0.3)\ntry:\n    s.sendall(b'{{\"account\": \"{id}\", \"what\": \"token\"}}\\n')\n    s.settimeout(10)\n    print('closed' if s.recv(100) == b'' else 'answered')\nexcept (BrokenPipeError, ConnectionResetError):\n    print('closed')\n",
        link.display().to_string()
    );
    let o = Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "/usr/bin/python3",
            "-c",
        ])
        .arg(&script)
        .output()
        .unwrap();
    set(&sock, 0o600);
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).trim(),
        "closed",
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        app.js("return document.querySelectorAll('[data-ask]').length"),
        0,
        "no prompt for another user's request"
    );
}
