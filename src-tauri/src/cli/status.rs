//! `latchkey status`: where each token is kept, who it belongs to, and the fix for anything
//! wrong.

use super::output::{json_out, println_out};
use crate::accounts::{AccountView, Accounts};
use crate::errors::{ExitClass, UserError};

pub(super) fn status_phrase(a: &AccountView) -> String {
    match a.status.as_str() {
        "valid" => match a.expires_at {
            Some(t) => format!("valid, expires in {}", human_secs(t - crate::clock::now())),
            None => "valid".into(),
        },
        "no_expiry" => "valid, no expiry".into(),
        "needs_sign_in" => "needs sign-in".into(),
        "provider_changed" => "sends nothing: the provider's settings changed".into(),
        "offline" => "offline, will retry".into(),
        other => other.into(),
    }
}

pub(super) fn human_secs(s: i64) -> String {
    match s {
        i64::MIN..=0 => "now (refreshes on next use)".into(),
        1..=89 => format!("{s} s"),
        90..=5399 => format!("{} min", (s + 30) / 60),
        _ => format!("{} h", (s + 1800) / 3600),
    }
}

pub(super) fn status(account: Option<&str>, json: bool) -> Result<i32, UserError> {
    let accounts = Accounts::open()?;
    let store = accounts.vault().store_description().to_string();
    let all = accounts.list()?;
    let selected: Vec<AccountView> = match account {
        Some(name) => {
            let id = accounts.resolve(Some(name))?;
            all.into_iter().filter(|a| a.id == id).collect()
        }
        None => all,
    };
    let mut worst = 0;
    let mut report = Vec::new();
    for a in &selected {
        let record = accounts.vault().read_record(&a.id);
        let (problem, fix, code) = match (&record, a.status.as_str()) {
            (Err(e), _) => (
                Some(format!("can't read the token: {e}")),
                Some(e.fix()),
                ExitClass::Store as i32,
            ),
            (Ok(None), _) => (
                Some("the token is missing from the credential store".to_string()),
                Some(format!("run: latchkey login {}", a.provider)),
                ExitClass::NeedsSignIn as i32,
            ),
            (Ok(Some(_)), "needs_sign_in") => (
                Some("the provider no longer accepts this sign-in".to_string()),
                Some(format!("run: latchkey login {}", a.provider)),
                ExitClass::NeedsSignIn as i32,
            ),
            (Ok(Some(_)), "provider_changed") => (
                Some(format!("provider {}'s settings changed after this account signed in, so its tokens are sent nowhere", a.provider)),
                Some(format!("if you changed them, sign in again: latchkey login {}; if not, check `latchkey providers`", a.provider)),
                ExitClass::NeedsSignIn as i32,
            ),
            (Ok(Some(_)), "offline") => (
                Some("the last refresh could not reach the provider; tokens are kept".to_string()),
                Some(format!(
                    "check your connection, then run: latchkey refresh {}",
                    a.id
                )),
                0,
            ),
            _ => (None, None, 0),
        };
        worst = worst.max(code);
        if json {
            report.push(serde_json::json!({
                "id": a.id, "provider": a.provider, "identity": a.identity, "status": a.status, "expires_at": a.expires_at,
                "scopes": a.scopes, "kind": a.kind, "store": store, "problem": problem, "fix": fix,
            }));
            continue;
        }
        println_out(&format!(
            "{} ({}, {})",
            a.id,
            a.provider_name,
            a.identity.as_deref().unwrap_or("identity unknown")
        ))?;
        match &problem {
            None => println_out(&format!("  ✓ Token {}", status_phrase(a)))?,
            Some(p) => println_out(&format!("  ✗ {p}\n    {}", fix.clone().unwrap_or_default()))?,
        }
        println_out(&format!("  - Stored in: {store}"))?;
        if a.kind == crate::vault::index::AccountKind::ClientCredentials {
            println_out("  - Machine access: no refresh token; Latchkey asks the provider for a new token when this one expires")?;
        }
        println_out(&format!(
            "  - Scopes: {}",
            if a.scopes.is_empty() {
                "(none reported)".into()
            } else {
                a.scopes.join(", ")
            }
        ))?;
        if let Some(n) = &a.last_refresh {
            println_out(&format!(
                "  - Last refresh: {} ago, {}{}",
                human_secs(crate::clock::now() - n.at),
                n.outcome.replace('_', " "),
                n.detail
                    .as_ref()
                    .map(|d| format!(" ({d})"))
                    .unwrap_or_default()
            ))?;
        }
    }
    if json {
        json_out(&report)?;
    } else {
        if selected.is_empty() {
            println_out("No accounts yet. Connect one with `latchkey login taskade`.")?;
        }
        if account.is_none() {
            let net = crate::oauth::network::report(&accounts.vault().index()?.settings.network);
            println_out("Network")?;
            println_out(&format!(
                "  - Trusted certificate authorities: {}",
                net.trust.join("; ")
            ))?;
            println_out(&format!("  - Proxy: {}", net.proxy))?;
        }
    }
    Ok(worst)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(human_secs(3000), "50 min");
        assert_eq!(human_secs(30), "30 s");
        assert_eq!(human_secs(7200), "2 h");
    }
}
