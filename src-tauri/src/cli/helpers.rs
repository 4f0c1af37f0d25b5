//! Helpers for the tools people already use (issue 27): git's credential helper protocol,
//! Kubernetes' exec credential plugin, docker's credential helper protocol, and
//! `token --json`. Each hands out a token only for an address its account may receive tokens
//! for (S11), refreshing first; none ever prompts.

use super::output::println_out;
use super::runtime::runtime;
use crate::accounts::{Accounts, HandedToken};
use crate::errors::{ExitClass, UserError};
use std::io::{BufRead, Write};

/// The token stays valid at least this long when handed to a tool (a push may take a while).
const MIN_VALID: i64 = 120;

/// RFC 3339 UTC for unix seconds (Kubernetes' `expirationTimestamp`).
pub(super) fn rfc3339(t: i64) -> String {
    let days = t.div_euclid(86_400);
    let secs = t.rem_euclid(86_400);
    // Howard Hinnant's civil-from-days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

fn bad_input(what: &str, fix: &str) -> UserError {
    UserError::new(
        "bad_helper_input",
        what.to_string(),
        fix.to_string(),
        ExitClass::Other,
    )
}

/// A token for git, Kubernetes or docker: none of them can send a DPoP proof, so a token bound
/// to a key (which would only be refused) is not handed out.
fn handed(accounts: &Accounts, id: &str, what: &str) -> Result<HandedToken, UserError> {
    super::consent::gate(accounts, id, what)?;
    let t = runtime()?.block_on(accounts.handed_token(id, MIN_VALID))?;
    if t.dpop_key.is_some() {
        return Err(UserError::new(
            "dpop_bound",
            format!("{id}'s tokens are bound to a key (DPoP), and this tool can't send the proof they need."),
            format!("Use `latchkey header {id} --method M --url URL` with a tool that takes headers, or connect an account whose provider doesn't use DPoP."),
            ExitClass::Other,
        ));
    }
    Ok(t)
}

/// `latchkey token ACCOUNT --json`.
pub(super) fn token_json(account: Option<&str>, min_valid: i64) -> Result<i32, UserError> {
    let accounts = Accounts::open()?;
    let id = accounts.resolve(account)?;
    super::consent::gate(&accounts, &id, "token")?;
    let t = runtime()?.block_on(accounts.handed_token(&id, min_valid))?;
    let v = serde_json::json!({
        "access_token": t.token.expose(),
        "token_type": t.token_type,
        "expires_at": t.expires_at,
        "scopes": t.scopes,
    });
    println_out(&v.to_string())?;
    Ok(0)
}

/// `latchkey header ACCOUNT [--method M] [--url URL] [--json]`.
pub(super) fn header(
    account: &str,
    method: &str,
    url: Option<&str>,
    json: bool,
) -> Result<i32, UserError> {
    let accounts = Accounts::open()?;
    let id = accounts.resolve(Some(account))?;
    if let Some(u) = url {
        if accounts.account_for_url(u, Some(&id))?.is_none() {
            return Err(UserError::new(
                "foreign_host",
                format!("Account {id} may not send tokens to {}.", crate::text::plain_text(u, 200)),
                "Use an address under its provider's API bases (latchkey providers --json lists them).",
                ExitClass::Other,
            ));
        }
    }
    super::consent::gate(&accounts, &id, "header")?;
    let t = runtime()?.block_on(accounts.handed_token(&id, MIN_VALID))?;
    let method = method.to_ascii_uppercase();
    if t.dpop_key.is_some() && url.is_none() {
        return Err(UserError::new(
            "needs_url",
            format!(
                "{id}'s token is bound to a key (DPoP): its proof names the request's address."
            ),
            format!("Add the address: latchkey header {id} --method {method} --url URL"),
            ExitClass::Other,
        ));
    }
    let fix = format!(
        "Sign in to this account again: latchkey login {}",
        t.provider
    );
    let mut headers = t
        .request_headers(&method, url.unwrap_or_default(), &fix)?
        .into_iter()
        .map(|(_, v)| v);
    let authorization = headers
        .next()
        .unwrap_or_else(|| crate::secret::Secret::new(String::new()));
    let authorization = authorization.expose();
    let proof = headers.next();
    let out = if json {
        let mut v = serde_json::json!({ "Authorization": authorization });
        if let Some(p) = &proof {
            v["DPoP"] = p.expose().into();
        }
        format!("{v}\n")
    } else {
        let mut s = format!("Authorization: {authorization}\n");
        if let Some(p) = &proof {
            s.push_str(&format!("DPoP: {}\n", p.expose()));
        }
        s
    };
    write_raw(&out)?;
    Ok(0)
}

/// What git said, one `key=value` per line until a blank line (git-credential(1)).
#[derive(Debug, Default, PartialEq)]
pub(super) struct GitRequest {
    protocol: Option<String>,
    host: Option<String>,
    path: Option<String>,
    url: Option<String>,
    capabilities: Vec<String>,
}

pub(super) fn parse_git(input: &str) -> Result<GitRequest, UserError> {
    let mut r = GitRequest::default();
    for line in input.lines() {
        if line.is_empty() {
            break;
        }
        let Some((k, v)) = line.split_once('=') else {
            return Err(bad_input(
                "git's credential request has a line without '='",
                "This command is for git to run: set it up with `latchkey git-credential --setup HOST`.",
            ));
        };
        match k {
            "protocol" => r.protocol = Some(v.into()),
            "host" => r.host = Some(v.into()),
            "path" => r.path = Some(v.into()),
            "url" => r.url = Some(v.into()),
            "capability[]" => r.capabilities.push(v.into()),
            _ => {}
        }
    }
    Ok(r)
}

impl GitRequest {
    /// The address git is asking about.
    fn address(&self) -> Option<String> {
        if let (Some(p), Some(h)) = (&self.protocol, &self.host) {
            return Some(format!(
                "{p}://{h}/{}",
                self.path.as_deref().unwrap_or("").trim_start_matches('/')
            ));
        }
        self.url.clone()
    }
}

/// The user name git sends with the token as a password (servers that take tokens that way).
fn git_username(provider: &str, given: Option<&str>) -> String {
    given.map_or_else(
        || {
            if provider == "github" {
                "x-access-token".into()
            } else {
                "oauth2".into()
            }
        },
        str::to_string,
    )
}

/// `latchkey git-credential get|store|erase`.
pub(super) fn git_credential(
    action: &str,
    account: Option<&str>,
    username: Option<&str>,
) -> Result<i32, UserError> {
    let mut input = String::new();
    std::io::stdin().lock().read_to_string_capped(&mut input)?;
    let req = parse_git(&input)?;
    match action {
        "get" | "erase" => {}
        // git hands every credential it used to every helper; Latchkey's are its own.
        "store" => return Ok(0),
        other => return Err(bad_input(
            &format!(
                "git asked for {:?}, which is not get, store or erase",
                crate::text::plain_text(other, 20)
            ),
            "Update git, or set the helper up again with `latchkey git-credential --setup HOST`.",
        )),
    }
    let Some(address) = req.address() else {
        return Err(bad_input(
            "git's credential request names no protocol and host",
            "This command is for git to run: set it up with `latchkey git-credential --setup HOST`.",
        ));
    };
    let accounts = Accounts::open()?;
    // Nothing to offer for an address no account may receive tokens for: quiet, so git goes
    // on to its next helper or asks the person.
    let Some(id) = accounts.account_for_url(&address, account)? else {
        return Ok(0);
    };
    if action == "erase" {
        // git rejected the token: refresh once; the account is never deleted.
        let _ = runtime()?.block_on(accounts.refresh_now(&id));
        return Ok(0);
    }
    let t = handed(&accounts, &id, "git")?;
    let mut out = String::new();
    if req.capabilities.iter().any(|c| c == "authtype") {
        // git 2.46+: the token as a pre-encoded Bearer credential, not to be stored.
        out.push_str("capability[]=authtype\n");
        out.push_str("authtype=Bearer\n");
        out.push_str(&format!("credential={}\n", t.token.expose()));
        out.push_str("ephemeral=1\n");
    } else {
        out.push_str(&format!(
            "username={}\n",
            git_username(&t.provider, username)
        ));
        out.push_str(&format!("password={}\n", t.token.expose()));
    }
    if let Some(exp) = t.expires_at {
        out.push_str(&format!("password_expiry_utc={exp}\n"));
    }
    write_raw(&out)?;
    Ok(0)
}

/// Writes the line that sets the helper up for HOST in the person's global git config.
pub(super) fn git_setup(host: &str, account: Option<&str>) -> Result<i32, UserError> {
    let given = host.trim().trim_end_matches('/');
    let base = if given.contains("://") {
        given.to_string()
    } else {
        format!("https://{given}")
    };
    let parsed = url::Url::parse(&base).ok().filter(|u| {
        matches!(u.scheme(), "https" | "http") && u.host_str().is_some() && u.query().is_none()
    });
    if parsed.is_none() || given.contains([' ', '\'', '"']) {
        return Err(bad_input(
            "give the git server's host name, e.g. git.example.com (or its https:// address)",
            "Run: latchkey git-credential --setup HOST [--account ACCOUNT]",
        ));
    }
    let accounts = Accounts::open()?;
    let url = format!("{base}/");
    if accounts.account_for_url(&url, account)?.is_none() {
        return Err(UserError::new(
            "not_bound",
            format!("No account of yours may send tokens to {url}."),
            "Add the server as an API base of the provider (latchkey provider add ID --issuer URL --api-base https://HOST/), sign in, then run this again.",
            ExitClass::Other,
        ));
    }
    let helper = match account {
        Some(a) => format!("!latchkey git-credential --account {a}"),
        None => "!latchkey git-credential".to_string(),
    };
    let key = format!("credential.{base}.helper");
    let run = |args: &[&str]| std::process::Command::new("git").args(args).status();
    // An empty value first clears helpers from other config files for this host (gitcredentials(7)).
    let ok = run(&["config", "--global", "--replace-all", &key, ""])
        .and_then(|_| run(&["config", "--global", "--add", &key, &helper]))
        .is_ok_and(|s| s.success());
    if !ok {
        return Err(UserError::new(
            "git_config",
            "Couldn't write git's configuration.",
            format!("Run it yourself: git config --global --add {key} '{helper}'"),
            ExitClass::Other,
        ));
    }
    eprintln!("git now asks Latchkey for {base}: {key} = {helper}");
    Ok(0)
}

/// `latchkey kube-credential ACCOUNT`: an ExecCredential for client-go and friends.
pub(super) fn kube_credential(account: &str, server_arg: Option<&str>) -> Result<i32, UserError> {
    let info: serde_json::Value = std::env::var("KUBERNETES_EXEC_INFO")
        .ok()
        .and_then(|v| serde_json::from_str(&v).ok())
        .unwrap_or_default();
    let api_version = info["apiVersion"]
        .as_str()
        .filter(|v| v.starts_with("client.authentication.k8s.io/"))
        .unwrap_or("client.authentication.k8s.io/v1")
        .to_string();
    let accounts = Accounts::open()?;
    let id = accounts.resolve(Some(account))?;
    // With provideClusterInfo the cluster's address comes along: it must be one this account
    // may send tokens to (S11). Without it, the account's own binding can't be checked.
    let Some(server) = info["spec"]["cluster"]["server"].as_str().or(server_arg) else {
        return Err(UserError::new(
            "no_cluster_info",
            "The Kubernetes client did not say which cluster it is calling.",
            "Set provideClusterInfo: true in the kubeconfig's exec section, or add --server URL to its args (latchkey kube-credential --setup prints both).",
            ExitClass::Other,
        ));
    };
    if accounts.account_for_url(server, Some(&id))?.is_none() {
        return Err(UserError::new(
            "not_bound",
            format!("Account {id} may not send tokens to {}.", crate::text::plain_text(server, 200)),
            "Use an account whose provider lists the cluster's address as an API base (latchkey provider add … --api-base URL).",
            ExitClass::Other,
        ));
    }
    let t = handed(&accounts, &id, "kubernetes")?;
    let mut status = serde_json::json!({ "token": t.token.expose() });
    if let Some(exp) = t.expires_at {
        status["expirationTimestamp"] = rfc3339(exp).into();
    }
    let v =
        serde_json::json!({"apiVersion": api_version, "kind": "ExecCredential", "status": status});
    write_raw(&format!("{v}\n"))?;
    Ok(0)
}

/// `latchkey kube-credential --setup ACCOUNT --cluster NAME`: the kubeconfig part to paste.
pub(super) fn kube_setup(
    account: &str,
    cluster: &str,
    server: Option<&str>,
) -> Result<i32, UserError> {
    let accounts = Accounts::open()?;
    let id = accounts.resolve(Some(account))?;
    let user = format!("latchkey-{id}");
    let (args, kubectl_args) = match server {
        Some(s) => (
            format!("[kube-credential, {id}, --server, {s}]"),
            format!(
                "--exec-arg=kube-credential --exec-arg={id} --exec-arg=--server --exec-arg={s}"
            ),
        ),
        None => (
            format!("[kube-credential, {id}]"),
            format!("--exec-arg=kube-credential --exec-arg={id}"),
        ),
    };
    println_out(&format!(
        "# Add to ~/.kube/config (or run the kubectl lines below).\nusers:\n- name: {user}\n  user:\n    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: latchkey\n      args: {args}\n      interactiveMode: Never\n      provideClusterInfo: true\ncontexts:\n- name: {cluster}-latchkey\n  context:\n    cluster: {cluster}\n    user: {user}\n# kubectl config set-credentials {user} --exec-api-version=client.authentication.k8s.io/v1 --exec-command=latchkey {kubectl_args} --exec-interactive-mode=Never --exec-provide-cluster-info=true\n# kubectl config set-context {cluster}-latchkey --cluster={cluster} --user={user}"
    ))?;
    Ok(0)
}

/// `docker-credential-latchkey get|list|store|erase` (docker's credential helper protocol).
pub(super) fn docker_credential(action: &str) -> Result<i32, UserError> {
    let mut input = String::new();
    std::io::stdin().lock().read_to_string_capped(&mut input)?;
    match action {
        "store" | "erase" => Ok(0),
        "list" => {
            let accounts = Accounts::open()?;
            let mut map = serde_json::Map::new();
            for p in accounts.providers()? {
                if accounts.list()?.iter().any(|a| a.provider == p.id) {
                    for base in &p.api_bases {
                        map.insert(base.clone(), "oauth2".into());
                    }
                }
            }
            write_raw(&format!("{}\n", serde_json::Value::Object(map)))?;
            Ok(0)
        }
        "get" => {
            let server = input.trim();
            if server.is_empty() || server.contains(char::is_whitespace) {
                return Err(bad_input(
                    "docker gave no registry address on stdin",
                    "This command is for docker to run: add \"credHelpers\": {\"REGISTRY\": \"latchkey\"} to ~/.docker/config.json.",
                ));
            }
            let url = if server.contains("://") {
                server.to_string()
            } else {
                format!("https://{server}/")
            };
            let accounts = Accounts::open()?;
            let Some(id) = accounts.account_for_url(&url, None)? else {
                // The exact words docker reads as "no credentials here" (docker-credential-helpers).
                write_raw("credentials not found in native keychain\n")?;
                return Ok(1);
            };
            let t = handed(&accounts, &id, "docker")?;
            let v = serde_json::json!({"ServerURL": server, "Username": "oauth2", "Secret": t.token.expose()});
            write_raw(&format!("{v}\n"))?;
            Ok(0)
        }
        other => Err(bad_input(
            &format!(
                "docker asked for {:?}, which is not get, list, store or erase",
                crate::text::plain_text(other, 20)
            ),
            "Update docker, or check the credsStore / credHelpers lines in ~/.docker/config.json.",
        )),
    }
}

/// Writes exactly these bytes to stdout (tokens included: these are the helpers' answers).
fn write_raw(s: &str) -> Result<(), UserError> {
    let mut o = std::io::stdout().lock();
    o.write_all(s.as_bytes())
        .and_then(|_| o.flush())
        .map_err(super::output::out_err)
}

/// Reads stdin up to 64 KiB (a helper's request is a few lines).
trait ReadCapped {
    fn read_to_string_capped(&mut self, out: &mut String) -> Result<(), UserError>;
}

impl<R: BufRead> ReadCapped for R {
    fn read_to_string_capped(&mut self, out: &mut String) -> Result<(), UserError> {
        use std::io::Read;
        let mut buf = Vec::new();
        self.take(64 * 1024).read_to_end(&mut buf).map_err(|_| {
            bad_input(
                "couldn't read the request on stdin",
                "Run it from git, kubectl or docker.",
            )
        })?;
        *out = String::from_utf8(buf).map_err(|_| {
            bad_input(
                "the request on stdin is not text",
                "Run it from git, kubectl or docker.",
            )
        })?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_rfc3339_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_796_491_800), "2026-12-05T17:30:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn git_requests_are_read_and_malformed_ones_refused() {
        let r = parse_git("capability[]=authtype\nprotocol=https\nhost=git.example.com:8443\npath=org/repo.git\n\nignored=1\n").unwrap();
        assert_eq!(
            r.address().unwrap(),
            "https://git.example.com:8443/org/repo.git"
        );
        assert_eq!(r.capabilities, vec!["authtype"]);
        let r = parse_git("protocol=https\nhost=h\n").unwrap();
        assert_eq!(r.address().unwrap(), "https://h/");
        assert!(parse_git("garbage\n").is_err());
        assert_eq!(parse_git("").unwrap().address(), None);
        assert_eq!(git_username("github", None), "x-access-token");
        assert_eq!(git_username("corp", None), "oauth2");
        assert_eq!(git_username("corp", Some("me")), "me");
    }
}
