//! Connecting a protected API by its address (RFC 9728 metadata, RFC 8707 resource
//! indicators) against `oidc-provider`, whose APIs accept only tokens whose audience is
//! themselves.

use latchkey_e2e::*;
use std::io::BufRead;
use std::process::{Output, Stdio};
use std::time::Duration;

/// The CLI with the test browser, and no Taskade override: the built-in providers keep their
/// real servers, so the test IdP is not a server Latchkey "knows" (F1 would ask about it).
fn run_api(home: &TestHome, args: &[&str], stdin: Option<&str>) -> Output {
    let (browser, latchkey) = (test_browser(), bin());
    home.run_env(
        args,
        stdin,
        &[
            ("LATCHKEY_BROWSER", browser.to_str().unwrap()),
            ("LATCHKEY_BIN", latchkey.to_str().unwrap()),
        ],
    )
}

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
    let run = |args: &[&str]| run_api(&home, args, None);
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
    // A second API at the same server: the server is now one the person uses, so the CLI
    // asks (F1); without a terminal that takes --yes. Its own account and token; neither API
    // takes the other's.
    let asked = run(&["login", "--resource", &mcp2]);
    assert_eq!(asked.status.code(), Some(1), "{}", stderr_of(&asked));
    assert!(
        stderr_of(&asked).contains("a server you already use"),
        "{}",
        stderr_of(&asked)
    );
    let second = ok(
        &run(&["login", "--resource", &mcp2, "--yes"]),
        "second resource",
    );
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
        // `--yes`: `mcp-badas` names another site, and these failures come after the question.
        let o = run_api(&home, &["login", "--resource", &address, "--yes"], None);
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
    let revoked = idp.stats()["revocations"].as_u64().unwrap();
    let o = run_api(
        &home,
        &["login", "--resource", &format!("{i}/mcp-ignored")],
        None,
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr_of(&o));
    assert!(
        stderr_of(&o).contains("ignore resource indicators")
            && stderr_of(&o).contains(&format!("is for {i}/api")),
        "decided from the server's introspection answer: {}",
        stderr_of(&o)
    );
    assert!(
        idp.stats()["revocations"].as_u64().unwrap() > revoked,
        "the refused tokens were revoked"
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

/// F1 (S32): an API whose sign-in server is another site is asked about, and without a
/// terminal refused unless `--yes`, before anything is registered or requested there. With
/// `--yes`, a server that ignores `resource` issues a token for itself: the introspection
/// answer shows it, the token never reaches the API (which would have said 200 to anything),
/// the new tokens are revoked and nothing is kept.
#[test]
fn an_api_that_names_another_site_is_asked_about_and_gets_no_token_for_elsewhere_s32() {
    let api = Idp::start();
    let server = Idp::start();
    api.set_mode(serde_json::json!({ "foreignAs": server.issuer }));
    let home = TestHome::new();
    let address = format!("{}/mcp-foreign", api.issuer);
    let o = run_api(&home, &["login", "--resource", &address], None);
    assert_eq!(o.status.code(), Some(1), "{}", stderr_of(&o));
    let e = stderr_of(&o);
    assert!(
        e.contains(&address)
            && e.contains(&server.issuer)
            && e.contains("another site")
            && e.contains("--yes"),
        "{e}"
    );
    assert_eq!(
        server.stats()["registrations"],
        0,
        "nothing registered there"
    );
    assert_eq!(server.stats()["token_requests"], 0);
    assert!(home.index()["providers"]
        .as_array()
        .is_none_or(|p| p.is_empty()));

    let o = run_api(&home, &["login", "--resource", &address, "--yes"], None);
    assert_eq!(o.status.code(), Some(1), "{}", stderr_of(&o));
    let e = stderr_of(&o);
    assert!(
        e.contains("ignore resource indicators") && e.contains(&format!("{}/api", server.issuer)),
        "{e}"
    );
    assert_eq!(
        api.stats()["foreign_api_tokens"],
        0,
        "the token was judged locally and never handed to the API"
    );
    assert!(server.stats()["introspections"].as_u64().unwrap() >= 1);
    assert!(
        server.stats()["revocations"].as_u64().unwrap() >= 1,
        "the refused tokens were revoked"
    );
    assert!(home.index()["accounts"]
        .as_array()
        .is_none_or(|a| a.is_empty()));
}

/// F2 (S27): the device flow and machine accounts name the API too, and their tokens are
/// checked: both end with tokens the API accepts, which the other APIs refuse.
#[test]
fn device_and_machine_grants_name_the_api_s27() {
    let idp = Idp::start();
    let home = TestHome::new();
    let mcp = format!("{}/mcp", idp.issuer);
    let mut c = home.cli();
    c.args(["login", "--resource", &mcp, "--device"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    let mut err = std::io::BufReader::new(child.stderr.take().unwrap());
    let (page, code) = loop {
        let mut line = String::new();
        assert!(err.read_line(&mut line).unwrap() > 0, "no code printed");
        if let Some(rest) = line.trim().strip_prefix("To sign in, open ") {
            let (page, code) = rest
                .split_once(" on any device and enter the code: ")
                .unwrap();
            break (page.to_string(), code.to_string());
        }
    };
    let drain = std::thread::spawn(move || {
        let mut sink = String::new();
        let _ = std::io::Read::read_to_string(&mut err, &mut sink);
        sink
    });
    approve_device(&page, &code);
    let o = wait_output(child, Duration::from_secs(60));
    assert!(
        o.status.success(),
        "device login: {}",
        drain.join().unwrap()
    );
    let person = out(&o);
    let t = ok(&run_api(&home, &["token", &person], None), "token");
    assert_eq!(
        call(&mcp, &t),
        200,
        "the device grant's token is for the API"
    );
    assert_eq!(call(&format!("{}/mcp2", idp.issuer), &t), 401);

    let listed: serde_json::Value =
        serde_json::from_str(&ok(&run_api(&home, &["list", "--json"], None), "list")).unwrap();
    let provider = listed[0]["provider"].as_str().unwrap().to_string();
    let machine = ok(
        &run_api(
            &home,
            &[
                "login",
                &provider,
                "--client-credentials",
                "--client-id",
                "latchkey-machine",
            ],
            Some("machine-secret-value"),
        ),
        "machine login",
    );
    let t = ok(&run_api(&home, &["token", &machine], None), "machine token");
    assert_eq!(call(&mcp, &t), 200, "the machine token is for the API");
    assert_eq!(call(&format!("{}/mcp2", idp.issuer), &t), 401);
}

/// F10: a second person signing in to the same API gets an account of their own; the first
/// person's stays (the server's introspection answer tells them apart).
#[test]
fn two_people_at_one_api_keep_two_accounts_s24() {
    let idp = Idp::start();
    let home = TestHome::new();
    let mcp = format!("{}/mcp", idp.issuer);
    let alice = ok(
        &run_api(&home, &["login", "--resource", &mcp], None),
        "alice",
    );
    let t_alice = ok(&run_api(&home, &["token", &alice], None), "alice token");
    idp.set_mode(serde_json::json!({ "user": "bob" }));
    let bob = ok(&run_api(&home, &["login", "--resource", &mcp], None), "bob");
    assert_ne!(alice, bob, "bob's sign-in did not replace alice's account");
    assert_eq!(call(&mcp, &t_alice), 200, "alice's token still works");
    let listed: serde_json::Value =
        serde_json::from_str(&ok(&run_api(&home, &["list", "--json"], None), "list")).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 2, "{listed}");
    // Alice again is alice's account.
    idp.set_mode(serde_json::json!({ "user": "alice" }));
    assert_eq!(
        ok(
            &run_api(&home, &["login", "--resource", &mcp], None),
            "alice again"
        ),
        alice
    );
}

/// F1 (S32): the window asks before signing in at another site, naming both; Cancel goes
/// back with nothing registered, Continue signs in there and the refused token leaves no
/// account.
#[test]
fn the_window_asks_before_signing_in_at_another_site_s32() {
    let api = Idp::start();
    let server = Idp::start();
    api.set_mode(serde_json::json!({ "foreignAs": server.issuer }));
    let home = TestHome::new();
    let env = [
        ("LATCHKEY_BROWSER", test_browser().display().to_string()),
        ("LATCHKEY_BIN", bin().display().to_string()),
    ];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let app = WebApp::start(&home, &env);
    let t = Duration::from_secs(30);
    let address = format!("{}/mcp-foreign", api.issuer);
    app.wait_for("[data-view=empty]", t);
    app.click_css("#connect");
    app.click_css("[data-provider=other]");
    app.type_into("[data-input=issuer]", &address);
    app.click_css("[data-view=other] button[type=submit]");
    let dialog = app.wait_for(".dialog[role=dialog]", t);
    let said = app.text(&dialog);
    assert!(
        said.contains(&server.issuer) && said.contains(&address),
        "{said}"
    );
    app.screenshot("window-confirm-sign-in-server");
    app.keys("\u{E00C}"); // Escape: the same as Cancel
    app.wait_for("[data-view=other]", t);
    assert_eq!(
        server.stats()["registrations"],
        0,
        "nothing registered there"
    );

    app.type_into("[data-input=issuer]", &address);
    app.click_css("[data-view=other] button[type=submit]");
    app.wait_for(".dialog[role=dialog]", t);
    app.click_css(".dialog button:not(.secondary)");
    app.wait_text("ignore resource indicators", t);
    assert_eq!(server.stats()["registrations"], 1);
    assert_eq!(api.stats()["foreign_api_tokens"], 0);
    assert!(accounts_in(&home).list().unwrap().is_empty());
}

/// Issue 25, item 5: asking for more scope keeps what was granted. The hint after a 401 or
/// a 403 with `insufficient_scope` names the union, and signing in again with `--scope`
/// asks for it; the account stays the same and then reaches the admin route.
#[test]
fn signing_in_for_more_scope_keeps_what_was_granted() {
    let idp = Idp::start();
    let home = TestHome::new();
    let mcp = format!("{}/mcp", idp.issuer);
    let run = |args: &[&str]| run_api(&home, args, None);
    let first = ok(&run(&["login", "--resource", &mcp]), "login");
    for route in ["admin", "admin403"] {
        let o = run(&["api", &first, &format!("{mcp}/{route}")]);
        assert_eq!(o.status.code(), Some(2), "{route}: {}", stderr_of(&o));
        let e = stderr_of(&o);
        assert!(
            e.contains("--scope mcp:read --scope mcp:admin"),
            "{route}: the union of granted and asked: {e}"
        );
    }
    let again = ok(
        &run(&["login", "--resource", &mcp, "--scope", "mcp:admin"]),
        "step-up",
    );
    assert_eq!(again, first, "the same account");
    let listed: serde_json::Value =
        serde_json::from_str(&ok(&run(&["list", "--json"]), "list")).unwrap();
    let scopes = listed[0]["scopes"].to_string();
    assert!(
        scopes.contains("mcp:read") && scopes.contains("mcp:admin"),
        "{scopes}"
    );
    ok(
        &run(&["api", &first, &format!("{mcp}/admin")]),
        "admin after the step-up",
    );
}

/// Issue 25, item 1: an API that names its metadata only in the 401 to a POST (GET says
/// 405), one that names it nowhere (its address given with --resource-metadata), and one
/// with only the origin's root metadata (the token is then for the origin, and the person
/// is told).
#[test]
fn post_only_hidden_and_root_metadata_are_found() {
    let idp = Idp::start();
    let home = TestHome::new();
    let i = idp.issuer.as_str();
    let run = |args: &[&str]| run_api(&home, args, None);

    let post = format!("{i}/mcp-post");
    let id = ok(&run(&["login", "--resource", &post]), "POST-only challenge");
    let body = ok(&run(&["api", &id, "-X", "POST", &post, "-d", "{}"]), "POST");
    assert!(body.contains("mcp-post"), "{body}");

    let hidden = format!("{i}/mcp-hidden");
    let id = ok(
        &run(&[
            "login",
            "--resource",
            &hidden,
            "--resource-metadata",
            &format!("{i}/meta/mcp-hidden"),
            "--yes",
        ]),
        "--resource-metadata",
    );
    ok(&run(&["api", &id, &hidden]), "hidden API");
    // The named document was used: its scopes, not the server's defaults.
    let listed: serde_json::Value =
        serde_json::from_str(&ok(&run(&["list", "--json"]), "list")).unwrap();
    let acct = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == id.as_str())
        .unwrap()
        .clone();
    assert_eq!(acct["scopes"], serde_json::json!(["mcp:read"]), "{acct}");

    idp.set_mode(serde_json::json!({ "rootPrm": true }));
    let root_api = format!("{i}/rootapi");
    let o = run(&["login", "--resource", &root_api, "--yes"]);
    assert!(o.status.success(), "root metadata: {}", stderr_of(&o));
    assert!(
        stderr_of(&o).contains(&format!("Its metadata describes all of {i}")),
        "the wider audience is shown: {}",
        stderr_of(&o)
    );
    let id = out(&o);
    let listed: serde_json::Value =
        serde_json::from_str(&ok(&run(&["list", "--json"]), "list")).unwrap();
    let acct = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == id.as_str())
        .unwrap()
        .clone();
    assert_eq!(acct["resource"], i, "bound to the origin: {acct}");
    ok(&run(&["api", &id, &root_api]), "root-metadata API");
}

/// Issue 25, item 3: a pre-registered confidential client (its secret from stdin) and a
/// machine client connect an API by its address; both get tokens bound to it, and no
/// client is registered dynamically.
#[test]
fn pre_registered_and_machine_clients_connect_an_api() {
    let idp = Idp::start();
    let home = TestHome::new();
    let mcp = format!("{}/mcp", idp.issuer);
    let person = ok(
        &run_api(
            &home,
            &[
                "login",
                "--resource",
                &mcp,
                "--client-id",
                "latchkey-basic",
                "--client-secret-stdin",
            ],
            Some("basic-secret-value"),
        ),
        "confidential client",
    );
    assert_eq!(idp.stats()["registrations"], 0, "no dynamic registration");
    let t = ok(&run_api(&home, &["token", &person], None), "token");
    assert_eq!(call(&mcp, &t), 200);
    ok(
        &run_api(&home, &["refresh", &person], None),
        "refresh with the secret",
    );
    let machine = ok(
        &run_api(
            &home,
            &[
                "login",
                "--resource",
                &mcp,
                "--client-credentials",
                "--client-id",
                "latchkey-machine",
            ],
            Some("machine-secret-value"),
        ),
        "machine client",
    );
    assert_ne!(machine, person);
    let t = ok(&run_api(&home, &["token", &machine], None), "machine token");
    assert_eq!(call(&mcp, &t), 200);
    assert_eq!(call(&format!("{}/mcp2", idp.issuer), &t), 401);
}

/// Issue 25, item 7: an API with no resource metadata whose origin publishes
/// authorization-server metadata (the 2025-03-26 MCP spec) signs in at its origin, bound to
/// the API; an address whose origin publishes neither still gets the clear error.
#[test]
fn an_api_without_resource_metadata_uses_its_origins_server() {
    let idp = Idp::start();
    let home = TestHome::new();
    let legacy = format!("{}/mcp-legacy", idp.issuer);
    let id = ok(
        &run_api(&home, &["login", "--resource", &legacy], None),
        "legacy MCP",
    );
    let t = ok(&run_api(&home, &["token", &id], None), "token");
    assert_eq!(call(&legacy, &t), 200, "bound to the API");
    assert_eq!(call(&format!("{}/mcp", idp.issuer), &t), 401);
    // An origin without any metadata: the old error, nothing stored.
    let bare = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = bare.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for s in bare.incoming().flatten() {
            use std::io::{Read, Write};
            let mut s = s;
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            let _ = s.write_all(b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        }
    });
    let o = run_api(
        &home,
        &[
            "login",
            "--resource",
            &format!("http://127.0.0.1:{port}/mcp"),
        ],
        None,
    );
    assert!(!o.status.success());
    assert!(
        stderr_of(&o).contains("does not say how to sign in"),
        "{}",
        stderr_of(&o)
    );
}

/// Issue 25, item 4: an API that moves to another authorization server. Its old token is
/// refused; signing in again asks (a new sign-in server), then signs in there, keeps the
/// account's id, revokes the old server's grant, and drops the old entry.
#[test]
fn an_api_that_moves_to_another_server_keeps_its_account() {
    let api = Idp::start();
    let new_server = Idp::start();
    let home = TestHome::new();
    let moving = format!("{}/mcp-move", api.issuer);
    let id = ok(
        &run_api(&home, &["login", "--resource", &moving], None),
        "first sign-in",
    );
    let t = ok(&run_api(&home, &["token", &id], None), "token");
    assert_eq!(call(&moving, &t), 200);

    new_server.set_mode(serde_json::json!({ "acceptResources": [moving] }));
    api.set_mode(serde_json::json!({ "moveTo": new_server.issuer }));
    assert_eq!(
        call(&moving, &t),
        401,
        "the API refuses the old server's token"
    );
    let o = run_api(&home, &["login", "--resource", &moving], None);
    assert_eq!(o.status.code(), Some(1), "{}", stderr_of(&o));
    let e = stderr_of(&o);
    assert!(
        e.contains(&new_server.issuer) && e.contains(&format!("it used {}", api.issuer)),
        "the move is named: {e}"
    );
    let revoked = api.stats()["revocations"].as_u64().unwrap();
    let o = run_api(&home, &["login", "--resource", &moving, "--yes"], None);
    assert!(o.status.success(), "{}", stderr_of(&o));
    assert_eq!(out(&o), id, "the same account, rebound");
    assert!(
        api.stats()["revocations"].as_u64().unwrap() > revoked,
        "the old server's grant was revoked"
    );
    let t = ok(
        &run_api(&home, &["token", &id], None),
        "token after the move",
    );
    assert_eq!(call(&moving, &t), 200);
    let providers = home.index()["providers"].clone();
    let for_api: Vec<_> = providers
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["resource"] == moving.as_str())
        .collect();
    assert_eq!(for_api.len(), 1, "the old entry went: {providers}");
    assert_eq!(for_api[0]["issuer"], new_server.issuer.as_str());
    let listed: serde_json::Value =
        serde_json::from_str(&ok(&run_api(&home, &["list", "--json"], None), "list")).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
}

/// Issue 25, items 1 and 3 in the window: "Another service…" → Advanced takes an API's
/// metadata address and a confidential client's secret.
#[test]
fn the_window_takes_a_metadata_address_and_a_client_secret() {
    let idp = Idp::start();
    let home = TestHome::new();
    let env = [
        ("LATCHKEY_BROWSER", test_browser().display().to_string()),
        ("LATCHKEY_BIN", bin().display().to_string()),
    ];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let app = WebApp::start(&home, &env);
    let t = Duration::from_secs(30);
    let hidden = format!("{}/mcp-hidden", idp.issuer);
    app.wait_for("[data-view=empty]", t);
    app.click_css("#connect");
    app.click_css("[data-provider=other]");
    app.type_into("[data-input=issuer]", &hidden);
    app.type_into("[data-input=client-id]", "latchkey-basic");
    app.click_css("details.advanced summary");
    app.type_into("[data-input=client-secret]", "basic-secret-value");
    app.type_into(
        "[data-input=resource-metadata]",
        &format!("{}/meta/mcp-hidden", idp.issuer),
    );
    app.screenshot("window-other-advanced");
    app.click_css("[data-view=other] button[type=submit]");
    app.wait_text("Signed in", t);
    let accounts = accounts_in(&home).list().unwrap();
    assert_eq!(accounts.len(), 1);
    assert_eq!(accounts[0].resource.as_deref(), Some(hidden.as_str()));
    assert_eq!(idp.stats()["registrations"], 0, "the person's own client");
    assert!(secret_tool_lookup(&format!(
        "client-secret:{}:latchkey-basic",
        accounts[0].provider
    ))
    .is_some());
}
