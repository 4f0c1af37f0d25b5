//! The "person at the browser" for end-to-end tests, used as LATCHKEY_BROWSER.
//!
//! It signs in at the test IdP (cookie jar, redirects followed by hand, consent approved by the
//! IdP's test middleware), then delivers the final redirect the way the OS would, chosen by
//! LATCHKEY_TEST_DELIVERY:
//!   loopback (default for http://127.0.0.1 redirects)  GET the loopback URL
//!   argv     start `latchkey <url>` as a second process (warm start)
//!   gio      `gio open <url>` (through the registered .desktop handler)
//!   file:P   write the URL to file P and deliver nothing (the test delivers it)
//! LATCHKEY_TEST_BROWSER_FAIL=1 makes it exit 3 at once, like a broken browser.
use std::time::Duration;

fn main() {
    let url = std::env::args().nth(1).expect("usage: test-browser URL");
    if std::env::var_os("LATCHKEY_TEST_BROWSER_FAIL").is_some() {
        std::process::exit(3);
    }
    // Like a real browser, it trusts the OS store: here the test CA named by SSL_CERT_FILE or
    // LATCHKEY_TEST_BROWSER_CA (an https test IdP).
    let mut b = reqwest::blocking::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(20));
    for var in ["LATCHKEY_TEST_BROWSER_CA", "SSL_CERT_FILE"] {
        if let Some(pem) = std::env::var_os(var).and_then(|p| std::fs::read(p).ok()) {
            for c in reqwest::Certificate::from_pem_bundle(&pem).unwrap_or_default() {
                b = b.add_root_certificate(c);
            }
        }
    }
    let http = b.build().expect("client");
    let issuer = {
        let u = url::Url::parse(&url).expect("authorize url");
        u.origin().ascii_serialization()
    };
    let mut cur = url;
    let mut out = None;
    for _ in 0..12 {
        let resp = http.get(&cur).send().expect("IdP request");
        let loc = resp
            .headers()
            .get("location")
            .and_then(|l| l.to_str().ok())
            .map(str::to_string)
            .unwrap_or_else(|| panic!("no redirect at {cur}: {}", resp.status()));
        let next = url::Url::parse(&cur)
            .unwrap()
            .join(&loc)
            .map(|u| u.to_string())
            .unwrap_or(loc.clone());
        if !next.starts_with(&issuer) {
            out = Some(if loc.starts_with("dev.latchkey:") {
                loc
            } else {
                next
            });
            break;
        }
        cur = next;
    }
    let redirect = out.expect("the IdP never redirected back to the app");
    let delivery = std::env::var("LATCHKEY_TEST_DELIVERY").unwrap_or_else(|_| {
        if redirect.starts_with("http://") {
            "loopback".into()
        } else {
            "argv".into()
        }
    });
    match delivery.as_str() {
        "loopback" => {
            let r = http.get(&redirect).send().expect("loopback delivery");
            assert!(r.status().is_success(), "loopback answered {}", r.status());
        }
        "argv" => {
            let bin = std::env::var("LATCHKEY_BIN").expect("LATCHKEY_BIN");
            let st = std::process::Command::new(bin)
                .arg(&redirect)
                .status()
                .expect("start latchkey");
            assert!(st.success(), "latchkey <url> exited {st}");
        }
        "gio" => {
            let st = std::process::Command::new("gio")
                .arg("open")
                .arg(&redirect)
                .status()
                .expect("gio");
            assert!(st.success(), "gio open exited {st}");
        }
        f if f.starts_with("file:") => std::fs::write(&f[5..], redirect).expect("write redirect"),
        other => panic!("unknown LATCHKEY_TEST_DELIVERY {other}"),
    }
}
