//! Issue 26, DPoP (RFC 9449) against oidc-provider with DPoP on: sign-in, refresh, machine
//! accounts and `api` with proofs, with and without server nonces (at the token endpoint and
//! at a DPoP-checking API); `latchkey header` with curl; a replayed proof and a proof for
//! another address refused; the key only in the credential store and gone after logout.

use latchkey_e2e::*;
use serde_json::Value;
use std::process::{Command, Output, Stdio};

fn dpop_idp(nonce: bool, api_nonce: bool) -> Idp {
    Idp::start_with(IdpConfig {
        dpop: Some((nonce, api_nonce)),
        ..Default::default()
    })
}

fn add_and_sign_in(home: &TestHome, idp: &Idp, id: &str, extra: &[&str]) -> String {
    let api = format!("{}/api", idp.issuer);
    let mut args = vec![
        "provider",
        "add",
        id,
        "--issuer",
        &idp.issuer,
        "--api-base",
        &api,
    ];
    args.extend_from_slice(extra);
    let o = run_against(home, idp, &args, None, &[]);
    assert!(o.status.success(), "{}", stderr_of(&o));
    let o = run_against(home, idp, &["login", id], None, &[]);
    assert!(o.status.success(), "{}", stderr_of(&o));
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

fn api_ok(home: &TestHome, idp: &Idp, account: &str, path: &str) -> Value {
    let o = run_against(home, idp, &["api", account, path], None, &[]);
    assert!(o.status.success(), "{}", stderr_of(&o));
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&o.stdout)))
}

fn curl(headers: &[String], url: &str) -> Output {
    let mut c = Command::new("curl");
    c.args(["-s", "-o", "/dev/null", "-w", "%{http_code}"]);
    for h in headers {
        c.args(["-H", h]);
    }
    c.arg(url).stdin(Stdio::null()).output().unwrap()
}

#[test]
fn sign_in_refresh_and_api_calls_are_bound_to_the_accounts_key_s36() {
    for (nonce, api_nonce) in [(false, false), (true, true)] {
        let idp = dpop_idp(nonce, api_nonce);
        let home = TestHome::new();
        let id = add_and_sign_in(&home, &idp, "dp", &[]);
        let rec = accounts_in(&home)
            .vault()
            .read_record(&id)
            .unwrap()
            .unwrap();
        assert_eq!(rec.token_type, "DPoP", "nonces {nonce}/{api_nonce}");
        let key = rec
            .dpop_key
            .clone()
            .expect("the key is kept with the tokens");
        // A DPoP-bound token alone is refused where the API checks the binding.
        assert_eq!(idp.check_token(rec.access_token.expose()), 401);
        let v = api_ok(&home, &idp, &id, "dpop");
        assert_eq!(v["ok"], true, "{v}");
        // Refresh keeps the key and the binding.
        let o = run_against(&home, &idp, &["refresh", &id], None, &[]);
        assert!(o.status.success(), "{}", stderr_of(&o));
        let after = accounts_in(&home)
            .vault()
            .read_record(&id)
            .unwrap()
            .unwrap();
        assert_ne!(after.access_token.expose(), rec.access_token.expose());
        assert_eq!(
            after.dpop_key.as_ref().map(|k| k.expose().to_string()),
            Some(key.expose().to_string())
        );
        assert_eq!(after.token_type, "DPoP");
        let v2 = api_ok(&home, &idp, &id, "dpop");
        assert_eq!(v2["jkt"], v["jkt"], "the same key after refresh");
        if api_nonce {
            assert!(
                idp.stats()["dpop_nonce_asks"].as_u64().unwrap() >= 1,
                "the API asked for a nonce and got it"
            );
        }

        // `latchkey header`: both headers, bound to this method and address, work with curl
        // once; the same proof again, or at another address, is refused.
        let url = format!("{}/api/dpop", idp.issuer);
        let o = home.run(&["header", &id, "--url", &url], None);
        assert!(o.status.success(), "{}", stderr_of(&o));
        let headers: Vec<String> = String::from_utf8_lossy(&o.stdout)
            .lines()
            .map(str::to_string)
            .collect();
        assert!(
            headers[0].starts_with("Authorization: DPoP "),
            "{headers:?}"
        );
        assert!(headers[1].starts_with("DPoP: "), "{headers:?}");
        if !api_nonce {
            assert_eq!(String::from_utf8_lossy(&curl(&headers, &url).stdout), "200");
            assert_eq!(
                String::from_utf8_lossy(&curl(&headers, &url).stdout),
                "401",
                "a replayed proof"
            );
            let o = home.run(&["header", &id, "--url", &url], None);
            let fresh: Vec<String> = String::from_utf8_lossy(&o.stdout)
                .lines()
                .map(str::to_string)
                .collect();
            assert_eq!(
                String::from_utf8_lossy(
                    &curl(&fresh, &format!("{}/api/dpop-other", idp.issuer)).stdout
                ),
                "401",
                "a proof for another address"
            );
        }
        let o = home.run(&["header", &id, "--url", &url, "--json"], None);
        let j: Value = serde_json::from_slice(&o.stdout).unwrap();
        assert!(j["Authorization"].as_str().unwrap().starts_with("DPoP "));
        assert!(j["DPoP"].as_str().unwrap().split('.').count() == 3);
        let o = home.run(&["header", &id], None);
        assert!(
            !o.status.success(),
            "a DPoP account's header needs the address"
        );
        assert!(stderr_of(&o).contains("--url"), "{}", stderr_of(&o));
        let o = home.run(
            &["header", &id, "--url", "https://elsewhere.example/x"],
            None,
        );
        assert!(!o.status.success());
        assert!(o.stdout.is_empty());

        // git can't send a proof: the helper says so rather than hand out a token that fails.
        let mut c = home.cli();
        c.args(["git-credential", "get"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = c.spawn().unwrap();
        std::io::Write::write_all(
            &mut child.stdin.take().unwrap(),
            format!(
                "protocol=http\nhost={}\npath=api/repo.git\n\n",
                idp.issuer.trim_start_matches("http://")
            )
            .as_bytes(),
        )
        .unwrap();
        let o = child.wait_with_output().unwrap();
        assert!(!o.status.success() && o.stdout.is_empty());
        assert!(
            stderr_of(&o).contains("bound to a key (DPoP)"),
            "{}",
            stderr_of(&o)
        );

        // The key is in the credential store only, and goes with the account.
        assert!(canary_hits(home.path()).is_empty());
        let mut grep = Command::new("grep");
        grep.args(["-rqF", key.expose()]).arg(home.path());
        assert!(
            !grep.status().unwrap().success(),
            "the DPoP key is in no file under the data folder"
        );
        let o = home.run(&["logout", &id], None);
        assert!(o.status.success(), "{}", stderr_of(&o));
        assert!(accounts_in(&home)
            .vault()
            .read_record(&id)
            .unwrap()
            .is_none());
    }
}

#[test]
fn a_machine_account_gets_dpop_bound_tokens_and_required_dpop_is_checked_s36() {
    let idp = dpop_idp(true, false);
    let home = TestHome::new();
    let api = format!("{}/api", idp.issuer);
    let o = run_against(
        &home,
        &idp,
        &[
            "provider",
            "add",
            "dpm",
            "--issuer",
            &idp.issuer,
            "--api-base",
            &api,
            "--dpop",
        ],
        None,
        &[],
    );
    assert!(o.status.success(), "{}", stderr_of(&o));
    let o = run_against(
        &home,
        &idp,
        &[
            "login",
            "dpm",
            "--client-credentials",
            "--client-id",
            "latchkey-machine",
        ],
        Some("machine-secret-value"),
        &[],
    );
    assert!(o.status.success(), "{}", stderr_of(&o));
    let id = String::from_utf8_lossy(&o.stdout).trim().to_string();
    let rec = accounts_in(&home)
        .vault()
        .read_record(&id)
        .unwrap()
        .unwrap();
    assert!(rec.is_dpop(), "{}", rec.token_type);
    assert_eq!(api_ok(&home, &idp, &id, "dpop")["ok"], true);
    let o = run_against(&home, &idp, &["refresh", &id], None, &[]);
    assert!(o.status.success(), "{}", stderr_of(&o));
    assert!(accounts_in(&home)
        .vault()
        .read_record(&id)
        .unwrap()
        .unwrap()
        .is_dpop());
    assert_eq!(api_ok(&home, &idp, &id, "dpop")["ok"], true);

    // A provider required to use DPoP at a server that doesn't offer it: refused when added.
    let plain = Idp::start();
    let o = run_against(
        &home,
        &plain,
        &[
            "provider",
            "add",
            "nodp",
            "--issuer",
            &plain.issuer,
            "--dpop",
        ],
        None,
        &[],
    );
    assert!(!o.status.success());
    let e = stderr_of(&o);
    assert!(e.contains("does not offer DPoP"), "{e}");
    assert!(e.contains("without --dpop"), "{e}");
}

/// The window: copying a DPoP-bound token says it won't work alone, and "Copy as curl" is
/// built on `latchkey header`; that line, run in a shell, gets a 200 from the DPoP-checking API.
#[test]
fn the_window_offers_a_curl_line_that_carries_the_proof_s36() {
    const T: std::time::Duration = std::time::Duration::from_secs(30);
    let idp = dpop_idp(false, false);
    let home = TestHome::new();
    let id = add_and_sign_in(&home, &idp, "dpw", &[]);
    let app = WebApp::start(&home, &[]);
    app.wait_for(&format!("[data-copy='{id}']"), T);
    app.click_css(&format!("[data-copy='{id}']"));
    app.wait_text("works only with a proof (DPoP)", T);
    app.click_css(&format!("[data-test='{id}']"));
    app.wait_for("[data-view=test]", T);
    app.js("document.querySelector('[data-input=path]').value = ''; return 1");
    app.type_into("[data-input=path]", "dpop");
    app.click_css("[data-copy-curl]");
    let line = app.text(&app.wait_for("[data-curl]", T));
    assert!(
        line.starts_with(&format!("latchkey header '{id}' --method 'GET'")),
        "{line}"
    );
    let o = Command::new("sh")
        .arg("-c")
        .arg(format!("{line} -s -o /dev/null -w '%{{http_code}}'"))
        .env("LATCHKEY_HOME", home.path())
        .env(
            "PATH",
            format!(
                "{}:{}",
                bin().parent().unwrap().display(),
                std::env::var("PATH").unwrap_or_default()
            ),
        )
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "200",
        "{}",
        stderr_of(&o)
    );
}

/// RFC 9449 §10: the authorization request carries the key's thumbprint (`dpop_jkt`), and the
/// code exchange proves that same key (the server refuses the code otherwise).
#[test]
fn the_authorization_request_names_the_key_the_exchange_proves_s36() {
    let idp = dpop_idp(false, false);
    let home = TestHome::new();
    let o = run_against(
        &home,
        &idp,
        &["provider", "add", "dpj", "--issuer", &idp.issuer],
        None,
        &[],
    );
    assert!(o.status.success(), "{}", stderr_of(&o));
    let shown = printed_sign_in_url(&home, "dpj");
    let u = url::Url::parse(&shown).unwrap();
    let jkt = u
        .query_pairs()
        .find(|(k, _)| k == "dpop_jkt")
        .map(|(_, v)| v.into_owned())
        .expect("dpop_jkt on the authorization request");
    assert_eq!(jkt.len(), 43, "a base64url SHA-256 thumbprint: {jkt}");
    // A whole sign-in: the exchange's proof matches the jkt, and the token is bound to it.
    let o = run_against(&home, &idp, &["login", "dpj"], None, &[]);
    assert!(o.status.success(), "{}", stderr_of(&o));
}

/// "Another service…" → Advanced → "Require … DPoP": the provider is set to require it and the
/// sign-in's tokens are bound; at a server without DPoP the window says so and signs nobody in.
#[test]
fn the_window_can_require_dpop_for_another_service_s36() {
    const T: std::time::Duration = std::time::Duration::from_secs(30);
    let idp = dpop_idp(false, false);
    let plain = Idp::start();
    let home = TestHome::new();
    let browser = test_browser().display().to_string();
    let app = WebApp::start(&home, &[("LATCHKEY_BROWSER", &browser)]);
    for (server, works) in [(&plain, false), (&idp, true)] {
        app.wait_for("#connect", T);
        app.click_css("#connect");
        app.click_css("[data-provider=other]");
        app.type_into("[data-input=issuer]", &server.issuer);
        app.js("document.querySelector('details.advanced').open = true; return 1");
        app.click_css("[data-input=require-dpop]");
        app.click_css("[data-view=other] button[type=submit]");
        if works {
            app.wait_text("Signed in", T);
        } else {
            let e = app.text(&app.wait_for("[data-error=dpop]", T));
            assert!(e.contains("does not offer DPoP"), "{e}");
            app.click_css(".topbar h1");
        }
    }
    let accounts = accounts_in(&home).list().unwrap();
    assert_eq!(
        accounts.len(),
        1,
        "nobody signed in at the server without DPoP"
    );
    let rec = accounts_in(&home)
        .vault()
        .read_record(&accounts[0].id)
        .unwrap()
        .unwrap();
    assert!(rec.is_dpop());
    let providers = home.index()["providers"].clone();
    assert!(
        providers
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["dpop_required"] == true),
        "{providers}"
    );
}
