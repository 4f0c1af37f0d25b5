//! The fault battery: a broken provider and a broken credential store. In every case the
//! command fails with one clear line and the right exit code, the stored tokens are kept,
//! nothing secret lands on disk, and everything works again once the fault is gone.
//! The keyring faults are in `keyring_faults.rs`.

use latchkey_e2e::*;
use std::time::Duration;

/// Every file under the data folder, concatenated, to look for secrets in.
fn disk(home: &TestHome) -> String {
    fn walk(p: &std::path::Path, out: &mut String) {
        for e in std::fs::read_dir(p).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else if let Ok(b) = std::fs::read(&p) {
                out.push_str(&String::from_utf8_lossy(&b));
            }
        }
    }
    let mut s = String::new();
    walk(home.path(), &mut s);
    s
}

fn record(id: &str) -> String {
    secret_tool_lookup(&format!("account:{id}")).expect("the record is in the keyring")
}

/// A fault: its name, the IdP mode that causes it, extra environment, words the error must use.
type Case<'a> = (
    &'a str,
    serde_json::Value,
    &'a [(&'a str, &'a str)],
    &'a str,
);

#[test]
fn a_broken_provider_keeps_the_tokens_and_recovers() {
    // Tokens live 2 s, so each case starts with an expired token that must be refreshed (a
    // still-valid token is handed out during an outage instead of failing).
    let idp = Idp::start_with(IdpConfig {
        access_ttl: 2,
        ..Default::default()
    });
    let home = TestHome::new();
    let id = cli_login(&home, &idp);
    let cases: &[Case] = &[
        (
            "slow",
            serde_json::json!({"tokenDelayMs": 4000}),
            &[("LATCHKEY_HTTP_TIMEOUT", "2")],
            "did not answer in time",
        ),
        (
            "500",
            serde_json::json!({"tokenStatus": 500}),
            &[],
            "answered 500",
        ),
        (
            "garbage",
            serde_json::json!({"tokenFault": "garbage"}),
            &[],
            "could not read",
        ),
        (
            "50 MB",
            serde_json::json!({"tokenFault": "huge"}),
            &[],
            "more than 2 MB",
        ),
        (
            "dropped",
            serde_json::json!({"tokenFault": "drop"}),
            &[],
            "connection failed",
        ),
    ];
    for (name, mode, env, words) in cases {
        std::thread::sleep(Duration::from_millis(2500));
        let before = record(&id);
        idp.set_mode(mode.clone());
        let (o, took) = run_timed(&home, &idp, &["token", &id], env);
        assert_eq!(o.status.code(), Some(4), "{name}: {}", stderr_of(&o));
        let e = stderr_of(&o);
        assert_eq!(e.trim().lines().count(), 1, "{name}: one line: {e}");
        assert!(e.contains(words), "{name}: {e}");
        assert!(o.stdout.is_empty(), "{name}: no token printed");
        assert!(took < Duration::from_secs(20), "{name} took {took:?}");
        assert_eq!(record(&id), before, "{name}: the stored tokens are kept");
        let (st, _) = run_timed(&home, &idp, &["status", &id, "--json"], &[]);
        let v: serde_json::Value = serde_json::from_slice(&st.stdout).unwrap();
        assert_ne!(v[0]["status"], "needs_sign_in", "{name}: {v}");
        let on_disk = disk(&home);
        let rec = accounts_in(&home)
            .vault()
            .read_record(&id)
            .unwrap()
            .unwrap();
        assert!(
            !on_disk.contains(rec.access_token.expose()),
            "{name}: token on disk"
        );
        let refresh = rec.refresh_token.expect("refresh token kept");
        assert!(
            !on_disk.contains(refresh.expose()),
            "{name}: refresh token on disk"
        );
        // Recovery: the fault goes away, the next call refreshes.
        idp.set_mode(serde_json::json!({"tokenDelayMs": 0, "tokenStatus": 0, "tokenFault": ""}));
        let (ok, _) = run_timed(&home, &idp, &["token", &id], &[]);
        assert!(
            ok.status.success(),
            "{name}: no recovery: {}",
            stderr_of(&ok)
        );
        let token = String::from_utf8_lossy(&ok.stdout).trim().to_string();
        assert_eq!(idp.check_token(&token), 200, "{name}");
        assert_ne!(
            record(&id),
            before,
            "{name}: the refreshed tokens were saved"
        );
    }
    assert_eq!(idp.stats()["invalid_grant"], 0, "no grant was lost");
}
