//! RFC 8414 / OIDC discovery documents: parsed, checked against the issuer, then applied to a
//! provider. Whatever is accepted must leave only https (or loopback http) endpoints (S20).
#![no_main]
use latchkey::provider::{apply_metadata, check_endpoint, parse_metadata, ProviderSpec};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for issuer in ["https://idp.example", "http://127.0.0.1:8080/tenant"] {
        let Ok(m) = parse_metadata(issuer, data) else {
            continue;
        };
        let mut p = ProviderSpec::new("corp", "Corp");
        if apply_metadata(&mut p, &m).is_ok() {
            for u in [
                &p.authorize_url,
                &p.token_url,
                &p.revocation_url,
                &p.registration_url,
                &p.userinfo_url,
                &p.device_url,
            ]
            .into_iter()
            .flatten()
            {
                assert!(check_endpoint(u).is_ok(), "accepted a bad endpoint");
            }
        }
    }
});
