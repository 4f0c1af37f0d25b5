//! Reading what comes back: one parser for custom-scheme links and loopback requests, and the
//! checks of a callback against its transaction (redirect S5, error S9, `iss` S10).

use super::{OAuthError, Transaction};
use crate::secret::Secret;
use crate::text::plain_text;

/// The parts of a callback. Secrets stay wrapped.
#[derive(Debug)]
pub struct Callback {
    /// Redirect the link arrived on, without query (`dev.latchkey:/oauth/callback` or
    /// `http://127.0.0.1:PORT/callback`).
    pub arrived_on: String,
    /// `state`.
    pub state: Option<Secret>,
    /// `code`.
    pub code: Option<Secret>,
    /// `iss` (RFC 9207).
    pub iss: Option<String>,
    /// `error`.
    pub error: Option<String>,
    /// `error_description`, plain text.
    pub error_description: Option<String>,
}

/// One parser for custom-scheme links and loopback requests.
pub fn parse_callback(raw: &str) -> Result<Callback, OAuthError> {
    if raw.len() > 16 * 1024 {
        return Err(OAuthError::Malformed);
    }
    let u = url::Url::parse(raw).map_err(|_| OAuthError::Malformed)?;
    let arrived_on = redirect_base(&u).ok_or(OAuthError::Malformed)?;
    let mut cb = Callback {
        arrived_on,
        state: None,
        code: None,
        iss: None,
        error: None,
        error_description: None,
    };
    for (k, v) in u.query_pairs() {
        // A repeated parameter is a sign of tampering (RFC 6749 §3.1).
        let dup = match k.as_ref() {
            "state" => cb.state.replace(Secret::new(v.into_owned())).is_some(),
            "code" => cb.code.replace(Secret::new(v.into_owned())).is_some(),
            "iss" => cb.iss.replace(v.into_owned()).is_some(),
            "error" => cb.error.replace(plain_text(&v, 64)).is_some(),
            "error_description" => cb.error_description.replace(plain_text(&v, 300)).is_some(),
            _ => false,
        };
        if dup {
            return Err(OAuthError::Malformed);
        }
    }
    Ok(cb)
}

/// The redirect URI a URL arrived on, normalised for comparison: scheme, host, port, path.
fn redirect_base(u: &url::Url) -> Option<String> {
    match u.scheme() {
        "http" => Some(format!(
            "http://{}:{}{}",
            u.host_str()?,
            u.port()?,
            u.path()
        )),
        // S5: `dev.latchkey:/path` only; any authority (host, user, port) makes it another
        // address, never the registered redirect.
        s if s.eq_ignore_ascii_case(crate::provider::SCHEME) && !u.has_authority() => {
            Some(format!("{}:{}", crate::provider::SCHEME, u.path()))
        }
        _ => None,
    }
}

/// Checks a callback against its transaction: redirect (S5), error (S9), `iss` (S10).
/// Returns the code to exchange.
pub fn check_callback(
    tx: &Transaction,
    cb: &Callback,
    provider_name: &str,
) -> Result<Secret, OAuthError> {
    let expected = url::Url::parse(&tx.redirect_uri)
        .ok()
        .and_then(|u| redirect_base(&u))
        .ok_or(OAuthError::RedirectMismatch)?;
    if cb.arrived_on != expected {
        return Err(OAuthError::RedirectMismatch);
    }
    match (&cb.iss, &tx.issuer) {
        (Some(iss), Some(issuer)) if iss != issuer => return Err(OAuthError::IssuerMismatch),
        (Some(_), None) => return Err(OAuthError::IssuerMismatch),
        (None, _) if tx.iss_required => return Err(OAuthError::IssuerMismatch),
        _ => {}
    }
    if let Some(error) = &cb.error {
        if error == "access_denied" {
            return Err(OAuthError::Denied(provider_name.into()));
        }
        return Err(OAuthError::Provider {
            provider: provider_name.into(),
            code: error.clone(),
            description: cb.error_description.clone(),
        });
    }
    cb.code.clone().ok_or(OAuthError::Malformed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::begin;
    use crate::oauth::test_support::*;

    fn tx(redirect: &str, issuer: Option<&str>, required: bool) -> Transaction {
        let mut t = begin(&provider(), &client(), redirect, &[], 0)
            .unwrap()
            .transaction;
        t.issuer = issuer.map(str::to_string);
        t.iss_required = required;
        t
    }

    /// S5: a callback on a different redirect than the transaction's is rejected.
    #[test]
    fn callback_on_another_redirect_is_rejected_s5() {
        let t = tx("http://127.0.0.1:5555/callback", None, false);
        let ok = parse_callback("http://127.0.0.1:5555/callback?code=c&state=s").unwrap();
        assert!(check_callback(&t, &ok, "X").is_ok());
        for bad in [
            "http://127.0.0.1:5556/callback?code=c&state=s",
            "http://127.0.0.1:5555/other?code=c&state=s",
            "dev.latchkey:/oauth/callback?code=c&state=s",
        ] {
            let cb = parse_callback(bad).unwrap();
            assert_eq!(
                check_callback(&t, &cb, "X").unwrap_err(),
                OAuthError::RedirectMismatch,
                "{bad}"
            );
        }
        // A custom-scheme link with an authority is never the registered redirect.
        let t = tx("dev.latchkey:/oauth/callback", None, false);
        let ok = parse_callback("dev.latchkey:/oauth/callback?code=c&state=s").unwrap();
        assert!(check_callback(&t, &ok, "X").is_ok());
        for bad in [
            "dev.latchkey://any.host/oauth/callback?code=c&state=s",
            "dev.latchkey://u:p@h:1/oauth/callback?code=c&state=s",
        ] {
            assert!(parse_callback(bad).is_err(), "{bad}");
        }
        // S10: a provider without `iss` has its own path; another provider's is refused.
        let t = tx("dev.latchkey:/oauth/callback/acme", None, false);
        let other = parse_callback("dev.latchkey:/oauth/callback/evil?code=c&state=s").unwrap();
        assert_eq!(
            check_callback(&t, &other, "X").unwrap_err(),
            OAuthError::RedirectMismatch
        );
    }

    /// S10: `iss` must equal the issuer by simple string comparison, and is required when the
    /// metadata says so.
    #[test]
    fn iss_is_checked_and_required_when_advertised_s10() {
        let t = tx(
            "dev.latchkey:/oauth/callback",
            Some("https://idp.example"),
            false,
        );
        let good = parse_callback(
            "dev.latchkey:/oauth/callback?code=c&state=s&iss=https%3A%2F%2Fidp.example",
        )
        .unwrap();
        assert!(check_callback(&t, &good, "X").is_ok());
        let bad = parse_callback(
            "dev.latchkey:/oauth/callback?code=c&state=s&iss=https%3A%2F%2Fidp.example%2F",
        )
        .unwrap();
        assert_eq!(
            check_callback(&t, &bad, "X").unwrap_err(),
            OAuthError::IssuerMismatch
        );
        let missing = parse_callback("dev.latchkey:/oauth/callback?code=c&state=s").unwrap();
        assert!(check_callback(&t, &missing, "X").is_ok());
        let t2 = tx(
            "dev.latchkey:/oauth/callback",
            Some("https://idp.example"),
            true,
        );
        assert_eq!(
            check_callback(&t2, &missing, "X").unwrap_err(),
            OAuthError::IssuerMismatch
        );
    }

    /// S9: an error callback yields plain text, and `access_denied` reads as a cancellation.
    #[test]
    fn error_callbacks_become_plain_words_s9() {
        let t = tx("dev.latchkey:/oauth/callback", None, false);
        let denied =
            parse_callback("dev.latchkey:/oauth/callback?error=access_denied&state=s").unwrap();
        let e = check_callback(&t, &denied, "Taskade").unwrap_err();
        assert_eq!(e.to_string(), "you cancelled the sign-in at Taskade");
        let other = parse_callback("dev.latchkey:/oauth/callback?error=server_error&error_description=%3Cb%3Ehi%3C%2Fb%3E%0A&state=s").unwrap();
        match check_callback(&t, &other, "Taskade").unwrap_err() {
            OAuthError::Provider {
                code, description, ..
            } => {
                assert_eq!(code, "server_error");
                assert_eq!(
                    description.as_deref(),
                    Some("<b>hi</b>"),
                    "kept as text, control chars dropped"
                );
            }
            e => panic!("{e:?}"),
        }
    }

    #[test]
    fn repeated_parameters_and_garbage_are_malformed() {
        assert!(parse_callback("dev.latchkey:/oauth/callback?state=a&state=b&code=c").is_err());
        assert!(parse_callback("https://evil.example/cb?code=x").is_err());
        assert!(parse_callback("not a url").is_err());
        assert!(parse_callback(&format!(
            "dev.latchkey:/oauth/callback?code={}",
            "x".repeat(20000)
        ))
        .is_err());
    }
}
