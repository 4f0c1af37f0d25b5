//! The security batteries of issue 10, shared by the test suite (small samples) and the
//! `latchkey-battery` command (the full counts):
//! - forged links through every door while real sign-ins are pending;
//! - `kill -9` of the app or the command line in the middle of refreshes.

use crate::*;
use latchkey::accounts::LoginOptions;
use latchkey::provider::{ClientAuth, RedirectKind};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A small deterministic generator (xorshift), so a failing run can be replayed by seed.
pub struct Rng(u64);

impl Rng {
    /// Seeded generator.
    pub fn new(seed: u64) -> Self {
        Rng(seed.max(1))
    }
    /// Next value.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    /// 0..n.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
    fn token(&mut self, len: usize) -> String {
        const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        (0..len)
            .map(|_| A[self.below(A.len() as u64) as usize] as char)
            .collect()
    }
}

/// Time-based seed, printed by callers.
pub fn seed() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1)
}

/// What the generator knows of the real world: the issuer, a state already used.
pub struct Ingredients {
    /// The IdP's issuer.
    pub issuer: String,
    /// A callback that already completed (its state is used).
    pub used_link: String,
    /// The state of a planted transaction that has expired.
    pub expired_state: String,
}

/// The kinds of forged callback, in the order the generator cycles through them.
pub const KINDS: [&str; 9] = [
    "unknown state",
    "reused state",
    "expired state",
    "wrong iss",
    "error callback",
    "oversized",
    "malformed",
    "odd encoding",
    "other scheme",
];

/// The `i`th forged callback: (kind, link).
pub fn forged(i: usize, rng: &mut Rng, ing: &Ingredients) -> (&'static str, String) {
    let base = "dev.latchkey:/oauth/callback";
    let iss = &ing.issuer;
    let kind = KINDS[i % KINDS.len()];
    let code = rng.token(43);
    let state = rng.token(43);
    let link = match kind {
        "unknown state" => format!("{base}?code={code}&state={state}&iss={iss}"),
        "reused state" => ing.used_link.clone(),
        "expired state" => format!("{base}?code={code}&state={}&iss={iss}", ing.expired_state),
        "wrong iss" => match rng.below(3) {
            0 => format!("{base}?code={code}&state={state}&iss=https://evil.example"),
            1 => format!("{base}?code={code}&state={state}"),
            _ => format!("{base}?code={code}&state={state}&iss={iss}&iss={iss}"),
        },
        "error callback" => match rng.below(3) {
            0 => format!("{base}?error=access_denied&state={state}"),
            1 => format!("{base}?error=server_error&error_description=%3Cscript%3Ealert(1)%3C%2Fscript%3E&state={state}&iss={iss}"),
            _ => format!("{base}?error=invalid_request&error_description={}&state={}", "A".repeat(5000), ing.expired_state),
        },
        "oversized" => {
            let n = 16 * 1024 + rng.below(48 * 1024) as usize;
            format!("{base}?code={}&state={state}", "x".repeat(n))
        }
        "malformed" => match rng.below(8) {
            0 => format!("{base}?code=%zz&state=%"),
            1 => format!("{base}?state={state}%00&code={code}%0d%0aSet-Cookie:x"),
            2 => format!("{base}?{}", String::from_utf8_lossy(&(0..64).map(|_| rng.below(256) as u8).collect::<Vec<_>>())),
            3 => "dev.latchkey:".to_string(),
            4 => format!("{base}?state"),
            5 => format!("{base}#code={code}&state={state}"),
            6 => format!("dev.latchkey:/oauth/callback/../../etc?code={code}&state={state}"),
            _ => format!("dev.latchkey:/oauth/callbäck?code={code}&state=😀{state}"),
        },
        "odd encoding" => match rng.below(6) {
            0 => format!("{base}?code={code}&state=%2541{state}"),
            1 => format!("DEV.LATCHKEY:/oauth/callback?code={code}&state={state}&iss={iss}"),
            2 => format!("dev.latchkey://oauth/callback?code={code}&state={state}"),
            3 => format!("{base}?code={code}&state={state}&state={state}"),
            4 => format!("{base}?co%64e={code}&st%61te={state}&iss={}", iss.replace(':', "%3A")),
            _ => format!("{base}?code={code}+{code}&state={state}+"),
        },
        _ => match rng.below(5) {
            0 => format!("dev.latchkey.evil:/oauth/callback?code={code}&state={state}"),
            1 => format!("http://127.0.0.1:1/callback?code={code}&state={state}"),
            2 => "javascript:alert(document.cookie)".to_string(),
            3 => "file:///etc/passwd".to_string(),
            _ => format!("latchkey:/oauth/callback?code={code}&state={state}"),
        },
    };
    (kind, link)
}

/// Every Latchkey item in the keyring, by name, with its secret (pending sign-ins apart).
/// secret-tool prints each item's secret on stdout and its attributes on stderr, in the same
/// order.
pub fn keyring_items() -> BTreeMap<String, String> {
    let o = Command::new("secret-tool")
        .args(["search", "--all", "--unlock", "service", "latchkey"])
        .output()
        .expect("secret-tool");
    let out = String::from_utf8_lossy(&o.stdout);
    let secrets = out.lines().filter_map(|l| l.strip_prefix("secret = "));
    let errs = String::from_utf8_lossy(&o.stderr);
    let users = errs
        .lines()
        .filter_map(|l| l.strip_prefix("attribute.username = "));
    let mut items: BTreeMap<String, String> = users
        .map(str::to_string)
        .zip(secrets.map(str::to_string))
        .collect();
    items.retain(|k, _| !k.starts_with("pending:"));
    items
}

/// Figures of one forged-link run.
#[derive(Debug, Default)]
pub struct ForgedReport {
    /// Links per door.
    pub delivered: BTreeMap<&'static str, usize>,
    /// Links per kind.
    pub kinds: BTreeMap<&'static str, usize>,
    /// Links the `latchkey` command refused before any app saw them.
    pub refused_at_the_door: usize,
    /// Token requests the IdP saw while the battery ran.
    pub token_requests: u64,
    /// Whether accounts, providers and keyring items were unchanged.
    pub unchanged: bool,
    /// What changed, if anything.
    pub changes: Vec<String>,
    /// Whether the real sign-ins (app and command line) completed afterwards.
    pub real_sign_ins_completed: bool,
    /// Wall time.
    pub seconds: f64,
}

impl ForgedReport {
    /// Adds another round's figures to these.
    pub fn add(&mut self, round: ForgedReport) {
        for (door, n) in round.delivered {
            *self.delivered.entry(door).or_default() += n;
        }
        for (kind, n) in round.kinds {
            *self.kinds.entry(kind).or_default() += n;
        }
        self.refused_at_the_door += round.refused_at_the_door;
        self.token_requests += round.token_requests;
        self.unchanged &= round.unchanged;
        self.changes.extend(round.changes);
        self.real_sign_ins_completed &= round.real_sign_ins_completed;
        self.seconds += round.seconds;
    }
}

/// Sends `link` to the loopback listener as a browser would (raw HTTP/1.1, one connection).
fn to_loopback(port: u16, link: &str) {
    let path = match link.split_once('?') {
        Some((head, q)) if head.ends_with("/oauth/callback") => format!("/callback?{q}"),
        Some((_, q)) => format!("/elsewhere?{q}"),
        None => format!("/{}", link.replace(' ', "%20")),
    };
    let path: String = path.chars().filter(|c| !c.is_control()).collect();
    if let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) {
        let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
        let _ = s.write_all(
            format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        );
        let mut sink = Vec::new();
        let _ = s.read_to_end(&mut sink);
    }
}

/// The forged-link battery. `engine`, `loopback` and `forward` links go through the accounts
/// service, the command line's loopback listener and the running app's single-instance
/// forward; `cold` links each start the app from nothing.
pub fn forged_links(
    engine: usize,
    loopback: usize,
    forward: usize,
    cold: usize,
    seed: u64,
) -> ForgedReport {
    let started = Instant::now();
    let mut rng = Rng::new(seed);
    let idp = Idp::start();
    let home = TestHome::new();
    let acc = accounts_in(&home);
    add_provider(
        &acc,
        idp_provider(&idp, "idp", "latchkey-public", ClientAuth::None),
    );
    let scheme = LoginOptions {
        redirect: Some(RedirectKind::Scheme),
        ..Default::default()
    };
    // One real sign-in first: its link becomes the "reused state".
    let first = rt()
        .block_on(acc.begin_login("idp", scheme.clone()))
        .unwrap();
    let used_link = idp.approve(first.authorize_url.expose());
    rt().block_on(acc.complete_login(&used_link)).unwrap();
    // A planted transaction that expired a minute ago.
    let expired = rt()
        .block_on(acc.begin_login("idp", scheme.clone()))
        .unwrap();
    let expired_state = {
        let v = acc.vault();
        let key = format!("pending:{}", expired.handle);
        let raw = v.get_secret(&key).unwrap().unwrap();
        let mut tx: latchkey::oauth::Transaction = serde_json::from_str(raw.expose()).unwrap();
        tx.expires = latchkey::clock::now() - 60;
        v.put_secret(
            &key,
            &latchkey::secret::Secret::new(serde_json::to_string(&tx).unwrap()),
        )
        .unwrap();
        tx.state.expose().to_string()
    };
    let ing = Ingredients {
        issuer: idp.issuer.clone(),
        used_link,
        expired_state,
    };
    // The real sign-ins that must survive: one for the app (scheme link), one on the
    // command line's loopback listener.
    // Approved only after the forged links: the IdP's authorization code lives 60 s.
    let real = rt().block_on(acc.begin_login("idp", scheme)).unwrap();
    // Its own data folder, so killing the app between cold starts never touches it.
    let cli_home = TestHome::new();
    cli_home.point_taskade_at(&idp);
    let mut login = cli_home.cli();
    login
        .args(["login", "taskade", "--no-browser"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut login = login.spawn().unwrap();
    let mut login_err = BufReader::new(login.stderr.take().unwrap());
    let cli_url = loop {
        let mut line = String::new();
        assert!(
            login_err.read_line(&mut line).unwrap() > 0,
            "login printed no URL"
        );
        if line.starts_with("http") {
            break line.trim().to_string();
        }
    };
    let port: u16 = url::Url::parse(&cli_url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "redirect_uri")
        .and_then(|(_, v)| url::Url::parse(&v).ok())
        .and_then(|u| u.port())
        .expect("loopback port");

    let before_index = home.index();
    // This home's items only: other tests share the session's keyring.
    let ours: Vec<String> = before_index["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| format!("account:{}", a["id"].as_str().unwrap()))
        .collect();
    let mine = |mut m: BTreeMap<String, String>| {
        m.retain(|k, _| ours.contains(k));
        m
    };
    let before_keyring = mine(keyring_items());
    assert_eq!(
        before_keyring.len(),
        ours.len(),
        "every account's record is in the keyring"
    );
    let before_requests = idp.stats()["token_requests"].as_u64().unwrap();
    let before_files = (files_under(home.path()), files_under(cli_home.path()));
    let mut report = ForgedReport::default();
    fn count(report: &mut ForgedReport, door: &'static str, kind: &'static str) {
        *report.delivered.entry(door).or_default() += 1;
        *report.kinds.entry(kind).or_default() += 1;
    }

    // 1. The accounts service, as every door ends up calling it.
    for i in 0..engine {
        let (kind, link) = forged(i, &mut rng, &ing);
        assert!(
            rt().block_on(acc.complete_login(&link)).is_err(),
            "{kind} accepted"
        );
        count(&mut report, "accounts service", kind);
    }
    // 2. The command line's loopback listener, while its sign-in is pending.
    for i in 0..loopback {
        let (kind, link) = forged(i, &mut rng, &ing);
        to_loopback(port, &link);
        count(&mut report, "loopback listener", kind);
    }
    assert!(
        login.try_wait().unwrap().is_none(),
        "the CLI login gave up on forged requests"
    );
    // 3. Cold starts: each forged link starts the app from nothing.
    let env = [("LATCHKEY_TASKADE_BASE", idp.issuer.as_str())];
    for i in 0..cold {
        let (kind, link) = forged(i * 7 + 1, &mut rng, &ing);
        // argv cannot carry NUL bytes: such a link can't reach this door at all.
        let link = link.replace('\0', "%00");
        let mut app = AppProcess::start(&home, &[&link], &env);
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(30) {
            let log = app.log_text();
            if !app.running() || log.contains("Latchkey started") {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        if !app.running() {
            report.refused_at_the_door += 1;
        }
        drop(app);
        kill_apps(home.path());
        count(&mut report, "argv at cold start", kind);
    }
    // 4. The single-instance forward into a running app.
    let app = AppProcess::start(&home, &["--minimized"], &env);
    app.wait_log("Latchkey started", Duration::from_secs(60));
    for i in 0..forward {
        let (kind, link) = forged(i, &mut rng, &ing);
        let link = link.replace('\0', "%00");
        let o = Command::new(bin())
            .arg(&link)
            .env("LATCHKEY_HOME", home.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap();
        if !o.success() {
            report.refused_at_the_door += 1;
        }
        count(&mut report, "single-instance forward", kind);
    }

    report.token_requests = idp.stats()["token_requests"].as_u64().unwrap() - before_requests;
    let after_index = home.index();
    let after_keyring = mine(keyring_items());
    let mut changes = Vec::new();
    if after_index["accounts"] != before_index["accounts"] {
        changes.push("accounts".to_string());
    }
    if after_index["providers"] != before_index["providers"] {
        changes.push("providers".to_string());
    }
    if after_keyring != before_keyring {
        let keys = |m: &BTreeMap<String, String>| m.keys().cloned().collect::<Vec<_>>();
        changes.push(format!(
            "keyring {:?} -> {:?}",
            keys(&before_keyring),
            keys(&after_keyring)
        ));
    }
    // S8: no file appears anywhere under either data folder (no lock file, no log, nothing).
    let after_files = (files_under(home.path()), files_under(cli_home.path()));
    if after_files != before_files {
        let new: Vec<_> = after_files
            .0
            .difference(&before_files.0)
            .chain(after_files.1.difference(&before_files.1))
            .cloned()
            .collect();
        changes.push(format!("files appeared in the data folder: {new:?}"));
    }
    if acc
        .vault()
        .get_secret(&format!("pending:{}", real.handle))
        .unwrap()
        .is_none()
    {
        changes.push("the real pending sign-in is gone".to_string());
    }
    report.unchanged = changes.is_empty();
    report.changes = changes;

    // The real sign-ins still complete: the app through its link, the CLI through loopback.
    let saved_before = app.log_text().matches("account saved").count();
    let real_link = idp.approve(real.authorize_url.expose());
    let st = Command::new(bin())
        .arg(&real_link)
        .env("LATCHKEY_HOME", home.path())
        .status()
        .unwrap();
    let t = Instant::now();
    let mut app_ok = false;
    while st.success() && t.elapsed() < Duration::from_secs(30) {
        if app.log_text().matches("account saved").count() > saved_before {
            app_ok = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let back = idp.approve(&cli_url);
    let answered = reqwest::blocking::get(&back).map(|r| r.status().as_u16());
    let out = wait_output(login, Duration::from_secs(30));
    let mut rest = String::new();
    let _ = login_err.read_to_string(&mut rest);
    report.real_sign_ins_completed = app_ok && out.status.success();
    if !app_ok {
        report.changes.push(format!(
            "the app did not complete the real sign-in: {}",
            app.log_text()
                .lines()
                .rev()
                .take(8)
                .collect::<Vec<_>>()
                .join(" | ")
        ));
    }
    if !out.status.success() {
        report.changes.push(format!(
            "the CLI sign-in failed ({:?}, listener answered {answered:?}): {}",
            out.status,
            rest.trim()
        ));
    }
    drop(app);
    kill_apps(home.path());
    report.seconds = started.elapsed().as_secs_f64();
    report
}

/// Figures of the crash battery.
#[derive(Debug, Default)]
pub struct CrashReport {
    /// Runs that killed the command line.
    pub killed_cli: usize,
    /// Runs that killed the app.
    pub killed_app: usize,
    /// Runs after which the account worked at once.
    pub usable: usize,
    /// Runs after which the account plainly needed sign-in (a rotated refresh token whose
    /// answer was lost with the process).
    pub needs_sign_in: usize,
    /// Runs that left an unreadable index or an account in any other state: must be 0.
    pub broken: Vec<String>,
}

/// `runs` times: start a refresh in the command line or the app, `kill -9` it at a random
/// moment, then check the index and the account.
pub fn crash_runs(runs: usize, seed: u64) -> CrashReport {
    let mut rng = Rng::new(seed);
    let idp = Idp::start_with(IdpConfig {
        rotate: true,
        ..Default::default()
    });
    let home = TestHome::new();
    let id = cli_login(&home, &idp);
    // The app refreshes on every 1 s tick: its margin is longer than the token's life.
    let v = accounts_in(&home);
    v.vault()
        .update_index(|idx| idx.settings.refresh_margin_secs = 100_000)
        .unwrap();
    let env = |c: &mut Command| {
        c.env("LATCHKEY_HOME", home.path())
            .env("LATCHKEY_TASKADE_BASE", &idp.issuer)
            .env("LATCHKEY_REFRESH_TICK_SECS", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
    };
    let mut report = CrashReport::default();
    for run in 0..runs {
        let app_run = rng.below(2) == 0;
        let mut c = Command::new(bin());
        env(&mut c);
        if app_run {
            c.arg("--minimized");
            report.killed_app += 1;
        } else {
            c.args(["refresh", &id]);
            report.killed_cli += 1;
        }
        let mut child = c.spawn().unwrap();
        let wait = if app_run {
            500 + rng.below(3000)
        } else {
            rng.below(120)
        };
        std::thread::sleep(Duration::from_millis(wait));
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
        kill_apps(home.path());
        // The index must parse, and the account must be usable or plainly need sign-in.
        let raw = std::fs::read(home.path().join("accounts.json")).unwrap_or_default();
        if serde_json::from_slice::<serde_json::Value>(&raw).is_err() {
            report.broken.push(format!("run {run}: unreadable index"));
            continue;
        }
        // A refresh proves the stored refresh token still works; then the token is used.
        let mut r = Command::new(bin());
        env(&mut r);
        let refreshed = r
            .args(["refresh", &id])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        let o = if refreshed.status.success() {
            let mut t = Command::new(bin());
            env(&mut t);
            t.args(["token", &id])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .output()
                .unwrap()
        } else {
            refreshed
        };
        match o.status.code() {
            Some(0) if idp.check_token(String::from_utf8_lossy(&o.stdout).trim()) == 200 => {
                report.usable += 1
            }
            Some(2) if String::from_utf8_lossy(&o.stderr).contains("latchkey login") => {
                report.needs_sign_in += 1;
                // Sign in again, as the person would, and go on.
                let again = cli_login(&home, &idp);
                if again != id {
                    report
                        .broken
                        .push(format!("run {run}: sign-in again made a new account"));
                    break;
                }
            }
            other => report.broken.push(format!(
                "run {run}: token exited {other:?}: {}",
                String::from_utf8_lossy(&o.stderr).trim()
            )),
        }
    }
    report
}
