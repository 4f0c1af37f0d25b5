//! Connecting a protected API by its address (RFC 9728 metadata, RFC 8707 resource
//! indicators) against `oidc-provider`, whose APIs accept only tokens whose audience is
//! themselves.

use latchkey_e2e::*;
use std::process::Output;

fn out(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

fn ok(o: &Output, what: &str) -> String {
    assert!(o.status.success(), "{what}: {}", stderr_of(o));
    out(o)
}

/// Calls an API with a bearer token; returns the status.
fn call(url: &str, token: &str) -> u16 {
    reqwest::blocking::Client::new()
        .get(url)
        .bearer_auth(token)
        .send()
        .expect("api")
        .status()
        .as_u16()
}

/// S27: connect by address, use the token (`api`, `exec`), keep its audience on refresh; a
/// second API on the same server is a separate account whose token the first API refuses.
#[test]
fn an_api_is_connected_by_its_address_and_its_tokens_stay_bound_to_it_s27() {
    let idp = Idp::start();
    let home = TestHome::new();
    let run = |args: &[&str]| run_against(&home, &idp, args, None, &[]);
    let mcp = format!("{}/mcp", idp.issuer);
    let mcp2 = format!("{}/mcp2", idp.issuer);
    let o = run(&["login", "--resource", &mcp]);
    let first = ok(&o, "login --resource");
    assert!(
        stderr_of(&o).contains("is protected by"),
        "{}",
        stderr_of(&o)
    );
    assert_eq!(
        idp.stats()["registrations"],
        1,
        "a public client was registered (RFC 7591)"
    );
    let listed: serde_json::Value =
        serde_json::from_str(&ok(&run(&["list", "--json"]), "list")).unwrap();
    assert_eq!(listed[0]["resource"], mcp.as_str(), "{listed}");
    // `latchkey api` and `latchkey exec` with the API's token.
    let body = ok(&run(&["api", &first, &mcp]), "api");
    assert!(body.contains(&mcp), "{body}");
    let t1 = ok(
        &run(&["exec", &first, "--", "printenv", "LATCHKEY_TOKEN"]),
        "exec",
    );
    assert_eq!(call(&mcp, &t1), 200);
    // A second API: its own account and token; neither API takes the other's.
    let second = ok(&run(&["login", "--resource", &mcp2]), "second resource");
    assert_ne!(first, second);
    let t2 = ok(&run(&["token", &second]), "token 2");
    assert_eq!(call(&mcp2, &t2), 200);
    assert_eq!(
        call(&mcp, &t2),
        401,
        "the first API refuses the second's token"
    );
    assert_eq!(call(&mcp2, &t1), 401, "and the other way round");
    // Refresh keeps the audience.
    ok(&run(&["refresh", &first]), "refresh");
    let t1b = ok(&run(&["token", &first]), "token after refresh");
    assert_ne!(t1, t1b);
    assert_eq!(call(&mcp, &t1b), 200);
    assert_eq!(call(&mcp2, &t1b), 401);
    // The same API again is the same account.
    assert_eq!(ok(&run(&["login", "--resource", &mcp]), "again"), first);
    // More scope wanted: a plain "sign in again" with the scopes named, no refresh loop.
    let before = idp.stats()["token_requests"].as_u64().unwrap();
    let o = run(&["api", &first, &format!("{mcp}/admin")]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr_of(&o));
    let e = stderr_of(&o);
    assert!(
        e.contains("needs more access") && e.contains("--scope mcp:admin"),
        "{e}"
    );
    assert_eq!(
        idp.stats()["token_requests"].as_u64().unwrap(),
        before,
        "no refresh"
    );
}

/// S27: bad addresses get a clear error and leave no account (and, but for the server that
/// ignores `resource`, no provider either).
#[test]
fn bad_addresses_get_clear_errors_and_store_nothing_s27() {
    let idp = Idp::start();
    let home = TestHome::new();
    let i = idp.issuer.as_str();
    for (address, words) in [
        ("http://api.example/mcp".to_string(), "https"),
        (format!("{i}/open"), "without asking for a sign-in"),
        (format!("{i}/mcp-wrongmeta"), "is for another address"),
        (
            format!("{i}/mcp-badas"),
            "couldn't read its sign-in settings",
        ),
    ] {
        let o = run_against(&home, &idp, &["login", "--resource", &address], None, &[]);
        assert!(!o.status.success(), "{address}");
        assert!(
            stderr_of(&o).contains(words),
            "{address}: {}",
            stderr_of(&o)
        );
        assert!(
            home.index()["providers"]
                .as_array()
                .is_none_or(|p| p.is_empty()),
            "{address}"
        );
    }
    let o = run_against(
        &home,
        &idp,
        &["login", "--resource", &format!("{i}/mcp-ignored")],
        None,
        &[],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr_of(&o));
    assert!(
        stderr_of(&o).contains("ignore resource indicators"),
        "{}",
        stderr_of(&o)
    );
    assert!(home.index()["accounts"]
        .as_array()
        .is_none_or(|a| a.is_empty()));
}

/// The window's "Another service…" takes an API's address too.
#[test]
fn the_window_connects_an_api_by_its_address() {
    let idp = Idp::start();
    let home = TestHome::new();
    let env = [
        ("LATCHKEY_BROWSER", test_browser().display().to_string()),
        ("LATCHKEY_BIN", bin().display().to_string()),
    ];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let app = WebApp::start(&home, &env);
    let t = std::time::Duration::from_secs(30);
    app.wait_for("[data-view=empty]", t);
    app.click_css("#connect");
    app.click_css("[data-provider=other]");
    let mcp = format!("{}/mcp", idp.issuer);
    app.type_into("[data-input=issuer]", &mcp);
    app.click_css("[data-view=other] button[type=submit]");
    app.wait_text("Signed in", t);
    let accounts = accounts_in(&home).list().unwrap();
    assert_eq!(accounts.len(), 1);
    assert_eq!(accounts[0].resource.as_deref(), Some(mcp.as_str()));
    app.click_css(".topbar h1");
    let shown = app.wait_for("[data-resource]", t);
    assert!(app.text(&shown).contains("/mcp"));
    app.screenshot("window-resource-account");
}
