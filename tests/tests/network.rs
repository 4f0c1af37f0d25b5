//! Issue 28, items 1 and 2: where people really are. A company network that inspects TLS with
//! its own CA (installed in the OS store), and one that sends everything through a proxy: a
//! real Debian `tinyproxy`, set by `latchkey config`, by the environment and by GNOME's
//! settings, with addresses reached directly.

use latchkey_e2e::*;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Proxy variables a test's own environment might carry; every CLI run here starts without.
const PROXY_VARS: [&str; 8] = [
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "ALL_PROXY",
    "all_proxy",
    "NO_PROXY",
    "no_proxy",
];

/// The CLI against `idp` with the OS trust store replaced by `store` (SSL_CERT_FILE) and no
/// proxy in the environment.
fn run_with_store(home: &TestHome, idp: &Idp, store: &Path, args: &[&str]) -> Output {
    let mut c = home.cli();
    for v in PROXY_VARS
        .iter()
        .chain(&["SSL_CERT_DIR", "LATCHKEY_CA_BUNDLE"])
    {
        c.env_remove(v);
    }
    c.env("SSL_CERT_FILE", store)
        .env("LATCHKEY_BROWSER", test_browser())
        // The browser trusts the test CA whatever Latchkey's store holds: only Latchkey's
        // own connections are under test.
        .env("LATCHKEY_TEST_BROWSER_CA", idp.ca_file())
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

#[test]
fn a_company_ca_in_the_os_store_is_trusted_and_without_it_the_error_names_the_ca_s34() {
    let idp = Idp::start_with(IdpConfig {
        tls: true,
        ..Default::default()
    });
    assert!(idp.issuer.starts_with("https://"), "{}", idp.issuer);
    let home = TestHome::new();
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "").unwrap();

    // The OS store emptied: the connection works, the certificate doesn't, and it says so.
    let o = run_with_store(
        &home,
        &idp,
        &empty,
        &["provider", "add", "corp-tls", "--issuer", &idp.issuer],
    );
    assert!(!o.status.success());
    let e = stderr_of(&o);
    assert!(
        e.contains("certificate authority Latchkey does not trust"),
        "{e}"
    );
    assert!(e.contains("latchkey config ca-file"), "names the fix: {e}");
    assert!(!e.contains("Check your internet connection"), "{e}");

    // The company CA in the OS store (SSL_CERT_FILE, as update-ca-certificates would make
    // it): discovery, sign-in and refresh all work.
    let store = idp.ca_file();
    let o = run_with_store(
        &home,
        &idp,
        store,
        &["provider", "add", "corp-tls", "--issuer", &idp.issuer],
    );
    assert!(o.status.success(), "{}", stderr_of(&o));
    let o = run_with_store(&home, &idp, store, &["login", "corp-tls"]);
    assert!(o.status.success(), "{}", stderr_of(&o));
    let id = String::from_utf8_lossy(&o.stdout).trim().to_string();
    let before = idp.stats()["token_requests"].as_u64().unwrap();
    let o = run_with_store(&home, &idp, store, &["refresh", &id]);
    assert!(o.status.success(), "{}", stderr_of(&o));
    assert_eq!(idp.stats()["token_requests"].as_u64().unwrap(), before + 1);
    let o = run_with_store(&home, &idp, store, &["status"]);
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(
        out.contains("1 from SSL_CERT_FILE"),
        "status names the roots: {out}"
    );
    assert!(out.contains("authorities bundled with Latchkey"), "{out}");

    // The OS store emptied again: refresh fails with the CA named, and the tokens stay.
    let o = run_with_store(&home, &idp, &empty, &["refresh", &id]);
    assert!(!o.status.success());
    assert!(
        stderr_of(&o).contains("does not trust"),
        "{}",
        stderr_of(&o)
    );
    let o = run_with_store(&home, &idp, &empty, &["token", &id]);
    assert!(o.status.success(), "tokens kept: {}", stderr_of(&o));

    // The same CA as an extra file in the settings: works without the OS store, and every
    // command that builds a client trusting it says so (S34).
    let o = run_with_store(&home, &idp, &empty, &["config", "ca-file", "relative.pem"]);
    assert!(!o.status.success(), "a file that isn't there is refused");
    assert!(
        stderr_of(&o).contains("Nothing was changed"),
        "{}",
        stderr_of(&o)
    );
    let o = run_with_store(
        &home,
        &idp,
        &empty,
        &["config", "ca-file", store.to_str().unwrap()],
    );
    assert!(o.status.success(), "{}", stderr_of(&o));
    let o = run_with_store(&home, &idp, &empty, &["refresh", &id]);
    assert!(o.status.success(), "{}", stderr_of(&o));
    let e = stderr_of(&o);
    assert!(
        e.contains("also trusts the certificate authorities in") && e.contains("ca.pem"),
        "the trust note: {e}"
    );
    // Not a CA file: refused, and the setting is unchanged.
    let junk = dir.path().join("junk.pem");
    std::fs::write(&junk, "not a certificate").unwrap();
    let o = run_with_store(
        &home,
        &idp,
        &empty,
        &["config", "ca-file", junk.to_str().unwrap()],
    );
    assert!(!o.status.success());
    assert!(
        stderr_of(&o).contains("no PEM certificate"),
        "{}",
        stderr_of(&o)
    );
    assert_eq!(
        home.index()["settings"]["network"]["ca_file"],
        store.to_str().unwrap()
    );
    let o = run_with_store(&home, &idp, &empty, &["config", "ca-file", "--reset"]);
    assert!(o.status.success());
    let o = run_with_store(&home, &idp, &empty, &["refresh", &id]);
    assert!(
        !o.status.success(),
        "back to the bundled and the OS roots only"
    );
}

/// A real HTTP proxy (Debian's tinyproxy) on loopback, logging every request it forwards.
struct Tinyproxy {
    child: Child,
    port: u16,
    log: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl Tinyproxy {
    fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let log = dir.path().join("tinyproxy.log");
        let conf = dir.path().join("tinyproxy.conf");
        std::fs::write(
            &conf,
            format!(
                "Port {port}\nListen 127.0.0.1\nTimeout 60\nLogFile \"{}\"\nLogLevel Connect\nMaxClients 50\nAllow 127.0.0.1\nDisableViaHeader Yes\n",
                log.display()
            ),
        )
        .unwrap();
        let child = Command::new("tinyproxy")
            .args(["-d", "-c"])
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("tinyproxy (Debian package tinyproxy; the test command installs it)");
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "tinyproxy did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Tinyproxy {
            child,
            port,
            log,
            _dir: dir,
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Requests it forwarded to `origin` (as `http://127.0.0.1:PORT`) whose path starts with
    /// `path`.
    fn forwarded(&self, origin: &str, path: &str) -> usize {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains("Request (file descriptor"))
            .filter(|l| l.contains(&format!(" {origin}{path}")))
            .count()
    }
}

impl Drop for Tinyproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn requests_go_through_the_chosen_proxy_and_direct_addresses_do_not() {
    let proxy = Tinyproxy::start();
    let idp = Idp::start();
    let home = TestHome::new();
    let gnome = tempfile::tempdir().unwrap();
    let run = |args: &[&str], env: &[(&str, &str)]| {
        let mut c = home.cli();
        for v in PROXY_VARS {
            c.env_remove(v);
        }
        // GNOME's settings in a keyfile of this test's own (no dconf daemon needed).
        c.env("GSETTINGS_BACKEND", "keyfile")
            .env("XDG_CONFIG_HOME", gnome.path())
            .env("LATCHKEY_BROWSER", test_browser())
            .envs(env.iter().copied())
            .args(args)
            .stdin(Stdio::null());
        c.output().unwrap()
    };
    let token_calls = || proxy.forwarded(&idp.issuer, "/oauth2/token");

    // Settings → Network's proxy, from the command line: discovery, sign-in, refresh and API
    // calls all go through it.
    let o = run(&["config", "proxy", "socks5://127.0.0.1:1080"], &[]);
    assert!(!o.status.success());
    assert!(
        stderr_of(&o).contains("SOCKS proxies are not supported"),
        "{}",
        stderr_of(&o)
    );
    let o = run(&["config", "proxy", "http://user:pw@127.0.0.1:3128"], &[]);
    assert!(stderr_of(&o).contains("password"), "{}", stderr_of(&o));
    let o = run(&["config", "proxy", &proxy.url()], &[]);
    assert!(o.status.success(), "{}", stderr_of(&o));
    let o = run(
        &["provider", "add", "corp-proxy", "--issuer", &idp.issuer],
        &[],
    );
    assert!(o.status.success(), "{}", stderr_of(&o));
    assert!(
        proxy.forwarded(&idp.issuer, "/.well-known/") >= 1,
        "discovery went through the proxy"
    );
    let o = run(&["login", "corp-proxy"], &[]);
    assert!(o.status.success(), "{}", stderr_of(&o));
    let id = String::from_utf8_lossy(&o.stdout).trim().to_string();
    assert_eq!(
        token_calls(),
        1,
        "the code exchange went through the proxy: {}",
        std::fs::read_to_string(&proxy.log).unwrap_or_default()
    );
    let o = run(&["refresh", &id], &[]);
    assert!(o.status.success(), "{}", stderr_of(&o));
    assert_eq!(token_calls(), 2, "the refresh went through the proxy");
    let o = run(&["status"], &[]);
    assert!(
        String::from_utf8_lossy(&o.stdout)
            .contains(&format!("Proxy: {} (Settings → Network)", proxy.url())),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );

    // An address in the direct list is reached without the proxy.
    let o = run(&["config", "no-proxy", "http://127.0.0.1"], &[]);
    assert!(!o.status.success(), "a URL is not a host");
    let o = run(&["config", "no-proxy", "localhost, 127.0.0.1"], &[]);
    assert!(o.status.success(), "{}", stderr_of(&o));
    let o = run(&["refresh", &id], &[]);
    assert!(o.status.success(), "{}", stderr_of(&o));
    assert_eq!(token_calls(), 2, "direct: not through the proxy");

    // "The system's": the environment's proxy and NO_PROXY.
    let o = run(&["config", "no-proxy", "--reset"], &[]);
    assert!(o.status.success());
    let o = run(&["config", "proxy", "--system"], &[]);
    assert!(o.status.success());
    let o = run(&["refresh", &id], &[]);
    assert!(o.status.success(), "{}", stderr_of(&o));
    assert_eq!(
        token_calls(),
        2,
        "no proxy in the environment or GNOME: direct"
    );
    let o = run(&["refresh", &id], &[("HTTP_PROXY", &proxy.url())]);
    assert!(o.status.success(), "{}", stderr_of(&o));
    assert_eq!(token_calls(), 3, "the environment's proxy");
    let o = run(
        &["refresh", &id],
        &[("HTTP_PROXY", &proxy.url()), ("NO_PROXY", "127.0.0.1")],
    );
    assert!(o.status.success(), "{}", stderr_of(&o));
    assert_eq!(token_calls(), 3, "the environment's NO_PROXY");

    // "The system's" on a desktop started from the menu, with a bare environment: GNOME's
    // proxy settings.
    let gset = |args: &[&str]| {
        let ok = Command::new("gsettings")
            .env("GSETTINGS_BACKEND", "keyfile")
            .env("XDG_CONFIG_HOME", gnome.path())
            .arg("set")
            .args(args)
            .status()
            .unwrap();
        assert!(ok.success(), "gsettings set {args:?}");
    };
    gset(&["org.gnome.system.proxy.http", "host", "127.0.0.1"]);
    gset(&[
        "org.gnome.system.proxy.http",
        "port",
        &proxy.port.to_string(),
    ]);
    gset(&[
        "org.gnome.system.proxy",
        "ignore-hosts",
        "['intranet.example']",
    ]);
    gset(&["org.gnome.system.proxy", "mode", "manual"]);
    let o = run(&["refresh", &id], &[]);
    assert!(o.status.success(), "{}", stderr_of(&o));
    assert_eq!(token_calls(), 4, "GNOME's proxy");
    let o = run(&["config", "proxy"], &[]);
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("GNOME's proxy settings"),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    gset(&["org.gnome.system.proxy", "ignore-hosts", "['127.0.0.0/8']"]);
    let o = run(&["refresh", &id], &[]);
    assert!(o.status.success(), "{}", stderr_of(&o));
    assert_eq!(token_calls(), 4, "GNOME's ignore-hosts");

    // "No proxy" wins over everything.
    gset(&["org.gnome.system.proxy", "ignore-hosts", "@as []"]);
    let o = run(&["config", "proxy", "--off"], &[]);
    assert!(o.status.success());
    let o = run(&["refresh", &id], &[("HTTP_PROXY", &proxy.url())]);
    assert!(o.status.success(), "{}", stderr_of(&o));
    assert_eq!(token_calls(), 4, "off: direct");
}

/// The window's Settings → Network: a proxy that can't work is refused with the reason and
/// nothing saved; a good one is saved, and the app's own refresh goes through it.
#[test]
fn the_windows_network_settings_send_the_apps_refresh_through_the_proxy() {
    const T: Duration = Duration::from_secs(30);
    let proxy = Tinyproxy::start();
    let idp = Idp::start();
    let home = TestHome::new();
    let id = cli_login(&home, &idp);
    let calls = || proxy.forwarded(&idp.issuer, "/oauth2/token");
    let app = WebApp::start(&home, &[]);
    app.wait_for("[aria-haspopup=menu]", T);
    app.click_css("#open-settings");
    app.wait_for("[data-network]", T);
    assert_eq!(
        app.js("return document.querySelector('[data-input=proxy-system]').checked"),
        serde_json::json!(true),
        "the system's settings by default"
    );
    let report = app.text(&app.wait_for("[data-network-report]", T));
    assert!(
        report.contains("authorities bundled with Latchkey"),
        "{report}"
    );
    app.click_css("[data-input=proxy-manual]");
    app.type_into("[data-input=proxy-url]", "socks5://127.0.0.1:1080");
    app.click_css("[data-view=settings] button[type=submit]");
    let err = app.text(&app.wait_for("[data-error=bad_network_setting]", T));
    assert!(err.contains("SOCKS proxies are not supported"), "{err}");
    assert_eq!(
        home.index()["settings"]["network"]["proxy"]["mode"],
        "system",
        "nothing saved"
    );
    app.js("document.querySelector('[data-input=proxy-url]').value = ''; return 1");
    app.type_into("[data-input=proxy-url]", &proxy.url());
    app.screenshot("window-settings-network");
    app.click_css("[data-view=settings] button[type=submit]");
    app.wait_for("[aria-haspopup=menu]", T);
    let net = &home.index()["settings"]["network"];
    assert_eq!(net["proxy"]["mode"], "manual", "{net}");
    assert_eq!(net["proxy"]["url"], proxy.url().as_str(), "{net}");
    assert_eq!(calls(), 0);
    app.click_css("[aria-haspopup=menu]");
    app.click_css("[role=menuitem][data-action='Refresh now']");
    let started = Instant::now();
    while calls() == 0 {
        assert!(
            started.elapsed() < T,
            "the app's refresh went through the proxy"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(!id.is_empty());
}
