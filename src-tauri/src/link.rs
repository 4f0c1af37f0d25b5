//! Recognising and describing `dev.latchkey:` links without ever logging their query.

use crate::provider::SCHEME;

/// True when `s` starts with our scheme (case-insensitive, RFC 3986 §3.1).
pub fn looks_like_our_link(s: &str) -> bool {
    s.len() > SCHEME.len()
        && s.as_bytes()[SCHEME.len()] == b':'
        && s[..SCHEME.len()].eq_ignore_ascii_case(SCHEME)
}

/// The scheme of something that looks like a URL, for error messages.
pub fn scheme_of(s: &str) -> Option<&str> {
    let (scheme, _) = s.split_once(':')?;
    let ok = !scheme.is_empty()
        && scheme
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
    ok.then_some(scheme)
}

/// Checks a link's shape before a process acts on it. Messages never include the query.
pub fn validate(s: &str) -> Result<(), String> {
    if !looks_like_our_link(s) {
        return Err(match scheme_of(s) {
            Some(other) => {
                format!("only dev.latchkey: sign-in links can be delivered, not {other}: URLs")
            }
            None => "that is not a sign-in link; run `latchkey --help` for the commands".into(),
        });
    }
    if s.len() > 16 * 1024 {
        return Err("that sign-in link is too long to be genuine; start the sign-in again".into());
    }
    let u = url::Url::parse(s).map_err(|_| {
        "that sign-in link is malformed; start the sign-in again from Latchkey".to_string()
    })?;
    // S5: the registered redirect is `dev.latchkey:/oauth/callback` exactly; a link with a
    // host, user, password or port (`dev.latchkey://any.host/…`) is another address.
    if u.has_authority() {
        return Err(format!(
            "that link names a host; Latchkey's sign-in links look like {SCHEME}:/oauth/callback?…"
        ));
    }
    if !is_callback_path(u.path()) {
        return Err(format!(
            "unknown Latchkey link {}:{}; only {}:/oauth/callback is handled",
            SCHEME,
            redact_path(u.path()),
            SCHEME
        ));
    }
    Ok(())
}

/// `/oauth/callback`, or `/oauth/callback/<provider id>` for providers that send no `iss`.
pub fn is_callback_path(path: &str) -> bool {
    match path.strip_prefix("/oauth/callback") {
        Some("") => true,
        Some(rest) => rest.strip_prefix('/').is_some_and(|id| {
            !id.is_empty()
                && id.len() <= 128
                && id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        }),
        None => false,
    }
}

fn redact_path(p: &str) -> String {
    p.chars().take(64).filter(|c| !c.is_control()).collect()
}

/// A loggable description of a link: scheme and path only, never the query or fragment.
pub fn describe(s: &str) -> String {
    match url::Url::parse(s) {
        Ok(u) => format!(
            "{}:{} (query hidden, {} bytes)",
            u.scheme(),
            redact_path(u.path()),
            u.query().map_or(0, str::len)
        ),
        Err(_) => format!("unparseable link ({} bytes)", s.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_gives_one_clear_line_for_bad_links() {
        assert!(validate("dev.latchkey:/oauth/callback?code=x&state=y").is_ok());
        assert!(validate("https://example.com/x")
            .unwrap_err()
            .contains("not https: URLs"));
        assert!(validate("dev.latchkey:/other?code=x")
            .unwrap_err()
            .contains("unknown Latchkey link"));
        assert!(validate(&format!(
            "dev.latchkey:/oauth/callback?code={}",
            "a".repeat(20000)
        ))
        .unwrap_err()
        .contains("too long"));
        assert!(validate("bogus").unwrap_err().contains("--help"));
        assert!(validate("dev.latchkey:/oauth/callback/acme-2?code=x").is_ok());
        assert!(validate("dev.latchkey:/oauth/callback/a/b?code=x").is_err());
        assert!(validate("dev.latchkey:/oauth/callbackx?code=x").is_err());
    }

    /// S5: a custom-scheme link with a host, user, password or port is not our redirect.
    #[test]
    fn links_with_an_authority_are_refused_s5() {
        for l in [
            "dev.latchkey://any.host/oauth/callback?code=x&state=y",
            "dev.latchkey://user@/oauth/callback?code=x&state=y",
            "dev.latchkey://user:pw@h/oauth/callback?code=x",
            "dev.latchkey://h:99/oauth/callback?code=x",
            "dev.latchkey:///oauth/callback?code=x",
        ] {
            assert!(validate(l).is_err(), "{l}");
        }
    }

    /// S8/S19: a described link never carries its query.
    #[test]
    fn describe_never_includes_the_query_s8() {
        let d = describe("dev.latchkey:/oauth/callback?code=SECRETCODE&state=SECRETSTATE");
        assert!(!d.contains("SECRET"), "{d}");
        assert!(d.contains("/oauth/callback"));
        assert!(!describe("dev.latchkey:%%%?code=SECRETCODE").contains("SECRET"));
    }
}
