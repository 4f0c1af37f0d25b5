//! Ids for new providers (from an issuer or an API's address, never colliding, S24) and
//! finding a provider by id among the presets and the person's own.

use super::presets::presets;
use super::spec::ProviderSpec;

/// A provider id for an issuer, derived from the whole issuer (host, port and path). When
/// that id is taken by a provider with another issuer, a suffix from the issuer's hash keeps
/// the two apart; an existing provider is never replaced by another issuer (S24).
pub fn id_for_issuer(issuer: &str, taken: &[ProviderSpec]) -> String {
    let issuer = issuer.trim_end_matches('/');
    let same_issuer =
        |p: &ProviderSpec| p.issuer.as_deref().map(|i| i.trim_end_matches('/')) == Some(issuer);
    id_for(issuer, taken, same_issuer)
}

/// A provider id for an API connected by its address: never one that another provider entry
/// holds, whatever its issuer (F10), so no older entry shadows the API's.
pub fn id_for_resource(resource: &str, issuer: Option<&str>, taken: &[ProviderSpec]) -> String {
    let resource = resource.trim_end_matches('/');
    let issuer = issuer.map(|i| i.trim_end_matches('/'));
    id_for(resource, taken, |p| {
        p.resource.as_deref() == Some(resource)
            && p.issuer.as_deref().map(|i| i.trim_end_matches('/')) == issuer
    })
}

/// The readable id for `source` (host, port and path), or that id with a hash suffix when a
/// preset or an entry that `reusable` does not accept holds it.
fn id_for(
    source: &str,
    taken: &[ProviderSpec],
    reusable: impl Fn(&ProviderSpec) -> bool,
) -> String {
    use sha2::Digest;
    let issuer = source;
    let readable = url::Url::parse(issuer)
        .ok()
        .map(|u| {
            let mut s = u.host_str().unwrap_or("other").to_string();
            if let Some(port) = u.port() {
                s.push_str(&format!("-{port}"));
            }
            s.push_str(u.path().trim_end_matches('/'));
            s
        })
        .unwrap_or_else(|| "other".into());
    let mut base = String::new();
    for c in readable.chars() {
        let c = if c.is_ascii_alphanumeric() {
            c.to_ascii_lowercase()
        } else {
            '-'
        };
        if !(c == '-' && (base.is_empty() || base.ends_with('-'))) {
            base.push(c);
        }
    }
    let base: String = base.trim_end_matches('-').chars().take(48).collect();
    let base = if base.is_empty() {
        "other".into()
    } else {
        base
    };
    let free = |id: &str| {
        let user = taken.iter().find(|p| p.id == id);
        match user {
            Some(p) => reusable(p),
            None => !presets().iter().any(|p| p.id == id),
        }
    };
    if free(&base) {
        return base;
    }
    let digest = sha2::Sha256::digest(issuer.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    for len in [6, 12, 64] {
        let id = format!("{base}-{}", &hex[..len]);
        if free(&id) {
            return id;
        }
    }
    format!("{base}-{hex}-x")
}

/// Finds a provider by id among the presets and the person's own.
pub fn find(id: &str, user: &[ProviderSpec]) -> Option<ProviderSpec> {
    user.iter()
        .find(|p| p.id == id)
        .cloned()
        .or_else(|| presets().into_iter().find(|p| p.id == id))
}
