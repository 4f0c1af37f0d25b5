//! Deep links and loopback requests: the shape check every process runs first, the one
//! callback parser, and the check against a pending sign-in. Nothing may panic, and the
//! loggable description never carries the query.
#![no_main]
use latchkey::oauth::{check_callback, parse_callback, Transaction};
use latchkey::secret::Secret;
use libfuzzer_sys::fuzz_target;

fn transaction(redirect: &str) -> Transaction {
    Transaction {
        handle: "00".into(),
        state: Secret::new("state-value"),
        verifier: Secret::new("verifier-value"),
        provider: "idp".into(),
        issuer: Some("https://idp.example".into()),
        iss_required: true,
        redirect_uri: redirect.into(),
        client_id: "client".into(),
        scopes: vec![],
        label: None,
        reauth_of: None,
        created: 0,
        expires: 600,
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let _ = latchkey::launch::launch_mode(&[std::ffi::OsString::from(s)]);
    let valid = latchkey::link::validate(s).is_ok();
    let _ = latchkey::link::describe(s);
    // Whatever follows a '?' or '#' is query or fragment: a secret planted there never shows
    // in the loggable description.
    // (Inputs that already spell the marker, even with the tabs and newlines URL parsing
    // drops, are skipped: the marker must be the only copy.)
    let squeezed: String = s.chars().filter(|c| !matches!(c, '\t' | '\n' | '\r')).collect();
    if (s.contains('?') || s.contains('#')) && !squeezed.contains("CANARY") {
        let planted = format!("{s}SECRETCANARY42");
        assert!(
            !latchkey::link::describe(&planted).contains("SECRETCANARY42"),
            "a description leaked the query"
        );
    }
    for base in [
        "dev.latchkey:/oauth/callback",
        "http://127.0.0.1:45678/callback",
    ] {
        // Loopback requests arrive as a path and query; the listener prefixes its own base.
        let raw = if base.starts_with("http") && s.starts_with("/callback") {
            format!("http://127.0.0.1:45678{s}")
        } else {
            s.to_string()
        };
        if let Ok(cb) = parse_callback(&raw) {
            let tx = transaction(base);
            if let Ok(code) = check_callback(&tx, &cb, "IdP") {
                // A code is only handed out for a callback on the exact redirect with the
                // right issuer.
                assert_eq!(cb.arrived_on, base);
                assert_eq!(cb.iss.as_deref(), Some("https://idp.example"));
                assert!(cb.error.is_none());
                let _ = code;
            }
        }
    }
    let _ = valid;
});
