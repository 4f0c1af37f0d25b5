//! Test API calls and `latchkey api`: only to the account's own API (S11), with at most one
//! refresh-and-retry after a 401 (S16).

use super::{oauth_user_error, scope_union, Accounts};
use crate::errors::{ExitClass, UserError};
use crate::oauth::http::HttpError;
use crate::oauth::OAuthError;
use crate::vault::index::AccountKind;
use serde::Serialize;
use std::time::Instant;

/// A test API call's result.
#[derive(Debug, Clone, Serialize)]
pub struct ApiResponse {
    /// HTTP status.
    pub status: u16,
    /// Wall time in milliseconds.
    pub millis: u64,
    /// Response headers (no request headers, so no token).
    pub headers: Vec<(String, String)>,
    /// Body as text (lossy UTF-8).
    pub body: String,
    /// Whether a refresh-and-retry happened after a 401 (S16).
    pub retried_after_refresh: bool,
}

impl Accounts {
    /// Sends an API request with the account's token, only to its provider's API hosts (S11),
    /// with at most one refresh-and-retry on 401 (S16).
    pub async fn api_call(
        &self,
        id: &str,
        method: &str,
        path: &str,
        headers: &[(String, String)],
        body: Option<Vec<u8>>,
    ) -> Result<ApiResponse, UserError> {
        let entry = self.account(id)?;
        let p = self.bound_provider(&entry)?;
        let url = p.api_url(path).ok_or_else(|| {
            UserError::new(
                "no_api_base",
                format!("{} has no API address configured.", p.name),
                "Add one with `latchkey provider add ... --api-base URL`.",
                ExitClass::Other,
            )
        })?;
        if !p.may_receive_token(&url) {
            return Err(UserError::new(
                "foreign_host",
                format!(
                    "Latchkey only sends your {} token to {}'s own API.",
                    p.name, p.name
                ),
                format!("Use a path under {}.", p.api_bases.join(" or ")),
                ExitClass::Other,
            ));
        }
        let method =
            http::Method::from_bytes(method.to_ascii_uppercase().as_bytes()).map_err(|_| {
                UserError::new(
                    "bad_method",
                    format!("{method:?} is not an HTTP method."),
                    "Use GET, POST, PUT, PATCH or DELETE.",
                    ExitClass::Other,
                )
            })?;
        let handed = self.handed_token(id, 30).await?;
        let key = handed.dpop_key(&format!(
            "Sign in to this account again: latchkey login {}",
            p.id
        ))?;
        let mut token = handed.token;
        let mut retried = false;
        loop {
            let mut b = http::Request::builder()
                .method(method.clone())
                .uri(&url)
                .header("accept", "application/json");
            for (k, v) in headers {
                // The token and the host are Latchkey's to set (S11): a caller's `Host` could
                // route the token to another virtual host on the same address.
                if k.eq_ignore_ascii_case("authorization") || k.eq_ignore_ascii_case("host") {
                    continue;
                }
                b = b.header(k.as_str(), v.as_str());
            }
            if body.is_some()
                && !headers
                    .iter()
                    .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
            {
                b = b.header("content-type", "application/json");
            }
            let req = b.body(body.clone().unwrap_or_default()).map_err(|_| {
                UserError::new(
                    "bad_header",
                    "A header is not valid.",
                    "Use the form 'Name: value'.",
                    ExitClass::Other,
                )
            })?;
            let started = Instant::now();
            let resp =
                match crate::oauth::dpop::send_authorized(&self.http()?, req, &token, key.as_ref())
                    .await
                {
                    Ok(r) => r,
                    Err(HttpError::Unavailable { status, .. }) => {
                        return Ok(ApiResponse {
                            status,
                            millis: started.elapsed().as_millis() as u64,
                            headers: Vec::new(),
                            body: String::new(),
                            retried_after_refresh: retried,
                        })
                    }
                    Err(e) => {
                        return Err(oauth_user_error(
                            OAuthError::Network {
                                provider: p.name.clone(),
                                source: e,
                            },
                            &p.id,
                        ))
                    }
                };
            let millis = started.elapsed().as_millis() as u64;
            let status = resp.status().as_u16();
            let www = resp
                .headers()
                .get("www-authenticate")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string();
            // An API that asks for more scope (RFC 6750 §3.1 puts it on 403; some servers
            // answer 401): say which, and how to get it, keeping what was granted. No refresh
            // would help (S16).
            let error = crate::oauth::resource::challenge_param(&www, "error");
            if (status == 401 || status == 403) && error.as_deref() == Some("insufficient_scope") {
                let wanted: Vec<String> = crate::oauth::resource::challenge_param(&www, "scope")
                    .map(|s| {
                        s.split_whitespace()
                            .map(|x| crate::text::plain_text(x, 200))
                            .collect()
                    })
                    .unwrap_or_default();
                let all = scope_union(&entry.scopes, &wanted);
                let args: String = all.iter().map(|s| format!(" --scope {s}")).collect();
                return Err(UserError::new(
                    "needs_more_access",
                    format!(
                        "{} needs more access than this account was given{}.",
                        p.name,
                        if wanted.is_empty() {
                            String::new()
                        } else {
                            format!(" (it asks for: {})", wanted.join(" "))
                        }
                    ),
                    if wanted.is_empty() {
                        format!("Sign in again and allow more: latchkey login {}", p.id)
                    } else {
                        format!("Sign in again and allow it: latchkey login {}{args}", p.id)
                    },
                    ExitClass::NeedsSignIn,
                ));
            }
            // S16: 401 (or a 403 that says `invalid_token`, as some servers answer for an
            // expired token) → one refresh and retry; insufficient_scope never refreshes.
            let expired =
                status == 401 || (status == 403 && error.as_deref() == Some("invalid_token"));
            if expired && !retried && entry.kind != AccountKind::PersonalToken {
                retried = true;
                token = self.refresh_now(id).await?;
                continue;
            }
            let headers = resp
                .headers()
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
                .collect();
            return Ok(ApiResponse {
                status,
                millis,
                headers,
                body: String::from_utf8_lossy(resp.body()).into_owned(),
                retried_after_refresh: retried,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_step_up_keeps_the_granted_scopes() {
        let v = |x: &[&str]| x.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            scope_union(
                &v(&["mcp:read", "mcp:write"]),
                &v(&["mcp:read", "mcp:admin"])
            ),
            v(&["mcp:read", "mcp:write", "mcp:admin"])
        );
    }
}
