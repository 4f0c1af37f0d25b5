//! `latchkey mcp connect` (issue 38) between real MCP parts: the official TypeScript SDK's
//! stdio client and the Python SDK's as the AI app, the TypeScript SDK's Streamable HTTP and
//! legacy HTTP+SSE servers (tests/idp/mcp.js) as the remote server, behind tokens from the
//! real test IdP, the session's real Secret Service, and the automated browser.

use latchkey_e2e::*;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

/// An executable shell script in the test's home.
fn script(home: &TestHome, name: &str, body: &str) -> PathBuf {
    let path = home.path().join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// A browser command that counts its launches in `home/launches`, then signs in.
fn counting_browser(home: &TestHome) -> PathBuf {
    let body = format!(
        "echo launch >> '{}'\nexec '{}' \"$1\"",
        home.path().join("launches").display(),
        test_browser().display()
    );
    script(home, "browser.sh", &body)
}

/// The lines a pipe carries, as they arrive.
fn lines_of(pipe: impl std::io::Read + Send + 'static) -> std::sync::mpsc::Receiver<String> {
    let (tx, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for l in BufReader::new(pipe).lines().map_while(Result::ok) {
            let _ = tx.send(l);
        }
    });
    lines
}

fn launches(home: &TestHome) -> usize {
    std::fs::read_to_string(home.path().join("launches"))
        .map(|s| s.lines().count())
        .unwrap_or(0)
}

/// Runs the TypeScript SDK's stdio client against `latchkey mcp connect ARGS`; returns its
/// report and the bridge's stderr.
fn ts_client(home: &TestHome, args: &[&str], steps: Value) -> (Value, String) {
    let mut bridge_args = vec!["mcp", "connect"];
    bridge_args.extend_from_slice(args);
    let spec = json!({
        "command": bin(),
        "args": bridge_args,
        "env": {
            "LATCHKEY_HOME": home.path(),
            "LATCHKEY_BROWSER": counting_browser(home),
        },
        "steps": steps,
    });
    let child = Command::new("node")
        .arg(root().join("tests/idp/mcp-client.mjs"))
        .env("MCP_CLIENT", spec.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("node");
    let o = wait_output(child, Duration::from_secs(120));
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    let report = out
        .lines()
        .last()
        .and_then(|l| serde_json::from_str(l).ok())
        .unwrap_or_else(|| {
            let head: String = out.chars().take(300).collect();
            panic!("no report: {head} / {}", stderr_of(&o))
        });
    (report, stderr_of(&o))
}

fn step(report: &Value, i: usize) -> &Value {
    &report["steps"][i]
}

/// `latchkey list --json`.
fn listed(home: &TestHome) -> Value {
    serde_json::from_slice(&home.run(&["list", "--json"], None).stdout).unwrap()
}

fn mcp_stats(idp: &Idp) -> Value {
    idp.stats()["mcp"].clone()
}

fn port_of(idp: &Idp) -> String {
    idp.issuer.rsplit(':').next().unwrap().to_string()
}

/// The whole session through one sign-in, on `localhost` (plain http, as developers run MCP
/// servers): tools, a progress notification and a server-initiated request over SSE, a long
/// answer, a message the server starts on its GET stream, the session id and protocol version
/// kept, and the session deleted when the AI app closes stdin.
#[test]
fn the_sdk_client_reaches_a_protected_sdk_server_on_localhost_through_one_sign_in() {
    let idp = Idp::start();
    let home = TestHome::new();
    let url = format!("http://localhost:{}/sdk-mcp", port_of(&idp));
    let (r, err) = ts_client(
        &home,
        &[&url, "--yes"],
        json!([
            "list",
            {"call": "echo", "args": {"text": "hello"}},
            {"call": "progress", "args": {"steps": 3}},
            {"call": "ask-client"},
            {"call": "long", "args": {"kib": 512}},
            {"call": "notify-later"},
            "wait-log",
            {"call": "whoami"}
        ]),
    );
    assert!(r.get("error").is_none(), "{r} {err}");
    assert_eq!(r["server"]["name"], "latchkey-test-mcp", "{r}");
    assert_eq!(
        step(&r, 0)["list"],
        json!([
            "admin-echo",
            "ask-client",
            "echo",
            "long",
            "notify-later",
            "progress",
            "whoami"
        ])
    );
    assert_eq!(step(&r, 1)["text"], "hello");
    assert_eq!(step(&r, 2)["text"], "done 3");
    assert_eq!(
        step(&r, 2)["progress"],
        json!([1, 2, 3]),
        "progress over SSE: {r}"
    );
    assert_eq!(step(&r, 3)["text"], "client said: hello from the client");
    assert_eq!(step(&r, 4)["length"], 512 * 1024);
    assert_eq!(step(&r, 6)["logs"], json!(["later"]), "the GET stream: {r}");
    let who: Value = serde_json::from_str(step(&r, 7)["text"].as_str().unwrap()).unwrap();
    assert!(who["scope"].as_str().unwrap().contains("mcp:read"), "{who}");
    assert_eq!(launches(&home), 1, "one browser sign-in: {err}");
    // The account is the person's, bound to the server, in the OS store.
    let listed = listed(&home);
    assert_eq!(listed[0]["resource"], url.as_str(), "{listed}");
    let s = mcp_stats(&idp);
    assert_eq!(s["sessions"], 1, "{s}");
    assert_eq!(
        s["unversioned"], 0,
        "MCP-Protocol-Version on every request after initialize: {s}"
    );
    assert_eq!(s["versions"].as_array().unwrap().len(), 1, "{s}");
    assert!(
        s["gets"].as_u64().unwrap() >= 1,
        "the GET stream was opened: {s}"
    );
    assert_eq!(s["deletes"], 1, "stdin closed: the session is deleted: {s}");
    // A second start uses the stored account: no browser.
    let (r2, _) = ts_client(
        &home,
        &[&url],
        json!([{"call": "echo", "args": {"text": "again"}}]),
    );
    assert_eq!(step(&r2, 0)["text"], "again", "{r2}");
    assert_eq!(launches(&home), 1);
}

/// The Python SDK's client, a second independent implementation, through the bridge.
#[test]
fn the_python_sdk_client_works_through_the_bridge() {
    let idp = Idp::start();
    let home = TestHome::new();
    let url = format!("{}/sdk-mcp", idp.issuer);
    let python = root().join("tests/tools/.venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: ./dev.sh test installs it",
        python.display()
    );
    let browser = counting_browser(&home);
    let child = Command::new(python)
        .arg(root().join("tests/tools/mcp_client.py"))
        .arg(&url)
        .arg(bin())
        .env("LATCHKEY_HOME", home.path())
        .env("LATCHKEY_BROWSER", &browser)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python");
    let o = wait_output(child, Duration::from_secs(120));
    let out = String::from_utf8_lossy(&o.stdout);
    let r: Value = serde_json::from_str(out.lines().last().unwrap_or("{}"))
        .unwrap_or_else(|_| panic!("{out} / {}", stderr_of(&o)));
    assert_eq!(r["server"], "latchkey-test-mcp", "{r} {}", stderr_of(&o));
    assert_eq!(r["echo"], "from python");
    assert!(r["tools"].as_array().unwrap().iter().any(|t| t == "whoami"));
    assert_eq!(launches(&home), 1);
    assert_eq!(mcp_stats(&idp)["deletes"], 1);
    // Issue 39: the hand-out to the AI app is recorded with the client named from the OS.
    let o = home.run(&["activity", "--json"], None);
    let log: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(log[0]["what"], "mcp", "{log}");
    assert!(
        log[0]["program"]["name"]
            .as_str()
            .unwrap()
            .starts_with("python"),
        "{log}"
    );
}

/// A token the server refuses mid-session (401 invalid_token) gets one refresh through the
/// shared lock, then the call is retried; a token that goes stale between calls is renewed
/// before it is sent. The session goes on.
#[test]
fn a_refused_or_expiring_token_is_renewed_mid_session() {
    // 33 s tokens: the bridge renews a token with less than 30 s left.
    let idp = Idp::start_with(IdpConfig {
        access_ttl: 33,
        rotate: true,
        ..Default::default()
    });
    let home = TestHome::new();
    let url = format!("{}/sdk-mcp", idp.issuer);
    // Sign in once, outside the session under test.
    let (r, err) = ts_client(
        &home,
        &[&url],
        json!([{"call": "echo", "args": {"text": "a"}}]),
    );
    assert_eq!(step(&r, 0)["text"], "a", "{r} {err}");
    let before = idp.stats()["token_requests"].as_u64().unwrap();
    reqwest::blocking::Client::new()
        .post(format!("{}/__test/mcp-refuse-current", idp.issuer))
        .send()
        .unwrap();
    let (r, err) = ts_client(
        &home,
        &[&url],
        json!([{"call": "echo", "args": {"text": "b"}}, {"sleep": 4000}, {"call": "echo", "args": {"text": "c"}}]),
    );
    assert_eq!(step(&r, 0)["text"], "b", "{r} {err}");
    assert_eq!(step(&r, 2)["text"], "c", "{r} {err}");
    let s = idp.stats();
    let refreshes = s["token_requests"].as_u64().unwrap() - before;
    // One for the refusal, one for the token that went stale during the pause.
    assert_eq!(refreshes, 2, "{s}");
    assert_eq!(s["invalid_grant"], 0, "{s}");
    assert_eq!(s["mcp"]["sessions"], 2, "one session each run: {s}");
    assert_eq!(launches(&home), 1);
}

/// S40: eight bridges started at the same moment for one server with no account yet: one browser
/// sign-in (the others wait for it, and say so), then eight refused tokens make one refresh,
/// and no refresh token is ever replayed (rotation is on: a replay would be invalid_grant).
#[test]
fn eight_bridges_share_one_sign_in_and_one_refresh() {
    let idp = Idp::start_with(IdpConfig {
        rotate: true,
        ..Default::default()
    });
    let home = TestHome::new();
    let url = format!("{}/sdk-mcp", idp.issuer);
    let refuse = format!("{}/__test/mcp-refuse-current", idp.issuer);
    let results: Vec<(Value, String)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|i| {
                let (home, url) = (&home, &url);
                s.spawn(move || {
                    ts_client(
                        home,
                        &[url],
                        json!([
                            {"call": "echo", "args": {"text": format!("first {i}")}},
                            {"sleep": 3000},
                            {"call": "echo", "args": {"text": format!("second {i}")}}
                        ]),
                    )
                })
            })
            .collect();
        // Once every bridge is through its first call (initialize, initialized, echo), the
        // server refuses the token they all share.
        let deadline = std::time::Instant::now() + Duration::from_secs(90);
        while mcp_stats(&idp)["posts"].as_u64().unwrap_or(0) < 24
            && std::time::Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(50));
        }
        reqwest::blocking::Client::new()
            .post(&refuse)
            .send()
            .unwrap();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (i, (r, err)) in results.iter().enumerate() {
        assert_eq!(step(r, 0)["text"], format!("first {i}"), "{r} {err}");
        assert_eq!(step(r, 2)["text"], format!("second {i}"), "{r} {err}");
    }
    assert_eq!(launches(&home), 1, "one browser sign-in for eight bridges");
    assert!(
        results
            .iter()
            .any(|(_, e)| e.contains("another Latchkey bridge is signing in")),
        "the waiting bridges say so on stderr"
    );
    let s = idp.stats();
    // One code exchange, one refresh for eight refusals.
    assert_eq!(s["token_requests"], 2, "{s}");
    assert_eq!(s["invalid_grant"], 0, "{s}");
    // Eight challenges before the sign-in, then eight refusals of the shared token.
    assert!(s["mcp"]["refused"].as_u64().unwrap() >= 16, "{s}");
}

/// A tool that needs more scope (403 insufficient_scope) signs in once more for the union of
/// the scopes, then the call succeeds; what was granted is kept.
#[test]
fn a_tool_that_needs_more_scope_steps_up_once() {
    let idp = Idp::start();
    let home = TestHome::new();
    let url = format!("{}/sdk-mcp", idp.issuer);
    let (r, err) = ts_client(
        &home,
        &[&url],
        json!([{"call": "echo", "args": {"text": "x"}}, {"call": "admin-echo", "args": {"text": "y"}}, {"call": "whoami"}]),
    );
    assert_eq!(step(&r, 1)["text"], "admin:y", "{r} {err}");
    let who: Value = serde_json::from_str(step(&r, 2)["text"].as_str().unwrap()).unwrap();
    let scope = who["scope"].as_str().unwrap();
    assert!(
        scope.contains("mcp:admin") && scope.contains("mcp:read"),
        "{who}"
    );
    assert_eq!(
        launches(&home),
        2,
        "the first sign-in and one step-up: {err}"
    );
    let listed = listed(&home);
    assert_eq!(
        listed.as_array().unwrap().len(),
        1,
        "the same account, signed in again: {listed}"
    );
}

/// The 2024-11-05 HTTP+SSE transport (a legacy server with no OAuth): `auto` falls back to
/// it when the first POST gets 405, and works with no token.
#[test]
fn a_legacy_sse_server_without_oauth_is_reached_by_the_fallback() {
    let idp = Idp::start();
    let home = TestHome::new();
    let url = format!("{}/sdk-mcp-sse", idp.issuer);
    let (r, err) = ts_client(
        &home,
        &[&url],
        json!(["list", {"call": "progress", "args": {"steps": 2}}, {"call": "echo", "args": {"text": "old"}}]),
    );
    assert_eq!(r["server"]["name"], "latchkey-test-legacy-mcp", "{r} {err}");
    assert_eq!(step(&r, 1)["progress"], json!([1, 2]));
    assert_eq!(step(&r, 2)["text"], "old");
    assert!(mcp_stats(&idp)["legacy_posts"].as_u64().unwrap() >= 3);
    assert_eq!(launches(&home), 0, "no OAuth, no sign-in");
    let index = home.index();
    assert!(
        index.is_null() || index["accounts"] == json!([]),
        "nothing stored: {index}"
    );
}

/// Drives the bridge directly: one JSON line per message on stdin, and every stdout line must
/// be JSON (the protocol channel carries nothing else).
struct Bridge {
    child: std::process::Child,
    lines: std::sync::mpsc::Receiver<String>,
}

impl Bridge {
    fn start(home: &TestHome, url: &str) -> Self {
        Self::start_env(home, url, &[])
    }

    fn start_env(home: &TestHome, url: &str, env: &[(&str, &std::path::Path)]) -> Self {
        let mut child = home
            .cli()
            .args(["mcp", "connect", url])
            .envs(env.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let lines = lines_of(child.stdout.take().unwrap());
        Bridge { child, lines }
    }

    fn send(&mut self, line: &str) {
        let stdin = self.child.stdin.as_mut().unwrap();
        writeln!(stdin, "{line}").unwrap();
        stdin.flush().unwrap();
    }

    fn answer(&self) -> Value {
        let l = self
            .lines
            .recv_timeout(Duration::from_secs(30))
            .expect("an answer");
        serde_json::from_str(&l)
            .unwrap_or_else(|_| panic!("stdout carried a line that is not JSON: {l:?}"))
    }

    fn alive(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    fn finish(mut self) -> (Option<i32>, String) {
        drop(self.child.stdin.take());
        let o = wait_output(self.child, Duration::from_secs(20));
        assert!(
            o.stdout.is_empty()
                || String::from_utf8_lossy(&o.stdout)
                    .lines()
                    .all(|l| serde_json::from_str::<Value>(l).is_ok())
        );
        (o.status.code(), stderr_of(&o))
    }
}

/// S39, S40: bad input gets a JSON-RPC error or one line on stderr, and the bridge stays up: a line
/// that is not JSON, a server that is down, a server answering 5xx; plain http to a
/// non-loopback address is refused at start.
#[test]
fn bad_input_gets_a_clear_answer_and_the_bridge_stays_up() {
    let idp = Idp::start();
    let home = TestHome::new();
    // Not JSON, then a server that answers 503: each answered, the bridge still up.
    let mut b = Bridge::start(&home, &format!("{}/sdk-mcp-down", idp.issuer));
    b.send("this is not json");
    let e = b.answer();
    assert_eq!(e["error"]["code"], -32700, "{e}");
    assert!(e["id"].is_null());
    b.send(r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#);
    let e = b.answer();
    assert_eq!(e["id"], 1, "{e}");
    let msg = e["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("127.0.0.1") && msg.contains("503") && msg.contains("upstream overloaded"),
        "{msg}"
    );
    b.send(r#"{"jsonrpc":"2.0","id":2,"method":"tools/list"}"#);
    assert_eq!(b.answer()["id"], 2, "the next message tries again");
    assert!(b.alive());
    let (code, _) = b.finish();
    assert_eq!(code, Some(0));
    // A server that is down: named, with the reason.
    let port = free_port();
    let mut b = Bridge::start(&home, &format!("http://127.0.0.1:{port}/mcp"));
    b.send(r#"{"jsonrpc":"2.0","id":"a","method":"initialize","params":{}}"#);
    let e = b.answer();
    let msg = e["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains(&format!("127.0.0.1:{port}")) && msg.contains("could not be reached"),
        "{msg}"
    );
    assert!(b.alive());
    b.finish();
    // Plain http elsewhere is refused before anything is sent.
    let o = home.run(&["mcp", "connect", "http://mcp.example.com/mcp"], Some(""));
    assert_eq!(o.status.code(), Some(1));
    assert!(o.stdout.is_empty());
    assert!(stderr_of(&o).contains("https"), "{}", stderr_of(&o));
    // A header naming an unset variable is refused with the fix.
    let o = home.run(
        &[
            "mcp",
            "connect",
            &format!("{}/sdk-mcp", idp.issuer),
            "--header",
            "X-Key: ${LK_UNSET_VAR}",
        ],
        Some(""),
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr_of(&o).contains("LK_UNSET_VAR"), "{}", stderr_of(&o));
}

/// S41: `localhost` is loopback for `latchkey login --resource` too, resolved only to loopback.
#[test]
fn login_by_a_localhost_address_works() {
    let idp = Idp::start();
    let home = TestHome::new();
    let url = format!("http://localhost:{}/sdk-mcp", port_of(&idp));
    let o = home.run_env(
        &["login", "--resource", &url, "--yes"],
        None,
        &[("LATCHKEY_BROWSER", test_browser().to_str().unwrap())],
    );
    assert!(o.status.success(), "{}", stderr_of(&o));
    let listed = listed(&home);
    assert_eq!(listed[0]["resource"], url.as_str(), "{listed}");
}

/// S39: a legacy server's stream may name its POST endpoint only on its own origin; one that
/// names another site gets nothing, and the AI app is told why.
#[test]
fn a_legacy_endpoint_on_another_origin_is_refused_s39() {
    let idp = Idp::start();
    let home = TestHome::new();
    let mut b = Bridge::start(&home, &format!("{}/sdk-mcp-sse-elsewhere", idp.issuer));
    b.send(r#"{"jsonrpc":"2.0","id":7,"method":"initialize","params":{}}"#);
    let e = b.answer();
    let msg = e["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("another site") && msg.contains("127.0.0.2:9"),
        "{msg}"
    );
    b.finish();
}

/// The AI app stops the bridge while it waits for the person's sign-in: the sign-in's state
/// and verifier are forgotten, in the index and in the credential store.
#[test]
fn a_bridge_stopped_mid_sign_in_leaves_nothing_pending() {
    let idp = Idp::start();
    let home = TestHome::new();
    let url = format!("{}/sdk-mcp", idp.issuer);
    // A browser that opens and never signs in.
    let browser = script(&home, "slow-browser.sh", "exec sleep 120");
    let mut b = Bridge::start_env(&home, &url, &[("LATCHKEY_BROWSER", &browser)]);
    let said = lines_of(b.child.stderr.take().unwrap());
    b.send(r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}"#);
    // Waiting for the person: the browser is open.
    loop {
        let l = said
            .recv_timeout(Duration::from_secs(60))
            .expect("the bridge says it opened the browser");
        if l.contains("Opened your browser") {
            break;
        }
    }
    std::thread::sleep(Duration::from_millis(500));
    let handle = home.index()["pending"][0]["handle"]
        .as_str()
        .expect("a sign-in is pending")
        .to_string();
    assert!(
        secret_tool_lookup(&format!("pending:{handle}")).is_some(),
        "its state and verifier are in the credential store while it waits"
    );
    let _ = Command::new("kill")
        .args(["-TERM", &b.child.id().to_string()])
        .status();
    let o = wait_output(b.child, Duration::from_secs(30));
    assert!(!o.status.success(), "the bridge stopped");
    assert_eq!(
        home.index()["pending"],
        json!([]),
        "nothing pending in the index"
    );
    assert!(
        secret_tool_lookup(&format!("pending:{handle}")).is_none(),
        "nothing pending in the credential store"
    );
    assert_eq!(home.index()["accounts"], json!([]));
}

/// A DPoP server (RFC 9449) whose MCP endpoint demands its own nonce: the account's tokens
/// are bound to its key, every request carries a fresh proof for that method and address, and
/// the bridge answers `use_dpop_nonce` once, then keeps the nonce for the next calls.
#[test]
fn a_dpop_server_with_a_resource_nonce_gets_a_fresh_proof_per_request() {
    let idp = Idp::start_with(IdpConfig {
        dpop: Some((false, true)),
        ..Default::default()
    });
    let home = TestHome::new();
    let url = format!("{}/sdk-mcp", idp.issuer);
    let (r, err) = ts_client(
        &home,
        &[&url],
        json!([{"call": "echo", "args": {"text": "p1"}}, {"call": "echo", "args": {"text": "p2"}}, "list"]),
    );
    assert!(r.get("error").is_none(), "{r} {err}");
    assert_eq!(step(&r, 0)["text"], "p1", "{r} {err}");
    assert_eq!(step(&r, 1)["text"], "p2");
    let s = mcp_stats(&idp);
    // Every authorized request was a DPoP one (initialize, initialized, the GET stream, the calls,
    // DELETE), each with its own proof (the server refuses a replayed jti).
    assert!(s["dpop_ok"].as_u64().unwrap() >= 5, "{s}");
    assert_eq!(
        s["dpop_nonce_asks"], 1,
        "the nonce is asked for once, then remembered: {s}"
    );
    let listed = listed(&home);
    let id = listed[0]["id"].as_str().unwrap();
    let t: Value =
        serde_json::from_slice(&home.run(&["token", id, "--json"], None).stdout).unwrap();
    assert_eq!(
        t["token_type"]
            .as_str()
            .map(str::to_ascii_lowercase)
            .as_deref(),
        Some("dpop"),
        "{t}"
    );
}
