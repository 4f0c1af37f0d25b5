//! The Windows programs under Wine 8, against the test authorization server on Linux loopback
//! (Wine's sockets are the host's). `./dev.sh test` cross-builds `latchkey.exe`,
//! `latchkey-desktop.exe` and the installer, makes the Wine prefix (with the ProcessPrng shim
//! Wine 8 needs; test scaffolding only), and sets the variables read here.
//!
//! What Wine cannot show: the window (there is no WebView2 runtime under Wine), the tray, and
//! a real Windows Credential Manager (Wine's stores generic credentials in its registry, under
//! `HKCU\Software\Wine\Credential Manager`, with the secret enciphered).

use latchkey_e2e::*;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant, SystemTime};

const WINE: &str = "/usr/lib/wine/wine64";

/// The Windows build and the Wine prefix, from `./dev.sh test`.
struct Wine {
    bin: PathBuf,
    prefix: PathBuf,
}

fn wine() -> Wine {
    require_session();
    let var = |name: &str| {
        std::env::var_os(name).map(PathBuf::from).unwrap_or_else(|| {
            panic!("{name} is not set: the Windows suite runs from `./dev.sh test`, which builds the Windows programs and the Wine prefix and sets it")
        })
    };
    let w = Wine {
        bin: var("LATCHKEY_WINDOWS_BIN"),
        prefix: var("WINEPREFIX"),
    };
    assert!(
        w.bin.join("latchkey.exe").is_file(),
        "{} has no latchkey.exe: run `./dev.sh windows dev`",
        w.bin.display()
    );
    w
}

/// A Linux path as Wine's Windows programs see it (drive Z: is the Linux root).
fn win_path(p: &Path) -> String {
    format!("Z:{}", p.display()).replace('/', "\\")
}

/// A private LATCHKEY_HOME for one test, checked for IdP-issued secrets when it goes (S19).
struct WinHome {
    dir: tempfile::TempDir,
    wine: Wine,
}

impl Drop for WinHome {
    fn drop(&mut self) {
        let hits = canary_hits(self.dir.path());
        if !hits.is_empty() && !std::thread::panicking() {
            panic!("S19 canary: an IdP-issued secret reached {hits:?}");
        }
    }
}

impl WinHome {
    fn new() -> Self {
        WinHome {
            wine: wine(),
            dir: tempfile::Builder::new()
                .prefix("lk-winhome-")
                .tempdir()
                .expect("temp dir"),
        }
    }

    /// `wine64 <exe> ARGS` (a program of the build) with this home and the IdP as the Taskade
    /// stand-in.
    fn exe(&self, exe: &str, idp: Option<&Idp>, args: &[&str]) -> Command {
        self.program(&self.wine.bin.join(exe), idp, args)
    }

    /// The same for a program anywhere (an installed one).
    fn program(&self, program: &Path, idp: Option<&Idp>, args: &[&str]) -> Command {
        let mut c = Command::new(WINE);
        c.arg(program)
            .args(args)
            .env("LATCHKEY_HOME", win_path(self.dir.path()))
            .env_remove("DISPLAY")
            .env_remove("WAYLAND_DISPLAY")
            .env_remove("LATCHKEY_BROWSER");
        if let Some(idp) = idp {
            c.env("LATCHKEY_TASKADE_BASE", &idp.issuer);
        }
        c
    }

    fn run(&self, idp: Option<&Idp>, args: &[&str], stdin: Option<&str>) -> Output {
        self.run_program(&self.wine.bin.join("latchkey.exe"), idp, args, stdin)
    }

    fn run_program(
        &self,
        program: &Path,
        idp: Option<&Idp>,
        args: &[&str],
        stdin: Option<&str>,
    ) -> Output {
        let mut c = self.program(program, idp, args);
        c.stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        let mut child = c.spawn().expect("start wine64");
        if let Some(s) = stdin {
            child.stdin.take().unwrap().write_all(s.as_bytes()).unwrap();
        }
        wait_output(child, Duration::from_secs(120))
    }

    fn ok(&self, idp: Option<&Idp>, args: &[&str]) -> String {
        let o = self.run(idp, args, None);
        assert!(
            o.status.success(),
            "latchkey.exe {args:?} failed ({:?}): {}",
            o.status,
            stderr_of(&o)
        );
        String::from_utf8_lossy(&o.stdout).trim().to_string()
    }
}

/// The generic credentials in Wine's Credential Manager, by target name (`reg query`, Wine's
/// own reg.exe, over the key where Wine keeps them).
fn credentials(wine: &Wine) -> Vec<String> {
    let o = Command::new(WINE)
        .args(["reg", "query", r"HKCU\Software\Wine\Credential Manager"])
        .env("WINEPREFIX", &wine.prefix)
        .output()
        .expect("wine reg query");
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter_map(|l| {
            l.trim()
                .strip_prefix(r"HKEY_CURRENT_USER\Software\Wine\Credential Manager\Generic: ")
        })
        .map(str::to_string)
        .collect()
}

/// The credentials that hold account `id` (its record, or the record's chunks).
fn account_credentials(wine: &Wine, id: &str) -> Vec<String> {
    credentials(wine)
        .into_iter()
        .filter(|c| c.contains(&format!("account:{id}")))
        .collect()
}

/// One registry value as Wine's reg.exe prints it, or None.
fn reg_value(wine: &Wine, key: &str, name: Option<&str>) -> Option<String> {
    let mut c = Command::new(WINE);
    c.args(["reg", "query", key])
        .env("WINEPREFIX", &wine.prefix);
    match name {
        Some(n) => c.args(["/v", n]),
        None => c.arg("/ve"),
    };
    let o = c.output().expect("wine reg query");
    if !o.status.success() {
        return None;
    }
    String::from_utf8_lossy(&o.stdout).lines().find_map(|l| {
        let mut cols = l.trim().splitn(3, "    ");
        let (_, ty, v) = (cols.next()?, cols.next()?, cols.next().unwrap_or(""));
        ty.starts_with("REG_").then(|| v.trim().to_string())
    })
}

/// Files under `dir` written since `since` that hold `needle`; symlinks (Wine's drive
/// letters point at `/`) are not followed.
fn files_holding(dir: &Path, since: SystemTime, needle: &[u8]) -> Vec<PathBuf> {
    let mut hits = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let Ok(meta) = e.path().symlink_metadata() else {
                continue;
            };
            if meta.is_dir() {
                stack.push(e.path());
            } else if meta.is_file()
                && meta.modified().is_ok_and(|m| m >= since)
                && std::fs::read(e.path())
                    .is_ok_and(|b| b.windows(needle.len()).any(|w| w == needle))
            {
                hits.push(e.path());
            }
        }
    }
    hits
}

/// Signs in through `latchkey.exe login PROVIDER --no-browser`: reads the address it prints,
/// approves at the IdP, and delivers the redirect to the Windows program's loopback listener
/// from Linux, as the browser would. Returns the account id.
fn login(home: &WinHome, idp: &Idp, provider: &str) -> String {
    sign_in_printed(home, Some(idp), idp, &["login", provider, "--no-browser"])
}

/// Runs a `login … --no-browser` of `latchkey.exe`, approves the address it prints at `idp`
/// as the person would, and returns what it prints on stdout (the account id).
fn sign_in_printed(home: &WinHome, taskade: Option<&Idp>, idp: &Idp, args: &[&str]) -> String {
    let mut child = home
        .exe("latchkey.exe", taskade, args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start wine64");
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let url = loop {
        let mut line = String::new();
        assert!(
            err.read_line(&mut line).unwrap() > 0,
            "latchkey.exe printed no sign-in address"
        );
        // The address alone on its line (other lines name an API's address in a sentence).
        if line.starts_with("http") && !line.trim().contains(' ') {
            break line.trim().to_string();
        }
    };
    let redirect = idp.approve(&url);
    assert!(
        redirect.starts_with("http://127.0.0.1:"),
        "the loopback redirect: {redirect}"
    );
    let page = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
        .get(&redirect)
        .send()
        .expect("the Windows program's loopback listener answers");
    assert_eq!(page.status(), 200, "the browser's page");
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut err, &mut rest).unwrap();
    let o = wait_output(child, Duration::from_secs(60));
    assert!(o.status.success(), "{args:?} failed: {rest}");
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

/// The command line end to end on Windows: provider by discovery, loopback sign-in, the token
/// in Credential Manager and in no file, refresh with rotation under 4 parallel processes, a
/// pid-owner check that served the Linux-side browser, `api`, `exec` and `logout` with
/// revocation.
#[test]
fn the_windows_command_line_end_to_end_under_wine() {
    let started = SystemTime::now();
    // 30 s tokens: `token` asks for 60 s of validity, so a token that short counts as fresh
    // for its first 5 s only and is refreshed after that, while every token checked below is
    // still valid when the IdP sees it, however slowly Wine starts on a loaded machine.
    let idp = Idp::start_with(IdpConfig {
        access_ttl: 30,
        rotate: true,
        ..Default::default()
    });
    let home = WinHome::new();
    let api_base = format!("{}/api", idp.issuer);
    home.ok(
        Some(&idp),
        &[
            "provider",
            "add",
            "wintest",
            "--issuer",
            &idp.issuer,
            "--client-id",
            "latchkey-public",
            "--api-base",
            &api_base,
        ],
    );
    let id = login(&home, &idp, "wintest");
    assert!(id.starts_with("wintest-"), "{id}");

    let status = home.ok(Some(&idp), &["status"]);
    assert!(
        status.contains("Stored in: Windows Credential Manager"),
        "{status}"
    );
    let creds = credentials(&home.wine);
    assert!(
        creds.contains(&format!("Latchkey: account:{id}")),
        "the tokens are a generic credential named for people: {creds:?}"
    );

    let first = home.ok(Some(&idp), &["token", &id]);
    assert_eq!(idp.check_token(&first), 200);

    // Due for refresh, then 4 processes at once: one refreshes (rotating the refresh token),
    // the others wait on the lock file and take its result, or refresh after it (S14).
    std::thread::sleep(Duration::from_secs(6));
    let before = idp.stats();
    let procs: Vec<_> = (0..4)
        .map(|_| {
            home.exe("latchkey.exe", Some(&idp), &["token", &id])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let tokens: Vec<String> = procs
        .into_iter()
        .map(|p| {
            let o = wait_output(p, Duration::from_secs(120));
            assert!(o.status.success(), "{}", stderr_of(&o));
            String::from_utf8_lossy(&o.stdout).trim().to_string()
        })
        .collect();
    let after = idp.stats();
    assert_eq!(after["invalid_grant"], 0, "no grant lost: {after}");
    assert!(
        after["token_requests"].as_u64() > before["token_requests"].as_u64(),
        "a refresh happened: {before} → {after}"
    );
    for t in &tokens {
        assert_ne!(t, &first, "a fresh token after expiry");
        assert_eq!(idp.check_token(t), 200);
    }

    let api = home.ok(Some(&idp), &["api", &id, "protected"]);
    let v: serde_json::Value = serde_json::from_str(&api).unwrap_or_default();
    assert_eq!(v["ok"], true, "{api}");

    // exec: the token in the child's environment, and the child's exit code passed on.
    let echoed = home.ok(
        Some(&idp),
        &["exec", &id, "--", "cmd", "/c", "echo", "%LATCHKEY_TOKEN%"],
    );
    assert_eq!(idp.check_token(&echoed), 200, "{echoed}");
    let o = home.run(
        Some(&idp),
        &["exec", &id, "--", "cmd", "/c", "exit", "7"],
        None,
    );
    assert_eq!(o.status.code(), Some(7), "{}", stderr_of(&o));

    // No token in any file the run wrote under the Wine prefix (its registry included).
    let hits = files_holding(&home.wine.prefix, started, CANARY.as_bytes());
    assert!(hits.is_empty(), "a token reached a file: {hits:?}");

    let last = echoed;
    home.ok(Some(&idp), &["logout", &id]);
    assert!(
        idp.stats()["revocations"].as_u64() >= Some(1),
        "logout revoked at the server"
    );
    assert_eq!(idp.check_token(&last), 401, "the revoked token is dead");
    assert_eq!(
        account_credentials(&home.wine, &id),
        Vec::<String>::new(),
        "logout removed the credential"
    );
}

/// A token larger than one Credential Manager blob (2,560 bytes) is split into chunks and
/// comes back whole; removing the account removes every chunk.
#[test]
fn a_large_token_round_trips_through_credential_manager_chunks() {
    let started = SystemTime::now();
    let pat = format!("tskdp_{CANARY}_{}", "q".repeat(6000));
    let idp = Idp::start_with(IdpConfig {
        pats: vec![pat.clone()],
        ..Default::default()
    });
    let home = WinHome::new();
    let o = home.run(Some(&idp), &["add-token", "taskade"], Some(&pat));
    assert!(o.status.success(), "{}", stderr_of(&o));
    let id = String::from_utf8_lossy(&o.stdout).trim().to_string();
    let mine = account_credentials(&home.wine, &id);
    assert!(
        mine.len() >= 4,
        "a header and at least three chunks of at most 1,280 characters: {mine:?}"
    );
    assert_eq!(home.ok(Some(&idp), &["token", &id]), pat);
    let hits = files_holding(&home.wine.prefix, started, CANARY.as_bytes());
    assert!(hits.is_empty(), "the token reached a file: {hits:?}");
    home.ok(Some(&idp), &["logout", &id]);
    assert_eq!(
        account_credentials(&home.wine, &id),
        Vec::<String>::new(),
        "every chunk removed"
    );
}

/// S29: a browser command is read as a Windows command line; an interpreter is refused
/// before anything is saved, and a real program is accepted.
#[test]
fn a_browser_command_is_read_as_a_windows_command_line_s29() {
    let home = WinHome::new();
    let o = home.run(None, &["config", "browser", "cmd /c start %s"], None);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr_of(&o).contains("Name the browser program itself"),
        "{}",
        stderr_of(&o)
    );
    assert_eq!(
        home.ok(None, &["config", "browser"]),
        "(the default browser)"
    );
    let firefox = r#""C:\Program Files\Mozilla Firefox\firefox.exe" -private-window %s"#;
    home.ok(None, &["config", "browser", firefox]);
    assert_eq!(home.ok(None, &["config", "browser"]), firefox);
}

/// S1, S29: a sign-in through a configured browser command. Wine starts the Linux test
/// browser from the Windows command line, so the URL (with its `&`s) crosses
/// `CreateProcessW` as the one quoted argument Latchkey built, and the browser delivers the
/// answer to the loopback listener. The Taskade preset registers its own client (RFC 7591).
#[test]
fn sign_in_through_a_configured_browser_command_s29() {
    let idp = Idp::start();
    let home = WinHome::new();
    let browser = format!(
        "{} %s",
        latchkey::platform::cmdline::quote(&win_path(&test_browser()))
    );
    home.ok(None, &["config", "browser", &browser]);
    let o = home.run(Some(&idp), &["login", "taskade"], None);
    assert!(o.status.success(), "{}", stderr_of(&o));
    assert!(
        stderr_of(&o).contains("Opened your browser"),
        "{}",
        stderr_of(&o)
    );
    let id = String::from_utf8_lossy(&o.stdout).trim().to_string();
    assert!(id.starts_with("taskade-"), "{id}");
    assert_eq!(idp.stats()["registrations"], 1);
    let t = home.ok(Some(&idp), &["token", &id]);
    assert_eq!(idp.check_token(&t), 200);
    home.ok(Some(&idp), &["logout", &id]);
}

/// The programs are what Windows expects: `latchkey.exe` a console program,
/// `latchkey-desktop.exe` a window program (no console window), both with the icon and the
/// version resource.
#[test]
fn both_programs_have_the_right_subsystem_icon_and_version() {
    let w = wine();
    let subsystem = |exe: &str| {
        let b = std::fs::read(w.bin.join(exe)).unwrap();
        let pe = u32::from_le_bytes(b[0x3c..0x40].try_into().unwrap()) as usize;
        assert_eq!(&b[pe..pe + 4], b"PE\0\0", "{exe} is a PE file");
        // The optional header starts after the 20-byte COFF header; Subsystem is at 68 in it.
        let at = pe + 4 + 20 + 68;
        (u16::from_le_bytes(b[at..at + 2].try_into().unwrap()), b)
    };
    let utf16 = |s: &str| {
        s.encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect::<Vec<u8>>()
    };
    let has = |b: &[u8], s: &str| {
        let n = utf16(s);
        b.windows(n.len()).any(|w| w == n)
    };
    for (exe, want) in [("latchkey.exe", 3u16), ("latchkey-desktop.exe", 2u16)] {
        let (sub, bytes) = subsystem(exe);
        assert_eq!(sub, want, "{exe}: subsystem 3 is console, 2 is windows");
        assert!(
            has(&bytes, "ProductName") && has(&bytes, "Latchkey"),
            "{exe}: version resource"
        );
        assert!(has(&bytes, env!("CARGO_PKG_VERSION")), "{exe}: version");
        assert!(bytes.windows(4).any(|w| w == b"\x89PNG"), "{exe}: icon");
    }
}

/// S8 on Windows: `latchkey-desktop.exe` started by a link no sign-in waits for (as the
/// browser does through the URL protocol) exits at once and writes nothing; a malformed link
/// is refused; `latchkey.exe` checks links before it hands them on.
#[test]
fn links_at_a_cold_start_follow_the_same_rules_on_windows_s8() {
    let home = WinHome::new();
    let start = Instant::now();
    let o = home
        .exe(
            "latchkey-desktop.exe",
            None,
            &["dev.latchkey:/oauth/callback?code=forged&state=forged"],
        )
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0));
    assert!(start.elapsed() < Duration::from_secs(60));
    assert_eq!(
        std::fs::read_dir(home.dir.path()).unwrap().count(),
        0,
        "nothing written for an unawaited link"
    );
    for bad in [
        "dev.latchkey://evil.example/oauth/callback?code=x&state=y",
        "dev.latchkey:/elsewhere?code=x",
    ] {
        let o = home.run(None, &[bad], None);
        assert_eq!(o.status.code(), Some(1), "{bad}: {}", stderr_of(&o));
        let o = home
            .exe("latchkey-desktop.exe", None, &[bad])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(1), "{bad}");
    }
}

/// The installer, run silently under Wine, puts both programs in the chosen folder, the link
/// protocol under HKCU\Software\Classes, the Start-menu entry, the PATH entry and the WER
/// exclusions in place; the uninstaller takes all of it away and leaves the accounts.
#[test]
fn the_installer_registers_everything_and_the_uninstaller_removes_it() {
    let w = wine();
    let installer = std::env::var_os("LATCHKEY_WINDOWS_INSTALLER")
        .map(PathBuf::from)
        .expect("LATCHKEY_WINDOWS_INSTALLER is set by ./dev.sh test");
    let run = |args: &[&str]| {
        let o = Command::new(WINE)
            .args(args)
            .env("WINEPREFIX", &w.prefix)
            .output()
            .unwrap();
        assert!(o.status.success(), "{args:?}: {}", stderr_of(&o));
    };
    let dir = r"C:\lk-install-test";
    let on_disk = w.prefix.join("drive_c/lk-install-test");
    let _ = std::fs::remove_dir_all(&on_disk);
    run(&[installer.to_str().unwrap(), "/S", &format!("/D={dir}")]);
    assert!(on_disk.join("latchkey.exe").is_file());
    assert!(on_disk.join("latchkey-desktop.exe").is_file());
    let classes = r"HKCU\Software\Classes\dev.latchkey";
    assert_eq!(
        reg_value(&w, &format!(r"{classes}\shell\open\command"), None).as_deref(),
        Some(format!(r#""{dir}\latchkey-desktop.exe" "%1""#).as_str())
    );
    assert!(reg_value(&w, classes, Some("URL Protocol")).is_some());
    let wer = r"HKCU\Software\Microsoft\Windows\Windows Error Reporting\ExcludedApplications";
    assert_eq!(
        reg_value(&w, wer, Some("latchkey.exe")).as_deref(),
        Some("0x1")
    );
    let path = reg_value(&w, r"HKCU\Environment", Some("Path")).unwrap_or_default();
    assert!(path.split(';').any(|p| p == dir), "on the PATH: {path}");
    let uninstall_key = r"HKCU\Software\Microsoft\Windows\CurrentVersion\Uninstall\Latchkey";
    assert!(reg_value(&w, uninstall_key, Some("UninstallString")).is_some());
    let menu = w
        .prefix
        .join("drive_c/users")
        .read_dir()
        .unwrap()
        .flatten()
        .map(|u| {
            u.path()
                .join("AppData/Roaming/Microsoft/Windows/Start Menu/Programs/Latchkey.lnk")
        })
        .find(|p| p.is_file());
    assert!(menu.is_some(), "a Start-menu entry");

    // The installed command line works and keeps an account in Credential Manager.
    let pat = "tskdp_installer_test_account";
    let idp = Idp::start_with(IdpConfig {
        pats: vec![pat.into()],
        ..Default::default()
    });
    let home = WinHome::new();
    let o = home.run_program(
        &on_disk.join("latchkey.exe"),
        Some(&idp),
        &["add-token", "taskade"],
        Some(pat),
    );
    assert!(o.status.success(), "{}", stderr_of(&o));
    let id = String::from_utf8_lossy(&o.stdout).trim().to_string();

    // `_?=` keeps the uninstaller in place so that it runs to the end before we look.
    run(&[
        on_disk.join("uninstall.exe").to_str().unwrap(),
        "/S",
        &format!("_?={dir}"),
    ]);
    assert!(!on_disk.join("latchkey.exe").exists());
    assert!(!on_disk.join("latchkey-desktop.exe").exists());
    assert!(reg_value(&w, &format!(r"{classes}\shell\open\command"), None).is_none());
    assert!(reg_value(&w, classes, Some("URL Protocol")).is_none());
    assert!(reg_value(&w, wer, Some("latchkey.exe")).is_none());
    assert!(reg_value(&w, uninstall_key, Some("UninstallString")).is_none());
    let path = reg_value(&w, r"HKCU\Environment", Some("Path")).unwrap_or_default();
    assert!(!path.split(';').any(|p| p == dir), "off the PATH: {path}");
    assert!(!menu.unwrap().exists(), "the Start-menu entry is gone");
    assert!(
        credentials(&w).contains(&format!("Latchkey: account:{id}")),
        "the account stays in Credential Manager"
    );
    // Clean up the account (the person would run `latchkey logout --all`).
    home.ok(Some(&idp), &["logout", &id]);
    let _ = std::fs::remove_dir_all(&on_disk);
}

/// The MCP bridge under Wine (issue 38): the Python MCP SDK's stdio client starts
/// `latchkey.exe mcp connect`, which uses the account signed in under Wine (its token in
/// Wine's Credential Manager) to reach the TypeScript SDK's server on the Linux loopback.
/// The Python MCP SDK's stdio client on Linux driving `wine64 PROGRAM mcp connect URL`;
/// returns its report and stderr.
fn python_client_under_wine(
    home: &WinHome,
    url: &str,
    program: &std::ffi::OsStr,
) -> (serde_json::Value, String) {
    let python = root().join("tests/tools/.venv/bin/python");
    let child = Command::new(python)
        .arg(root().join("tests/tools/mcp_client.py"))
        .arg(url)
        .arg(WINE)
        .arg(program)
        .env("LATCHKEY_HOME", win_path(home.dir.path()))
        .env_remove("DISPLAY")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python");
    let o = wait_output(child, Duration::from_secs(180));
    let out = String::from_utf8_lossy(&o.stdout);
    let r = serde_json::from_str(out.lines().last().unwrap_or("{}"))
        .unwrap_or_else(|_| panic!("{out} / {}", stderr_of(&o)));
    (r, stderr_of(&o))
}

#[test]
fn the_mcp_bridge_relays_a_python_client_under_wine() {
    let idp = Idp::start();
    let home = WinHome::new();
    let url = format!("{}/sdk-mcp", idp.issuer);
    // Connect the server's account the way a person would, with the sign-in address printed.
    sign_in_printed(
        &home,
        None,
        &idp,
        &["login", "--resource", &url, "--no-browser"],
    );
    // The Python client on Linux, the bridge under Wine.
    let exe = home.wine.bin.join("latchkey.exe");
    let (r, err) = python_client_under_wine(&home, &url, exe.as_os_str());
    assert_eq!(r["server"], "latchkey-test-mcp", "{r} {err}");
    assert_eq!(r["echo"], "from python");
    let s = idp.stats()["mcp"].clone();
    assert_eq!(
        s["deletes"], 1,
        "the session ended when the client closed: {s}"
    );
}

/// `latchkey.exe mcp add` finds each app's file where Windows keeps it (Roaming AppData, the
/// profile folder), keeps a file's other servers and Windows line ends, and the entry it
/// writes (a Windows path to latchkey.exe) runs the bridge for the Python SDK's client.
#[test]
fn mcp_add_writes_the_windows_places_and_the_entry_runs_under_wine() {
    let idp = Idp::start();
    let home = WinHome::new();
    let url = format!("{}/sdk-mcp", idp.issuer);
    sign_in_printed(
        &home,
        None,
        &idp,
        &["login", "--resource", &url, "--no-browser"],
    );
    // A unique name: the apps' files are the Wine prefix's, shared by every test run.
    let name = format!("lk-wine-{}", std::process::id());
    let apps = ["claude-desktop", "cursor", "vscode", "zed"];
    let mut add = vec!["mcp", "add", name.as_str(), url.as_str()];
    for a in apps {
        add.extend(["--app", a]);
    }
    // Where the apps' files are, as latchkey.exe sees them, mapped back onto the prefix.
    let listed = |h: &WinHome| -> Vec<serde_json::Value> {
        let o = h.run(None, &["mcp", "list", "--json"], None);
        serde_json::from_slice::<serde_json::Value>(&o.stdout)
            .unwrap_or_else(|_| panic!("{}", stderr_of(&o)))
            .as_array()
            .unwrap()
            .clone()
    };
    let on_linux = |win: &str| -> PathBuf {
        let rest = win.strip_prefix("C:\\").unwrap_or_else(|| panic!("{win}"));
        home.wine
            .prefix
            .join("drive_c")
            .join(rest.replace('\\', "/"))
    };
    let cursor_dir = {
        let o = home.run(
            None,
            &["mcp", "add", &name, &url, "--app", "cursor", "--dry-run"],
            None,
        );
        let out = String::from_utf8_lossy(&o.stdout).to_string();
        let path = out
            .lines()
            .find_map(|l| l.strip_prefix("+++ "))
            .unwrap_or_else(|| panic!("{out} {}", stderr_of(&o)))
            .trim_end_matches(" (new file)")
            .to_string();
        assert!(path.ends_with("\\.cursor\\mcp.json"), "{path}");
        on_linux(&path).parent().unwrap().to_path_buf()
    };
    std::fs::create_dir_all(&cursor_dir).unwrap();
    let cursor = cursor_dir.join("mcp.json");
    let before = "{\r\n  \"mcpServers\": {\r\n    \"other\": { \"command\": \"npx\", \"args\": [\"x\"] }\r\n  }\r\n}\r\n";
    let had = std::fs::read_to_string(&cursor).ok();
    std::fs::write(&cursor, before).unwrap();

    let o = home.run(None, &add, None);
    assert_eq!(o.status.code(), Some(0), "{}", stderr_of(&o));
    let mine: Vec<_> = listed(&home)
        .into_iter()
        .filter(|l| l["name"] == name.as_str())
        .collect();
    assert_eq!(mine.len(), 4, "{mine:?}");
    for l in &mine {
        let file = l["file"].as_str().unwrap();
        match l["app"].as_str().unwrap() {
            "claude-desktop" => assert!(
                file.ends_with("\\AppData\\Roaming\\Claude\\claude_desktop_config.json"),
                "{file}"
            ),
            "vscode" => assert!(
                file.ends_with("\\AppData\\Roaming\\Code\\User\\mcp.json"),
                "{file}"
            ),
            "zed" => assert!(
                file.ends_with("\\AppData\\Roaming\\Zed\\settings.json"),
                "{file}"
            ),
            _ => {}
        }
        assert_eq!(l["bridge"]["url"], url.as_str());
        assert!(on_linux(file).is_file(), "{file}");
    }
    let now = std::fs::read_to_string(&cursor).unwrap();
    assert!(
        now.contains("\"other\": { \"command\": \"npx\", \"args\": [\"x\"] }"),
        "{now}"
    );
    assert!(
        !now.replace("\r\n", "").contains('\n'),
        "Windows line ends kept: {now:?}"
    );
    let entry: serde_json::Value = serde_json::from_str(&now).unwrap();
    let command = entry["mcpServers"][&name]["command"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        command.ends_with("latchkey.exe") && command.contains(":\\"),
        "{command}"
    );

    // The entry's own program, under Wine, for the Python SDK's client.
    let (r, err) = python_client_under_wine(&home, &url, std::ffi::OsStr::new(&command));
    assert_eq!(r["echo"], "from python", "{r} {err}");

    let o = home.run(None, &["mcp", "remove", &name], None);
    assert_eq!(o.status.code(), Some(0), "{}", stderr_of(&o));
    assert!(listed(&home).iter().all(|l| l["name"] != name.as_str()));
    // Leave the prefix as it was found.
    match had {
        Some(t) => std::fs::write(&cursor, t).unwrap(),
        None => std::fs::remove_file(&cursor).unwrap(),
    }
}

/// Issue 39 on Windows: `latchkey.exe token` run by `cmd.exe` is recorded with the program
/// found from a process snapshot (cmd, its full path from QueryFullProcessImageNameW), and
/// `deny` refuses with exit 5 and nothing on stdout.
#[test]
fn hand_outs_are_attributed_from_a_process_snapshot_under_wine() {
    let idp = Idp::start();
    let home = WinHome::new();
    let url = format!("{}/sdk-mcp", idp.issuer);
    let id = sign_in_printed(
        &home,
        None,
        &idp,
        &["login", "--resource", &url, "--no-browser"],
    );
    let exe = win_path(&home.wine.bin.join("latchkey.exe"));
    let line = format!("{exe} token {id}");
    let o = home.run_program(Path::new("cmd"), None, &["/c", &line], None);
    assert_eq!(o.status.code(), Some(0), "{}", stderr_of(&o));
    let log = home.ok(None, &["activity", "--json"]);
    let log: serde_json::Value = serde_json::from_str(&log).unwrap();
    assert_eq!(log[0]["what"], "token", "{log}");
    assert_eq!(log[0]["program"]["name"], "cmd", "{log}");
    let path = log[0]["program"]["path"].as_str().unwrap_or("");
    assert!(path.to_ascii_lowercase().ends_with("cmd.exe"), "{log}");
    home.ok(None, &["policy", &id, "deny"]);
    let o = home.run(None, &["token", &id], None);
    assert_eq!(o.status.code(), Some(5), "{}", stderr_of(&o));
    assert!(o.stdout.is_empty());
}
