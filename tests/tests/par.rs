//! Issue 26, pushed authorization requests (RFC 9126) against oidc-provider: the request is
//! pushed and the browser carries only `client_id` and `request_uri`, also where the server
//! requires it, with DPoP on top; an error from the push is shown before any browser opens.

use latchkey_e2e::*;

#[test]
fn sign_ins_push_their_request_and_the_browser_gets_only_a_reference() {
    for required in [false, true] {
        let idp = Idp::start_with(IdpConfig {
            par: Some(required),
            dpop: Some((false, false)),
            ..Default::default()
        });
        let home = TestHome::new();
        let api = format!("{}/api", idp.issuer);
        let o = run_against(
            &home,
            &idp,
            &[
                "provider",
                "add",
                "parp",
                "--issuer",
                &idp.issuer,
                "--api-base",
                &api,
            ],
            None,
            &[],
        );
        assert!(o.status.success(), "{}", stderr_of(&o));
        // The address the browser would open: only client_id and request_uri.
        let shown = printed_sign_in_url(&home, "parp");
        let u = url::Url::parse(&shown).unwrap();
        let keys: Vec<String> = u.query_pairs().map(|(k, _)| k.into_owned()).collect();
        assert_eq!(keys, ["client_id", "request_uri"], "{shown}");
        assert!(
            !shown.contains("code_challenge") && !shown.contains("state="),
            "{shown}"
        );
        // A whole sign-in through the pushed request, with DPoP on top.
        let before = idp.stats()["par_requests"].as_u64().unwrap();
        let o = run_against(&home, &idp, &["login", "parp"], None, &[]);
        assert!(o.status.success(), "required {required}: {}", stderr_of(&o));
        assert_eq!(idp.stats()["par_requests"].as_u64().unwrap(), before + 1);
        let id = String::from_utf8_lossy(&o.stdout).trim().to_string();
        let rec = accounts_in(&home)
            .vault()
            .read_record(&id)
            .unwrap()
            .unwrap();
        assert!(rec.is_dpop());

        // A push the server refuses: said before any browser opens.
        idp.set_mode(serde_json::json!({"parFail": true}));
        let marker = home.path().join("browser-opened");
        let browser = home.path().join("browser.sh");
        std::fs::write(
            &browser,
            format!("#!/bin/sh\ntouch '{}'\n", marker.display()),
        )
        .unwrap();
        std::process::Command::new("chmod")
            .arg("+x")
            .arg(&browser)
            .status()
            .unwrap();
        let o = run_against(
            &home,
            &idp,
            &["login", "parp"],
            None,
            &[("LATCHKEY_BROWSER", browser.to_str().unwrap())],
        );
        assert!(!o.status.success());
        let e = stderr_of(&o);
        assert!(e.contains("pushed requests are refused right now"), "{e}");
        assert!(!marker.exists(), "no browser opened for a refused push");
    }
}
