//! The accounts window for people who are not technical: real window, real IdP stand-in,
//! real keyring and the real X clipboard.

use latchkey_e2e::*;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(30);
const ENTER: &str = "\u{E007}";
const TAB: &str = "\u{E004}";

fn env_for(idp: &Idp) -> Vec<(String, String)> {
    vec![
        ("LATCHKEY_TASKADE_BASE".into(), idp.issuer.clone()),
        (
            "LATCHKEY_BROWSER".into(),
            test_browser().display().to_string(),
        ),
        ("LATCHKEY_BIN".into(), bin().display().to_string()),
    ]
}

fn start(home: &TestHome, env: &[(String, String)]) -> WebApp {
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    WebApp::start(home, &env)
}

fn clipboard() -> String {
    let o = Command::new("xclip")
        .args(["-o", "-selection", "clipboard"])
        .stderr(Stdio::null())
        .output()
        .expect("xclip");
    String::from_utf8_lossy(&o.stdout).to_string()
}

/// The tests that read or write the X clipboard share one display: one at a time.
static CLIPBOARD: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn clipboard_lock() -> std::sync::MutexGuard<'static, ()> {
    CLIPBOARD.lock().unwrap_or_else(|e| e.into_inner())
}

fn set_clipboard(text: &str) {
    let mut c = Command::new("xclip")
        .args(["-i", "-selection", "clipboard"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    c.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    c.wait().unwrap();
}

/// A Taskade stand-in that accepts `pat`, a window, and that token added with the keyboard.
fn window_with_token(pat: &str) -> (Idp, TestHome, WebApp) {
    window_with_token_in(pat, |_| {}, &[])
}

/// The same, with the home prepared by `prepare` before the app starts and `extra` in the
/// app's environment.
fn window_with_token_in(
    pat: &str,
    prepare: impl FnOnce(&TestHome),
    extra: &[(String, String)],
) -> (Idp, TestHome, WebApp) {
    let idp = Idp::start_with(IdpConfig {
        pats: vec![pat.into()],
        ..Default::default()
    });
    let home = TestHome::new();
    prepare(&home);
    let mut env = env_for(&idp);
    env.extend(extra.iter().cloned());
    let app = start(&home, &env);
    add_pat_with_keyboard(&app, pat);
    (idp, home, app)
}

/// Sets how long a copied token stays on the clipboard.
fn clear_after(home: &TestHome, secs: u64) {
    accounts_in(home)
        .vault()
        .update_index(|idx| idx.settings.clipboard_clear_secs = secs)
        .unwrap();
}

/// The id of the first account card in the window.
/// Whether the window shows a toast now.
fn toast_shown(app: &WebApp) -> bool {
    app.js("return !document.getElementById('toast').hidden")
        .as_bool()
        .expect("the page has its #toast")
}

fn first_account_id(app: &WebApp) -> String {
    app.js("return document.querySelector('[data-account]').dataset.account")
        .as_str()
        .unwrap()
        .to_string()
}

fn add_pat_with_keyboard(app: &WebApp, pat: &str) {
    app.wait_for("[data-view=empty]", T);
    // "Another service…" is a few tabs after "Connect Taskade", which has the focus first.
    for _ in 0..6 {
        if app.js("return document.activeElement && document.activeElement.id") == "connect" {
            break;
        }
        app.keys(TAB);
    }
    assert_eq!(app.js("return document.activeElement.id"), "connect");
    app.keys(ENTER);
    app.wait_focus_in("[data-view=add]", T);
    app.keys(ENTER); // Taskade is first and focused
    app.wait_focus_in("[data-view=method]", T);
    app.keys(TAB); // browser sign-in → personal token
    app.keys(ENTER);
    app.wait_focus_in("[data-view=pat]", T);
    app.keys(pat); // the token field is focused
    app.keys(TAB);
    app.keys("Work");
    app.keys(ENTER);
    app.wait_for("[data-view=accounts] [data-account]", T);
}

#[test]
fn a_personal_token_is_added_with_the_keyboard_alone() {
    let pat = "tskdp_keyboard_only_4411";
    let idp = Idp::start_with(IdpConfig {
        pats: vec![pat.into()],
        ..Default::default()
    });
    let home = TestHome::new();
    let app = start(&home, &env_for(&idp));
    app.screenshot("window-empty");
    add_pat_with_keyboard(&app, pat);
    app.wait_for("[data-view=accounts] [data-account]", T);
    let text = app.wait_text("Work", T);
    assert!(text.contains("Valid · no expiry"), "{text}");
    app.screenshot("window-accounts");
    let index = std::fs::read_to_string(home.path().join("accounts.json")).unwrap();
    assert!(!index.contains(pat));
}

#[test]
fn a_rejected_token_gets_a_clear_message_and_nothing_is_saved() {
    let idp = Idp::start();
    let home = TestHome::new();
    let app = start(&home, &env_for(&idp));
    app.click_css("#connect");
    app.click_css("[data-provider=taskade]");
    app.click_css("[data-method=pat]");
    app.type_into("[data-input=token]", "tskdp_wrong");
    app.click_css("[data-action=save-token]");
    let text = app.wait_text("Taskade did not accept this token", T);
    assert!(text.contains("Settings → API"), "{text}");
    app.screenshot("window-token-rejected");
    assert!(accounts_in(&home).list().unwrap().is_empty());
}

#[test]
fn copy_puts_the_token_on_the_clipboard_and_clears_it_only_if_unchanged_s22() {
    let _clip = clipboard_lock();
    let pat = "tskdp_clipboard_8830";
    let (_idp, _home, app) = window_with_token_in(pat, |h| clear_after(h, 2), &[]);
    let id = first_account_id(&app);
    app.click_css(&format!("[data-copy='{id}']"));
    app.wait_text("Copied — clipboard clears in 2 s", T);
    assert_eq!(clipboard(), pat, "xclip reads the token while the app runs");
    let start = Instant::now();
    while !clipboard().is_empty() {
        assert!(
            start.elapsed() < Duration::from_secs(8),
            "cleared after 2 s"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // Something else copied meanwhile is left alone.
    app.click_css(&format!("[data-copy='{id}']"));
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(clipboard(), pat);
    set_clipboard("my own text");
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(clipboard(), "my own text");
    assert!(
        !app.log_text().contains(pat),
        "S19: the token is never logged"
    );
}

#[test]
fn test_call_shows_the_answer_and_a_friendly_401() {
    let pat = "tskdp_testcall_5512";
    let (idp, _home, app) = window_with_token(pat);
    let id = first_account_id(&app);
    app.click_css(&format!("[data-test='{id}']"));
    app.click_css("[data-preset='Workspaces']");
    let text = app.wait_text("HTTP 200", T);
    assert!(text.contains("\"Home\""), "{text}");
    app.screenshot("window-test-call");
    app.click_css("[data-preset='Who am I']");
    app.wait_text("\"handle\"", T);
    idp.set_mode(serde_json::json!({"revokePats": [pat]}));
    app.click_css("[data-preset='Who am I']");
    let text = app.wait_text("HTTP 401", T);
    assert!(text.contains("no longer accepts this token"), "{text}");
    app.wait_for("[data-friendly='401']", T);
}

#[test]
fn remove_revokes_wipes_and_says_what_happened_s17() {
    let idp = Idp::start();
    let home = TestHome::new();
    // Sign in through the CLI first (the quickest real route), then remove in the window.
    let id = cli_login(&home, &idp);
    let rec = accounts_in(&home)
        .vault()
        .read_record(&id)
        .unwrap()
        .unwrap();
    let client = home.index()["registrations"]["taskade"]["client_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(idp.introspect_active(rec.access_token.expose(), &client));
    let app = start(&home, &env_for(&idp));
    app.click_css(&format!("[data-account='{id}'] [aria-haspopup=menu]"));
    app.click_css("[data-action=Remove]");
    app.wait_for(".dialog", T);
    app.screenshot("window-remove-confirm");
    app.click_css(".dialog button.danger");
    app.wait_text(
        "Signed out at the provider and removed from this computer",
        T,
    );
    app.wait_for("[data-view=empty]", T);
    assert!(!idp.introspect_active(rec.access_token.expose(), &client));
    assert_eq!(secret_tool_lookup(&format!("account:{id}")), None);
}

#[test]
fn details_show_where_the_secret_lives_and_reveal_hides_again() {
    let pat = "tskdp_reveal_7001";
    let (_idp, _home, app) = window_with_token(pat);
    let id = first_account_id(&app);
    app.click_css(&format!("[data-account='{id}'] [aria-haspopup=menu]"));
    app.click_css("[data-action=Details]");
    let text = app.wait_text("Stored in", T);
    assert!(text.contains("GNOME Keyring via Secret Service"), "{text}");
    assert!(!text.contains(pat), "not shown before Reveal");
    app.click_css("[data-action=reveal]");
    app.keys("\u{E00C}"); // Escape closes the dialog without revealing
    assert!(!app.wait_text("Stored in", T).contains(pat));
    app.click_css("[data-action=reveal]");
    app.click_css(".dialog button:not(.secondary)");
    app.wait_text(pat, T);
    app.screenshot("window-details-revealed");
    // Issue 39: the person's own Reveal is in the activity log as theirs.
    let log = std::fs::read_to_string(_home.path().join("activity.jsonl")).unwrap_or_default();
    let last: serde_json::Value =
        serde_json::from_str(log.lines().last().unwrap_or("{}")).unwrap_or_default();
    assert_eq!(
        (last["what"].as_str(), last["decision"].as_str()),
        (Some("reveal"), Some("you")),
        "{log}"
    );
    let start = Instant::now();
    while app
        .js("return document.body.innerText")
        .as_str()
        .unwrap_or_default()
        .contains(pat)
    {
        assert!(
            start.elapsed() < Duration::from_secs(40),
            "hidden again after 30 s"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    assert!(start.elapsed() > Duration::from_secs(20));
}

#[test]
fn views_render_in_dark_mode_and_in_a_small_window() {
    let pat = "tskdp_dark_1234";
    let idp = Idp::start_with(IdpConfig {
        pats: vec![pat.into()],
        ..Default::default()
    });
    let home = TestHome::new();
    let mut env = env_for(&idp);
    env.push(("GTK_THEME".into(), "Adwaita:dark".into()));
    let app = start(&home, &env);
    app.wait_for("[data-view=empty]", T);
    let dark = app.js("return matchMedia('(prefers-color-scheme: dark)').matches");
    app.screenshot("dark-empty");
    add_pat_with_keyboard(&app, pat);
    app.wait_for("[data-view=accounts] [data-account]", T);
    app.screenshot("dark-accounts");
    assert_eq!(
        dark,
        serde_json::json!(true),
        "the page follows the desktop's dark theme"
    );
    let bg = app.js("return getComputedStyle(document.body).backgroundColor");
    assert_eq!(bg, "rgb(21, 24, 28)", "dark palette applied");
    // The smallest supported window still works: nothing spills sideways.
    app.set_size(420, 560);
    std::thread::sleep(Duration::from_millis(500));
    let w = app.js("return window.innerWidth").as_f64().unwrap_or(0.0);
    assert!(w <= 440.0, "window is now small: {w}");
    assert_eq!(
        app.js("return document.documentElement.scrollWidth <= window.innerWidth"),
        serde_json::json!(true)
    );
    app.screenshot("dark-small-window");
}

#[test]
fn start_at_login_is_off_by_default_and_the_settings_toggle_registers_it() {
    let home = TestHome::new();
    // The autostart plugin (auto-launch crate) writes to $HOME/.config/autostart, ignoring
    // XDG_CONFIG_HOME; the session's HOME is a throwaway folder.
    let autostart =
        std::path::PathBuf::from(std::env::var("HOME").unwrap()).join(".config/autostart");
    let app = start(&home, &[]);
    app.wait_for("[data-view=empty]", T);
    app.click_css("#open-settings");
    let toggle = app.wait_for("[data-input=start-at-login]", T);
    assert_eq!(
        app.js("return document.querySelector('[data-input=start-at-login]').checked"),
        serde_json::json!(false),
        "off by default"
    );
    app.screenshot("window-settings");
    app.click(&toggle);
    app.click_css("[data-view=settings] button[type=submit]");
    app.wait_for("[data-view=empty]", T);
    let start = Instant::now();
    let entry = loop {
        let found = std::fs::read_dir(&autostart)
            .into_iter()
            .flatten()
            .flatten()
            .find(|e| std::fs::read_to_string(e.path()).is_ok_and(|t| t.contains("--minimized")));
        if let Some(e) = found {
            break e.path();
        }
        assert!(
            start.elapsed() < T,
            "an autostart entry appears in {}",
            autostart.display()
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(std::fs::read_to_string(&entry)
        .unwrap()
        .contains("latchkey"));
    assert_eq!(home.index()["settings"]["start_at_login"], true);
    // Off again removes it.
    app.click_css("#open-settings");
    app.click_css("[data-input=start-at-login]");
    app.click_css("[data-view=settings] button[type=submit]");
    app.wait_for("[data-view=empty]", T);
    let start = Instant::now();
    while entry.exists() {
        assert!(start.elapsed() < T, "turning it off removes the entry");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// S21: a script in the webview can't set the browser command (which runs a program): the
/// settings command keeps the one set from the command line, and Settings only shows it.
#[test]
fn the_webview_cannot_set_the_browser_command_s21() {
    let home = TestHome::new();
    let o = home.run(&["config", "browser", "true %s"], None);
    assert!(o.status.success(), "{}", stderr_of(&o));
    let app = start(&home, &[]);
    app.wait_for("[data-view=empty]", T);
    let r = app.js_async(
        "window.__TAURI__.core.invoke('get_settings').then((s) => window.__TAURI__.core.invoke('set_settings', { settings: { ...s, browser_command: 'sh -c \"touch /tmp/latchkey-pwned\" %s', clipboard_clear_secs: 45 } })).then(() => done('ok'), (e) => done(JSON.stringify(e)));",
    );
    assert_eq!(r, "ok");
    let settings = &home.index()["settings"];
    assert_eq!(
        settings["clipboard_clear_secs"], 45,
        "other settings are saved"
    );
    assert_eq!(
        settings["browser_command"], "true %s",
        "the command is unchanged"
    );
    app.click_css("#open-settings");
    let shown = app.wait_for("[data-browser-command]", T);
    assert!(app.text(&shown).contains("true %s"));
    assert_eq!(
        app.js("return [...document.querySelectorAll('[data-view=settings] input')].filter((i) => i.value.includes('%s')).length"),
        serde_json::json!(0),
        "no field to edit it"
    );
}

/// S25: "Copy as curl" quotes provider-controlled text, so pasting it runs nothing else.
#[test]
fn copy_as_curl_quotes_provider_urls_s25() {
    let home = TestHome::new();
    let app = start(&home, &[]);
    app.wait_for("[data-view=empty]", T);
    let hostile = "https://api.example/x'; touch /tmp/latchkey-curl-pwned; echo '$(id)`id`";
    let cmd = app.js_async(&format!(
        "import('./views/apitest.js').then((m) => done(m.curlCommand('GET', {}, 'acct-1')), (e) => done('error ' + e));",
        serde_json::json!(hostile)
    ));
    let cmd = cmd.as_str().expect("a command").to_string();
    assert!(cmd.contains("| curl "), "{cmd}");
    // Run it with stand-ins for curl and latchkey that print their arguments (and curl its
    // stdin, where the header arrives).
    let script = format!(
        "curl() {{ printf '[%s]\\n' \"$@\"; printf 'stdin: '; cat; }}; latchkey() {{ echo TOKEN; }}; {cmd}"
    );
    let o = Command::new("bash").args(["-c", &script]).output().unwrap();
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(
        o.status.success(),
        "{cmd}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        out.contains(&format!("[{hostile}]")),
        "the URL is one literal word: {out}"
    );
    // The nit: the token is never an argument of curl (or of anything else `ps` lists).
    let (args, stdin) = out.split_once("stdin: ").expect("curl read its stdin");
    assert!(!args.contains("TOKEN"), "the token is on no argv: {out}");
    assert!(args.contains("[-H]\n[@-]"), "{out}");
    assert_eq!(stdin.trim(), "Authorization: Bearer TOKEN", "{out}");
    assert!(!std::path::Path::new("/tmp/latchkey-curl-pwned").exists());
}

/// The ways to connect the method view offers, in order.
fn methods(app: &WebApp) -> serde_json::Value {
    app.js("return [...document.querySelectorAll('[data-method]')].map((b) => b.dataset.method)")
}

/// A built-in provider that needs an app of one's own offers no browser sign-in that can only
/// fail: GitHub leads with a personal token and explains its own app step by step.
#[test]
fn built_in_providers_offer_only_what_works() {
    let home = TestHome::new();
    let app = start(&home, &[]);
    app.wait_for("[data-view=empty]", T);
    app.click_css("#connect");
    app.click_css("[data-provider=github]");
    app.wait_for("[data-view=method]", T);
    assert_eq!(
        methods(&app),
        serde_json::json!(["pat", "own"]),
        "GitHub: token first, no browser button"
    );
    app.click_css("[data-method=own]");
    let help = app.wait_for("[data-app-help]", T);
    assert!(app.text(&help).contains("OAuth Apps"), "step-by-step words");
    app.screenshot("window-github-own-app");
    app.click_css(".topbar h1");
    app.click_css("#connect");
    app.click_css("[data-provider=google]");
    app.wait_for("[data-view=method]", T);
    assert_eq!(
        methods(&app),
        serde_json::json!(["own"]),
        "Google: only your own app"
    );
}

/// Machine access from the window: a client id and secret become an account whose token the
/// IdP accepts; the secret is kept in the keyring, never in the index.
#[test]
fn machine_access_is_added_from_the_window() {
    let idp = Idp::start();
    let home = TestHome::new();
    provider_add(&home, &idp, "corp", &[]);
    let env = env_for(&idp);
    let app = start(&home, &env);
    app.wait_for("[data-view=empty]", T);
    app.click_css("#connect");
    app.click_css("[data-provider=corp]");
    app.click_css("[data-method=machine]");
    app.type_into("[data-input=machine-client-id]", "latchkey-machine");
    app.type_into("[data-input=machine-secret]", "machine-secret-value");
    app.click_css("[data-action=save-machine]");
    app.wait_for("[data-view=accounts]", T);
    let accounts = home.index()["accounts"].clone();
    assert_eq!(accounts[0]["kind"], "client_credentials", "{accounts}");
    let id = accounts[0]["id"].as_str().unwrap().to_string();
    let t = home.run(&["token", &id], None);
    assert!(t.status.success(), "{}", stderr_of(&t));
    assert_eq!(
        idp.check_token(String::from_utf8_lossy(&t.stdout).trim()),
        200
    );
    let index = std::fs::read_to_string(home.path().join("accounts.json")).unwrap();
    assert!(
        !index.contains("machine-secret-value"),
        "S2/S18: the secret is not in the index"
    );
    assert!(secret_tool_lookup("client-secret:corp:latchkey-machine").is_some());
}

/// "Sign in on another device" in the window: the code and the address are shown, approving
/// them elsewhere signs the account in, with no browser on this computer.
#[test]
fn sign_in_on_another_device_from_the_window() {
    let idp = Idp::start();
    let home = TestHome::new();
    let acc = accounts_in(&home);
    let mut p = idp_provider(
        &idp,
        "idp",
        "latchkey-public",
        latchkey::provider::ClientAuth::None,
    );
    p.device_url = Some(format!("{}/oauth2/device", idp.issuer));
    add_provider(&acc, p);
    let app = start(&home, &[]);
    app.wait_for("[data-view=empty]", T);
    app.click_css("#connect");
    app.click_css("[data-provider=idp]");
    app.click_css("[data-method=device]");
    let code = app.wait_for("[data-user-code]", T);
    let code = app.text(&code);
    let page = app.wait_for("[data-verification-uri]", T);
    let page = app.text(&page);
    assert!(page.starts_with(&idp.issuer), "{page}");
    app.screenshot("window-device-code");
    approve_device(&page, &code);
    app.wait_text("Signed in as alice", T);
    assert_eq!(accounts_in(&home).list().unwrap().len(), 1);
}

/// Taskade from first launch: one click before the browser ("Connect Taskade"), none after
/// it but the consent there. The issue allowed two.
#[test]
fn taskade_is_one_click_from_first_launch() {
    let idp = Idp::start();
    let home = TestHome::new();
    let app = start(&home, &env_for(&idp));
    app.wait_for("[data-view=empty]", T);
    let focused = app.js("return document.activeElement && document.activeElement.id");
    assert_eq!(focused, "connect-taskade", "the first action has the focus");
    // The only click: the browser sign-in starts, the test browser approves and delivers.
    app.click_css("#connect-taskade");
    app.wait_text("Signed in as alice", T);
    assert_eq!(accounts_in(&home).list().unwrap().len(), 1);
}

/// Smaller things: a toast goes when the person moves on; a personal token's menu offers a
/// new token, not a browser sign-in it doesn't have.
#[test]
fn toasts_follow_navigation_and_personal_tokens_offer_a_new_token() {
    let pat = "tskdp_menu_words_5521";
    let (_idp, _home, app) = window_with_token(pat);
    assert!(
        toast_shown(&app),
        "\"Connected …\" shows on the accounts view"
    );
    app.click_css("[aria-haspopup=menu]");
    let labels = app.js(
        "return [...document.querySelectorAll('[role=menuitem]')].map((b) => b.dataset.action)",
    );
    let labels = labels.as_array().unwrap();
    assert!(
        labels.iter().any(|l| l == "Paste a new token"),
        "{labels:?}"
    );
    assert!(!labels.iter().any(|l| l == "Sign in again"), "{labels:?}");
    app.keys("\u{E00C}"); // Escape closes the menu
    app.click_css("#open-settings");
    app.wait_for("[data-view=settings]", T);
    assert!(
        !toast_shown(&app),
        "the toast went with the view it belonged to"
    );
    // The start-at-login checkbox sits next to its label.
    let gap = app.js("const c = document.getElementById('set-login').getBoundingClientRect(); const l = document.querySelector('label[for=set-login]').getBoundingClientRect(); return l.left - c.right;");
    assert!(
        gap.as_f64().unwrap() < 30.0,
        "checkbox and label are apart by {gap}"
    );
    app.screenshot("window-settings-checkbox");
}

/// The tray-host tests own or need the absence of one session-bus name: one at a time.
static TRAY_NAME: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Stands in for a desktop's tray host while it lives.
fn tray_host() -> dbus::blocking::Connection {
    let c = dbus::blocking::Connection::new_session().expect("session bus");
    c.request_name("org.kde.StatusNotifierWatcher", false, true, true)
        .expect("own the watcher name");
    c
}

/// A desktop with no tray (GNOME without the AppIndicator extension): closing the window
/// keeps Latchkey refreshing in the background and says once how to reach it; with a tray
/// host on the bus it stays in the tray as before.
#[test]
fn closing_the_window_without_a_tray_keeps_refreshing_and_says_so() {
    let _one = TRAY_NAME.lock().unwrap_or_else(|e| e.into_inner());
    let home = TestHome::new();
    let app = start(&home, &[]);
    app.wait_for("[data-view=empty]", T);
    app.close_window();
    // One notice says how to reach it (logged right after the decision).
    let log = app.wait_log("Latchkey keeps your tokens fresh in the background", T);
    assert!(
        log.contains("no tray on this desktop; Latchkey keeps refreshing in the background"),
        "{log}"
    );
    assert!(!app_pids(home.path()).is_empty(), "still running");
    assert_eq!(home.index()["settings"]["background_hint_shown"], true);
    drop(app);

    let home = TestHome::new();
    let _host = tray_host();
    let app = start(&home, &[]);
    app.wait_for("[data-view=empty]", T);
    app.close_window();
    app.wait_log("Latchkey keeps your tokens fresh from the tray", T);
    assert!(
        !app_pids(home.path()).is_empty(),
        "still running, in the tray"
    );
}

/// With "quit when I close the window" chosen and no tray, closing quits.
#[test]
fn closing_the_window_without_a_tray_quits_when_the_person_chose_so() {
    let _one = TRAY_NAME.lock().unwrap_or_else(|e| e.into_inner());
    let home = TestHome::new();
    accounts_in(&home)
        .vault()
        .update_index(|idx| idx.settings.quit_without_tray = true)
        .unwrap();
    let app = start(&home, &[]);
    app.wait_for("[data-view=empty]", T);
    app.close_window();
    app.wait_log("quitting as the settings ask", T);
    let start = Instant::now();
    while !app_pids(home.path()).is_empty() {
        assert!(start.elapsed() < T, "Latchkey should have quit");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A first launch, walked as a new user would, with a numbered screenshot at each step in
/// target/e2e-shots/walkthrough-*.png (the README's screenshot table comes from these): empty
/// state, Taskade by browser, copy, a test call, close to the tray, open again, remove.
#[test]
fn walkthrough_of_a_first_launch() {
    let _one = TRAY_NAME.lock().unwrap_or_else(|e| e.into_inner());
    let _clip = clipboard_lock();
    let _host = tray_host();
    let idp = Idp::start();
    let home = TestHome::new();
    let app = start(&home, &env_for(&idp));
    let shot = |n: u32, name: &str| app.screenshot(&format!("walkthrough-{n}-{name}"));

    // 1. The empty state offers Taskade first.
    app.wait_for("[data-view=empty]", T);
    app.js("window.__clicks = 0; document.addEventListener('click', () => { window.__clicks += 1; }, true); return true;");
    shot(1, "first-launch");

    // 2. One click starts the browser sign-in; the browser stand-in consents and answers.
    app.click_css("#connect-taskade");
    app.wait_text("Signed in as alice", T);
    let clicks = app.js("return window.__clicks");
    assert_eq!(clicks, 1, "clicks in Latchkey before the browser opened");
    shot(2, "connected");
    app.click_css("[data-view=success] button");
    app.wait_for("[data-view=accounts] [data-account]", T);
    shot(3, "accounts");

    // 3. Copy the token.
    let id = first_account_id(&app);
    app.click_css(&format!("[data-copy='{id}']"));
    app.wait_text("Copied", T);
    // The command line, pointed at the same IdP, reads the same token.
    let env = env_for(&idp);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let o = home.run_env(&["token", &id], None, &env);
    assert!(o.status.success(), "{}", stderr_of(&o));
    let token = String::from_utf8_lossy(&o.stdout).trim().to_string();
    assert_eq!(clipboard(), token);
    shot(4, "copied");

    // 4. A test call.
    app.click_css(&format!("[data-test='{id}']"));
    app.click_css("[data-preset='Who am I']");
    app.wait_text("HTTP 200", T);
    assert!(
        !toast_shown(&app),
        "the copy toast stayed on the accounts view"
    );
    shot(5, "test-call");

    // 5. Close to the tray: still running, still refreshing.
    let first = app.window_handle();
    app.close_window();
    app.wait_log("Latchkey keeps your tokens fresh from the tray", T);
    assert!(
        !app_pids(home.path()).is_empty(),
        "still running in the tray"
    );

    // 6. Open it again (the app menu runs `latchkey`): the running app shows a new window.
    let o = home
        .cli()
        .env("DISPLAY", std::env::var("DISPLAY").unwrap())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        app.switch_to_new_window(&first, T),
        "no window came back: {}",
        app.log_text()
    );
    app.wait_for("[data-view=accounts] [data-account]", T);
    shot(6, "reopened");

    // 7. Remove: confirm, revoked at the provider, gone from the keyring.
    app.click_css(&format!("[data-account='{id}'] [aria-haspopup=menu]"));
    app.click_css("[data-action=Remove]");
    app.wait_for(".dialog", T);
    shot(7, "remove-confirm");
    app.click_css(".dialog button.danger");
    app.wait_text("removed from this computer", T);
    app.wait_for("[data-view=empty]", T);
    assert_eq!(idp.check_token(&token), 401);
    assert_eq!(secret_tool_lookup(&format!("account:{id}")), None);
    shot(8, "removed");
}

/// A headless wlroots compositor (sway) for the Wayland tests, stopped on drop. sway refuses to
/// run as root, so as root it runs as `nobody` in a runtime folder of its own; root's clients
/// reach its socket by its absolute path (WAYLAND_DISPLAY=/…/wayland-1).
struct Sway {
    child: std::process::Child,
    _dir: tempfile::TempDir,
    socket: std::path::PathBuf,
}

impl Sway {
    fn start() -> Sway {
        let dir = tempfile::Builder::new()
            .prefix("lk-sway")
            .tempdir()
            .unwrap();
        let conf = dir.path().join("sway.conf");
        std::fs::write(&conf, "output HEADLESS-1 resolution 1280x800\n").unwrap();
        let root = String::from_utf8_lossy(&Command::new("id").arg("-u").output().unwrap().stdout)
            .trim()
            == "0";
        let mut c = if root {
            let o = Command::new("chown")
                .args(["-R", "nobody:nogroup"])
                .arg(dir.path())
                .status()
                .unwrap();
            assert!(o.success());
            let mut c = Command::new("setpriv");
            c.args([
                "--reuid=nobody",
                "--regid=nogroup",
                "--clear-groups",
                "sway",
            ]);
            c
        } else {
            Command::new("sway")
        };
        let child = c
            .arg("-c")
            .arg(&conf)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", dir.path())
            .env("XDG_RUNTIME_DIR", dir.path())
            .env("WLR_BACKENDS", "headless")
            .env("WLR_LIBINPUT_NO_DEVICES", "1")
            .env("WLR_RENDERER", "pixman")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(std::env::temp_dir().join("lk-sway.log")).unwrap())
            .spawn()
            .expect("sway (Debian package sway)");
        let socket = dir.path().join("wayland-1");
        let start = Instant::now();
        while !socket.exists() {
            assert!(start.elapsed() < T, "sway did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Sway {
            child,
            _dir: dir,
            socket,
        }
    }

    /// `wl-paste` against this compositor: the clipboard's text, or None when it is empty.
    fn paste(&self, args: &[&str]) -> Option<String> {
        let o = Command::new("wl-paste")
            .args(["--no-newline"])
            .args(args)
            .env("WAYLAND_DISPLAY", &self.socket)
            .stderr(Stdio::null())
            .output()
            .expect("wl-paste (Debian package wl-clipboard)");
        o.status
            .success()
            .then(|| String::from_utf8_lossy(&o.stdout).to_string())
            .filter(|s| !s.is_empty())
    }
}

impl Drop for Sway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// "Copy token" on Wayland (wlroots, data-control): the token reaches the Wayland clipboard,
/// marked for password managers, not the X one, and is cleared after the set time.
#[test]
fn copy_works_on_wayland_and_clears_there_s22() {
    let _clip = clipboard_lock();
    let sway = Sway::start();
    let pat = "tskdp_wayland_6612";
    let wayland = [
        ("WAYLAND_DISPLAY".into(), sway.socket.display().to_string()),
        ("GDK_BACKEND".into(), "wayland".into()),
    ];
    let (_idp, _home, app) = window_with_token_in(pat, |h| clear_after(h, 3), &wayland);
    set_clipboard("x11 text");
    let id = first_account_id(&app);
    app.click_css(&format!("[data-copy='{id}']"));
    app.wait_text("Copied — clipboard clears in 3 s", T);
    assert_eq!(
        sway.paste(&[]).as_deref(),
        Some(pat),
        "wl-paste reads the token"
    );
    let types = sway.paste(&["--list-types"]).unwrap_or_default();
    assert!(
        types.contains("x-kde-passwordManagerHint"),
        "S22: marked sensitive for clipboard managers: {types}"
    );
    assert_eq!(clipboard(), "x11 text", "the X clipboard was not used");
    let start = Instant::now();
    while sway.paste(&[]).is_some() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "cleared after 3 s on Wayland"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(!app.log_text().contains(pat), "S19");
}

/// Where the Wayland clipboard cannot be used (GNOME's compositor has no data-control
/// protocol; here the Wayland socket is missing), copy falls back to the X11 clipboard, which
/// GNOME shares with Wayland apps through XWayland.
#[test]
fn copy_falls_back_to_x11_when_wayland_offers_no_clipboard_s22() {
    let _clip = clipboard_lock();
    let pat = "tskdp_fallback_7731";
    let missing = tempfile::tempdir().unwrap();
    let no_socket = [(
        "WAYLAND_DISPLAY".into(),
        missing.path().join("wayland-0").display().to_string(),
    )];
    let (_idp, _home, app) = window_with_token_in(pat, |_| {}, &no_socket);
    set_clipboard("before");
    let id = first_account_id(&app);
    app.click_css(&format!("[data-copy='{id}']"));
    app.wait_text("Copied", T);
    let start = Instant::now();
    while clipboard() != pat {
        assert!(start.elapsed() < T, "the X clipboard never got the token");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// F9 (S33): extra trusted certificate authorities are never silent: the window shows them
/// under the top bar, and the command line says so on stderr.
#[test]
fn extra_trusted_certificates_are_announced_s33() {
    let home = TestHome::new();
    let bundle = home.path().join("corp-ca.pem");
    let bundle_s = bundle.display().to_string();
    let o = home.run_env(
        &["list"],
        None,
        &[("LATCHKEY_CA_BUNDLE", bundle_s.as_str())],
    );
    let e = stderr_of(&o);
    assert!(
        e.contains("LATCHKEY_CA_BUNDLE") && e.contains(&bundle_s),
        "{e}"
    );
    let o = home.run(&["list"], None);
    assert!(
        !stderr_of(&o).contains("LATCHKEY_CA_BUNDLE"),
        "silent when unset"
    );
    let app = WebApp::start(&home, &[("LATCHKEY_CA_BUNDLE", bundle_s.as_str())]);
    let note = app.wait_for("[data-trust-note]", Duration::from_secs(30));
    assert!(app.text(&note).contains(&bundle_s));
    app.screenshot("window-trust-note");
}
