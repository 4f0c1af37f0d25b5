//! The same command-line scenario against two independent authorization servers:
//! `oidc-provider` (node, tests/idp) and django-oauth-toolkit (python, tests/idp2). They
//! differ the way real servers do: issuer with and without a path, discovery split across
//! RFC 8414 and OpenID documents, scope lists, 401 or 403 for a dead token, `iss` sent or not.

use latchkey_e2e::*;
use std::process::{Output, Stdio};
use std::time::Duration;

fn out(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

fn ok(o: &Output, what: &str) -> String {
    assert!(o.status.success(), "{what}: {}", stderr_of(o));
    out(o)
}

/// Who each server signs in, and the scopes Latchkey should ask it for by default.
struct Server {
    idp: Idp,
    id: &'static str,
    person: &'static str,
    default_scopes: &'static [&'static str],
}

fn oidc_provider() -> Server {
    Server {
        idp: Idp::start_with(IdpConfig {
            access_ttl: 6,
            rotate: true,
            ..Default::default()
        }),
        id: "node",
        person: "alice",
        default_scopes: &["openid", "email", "profile", "offline_access"],
    }
}

fn django() -> Server {
    Server {
        idp: Idp::start_django(IdpConfig {
            access_ttl: 6,
            ..Default::default()
        }),
        id: "dot",
        person: "bob",
        default_scopes: &["openid", "profile"],
    }
}

/// Discovery, sign-in, identity, a second sign-in, refresh with rotation, concurrent `token`,
/// an API call, machine access, an outage, and revocation, each asserted.
fn scenario(s: Server) {
    let (idp, id) = (&s.idp, s.id);
    let home = TestHome::new();
    let run = |args: &[&str], stdin: Option<&str>| run_against(&home, idp, args, stdin, &[]);
    // Discovery: both documents merged; only listed scopes by default.
    provider_add(
        &home,
        idp,
        id,
        &["--api-base", &format!("{}/api", idp.issuer)],
    );
    let p = home.index()["providers"][0].clone();
    for field in [
        "token_url",
        "revocation_url",
        "userinfo_url",
        "authorize_url",
    ] {
        assert!(
            p[field].is_string(),
            "{id}: discovery found no {field}: {p}"
        );
    }
    let scopes: Vec<&str> = p["default_scopes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(scopes, s.default_scopes, "{id}: only listed scopes");
    // Sign-in and identity.
    let o = run(&["login", id], None);
    let account = ok(&o, "login");
    assert!(
        stderr_of(&o).contains(&format!("as {}", s.person)),
        "{id}: identity: {}",
        stderr_of(&o)
    );
    let a = home.index()["accounts"][0].clone();
    assert_eq!(a["identity"], s.person);
    assert!(a["subject"].is_string(), "{id}: the subject is kept: {a}");
    // Signing in again is the same account.
    assert_eq!(ok(&run(&["login", id], None), "second login"), account);
    assert_eq!(home.index()["accounts"].as_array().unwrap().len(), 1);
    // Refresh with rotation: a new token that works.
    let first = ok(&run(&["token", &account], None), "token");
    ok(&run(&["refresh", &account], None), "refresh");
    let second = ok(&run(&["token", &account], None), "token after refresh");
    assert_ne!(first, second, "{id}: refresh gave a new token");
    assert_eq!(idp.check_token(&second), 200, "{id}: the new token works");
    // Eight `token` calls at once after expiry: one refresh, one token, nothing lost.
    std::thread::sleep(Duration::from_secs(7));
    let before = idp.stats()["token_requests"].as_u64().unwrap();
    let children: Vec<_> = (0..8)
        .map(|_| {
            let mut c = home.cli();
            c.args(["token", &account])
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            c.spawn().unwrap()
        })
        .collect();
    let tokens: Vec<String> = children
        .into_iter()
        .map(|c| ok(&wait_output(c, Duration::from_secs(60)), "parallel token"))
        .collect();
    assert!(
        tokens.windows(2).all(|w| w[0] == w[1]),
        "{id}: one token for all"
    );
    assert_eq!(
        idp.stats()["token_requests"].as_u64().unwrap() - before,
        1,
        "{id}: exactly one refresh for eight calls (a 6-second token just issued counts as fresh)"
    );
    assert_eq!(
        idp.stats()["invalid_grant"],
        0,
        "{id}: no refresh token replayed"
    );
    assert_eq!(idp.check_token(&tokens[0]), 200);
    // An API call with the account's token.
    let body = ok(
        &run(
            &["api", &account, &format!("{}/api/protected", idp.issuer)],
            None,
        ),
        "api",
    );
    assert!(body.contains("\"ok\": true"), "{id}: {body}");
    // Machine access (client credentials).
    let o = run(
        &[
            "login",
            id,
            "--client-credentials",
            "--client-id",
            "latchkey-machine",
        ],
        Some("machine-secret-value\n"),
    );
    let machine = ok(&o, "client credentials");
    let t = ok(&run(&["token", &machine], None), "machine token");
    assert_eq!(idp.check_token(&t), 200, "{id}: the machine token works");
    let status = ok(&run(&["status", &machine], None), "machine status");
    assert!(status.contains("Machine access"), "{status}");
    // An outage: the refresh fails plainly (exit 4), the tokens are kept, and it heals.
    let kept = home.index()["accounts"].clone();
    idp.set_mode(serde_json::json!({"tokenStatus": 503}));
    let o = run(&["refresh", &account], None);
    assert_eq!(o.status.code(), Some(4), "{id}: {}", stderr_of(&o));
    assert!(stderr_of(&o).contains("kept"), "{}", stderr_of(&o));
    std::thread::sleep(Duration::from_secs(7));
    let o = run(&["token", &account], None);
    assert_eq!(
        o.status.code(),
        Some(4),
        "{id}: expired and unreachable: {}",
        stderr_of(&o)
    );
    assert!(out(&o).is_empty(), "{id}: nothing printed");
    assert_eq!(
        home.index()["accounts"].as_array().unwrap().len(),
        kept.as_array().unwrap().len()
    );
    idp.set_mode(serde_json::json!({"tokenStatus": 0}));
    let healed = ok(&run(&["token", &account], None), "after the outage");
    assert_eq!(idp.check_token(&healed), 200);
    // Revocation.
    let o = run(&["logout", &account], None);
    assert!(
        stderr_of(&o).contains("Signed out at the provider"),
        "{id}: {}",
        stderr_of(&o)
    );
    assert_ne!(idp.check_token(&healed), 200, "{id}: the token was revoked");
}

#[test]
fn the_scenario_works_against_oidc_provider() {
    scenario(oidc_provider());
}

#[test]
fn the_scenario_works_against_django_oauth_toolkit() {
    scenario(django());
}

/// A scope the server does not know is refused with words that name it and the way out.
#[test]
fn a_refused_scope_names_the_scopes_and_the_fix() {
    let s = django();
    let home = TestHome::new();
    let run = |args: &[&str]| run_against(&home, &s.idp, args, None, &[]);
    provider_add(&home, &s.idp, "dot", &[]);
    let o = run(&["login", "dot", "--scope", "email"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr_of(&o));
    let e = stderr_of(&o);
    assert!(
        e.contains("refused the scopes") && e.contains("email"),
        "{e}"
    );
    assert!(e.contains("It lists: openid profile api"), "{e}");
    assert!(e.contains("--scope"), "{e}");
    assert!(home.index()["accounts"]
        .as_array()
        .is_none_or(|a| a.is_empty()));
}

/// A server whose RFC 8414 and OpenID documents each lack something: both are read.
#[test]
fn split_discovery_documents_are_merged() {
    let idp = Idp::start_with(IdpConfig {
        discovery: Some("split"),
        ..Default::default()
    });
    let home = TestHome::new();
    provider_add(&home, &idp, "corp", &[]);
    let p = home.index()["providers"][0].clone();
    assert_eq!(p["revocation_url"], format!("{}/oauth2/revoke", idp.issuer));
    assert_eq!(p["userinfo_url"], format!("{}/me", idp.issuer));
}

/// No userinfo: the identity comes from the ID token, and a second sign-in finds the same
/// account by its subject.
#[test]
fn without_userinfo_the_id_token_names_the_person() {
    let idp = Idp::start_with(IdpConfig {
        discovery: Some("no-userinfo"),
        scopes: Some(vec!["openid", "offline_access", "api"]),
        ..Default::default()
    });
    let home = TestHome::new();
    let run = |args: &[&str]| run_against(&home, &idp, args, None, &[]);
    provider_add(&home, &idp, "corp", &[]);
    let p = home.index()["providers"][0].clone();
    assert!(p["userinfo_url"].is_null(), "{p}");
    assert_eq!(
        p["default_scopes"],
        serde_json::json!(["openid", "offline_access"])
    );
    let o = run(&["login", "corp"]);
    let account = ok(&o, "login");
    assert!(stderr_of(&o).contains("as alice"), "{}", stderr_of(&o));
    assert_eq!(
        ok(&run(&["login", "corp"]), "again"),
        account,
        "same person, same account"
    );
    assert_eq!(home.index()["accounts"].as_array().unwrap().len(), 1);
}

/// S16: a 403 that says `invalid_token` is an expired token: one refresh and retry.
#[test]
fn a_403_invalid_token_refreshes_once_s16() {
    let idp = Idp::start_with(IdpConfig {
        access_ttl: 2,
        ..Default::default()
    });
    let home = TestHome::new();
    let acc = accounts_in(&home);
    add_provider(
        &acc,
        idp_provider(
            &idp,
            "idp",
            "latchkey-public",
            latchkey::provider::ClientAuth::None,
        ),
    );
    let start = rt()
        .block_on(acc.begin_login(
            "idp",
            latchkey::accounts::LoginOptions {
                redirect: Some(latchkey::provider::RedirectKind::Scheme),
                scopes: vec!["openid".into(), "offline_access".into()],
                ..Default::default()
            },
        ))
        .unwrap();
    let view = rt()
        .block_on(acc.complete_login(&idp.approve(start.authorize_url.expose())))
        .unwrap();
    // The server has let the token expire; this computer's clock (or the server's early
    // revocation) says it still has an hour.
    std::thread::sleep(Duration::from_secs(3));
    let mut rec = acc.vault().read_record(&view.id).unwrap().unwrap();
    rec.expires_at = Some(latchkey::clock::now() + 3600);
    acc.vault().write_record(&view.id, &rec).unwrap();
    let r = rt()
        .block_on(acc.api_call(
            &view.id,
            "GET",
            &format!("{}/api/strict403", idp.issuer),
            &[],
            None,
        ))
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.retried_after_refresh);
}

/// `--min-valid` means what it says: with the provider down and the stored token valid for
/// less, nothing is printed and the exit code is 4; a smaller `--min-valid` still gets it.
#[test]
fn min_valid_is_honoured_when_the_provider_is_down() {
    let idp = Idp::start_with(IdpConfig {
        access_ttl: 60,
        ..Default::default()
    });
    let home = TestHome::new();
    let account = cli_login(&home, &idp);
    // Past the 5 s in which a just-issued short-lived token counts as fresh.
    std::thread::sleep(Duration::from_secs(6));
    idp.set_mode(serde_json::json!({"tokenStatus": 503}));
    let o = run_against(
        &home,
        &idp,
        &["token", &account, "--min-valid", "120"],
        None,
        &[],
    );
    assert_eq!(o.status.code(), Some(4), "{}", stderr_of(&o));
    assert!(out(&o).is_empty(), "nothing printed");
    let e = stderr_of(&o);
    assert!(
        e.contains("valid for only") && e.contains("--min-valid"),
        "{e}"
    );
    let o = run_against(
        &home,
        &idp,
        &["token", &account, "--min-valid", "30"],
        None,
        &[],
    );
    let t = ok(&o, "a smaller --min-valid");
    assert_eq!(idp.check_token(&t), 200);
}
