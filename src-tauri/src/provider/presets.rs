//! The built-in providers: Taskade first (facts from its public docs; see TESTING.md), then
//! GitHub, Google and Microsoft.

use super::metadata::check_endpoint;
use super::spec::{ApiPreset, IdentitySource, ProviderSpec, RedirectKind, TASKADE_BASE_ENV};

/// Whether this build honours test hooks such as [`TASKADE_BASE_ENV`]: debug builds and
/// builds with the `test-hooks` feature (the benchmarks) do; release builds never (F9), so
/// nothing in a person's environment can retarget Taskade sign-ins.
pub const TEST_HOOKS: bool = cfg!(any(debug_assertions, feature = "test-hooks"));

fn taskade_base() -> String {
    taskade_base_from(std::env::var(TASKADE_BASE_ENV).ok(), TEST_HOOKS)
}

/// The Taskade base for an override: honoured only in test builds (F9), and only for https
/// or loopback (S20), so a stray environment variable can't send Taskade tokens over plain
/// http to another host.
fn taskade_base_from(over: Option<String>, hooks: bool) -> String {
    const REAL: &str = "https://www.taskade.com";
    let base = over
        .filter(|_| hooks)
        .filter(|v| !v.is_empty())
        .map(|v| v.trim_end_matches('/').to_string());
    match base {
        Some(b) if check_endpoint(&b).is_ok() => b,
        Some(_) => {
            tracing::warn!(
                "{TASKADE_BASE_ENV} is ignored: it must be https (or http on 127.0.0.1 or localhost)"
            );
            REAL.into()
        }
        None => REAL.into(),
    }
}

/// The Taskade preset (facts from Taskade's public docs; see TESTING.md).
pub fn taskade() -> ProviderSpec {
    let base = taskade_base();
    let mut p = ProviderSpec::new("taskade", "Taskade");
    p.issuer = Some(base.clone());
    p.authorize_url = Some(format!("{base}/oauth2/authorize"));
    p.token_url = Some(format!("{base}/oauth2/token"));
    p.registration_url = Some(format!("{base}/oauth2/register"));
    // Taskade documents no revocation endpoint; the test stand-in has one, and discovery
    // fills it in where metadata lists it.
    if base != "https://www.taskade.com" {
        p.revocation_url = Some(format!("{base}/oauth2/revoke"));
    }
    p.api_bases = vec![format!("{base}/api/v1"), format!("{base}/oauth2/ping")];
    p.identity = IdentitySource::TaskadePing;
    // Taskade documents these two only; client credentials are refused.
    p.grant_types = vec!["authorization_code".into(), "refresh_token".into()];
    p.redirect = RedirectKind::Loopback;
    p.supports_pat = true;
    p.pat_help = Some("In Taskade, open Settings → API → Personal access tokens, create a token, and paste it here. It starts with tskdp_.".into());
    p.presets = vec![
        ApiPreset {
            label: "Who am I".into(),
            method: "GET".into(),
            path: format!("{base}/oauth2/ping"),
        },
        ApiPreset {
            label: "Workspaces".into(),
            method: "GET".into(),
            path: "workspaces".into(),
        },
        ApiPreset {
            label: "My projects".into(),
            method: "GET".into(),
            path: "me/projects".into(),
        },
    ];
    p
}

/// GitHub (OAuth apps; device flow; no refresh for classic OAuth apps).
pub fn github() -> ProviderSpec {
    let mut p = ProviderSpec::new("github", "GitHub");
    p.issuer = None;
    p.authorize_url = Some("https://github.com/login/oauth/authorize".into());
    p.token_url = Some("https://github.com/login/oauth/access_token".into());
    p.device_url = Some("https://github.com/login/device/code".into());
    p.api_bases = vec!["https://api.github.com".into()];
    p.identity = IdentitySource::GithubUser;
    p.grant_types = vec![
        "authorization_code".into(),
        "urn:ietf:params:oauth:grant-type:device_code".into(),
    ];
    p.default_scopes = vec!["read:user".into()];
    p.supports_pat = true;
    p.pat_help = Some("On GitHub, open Settings → Developer settings → Personal access tokens (https://github.com/settings/tokens), create a token, and paste it here.".into());
    p.app_help = Some("On GitHub, open Settings → Developer settings → OAuth Apps → New OAuth App (https://github.com/settings/developers). Any name and homepage will do. Paste the redirect URI below as the callback URL, register the app, and copy its Client ID here.".into());
    p.presets = vec![ApiPreset {
        label: "Who am I".into(),
        method: "GET".into(),
        path: "user".into(),
    }];
    p
}

/// Google (OIDC).
pub fn google() -> ProviderSpec {
    let mut p = ProviderSpec::new("google", "Google");
    p.issuer = Some("https://accounts.google.com".into());
    p.authorize_url = Some("https://accounts.google.com/o/oauth2/v2/auth".into());
    p.token_url = Some("https://oauth2.googleapis.com/token".into());
    p.revocation_url = Some("https://oauth2.googleapis.com/revoke".into());
    p.userinfo_url = Some("https://openidconnect.googleapis.com/v1/userinfo".into());
    p.device_url = Some("https://oauth2.googleapis.com/device/code".into());
    p.api_bases = vec!["https://www.googleapis.com".into()];
    p.identity = IdentitySource::Userinfo;
    p.default_scopes = vec!["openid".into(), "email".into(), "profile".into()];
    p.iss_required = true;
    // Google's machine access is service accounts (JWT bearer), not client credentials.
    p.grant_types = vec![
        "authorization_code".into(),
        "refresh_token".into(),
        "urn:ietf:params:oauth:grant-type:device_code".into(),
    ];
    p.app_help = Some("In the Google Cloud console (https://console.cloud.google.com/apis/credentials), choose Create credentials → OAuth client ID → Desktop app. Copy its Client ID and secret here. Desktop apps may use any loopback port, so the redirect below needs no registration.".into());
    p.presets = vec![ApiPreset {
        label: "Who am I".into(),
        method: "GET".into(),
        path: "https://openidconnect.googleapis.com/v1/userinfo".into(),
    }];
    p
}

/// Microsoft identity platform, `common` tenant (OIDC).
pub fn microsoft() -> ProviderSpec {
    let mut p = ProviderSpec::new("microsoft", "Microsoft");
    let base = "https://login.microsoftonline.com/common";
    // The common endpoint's issuer is tenant-specific, so `iss` cannot be pinned here.
    p.authorize_url = Some(format!("{base}/oauth2/v2.0/authorize"));
    p.token_url = Some(format!("{base}/oauth2/v2.0/token"));
    p.device_url = Some(format!("{base}/oauth2/v2.0/devicecode"));
    p.userinfo_url = Some("https://graph.microsoft.com/oidc/userinfo".into());
    p.grant_types = vec![
        "authorization_code".into(),
        "refresh_token".into(),
        "client_credentials".into(),
        "urn:ietf:params:oauth:grant-type:device_code".into(),
    ];
    p.api_bases = vec!["https://graph.microsoft.com".into()];
    p.identity = IdentitySource::Userinfo;
    p.default_scopes = vec![
        "openid".into(),
        "email".into(),
        "profile".into(),
        "offline_access".into(),
        "User.Read".into(),
    ];
    p.app_help = Some("In the Microsoft Entra admin center (https://entra.microsoft.com), open App registrations → New registration. Under Redirect URI choose \"Public client/native\" and paste the redirect URI below. Register, then copy the Application (client) ID here.".into());
    p.presets = vec![ApiPreset {
        label: "Who am I".into(),
        method: "GET".into(),
        path: "v1.0/me".into(),
    }];
    p
}

/// The built-in providers, Taskade first.
pub fn presets() -> Vec<ProviderSpec> {
    vec![taskade(), github(), google(), microsoft()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn taskade_preset_matches_the_documented_endpoints() {
        std::env::remove_var(TASKADE_BASE_ENV);
        let t = taskade();
        assert_eq!(
            t.authorize_url.as_deref(),
            Some("https://www.taskade.com/oauth2/authorize")
        );
        assert_eq!(
            t.token_url.as_deref(),
            Some("https://www.taskade.com/oauth2/token")
        );
        assert_eq!(
            t.registration_url.as_deref(),
            Some("https://www.taskade.com/oauth2/register")
        );
        assert_eq!(t.revocation_url, None);
        assert_eq!(t.identity, IdentitySource::TaskadePing);
        assert!(t.supports_pat);
        let labels: Vec<_> = t.presets.iter().map(|p| p.label.as_str()).collect();
        assert_eq!(labels, ["Who am I", "Workspaces", "My projects"]);
        assert_eq!(
            t.api_url("workspaces").unwrap(),
            "https://www.taskade.com/api/v1/workspaces"
        );
        assert_eq!(
            t.api_url(&t.presets[0].path).unwrap(),
            "https://www.taskade.com/oauth2/ping"
        );
    }

    /// S11: a token may only go to its own provider's API hosts.
    #[test]
    fn tokens_are_bound_to_their_provider_hosts_s11() {
        std::env::remove_var(TASKADE_BASE_ENV);
        let t = taskade();
        assert!(t.may_receive_token("https://www.taskade.com/api/v1/workspaces"));
        assert!(t.may_receive_token("https://www.taskade.com/oauth2/ping"));
        assert!(!t.may_receive_token("https://evil.example/api/v1/workspaces"));
        assert!(!t.may_receive_token("https://www.taskade.com.evil.example/api/v1/x"));
        assert!(!t.may_receive_token("http://www.taskade.com/api/v1/workspaces"));
        assert!(!t.may_receive_token("https://www.taskade.com/oauth2/token"));
        assert!(!github().may_receive_token("https://www.taskade.com/api/v1/workspaces"));
    }

    /// F9: where test hooks are compiled out (release builds), the override is ignored.
    #[test]
    fn taskade_override_is_a_test_hook_only() {
        assert_eq!(
            taskade_base_from(Some("https://staging.example".into()), false),
            "https://www.taskade.com"
        );
        assert_eq!(
            TEST_HOOKS,
            cfg!(debug_assertions) || cfg!(feature = "test-hooks")
        );
    }

    /// S20: the Taskade override is honoured only for https or loopback.
    #[test]
    fn taskade_override_needs_https_or_loopback_s20() {
        let real = "https://www.taskade.com";
        assert_eq!(taskade_base_from(None, true), real);
        assert_eq!(taskade_base_from(Some(String::new()), true), real);
        assert_eq!(
            taskade_base_from(Some("http://evil.example".into()), true),
            real
        );
        assert_eq!(
            taskade_base_from(Some("javascript:alert(1)".into()), true),
            real
        );
        assert_eq!(
            taskade_base_from(Some("http://127.0.0.1:9/".into()), true),
            "http://127.0.0.1:9"
        );
        assert_eq!(
            taskade_base_from(Some("https://staging.example".into()), true),
            "https://staging.example"
        );
    }
}
