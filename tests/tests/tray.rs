//! The tray and the background refresher: tokens stay fresh with the window closed, outages
//! show and heal, a dead grant asks for sign-in once, and the tray menu acts over D-Bus.

use latchkey_e2e::*;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The app in the tray only (no window), refreshing every second with a 4 s margin.
fn tray_app(home: &TestHome, idp: &Idp) -> AppProcess {
    // A 4 s margin is wider than the CLI loops' --min-valid 3, so the app's refresher acts
    // first on every 5 s token and the CLI competes through the lock, rather than the CLI
    // winning every race and the refresher never running.
    accounts_in(home)
        .vault()
        .update_index(|idx| idx.settings.refresh_margin_secs = 4)
        .unwrap();
    home.point_taskade_at(idp);
    let app = AppProcess::start(
        home,
        &["--minimized"],
        &[("LATCHKEY_REFRESH_TICK_SECS", "1")],
    );
    app.wait_log("Latchkey started", Duration::from_secs(30));
    app
}

fn status_of(home: &TestHome, id: &str) -> String {
    home.index()["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == id)
        .map(|a| a["status"].as_str().unwrap_or("").to_string())
        .unwrap_or_default()
}

#[test]
fn tokens_stay_fresh_with_the_window_closed_while_the_cli_also_refreshes() {
    let idp = Idp::start_with(IdpConfig {
        access_ttl: 5,
        rotate: true,
        ..Default::default()
    });
    let home = TestHome::new();
    let id = cli_login(&home, &idp);
    let app = tray_app(&home, &idp);
    assert!(app.log_text().contains("Latchkey started"));
    // Four CLI loops compete with the app's refresher for the same rotating grant for 60 s.
    let stop_at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 60;
    let script = format!("while [ $(date +%s) -lt {stop_at} ]; do \"$0\" token {id} --min-valid 3 >/dev/null || exit 1; sleep 0.3; done");
    let mut loops: Vec<std::process::Child> = (0..4)
        .map(|_| {
            Command::new("sh")
                .arg("-c")
                .arg(&script)
                .arg(bin())
                .env("LATCHKEY_HOME", home.path())
                .env("LATCHKEY_TASKADE_BASE", &idp.issuer)
                .spawn()
                .unwrap()
        })
        .collect();
    let acc = accounts_in(&home);
    let first_expiry = acc
        .vault()
        .read_record(&id)
        .unwrap()
        .unwrap()
        .expires_at
        .unwrap();
    let started = Instant::now();
    let mut checked = 0;
    while started.elapsed() < Duration::from_secs(60) {
        // The observer itself may lose a race for the busy keyring (five writers); a read that
        // times out is skipped, not counted. What is read must always work at the IdP.
        if let Ok(Some(rec)) = acc.vault().read_record(&id) {
            assert_eq!(
                idp.check_token(rec.access_token.expose()),
                200,
                "the stored token is always accepted"
            );
            checked += 1;
        }
        std::thread::sleep(Duration::from_secs(2));
    }
    assert!(checked >= 15, "only {checked} observations in 60 s");
    for l in &mut loops {
        assert!(l.wait().unwrap().success(), "no CLI loop ever failed");
    }
    let last_expiry = acc
        .vault()
        .read_record(&id)
        .unwrap()
        .unwrap()
        .expires_at
        .unwrap();
    assert!(
        last_expiry > first_expiry + 40,
        "the expiry keeps moving forward: {first_expiry} -> {last_expiry}"
    );
    let stats = idp.stats();
    assert_eq!(stats["invalid_grant"], 0, "no grant lost: {stats}");
    assert!(app.log_text().contains("refresh tick"));
}

#[test]
fn an_outage_shows_offline_keeps_tokens_and_heals() {
    let idp = Idp::start_with(IdpConfig {
        access_ttl: 5,
        ..Default::default()
    });
    let home = TestHome::new();
    let id = cli_login(&home, &idp);
    let before = accounts_in(&home)
        .vault()
        .read_record(&id)
        .unwrap()
        .unwrap();
    idp.set_mode(serde_json::json!({"tokenStatus": 503}));
    let _app = tray_app(&home, &idp);
    let start = Instant::now();
    while status_of(&home, &id) != "offline" {
        assert!(start.elapsed() < Duration::from_secs(20), "shows offline");
        std::thread::sleep(Duration::from_millis(300));
    }
    let during = accounts_in(&home)
        .vault()
        .read_record(&id)
        .unwrap()
        .unwrap();
    assert_eq!(
        during.refresh_token, before.refresh_token,
        "tokens kept during the outage"
    );
    idp.set_mode(serde_json::json!({"tokenStatus": 0}));
    // Backoff is 30 s after the first failure; "Refresh now" semantics are not needed: wait.
    let start = Instant::now();
    while status_of(&home, &id) != "valid" {
        assert!(
            start.elapsed() < Duration::from_secs(75),
            "returns to valid after the outage"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

#[test]
fn a_revoked_grant_needs_sign_in_with_exactly_one_notification() {
    let idp = Idp::start_with(IdpConfig {
        access_ttl: 5,
        ..Default::default()
    });
    let home = TestHome::new();
    let id = cli_login(&home, &idp);
    // A real notification daemon for this test's display.
    let mut dunst = Command::new("dunst")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("dunst");
    std::thread::sleep(Duration::from_millis(500));
    let rec = accounts_in(&home)
        .vault()
        .read_record(&id)
        .unwrap()
        .unwrap();
    let client = home.index()["registrations"]["taskade"]["client_id"]
        .as_str()
        .unwrap()
        .to_string();
    reqwest::blocking::Client::new()
        .post(format!("{}/oauth2/revoke", idp.issuer))
        .form(&[
            ("token", rec.refresh_token.as_ref().unwrap().expose()),
            ("client_id", &client),
        ])
        .send()
        .unwrap();
    let app = tray_app(&home, &idp);
    let start = Instant::now();
    while status_of(&home, &id) != "needs_sign_in" {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "within a tick plus backoff"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    std::thread::sleep(Duration::from_secs(5)); // more ticks: still one notification
    let log = app.log_text();
    assert_eq!(log.matches("notification sent").count(), 1, "{log}");
    // Shown notifications enter dunst's history once closed.
    Command::new("dunstctl").arg("close-all").status().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let history = Command::new("dunstctl").arg("history").output().unwrap();
    let h = String::from_utf8_lossy(&history.stdout);
    assert_eq!(
        h.matches("\"summary\"").count(),
        1,
        "exactly one notification: {h}"
    );
    assert!(
        h.contains("Sign in again to keep this account working"),
        "{h}"
    );
    let _ = dunst.kill();
    let _ = dunst.wait();
}

#[test]
fn tray_menu_refresh_all_and_quit_act_over_dbus() {
    let idp = Idp::start_with(IdpConfig {
        access_ttl: 3600,
        ..Default::default()
    });
    let home = TestHome::new();
    let _id = cli_login(&home, &idp);
    let mut app = AppProcess::start(&home, &["--minimized"], &[]);
    app.wait_log("Latchkey started", Duration::from_secs(30));
    let mut menu = None;
    let start = Instant::now();
    while menu.is_none() && start.elapsed() < Duration::from_secs(10) {
        menu = tray_menu(app.pid());
        std::thread::sleep(Duration::from_millis(200));
    }
    let menu = menu.expect("the tray menu is exported on D-Bus");
    let labels: Vec<String> = tray_items(&menu).into_iter().map(|(_, l)| l).collect();
    for want in [
        "Open Latchkey",
        "Refresh all",
        "Pause refresh",
        "Quit Latchkey",
        "Copy token",
        "Refresh now",
    ] {
        assert!(labels.iter().any(|l| l == want), "{want} in {labels:?}");
    }
    assert!(
        labels.iter().any(|l| l.starts_with("Taskade — alice")),
        "{labels:?}"
    );
    let before = idp.stats()["token_requests"].as_u64().unwrap();
    tray_click(&menu, "Refresh all");
    let start = Instant::now();
    while idp.stats()["token_requests"].as_u64().unwrap() == before {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "Refresh all refreshed"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    tray_click(&menu, "Quit Latchkey");
    let start = Instant::now();
    while app.running() {
        assert!(start.elapsed() < Duration::from_secs(10), "Quit quits");
        std::thread::sleep(Duration::from_millis(100));
    }
}
