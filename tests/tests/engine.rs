//! The OAuth engine against the real `oidc-provider` and the real Secret Service.
//! Security tests carry their SECURITY.md ID in the name.

use latchkey::accounts::{Accounts, LoginOptions};
use latchkey::provider::{ClientAuth, RedirectKind};
use latchkey_e2e::*;

fn setup(idp: &Idp, client: &str, auth: ClientAuth) -> (TestHome, Accounts) {
    let home = TestHome::new();
    let acc = accounts_in(&home);
    add_provider(&acc, idp_provider(idp, "idp", client, auth));
    (home, acc)
}

fn scheme_login(acc: &Accounts, idp: &Idp) -> String {
    scheme_login_at(acc, idp, "idp")
}

/// Starts a scheme-redirect sign-in at `provider` and approves it; returns the answer link.
fn scheme_login_at(acc: &Accounts, idp: &Idp, provider: &str) -> String {
    let start = rt()
        .block_on(acc.begin_login(
            provider,
            LoginOptions {
                redirect: Some(RedirectKind::Scheme),
                ..Default::default()
            },
        ))
        .unwrap();
    idp.approve(start.authorize_url.expose())
}

fn token_requests(idp: &Idp) -> u64 {
    idp.stats()["token_requests"].as_u64().unwrap()
}

#[test]
fn pkce_sign_in_through_the_custom_scheme_stores_a_working_token() {
    let idp = Idp::start();
    let (home, acc) = setup(&idp, "latchkey-public", ClientAuth::None);
    let redirect = scheme_login(&acc, &idp);
    assert!(
        redirect.starts_with("dev.latchkey:/oauth/callback?"),
        "{redirect}"
    );
    assert!(redirect.contains("iss="), "the IdP sends iss (RFC 9207)");
    let view = rt().block_on(acc.complete_login(&redirect)).unwrap();
    assert_eq!(view.identity.as_deref(), Some("alice"));
    let token = rt().block_on(acc.fresh_token(&view.id, 60)).unwrap();
    assert_eq!(idp.check_token(token.expose()), 200);
    let stored = secret_tool_lookup(&format!("account:{}", view.id))
        .expect("the record is in the Secret Service");
    assert!(stored.contains(token.expose()));
    let index = std::fs::read_to_string(home.path().join("accounts.json")).unwrap();
    assert!(
        !index.contains(token.expose()),
        "S18: the index holds no token"
    );
}

#[test]
fn confidential_clients_authenticate_with_basic_and_post_s2() {
    let idp = Idp::start();
    for (client, secret, auth) in [
        (
            "latchkey-basic",
            "basic-secret-value",
            ClientAuth::ClientSecretBasic,
        ),
        (
            "latchkey-post",
            "post-secret-value",
            ClientAuth::ClientSecretPost,
        ),
    ] {
        let (home, acc) = setup(&idp, client, auth);
        acc.vault()
            .put_secret(
                &latchkey::vault::client_secret_key("idp", client),
                &latchkey::secret::Secret::new(secret),
            )
            .unwrap();
        let view = rt()
            .block_on(acc.complete_login(&scheme_login(&acc, &idp)))
            .unwrap_or_else(|e| panic!("{client}: {e}"));
        assert_eq!(view.identity.as_deref(), Some("alice"));
        let index = std::fs::read_to_string(home.path().join("accounts.json")).unwrap();
        assert!(
            !index.contains(secret),
            "S2: a user-entered client secret is never in the index"
        );
        assert!(secret_tool_lookup(&format!("client-secret:idp:{client}"))
            .is_some_and(|s| s.contains(secret)));
        acc.vault()
            .delete_secret(&latchkey::vault::client_secret_key("idp", client))
            .unwrap();
    }
}

#[test]
fn reused_callback_completes_once_and_code_is_exchanged_once_s8_s12() {
    let idp = Idp::start();
    let (_home, acc) = setup(&idp, "latchkey-public", ClientAuth::None);
    let redirect = scheme_login(&acc, &idp);
    rt().block_on(acc.complete_login(&redirect)).unwrap();
    assert_eq!(token_requests(&idp), 1);
    let again = rt().block_on(acc.complete_login(&redirect)).unwrap_err();
    assert_eq!(again.code, "unknown_state");
    assert_eq!(token_requests(&idp), 1, "S12: the code is never sent twice");
    assert_eq!(acc.list().unwrap().len(), 1);
}

#[test]
fn forged_links_change_nothing_and_make_no_token_request_s8() {
    let idp = Idp::start();
    let (home, acc) = setup(&idp, "latchkey-public", ClientAuth::None);
    let real = scheme_login(&acc, &idp);
    let before = std::fs::read(home.path().join("accounts.json")).unwrap();
    let forged = [
        "dev.latchkey:/oauth/callback?code=forged&state=unknownstate".to_string(),
        format!(
            "dev.latchkey:/oauth/callback?code=forged&state=x&iss={}",
            idp.issuer
        ),
        "dev.latchkey:/oauth/callback?error=access_denied&state=unknown".to_string(),
        "dev.latchkey:/oauth/callback?code=c".to_string(),
        "dev.latchkey:/oauth/callback?code=%ZZ&state=%%".to_string(),
    ];
    for f in &forged {
        assert!(rt().block_on(acc.complete_login(f)).is_err(), "{f}");
    }
    assert_eq!(
        token_requests(&idp),
        0,
        "S8: no token request for a forged link"
    );
    assert_eq!(
        std::fs::read(home.path().join("accounts.json")).unwrap(),
        before,
        "S8: no change to stored data"
    );
    // S9: the error callback with an unknown state cancelled nothing; the real one completes.
    rt().block_on(acc.complete_login(&real)).unwrap();
    assert_eq!(token_requests(&idp), 1);
}

#[test]
fn expired_transaction_is_refused_without_a_token_request_s7() {
    let idp = Idp::start();
    let (_home, acc) = setup(&idp, "latchkey-public", ClientAuth::None);
    let redirect = scheme_login(&acc, &idp);
    // Age the stored transaction past its 10 minutes.
    let state = url::Url::parse(&redirect)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned();
    let key = latchkey::vault::pending_key(&latchkey::oauth::handle_for_state(&state));
    let raw = acc.vault().get_secret(&key).unwrap().unwrap();
    let mut tx: serde_json::Value = serde_json::from_str(raw.expose()).unwrap();
    tx["expires"] = serde_json::json!(latchkey::clock::now() - 1);
    acc.vault()
        .put_secret(&key, &latchkey::secret::Secret::new(tx.to_string()))
        .unwrap();
    let e = rt().block_on(acc.complete_login(&redirect)).unwrap_err();
    assert_eq!(e.code, "login_expired");
    assert_eq!(token_requests(&idp), 0);
    assert!(
        acc.vault().get_secret(&key).unwrap().is_none(),
        "an expired transaction is used up too"
    );
}

#[test]
fn wrong_iss_is_rejected_s10() {
    let idp = Idp::start();
    let (_home, acc) = setup(&idp, "latchkey-public", ClientAuth::None);
    let redirect = scheme_login(&acc, &idp);
    let forged = redirect.replace(
        &format!("iss={}", urlencode(&idp.issuer)),
        &format!("iss={}", urlencode("https://evil.example")),
    );
    assert_ne!(forged, redirect);
    let e = rt().block_on(acc.complete_login(&forged)).unwrap_err();
    assert_eq!(e.code, "issuer_mismatch");
    assert_eq!(token_requests(&idp), 0);
}

#[test]
fn missing_iss_is_rejected_when_the_provider_promises_it_s10() {
    let idp = Idp::start();
    let (_home, acc) = setup(&idp, "latchkey-public", ClientAuth::None);
    let redirect = scheme_login(&acc, &idp);
    let stripped = redirect
        .replace(&format!("&iss={}", urlencode(&idp.issuer)), "")
        .replace(&format!("iss={}&", urlencode(&idp.issuer)), "");
    assert!(!stripped.contains("iss="), "{stripped}");
    assert_eq!(
        rt().block_on(acc.complete_login(&stripped))
            .unwrap_err()
            .code,
        "issuer_mismatch"
    );
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[test]
fn callback_on_another_redirect_is_rejected_s5() {
    let idp = Idp::start();
    let (_home, acc) = setup(&idp, "latchkey-public", ClientAuth::None);
    let redirect = scheme_login(&acc, &idp);
    let moved = redirect.replace(
        "dev.latchkey:/oauth/callback",
        "http://127.0.0.1:9/callback",
    );
    assert_eq!(
        rt().block_on(acc.complete_login(&moved)).unwrap_err().code,
        "redirect_mismatch"
    );
    assert_eq!(token_requests(&idp), 0);
}

#[test]
fn denied_consent_reads_as_a_cancellation_s9() {
    let idp = Idp::start();
    idp.set_mode(serde_json::json!({"deny": true}));
    let (_home, acc) = setup(&idp, "latchkey-public", ClientAuth::None);
    let redirect = scheme_login(&acc, &idp);
    assert!(redirect.contains("error=access_denied"), "{redirect}");
    let e = rt().block_on(acc.complete_login(&redirect)).unwrap_err();
    assert_eq!(e.code, "access_denied");
    assert!(
        e.message.contains("You cancelled the sign-in at Test IdP"),
        "{}",
        e.message
    );
    assert_eq!(token_requests(&idp), 0);
}

#[test]
fn a_wrong_verifier_is_refused_by_the_idp_s6() {
    let idp = Idp::start();
    let (_home, acc) = setup(&idp, "latchkey-public", ClientAuth::None);
    let redirect = scheme_login(&acc, &idp);
    let state = url::Url::parse(&redirect)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned();
    let key = latchkey::vault::pending_key(&latchkey::oauth::handle_for_state(&state));
    let raw = acc.vault().get_secret(&key).unwrap().unwrap();
    let mut tx: serde_json::Value = serde_json::from_str(raw.expose()).unwrap();
    tx["verifier"] = serde_json::json!("A".repeat(43));
    acc.vault()
        .put_secret(&key, &latchkey::secret::Secret::new(tx.to_string()))
        .unwrap();
    let e = rt().block_on(acc.complete_login(&redirect)).unwrap_err();
    assert_eq!(e.code, "invalid_grant");
    assert!(acc.list().unwrap().is_empty());
}

#[test]
fn refresh_with_rotation_saves_the_new_token_and_the_old_one_dies_s14() {
    let idp = Idp::start_with(IdpConfig {
        access_ttl: 2,
        rotate: true,
        ..Default::default()
    });
    let (_home, acc) = setup(&idp, "latchkey-public", ClientAuth::None);
    let view = rt()
        .block_on(acc.complete_login(&scheme_login(&acc, &idp)))
        .unwrap();
    let before = acc.vault().read_record(&view.id).unwrap().unwrap();
    // Once expired (a just-issued short-lived token counts as fresh for a few seconds).
    std::thread::sleep(std::time::Duration::from_millis(2500));
    let fresh = rt().block_on(acc.fresh_token(&view.id, 60)).unwrap();
    assert_ne!(
        fresh.expose(),
        before.access_token.expose(),
        "an expired 2 s token is refreshed for --min-valid 60"
    );
    let after = acc.vault().read_record(&view.id).unwrap().unwrap();
    assert_eq!(
        after.access_token.expose(),
        fresh.expose(),
        "saved before it was handed out"
    );
    assert_ne!(after.refresh_token, before.refresh_token, "rotated");
    assert_eq!(idp.check_token(fresh.expose()), 200);
    // The old refresh token is now dead at the IdP.
    let p = acc.provider("idp").unwrap();
    let client = latchkey::oauth::ClientConfig {
        id: "latchkey-public".into(),
        secret: None,
        auth: ClientAuth::None,
    };
    let http = latchkey::oauth::http::Http::new().unwrap();
    let old = rt().block_on(latchkey::oauth::refresh(
        &http,
        &p,
        &client,
        &before,
        latchkey::clock::now(),
    ));
    assert!(
        matches!(old, latchkey::oauth::RefreshOutcome::NeedsSignIn(_)),
        "{old:?}"
    );
}

#[test]
fn refresh_without_a_new_refresh_token_keeps_the_old_one_s14() {
    let idp = Idp::start_with(IdpConfig {
        access_ttl: 2,
        rotate: false,
        ..Default::default()
    });
    let (_home, acc) = setup(&idp, "latchkey-public", ClientAuth::None);
    let view = rt()
        .block_on(acc.complete_login(&scheme_login(&acc, &idp)))
        .unwrap();
    let before = acc.vault().read_record(&view.id).unwrap().unwrap();
    rt().block_on(acc.refresh_now(&view.id)).unwrap();
    let after = acc.vault().read_record(&view.id).unwrap().unwrap();
    assert_ne!(after.access_token, before.access_token);
    assert_eq!(after.refresh_token, before.refresh_token);
    assert!(after.refresh_token.is_some());
}

#[test]
fn invalid_grant_marks_needs_sign_in_and_stops_s15() {
    let idp = Idp::start_with(IdpConfig {
        access_ttl: 2,
        ..Default::default()
    });
    let (_home, acc) = setup(&idp, "latchkey-public", ClientAuth::None);
    // Sign in, then kill the grant at the IdP behind Latchkey's back.
    let view = rt()
        .block_on(acc.complete_login(&scheme_login(&acc, &idp)))
        .unwrap();
    let rec = acc.vault().read_record(&view.id).unwrap().unwrap();
    let http = reqwest::blocking::Client::new();
    http.post(format!("{}/oauth2/revoke", idp.issuer))
        .form(&[
            ("token", rec.refresh_token.as_ref().unwrap().expose()),
            ("client_id", "latchkey-public"),
        ])
        .send()
        .unwrap();
    let e = rt().block_on(acc.refresh_now(&view.id)).unwrap_err();
    assert_eq!(e.code, "needs_sign_in");
    assert_eq!(e.class as i32, 2);
    assert_eq!(acc.list().unwrap()[0].status, "needs_sign_in");
    let requests = token_requests(&idp);
    let e = rt().block_on(acc.fresh_token(&view.id, 60)).unwrap_err();
    assert_eq!(e.code, "needs_sign_in");
    assert_eq!(
        token_requests(&idp),
        requests,
        "no retry once the grant is dead"
    );
}

#[test]
fn idp_down_is_transient_and_keeps_the_tokens_s15() {
    let idp = Idp::start();
    let (_home, acc) = setup(&idp, "latchkey-public", ClientAuth::None);
    let view = rt()
        .block_on(acc.complete_login(&scheme_login(&acc, &idp)))
        .unwrap();
    let before = acc.vault().read_record(&view.id).unwrap().unwrap();
    idp.set_mode(serde_json::json!({"tokenStatus": 503}));
    let t = rt().block_on(acc.refresh_now(&view.id)).unwrap();
    assert_eq!(
        t, before.access_token,
        "the still-valid token is handed out"
    );
    assert_eq!(acc.list().unwrap()[0].status, "offline");
    drop(idp);
    let _ = rt().block_on(acc.refresh_now(&view.id));
    assert_eq!(
        acc.vault().read_record(&view.id).unwrap().unwrap(),
        before,
        "tokens kept"
    );
    assert_eq!(acc.list().unwrap()[0].status, "offline");
}

#[test]
fn removal_revokes_then_wipes_and_says_so_s17() {
    let idp = Idp::start();
    let (_home, acc) = setup(&idp, "latchkey-public", ClientAuth::None);
    let view = rt()
        .block_on(acc.complete_login(&scheme_login(&acc, &idp)))
        .unwrap();
    let rec = acc.vault().read_record(&view.id).unwrap().unwrap();
    assert!(idp.introspect_active(rec.access_token.expose(), "latchkey-public"));
    let report = rt().block_on(acc.remove(&view.id)).unwrap();
    assert_eq!(report.revocation, latchkey::oauth::Revocation::Revoked);
    assert!(report.wiped);
    assert!(report.summary.contains("Signed out at the provider"));
    assert!(!idp.introspect_active(rec.access_token.expose(), "latchkey-public"));
    assert!(!idp.introspect_active(
        rec.refresh_token.as_ref().unwrap().expose(),
        "latchkey-public"
    ));
    assert_eq!(secret_tool_lookup(&format!("account:{}", view.id)), None);
    assert!(acc.list().unwrap().is_empty());
}

#[test]
fn removal_wipes_locally_even_when_revocation_fails_s17() {
    let idp = Idp::start();
    let (_home, acc) = setup(&idp, "latchkey-public", ClientAuth::None);
    let view = rt()
        .block_on(acc.complete_login(&scheme_login(&acc, &idp)))
        .unwrap();
    drop(idp);
    let report = rt().block_on(acc.remove(&view.id)).unwrap();
    assert!(matches!(
        report.revocation,
        latchkey::oauth::Revocation::Failed(_)
    ));
    assert!(report.wiped);
    assert!(report.summary.contains("revoking at the provider failed"));
    assert_eq!(secret_tool_lookup(&format!("account:{}", view.id)), None);
}

#[test]
fn client_credentials_account_gets_a_working_token() {
    let idp = Idp::start_with(IdpConfig {
        access_ttl: 2,
        ..Default::default()
    });
    let (_home, acc) = setup(&idp, "latchkey-public", ClientAuth::None);
    let view = rt()
        .block_on(acc.add_client_credentials(
            "idp",
            "latchkey-machine",
            Some(latchkey::secret::Secret::new("machine-secret-value")),
            vec![],
            None,
        ))
        .unwrap();
    let first = acc.vault().read_record(&view.id).unwrap().unwrap();
    assert_eq!(idp.check_token(first.access_token.expose()), 200);
    std::thread::sleep(std::time::Duration::from_millis(2500));
    let next = rt().block_on(acc.fresh_token(&view.id, 60)).unwrap();
    assert_ne!(
        next, first.access_token,
        "a new token is fetched instead of a refresh"
    );
    assert_eq!(idp.check_token(next.expose()), 200);
    // The machine's secret belongs to its client only: the provider's public client still
    // signs in without a secret, which the IdP would refuse.
    let signed_in = rt().block_on(acc.complete_login(&scheme_login(&acc, &idp)));
    assert!(signed_in.is_ok(), "{:?}", signed_in.err());
    // Removing the machine account takes its client secret with it.
    let key = latchkey::vault::client_secret_key("idp", "latchkey-machine");
    assert!(acc.vault().get_secret(&key).unwrap().is_some());
    rt().block_on(acc.remove(&view.id)).unwrap();
    assert!(acc.vault().get_secret(&key).unwrap().is_none());
}

#[test]
fn both_discovery_documents_are_read() {
    let idp = Idp::start();
    let http = latchkey::oauth::http::Http::new().unwrap();
    let m = rt()
        .block_on(latchkey::oauth::discover(&http, &idp.issuer))
        .unwrap();
    assert_eq!(
        m.token_endpoint.as_deref(),
        Some(format!("{}/oauth2/token", idp.issuer).as_str())
    );
    assert!(m.authorization_response_iss_parameter_supported);
    for u in latchkey::provider::discovery_urls(&idp.issuer) {
        let r = reqwest::blocking::get(&u).unwrap();
        assert!(r.status().is_success(), "{u}");
        latchkey::provider::parse_metadata(&idp.issuer, &r.bytes().unwrap()).unwrap();
    }
}

#[test]
fn api_calls_stay_on_the_provider_and_retry_once_after_401_s11_s16() {
    let idp = Idp::start_with(IdpConfig {
        access_ttl: 3600,
        ..Default::default()
    });
    let (_home, acc) = setup(&idp, "latchkey-public", ClientAuth::None);
    let view = rt()
        .block_on(acc.complete_login(&scheme_login(&acc, &idp)))
        .unwrap();
    let ok = rt()
        .block_on(acc.api_call(&view.id, "GET", "protected", &[], None))
        .unwrap();
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert!(!ok.retried_after_refresh);
    let foreign = rt()
        .block_on(acc.api_call(
            &view.id,
            "GET",
            "https://evil.example/api/protected",
            &[],
            None,
        ))
        .unwrap_err();
    assert_eq!(foreign.code, "foreign_host");
    let token_path = rt()
        .block_on(acc.api_call(
            &view.id,
            "GET",
            &format!("{}/oauth2/token", idp.issuer),
            &[],
            None,
        ))
        .unwrap_err();
    assert_eq!(token_path.code, "foreign_host");
    // Revoke only the access token: the API answers 401, one refresh, one retry, 200.
    let rec = acc.vault().read_record(&view.id).unwrap().unwrap();
    let before = token_requests(&idp);
    reqwest::blocking::Client::new()
        .post(format!("{}/oauth2/revoke", idp.issuer))
        .form(&[
            ("token", rec.access_token.expose()),
            ("client_id", "latchkey-public"),
            ("token_type_hint", "access_token"),
        ])
        .send()
        .unwrap();
    let r = rt().block_on(acc.api_call(&view.id, "GET", "protected", &[], None));
    // oidc-provider revokes the whole grant with the access token, so the retry's refresh
    // meets invalid_grant: exactly one refresh attempt, then a clear needs-sign-in.
    match r {
        Ok(resp) => assert!(resp.retried_after_refresh && resp.status == 200),
        Err(e) => assert_eq!(e.code, "needs_sign_in"),
    }
    assert_eq!(
        token_requests(&idp) - before,
        1,
        "S16: at most one refresh per 401"
    );
}

#[test]
fn insufficient_scope_never_triggers_a_refresh_s16() {
    let idp = Idp::start();
    let (_home, acc) = setup(&idp, "latchkey-public", ClientAuth::None);
    let view = rt()
        .block_on(acc.complete_login(&scheme_login(&acc, &idp)))
        .unwrap();
    let before = token_requests(&idp);
    for _ in 0..3 {
        // RFC 6750 §3.1: a 403 with insufficient_scope names the scope to ask for, with the
        // granted ones kept.
        let e = rt()
            .block_on(acc.api_call(&view.id, "GET", "scoped", &[], None))
            .unwrap_err();
        assert_eq!(e.code, "needs_more_access", "{e:?}");
        assert!(e.message.contains("it asks for: admin"), "{}", e.message);
        assert!(e.fix.contains("--scope admin"), "{}", e.fix);
        for granted in &view.scopes {
            assert!(e.fix.contains(&format!("--scope {granted}")), "{}", e.fix);
        }
    }
    assert_eq!(
        token_requests(&idp),
        before,
        "403 insufficient_scope never refreshes"
    );
}

/// Not a test of speed (machines are noisy): prints p50/p95 of callback-to-stored over 20
/// sign-ins for the notes. Run with `--ignored --nocapture`.
#[test]
#[ignore]
fn measure_sign_in_completion_latency() {
    let idp = Idp::start();
    let (_home, acc) = setup(&idp, "latchkey-public", ClientAuth::None);
    let mut ms = Vec::new();
    for _ in 0..20 {
        let redirect = scheme_login(&acc, &idp);
        let t = std::time::Instant::now();
        let v = rt().block_on(acc.complete_login(&redirect)).unwrap();
        ms.push(t.elapsed().as_secs_f64() * 1000.0);
        rt().block_on(acc.remove(&v.id)).unwrap();
    }
    ms.sort_by(f64::total_cmp);
    eprintln!(
        "sign-in completion (callback to account stored): p50 {:.1} ms, p95 {:.1} ms, n=20",
        ms[9], ms[18]
    );
}

/// RFC 8628 on the real IdP: the person approves on "another device" (a second HTTP client
/// with its own cookies) while Latchkey polls; then declining reads as a cancellation.
#[test]
fn device_flow_signs_in_with_a_code_on_another_device() {
    let idp = Idp::start();
    let home = TestHome::new();
    let acc = accounts_in(&home);
    let mut p = idp_provider(&idp, "idp", "latchkey-public", ClientAuth::None);
    p.device_url = Some(format!("{}/oauth2/device", idp.issuer));
    add_provider(&acc, p);

    let shown = std::sync::Mutex::new(None);
    let view = rt()
        .block_on(acc.device_login("idp", LoginOptions::default(), |start| {
            assert!(start.verification_uri.starts_with(&idp.issuer));
            assert!(!start.user_code.is_empty());
            let page = start.verification_uri_complete.clone().unwrap();
            let code = start.user_code.clone();
            *shown.lock().unwrap() = Some(std::thread::spawn(move || approve_device(&page, &code)));
        }))
        .unwrap();
    let page = shown.lock().unwrap().take().unwrap().join().unwrap();
    assert!(page.contains("Sign-in Success"), "{page}");
    assert_eq!(view.identity.as_deref(), Some("alice"));
    let token = rt().block_on(acc.fresh_token(&view.id, 60)).unwrap();
    assert_eq!(idp.check_token(token.expose()), 200);
    // The device grant came with a refresh token, so the account refreshes like any other.
    let again = rt().block_on(acc.refresh_now(&view.id)).unwrap();
    assert_ne!(again.expose(), token.expose());
    assert_eq!(idp.check_token(again.expose()), 200);

    idp.set_mode(serde_json::json!({"deny": true}));
    let before = home.index()["accounts"].as_array().unwrap().len();
    let e = rt()
        .block_on(acc.device_login("idp", LoginOptions::default(), |start| {
            let page = start.verification_uri.clone();
            let code = start.user_code.clone();
            std::thread::spawn(move || approve_device(&page, &code));
        }))
        .unwrap_err();
    assert_eq!(e.code, "access_denied", "{e:?}");
    assert_eq!(home.index()["accounts"].as_array().unwrap().len(), before);
}

fn state_of(link: &str) -> String {
    url::Url::parse(link)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned()
}

/// S24: an "Other…" issuer whose id would collide with an existing provider gets an id of
/// its own; the existing provider and its account keep working.
#[test]
fn a_new_issuer_never_takes_over_an_existing_provider_s24() {
    let idp = Idp::start();
    let other = Idp::start();
    let home = TestHome::new();
    let acc = accounts_in(&home);
    // An existing provider holding the id that `other`'s issuer would derive.
    let taken = latchkey::provider::id_for_issuer(&other.issuer, &[]);
    add_provider(
        &acc,
        idp_provider(&idp, &taken, "latchkey-public", ClientAuth::None),
    );
    let view = rt()
        .block_on(acc.complete_login(&scheme_login_at(&acc, &idp, &taken)))
        .unwrap();
    let before = acc.provider(&taken).unwrap();
    let (id, explicit) = rt()
        .block_on(acc.add_discovered_provider(&other.issuer, Some("latchkey-public")))
        .unwrap();
    assert_ne!(id, taken, "a colliding id is never reused");
    assert_eq!(explicit, None);
    assert_eq!(
        acc.provider(&taken).unwrap(),
        before,
        "the old entry is untouched"
    );
    assert_eq!(
        acc.provider(&id).unwrap().issuer.as_deref(),
        Some(other.issuer.as_str())
    );
    rt().block_on(acc.refresh_now(&view.id)).unwrap();
    assert_eq!(
        other.stats()["token_requests"],
        0,
        "nothing went to the newcomer"
    );
    assert_eq!(acc.list().unwrap()[0].status, "valid");
}

/// S24: when a provider entry no longer matches where an account's tokens were allowed to
/// go at sign-in, nothing is sent there (refresh, API call, revocation) and the account
/// says so.
#[test]
fn an_account_whose_provider_changed_sends_nothing_s24() {
    let idp = Idp::start();
    let attacker = Idp::start();
    let (home, acc) = setup(&idp, "latchkey-public", ClientAuth::None);
    let view = rt()
        .block_on(acc.complete_login(&scheme_login(&acc, &idp)))
        .unwrap();
    // Retarget the entry behind Latchkey's back, as an old bug or a hand-edited file could.
    let evil = idp_provider(&attacker, "idp", "latchkey-public", ClientAuth::None);
    acc.vault()
        .update_index(|idx| {
            idx.providers.retain(|p| p.id != "idp");
            idx.providers.push(evil);
        })
        .unwrap();
    assert_eq!(acc.list().unwrap()[0].status, "provider_changed");
    assert!(
        acc.list().unwrap()[0].needs_attention(),
        "the tray's badge counts it"
    );
    // `token` and `exec` hand out nothing either, even while the stored token is fresh.
    let e = rt().block_on(acc.fresh_token(&view.id, 1)).unwrap_err();
    assert_eq!(e.code, "provider_changed");
    // The command line's fast path too (it reads the stored token without fresh_token).
    let o = home.run(&["token", &view.id], None);
    assert!(!o.status.success() && o.stdout.is_empty());
    assert!(
        stderr_of(&o).contains("latchkey login idp"),
        "{}",
        stderr_of(&o)
    );
    let e = rt().block_on(acc.refresh_now(&view.id)).unwrap_err();
    assert_eq!(e.code, "provider_changed");
    assert!(e.fix.contains("latchkey login idp"), "{}", e.fix);
    let e = rt()
        .block_on(acc.api_call(&view.id, "GET", "protected", &[], None))
        .unwrap_err();
    assert_eq!(e.code, "provider_changed");
    let report = rt().block_on(acc.remove(&view.id)).unwrap();
    assert!(report.wiped);
    assert!(matches!(
        report.revocation,
        latchkey::oauth::Revocation::Failed(_)
    ));
    let s = attacker.stats();
    assert_eq!(s["token_requests"], 0, "no refresh token went there");
    assert_eq!(s["revocations"], 0, "no token was revoked there");
}

/// S24: a sign-in's code goes only to the token endpoint in force when it began: a provider
/// entry changed while the person was at the browser gets nothing.
#[test]
fn a_sign_in_finishes_only_where_it_began_s24() {
    let idp = Idp::start();
    let attacker = Idp::start();
    let (_home, acc) = setup(&idp, "latchkey-public", ClientAuth::None);
    let link = scheme_login(&acc, &idp);
    let evil = idp_provider(&attacker, "idp", "latchkey-public", ClientAuth::None);
    acc.vault()
        .update_index(|idx| {
            let p = idx.providers.iter_mut().find(|p| p.id == "idp").unwrap();
            p.token_url = evil.token_url.clone();
        })
        .unwrap();
    let e = rt().block_on(acc.complete_login(&link)).unwrap_err();
    assert_eq!(e.code, "provider_changed", "{e:?}");
    assert_eq!(
        attacker.stats()["token_requests"],
        0,
        "the code never went there"
    );
    assert!(acc.list().unwrap().is_empty());
}

/// S11: a pasted token is checked only where the provider's tokens may go: a first preset
/// that points elsewhere is refused before any request.
#[test]
fn a_pasted_token_is_checked_only_where_tokens_may_go_s11() {
    let idp = Idp::start();
    let elsewhere = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    elsewhere.set_nonblocking(true).unwrap();
    let home = TestHome::new();
    let acc = accounts_in(&home);
    let mut p = idp_provider(&idp, "pat", "latchkey-public", ClientAuth::None);
    p.supports_pat = true;
    p.presets = vec![latchkey::provider::ApiPreset {
        label: "Check".into(),
        method: "GET".into(),
        path: format!("http://{}/steal", elsewhere.local_addr().unwrap()),
    }];
    add_provider(&acc, p);
    let e = rt()
        .block_on(acc.add_token("pat", latchkey::secret::Secret::new("tskdp_pasted"), None))
        .unwrap_err();
    assert_eq!(e.code, "cannot_validate", "{e:?}");
    assert!(
        elsewhere.accept().is_err(),
        "no connection reached the other address"
    );
    assert!(acc.list().unwrap().is_empty());
}

/// S24: adding the same issuer again keeps its entry; a new client id is used for that
/// sign-in only, and the existing account keeps refreshing with its own client.
#[test]
fn re_adding_the_same_issuer_keeps_accounts_on_their_client_s24() {
    let idp = Idp::start();
    let home = TestHome::new();
    let acc = accounts_in(&home);
    let (id, _) = rt()
        .block_on(acc.add_discovered_provider(&idp.issuer, Some("latchkey-public")))
        .unwrap();
    let view = rt()
        .block_on(acc.complete_login(&scheme_login_at(&acc, &idp, &id)))
        .unwrap();
    let before = acc.provider(&id).unwrap();
    for again in [Some("latchkey-post"), None] {
        let (id2, explicit) = rt()
            .block_on(acc.add_discovered_provider(&format!("{}/", idp.issuer), again))
            .unwrap();
        assert_eq!(id2, id, "the same issuer keeps its entry");
        assert_eq!(
            explicit.as_deref(),
            again,
            "a new client only for that sign-in"
        );
        assert_eq!(acc.provider(&id).unwrap(), before);
    }
    let account = acc.account(&view.id).unwrap();
    assert_eq!(account.client_id.as_deref(), Some("latchkey-public"));
    let t = rt().block_on(acc.refresh_now(&view.id)).unwrap();
    assert_eq!(idp.check_token(t.expose()), 200);
}

/// S24: "Sign in again" may replace only an account of the same provider and kind.
#[test]
fn reauth_of_another_providers_account_is_refused_s24() {
    let idp = Idp::start();
    let (_home, acc) = setup(&idp, "latchkey-public", ClientAuth::None);
    add_provider(
        &acc,
        idp_provider(&idp, "second", "latchkey-public", ClientAuth::None),
    );
    let view = rt()
        .block_on(acc.complete_login(&scheme_login(&acc, &idp)))
        .unwrap();
    let e = rt()
        .block_on(acc.begin_login(
            "second",
            LoginOptions {
                redirect: Some(RedirectKind::Scheme),
                reauth_of: Some(view.id.clone()),
                ..Default::default()
            },
        ))
        .err()
        .expect("refused");
    assert_eq!(e.code, "wrong_account");
    assert_eq!(acc.list().unwrap().len(), 1);
    assert_eq!(acc.account(&view.id).unwrap().provider, "idp");
}

/// S8: a link whose state no sign-in waits for creates no file anywhere under the data
/// folder (no lock file either), and a used sign-in leaves no lock file behind.
#[test]
fn forged_links_touch_nothing_on_disk_s8() {
    let idp = Idp::start();
    let (home, acc) = setup(&idp, "latchkey-public", ClientAuth::None);
    let real = scheme_login(&acc, &idp);
    let before = files_under(home.path());
    for i in 0..50 {
        let link = format!("dev.latchkey:/oauth/callback?code=c&state=forged{i}");
        assert_eq!(
            rt().block_on(acc.complete_login(&link)).unwrap_err().code,
            "unknown_state"
        );
    }
    assert_eq!(files_under(home.path()), before, "no file appeared");
    rt().block_on(acc.complete_login(&real)).unwrap();
    let locks: Vec<_> = files_under(home.path())
        .into_iter()
        .filter(|f| f.contains("pending-"))
        .collect();
    assert!(locks.is_empty(), "used sign-ins leave no lock: {locks:?}");
}

/// S18: an abandoned sign-in's state and verifier leave the keyring: on cancel, and when a
/// later sign-in prunes the expired ones.
#[test]
fn abandoned_sign_ins_leave_no_secret_behind_s18() {
    let idp = Idp::start();
    let (home, acc) = setup(&idp, "latchkey-public", ClientAuth::None);
    let opts = LoginOptions {
        redirect: Some(RedirectKind::Scheme),
        ..Default::default()
    };
    let first = rt().block_on(acc.begin_login("idp", opts.clone())).unwrap();
    let key = |h: &str| format!("pending:{h}");
    assert!(secret_tool_lookup(&key(&first.handle)).is_some());
    // The person walked away: ten minutes pass.
    acc.vault()
        .update_index(|idx| idx.pending.iter_mut().for_each(|p| p.expires = 1))
        .unwrap();
    let second = rt().block_on(acc.begin_login("idp", opts)).unwrap();
    assert!(
        secret_tool_lookup(&key(&first.handle)).is_none(),
        "pruned with its note"
    );
    assert_eq!(home.index()["pending"].as_array().unwrap().len(), 1);
    rt().block_on(acc.cancel_login(&second.handle)).unwrap();
    assert!(secret_tool_lookup(&key(&second.handle)).is_none());
    assert!(home.index()["pending"].as_array().unwrap().is_empty());
}

/// S14: a sign-in saves under the account's lock, so it never overwrites a refresh that
/// another process is in the middle of.
#[test]
fn sign_in_waits_for_a_refresh_in_flight_s14() {
    let idp = Idp::start();
    let (home, acc) = setup(&idp, "latchkey-public", ClientAuth::None);
    let view = rt()
        .block_on(acc.complete_login(&scheme_login(&acc, &idp)))
        .unwrap();
    let start = rt()
        .block_on(acc.begin_login(
            "idp",
            LoginOptions {
                redirect: Some(RedirectKind::Scheme),
                reauth_of: Some(view.id.clone()),
                ..Default::default()
            },
        ))
        .unwrap();
    let link = idp.approve(start.authorize_url.expose());
    // "Another process" holds the account: a second vault on the same folder.
    let other = accounts_in(&home);
    let held = other
        .vault()
        .lock_account_blocking(&view.id, std::time::Duration::from_secs(5))
        .unwrap();
    let acc2 = acc.clone();
    let done = std::thread::spawn(move || rt().block_on(acc2.complete_login(&link)));
    std::thread::sleep(std::time::Duration::from_millis(1500));
    assert!(!done.is_finished(), "the save waits for the lock");
    let updated = acc.account(&view.id).unwrap().updated;
    drop(held);
    let again = done.join().unwrap().unwrap();
    assert_eq!(again.id, view.id);
    assert!(acc.account(&view.id).unwrap().updated >= updated);
}

/// S10: a provider that sends no `iss` has a redirect of its own, so a real code from one
/// provider, delivered with another provider's state, is never exchanged anywhere.
#[test]
fn providers_without_iss_cannot_mix_up_answers_s10() {
    let idp = Idp::start();
    let home = TestHome::new();
    let acc = accounts_in(&home);
    let mut honest = idp_provider(&idp, "noiss", "latchkey-public", ClientAuth::None);
    // It sends `iss` without promising it in its metadata: the redirect is its own anyway.
    honest.iss_required = false;
    let mut evil = idp_provider(&idp, "evil", "latchkey-public", ClientAuth::None);
    evil.iss_required = false;
    evil.issuer = None;
    add_provider(&acc, honest);
    add_provider(&acc, evil);
    let scheme = LoginOptions {
        redirect: Some(RedirectKind::Scheme),
        ..Default::default()
    };
    let good = rt()
        .block_on(acc.begin_login("noiss", scheme.clone()))
        .unwrap();
    let bad = rt().block_on(acc.begin_login("evil", scheme)).unwrap();
    let answer = idp.approve(good.authorize_url.expose());
    assert!(
        answer.starts_with("dev.latchkey:/oauth/callback/noiss?"),
        "{answer}"
    );
    let evil_state = state_of(bad.authorize_url.expose());
    let mixed = answer.replace(&state_of(&answer), &evil_state);
    let e = rt().block_on(acc.complete_login(&mixed)).unwrap_err();
    assert_eq!(e.code, "redirect_mismatch");
    assert_eq!(token_requests(&idp), 0, "the code went nowhere");
    // The honest answer still completes on its own redirect.
    let view = rt().block_on(acc.complete_login(&answer)).unwrap();
    assert_eq!(view.provider, "noiss");
}
