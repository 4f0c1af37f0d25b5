//! Issue 26, `private_key_jwt` client authentication (RFC 7523 §2.2) against oidc-provider:
//! a machine client whose key Latchkey makes and keeps in the credential store, registered by
//! hand with the public key it prints, renewed after expiry and revoked; a confidential
//! client registered dynamically with `jwks`, through sign-in, a pushed request, refresh
//! and revocation; and the errors a person meets on the way (S38).

use latchkey_e2e::*;
use serde_json::{json, Value};
use std::process::{Command, Output};

fn out(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

fn ok(o: Output, what: &str) -> Output {
    assert!(o.status.success(), "{what}: {}", stderr_of(&o));
    o
}

/// Registers a machine client at the IdP with the public keys in `jwks`, as an administrator
/// would with what Latchkey printed.
fn register_machine_client(idp: &Idp, client_id: &str, jwks: &Value) {
    register_client(
        idp,
        client_id,
        jwks,
        json!({
            "grant_types": ["client_credentials"],
            "response_types": [],
            "redirect_uris": [],
        }),
    );
}

/// Registers a `private_key_jwt` client with `jwks` and the grant metadata in `grants`.
fn register_client(idp: &Idp, client_id: &str, jwks: &Value, grants: Value) {
    let mut meta = json!({
        "client_id": client_id,
        "token_endpoint_auth_method": "private_key_jwt",
        "token_endpoint_auth_signing_alg": "ES256",
        "jwks": jwks,
    });
    meta.as_object_mut()
        .unwrap()
        .extend(grants.as_object().unwrap().clone());
    let r = reqwest::blocking::Client::new()
        .post(format!("{}/__test/client", idp.issuer))
        .json(&meta)
        .send()
        .expect("register client");
    assert!(r.status().is_success());
}

/// `latchkey provider add ID --issuer <idp>`, which must succeed.
fn add_provider_by_issuer(home: &TestHome, idp: &Idp, id: &str) {
    ok(
        run_against(
            home,
            idp,
            &["provider", "add", id, "--issuer", &idp.issuer],
            None,
            &[],
        ),
        "provider add",
    );
}

fn assertions_at(idp: &Idp, path: &str) -> u64 {
    idp.stats()["client_assertions"][path].as_u64().unwrap_or(0)
}

/// What the credential store holds for a client, read the way Latchkey reads it; `None` also
/// checks that the Secret Service itself (secret-tool) has no such item.
fn stored_client_key(home: &TestHome, provider: &str, client_id: &str) -> Option<String> {
    let slot = format!("client-secret:{provider}:{client_id}");
    let held = accounts_in(home).vault().get_secret(&slot).unwrap();
    assert_eq!(
        held.is_some(),
        secret_tool_lookup(&slot).is_some(),
        "the keyring item is the store Latchkey reads"
    );
    held.map(|s| s.expose().to_string())
}

#[test]
fn a_machine_account_authenticates_with_its_own_key_renews_and_revokes_s38() {
    let idp = Idp::start_with(IdpConfig {
        access_ttl: 3,
        ..Default::default()
    });
    let home = TestHome::new();
    let api = format!("{}/api", idp.issuer);
    for (provider, client, audience) in [
        ("pkj", "pkj-machine", "issuer"),
        ("pkt", "pkt-machine", "token-endpoint"),
    ] {
        let jwks_file = home.path().join(format!("{provider}-jwks.json"));
        let o = ok(
            run_against(
                &home,
                &idp,
                &[
                    "provider",
                    "add",
                    provider,
                    "--issuer",
                    &idp.issuer,
                    "--api-base",
                    &api,
                    "--client-id",
                    client,
                    "--private-key-jwt",
                    "--assertion-audience",
                    audience,
                    "--jwks-file",
                    jwks_file.to_str().unwrap(),
                ],
                None,
                &[],
            ),
            "provider add --private-key-jwt",
        );
        // The public JWK on stdout, the same key in the JWKS file, no private part anywhere.
        let jwk: Value = serde_json::from_str(&out(&o)).expect("a JWK on stdout");
        let jwks: Value = serde_json::from_slice(&std::fs::read(&jwks_file).unwrap()).unwrap();
        assert_eq!(jwks["keys"][0], jwk);
        assert_eq!(
            (jwk["kty"].as_str(), jwk["alg"].as_str()),
            (Some("EC"), Some("ES256"))
        );
        assert!(jwk.get("d").is_none(), "{jwk}");
        assert!(
            stderr_of(&o).contains("Register this public key"),
            "{}",
            stderr_of(&o)
        );
        let stored = stored_client_key(&home, provider, client).expect("the key is in the keyring");
        assert!(stored.starts_with("latchkey-client-key:ES256:"));
        let pkcs8 = stored.rsplit(':').next().unwrap().trim().to_string();
        register_machine_client(&idp, client, &jwks);

        let before = assertions_at(&idp, "/oauth2/token");
        let o = ok(
            run_against(
                &home,
                &idp,
                &[
                    "login",
                    provider,
                    "--client-credentials",
                    "--client-id",
                    client,
                    "--private-key-jwt",
                ],
                None,
                &[],
            ),
            "machine login with the key",
        );
        let id = out(&o);
        assert_eq!(assertions_at(&idp, "/oauth2/token"), before + 1);
        let first = out(&ok(home.run(&["token", &id], None), "token"));
        assert_eq!(idp.check_token(&first), 200);

        // Renewed after expiry, with a new assertion (the server refuses a reused jti).
        std::thread::sleep(std::time::Duration::from_secs(4));
        let renewed = out(&ok(
            run_against(&home, &idp, &["token", &id], None, &[]),
            "token after expiry",
        ));
        assert_ne!(renewed, first);
        assert_eq!(idp.check_token(&renewed), 200);
        assert_eq!(assertions_at(&idp, "/oauth2/token"), before + 2);
        assert!(
            !idp.stats()["grant_errors"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e == "invalid_client"),
            "{}",
            idp.stats()
        );

        // The private key is in no file under the home folder.
        let mut grep = Command::new("grep");
        grep.args(["-rqF", &pkcs8]).arg(home.path());
        assert!(
            !grep.status().unwrap().success(),
            "the key is only in the keyring"
        );

        // Logout revokes with an assertion and takes the key with the last account.
        let revoked = assertions_at(&idp, "/oauth2/revoke");
        ok(
            run_against(&home, &idp, &["logout", &id], None, &[]),
            "logout",
        );
        assert!(assertions_at(&idp, "/oauth2/revoke") > revoked);
        assert_eq!(idp.check_token(&renewed), 401, "revoked at the server");
        // The provider's own client keeps its key (other machine accounts may come).
        assert!(stored_client_key(&home, provider, client).is_some());
        ok(
            home.run(&["provider", "remove", provider], None),
            "provider remove",
        );
        assert_eq!(
            stored_client_key(&home, provider, client),
            None,
            "the key goes with the client"
        );
    }
}

#[test]
fn a_new_machine_key_is_shown_first_and_an_unregistered_key_is_explained_s38() {
    let idp = Idp::start();
    let home = TestHome::new();
    add_provider_by_issuer(&home, &idp, "pku");
    let login = [
        "login",
        "pku",
        "--client-credentials",
        "--client-id",
        "pku-never-registered",
        "--private-key-jwt",
    ];
    // The first run makes the key, shows it and stops: the server can't know it yet.
    let o = ok(run_against(&home, &idp, &login, None, &[]), "first run");
    let jwk: Value = serde_json::from_str(&out(&o)).expect("a JWK");
    assert!(jwk["x"].is_string() && jwk.get("d").is_none());
    assert!(
        stderr_of(&o).contains("run this command again"),
        "{}",
        stderr_of(&o)
    );
    assert_eq!(home.index()["accounts"].as_array().map_or(0, Vec::len), 0);
    // Run again without registering the key: the server's refusal names what to check.
    let o = run_against(&home, &idp, &login, None, &[]);
    assert!(!o.status.success());
    let e = stderr_of(&o);
    assert!(e.contains("invalid_client"), "{e}");
    assert!(e.contains("registered public key"), "{e}");
    assert!(e.contains("--assertion-audience token-endpoint"), "{e}");
    assert!(canary_hits(home.path()).is_empty());
    // A typed secret can't pass for a key.
    let o = run_against(
        &home,
        &idp,
        &[
            "login",
            "pku",
            "--client-credentials",
            "--client-id",
            "latchkey-machine",
        ],
        Some("latchkey-client-key:ES256:AAAA"),
        &[],
    );
    assert!(!o.status.success());
    assert!(
        stderr_of(&o).contains("--private-key-jwt"),
        "{}",
        stderr_of(&o)
    );
}

#[test]
fn registration_sends_the_public_key_and_every_request_proves_it_s38() {
    // A server that takes no public clients: Latchkey registers with a key rather than take
    // a secret, and pushes its sign-in request with an assertion too.
    let idp = Idp::start_with(IdpConfig {
        auth_methods: Some(vec!["private_key_jwt", "client_secret_basic"]),
        par: Some(false),
        rotate: true,
        ..Default::default()
    });
    let home = TestHome::new();
    let api = format!("{}/api", idp.issuer);
    ok(
        run_against(
            &home,
            &idp,
            &[
                "provider",
                "add",
                "pkr",
                "--issuer",
                &idp.issuer,
                "--api-base",
                &api,
            ],
            None,
            &[],
        ),
        "provider add",
    );
    let o = ok(
        run_against(&home, &idp, &["login", "pkr"], None, &[]),
        "login",
    );
    let id = out(&o);
    let stats = idp.stats();
    assert_eq!(stats["registrations"], 1);
    assert_eq!(stats["client_assertions"]["/request"], 1, "{stats}");
    assert_eq!(stats["client_assertions"]["/oauth2/token"], 1, "{stats}");
    let reg = &home.index()["registrations"]["pkr"];
    assert_eq!(reg["auth"], "private_key_jwt", "{reg}");
    let stored = stored_client_key(&home, "pkr", reg["client_id"].as_str().unwrap())
        .expect("the registration's key is in the keyring");
    assert!(stored.starts_with("latchkey-client-key:ES256:"));

    let first = out(&ok(home.run(&["token", &id], None), "token"));
    assert_eq!(idp.check_token(&first), 200);
    ok(
        run_against(&home, &idp, &["refresh", &id], None, &[]),
        "refresh",
    );
    let second = out(&ok(home.run(&["token", &id], None), "token"));
    assert_ne!(first, second);
    assert_eq!(idp.check_token(&second), 200);
    assert_eq!(idp.stats()["client_assertions"]["/oauth2/token"], 2);
    assert_eq!(idp.stats()["invalid_grant"], 0);

    ok(
        run_against(&home, &idp, &["logout", &id], None, &[]),
        "logout",
    );
    assert!(assertions_at(&idp, "/oauth2/revoke") >= 1);
    assert_eq!(idp.check_token(&second), 401);
    assert!(canary_hits(home.path()).is_empty());
}

/// Item 5: client credentials for an API address, the client proving itself with its key: the
/// first run shows the key, and once it is registered the token is for that API alone.
#[test]
fn a_machine_client_with_a_key_connects_an_api_by_its_address_s38() {
    let idp = Idp::start();
    let home = TestHome::new();
    let mcp = format!("{}/mcp", idp.issuer);
    let login = [
        "login",
        "--resource",
        &mcp,
        // The harness points the Taskade preset at this server, so Latchkey asks first.
        "--yes",
        "--client-credentials",
        "--client-id",
        "pk-mcp-bot",
        "--private-key-jwt",
    ];
    let o = ok(run_against(&home, &idp, &login, None, &[]), "first run");
    let jwk: Value = serde_json::from_str(&out(&o)).expect("a JWK");
    register_machine_client(&idp, "pk-mcp-bot", &json!({ "keys": [jwk] }));
    let id = out(&ok(
        run_against(&home, &idp, &login, None, &[]),
        "second run",
    ));
    let token = out(&ok(home.run(&["token", &id], None), "token"));
    let call = |url: &str| {
        reqwest::blocking::Client::new()
            .get(url)
            .bearer_auth(&token)
            .send()
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(call(&mcp), 200);
    assert_eq!(
        call(&format!("{}/mcp2", idp.issuer)),
        401,
        "bound to the one API"
    );
    assert!(assertions_at(&idp, "/oauth2/token") >= 1);
}

/// A person's sign-in with one's own confidential client that has a key: the first run shows
/// the key; once an administrator registers it, sign-in and refresh prove it.
#[test]
fn a_persons_sign_in_with_an_own_client_and_its_key_s38() {
    let idp = Idp::start();
    let home = TestHome::new();
    add_provider_by_issuer(&home, &idp, "pkp");
    let login = [
        "login",
        "pkp",
        "--client-id",
        "pk-person-app",
        "--private-key-jwt",
    ];
    let o = ok(run_against(&home, &idp, &login, None, &[]), "first run");
    assert!(stderr_of(&o).contains("run this command again to sign in"));
    let jwk: Value = serde_json::from_str(&out(&o)).expect("a JWK");
    register_client(
        &idp,
        "pk-person-app",
        &json!({ "keys": [jwk] }),
        json!({
            "application_type": "native",
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "redirect_uris": ["http://127.0.0.1/callback"],
        }),
    );
    let id = out(&ok(run_against(&home, &idp, &login, None, &[]), "sign-in"));
    assert_eq!(assertions_at(&idp, "/oauth2/token"), 1);
    ok(
        run_against(&home, &idp, &["refresh", &id], None, &[]),
        "refresh",
    );
    assert_eq!(assertions_at(&idp, "/oauth2/token"), 2);
    assert_eq!(idp.stats()["invalid_grant"], 0);
}
