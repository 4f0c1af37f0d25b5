//! How Latchkey reaches the network (issue 28): which certificate authorities it trusts and
//! which proxy it goes through. The person's choices live in Settings → Network (the index's
//! `settings.network`); both programs build their one HTTP client from them.
//!
//! Trust is the bundled Mozilla roots, plus the OS store (so a company's TLS-inspecting CA
//! installed there is trusted, S34), plus an extra CA file from the settings or
//! `LATCHKEY_CA_BUNDLE`. The proxy settings' shape is here; how they are checked and what
//! they decide (the environment, GNOME's settings) is in `proxy.rs`.

use super::proxy::plan_proxy;
use crate::network_settings::{check_ca_file, shown, Network};
use serde::Serialize;

/// Environment variable naming a PEM bundle of extra trusted CAs.
pub const CA_ENV: &str = "LATCHKEY_CA_BUNDLE";

/// The extra CA files in use: the settings' and `LATCHKEY_CA_BUNDLE`'s.
pub fn extra_ca_files(net: &Network) -> Vec<(String, &'static str)> {
    let mut out = Vec::new();
    if let Some(f) = &net.ca_file {
        out.push((f.clone(), "Settings → Network"));
    }
    if let Some(p) = std::env::var_os(CA_ENV).filter(|v| !v.is_empty()) {
        out.push((p.to_string_lossy().into_owned(), CA_ENV));
    }
    out
}

/// What the person should know about whom Latchkey trusts, when it is more than the bundled
/// roots and the OS store: extra certificate authorities (F9, S33, S34). Said on stderr by the
/// CLI and in the window, so a file chosen long ago, or by someone else, is never silent.
pub fn trust_note(net: &Network) -> Option<String> {
    let files = extra_ca_files(net);
    if files.is_empty() {
        return None;
    }
    let named: Vec<String> = files
        .iter()
        .map(|(f, from)| format!("{} ({from})", shown(f)))
        .collect();
    Some(format!(
        "Latchkey also trusts the certificate authorities in {}. Remove it unless your network needs it.",
        named.join(" and ")
    ))
}

/// The OS store's certificates, where they came from, and what went wrong reading it.
pub struct SystemRoots {
    /// DER certificates.
    pub certs: Vec<rustls::pki_types::CertificateDer<'static>>,
    /// Where they were read from, in words.
    pub from: String,
    /// A problem reading part of the store, in words.
    pub problem: Option<String>,
}

/// Reads the OS trust store (rustls-native-certs: on Linux `SSL_CERT_FILE`/`SSL_CERT_DIR` or
/// the distribution's bundle, the Keychain on macOS, the system store on Windows).
pub fn system_roots() -> SystemRoots {
    let found = rustls_native_certs::load_native_certs();
    let from = if cfg!(windows) {
        "the Windows certificate store".to_string()
    } else if cfg!(target_os = "macos") {
        "the macOS Keychain".to_string()
    } else {
        let var = |n: &str| std::env::var_os(n).filter(|v| !v.is_empty());
        match (var("SSL_CERT_FILE"), var("SSL_CERT_DIR")) {
            (Some(f), _) => format!("SSL_CERT_FILE ({})", shown(&f.to_string_lossy())),
            (None, Some(d)) => format!("SSL_CERT_DIR ({})", shown(&d.to_string_lossy())),
            (None, None) => "the system's certificate store".to_string(),
        }
    };
    SystemRoots {
        certs: found.certs,
        from,
        problem: found.errors.first().map(|e| shown(&e.to_string())),
    }
}

/// The roots and proxy in use, for `latchkey status` and the window.
#[derive(Debug, Clone, Serialize)]
pub struct NetworkReport {
    /// Certificate authorities, one line each.
    pub trust: Vec<String>,
    /// The proxy, in one line.
    pub proxy: String,
}

/// Describes what [`super::http::Http::with_network`] would use.
pub fn report(net: &Network) -> NetworkReport {
    let mut trust = vec![format!(
        "{} authorities bundled with Latchkey (Mozilla's list)",
        webpki_roots_count()
    )];
    let sys = system_roots();
    trust.push(match (&sys.problem, sys.certs.len()) {
        (Some(p), 0) => format!("none from {} ({p})", sys.from),
        (_, n) => format!("{n} from {}", sys.from),
    });
    for (f, from) in extra_ca_files(net) {
        trust.push(match check_ca_file(&f) {
            Ok(n) => format!("{n} from {} ({from})", shown(&f)),
            Err(why) => format!("none from {} ({from}): {why}", shown(&f)),
        });
    }
    NetworkReport {
        trust,
        proxy: plan_proxy(net).describe(),
    }
}

fn webpki_roots_count() -> usize {
    // reqwest's `rustls-tls` feature adds webpki-roots; its count is the list's length.
    webpki_roots::TLS_SERVER_ROOTS.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ca_files_must_be_readable_pem_with_a_certificate() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("none.pem");
        assert!(check_ca_file(missing.to_str().unwrap())
            .unwrap_err()
            .contains("could not read"));
        let junk = dir.path().join("junk.pem");
        std::fs::write(&junk, "hello").unwrap();
        assert!(check_ca_file(junk.to_str().unwrap())
            .unwrap_err()
            .contains("no PEM certificate"));
        assert!(check_ca_file("relative.pem")
            .unwrap_err()
            .contains("full path"));
    }

    #[test]
    fn the_trust_note_names_every_extra_ca_file() {
        let net = Network {
            ca_file: Some("/etc/corp/ca.pem".into()),
            ..Network::default()
        };
        let note = trust_note(&net).unwrap();
        assert!(
            note.contains("/etc/corp/ca.pem") && note.contains("Settings"),
            "{note}"
        );
    }
}
