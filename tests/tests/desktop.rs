//! Sign-in from the desktop and the accounts window: a real WebKit window driven by
//! WebKitWebDriver, the real IdP, the real keyring, the real X clipboard.

use latchkey_e2e::*;
use std::time::Duration;

const T: Duration = Duration::from_secs(30);

fn browser_env<'a>(
    idp: &'a Idp,
    delivery: &'a str,
    extra: &[(&'a str, String)],
) -> Vec<(&'a str, String)> {
    let mut v = vec![
        ("LATCHKEY_BROWSER", test_browser().display().to_string()),
        ("LATCHKEY_BIN", bin().display().to_string()),
        ("LATCHKEY_TEST_DELIVERY", delivery.to_string()),
        ("LATCHKEY_TASKADE_BASE", idp.issuer.clone()),
    ];
    v.extend(extra.iter().cloned());
    v
}

fn start(home: &TestHome, env: &[(&str, String)]) -> WebApp {
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    WebApp::start(home, &env)
}

fn connect_idp(app: &WebApp) {
    app.click_css("#connect");
    app.click_css("[data-provider=idp]");
    app.click_css("[data-method=browser]");
}

#[test]
fn sign_in_completes_through_a_warm_deep_link() {
    let idp = Idp::start();
    let home = idp_home(&idp);
    let app = start(&home, &browser_env(&idp, "argv", &[]));
    connect_idp(&app);
    let text = app.wait_text("Signed in as alice", T);
    assert!(text.contains("Connected Test IdP idp"), "{text}");
    app.screenshot("signin-success");
    app.click_css("[data-view=success] button");
    app.wait_for("[data-view=accounts] [data-account]", T);
    let acc = accounts_in(&home);
    let id = acc.list().unwrap()[0].id.clone();
    let token = rt().block_on(acc.fresh_token(&id, 60)).unwrap();
    assert_eq!(idp.check_token(token.expose()), 200);
    let log = app.log_text();
    assert!(
        log.contains("received a sign-in link") && log.contains("sign-in completed"),
        "{log}"
    );
    assert!(
        !log.contains("code=") && !log.contains(token.expose()),
        "S8/S19: {log}"
    );
}

#[test]
fn sign_in_completes_through_gio_open() {
    let idp = Idp::start();
    let home = idp_home(&idp);
    let app = start(&home, &browser_env(&idp, "gio", &[]));
    connect_idp(&app);
    app.wait_text("Signed in as alice", T);
    assert_eq!(accounts_in(&home).list().unwrap().len(), 1);
}

#[test]
fn one_click_taskade_sign_in_completes_through_loopback() {
    let idp = Idp::start();
    let home = TestHome::new();
    let app = start(&home, &browser_env(&idp, "loopback", &[]));
    app.click_css("#connect");
    app.click_css("[data-provider=taskade]");
    app.click_css("[data-method=browser]");
    app.wait_text("Connected Taskade", T);
    assert_eq!(idp.stats()["registrations"], 1);
    let acc = accounts_in(&home);
    std::env::set_var(latchkey::provider::TASKADE_BASE_ENV, &idp.issuer);
    let v = acc.list().unwrap();
    assert_eq!(v[0].identity.as_deref(), Some("alice"));
}

#[test]
fn forged_links_during_a_pending_sign_in_change_nothing_s8() {
    let idp = Idp::start();
    let home = idp_home(&idp);
    // The browser keeps the redirect it "holds" outside Latchkey's data folder.
    let held = tempfile::tempdir().unwrap();
    let file = held.path().join("redirect.txt");
    let app = start(
        &home,
        &browser_env(&idp, &format!("file:{}", file.display()), &[]),
    );
    connect_idp(&app);
    app.wait_for("[data-view=waiting]", T);
    while !file.exists() {
        std::thread::sleep(Duration::from_millis(100));
    }
    app.screenshot("signin-waiting");
    let real = std::fs::read_to_string(&file).unwrap();
    let state = url::Url::parse(&real)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned();
    let forged = [
        "dev.latchkey:/oauth/callback?code=forged&state=nosuchstate".to_string(),
        real.replace(
            &format!(
                "iss={}",
                url::form_urlencoded::byte_serialize(idp.issuer.as_bytes()).collect::<String>()
            ),
            "iss=https%3A%2F%2Fevil.example",
        )
        .replace(&state, "otherstate"),
        "dev.latchkey:/oauth/callback?error=access_denied&state=nosuchstate".to_string(),
    ];
    for f in &forged {
        let o = std::process::Command::new(bin())
            .arg(f)
            .env("LATCHKEY_HOME", home.path())
            .output()
            .unwrap();
        assert!(o.status.success());
    }
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(
        idp.stats()["token_requests"],
        0,
        "no token request for a forged link"
    );
    assert!(
        app.js("return document.body.dataset.view").as_str() == Some("signin"),
        "the waiting view is unchanged"
    );
    assert!(accounts_in(&home).list().unwrap().is_empty());
    // A link for no waiting sign-in is dropped by the process the desktop started, before
    // it is forwarded: the running app never hears of it.
    let log = app.log_text();
    assert_eq!(
        log.matches("another launch was forwarded").count(),
        0,
        "{log}"
    );
    assert!(
        !log.contains("nosuchstate") && !log.contains("forged"),
        "S8: no query in the log: {log}"
    );
    // The real link still completes afterwards.
    let o = std::process::Command::new(bin())
        .arg(&real)
        .env("LATCHKEY_HOME", home.path())
        .output()
        .unwrap();
    assert!(o.status.success());
    app.wait_text("Signed in as alice", T);
    assert_eq!(idp.stats()["token_requests"], 1);
}

#[test]
fn cold_start_completes_a_sign_in_approved_after_the_app_quit() {
    let idp = Idp::start();
    let home = idp_home(&idp);
    // The browser keeps the redirect it "holds" outside Latchkey's data folder.
    let held = tempfile::tempdir().unwrap();
    let file = held.path().join("redirect.txt");
    {
        let app = start(
            &home,
            &browser_env(&idp, &format!("file:{}", file.display()), &[]),
        );
        connect_idp(&app);
        app.wait_for("[data-view=waiting]", T);
        while !file.exists() {
            std::thread::sleep(Duration::from_millis(100));
        }
    } // the app is gone
    let real = std::fs::read_to_string(&file).unwrap();
    let app = AppProcess::start(&home, &[&real], &[]);
    app.wait_log("sign-in completed", T);
    assert_eq!(
        accounts_in(&home).list().unwrap()[0].identity.as_deref(),
        Some("alice")
    );
}

#[test]
fn cancel_makes_a_late_link_do_nothing() {
    let idp = Idp::start();
    let home = idp_home(&idp);
    // The browser keeps the redirect it "holds" outside Latchkey's data folder.
    let held = tempfile::tempdir().unwrap();
    let file = held.path().join("redirect.txt");
    let app = start(
        &home,
        &browser_env(&idp, &format!("file:{}", file.display()), &[]),
    );
    connect_idp(&app);
    app.wait_for("[data-view=waiting]", T);
    while !file.exists() {
        std::thread::sleep(Duration::from_millis(100));
    }
    app.click_css("[data-action=cancel]");
    app.wait_for("[data-view=empty]", T);
    let o = std::process::Command::new(bin())
        .arg(std::fs::read_to_string(&file).unwrap())
        .env("LATCHKEY_HOME", home.path())
        .output()
        .unwrap();
    assert!(o.status.success());
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(idp.stats()["token_requests"], 0);
    assert!(accounts_in(&home).list().unwrap().is_empty());
    app.wait_for("[data-view=empty]", T);
}

#[test]
fn denied_consent_says_you_cancelled_with_try_again() {
    let idp = Idp::start();
    idp.set_mode(serde_json::json!({"deny": true}));
    let home = idp_home(&idp);
    let app = start(&home, &browser_env(&idp, "argv", &[]));
    connect_idp(&app);
    let text = app.wait_text("You cancelled the sign-in at Test IdP idp", T);
    assert!(text.contains("Try again"), "{text}");
    app.screenshot("signin-denied");
}

#[test]
fn a_failing_browser_command_offers_copy_link() {
    let idp = Idp::start();
    let home = idp_home(&idp);
    let app = start(
        &home,
        &browser_env(&idp, "argv", &[("LATCHKEY_TEST_BROWSER_FAIL", "1".into())]),
    );
    connect_idp(&app);
    app.wait_for("[data-browser-error]", T);
    assert!(app.wait_text("Copy link", T).contains("didn’t open"));
    app.screenshot("signin-browser-failed");
}

/// S8: at cold start, a link no sign-in waits for opens no window, leaves nothing running and
/// writes nothing: any web page can open one.
#[test]
fn a_forged_link_at_cold_start_shows_nothing_and_writes_nothing_s8() {
    let home = TestHome::new();
    let before = files_under(home.path());
    for link in [
        "dev.latchkey:/oauth/callback?code=forged&state=nosuchstate",
        "dev.latchkey:/oauth/callback?error=access_denied&state=nosuchstate",
        "dev.latchkey:/oauth/callback?code=forged",
    ] {
        let started = std::time::Instant::now();
        let o = std::process::Command::new(bin())
            .arg(link)
            .env("LATCHKEY_HOME", home.path())
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        assert!(started.elapsed() < Duration::from_secs(10), "exits at once");
        assert!(app_pids(home.path()).is_empty(), "nothing left running");
    }
    assert_eq!(files_under(home.path()), before, "nothing written");
}

/// The names of the threads of the app's WebKit web process, once it has one.
fn web_process_threads(app_pid: u32) -> Option<Vec<String>> {
    let web = child_pids(app_pid).into_iter().find(|p| {
        std::fs::read_to_string(format!("/proc/{p}/comm"))
            .is_ok_and(|c| c.starts_with("WebKitWebProces"))
    })?;
    let tasks = std::fs::read_dir(format!("/proc/{web}/task")).ok()?;
    Some(
        tasks
            .flatten()
            .filter_map(|t| std::fs::read_to_string(t.path().join("comm")).ok())
            .map(|c| c.trim().to_string())
            .collect(),
    )
}

fn gpu_threads(app: &AppProcess, limit: Duration) -> Vec<String> {
    let end = std::time::Instant::now() + limit;
    loop {
        let found: Vec<String> = web_process_threads(app.pid())
            .unwrap_or_default()
            .into_iter()
            .filter(|n| n.contains("GPU"))
            .collect();
        if !found.is_empty() || std::time::Instant::now() > end {
            return found;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The window is text and buttons, so WebKit renders it on the CPU (about 80 MiB less in the
/// web process: BENCHMARKS.md, P3). `LATCHKEY_WEBVIEW_GPU=1` gives WebKit its GPU path back,
/// which on this WebKit (2.50, Skia) shows as a `SkiaGPUWorker` thread in the web process.
#[test]
fn the_window_renders_on_the_cpu_unless_the_gpu_is_asked_for() {
    require_session();
    let home = TestHome::new();
    // The control first: it shows that the check can see the GPU path at all.
    let gpu = AppProcess::start(&home, &[], &[("LATCHKEY_WEBVIEW_GPU", "1")]);
    gpu.wait_log("window loaded", T);
    let with_gpu = gpu_threads(&gpu, T);
    assert!(
        !with_gpu.is_empty(),
        "with LATCHKEY_WEBVIEW_GPU=1 the web process should start a GPU worker; threads: {:?}",
        web_process_threads(gpu.pid())
    );
    drop(gpu);
    kill_apps(home.path());

    let cpu = AppProcess::start(&home, &[], &[]);
    cpu.wait_log("window loaded", T);
    let found = gpu_threads(&cpu, Duration::from_secs(3));
    assert!(
        found.is_empty(),
        "the default window should render on the CPU, but the web process runs {found:?}"
    );
    assert!(
        web_process_threads(cpu.pid()).is_some(),
        "the window has a web process"
    );
}
