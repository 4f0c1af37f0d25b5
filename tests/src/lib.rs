//! Harness for Latchkey's end-to-end suites. Every part is real: the `latchkey` binary, the
//! `oidc-provider` IdP in `tests/idp`, the Secret Service of the session, and a WebKit window
//! driven by WebKitWebDriver. Run the suites inside `tests/session.sh` (see the README).

pub mod battery;

use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

/// target/<profile>: where test executables (in deps/) and bench binaries live.
pub fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test exe path");
    let dir = exe.parent().expect("exe dir");
    if dir.file_name().is_some_and(|n| n == "deps") {
        dir.parent().expect("target/<profile>").to_path_buf()
    } else {
        dir.to_path_buf()
    }
}

/// The built `latchkey` binary next to the test executable (target/<profile>/latchkey).
pub fn bin() -> PathBuf {
    let b = profile_dir().join("latchkey");
    assert!(
        b.exists(),
        "{} is missing: run `cargo build -p latchkey` first (the test command does)",
        b.display()
    );
    b
}

/// Fails early, with the fix, when a test runs outside `tests/session.sh`.
pub fn require_session() {
    assert!(
        std::env::var_os("LATCHKEY_SESSION_ROOT").is_some(),
        "end-to-end tests need the headless session: run them as `tests/session.sh cargo test -p latchkey-e2e`"
    );
}

/// The marker the test IdP puts at the start of every token and code it issues (S19).
pub const CANARY: &str = "lkCANARY";

/// Every file under `dir` that contains the canary marker.
pub fn canary_hits(dir: &Path) -> Vec<PathBuf> {
    let mut hits = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if std::fs::read(&p)
                .is_ok_and(|b| b.windows(CANARY.len()).any(|w| w == CANARY.as_bytes()))
            {
                hits.push(p);
            }
        }
    }
    hits
}

/// A private LATCHKEY_HOME for one test.
pub struct TestHome {
    dir: tempfile::TempDir,
    /// Where the Taskade preset points for every command from this home, once a test signs
    /// in there: an account keeps the endpoints it signed in with (S24), so later commands
    /// must see the same pointer.
    taskade: std::sync::Mutex<Option<String>>,
}

/// The canary check: when a test's home goes away, no file in it (the index, the app's and
/// WebDriver's logs with every webview event payload) may hold a token or code the IdP issued.
impl Drop for TestHome {
    fn drop(&mut self) {
        kill_apps(self.path());
        let hits = canary_hits(self.path());
        if !hits.is_empty() && !std::thread::panicking() {
            let first = std::fs::read_to_string(&hits[0]).unwrap_or_default();
            let line = first
                .lines()
                .find(|l| l.contains(CANARY))
                .unwrap_or("")
                .to_string();
            panic!("S19 canary: an IdP-issued secret reached {hits:?}: {line}");
        }
    }
}

impl Default for TestHome {
    fn default() -> Self {
        Self::new()
    }
}

impl TestHome {
    /// Creates an empty data dir.
    pub fn new() -> Self {
        require_session();
        TestHome {
            dir: tempfile::Builder::new()
                .prefix("lk-home-")
                .tempdir()
                .expect("temp dir"),
            taskade: Default::default(),
        }
    }

    /// Points the Taskade preset at `idp` for every later command and app from this home.
    pub fn point_taskade_at(&self, idp: &Idp) {
        *self.taskade.lock().unwrap() = Some(idp.issuer.clone());
    }

    /// The environment that says where the Taskade preset points, if a test pointed it.
    fn taskade_env(&self) -> Option<(&'static str, String)> {
        let base = self.taskade.lock().unwrap().clone()?;
        Some(("LATCHKEY_TASKADE_BASE", base))
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// A `latchkey` command with this home and no display: the CLI must never need one.
    pub fn cli(&self) -> Command {
        self.headless(&bin())
    }

    /// `latchkey-desktop` with this home and no display (its answers that need no window).
    pub fn desktop_cli(&self) -> Command {
        self.headless(&bin().with_file_name("latchkey-desktop"))
    }

    fn headless(&self, program: &Path) -> Command {
        let mut c = Command::new(program);
        c.env("LATCHKEY_HOME", self.path())
            .env_remove("DISPLAY")
            .env_remove("WAYLAND_DISPLAY")
            .envs(self.taskade_env());
        c
    }

    /// Runs the CLI with `args` and optional stdin; returns the output.
    pub fn run(&self, args: &[&str], stdin: Option<&str>) -> Output {
        self.run_env(args, stdin, &[])
    }

    /// Runs the CLI with `args`, optional stdin and extra environment; returns the output.
    pub fn run_env(&self, args: &[&str], stdin: Option<&str>, env: &[(&str, &str)]) -> Output {
        let mut c = self.cli();
        c.args(args)
            .envs(env.iter().copied())
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = c.spawn().expect("spawn latchkey");
        if let Some(s) = stdin {
            use std::io::Write;
            // A command that refuses its arguments exits before reading stdin: a broken pipe
            // then is its answer, not the harness's failure.
            let written = child.stdin.take().expect("stdin").write_all(s.as_bytes());
            if let Err(e) = written {
                assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "write stdin: {e}");
            }
        }
        wait_output(child, Duration::from_secs(90))
    }

    /// The index file as JSON (or Null when absent).
    pub fn index(&self) -> Value {
        std::fs::read(self.path().join("accounts.json"))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or(Value::Null)
    }
}

/// Waits for a child with a deadline; kills it when the deadline passes. Its stderr (errors,
/// logs) must never carry an IdP-issued secret (S19 canary).
pub fn wait_output(child: Child, limit: Duration) -> Output {
    let o = wait_output_unchecked(child, limit);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !err.contains(CANARY),
        "S19 canary: an IdP-issued secret reached stderr: {err}"
    );
    o
}

fn wait_output_unchecked(mut child: Child, limit: Duration) -> Output {
    let start = Instant::now();
    loop {
        if child.try_wait().expect("try_wait").is_some() {
            return child.wait_with_output().expect("output");
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let out = child.wait_with_output().expect("output");
            panic!(
                "process did not finish within {limit:?}; stderr: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Runs the CLI against `idp`: the Taskade preset points there and the test browser
/// completes browser sign-ins. Optional stdin and extra environment.
pub fn run_against(
    home: &TestHome,
    idp: &Idp,
    args: &[&str],
    stdin: Option<&str>,
    env: &[(&str, &str)],
) -> Output {
    home.point_taskade_at(idp);
    let (browser, latchkey) = (test_browser(), bin());
    let mut all = vec![
        ("LATCHKEY_BROWSER", browser.to_str().expect("utf-8 path")),
        ("LATCHKEY_BIN", latchkey.to_str().expect("utf-8 path")),
    ];
    all.extend_from_slice(env);
    home.run_env(args, stdin, &all)
}

/// [`run_against`] with no stdin, and how long it took.
pub fn run_timed(
    home: &TestHome,
    idp: &Idp,
    args: &[&str],
    env: &[(&str, &str)],
) -> (Output, Duration) {
    let t = Instant::now();
    let o = run_against(home, idp, args, None, env);
    (o, t.elapsed())
}

/// Starts `latchkey login PROVIDER --no-browser`, returns the sign-in address it prints
/// (what a browser would open), and stops it there.
pub fn printed_sign_in_url(home: &TestHome, provider: &str) -> String {
    let mut c = home.cli();
    c.args(["login", provider, "--no-browser"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = c.spawn().expect("latchkey login");
    let mut err = BufReader::new(child.stderr.take().expect("stderr"));
    let shown = loop {
        let mut line = String::new();
        assert!(
            err.read_line(&mut line).expect("stderr line") > 0,
            "no address printed"
        );
        if line.starts_with("http") {
            break line.trim().to_string();
        }
    };
    let _ = child.kill();
    let _ = child.wait();
    shown
}

/// A command's stderr as text.
pub fn stderr_of(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

/// The pid of this session's gnome-keyring-daemon: whoever owns `org.freedesktop.secrets` on
/// this session's bus (never a `pgrep` across the machine, which finds other sessions' daemons).
pub fn keyring_daemon_pid() -> u32 {
    let o = Command::new("gdbus")
        .args([
            "call",
            "--session",
            "--dest",
            "org.freedesktop.DBus",
            "--object-path",
            "/org/freedesktop/DBus",
            "--method",
            "org.freedesktop.DBus.GetConnectionUnixProcessID",
            "org.freedesktop.secrets",
        ])
        .output()
        .expect("gdbus");
    // "(uint32 1234,)"
    String::from_utf8_lossy(&o.stdout)
        .trim()
        .trim_start_matches("(uint32 ")
        .trim_end_matches(",)")
        .parse()
        .unwrap_or_else(|_| {
            panic!(
                "no Secret Service on this session's bus: {}",
                String::from_utf8_lossy(&o.stderr)
            )
        })
}

/// Looks a Secret Service item up with `secret-tool`, proving the real store is in use.
pub fn secret_tool_lookup(user: &str) -> Option<String> {
    // A locked or stopped keyring makes secret-tool wait for a prompt forever: bound it.
    let child = Command::new("timeout")
        .args([
            "30",
            "secret-tool",
            "lookup",
            "service",
            "latchkey",
            "username",
            user,
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("secret-tool");
    let out = wait_output_unchecked(child, Duration::from_secs(40));
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).to_string())
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// Makes `ca.pem` (a CA for this run) and `server.pem`/`server.key` (127.0.0.1, signed by it)
/// in `dir` with openssl.
pub fn make_ca_and_server_cert(dir: &Path) {
    let run = |args: &[&str]| {
        let o = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("openssl");
        assert!(
            o.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    };
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
    ];
    let mut ca = vec!["req", "-x509"];
    ca.extend(ec);
    ca.extend([
        "-days",
        "2",
        "-subj",
        "/CN=Latchkey Test Company Root CA",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
    ]);
    run(&ca);
    let mut csr = vec!["req"];
    csr.extend(ec);
    csr.extend([
        "-subj",
        "/CN=127.0.0.1",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
    ]);
    run(&csr);
    std::fs::write(
        dir.join("ext.cnf"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .expect("ext.cnf");
    run(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "1",
        "-extfile",
        "ext.cnf",
        "-out",
        "server.pem",
    ]);
}

/// Settings for the test IdP.
#[derive(Clone, Debug)]
pub struct IdpConfig {
    /// Access-token lifetime, seconds.
    pub access_ttl: u64,
    /// Rotate refresh tokens on every use.
    pub rotate: bool,
    /// Personal access tokens the Taskade stand-in accepts.
    pub pats: Vec<String>,
    /// oidc-provider's discovery: `"split"` (RFC 8414 without userinfo, OpenID without
    /// revocation) or `"no-userinfo"` (no userinfo endpoint at all); default both complete.
    pub discovery: Option<&'static str>,
    /// oidc-provider's scopes, when not its usual `openid offline_access email profile api`.
    pub scopes: Option<Vec<&'static str>>,
    /// The client authentication methods it accepts, when not all of oidc-provider's.
    pub auth_methods: Option<Vec<&'static str>>,
    /// Take client metadata documents as client ids, and serve the repository's document
    /// over https on loopback (a certificate made for the run, trusted by the IdP only).
    pub client_metadata: bool,
    /// Serve the issuer over https with a certificate signed by a CA made for the run
    /// ([`Idp::ca_file`]), which nothing trusts unless the test says so.
    pub tls: bool,
    /// DPoP (RFC 9449): `Some((token endpoint nonces, /api/dpop nonces))`; off by default.
    pub dpop: Option<(bool, bool)>,
    /// Pushed authorization requests (RFC 9126): `Some(required)`; off by default.
    pub par: Option<bool>,
}

impl Default for IdpConfig {
    fn default() -> Self {
        IdpConfig {
            access_ttl: 3600,
            rotate: false,
            pats: Vec::new(),
            discovery: None,
            scopes: None,
            auth_methods: None,
            client_metadata: false,
            tls: false,
            dpop: None,
            par: None,
        }
    }
}

/// A running `oidc-provider` on 127.0.0.1:<random port>; stopped on drop.
pub struct Idp {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub issuer: String,
    /// With `client_metadata`: where the IdP serves Latchkey's client metadata document.
    pub client_metadata_url: String,
    http: reqwest::blocking::Client,
    _certs: Option<tempfile::TempDir>,
    _tls: Option<tempfile::TempDir>,
    ca: Option<PathBuf>,
}

impl Idp {
    /// Starts the IdP with default settings.
    pub fn start() -> Self {
        Self::start_with(IdpConfig::default())
    }

    /// Starts the IdP and waits for its issuer line.
    pub fn start_with(cfg: IdpConfig) -> Self {
        let dir = root().join("tests/idp");
        assert!(
            dir.join("node_modules/oidc-provider").exists(),
            "run `npm ci` in tests/idp first (the test command does)"
        );
        let mut conf = json!({"accessTtl": cfg.access_ttl, "rotate": cfg.rotate, "pats": cfg.pats, "discovery": cfg.discovery, "scopes": cfg.scopes, "authMethods": cfg.auth_methods});
        if let Some(require) = cfg.par {
            conf["par"] = json!({ "require": require });
        }
        if let Some((nonce, api_nonce)) = cfg.dpop {
            conf["dpop"] = json!({"nonce": nonce, "apiNonce": api_nonce});
        }
        let mut node = Command::new("node");
        node.arg("server.js");
        let certs = cfg.client_metadata.then(|| {
            // A certificate for 127.0.0.1, made for this run: openssl comes with
            // ca-certificates on Debian and Ubuntu.
            let d = tempfile::tempdir().expect("cert dir");
            let (cert, key) = (d.path().join("cert.pem"), d.path().join("key.pem"));
            let ok = Command::new("openssl")
                .args([
                    "req",
                    "-x509",
                    "-newkey",
                    "ec",
                    "-pkeyopt",
                    "ec_paramgen_curve:P-256",
                    "-nodes",
                    "-days",
                    "1",
                    "-subj",
                    "/CN=127.0.0.1",
                    "-addext",
                    "subjectAltName=IP:127.0.0.1",
                    "-keyout",
                ])
                .arg(&key)
                .arg("-out")
                .arg(&cert)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .expect("openssl");
            assert!(ok.success(), "openssl req failed");
            conf["cimd"] = json!({
                "cert": cert, "key": key,
                "doc": root().join("src-tauri/packaging/website/oauth/client.json"),
            });
            node.env("NODE_EXTRA_CA_CERTS", &cert);
            d
        });
        let tls = cfg.tls.then(|| {
            let d = tempfile::tempdir().expect("CA dir");
            make_ca_and_server_cert(d.path());
            conf["tls"] =
                json!({"cert": d.path().join("server.pem"), "key": d.path().join("server.key")});
            d
        });
        let mut idp = Self::spawn(&mut node, &dir, &conf);
        if let Some(d) = &tls {
            // The harness's own client trusts the test CA (it plays the browser and the admin).
            let pem = std::fs::read(d.path().join("ca.pem")).expect("ca.pem");
            idp.http = reqwest::blocking::Client::builder()
                .cookie_store(true)
                .redirect(reqwest::redirect::Policy::none())
                .timeout(Duration::from_secs(20))
                .pool_idle_timeout(Duration::from_secs(4))
                .add_root_certificate(reqwest::Certificate::from_pem(&pem).expect("CA"))
                .build()
                .expect("client");
            idp.ca = Some(d.path().join("ca.pem"));
        }
        idp._certs = certs;
        idp._tls = tls;
        idp
    }

    /// With `tls`: the test CA's certificate (PEM).
    pub fn ca_file(&self) -> &Path {
        self.ca.as_deref().expect("an IdP started with tls")
    }

    /// Starts the second, independent server: django-oauth-toolkit (tests/idp2). Its issuer
    /// has a path (`…/o`), it always rotates refresh tokens, and it lists no email scope.
    pub fn start_django(cfg: IdpConfig) -> Self {
        let dir = root().join("tests/idp2");
        let python = dir.join(".venv/bin/python");
        assert!(
            python.exists(),
            "run `python3 -m venv tests/idp2/.venv && tests/idp2/.venv/bin/pip install -r tests/idp2/requirements.txt` first (the test command does)"
        );
        let conf = json!({"accessTtl": cfg.access_ttl, "authMethods": cfg.auth_methods});
        Self::spawn(Command::new(python).arg("server.py"), &dir, &conf)
    }

    fn spawn(cmd: &mut Command, dir: &Path, conf: &Value) -> Self {
        let mut child = cmd
            .current_dir(dir)
            .env("IDP_CONFIG", conf.to_string())
            .stdout(Stdio::piped())
            .stderr(
                std::fs::File::create(
                    std::env::temp_dir().join(format!("latchkey-idp-{}.log", std::process::id())),
                )
                .map(Stdio::from)
                .unwrap_or(Stdio::null()),
            )
            .spawn()
            .expect("start the test IdP");
        let mut reader = BufReader::new(child.stdout.take().expect("stdout"));
        let mut line = String::new();
        reader.read_line(&mut line).expect("issuer line");
        // Keep draining: node dies of EPIPE if anything it prints later meets a closed pipe.
        std::thread::spawn(move || {
            let mut sink = String::new();
            while reader.read_line(&mut sink).map(|n| n > 0).unwrap_or(false) {
                sink.clear();
            }
        });
        let v: Value = serde_json::from_str(&line)
            .unwrap_or_else(|_| panic!("IdP did not print its issuer: {line:?}"));
        let issuer = v["issuer"].as_str().expect("issuer").to_string();
        let client_metadata_url = v["cimdUrl"].as_str().unwrap_or_default().to_string();
        let http = reqwest::blocking::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(20))
            // Node closes an idle keep-alive connection after 5 s; a test that waits longer
            // between two calls would otherwise reuse one the server is closing (reset).
            .pool_idle_timeout(Duration::from_secs(4))
            .build()
            .expect("client");
        Idp {
            child,
            issuer,
            client_metadata_url,
            http,
            _certs: None,
            _tls: None,
            ca: None,
        }
    }

    /// Counters: token_requests, invalid_grant, revocations, registrations.
    pub fn stats(&self) -> Value {
        self.http
            .get(format!("{}/__test/stats", self.issuer))
            .send()
            .expect("stats")
            .json()
            .expect("stats json")
    }

    /// Changes behaviour: `{"deny": true}`, `{"tokenStatus": 500}`, `{"tokenDelayMs": 9000}`.
    pub fn set_mode(&self, mode: Value) {
        self.http
            .post(format!("{}/__test/mode", self.issuer))
            .json(&mode)
            .send()
            .expect("mode");
    }

    /// Acts as the person's browser: follows the IdP's redirects (with cookies) through login
    /// and consent, and returns the first Location that leaves the issuer: the app's redirect.
    pub fn approve(&self, authorize_url: &str) -> String {
        let mut url = authorize_url.to_string();
        for _ in 0..12 {
            let resp = self.http.get(&url).send().expect("IdP request");
            let status = resp.status();
            let Some(loc) = resp
                .headers()
                .get("location")
                .and_then(|l| l.to_str().ok())
                .map(str::to_string)
            else {
                let body = resp.text().unwrap_or_default();
                panic!(
                    "IdP stopped without a redirect ({status}) at {url}: {}",
                    &body[..body.len().min(400)]
                );
            };
            let next = url::Url::parse(&url)
                .expect("url")
                .join(&loc)
                .map(|u| u.to_string())
                .unwrap_or(loc.clone());
            if !next.starts_with(&self.issuer) {
                return if loc.starts_with("dev.latchkey:") {
                    loc
                } else {
                    next
                };
            }
            url = next;
        }
        panic!("too many redirects at the IdP");
    }

    /// Calls the bearer-protected stand-in route with `token`; returns the HTTP status.
    pub fn check_token(&self, token: &str) -> u16 {
        self.http
            .get(format!("{}/api/protected", self.issuer))
            .bearer_auth(token)
            .send()
            .expect("protected")
            .status()
            .as_u16()
    }

    /// RFC 7662 introspection as the public client: is the token active?
    pub fn introspect_active(&self, token: &str, client_id: &str) -> bool {
        let v: Value = self
            .http
            .post(format!("{}/oauth2/introspect", self.issuer))
            .form(&[("token", token), ("client_id", client_id)])
            .send()
            .expect("introspect")
            .json()
            .expect("introspection json");
        v["active"].as_bool().unwrap_or(false)
    }
}

impl Drop for Idp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The desktop app started as a plain process (no WebDriver), its stderr captured to a file.
pub struct AppProcess {
    child: Child,
    /// Captured log.
    pub log: PathBuf,
}

impl AppProcess {
    /// Launches `latchkey` with `args` in `home`.
    pub fn start(home: &TestHome, args: &[&str], env: &[(&str, &str)]) -> Self {
        let log = home.path().join(format!("app-{}.log", free_port()));
        let f = std::fs::File::create(&log).expect("log file");
        let mut c = Command::new(bin());
        c.args(args)
            .env("LATCHKEY_HOME", home.path())
            .env("LATCHKEY_LOG", "info,latchkey=debug")
            .envs(home.taskade_env())
            .stdout(Stdio::null())
            .stderr(f);
        for (k, v) in env {
            c.env(k, v);
        }
        AppProcess {
            child: c.spawn().expect("start app"),
            log,
        }
    }

    /// The log so far.
    pub fn log_text(&self) -> String {
        let mut s = String::new();
        if let Ok(mut f) = std::fs::File::open(&self.log) {
            let _ = f.read_to_string(&mut s);
        }
        s
    }

    /// Waits until the log contains `needle`.
    pub fn wait_log(&self, needle: &str, limit: Duration) -> String {
        wait_for_log(|| self.log_text(), needle, limit)
    }

    /// True while the process runs.
    pub fn running(&mut self) -> bool {
        self.child.try_wait().ok().flatten().is_none()
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for AppProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The app in a real WebKit window, driven by WebKitWebDriver (no tauri-driver in between).
pub struct WebApp {
    home: PathBuf,
    driver: Child,
    base: String,
    session: String,
    http: reqwest::blocking::Client,
    /// The driver's and the app's captured stderr.
    pub log: PathBuf,
    /// When the new-session request (which launches the app) was sent.
    pub launched: Instant,
}

const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

impl WebApp {
    /// Starts WebKitWebDriver, then the app through a new session.
    pub fn start(home: &TestHome, env: &[(&str, &str)]) -> Self {
        Self::start_binary(home, &bin(), env)
    }

    /// Same, for any Tauri binary (the benchmarks launch a bare app too).
    pub fn start_binary(home: &TestHome, binary: &Path, env: &[(&str, &str)]) -> Self {
        let port = free_port();
        let log = home.path().join(format!("webapp-{port}.log"));
        let f = std::fs::File::create(&log).expect("log");
        let mut c = Command::new("WebKitWebDriver");
        c.arg(format!("--port={port}"))
            .env("TAURI_WEBVIEW_AUTOMATION", "true")
            .env("LATCHKEY_HOME", home.path())
            .env("LATCHKEY_LOG", "info,latchkey=debug")
            .stdout(Stdio::null())
            .stderr(f);
        // WebKit 2.50's snapshot never answers when the page renders on the CPU, which Latchkey
        // does on machines without a GPU (like this one), so WebDriver screenshots would hang.
        // Sessions keep WebKit's GPU path unless the caller says otherwise; the CPU path is
        // tested without WebDriver (desktop.rs) and by every suite that starts the app plainly.
        c.env("LATCHKEY_WEBVIEW_GPU", "1").envs(home.taskade_env());
        for (k, v) in env {
            c.env(k, v);
        }
        let driver = c
            .spawn()
            .expect("WebKitWebDriver (package webkit2gtk-driver)");
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .expect("client");
        let start = Instant::now();
        while http
            .get(format!("{base}/status"))
            .send()
            .map(|r| !r.status().is_success())
            .unwrap_or(true)
        {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "WebKitWebDriver did not come up"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let caps = json!({"capabilities": {"alwaysMatch": {"webkitgtk:browserOptions": {"binary": binary, "args": []}}}});
        let launched = Instant::now();
        let resp: Value = http
            .post(format!("{base}/session"))
            .json(&caps)
            .send()
            .expect("new session")
            .json()
            .expect("session json");
        let session = resp["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {resp}"))
            .to_string();
        WebApp {
            home: home.path().to_path_buf(),
            driver,
            base,
            session,
            http,
            log,
            launched,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}/session/{}{}", self.base, self.session, path)
    }

    fn post(&self, path: &str, body: Value) -> Value {
        self.http
            .post(self.url(path))
            .json(&body)
            .send()
            .expect("webdriver")
            .json()
            .expect("webdriver json")
    }

    fn get(&self, path: &str) -> Value {
        self.http
            .get(self.url(path))
            .send()
            .expect("webdriver")
            .json()
            .expect("webdriver json")
    }

    /// Runs JavaScript in the page and returns its value.
    pub fn js(&self, script: &str) -> Value {
        self.post("/execute/sync", json!({"script": script, "args": []}))["value"].clone()
    }

    /// Runs asynchronous JavaScript: the script calls `done(value)` when it has an answer.
    pub fn js_async(&self, script: &str) -> Value {
        let wrapped = format!("const done = arguments[arguments.length - 1]; {script}");
        self.post("/execute/async", json!({"script": wrapped, "args": []}))["value"].clone()
    }

    /// Closes the window as the person's close button would: the X server sends the window
    /// WM_DELETE_WINDOW (Xvfb has no window manager to do it; WebDriver's close only ends
    /// the page). Uses libX11 through python3's ctypes.
    pub fn close_window(&self) {
        // Only this app's windows: other tests' apps share the display. The window's pid
        // property can trail its first paint a little, so look for a few seconds.
        let start = Instant::now();
        let ids = loop {
            let mut ids = String::new();
            for pid in app_pids(&self.home) {
                let o = Command::new("xdotool")
                    .args([
                        "search",
                        "--all",
                        "--pid",
                        &pid.to_string(),
                        "--name",
                        "^Latchkey$",
                    ])
                    .output()
                    .expect("xdotool");
                ids.push_str(&String::from_utf8_lossy(&o.stdout));
            }
            if !ids.trim().is_empty() || start.elapsed() > Duration::from_secs(10) {
                break ids;
            }
            std::thread::sleep(Duration::from_millis(200));
        };
        assert!(!ids.trim().is_empty(), "no Latchkey window to close");
        let mut args = vec!["-c", WM_DELETE_PY];
        args.extend(ids.split_whitespace());
        let st = Command::new("python3")
            .args(&args)
            .status()
            .expect("python3");
        assert!(st.success(), "sending WM_DELETE_WINDOW failed");
    }

    /// Waits until the focused element is inside `css` (a view takes the focus when its
    /// render has finished, which can be after its first element appears).
    pub fn wait_focus_in(&self, css: &str, limit: Duration) {
        let start = Instant::now();
        let script = format!(
            "const a = document.activeElement; return !!(a && a.closest({}));",
            json!(css)
        );
        while self.js(&script) != json!(true) {
            assert!(
                start.elapsed() < limit,
                "the focus never moved into {css}; it is on {}",
                self.js("const a = document.activeElement; return a ? a.outerHTML.slice(0, 200) : 'nothing'")
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits until `css` matches an element; returns its WebDriver id.
    pub fn wait_for(&self, css: &str, limit: Duration) -> String {
        let start = Instant::now();
        loop {
            let v = self.post("/element", json!({"using": "css selector", "value": css}));
            if let Some(id) = v["value"][ELEMENT_KEY].as_str() {
                return id.to_string();
            }
            assert!(
                start.elapsed() < limit,
                "no element {css} within {limit:?}; page: {}",
                self.js("return document.body.innerText")
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// An element's visible text.
    pub fn text(&self, element: &str) -> String {
        self.get(&format!("/element/{element}/text"))["value"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// Clicks an element.
    pub fn click(&self, element: &str) {
        self.post(&format!("/element/{element}/click"), json!({}));
    }

    /// Waits for `css`, then clicks it.
    pub fn click_css(&self, css: &str) {
        let e = self.wait_for(css, Duration::from_secs(20));
        self.click(&e);
    }

    /// Types `text` into the element matching `css`.
    pub fn type_into(&self, css: &str, text: &str) {
        let e = self.wait_for(css, Duration::from_secs(20));
        self.post(&format!("/element/{e}/value"), json!({"text": text}));
    }

    /// Presses keys on whatever has focus (WebDriver key codes, e.g. "\u{E004}" = Tab).
    pub fn keys(&self, keys: &str) {
        let actions: Vec<Value> = keys
            .chars()
            .flat_map(|c| {
                [
                    json!({"type": "keyDown", "value": c.to_string()}),
                    json!({"type": "keyUp", "value": c.to_string()}),
                ]
            })
            .collect();
        self.post(
            "/actions",
            json!({"actions": [{"type": "key", "id": "kb", "actions": actions}]}),
        );
    }

    /// Sends keys to one element (WebDriver "Element Send Keys").
    pub fn post_keys_to(&self, element: &str, text: &str) {
        self.post(&format!("/element/{element}/value"), json!({"text": text}));
    }

    /// Waits until the page's text contains `needle`; returns the text.
    pub fn wait_text(&self, needle: &str, limit: Duration) -> String {
        let start = Instant::now();
        loop {
            let t = self
                .js("return document.body.innerText")
                .as_str()
                .unwrap_or_default()
                .to_string();
            if t.contains(needle) {
                return t;
            }
            assert!(
                start.elapsed() < limit,
                "page never showed {needle:?} within {limit:?}; it shows:\n{t}\n--- log ---\n{}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits for a window other than `old` (a window the app opened again after its first
    /// one was closed) and makes WebDriver drive it. False when none appears in `limit`.
    pub fn switch_to_new_window(&self, old: &str, limit: Duration) -> bool {
        let start = Instant::now();
        while start.elapsed() < limit {
            let handles = self.get("/window/handles");
            let new = handles["value"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|h| h.as_str())
                .find(|h| *h != old)
                .map(str::to_string);
            if let Some(h) = new {
                self.post("/window", json!({"handle": h}));
                return true;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        false
    }

    /// The handle of the window WebDriver drives now.
    pub fn window_handle(&self) -> String {
        self.get("/window")["value"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// Resizes the window through WebDriver's Set Window Rect.
    pub fn set_size(&self, width: u32, height: u32) -> Value {
        self.post("/window/rect", json!({"width": width, "height": height}))
    }

    /// The window title.
    pub fn title(&self) -> String {
        self.get("/title")["value"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// Saves a PNG screenshot to `target/e2e-shots/<name>.png` and returns its path.
    pub fn screenshot(&self, name: &str) -> PathBuf {
        use base64::Engine;
        // Let the last change paint. WebKit can still hand back the frame before it (the
        // README's first-launch shot showed the loading skeleton): the first capture asks
        // for a fresh frame and is thrown away.
        std::thread::sleep(Duration::from_millis(400));
        let _ = self.get("/screenshot");
        std::thread::sleep(Duration::from_millis(150));
        let v = self.get("/screenshot");
        let png = base64::engine::general_purpose::STANDARD
            .decode(v["value"].as_str().unwrap_or_default())
            .expect("png base64");
        let dir = root().join("target/e2e-shots");
        std::fs::create_dir_all(&dir).expect("shots dir");
        let p = dir.join(format!("{name}.png"));
        std::fs::write(&p, png).expect("write shot");
        p
    }

    /// The captured log.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until the driver's and the app's log contains `needle`.
    pub fn wait_log(&self, needle: &str, limit: Duration) -> String {
        wait_for_log(|| self.log_text(), needle, limit)
    }
}

/// Polls a log until it contains `needle`; returns the log.
fn wait_for_log(read: impl Fn() -> String, needle: &str, limit: Duration) -> String {
    let start = Instant::now();
    loop {
        let t = read();
        if t.contains(needle) {
            return t;
        }
        assert!(
            start.elapsed() < limit,
            "app log never showed {needle:?} within {limit:?}:\n{t}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

impl Drop for WebApp {
    fn drop(&mut self) {
        let _ = self.http.delete(self.url("")).send();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        // The driver's death can orphan the app, which would keep the single-instance name.
        kill_apps(&self.home);
    }
}

/// Sends WM_DELETE_WINDOW to the X windows given as arguments, as a window manager's close
/// button does.
const WM_DELETE_PY: &str = r#"
import ctypes, sys
x = ctypes.cdll.LoadLibrary("libX11.so.6")
x.XOpenDisplay.restype = ctypes.c_void_p
x.XOpenDisplay.argtypes = [ctypes.c_char_p]
x.XInternAtom.restype = ctypes.c_ulong
x.XInternAtom.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
class ClientMessage(ctypes.Structure):
    _fields_ = [("type", ctypes.c_int), ("serial", ctypes.c_ulong), ("send_event", ctypes.c_int),
                ("display", ctypes.c_void_p), ("window", ctypes.c_ulong), ("message_type", ctypes.c_ulong),
                ("format", ctypes.c_int), ("data", ctypes.c_long * 5)]
class Event(ctypes.Union):
    _fields_ = [("xclient", ClientMessage), ("pad", ctypes.c_long * 24)]
x.XSendEvent.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.c_int, ctypes.c_long, ctypes.POINTER(Event)]
x.XFlush.argtypes = [ctypes.c_void_p]
# A window that went away meanwhile (the app quit on the first close) is not an error here.
HANDLER = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p)(lambda d, e: 0)
x.XSetErrorHandler(HANDLER)
d = x.XOpenDisplay(None)
if not d:
    sys.exit(1)
for arg in sys.argv[1:]:
    w = int(arg)
    e = Event()
    e.xclient.type = 33
    e.xclient.window = w
    e.xclient.message_type = x.XInternAtom(d, b"WM_PROTOCOLS", 0)
    e.xclient.format = 32
    e.xclient.data[0] = x.XInternAtom(d, b"WM_DELETE_WINDOW", 0)
    x.XSendEvent(d, w, 0, 0, ctypes.byref(e))
x.XSync.argtypes = [ctypes.c_void_p, ctypes.c_int]
x.XSync(d, 0)
"#;

/// PIDs of `latchkey` processes whose environment carries this LATCHKEY_HOME.
/// The processes whose parent is `pid` (from /proc/*/stat).
pub fn child_pids(pid: u32) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let p = e.file_name().to_string_lossy().parse::<u32>().ok()?;
            let stat = std::fs::read_to_string(format!("/proc/{p}/stat")).ok()?;
            // The command name in brackets may hold spaces; the fields after it do not.
            let ppid = stat.rsplit_once(')')?.1.split_whitespace().nth(1)?;
            (ppid.parse::<u32>().ok()? == pid).then_some(p)
        })
        .collect()
}

pub fn app_pids(home: &Path) -> Vec<u32> {
    let needle = format!("LATCHKEY_HOME={}", home.display());
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            e.file_name()
                .to_string_lossy()
                .parse::<u32>()
                .ok()
                .map(|pid| (pid, e.path()))
        })
        .filter(|(_, p)| {
            std::fs::read_link(p.join("exe")).is_ok_and(|x| {
                x.file_name()
                    .is_some_and(|n| n == "latchkey" || n == "latchkey-desktop" || n == "bare-app")
            })
        })
        .filter(|(_, p)| {
            std::fs::read(p.join("environ"))
                .is_ok_and(|env| env.split(|b| *b == 0).any(|kv| kv == needle.as_bytes()))
        })
        .map(|(pid, _)| pid)
        .collect()
}

/// Every file under a data folder (relative paths), except the logs this harness itself
/// writes there (`app-*.log`, `webapp-*.log`).
pub fn files_under(dir: &Path) -> std::collections::BTreeSet<String> {
    fn walk(root: &Path, dir: &Path, out: &mut std::collections::BTreeSet<String>) {
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(root, &p, out);
                continue;
            }
            let rel = p.strip_prefix(root).unwrap_or(&p).display().to_string();
            let name = e.file_name().to_string_lossy().to_string();
            let harness_log =
                name.ends_with(".log") && (name.starts_with("app-") || name.starts_with("webapp-"));
            if !harness_log {
                out.insert(rel);
            }
        }
    }
    let mut out = std::collections::BTreeSet::new();
    walk(dir, dir, &mut out);
    out
}

/// Kills every app process of `home` and waits until they are gone.
pub fn kill_apps(home: &Path) {
    let pids = app_pids(home);
    for pid in &pids {
        let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
    }
    // Gone means gone from /proc entirely (reaped), not just unreadable as a zombie.
    let start = Instant::now();
    while pids
        .iter()
        .any(|p| Path::new(&format!("/proc/{p}")).exists())
        && start.elapsed() < Duration::from_secs(5)
    {
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The automated browser binary (tests/src/bin/test-browser.rs).
pub fn test_browser() -> PathBuf {
    let b = bin().with_file_name("test-browser");
    assert!(
        b.exists(),
        "{} is missing: run `cargo build -p latchkey-e2e --bins` (the test command does)",
        b.display()
    );
    b
}

/// The accounts service over the real Secret Service, in `home`.
pub fn accounts_in(home: &TestHome) -> latchkey::accounts::Accounts {
    let backend =
        latchkey::vault::store::KeyringBackend::new().expect("persistent credential store");
    let vault =
        latchkey::vault::Vault::open_with(home.path(), Box::new(backend), Duration::from_secs(5))
            .expect("vault");
    latchkey::accounts::Accounts::new(std::sync::Arc::new(vault))
}

/// A provider pointing at the test IdP, as "Other" providers are stored.
pub fn idp_provider(
    idp: &Idp,
    id: &str,
    client_id: &str,
    auth: latchkey::provider::ClientAuth,
) -> latchkey::provider::ProviderSpec {
    use latchkey::provider::*;
    let i = &idp.issuer;
    let mut p = ProviderSpec::new(id, &format!("Test IdP {id}"));
    p.issuer = Some(i.clone());
    p.authorize_url = Some(format!("{i}/oauth2/authorize"));
    p.token_url = Some(format!("{i}/oauth2/token"));
    p.revocation_url = Some(format!("{i}/oauth2/revoke"));
    p.userinfo_url = Some(format!("{i}/me"));
    p.api_bases = vec![format!("{i}/api")];
    p.identity = IdentitySource::Userinfo;
    p.default_scopes = vec!["openid".into(), "email".into(), "profile".into()];
    p.client_id = Some(client_id.into());
    p.client_auth = auth;
    p.redirect = RedirectKind::Scheme;
    p.iss_required = true;
    p.presets = vec![ApiPreset {
        label: "Who am I".into(),
        method: "GET".into(),
        path: format!("{i}/me"),
    }];
    p
}

/// Lists a sign-in with `state` as waiting in `home` (an index note only, no transaction), so
/// a link carrying it gets past the desktop program's check and reaches the app, where it
/// matches nothing.
pub fn note_pending_state(home: &TestHome, state: &str) {
    accounts_in(home)
        .vault()
        .update_index(|idx| {
            idx.pending.push(latchkey::vault::index::PendingNote {
                handle: latchkey::oauth::handle_for_state(state),
                provider: "idp".into(),
                expires: latchkey::clock::now() + 600,
            })
        })
        .expect("index");
}

/// A home with the test IdP as provider "idp" (custom-scheme redirect, public client).
pub fn idp_home(idp: &Idp) -> TestHome {
    let home = TestHome::new();
    add_provider(
        &accounts_in(&home),
        idp_provider(
            idp,
            "idp",
            "latchkey-public",
            latchkey::provider::ClientAuth::None,
        ),
    );
    home
}

/// Stores `p` as one of the person's providers in `accounts`' index.
pub fn add_provider(accounts: &latchkey::accounts::Accounts, p: latchkey::provider::ProviderSpec) {
    accounts
        .vault()
        .update_index(|idx| idx.providers.push(p))
        .expect("index");
}

/// A current-thread runtime for driving the async service from a test.
pub fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

fn gdbus(args: &[&str]) -> String {
    let o = Command::new("gdbus")
        .arg("call")
        .arg("--session")
        .args(args)
        .output()
        .expect("gdbus");
    String::from_utf8_lossy(&o.stdout).to_string()
}

/// The tray's dbusmenu (bus connection, object path) exported by the app with `pid`.
/// There is no tray host under Xvfb, but the item and its menu are still on the session bus.
pub fn tray_menu(pid: u32) -> Option<(String, String)> {
    let names = gdbus(&[
        "--dest",
        "org.freedesktop.DBus",
        "--object-path",
        "/org/freedesktop/DBus",
        "--method",
        "org.freedesktop.DBus.ListNames",
    ]);
    for conn in names.split('\'').filter(|n| n.starts_with(':')) {
        let owner = gdbus(&[
            "--dest",
            "org.freedesktop.DBus",
            "--object-path",
            "/org/freedesktop/DBus",
            "--method",
            "org.freedesktop.DBus.GetConnectionUnixProcessID",
            conn,
        ]);
        if !owner.contains(&format!("uint32 {pid},")) {
            continue;
        }
        let o = Command::new("gdbus")
            .args([
                "introspect",
                "--session",
                "--dest",
                conn,
                "--object-path",
                "/",
                "--recurse",
            ])
            .output()
            .ok()?;
        let text = String::from_utf8_lossy(&o.stdout).to_string();
        if let Some(line) = text.lines().find(|l| {
            l.trim_start()
                .starts_with("node /org/ayatana/NotificationItem/")
                && l.trim_end().ends_with("/Menu {")
        }) {
            let path = line
                .trim()
                .trim_start_matches("node ")
                .trim_end_matches(" {")
                .to_string();
            return Some((conn.to_string(), path));
        }
    }
    None
}

/// (id, label) of every tray menu item.
pub fn tray_items(menu: &(String, String)) -> Vec<(i32, String)> {
    let layout = gdbus(&[
        "--dest",
        &menu.0,
        "--object-path",
        &menu.1,
        "--method",
        "com.canonical.dbusmenu.GetLayout",
        "0",
        "--",
        "-1",
        "@as []",
    ]);
    let mut out = Vec::new();
    for (i, _) in layout.match_indices("'label': <'") {
        let label: String = layout[i + 11..]
            .chars()
            .take_while(|c| *c != '\'')
            .collect();
        // The item id is the integer after the nearest "(" before this label.
        let before = &layout[..i];
        let open = before.rfind('(').unwrap_or(0);
        let id: String = before[open + 1..]
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == '-')
            .collect();
        if let Ok(id) = id.parse() {
            out.push((id, label));
        }
    }
    out
}

/// Clicks a tray menu item by its label.
pub fn tray_click(menu: &(String, String), label: &str) {
    let items = tray_items(menu);
    let (id, _) = items
        .iter()
        .find(|(_, l)| l == label)
        .unwrap_or_else(|| panic!("no tray item {label:?} in {items:?}"));
    gdbus(&[
        "--dest",
        &menu.0,
        "--object-path",
        &menu.1,
        "--method",
        "com.canonical.dbusmenu.Event",
        &id.to_string(),
        "clicked",
        "<int32 0>",
        "0",
    ]);
}

/// Acts as the person on another device in the RFC 8628 flow: opens `page` (the
/// verification address, with or without the code filled in), submits the IdP's forms
/// (typing `user_code` where asked), logs in and consents. Returns the final page.
pub fn approve_device(page: &str, user_code: &str) -> String {
    let http = reqwest::blocking::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(20))
        .build()
        .expect("client");
    let mut resp = http.get(page).send().expect("device page");
    let mut at = page.to_string();
    for _ in 0..16 {
        let status = resp.status();
        if let Some(loc) = resp.headers().get("location").and_then(|l| l.to_str().ok()) {
            at = url::Url::parse(&at).unwrap().join(loc).unwrap().to_string();
            resp = http.get(&at).send().expect("IdP redirect");
            continue;
        }
        let body = resp.text().unwrap_or_default();
        let Some(form) = body.find("<form").map(|i| &body[i..]) else {
            assert!(
                status.is_success(),
                "device approval failed ({status}): {body}"
            );
            return body;
        };
        let action = attr(form, "action").unwrap_or_default();
        let mut fields: Vec<(String, String)> = Vec::new();
        for tag in form.split("<input").skip(1) {
            let tag = &tag[..tag.find('>').unwrap_or(tag.len())];
            if let Some(name) = attr(tag, "name") {
                let value = attr(tag, "value").unwrap_or_else(|| {
                    if name == "user_code" {
                        user_code.to_string()
                    } else {
                        String::new()
                    }
                });
                fields.push((name, value));
            }
        }
        at = url::Url::parse(&at)
            .unwrap()
            .join(&action)
            .unwrap()
            .to_string();
        resp = http.post(&at).form(&fields).send().expect("device form");
    }
    panic!("device approval did not finish");
}

/// The value of `name="..."` in an HTML tag (test pages only: no entity decoding needed).
fn attr(tag: &str, name: &str) -> Option<String> {
    let key = format!("{name}=\"");
    let start = tag.find(&key)? + key.len();
    let end = tag[start..].find('"')? + start;
    Some(tag[start..end].to_string())
}

/// `latchkey provider add ID --issuer <idp> --client-id latchkey-public [EXTRA…]`, which must
/// succeed.
pub fn provider_add(home: &TestHome, idp: &Idp, id: &str, extra: &[&str]) {
    let mut args = vec![
        "provider",
        "add",
        id,
        "--issuer",
        idp.issuer.as_str(),
        "--client-id",
        "latchkey-public",
    ];
    args.extend_from_slice(extra);
    let o = run_against(home, idp, &args, None, &[]);
    assert!(o.status.success(), "provider add {id}: {}", stderr_of(&o));
}

/// Signs in to the Taskade preset (pointed at `idp`) through `latchkey login`, with the test
/// browser; returns the new account id.
pub fn cli_login(home: &TestHome, idp: &Idp) -> String {
    home.point_taskade_at(idp);
    let o = home
        .cli()
        .env("LATCHKEY_BROWSER", test_browser())
        .args(["login", "taskade"])
        .output()
        .expect("latchkey login");
    assert!(
        o.status.success(),
        "login failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}
